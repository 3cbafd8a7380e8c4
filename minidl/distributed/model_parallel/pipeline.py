"""Inter-layer model parallelism, better called pipelining: stage s of S holds consecutive layers.

Each batch of B examples is cut into m micro-batches of B / m. Stage s receives a micro-batch's
activation from stage s - 1, runs its layers, sends the result to s + 1; on the way back it
receives dL/d(output) from s + 1, runs backward (the parameter gradients add up over the
micro-batches) and sends dL/d(input) to s - 1. The last stage computes the loss of each
micro-batch scaled by (B / m) / B, so the m losses add up to the batch's mean loss and the
gradients to its gradient. Two orders of work on each stage (`schedule_ops`):

    gpipe   all m forwards, then all m backwards: m activations held at the peak
    1f1b    S - s - 1 forwards to fill the pipe, then one forward, one backward, ...:
            at most S - s micro-batches held on stage s

Both take (m + S - 1)(t_F + t_B) when every stage takes t_F and t_B per micro-batch: the idle
fraction ("bubble") is (S - 1) / (m + S - 1), lesson 06's formula; `simulate_pipeline` computes it.
Sends are `Isend`; every receive is an `Irecv` polled against a deadline, so a missing message
raises a TimeoutError naming the stage and the micro-batch instead of hanging.
"""
from __future__ import annotations

import time

import numpy as np

from minidl.distributed.agree import agree_settings
from minidl.distributed.model_parallel.tensor_split import Traffic, _world
from minidl.nn import Linear, Sequential
from minidl.tensor import Tensor
from minidl.timeline import Span, Timeline

SCHEDULES = ("gpipe", "1f1b")


def schedule_ops(schedule: str, S: int, m: int, s: int) -> list[tuple[str, int]]:
    """The order of work on stage s of S for m micro-batches: [("F", i) or ("B", i), ...]."""
    if schedule == "gpipe":
        return [("F", i) for i in range(m)] + [("B", i) for i in range(m)]
    if schedule == "1f1b":
        warm = min(S - s - 1, m)
        ops = [("F", i) for i in range(warm)]
        for j in range(m - warm):
            ops += [("F", warm + j), ("B", j)]
        return ops + [("B", i) for i in range(m - warm, m)]
    raise ValueError(f"Pipeline: schedule {schedule!r}; use one of {SCHEDULES}")


def peak_in_flight(schedule: str, S: int, m: int, s: int) -> int:
    """Micro-batches whose activations stage s holds at once (forward done, backward not yet)."""
    held = peak = 0
    for kind, _ in schedule_ops(schedule, S, m, s):
        held += 1 if kind == "F" else -1
        peak = max(peak, held)
    return peak


def simulate_pipeline(S: int, m: int, schedule: str = "gpipe", t_f: float = 1.0, t_b: float = 2.0,
                      t_comm: float = 0.0) -> Timeline:
    """Each stage does its `schedule_ops` in order, each op as soon as its input has arrived
    (t_comm after the neighbour finished it). Returns the spans on a virtual clock."""
    done: dict[tuple[str, int, int], float] = {}
    free = [0.0] * S
    todo = [list(schedule_ops(schedule, S, m, s)) for s in range(S)]
    tl = Timeline()
    while any(todo):
        progressed = False
        for s in range(S):
            while todo[s]:
                kind, i = todo[s][0]
                if kind == "F":
                    dep = ("F", s - 1, i) if s > 0 else None
                else:
                    dep = ("B", s + 1, i) if s < S - 1 else ("F", s, i)
                if dep is not None and dep not in done:
                    break
                ready = 0.0 if dep is None else done[dep] + (t_comm if dep[1] != s else 0.0)
                start = max(free[s], ready)
                free[s] = start + (t_f if kind == "F" else t_b)
                done[(kind, s, i)] = free[s]
                tl.record(s, "forward" if kind == "F" else "backward", start, free[s])
                todo[s].pop(0)
                progressed = True
        if not progressed:
            raise RuntimeError(f"simulate_pipeline: schedule {schedule!r} deadlocks for S={S}, m={m}")
    return tl


def bubble_fraction(timeline: Timeline) -> float:
    """1 - busy / (lanes x makespan): the idle share of the stages' time."""
    spans = timeline.spans
    start, end = min(s.start for s in spans), max(s.end for s in spans)
    busy = sum(s.duration for s in spans if s.kind in ("forward", "backward"))
    return 1.0 - busy / (len(timeline.lanes()) * (end - start))


