"""Pictures from the lecture: the computation graph (``fastnn.autodiff.to_dot`` / ``draw``) and the
network diagram (``fastnn.plots.network_diagram``, ``fastnn diagram``).

The DOT text is parsed back into nodes (kind, label, outside name, shape) and a multiset of edges,
and compared with the graphs drawn by hand for the lecture's two examples: J = cos(sin(x^2) + 3x^2)
and the loss of a network with one hidden layer. Rendering needs the ``graphviz`` package and the
Graphviz program ``dot``; those tests skip without them.
"""

import collections
import re
import shutil

import numpy as np
import pytest
from conftest import synthetic_data

import fastnn
from fastnn import autodiff as ad
from fastnn import cli, plots
from fastnn import io as fnn_io

NODE = re.compile(r"^  (n\d+) \[(.*)\];$")
EDGE = re.compile(r"^  (n\d+) -> (n\d+);$")
ATTRIBUTE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
RANK_MIN = re.compile(r"^  \{rank=min; (.*);\}$")


def parse_dot(text):
    """``(nodes, edges, sources)``: {id: {attribute: value}} with labels split into lines, a Counter
    of (source id, target id), and the ids placed in the leftmost rank. Fails on any other line."""
    lines = text.splitlines()
    assert lines[0] == "digraph computation_graph {" and lines[-1] == "}"
    nodes, edges, sources = {}, collections.Counter(), []
    for line in lines[1:-1]:
        if match := NODE.match(line):
            attributes = {k: v.replace('\\"', '"') for k, v in ATTRIBUTE.findall(match.group(2))}
            attributes["label"] = attributes["label"].split("\\n")
            nodes[match.group(1)] = attributes
        elif match := EDGE.match(line):
            edges[match.groups()] += 1
        elif match := RANK_MIN.match(line):
            sources = match.group(1).split("; ")
        else:
            assert re.match(r"^  (\w+=|node \[|edge \[)", line), f"unexpected DOT line {line!r}"
    assert all(a in nodes and b in nodes for a, b in edges)
    return nodes, edges, sources


def node_key(attributes):
    """A node as the picture shows it: (kind, the first line of its box, the name outside)."""
    return attributes["class"], attributes["label"][0], attributes.get("xlabel")


def picture(text):
    """The graph with nodes named by :func:`node_key`: (Counter of nodes, Counter of edges, sources)."""
    nodes, edges, sources = parse_dot(text)
    keys = {i: node_key(a) for i, a in nodes.items()}
    return (collections.Counter(keys.values()), collections.Counter({(keys[a], keys[b]): n for (a, b), n in edges.items()}),
            sorted(keys[i] for i in sources))


def lecture_J():
    """The lecture's J = cos(sin(x^2) + 3x^2) at x = 2, its variables named as in the lecture."""
    x = ad.Variable(2.0, name="x")
    a = x ** 2
    b = ad.sin(a)
    c = 3 * a
    d = b + c
    J = ad.cos(d)
    for node, name in ((a, "a"), (b, "b"), (c, "c"), (d, "d"), (J, "J")):
        node.name = name
    return x, J


# the graph drawn by hand: kinds, what each box says, the names outside
X, TWO, A, B, THREE, C, D, J = (("variable", "x", None), ("constant", "2", None), ("intermediate", "pow", "a"),
                                ("intermediate", "sin", "b"), ("constant", "3", None), ("intermediate", "×", "c"),
                                ("intermediate", "+", "d"), ("output", "cos", "J"))
LECTURE_EDGES = [(X, A), (TWO, A), (A, B), (THREE, C), (A, C), (B, D), (C, D), (D, J)]


def test_the_lecture_example_has_the_lecture_graph():
    x, J_node = lecture_J()
    nodes, edges, sources = picture(ad.to_dot(J_node, show=None))
    assert nodes == collections.Counter([X, TWO, A, B, THREE, C, D, J])
    assert edges == collections.Counter(LECTURE_EDGES)
    assert sources == [X]
    text = ad.to_dot(J_node, show=None)
    assert "rankdir=LR;" in text
    assert "->" in text and "label" not in "".join(line for line in text.splitlines() if "->" in line)


