"""Getting tensors out of a Keras model (chapter 2, *Extract*)."""
import keras


def _model_inputs(model):
    """The model's symbolic inputs, in the structure the model was built with."""
    try:
        return model.input  # functional models keep the original structure (tensor, list or dict)
    except (AttributeError, ValueError):
        pass
    try:
        inputs = model.inputs  # a Sequential model started with keras.Input
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        if isinstance(model, keras.Sequential):
            raise ValueError(
                f"Sequential model {model.name!r} has no defined input, so its layers have no "
                "symbolic outputs to extract; start it with keras.Input(shape=...) as its first "
                "layer, e.g. keras.Sequential([keras.Input(shape=(8, 8, 1)), ...])."
            )
        raise ValueError(
            f"model {model.name!r} has no symbolic inputs (a subclassed model?); build it with "
            "the functional API (keras.Input -> layers -> keras.Model) to extract its layers."
        )
    return inputs[0] if len(inputs) == 1 else list(inputs)


def _nested_owner(model, name):
    """Name of a nested model that contains a layer called ``name``, or None."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            if any(inner.name == name for inner in layer.layers) or _nested_owner(layer, name):
                return layer.name
    return None


def feature_extractor(model, layer_names):
    """A model on ``model.inputs`` that returns named intermediate outputs.

    Parameters
    ----------
    model : keras.Model
        A functional model, or a Sequential model started with ``keras.Input``.
    layer_names : list of str
        Names of layers of ``model`` (``[layer.name for layer in model.layers]``).

    Returns
    -------
    keras.Model
        Shares layers and weights with ``model`` (nothing is copied). Called on
        data, it returns a dict ``{layer_name: tensor}`` in the order given.

    Raises
    ------
    TypeError
        ``model`` is not a ``keras.Model``, or ``layer_names`` is a single string
        or holds something other than strings.
    ValueError
        ``layer_names`` is empty or repeats a name; a name is not a layer of
        ``model`` (the message lists the names that exist, and points into a
        nested model if the layer lives there); the model has no defined input.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"feature_extractor expects a keras.Model, got {type(model).__name__}; "
            "wrap your tensors first: keras.Model(inputs, outputs)."
        )
    if isinstance(layer_names, str):
        raise TypeError(
            f"layer_names must be a list of names, got the string {layer_names!r}; "
            f"write feature_extractor(model, [{layer_names!r}])."
        )
    layer_names = list(layer_names)
    if not layer_names:
        raise ValueError("layer_names is empty; name at least one layer, e.g. [model.layers[-2].name].")
    bad = [n for n in layer_names if not isinstance(n, str)]
    if bad:
        raise TypeError(f"layer_names must hold strings (layer names), got {bad!r}; use layer.name.")
    repeated = sorted({n for n in layer_names if layer_names.count(n) > 1})
    if repeated:
        raise ValueError(f"layer_names repeats {repeated}; each output key must be unique.")
    inputs = _model_inputs(model)
    existing = [layer.name for layer in model.layers]
    outputs = {}
    for name in layer_names:
        if name not in existing:
            owner = _nested_owner(model, name)
            hint = (f" Layer {name!r} is inside the nested model {owner!r}: use "
                    f"feature_extractor(model.get_layer({owner!r}), [{name!r}]).") if owner else ""
            raise ValueError(
                f"model {model.name!r} has no layer named {name!r}. Its layers are: "
                f"{', '.join(existing)}.{hint}"
            )
        layer = model.get_layer(name)
        try:
            outputs[name] = layer.output
        except (AttributeError, ValueError) as err:
            raise ValueError(
                f"layer {name!r} has no single symbolic output ({err}); a layer shared between "
                "several calls has one output per call: use layer.get_output_at(i)."
            ) from err
    return keras.Model(inputs=inputs, outputs=outputs, name=f"{model.name}_features")
