"""minidl against PyTorch in float64, when torch is installed (skipped otherwise)."""
import numpy as np
import pytest
from exprs import near_kink, programs, run
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minidl.engine import Value
from minidl.nn import MLP
from minidl.tensor import Tensor

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


# ---- random Tensor programs: broadcast shapes, negative axes, every op, against torch ----


def _axis(draw, ndim, allow_none=True, allow_tuple=True):
    """None, one axis or a tuple of distinct axes, each given positive or negative."""
    choices = (["none"] if allow_none else []) + (["one"] if ndim else []) + (["tuple"] if ndim and allow_tuple else [])
    kind = draw(st.sampled_from(choices))
    if kind == "none":
        return None
    sign = lambda a: a - ndim if draw(st.booleans()) else a  # noqa: E731
    if kind == "one":
        return sign(draw(st.integers(0, ndim - 1)))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(sign(a) for a in axes)


def _dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


# name -> (arity, ndim needed, draw parameters (draw, x shape) -> p, ours(x, y, p), torch's(x, y, p))
TENSOR_OPS = {
    "neg": (1, 0, None, lambda x, y, p: -x, lambda x, y, p: -x),
    "exp": (1, 0, None, lambda x, y, p: x.tanh().exp(), lambda x, y, p: x.tanh().exp()),
    "tanh": (1, 0, None, lambda x, y, p: x.tanh(), lambda x, y, p: x.tanh()),
    "sigmoid": (1, 0, None, lambda x, y, p: x.sigmoid(), lambda x, y, p: x.sigmoid()),
    "relu": (1, 0, None, lambda x, y, p: x.relu(), lambda x, y, p: x.relu()),
    "log": (1, 0, None, lambda x, y, p: (x * x + 0.5).log(), lambda x, y, p: (x * x + 0.5).log()),
    "pow_int": (1, 0, lambda d, s: d(st.sampled_from([0, 1, 2, 3])),
                lambda x, y, p: x ** p, lambda x, y, p: x ** p),
    "pow_float": (1, 0, lambda d, s: d(st.sampled_from([-1.5, -1.0, 0.5, 1.5, 2.5])),
                  lambda x, y, p: (x * x + 0.1) ** p, lambda x, y, p: (x * x + 0.1) ** p),
    "rsub": (1, 0, lambda d, s: d(st.floats(-2, 2)), lambda x, y, p: p - x, lambda x, y, p: p - x),
    "rdiv": (1, 0, lambda d, s: d(st.floats(-2, 2)),
             lambda x, y, p: p / (x * x + 0.5), lambda x, y, p: p / (x * x + 0.5)),
    "numpy_scalar_left": (1, 0, lambda d, s: d(st.floats(-2, 2)),
                          lambda x, y, p: np.float64(p) * x, lambda x, y, p: p * x),
    "numpy_array_left": (1, 0, lambda d, s: np.linspace(-1.0, 2.0, s[-1] if s else 1).reshape(s[-1:]),
                         lambda x, y, p: p - x, lambda x, y, p: torch.tensor(p) - x),
    "add": (2, 0, None, lambda x, y, p: x + y, lambda x, y, p: x + y),
    "sub": (2, 0, None, lambda x, y, p: x - y, lambda x, y, p: x - y),
    "mul": (2, 0, None, lambda x, y, p: x * y, lambda x, y, p: x * y),
    "div": (2, 0, None, lambda x, y, p: x / (y * y + 0.5), lambda x, y, p: x / (y * y + 0.5)),
    "sum": (1, 0, lambda d, s: (_axis(d, len(s)), d(st.booleans())),
            lambda x, y, p: x.sum(axis=p[0], keepdims=p[1]),
            lambda x, y, p: x.sum(dim=_dims(p[0], x.ndim), keepdim=p[1])),
    "mean": (1, 0, lambda d, s: (_axis(d, len(s)), d(st.booleans())),
             lambda x, y, p: x.mean(axis=p[0], keepdims=p[1]),
             lambda x, y, p: x.mean(dim=_dims(p[0], x.ndim), keepdim=p[1])),
    "max": (1, 0, lambda d, s: (_axis(d, len(s)), d(st.booleans())),  # amax splits ties evenly, as ours
            lambda x, y, p: x.max(axis=p[0], keepdims=p[1]),
            lambda x, y, p: torch.amax(x, dim=_dims(p[0], x.ndim), keepdim=p[1])),
    "log_softmax": (1, 1, lambda d, s: _axis(d, len(s), allow_none=False, allow_tuple=False),
                    lambda x, y, p: x.log_softmax(axis=p), lambda x, y, p: x.log_softmax(dim=p)),
    "transpose": (1, 1, lambda d, s: tuple(a - len(s) if d(st.booleans()) else a
                                           for a in d(st.permutations(range(len(s))))),
                  lambda x, y, p: x.transpose(*p), lambda x, y, p: x.permute(p)),
    "T": (1, 0, None, lambda x, y, p: x.T, lambda x, y, p: x.permute(tuple(reversed(range(x.ndim))))),
    "reshape": (1, 0, lambda d, s: d(st.sampled_from([(-1,), tuple(reversed(s))])),
                lambda x, y, p: x.reshape(p), lambda x, y, p: x.reshape(p)),
    "index": (1, 1, lambda d, s: d(st.integers(-s[0], s[0] - 1)),
              lambda x, y, p: x[p], lambda x, y, p: x[p]),
    "fancy_index": (1, 1, lambda d, s: d(st.lists(st.integers(-s[0], s[0] - 1), min_size=1, max_size=4)),
                    lambda x, y, p: x[p], lambda x, y, p: x[p]),
    "matmul": (1, 2, lambda d, s: np.linspace(-1.0, 1.0, s[-1] * 2).reshape(s[-1], 2),
               lambda x, y, p: x @ p, lambda x, y, p: x @ torch.tensor(p)),
    "numpy_matmul_left": (1, 2, lambda d, s: np.linspace(-1.0, 1.5, s[-2] * 2).reshape(2, s[-2]),
                          lambda x, y, p: p @ x, lambda x, y, p: torch.tensor(p) @ x),
    "matmul_pair": (2, 2, None, lambda x, y, p: x @ y.transpose(*range(y.ndim - 2), -1, -2),
                    lambda x, y, p: x @ y.transpose(-1, -2)),
}


