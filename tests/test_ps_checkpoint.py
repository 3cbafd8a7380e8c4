"""Checkpoints: the whole server state goes to .npz and comes back with nothing lost."""
import numpy as np
import pytest

from minidl.ps import SGD, SSP, Adagrad, DynSGD, KeyLayout, ParameterServer


def build(window=4):
    return ParameterServer(KeyLayout([2, 3, 1, 4]), np.linspace(-1, 1, 10), n_shards=3,
                           rule=Adagrad(DynSGD(0.3)), policy=SSP(2), n_workers=3, window=window)


def play(ps, steps, seed):
    """A fixed script of pulls, pushes and ticks; returns the staleness of every push."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(steps):
        w = [0, 1, 0, 2, 1, 0][i % 6]
        keys = [None, range(1, 3), [3, 0], 2][i % 4]
        if ps.ready(w):
            ps.pull(w, keys)
            out.append(ps.push(w, keys, rng.standard_normal(ps.layout.count(ps.layout.resolve(keys, "push")))))
            ps.tick(w)
    return out


def everything(ps):
    return (ps.snapshot(), list(ps.clocks.clocks), sorted(ps.clocks.active), ps.stats(),
            [dict(s.from_version) for s in ps.shards], [s.read_version.copy() for s in ps.shards],
            [s.state["cache"].copy() for s in ps.shards], ps.window.low, ps.window.done.copy())


def assert_same(a, b):
    for x, y in zip(everything(a), everything(b)):
        if isinstance(x, dict):
            assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
        elif isinstance(x, list) and x and isinstance(x[0], np.ndarray):
            assert all(np.array_equal(u, v) for u, v in zip(x, y))
        else:
            assert np.array_equal(x, y)


def test_save_then_load_restores_every_part_of_the_state(tmp_path):
    ps = build()
    play(ps, 40, seed=0)
    ps.remove_worker(2)
    ps.save(tmp_path / "ps.npz")
    restored = build()
    restored.load(tmp_path / "ps.npz")
    assert_same(ps, restored)


def test_a_restored_server_continues_exactly_as_one_that_never_stopped(tmp_path):
    ps = build()
    play(ps, 30, seed=0)
    ps.save(tmp_path / "ps.npz")
    restored = build()
    restored.load(tmp_path / "ps.npz")
    assert play(ps, 30, seed=1) == play(restored, 30, seed=1)
    assert_same(ps, restored)


def test_loading_into_a_server_built_differently_says_what_differs(tmp_path):
    ps = build()
    ps.save(tmp_path / "ps.npz")
    with pytest.raises(ValueError, match="shard bounds"):
        ParameterServer(KeyLayout([2, 3, 1, 4]), n_shards=2, rule=Adagrad(0.1), n_workers=3,
                        window=4).load(tmp_path / "ps.npz")
    with pytest.raises(ValueError, match="rule"):
        ParameterServer(KeyLayout([2, 3, 1, 4]), n_shards=3, rule=SGD(0.1), n_workers=3,
                        window=4).load(tmp_path / "ps.npz")
    with pytest.raises(ValueError, match="window"):
        build(window=None).load(tmp_path / "ps.npz")


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a parameter-server checkpoint"):
        build().load(tmp_path / "other.npz")
