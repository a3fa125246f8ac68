"""Figures of a model's structure and of traced graphs, drawn with Matplotlib
only.

``keras.utils.plot_model`` needs the Graphviz ``dot`` program, which is not a
Python package and cannot be installed by ``pip``. :func:`draw_model` draws the
same information (layers, their classes and output shapes, the arrows between
them) with Matplotlib, so the book builds anywhere its requirements install.
"""

import keras

_BOX_W, _BOX_H = 2.8, 1.0  # box size in data units
_DX, _DY = 3.3, 1.7  # distance between box centres
_INPUT_COLOUR, _CAPTURE_COLOUR, _PLAIN_COLOUR = "#dbe9f6", "#fbe3c9", "#f4f4f4"


def _functional_graph(model):
    """Return the Functional object that holds ``model``'s layer graph."""
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"draw_model expects a keras.Model, got {type(model).__name__}; "
            "wrap your tensors first: keras.Model(inputs, outputs)."
        )
    graph = model
    if isinstance(model, keras.Sequential):
        # A Sequential model keeps its graph in a functional model that exists
        # only once the input shape is known.
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise ValueError(
                f"Sequential model {model.name!r} has no input yet, so it has "
                "no graph to draw; start it with keras.Input(shape=...) as "
                "its first layer."
            )
    if not hasattr(graph, "_nodes_by_depth"):
        raise ValueError(
            f"model {model.name!r} is a subclassed model: its call() is "
            "Python code, not a layer graph; build it with the functional "
            "API (keras.Input -> layers -> keras.Model) to draw it."
        )
    return graph


def _layers_and_edges(graph):
    """Layers in drawing order and the (parent, child) edges between them."""
    nodes = [
        node
        for depth in sorted(graph._nodes_by_depth, reverse=True)
        for node in graph._nodes_by_depth[depth]
    ]
    layers, edges, shapes = [], [], {}
    for node in nodes:
        layer = node.operation
        if layer not in layers:
            layers.append(layer)
        shapes[id(layer)] = [tuple(t.shape) for t in node.output_tensors]
        for tensor in node.input_tensors:
            parent = tensor._keras_history.operation
            if (parent, layer) not in edges:
                edges.append((parent, layer))
    return layers, edges, shapes


def _levels(layers, edges):
    """Longest distance from a source for every key (sources are level 0)."""
    level = {key: 0 for key in layers}
    for _ in layers:  # at most len(layers) relaxations in a DAG
        changed = False
        for parent, child in edges:
            if level[child] < level[parent] + 1:
                level[child] = level[parent] + 1
                changed = True
        if not changed:
            break
    return level


def _positions(rows, edges):
    """Box centres: each row under the mean x of its parents, boxes never
    overlapping."""
    parents = {}
    for parent, child in edges:
        parents.setdefault(child, []).append(parent)
    centre = {}
    for lvl in sorted(rows):
        row = rows[lvl]
        if lvl == 0 or any(key not in parents for key in row):
            wanted = [i * _DX for i in range(len(row))]
        else:
            wanted = [
                sum(centre[p][0] for p in parents[key]) / len(parents[key])
                for key in row
            ]
        order = sorted(range(len(row)), key=lambda i: wanted[i])
        xs = []
        for i in order:  # left to right, at least _DX apart
            xs.append(wanted[i] if not xs else max(wanted[i], xs[-1] + _DX))
        # keep the row where it wants to be
        shift = sum(wanted) / len(wanted) - sum(xs) / len(xs)
        for i, x in zip(order, xs, strict=True):
            centre[row[i]] = (x + shift, -lvl * _DY)
    mid = sum(x for x, _ in centre.values()) / len(centre)
    return {key: (x - mid, y) for key, (x, y) in centre.items()}


def draw_model(model, ax=None, title=None):
    """Draw a functional or Sequential Keras model as a top-down diagram.

    Each box is a layer: its name, its class and its output shape (``None`` is
    the batch axis, or any other axis whose size is left open). Arrows follow
    the tensors from the inputs at the top to the outputs at the bottom.

    Parameters
    ----------
    model : keras.Model
        A functional model, or a Sequential model started with ``keras.Input``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    title : str, optional
        Axes title; defaults to the model's name.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError
        If ``model`` is not a ``keras.Model``.
    ValueError
        If the model has no layer graph (a Sequential model without an input,
        or a subclassed model).
    """
    graph = _functional_graph(model)
    layers, edges, shapes = _layers_and_edges(graph)
    labels, colours = {}, {}
    for layer in layers:
        is_input = isinstance(layer, keras.layers.InputLayer)
        out = shapes[id(layer)]
        shape_text = (
            ", ".join(str(s) for s in out) if len(out) > 1 else str(out[0])
        )
        labels[id(layer)] = (
            layer.name,
            f"{'Input' if is_input else type(layer).__name__}  {shape_text}",
        )
        colours[id(layer)] = _INPUT_COLOUR if is_input else _PLAIN_COLOUR
    return _draw_dag(
        [id(layer) for layer in layers],
        [(id(a), id(b)) for a, b in edges],
        labels,
        colours,
        ax,
        title if title is not None else model.name,
    )


