import keras
import matplotlib
import pytest
import tensorflow as tf

import helpers  # noqa: F401  (conftest.py imported it before TensorFlow)
from helpers import graphs

matplotlib.use("Agg")  # in this process only
import matplotlib.pyplot as plt  # noqa: E402

from helpers.plotting import draw_graph  # noqa: E402


def _mlp():
    x = keras.Input(shape=(3,), name="x")
    h = keras.layers.Dense(4, activation="relu", name="hidden")(x)
    return keras.Model(x, keras.layers.Dense(1, name="out")(h), name="mlp")


def _loss_function(model):
    @tf.function(
        input_signature=[
            tf.TensorSpec((None, 3), tf.float32, name="features"),
            tf.TensorSpec((None, 1), tf.float32),
        ]
    )
    def loss(x, target):
        return tf.reduce_mean(tf.square(model(x) - target))

    return loss.get_concrete_function()


def test_user_inputs_only_in_signature_order_with_names():
    specs = graphs.input_placeholders(_loss_function(_mlp()))
    assert specs == [
        tf.TensorSpec((None, 3), tf.float32, name="features"),
        tf.TensorSpec((None, 1), tf.float32, name="target"),
    ]
    assert all(isinstance(s, tf.TensorSpec) for s in specs)


def test_captured_variables_are_excluded_but_exist_in_the_graph():
    concrete = _loss_function(_mlp())
    placeholders = [
        op
        for op in concrete.graph.get_operations()
        if op.type == "Placeholder"
    ]
    assert len(placeholders) == 2 + 4  # two inputs, four captured variables
    assert len(graphs.input_placeholders(concrete)) == 2
    captured = graphs.captured_placeholders(concrete)
    assert sorted(src.split(":")[0] for _, _, src in captured) == [
        "hidden/bias",
        "hidden/kernel",
        "out/bias",
        "out/kernel",
    ]
    assert {dtype for _, dtype, _ in captured} == {"resource"}
    # the docstring's promise: a variable's name with its output index
    assert all(
        src.endswith("/kernel:0") or src.endswith("/bias:0")
        for _, _, src in captured
    )


def test_keyword_arguments_and_python_values():
    @tf.function
    def f(x, scale=2.0, *, z):
        return x * scale + tf.cast(z, tf.float32)

    concrete = f.get_concrete_function(
        tf.TensorSpec([None], tf.float32), z=tf.TensorSpec([], tf.float64)
    )
    assert graphs.input_placeholders(concrete) == [
        tf.TensorSpec([None], tf.float32, name="x"),
        tf.TensorSpec([], tf.float64, name="z"),
    ]


def test_nested_dict_input_follows_the_flattened_order():
    @tf.function
    def f(d):
        return d["a"] + tf.cast(d["b"], tf.float32)

    concrete = f.get_concrete_function(
        {
            "b": tf.TensorSpec([2], tf.int32, name="bee"),
            "a": tf.TensorSpec([2], tf.float32),
        }
    )
    specs = graphs.input_placeholders(concrete)
    # keys sorted: a, b
    assert [s.dtype for s in specs] == [
        tf.float32,
        tf.int32,
    ]
    assert specs[1].name == "bee"


def test_a_tf_function_is_refused_with_the_fix():
    @tf.function
    def f(x):
        return x

    with pytest.raises(TypeError, match="get_concrete_function"):
        graphs.input_placeholders(f)
    with pytest.raises(TypeError, match="ConcreteFunction"):
        graphs.input_placeholders(lambda x: x)


def test_op_histogram():
    counts = graphs.op_histogram(_loss_function(_mlp()))
    assert counts["Placeholder"] == 6
    assert counts["MatMul"] == 2
    with pytest.raises(TypeError, match="get_concrete_function"):
        graphs.op_histogram("graph")


def test_draw_graph_colours_inputs_and_captures():
    ax = draw_graph(_loss_function(_mlp()))
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("Placeholder") == 6
    assert "= hidden/kernel" in texts
    plt.close("all")


def test_draw_graph_refuses_huge_graphs_and_non_graphs():
    g = tf.Graph()
    with g.as_default():
        x = tf.constant(1.0)
        for _ in range(50):
            x = x + 1.0
    with pytest.raises(ValueError, match="hide_types"):
        draw_graph(g)
    with pytest.raises(TypeError, match="get_concrete_function"):
        draw_graph(object())
