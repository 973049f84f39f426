"""Pictures of a network: the learning curve, the first layer's weights, the network diagram.

The training-run pictures return the PNG file's bytes, so the caller decides where and how to
write them (the command line writes them atomically); :func:`network_diagram` writes its file
itself, atomically. Drawing uses matplotlib's Agg renderer
directly, without ``pyplot``: no display is needed and no global figure state is touched.
"""

import io
import math
import os
import textwrap
from collections import namedtuple

import numpy as np

#: Size of the learning-curve image, in pixels (width, height).
CURVE_SIZE = (800, 500)
#: Smallest side of one unit's tile in the weight grid, in pixels; small images are enlarged
#: by a whole factor to at least this size.
MIN_TILE = 48
#: Pixels between tiles (and around the grid).
GAP = 2
#: Most units drawn; wider layers show their first ``MAX_UNITS`` units.
MAX_UNITS = 400
#: Pixels above the weight grid for its title, and right of it for the colour bar.
TITLE_HEIGHT = 24
COLORBAR_WIDTH = 64


def parse_image_shape(text):
    """Read ``"HxW"`` (e.g. ``"16x8"``) as a pair of positive ints.

    Parameters
    ----------
    text : str

    Returns
    -------
    (int, int)
        ``(height, width)``.

    Raises
    ------
    ValueError
        When the text is not two positive integers joined by ``x``.
    """
    parts = str(text).lower().replace("×", "x").split("x")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        height, width = (int(p) for p in parts)
        if height > 0 and width > 0:
            return height, width
    raise ValueError(f"image shape must be HEIGHTxWIDTH with positive integers, e.g. 16x8, got {text!r}")


