"""The bottom layer: value types and errors every other part of driftwarden shares.

Nothing here imports anything else of driftwarden, so parsers, detectors, persistence,
exporters and alerts can all import downward from it (docs/design.md, "Layers").
"""
