"""The lecture's losses, network and pictures, composed from fastnn.autodiff's operations.

Part of :mod:`fastnn.autodiff`, which re-exports every public name defined here: the
cross-entropies of a softmax and of a sigmoid output, the network of ``fastnn.Network`` for one
sample (``network_logits``, ``network_proba``, ``network_loss``) and the computation graph as
Graphviz DOT text or an image (``to_dot``, ``draw``).
"""

import builtins
import numbers
from functools import partial

import numpy as np

from .autodiff import (Constant, Node, Variable, _adjoints, _as_node, _check_node, _to_float_array, concat, constant,
                       leaky_relu, logsumexp, relu, reshape, sigmoid, softmax, softplus, sum, tanh, topological_order)

# -- Losses and the network of fastnn.Network, composed from the operations ---------------------


def softmax_cross_entropy(logits, label):
    """Cross-entropy of softmax(b) for one sample, logsumexp(b) - b_y (never overflows).

    ``logits`` b has shape ``(K,)``, K >= 2, and ``label`` y is an int in 0..K-1; the scalar's
    gradient is softmax(b) - onehot(y).
    """
    b = _as_node(logits)
    if b.ndim != 1 or b.shape[0] < 2:
        raise ValueError(f"softmax_cross_entropy: logits must have shape (K,) with K >= 2; got {b.shape}")
    K = b.shape[0]
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, numbers.Integral):
        raise TypeError(f"the label must be an integer class index 0..{K - 1}; got {label!r}")
    if not 0 <= label < K:
        raise ValueError(f"the label {label} is outside 0..{K - 1} for {K} classes")
    return logsumexp(b) - b[int(label)]


def binary_cross_entropy_with_logit(logit, label):
    """Binary cross-entropy -y log s(a) - (1 - y) log(1 - s(a)) = log(1 + e^a) - y a, s = sigmoid.

    ``logit`` a is one value (shape ``()`` or ``(1,)``), ``label`` y a number in [0, 1]; the scalar
    never overflows.
    """
    a = _as_node(logit)
    if a.size != 1:
        raise ValueError(f"binary_cross_entropy_with_logit: the logit must be a single value; got shape {a.shape}")
    if isinstance(label, Node) or not isinstance(label, numbers.Real):
        raise TypeError(f"the label must be a number in [0, 1]; got {label!r}")
    if not 0.0 <= label <= 1.0:
        raise ValueError(f"the label must be in [0, 1] (0 or 1 for a class); got {label}")
    a = a if a.shape == () else reshape(a, ())
    return softplus(a) - float(label) * a


#: The hidden activations of ``fastnn.Network`` as functions of a node (the identity is no node).
_ACTIVATION_FUNCTIONS = {"logistic": lambda a: sigmoid(a), "tanh": lambda a: tanh(a), "relu": lambda a: relu(a),
                         "identity": lambda a: a, "leaky_relu": lambda a: leaky_relu(a)}
_OUTPUTS = ("softmax", "sigmoid", "multilabel", "identity")


def _check_network(weights, x, output=None):
    """Wrap and check the layers and sample; ``output=None`` skips the output-layer checks."""
    if output is not None and output not in _OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(map(repr, _OUTPUTS))}; got {output!r}")
    weights = list(weights)
    # arrays given as data become constants named as in the lecture's pictures (see to_dot)
    names = ["α", "β"] if len(weights) == 2 else [f"W{i}" for i in range(1, len(weights) + 1)]
    weights = [W if isinstance(W, Node) else Constant(_to_float_array(W, f"weights[{i}]"), name=names[i])
               for i, W in enumerate(weights)]
    x = x if isinstance(x, Node) else Constant(_to_float_array(x, "x"), name="x")
    if not weights:
        raise ValueError("weights must hold at least one layer, shape (n_out, n_in + 1)")
    if x.ndim != 1:
        raise ValueError(f"x must be one sample of shape (n_features,); got shape {x.shape}")
    n_in = x.shape[0]
    for i, W in enumerate(weights):
        if W.ndim != 2 or W.shape[1] != n_in + 1:
            raise ValueError(f"weights[{i}] has shape {W.shape}; expected (n_out, {n_in + 1}): "
                             f"{n_in} inputs plus the bias column 0")
        n_in = W.shape[0]
    if output == "sigmoid" and n_in != 1:
        raise ValueError(f"a sigmoid output has one unit; the last layer has {n_in} (shape {weights[-1].shape})")
    if output == "softmax" and n_in < 2:
        raise ValueError(f"a softmax output needs K >= 2 units; the last layer has {n_in}")
    return weights, x


