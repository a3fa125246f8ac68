"""Figures that show a model's structure, drawn with Matplotlib only.

``keras.utils.plot_model`` needs the Graphviz ``dot`` program, which is not a
Python package and cannot be installed by ``pip``. :func:`draw_model` draws the
same information (layers, their classes and output shapes, the arrows between
them) with Matplotlib, so the book builds anywhere its requirements install.
"""
import keras

_BOX_W, _BOX_H = 2.8, 1.0  # box size in data units
_DX, _DY = 3.3, 1.7  # distance between box centres


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
                f"Sequential model {model.name!r} has no input yet, so it has no graph to "
                "draw; start it with keras.Input(shape=...) as its first layer."
            )
    if not hasattr(graph, "_nodes_by_depth"):
        raise ValueError(
            f"model {model.name!r} is a subclassed model: its call() is Python code, not a "
            "layer graph; build it with the functional API (keras.Input -> layers -> "
            "keras.Model) to draw it."
        )
    return graph


def _layers_and_edges(graph):
    """Layers in drawing order and the (parent, child) edges between them."""
    nodes = [node for depth in sorted(graph._nodes_by_depth, reverse=True)
             for node in graph._nodes_by_depth[depth]]
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
    """Longest distance from an input for every layer (inputs are level 0)."""
    level = {id(layer): 0 for layer in layers}
    for _ in layers:  # at most len(layers) relaxations in a DAG
        changed = False
        for parent, child in edges:
            if level[id(child)] < level[id(parent)] + 1:
                level[id(child)] = level[id(parent)] + 1
                changed = True
        if not changed:
            break
    return level


def _positions(rows, edges):
    """Box centres: each row under the mean x of its parents, boxes never overlapping."""
    parents = {}
    for parent, child in edges:
        parents.setdefault(id(child), []).append(parent)
    centre = {}
    for lvl in sorted(rows):
        row = rows[lvl]
        if lvl == 0:
            wanted = [i * _DX for i in range(len(row))]
        else:
            wanted = [sum(centre[id(p)][0] for p in parents[id(layer)]) / len(parents[id(layer)])
                      for layer in row]
        order = sorted(range(len(row)), key=lambda i: wanted[i])
        xs = []
        for i in order:  # left to right, at least _DX apart
            xs.append(wanted[i] if not xs else max(wanted[i], xs[-1] + _DX))
        shift = sum(wanted) / len(wanted) - sum(xs) / len(xs)  # keep the row where it wants to be
        for i, x in zip(order, xs):
            centre[id(row[i])] = (x + shift, -lvl * _DY)
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
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    layers, edges, shapes = _layers_and_edges(graph)
    level = _levels(layers, edges)
    rows = {}
    for layer in layers:
        rows.setdefault(level[id(layer)], []).append(layer)
    centre = _positions(rows, edges)
    span = max(x for x, _ in centre.values()) - min(x for x, _ in centre.values()) + _BOX_W
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 0.68 * span), 1.25 * len(rows) + 0.4))
    for layer in layers:
        x, y = centre[id(layer)]
        is_input = isinstance(layer, keras.layers.InputLayer)
        ax.add_patch(FancyBboxPatch(
            (x - _BOX_W / 2, y - _BOX_H / 2), _BOX_W, _BOX_H,
            boxstyle="round,pad=0.05", linewidth=1.2,
            facecolor="#dbe9f6" if is_input else "#f4f4f4", edgecolor="#333333"))
        kind = "Input" if is_input else type(layer).__name__
        out = shapes[id(layer)]
        shape_text = ", ".join(str(s) for s in out) if len(out) > 1 else str(out[0])
        ax.text(x, y + 0.22, layer.name, ha="center", va="center", fontsize=9, weight="bold")
        ax.text(x, y - 0.18, f"{kind}  {shape_text}", ha="center", va="center", fontsize=8)
    for parent, child in edges:
        (x0, y0), (x1, y1) = centre[id(parent)], centre[id(child)]
        ax.annotate("", xy=(x1, y1 + _BOX_H / 2 + 0.05), xytext=(x0, y0 - _BOX_H / 2 - 0.05),
                    arrowprops={"arrowstyle": "->", "color": "#333333", "lw": 1.2})
    xs = [c[0] for c in centre.values()]
    ys = [c[1] for c in centre.values()]
    ax.set_xlim(min(xs) - _BOX_W / 2 - 0.2, max(xs) + _BOX_W / 2 + 0.2)
    ax.set_ylim(min(ys) - _BOX_H / 2 - 0.2, max(ys) + _BOX_H / 2 + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title if title is not None else model.name, fontsize=10)
    return ax
