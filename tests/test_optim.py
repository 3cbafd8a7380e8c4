"""Optimizers follow their formulas step by step; schedules give the documented rates."""
import numpy as np
import pytest

from minidl.engine import Value
from minidl.optim import SGD, Adagrad, Constant, LinearWarmup, StepDecay, scale_lr, set_lr
from minidl.tensor import Tensor


def quadratic_grads(w):
    return 2.0 * w  # gradient of sum(w^2)


def test_sgd_momentum_matches_the_slide_formula():
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.9)
    w_ref, vel = np.array([1.0, -2.0]), np.zeros(2)
    for _ in range(5):
        w.grad = quadratic_grads(w.data)
        opt.step()
        vel = 0.9 * vel - 0.1 * quadratic_grads(w_ref)  # vel = mu vel - step_size grad
        w_ref = w_ref + vel                              # w = w + vel
    assert np.allclose(w.data, w_ref, rtol=0, atol=1e-15)


def test_sgd_without_momentum_is_plain_gradient_descent():
    w = Tensor(np.array([3.0]), requires_grad=True)
    w.grad = np.array([2.0])
    SGD([w], lr=0.5).step()
    assert w.data.tolist() == [2.0]


def test_weight_decay_adds_lambda_w_to_the_gradient():
    w = Tensor(np.array([2.0]), requires_grad=True)
    w.grad = np.array([0.0])
    SGD([w], lr=0.1, weight_decay=0.5).step()
    assert w.data.tolist() == pytest.approx([2.0 - 0.1 * 0.5 * 2.0])


def test_adagrad_divides_by_root_of_summed_squared_gradients():
    w = Tensor(np.array([1.0]), requires_grad=True)
    opt = Adagrad([w], lr=0.1, eps=0.0)
    for g in (3.0, 4.0):
        w.grad = np.array([g])
        opt.step()
    assert w.data[0] == pytest.approx(1.0 - 0.1 * 3 / 3 - 0.1 * 4 / 5, abs=1e-15)


def test_parameters_without_gradient_are_left_alone():
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    a.grad = np.ones(2)
    SGD([a, b], lr=1.0).step()
    assert a.data.tolist() == [0.0, 0.0] and b.data.tolist() == [1.0, 1.0]


def test_optimizers_also_step_scalar_values():
    v = Value(1.0)
    v.grad = 0.5
    opt = SGD([v], lr=0.2, momentum=0.5)
    opt.step()
    assert float(v.data) == pytest.approx(0.9)
    opt.zero_grad()
    assert v.grad == 0.0


def test_zero_grad_clears_tensor_gradients():
    w = Tensor(np.ones(2), requires_grad=True)
    w.grad = np.ones(2)
    SGD([w], lr=0.1).zero_grad()
    assert w.grad is None


def test_sgd_reduces_a_quadratic():
    w = Tensor(np.array([5.0, -3.0]), requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.5)
    for _ in range(100):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    assert np.abs(w.data).max() < 1e-6


def test_schedules_give_documented_rates():
    assert [Constant(0.1)(s) for s in (0, 100)] == [0.1, 0.1]
    assert [StepDecay(1.0, every=10, gamma=0.5)(s) for s in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    warm = LinearWarmup(0.4, warmup=4, after=StepDecay(0.4, every=2, gamma=0.5))
    assert [warm(s) for s in range(7)] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4, 0.2])


def test_linear_scaling_rule_multiplies_lr_with_batch():
    assert scale_lr(0.1, 256, 8192) == pytest.approx(3.2)


def test_set_lr_applies_schedule_and_rejects_bad_rates():
    w = Tensor(np.ones(1), requires_grad=True)
    opt = SGD([w], lr=1.0)
    assert set_lr(opt, StepDecay(1.0, every=1, gamma=0.5), 2) == 0.25 and opt.lr == 0.25
    with pytest.raises(ValueError, match="lr = 0"):
        set_lr(opt, lambda s: 0.0, 3)


@pytest.mark.parametrize("make, words", [
    (lambda: SGD([], lr=0.1), "no parameters"),
    (lambda: SGD([Value(1.0)], lr=-1), "must be positive"),
    (lambda: SGD([Value(1.0)], lr=0.1, momentum=1.0), "momentum 1.0"),
    (lambda: StepDecay(0.1, every=0), "every = 0"),
    (lambda: scale_lr(0.1, 0, 10), "positive"),
])
def test_bad_optimizer_settings_are_named(make, words):
    with pytest.raises(ValueError, match=words):
        make()


