"""Reverse-mode automatic differentiation on a computation graph.

Backpropagation for a network is one case of a general algorithm. This module implements that
algorithm in pure Python and NumPy, small enough to read in one sitting, so that it can be run
by hand and so that the gradients of fastnn's C engine can be checked by a method that shares no
derivation with them.

The algorithm
-------------
*Recording.* Every operation on :class:`Node` objects creates a new node that remembers its
parents (the nodes it was computed from) and the local derivatives of the operation. Building
an expression therefore records a directed acyclic graph (DAG) whose leaves are
:class:`Variable` (differentiable inputs) and :class:`Constant` nodes (anything else, including
plain Python numbers and NumPy arrays, which are wrapped automatically).

*Forward computation.* Visit the nodes in topological order (parents before children) and
store each value at its node, u = g(v1, ..., vN). Values are computed eagerly when a node is
built; :func:`evaluate` runs the same forward pass again after a variable's value has changed,
and :func:`topological_order` lists the order.

*Backward computation* ("Version B"). Initialise every adjoint dy/du to 0 and set dy/dy = 1.
Visit the nodes in reverse topological order; for each node u = g(v1, ..., vN) and each parent
vj, increment dy/dvj by (dy/du)(du/dvj). When u is an array, (dy/du)(du/dvj) is the
vector-Jacobian product of the operation, and for elementwise operations that broadcast it is
summed back to the shape of vj. A node used twice receives both contributions, and a shared
subexpression is computed once. The topological sort is iterative, so the depth of the graph is
not limited by Python's recursion limit.

Gradients have the shape of the variable they belong to (denominator layout).

Example
-------
The lecture's example, J = cos(sin(x^2) + 3 x^2), whose derivative by hand is
dJ/dx = -sin(sin(x^2) + 3 x^2) (cos(x^2) 2x + 6x):

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
>>> by_hand = -np.sin(np.sin(4.0) + 12.0) * (np.cos(4.0) * 4.0 + 12.0)
>>> print(f"{by_hand:.10f}")
9.0991485448

Arrays broadcast as in NumPy, and :func:`grad` returns gradients without touching the nodes:

>>> W = ad.Variable(np.array([[1.0, 2.0], [3.0, 4.0]]), name="W")
>>> v = ad.Variable(np.array([0.5, -1.0]), name="v")
>>> y = ad.sum(ad.sigmoid(W @ v + 1.0))
>>> dW, dv = ad.grad(y, [W, v])
>>> dW.shape, dv.shape
((2, 2), (2,))

The network of :class:`fastnn.Network` (hidden layers z = sigmoid(W [1; z_prev]), bias in
column 0) is built by :func:`network_loss`.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "Node",
    "Variable",
    "Constant",
    "constant",
    "primitive",
    "topological_order",
    "evaluate",
    "grad",
    "add",
    "subtract",
    "multiply",
    "divide",
    "negative",
    "power",
    "matmul",
    "sum",
    "mean",
    "exp",
    "log",
    "sqrt",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "softplus",
    "softmax",
    "logsumexp",
    "concat",
    "reshape",
    "transpose",
    "softmax_cross_entropy",
    "binary_cross_entropy_with_logit",
    "network_logits",
    "network_proba",
    "network_loss",
]

_builtin_sum = sum


# ----------------------------------------------------------------------------------------------
# Nodes
# ----------------------------------------------------------------------------------------------


def _to_float_array(value, what="value"):
    """Convert a number or array-like to a float64 ndarray, with a clear error otherwise."""
    if isinstance(value, Node):
        raise TypeError(f"{what} must be a number or an array, not a {type(value).__name__} node")
    if np.iscomplexobj(value):
        raise TypeError(f"{what} must be a real number or an array of real numbers; got complex values")
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{what} must be a real number or an array of real numbers; got {type(value).__name__} "
            f"({exc}). Convert it with np.asarray(..., dtype=float) first."
        ) from None
    return array


def _shown(array):
    """Present a stored array to the user: a NumPy scalar for shape (), the array otherwise."""
    return array[()] if array.ndim == 0 else array


class Node:
    """A vertex of the computation graph: a value and how it was computed.

    Nodes are created by :class:`Variable`, :class:`Constant` and the operations of this module
    (``+ - * / ** @``, unary ``-``, indexing, and the functions such as :func:`exp`); a new
    primitive operation is defined with :func:`primitive`.

    Parameters
    ----------
    value : float or array_like
        The node's value; stored as a float64 ndarray.
    parents : tuple of Node, default ()
        The nodes this one was computed from, in the order of the operation's arguments.
    op : str, default "constant"
        Name of the operation, e.g. ``"add"``.
    forward : callable or None, default None
        ``forward(*parent_values) -> value``; used by :func:`evaluate` to recompute the node.
    vjps : tuple of callable, default ()
        One per parent: ``vjp(g, out, *parent_values)`` returns (dy/du)(du/dvj), the
        contribution to the parent's adjoint given the adjoint ``g`` of this node (shape of the
        node) and its value ``out``. A result with the broadcast shape of the operation is summed
        back to the parent's shape.
    name : str or None, default None
        Optional label, shown in ``repr``.

    Attributes
    ----------
    value : numpy.float64 or ndarray of float64
        The value computed by the forward pass (a NumPy scalar when the shape is ``()``).
    grad : numpy.float64, ndarray of float64 or None
        dy/d(node), same shape as ``value``, set by :meth:`backward` on every node that depends on
        a :class:`Variable`; ``None`` before.
    parents : tuple of Node
    op : str
    name : str or None
    requires_grad : bool
        True for variables and for every node that depends on one.
    """

    __slots__ = ("_value", "parents", "op", "name", "grad", "requires_grad", "_forward", "_vjps")

    # Make NumPy defer to Node's reflected operators: ``np.ones(3) + x`` calls ``x.__radd__``.
    __array_ufunc__ = None

    def __init__(self, value, parents=(), op="constant", name=None, forward=None, vjps=()):
        parents = tuple(parents)
        vjps = tuple(vjps)
        if len(vjps) != len(parents):
            raise ValueError(f"{op}: got {len(parents)} parents but {len(vjps)} vjp functions; give one per parent")
        self._value = _to_float_array(value)
        self.parents = parents
        self.op = op
        self.name = name
        self.grad = None
        self.requires_grad = any(p.requires_grad for p in parents)
        self._forward = forward
        self._vjps = vjps

    # -- value and shape ------------------------------------------------------------------------

    @property
    def value(self):
        """numpy.float64 or ndarray of float64: the value stored by the forward pass."""
        return _shown(self._value)

    @property
    def shape(self):
        """tuple of int: shape of the value."""
        return self._value.shape

    @property
    def ndim(self):
        """int: number of dimensions of the value."""
        return self._value.ndim

    @property
    def size(self):
        """int: number of elements of the value."""
        return self._value.size

    def __float__(self):
        """The value as a Python float (nodes of size 1 only)."""
        if self._value.size != 1:
            raise TypeError(f"only a node of size 1 converts to float; this one has shape {self.shape}")
        return float(self._value.reshape(()))

    def __repr__(self):
        label = f"name={self.name!r}, " if self.name is not None else ""
        return f"{type(self).__name__}({label}op={self.op!r}, shape={self.shape})"

    # -- backward -------------------------------------------------------------------------------

    def backward(self):
        """Run the backward pass from this scalar node and store dy/du in ``u.grad``.

        Every node of the graph that depends on a :class:`Variable` gets its adjoint; a
        repeated call recomputes (it does not accumulate into) the stored gradients.

        Raises
        ------
        ValueError
            If this node is not a scalar (shape ``()`` or size 1).

        Examples
        --------
        >>> from fastnn import autodiff as ad
        >>> x = ad.Variable(3.0)
        >>> y = x * x
        >>> y.backward()
        >>> float(x.grad)
        6.0
        """
        for node, adjoint in _adjoints(self).items():
            node.grad = _shown(adjoint)

    # -- operators ------------------------------------------------------------------------------

    def __add__(self, other):
        """``self + other``, see :func:`add`."""
        return add(self, other)

    def __radd__(self, other):
        """``other + self``, see :func:`add`."""
        return add(other, self)

    def __sub__(self, other):
        """``self - other``, see :func:`subtract`."""
        return subtract(self, other)

    def __rsub__(self, other):
        """``other - self``, see :func:`subtract`."""
        return subtract(other, self)

    def __mul__(self, other):
        """``self * other``, see :func:`multiply`."""
        return multiply(self, other)

    def __rmul__(self, other):
        """``other * self``, see :func:`multiply`."""
        return multiply(other, self)

    def __truediv__(self, other):
        """``self / other``, see :func:`divide`."""
        return divide(self, other)

    def __rtruediv__(self, other):
        """``other / self``, see :func:`divide`."""
        return divide(other, self)

    def __neg__(self):
        """``-self``, see :func:`negative`."""
        return negative(self)

    def __pos__(self):
        """``+self``: the node itself."""
        return self

    def __pow__(self, other):
        """``self ** other``, see :func:`power`."""
        return power(self, other)

    def __rpow__(self, other):
        """``other ** self``, see :func:`power`."""
        return power(other, self)

    def __matmul__(self, other):
        """``self @ other``, see :func:`matmul`."""
        return matmul(self, other)

    def __rmatmul__(self, other):
        """``other @ self``, see :func:`matmul`."""
        return matmul(other, self)

    def __getitem__(self, index):
        """``self[index]``: NumPy indexing (integers, slices, integer or boolean arrays).

        The adjoint of the indexed elements is scattered back with ``np.add.at``, so an index
        that repeats an element adds up its contributions.
        """
        return _getitem(self, index)

    @property
    def T(self):
        """Node: the transpose, see :func:`transpose`."""
        return transpose(self)

    def reshape(self, *shape):
        """The node with a new shape, see :func:`reshape`.

        Parameters
        ----------
        *shape : int or tuple of int
            The new shape, as for ``ndarray.reshape``.

        Returns
        -------
        Node
        """
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return reshape(self, shape)

    def sum(self, axis=None, keepdims=False):
        """Sum of elements, see :func:`sum`.

        Parameters
        ----------
        axis : int, tuple of int or None, default None
        keepdims : bool, default False

        Returns
        -------
        Node
        """
        return sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        """Mean of elements, see :func:`mean`.

        Parameters
        ----------
        axis : int, tuple of int or None, default None
        keepdims : bool, default False

        Returns
        -------
        Node
        """
        return mean(self, axis=axis, keepdims=keepdims)


class Variable(Node):
    """A differentiable input: a leaf of the graph whose gradient is wanted.

    Parameters
    ----------
    value : float or array_like
        Initial value; copied and stored as float64.
    name : str or None, default None
        Optional label, shown in ``repr``.

    Notes
    -----
    ``value`` may be reassigned (same shape) and the graph recomputed with :func:`evaluate`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn import autodiff as ad
    >>> W = ad.Variable(np.zeros((2, 3)), name="W")
    >>> W
    Variable(name='W', op='variable', shape=(2, 3))
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
            raise ValueError(
                f"cannot change the shape of Variable {self.name!r} from {self._value.shape} to {new.shape}; "
                f"the recorded graph was built for {self._value.shape}. Build a new graph instead."
            )
        self._value = new


