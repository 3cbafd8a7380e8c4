"""BatchNorm1d: training and evaluation modes, running statistics, gradients against central
differences and PyTorch in float64, and a clear error for a batch of one in training mode."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.nn import BatchNorm1d, Linear, Sequential
from minidl.tensor import Tensor


def _bn(features, seed=0):
    bn = BatchNorm1d(features, dtype=np.float64)
    rng = np.random.default_rng(seed)
    bn.gamma.data[...] = rng.uniform(0.5, 2.0, features)
    bn.beta.data[...] = rng.standard_normal(features)
    return bn


def test_training_mode_normalizes_each_feature_to_mean_beta_and_std_gamma():
    bn = _bn(3)
    x = np.random.default_rng(1).standard_normal((50, 3)) * [1.0, 10.0, 0.1] + [5.0, -3.0, 0.0]
    y = bn(Tensor(x)).data
    np.testing.assert_allclose(y.mean(axis=0), bn.beta.data, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=0), bn.gamma.data * np.sqrt(x.var(axis=0) / (x.var(axis=0) + 1e-5)),
                               rtol=1e-12)


def test_running_statistics_follow_the_batches_with_momentum_and_unbiased_variance():
    bn = BatchNorm1d(2, momentum=0.1, dtype=np.float64)
    x = np.array([[1.0, 2.0], [3.0, 6.0]])   # mean (2, 4), unbiased var (2, 8)
    bn(Tensor(x))
    np.testing.assert_allclose(bn.running_mean, [0.2, 0.4])
    np.testing.assert_allclose(bn.running_var, [0.9 + 0.2, 0.9 + 0.8])
    bn(Tensor(x))
    np.testing.assert_allclose(bn.running_mean, [0.9 * 0.2 + 0.2, 0.9 * 0.4 + 0.4])


def test_eval_mode_uses_the_running_statistics_so_an_example_ignores_the_others():
    bn = _bn(4)
    rng = np.random.default_rng(2)
    for _ in range(30):
        bn(Tensor(rng.standard_normal((20, 4)) * 3 + 1))
    bn.eval()
    before = (bn.running_mean.copy(), bn.running_var.copy())
    x = rng.standard_normal((5, 4))
    alone = bn(Tensor(x[:1])).data      # a batch of one is fine in eval mode
    together = bn(Tensor(x)).data[:1]
    np.testing.assert_allclose(alone, together, rtol=1e-14)
    expected = bn.gamma.data * (x[:1] - before[0]) / np.sqrt(before[1] + 1e-5) + bn.beta.data
    np.testing.assert_allclose(alone, expected, rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean, before[0])    # eval leaves the statistics alone
    assert bn.train().training


def test_a_batch_of_one_in_training_mode_is_a_clear_error():
    bn = BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d: a batch of 1 .*eval\(\)"):
        bn(Tensor(np.ones((1, 3))))
    with pytest.raises(ValueError, match=r"BatchNorm1d: input has shape \(4, 2\); expected \(batch, 3\)"):
        bn(Tensor(np.ones((4, 2))))
    with pytest.raises(ValueError, match="features"):
        BatchNorm1d(0)


def test_batchnorm_parameters_are_found_and_the_statistics_are_not():
    model = Sequential(Linear(3, 4), BatchNorm1d(4))
    assert [n for n, _ in model.named_parameters()] == ["layers.0.W", "layers.0.b", "layers.1.gamma",
                                                        "layers.1.beta"]
    model.eval()
    assert not model.layers[1].training


def _central_differences(f, a, eps=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        up = f()
        a[i] = old - eps
        down = f()
        a[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 7), features=st.integers(1, 4), seed=st.integers(0, 2**16), train=st.booleans())
def test_batchnorm_gradients_match_central_differences(n, features, seed, train):
    rng = np.random.default_rng(seed)
    bn = _bn(features, seed)
    bn.running_mean[...] = rng.standard_normal(features)
    bn.running_var[...] = rng.uniform(0.5, 2.0, features)
    bn.train(train)
    stats = (bn.running_mean.copy(), bn.running_var.copy())
    x = Tensor(rng.standard_normal((n, features)) * 2, requires_grad=True)
    weights = rng.standard_normal((n, features))   # L = sum(weights * y): a non-trivial upstream gradient

    def loss():
        bn.running_mean[...], bn.running_var[...] = stats   # each forward sees the same statistics
        return float((bn(x).data * weights).sum())

    bn.running_mean[...], bn.running_var[...] = stats
    (bn(x) * Tensor(weights)).sum().backward()
    for t in (x, bn.gamma, bn.beta):
        np.testing.assert_allclose(t.grad, _central_differences(loss, t.data), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_matches_torch_float64(train):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 5)) * 3 + 1
    g = rng.standard_normal((8, 5))
    bn = _bn(5)
    ref = torch.nn.BatchNorm1d(5, eps=1e-5, momentum=0.1).double()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(bn.gamma.data))
        ref.bias.copy_(torch.tensor(bn.beta.data))
    for _ in range(3):                       # move the running statistics in both
        batch = rng.standard_normal((8, 5)) * 2
        bn(Tensor(batch))
        ref(torch.tensor(batch))
    np.testing.assert_allclose(bn.running_mean, ref.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, ref.running_var.numpy(), rtol=1e-12)
    bn.train(train)
    ref.train(train)
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.tensor(g))
    xm = Tensor(x, requires_grad=True)
    y = bn(xm)
    y.backward(g)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.gamma.grad, ref.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.beta.grad, ref.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
