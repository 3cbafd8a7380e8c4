"""What backward keeps: `Tensor.saved_arrays` per op and `kept_bytes` of a whole graph."""
import gc
import weakref

import numpy as np

from minidl.nn import cross_entropy, mlp
from minidl.tensor import Tensor, kept_bytes


def small_mlp_graph(batch=6):
    rng = np.random.default_rng(0)
    model = mlp([4, 5, 3], seed=0)  # Linear(4, 5), ReLU, Linear(5, 3), float32
    x = Tensor(rng.standard_normal((batch, 4)).astype(np.float32))
    y = np.array([0, 2, 1, 1, 0, 2], dtype=np.int64)[:batch]
    return model, x, y, cross_entropy(model(x), y)


def test_kept_bytes_of_an_mlp_with_cross_entropy_matches_a_hand_count():
    batch = 6
    model, x, y, loss = small_mlp_graph(batch)
    f32, i64 = 4, 8
    nodes = (batch * 4          # x
             + 4 * 5 + 5        # W1, b1
             + batch * 5 * 3    # x @ W1, + b1, relu
             + 5 * 3 + 3        # W2, b2
             + batch * 3 * 2    # h @ W2, + b2 (the logits)
             + 1) * f32         # the loss
    closures = batch * 3 * f32 + 2 * batch * i64  # cross-entropy's log-softmax, row indices, labels
    assert kept_bytes(loss) == nodes + closures == 776 + 168


def test_saved_arrays_name_what_each_backward_reads():
    model, x, y, loss = small_mlp_graph()
    W1, W2 = model.layers[0].W, model.layers[2].W
    logits = loss._prev[0]
    h2_plus, h2 = logits, logits._prev[0]           # relu(...) @ W2 + b2
    relu = h2._prev[0]
    z1 = relu._prev[0]
    xW1 = z1._prev[0]
    assert xW1.saved_arrays == (x.data,) and x.data is not W1.data  # x needs no grad: W1 unread
    assert z1.saved_arrays == () and h2_plus.saved_arrays == ()     # + needs only shapes
    assert relu.saved_arrays[0] is z1.data
    assert {id(a) for a in h2.saved_arrays} == {id(W2.data), id(relu.data)}
    logp, rows, labels = loss.saved_arrays
    assert logp.shape == (6, 3) and rows.tolist() == list(range(6)) and labels is y
    assert np.allclose(np.exp(logp).sum(axis=1), 1.0)
    assert x.saved_arrays == () and W1.saved_arrays == ()           # leaves save nothing


def test_ops_outside_a_graph_save_nothing():
    x = Tensor(np.ones(3))
    assert (x * x).exp().saved_arrays == ()


def test_saving_arrays_makes_no_reference_cycle():
    gc.collect()
    gc.disable()
    try:
        x = Tensor(np.ones((2, 3)), requires_grad=True)
        y = (x * 2.0).exp().tanh()
        exp = y._prev[0]
        assert exp.saved_arrays[0] is exp.data  # exp's backward reads its own result
        alive = weakref.ref(exp.data)
        del y, exp
        assert alive() is None  # freed by reference counting alone
    finally:
        gc.enable()