class Constant(Node):
    """A non-differentiable leaf: a number or array used in an expression.

    Python numbers and NumPy arrays are wrapped as constants automatically (``2 * x``,
    ``x + np.ones(3)``).

    Parameters
    ----------
    value : float or array_like
        The value; copied and stored as float64.
    name : str or None, default None
        Optional label, shown in ``repr``.
    """

    __slots__ = ()

    def __init__(self, value, name=None):
        super().__init__(value, op="constant", name=name)


def constant(value, name=None):
    """Wrap a number or array as a :class:`Constant` node.

    Parameters
    ----------
    value : float or array_like
        The value; stored as float64.
    name : str or None, default None
        Optional label.

    Returns
    -------
    Constant

    Examples
    --------
    >>> from fastnn import autodiff as ad
    >>> z = ad.Variable([0.2, 0.8])
    >>> ad.concat([ad.constant([1.0]), z]).value
    array([1. , 0.2, 0.8])
    """
    return Constant(value, name=name)


def _as_node(value):
    """Return ``value`` if it is a Node, else wrap it as a Constant."""
    if isinstance(value, Node):
        return value
    return Constant(_to_float_array(value, "an operand"))


def primitive(op, forward, vjps, *operands):
    """Apply a primitive operation: compute its value now and record it in the graph.

    Every operation of this module is built this way; it is public so that a new one can be
    added in a few lines.

    Parameters
    ----------
    op : str
        Name of the operation.
    forward : callable
        ``forward(*operand_values) -> value`` (float64 arrays in, array-like out).
    vjps : sequence of callable
        One per operand: ``vjp(g, out, *operand_values)`` returns the operand's contribution
        (dy/du)(du/dvj) given the adjoint ``g`` and the value ``out`` of the result.
    *operands : Node, float or array_like
        The arguments; non-nodes are wrapped as constants.

    Returns
    -------
    Node
        The result, whose parents are the operands.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn import autodiff as ad
    >>> def cube(x):
    ...     return ad.primitive("cube", lambda a: a ** 3, [lambda g, out, a: g * 3 * a ** 2], x)
    >>> x = ad.Variable(2.0)
    >>> print(float(ad.grad(cube(x), x)))
    12.0
    """
    parents = tuple(_as_node(o) for o in operands)
    value = forward(*(p._value for p in parents))
    return Node(value, parents=parents, op=op, forward=forward, vjps=vjps)


