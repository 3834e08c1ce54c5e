"""HTTP routes, one module per concern: ingest, reading state, alerts; `plumbing` is what they share."""
