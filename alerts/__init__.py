"""Alert engine, receivers and Prometheus rules (see design.md)."""
