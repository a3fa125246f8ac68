import os
import sys
import warnings

import numpy as np
import pytest

from helpers import convert


def test_quiet_collects_python_stdout_native_stderr_and_warnings():
    with convert.quiet() as log:
        print("from Python")
        os.write(2, b"from C++\n")  # what native code does: fd 2 directly
        warnings.warn("deprecated", DeprecationWarning, stacklevel=1)
    assert log.stdout == "from Python\n"
    assert log.stderr == "from C++\n"
    assert log.warnings == ["deprecated"]


def test_quiet_restores_everything_and_lets_the_error_through(capfd):
    stdout, filters = sys.stdout, list(warnings.filters)
    with pytest.raises(KeyError, match="raised inside"):
        with convert.quiet() as log:
            os.write(2, b"before the error\n")
            raise KeyError("raised inside")
    assert log.stderr == "before the error\n", "filled after an error too"
    assert sys.stdout is stdout
    assert warnings.filters == filters
    os.write(2, b"after the block\n")
    assert capfd.readouterr().err == "after the block\n", "fd 2 restored"


def test_tflite_interpreter_refuses_a_path_and_names_the_fix():
    with pytest.raises(TypeError, match=r"open\(path, 'rb'\)\.read\(\)"):
        convert.tflite_interpreter("model.tflite")


@pytest.fixture(scope="module")
def two_input_tflite():
    import keras
    import tensorflow as tf

    first = keras.Input((2,), name="first")
    second = keras.Input((3,), name="second")
    joined = keras.layers.Concatenate()([first, second])
    model = keras.Model([first, second], keras.layers.Dense(2)(joined))
    with convert.quiet():
        content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    return model, content


def test_run_tflite_matches_the_model_at_any_batch(two_input_tflite):
    model, content = two_input_tflite
    interpreter = convert.tflite_interpreter(content)
    order = [d["name"] for d in interpreter.get_input_details()]
    rng = np.random.default_rng(0)
    for batch in (1, 5):
        arrays = {
            "first": rng.random((batch, 2)).astype("float32"),
            "second": rng.random((batch, 3)).astype("float32"),
        }
        # the interpreter's order, read from its input details
        inputs = [arrays[n.split("_")[-1].split(":")[0]] for n in order]
        (got,) = convert.run_tflite(interpreter, *inputs)
        expected = model([arrays["first"], arrays["second"]])
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_run_tflite_refuses_a_wrong_number_of_inputs(two_input_tflite):
    _, content = two_input_tflite
    interpreter = convert.tflite_interpreter(content)
    with pytest.raises(ValueError, match="takes 2 input"):
        convert.run_tflite(interpreter, np.zeros((1, 2), "float32"))
