"""Exporters: read detector results and expose them; never parse input."""
