"""Benchmarks behind the book's performance claims (`make benchmark`)."""
