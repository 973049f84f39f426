"""Reverse-mode automatic differentiation on a computation graph, as a table of rules.

Pure NumPy and small enough to read in one sitting, it checks fastnn's C engine by a method that
shares no derivation with it (backpropagation is one case of the general algorithm).

*Recording.* An operation on :class:`Node` objects computes its value at once and returns a node
that remembers its parents and its rule: an expression records a DAG whose leaves are
:class:`Variable` (differentiable) and :class:`Constant` nodes (numbers and arrays, wrapped
automatically). :func:`evaluate` reruns the forward pass in :func:`topological_order`.

*Backward* ("Version B"). Every adjoint dy/du starts at 0, and dy/dy = 1. In reverse topological
order, for each u = g(v1, ..., vN) and parent vj, add (dy/du)(du/dvj), the rule's vector-Jacobian
product (VJP), summed back over the axes broadcasting stretched. A node used twice gets both
contributions; the sort is iterative, so any depth works. A gradient has its variable's shape.

*The rules* (``_RULES``, one line per operation): ``name: (forward, one vjp per operand)``. The
public functions check their operands and apply a rule; :func:`primitive` records a new one.

*Pictures.* :func:`to_dot` writes the graph as the lecture draws it (Graphviz DOT text: a box per
intermediate variable, its function inside and its name outside, the adjoints after a backward
pass); :func:`draw` renders it to SVG, PNG or PDF with the optional ``graphviz`` package.

Examples
--------
The lecture's J = cos(sin(x^2) + 3 x^2), by hand dJ/dx = -sin(sin(x^2) + 3 x^2) (cos(x^2) 2x + 6x):

>>> import numpy as np
>>> from fastnn import autodiff as ad
>>> x = ad.Variable(2.0, name="x")
>>> a = x ** 2
>>> J = ad.cos(ad.sin(a) + 3 * a)
>>> [u.op for u in ad.topological_order(J)]
['variable', 'constant', 'power', 'sin', 'constant', 'multiply', 'add', 'cos']
>>> J.backward()
>>> print(f"{x.grad:.10f}")
9.0991485448
>>> print(f"{-np.sin(np.sin(4.0) + 12.0) * (np.cos(4.0) * 4.0 + 12.0):.10f}")
9.0991485448

Arrays broadcast as in NumPy; :func:`grad` returns gradients without storing them:

>>> W, v = ad.Variable(np.ones((2, 2)), name="W"), ad.Variable(np.array([0.5, -1.0]), name="v")
>>> [g.shape for g in ad.grad(ad.sum(ad.sigmoid(W @ v + 1.0)), [W, v])]
[(2, 2), (2,)]
"""

from __future__ import annotations

import math
import numbers
from functools import partial

import numpy as np

__all__ = [
    "Node", "Variable", "Constant", "constant", "primitive", "topological_order", "evaluate", "grad",
    "add", "subtract", "multiply", "divide", "negative", "power", "matmul", "sum", "mean",
    "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "leaky_relu", "softplus", "softmax", "logsumexp",
    "concat", "reshape", "transpose", "softmax_cross_entropy", "binary_cross_entropy_with_logit",
    "network_logits", "network_proba", "network_loss", "to_dot", "draw",
]

# -- The rules: forward and vector-Jacobian product of every operation --------------------------


_LEAKY_SLOPE = 0.01


def _sigmoid(a):
    """Two-branch sigmoid: 1/(1+e^-a) for a >= 0, e^a/(1+e^a) otherwise (no overflow)."""
    z, positive = np.empty_like(a), a >= 0
    z[positive] = 1.0 / (1.0 + np.exp(-a[positive]))
    e = np.exp(a[~positive])
    z[~positive] = e / (1.0 + e)
    return z