def stage_bounds(n_linear: int, S: int) -> list[tuple[int, int]]:
    """Linear layers [first, stop) of each of S stages, as equal as possible, earlier stages larger."""
    if S > n_linear:
        raise ValueError(f"Pipeline: {S} stages but the model has {n_linear} Linear layers; each stage needs "
                         f"at least one layer. Use at most {n_linear} ranks, or a deeper model")
    cuts = [round(k * n_linear / S) for k in range(S + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


class Pipeline:
    """This rank's stage of `model` (a Sequential MLP): stage = rank of `comm`, S = its size.

    `step_loss(xb, yb, loss_fn)` runs one batch through the pipeline in m micro-batches and
    returns the batch's mean loss on every rank; the stage's parameter gradients hold the
    batch's gradient afterwards. `timeline` (if given) gets one span per forward, backward
    and wait, lane = stage, seconds from the start of the step.
    """

    def __init__(self, model: Sequential, comm=None, micro_batches: int = 1, schedule: str = "gpipe",
                 timeline: Timeline | None = None, timeout: float = 60.0):
        self.comm = _world(comm)
        S, s = self.comm.Get_size(), self.comm.Get_rank()
        linear = [k for k, mod in enumerate(model.layers) if isinstance(mod, Linear)]
        shapes = [tuple(model.layers[k].W.shape) for k in linear]
        agree_settings(self.comm, "Pipeline", layers=shapes, micro_batches=micro_batches, schedule=schedule)
        if schedule not in SCHEDULES:
            raise ValueError(f"Pipeline: schedule {schedule!r}; use one of {SCHEDULES}")
        if not isinstance(micro_batches, (int, np.integer)) or micro_batches < 1:
            raise ValueError(f"Pipeline: micro_batches = {micro_batches!r}; use a positive integer")
        first, stop = stage_bounds(len(linear), S)[s]
        start = linear[first]
        end = linear[stop] if stop < len(linear) else len(model.layers)
        self.stage = Sequential(*model.layers[start:end])
        self.width_in, self.width_out = shapes[first][0], shapes[stop - 1][1]
        self.S, self.s, self.m, self.schedule = S, s, int(micro_batches), schedule
        self.timeline, self.timeout = timeline, timeout
        self.traffic = Traffic()
        self.peak_held = 0          # micro-batches held at once, last step
        self.peak_bytes = 0         # bytes of activations kept for backward at that peak, last step

    def parameters(self) -> list[Tensor]:
        return self.stage.parameters()

    def _wait(self, req, what: str, deadline: float) -> None:
        while not req.Test():
            if time.monotonic() > deadline:
                raise TimeoutError(f"Pipeline: stage {self.s} of {self.S} waited {self.timeout:g} s for {what}; "
                                   "did every rank call step_loss with the same batch?")
            time.sleep(2e-5)

    def _held_bytes(self, y: Tensor, params: set) -> int:
        arrays = {}
        for node in y.topological_order():
            if id(node) not in params:
                for a in (node.data, *node.saved_arrays):
                    arrays[id(a)] = a.nbytes
        return sum(arrays.values())

    def step_loss(self, xb, yb, loss_fn) -> float:
        B, m, S, s = len(xb), self.m, self.S, self.s
        if B % m:
            raise ValueError(f"Pipeline: {m} micro-batches do not divide the batch of {B} examples; use a "
                             f"micro-batch count that divides {B}, or a batch that is a multiple of {m}")
        b = B // m
        dtype = self.parameters()[0].dtype
        params = {id(p) for p in self.parameters()}
        deadline = time.monotonic() + self.timeout
        live, sends, loss, held = {}, [], 0.0, {}
        self.peak_held = self.peak_bytes = 0
        self.comm.Barrier()
        t0 = time.perf_counter()

        def span(kind, start):
            if self.timeline is not None:
                self.timeline.record(s, kind, start - t0, time.perf_counter() - t0)

        for kind, i in schedule_ops(self.schedule, S, m, s):
            if kind == "F":
                if s == 0:
                    x = Tensor(xb[i * b:(i + 1) * b], dtype=dtype)
                else:
                    buf = np.empty((b, self.width_in), dtype=dtype)
                    w = time.perf_counter()
                    self._wait(self.comm.Irecv(buf, source=s - 1, tag=2 * i), f"the activation of micro-batch {i}",
                               deadline)
                    span("wait", w)
                    x = Tensor.from_numpy(buf, requires_grad=True)
                start = time.perf_counter()
                y = self.stage(x)
                if s == S - 1:
                    y = loss_fn(y, yb[i * b:(i + 1) * b]) * (b / B)  # the m terms add up to the batch mean
                    loss += y.item()
                else:
                    sends.append((self.comm.Isend(y.data, dest=s + 1, tag=2 * i), y.data))
                    self.traffic.add("send", y.data.nbytes)
                span("forward", start)
                live[i] = (x, y)
                held[i] = self._held_bytes(y, params)
                self.peak_held = max(self.peak_held, len(live))
                self.peak_bytes = max(self.peak_bytes, sum(held.values()))
            else:
                x, y = live.pop(i)
                held.pop(i)
                if s == S - 1:
                    start = time.perf_counter()
                    y.backward()
                else:
                    g = np.empty(y.shape, dtype=dtype)
                    w = time.perf_counter()
                    self._wait(self.comm.Irecv(g, source=s + 1, tag=2 * i + 1),
                               f"the gradient of micro-batch {i}", deadline)
                    span("wait", w)
                    start = time.perf_counter()
                    y.backward(g)
                if s > 0:
                    sends.append((self.comm.Isend(x.grad, dest=s - 1, tag=2 * i + 1), x.grad))
                    self.traffic.add("send", x.grad.nbytes)
                span("backward", start)
        for req, _ in sends:
            self._wait(req, "a send to complete", deadline)
        return float(self.comm.bcast(loss if s == S - 1 else None, root=S - 1))

    def full_weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(W, b), ...] of the whole model, gathered from every stage (collective)."""
        mine = [(mod.W.data.copy(), mod.b.data.copy()) for mod in self.stage.layers if isinstance(mod, Linear)]
        return [wb for part in self.comm.allgather(mine) for wb in part]


def spans_of(timeline: Timeline) -> list[Span]:
    """The spans sorted by lane and start (for drawing and reporting)."""
    return sorted(timeline.spans, key=lambda sp: (sp.lane, sp.start))
