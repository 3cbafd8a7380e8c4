"""minidl against PyTorch in float64, when torch is installed (skipped otherwise)."""
import pytest
from exprs import near_kink, programs, run
from hypothesis import assume, given, settings

from minidl.engine import Value
from minidl.nn import MLP

torch = pytest.importorskip("torch")


@settings(max_examples=200, deadline=None)
@given(programs())
def test_random_graphs_match_torch_float64(case):
    xs, prog = case
    values = [Value(x) for x in xs]
    out = run(prog, *values)
    assume(not near_kink(out))
    out.backward()
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    ref = run(prog, *tensors)
    ref.backward()
    assert out.data == pytest.approx(ref.item(), rel=1e-12, abs=1e-12)
    for v, t in zip(values, tensors):
        expected = 0.0 if t.grad is None else t.grad.item()
        assert v.grad == pytest.approx(expected, rel=1e-10, abs=1e-10), (prog, xs)


def test_mlp_gradients_match_torch_float64():
    model = MLP(2, [16, 16, 1], act="relu", seed=3)
    X = [[0.3, -1.2], [1.5, 0.4], [-0.7, 0.9], [0.05, -0.2]]
    Y = [1.0, -1.0, 1.0, -1.0]
    loss = sum((1 + -y * model(x)).relu() for x, y in zip(X, Y)) * (1.0 / len(X))
    loss.backward()

    weights = []
    for layer in model.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64,
                         requires_grad=True)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        weights.append((W, b))
    h = torch.tensor(X, dtype=torch.float64)
    for k, (W, b) in enumerate(weights):
        h = h @ W.T + b
        h = h.relu() if k < len(weights) - 1 else h
    ref = (1 - torch.tensor(Y, dtype=torch.float64) * h[:, 0]).relu().mean()
    ref.backward()

    assert loss.data == pytest.approx(ref.item(), rel=1e-12)
    for layer, (W, b) in zip(model.layers, weights):
        for i, n in enumerate(layer.neurons):
            assert [w.grad for w in n.w] == pytest.approx(W.grad[i].tolist(), rel=1e-10, abs=1e-12)
            assert n.b.grad == pytest.approx(b.grad[i].item(), rel=1e-10, abs=1e-12)


def test_tensor_mlp_forward_backward_and_cross_entropy_match_torch_float64():
    import numpy as np

    from minidl.nn import cross_entropy, mlp
    from minidl.tensor import Tensor

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 20)), rng.integers(0, 10, 16)
    model = mlp([20, 32, 32, 10], seed=0, dtype=np.float64)
    loss = cross_entropy(model(Tensor(x)), y)
    loss.backward()

    params = [torch.tensor(p.data, requires_grad=True) for p in model.parameters()]
    h = torch.tensor(x)
    for k in range(0, len(params), 2):
        h = h @ params[k] + params[k + 1]
        h = h.relu() if k < len(params) - 2 else h
    ref = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-12)
    for p, q in zip(model.parameters(), params):
        assert np.abs(p.grad - q.grad.numpy()).max() < 1e-10


def test_tensor_ops_match_torch_float64():
    import numpy as np

    from minidl.tensor import Tensor

    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)), rng.uniform(0.5, 2.0, (4,))
    ours = [Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)]
    theirs = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]

    out = (lambda x, w: (((x * w - w.log() + (x / w).tanh()).sigmoid() ** 2).log_softmax(axis=1)
                         + (x @ w.reshape(4, 1)).relu()).sum())(*ours)
    ref = (lambda x, w: (((x * w - w.log() + (x / w).tanh()).sigmoid() ** 2).log_softmax(dim=1)
                         + (x @ w.reshape(4, 1)).relu()).sum())(*theirs)
    out.backward()
    ref.backward()
    assert out.item() == pytest.approx(ref.item(), rel=1e-12)
    for p, q in zip(ours, theirs):
        assert np.abs(p.grad - q.grad.numpy()).max() < 1e-10