def _logsumexp(a, axes):
    """log sum e^a over ``axes`` (kept with length 1), the finite maximum subtracted first."""
    m = np.max(a, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return m + np.log(np.sum(np.exp(a - m), axis=axes, keepdims=True))


def _softmax(a, axis):
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _zero_where(mask, f):
    """f() with 0 where ``mask`` holds, there without the warnings of 0 * inf or log 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mask, 0.0, f())


def _scatter_add(g, shape, index):
    """The adjoint of ``a[index]``: g added into zeros of ``a``'s shape (a repeated index adds up)."""
    scattered = np.zeros(shape)
    np.add.at(scattered, index, g)
    return scattered


# name: (forward(*x, **params), vjp(g, z, *x, **params) for each operand x), z = forward(*x), g = dy/dz.
# Elementwise shares are summed back over broadcast axes by the backward pass; a reduction keeps its
# reduced `axes` (length 1) in z, and receives g with them too.
_RULES = {
    "add":       (np.add,       lambda g, z, a, b: g,     lambda g, z, a, b: g),
    "subtract":  (np.subtract,  lambda g, z, a, b: g,     lambda g, z, a, b: -g),
    "multiply":  (np.multiply,  lambda g, z, a, b: g * b, lambda g, z, a, b: g * a),
    "divide":    (np.divide,    lambda g, z, a, b: g / b, lambda g, z, a, b: -g * a / b**2),
    "power":     (np.power,     lambda g, z, a, b: g * _zero_where(b == 0, lambda: b * np.power(a, b - 1)),
                                lambda g, z, a, b: g * _zero_where(z == 0, lambda: z * np.log(a))),
    "negative":  (np.negative,  lambda g, z, a: -g),
    "exp":       (np.exp,       lambda g, z, a: g * z),
    "log":       (np.log,       lambda g, z, a: g / a),
    "sqrt":      (np.sqrt,      lambda g, z, a: g / (2.0 * z)),
    "sin":       (np.sin,       lambda g, z, a: g * np.cos(a)),
    "cos":       (np.cos,       lambda g, z, a: -g * np.sin(a)),
    "tanh":      (np.tanh,      lambda g, z, a: g * (1.0 - z**2)),
    "sigmoid":   (_sigmoid,     lambda g, z, a: g * z * (1.0 - z)),
    "relu":      (lambda a: np.maximum(a, 0.0), lambda g, z, a: g * (z > 0)),
    "leaky_relu": (lambda a: np.where(a > 0, a, _LEAKY_SLOPE * a), lambda g, z, a: g * np.where(z > 0, 1.0, _LEAKY_SLOPE)),
    "softplus":  (lambda a: np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a))), lambda g, z, a: g * _sigmoid(a)),
    # d(a b) = da b + a db, with vectors taken as np.matmul does: (m,n)@(n,), (n,)@(n,p), (n,)@(n,)
    "matmul":    (np.matmul,    lambda g, z, a, b: (g @ b.T if a.ndim == 2 else b @ g) if b.ndim == 2
                                else (np.outer(g, b) if a.ndim == 2 else g * b),
                                lambda g, z, a, b: a.T @ g if a.ndim == 2
                                else (np.outer(a, g) if b.ndim == 2 else g * a)),
    "sum":       (lambda a, axes: np.sum(a, axis=axes, keepdims=True),
                  lambda g, z, a, axes: np.broadcast_to(g, a.shape)),
    "mean":      (lambda a, axes: np.mean(a, axis=axes, keepdims=True),
                  lambda g, z, a, axes: np.broadcast_to(g * (1.0 / math.prod(a.shape[i] for i in axes)), a.shape)),
    "logsumexp": (_logsumexp,   lambda g, z, a, axes: g * np.exp(a - z)),  # the softmax over the axes
    # softmax: J = diag(z) - z z^T; concat: operand i gets its slice of g
    "softmax":   (_softmax,     lambda g, z, a, axis: z * (g - np.sum(g * z, axis=axis, keepdims=True))),
    "getitem":   (lambda a, index: a[index],             lambda g, z, a, index: _scatter_add(g, a.shape, index)),
    "reshape":   (lambda a, shape: a.reshape(shape),      lambda g, z, a, shape: g.reshape(a.shape)),
    "transpose": (lambda a, axes: np.transpose(a, axes), lambda g, z, a, axes: np.transpose(g, np.argsort(axes))),
    "concat":    (lambda *parts, axis: np.concatenate(parts, axis),
                  lambda g, z, *parts, axis, i: np.split(g, np.cumsum([p.shape[axis] for p in parts[:-1]]), axis)[i]),
}

