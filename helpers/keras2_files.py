"""Reading the legacy ``.h5`` files of Keras 2 from Keras 3.

A Keras 2 ``model.save("m.h5")`` file holds the model's config as JSON (the
file's ``model_config`` attribute) and each layer's weights in a group
``model_weights/<layer name>``, in the order its ``weight_names`` attribute
lists (a ``save_weights("w.h5")`` file has the layer groups at its root).
Keras 3 loads such a file's weights into a model rebuilt in code
(``model.load_weights``), but not a config that names a class it lacks, such
as Keras 2's ``TFOpLambda``.

These functions read the file with h5py alone, so they work whatever the
config holds: :func:`legacy_h5_layers` lists what the file holds,
:func:`legacy_h5_weights` gives one layer's arrays by name, and
:func:`load_weights_by_name` loads them into a rebuilt model by layer name,
refusing any name that does not match. Keras' own routes both refuse a shape
that differs; ``load_weights(path)`` matches by order and ignores names, and
``load_weights(path, by_name=True)`` skips an unmatched name, on either side,
without a word.
"""

import json
from pathlib import Path

import numpy as np

_ENDINGS = (".h5", ".hdf5")


def _text(value):
    """An HDF5 string attribute as ``str`` (older files store bytes)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _open(path):
    """The file, opened read-only with h5py, after checking ``path``."""
    import h5py  # here: importing this module stays cheap

    if not isinstance(path, (str, Path)):
        raise TypeError(
            "path must be the file's path as a str or pathlib.Path, got "
            f"{type(path).__name__}; pass e.g. 'model.h5'."
        )
    path = Path(path)
    if path.name.endswith(".weights.h5") or not path.name.endswith(_ENDINGS):
        raise ValueError(
            f"{path.name} is not a legacy Keras 2 .h5 file: its name must end "
            "in .h5 or .hdf5 (a .weights.h5 file is Keras 3's own; load it "
            "with model.load_weights)."
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"no file {path.name} in the current folder or at that path; "
            "check the path (a relative path starts from os.getcwd())."
        )
    return h5py.File(path, "r")


def _weights_group(file):
    """The group that holds one subgroup per layer."""
    return file["model_weights"] if "model_weights" in file else file


def _layer_weights(group, name):
    """``{weight name: array}`` of layer ``name`` in ``group``, file order."""
    layer = group[name]
    names = [_text(n) for n in layer.attrs.get("weight_names", [])]
    return {n: np.asarray(layer[n]) for n in names}


def _config_layers(model_config):
    """The layer entries of a saved model config.

    ``{"config": {"layers": [...]}}`` for a Functional or Sequential model;
    Sequential models of Keras 2.1 and older stored the list itself as
    ``"config"``; a model config without layers (a subclassed model) gives
    an empty list.
    """
    config = model_config.get("config", {})
    layers = config if isinstance(config, list) else config.get("layers", [])
    return [layer for layer in layers if "name" in layer.get("config", {})]


def legacy_h5_layers(path):
    """The layers a legacy Keras ``.h5`` file lists, in the file's order.

    Parameters
    ----------
    path : str or pathlib.Path
        A file written by ``model.save("m.h5")`` (or ``save_weights`` to a
        ``.h5`` name), by Keras 2 or Keras 3.

    Returns
    -------
    list of dict
        One dict per layer: ``name``; ``class_name`` and ``config`` from the
        model's config (``None`` and ``{}`` for a weights-only file, or for
        a layer the config does not list by that name); ``inbound_nodes``,
        the layer's calls as the config stores them (``[]`` when absent);
        and ``weights``, ``{weight name: shape}`` in the order the file
        stores them (empty for a layer without weights).

    Raises
    ------
    TypeError, ValueError, FileNotFoundError
        For a path that is not an existing ``.h5``/``.hdf5`` file; the
        message says what to pass.
    """
    with _open(path) as file:
        configs = {}
        if "model_config" in file.attrs:
            model_config = json.loads(_text(file.attrs["model_config"]))
            for layer in _config_layers(model_config):
                configs[layer["config"]["name"]] = layer
        group = _weights_group(file)
        names = [_text(n) for n in group.attrs.get("layer_names", [])]
        layers = []
        for name in names:
            config = configs.get(name, {})
            weights = _layer_weights(group, name)
            layers.append(
                {
                    "name": name,
                    "class_name": config.get("class_name"),
                    "config": config.get("config", {}),
                    "inbound_nodes": config.get("inbound_nodes", []),
                    "weights": {n: w.shape for n, w in weights.items()},
                }
            )
    return layers


def legacy_h5_weights(path, layer_name):
    """One layer's weights from a legacy Keras ``.h5`` file, by its name.

    Returns ``{weight name: numpy array}`` in the order the file stores them
    (Keras' legacy order: trainable weights first, then the others), e.g.
    ``{"hidden/kernel:0": ..., "hidden/bias:0": ...}`` from Keras 2. Empty
    for a layer without weights. Raises ``KeyError`` naming the file's layers
    when it has no layer ``layer_name``.
    """
    if not isinstance(layer_name, str):
        raise TypeError(
            f"layer_name must be a str, got {type(layer_name).__name__}; "
            "pass the layer's name as legacy_h5_layers(path) lists it."
        )
    with _open(path) as file:
        group = _weights_group(file)
        names = [_text(n) for n in group.attrs.get("layer_names", [])]
        if layer_name not in names:
            raise KeyError(
                f"the file has no layer {layer_name!r}; its layers are "
                f"{names}. Pass one of these names."
            )
        return _layer_weights(group, layer_name)


def load_weights_by_name(model, path, renames=None):
    """Load a legacy ``.h5`` file's weights into ``model``, layer by name.

    Every layer of ``model`` (top level: a nested model is one layer, as in
    the file) that has weights takes the weights of the file's layer of the
    same name, or of ``renames[layer.name]``, in Keras' legacy order
    (``layer.trainable_weights`` then ``layer.non_trainable_weights``, as
    ``_legacy_weights`` in ``keras/src/legacy/saving/legacy_h5_format.py``
    orders them). Layers without weights (an ``InputLayer``, Keras 2's
    ``TFOpLambda``) are left out on both sides.

    Nothing is skipped: a layer with no counterpart in the file, weights in
    the file that no layer takes or that two layers would take, a
    ``renames`` entry naming a layer the model or the file lacks, or
    weights whose count or shapes differ raise ``ValueError`` before any
    weight is set. Keras' own routes differ in what they let through:
    ``model.load_weights(path)`` matches layers by order and ignores names
    (it refuses a different count of layers, or of weights, and a shape
    that differs); ``model.load_weights(path, by_name=True)`` refuses a
    shape that differs too, but skips without a word a model layer the
    file does not name, and a file layer the model does not name.

    Parameters
    ----------
    model : keras.Model
        The model rebuilt in code.
    path : str or pathlib.Path
        The legacy ``.h5`` or ``.hdf5`` file.
    renames : dict, optional
        ``{name in the model: name in the file}`` for layers named
        differently.

    Returns
    -------
    list of str
        The names of the model's layers that were loaded, in model order.
    """
    import keras  # here: importing this module stays cheap

    if not isinstance(model, keras.Model):
        raise TypeError(
            f"model must be a keras.Model, got {type(model).__name__}; "
            "rebuild the Keras 2 model in Keras 3 code first."
        )
    renames = dict(renames or {})
    layers = {layer.name: layer for layer in model.layers}
    unknown = sorted(set(renames) - set(layers))
    if unknown:
        raise ValueError(
            f"renames names layers the model does not have: {unknown}; its "
            f"layers are {list(layers)}. Use the model's layer names as keys."
        )
    in_file = {layer["name"]: layer for layer in legacy_h5_layers(path)}
    with_weights = {n for n, layer in in_file.items() if layer["weights"]}
    bad_targets = sorted(set(renames.values()) - with_weights)
    if bad_targets:
        raise ValueError(
            f"renames maps to {bad_targets}, which the file has no weights "
            f"for (its layers with weights: {sorted(with_weights)}); use "
            "those names as values, as legacy_h5_layers(path) lists them."
        )
    plan, missing = [], []
    for name, layer in layers.items():
        variables = layer.trainable_weights + layer.non_trainable_weights
        if not variables:
            continue
        source = renames.get(name, name)
        if source not in with_weights:
            missing.append(name)
            continue
        plan.append((layer, source, variables))
    if missing:
        raise ValueError(
            f"the file has no weights for the model's layers {missing} (its "
            f"layers with weights: {sorted(with_weights)}); name each layer "
            "as in the file (name=... when you build it), or pass "
            "renames={'model name': 'file name'}."
        )
    sources = [source for _, source, _ in plan]
    twice = sorted({source for source in sources if sources.count(source) > 1})
    if twice:
        raise ValueError(
            f"the file's weights of {twice} would go to two layers of the "
            "model; map each file layer to one model layer (check renames "
            "against the model's own names)."
        )
    unused = sorted(with_weights - set(sources))
    if unused:
        raise ValueError(
            f"the file's weights of {unused} go to no layer of the model; "
            "the rebuilt model lacks those layers (or names them otherwise: "
            "pass renames={'model name': 'file name'})."
        )
    values = {}
    for layer, source, variables in plan:
        arrays = list(legacy_h5_weights(path, source).values())
        shapes = [tuple(v.shape) for v in variables]
        if [tuple(a.shape) for a in arrays] != shapes:
            raise ValueError(
                f"layer {layer.name!r} has weights of shapes {shapes}, the "
                f"file's {source!r} holds {[a.shape for a in arrays]}; "
                "rebuild the layer with the sizes of the Keras 2 model."
            )
        values[layer.name] = (variables, arrays)
    for variables, arrays in values.values():
        for variable, array in zip(variables, arrays, strict=True):
            variable.assign(array)
    return [layer.name for layer, _, _ in plan]