def _activations(activation, n_hidden):
    names = [activation] * n_hidden if isinstance(activation, str) else list(activation)
    if len(names) != n_hidden or any(name not in _ACTIVATION_FUNCTIONS for name in names):
        raise ValueError(f"activation must be one of {', '.join(map(repr, _ACTIVATION_FUNCTIONS))}, or one "
                         f"per hidden layer ({n_hidden}); got {activation!r}")
    return names


def network_logits(weights, x, activation="logistic"):
    """The last layer's pre-activation W [1; z] for one sample (arguments as for :func:`network_loss`)."""
    weights, z = _check_network(weights, x)
    hidden = len(weights) - 1
    for layer, (W, g) in enumerate(zip(weights[:-1], _activations(activation, hidden)), start=1):
        suffix = "" if hidden == 1 else str(layer)
        a = _name(W @ _with_intercept(z), f"a{suffix}")
        z = a if g == "identity" else _name(_ACTIVATION_FUNCTIONS[g](a), f"z{suffix}")
    return _name(weights[-1] @ _with_intercept(z), "b")


def _with_intercept(z):
    """[1; z], the intercept first (the bias is column 0 of the next layer), named after ``z``."""
    return _name(concat([constant([1.0]), z]), None if z.name is None else f"[1; {z.name}]")


def network_proba(weights, x, output="softmax", activation="logistic"):
    """The outputs for one sample, a row of ``fastnn.Network.predict_proba`` (``predict`` for identity).

    Arguments as for :func:`network_loss`; a sigmoid output gives ``[1 - p, p]``, multilabel the K
    sigmoids, identity the logits.
    """
    weights, x = _check_network(weights, x, output)
    a = network_logits(weights, x, activation)
    if output == "softmax":
        return softmax(a)
    if output == "identity":
        return a
    p = sigmoid(a)
    return p if output == "multilabel" else concat([1.0 - p, p])


def network_loss(weights, x, y, output="softmax", l2=0.0, activation="logistic"):
    """Loss of one sample for the network of ``fastnn.Network``, as a graph node.

    Parameters
    ----------
    weights : sequence of Node or array_like
        One matrix per layer, shape ``(n_out, n_in + 1)`` with the bias in column 0, as
        ``fastnn.Network.weights_``; hidden layers compute z = g(W [1; z_prev]) from z = x.
        Pass :class:`Variable` objects to differentiate them.
    x : Node or array_like
        One sample, shape ``(n_features,)``.
    y : int or array_like
        Its label, 0..K-1 for softmax, 0 or 1 for sigmoid; its K 0/1 labels (multilabel) or K
        targets (identity).
    output : {"softmax", "sigmoid", "multilabel", "identity"}, default "softmax"
        Softmax with cross-entropy ``logsumexp(b) - b_y`` over K >= 2 logits, one sigmoid
        unit with binary cross-entropy from its logit, K sigmoids with the sum of their binary
        cross-entropies, or the identity with ``1/2 ||b - y||^2``.
    l2 : float, default 0.0
        Adds (l2 / 2) ||W[:, 1:]||^2 summed over layers (biases excluded), the penalty of
        ``fastnn.Network(l2=...)`` in each per-sample update.
    activation : str or list of str, default "logistic"
        The hidden activation g, ``fastnn.Network``'s names, one for all or one per hidden layer.

    Returns
    -------
    Node
        Scalar loss J.

    Raises
    ------
    ValueError
        If the shapes do not chain, the output type or label is invalid, or ``l2 < 0``.
    """
    weights, x = _check_network(weights, x, output)
    if not isinstance(l2, numbers.Real) or not l2 >= 0:
        raise ValueError(f"l2 must be a number >= 0; got {l2!r}")
    a = network_logits(weights, x, activation)
    if output == "softmax":
        J = softmax_cross_entropy(a, y)
        _name(J.parents[0], "log Z")  # logsumexp(b): J = log Z - b_y
        _name(J.parents[1], "b_y")
    elif output in ("multilabel", "identity"):
        t = _to_float_array(y, "y")
        if t.shape != a.shape or (output == "multilabel" and not np.isin(t, (0.0, 1.0)).all()):
            raise ValueError(f"the {output} output needs y of shape {a.shape}"
                             + (" holding 0 or 1" if output == "multilabel" else "") + f"; got {y!r}")
        if output == "identity":
            J = 0.5 * sum((a - t) ** 2)
        else:  # sum_k softplus(b_k) - t_k b_k
            J = sum(softplus(a) - t * a)
    else:
        if isinstance(y, (bool, np.bool_)) or not isinstance(y, numbers.Integral) or y not in (0, 1):
            raise ValueError(f"a sigmoid output needs the label 0 or 1; got {y!r}")
        J = binary_cross_entropy_with_logit(a, int(y))
    if l2:
        penalty = _name(0.5 * l2 * builtins.sum(sum(W[:, 1:] ** 2) for W in weights), "r")
        J = _name(J, "ℓ") + penalty
    return _name(J, "J")