# -- Nodes ---------------------------------------------------------------------------------------


def _to_float_array(value, what="value"):
    """A number or array-like as a new float64 ndarray, with a clear error otherwise."""
    if isinstance(value, Node):
        raise TypeError(f"{what} must be a number or an array, not a {type(value).__name__} node")
    if np.iscomplexobj(value):
        raise TypeError(f"{what} must be a real number or an array of real numbers; got complex values")
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be a real number or an array of real numbers; got {type(value).__name__} "
                        f"({exc}). Convert it with np.asarray(..., dtype=float) first.") from None


def _shown(array):
    """A stored array as the user sees it: a NumPy scalar for shape (), the array otherwise."""
    return array[()] if array.ndim == 0 else array


class Node:
    """A vertex of the graph: a value and how it was computed (made by :func:`primitive`).

    The operations of this module back the operators ``+ - * / ** @``, unary ``-`` and NumPy
    indexing (the adjoint of a repeated index adds up); ``forward`` and ``vjps`` are the rule, as
    for :func:`primitive`.

    Attributes
    ----------
    value : numpy.float64 or ndarray of float64
        The value of the forward pass (a NumPy scalar for shape ``()``); also ``shape``, ``ndim``, ``size``.
    grad : numpy.float64, ndarray of float64 or None
        dy/d(node), set by :meth:`backward` on the nodes that depend on a Variable (``requires_grad``).
    parents, op, name : tuple of Node, str, str or None
    """

    __slots__ = ("_value", "parents", "op", "name", "grad", "requires_grad", "_forward", "_vjps")
    __array_ufunc__ = None  # NumPy defers to the reflected operators: np.ones(3) + x calls x.__radd__

    def __init__(self, value, parents=(), op="constant", name=None, forward=None, vjps=()):
        parents, vjps = tuple(parents), tuple(vjps)
        if len(vjps) != len(parents):
            raise ValueError(f"{op}: got {len(parents)} parents but {len(vjps)} vjp functions; give one per parent")
        self._value = _to_float_array(value)
        self.parents, self.op, self.name, self.grad = parents, op, name, None
        self.requires_grad = any(p.requires_grad for p in parents)
        self._forward, self._vjps = forward, vjps

    value = property(lambda self: _shown(self._value), doc="numpy.float64 or ndarray: the stored value.")
    shape = property(lambda self: self._value.shape, doc="tuple of int: shape of the value.")
    ndim = property(lambda self: self._value.ndim, doc="int: number of dimensions.")
    size = property(lambda self: self._value.size, doc="int: number of elements.")
    T = property(lambda self: transpose(self), doc="Node: the transpose, see :func:`transpose`.")

    def __float__(self):
        if self._value.size != 1:
            raise TypeError(f"only a node of size 1 converts to float; this one has shape {self.shape}")
        return float(self._value.reshape(()))

    def __repr__(self):
        label = f"name={self.name!r}, " if self.name is not None else ""
        return f"{type(self).__name__}({label}op={self.op!r}, shape={self.shape})"

    def backward(self):
        """Run the backward pass from this scalar node and store dy/du in ``u.grad``.

        Every node that depends on a :class:`Variable` gets its adjoint; a repeated call recomputes
        (does not accumulate into) the stored gradients.

        Raises
        ------
        ValueError
            If this node is not a scalar (shape ``()`` or size 1).
        """
        for node, adjoint in _adjoints(self).items():
            node.grad = _shown(adjoint)

    def __add__(self, other): return add(self, other)
    def __radd__(self, other): return add(other, self)
    def __sub__(self, other): return subtract(self, other)
    def __rsub__(self, other): return subtract(other, self)
    def __mul__(self, other): return multiply(self, other)
    def __rmul__(self, other): return multiply(other, self)
    def __truediv__(self, other): return divide(self, other)
    def __rtruediv__(self, other): return divide(other, self)
    def __pow__(self, other): return power(self, other)
    def __rpow__(self, other): return power(other, self)
    def __matmul__(self, other): return matmul(self, other)
    def __rmatmul__(self, other): return matmul(other, self)
    def __neg__(self): return negative(self)
    def __pos__(self): return self
    def __getitem__(self, index): return _getitem(self, index)
    def sum(self, axis=None, keepdims=False): return sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return mean(self, axis, keepdims)

    def reshape(self, *shape):
        """The node in a new shape, ``x.reshape(3, 2)`` or ``x.reshape((3, 2))``; see :func:`reshape`."""
        return reshape(self, tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)