def learning_curve_png(history, *, title=None, ylabel="mean cross-entropy"):
    """Draw the loss per epoch, for the training and (if any) validation rows.

    Parameters
    ----------
    history : dict
        ``{"train_loss": [...], "val_loss": [...], "learning_rate": [...]}`` as in
        ``Network.history_``; entry ``e - 1`` is the loss after epoch ``e``. ``val_loss`` may be
        empty or missing; where ``learning_rate`` drops (the ``adaptive`` schedule divides it by
        5), a dotted line marks the boundary between the two epochs.
    title : str, optional
    ylabel : str, default="mean cross-entropy"
        What the values are (e.g. "RMSE" for a regression run).

    Returns
    -------
    bytes
        A PNG image of ``CURVE_SIZE`` pixels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    figure = Figure(figsize=(CURVE_SIZE[0] / dpi, CURVE_SIZE[1] / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    train = list(history.get("train_loss", []))
    validation = list(history.get("val_loss", []))
    for losses, label, style in ((train, "train", "-"), (validation, "validation", "--")):
        if losses:
            epochs = np.arange(1, len(losses) + 1)
            axes.plot(epochs, losses, style, marker="o" if len(losses) < 30 else None,
                      markersize=6 if len(losses) < 10 else 3, label=label)
    rates = list(history.get("learning_rate", []))
    # where the adaptive schedule divided the rate by 5 (between epoch e and e + 1)
    drops = [e for e in range(1, len(rates)) if np.isclose(rates[e] * 5.0, rates[e - 1], rtol=1e-9, atol=0.0)]
    for k, epoch in enumerate(drops):
        axes.axvline(epoch + 0.5, color="grey", linestyle=":", linewidth=1,
                     label="learning rate / 5" if k == 0 else None)
    if not train and not validation:
        axes.text(0.5, 0.5, "no completed epoch", ha="center", va="center", transform=axes.transAxes)
    else:
        from matplotlib.ticker import MaxNLocator

        axes.legend()
        # whole epochs only; a short run gets room around its points instead of ticks 0.96..1.04
        axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        n_epochs = max(len(train), len(validation))
        if n_epochs < 10:
            axes.set_xlim(0.5, n_epochs + 0.5)
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    if title:
        axes.set_title(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def weight_grid(W, image_shape, *, max_units=MAX_UNITS):
    """Lay out each unit's input weights as a small image in a grid.

    Tile ``j`` shows row ``j`` of ``W`` without its bias, reshaped row-major to
    ``image_shape``, enlarged by a whole factor so its smaller side has at least
    ``MIN_TILE`` pixels. All tiles share one symmetric scale ``[-m, m]``, ``m`` the largest
    absolute weight drawn, with a diverging colour map (blue negative, white 0, red
    positive), so tiles can be compared; gaps are grey.

    Parameters
    ----------
    W : ndarray of shape (n_units, n_features + 1)
        A layer in the ``weights_`` layout, bias in column 0.
    image_shape : (int, int)
        ``(height, width)`` with ``height * width == n_features``.
    max_units : int, default=MAX_UNITS
        Draw at most this many units (the first ones).

    Returns
    -------
    ndarray of float, shape (rows * (h + GAP) + GAP, cols * (w + GAP) + GAP, 4)
        RGBA in [0, 1], where ``h, w`` are the enlarged tile sides, ``cols = ceil(sqrt(n))``
        and ``rows = ceil(n / cols)`` for the ``n`` units drawn.

    Raises
    ------
    ValueError
        When ``image_shape`` does not match the number of inputs.
    """
    from matplotlib import colormaps

    W = np.asarray(W, dtype=np.float64)
    height, width = image_shape
    if W.ndim != 2 or W.shape[1] - 1 != height * width:
        raise ValueError(f"image shape {height}x{width} has {height * width} pixels but the layer has "
                         f"{W.shape[1] - 1 if W.ndim == 2 else '?'} inputs")
    units = W[:max_units, 1:]
    n = units.shape[0]
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    scale = max(1, math.ceil(MIN_TILE / min(height, width)))
    tile_h, tile_w = height * scale, width * scale
    grid = np.full((rows * (tile_h + GAP) + GAP, cols * (tile_w + GAP) + GAP, 4), 0.6)
    grid[..., 3] = 1.0
    cmap = colormaps["RdBu_r"]
    m = weight_scale(units)
    for j, w in enumerate(units):
        scaled = 0.5 + 0.5 * (w / m if m > 0 else w)
        image = cmap(scaled.reshape(height, width))
        image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
        r, c = divmod(j, cols)
        top, left = GAP + r * (tile_h + GAP), GAP + c * (tile_w + GAP)
        grid[top:top + tile_h, left:left + tile_w] = image
    return grid


def weight_scale(units):
    """The shared colour scale ``m`` of :func:`weight_grid`: the largest absolute weight."""
    units = np.asarray(units, dtype=np.float64)
    return float(np.abs(units).max()) if units.size else 0.0


def hidden_units_png(W, image_shape, *, max_units=MAX_UNITS):
    """The PNG of :func:`weight_grid` with a title above it and a colour bar to its right.

    The grid is drawn one image pixel per array element; the title says what is shown, the
    colour bar maps colours to weights on the shared scale ``[-m, m]``.

    Parameters
    ----------
    W : ndarray of shape (n_units, n_features + 1)
    image_shape : (int, int)
    max_units : int, default=MAX_UNITS

    Returns
    -------
    bytes
        A PNG image of ``(grid height + TITLE_HEIGHT, grid width + COLORBAR_WIDTH)`` pixels.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colorbar import ColorbarBase
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    grid = weight_grid(W, image_shape, max_units=max_units)
    m = weight_scale(np.asarray(W, dtype=np.float64)[:max_units, 1:]) or 1.0
    n_units = min(np.shape(W)[0], max_units)
    height, width = grid.shape[0] + TITLE_HEIGHT, grid.shape[1] + COLORBAR_WIDTH
    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="white")
    FigureCanvasAgg(figure)
    figure.figimage(grid, xo=0, yo=0, origin="upper")
    shown = f"first {n_units} of {np.shape(W)[0]}" if n_units < np.shape(W)[0] else f"{n_units}"
    figure.text(0.5 * grid.shape[1] / width, 1 - 0.5 * TITLE_HEIGHT / height,
                f"input weights of {shown} hidden units", ha="center", va="center", fontsize=8)
    bar = figure.add_axes([(grid.shape[1] + 8) / width, 8 / height, 12 / width,
                           max(grid.shape[0] - 16, 8) / height])
    ColorbarBase(bar, cmap=colormaps["RdBu_r"], norm=Normalize(-m, m))
    bar.tick_params(labelsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# the network diagram

#: Most units drawn per layer by :func:`network_diagram`; a wider layer shows its units with the
#: largest total absolute weight (in and out).
DIAGRAM_MAX_UNITS = 24
#: Most edges drawn by :func:`network_diagram`; beyond, each layer keeps its largest absolute
#: weights, in proportion to its number of edges.
DIAGRAM_MAX_EDGES = 300


class DiagramLayout(namedtuple("DiagramLayout", ["sizes", "units", "edges", "n_edges"])):
    """What :func:`network_diagram` draws, chosen by :func:`diagram_layout`.

    Attributes
    ----------
    sizes : list of int
        Units per layer, input first: ``[n_features, *hidden, n_outputs]``.
    units : list of ndarray of int
        Per layer, the indices of the units drawn, ascending.
    edges : list of ndarray of shape (n, 3)
        Per weight layer, rows ``(source unit, target unit, weight)`` of the edges drawn
        (unit indices of the layers below and above), by increasing absolute weight.
    n_edges : int
        The number of weights between the units drawn, before thinning.
    """

    __slots__ = ()


def _fitted_weights(model):
    """``(weights in the (n_out, n_in + 1) layout, output class names or None)`` of a fitted model."""
    if hasattr(model, "coefs_") and hasattr(model, "intercepts_"):  # an MLPClassifier (fastnn's or sklearn's)
        weights = [np.column_stack([np.asarray(b, dtype=np.float64), np.asarray(W, dtype=np.float64).T])
                   for W, b in zip(model.coefs_, model.intercepts_)]
        classes = getattr(model, "classes_", None)
        return weights, None if classes is None else [str(c) for c in classes]
    is_network = hasattr(type(model), "weights_") or hasattr(model, "hidden_layer_sizes")
    if not is_network:
        raise TypeError(f"network_diagram draws a fitted fastnn.Network or MLPClassifier, not a "
                        f"{type(model).__name__}")
    try:
        weights = [np.asarray(W, dtype=np.float64) for W in model.weights_]
    except (AttributeError, ValueError):  # not fitted (sklearn's NotFittedError is both)
        weights = None
    if not weights:
        raise ValueError(f"this {type(model).__name__} is not fitted: call fit(X, y) first (or load a model "
                         "with fastnn.load)")
    classes = getattr(model, "metadata_", {}).get("classes")
    return weights, None if classes is None else [str(c) for c in classes]


def diagram_layout(weights, *, max_units=DIAGRAM_MAX_UNITS, max_edges=DIAGRAM_MAX_EDGES):
    """Choose the units and edges :func:`network_diagram` draws.

    A layer of more than ``max_units`` units shows the ``max_units`` with the largest total
    absolute weight (incoming and outgoing, intercepts excluded). If more than ``max_edges``
    weights join the units shown, each weight layer keeps its largest absolute weights, its
    share of ``max_edges`` in proportion to its number of edges (at least one each).

    Parameters
    ----------
    weights : list of ndarray of shape (n_out, n_in + 1)
        The layers in the ``Network.weights_`` layout, bias in column 0 (not drawn).
    max_units : int, default=DIAGRAM_MAX_UNITS
    max_edges : int, default=DIAGRAM_MAX_EDGES

    Returns
    -------
    DiagramLayout
    """
    W = [np.asarray(layer, dtype=np.float64)[:, 1:] for layer in weights]
    sizes = [W[0].shape[1]] + [layer.shape[0] for layer in W]
    units = []
    for l, n in enumerate(sizes):
        strength = np.zeros(n)
        if l > 0:
            strength += np.abs(W[l - 1]).sum(axis=1)
        if l < len(W):
            strength += np.abs(W[l]).sum(axis=0)
        kept = np.arange(n) if n <= max_units else np.sort(np.argsort(-strength, kind="stable")[:max_units])
        units.append(kept)
    blocks = [layer[np.ix_(units[l + 1], units[l])] for l, layer in enumerate(W)]
    n_edges = int(sum(block.size for block in blocks))
    edges = []
    for l, block in enumerate(blocks):
        targets, sources = np.meshgrid(units[l + 1], units[l], indexing="ij")
        rows = np.column_stack([sources.ravel(), targets.ravel(), block.ravel()])
        order = np.argsort(np.abs(rows[:, 2]), kind="stable")
        if n_edges > max_edges:
            quota = max(1, int(max_edges * block.size / n_edges))
            order = order[-quota:]
        edges.append(rows[order])
    return DiagramLayout(sizes, units, edges, n_edges)


def _image_format(path):
    """The matplotlib format named by ``path``'s extension, or ValueError naming the choices."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    supported = FigureCanvasAgg(Figure()).get_supported_filetypes()
    extension = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if extension not in supported:
        raise ValueError(f"cannot draw {os.fspath(path)!r}: no image format is named {extension!r}; give a path "
                         f"ending in one of {', '.join('.' + e for e in sorted(supported))}")
    return extension


def network_diagram(model, path, *, max_units=DIAGRAM_MAX_UNITS, max_edges=DIAGRAM_MAX_EDGES):
    """Draw the diagram of a fitted network: a circle per unit, an edge per weight.

    As in the lecture's neural network diagrams, layers are columns from the inputs (left) to
    the outputs (right) and intercepts are not drawn; the colour of an edge is its weight
    (red positive, blue negative, on one scale for the whole diagram, shown by the colour bar)
    and its width the weight's magnitude. Large networks are thinned to stay readable (see
    :func:`diagram_layout`); a note under the diagram says what was left out.

    Parameters
    ----------
    model : fastnn.Network or fastnn.MLPClassifier
        Fitted (or loaded with ``fastnn.load``); an object with ``coefs_`` and ``intercepts_``
        as scikit-learn's MLPClassifier also works.
    path : str or os.PathLike
        The image to write; its extension names the format (``.svg``, ``.png``, ``.pdf``, ...).
        Written atomically: complete, or not at all.
    max_units : int, default=DIAGRAM_MAX_UNITS
        Most units drawn per layer.
    max_edges : int, default=DIAGRAM_MAX_EDGES
        Most edges drawn.

    Raises
    ------
    ValueError
        If the model is not fitted, the extension is not an image format, or a limit is below 1.
    TypeError
        If ``model`` is not a network.
    OSError
        If the file cannot be written (an existing file is then unchanged).
    """
    for name, value in (("max_units", max_units), ("max_edges", max_edges)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    image_format = _image_format(path)
    weights, classes = _fitted_weights(model)
    image = _diagram_image(diagram_layout(weights, max_units=max_units, max_edges=max_edges), classes, image_format)
    from .io import write_atomic

    write_atomic(path, image)


def _diagram_image(layout, classes, image_format):
    """The bytes of the diagram of ``layout`` in ``image_format``."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.cm import ScalarMappable
    from matplotlib.figure import Figure

    n_columns, tallest = len(layout.sizes), max(len(u) for u in layout.units)
    n_drawn = int(sum(len(rows) for rows in layout.edges))
    note = ["intercepts not drawn", "colour: weight, width: |weight|"]
    if n_drawn < layout.n_edges:
        note.insert(0, f"the {n_drawn} largest |weights| of {layout.n_edges} drawn (per layer)")
    if any(s > len(u) for s, u in zip(layout.sizes, layout.units)):
        note.insert(0, "wide layers: the units of largest total |weight|")
    width = 1.6 + 2.0 * n_columns
    note = textwrap.wrap("; ".join(note), width=int(width * 13))
    # inches: the layer titles above, the units, the note below
    top, bottom, body = 0.7, 0.3 + 0.16 * len(note), max(1.8, 0.3 * tallest)
    height = top + body + bottom
    figure = Figure(figsize=(width, height), dpi=100, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_axes([0.3 / width, bottom / height, (width - 1.6) / width, body / height])
    axes.set_axis_off()
    axes.set_xlim(-0.45, n_columns - 0.55)
    axes.set_ylim(-0.5, tallest - 0.5)

    def y_of(layer):
        """{unit index: vertical position} of a layer's units drawn, the column centred."""
        shown = layout.units[layer]
        offset = (tallest - len(shown)) / 2
        return {int(j): tallest - 1 - (offset + k) for k, j in enumerate(shown)}

    positions = [y_of(layer) for layer in range(n_columns)]
    drawn = [rows for rows in layout.edges if len(rows)]
    m = max((float(np.abs(rows[:, 2]).max()) for rows in drawn), default=0.0) or 1.0
    cmap, norm = colormaps["RdBu_r"], Normalize(-m, m)
    for layer, rows in enumerate(layout.edges):
        segments = [((layer, positions[layer][int(s)]), (layer + 1, positions[layer + 1][int(t)])) for s, t, _ in rows]
        axes.add_collection(LineCollection(segments, colors=cmap(norm(rows[:, 2])),
                                           linewidths=0.4 + 2.6 * np.abs(rows[:, 2]) / m, zorder=1))
    radius = min(12.0, 0.36 * 72 * body / tallest)  # points; units 0.3 inch apart at most
    for layer in range(n_columns):
        ys = list(positions[layer].values())
        axes.scatter([layer] * len(ys), ys, s=(2 * radius) ** 2, facecolor="white", edgecolor="#333333",
                     linewidth=1.0, zorder=2)
        n, shown = layout.sizes[layer], len(layout.units[layer])
        role = "input" if layer == 0 else ("output" if layer == n_columns - 1 else f"hidden {layer}")
        count = f"{n} units" if shown == n else f"{shown} of {n} units"
        axes.annotate(f"{role}\n{count}", (layer, tallest - 0.5), xytext=(0, 8), textcoords="offset points",
                      ha="center", va="bottom", fontsize=9, annotation_clip=False)
        if layer in (0, n_columns - 1):
            for j, y in positions[layer].items():
                if layer == 0:
                    text, side = f"x{j + 1}", -1
                else:
                    text, side = classes[j] if classes is not None and len(classes) == n else str(j), 1
                axes.annotate(text, (layer, y), xytext=(side * (radius + 3), 0), textcoords="offset points",
                              ha="right" if side < 0 else "left", va="center", fontsize=7, annotation_clip=False)
    figure.text(0.3 / width, 0.12 / height, "\n".join(note), fontsize=8, color="#444444", va="bottom")
    bar = figure.add_axes([(width - 0.9) / width, (bottom + 0.1 * body) / height, 0.15 / width, 0.8 * body / height])
    figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=bar).set_label("weight", fontsize=8)
    bar.tick_params(labelsize=7)
    from matplotlib import rc_context

    buffer = io.BytesIO()
    # the same model gives the same bytes: no date, fixed SVG ids
    metadata = {"Date": None} if image_format in ("svg", "svgz", "pdf") else None
    with rc_context({"svg.hashsalt": "fastnn"}):
        figure.savefig(buffer, format=image_format, dpi=100, facecolor="white", metadata=metadata)
    return buffer.getvalue()
