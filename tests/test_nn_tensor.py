"""Tensor networks: modules, initialisation, state_dict, losses."""
import numpy as np
import pytest

from minidl.gradcheck import max_errors, numeric_grad_arrays
from minidl.nn import MLP, Linear, ReLU, Sequential, cross_entropy, mlp, mse
from minidl.tensor import Tensor


def test_named_parameters_walk_submodules_in_order():
    model = mlp([4, 3, 2])
    assert [n for n, _ in model.named_parameters()] == ["layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b"]
    assert [p.shape for p in model.parameters()] == [(4, 3), (3,), (3, 2), (2,)]


def test_scalar_mlp_parameters_keep_weights_then_bias_per_neuron():
    model = MLP(2, [3, 1])
    names = [n for n, _ in model.named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert len(names) == 3 * 3 + 4


def test_lecture_mnist_model_has_the_right_size():
    model = mlp([784, 512, 512, 512, 10])
    assert sum(p.data.size for p in model.parameters()) == 784 * 512 + 512 + 2 * (512 * 512 + 512) + 512 * 10 + 10
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_he_and_xavier_initialisations_have_their_variances():
    he = Linear(1000, 500, init="he", seed=0).W.data
    xavier = Linear(1000, 500, init="xavier", seed=0).W.data
    assert he.var() == pytest.approx(2.0 / 1000, rel=0.02)
    assert xavier.var() == pytest.approx(2.0 / 1500, rel=0.02)


def test_same_seed_same_network():
    a, b = mlp([3, 4, 2], seed=7), mlp([3, 4, 2], seed=7)
    assert all((p.data == q.data).all() for p, q in zip(a.parameters(), b.parameters()))


def test_state_dict_round_trip_restores_outputs():
    x = Tensor(np.random.default_rng(0).standard_normal((5, 4)))
    a, b = mlp([4, 8, 3], seed=1), mlp([4, 8, 3], seed=2)
    assert not np.allclose(a(x).data, b(x).data)
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a(x).data, b(x).data)
    state = a.state_dict()
    state["layers.0.W"][...] = 0.0  # a copy: changing it leaves the model alone
    assert not np.all(a.layers[0].W.data == 0)


def test_load_state_dict_names_missing_keys_and_wrong_shapes():
    model = mlp([4, 3, 2])
    state = model.state_dict()
    del state["layers.2.b"]
    with pytest.raises(KeyError, match="missing \\['layers.2.b'\\]"):
        model.load_state_dict(state)
    state = model.state_dict()
    state["layers.0.W"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match="layers.0.W has shape \\(4, 3\\) in the module but \\(3, 4\\)"):
        model.load_state_dict(state)


def test_train_and_eval_set_the_mode_everywhere():
    model = mlp([2, 3, 1]).eval()
    assert not model.training and not model.layers[0].training
    assert model.train().layers[1].training


def test_zero_grad_clears_tensor_gradients():
    model = mlp([2, 3, 1])
    model(Tensor(np.ones((4, 2)))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_linear_rejects_wrong_feature_count():
    with pytest.raises(ValueError, match="shape \\(2, 5\\) but the layer expects 4 features"):
        Linear(4, 3)(Tensor(np.ones((2, 5))))


def test_cross_entropy_gradient_matches_central_differences():
    rng = np.random.default_rng(0)
    logits, y = rng.standard_normal((6, 4)), np.array([0, 3, 1, 1, 2, 0])
    t = Tensor(logits, requires_grad=True)
    cross_entropy(t, y).backward()
    numeric = numeric_grad_arrays(lambda z: cross_entropy(Tensor(z), y).item(), [logits])
    assert max_errors([t.grad], numeric)[0] < 1e-8


def test_cross_entropy_is_stable_for_huge_logits():
    t = Tensor(np.array([[1e4, 0.0], [0.0, 1e4]]), requires_grad=True)
    loss = cross_entropy(t, np.array([0, 0]))
    loss.backward()
    assert loss.item() == pytest.approx(5e3) and np.isfinite(t.grad).all()


def test_cross_entropy_of_uniform_logits_is_log_classes():
    assert cross_entropy(Tensor(np.zeros((3, 10))), np.array([1, 2, 3])).item() == pytest.approx(np.log(10), rel=1e-6)


@pytest.mark.parametrize("logits, y, words", [
    (np.zeros((3, 4)), np.array([0, 1]), "logits (3, 4) and targets (2,)"),
    (np.zeros((2, 4)), np.array([0, 4]), "labels in [0, 4)"),
    (np.zeros((2, 4)), np.array([0.0, 1.0]), "dtype float64"),
])
def test_cross_entropy_names_bad_targets(logits, y, words):
    with pytest.raises(ValueError, match=words.replace("(", "\\(").replace(")", "\\)").replace("[", "\\[")):
        cross_entropy(Tensor(logits), y)


def test_mse_is_mean_of_squares_and_checks_shapes():
    assert mse(Tensor([1.0, 3.0]), [0.0, 0.0]).item() == 5.0
    with pytest.raises(ValueError, match="mse: prediction shape \\(2,\\) and target shape \\(3,\\)"):
        mse(Tensor([1.0, 3.0]), [0.0, 0.0, 0.0])


def test_sequential_applies_layers_in_order():
    x = Tensor(np.array([[-1.0, 2.0]]))
    assert Sequential(ReLU())(x).data.tolist() == [[0.0, 2.0]]


def test_a_tied_layer_is_one_parameter_and_is_stepped_once():
    from minidl.optim import SGD
    lin = Linear(3, 3, seed=0)
    model = Sequential(lin, ReLU(), lin)
    assert [n for n, _ in model.named_parameters()] == ["layers.0.W", "layers.0.b"]
    assert [id(p) for p in model.parameters()] == [id(lin.W), id(lin.b)]
    before = lin.W.data.copy()
    model(Tensor(np.ones((2, 3)))).sum().backward()
    SGD(model.parameters(), lr=0.1).step()
    assert np.allclose(lin.W.data, before - 0.1 * lin.W.grad, rtol=0, atol=1e-7)
    model.load_state_dict(model.state_dict())


def test_cross_entropy_accepts_integer_valued_tensor_targets():
    logits = np.random.default_rng(0).standard_normal((3, 4))
    expected = cross_entropy(Tensor(logits), np.array([0, 3, 1])).item()
    assert cross_entropy(Tensor(logits), Tensor([0, 3, 1])).item() == expected
    with pytest.raises(ValueError, match="cross_entropy: targets must be integer labels; the Tensor "
                                         "targets hold 0.5"):
        cross_entropy(Tensor(logits), Tensor([0.5, 3, 1]))
