"""Authentication: admin users, clients, API tokens, lockout."""
