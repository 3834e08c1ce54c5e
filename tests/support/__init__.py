"""Plain helpers shared by the tests: harnesses that start and stop servers, data builders, tools.

Test modules import from here and never from one another; fixtures stay in conftest.py files,
which pytest finds by itself (nothing imports a conftest).
"""
