"""The parameter descriptions that both estimators' docstrings share, written once.

Each class docstring names a shared part by a placeholder line ``%(name)s`` in its Parameters
section; :func:`with_shared_parameter_docs` fills them in when the class is defined. The parts
that differ (defaults, what the score of early stopping is, the output layer) stay in each
class's own docstring.
"""

import textwrap

_SHARED = {
    "solver_alpha_batch_size": """\
solver : {"sgd", "adam", "lbfgs"}, default="sgd"
    sklearn's solvers with sklearn's meaning: ``"sgd"`` (with ``momentum``,
    ``nesterovs_momentum`` and the ``learning_rate`` schedule), ``"adam"`` (``beta_1``,
    ``beta_2``, ``epsilon``), both run by the engine per sample or per mini-batch, and
    ``"lbfgs"``, scipy's L-BFGS-B on the full-batch loss and gradient computed by the engine
    (``max_iter`` iterations, ``max_fun`` evaluations, ``tol`` on the gradient; no
    ``partial_fit``). sklearn's default is ``"adam"``; fastnn's stays plain SGD.
alpha : float, default=0.0001
    Strength of the L2 penalty ``(alpha / 2) * sum ||coefs_||^2``, applied in every update
    as ``alpha * W``. For ``batch_size=1`` this is exactly sklearn's update. For mini-batches
    sklearn divides the penalty by the batch's total weight, fastnn does not: the
    objective, ``mean(J) + (alpha / 2) ||W||^2``, is then the same for every batch size.
batch_size : int or "auto", default=1
    Rows per update. 1 is true per-sample SGD; ``"auto"`` is sklearn's default,
    ``min(200, n_samples)``. A value above the number of training rows is clipped with a
    warning, as in sklearn.
""",
    "max_iter_shuffle_random_state": """\
max_iter : int, default=200
    Maximum number of epochs (passes over the training rows).
shuffle : bool, default=True
    Visit the rows in a new random order each epoch (drawn as sklearn draws it).
random_state : int, RandomState instance or None, default=None
    Seeds the initial weights, the early-stopping split and the shuffling, in that order.
""",
    "validation_fraction_n_iter_no_change": """\
validation_fraction : float, default=0.1
    Share of the rows held out for early stopping, in (0, 1).
n_iter_no_change : int or np.inf, default=10
    Epochs without an improvement of ``tol`` tolerated before stopping.
""",
    "dtype_n_jobs_and_the_solvers_settings": """\
dtype : {"float64", "float32"} or None, default=None
    Precision of the weights and of the arithmetic (sums are accumulated in double).
    ``None`` follows the training data as sklearn does: a float32 ``X`` (dense, sparse or a
    float32 DataFrame) trains a float32 network, any other ``X`` (float64, integers, ...) a
    float64 one; a warm start or ``partial_fit`` keeps the fitted precision. ``"float32"``
    or ``"float64"`` forces it whatever ``X`` is (a warm start then converts the weights).
n_jobs : int or None, default=None
    Threads training together on shared weights without locks (Hogwild!). ``None`` or 1
    is serial and exactly reproducible; -1 uses every CPU.
learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
    The step schedule of ``solver="sgd"``, sklearn's: ``"invscaling"`` sets the rate to
    ``learning_rate_init / (t_ + 1) ** power_t`` after each epoch; ``"adaptive"`` divides it
    by 5 each time the stopping rule fires (``n_iter_no_change`` epochs without an
    improvement of ``tol``) and stops once it is <= 1e-6.
power_t : float, default=0.5
    The exponent of ``"invscaling"``, >= 0.
momentum : float, default=0.0
    Momentum of ``solver="sgd"``, in [0, 1): ``v <- momentum v - lr g; W <- W + v``.
    0 is plain SGD (sklearn's default is 0.9).
nesterovs_momentum : bool, default=True
    Nesterov's momentum (``W <- W + momentum v - lr g`` with the new ``v``), as sklearn.
beta_1, beta_2 : float, default=0.9, 0.999
    Adam's decay rates of the first and second moment estimates, in [0, 1).
epsilon : float, default=1e-8
    Adam's term added to ``sqrt(s)``, > 0.
max_fun : int, default=15000
    ``solver="lbfgs"``: the most loss evaluations L-BFGS may make.
""",
}


def _indented(text):
    """``text`` indented as a class docstring's parameters are; its first line takes the
    indentation of the placeholder it replaces."""
    return textwrap.indent(text.rstrip("\n"), "    ").lstrip()


#: The shared descriptions, by placeholder name, ready to be formatted into a class docstring.
PARAMETER_DOCS = {name: _indented(text) for name, text in _SHARED.items()}


def with_shared_parameter_docs(cls):
    """Class decorator: the placeholders ``%(name)s`` of ``cls``'s docstring filled with
    :data:`PARAMETER_DOCS` (under ``python -OO`` there is no docstring to fill)."""
    if cls.__doc__:
        cls.__doc__ = cls.__doc__ % PARAMETER_DOCS
    return cls
