"""Benchmarks: scripts that print name=value lines."""
