"""Keys and values: a key is a neuron, its value is its weights, a key range is one slice."""
import numpy as np
import pytest

from minidl.nn import Linear, Module, mlp
from minidl.ps import KeyLayout, KeyRange, pack, unpack
from minidl.tensor import Tensor


def test_offsets_are_the_running_sum_of_value_lengths():
    layout = KeyLayout([3, 1, 2])
    assert layout.offsets.tolist() == [0, 3, 4, 6]
    assert layout.size == 6 and layout.n_keys == 3


def test_a_key_range_is_one_contiguous_slice_of_the_flat_vector():
    layout = KeyLayout([3, 1, 2, 4])
    assert layout.resolve(range(1, 3), "pull") == KeyRange(1, 3)
    assert layout.resolve(slice(1, None), "pull") == KeyRange(1, 4)
    assert layout.flat(KeyRange(1, 3)) == slice(3, 6)
    assert layout.count(KeyRange(0, 4)) == 10


def test_a_list_of_keys_gathers_their_values_in_the_order_asked():
    layout = KeyLayout([3, 1, 2])
    request = layout.resolve([2, 0], "pull")
    assert layout.flat(request).tolist() == [4, 5, 0, 1, 2]
    assert layout.count(request) == 5


def test_a_single_key_and_none_resolve_to_ranges():
    layout = KeyLayout.uniform(5, 2)
    assert layout.resolve(3, "push") == KeyRange(3, 4)
    assert layout.resolve(None, "push") == KeyRange(0, 5)


@pytest.mark.parametrize("keys", [7, [0, 7], range(3, 9), -1])
def test_keys_out_of_range_are_rejected_with_the_valid_range(keys):
    with pytest.raises(KeyError, match=r"0 \.\. 4"):
        KeyLayout.uniform(5, 2).resolve(keys, "push")


def test_repeated_keys_are_rejected():
    with pytest.raises(KeyError, match="repeat"):
        KeyLayout.uniform(5, 2).resolve([1, 2, 1], "push")


def test_values_of_the_wrong_length_name_the_op_the_keys_and_both_lengths():
    layout = KeyLayout.uniform(5, 2)
    with pytest.raises(ValueError, match=r"push: keys range\(0, 2\) hold 4 floats but 3 values"):
        layout.check_values(np.zeros(3), layout.resolve(range(0, 2), "push"), "push", range(0, 2))


def test_for_model_makes_one_key_per_output_neuron_with_in_plus_one_floats():
    model = mlp([4, 3, 2], seed=0, dtype=np.float64)
    layout = KeyLayout.for_model(model)
    assert layout.n_keys == 3 + 2
    assert layout.lengths.tolist() == [5, 5, 5, 4, 4]
    assert [b.name for b in layout.blocks] == ["layers.0", "layers.2"]
    assert layout.describe(4) == "layers.2 neuron 1 (4 floats)"


def test_the_value_of_key_j_is_column_j_of_W_then_b_j():
    model = mlp([4, 3, 2], seed=1, dtype=np.float64)
    model.layers[0].b.data[:] = [10.0, 20.0, 30.0]
    flat = pack(model)
    layout = KeyLayout.for_model(model)
    value = flat[layout.flat(layout.resolve(1, "pull"))]
    assert np.array_equal(value, np.r_[model.layers[0].W.data[:, 1], 20.0])


def test_unpack_inverts_pack_for_weights_and_gradients():
    model, other = mlp([5, 4, 3], seed=0, dtype=np.float64), mlp([5, 4, 3], seed=9, dtype=np.float64)
    unpack(pack(model), other)
    assert all(np.array_equal(a.data, b.data) for a, b in zip(model.parameters(), other.parameters()))
    for p in model.parameters():
        p.grad = np.full(p.data.shape, 2.0)
    assert np.all(pack(model, grads=True) == 2.0)


def test_models_with_parameters_outside_a_linear_are_refused():
    class Scaled(Module):
        def __init__(self):
            self.fc = Linear(2, 2)
            self.scale = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=r"\['scale'\] outside a Linear"):
        KeyLayout.for_model(Scaled())


def test_unpack_refuses_a_vector_of_the_wrong_size():
    model = mlp([3, 2], dtype=np.float64)
    with pytest.raises(ValueError, match="has 9 floats but the model holds 8"):
        unpack(np.zeros(9), model)
