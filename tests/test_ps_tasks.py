"""Tasks: gradients on flat parameter vectors, per-worker shards and deterministic batches."""
import numpy as np
import pytest

from minidl.nn import mlp
from minidl.ps import ComputeTime, ModelTask, mnist_task, moons_task


def test_softmax_task_gradient_and_loss_equal_the_autograd_model_task():
    fast = mnist_task(n_train=400, n_eval=100)
    slow = ModelTask(fast.model, fast.x, fast.y, batch=fast.batch, eval_x=fast.eval_x, eval_y=fast.eval_y)
    w = fast.init() + 0.01 * np.random.default_rng(0).standard_normal(fast.layout.size)
    assert np.allclose(fast.gradient(w, 1, 2, 4), slow.gradient(w, 1, 2, 4), rtol=0, atol=1e-14)
    assert fast.loss(w) == pytest.approx(slow.loss(w), abs=1e-12)


def test_model_task_gradient_matches_central_differences():
    x, y = np.random.default_rng(1).standard_normal((12, 3)), np.arange(12) % 2
    task = ModelTask(mlp([3, 4, 2], act="tanh", seed=0, dtype=np.float64), x, y, batch=12)
    w, rows, h = task.init(), np.arange(12), 1e-6
    loss = ModelTask(task.model, x, y, eval_x=x, eval_y=y).loss  # the mean loss on all 12 rows
    numeric = np.array([(loss(w + h * e) - loss(w - h * e)) / (2 * h) for e in np.eye(w.size)])
    assert np.allclose(task.gradient_on(w, rows), numeric, rtol=1e-6, atol=1e-8)


def test_each_worker_draws_its_batches_from_its_own_shard_the_same_way_every_run():
    task = moons_task(n=64, batch=4)
    mine = set(task.shard(1, 4).tolist())
    batches = [task.batch_indices(1, c, 4).tolist() for c in range(12)]
    assert all(set(b) <= mine and len(b) == 4 for b in batches)
    assert sorted(sum(batches[:4], [])) == sorted(mine)  # one epoch covers the shard once
    again = moons_task(n=64, batch=4)
    assert [again.batch_indices(1, c, 4).tolist() for c in range(12)] == batches


@pytest.mark.parametrize("skew", [0.0, 0.5, 1.0])
def test_shards_are_disjoint_and_cover_the_training_set(skew):
    task = mnist_task(n_train=1000, skew=skew)
    shards = [task.shard(w, 4) for w in range(4)]
    assert sorted(np.concatenate(shards).tolist()) == list(range(1000))


def test_skew_one_gives_each_worker_its_own_block_of_labels():
    task = mnist_task(n_train=1000, skew=1.0)
    labels = [set(task.y[task.shard(w, 5)].tolist()) for w in range(5)]
    assert all(len(s) <= 4 for s in labels)  # about 2 of the 10 labels each, cut where a block ends
    assert max(labels[0]) <= min(labels[-1])


def test_iid_shards_give_every_worker_every_label():
    task = mnist_task(n_train=1000)
    assert all(len(set(task.y[task.shard(w, 5)].tolist())) == 10 for w in range(5))


def test_compute_time_gives_the_same_durations_whatever_the_order_they_are_asked():
    a, b = ComputeTime(0.01, (1, 2), jitter=0.5, seed=3), ComputeTime(0.01, (1, 2), jitter=0.5, seed=3)
    forward = [a(w, c) for c in range(300) for w in range(2)]
    backward = {(w, c): b(w, c) for w in (1, 0) for c in reversed(range(300))}
    assert forward == [backward[w, c] for c in range(300) for w in range(2)]
    assert np.mean([a(1, c) for c in range(300)]) == pytest.approx(0.02, rel=0.15)
    assert ComputeTime(0.01, (1, 2))(1, 5) == 0.02


def test_a_bad_skew_is_refused():
    with pytest.raises(ValueError, match="skew"):
        ModelTask(mlp([2, 2], dtype=np.float64), np.zeros((4, 2)), np.zeros(4, int), skew=2)