def test_shapes_follow_the_conventions():
    _, J_node = lecture_J()
    nodes, _, _ = parse_dot(ad.to_dot(J_node))
    shapes = {node_key(a): (a["shape"], a.get("peripheries")) for a in nodes.values()}
    assert shapes[A] == ("box", None) and shapes[J] == ("box", "2")
    assert shapes[TWO] == ("plaintext", None) and shapes[X][0] == "box"


def boxes(J_node, show):
    """{name or constant: lines in its box after the first}."""
    nodes, _, _ = parse_dot(ad.to_dot(J_node, show=show))
    return {a.get("xlabel") or a["label"][0]: a["label"][1:] for a in nodes.values()}


def test_each_box_shows_its_value_and_adjoint():
    x, J_node = lecture_J()
    values = {"x": 2.0, "a": 4.0, "b": np.sin(4.0), "c": 12.0, "d": np.sin(4.0) + 12.0, "J": np.cos(np.sin(4.0) + 12.0)}
    J_node.backward()
    shown = boxes(J_node, "both")
    for name, value in values.items():
        value_line, grad_line = shown[name]
        assert value_line == "= " + f"{value:.4g}".replace("-", "−")
        adjoint = ad.grad(J_node, {"x": x}.get(name) or next(u for u in ad.topological_order(J_node) if u.name == name))
        assert grad_line == f"∂J/∂{name} = " + f"{float(adjoint):.4g}".replace("-", "−")
    assert shown["x"][1] == "∂J/∂x = 9.099"  # the README's dJ/dx
    assert shown["2"] == [] and shown["3"] == []  # constants show their number only
    assert boxes(J_node, "value")["J"] == ["= 0.2451"]
    assert boxes(J_node, "grad")["J"] == ["∂J/∂J = 1"]
    assert boxes(J_node, None)["J"] == []


def test_adjoints_do_not_need_a_backward_call_and_do_not_change_grad():
    x, J_node = lecture_J()
    assert boxes(J_node, "grad")["x"] == ["∂J/∂x = 9.099"]
    assert x.grad is None


def test_unnamed_nodes_get_names_in_topological_order():
    x = ad.Variable(2.0)
    J_node = ad.cos(ad.sin(x ** 2) + 3 * x ** 2)  # x ** 2 twice: two pow boxes
    nodes, edges, _ = picture(ad.to_dot(J_node, show=None))
    assert nodes[("variable", "v1", None)] == 1 and nodes[("output", "cos", "J")] == 1
    names = sorted(key[2] for key in nodes if key[0] == "intermediate")
    assert names == ["u1", "u2", "u3", "u4", "u5"]
    assert sum(n for (a, b), n in edges.items() if a == ("variable", "v1", None)) == 2


def test_an_operand_used_twice_by_one_operation_has_two_edges():
    x = ad.Variable(3.0, name="x")
    _, edges, _ = picture(ad.to_dot(x * x, show=None))
    assert edges == collections.Counter({(("variable", "x", None), ("output", "×", "J")): 2})


def test_arrays_are_shown_written_out_when_small_and_by_shape_otherwise():
    v = ad.Variable(np.array([1.0, -2.0]), name="v")
    W = ad.Variable(np.ones((4, 2)), name="W")
    shown = boxes(ad.sum(W @ v), "both")
    assert shown["v"] == ["= [1, −2]", "∂J/∂v = [4, 4]"]
    assert shown["W"] == ["= array 4×2", "∂J/∂W = array 4×2"]


# the network of fastnn.Network with one hidden layer, as the lecture draws its loss
ALPHA, BETA, INPUT = ("variable", "α", None), ("variable", "β", None), ("input", "x", None)
ONE = ("intercept", "1", None)
ONE_X, A_NET, Z = ("intermediate", "concat", "[1; x]"), ("intermediate", "matmul", "a"), ("intermediate", "σ", "z")
ONE_Z, B_NET = ("intermediate", "concat", "[1; z]"), ("intermediate", "matmul", "b")
LOG_Z, B_Y, LOSS = ("intermediate", "logsumexp", "log Z"), ("intermediate", "[2]", "b_y"), ("output", "−", "J")
NETWORK_EDGES = [(ONE, ONE_X), (INPUT, ONE_X), (ALPHA, A_NET), (ONE_X, A_NET), (A_NET, Z), (ONE, ONE_Z), (Z, ONE_Z),
                 (BETA, B_NET), (ONE_Z, B_NET), (B_NET, LOG_Z), (B_NET, B_Y), (LOG_Z, LOSS), (B_Y, LOSS)]


