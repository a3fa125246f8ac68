"""Argument checks shared by the helpers."""

import numbers


def is_int_at_least(value, minimum):
    """True when ``value`` is an integer (``bool`` excluded) ``>= minimum``.

    NumPy integers count as integers; ``True`` and ``False`` do not, although
    Python treats them as ``1`` and ``0``.
    """
    return bool(
        not isinstance(value, bool)
        and isinstance(value, numbers.Integral)
        and value >= minimum
    )
