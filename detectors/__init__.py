"""Detectors: pure vectorized statistics (stats.py) and thin stateful wrappers."""
