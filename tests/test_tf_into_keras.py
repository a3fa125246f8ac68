"""helpers.tf_into_keras: frozen graphs, checkpoints, tf.Modules into Keras."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers  # noqa: F401
from helpers import tf_into_keras


@pytest.fixture(scope="module")
def tf1_program(tmp_path_factory):
    """A TF1 graph y = relu(x @ w + b), saved as a checkpoint and frozen."""
    folder = tmp_path_factory.mktemp("tf1")
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        with tf.compat.v1.variable_scope("layer"):
            w = tf.compat.v1.get_variable(
                "kernel",
                initializer=np.arange(6.0, dtype="float32").reshape(3, 2),
            )
            b = tf.compat.v1.get_variable(
                "bias", initializer=np.array([0.5, -10.0], "float32")
            )
        y = tf.nn.relu(tf.matmul(x, w) + b, name="y")
        saver = tf.compat.v1.train.Saver()
        initialize = tf.compat.v1.global_variables_initializer()
    inputs = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]], "float32")
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(initialize)
        prefix = saver.save(session, str(folder / "model"))
        tf.get_logger().setLevel("ERROR")
        frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
            session, graph.as_graph_def(), ["y"]
        )
        tf.get_logger().setLevel("WARNING")
        outputs = session.run(y, {x: inputs})
    path = folder / "frozen.pb"
    path.write_bytes(frozen.SerializeToString())
    return {"prefix": prefix, "pb": str(path), "x": inputs, "y": outputs}


def test_frozen_graph_gives_the_session_outputs(tf1_program):
    graph_def = tf_into_keras.read_graph_def(tf1_program["pb"])
    function = tf_into_keras.frozen_graph_function(graph_def, ["x:0"], ["y"])
    (result,) = function(tf.constant(tf1_program["x"]))
    np.testing.assert_array_equal(result, tf1_program["y"])


@pytest.mark.parametrize(
    "inputs, outputs, fix",
    [
        (["z:0"], ["y:0"], "placeholders: ['x']"),
        (["x:0"], ["why:0"], "graph_def.node"),
    ],
)
def test_unknown_tensor_names_list_what_the_graph_has(
    tf1_program, inputs, outputs, fix
):
    graph_def = tf_into_keras.read_graph_def(tf1_program["pb"])
    with pytest.raises(ValueError) as caught:
        tf_into_keras.frozen_graph_function(graph_def, inputs, outputs)
    assert fix in str(caught.value)


def test_a_single_name_must_be_in_a_list(tf1_program):
    graph_def = tf_into_keras.read_graph_def(tf1_program["pb"])
    with pytest.raises(TypeError, match=r'\["pixels:0"\]'):
        tf_into_keras.frozen_graph_function(graph_def, "x:0", ["y:0"])


def test_graph_layer_in_a_functional_model(tf1_program):
    graph_def = tf_into_keras.read_graph_def(tf1_program["pb"])
    function = tf_into_keras.frozen_graph_function(graph_def, ["x:0"], ["y:0"])
    inputs = keras.Input(shape=(3,))
    features = tf_into_keras.GraphLayer(function)(inputs)
    assert tuple(features.shape) == (None, 2)
    model = keras.Model(inputs, keras.layers.Dense(1)(features))
    assert len(model.trainable_weights) == 2  # the head's only
    np.testing.assert_array_equal(
        keras.Model(inputs, features)(tf1_program["x"]), tf1_program["y"]
    )
    with pytest.raises(ValueError, match="Reshape or slice"):
        tf_into_keras.GraphLayer(function)(keras.Input(shape=(4,)))


def test_graph_layer_takes_the_batch_axis_from_its_input():
    # A placeholder with a fixed batch of 1: the pruned function runs on any
    # batch, but its declared output shape keeps the 1.
    graph = tf.Graph()
    with graph.as_default():
        row = tf.compat.v1.placeholder(tf.float32, [1, 4], name="row")
        tf.reduce_sum(row, axis=1, keepdims=True, name="total")
    function = tf_into_keras.frozen_graph_function(
        graph.as_graph_def(), ["row:0"], ["total:0"]
    )
    assert tuple(function.outputs[0].shape) == (1, 1)
    assert function(tf.ones((3, 4)))[0].shape == (3, 1)
    layer = tf_into_keras.GraphLayer(function)
    assert tuple(layer(keras.Input(shape=(4,))).shape) == (None, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="double"):
        function(tf.ones((1, 4), tf.float64))  # the dtype is enforced


def test_graph_layer_takes_one_input_and_one_output(tf1_program):
    graph_def = tf_into_keras.read_graph_def(tf1_program["pb"])
    two = tf_into_keras.frozen_graph_function(
        graph_def, ["x:0"], ["y:0", "y:0"]
    )
    with pytest.raises(ValueError, match="one name in each list"):
        tf_into_keras.GraphLayer(two)


def dense_model():
    return keras.Sequential(
        [keras.Input(shape=(3,)), keras.layers.Dense(2, name="layer")]
    )


def test_checkpoint_weights_reproduce_the_session(tf1_program):
    model = dense_model()
    layer = model.get_layer("layer")
    mapping = {"layer/kernel": layer.kernel, "layer/bias": layer.bias}
    assigned = tf_into_keras.load_checkpoint_weights(
        tf1_program["prefix"], mapping
    )
    assert assigned == [
        ("layer/kernel", layer.kernel.path),
        ("layer/bias", layer.bias.path),
    ]
    relu = np.maximum(model(tf1_program["x"]).numpy(), 0)
    np.testing.assert_allclose(relu, tf1_program["y"], rtol=1e-6)


def test_checkpoint_mistakes_name_the_fix(tf1_program):
    layer = dense_model().get_layer("layer")
    prefix = tf1_program["prefix"]
    with pytest.raises(ValueError, match="ignore="):
        tf_into_keras.load_checkpoint_weights(
            prefix, {"layer/kernel": layer.kernel}
        )
    with pytest.raises(ValueError, match="list_variables"):
        tf_into_keras.load_checkpoint_weights(
            prefix, {"layer/weights": layer.kernel}
        )
    with pytest.raises(ValueError, match="transpose"):
        tf_into_keras.load_checkpoint_weights(
            prefix, {"layer/kernel": layer.bias, "layer/bias": layer.kernel}
        )
    before = layer.kernel.numpy().copy()
    tf_into_keras.load_checkpoint_weights(
        prefix, {"layer/bias": layer.bias}, ignore=["layer/kernel"]
    )
    np.testing.assert_array_equal(layer.kernel.numpy(), before)
    np.testing.assert_array_equal(layer.bias.numpy(), [0.5, -10.0])


class Scale(tf.Module):
    def __init__(self):
        super().__init__()
        self.factor = tf.Variable(2.0, name="factor")
        self.calls = tf.Variable(0, trainable=False, name="calls")

    @tf.function
    def __call__(self, x):
        self.calls.assign_add(1)
        return self.factor * x


def test_module_layer_tracks_the_same_variables_and_trains_them():
    module = Scale()
    layer = tf_into_keras.ModuleLayer(module)
    assert [w.path for w in layer.trainable_weights] == ["module_layer/factor"]
    assert [w.path for w in layer.non_trainable_weights] == [
        "module_layer/calls"
    ]
    assert layer.trainable_weights[0].value is module.factor
    inputs = keras.Input(shape=(1,))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    data = tf.data.Dataset.from_tensors((tf.ones((8, 1)), 3 * tf.ones((8, 1))))
    model.fit(data, epochs=30, shuffle=False, verbose=0)
    assert float(module.factor.numpy()) == pytest.approx(3.0, abs=0.01)


def test_module_layer_built_frozen_stays_frozen_in_a_model():
    module = Scale()
    layer = tf_into_keras.ModuleLayer(module, trainable=False)
    inputs = keras.Input(shape=(1,))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    assert all(w.path.startswith("dense") for w in model.trainable_weights)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    data = tf.data.Dataset.from_tensors((tf.ones((8, 1)), 3 * tf.ones((8, 1))))
    model.fit(data, epochs=3, shuffle=False, verbose=0)
    assert float(module.factor.numpy()) == 2.0
    layer.trainable = True  # and it can be unfrozen
    assert len(layer.trainable_weights) == 1


def test_module_layer_wants_a_module_with_variables():
    with pytest.raises(TypeError, match="keras.layers.Layer"):
        tf_into_keras.ModuleLayer(lambda x: 2 * x)
    with pytest.raises(TypeError, match="keras.layers.Layer"):
        tf_into_keras.ModuleLayer(tf.Module())  # nothing to call

    class Lazy(tf.Module):
        def __call__(self, x):
            return x

    with pytest.raises(ValueError, match="call it once"):
        tf_into_keras.ModuleLayer(Lazy())


def _reusable_savedmodel(path, decay=None):
    """A module saved in the TF2 Hub format: variables listed as attributes."""
    scale = tf.Variable(2.0, name="scale")
    count = tf.Variable(0, trainable=False, name="count")

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32)])
    def call(x):
        count.assign_add(1)
        return scale * x

    losses = []
    if decay is not None:
        losses = [tf.function(lambda: decay * scale**2, input_signature=[])]
    tf_into_keras.save_hub_module(
        str(path), call, [scale, count], [scale], losses
    )
    return tf.saved_model.load(str(path))


def test_module_layer_trains_a_reloaded_reusable_savedmodel(tmp_path):
    loaded = _reusable_savedmodel(tmp_path / "module")
    layer = tf_into_keras.ModuleLayer(loaded, name="hub")
    assert [w.path for w in layer.trainable_weights] == ["hub/scale"]
    assert [w.path for w in layer.non_trainable_weights] == ["hub/count"]
    inputs = keras.Input(shape=(1,))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    data = tf.data.Dataset.from_tensors((tf.ones((8, 1)), 3 * tf.ones((8, 1))))
    model.fit(data, epochs=30, shuffle=False, verbose=0)
    # the loaded object's own variable was trained
    assert float(loaded.variables[0].numpy()) == pytest.approx(3.0, abs=0.01)


def test_module_layer_refuses_a_reloaded_module_without_variables(tmp_path):
    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32)])
    def double(x):
        return 2 * x

    tf_into_keras.save_hub_module(str(tmp_path / "stateless"), double, [])
    loaded = tf.saved_model.load(str(tmp_path / "stateless"))
    with pytest.raises(ValueError, match="lists no variables"):
        tf_into_keras.ModuleLayer(loaded)


def test_module_layer_names_tfsmlayer_for_a_plain_savedmodel(tmp_path):
    tf.saved_model.save(Scale(), str(tmp_path / "plain"))
    loaded = tf.saved_model.load(str(tmp_path / "plain"))
    with pytest.raises(TypeError, match="TFSMLayer"):
        tf_into_keras.ModuleLayer(loaded)


def test_graph_layer_keeps_the_graph_dtype_under_mixed_precision(tf1_program):
    graph_def = tf_into_keras.read_graph_def(tf1_program["pb"])
    function = tf_into_keras.frozen_graph_function(graph_def, ["x:0"], ["y:0"])
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = tf_into_keras.GraphLayer(function)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert layer.dtype == "float32"
    np.testing.assert_array_equal(layer(tf1_program["x"]), tf1_program["y"])


def test_module_layer_adds_the_modules_regularization_losses(tmp_path):
    loaded = _reusable_savedmodel(tmp_path / "module", decay=0.25)
    layer = tf_into_keras.ModuleLayer(loaded)
    inputs = keras.Input(shape=(1,))
    model = keras.Model(inputs, layer(inputs))
    model(tf.ones((2, 1)))
    assert [float(loss) for loss in model.losses] == [0.25 * 2.0**2]
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    data = tf.data.Dataset.from_tensors((tf.ones((8, 1)), 3 * tf.ones((8, 1))))
    history = model.fit(data, epochs=1, shuffle=False, verbose=0).history
    logged = history["loss"][0]
    assert logged == pytest.approx((3.0 - 2.0) ** 2 + 1.0)  # mse + decay
    layer.trainable = False  # as hub.KerasLayer: a frozen module adds none
    model(tf.ones((2, 1)))
    assert model.losses == []


def _module_with_dropout(path):
    """A reusable SavedModel whose __call__ takes `training` (dropout)."""
    scale = tf.Variable(1.0, name="scale")

    @tf.function
    def call(x, training=False):
        if training:
            x = tf.nn.dropout(x, rate=0.5, seed=1)
        return scale * x

    for mode in (True, False):  # trace both, as the TF2 Hub format asks
        call.get_concrete_function(tf.TensorSpec([None, 100]), training=mode)
    tf_into_keras.save_hub_module(str(path), call, [scale])
    return tf.saved_model.load(str(path))


def test_module_layer_passes_training_on_like_hub_keras_layer(tmp_path):
    layer = tf_into_keras.ModuleLayer(_module_with_dropout(tmp_path / "m"))
    ones = tf.ones((4, 100))
    assert layer.takes_training

    def zeroed(**kwargs):
        return float(
            tf.reduce_mean(tf.cast(layer(ones, **kwargs) == 0, "float32"))
        )

    assert zeroed() == 0.0 and zeroed(training=False) == 0.0
    assert 0.3 < zeroed(training=True) < 0.7
    layer.trainable = False  # frozen: inference mode, as hub.KerasLayer
    assert zeroed(training=True) == 0.0
    assert not tf_into_keras.ModuleLayer(Scale()).takes_training


def test_save_hub_module_refuses_what_would_not_reload(tmp_path):
    scale = tf.Variable(2.0)

    @tf.function
    def untraced(x):
        return scale * x

    with pytest.raises(ValueError, match="input_signature"):
        tf_into_keras.save_hub_module(str(tmp_path / "a"), untraced, [scale])
    with pytest.raises(TypeError, match="@tf.function"):
        tf_into_keras.save_hub_module(
            str(tmp_path / "b"), lambda x: x, [scale]
        )
    untraced(tf.ones(1))  # traced now
    with pytest.raises(ValueError, match="also be in variables"):
        tf_into_keras.save_hub_module(
            str(tmp_path / "c"), untraced, [], [scale]
        )
    tf_into_keras.save_hub_module(str(tmp_path / "d"), untraced, [scale])
    loaded = tf.saved_model.load(str(tmp_path / "d"))
    assert float(loaded(tf.ones(1))[0]) == 2.0
    assert len(loaded.trainable_variables) == 1


def _tf1_hub_module(path):
    """A TF1 Hub module: y = x @ w, and a two-input signature (a - b) @ w."""
    w = np.arange(6.0, dtype="float32").reshape(3, 2)

    def build():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], "x")
        other = tf.compat.v1.placeholder(tf.float32, [None, 3], "other")
        kernel = tf.compat.v1.get_variable("w", initializer=w)
        return {
            "default": ({"default": x}, {"default": tf.matmul(x, kernel)}),
            "pair": (
                {"x": x, "other": other},
                {"default": tf.matmul(x - other, kernel)},
            ),
        }

    tf_into_keras.save_tf1_hub_module(str(path), build)
    return w


def test_a_tf1_hub_module_has_two_graphs_and_a_marker(tmp_path):
    _tf1_hub_module(tmp_path / "m")
    assert (tmp_path / "m" / "tfhub_module.pb").exists()
    with pytest.raises(ValueError, match="tags="):
        tf.saved_model.load(str(tmp_path / "m"))
    loaded = tf.saved_model.load(str(tmp_path / "m"), tags=["train"])
    assert sorted(loaded.signatures) == ["default", "pair"]


def test_signature_layer_calls_a_signature_by_name(tmp_path):
    w = _tf1_hub_module(tmp_path / "m")
    loaded = tf.saved_model.load(str(tmp_path / "m"), tags=[])
    x = np.array([[1.0, 2.0, 3.0]], "float32")
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, tf_into_keras.SignatureLayer(loaded)(inputs))
    np.testing.assert_allclose(model(x), x @ w)
    assert model.weights == []  # frozen: Keras sees no variable
    pair = {
        "x": keras.Input(shape=(3,), name="x"),
        "other": keras.Input(shape=(3,), name="other"),
    }
    layer = tf_into_keras.SignatureLayer(loaded, "pair")
    model = keras.Model(pair, layer(pair))
    out = model({"x": x, "other": np.ones_like(x)})
    np.testing.assert_allclose(out, (x - 1) @ w)
    with pytest.raises(ValueError, match="has \\['default', 'pair'\\]"):
        tf_into_keras.SignatureLayer(loaded, "serving_default")
