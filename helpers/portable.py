"""A layer written with ``keras.ops`` only, and a saved model run on another
Keras backend in a fresh Python (the *Keras pieces* chapter).

- :class:`PortablePool`: the chapter's ``AttentionPool`` (attention pooling
  over time, with dropped time steps in training and a mask) with every
  ``tf.*`` call replaced by its ``keras.ops`` counterpart, registered for
  loading as ``book>PortablePool``.
- :func:`stored_layers`: the graph of layers that a ``.keras`` file stores.
- :func:`setup_source`: the source that defines and registers a layer class
  of a notebook in another process (``run_on_backend``'s ``setup``).
- :func:`run_on_backend`: load a ``.keras`` file saved under TensorFlow in a
  fresh Python process whose Keras runs on another backend (JAX, say), call
  the model there and return what it computed.

A backend is chosen once per process, when Keras is imported, which is why
the other backend needs a process of its own. That process loads this file
by its path, not through the :mod:`helpers` package, whose import loads
TensorFlow (it sets TensorFlow's logger). The child imports TensorFlow only
if code it runs does: ``setup`` (the source of a layer that calls ``tf.*``,
say); Keras' ``load_model``, the call and ``predict`` do not on their own
(the result says whether it was imported). Keras on JAX does import
TensorFlow for some tasks of its own when it is installed: ``model.save``
for one (``serialize_keras_object`` in
``keras/src/saving/serialization_lib.py`` asks ``tf.available``), which the
child never runs.
"""

import inspect
import json
import os
import tempfile
import textwrap
import types
import zipfile
from importlib.util import find_spec
from pathlib import Path

import keras
import numpy as np
from keras import ops

#: Keras' backends, with the package each needs (the NumPy backend needs
#: only NumPy, which Keras itself needs).
BACKENDS = {
    "tensorflow": "tensorflow",
    "jax": "jax",
    "torch": "torch",
    "numpy": "numpy",
    "openvino": "openvino",
}


