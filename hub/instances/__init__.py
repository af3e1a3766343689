"""``hub serve`` instances: a name and a heartbeat each, so replicas take over only orphaned work."""
