"""Pictures: graphs whose boxes hold their text and whose arrows end on the boxes, figures at
the course's width whose labels do not overlap, and the course's style and figure writing."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from minidl.engine import Value
from minidl.nn import MLP
from minidl.viz import (
    FIGURE_WIDTH,
    FIGURES_ENV,
    GRAD_COLOR,
    MIN_GRAPH_FONT,
    VALUE_COLOR,
    decision_boundary_figure,
    draw_graph,
    gradcheck_eps_figure,
    graph_layout,
    save_figure,
    training_curves_figure,
)


def lecture_graph():
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    a = x + y
    a.label = "a"
    f = a * z
    f.label = "f"
    f.backward()
    return f


def network_231():
    """Lesson 03's 2-3-1 network and its loss: 33 nodes in 10 columns."""
    x1, x2 = Value(1.0, label="x1"), Value(-2.0, label="x2")
    theta = [[0.5, -0.3], [0.2, 0.4], [-0.6, 0.1]]
    th = [[Value(theta[i][j], label=f"θ{i + 1}{j + 1}") for j in range(2)] for i in range(3)]
    phi = [Value(p, label=f"φ{i + 1}") for i, p in enumerate([0.7, -0.4, 0.9])]
    a = [(th[i][0] * x1 + th[i][1] * x2).sigmoid() for i in range(3)]
    z = phi[0] * a[0] + phi[1] * a[1] + phi[2] * a[2]
    J = Value(0.5, label="1/2") * (z - Value(0.5, label="z_true")) ** 2
    J.backward()
    return J


