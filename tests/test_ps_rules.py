"""Server-side update rules and staleness-aware learning rates, against hand computation."""
import numpy as np
import pytest

from minidl.ps import SGD, Adagrad, ConSGD, DynSGD, KeyLayout, ParameterServer


def test_consgd_gives_every_update_the_same_rate_and_dynsgd_divides_by_staleness_plus_one():
    assert [ConSGD(0.6)(s) for s in range(4)] == [0.6] * 4
    assert [DynSGD(0.6)(s) for s in range(4)] == pytest.approx([0.6, 0.3, 0.2, 0.15])


def test_sgd_subtracts_lr_times_the_gradient_from_the_pushed_keys_only():
    ps = ParameterServer(KeyLayout.uniform(3, 2), np.arange(6.0), rule=SGD(0.5))
    ps.push(0, 1, [2.0, 4.0])
    assert ps.snapshot().tolist() == [0.0, 1.0, 1.0, 1.0, 4.0, 5.0]


def test_adagrad_matches_the_formula_over_two_pushes_across_shards():
    layout = KeyLayout.uniform(4, 1)
    ps = ParameterServer(layout, np.ones(4), n_shards=2, rule=Adagrad(lr=0.1, eps=1e-8))
    g1, g2 = np.array([3.0, 0.0, 1.0, 2.0]), np.array([4.0, 1.0, 0.0, 0.0])
    ps.push(0, None, g1)
    ps.push(0, range(0, 3), g2[:3])
    cache = g1**2 + np.r_[g2[:3] ** 2, 0.0]
    w = 1.0 - 0.1 * g1 / (np.sqrt(g1**2) + 1e-8)
    w[:3] -= 0.1 * g2[:3] / (np.sqrt(cache[:3]) + 1e-8)
    assert np.allclose(ps.snapshot(), w, rtol=0, atol=1e-15)
    assert np.array_equal(np.concatenate([s.state["cache"] for s in ps.shards]), cache)


def test_dynsgd_scales_a_stale_push_by_one_over_staleness_plus_one():
    ps = ParameterServer(1, rule=SGD(DynSGD(1.0)), n_workers=2)
    ps.pull(0)
    ps.pull(1)
    assert ps.push(1, 0, [1.0]) == 0        # worker 1 read version 0 and pushes first
    ps.pull(1)
    ps.push(1, 0, [1.0])                    # worker 1 reads again and pushes: 2 updates in all
    assert ps.push(0, 0, [3.0]) == 1        # worker 0 read version 0; update 2 came from a newer read
    assert ps.snapshot()[0] == pytest.approx(-1.0 - 1.0 - 3.0 / 2)


def test_rules_print_their_learning_rate_scheme():
    assert repr(SGD(0.1)) == "SGD(lr=ConSGD(0.1))"
    assert repr(Adagrad(DynSGD(0.2))) == "Adagrad(lr=DynSGD(0.2), eps=1e-10)"


def test_a_learning_rate_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        SGD(0.0)