def network_weights(seed=0, M=3, D=4, K=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(D, M + 1)), rng.normal(size=(K, D + 1)), rng.normal(size=M)


def test_the_network_loss_has_the_lecture_graph():
    alpha, beta, x = network_weights()
    J_node = ad.network_loss([ad.Variable(alpha, name="α"), ad.Variable(beta, name="β")], x, 2)
    nodes, edges, sources = picture(ad.to_dot(J_node, show=None))
    assert nodes == collections.Counter([ALPHA, BETA, INPUT, ONE, ONE, ONE_X, A_NET, Z, ONE_Z, B_NET, LOG_Z, B_Y, LOSS])
    assert edges == collections.Counter(NETWORK_EDGES)
    assert sources == sorted([ALPHA, BETA, INPUT])


def test_network_weights_given_as_arrays_are_named_alpha_and_beta():
    alpha, beta, x = network_weights()
    nodes, _, sources = picture(ad.to_dot(ad.network_loss([alpha, beta], x, 0), show=None))
    assert ("input", "α", None) in nodes and ("input", "β", None) in nodes
    assert sources == sorted([("input", "α", None), ("input", "β", None), INPUT])


def test_the_network_loss_boxes_show_the_engines_numbers():
    """The adjoint shown in the box of α is the gradient the engine applies in one SGD step."""
    alpha, beta, x = network_weights(M=2, D=2, K=2)
    J_node = ad.network_loss([ad.Variable(alpha, name="α"), ad.Variable(beta, name="β")], x, 1)
    net = fastnn.Network(hidden=(2,), init=[alpha, beta], learning_rate=1.0, epochs=1).fit(x[None, :], [1])
    step = [W0 - W1 for W0, W1 in zip((alpha, beta), net.weights_)]  # W1 = W0 - 1.0 * gradient
    text = ad.to_dot(J_node, show="grad")
    assert f"∂J/∂α = array {alpha.shape[0]}×{alpha.shape[1]}" in text
    np.testing.assert_allclose(ad.grad(J_node, [u for u in ad.topological_order(J_node) if u.name == "α"][0]), step[0],
                               rtol=1e-10, atol=1e-12)
    (loss_box,) = [a for a in parse_dot(text)[0].values() if a["class"] == "output"]
    assert loss_box["label"] == ["−", "∂J/∂J = 1"]


def test_the_network_loss_with_l2_adds_the_penalty_to_the_cross_entropy():
    alpha, beta, x = network_weights()
    nodes, edges, _ = picture(ad.to_dot(ad.network_loss([alpha, beta], x, 0, l2=0.1), show=None))
    ell, penalty, total = ("intermediate", "−", "ℓ"), ("intermediate", "×", "r"), ("output", "+", "J")
    assert edges[(ell, total)] == 1 and edges[(penalty, total)] == 1
    assert nodes[("intermediate", "[:, 1:]", None)] == 0  # every intermediate box has a name
    assert sum(n for key, n in nodes.items() if key[1] == "[:, 1:]") == 2


def test_two_hidden_layers_number_their_variables():
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=(3, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 3))]
    nodes, _, _ = picture(ad.to_dot(ad.network_loss(weights, rng.normal(size=2), 1), show=None))
    names = {key[2] for key in nodes if key[0] == "intermediate"}
    assert {"a1", "z1", "a2", "z2", "b", "[1; x]", "[1; z1]", "[1; z2]"} <= names
    assert {key[1] for key in nodes if key[0] == "input"} == {"W1", "W2", "W3", "x"}


@pytest.mark.parametrize("show", ["values", "gradient", "", 1, True])
def test_an_unknown_show_is_refused_with_the_choices(show):
    _, J_node = lecture_J()
    with pytest.raises(ValueError, match="show must be 'value', 'grad', 'both' or None"):
        ad.to_dot(J_node, show=show)


