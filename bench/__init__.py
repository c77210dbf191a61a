"""Benchmarks (not part of the test run). `python -m bench` runs them all; `python -m bench.<name>` one."""