class Variable(Node):
    """A differentiable input: a leaf of the graph whose gradient is wanted.

    Parameters
    ----------
    value : float or array_like
        Initial value, copied as float64; reassign it (same shape) and call :func:`evaluate`.
    name : str or None, default None
        Label shown in ``repr``, e.g. ``Variable(name='W', op='variable', shape=(2, 3))``.
    """

    __slots__ = ()

    def __init__(self, value, name=None):
        super().__init__(value, op="variable", name=name)
        self.requires_grad = True

    @property
    def value(self):
        """numpy.float64 or ndarray of float64: the current value; assignable with the same shape."""
        return _shown(self._value)

    @value.setter
    def value(self, new_value):
        new = _to_float_array(new_value, "the new value of a Variable")
        if new.shape != self._value.shape:
            raise ValueError(f"cannot change the shape of Variable {self.name!r} from {self._value.shape} to "
                             f"{new.shape}; the recorded graph was built for {self._value.shape}. "
                             "Build a new graph instead.")
        self._value = new


class Constant(Node):
    """A non-differentiable leaf; same parameters as :class:`Variable`. ``2 * x`` wraps its 2 as one."""

    __slots__ = ()

    def __init__(self, value, name=None):
        super().__init__(value, op="constant", name=name)


def constant(value, name=None):
    """Wrap a number or array as a :class:`Constant` node (same parameters)."""
    return Constant(value, name=name)


def _as_node(value):
    return value if isinstance(value, Node) else Constant(_to_float_array(value, "an operand"))


def primitive(op, forward, vjps, *operands):
    """Apply an operation given by its rule: compute its value now and record it in the graph.

    Parameters
    ----------
    op : str
        Name of the operation.
    forward : callable
        ``forward(*operand_values) -> value`` (float64 arrays in, array-like out).
    vjps : sequence of callable
        One per operand: ``vjp(g, out, *operand_values)``, its share (dy/du)(du/dvj) given the
        adjoint ``g`` and the value ``out`` of the result node (returned; its parents: the operands).
    *operands : Node, float or array_like
        Non-nodes are wrapped as constants.

    Examples
    --------
    >>> from fastnn import autodiff as ad
    >>> def cube(x):
    ...     return ad.primitive("cube", lambda a: a ** 3, [lambda g, out, a: g * 3 * a ** 2], x)
    >>> x = ad.Variable(2.0)
    >>> print(float(ad.grad(cube(x), x)))
    12.0
    """
    parents = tuple(_as_node(o) for o in operands)
    return Node(forward(*(p._value for p in parents)), parents=parents, op=op, forward=forward, vjps=vjps)


def _apply(name, *operands, **params):
    """Record rule ``name`` on the operands, its parameters (axes, index, ...) bound."""
    forward, *vjps = _RULES[name]
    if params:
        forward, vjps = partial(forward, **params), [partial(vjp, **params) for vjp in vjps]
    return primitive(name, forward, vjps, *operands)


# -- The algorithm: topological order, forward pass, backward pass -------------------------------


def _check_node(node, what="output"):
    if not isinstance(node, Node):
        raise TypeError(f"{what} must be a Node (an expression of ad.Variable), not {type(node).__name__}")
    return node


