"""Scalar networks: shapes, seeding, zero_grad and learning."""
import pytest

from minidl.data import make_moons, make_xor
from minidl.nn import MLP, Layer, Neuron


def test_mlp_has_one_weight_per_connection_plus_biases():
    model = MLP(2, [16, 16, 1])
    assert len(model.parameters()) == (2 * 16 + 16) + (16 * 16 + 16) + (16 * 1 + 1)


def test_same_seed_gives_same_network_and_other_seed_differs():
    a, b, c = MLP(2, [3, 1], seed=5), MLP(2, [3, 1], seed=5), MLP(2, [3, 1], seed=6)
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert [p.data for p in a.parameters()] != [p.data for p in c.parameters()]


def test_output_layer_is_linear_and_hidden_layers_use_the_activation():
    model = MLP(2, [3, 4, 2], act="tanh")
    assert [n.act for n in model.layers[0].neurons] == ["tanh"] * 3
    assert [n.act for n in model.layers[-1].neurons] == ["linear"] * 2
    assert len(model([0.1, 0.2])) == 2


def test_single_output_is_a_value_not_a_list():
    assert MLP(2, [1])([1.0, 2.0]).data == pytest.approx(MLP(2, [1])([1.0, 2.0]).data)


def test_zero_grad_resets_every_parameter():
    model = MLP(2, [4, 1])
    model([1.0, -1.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())


def test_neuron_rejects_wrong_input_length_with_both_sizes():
    with pytest.raises(ValueError, match="3 numbers but the neuron has 2 weights"):
        Neuron(2)([1.0, 2.0, 3.0])


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="'softplus'"):
        Layer(2, 2, act="softplus")


def test_sgd_on_moons_reaches_high_training_accuracy():
    X, y = make_moons(40, noise=0.1, seed=1)
    model = MLP(2, [8, 8, 1], seed=0)
    first = None
    for _ in range(60):
        scores = [model(list(x)) for x in X]
        loss = sum((1 - yi * s).relu() for yi, s in zip(y, scores)) * (1.0 / len(X))
        first = loss.data if first is None else first
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
    accuracy = sum((s.data > 0) == (yi > 0) for s, yi in zip(scores, y)) / len(y)
    assert loss.data < 0.5 * first
    assert accuracy >= 0.9


def test_toy_data_is_seeded_and_balanced():
    X1, y1 = make_moons(101, seed=3)
    X2, y2 = make_moons(101, seed=3)
    assert X1.shape == (101, 2) and (X1 == X2).all() and (y1 == y2).all()
    assert sorted(set(y1)) == [-1.0, 1.0] and (y1 > 0).sum() == 50
    X, y = make_xor(64, noise=0.0, seed=0)
    assert ((X[:, 0] * X[:, 1] > 0) == (y > 0)).all()


def test_toy_data_rejects_too_few_points():
    with pytest.raises(ValueError, match="make_moons: n = 1"):
        make_moons(1)
