"""
The lecture, with code: computation graphs and backpropagation
==============================================================

The lecture on neural networks builds one idea in steps: write a function as a *computation
graph*, compute it forward, then compute every derivative in one backward pass
(*backpropagation*), check the result by *finite differences*, and train by *stochastic
gradient descent*. This page takes the same steps with fastnn, on the lecture's two examples:

1. J = cos(sin(x²) + 3x²), a function of one number;
2. the loss of a network with one hidden layer, the network of :class:`fastnn.Network`.

Each step is runnable: save this page's source (link at the bottom) and run it with Python. The
pictures of the graph need Graphviz (``pip install "fastnn[graphviz]"`` and the ``dot`` program,
e.g. ``apt-get install graphviz``).
"""

# %%
# The forward pass, by hand
# -------------------------
#
# The lecture names every intermediate quantity. For J = cos(sin(x²) + 3x²) at x = 2::
#
#     a = x²,   b = sin(a),   c = 3a,   d = b + c,   J = cos(d)

# sphinx_gallery_thumbnail_number = 5
import numpy as np

x = 2.0
a = x**2
b = np.sin(a)
c = 3 * a
d = b + c
J = np.cos(d)
print(f"a = {a}, b = {b:.4f}, c = {c}, d = {d:.4f}, J = {J:.4f}")

# %%
# The computation graph
# ---------------------
#
# :mod:`fastnn.autodiff` records the same computation as a graph while it computes the values.
# :func:`fastnn.autodiff.draw` draws it as the lecture does: one box per intermediate variable,
# the function inside, the variable's name outside, constants as their number; the input on the
# left, the output J (double border) on the right. Each box shows its value.

from fastnn import autodiff as ad

x = ad.Variable(2.0, name="x")
a = x**2
b = ad.sin(a)
c = 3 * a
d = b + c
J = ad.cos(d)
for node, name in [(a, "a"), (b, "b"), (c, "c"), (d, "d"), (J, "J")]:
    node.name = name  # the names written outside the boxes

ad.draw(J, "lecture_J.svg", show="value")

# %%
# The same picture is Graphviz DOT text, from :func:`fastnn.autodiff.to_dot`; ``show=None``
# leaves the boxes blank, to work the passes by hand.

print(ad.to_dot(J, show=None))

# %%
# Backpropagation, by hand
# ------------------------
#
# The backward pass visits the graph from the output back to the input. Each variable u gets its
# *adjoint* g_u = ∂J/∂u: g_J = 1, then each box passes to its operands the adjoint times its local
# derivative, and a variable used twice (here a) adds up what it receives:

g_J = 1.0
g_d = g_J * -np.sin(d.value)  # J = cos(d)
g_b = g_d  # d = b + c
g_c = g_d
g_a = g_b * np.cos(a.value) + g_c * 3  # b = sin(a), c = 3a: two paths from a
g_x = g_a * 2 * x.value  # a = x^2
print(f"by hand:  dJ/dx = {g_x:.6f}")

# %%
# Backpropagation, by autodiff
# ----------------------------
#
# :meth:`Node.backward <fastnn.autodiff.Node.backward>` runs the same backward pass over the
# recorded graph and stores each adjoint in ``.grad``. Drawn with ``show="both"``, every box
# shows its value and its adjoint, to check a hand-worked pass box by box.

J.backward()
print(f"autodiff: dJ/dx = {float(x.grad):.6f}")
print(f"g_a by hand {g_a:.6f}, by autodiff {float(a.grad):.6f}")
ad.draw(J, "lecture_J_backward.svg", show="both")

# %%
# A network with one hidden layer
# -------------------------------
#
# The lecture's network: M inputs x, a hidden layer z = σ(α [1; x]) of D sigmoid units, the
# output ŷ = softmax(β [1; z]) over K classes, the loss J = −log ŷ_y (the cross-entropy). The
# parameters α (D × (M+1)) and β (K × (D+1)) hold the intercepts in column 0, as
# ``Network.weights_`` does. First the forward pass, by hand:

