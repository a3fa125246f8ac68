import keras
import numpy as np
import pytest
from packaging.version import Version

import helpers  # noqa: F401  (conftest.py imported it before TensorFlow)
from helpers.extract import feature_extractor


def _cnn():
    x = keras.Input(shape=(8, 8, 1), name="image")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    p = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    return keras.Model(x, keras.layers.Dense(3, name="logits")(p), name="cnn")


def test_returns_a_dict_in_the_order_asked_and_shares_weights():
    model = _cnn()
    fx = feature_extractor(model, ["pool", "conv"])
    assert isinstance(fx, keras.Model)
    assert fx.inputs[0] is model.inputs[0]
    out = fx(np.ones((2, 8, 8, 1), "float32"))
    assert list(out) == ["pool", "conv"]
    assert tuple(out["conv"].shape) == (2, 6, 6, 4)
    assert tuple(out["pool"].shape) == (2, 4)
    # the same layer, not a copy
    assert fx.get_layer("conv") is model.get_layer("conv")


def test_values_match_the_model():
    model = _cnn()
    data = np.random.default_rng(0).normal(size=(3, 8, 8, 1)).astype("float32")
    fx = feature_extractor(model, ["logits"])
    np.testing.assert_allclose(fx(data)["logits"], model(data), rtol=1e-6)


def test_sequential_started_with_input_works():
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(3, name="a"),
            keras.layers.Dense(2, name="b"),
        ]
    )
    out = feature_extractor(model, ["a"])(np.zeros((1, 4), "float32"))
    assert tuple(out["a"].shape) == (1, 3)


def test_several_inputs():
    a = keras.Input(shape=(2,), name="a")
    b = keras.Input(shape=(3,), name="b")
    j = keras.layers.Concatenate(name="join")([a, b])
    model = keras.Model([a, b], keras.layers.Dense(1, name="out")(j))
    out = feature_extractor(model, ["join"])(
        [np.zeros((1, 2), "float32"), np.zeros((1, 3), "float32")]
    )
    assert tuple(out["join"].shape) == (1, 5)


def test_unknown_name_lists_the_layers_that_exist():
    with pytest.raises(
        ValueError, match=r"no layer named 'conv2'.*image, conv, pool, logits"
    ):
        feature_extractor(_cnn(), ["conv2"])


def test_layer_inside_a_nested_model_points_there():
    inner = _cnn()
    x = keras.Input(shape=(8, 8, 1))
    outer = keras.Model(
        x, keras.layers.Softmax(name="probs")(inner(x)), name="outer"
    )
    with pytest.raises(
        ValueError, match=r"inside the nested model 'cnn'.*get_layer\('cnn'\)"
    ):
        feature_extractor(outer, ["conv"])


def test_sequential_without_input_names_the_fix():
    with pytest.raises(
        ValueError, match=r"start it with keras.Input\(shape=...\)"
    ):
        feature_extractor(
            keras.Sequential([keras.layers.Dense(2, name="d")]), ["d"]
        )


def test_subclassed_model_names_the_fix():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2, name="d")

        def call(self, x):
            return self.d(x)

    with pytest.raises(ValueError, match="functional API"):
        feature_extractor(Sub(), ["d"])


@pytest.mark.parametrize(
    "names, error, message",
    [
        ("conv", TypeError, r"feature_extractor\(model, \['conv'\]\)"),
        ([], ValueError, "empty"),
        (["conv", "conv"], ValueError, "repeats"),
        ([3], TypeError, "layer.name"),
    ],
)
def test_bad_layer_names(names, error, message):
    with pytest.raises(error, match=message):
        feature_extractor(_cnn(), names)


def test_not_a_model():
    with pytest.raises(TypeError, match=r"keras.Model\(inputs, outputs\)"):
        feature_extractor(keras.layers.Dense(2), ["dense"])


def _nested():
    image = keras.Input(shape=(8, 8, 1), name="image")
    h = keras.layers.Conv2D(4, 3, name="conv")(image)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    backbone = keras.Model(image, pooled, name="backbone")
    digits = keras.Input(shape=(8, 8, 1), name="digits")
    logits = keras.layers.Dense(3, name="logits")(backbone(digits))
    return keras.Model(digits, logits, name="classifier"), backbone


