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