rng = np.random.default_rng(0)
M, D, K = 3, 4, 3
alpha = rng.normal(scale=0.5, size=(D, M + 1))
beta = rng.normal(scale=0.5, size=(K, D + 1))
x_i = np.array([1.0, 0.5, -0.5])
y_i = 2


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


a = alpha @ np.r_[1, x_i]
z = sigmoid(a)
b = beta @ np.r_[1, z]
y_hat = np.exp(b - b.max()) / np.exp(b - b.max()).sum()
loss = -np.log(y_hat[y_i])
print(f"y_hat = {np.round(y_hat, 4)}, J = {loss:.6f}")

# %%
# :func:`fastnn.autodiff.network_loss` builds the same loss as a graph and names its variables
# as the lecture does. It computes J = log Z − b_y with log Z = logsumexp(b), which equals
# −log ŷ_y and never overflows. The circles are the intercepts: the 1 put in front of x and of z.
# Parameters and the input are on the left, the loss on the right.

alpha_node, beta_node = ad.Variable(alpha, name="α"), ad.Variable(beta, name="β")
J_net = ad.network_loss([alpha_node, beta_node], x_i, y_i)
print(f"autodiff J = {float(J_net):.6f}")
ad.draw(J_net, "lecture_network.svg", show="value")

# %%
# Three ways to the gradient
# --------------------------
#
# **By hand**, with the lecture's backward pass for this network (e_y is the one-hot vector of
# the label, ⊙ the elementwise product, β₁: the columns of β after the intercept)::
#
#     g_b = ŷ − e_y            g_β = g_b [1; z]ᵀ
#     g_z = β₁:ᵀ g_b           g_a = g_z ⊙ z(1 − z)
#     g_α = g_a [1; x]ᵀ

g_b = y_hat - np.eye(K)[y_i]
g_beta = np.outer(g_b, np.r_[1, z])
g_z = beta[:, 1:].T @ g_b
g_a = g_z * z * (1 - z)
g_alpha = np.outer(g_a, np.r_[1, x_i])

# %%
# **By autodiff**, the general algorithm run on the graph above:

ad_alpha, ad_beta = ad.grad(J_net, [alpha_node, beta_node])

# %%
# **By the engine**: fastnn's C engine computes the same gradient in its backward pass and
# applies it at once, W ← W − η g. One SGD step with η = 1 from the weights α, β on this one
# sample shows the gradient as the change of the weights.

import fastnn

net = fastnn.Network(hidden=(D,), init=[alpha, beta], learning_rate=1.0, epochs=1)
net.fit(x_i[None, :], [y_i])
engine_alpha, engine_beta = (W0 - W1 for W0, W1 in zip([alpha, beta], net.weights_))

for name, by_hand, by_autodiff, by_engine in [("α", g_alpha, ad_alpha, engine_alpha),
                                              ("β", g_beta, ad_beta, engine_beta)]:
    print(f"g_{name}: hand vs autodiff {np.abs(by_hand - by_autodiff).max():.1e}, "
          f"hand vs engine {np.abs(by_hand - by_engine).max():.1e}")

# %%
# Drawn with ``show="grad"``, the boxes of the graph hold these adjoints; ∂J/∂b is ŷ − e_y.

ad.draw(J_net, "lecture_network_backward.svg", show="grad")

# %%
# Finite differences
# ------------------
#
# The lecture's check of any gradient: perturb one parameter θ by ±ε and difference the loss,
# (J(θ + ε) − J(θ − ε)) / 2ε. By hand for one weight:

eps = 1e-5


def loss_at(alpha_value):
    return float(ad.network_loss([alpha_value, beta], x_i, y_i))


shifted = [alpha.copy(), alpha.copy()]
shifted[0][1, 2] += eps
shifted[1][1, 2] -= eps
print(f"dJ/dα[1,2]: finite difference {(loss_at(shifted[0]) - loss_at(shifted[1])) / (2 * eps):.8f}, "
      f"backprop {g_alpha[1, 2]:.8f}")