def topological_order(output):
    """The list of the nodes of the graph of ``output``, each once and after its parents (iterative DFS)."""
    _check_node(output)
    order, seen, stack = [], {output}, [(output, iter(output.parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent not in seen:
                seen.add(parent)
                stack.append((parent, iter(parent.parents)))
                break
        else:  # all parents are placed: place the node
            stack.pop()
            order.append(node)
    return order


def evaluate(output):
    """Rerun the forward pass of ``output`` (a Node) after ``x.value = ...``; return its new value."""
    for u in topological_order(output):
        if u.parents:  # u = g(v1, ..., vN), the vj already computed
            u._value = _to_float_array(u._forward(*(v._value for v in u.parents)))
    return output.value


def _unbroadcast(g, shape):
    """Sum a contribution back to the operand's ``shape`` over the axes broadcasting added or stretched."""
    g = np.asarray(g, dtype=np.float64)
    if g.shape != shape and g.ndim >= len(shape):
        g = g.sum(axis=tuple(range(g.ndim - len(shape))))
        g = g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1), keepdims=True)
    if g.shape != shape:
        raise RuntimeError(f"internal error: a contribution of shape {g.shape} for an operand of shape {shape}")
    return g


def _adjoints(output):
    """The backward pass ("Version B"): {node: dy/dnode} for the nodes that depend on a Variable."""
    _check_node(output)
    if output.size != 1:
        raise ValueError(f"backward needs a scalar output, but this node has shape {output.shape}; "
                         "reduce it first, e.g. with ad.sum(y) or ad.mean(y)")
    order = [u for u in topological_order(output) if u.requires_grad]
    adjoint = {u: np.zeros(u.shape) for u in order}  # every adjoint starts at 0 ...
    adjoint[output] = np.ones(output.shape)  # ... and dy/dy = 1
    for u in reversed(order):  # reverse topological order: u's adjoint is complete
        values = [v._value for v in u.parents]
        for v, vjp in zip(u.parents, u._vjps):
            if v.requires_grad:  # dy/dv += (dy/du)(du/dv)
                adjoint[v] += _unbroadcast(vjp(adjoint[u], u._value, *values), v.shape)
    return adjoint


def grad(output, wrt):
    """Gradient of a scalar node with respect to one or several nodes of its graph.

    Parameters
    ----------
    output : Node
        A scalar node (shape ``()`` or size 1), e.g. a loss.
    wrt : Node or sequence of Node
        Variables, or intermediate nodes that depend on one, in the graph of ``output``.

    Returns
    -------
    numpy.float64, ndarray of float64, or list of them
        d output / d node in each node's shape; a list when ``wrt`` is a sequence. The nodes'
        ``grad`` attributes are not changed.

    Raises
    ------
    ValueError
        If ``output`` is not a scalar, or a node of ``wrt`` is a constant or not in its graph.
    TypeError
        If ``output`` or an element of ``wrt`` is not a Node.
    """
    single = isinstance(wrt, Node)
    try:
        targets = [wrt] if single else list(wrt)
    except TypeError:
        raise TypeError(f"wrt must be a Node or a sequence of Nodes, not {type(wrt).__name__}") from None
    for i, t in enumerate(targets):
        _check_node(t, "wrt" if single else f"wrt[{i}]")
    adjoint = _adjoints(output)
    for t in targets:
        if t not in adjoint:
            if isinstance(t, Constant) or not t.requires_grad:
                reason = "it does not depend on any Variable (wrap the value as ad.Variable to differentiate it)"
            else:
                reason = "the output was not computed from it"
            raise ValueError(f"cannot differentiate with respect to {t!r}: {reason}")
    result = [_shown(adjoint[t].copy()) for t in targets]
    return result[0] if single else result


# -- The operations: check the operands, apply a rule ---------------------------------------------


def _named(op, name, summary, parameters, returns):
    """Name a generated operation and give it its numpydoc docstring."""
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"{summary}\n\nParameters\n----------\n{parameters}\n\nReturns\n-------\n{returns}\n"
    return op


def _unary(name, text):
    """The public function of the elementwise rule ``name`` of one operand."""
    def op(a):
        return _apply(name, _as_node(a))

    return _named(op, name, f"Elementwise {text}.", "a : Node, float or array_like", "Node\n    Same shape as ``a``.")


def _binary(name, text):
    """The public function of the elementwise rule ``name`` of two operands, which broadcast."""

    def op(a, b):
        a, b = _as_node(a), _as_node(b)
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(f"{name}: operands of shapes {a.shape} and {b.shape} do not broadcast together; "
                             "reshape one of them (NumPy broadcasting rules apply)") from None
        return _apply(name, a, b)

    return _named(op, name, f"Elementwise {text}, with NumPy broadcasting (ValueError if the shapes do not broadcast).",
                  "a, b : Node, float or array_like", "Node\n    Shape ``np.broadcast_shapes(a.shape, b.shape)``.")


def _normalize_axes(axis, ndim, op):
    """Axes as a sorted tuple of non-negative ints; None means all axes."""
    if axis is None:
        return tuple(range(ndim))
    result = []
    for ax in (axis,) if isinstance(axis, numbers.Integral) else tuple(axis):
        if not isinstance(ax, numbers.Integral):
            raise TypeError(f"{op}: axis must be an int, a tuple of ints or None; got {axis!r}")
        if not -ndim <= ax < ndim:
            raise ValueError(f"{op}: axis {ax} is out of range for a node with {ndim} dimensions")
        result.append(int(ax) % ndim if ndim else 0)
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(result))