def test_bad_outputs_are_refused():
    with pytest.raises(TypeError, match="must be a Node"):
        ad.to_dot(3.0)
    v = ad.Variable(np.ones(3), name="v")
    assert "class=\"output\"" in ad.to_dot(2 * v)  # values of a vector output are fine
    with pytest.raises(ValueError, match="backward needs a scalar output"):
        ad.to_dot(2 * v, show="grad")


def test_labels_are_escaped():
    x = ad.Variable(1.0, name='say "hi" \\')
    nodes, _, _ = parse_dot(ad.to_dot(ad.sin(x), show=None))
    assert nodes["n0"]["label"] == ['say "hi" \\\\']


# ---------------------------------------------------------------------------------------------
# rendering through Graphviz

try:
    import graphviz
except ImportError:
    graphviz = None
needs_graphviz = pytest.mark.skipif(
    graphviz is None or shutil.which("dot") is None,
    reason="rendering needs the graphviz package (pip install 'fastnn[graphviz]') and the Graphviz program 'dot' "
           "(apt-get install graphviz)")


@needs_graphviz
@pytest.mark.parametrize("extension, magic", [(".svg", b"<svg"), (".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF")])
def test_draw_writes_a_non_empty_image(tmp_path, extension, magic):
    _, J_node = lecture_J()
    path = tmp_path / f"J{extension}"
    ad.draw(J_node, path, show="both")
    data = path.read_bytes()
    assert len(data) > 500 and magic in data[:400]
    if extension == ".svg":
        text = data.decode()
        assert "cos" in text and "∂J/∂x = 9.099" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@needs_graphviz
def test_draw_renders_the_network_loss(tmp_path):
    alpha, beta, x = network_weights()
    ad.draw(ad.network_loss([ad.Variable(alpha, name="α"), ad.Variable(beta, name="β")], x, 2), tmp_path / "J.svg")
    text = (tmp_path / "J.svg").read_text()
    assert all(word in text for word in ("α", "β", "logsumexp", "log Z", "σ"))


@needs_graphviz
@pytest.mark.parametrize("name", ["J.txt", "J", "J.notaformat"])
def test_draw_refuses_an_extension_graphviz_cannot_write(tmp_path, name):
    _, J_node = lecture_J()
    with pytest.raises(ValueError, match="give a path ending in .svg, .png or .pdf"):
        ad.draw(J_node, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_draw_without_the_graphviz_package_says_what_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz raises ImportError
    _, J_node = lecture_J()
    with pytest.raises(ImportError, match=r"pip install \"fastnn\[graphviz\]\""):
        ad.draw(J_node, tmp_path / "J.svg")
    assert list(tmp_path.iterdir()) == []


@needs_graphviz
def test_draw_without_the_dot_program_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    _, J_node = lecture_J()
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        ad.draw(J_node, tmp_path / "J.svg")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# the network diagram


@pytest.fixture(scope="module")
def small_network():
    X, y = synthetic_data(n=60, m=4, k=3, seed=0)
    return fastnn.Network(hidden=(3,), epochs=2, random_state=0).fit(X, y)


@pytest.mark.parametrize("extension, magic", [(".svg", b"<svg"), (".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF")])
def test_network_diagram_writes_a_non_empty_image(tmp_path, small_network, extension, magic):
    path = tmp_path / f"net{extension}"
    plots.network_diagram(small_network, path)
    data = path.read_bytes()
    assert len(data) > 1000 and magic in data[:400]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_network_diagram_draws_every_unit_and_weight_of_a_small_network(small_network):
    layout = plots.diagram_layout(small_network.weights_)
    assert layout.sizes == [4, 3, 3]
    assert [u.tolist() for u in layout.units] == [[0, 1, 2, 3], [0, 1, 2], [0, 1, 2]]
    assert layout.n_edges == 4 * 3 + 3 * 3 == sum(len(e) for e in layout.edges)
    for W, edges in zip(small_network.weights_, layout.edges):  # intercepts (column 0) are not edges
        drawn = {(int(s), int(t)): w for s, t, w in edges}
        assert drawn == {(s, t): W[t, 1 + s] for t in range(W.shape[0]) for s in range(W.shape[1] - 1)}


def test_a_large_network_keeps_its_strongest_units_and_weights():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(50, 65)), rng.normal(size=(10, 51))]
    weights[0][:, 1 + 7] *= 10  # input 7 is the strongest
    layout = plots.diagram_layout(weights, max_units=24, max_edges=300)
    assert [len(u) for u in layout.units] == [24, 24, 10]
    assert 7 in layout.units[0] and all(np.all(np.diff(u) > 0) for u in layout.units)
    assert layout.n_edges == 24 * 24 + 24 * 10
    assert 290 <= sum(len(e) for e in layout.edges) <= 300
    for layer, (W, edges) in enumerate(zip(weights, layout.edges)):
        block = W[np.ix_(layout.units[layer + 1], 1 + layout.units[layer])]
        kept = np.sort(np.abs(edges[:, 2]))
        np.testing.assert_array_equal(kept, np.sort(np.abs(block.ravel()))[-len(kept):])  # the largest |w|
        assert np.all(np.diff(np.abs(edges[:, 2])) >= 0)  # drawn weakest first, strongest on top


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # two epochs are enough to draw
def test_network_diagram_accepts_the_estimators(tmp_path):
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    X, y = synthetic_data(n=60, m=4, k=3, seed=1)
    ours = fastnn.MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X, np.array(list("abc"))[y])
    plots.network_diagram(ours, tmp_path / "ours.svg")
    layout = plots.diagram_layout(plots._fitted_weights(ours)[0])
    assert layout.sizes == [4, 3, 3]
    theirs = SklearnMLP(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X, y)
    plots.network_diagram(theirs, tmp_path / "theirs.png")
    assert (tmp_path / "theirs.png").stat().st_size > 1000


