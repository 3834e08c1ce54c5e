"""The state file: one SQLite connection with a versioned schema (database.py, schema.py), the
daemon's state over it (store.py), the alert outbox's table (outbox_store.py) and the audit trail (audit.py)."""