# ----------------------------------------------------------------------------------------------
# The algorithm: topological order, forward pass, backward pass
# ----------------------------------------------------------------------------------------------


def _check_node(node, what="output"):
    if not isinstance(node, Node):
        raise TypeError(f"{what} must be a Node (an expression of ad.Variable), not {type(node).__name__}")
    return node


def topological_order(output):
    """List the nodes of the graph of ``output``, every node after all of its parents.

    The sort is an iterative depth-first search (post-order), so graphs of any depth work.

    Parameters
    ----------
    output : Node
        The node whose ancestors (and itself) are listed.

    Returns
    -------
    list of Node
        Each node once; ``output`` is last.

    Examples
    --------
    >>> from fastnn import autodiff as ad
    >>> x = ad.Variable(1.0, name="x")
    >>> y = ad.exp(x) * x
    >>> [u.op for u in ad.topological_order(y)]
    ['variable', 'exp', 'multiply']
    """
    _check_node(output)
    order = []
    seen = {output}
    stack = [(output, iter(output.parents))]
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
    """Run the forward pass again: recompute every node in topological order.

    Use it after assigning new values to variables (``x.value = ...``).

    Parameters
    ----------
    output : Node
        The node to recompute, with all its ancestors.

    Returns
    -------
    numpy.float64 or ndarray of float64
        The new value of ``output``.

    Examples
    --------
    >>> from fastnn import autodiff as ad
    >>> x = ad.Variable(1.0)
    >>> y = 3 * x ** 2
    >>> x.value = 2.0
    >>> float(ad.evaluate(y))
    12.0
    """
    for u in topological_order(output):
        if u.parents:  # u = g(v1, ..., vN), the vj already computed
            u._value = _to_float_array(u._forward(*(v._value for v in u.parents)))
    return output.value