def test_network_diagram_refuses_bad_input_before_writing(tmp_path, small_network):
    with pytest.raises(ValueError, match="not fitted: call fit"):
        plots.network_diagram(fastnn.Network(), tmp_path / "a.svg")
    with pytest.raises(ValueError, match="not fitted: call fit"):
        plots.network_diagram(fastnn.MLPClassifier(), tmp_path / "a.svg")
    with pytest.raises(TypeError, match="draws a fitted fastnn.Network or MLPClassifier, not a dict"):
        plots.network_diagram({}, tmp_path / "a.svg")
    with pytest.raises(ValueError, match="no image format is named 'txt'.*\\.svg"):
        plots.network_diagram(small_network, tmp_path / "a.txt")
    with pytest.raises(ValueError, match="max_edges must be an integer >= 1"):
        plots.network_diagram(small_network, tmp_path / "a.svg", max_edges=0)
    assert list(tmp_path.iterdir()) == []


def test_network_diagram_is_reproducible(tmp_path, small_network):
    plots.network_diagram(small_network, tmp_path / "a.svg")
    plots.network_diagram(small_network, tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


# ---------------------------------------------------------------------------------------------
# fastnn diagram


@pytest.fixture
def model_file(tmp_path, small_network):
    fnn_io.save(small_network, tmp_path / "model.npz")
    return tmp_path / "model.npz"


def run_cli(capsys, *args):
    capsys.readouterr()
    status = cli.main([str(a) for a in args])
    return status, capsys.readouterr().err


def test_the_diagram_command_writes_the_image(tmp_path, model_file, capsys):
    status, err = run_cli(capsys, "diagram", model_file, tmp_path / "net.svg", "--max-edges", 5)
    assert (status, err) == (0, "")
    assert b"<svg" in (tmp_path / "net.svg").read_bytes()[:400]


@pytest.mark.parametrize("make_args, message", [
    (lambda d, m: [d / "data.txt", d / "out.svg"], "data.txt: "),
    (lambda d, m: [m, d / "out.txt"], "no image format is named 'txt'"),
    (lambda d, m: [m, d / "missing" / "out.svg"], "folder .* does not exist"),
    (lambda d, m: [m, m], "OUTPUT would overwrite the model file"),
    (lambda d, m: [m, d / "out.svg", "--max-edges", "0"], "must be an integer >= 1"),
])
def test_the_diagram_command_reports_bad_input_in_one_line(tmp_path, model_file, capsys, make_args, message):
    (tmp_path / "data.txt").write_text("1,2,3\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    status, err = run_cli(capsys, "diagram", *make_args(tmp_path, model_file))
    assert status == 2
    assert re.fullmatch(r"fastnn: error: .*\n", err) and re.search(message, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
