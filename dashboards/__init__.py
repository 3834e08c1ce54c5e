"""Grafana dashboards generated from exporters.metrics (see design.md)."""