@keras.saving.register_keras_serializable(package="book")
class PortablePool(keras.layers.Layer):
    """Attention pooling over time, with ``keras.ops`` only.

    Scores every time step with a learned vector (one entry per feature,
    made in ``build``), turns the scores into weights with a softmax over
    the steps and returns the weighted mean: ``(batch, time, features)`` to
    ``(batch, features)``. Masked steps get no weight; in training a random
    ``drop_rate`` of the steps is dropped too (a row keeps its valid steps if
    all were drawn), with draws from a seeded ``keras.random.SeedGenerator``.
    It passes no mask on, and its output shape is computed without running
    ``call``.

    Parameters
    ----------
    drop_rate : float
        The share of time steps dropped in training, ``0 <= drop_rate < 1``.
    seed : int
        The seed of the dropping draws.
    """

    def __init__(self, drop_rate=0.2, seed=0, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= drop_rate < 1:
            raise ValueError(
                f"drop_rate is the share of time steps dropped in training, "
                f"0 <= drop_rate < 1; got {drop_rate!r}. Pass e.g. "
                "drop_rate=0.2, or 0 to drop none."
            )
        self.drop_rate = drop_rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def get_config(self):
        config = super().get_config()
        return {**config, "drop_rate": self.drop_rate, "seed": self.seed}

    def build(self, input_shape):
        self.score = self.add_weight(
            shape=(input_shape[-1],),
            initializer="glorot_uniform",
            name="score",
        )

    def call(self, x, mask=None, training=None):
        keep = ops.ones(ops.shape(x)[:2], "bool") if mask is None else mask
        if training:  # a Python bool: decided when Keras traces the step
            draw = keras.random.uniform(
                ops.shape(keep), seed=self.seed_generator
            )
            dropped = ops.logical_and(keep, draw >= self.drop_rate)
            # a row whose every step was dropped keeps its valid steps
            some_left = ops.any(dropped, axis=1, keepdims=True)
            keep = ops.where(some_left, dropped, keep)
        scores = ops.tensordot(x, self.score, axes=1)  # (batch, time)
        scores = ops.where(keep, scores, -1e9)  # no weight where not kept
        weights = ops.softmax(scores, axis=-1)
        return ops.sum(x * weights[..., None], axis=1)

    def compute_mask(self, x, mask=None):
        return None  # the time axis is gone: nothing to mask downstream

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def stored_layers(keras_file):
    """The graph of layers in a ``.keras`` file's ``config.json``.

    A functional model's configuration lists its layers, each with its class
    and the layers whose outputs it is called on (``inbound_nodes``), which
    is the graph; the file holds no layer's code.

    Parameters
    ----------
    keras_file : str or path
        A functional model saved with ``model.save(path)``, ``path`` ending
        in ``.keras``.

    Returns
    -------
    list of tuple
        One ``(name, class_name, inputs)`` per layer, in the stored order:
        ``class_name`` is the name a registered class is stored under
        (``book>PortablePool``), else Keras' class name; ``inputs`` the
        names of the layers it is called on, in order, each once.
    """
    keras_file = Path(keras_file)
    if not keras_file.is_file():
        raise FileNotFoundError(
            f"no model file {keras_file.name!r} there; save the model first "
            "with model.save(path) and pass the same path."
        )
    if not zipfile.is_zipfile(keras_file):
        raise ValueError(
            f"{keras_file.name!r} is not a .keras file (a zip archive); save "
            "the model with model.save('name.keras') and pass that path."
        )
    with zipfile.ZipFile(keras_file) as archive:
        model = json.loads(archive.read("config.json"))
    layers = model["config"].get("layers", [])
    if not layers or not all("inbound_nodes" in layer for layer in layers):
        raise ValueError(
            f"{keras_file.name!r} holds a {model['class_name']}, which stores "
            "no graph of layers; pass a functional model's file "
            "(keras.Model(inputs, outputs))."
        )
    graph = []
    for layer in layers:
        inputs = []
        for node in layer["inbound_nodes"]:
            _collect_inputs([node["args"], node["kwargs"]], inputs)
        name = layer.get("registered_name") or layer["class_name"]
        graph.append((layer["name"], name, inputs))
    return graph


def _collect_inputs(value, found):
    """Append the layer names of the KerasTensors nested in ``value``."""
    if isinstance(value, dict) and value.get("class_name") == (
        "__keras_tensor__"
    ):
        name = value["config"]["keras_history"][0]
        if name not in found:
            found.append(name)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_inputs(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_inputs(item, found)


def setup_source(cls):
    """Python source that defines ``cls`` and registers it as it is here.

    For :func:`run_on_backend`'s ``setup``: the child process knows no class
    of the notebook or script that saved the file. The source holds

    - an import of each module that the class's functions use as a global
      (``tf`` gives ``import tensorflow as tf``);
    - the class, registered under the name it is registered under here
      (``book>AttentionPool``), with the source of every function in its
      own namespace (``vars(cls)``, read with :func:`inspect.getsource`) in
      its body, so that a method attached after the class statement
      (``AttentionPool.call = call``) counts as one written there.

    Other globals the functions read are not carried over. The functions'
    source must be readable: defined in a file or a notebook cell, not by
    ``exec``.

    Parameters
    ----------
    cls : type
        A class registered with ``keras.saving.register_keras_serializable``
        whose bases the child can import (Keras' own, say).

    Returns
    -------
    str
        The source, for ``run_on_backend(..., setup=...)``.
    """
    if not isinstance(cls, type):
        raise TypeError(
            f"setup_source takes the class itself, got "
            f"{type(cls).__name__}; pass e.g. setup_source(AttentionPool)."
        )
    registered = keras.saving.get_registered_name(cls)
    if keras.saving.get_registered_object(registered) is not cls:
        raise ValueError(
            f"{cls.__name__} is not registered, so a saved file cannot name "
            "it for the child; decorate the class with "
            "@keras.saving.register_keras_serializable(package=...)."
        )
    modules, bases, body = {"keras": "keras"}, [], []
    for base in cls.__bases__:
        if base.__module__ == "__main__":
            raise ValueError(
                f"{cls.__name__}'s base {base.__name__} is defined here, not "
                "in a module the child can import; write the class on a "
                "base from a module (keras.layers.Layer)."
            )
        modules[base.__module__] = base.__module__
        bases.append(f"{base.__module__}.{base.__qualname__}")
    for attribute, value in vars(cls).items():
        dunder = attribute.startswith("__") and attribute.endswith("__")
        if dunder and not isinstance(value, types.FunctionType):
            continue  # Python's own entries: __module__, __doc__, ...
        if not isinstance(value, types.FunctionType) or (
            value.__name__ == "<lambda>"
        ):
            raise ValueError(
                f"{cls.__name__}.{attribute} is not a method written with "
                "def, which is all setup_source carries over; write the "
                "setup source by hand."
            )
        try:
            code = textwrap.dedent(inspect.getsource(value))
        except OSError:
            raise ValueError(
                f"the source of {cls.__name__}.{attribute} cannot be read "
                "(made by exec?); define the class in a file or a notebook "
                "cell, or write the setup source by hand."
            ) from None
        body.append(code.rstrip())
        if value.__name__ != attribute:
            body.append(f"{attribute} = {value.__name__}")
        for name in sorted(_global_names(value.__code__)):
            module = value.__globals__.get(name)
            if isinstance(module, types.ModuleType):
                modules[name] = module.__name__
    imports = [
        f"import {module}" if name == module else f"import {module} as {name}"
        for name, module in modules.items()
    ]
    package, _, name = registered.partition(">")
    return "\n".join(
        [
            *sorted(set(imports)),
            "",
            "",
            "@keras.saving.register_keras_serializable("
            f"package={package!r}, name={name!r})",
            f"class {cls.__name__}({', '.join(bases)}):",
            textwrap.indent("\n\n".join(body) or "pass", "    "),
            "",
        ]
    )


def _global_names(code):
    """The names a code object and those nested in it look up globally."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _global_names(constant)
    return names


# The program of the child process, after a first line that sets ARGUMENTS
# (JSON: three paths, the setup code, whether to run predict). It writes its
# results into the folder of the inputs and, if it fails, which step failed
# with which error (``failure.json``).
_CHILD = """
import importlib.util, json, sys
from pathlib import Path
import numpy as np

module_file, keras_file, folder, setup, compiled = json.loads(ARGUMENTS)
step = "loading helpers/portable.py"


def report(kind, error, traceback):  # for the parent: which step, what error
    failure = {"step": step, "error": kind.__name__}
    (Path(folder) / "failure.json").write_text(json.dumps(failure))
    sys.__excepthook__(kind, error, traceback)


sys.excepthook = report
spec = importlib.util.spec_from_file_location("book_portable", module_file)
spec.loader.exec_module(importlib.util.module_from_spec(spec))
import keras
from keras import ops

# Keras' filtering rebuilds an error with its class and a new message, which
# turns JAX's tracer errors into an AttributeError: keep each error as raised.
keras.config.disable_traceback_filtering()
step = "setup"
exec(setup, {"keras": keras, "ops": ops, "np": np})
step = "load_model"
model = keras.models.load_model(keras_file)
with np.load(Path(folder) / "inputs.npz") as stored:
    inputs = stored["inputs"]
step = "the call"
outputs = model(inputs)
results = {
    "outputs": ops.convert_to_numpy(outputs),
    "losses": np.array([float(ops.convert_to_numpy(v)) for v in model.losses]),
}
if compiled:
    step = "predict"
    results["predicted"] = model.predict(inputs, verbose=0)
np.savez(Path(folder) / "outputs.npz", **results)
facts = {
    "backend": keras.config.backend(),
    "jit_compile": model.jit_compile,
    "output_type": type(outputs).__name__,
    "tensorflow_imported": "tensorflow" in sys.modules,
}
(Path(folder) / "facts.json").write_text(json.dumps(facts))
"""


def run_on_backend(
    backend, keras_file, inputs, setup="", compiled=True, timeout=120
):
    """Load ``keras_file`` in a fresh Python on ``backend``; run it there.

    The child process imports Keras with ``KERAS_BACKEND=backend``, loads
    this module's file (so :class:`PortablePool` is registered), runs
    ``setup``, loads the model with ``keras.models.load_model`` and calls it
    on ``inputs``, eagerly; with ``compiled``, it also runs
    ``model.predict``, which the backend compiles when the model's
    ``jit_compile`` is true (``jax.jit`` on JAX, where ``"auto"`` resolves
    to true). Keras' traceback filtering is off there, so that a failure
    keeps its own type. The arrays go both ways through ``.npz`` files in a
    temporary folder.

    Parameters
    ----------
    backend : str
        A Keras backend: ``"jax"``, ``"tensorflow"``, ``"numpy"``,
        ``"torch"`` or ``"openvino"``; its package must be installed.
    keras_file : str or path
        A model saved with ``model.save(path)``, ``path`` ending in
        ``.keras``, with one input and one output.
    inputs : array
        The model's input, as NumPy takes it (``np.asarray``).
    setup : str, optional
        Python source run in the child before loading, with ``keras``,
        ``ops`` (``keras.ops``) and ``np`` (NumPy) defined: the definition
        of any registered class the file needs besides
        :class:`PortablePool`; :func:`setup_source` writes it for a class.
    compiled : bool
        Also run ``model.predict`` (default ``True``).
    timeout : float
        Seconds before the child is stopped
        (``subprocess.TimeoutExpired``).

    Returns
    -------
    dict
        ``"backend"``: ``keras.config.backend()`` in the child;
        ``"jit_compile"``: the loaded model's ``jit_compile``;
        ``"output_type"``: the type name of what the model call returned
        (``"ArrayImpl"`` is a JAX array, ``"EagerTensor"`` TensorFlow's);
        ``"outputs"``: that output as a NumPy array; ``"predicted"``: what
        ``predict`` returned (``None`` without ``compiled``); ``"losses"``:
        the floats in ``model.losses`` after the call (``add_loss``);
        ``"tensorflow_imported"``: whether the child had imported
        TensorFlow by the end.

    Raises
    ------
    ValueError
        An unknown backend, a file that is not ``.keras``, or inputs that
        are not numbers.
    ModuleNotFoundError
        The backend's package is not installed.
    FileNotFoundError
        ``keras_file`` does not exist.
    RuntimeError
        The child failed. The message's first line names the step (``setup``,
        ``load_model``, ``the call``, ``predict``) and the error's type, for
        example ``on the jax backend, pool.keras failed in predict:
        TracerArrayConversionError``; the end of the child's stderr and a
        hint follow.
    """
    from helpers.tfenv import run_python  # here: the child loads this file

    if backend not in BACKENDS:
        raise ValueError(
            f"unknown Keras backend {backend!r}; pass one of "
            f"{', '.join(map(repr, BACKENDS))}, e.g. run_on_backend('jax', "
            "...)."
        )
    if find_spec(BACKENDS[backend]) is None:
        raise ModuleNotFoundError(
            f"the {backend} backend needs the package {BACKENDS[backend]!r}, "
            f"which is not installed here: pip install {BACKENDS[backend]}, "
            "or pick another backend."
        )
    keras_file = Path(keras_file)
    if keras_file.suffix != ".keras":
        raise ValueError(
            f"{keras_file.name!r} is not a .keras file; save the model with "
            "model.save('name.keras') and pass that path."
        )
    if not keras_file.is_file():
        raise FileNotFoundError(
            f"no model file {keras_file.name!r} there; save the model first "
            "with model.save(path) and pass the same path."
        )
    inputs = np.asarray(inputs)
    if inputs.dtype.kind not in "biuf":
        raise ValueError(
            f"inputs must be numbers, got an array of dtype {inputs.dtype}; "
            "pass the model's input as a NumPy array of floats."
        )
    if not isinstance(setup, str):
        raise TypeError(
            f"setup is Python source as a str, got {type(setup).__name__}; "
            "pass the class definition as a string."
        )
    with tempfile.TemporaryDirectory() as folder:
        np.savez(Path(folder) / "inputs.npz", inputs=inputs)
        arguments = [
            os.fspath(Path(__file__).resolve()),
            os.fspath(keras_file.resolve()),
            folder,
            setup,
            bool(compiled),
        ]
        code = f"ARGUMENTS = {json.dumps(arguments)!r}\n" + _CHILD
        try:
            run_python(code, env={"KERAS_BACKEND": backend}, timeout=timeout)
        except RuntimeError as error:
            failed = Path(folder) / "failure.json"
            failure = {"step": "the start", "error": "an error"}
            if failed.is_file():
                failure = json.loads(failed.read_text())
            raise RuntimeError(
                f"on the {backend} backend, {keras_file.name} failed in "
                f"{failure['step']}: {failure['error']}\n{error}\n"
                f"({_hint(backend, failure['step'])})"
            ) from None
        facts = json.loads((Path(folder) / "facts.json").read_text())
        with np.load(Path(folder) / "outputs.npz") as stored:
            arrays = {name: stored[name] for name in stored.files}
    return {
        **facts,
        "outputs": arrays["outputs"],
        "predicted": arrays.get("predicted"),
        "losses": [float(v) for v in arrays["losses"]],
    }


def _hint(backend, step):
    """What to try when the child failed in ``step``."""
    if step == "setup":
        return (
            "The setup source failed in the child, which defines only keras, "
            "ops and np for it: import there what else it uses."
        )
    if step == "load_model":
        return (
            "A registered class the child does not know goes in setup=: "
            "setup=portable.setup_source(TheClass)."
        )
    if backend == "tensorflow" or step not in {"the call", "predict"}:
        return "The child's stderr above says what failed."
    if step == "predict":
        return (
            "A layer that calls tf.* is TensorFlow's to run: compiled by the "
            f"{backend} backend, it gets traced values, which TensorFlow "
            "cannot take; write it with keras.ops."
        )
    return (
        "A layer that calls tf.* is TensorFlow's to run: write it with "
        "keras.ops."
    )
