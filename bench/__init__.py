"""Benchmarks: a synthetic data generator, and a load generator comparing the API with raw SQL.

Run with `make bench` (or `python -m bench --help`); result tables go to bench/results/.
"""