def rendered(fig):
    """Draws `fig` on an Agg canvas (the figures come back closed) and returns its renderer."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def boxes_and_arrows(fig):
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    return boxes, arrows


def test_every_node_shows_value_in_red_and_grad_in_blue():
    fig = draw_graph(lecture_graph())
    texts = [(t.get_text(), matplotlib.colors.to_hex(t.get_color())) for t in fig.axes[0].texts]
    assert ("-12", VALUE_COLOR) in texts and ("1", GRAD_COLOR) in texts
    assert ("3", VALUE_COLOR) in texts and ("-4", GRAD_COLOR) in texts
    assert {"x", "y", "z", "a = +", "f = *"} <= {t for t, _ in texts}
    assert len(fig.axes[0].texts) == 5 * 3


def test_edges_run_from_inputs_on_the_left_to_the_output_on_the_right():
    f = MLP(2, [3, 1], act="sigmoid")([1.0, -2.0])
    pos = graph_layout(f)
    for node in pos:
        for child in node._prev:
            assert pos[child][0] < pos[node][0]


@pytest.mark.parametrize("make", [lecture_graph, network_231])
def test_graph_is_the_course_width_and_each_text_sits_inside_its_own_box(make):
    fig = draw_graph(make(), title="a title\non two lines", digits=3)
    assert isinstance(fig, Figure)
    assert fig.get_size_inches()[0] <= FIGURE_WIDTH + 1e-9
    renderer = rendered(fig)
    boxes, _ = boxes_and_arrows(fig)
    extents = [b.get_window_extent(renderer) for b in boxes]
    for i, e in enumerate(extents):  # boxes do not touch each other
        for f in extents[i + 1:]:
            assert not e.overlaps(f)
    for t in fig.axes[0].texts:
        assert t.get_fontsize() >= MIN_GRAPH_FONT
        bb = t.get_window_extent(renderer)
        inside = [e for e in extents if e.x0 - 1 <= bb.x0 and bb.x1 <= e.x1 + 1
                  and e.y0 - 1 <= bb.y0 and bb.y1 <= e.y1 + 1]
        assert len(inside) == 1, f"text {t.get_text()!r} is not inside exactly one box"
    title = fig._suptitle.get_window_extent(renderer)
    legend = fig.legends[0].get_window_extent(renderer)
    assert all(not title.overlaps(e) and not legend.overlaps(e) for e in extents)


@pytest.mark.parametrize("make", [lecture_graph, network_231])
def test_arrows_end_on_the_edges_of_the_boxes(make):
    f = make()
    fig = draw_graph(f, digits=3)
    boxes, arrows = boxes_and_arrows(fig)
    assert len(arrows) == sum(len(n._prev) for n in f.topological_order())
    lw = 1.5 / 72  # inches: the head's stroke reaches the end point, its path stops a line width short
    for arrow in arrows:
        path = arrow.get_path()  # data coordinates: inches
        v = path.vertices[path.codes != Path.CLOSEPOLY]
        ahead = (v - v[0]) @ (v[1] - v[0])  # the tip is the point farthest along the arrow
        (tail, _), (tip, tip_y) = v[0], v[np.argmax(ahead)]
        assert any(abs(tail - (b.get_x() + b.get_width())) < 1e-9 for b in boxes)  # leaves a right edge
        assert any(0 <= b.get_x() - tip < lw and b.get_y() <= tip_y <= b.get_y() + b.get_height()
                   for b in boxes)  # its head touches a left edge, within the box's height


def test_a_repeated_input_gets_two_arrows():
    x = Value(3.0, label="x")
    f = x * x
    f.backward()
    _, arrows = boxes_and_arrows(draw_graph(f))
    tips = {tuple(np.round(a.get_path().vertices[2], 6)) for a in arrows}  # the head's tip
    assert len(arrows) == 2 and len(tips) == 2


def test_a_single_value_without_gradients_draws_name_and_value_only():
    fig = draw_graph(Value(2.5, label="w"), show_grad=False)
    assert [t.get_text() for t in fig.axes[0].texts] == ["w", "2.5"]
    assert [t.get_text() for t in fig.legends[0].texts] == ["value of the node"]


def test_graphs_too_wide_or_too_large_for_the_page_are_refused():
    model = MLP(2, [3, 1], act="sigmoid")
    J = 0.5 * (model([1.0, -2.0]) - 1.0) ** 2
    with pytest.raises(ValueError, match="draw_graph: 45 nodes in 12 columns need a .*-point font"):
        draw_graph(J)
    big = MLP(4, [8, 1])([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="draw_graph: the graph has"):
        draw_graph(big)


def no_overlap(renderer, *boxes):
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)


def test_training_curves_two_panels_whose_labels_do_not_overlap():
    losses = [1.0 / (k + 1) for k in range(31)]
    fig = training_curves_figure(losses, [min(1.0, 0.5 + k / 40) for k in range(31)], target=0.95,
                                 title="loss falls", step_label="gradient-descent step")
    assert isinstance(fig, Figure) and fig.get_size_inches()[0] <= FIGURE_WIDTH
    left, right = fig.axes
    assert right.get_ylim() == (0, 1.05) and "target 95%" in [t.get_text() for t in right.get_legend().texts]
    renderer = rendered(fig)
    no_overlap(renderer, left.get_tightbbox(renderer), right.get_tightbbox(renderer))


def test_gradcheck_eps_figure_marks_the_smallest_error():
    eps = np.logspace(-1, -12, 23)
    errors = 0.1 * eps ** 2 + 1e-16 / eps
    fig = gradcheck_eps_figure(eps, errors, truncation=0.1, rounding=1e-16, title="a V")
    ax = fig.axes[0]
    assert isinstance(fig, Figure) and fig.get_size_inches()[0] <= FIGURE_WIDTH
    best = [line for line in ax.lines if line.get_label() == "smallest measured error"][0]
    assert best.get_xdata()[0] == eps[np.argmin(errors)]
    renderer = rendered(fig)
    legend = ax.get_legend().get_window_extent(renderer)
    no_overlap(renderer, legend, ax.xaxis.label.get_window_extent(renderer))
    points = ax.transData.transform(np.c_[eps, errors])  # the measured curve stays clear of the legend
    assert not any(legend.contains(px, py) for px, py in points)


def test_decision_boundary_shades_by_the_sign_of_the_score():
    X = np.array([[-1.0, 0.0], [1.0, 0.0], [-1.0, 1.0], [1.0, 1.0]])
    y = np.array([-1.0, 1.0, -1.0, 1.0])
    fig = decision_boundary_figure(lambda p: p[:, 0], X, y, steps=21, title="x1 > 0")
    ax = fig.axes[0]
    assert isinstance(fig, Figure) and fig.get_size_inches()[0] <= FIGURE_WIDTH
    renderer = rendered(fig)
    legend = ax.get_legend().get_window_extent(renderer)
    assert not any(legend.contains(px, py) for px, py in ax.transData.transform(X))  # no point hidden
    boundary = ax.collections[-3]  # the zero contour, before the two scatters
    xs = np.concatenate([p.vertices[:, 0] for p in boundary.get_paths()])
    assert np.allclose(xs, 0.0, atol=1e-9)  # the boundary of sign(x1) is the line x1 = 0


def test_save_figure_writes_only_when_asked(tmp_path, monkeypatch):
    fig = draw_graph(lecture_graph())
    monkeypatch.delenv(FIGURES_ENV, raising=False)
    assert save_figure(fig, "01_x") is None and not any(tmp_path.iterdir())
    monkeypatch.setenv(FIGURES_ENV, str(tmp_path))
    assert save_figure(fig, "01_x") == tmp_path / "01_x.png" and (tmp_path / "01_x.png").stat().st_size > 0
