"""helpers.keras2_files: legacy .h5 files read with h5py, loaded by name."""

import json
import warnings

import h5py
import keras
import numpy as np
import pytest

import helpers  # noqa: F401
from helpers import keras2_files

KERNEL = np.arange(12.0, dtype="float32").reshape(3, 4)
BIAS = np.array([0.5, -1.0, 2.0, 0.0], "float32")
HEAD = np.ones((4, 2), "float32")


def _keras2_file(path, layer_names_as_bytes=False, old_sequential=False):
    """A file laid out as Keras 2 writes one: a TFOpLambda without weights.

    ``old_sequential``: the config as Keras 2.1 and older wrote a
    Sequential model's, the list of layers itself.
    """
    layers = [
        {"class_name": "InputLayer", "config": {"name": "x"}},
        {
            "class_name": "Dense",
            "config": {"name": "hidden", "units": 4},
            "inbound_nodes": [[["x", 0, 0, {}]]],
        },
        {
            "class_name": "TFOpLambda",
            "config": {"name": "tf.math.abs", "function": "math.abs"},
            "inbound_nodes": [["hidden", 0, 0, {}]],
        },
        {"class_name": "Dense", "config": {"name": "out", "units": 2}},
    ]
    config = {"class_name": "Functional", "config": {"layers": layers}}
    if old_sequential:
        config = {"class_name": "Sequential", "config": layers[1:]}
    names = ["x", "hidden", "tf.math.abs", "out"]
    if layer_names_as_bytes:
        names = [n.encode() for n in names]
    with h5py.File(path, "w") as file:
        file.attrs["model_config"] = json.dumps(config)
        group = file.create_group("model_weights")
        group.attrs["layer_names"] = names
        for name in ("x", "tf.math.abs"):
            group.create_group(name).attrs["weight_names"] = []
        for name, arrays in (("hidden", (KERNEL, BIAS)), ("out", (HEAD,))):
            layer = group.create_group(name)
            weight_names = [f"{name}/kernel:0", f"{name}/bias:0"]
            weight_names = weight_names[: len(arrays)]
            layer.attrs["weight_names"] = weight_names
            for weight_name, array in zip(weight_names, arrays, strict=True):
                layer.create_dataset(weight_name, data=array)
    return path


def _model(head="out", hidden_units=4):
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(hidden_units, name="hidden")(inputs)
    hidden = keras.ops.abs(hidden)
    outputs = keras.layers.Dense(2, name=head, use_bias=False)(hidden)
    return keras.Model(inputs, outputs)


@pytest.fixture
def keras2_h5(tmp_path):
    return _keras2_file(tmp_path / "old.h5")


@pytest.mark.parametrize("as_bytes", [False, True])
def test_layers_lists_classes_configs_and_weight_shapes(tmp_path, as_bytes):
    path = _keras2_file(tmp_path / "old.h5", layer_names_as_bytes=as_bytes)
    layers = keras2_files.legacy_h5_layers(path)
    assert [layer["name"] for layer in layers] == [
        "x",
        "hidden",
        "tf.math.abs",
        "out",
    ]
    op = layers[2]
    assert op["class_name"] == "TFOpLambda"
    assert op["config"]["function"] == "math.abs"
    assert op["weights"] == {}
    assert op["inbound_nodes"] == [["hidden", 0, 0, {}]]
    assert layers[0]["inbound_nodes"] == []
    assert layers[1]["weights"] == {
        "hidden/kernel:0": (3, 4),
        "hidden/bias:0": (4,),
    }


def test_weights_by_name_in_file_order(keras2_h5):
    weights = keras2_files.legacy_h5_weights(keras2_h5, "hidden")
    assert list(weights) == ["hidden/kernel:0", "hidden/bias:0"]
    np.testing.assert_array_equal(weights["hidden/kernel:0"], KERNEL)
    assert keras2_files.legacy_h5_weights(keras2_h5, "tf.math.abs") == {}


def test_unknown_layer_names_the_layers(keras2_h5):
    with pytest.raises(KeyError, match="its layers are .*'hidden'"):
        keras2_files.legacy_h5_weights(keras2_h5, "head")


@pytest.mark.parametrize(
    "name, error, match",
    [
        ("m.keras", ValueError, "must end in .h5"),
        ("m.weights.h5", ValueError, "load it with model.load_weights"),
        ("missing.h5", FileNotFoundError, "check the path"),
    ],
)
def test_bad_paths_name_the_fix(tmp_path, name, error, match):
    with pytest.raises(error, match=match):
        keras2_files.legacy_h5_layers(tmp_path / name)


def test_path_and_name_types_are_checked(keras2_h5):
    with pytest.raises(TypeError, match="pass e.g. 'model.h5'"):
        keras2_files.legacy_h5_layers(3)
    with pytest.raises(TypeError, match="layer_name must be a str"):
        keras2_files.legacy_h5_weights(keras2_h5, 1)


