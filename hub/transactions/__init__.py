"""The transaction log: every request through the hub, with its orchestrations."""
