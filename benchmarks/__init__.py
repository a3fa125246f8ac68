"""Benchmarks behind the book's performance claims (run with `make benchmark`)."""