@pytest.mark.parametrize("make, words", [
    (lambda w: SGD([w], lr=float("nan")), "learning rate nan"),
    (lambda w: SGD([w], lr=float("inf")), "learning rate inf"),
    (lambda w: SGD([w], lr=0.1, weight_decay=float("nan")), "weight_decay nan"),
    (lambda w: Adagrad([w], lr=0.1, eps=-1.0), "eps -1.0"),
])
def test_non_finite_settings_are_refused_as_set_lr_refuses_them(make, words):
    with pytest.raises(ValueError, match=words):
        make(Tensor(np.ones(1), requires_grad=True))


def test_a_parameter_passed_twice_is_refused():
    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="SGD: parameter 1 is parameter 0 again"):
        SGD([w, w], lr=0.1)


def test_momentum_keeps_one_velocity_per_parameter():
    """Two parameters with different gradients: each one's velocity follows its own gradients only."""
    a = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    b = Tensor(np.array([3.0]), requires_grad=True)
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    ref = {"a": [np.array([1.0, -2.0]), np.zeros(2)], "b": [np.array([3.0]), np.zeros(1)]}
    for _ in range(4):
        a.grad, b.grad = 2.0 * a.data, -0.5 * b.data ** 3
        ga, gb = 2.0 * ref["a"][0], -0.5 * ref["b"][0] ** 3
        opt.step()
        for key, g in (("a", ga), ("b", gb)):
            w, vel = ref[key]
            vel = 0.9 * vel - 0.1 * g
            ref[key] = [w + vel, vel]
    np.testing.assert_allclose(a.data, ref["a"][0], rtol=1e-12)
    np.testing.assert_allclose(b.data, ref["b"][0], rtol=1e-12)


def test_sgd_weight_decay_pulls_weights_toward_zero():
    """grad + wd * w: with a zero gradient, w shrinks by the factor (1 - lr * wd) each step."""
    w = Tensor(np.array([2.0, -4.0]), requires_grad=True)
    opt = SGD([w], lr=0.1, weight_decay=0.5)
    w.grad = np.zeros(2)
    opt.step()
    np.testing.assert_allclose(w.data, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-12)


def test_sgd_skips_a_parameter_without_gradient_and_steps_the_others():
    a = Tensor(np.array([1.0]), requires_grad=True)
    b = Tensor(np.array([1.0]), requires_grad=True)
    opt = SGD([a, b], lr=0.5)
    a.grad, b.grad = None, np.array([2.0])
    opt.step()
    assert a.data[0] == 1.0 and b.data[0] == 0.0


def test_adagrad_keeps_one_cache_per_parameter_with_eps_and_weight_decay():
    """cache += g^2, w -= lr g / (sqrt(cache) + eps) with g = grad + wd w, for two parameters."""
    a = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    b = Tensor(np.array([0.5]), requires_grad=True)
    lr, eps, wd = 0.3, 0.25, 0.1
    opt = Adagrad([a, b], lr=lr, eps=eps, weight_decay=wd)
    ref = {"a": [a.data.copy(), np.zeros(2)], "b": [b.data.copy(), np.zeros(1)]}
    for step in range(3):
        a.grad = np.array([1.0, 4.0]) * (step + 1)
        b.grad = np.array([-0.01])
        grads = {"a": a.grad, "b": b.grad}
        opt.step()
        for key in ref:
            w, cache = ref[key]
            g = grads[key] + wd * w
            cache = cache + g * g
            ref[key] = [w - lr * g / (np.sqrt(cache) + eps), cache]
    np.testing.assert_allclose(a.data, ref["a"][0], rtol=1e-12)
    np.testing.assert_allclose(b.data, ref["b"][0], rtol=1e-12)


def test_adagrad_adds_eps_outside_the_square_root():
    """One step from cache 0 with grad 1: w -= lr / (1 + eps), not lr / sqrt(1 + eps)."""
    w = Tensor(np.array([0.0]), requires_grad=True)
    opt = Adagrad([w], lr=1.0, eps=0.5)
    w.grad = np.array([1.0])
    opt.step()
    assert w.data[0] == pytest.approx(-1.0 / 1.5, rel=1e-12)


