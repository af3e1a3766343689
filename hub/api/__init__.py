"""HTTP entry points: the app factory, routers' shared dependencies and error rendering."""
