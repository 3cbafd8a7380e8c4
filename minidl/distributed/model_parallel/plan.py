"""What each split costs, from the layer sizes alone: the weights a rank holds and the bytes and
alpha-beta time of its communication per step. `comm_ops` lists the collectives of one step;
`step_bytes` counts them as `Traffic` does (ring algorithms), `step_time` prices them.

    data       ring allreduce of all n weights, whatever the batch
    column     per layer: allgather of the (B, out) output; allreduce of the (B, in) input
               gradient (none for the first layer, whose input needs no gradient)
    row        per layer: allreduce of the (B, out) output; allgather of the (B, in) input gradient
    pair       per column/row pair: one allreduce of (B, out) forward, one of (B, in) backward
    pipeline   per stage boundary: B x width sent forward and B x width back, in m messages
Model splits move activations, which grow with the batch B; data parallelism moves weights,
which do not: above a crossover batch, data parallelism sends less.
"""
from __future__ import annotations

import numpy as np

from minidl.distributed.model_parallel.pipeline import stage_bounds

SPLITS = ("data", "column", "row", "pair", "pipeline")


def _layers(sizes):
    return list(zip(sizes[:-1], sizes[1:]))


def _check(split: str, sizes, P: int) -> None:
    if split not in SPLITS:
        raise ValueError(f"plan: split {split!r}; use one of {SPLITS}")
    if split == "pipeline":
        stage_bounds(len(sizes) - 1, P)
    elif split != "data":
        for i, (a, b) in enumerate(_layers(sizes)):
            col = split == "column" or (split == "pair" and i % 2 == 0)
            width = b if col else a
            if width % P:
                raise ValueError(f"plan: {split} split of layer {i} ({a} -> {b}): width {width} is not "
                                 f"divisible by P = {P} ranks")


def weights_per_rank(sizes, split: str, P: int) -> list[int]:
    """Parameters (weights and biases) each rank holds, rank by rank: (P,)."""
    _check(split, sizes, P)
    layers = _layers(sizes)
    if split == "data":
        return [sum(a * b + b for a, b in layers)] * P
    if split == "pipeline":
        return [sum(a * b + b for a, b in layers[i:j]) for i, j in stage_bounds(len(layers), P)]
    n = 0
    for i, (a, b) in enumerate(layers):
        col = split == "column" or (split == "pair" and i % 2 == 0)
        n += a * b // P + (b // P if col else b)  # a row split keeps the whole bias
    return [n] * P


def memory_per_rank(sizes, split: str, P: int, itemsize: int = 8, momentum: bool = True) -> dict:
    """Bytes on the busiest rank: weights, their gradients, and SGD's velocity (if momentum)."""
    n = max(weights_per_rank(sizes, split, P)) * itemsize
    return {"weights": n, "gradients": n, "optimizer": n if momentum else 0}


def comm_ops(sizes, batch: int, split: str, P: int, micro_batches: int = 1, itemsize: int = 8) -> list:
    """The communication of one step on the busiest rank: [(kind, bytes, ranks, messages)], kind in
    allreduce, allgather (bytes of the whole gathered array) or send (bytes over `messages`)."""
    _check(split, sizes, P)
    if P == 1:
        return []
    layers, B, ops = _layers(sizes), batch, []
    if split == "data":
        return [("allreduce", sum(a * b + b for a, b in layers) * itemsize, P, 1)]
    if split == "pipeline":
        per_stage = []
        for s, (i, j) in enumerate(stage_bounds(len(layers), P)):
            out = [("send", B * layers[j - 1][1] * itemsize, 2, micro_batches)] if s < P - 1 else []
            back = [("send", B * layers[i][0] * itemsize, 2, micro_batches)] if s > 0 else []
            per_stage.append(out + back)
        return max(per_stage, key=lambda o: sum(op[1] for op in o))
    n = len(layers)
    for i, (a, b) in enumerate(layers):
        if split == "column":
            ops.append(("allgather", B * b * itemsize, P, 1))
            if i > 0:
                ops.append(("allreduce", B * a * itemsize, P, 1))
        elif split == "row":
            ops.append(("allreduce", B * b * itemsize, P, 1))
            if i > 0:
                ops.append(("allgather", B * a * itemsize, P, 1))
        elif i % 2 == 0:  # pair: the column half
            if i == n - 1:
                ops.append(("allgather", B * b * itemsize, P, 1))
            if i > 0:
                ops.append(("allreduce", B * a * itemsize, P, 1))
        else:             # pair: the row half, input already split
            ops.append(("allreduce", B * b * itemsize, P, 1))
    return ops


def grid_ops(sizes, batch: int, split: str, data: int, model: int, micro_batches: int = 1,
             itemsize: int = 8) -> list:
    """A data x model grid: the model split on B / data examples, then the allreduce of the rank's
    weights over the data group."""
    ops = comm_ops(sizes, batch // data, split, model, micro_batches, itemsize)
    if data > 1:
        ops = ops + [("allreduce", max(weights_per_rank(sizes, split, model)) * itemsize, data, 1)]
    return ops


def ops_bytes(ops) -> float:
    """Bytes the rank sends, as `Traffic` counts them (ring allreduce and allgather)."""
    total = 0.0
    for kind, n, P, _ in ops:
        total += {"allreduce": 2 * (P - 1) / P * n, "allgather": (P - 1) / P * n, "send": n}[kind]
    return total


def ops_time(ops, alpha: float, beta: float) -> float:
    """alpha-beta time: ring allreduce 2(P-1)(alpha + n beta / P), ring allgather
    (P-1)(alpha + n beta / P), sends messages x alpha + n beta."""
    t = 0.0
    for kind, n, P, messages in ops:
        if kind == "allreduce":
            t += 2 * (P - 1) * (alpha + n * beta / P)
        elif kind == "allgather":
            t += (P - 1) * (alpha + n * beta / P)
        else:
            t += messages * alpha + n * beta
    return t


def step_bytes(sizes, batch: int, split: str, P: int, micro_batches: int = 1, itemsize: int = 8) -> float:
    return ops_bytes(comm_ops(sizes, batch, split, P, micro_batches, itemsize))


def step_time(sizes, batch: int, split: str, P: int, link, micro_batches: int = 1, itemsize: int = 8) -> float:
    """Seconds of communication per step on `link` (a `minidl.reference.Link`)."""
    return ops_time(comm_ops(sizes, batch, split, P, micro_batches, itemsize), link.alpha, link.beta)


def crossover_batch(sizes, split: str, P: int, itemsize: int = 8) -> float:
    """The batch above which data parallelism sends fewer bytes than `split` (bytes are linear in B)."""
    per_example = step_bytes(sizes, 1, split, P, 1, itemsize)
    return step_bytes(sizes, 1, "data", P, 1, itemsize) / per_example if per_example else np.inf
