"""Pictures of a training run: the learning curve and the first layer's weights.

Both functions return the PNG file's bytes, so the caller decides where and how to write
them (the command line writes them atomically). Drawing uses matplotlib's Agg renderer
directly, without ``pyplot``: no display is needed and no global figure state is touched.
"""

import io
import math

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
        ``{"train_loss": [...], "val_loss": [...]}`` as in ``Network.history_``; entry ``e - 1``
        is the loss after epoch ``e``. ``val_loss`` may be empty or missing.
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