def test_load_by_name_sets_every_weight(keras2_h5):
    model = _model()
    assert keras2_files.load_weights_by_name(model, keras2_h5) == [
        "hidden",
        "out",
    ]
    kernel, bias = model.get_layer("hidden").get_weights()
    np.testing.assert_array_equal(kernel, KERNEL)
    np.testing.assert_array_equal(bias, BIAS)
    np.testing.assert_array_equal(
        model.get_layer("out").get_weights()[0], HEAD
    )


def test_load_with_renames(keras2_h5):
    model = _model(head="head")
    loaded = keras2_files.load_weights_by_name(
        model, keras2_h5, renames={"head": "out"}
    )
    assert loaded == ["hidden", "head"]
    np.testing.assert_array_equal(
        model.get_layer("head").get_weights()[0], HEAD
    )


def test_a_missing_name_is_refused_and_nothing_is_loaded(keras2_h5):
    model = _model(head="head")
    before = model.get_layer("hidden").get_weights()[0].copy()
    with pytest.raises(ValueError, match=r"no weights for the model's layers"):
        keras2_files.load_weights_by_name(model, keras2_h5)
    after = model.get_layer("hidden").get_weights()[0]
    np.testing.assert_array_equal(after, before)


def test_unused_file_weights_are_refused(keras2_h5):
    inputs = keras.Input((3,))
    only_hidden = keras.Model(
        inputs, keras.layers.Dense(4, name="hidden")(inputs)
    )
    with pytest.raises(ValueError, match=r"\['out'\] go to no layer"):
        keras2_files.load_weights_by_name(only_hidden, keras2_h5)


def test_shape_mismatch_is_refused(keras2_h5):
    with pytest.raises(ValueError, match="rebuild the layer with the sizes"):
        keras2_files.load_weights_by_name(_model(hidden_units=5), keras2_h5)


def test_bad_model_and_renames_are_refused(keras2_h5):
    with pytest.raises(TypeError, match="must be a keras.Model"):
        keras2_files.load_weights_by_name("model", keras2_h5)
    with pytest.raises(ValueError, match="renames names layers"):
        keras2_files.load_weights_by_name(
            _model(), keras2_h5, renames={"nope": "out"}
        )


def test_agrees_with_keras_on_a_keras3_legacy_file(tmp_path):
    """Keras 3's own .h5 writer: the helper reads what load_weights reads."""
    keras.utils.set_random_seed(1)
    original = _model()
    path = tmp_path / "k3.h5"
    original.save(path)
    by_keras, by_helper = _model(), _model()
    by_keras.load_weights(path)
    keras2_files.load_weights_by_name(by_helper, path)
    for a, b in zip(
        by_keras.get_weights(), by_helper.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    classes = [
        layer["class_name"] for layer in keras2_files.legacy_h5_layers(path)
    ]
    assert classes == ["InputLayer", "Dense", "Dense"]


def test_an_old_sequential_config_as_a_list_is_read(tmp_path):
    path = _keras2_file(tmp_path / "old.h5", old_sequential=True)
    layers = keras2_files.legacy_h5_layers(path)
    classes = [layer["class_name"] for layer in layers]
    assert classes == [None, "Dense", "TFOpLambda", "Dense"]  # no InputLayer
    assert layers[1]["config"]["units"] == 4


def test_a_rename_to_a_name_the_file_lacks_is_refused(keras2_h5):
    model = _model(head="head")
    with pytest.raises(ValueError, match=r"renames maps to \['outt'\]"):
        keras2_files.load_weights_by_name(
            model, keras2_h5, renames={"head": "outt"}
        )


def test_one_file_layer_for_two_model_layers_is_refused(keras2_h5):
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="hidden")(inputs)
    other = keras.layers.Dense(4, name="other")(inputs)
    merged = keras.layers.Concatenate()([hidden, other])
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(merged))
    with pytest.raises(ValueError, match=r"\['hidden'\] would go to two"):
        keras2_files.load_weights_by_name(
            model, keras2_h5, renames={"other": "hidden"}
        )


def test_keras_by_name_skips_names_but_refuses_shapes(keras2_h5):
    """What the docstring says of Keras' by_name=True route."""
    renamed = _model(head="head")
    before = renamed.get_layer("head").get_weights()[0].copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        renamed.load_weights(keras2_h5, by_name=True)
    assert not [w for w in caught if "head" in str(w.message)]
    np.testing.assert_array_equal(
        renamed.get_layer("head").get_weights()[0], before
    )
    with pytest.raises(ValueError, match="hape"):
        _model(hidden_units=5).load_weights(keras2_h5, by_name=True)
