import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers
from helpers.training import compiled_train_step, run_epochs

X_SPEC = tf.TensorSpec((None, 1), tf.float32)
Y_SPEC = tf.TensorSpec((None, 1), tf.float32)


def _mse(y, y_pred):
    return tf.reduce_mean(tf.square(y - y_pred))


def _line_model():
    helpers.seed_everything(0)
    x = keras.Input(shape=(1,))
    return keras.Model(x, keras.layers.Dense(1)(x))


def test_learns_y_equals_2x_and_traces_once():
    model = _line_model()
    step = compiled_train_step(
        model, _mse, keras.optimizers.SGD(0.1), X_SPEC, Y_SPEC
    )
    x = np.linspace(-1, 1, 32, dtype="float32")[:, None]
    # last batch smaller: same graph
    history = run_epochs(step, x, 2 * x, epochs=60, batch_size=5)
    assert history["loss"][-1] < 1e-4
    assert len(history["batch_loss"]) == 60 * 7
    kernel, bias = model.get_weights()
    assert abs(kernel[0, 0] - 2) < 1e-2 and abs(bias[0]) < 1e-2
    assert len(step._list_all_concrete_functions()) == 1


def test_matches_model_fit_step_for_step():
    x = np.linspace(-1, 1, 20, dtype="float32")[:, None]
    y = 3 * x - 1
    ours = _line_model()
    history = run_epochs(
        compiled_train_step(
            ours, _mse, keras.optimizers.SGD(0.05), X_SPEC, Y_SPEC
        ),
        x,
        y,
        epochs=3,
        batch_size=4,
    )
    theirs = _line_model()
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss=_mse)
    theirs.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert len(history["loss"]) == 3


def test_regularisation_losses_are_added():
    helpers.seed_everything(0)
    x_in = keras.Input(shape=(1,))
    model = keras.Model(
        x_in,
        keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L2(10.0))(
            x_in
        ),
    )
    step = compiled_train_step(
        model, _mse, keras.optimizers.SGD(0.0), X_SPEC, Y_SPEC
    )
    x = np.ones((4, 1), "float32")
    # data loss is 0, so the loss is the penalty
    loss = float(step(x, model(x).numpy()))
    assert loss == pytest.approx(
        10.0 * float(model.get_weights()[0][0, 0]) ** 2, rel=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model": "m"}, "keras.Model"),
        ({"loss_fn": 3}, "callable"),
        ({"optimizer": "sgd"}, r"keras.optimizers.SGD\(learning_rate=0.1\)"),
        ({"x_spec": (None, 1)}, r"tf.TensorSpec\(shape="),
    ],
)
def test_bad_step_arguments(kwargs, message):
    args = {
        "model": _line_model(),
        "loss_fn": _mse,
        "optimizer": keras.optimizers.SGD(0.1),
        "x_spec": X_SPEC,
        "y_spec": Y_SPEC,
    }
    args.update(kwargs)
    with pytest.raises(TypeError, match=message):
        compiled_train_step(**args)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs must be a positive int"),
        ({"batch_size": 2.5}, "batch_size must be a positive int"),
        ({"y": np.zeros((3, 1))}, "x has 4 examples but y has 3"),
    ],
)
def test_bad_loop_arguments(kwargs, message):
    args = {
        "step": lambda x, y: 0.0,
        "x": np.zeros((4, 1)),
        "y": np.zeros((4, 1)),
        "epochs": 1,
        "batch_size": 2,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        run_epochs(**args)


def test_eager_step_and_compiled_step_are_the_same_computation():
    from helpers.training import train_step

    x = np.linspace(-1, 1, 8, dtype="float32")[:, None]
    eager_model, compiled_model = _line_model(), _line_model()
    eager = train_step(eager_model, _mse, keras.optimizers.SGD(0.1))
    compiled = compiled_train_step(
        compiled_model, _mse, keras.optimizers.SGD(0.1), X_SPEC, Y_SPEC
    )
    assert not isinstance(eager, tf.types.experimental.PolymorphicFunction)
    for _ in range(3):
        np.testing.assert_allclose(
            float(eager(tf.constant(x), tf.constant(2 * x))),
            float(compiled(tf.constant(x), tf.constant(2 * x))),
            rtol=1e-6,
        )
    for a, b in zip(
        eager_model.get_weights(), compiled_model.get_weights(), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_per_example_and_mean_losses_give_the_same_step():
    def per_example(y, y_pred):
        return tf.reduce_mean(tf.square(y - y_pred), axis=-1)

    x = np.linspace(-1, 1, 16, dtype="float32")[:, None]
    weights = []
    for loss in (_mse, per_example):
        model = _line_model()
        step = compiled_train_step(
            model, loss, keras.optimizers.SGD(0.1), X_SPEC, Y_SPEC
        )
        run_epochs(step, x, 3 * x - 1, epochs=3, batch_size=4)
        weights.append(model.get_weights())
    for mean_version, per_example_version in zip(*weights, strict=True):
        np.testing.assert_allclose(
            mean_version, per_example_version, atol=1e-7
        )


def test_the_chapters_the_module_names_exist():
    import re
    from pathlib import Path

    import helpers.training

    named = set(re.findall(r"\b\d\d_[a-z_]+\b", helpers.training.__doc__))
    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    assert "04_integrate_losses" in named
    for stem in named:
        assert (notebooks / f"{stem}.ipynb").exists(), stem