# %%
# :func:`fastnn.gradcheck` does it for every weight against the engine's backward pass, and
# returns the worst relative error of each layer (``fastnn gradcheck`` is the same check from
# the shell):

print(fastnn.gradcheck(fastnn.Network.from_weights([alpha, beta]), x_i, y_i))

# %%
# SGD with L2 regularisation
# --------------------------
#
# Training minimises the mean loss over the rows by stochastic gradient descent: for each row in
# turn, one forward pass, one backward pass and the update W ← W − η (g + λ W), where the L2 term
# λ W leaves the intercepts (column 0) alone. :func:`fastnn.autodiff.network_loss` with ``l2=λ``
# adds the penalty (λ/2)‖W[:, 1:]‖² whose gradient that is; the engine's step agrees:

lam = 0.1
ad_alpha_l2 = ad.grad(ad.network_loss([alpha_node, beta_node], x_i, y_i, l2=lam), alpha_node)
net_l2 = fastnn.Network(hidden=(D,), init=[alpha, beta], learning_rate=1.0, epochs=1, l2=lam)
net_l2.fit(x_i[None, :], [y_i])
print(f"with L2: autodiff vs engine {np.abs(ad_alpha_l2 - (alpha - net_l2.weights_[0])).max():.1e}")

# %%
# On real data, the handwritten digits bundled with scikit-learn (8×8 images), a few epochs of
# per-sample SGD with and without L2:

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X / 16, y, test_size=0.25, random_state=0)
fig, ax = plt.subplots(figsize=(7, 4))
for l2, style in [(0.0, "-"), (1e-3, "--")]:
    model = fastnn.Network(hidden=(32,), learning_rate=0.1, epochs=15, l2=l2, init="glorot", random_state=0)
    model.fit(X_train, y_train, X_val, y_val)
    error = np.mean(model.predict(X_val) != y_val)
    epochs = np.arange(1, model.n_epochs_ + 1)
    ax.plot(epochs, model.history_["train_loss"], style, color="C0", label=f"train, λ = {l2:g}")
    ax.plot(epochs, model.history_["val_loss"], style, color="C1", label=f"validation, λ = {l2:g}")
    print(f"λ = {l2:g}: validation error {error:.3f}")
ax.set_xlabel("epoch")
ax.set_ylabel("mean cross-entropy")
ax.legend()
fig.tight_layout()

# %%
# The handout's program
# ---------------------
#
# The course's programming assignment asks for a program ``neuralnet`` that trains this network
# (one hidden layer, per-sample SGD in file order, INIT_FLAG 1 = U(−0.1, 0.1) weights, 2 = zeros)
# and writes predicted labels and a metrics file. ``fastnn neuralnet`` is that program. From the
# shell::
#
#     fastnn neuralnet small_train.csv small_validation.csv train_out.labels \
#         validation_out.labels metrics_out.txt 2 4 2 0.1
#
# Here it runs on the digits written in the handout's CSV format (label first, then the
# features), through :func:`fastnn.cli.main`, the function the command calls:

import tempfile
from pathlib import Path

from fastnn.cli import main

with tempfile.TemporaryDirectory() as folder:
    folder = Path(folder)
    for name, (features, labels) in {"train.csv": (X_train[:300], y_train[:300]),
                                     "validation.csv": (X_val[:100], y_val[:100])}.items():
        np.savetxt(folder / name, np.column_stack([labels, np.round(features, 4)]), delimiter=",", fmt="%g")
    files = [str(folder / name) for name in ("train.csv", "validation.csv", "train_out.labels",
                                             "validation_out.labels", "metrics_out.txt")]
    # NUM_EPOCH 5, HIDDEN_UNITS 16, INIT_FLAG 1, LEARNING_RATE 0.2
    status = main(["neuralnet", *files, "5", "16", "1", "0.2"])
    print(f"exit status {status}")
    print((folder / "metrics_out.txt").read_text())