@st.composite
def tensor_programs(draw, max_ops=6):
    """(input arrays, program): each step applies an op to pool entries, with
    broadcastable partners and random (often negative) axes."""
    n_in = draw(st.integers(1, 3))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=n_in, min_dims=0, max_dims=3, max_side=3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    inputs = [rng.standard_normal(s) for s in shapes.input_shapes]
    pool = [Tensor(a) for a in inputs]  # run as we draw, to know each result's shape
    program = []
    for _ in range(draw(st.integers(1, max_ops))):
        i = draw(st.integers(0, len(pool) - 1))
        x = pool[i]
        name = draw(st.sampled_from([n for n, op in TENSOR_OPS.items() if x.ndim >= op[1]]))
        arity, _, params, ours, _ = TENSOR_OPS[name]
        partners = [j for j, t in enumerate(pool) if _partners(name, x, t)]
        j = draw(st.sampled_from(partners)) if arity == 2 else None
        p = params(draw, x.shape) if params else None
        pool.append(ours(x, pool[j] if j is not None else None, p))
        program.append((name, i, j, p))
    return inputs, program


def _partners(name, x, y):
    """Whether op `name` takes x and y: x @ y^T needs equal last axes and broadcast batch axes."""
    if name == "matmul_pair":
        return y.ndim >= 2 and x.shape[-1] == y.shape[-1] and _broadcasts(x.shape[:-2], y.shape[:-2])
    return _broadcasts(x.shape, y.shape)


def _broadcasts(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def run_tensor_program(program, leaves, side):
    """The program's results, each weighted by fixed numbers and summed to one scalar."""
    pool = list(leaves)
    for name, i, j, p in program:
        pool.append(TENSOR_OPS[name][3 if side == "ours" else 4](pool[i], pool[j] if j is not None else None, p))
    outputs = pool[len(leaves):]
    total = 0.0
    for k, out in enumerate(outputs):
        w = np.cos(np.arange(max(out.numel() if side == "torch" else out.data.size, 1)) + k).reshape(out.shape)
        total = total + (out * (torch.tensor(w) if side == "torch" else w)).sum()
    return total, outputs


def _near_kink(root, margin=1e-9):
    """A relu input or a max runner-up within `margin` of its kink (but not on it), where two
    float64 engines that round differently may pick different sides."""
    for node in root.topological_order():
        if node._op == "relu":
            v = np.abs(node._prev[0].data)
            if np.any((v > 0) & (v < margin)):
                return True
        if node._op == "max":
            data, out = node.saved_arrays
            gap = out - data
            if np.any((gap > 0) & (gap < margin * np.maximum(1.0, np.abs(out)))):
                return True
    return False


@settings(max_examples=300, deadline=None)
@given(tensor_programs())
def test_random_tensor_programs_match_torch_float64(case):
    inputs, program = case
    ours = [Tensor(a, requires_grad=True) for a in inputs]
    out, results = run_tensor_program(program, ours, "ours")
    assume(not _near_kink(out))
    out.backward()
    theirs = [torch.tensor(a, requires_grad=True) for a in inputs]
    ref, ref_results = run_tensor_program(program, theirs, "torch")
    ref.backward()
    for r, q in zip(results, ref_results):
        assert r.shape == tuple(q.shape), (program, r.shape, q.shape)
        assert np.allclose(r.data, q.detach().numpy(), rtol=1e-10, atol=1e-10), program
    for leaf, t in zip(ours, theirs):
        expected = np.zeros(leaf.shape) if t.grad is None else t.grad.numpy()
        got = np.zeros(leaf.shape) if leaf.grad is None else leaf.grad
        assert got.shape == leaf.shape and got.dtype == np.float64, program
        scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
        assert np.allclose(got, expected, rtol=1e-9, atol=1e-9 * scale), (program, got, expected)
