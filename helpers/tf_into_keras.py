"""Existing TensorFlow inside Keras models: frozen graphs and checkpoints
(07_frozen_graphs_checkpoints), modules and Hub modules (08_modules_and_hub).

- :func:`read_graph_def`: a frozen ``GraphDef`` from a ``.pb`` file.
- :func:`frozen_graph_function`: a frozen graph cut down to a
  ``ConcreteFunction`` from named inputs to named outputs.
- :class:`GraphLayer`: such a function as a Keras layer (no weights).
- :func:`load_checkpoint_weights`: a TF1 checkpoint's variables assigned to
  Keras weights by a name map, every name and shape checked.
- :func:`save_hub_module`: a ``tf.function`` and its variables saved as a
  module in the TF2 Hub format (a reusable SavedModel).
- :class:`ModuleLayer`: a ``tf.Module`` (or a reloaded Hub module) as a Keras
  layer whose ``tf.Variable``\\ s Keras tracks and trains.
- :func:`save_tf1_hub_module`: a TF1 graph saved as a module in the TF1 Hub
  format, as TF1 code saved one.
- :class:`SignatureLayer`: a signature of a loaded TF1 Hub module as a frozen
  Keras layer.
"""

import difflib
import inspect
import os

import keras
import tensorflow as tf

__all__ = [
    "GraphLayer",
    "ModuleLayer",
    "frozen_graph_function",
    "load_checkpoint_weights",
    "SignatureLayer",
    "read_graph_def",
    "save_hub_module",
    "save_tf1_hub_module",
]


def read_graph_def(path):
    """The ``tf.compat.v1.GraphDef`` stored in a binary ``.pb`` file."""
    graph_def = tf.compat.v1.GraphDef()
    with open(path, "rb") as file:
        graph_def.ParseFromString(file.read())
    return graph_def


def _tensor_name(name):
    return name if ":" in name else f"{name}:0"


def _check_names(graph_def, names, role):
    ops = {node.name: node.op for node in graph_def.node}
    for name in names:
        op_name = _tensor_name(name).split(":")[0]
        if op_name in ops:
            continue
        placeholders = [n for n, op in ops.items() if op == "Placeholder"]
        close = difflib.get_close_matches(op_name, list(ops), n=3)
        raise ValueError(
            f"{role} {name!r}: the graph has no op {op_name!r}. Similar "
            f"names: {close}; its placeholders: {placeholders}. List every "
            "op with [node.name for node in graph_def.node]."
        )


def frozen_graph_function(graph_def, inputs, outputs):
    """A frozen graph as a ``ConcreteFunction`` from ``inputs`` to
    ``outputs``.

    The graph is imported into a ``tf.compat.v1.wrap_function`` (a TF1-style
    graph that TF2 can call), then pruned to what lies between the named
    tensors: the pattern of TensorFlow's own ``function_from_graph_def``
    (``tensorflow/python/eager/wrap_function.py``).

    Parameters
    ----------
    graph_def : tf.compat.v1.GraphDef
        A frozen graph: variables folded into constants.
    inputs, outputs : list of str
        Tensor names, ``"op:0"``; a bare op name means its output 0.

    Returns
    -------
    ConcreteFunction
        Called with one tensor per input, returns a list of tensors.

    Raises
    ------
    ValueError
        A name is not in the graph (the message lists similar names and the
        graph's placeholders).
    """
    if isinstance(inputs, str) or isinstance(outputs, str):
        raise TypeError(
            "inputs and outputs are lists of tensor names, e.g. "
            '["pixels:0"]; wrap a single name in a list.'
        )
    _check_names(graph_def, inputs, "input")
    _check_names(graph_def, outputs, "output")

    def import_graph():
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(import_graph, [])
    graph = wrapped.graph
    return wrapped.prune(
        feeds=[graph.get_tensor_by_name(_tensor_name(n)) for n in inputs],
        fetches=[graph.get_tensor_by_name(_tensor_name(n)) for n in outputs],
    )


