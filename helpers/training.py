"""A custom training step, eager or compiled, and a loop around it.

The chapter ``notebooks/04_integrate_losses`` writes this code out in full and
checks it against ``model.fit``; later chapters import it from here:
``05_integrate_gradients``, the worked examples from ``14_linear_regression``
on, and ``27_performance`` (through :mod:`helpers.timing`, which times
:func:`train_step` eager against :func:`compiled_train_step`).
"""

import keras
import numpy as np
import tensorflow as tf

from helpers.checks import is_int_at_least


def train_step(model, loss_fn, optimizer):
    """One optimisation step as plain Python: runs eagerly, op by op.

    :func:`compiled_train_step` traces exactly this function into a graph; the
    performance chapter times the two against each other. Each call runs the
    model, ``loss_fn(y, y_pred)`` plus the model's regularisation losses, the
    gradients, and one optimizer update, and returns the loss before the
    update. The loss is the mean of what ``loss_fn`` returns, so a loss that
    returns one value per example (as Keras losses do) and one that returns
    their mean give the same step.

    Parameters
    ----------
    model : keras.Model
    loss_fn : callable
        ``loss_fn(y_true, y_pred) -> tensor``: per-example losses, or a scalar,
        written with TF ops or ``keras.ops``.
    optimizer : keras.optimizers.Optimizer
        Built here on ``model.trainable_variables``, so that its variables
        exist before the first step, eager or traced. (Keras would otherwise
        build it in the first ``apply_gradients``, which a ``tf.function``
        also allows: variables may be created on its first trace.)

    Returns
    -------
    callable
        ``step(x, y) -> loss``.

    Raises
    ------
    TypeError
        For arguments of the wrong kind; each message names the fix.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"model must be a keras.Model, got {type(model).__name__}."
        )
    if not callable(loss_fn):
        raise TypeError(
            "loss_fn must be callable as loss_fn(y_true, y_pred), got "
            f"{type(loss_fn).__name__}."
        )
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            "optimizer must be a keras.optimizers.Optimizer instance, got "
            f"{type(optimizer).__name__}; e.g. "
            "keras.optimizers.SGD(learning_rate=0.1)."
        )
    optimizer.build(model.trainable_variables)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = tf.reduce_mean(loss_fn(y, y_pred))
            if model.losses:
                loss = loss + tf.add_n(model.losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(
            zip(gradients, model.trainable_variables, strict=True)
        )
        return loss

    return train_step


def compiled_train_step(
    model, loss_fn, optimizer, x_spec, y_spec, jit_compile=False
):
    """One optimisation step, traced once, the target a second graph input.

    :func:`train_step` wrapped in a ``tf.function`` with the input signature
    ``[x_spec, y_spec]``: the model's input and the target are both
    placeholders of the same graph (the TensorFlow 2 form of "a Keras output
    next to a ``tf.placeholder`` for the target").

    Parameters
    ----------
    model, loss_fn, optimizer
        As for :func:`train_step`.
    x_spec, y_spec : tf.TensorSpec
        Leave the batch axis ``None`` so every batch size uses the same graph.
    jit_compile : bool
        Compile the step with XLA.

    Returns
    -------
    tf.types.experimental.PolymorphicFunction
        ``step(x, y) -> loss``.

    Raises
    ------
    TypeError
        For arguments of the wrong kind; each message names the fix.
    """
    step = train_step(model, loss_fn, optimizer)
    for name, spec in (("x_spec", x_spec), ("y_spec", y_spec)):
        if not isinstance(spec, tf.TensorSpec):
            raise TypeError(
                f"{name} must be a tf.TensorSpec, got {type(spec).__name__}; "
                "e.g. tf.TensorSpec(shape=(None, 1), dtype=tf.float32)."
            )
    return tf.function(
        step, input_signature=[x_spec, y_spec], jit_compile=jit_compile
    )


def _positive_int(name, value):
    if not is_int_at_least(value, 1):
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


def run_epochs(step, x, y, epochs, batch_size):
    """Feed ``(x, y)`` to ``step`` in order, batch by batch, ``epochs`` times.

    The batches are taken in the order of the data, without shuffling, exactly
    as ``model.fit(..., shuffle=False, batch_size=batch_size)`` takes them, so
    the two can be compared step for step. Shuffle the data beforehand if you
    want shuffling.

    Parameters
    ----------
    step : callable
        ``step(x_batch, y_batch) -> scalar loss``, e.g. from
        :func:`compiled_train_step`.
    x, y : array-like
        Same first dimension.
    epochs, batch_size : int
        Positive.

    Returns
    -------
    dict
        ``{"loss": [...], "batch_loss": [...]}``: the mean loss of each epoch
        and the loss of every step, as Python floats, ready to plot.

    Raises
    ------
    ValueError
        Non-positive ``epochs`` or ``batch_size``, or ``x`` and ``y`` of
        different lengths.
    """
    epochs = _positive_int("epochs", epochs)
    batch_size = _positive_int("batch_size", batch_size)
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(
            f"x has {len(x)} examples but y has {len(y)}; pass matching "
            "arrays."
        )
    if len(x) == 0:
        raise ValueError("x is empty; there is nothing to train on.")
    history = {"loss": [], "batch_loss": []}
    for _ in range(epochs):
        losses = []
        for start in range(0, len(x), batch_size):
            loss = step(
                tf.constant(x[start : start + batch_size]),
                tf.constant(y[start : start + batch_size]),
            )
            losses.append(float(loss))
        history["batch_loss"].extend(losses)
        history["loss"].append(float(np.mean(losses)))
    return history
