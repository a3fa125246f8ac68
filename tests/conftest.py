"""Shared set-up for the helper unit tests.

Nothing here may change os.environ beyond what `import helpers` sets (the same
values every notebook sets): nbval starts notebook kernels from the pytest
worker processes, and they inherit its environment.
"""

# The same rule as in every notebook: helpers before TensorFlow, so that
# TensorFlow's log settings are in place when it loads.
import helpers  # noqa: F401