class GraphLayer(keras.layers.Layer):
    """A one-input, one-output function of
    :func:`frozen_graph_function` as a Keras layer.

    The frozen graph holds constants, not variables, so the layer has no
    weights and nothing in it trains. It cannot be saved to ``.keras`` (the
    function is not a config): export the model as a SavedModel, or rebuild
    the layer from the ``.pb`` file. The layer's dtype defaults to the
    graph's input dtype, so that a mixed-precision policy does not cast its
    input. The pruned function checks the dtype of what it is called on, not
    the shape: ``build`` checks the shape against the graph's placeholder
    while the model is built, and ``compute_output_shape`` gives the output
    the input's batch axis. It has no ``training`` argument: prune a graph
    with a dropout or ``is_training`` placeholder at tensors that do not
    depend on it, or feed it as a second input.
    """

    def __init__(self, function, **kwargs):
        # the graph's dtype, so that a mixed-precision policy does not cast
        # the input (the pruned function refuses any other dtype)
        kwargs.setdefault("dtype", function.inputs[0].dtype.name)
        super().__init__(**kwargs)
        if len(function.inputs) != 1 or len(function.outputs) != 1:
            raise ValueError(
                "GraphLayer takes a function with one input and one output, "
                f"got {len(function.inputs)} and {len(function.outputs)}; "
                "prune with one name in each list."
            )
        self.function = function
        self.expected_shape = function.inputs[0].shape

    def build(self, input_shape):
        if not self.expected_shape.is_compatible_with(input_shape):
            raise ValueError(
                f"{self.name}: the graph's input takes shape "
                f"{self.expected_shape}, the layer was called on shape "
                f"{tuple(input_shape)}. Reshape or slice the input to match; "
                "keras.Input(shape=...) leaves out the batch axis."
            )

    def call(self, inputs):
        return self.function(inputs)[0]

    def compute_output_shape(self, input_shape):
        # the function's output has the graph's static shape, batch axis
        # included (a fixed batch of 1 stays 1); take the batch from the input
        shape = self.function.outputs[0].shape.as_list()
        return (input_shape[0], *shape[1:])


def load_checkpoint_weights(checkpoint, mapping, ignore=()):
    """Assign a checkpoint's variables to Keras weights.

    Parameters
    ----------
    checkpoint : str
        The checkpoint's prefix (what ``Saver.save`` returned).
    mapping : dict
        Checkpoint variable name -> Keras variable (``layer.kernel``, ...).
    ignore : iterable of str
        Checkpoint variables deliberately left out (an optimizer's slots, a
        step counter, a head you replace).

    Returns
    -------
    list of (str, str)
        ``(checkpoint name, Keras path)`` of every assignment, in order.
        Values are assigned as they are: a dtype that differs is cast by
        ``assign``. A TF2 object-based checkpoint also lists
        ``_CHECKPOINTABLE_OBJECT_GRAPH``; pass it in ``ignore``.

    Raises
    ------
    ValueError
        A checkpoint variable is neither mapped nor ignored; a mapped name is
        not in the checkpoint; or the shapes differ.
    """
    reader = tf.train.load_checkpoint(checkpoint)
    shapes = dict(tf.train.list_variables(checkpoint))
    ignore = set(ignore)
    unknown = sorted(set(mapping) - set(shapes))
    if unknown:
        raise ValueError(
            f"not in the checkpoint: {unknown}. Its variables are "
            f"{sorted(shapes)} (tf.train.list_variables(checkpoint))."
        )
    left_out = sorted(set(shapes) - set(mapping) - ignore)
    if left_out:
        raise ValueError(
            f"checkpoint variables with no Keras counterpart: {left_out}. Map "
            "each to a Keras weight, or pass them in ignore= if leaving them "
            "out is deliberate."
        )
    for name, variable in mapping.items():
        if tuple(shapes[name]) != tuple(variable.shape):
            raise ValueError(
                f"{name} has shape {tuple(shapes[name])} in the checkpoint "
                f"but {variable.path} has shape {tuple(variable.shape)}. Map "
                "it to the right weight, or transpose the value first if the "
                "layouts differ."
            )
    assigned = []
    for name, variable in mapping.items():
        variable.assign(reader.get_tensor(name))
        assigned.append((name, variable.path))
    return assigned


