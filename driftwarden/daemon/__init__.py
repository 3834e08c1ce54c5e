"""The daemon's wiring: the models it tracks, the ingest service that admits records into them, the
evaluator that judges them on a clock with each failure contained, checkpoints, and read views.

Data flows one way: collector (parsed batches) -> `IngestService` -> model windows -> `Evaluator`
-> findings -> exporters and alerts. `Daemon` assembles the parts; the API and the UI read through
`DaemonViews`.
"""