def _unbroadcast(contribution, shape):
    """Sum a contribution with a broadcast shape back to the operand's ``shape``."""
    g = np.asarray(contribution, dtype=np.float64)
    if g.shape == shape:
        return g
    n_lead = g.ndim - len(shape)
    if n_lead < 0:
        raise RuntimeError(f"internal error: a contribution of shape {g.shape} for an operand of shape {shape}")
    if n_lead:
        g = g.sum(axis=tuple(range(n_lead)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    if g.shape != shape:
        raise RuntimeError(f"internal error: a contribution of shape {g.shape} for an operand of shape {shape}")
    return g


def _adjoints(output):
    """The backward pass ("Version B"); returns {node: dy/dnode} for nodes that need one."""
    _check_node(output)
    if output.size != 1:
        raise ValueError(
            f"backward needs a scalar output, but this node has shape {output.shape}; "
            "reduce it first, e.g. with ad.sum(y) or ad.mean(y)"
        )
    order = [u for u in topological_order(output) if u.requires_grad]
    adjoint = {u: np.zeros(u.shape) for u in order}  # every adjoint starts at 0 ...
    adjoint[output] = np.ones(output.shape)  # ... and dy/dy = 1
    for u in reversed(order):  # reverse topological order: u's adjoint is complete
        g = adjoint[u]
        values = [v._value for v in u.parents]
        for v, vjp in zip(u.parents, u._vjps):
            if v.requires_grad:  # dy/dv += (dy/du)(du/dv)
                adjoint[v] += _unbroadcast(vjp(g, u._value, *values), v.shape)
    return adjoint


def grad(output, wrt):
    """Gradient of a scalar node with respect to one or several nodes of its graph.

    Parameters
    ----------
    output : Node
        A scalar node (shape ``()`` or size 1), e.g. a loss.
    wrt : Node or sequence of Node
        Variables (or intermediate nodes that depend on a variable) of the graph of ``output``.

    Returns
    -------
    numpy.float64, ndarray of float64, or list of them
        d output / d node, with the shape of each node (a NumPy scalar for shape ``()``); a list
        when ``wrt`` is a sequence, a single gradient when it is a node. The nodes' ``grad``
        attributes are not changed.

    Raises
    ------
    ValueError
        If ``output`` is not a scalar, or a node of ``wrt`` is not in the graph of ``output``
        (or is a constant).
    TypeError
        If ``output`` or an element of ``wrt`` is not a Node.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn import autodiff as ad
    >>> x = ad.Variable(np.array([1.0, 2.0]))
    >>> ad.grad(ad.sum(x ** 2), x)
    array([2., 4.])
    """
    single = isinstance(wrt, Node)
    try:
        targets = [wrt] if single else list(wrt)
    except TypeError:
        raise TypeError(f"wrt must be a Node or a sequence of Nodes, not {type(wrt).__name__}") from None
    for i, t in enumerate(targets):
        _check_node(t, f"wrt[{i}]" if not single else "wrt")
    adjoint = _adjoints(output)
    result = []
    for t in targets:
        if t not in adjoint:
            if isinstance(t, Constant) or not t.requires_grad:
                reason = "it does not depend on any Variable (wrap the value as ad.Variable to differentiate it)"
            else:
                reason = "the output was not computed from it"
            raise ValueError(f"cannot differentiate with respect to {t!r}: {reason}")
        result.append(_shown(adjoint[t].copy()))
    return result[0] if single else result


# ----------------------------------------------------------------------------------------------
# Elementwise arithmetic (NumPy broadcasting)
# ----------------------------------------------------------------------------------------------


def _binary(op, forward, vjps, a, b):
    a, b = _as_node(a), _as_node(b)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{op}: operands of shapes {a.shape} and {b.shape} do not broadcast together; "
            "reshape one of them (NumPy broadcasting rules apply)"
        ) from None
    return primitive(op, forward, vjps, a, b)


def add(a, b):
    """Elementwise sum a + b, with broadcasting.

    Parameters
    ----------
    a, b : Node, float or array_like
        Operands whose shapes broadcast together.

    Returns
    -------
    Node
        Shape ``np.broadcast_shapes(a.shape, b.shape)``.

    Raises
    ------
    ValueError
        If the shapes do not broadcast.
    """
    return _binary("add", np.add, (lambda g, out, a, b: g, lambda g, out, a, b: g), a, b)


def subtract(a, b):
    """Elementwise difference a - b, with broadcasting.

    Parameters
    ----------
    a, b : Node, float or array_like
        Operands whose shapes broadcast together.

    Returns
    -------
    Node
        Shape ``np.broadcast_shapes(a.shape, b.shape)``.

    Raises
    ------
    ValueError
        If the shapes do not broadcast.
    """
    return _binary("subtract", np.subtract, (lambda g, out, a, b: g, lambda g, out, a, b: -g), a, b)


def multiply(a, b):
    """Elementwise product a * b, with broadcasting.

    Parameters
    ----------
    a, b : Node, float or array_like
        Operands whose shapes broadcast together.

    Returns
    -------
    Node
        Shape ``np.broadcast_shapes(a.shape, b.shape)``.

    Raises
    ------
    ValueError
        If the shapes do not broadcast.
    """
    return _binary("multiply", np.multiply, (lambda g, out, a, b: g * b, lambda g, out, a, b: g * a), a, b)


def divide(a, b):
    """Elementwise quotient a / b, with broadcasting.

    Parameters
    ----------
    a, b : Node, float or array_like
        Operands whose shapes broadcast together.

    Returns
    -------
    Node
        Shape ``np.broadcast_shapes(a.shape, b.shape)``.

    Raises
    ------
    ValueError
        If the shapes do not broadcast.
    """
    # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
    return _binary("divide", np.divide, (lambda g, out, a, b: g / b, lambda g, out, a, b: -g * a / b**2), a, b)


def negative(a):
    """Elementwise negation -a.

    Parameters
    ----------
    a : Node, float or array_like

    Returns
    -------
    Node
        Same shape as ``a``.
    """
    return primitive("negative", np.negative, (lambda g, out, a: -g,), a)


def _power_vjp_base(g, out, a, b):
    # d(a^b)/da = b a^(b-1), taken as 0 where b = 0 (a^0 = 1 is constant in a)
    with np.errstate(divide="ignore", invalid="ignore"):
        return g * np.where(b == 0, 0.0, b * np.power(a, b - 1))


def _power_vjp_exponent(g, out, a, b):
    # d(a^b)/db = a^b log(a), taken as 0 where a^b = 0 (a = 0, b > 0); NaN for a < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return g * np.where(out == 0, 0.0, out * np.log(a))


def power(a, b):
    """Elementwise power a ** b, with broadcasting.

    Covers ``x ** c``, ``c ** x`` and ``x ** y``. The derivative with respect to the exponent,
    a^b log(a), is only computed when the exponent depends on a variable; it is NaN for a < 0.

    Parameters
    ----------
    a : Node, float or array_like
        Base.
    b : Node, float or array_like
        Exponent; its shape broadcasts with ``a``'s.

    Returns
    -------
    Node
        Shape ``np.broadcast_shapes(a.shape, b.shape)``.

    Raises
    ------
    ValueError
        If the shapes do not broadcast.
    """
    return _binary("power", np.power, (_power_vjp_base, _power_vjp_exponent), a, b)


# ----------------------------------------------------------------------------------------------
# Linear algebra and reductions
# ----------------------------------------------------------------------------------------------


def _matmul_vjp_left(g, out, a, b):
    if b.ndim == 1:
        return np.outer(g, b) if a.ndim == 2 else g * b
    return g @ b.T if a.ndim == 2 else b @ g


def _matmul_vjp_right(g, out, a, b):
    if a.ndim == 1:
        return np.outer(a, g) if b.ndim == 2 else g * a
    return a.T @ g


def matmul(a, b):
    """Matrix product a @ b of matrices and vectors (1-D or 2-D operands).

    Parameters
    ----------
    a : Node or array_like
        Shape ``(m, n)`` or ``(n,)``.
    b : Node or array_like
        Shape ``(n, p)`` or ``(n,)``.

    Returns
    -------
    Node
        Shape ``(m, p)``, ``(m,)``, ``(p,)`` or ``()`` as for ``np.matmul``.

    Raises
    ------
    ValueError
        If an operand is not 1-D or 2-D, or the inner dimensions differ.
    """
    a, b = _as_node(a), _as_node(b)
    if a.ndim not in (1, 2) or b.ndim not in (1, 2):
        raise ValueError(f"matmul: operands must be 1-D or 2-D; got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[0]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned "
            f"(the last dimension of the first, {a.shape[-1]}, must equal the first of the second, {b.shape[0]})"
        )
    return primitive("matmul", np.matmul, (_matmul_vjp_left, _matmul_vjp_right), a, b)


def _normalize_axes(axis, ndim, op):
    """Axes as a sorted tuple of non-negative ints; None means all axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    result = []
    for ax in axes:
        if not isinstance(ax, numbers.Integral):
            raise TypeError(f"{op}: axis must be an int, a tuple of ints or None; got {axis!r}")
        if not -ndim <= ax < ndim:
            raise ValueError(f"{op}: axis {ax} is out of range for a node with {ndim} dimensions")
        result.append(int(ax) % ndim if ndim else 0)
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(result))


def _reduce(op, forward, scale, a, axis, keepdims):
    a = _as_node(a)
    axes = _normalize_axes(axis, a.ndim, op)

    def vjp(g, out, a):
        g = g if keepdims else np.expand_dims(g, axes)
        return np.broadcast_to(g * scale, a.shape)

    return primitive(op, lambda a: forward(a, axis=axes, keepdims=keepdims), (vjp,), a)


def sum(a, axis=None, keepdims=False):  # noqa: A001 (mirrors np.sum)
    """Sum of elements over the given axes.

    Parameters
    ----------
    a : Node or array_like
    axis : int, tuple of int or None, default None
        Axes to sum over; None sums every element.
    keepdims : bool, default False
        Keep the summed axes with length 1.

    Returns
    -------
    Node
        As for ``np.sum(a, axis, keepdims=keepdims)``.
    """
    return _reduce("sum", np.sum, 1.0, a, axis, keepdims)


def mean(a, axis=None, keepdims=False):
    """Mean of elements over the given axes.

    Parameters
    ----------
    a : Node or array_like
    axis : int, tuple of int or None, default None
        Axes to average over; None averages every element.
    keepdims : bool, default False
        Keep the averaged axes with length 1.

    Returns
    -------
    Node
        As for ``np.mean(a, axis, keepdims=keepdims)``.
    """
    a = _as_node(a)
    axes = _normalize_axes(axis, a.ndim, "mean")
    n = int(np.prod([a.shape[ax] for ax in axes]))
    if n == 0:
        raise ValueError(f"mean: cannot average over an empty axis (shape {a.shape})")
    return _reduce("mean", np.mean, 1.0 / n, a, axes, keepdims)


# ----------------------------------------------------------------------------------------------
# Elementwise functions
# ----------------------------------------------------------------------------------------------


def _stable_sigmoid(a):
    """Two-branch sigmoid: 1/(1+e^-a) for a >= 0, e^a/(1+e^a) otherwise (no overflow)."""
    a = np.asarray(a, dtype=np.float64)
    z = np.empty_like(a)
    positive = a >= 0
    z[positive] = 1.0 / (1.0 + np.exp(-a[positive]))
    e = np.exp(a[~positive])
    z[~positive] = e / (1.0 + e)
    return z


def _stable_softplus(a):
    """log(1 + e^a) = max(a, 0) + log1p(e^-|a|) (no overflow)."""
    return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))


def _unary(op, forward, vjp, a):
    return primitive(op, forward, (vjp,), a)


def exp(a):
    """Elementwise e^a.

    Parameters
    ----------
    a : Node, float or array_like

    Returns
    -------
    Node
        Same shape as ``a``.
    """
    return _unary("exp", np.exp, lambda g, out, a: g * out, a)


def log(a):
    """Elementwise natural logarithm log(a) (NaN for a < 0, -inf at 0, as in NumPy).

    Parameters
    ----------
    a : Node, float or array_like

    Returns
    -------
    Node
        Same shape as ``a``.
    """
    return _unary("log", np.log, lambda g, out, a: g / a, a)


def sqrt(a):
    """Elementwise square root.

    Parameters
    ----------
    a : Node, float or array_like

    Returns
    -------
    Node
        Same shape as ``a``.
    """
    return _unary("sqrt", np.sqrt, lambda g, out, a: g / (2.0 * out), a)


def sin(a):
    """Elementwise sine.

    Parameters
    ----------
    a : Node, float or array_like

    Returns
    -------
    Node
        Same shape as ``a``.
    """
    return _unary("sin", np.sin, lambda g, out, a: g * np.cos(a), a)


def cos(a):
    """Elementwise cosine.

    Parameters
    ----------
    a : Node, float or array_like

    Returns
    -------
    Node
        Same shape as ``a``.
    """
    return _unary("cos", np.cos, lambda g, out, a: -g * np.sin(a), a)


def tanh(a):
    """Elementwise hyperbolic tangent.

    Parameters
    ----------
    a : Node, float or array_like

    Returns
    -------
    Node
        Same shape as ``a``.
    """
    return _unary("tanh", np.tanh, lambda g, out, a: g * (1.0 - out**2), a)


def sigmoid(a):
    """Elementwise logistic sigmoid 1 / (1 + e^-a), computed without overflow.

    Parameters
    ----------
    a : Node, float or array_like

    Returns
    -------
    Node
        Same shape as ``a``; derivative z (1 - z) from the stored output z.
    """
    return _unary("sigmoid", _stable_sigmoid, lambda g, out, a: g * out * (1.0 - out), a)


def softplus(a):
    """Elementwise log(1 + e^a), computed without overflow (log1p form).

    Parameters
    ----------
    a : Node, float or array_like

    Returns
    -------
    Node
        Same shape as ``a``; its derivative is sigmoid(a).
    """
    return _unary("softplus", _stable_softplus, lambda g, out, a: g * _stable_sigmoid(a), a)


def softmax(a, axis=-1):
    """Softmax e^a / sum(e^a) along one axis, with the maximum subtracted first.

    Parameters
    ----------
    a : Node or array_like
        At least 1-D.
    axis : int, default -1
        The axis along which the result sums to 1.

    Returns
    -------
    Node
        Same shape as ``a``.
    """
    a = _as_node(a)
    if a.ndim == 0:
        raise ValueError("softmax: the operand must be at least 1-D; got a scalar")
    (ax,) = _normalize_axes(axis, a.ndim, "softmax")

    def forward(a):
        e = np.exp(a - np.max(a, axis=ax, keepdims=True))
        return e / np.sum(e, axis=ax, keepdims=True)

    def vjp(g, out, a):  # J^T g for J = diag(z) - z z^T
        return out * (g - np.sum(g * out, axis=ax, keepdims=True))

    return primitive("softmax", forward, (vjp,), a)


def logsumexp(a, axis=None, keepdims=False):
    """log(sum(e^a)) over the given axes, with the maximum subtracted first.

    Parameters
    ----------
    a : Node or array_like
    axis : int, tuple of int or None, default None
        Axes to reduce; None reduces every element.
    keepdims : bool, default False
        Keep the reduced axes with length 1.

    Returns
    -------
    Node
        As for ``scipy.special.logsumexp``; its gradient is the softmax over the reduced axes.
    """
    a = _as_node(a)
    axes = _normalize_axes(axis, a.ndim, "logsumexp")

    def forward_keepdims(a):
        m = np.max(a, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        return m + np.log(np.sum(np.exp(a - m), axis=axes, keepdims=True))

    def forward(a):
        lse = forward_keepdims(a)
        return lse if keepdims else np.squeeze(lse, axis=axes)

    def vjp(g, out, a):
        g = g if keepdims else np.expand_dims(g, axes)
        return g * np.exp(a - forward_keepdims(a))

    return primitive("logsumexp", forward, (vjp,), a)


# ----------------------------------------------------------------------------------------------
# Indexing and shapes
# ----------------------------------------------------------------------------------------------


def _getitem(a, index):
    a = _as_node(a)
    if isinstance(index, Node) or (isinstance(index, tuple) and any(isinstance(i, Node) for i in index)):
        raise TypeError("an index must be an int, slice or array, not a Node; use node.value if it is data")
    np.empty(a.shape)[index]  # raise NumPy's IndexError now, while the graph is being built

    def vjp(g, out, a):
        scattered = np.zeros(a.shape)
        np.add.at(scattered, index, g)
        return scattered

    return primitive("getitem", lambda a: a[index], (vjp,), a)


def concat(nodes, axis=0):
    """Join nodes along an existing axis, like ``np.concatenate``.

    Parameters
    ----------
    nodes : sequence of Node, float or array_like
        At least one operand, all with the same number of dimensions (at least 1) and the same
        shape except along ``axis``.
    axis : int, default 0

    Returns
    -------
    Node

    Raises
    ------
    ValueError
        If ``nodes`` is empty or the shapes do not fit together.

    Examples
    --------
    Prepend the bias input 1 to a layer's activations, [1; z]:

    >>> from fastnn import autodiff as ad
    >>> z = ad.Variable([0.5, 0.25])
    >>> ad.concat([ad.constant([1.0]), z]).value
    array([1.  , 0.5 , 0.25])
    """
    parents = [_as_node(n) for n in nodes]
    if not parents:
        raise ValueError("concat: need at least one operand")
    shapes = [p.shape for p in parents]
    ndim = parents[0].ndim
    if ndim == 0 or any(p.ndim != ndim for p in parents):
        raise ValueError(f"concat: operands must have the same number of dimensions, at least 1; got shapes {shapes}")
    (ax,) = _normalize_axes(axis, ndim, "concat")
    if len({s[:ax] + s[ax + 1 :] for s in shapes}) != 1:
        raise ValueError(f"concat: shapes {shapes} differ outside axis {ax}; they must match there")
    ends = np.cumsum([s[ax] for s in shapes])
    starts = ends - np.array([s[ax] for s in shapes])

    def piece(start, end):
        def vjp(g, out, *values):
            index = [slice(None)] * ndim
            index[ax] = slice(start, end)
            return g[tuple(index)]

        return vjp

    vjps = [piece(int(s), int(e)) for s, e in zip(starts, ends)]
    return primitive("concat", lambda *values: np.concatenate(values, axis=ax), vjps, *parents)


def reshape(a, shape):
    """The same elements with a new shape (C order), like ``np.reshape``.

    Parameters
    ----------
    a : Node or array_like
    shape : int or tuple of int
        The new shape; one entry may be -1.

    Returns
    -------
    Node

    Raises
    ------
    ValueError
        If the number of elements differs.
    """
    a = _as_node(a)
    try:
        new_shape = np.empty(a.shape).reshape(shape).shape
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a node of shape {a.shape} into {shape}") from None
    return primitive("reshape", lambda a: a.reshape(new_shape), (lambda g, out, a: g.reshape(a.shape),), a)


def transpose(a, axes=None):
    """Permute the axes, like ``np.transpose`` (reverse them by default).

    Parameters
    ----------
    a : Node or array_like
    axes : sequence of int or None, default None
        The permutation; None reverses the axes.

    Returns
    -------
    Node
    """
    a = _as_node(a)
    perm = tuple(range(a.ndim))[::-1] if axes is None else tuple(axes)
    if len(perm) != a.ndim:
        raise ValueError(f"transpose: axes {axes!r} are not a permutation of the {a.ndim} axes")
    _normalize_axes(perm, a.ndim, "transpose")  # range and repeats
    perm = tuple(int(p) % a.ndim for p in perm)
    inverse = tuple(np.argsort(perm))
    return primitive("transpose", lambda a: np.transpose(a, perm), (lambda g, out, a: np.transpose(g, inverse),), a)


# ----------------------------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------------------------


def _check_class_label(label, n_classes):
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, numbers.Integral):
        raise TypeError(f"the label must be an integer class index 0..{n_classes - 1}; got {label!r}")
    if not 0 <= label < n_classes:
        raise ValueError(f"the label {label} is outside 0..{n_classes - 1} for {n_classes} classes")
    return int(label)


def softmax_cross_entropy(logits, label):
    """Cross-entropy of softmax(logits) for one sample: logsumexp(b) - b_y.

    Built from :func:`logsumexp` and indexing, so it never overflows and its gradient,
    softmax(b) - onehot(y), comes out of the chain rule.

    Parameters
    ----------
    logits : Node or array_like
        The logits b, shape ``(K,)`` with K >= 2.
    label : int
        The true class y in 0..K-1.

    Returns
    -------
    Node
        Scalar (shape ``()``), -log softmax(b)_y.

    Raises
    ------
    ValueError
        If ``logits`` is not 1-D with at least 2 entries or ``label`` is out of range.
    TypeError
        If ``label`` is not an integer.
    """
    b = _as_node(logits)
    if b.ndim != 1 or b.shape[0] < 2:
        raise ValueError(f"softmax_cross_entropy: logits must have shape (K,) with K >= 2; got {b.shape}")
    y = _check_class_label(label, b.shape[0])
    return logsumexp(b) - b[y]


def binary_cross_entropy_with_logit(logit, label):
    """Binary cross-entropy of sigmoid(a) for one sample, from the logit a.

    J = -y log sigmoid(a) - (1 - y) log(1 - sigmoid(a)) = log(1 + e^a) - y a, computed with
    :func:`softplus` (log1p form), so it never overflows.

    Parameters
    ----------
    logit : Node, float or array_like
        The logit a, a single value (shape ``()`` or ``(1,)``).
    label : float
        The target y in [0, 1] (0 or 1 for a class label).

    Returns
    -------
    Node
        Scalar (shape ``()``).

    Raises
    ------
    ValueError
        If ``logit`` holds more than one value or ``label`` is outside [0, 1].
    TypeError
        If ``label`` is not a real number.
    """
    a = _as_node(logit)
    if a.size != 1:
        raise ValueError(f"binary_cross_entropy_with_logit: the logit must be a single value; got shape {a.shape}")
    if isinstance(label, Node) or not isinstance(label, numbers.Real):
        raise TypeError(f"the label must be a number in [0, 1]; got {label!r}")
    if not 0.0 <= label <= 1.0:
        raise ValueError(f"the label must be in [0, 1] (0 or 1 for a class); got {label}")
    if a.shape != ():
        a = reshape(a, ())
    return softplus(a) - float(label) * a


# ----------------------------------------------------------------------------------------------
# The network of fastnn.Network
# ----------------------------------------------------------------------------------------------

_OUTPUTS = ("softmax", "sigmoid")


def _check_network(weights, x, output=None):
    """Wrap and check the layers and sample; ``output=None`` skips the output-layer checks."""
    if output is not None and output not in _OUTPUTS:
        raise ValueError(f"output must be 'softmax' or 'sigmoid'; got {output!r}")
    weights = [_as_node(W) for W in weights]
    if not weights:
        raise ValueError("weights must hold at least one layer, shape (n_out, n_in + 1)")
    x = _as_node(x)
    if x.ndim != 1:
        raise ValueError(f"x must be one sample of shape (n_features,); got shape {x.shape}")
    n_in = x.shape[0]
    for i, W in enumerate(weights):
        if W.ndim != 2 or W.shape[1] != n_in + 1:
            raise ValueError(
                f"weights[{i}] has shape {W.shape}; expected (n_out, {n_in + 1}): "
                f"{n_in} inputs plus the bias column 0"
            )
        n_in = W.shape[0]
    n_out = weights[-1].shape[0]
    if output == "sigmoid" and n_out != 1:
        raise ValueError(f"a sigmoid output has one unit; the last layer has {n_out} (shape {weights[-1].shape})")
    if output == "softmax" and n_out < 2:
        raise ValueError(f"a softmax output needs K >= 2 units; the last layer has {n_out}")
    return weights, x


def network_logits(weights, x):
    """The output layer's pre-activation for one sample.

    Hidden layers compute z = sigmoid(W [1; z_prev]) starting from z = x; the last layer
    returns a = W [1; z] (the logits).

    Parameters
    ----------
    weights : sequence of Node or array_like
        One matrix per layer, shape ``(n_out, n_in + 1)`` with the bias in column 0, as
        ``fastnn.Network.weights_``; use :class:`Variable` objects to differentiate them.
    x : Node or array_like
        One sample, shape ``(n_features,)``.

    Returns
    -------
    Node
        Shape ``(n_out,)`` of the last layer.

    Raises
    ------
    ValueError
        If the layer shapes do not chain from ``x``.
    """
    weights, z = _check_network(weights, x)
    one = constant([1.0])
    for W in weights[:-1]:
        z = sigmoid(W @ concat([one, z]))
    return weights[-1] @ concat([one, z])


def network_proba(weights, x, output="softmax"):
    """Class probabilities for one sample, as a row of ``fastnn.Network.predict_proba``.

    Parameters
    ----------
    weights : sequence of Node or array_like
        One matrix per layer, shape ``(n_out, n_in + 1)``, bias in column 0.
    x : Node or array_like
        One sample, shape ``(n_features,)``.
    output : {"softmax", "sigmoid"}, default "softmax"
        Softmax over K >= 2 units, or one sigmoid unit giving ``[1 - p, p]``.

    Returns
    -------
    Node
        Shape ``(K,)``, summing to 1.
    """
    weights, x = _check_network(weights, x, output)
    a = network_logits(weights, x)
    if output == "softmax":
        return softmax(a)
    p = sigmoid(a)
    return concat([1.0 - p, p])


def network_loss(weights, x, y, output="softmax", l2=0.0):
    """Loss of one sample for the network of ``fastnn.Network``, as a graph node.

    Parameters
    ----------
    weights : sequence of Node or array_like
        One matrix per layer, shape ``(n_out, n_in + 1)`` with the bias in column 0; hidden
        layers compute z = sigmoid(W [1; z_prev]). Pass :class:`Variable` objects to get
        their gradients.
    x : Node or array_like
        One sample, shape ``(n_features,)``.
    y : int
        Its label, 0..K-1 for softmax, 0 or 1 for sigmoid.
    output : {"softmax", "sigmoid"}, default "softmax"
        Softmax with cross-entropy ``logsumexp(b) - b_y`` over the last layer's K >= 2 logits,
        or one sigmoid unit with binary cross-entropy from its logit.
    l2 : float, default 0.0
        Adds (l2 / 2) * ||W[:, 1:]||^2 summed over layers (biases excluded), the penalty of
        ``fastnn.Network(l2=...)`` in each per-sample update.

    Returns
    -------
    Node
        Scalar loss J.

    Raises
    ------
    ValueError
        If the shapes do not chain, the output type or label is invalid, or ``l2 < 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn import autodiff as ad
    >>> rng = np.random.default_rng(0)
    >>> alpha = ad.Variable(rng.normal(size=(4, 3)), name="alpha")  # 2 inputs -> 4 hidden
    >>> beta = ad.Variable(rng.normal(size=(3, 5)), name="beta")    # 4 hidden -> 3 classes
    >>> J = ad.network_loss([alpha, beta], np.array([0.5, -1.0]), 2)
    >>> g_alpha, g_beta = ad.grad(J, [alpha, beta])
    >>> g_alpha.shape, g_beta.shape
    ((4, 3), (3, 5))
    """
    weights, x = _check_network(weights, x, output)
    if not isinstance(l2, numbers.Real) or not l2 >= 0:
        raise ValueError(f"l2 must be a number >= 0; got {l2!r}")
    a = network_logits(weights, x)
    if output == "softmax":
        J = softmax_cross_entropy(a, y)
    else:
        if isinstance(y, (bool, np.bool_)) or not isinstance(y, numbers.Integral) or y not in (0, 1):
            raise ValueError(f"a sigmoid output needs the label 0 or 1; got {y!r}")
        J = binary_cross_entropy_with_logit(a, int(y))
    if l2:
        J = J + 0.5 * l2 * _builtin_sum(sum(W[:, 1:] ** 2) for W in weights)
    return J
