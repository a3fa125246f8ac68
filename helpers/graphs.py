"""Looking inside traced TensorFlow graphs (the *Extract* chapter)."""

from collections import Counter

import tensorflow as tf


def _concrete(fn):
    if isinstance(fn, tf.types.experimental.ConcreteFunction):
        return fn
    if isinstance(fn, tf.types.experimental.PolymorphicFunction):
        raise TypeError(
            "got a tf.function, which may hold many graphs; pick one with "
            "fn.get_concrete_function(tf.TensorSpec(...), ...) (or with no "
            "arguments if the tf.function has an input_signature) and pass "
            "that."
        )
    raise TypeError(
        f"expected a ConcreteFunction, got {type(fn).__name__}; decorate the "
        "Python function with @tf.function(input_signature=[...]) and call "
        ".get_concrete_function() on it."
    )


def _is_user_spec(spec):
    return isinstance(spec, tf.TensorSpec) and spec.dtype != tf.resource


def input_placeholders(concrete_function):
    """The placeholders a user feeds, as ``tf.TensorSpec``, in signature order.

    A traced graph has a ``Placeholder`` op for every argument of the function
    *and* one for every variable or resource the function captured. This
    returns only the former: one ``tf.TensorSpec`` per tensor argument, with
    the name, shape and dtype of the signature (argument names where the
    signature named none), positional arguments first, then keyword-only ones.
    Python values in the signature (a ``scale=2.0``) are not placeholders and
    are skipped.

    Parameters
    ----------
    concrete_function : tf.types.experimental.ConcreteFunction
        From ``fn.get_concrete_function(...)``.

    Returns
    -------
    list of tf.TensorSpec

    Raises
    ------
    TypeError
        For a ``tf.function`` (call ``get_concrete_function`` first) or any
        other object.
    """
    concrete = _concrete(concrete_function)
    flat = tf.nest.flatten(concrete.structured_input_signature)
    specs = [
        tf.TensorSpec(s.shape, s.dtype, name=s.name)
        for s in flat
        if _is_user_spec(s)
    ]
    # Cross-check against the graph: its user placeholders come first, in this
    # order.
    n_user = len(concrete.inputs) - len(concrete.captured_inputs)
    graph_inputs = [
        t for t in concrete.inputs[:n_user] if t.dtype != tf.resource
    ]
    if len(graph_inputs) == len(specs):
        for spec, tensor in zip(specs, graph_inputs, strict=True):
            if spec.dtype != tensor.dtype or not spec.shape.is_compatible_with(
                tensor.shape
            ):
                raise RuntimeError(
                    f"signature spec {spec} does not match graph placeholder "
                    f"{tensor}; this TensorFlow version orders inputs "
                    "differently, please report it."
                )
    return specs


def captured_placeholders(concrete_function):
    """The graph's placeholders for captured values, with their sources.

    Returns a list of ``(placeholder_op_name, dtype_name, source)`` where
    ``source`` is the captured object's name: for a variable, the name of the
    ``tf.Variable`` the function holds, with its output index (a Keras layer
    ``dense``'s kernel is ``"dense/kernel:0"``); else the captured tensor's
    name.
    """
    concrete = _concrete(concrete_function)
    by_handle = {id(v.handle): v.name for v in concrete.variables}
    rows = []
    for external, internal in concrete.graph.captures:
        source = by_handle.get(
            id(external), getattr(external, "name", repr(external))
        )
        rows.append((internal.op.name, internal.dtype.name, source))
    return rows


def op_histogram(graph):
    """``Counter`` of op types in a ``tf.Graph`` or a ConcreteFunction's."""
    if isinstance(graph, tf.types.experimental.ConcreteFunction):
        graph = graph.graph
    if not isinstance(graph, tf.Graph):
        raise TypeError(
            "expected a tf.Graph or a ConcreteFunction, got "
            f"{type(graph).__name__}; use fn.get_concrete_function(...).graph."
        )
    return Counter(op.type for op in graph.get_operations())
