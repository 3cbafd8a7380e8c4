"""The scalar benchmark runs and checks agreement (its times are not asserted)."""
from minidl.bench import scalar


def test_benchmark_prints_a_table_and_both_libraries_agree(capsys):
    assert scalar.main(["--rounds", "1", "--block", "1", "--points", "8"]) == 0
    out = capsys.readouterr().out
    assert "median s" in out and "minidl" in out
    try:
        import micrograd  # noqa: F401
    except ImportError:
        assert "micrograd is not installed" in out
    else:
        assert "same loss: True" in out and "speed-up of minidl over micrograd" in out


def test_train_step_returns_the_loss_and_fills_gradients():
    from minidl.data import make_moons
    from minidl.engine import Value
    from minidl.nn import MLP
    X, y = make_moons(6, seed=0)
    model = MLP(2, [4, 1], seed=0)
    loss = scalar.train_step(model, Value, X, y)
    assert loss.data > 0 and any(p.grad != 0 for p in model.parameters())


def test_mlp_benchmark_versions_agree_on_a_small_model(capsys):
    from minidl.bench import mlp
    assert mlp.main(["--steps", "2", "--batch", "4", "--sizes", "8", "6", "3"]) == 0
    out = capsys.readouterr().out
    assert "numpy" in out and "minidl" in out and "vs numpy" in out
    difference = float(out.split("largest difference in the first loss: ")[1].split()[0])
    assert difference < 1e-5


def test_reference_steps_train_identically_for_several_steps():
    import numpy as np

    from minidl.bench.reference_steps import make_versions
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 8), dtype=np.float32), rng.integers(0, 3, 16)
    versions = make_versions([8, 6, 3], threads=1, lr=0.1)
    losses = {name: [step(x, y) for _ in range(5)] for name, step in versions}
    for name, curve in losses.items():
        assert np.allclose(curve, losses["numpy"], rtol=1e-5), name
        assert curve[-1] < curve[0]
