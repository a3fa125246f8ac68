import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from helpers import portable
from helpers.portable import (
    PortablePool,
    run_on_backend,
    setup_source,
    stored_layers,
)


# Two layers for the child processes: one with tf.* (the control: TensorFlow
# code inside a layer) and one with keras.ops and add_loss. The child gets
# their definitions from setup_source.
@keras.saving.register_keras_serializable(package="test_portable")
class TFPool(keras.layers.Layer):
    def build(self, input_shape):
        self.score = self.add_weight(shape=(input_shape[-1],), name="score")

    def call(self, x):
        weights = tf.nn.softmax(tf.tensordot(x, self.score, axes=1), axis=-1)
        return tf.reduce_sum(x * weights[..., None], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package="test_portable")
class OpsPenalty(keras.layers.Layer):
    def call(self, x):
        self.add_loss(0.5 * ops.mean(ops.square(x)))
        return x


def reference_pool(x, score, keep):
    """The chapter's AttentionPool at inference, with tf.*."""
    scores = tf.where(keep, tf.tensordot(x, score, axes=1), -1e9)
    weights = tf.nn.softmax(scores, axis=-1)
    return tf.reduce_sum(x * weights[..., None], axis=1).numpy()


def padded_batch(length, seed=0):
    rng = np.random.default_rng(seed)
    batch = np.zeros((2, length, 3), "float32")
    batch[0, :3] = rng.normal(size=(3, 3))
    batch[1, :2] = rng.normal(size=(2, 3))
    return batch


def pooling_model(layer):
    sequence = keras.Input(shape=(None, 3))
    masked = keras.layers.Masking(mask_value=0.0)(sequence)
    return keras.Model(sequence, layer(masked))


@pytest.fixture(scope="module")
def saved_pool(tmp_path_factory):
    model = pooling_model(PortablePool(name="pool"))
    path = tmp_path_factory.mktemp("portable") / "pool.keras"
    model.save(path)
    return path, model(padded_batch(4)).numpy()


def test_the_registered_name_does_not_clash_with_the_chapters_layer():
    assert (
        keras.saving.get_registered_name(PortablePool) == "book>PortablePool"
    )


def test_portable_pool_computes_what_the_tf_version_computes():
    model = pooling_model(PortablePool())
    batch = padded_batch(4)
    keep = np.any(batch != 0, axis=-1)
    expected = reference_pool(batch, model.layers[-1].score, keep)
    np.testing.assert_allclose(model(batch), expected, rtol=1e-6)
    # the mask: padding to 9 steps changes nothing
    np.testing.assert_allclose(model(padded_batch(9)), expected, rtol=1e-6)
    # the control: without the mask the padded steps get weight
    unmasked = reference_pool(batch, model.layers[-1].score, batch[..., 0] < 9)
    assert not np.allclose(unmasked, expected, rtol=1e-3)


def test_training_drops_steps_and_inference_does_not():
    model = pooling_model(PortablePool(seed=3))
    batch = np.random.default_rng(1).normal(size=(16, 6, 3)).astype("float32")
    inference = [model(batch, training=False).numpy() for _ in range(2)]
    training = [model(batch, training=True).numpy() for _ in range(2)]
    assert np.array_equal(*inference)
    assert not np.array_equal(*training)


def test_shape_mask_and_config():
    layer = PortablePool(drop_rate=0.3, seed=7)
    assert layer.compute_output_shape((None, 5, 4)) == (None, 4)
    assert layer.compute_mask(None, mask=np.ones((2, 5), bool)) is None
    config = layer.get_config()
    assert (config["drop_rate"], config["seed"]) == (0.3, 7)
    assert PortablePool.from_config(config).drop_rate == 0.3


def test_a_drop_rate_outside_zero_to_one_is_refused_with_a_fix():
    for rate in (-0.1, 1.0):
        with pytest.raises(ValueError, match="0 <= drop_rate < 1.*e.g."):
            PortablePool(drop_rate=rate)


def test_on_jax_the_saved_model_computes_what_it_computed_on_tensorflow(
    saved_pool,
):
    path, on_tf = saved_pool
    on_jax = run_on_backend("jax", path, padded_batch(4))
    assert on_jax["backend"] == "jax"
    assert on_jax["output_type"] == "ArrayImpl"  # a JAX array
    assert on_jax["tensorflow_imported"] is False
    np.testing.assert_allclose(on_jax["outputs"], on_tf, rtol=0, atol=1e-6)
    np.testing.assert_allclose(on_jax["predicted"], on_tf, rtol=0, atol=1e-6)
    assert on_jax["losses"] == []


def test_the_control_a_tf_layer_leaves_jax_and_fails_compiled(tmp_path):
    model = keras.Model(*(lambda i: (i, TFPool()(i)))(keras.Input((None, 3))))
    path = tmp_path / "tf_pool.keras"
    model.save(path)
    batch = padded_batch(4)
    setup = setup_source(TFPool)
    eager = run_on_backend("jax", path, batch, setup=setup, compiled=False)
    # it runs eagerly, but its output is TensorFlow's, not JAX's
    assert eager["backend"] == "jax"
    assert eager["jit_compile"] is True  # predict would be jax.jit-compiled
    assert eager["output_type"] == "EagerTensor"
    assert eager["tensorflow_imported"] is True
    np.testing.assert_allclose(eager["outputs"], model(batch), rtol=1e-6)
    # under jax.jit (predict) TensorFlow cannot take JAX's traced values
    with pytest.raises(RuntimeError) as failed:
        run_on_backend("jax", path, batch, setup=setup)
    first, *rest = str(failed.value).splitlines()
    assert first == (
        "on the jax backend, tf_pool.keras failed in predict: "
        "TracerArrayConversionError"
    )
    assert "traced values" in rest[-1] and "keras.ops" in rest[-1]
    # and what fails is the backend: a fresh TensorFlow process runs it all
    on_tf = run_on_backend("tensorflow", path, batch, setup=setup)
    assert on_tf["output_type"] == "EagerTensor"
    np.testing.assert_allclose(on_tf["predicted"], model(batch), rtol=1e-6)


