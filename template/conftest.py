"""Loads the plugin that compares exact outputs everywhere and numerics
outputs where this machine's numerics match the recorded ones."""

pytest_plugins = ["nbval_numerics"]
