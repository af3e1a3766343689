"""Channels and routes: which requests go where."""
