"""Converting Keras models to TFLite and ONNX, quietly (the *Convert*
chapter).

The TFLite converter, the TFLite interpreter and ONNX Runtime write to the
process's standard error from C++ (MLIR diagnostics, "Created TensorFlow
Lite XNNPACK delegate", ...), beyond Python's ``warnings`` and ``logging``;
Keras' export prints "Saved artifact at '<a temporary folder>'" on Python's
stdout; and ``tf.lite.Interpreter`` warns that it is deprecated.
:func:`quiet` collects all three inside a ``with`` block, so that a notebook
cell shows only what it prints itself, and what was collected can still be
read. :func:`tflite_interpreter` and :func:`run_tflite` load and
call a converted model inside it.
"""

import contextlib
import io
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Captured:
    """What a :func:`quiet` block kept off the cell's output.

    ``stdout``: what Python code printed; ``stderr``: what native code wrote
    to file descriptor 2; ``warnings``: the messages of the Python warnings
    raised, in order. Filled when the block ends, also after an error.
    """

    stdout: str = ""
    stderr: str = ""
    warnings: list = field(default_factory=list)


@contextlib.contextmanager
def quiet():
    """Collect Python's stdout, the native stderr and warnings in a block.

    Yields a :class:`Captured`, filled when the block ends. An exception
    raised inside the block passes through unchanged, after file descriptor
    2, ``sys.stdout`` and the warning filters are restored.

    Python's ``sys.stderr`` is left alone, and with it ``logging`` (tf2onnx
    logs there): in a script it writes to file descriptor 2 and is caught,
    but in a Jupyter kernel it is the kernel's own stream and passes through.
    """
    captured = Captured()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(2)
    printed = io.StringIO()
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            with (
                warnings.catch_warnings(record=True) as caught,
                contextlib.redirect_stdout(printed),
            ):
                warnings.simplefilter("always")
                yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.stderr = sink.read().decode("utf-8", "replace")
            captured.stdout = printed.getvalue()
            captured.warnings = [str(w.message) for w in caught]


def tflite_interpreter(model_content):
    """A ``tf.lite.Interpreter`` for a converted model, tensors allocated.

    ``model_content`` is what ``converter.convert()`` returns (``bytes``).
    The interpreter's deprecation warning and its native log lines are kept
    off the output (:func:`quiet`); errors, such as a model whose ops this
    interpreter lacks, are raised as TensorFlow raises them.
    """
    import tensorflow as tf  # here: importing helpers must not load TF

    if not isinstance(model_content, (bytes, bytearray)):
        raise TypeError(
            "model_content must be the bytes of a .tflite model, got "
            f"{type(model_content).__name__}; pass converter.convert(), or "
            "read the file with open(path, 'rb').read()."
        )
    with quiet():
        interpreter = tf.lite.Interpreter(model_content=bytes(model_content))
        interpreter.allocate_tensors()
    return interpreter


def run_tflite(interpreter, *inputs):
    """Run a TFLite model's main graph on ``inputs``, given by position.

    The main graph is the one ``get_input_details()`` describes, called
    through ``set_tensor`` and ``invoke`` rather than a signature runner
    (``get_signature_runner`` calls it by input name). The inputs are given
    in the order of ``get_input_details()`` -- not necessarily the model's
    order -- each a NumPy array of exactly the input's dtype (float32, not
    NumPy's default float64; int8 for a quantized input); the batch size may
    differ from the converted one (the inputs are resized). Returns the
    outputs, as a list of NumPy arrays, in the order of
    ``get_output_details()``.
    """
    details = interpreter.get_input_details()
    if len(inputs) != len(details):
        names = [d["name"] for d in details]
        raise ValueError(
            f"the model takes {len(details)} input(s), {names}, got "
            f"{len(inputs)}; pass one array per input, in that order."
        )
    with quiet():
        for detail, array in zip(details, inputs, strict=True):
            interpreter.resize_tensor_input(detail["index"], np.shape(array))
        interpreter.allocate_tensors()
        for detail, array in zip(details, inputs, strict=True):
            interpreter.set_tensor(detail["index"], np.asarray(array))
        interpreter.invoke()
    return [
        interpreter.get_tensor(d["index"])
        for d in interpreter.get_output_details()
    ]
