"""Getting tensors out of a Keras model (the *Extract* chapter).

:func:`feature_extractor` finds the output of each call of a layer in a
model's own graph. Keras 3 has no public API for that, so :func:`_calls_in`
reads private attributes (``Sequential._functional``, ``Functional._nodes``,
``Layer._inbound_nodes``) and the node keys of ``make_node_key`` in
``keras/src/ops/function.py``. Checked against the Keras of the lock
(``tests/test_extract.py``); a Keras release may change them. The public way to
the same tensors: a sub-model on the nested model's input, called on the outer
model's input.
"""

import keras

# Private: the key format a functional graph files its nodes under.
from keras.src.ops.function import make_node_key


def _model_inputs(model):
    """The model's symbolic inputs, in the structure it was built with."""
    try:
        # functional models keep the original structure (tensor, list
        # or dict)
        return model.input
    except (AttributeError, ValueError):
        pass
    try:
        inputs = model.inputs  # a Sequential model started with keras.Input
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        if isinstance(model, keras.Sequential):
            raise ValueError(
                f"Sequential model {model.name!r} has no defined input, so "
                "its layers have no symbolic outputs to extract; start it "
                "with keras.Input(shape=...) as its first layer, e.g. "
                "keras.Sequential([keras.Input(shape=(8, 8, 1)), ...])."
            )
        raise ValueError(
            f"model {model.name!r} has no symbolic inputs (a subclassed "
            "model?); build it with the functional API (keras.Input -> "
            "layers -> keras.Model) to extract its layers."
        )
    return inputs[0] if len(inputs) == 1 else list(inputs)


def _nested_owner(model, name):
    """Name of a nested model holding a layer called ``name``, or None."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            if any(
                inner.name == name for inner in layer.layers
            ) or _nested_owner(layer, name):
                return layer.name
    return None


def _calls_in(model, layer):
    """The output tensors of each call of ``layer`` inside ``model``'s graph.

    A layer keeps one node per call, in every graph it was called in (Keras
    has no public accessor for them: ``layer.output`` is the first call's, and
    a functional model's ``.output`` is its own internal output). A model's
    graph records which of those nodes are its own. All of this is private
    Keras (see the module's docstring).
    """
    graph = getattr(model, "_functional", None) or model  # Sequential
    own = graph._nodes
    calls = [
        node.output_tensors[0]
        if len(node.output_tensors) == 1
        else node.output_tensors
        for index, node in enumerate(layer._inbound_nodes)
        if make_node_key(layer, index) in own
    ]
    if not calls:
        raise RuntimeError(
            f"found no call of layer {layer.name!r} in model {model.name!r}, "
            "of which it is a layer: this Keras version keeps its private "
            "node records differently from the one feature_extractor was "
            "written for. Build the extractor with public API instead: "
            "keras.Model(inner.input, {name: inner.get_layer(name).output}) "
            "called on the outer model's input."
        )
    return calls


def feature_extractor(model, layer_names):
    """A model on ``model.inputs`` that returns named intermediate outputs.

    Parameters
    ----------
    model : keras.Model
        A functional model, or a Sequential model started with ``keras.Input``.
    layer_names : list of str
        Names of layers of ``model`` (``[layer.name for layer in
        model.layers]``); a nested model counts as one layer. A layer that
        ``model`` calls more than once is asked for by call:
        ``"name@0"``, ``"name@1"``, ...

    Returns
    -------
    keras.Model
        Shares layers and weights with ``model`` (nothing is copied). Called on
        data, it returns a dict ``{layer_name: tensor}`` in the order given.
        Each tensor is the one *this* model computes, so a nested model's
        output is its output inside ``model``, not inside itself.

    Raises
    ------
    TypeError
        ``model`` is not a ``keras.Model``, or ``layer_names`` is a single
        string or holds something other than strings.
    ValueError
        ``layer_names`` is empty or repeats a name; a name is not a layer of
        ``model`` (the message lists the names that exist, and points into a
        nested model if the layer lives there); a layer called more than once
        is named without its call, or with a call that does not exist; the
        model has no defined input.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            "feature_extractor expects a keras.Model, got "
            f"{type(model).__name__}; wrap your tensors first: "
            "keras.Model(inputs, outputs)."
        )
    if isinstance(layer_names, str):
        raise TypeError(
            "layer_names must be a list of names, got the string "
            f"{layer_names!r}; write feature_extractor(model, "
            f"[{layer_names!r}])."
        )
    layer_names = list(layer_names)
    if not layer_names:
        raise ValueError(
            "layer_names is empty; name at least one layer, e.g. "
            "[model.layers[-2].name]."
        )
    bad = [n for n in layer_names if not isinstance(n, str)]
    if bad:
        raise TypeError(
            f"layer_names must hold strings (layer names), got {bad!r}; use "
            "layer.name."
        )
    repeated = sorted({n for n in layer_names if layer_names.count(n) > 1})
    if repeated:
        raise ValueError(
            f"layer_names repeats {repeated}; each output key must be unique."
        )
    inputs = _model_inputs(model)
    existing = [layer.name for layer in model.layers]
    outputs = {}
    for key in layer_names:
        name, at, call = key.partition("@")
        if name not in existing:
            owner = _nested_owner(model, name)
            hint = (
                (
                    f" Layer {name!r} is inside the nested model {owner!r}, "
                    "whose graph starts at its own input: use "
                    f"feature_extractor(model.get_layer({owner!r}), "
                    f"[{name!r}]), or rebuild the model without nesting."
                )
                if owner
                else ""
            )
            raise ValueError(
                f"model {model.name!r} has no layer named {name!r}. Its "
                f"layers are: {', '.join(existing)}.{hint}"
            )
        calls = _calls_in(model, model.get_layer(name))
        if not at and len(calls) > 1:
            raise ValueError(
                f"layer {name!r} is called {len(calls)} times in model "
                f"{model.name!r}, and each call has its own output: ask for "
                f"one call, '{name}@0' to '{name}@{len(calls) - 1}'."
            )
        index = int(call) if call.isdigit() else None
        if at and (index is None or index >= len(calls)):
            raise ValueError(
                f"{key!r}: layer {name!r} is called {len(calls)} time(s) in "
                f"model {model.name!r}; name a call from '{name}@0' to "
                f"'{name}@{len(calls) - 1}'."
            )
        outputs[key] = calls[index or 0]
    return keras.Model(
        inputs=inputs, outputs=outputs, name=f"{model.name}_features"
    )
