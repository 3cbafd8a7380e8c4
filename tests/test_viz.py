"""Graph pictures: every node drawn with value and gradient, edges left to right."""
import matplotlib
import pytest

matplotlib.use("Agg")

from minidl.engine import Value
from minidl.nn import MLP
from minidl.viz import GRAD_COLOR, VALUE_COLOR, draw_graph, graph_layout


def lecture_graph():
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    a = x + y
    a.label = "a"
    f = a * z
    f.label = "f"
    f.backward()
    return f


def test_every_node_shows_value_in_red_and_grad_in_blue():
    fig = draw_graph(lecture_graph())
    texts = [(t.get_text(), matplotlib.colors.to_hex(t.get_color())) for t in fig.axes[0].texts]
    assert ("-12", VALUE_COLOR) in texts and ("1", GRAD_COLOR) in texts
    assert ("3", VALUE_COLOR) in texts and ("-4", GRAD_COLOR) in texts
    assert {"x", "y", "z", "a = +", "f = *"} <= {t for t, _ in texts}


def test_edges_run_from_inputs_on_the_left_to_the_output_on_the_right():
    f = MLP(2, [3, 1], act="sigmoid")([1.0, -2.0])
    pos = graph_layout(f)
    for node in pos:
        for child in node._prev:
            assert pos[child][0] < pos[node][0]


def test_fifty_node_graph_draws_and_larger_graphs_are_refused():
    model = MLP(2, [3, 1], act="sigmoid")
    J = 0.5 * (model([1.0, -2.0]) - 1.0) ** 2
    assert 40 <= len(J.topological_order()) <= 60
    assert draw_graph(J).get_size_inches()[0] > 8
    big = MLP(4, [8, 1])([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="draw_graph: the graph has"):
        draw_graph(big)