#: Keras refuses a model whose output no path connects to its inputs from
#: 3.14 on (keras/src/ops/function.py); book/versions.md says so.
REFUSES_DISCONNECTED = Version(keras.__version__) >= Version("3.14")


def test_nested_model_output_is_the_outer_graphs():
    classifier, backbone = _nested()
    data = np.random.default_rng(1).random((2, 8, 8, 1)).astype("float32")
    # The trap the helper avoids: a functional model's .output is its own,
    # which no path connects to the outer input.
    if REFUSES_DISCONNECTED:
        with pytest.raises(ValueError, match="not connected"):
            keras.Model(classifier.inputs, backbone.output)
    else:  # built without complaint, the model fails only when called
        disconnected = keras.Model(classifier.inputs, backbone.output)
        with pytest.raises(KeyError):
            disconnected(data)
    fx = feature_extractor(classifier, ["backbone", "logits"])
    out = fx(data)
    np.testing.assert_allclose(out["backbone"], backbone(data), rtol=1e-6)
    np.testing.assert_allclose(out["logits"], classifier(data), rtol=1e-6)


def _siamese():
    a = keras.Input(shape=(4,), name="a")
    b = keras.Input(shape=(4,), name="b")
    encoder = keras.layers.Dense(3, name="encoder")
    similarity = keras.layers.Dot(axes=1, name="similarity")(
        [encoder(a), encoder(b)]
    )
    return keras.Model([a, b], similarity, name="siamese"), encoder


def test_shared_layer_each_call_by_index():
    siamese, encoder = _siamese()
    fx = feature_extractor(siamese, ["encoder@0", "encoder@1"])
    left = np.ones((2, 4), "float32")
    right = np.full((2, 4), 2.0, "float32")
    out = fx([left, right])
    np.testing.assert_allclose(out["encoder@0"], encoder(left), rtol=1e-6)
    np.testing.assert_allclose(out["encoder@1"], encoder(right), rtol=1e-6)
    assert not np.allclose(out["encoder@0"], out["encoder@1"])


def test_shared_layer_without_a_call_names_the_fix():
    siamese, _ = _siamese()
    with pytest.raises(ValueError, match=r"called 2 times.*'encoder@1'"):
        feature_extractor(siamese, ["encoder"])


@pytest.mark.parametrize("key", ["encoder@2", "encoder@x", "pool@"])
def test_a_call_that_does_not_exist_names_the_range(key):
    siamese, _ = _siamese()
    if key == "pool@":
        siamese = _cnn()
    with pytest.raises(ValueError, match="name a call from"):
        feature_extractor(siamese, [key])


def test_calls_in_another_graph_do_not_count():
    # encoder is also called outside the siamese model: still one call
    # inside a model built on a single branch.
    siamese, encoder = _siamese()
    c = keras.Input(shape=(4,), name="c")
    single = keras.Model(c, encoder(c), name="single")
    out = feature_extractor(single, ["encoder"])(np.ones((1, 4), "float32"))
    assert tuple(out["encoder"].shape) == (1, 3)


def test_the_public_sub_model_gives_the_same_tensors():
    # The public way the module's docstring names: a sub-model on the
    # nested model's input, called on the outer input.
    classifier, backbone = _nested()
    parts = keras.Model(
        backbone.input,
        {"conv": backbone.get_layer("conv").output, "pool": backbone.output},
    )(classifier.input)
    public = keras.Model(classifier.input, parts)
    fx = feature_extractor(classifier, ["backbone"])
    data = np.random.default_rng(2).random((2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(
        public(data)["pool"], fx(data)["backbone"], rtol=1e-6
    )


def test_changed_private_node_keys_fail_with_the_public_fix(monkeypatch):
    # The helper reads private Keras records; if their keys changed, it must
    # say so rather than return a wrong tensor.
    import helpers.extract

    monkeypatch.setattr(
        helpers.extract, "make_node_key", lambda op, i: f"other-{id(op)}-{i}"
    )
    with pytest.raises(RuntimeError, match="public API"):
        feature_extractor(_cnn(), ["conv"])
