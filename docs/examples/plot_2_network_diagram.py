"""
Network diagram and computation graph
=====================================

The lecture sets two pictures side by side. The *neural network diagram* draws the model: one
circle per unit, one edge per weight, intercepts left out, no loss. The *computation graph*
draws the computation: one box per intermediate variable, parameters, intercepts and the loss as
nodes. fastnn draws both for a fitted model.
"""

# %%
# A small network on the iris flowers
# -----------------------------------
#
# Four inputs, one hidden layer of five sigmoid units, a softmax over the three species, trained
# by :class:`fastnn.MLPClassifier` with per-sample SGD.

# sphinx_gallery_thumbnail_number = 3
import numpy as np
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

import fastnn
from fastnn import plots

iris = load_iris()
X = StandardScaler().fit_transform(iris.data)
y = iris.target_names[iris.target]
model = fastnn.MLPClassifier(hidden_layer_sizes=(5,), learning_rate_init=0.05, max_iter=200, random_state=0)
model.fit(X, y)
print(f"training accuracy {model.score(X, y):.3f}")

# %%
# The network diagram
# -------------------
#
# :func:`fastnn.plots.network_diagram` writes the picture to a file, in the format its extension
# names. Red edges are positive weights, blue negative, wider for a larger magnitude; the output
# units carry the class names. From the shell, ``fastnn diagram model.npz iris.svg`` draws a saved
# model the same way.

plots.network_diagram(model, "iris_network.svg")

# %%
# The computation graph of one sample's loss
# ------------------------------------------
#
# The same weights in the lecture's layout (α and β, intercepts in column 0) give the loss of one
# flower as a computation graph; after the backward pass each box holds the adjoint ∂J/∂u.

from fastnn import autodiff as ad

alpha = np.column_stack([model.intercepts_[0], model.coefs_[0].T])
beta = np.column_stack([model.intercepts_[1], model.coefs_[1].T])
label = int(np.searchsorted(model.classes_, y[0]))
J = ad.network_loss([ad.Variable(alpha, name="α"), ad.Variable(beta, name="β")], X[0], label)
print(f"loss of the first flower: {float(J):.4f}")
ad.draw(J, "iris_loss.svg", show="grad")

# %%
# A larger network, thinned
# -------------------------
#
# A network on the 8×8 digits has 64 inputs and thousands of weights. The diagram then shows the
# units with the largest total absolute weight in each wide layer and, per layer, the largest
# weights, up to ``max_edges`` in all; a note under the picture says what was left out.

from sklearn.datasets import load_digits

X_digits, y_digits = load_digits(return_X_y=True)
digits_model = fastnn.Network(hidden=(32,), learning_rate=0.1, epochs=10, init="glorot", random_state=0)
digits_model.fit(X_digits / 16, y_digits)
plots.network_diagram(digits_model, "digits_network.png", max_units=24, max_edges=300)