def save_hub_module(
    path,
    function,
    variables,
    trainable_variables=None,
    regularization_losses=(),
):
    """Save ``function`` as a module in the TF2 Hub format (a reusable
    SavedModel).

    The saved object is callable (its ``__call__`` is ``function``, a
    ``tf.function``) and lists ``variables``, ``trainable_variables`` (all of
    ``variables`` unless given) and ``regularization_losses`` (functions
    without arguments, each a ``tf.function`` with ``input_signature=[]``
    returning a scalar) as attributes, which ``hub.KerasLayer`` and
    :class:`ModuleLayer` read after ``tf.saved_model.load``. ``function`` must
    be traced: give it an ``input_signature``, or call it (or
    ``get_concrete_function``) once for every input it should take, e.g. for
    ``training=True`` and ``training=False``.
    """
    if not isinstance(function, tf.types.experimental.PolymorphicFunction):
        raise TypeError(
            f"function must be a tf.function, got {type(function).__name__}; "
            "decorate it with @tf.function(input_signature=[...])."
        )
    if (
        function.input_signature is None
        and function.experimental_get_tracing_count() == 0
    ):
        raise ValueError(
            "function was never traced, so the SavedModel would hold nothing "
            "to call; give it an input_signature, or call it once on a "
            "sample input before saving."
        )
    variables = list(variables)
    if not all(isinstance(v, tf.Variable) for v in variables):
        raise TypeError("variables must be tf.Variable objects")
    if trainable_variables is None:
        trainable_variables = variables
    if not {id(v) for v in trainable_variables} <= {id(v) for v in variables}:
        raise ValueError(
            "every trainable variable must also be in variables; list it "
            "there."
        )
    module = tf.train.Checkpoint()  # a container: tracks what it holds
    module.__call__ = function
    module.variables = variables
    module.trainable_variables = list(trainable_variables)
    module.regularization_losses = list(regularization_losses)
    tf.saved_model.save(module, path)


class ModuleLayer(keras.layers.Layer):
    """Call a ``tf.Module`` as a Keras layer, its variables tracked by Keras.

    Keras' weight tracking (``layer.weights``, what ``fit`` trains, what
    ``.keras`` files store) counts ``keras.Variable`` objects only, so a layer
    that merely holds a module has no weights for it. Here each of the
    module's variables is wrapped in a ``keras.Variable`` of the same dtype.
    With the TensorFlow backend that wrapper *is* the same variable (its
    ``.value`` is the ``tf.Variable``; with another dtype it would be a
    copy), so training the layer trains the module. The module must have
    created its variables already: call it once on a sample input first if
    it creates them lazily.

    ``module`` may also be what ``tf.saved_model.load`` returns for a
    *reusable SavedModel* (the TF2 Hub format): a callable object that lists
    its ``variables`` and ``trainable_variables`` as attributes. A SavedModel
    of a plain ``tf.Module`` does not keep that list (``variables`` is a
    property of the class, not saved); for it, use
    ``keras.layers.TFSMLayer(path, call_endpoint="__call__")``, which finds
    the variables its function uses.

    A reusable SavedModel may also list ``regularization_losses``: functions
    without arguments, each returning a scalar. While the layer is trainable,
    each call adds their values to the model's losses (``model.losses``, which
    ``fit`` adds to the loss it minimises). If the module's ``__call__``
    takes a ``training`` argument (modules with dropout or batch
    normalisation do), the layer passes Keras' ``training`` on to it, as
    ``hub.KerasLayer`` did; a layer set to ``trainable = False`` passes
    ``training=False``. The module must have been traced for both values.
    """

    def __init__(self, module, **kwargs):
        super().__init__(**kwargs)
        variables = getattr(module, "variables", None)
        if not callable(module) or variables is None:
            raise TypeError(
                "ModuleLayer wraps a tf.Module, or a reloaded SavedModel that "
                "lists its `variables` (the TF2 Hub format); got "
                f"{type(module).__name__} without them. For a plain function,"
                " write a keras.layers.Layer whose call() runs it; for "
                "another SavedModel, use keras.layers.TFSMLayer(path, "
                'call_endpoint="__call__").'
            )
        if not variables and isinstance(module, tf.Module):
            raise ValueError(
                f"{type(module).__name__} has no variables yet; call it once "
                "on a sample input (so that it creates them), then wrap it."
            )
        if not variables:
            raise ValueError(
                f"{type(module).__name__} lists no variables, so Keras would "
                "have nothing to train; a module without variables needs no "
                "ModuleLayer: call it from a keras.layers.Layer's call()."
            )
        trainable = {id(v) for v in getattr(module, "trainable_variables", [])}
        self.module = module
        try:  # does its __call__ (a reloaded one's too) take `training`?
            parameters = inspect.signature(module.__call__).parameters
        except (TypeError, ValueError):  # no signature to read
            parameters = {}
        self.takes_training = "training" in parameters
        with keras.name_scope(self.name):  # paths "<layer name>/<variable>"
            # the same dtype, or keras.Variable would make a converted copy
            self.module_variables = [
                keras.Variable(
                    v,
                    trainable=id(v) in trainable,
                    dtype=v.dtype,
                    # Keras names cannot hold "/"; drop the ":0" too
                    name=v.name.split(":")[0].replace("/", "_"),
                )
                for v in variables
            ]
        if not self.trainable:
            # ModuleLayer(..., trainable=False): add_weight would freeze each
            # new weight of a frozen layer (Layer._track_variable); variables
            # assigned to an attribute skip that step, so freeze them here
            for variable in self.module_variables:
                variable.trainable = False

    def call(self, inputs, training=None):
        # As hub.KerasLayer: a frozen module adds no losses and runs in
        # inference mode, like a frozen BatchNormalization.
        if self.trainable:
            for loss in getattr(self.module, "regularization_losses", []):
                self.add_loss(loss())
        if self.takes_training:
            return self.module(
                inputs, training=bool(training and self.trainable)
            )
        return self.module(inputs)