def _reduction(name, what, like):
    """The public function of the reduction rule ``name``, which keeps the reduced axes."""

    def op(a, axis=None, keepdims=False):
        a = _as_node(a)
        axes = _normalize_axes(axis, a.ndim, name)
        if name == "mean" and 0 in (a.shape[i] for i in axes):
            raise ValueError(f"mean: cannot average over an empty axis (shape {a.shape})")
        forward, vjp = _RULES[name]
        kept = (lambda v: v) if keepdims else partial(np.expand_dims, axis=axes)
        squeezed = (lambda v: v) if keepdims else partial(np.squeeze, axis=axes)
        vjps = [lambda g, z, v: vjp(kept(g), kept(z), v, axes)]
        return primitive(name, lambda v: squeezed(forward(v, axes)), vjps, a)

    return _named(op, name, f"{what} over the given axes, as ``{like}``.",
                  "a : Node or array_like\naxis : int, tuple of int or None, default None\n    Axes to reduce; None "
                  "reduces every element.\nkeepdims : bool, default False\n    Keep the reduced axes with length 1.",
                  "Node")


add = _binary("add", "sum a + b")
subtract = _binary("subtract", "difference a - b")
multiply = _binary("multiply", "product a * b")
divide = _binary("divide", "quotient a / b")
power = _binary("power", "power a ** b (x ** c, c ** x or x ** y; d/db = a^b log a is NaN for a < 0)")
negative = _unary("negative", "negation -a")
exp = _unary("exp", "exponential e^a")
log = _unary("log", "natural logarithm (NaN for a < 0, -inf at 0, as in NumPy)")
sqrt = _unary("sqrt", "square root")
sin = _unary("sin", "sine")
cos = _unary("cos", "cosine")
tanh = _unary("tanh", "hyperbolic tangent")
sigmoid = _unary("sigmoid", "logistic sigmoid 1 / (1 + e^-a), derivative z (1 - z); never overflows")
relu = _unary("relu", "rectified linear unit max(a, 0), derivative [z > 0]")
leaky_relu = _unary("leaky_relu", "leaky rectifier: a for a > 0, else 0.01 a; derivative 1 or 0.01")
softplus = _unary("softplus", "``log(1 + e^a) = max(a, 0) + log1p(e^-|a|)``, derivative sigmoid(a); never overflows")
sum = _reduction("sum", "Sum of the elements", "np.sum")  # noqa: A001 (mirrors np.sum)
mean = _reduction("mean", "Mean of the elements", "np.mean")
logsumexp = _reduction("logsumexp", "log(sum(e^a)), the maximum subtracted first,", "scipy.special.logsumexp")