def _name(node, name):
    """Give ``node`` the ``name`` (its label in :func:`to_dot`) unless it has one; return it."""
    if node.name is None:
        node.name = name
    return node


# -- Pictures: the graph in the lecture's conventions, as Graphviz DOT text --------------------

#: What the box of each rule says: the function (the variable's name is written outside the box).
_FUNCTION_LABELS = {
    "add": "+", "subtract": "−", "multiply": "×", "divide": "÷", "power": "pow", "negative": "−( )",
    "exp": "exp", "log": "log", "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tanh": "tanh",
    "sigmoid": "σ", "softplus": "softplus", "matmul": "matmul", "sum": "sum", "mean": "mean",
    "logsumexp": "logsumexp", "softmax": "softmax", "reshape": "reshape", "transpose": "transpose",
    "concat": "concat",
}
#: Values of ``show`` in :func:`to_dot` and :func:`draw`: which numbers each box shows.
SHOW_CHOICES = (None, "value", "grad", "both")
#: How each kind of node is drawn (Graphviz node attributes); the kind is also the node's ``class``.
_KIND_STYLES = {
    "variable": {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbe9f6"},
    "input": {"shape": "box", "style": "rounded"},
    "constant": {"shape": "plaintext"},
    "intercept": {"shape": "circle", "width": "0.3", "fixedsize": "true"},
    "intermediate": {"shape": "box"},
    "output": {"shape": "box", "peripheries": "2"},
}
#: A value of at most this many elements is written out in its box; a larger one by its shape.
_SHOWN_ELEMENTS = 3


def _format_number(value):
    return f"{value:.4g}".replace("-", "−") if np.isfinite(value) else str(value)


def _format_value(value):
    """A value as a box shows it: 4 significant digits, a small array written out, a large one its shape."""
    value = np.asarray(value)
    if value.ndim == 0:
        return _format_number(float(value))
    if value.size <= _SHOWN_ELEMENTS and value.ndim == 1:
        return "[" + ", ".join(_format_number(float(v)) for v in value) + "]"
    return "array " + "×".join(str(n) for n in value.shape)


def _format_index(index):
    """``a[index]`` as a box shows it: ``[1]``, ``[:, 1:]``."""
    def one(part):
        if isinstance(part, slice):
            text = ("" if part.start is None else str(part.start)) + ":" + ("" if part.stop is None else str(part.stop))
            return text + (f":{part.step}" if part.step is not None else "")
        if part is Ellipsis:
            return "..."
        return str(np.asarray(part).tolist())

    parts = index if isinstance(index, tuple) else (index,)
    return "[" + ", ".join(one(p) for p in parts) + "]"


def _function_label(node):
    """The function of an intermediate node as its box shows it."""
    if node.op == "getitem" and isinstance(node._forward, partial):
        return _format_index(node._forward.keywords.get("index"))
    return _FUNCTION_LABELS.get(node.op, node.op)


def _node_kinds(order, output):
    """{node: kind} with the kinds of ``_KIND_STYLES``; an intercept is a constant 1 that starts a concat."""
    starts_concat = {u.parents[0] for u in order if u.op == "concat" and u.parents}
    kinds = {}
    for u in order:
        if u is output and u.parents:
            kinds[u] = "output"
        elif u.parents:
            kinds[u] = "intermediate"
        elif isinstance(u, Variable):
            kinds[u] = "variable"
        elif u.name is not None:
            kinds[u] = "input"
        elif u in starts_concat and u.size == 1 and float(u._value.reshape(())) == 1.0:
            kinds[u] = "intercept"
        else:
            kinds[u] = "constant"
    return kinds


def _dot_string(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(output, show="value"):
    """The computation graph of ``output`` as Graphviz DOT text, drawn as in the lecture.

    One rectangle per intermediate variable with its function inside (``sin``, ``+``,
    ``matmul``, ``σ``, ``[1]`` for an index) and its name outside; leaves as nodes of their own:
    variables (shaded, rounded) and named inputs (rounded) with their name inside, constants as
    their number, the intercept 1 of ``[1; z]`` as a circle; the output (the loss) has a double
    border. Edges are unlabelled and run from each operand to the result, parameters and inputs
    on the left, the output on the right (``rankdir=LR``). An operand used twice has one edge per use.

    Names come from ``name=`` (``ad.Variable(2.0, name="x")``) or from assigning ``node.name``;
    :func:`network_loss` names its nodes as the lecture does (α, β, x, a, z, b, J). An unnamed
    output is called ``J``; other unnamed intermediate variables ``u1``, ``u2``, ... and
    unnamed variables ``v1``, ``v2``, ..., numbered in topological order.

    Parameters
    ----------
    output : Node
        The node whose graph is drawn, typically a scalar loss.
    show : {"value", "grad", "both"} or None, default "value"
        What each box shows below its function: the value of the forward pass, the adjoint
        ∂J/∂u of the backward pass (written ``∂J/∂u = ...``, J the output's name), both, or
        nothing (None: a blank graph to work by hand). A value or adjoint of at most 3 elements
        is written out with 4 significant digits, a larger one by its shape. Adjoints are those
        :meth:`Node.backward` stores (computed here afresh, so ``backward()`` need not have run)
        and appear on the nodes that depend on a :class:`Variable`.

    Returns
    -------
    str
        A ``digraph``; node ids ``n0``, ``n1``, ... in topological order, each with ``class``
        set to its kind: ``"variable"``, ``"input"``, ``"constant"``, ``"intercept"``,
        ``"intermediate"`` or ``"output"``.

    Raises
    ------
    ValueError
        If ``show`` is not one of the choices, or adjoints are asked for a non-scalar output.
    TypeError
        If ``output`` is not a Node.

    Examples
    --------
    >>> from fastnn import autodiff as ad
    >>> x = ad.Variable(2.0, name="x")
    >>> J = ad.cos(ad.sin(x ** 2) + 3 * x ** 2)
    >>> print(ad.to_dot(J, show=None).splitlines()[:3])
    ['digraph computation_graph {', '  rankdir=LR;', '  forcelabels=true;']
    """
    _check_node(output)
    if show not in SHOW_CHOICES:
        raise ValueError(f"show must be 'value', 'grad', 'both' or None; got {show!r}")
    order = topological_order(output)
    adjoints = _adjoints(output) if show in ("grad", "both") else {}
    kinds = _node_kinds(order, output)
    ids = {u: f"n{i}" for i, u in enumerate(order)}
    names, counters = {}, {"intermediate": 0, "variable": 0}
    for u in order:
        if u.name is not None:
            names[u] = u.name
        elif kinds[u] == "output":
            names[u] = "J"
        elif kinds[u] in counters:
            counters[kinds[u]] += 1
            names[u] = f"{'u' if kinds[u] == 'intermediate' else 'v'}{counters[kinds[u]]}"
    output_name = names.get(output, "J")

    lines = ["digraph computation_graph {", "  rankdir=LR;", "  forcelabels=true;", "  nodesep=0.35;",
             '  node [fontname="DejaVu Sans,Helvetica,Arial,sans-serif", fontsize=11, margin="0.12,0.06"];',
             "  edge [arrowsize=0.7];"]
    for u in order:
        kind = kinds[u]
        attributes = {"class": kind, **_KIND_STYLES[kind]}
        if kind in ("intermediate", "output"):
            text = [_function_label(u)]
            attributes["xlabel"] = names[u]
        elif kind in ("variable", "input"):
            text = [names[u]]
        elif kind == "intercept":
            text = ["1"]
        else:  # a constant: its number is its label
            text = [_format_value(u._value)]
        if kind not in ("constant", "intercept"):
            if show in ("value", "both"):
                text.append("= " + _format_value(u._value))
            if show in ("grad", "both") and u in adjoints:
                text.append(f"∂{output_name}/∂{names[u]} = {_format_value(adjoints[u])}")
        attributes["label"] = "\n".join(text)
        lines.append(f"  {ids[u]} [" + ", ".join(f"{k}={_dot_string(v)}" for k, v in attributes.items()) + "];")
    sources = [ids[u] for u in order if kinds[u] in ("variable", "input")]
    if sources:
        lines.append("  {rank=min; " + "; ".join(sources) + ";}")
    for u in order:
        lines.extend(f"  {ids[v]} -> {ids[u]};" for v in u.parents)
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(output, path, show="value"):
    """Render the computation graph of :func:`to_dot` to an image file through Graphviz.

    Needs the ``graphviz`` Python package (``pip install "fastnn[graphviz]"``) and the Graphviz
    programs (``dot``: ``apt-get install graphviz``, ``brew install graphviz``, ...). The file is
    written atomically: complete, or not at all.

    Parameters
    ----------
    output : Node
        The node whose graph is drawn, as for :func:`to_dot`.
    path : str or os.PathLike
        The image to write; its extension names the format Graphviz renders (``.svg``, ``.png``,
        ``.pdf``, ...).
    show : {"value", "grad", "both"} or None, default "value"
        What each box shows, as for :func:`to_dot`.

    Raises
    ------
    ValueError
        If the extension of ``path`` is not a format Graphviz writes, or as :func:`to_dot`.
    ImportError
        If the ``graphviz`` package is not installed.
    RuntimeError
        If the Graphviz program ``dot`` is not installed or fails.
    OSError
        If the file cannot be written (an existing file is then unchanged).
    """
    import os

    dot = to_dot(output, show=show)
    extension = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    try:
        import graphviz
    except ImportError:
        raise ImportError("drawing a graph needs the graphviz package: pip install \"fastnn[graphviz]\" "
                          "(and the Graphviz programs, e.g. apt-get install graphviz)") from None
    if extension not in graphviz.FORMATS:
        raise ValueError(f"cannot draw {os.fspath(path)!r}: Graphviz writes no format named {extension!r}; "
                         "give a path ending in .svg, .png or .pdf")
    try:
        image = graphviz.Source(dot).pipe(format=extension)
    except graphviz.ExecutableNotFound:
        raise RuntimeError("the Graphviz program 'dot' was not found: install Graphviz (apt-get install graphviz, "
                           "brew install graphviz, ...) and make sure 'dot' is on the PATH") from None
    except graphviz.CalledProcessError as exc:
        raise RuntimeError(f"Graphviz failed to render {os.fspath(path)!r}: {exc.stderr!r}") from None
    from .io import write_atomic

    write_atomic(path, image)
