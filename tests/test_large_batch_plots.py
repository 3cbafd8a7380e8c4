"""Each drawing helper of lesson 13 runs and returns a Figure."""
from matplotlib.figure import Figure

from minidl import large_batch_plots as lbp


def test_every_large_batch_figure_is_drawn():
    figs = [lbp.gradient_cosine([1, 2, 3], {"t = 0": [0.9, 0.8, 0.7], "t = 50": [1.0, 0.99, 0.98]}, title="x"),
            lbp.accuracy_vs_batch([32, 128], {"LARS": [0.9, 0.8], "other": [0.95, 0.5]}, reference=0.95,
                                  spread={"LARS": ([0.88, 0.7], [0.92, 0.85])}, title="x"),
            lbp.gemm_time_per_example([1, 4, 16], [10.0, 4.0, 2.0], title="x")]
    assert all(isinstance(f, Figure) and f.get_size_inches()[0] <= 8 for f in figs)