def matmul(a, b):
    """Matrix product a @ b of 1-D or 2-D operands (Nodes or arrays) as ``np.matmul``, else ValueError."""
    a, b = _as_node(a), _as_node(b)
    if a.ndim not in (1, 2) or b.ndim not in (1, 2):
        raise ValueError(f"matmul: operands must be 1-D or 2-D; got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned (the last dimension of the first, "
                         f"{a.shape[-1]}, must equal the first of the second, {b.shape[0]})")
    return _apply("matmul", a, b)


def softmax(a, axis=-1):
    """Softmax e^a / sum(e^a) of a Node (at least 1-D) along ``axis`` (int), the maximum subtracted first."""
    a = _as_node(a)
    if a.ndim == 0:
        raise ValueError("softmax: the operand must be at least 1-D; got a scalar")
    (ax,) = _normalize_axes(axis, a.ndim, "softmax")
    return _apply("softmax", a, axis=ax)


def _getitem(a, index):
    if isinstance(index, Node) or (isinstance(index, tuple) and any(isinstance(i, Node) for i in index)):
        raise TypeError("an index must be an int, slice or array, not a Node; use node.value if it is data")
    np.empty(a.shape)[index]  # raise NumPy's IndexError now, while the graph is being built
    return _apply("getitem", a, index=index)


def concat(nodes, axis=0):
    """Join nodes along an existing axis (int) as ``np.concatenate``; ``concat([constant([1.0]), z])`` is [1; z].

    The nodes (or arrays) have the same number of dimensions, at least 1, and the same shape except
    along ``axis``; otherwise ValueError.
    """
    parents = [_as_node(n) for n in nodes]
    if not parents:
        raise ValueError("concat: need at least one operand")
    shapes, ndim = [p.shape for p in parents], parents[0].ndim
    if ndim == 0 or any(p.ndim != ndim for p in parents):
        raise ValueError(f"concat: operands must have the same number of dimensions, at least 1; got shapes {shapes}")
    (ax,) = _normalize_axes(axis, ndim, "concat")
    if len({s[:ax] + s[ax + 1:] for s in shapes}) != 1:
        raise ValueError(f"concat: shapes {shapes} differ outside axis {ax}; they must match there")
    forward, vjp = _RULES["concat"]
    vjps = [partial(vjp, axis=ax, i=i) for i in range(len(parents))]
    return primitive("concat", partial(forward, axis=ax), vjps, *parents)


def reshape(a, shape):
    """The elements of ``a`` in a new ``shape`` (int or tuple, one entry may be -1), as ``np.reshape``."""
    a = _as_node(a)
    try:
        new_shape = np.empty(a.shape).reshape(shape).shape
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a node of shape {a.shape} into {shape}") from None
    return _apply("reshape", a, shape=new_shape)


def transpose(a, axes=None):
    """Permute the axes of ``a`` (a sequence of int; None reverses them), as ``np.transpose``."""
    a = _as_node(a)
    perm = tuple(range(a.ndim))[::-1] if axes is None else tuple(axes)
    if len(perm) != a.ndim:
        raise ValueError(f"transpose: axes {axes!r} are not a permutation of the {a.ndim} axes")
    _normalize_axes(perm, a.ndim, "transpose")  # range and repeats
    return _apply("transpose", a, axes=tuple(int(p) % a.ndim for p in perm))


# -- Losses, the network and the pictures: composed from the operations above ----------------------
# (in fastnn._autodiff_lecture, which imports this module's names: hence at the end)
from ._autodiff_lecture import (  # noqa: E402
    SHOW_CHOICES, binary_cross_entropy_with_logit, draw, network_logits, network_loss, network_proba,
    softmax_cross_entropy, to_dot,
)