def _draw_dag(keys, edges, labels, colours, ax, title):
    """Draw a DAG top-down: keys in topological order, edges as (parent, child)
    keys."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    level = _levels(keys, edges)
    rows = {}
    for key in keys:
        rows.setdefault(level[key], []).append(key)
    centre = _positions(rows, edges)
    span = (
        max(x for x, _ in centre.values())
        - min(x for x, _ in centre.values())
        + _BOX_W
    )
    if ax is None:
        _, ax = plt.subplots(
            figsize=(max(4.0, 0.68 * span), 1.25 * len(rows) + 0.4)
        )
    for key in keys:
        x, y = centre[key]
        ax.add_patch(
            FancyBboxPatch(
                (x - _BOX_W / 2, y - _BOX_H / 2),
                _BOX_W,
                _BOX_H,
                boxstyle="round,pad=0.05",
                linewidth=1.2,
                facecolor=colours[key],
                edgecolor="#333333",
            )
        )
        top, bottom = labels[key]
        ax.text(
            x,
            y + 0.22,
            top,
            ha="center",
            va="center",
            fontsize=9,
            weight="bold",
        )
        ax.text(x, y - 0.18, bottom, ha="center", va="center", fontsize=8)
    for parent, child in edges:
        (x0, y0), (x1, y1) = centre[parent], centre[child]
        ax.annotate(
            "",
            xy=(x1, y1 + _BOX_H / 2 + 0.05),
            xytext=(x0, y0 - _BOX_H / 2 - 0.05),
            arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1.2},
        )
    xs = [c[0] for c in centre.values()]
    ys = [c[1] for c in centre.values()]
    ax.set_xlim(min(xs) - _BOX_W / 2 - 0.2, max(xs) + _BOX_W / 2 + 0.2)
    ax.set_ylim(min(ys) - _BOX_H / 2 - 0.2, max(ys) + _BOX_H / 2 + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return ax


def draw_graph(graph, ax=None, title=None, hide_types=("NoOp",)):
    """Draw the ops of a traced ``tf.Graph`` (or a ConcreteFunction's graph).

    Each box is an op: its type in bold, the last part of its name and its
    output shape below. Placeholders are coloured: blue for the function's own
    inputs, orange for captured variables and other resources (dtype
    ``resource``); given a ConcreteFunction, the orange boxes also name the
    variable they stand for.

    Parameters
    ----------
    graph : tf.Graph or ConcreteFunction
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    hide_types : tuple of str
        Op types left out (with their edges); ``NoOp`` by default.

    Raises
    ------
    TypeError
        If ``graph`` is neither a ``tf.Graph`` nor a ConcreteFunction.
    ValueError
        If the graph has more than 40 ops to draw (the picture would be
        unreadable); draw a smaller function, or add types to ``hide_types``.
    """
    import tensorflow as tf

    sources = {}
    if isinstance(graph, tf.types.experimental.ConcreteFunction):
        from helpers.graphs import captured_placeholders

        sources = {
            name: source for name, _, source in captured_placeholders(graph)
        }
        graph = graph.graph
    if not isinstance(graph, tf.Graph):
        raise TypeError(
            "draw_graph expects a tf.Graph or a ConcreteFunction, got "
            f"{type(graph).__name__}; use fn.get_concrete_function(...)."
        )
    ops = [op for op in graph.get_operations() if op.type not in hide_types]
    if len(ops) > 40:
        raise ValueError(
            f"the graph has {len(ops)} ops to draw, more than 40 stay "
            "readable; trace a smaller function, or pass hide_types=(...) "
            "with the op types to leave out."
        )
    names = {op.name for op in ops}
    edges = []
    for op in ops:
        for tensor in op.inputs:
            if (
                tensor.op.name in names
                and (tensor.op.name, op.name) not in edges
            ):
                edges.append((tensor.op.name, op.name))
    labels, colours = {}, {}
    for op in ops:
        if op.name in sources:  # a captured variable: say which one
            bottom = "= " + sources[op.name].split(":")[0]
        else:
            shape = (
                f" {tuple(op.outputs[0].shape)}"
                if op.outputs and op.outputs[0].shape.rank is not None
                else ""
            )
            bottom = op.name.split("/")[-1][:14] + shape
        labels[op.name] = (op.type, bottom[:30])
        if op.type == "Placeholder":
            resource = op.outputs[0].dtype == tf.resource
            colours[op.name] = _CAPTURE_COLOUR if resource else _INPUT_COLOUR
        else:
            colours[op.name] = _PLAIN_COLOUR
    return _draw_dag(
        [op.name for op in ops],
        edges,
        labels,
        colours,
        ax,
        title if title is not None else "traced graph",
    )