def save_tf1_hub_module(path, build, tag_sets=((), ("train",))):
    """Save a graph as a module in the TF1 Hub format, as TF1 code did.

    ``build()`` runs inside a new ``tf.Graph``: it makes the placeholders,
    variables and ops, and returns the signatures, a dict ``name -> (inputs,
    outputs)``, each of those a dict ``key -> tensor``. The graph is saved
    with its variables' initial values as a TF1 SavedModel
    (``tf.compat.v1.saved_model.Builder``), once for each tag set (one
    MetaGraph each: ``()`` for inference, ``("train",)`` for training, as
    TF1 Hub modules had), and an empty ``tfhub_module.pb`` beside it marks
    the folder as the TF1 Hub format: ``hub.load`` checks only that this file
    exists. The TF1 saving API's deprecation notices are silenced.
    """
    if not tag_sets:
        raise ValueError("tag_sets needs at least one tag set, e.g. [()]")
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # the TF1 API's deprecation notices
    try:
        graph = tf.Graph()
        with graph.as_default():
            signature_def = tf.compat.v1.saved_model.predict_signature_def
            signatures = {
                name: signature_def(inputs, outputs)
                for name, (inputs, outputs) in build().items()
            }
            with tf.compat.v1.Session() as session:
                session.run(tf.compat.v1.global_variables_initializer())
                builder = tf.compat.v1.saved_model.Builder(path)
                first, *others = tag_sets
                builder.add_meta_graph_and_variables(
                    session, list(first), signatures
                )
                for tags in others:
                    builder.add_meta_graph(list(tags), signatures)
                builder.save()
    finally:
        logger.setLevel(level)
    open(os.path.join(path, "tfhub_module.pb"), "wb").close()


class SignatureLayer(keras.layers.Layer):
    """One signature of a module in the TF1 Hub format, as a Keras layer.

    ``module`` is what ``hub.load`` (or ``tf.saved_model.load(path,
    tags=[])``) returns for such a module: no ``__call__``, only
    ``signatures``, each a function from named tensors to a dict. The layer
    calls ``signatures[signature]``, a dict of several inputs by name (as
    ``hub.KerasLayer`` did), and returns the output under ``output``. It has
    no weights: Keras never sees the loaded variables, so the module stays
    frozen, as ``hub.KerasLayer`` kept this format.
    """

    def __init__(self, module, signature="default", output="default", **kw):
        super().__init__(**kw)
        signatures = getattr(module, "signatures", {})
        if signature not in signatures:
            raise ValueError(
                f"no signature {signature!r}; the module has "
                f"{sorted(signatures)}. Load a TF1 Hub module with "
                "hub.load(path), or tf.saved_model.load(path, tags=[])."
            )
        self.module = module  # keeps the loaded variables alive
        self.function = signatures[signature]
        self.output_key = output

    def call(self, inputs):
        if isinstance(inputs, dict):  # several inputs: by name
            outputs = self.function(**inputs)
        else:
            outputs = self.function(inputs)
        return outputs[self.output_key]
