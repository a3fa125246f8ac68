import itertools

import keras
import matplotlib
import pytest

import helpers  # noqa: F401  (conftest.py imported it before TensorFlow)

# in this process only: never via MPLBACKEND, which kernels would inherit
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from helpers.plotting import draw_model


def _two_input_model():
    a = keras.Input(shape=(3,), name="numeric")
    b = keras.Input(shape=(), dtype="int32", name="category")
    e = keras.layers.Embedding(10, 4, name="embed")(b)
    h = keras.layers.Concatenate(name="join")([a, e])
    return keras.Model(
        [a, b], keras.layers.Dense(1, name="score")(h), name="two_inputs"
    )


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_draws_every_layer_with_shapes_and_arrows():
    ax = draw_model(_two_input_model())
    texts = _texts(ax)
    for name in ("numeric", "category", "embed", "join", "score"):
        assert name in texts
    assert "Input  (None, 3)" in texts
    assert "Dense  (None, 1)" in texts
    arrows = [
        c for c in ax.get_children() if c.__class__.__name__ == "Annotation"
    ]
    # category->embed, numeric->join, embed->join, join->score
    assert len(arrows) == 4
    assert ax.get_title() == "two_inputs"
    plt.close("all")


def test_inputs_on_top_outputs_at_the_bottom():
    ax = draw_model(_two_input_model())
    y = {t.get_text(): t.get_position()[1] for t in ax.texts}
    assert y["numeric"] == y["category"] > y["embed"] > y["join"] > y["score"]
    plt.close("all")


def test_sequential_started_with_input():
    model = keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(2, name="d")], name="seq"
    )
    assert "d" in _texts(draw_model(model, title="custom"))
    plt.close("all")


def test_sequential_without_input_names_the_fix():
    with pytest.raises(ValueError, match=r"keras.Input\(shape=...\)"):
        draw_model(keras.Sequential([keras.layers.Dense(2)]))


def test_subclassed_model_names_the_fix():
    class Sub(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="functional API"):
        draw_model(Sub())


def test_not_a_model_names_the_fix():
    with pytest.raises(TypeError, match=r"keras.Model\(inputs, outputs\)"):
        draw_model(keras.layers.Dense(2))


def _box_centres(ax):
    return {
        t.get_text(): t.get_position()
        for t in ax.texts
        if "  " not in t.get_text()
    }


def test_boxes_in_a_row_do_not_overlap_and_children_sit_under_parents():
    a = keras.Input(shape=(2,), name="a")
    branches = [keras.layers.Dense(1, name=f"b{i}")(a) for i in range(3)]
    out = keras.layers.Concatenate(name="cat")(branches)
    ax = draw_model(keras.Model(a, out, name="fan"))
    centres = _box_centres(ax)
    xs = sorted(centres[f"b{i}"][0] for i in range(3))
    # At least a box width apart, and the child under the mean of its parents.
    assert min(b - a for a, b in itertools.pairwise(xs)) >= 2.8
    assert abs(centres["cat"][0] - sum(xs) / 3) < 1e-9
    plt.close("all")
