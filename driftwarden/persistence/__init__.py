"""The state file: one SQLite connection with a versioned schema (database.py, schema.py), the
daemon's state over it (store.py) and the alert outbox's table (outbox_store.py)."""
