"""Benchmarks of Activator (issue 8): `python -m bench [--quick]`, or `make bench` / `make bench-quick`."""