def test_linear_warmup_without_after_stays_at_lr():
    s = LinearWarmup(0.8, warmup=4)
    assert [s(k) for k in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 0.8, 0.8])


def test_linear_warmup_hands_over_to_after_counting_from_zero():
    s = LinearWarmup(1.0, warmup=2, after=StepDecay(1.0, every=1, gamma=0.5))
    assert [s(k) for k in range(5)] == pytest.approx([0.5, 1.0, 1.0, 0.5, 0.25])


@pytest.mark.parametrize("warmup", [0, -1])
def test_linear_warmup_needs_at_least_one_step(warmup):
    with pytest.raises(ValueError, match=f"LinearWarmup: warmup = {warmup}"):
        LinearWarmup(0.1, warmup=warmup)


def test_step_decay_holds_each_rate_for_every_steps():
    s = StepDecay(1.0, every=3, gamma=0.5)
    assert [s(k) for k in range(7)] == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25])
    assert StepDecay(1.0, every=1)(1) == pytest.approx(0.1)  # the default gamma


def test_constant_schedule_and_scale_lr_for_a_smaller_batch():
    assert Constant(0.3)(0) == 0.3 and Constant(0.3)(1000) == 0.3
    assert scale_lr(0.4, 256, 64) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="scale_lr: batch sizes must be positive, got 256 and 0"):
        scale_lr(0.1, 256, 0)


def test_zero_grad_clears_tensors_to_none_and_values_to_zero():
    t = Tensor(np.ones(2), requires_grad=True)
    v = Value(1.0)
    t.grad, v.grad = np.ones(2), 3.0
    SGD([t, v], lr=0.1).zero_grad()
    assert t.grad is None and v.grad == 0.0


def test_adagrad_defaults_are_lr_0_01_and_eps_1e_minus_10():
    """With a gradient of 1e-10 the first step is lr * g / (|g| + eps) = 0.01 * 1/2 exactly when eps = 1e-10."""
    w = Tensor(np.array([0.0, 0.0]), requires_grad=True, dtype=np.float64)
    opt = Adagrad([w])
    w.grad = np.array([1e-10, 3.0])
    opt.step()
    np.testing.assert_allclose(w.data, [-0.005, -0.01], rtol=1e-9)


def test_step_decay_divides_by_ten_by_default():
    assert StepDecay(2.0, every=5)(5) == pytest.approx(0.2) and StepDecay(2.0, every=5)(10) == pytest.approx(0.02)


def test_the_smallest_settings_allowed_are_accepted():
    assert LinearWarmup(0.5, warmup=1)(0) == 0.5
    assert scale_lr(0.1, 1, 1) == pytest.approx(0.1) and scale_lr(0.1, 1, 4) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="got 0 and 4"):
        scale_lr(0.1, 0, 4)


@pytest.mark.parametrize("make, message", [
    (lambda w: SGD([], lr=0.1), "SGD: no parameters given; pass model.parameters()"),
    (lambda w: Adagrad([], lr=0.1), "Adagrad: no parameters given; pass model.parameters()"),
    (lambda w: SGD([w], lr=0.0), "SGD: learning rate 0.0 must be positive and finite"),
    (lambda w: Adagrad([w], lr=-0.5), "Adagrad: learning rate -0.5 must be positive and finite"),
    (lambda w: SGD([w], lr=0.1, weight_decay=-1.0), "SGD: weight_decay -1.0 must be a finite number >= 0"),
    (lambda w: Adagrad([w], weight_decay=-2.0), "Adagrad: weight_decay -2.0 must be a finite number >= 0"),
    (lambda w: Adagrad([w], eps=float("inf")), "Adagrad: eps inf must be a finite number >= 0"),
    (lambda w: SGD([w, w], lr=0.1), "SGD: parameter 1 is parameter 0 again; pass each parameter once "
                                    "(model.parameters() lists a shared layer once)"),
    (lambda w: LinearWarmup(0.1, warmup=0), "LinearWarmup: warmup = 0; it must be at least 1 step"),
])
def test_each_refusal_names_the_optimizer_the_setting_and_the_rule(make, message):
    with pytest.raises(ValueError) as e:
        make(Tensor(np.ones(1), requires_grad=True))
    assert str(e.value) == message
