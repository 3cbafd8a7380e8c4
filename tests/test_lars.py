"""LARS (You, Gitman and Ginsburg 2017) against a hand computation and an independent
float64 reimplementation of the paper's Algorithm 1 (in PyTorch when importable, else numpy);
the large-batch recipes of lesson 13 built from the library's rules."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.bench import large_batch as lb
from minidl.nn import cross_entropy, mlp
from minidl.optim import LARS, SGD, Constant, LinearWarmup, scale_lr, set_lr
from minidl.tensor import Tensor


def test_one_lars_step_matches_the_hand_computation():
    # w = (3, 4): |w| = 5; g = (0, 1): |g| = 1; beta = 0.1, eta = 0.01, lr = 2, momentum 0.9
    # lambda = 0.01 * 5 / (1 + 0.1 * 5) = 1/30;  v = 2 * (1/30) * (g + 0.1 w) = (0.02, 0.09333...)
    w = Tensor(np.array([[3.0, 4.0]]), requires_grad=True)
    opt = LARS([w], lr=2.0, momentum=0.9, weight_decay=0.1, trust_coefficient=0.01)
    w.grad = np.array([[0.0, 1.0]])
    opt.step()
    assert opt.trust[0] == pytest.approx(1 / 30, rel=1e-14)
    np.testing.assert_allclose(w.data, [[3.0 - 0.02, 4.0 - 1.4 / 15]], rtol=1e-14)
    # second step, same gradient: v = 0.9 v + lr * lambda' * (g + beta w) with the new |w|
    v1 = np.array([[0.02, 1.4 / 15]])
    w1 = np.array([[2.98, 4.0 - 1.4 / 15]])
    lam = 0.01 * np.linalg.norm(w1) / (1.0 + 0.1 * np.linalg.norm(w1))
    v2 = 0.9 * v1 + 2.0 * lam * (np.array([[0.0, 1.0]]) + 0.1 * w1)
    w.grad = np.array([[0.0, 1.0]])
    opt.step()
    np.testing.assert_allclose(w.data, w1 - v2, rtol=1e-14)


def test_lars_step_length_is_lr_eta_times_weight_norm_whatever_the_gradient_size():
    rng = np.random.default_rng(0)
    for scale in (1e-6, 1.0, 1e6):
        w = Tensor(rng.standard_normal((5, 3)), requires_grad=True)
        before = w.data.copy()
        opt = LARS([w], lr=0.5, momentum=0.0, trust_coefficient=0.002)
        w.grad = scale * rng.standard_normal((5, 3))
        opt.step()
        assert np.linalg.norm(w.data - before) == pytest.approx(0.5 * 0.002 * np.linalg.norm(before), rel=1e-12)


def test_lars_biases_take_the_plain_momentum_step_without_weight_decay():
    b = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = LARS([b], lr=0.1, momentum=0.9, weight_decay=0.5, trust_coefficient=0.001)
    for _ in range(2):
        b.grad = np.array([2.0, 1.0])
        opt.step()
    # SGD's form: v = 0.9 v - 0.1 g, b += v: v1 = (-0.2, -0.1), v2 = (-0.38, -0.19)
    np.testing.assert_allclose(b.data, [1.0 - 0.58, -2.0 - 0.29], rtol=1e-14)
    assert opt.trust[0] == 1.0
    w = Tensor(np.ones(3), requires_grad=True)
    opt = LARS([w], lr=0.1, momentum=0.0, trust_coefficient=0.001, exclude_biases=False)
    w.grad = np.ones(3)
    opt.step()
    np.testing.assert_allclose(w.data, 1 - 0.1 * 0.001)


def test_lars_zero_weights_or_zero_gradient_take_a_trust_ratio_of_one():
    w = Tensor(np.zeros((2, 2)), requires_grad=True)
    opt = LARS([w], lr=0.1, momentum=0.0)
    w.grad = np.ones((2, 2))
    opt.step()
    np.testing.assert_allclose(w.data, -0.1)
    w.grad = np.zeros((2, 2))
    opt.step()
    assert opt.trust[0] == 1.0 and np.isfinite(w.data).all()


@pytest.mark.parametrize("kwargs, word", [({"momentum": 1.0}, "momentum"), ({"weight_decay": -1.0}, "weight_decay"),
                                          ({"trust_coefficient": 0.0}, "trust_coefficient"),
                                          ({"trust_coefficient": math.nan}, "trust_coefficient")])
def test_lars_rejects_bad_settings_with_a_clear_error(kwargs, word):
    with pytest.raises(ValueError, match=f"LARS: {word}"):
        LARS([Tensor(np.ones((2, 2)), requires_grad=True)], lr=0.1, **kwargs)


def _paper_lars_numpy(weights, grads_per_step, lr, m, beta, eta):
    """Algorithm 1 of the paper, on lists of float64 arrays; 1-D arrays excluded (plain momentum)."""
    w = [a.copy() for a in weights]
    v = [np.zeros_like(a) for a in weights]
    for grads in grads_per_step(w):
        for i, g in enumerate(grads):
            if w[i].ndim <= 1:
                v[i] = m * v[i] + lr * g
            else:
                wn, gn = np.sqrt((w[i] ** 2).sum()), np.sqrt((g ** 2).sum())
                # minidl's rule where a norm is 0 (a layer behind dead ReLUs gets g = 0): lambda = 1
                lam = eta * wn / (gn + beta * wn) if wn > 0 and gn > 0 else 1.0
                v[i] = m * v[i] + lr * lam * (g + beta * w[i])
            w[i] = w[i] - v[i]
    return w


def _mlp_problem(seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((16, 6)), rng.integers(0, 3, 16)
    return x, y


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), lr=st.floats(0.01, 5.0), m=st.sampled_from([0.0, 0.5, 0.9]),
       beta=st.sampled_from([0.0, 5e-4, 0.1]), eta=st.sampled_from([0.001, 0.02]))
def test_lars_on_an_mlp_matches_the_papers_algorithm_reimplemented_in_numpy(seed, lr, m, beta, eta):
    x, y = _mlp_problem(seed)
    model = mlp([6, 5, 3], seed=seed, dtype=np.float64)
    start = [p.data.copy() for p in model.parameters()]
    opt = LARS(model.parameters(), lr, momentum=m, weight_decay=beta, trust_coefficient=eta)
    for _ in range(4):
        opt.zero_grad()
        cross_entropy(model(Tensor(x)), y).backward()
        opt.step()

    def grads(w):  # the gradient of the same loss at the reference's own weights
        for _ in range(4):
            ref = mlp([6, 5, 3], seed=seed, dtype=np.float64)
            for p, a in zip(ref.parameters(), w):
                p.data[...] = a
            cross_entropy(ref(Tensor(x)), y).backward()
            yield [p.grad for p in ref.parameters()]

    expected = _paper_lars_numpy(start, grads, lr, m, beta, eta)
    for p, e in zip(model.parameters(), expected):
        np.testing.assert_allclose(p.data, e, rtol=1e-10, atol=1e-12)


def test_lars_matches_the_papers_algorithm_written_in_torch_float64():
    torch = pytest.importorskip("torch")
    x, y = _mlp_problem(1)
    model = mlp([6, 5, 3], seed=1, dtype=np.float64)
    ws = [torch.tensor(p.data.copy(), dtype=torch.float64, requires_grad=True) for p in model.parameters()]
    vs = [torch.zeros_like(w) for w in ws]
    lr, m, beta, eta = 0.8, 0.9, 5e-4, 0.001
    opt = LARS(model.parameters(), lr, momentum=m, weight_decay=beta, trust_coefficient=eta)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(5):
        opt.zero_grad()
        cross_entropy(model(Tensor(x)), y).backward()
        opt.step()
        h = torch.relu(xt @ ws[0] + ws[1])
        loss = torch.nn.functional.cross_entropy(h @ ws[2] + ws[3], yt)
        gs = torch.autograd.grad(loss, ws)
        with torch.no_grad():
            for w, g, v in zip(ws, gs, vs):
                if w.ndim <= 1:  # biases: no trust ratio, no weight decay
                    v.mul_(m).add_(lr * g)
                else:
                    lam = eta * torch.linalg.norm(w) / (torch.linalg.norm(g) + beta * torch.linalg.norm(w))
                    v.mul_(m).add_(lr * lam * (g + beta * w))
                w.sub_(v)
    for p, w in zip(model.parameters(), ws):
        np.testing.assert_allclose(p.data, w.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_warmup_with_linear_scaling_climbs_to_the_scaled_rate_then_stays():
    lr = scale_lr(0.05, 32, 1024)            # k = 32: 1.6
    sched = LinearWarmup(lr, warmup=4)
    assert [sched(t) for t in range(6)] == pytest.approx([0.4, 0.8, 1.2, 1.6, 1.6, 1.6])
    assert lr == pytest.approx(1.6)
    w = Tensor(np.ones(2), requires_grad=True)
    opt = SGD([w], lr=lr)
    assert [set_lr(opt, sched, t) for t in range(4)] == pytest.approx([0.4, 0.8, 1.2, 1.6])


def test_the_large_batch_recipes_are_the_librarys_rules():
    n = 4000
    for batch in (32, 500, 4000):
        k = batch / lb.BASE_BATCH
        steps = lb.warmup_steps(batch, n)
        assert steps == max(1, math.ceil(n / batch))            # one epoch of warmup
        params = mlp([4, 3], dtype=np.float64).parameters()
        opt, s = lb.recipe("fixed rate", params, batch, n)
        assert type(opt) is SGD and isinstance(s, Constant) and s(0) == lb.BASE_LR and opt.momentum == 0.9
        opt, s = lb.recipe("linear scaling", params, batch, n)
        assert type(opt) is SGD and s(0) == pytest.approx(lb.BASE_LR * k)
        opt, s = lb.recipe("linear + warmup", params, batch, n)
        assert isinstance(s, LinearWarmup) and s.warmup == steps
        assert s(steps - 1) == s(steps + 7) == pytest.approx(lb.BASE_LR * k)
        opt, s = lb.recipe("LARS", params, batch, n)
        assert type(opt) is LARS and opt.eta == lb.LARS_ETA and s(steps) == pytest.approx(lb.LARS_LR * k)
    with pytest.raises(ValueError, match="unknown recipe"):
        lb.recipe("Adam", params, 32, n)


def test_largest_kept_batch_stops_at_the_first_drop_beyond_one_point():
    assert lb.largest_kept([32, 64, 128, 256], [0.95, 0.945, 0.93, 0.95], 0.95) == 64
    assert lb.largest_kept([32, 64], [0.90, 0.95], 0.95) == 0
    assert lb.largest_kept([32, 128], [0.951, 0.941], 0.951) == 128   # exactly one point: kept


def test_the_sweep_trains_and_a_huge_fixed_rate_scores_chance(monkeypatch):
    data = lb.load_data()
    small = tuple(a[:200] for a in data)
    acc = lb.sweep([50, 200], recipes=("fixed rate", "LARS"), epochs=1, data=small)
    assert acc["fixed rate"].shape == (1, 2) and ((acc["LARS"] >= 0) & (acc["LARS"] <= 1)).all()
    monkeypatch.setattr(lb, "BASE_LR", 1e300)  # overflows to inf
    assert lb.train("fixed rate", 50, small, epochs=1) == 0.1