def test_losses_come_back_and_setup_defines_the_class(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, OpsPenalty()(keras.layers.Dense(2)(inputs)))
    path = tmp_path / "penalty.keras"
    model.save(path)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    outputs = model(x)
    losses = [float(v) for v in model.losses]
    setup = setup_source(OpsPenalty)
    on_jax = run_on_backend("jax", path, x, setup=setup, compiled=False)
    np.testing.assert_allclose(on_jax["outputs"], outputs, rtol=1e-6)
    np.testing.assert_allclose(on_jax["losses"], losses, rtol=1e-6)
    assert len(losses) == 1 and on_jax["predicted"] is None
    # without setup the child cannot find the class, and says so
    with pytest.raises(RuntimeError) as failed:
        run_on_backend("jax", path, x, compiled=False)
    message = str(failed.value)
    assert message.startswith(
        "on the jax backend, penalty.keras failed in load_model: TypeError"
    )
    assert "Could not locate class 'OpsPenalty'" in message
    assert "setup=portable.setup_source(TheClass)" in message
    # setup that fails is reported as such
    with pytest.raises(RuntimeError, match="failed in setup: NameError"):
        run_on_backend("jax", path, x, setup="tf.constant(1)")


def test_setup_source_carries_methods_attached_later_and_module_globals():
    @keras.saving.register_keras_serializable(package="test_setup_source")
    class Later(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

    def call(self, x):
        return tf.multiply(x, self.factor) + np.float32(0)

    Later.call = call
    source = setup_source(Later)
    assert "import tensorflow as tf" in source
    assert "import numpy as np" in source
    assert "package='test_setup_source', name='Later'" in source
    assert "    def call(self, x):" in source  # in the class body
    defined = {}
    exec(source, defined)  # registers the copy under the same name
    copy = keras.saving.get_registered_object("test_setup_source>Later")
    assert copy is defined["Later"] and copy is not Later
    assert float(copy(factor=3.0)(np.float32(2.0))) == 6.0  # super() works


def test_setup_source_refuses_what_it_cannot_carry():
    with pytest.raises(TypeError, match="setup_source\\(AttentionPool\\)"):
        setup_source(TFPool())

    class Unregistered(keras.layers.Layer):
        pass

    with pytest.raises(ValueError, match="register_keras_serializable"):
        setup_source(Unregistered)

    @keras.saving.register_keras_serializable(package="test_setup_source")
    class WithData(keras.layers.Layer):
        calls = 0

    with pytest.raises(ValueError, match="WithData.calls .*by hand"):
        setup_source(WithData)
    made = {"keras": keras}
    exec(
        "@keras.saving.register_keras_serializable(package='test_exec')\n"
        "class Made(keras.layers.Layer):\n"
        "    def call(self, x):\n"
        "        return x\n",
        made,
    )
    with pytest.raises(ValueError, match="cannot be read.*notebook cell"):
        setup_source(made["Made"])


def test_stored_layers_is_the_graph_and_the_registered_name(
    saved_pool, tmp_path
):
    path, _ = saved_pool
    graph = stored_layers(path)
    assert [class_name for _, class_name, _ in graph] == [
        "InputLayer",
        "NotEqual",  # Masking's mask: two ops, stored as nodes too
        "Masking",
        "Any",
        "book>PortablePool",
    ]
    names = [name for name, _, _ in graph]
    input_name, not_equal, masking, any_name, pool = names
    assert [inputs for _, _, inputs in graph] == [
        [],
        [input_name],
        [input_name],
        [not_equal],
        [masking, any_name],  # the masked values and the mask
    ]
    with pytest.raises(FileNotFoundError, match="model.save"):
        stored_layers(tmp_path / "missing.keras")
    (tmp_path / "notes.keras").write_text("not a zip archive")
    with pytest.raises(ValueError, match="not a .keras file"):
        stored_layers(tmp_path / "notes.keras")
    sequential = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    sequential.save(tmp_path / "sequential.keras")
    with pytest.raises(ValueError, match="Sequential.*functional"):
        stored_layers(tmp_path / "sequential.keras")


def test_bad_arguments_get_errors_that_name_the_fix(
    saved_pool, tmp_path, monkeypatch
):
    path, _ = saved_pool
    with pytest.raises(ValueError, match="pass one of.*'jax'"):
        run_on_backend("jaxx", path, padded_batch(4))
    with pytest.raises(FileNotFoundError, match="model.save"):
        run_on_backend("jax", tmp_path / "missing.keras", padded_batch(4))
    with pytest.raises(ValueError, match="not a .keras file"):
        run_on_backend("jax", tmp_path / "model.h5", padded_batch(4))
    with pytest.raises(ValueError, match="NumPy array of floats"):
        run_on_backend("jax", path, np.array(["a", "b"]))
    with pytest.raises(TypeError, match="as a string"):
        run_on_backend("jax", path, padded_batch(4), setup=TFPool)
    with pytest.raises(RuntimeError, match="failed in the call: ValueError"):
        run_on_backend("jax", path, np.zeros((2, 4, 5), "float32"))
    monkeypatch.setattr(portable, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install torch"):
        run_on_backend("torch", path, padded_batch(4))
