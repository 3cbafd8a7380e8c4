"""The parameter server: shards of key ranges, push and pull, clocks and consistency.

The keys [0, n_keys) are split into `n_shards` contiguous key ranges of about equal
size in floats. Each shard is a server of its own: its slice of the parameters, its
own lock, its rule state, its version counter and its traffic counters. A push or
pull is split across the shards it touches and takes their locks one at a time, so
two workers touching different shards never wait for each other.

A pull for iteration `clock` first waits until the consistency policy allows it
(`ClockTable.wait_until`); a push is applied at once by the server's update rule;
`tick(worker)` ends the worker's iteration.
"""
from __future__ import annotations

import math
import threading
import time

import numpy as np

from minidl.ps.clocks import ClockTable
from minidl.ps.consistency import ASP, Consistency
from minidl.ps.keys import KeyLayout, KeyRange, Keys, _short, request_tag
from minidl.ps.rules import SGD
from minidl.ps.window import SlidingWindow


class Shard:
    """Keys [first_key, stop_key) and their parameters, guarded by one lock."""

    def __init__(self, index: int, keys: KeyRange, flat: slice, params: np.ndarray, rule, n_workers: int):
        self.index, self.keys, self.flat = index, keys, flat
        self.params = params[flat]  # a view: the server's flat vector is the shards side by side
        self.lock = threading.Lock()
        self.state = rule.init_state(self.params.size)
        self.version = 0  # updates applied so far
        self.read_version = np.zeros(n_workers, dtype=np.int64)  # version each worker last pulled
        self.from_version: dict[int, int] = {}  # read version -> updates applied that were computed from it
        self.pushes = self.pulls = self.bytes_in = self.bytes_out = 0

    def __repr__(self):
        return f"Shard({self.index}, keys [{self.keys.start}, {self.keys.stop}), {self.params.size} floats)"

    def apply(self, worker: int, local, g: np.ndarray, rule) -> int:
        """Applies the worker's gradient to params[local]; returns the update's staleness:
        updates applied since the worker's last pull of this shard, minus those computed
        from the same version it read (the rest of the same synchronous step)."""
        with self.lock:
            read = int(self.read_version[worker])
            staleness = self.version - read - self.from_version.get(read, 0)
            rule.apply(self.params, g, self.state, local, staleness)
            self.from_version[read] = self.from_version.get(read, 0) + 1
            self.version += 1
            self.pushes += 1
            self.bytes_in += g.nbytes
            if len(self.from_version) > 2 * len(self.read_version) + 8:  # forget versions nobody holds
                oldest = int(self.read_version.min())
                self.from_version = {v: n for v, n in self.from_version.items() if v >= oldest}
            return staleness

    def read(self, worker: int, local, out: np.ndarray, pos) -> None:
        """Copies params[local] into out[pos] and records the version the worker now holds."""
        with self.lock:
            out[pos] = self.params[local]
            self.read_version[worker] = self.version
            self.pulls += 1
            self.bytes_out += out[pos].nbytes if isinstance(pos, slice) else pos.size * 8


class ParameterServer:
    """A key-value parameter server with sharding, a pluggable update rule and a consistency policy.

    Args:
        layout: a KeyLayout, or an int n for n keys of one float each.
        init: initial parameters (layout.size,) (zeros when None); copied as float64.
        n_shards: how many shards (key ranges, each with its own lock).
        rule: the server-side update rule, SGD(lr) or Adagrad(lr); default SGD(0.1).
        policy: BSP(), SSP(s) or ASP() (default); decides when a pull may proceed.
        n_workers: workers 0 .. n_workers - 1.
        window: length of the sliding window of valid iterations (None: no window).
        timeout: seconds a pull waits for stragglers before StragglerTimeout.
        trace: record every pull's (time.perf_counter(), worker, clock, {worker: clock of
            every active worker}) in `self.reads`, taken when the pull was let through.
    """

    def __init__(self, layout: KeyLayout | int, init=None, *, n_shards: int = 1, rule=None,
                 policy: Consistency | None = None, n_workers: int = 1, window: int | None = None,
                 timeout: float = 30.0, trace: bool = False):
        self.layout = KeyLayout.uniform(layout, 1) if isinstance(layout, (int, np.integer)) else layout
        size = self.layout.size
        self.params = np.zeros(size) if init is None else np.array(init, dtype=np.float64).ravel()
        if self.params.size != size:
            raise ValueError(f"ParameterServer: init has {self.params.size} floats but the layout "
                             f"holds {size}; pass layout.size values (or None for zeros)")
        if not 1 <= n_shards <= self.layout.n_keys:
            raise ValueError(f"ParameterServer: n_shards = {n_shards}; use 1 .. {self.layout.n_keys} "
                             "(a shard holds at least one key)")
        self.rule = rule if rule is not None else SGD(0.1)
        self.policy = policy if policy is not None else ASP()
        if not isinstance(self.policy, Consistency):
            raise TypeError(f"ParameterServer: policy must be BSP(), SSP(s) or ASP(), got {self.policy!r}")
        if window is not None and self.policy.staleness != math.inf and window < self.policy.staleness + 1:
            raise ValueError(f"ParameterServer: a window of {window} iterations rejects pushes that "
                             f"{self.policy!r} allows (up to {self.policy.staleness} clocks ahead); use "
                             f"window >= {self.policy.staleness + 1}")
        self.n_workers, self.timeout = n_workers, timeout
        self.clocks = ClockTable(n_workers)
        self.window = None if window is None else SlidingWindow(window, n_workers)
        self.reads: list | None = [] if trace else None
        self._routes: dict = {}  # tag of a request -> (request, pieces, count)
        # shard boundaries in keys, chosen so that each holds about size / n_shards floats
        targets = self.layout.offsets[-1] * np.arange(1, n_shards) / n_shards
        cuts = [0, *np.searchsorted(self.layout.offsets, targets).tolist(), self.layout.n_keys]
        for i in range(1, n_shards):  # at least one key per shard, on either side of every cut
            cuts[i] = min(max(cuts[i], cuts[i - 1] + 1), self.layout.n_keys - (n_shards - i))
        self.bounds = np.array(cuts, dtype=np.int64)
        self.flat_bounds = self.layout.offsets[self.bounds]
        self.shards = [Shard(i, KeyRange(cuts[i], cuts[i + 1]),
                             slice(int(self.flat_bounds[i]), int(self.flat_bounds[i + 1])),
                             self.params, self.rule, n_workers) for i in range(n_shards)]

    def __repr__(self):
        return (f"ParameterServer({self.layout!r}, {len(self.shards)} shards, {self.n_workers} workers, "
                f"rule={self.rule!r}, policy={self.policy!r})")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ---- routing ----------------------------------------------------------------------
    def shard_of(self, key: int) -> int:
        """The shard that owns `key`."""
        self.layout.check_key(key, "shard_of")
        return int(np.searchsorted(self.bounds, key, side="right") - 1)

    def pieces(self, request):
        """(shard, index in its params, index in the request's values) for every shard touched."""
        off = self.layout.offsets
        if isinstance(request, KeyRange):
            a, b = request
            first = int(np.searchsorted(self.bounds, a, side="right") - 1)
            last = int(np.searchsorted(self.bounds, b, side="left"))
            out = []
            for shard in self.shards[first:last]:
                ka, kb = max(a, shard.keys.start), min(b, shard.keys.stop)
                base = shard.flat.start
                out.append((shard, slice(int(off[ka] - base), int(off[kb] - base)),
                            slice(int(off[ka] - off[a]), int(off[kb] - off[a]))))
            return out
        idx = self.layout.flat_index(request)
        owner = np.searchsorted(self.flat_bounds, idx, side="right") - 1
        out = []
        for s in np.unique(owner):
            pos = np.nonzero(owner == s)[0]
            out.append((self.shards[s], idx[pos] - self.flat_bounds[s], pos))
        return out

    def route(self, keys: Keys, op: str):
        """(request, pieces, count) for `keys`, validated once and then cached: workers
        usually push and pull the same keys every iteration."""
        tag = request_tag(keys)
        route = self._routes.get(tag) if tag is not None else None
        if route is None:
            request = self.layout.resolve(keys, op)
            route = request, self.pieces(request), self.layout.count(request)
            if tag is not None:
                if len(self._routes) >= 4096:
                    self._routes.clear()
                self._routes[tag] = route
        return route

    def _clock(self, worker: int, clock: int | None, op: str) -> int:
        table = self.clocks  # read without the lock: only this worker's own tick changes its clock
        if table.closed or not (isinstance(worker, int) and 0 <= worker < self.n_workers) \
                or worker not in table.active:
            with table.cond:
                table._check(worker, op)
        current = table.clocks[worker]
        if clock is not None and clock != current:
            raise ValueError(f"{op}: worker {worker} says clock {clock} but has finished {current} "
                             f"iterations, so its clock is {current}; call tick({worker}) once per "
                             "iteration, after its pushes, or leave clock=None")
        return current

    # ---- the worker's API -------------------------------------------------------------------
    def wait(self, worker: int, clock: int | None = None, timeout: float | None = None) -> float:
        """Blocks until the policy lets `worker` start iteration `clock`; returns seconds waited."""
        clock = self._clock(worker, clock, "pull")
        return self.clocks.wait_until(worker, clock, self.policy, self.timeout if timeout is None else timeout)

    def pull(self, worker: int, keys: Keys = None, clock: int | None = None,
             out: np.ndarray | None = None, timeout: float | None = None) -> np.ndarray:
        """The current values of `keys` (all when None) once the policy allows iteration `clock`.

        Args:
            keys: a key, a list of keys, a range or a slice; values come back in key order.
            clock: the worker's iteration (default: its clock); out: optional (count,) buffer.

        Returns:
            (layout.count(keys),) float64: the keys' values, concatenated.
        """
        request, pieces, n = self.route(keys, "pull")
        clock = self._clock(worker, clock, "pull")
        self.clocks.wait_until(worker, clock, self.policy, self.timeout if timeout is None else timeout)
        if out is None:
            out = np.empty(n)
        elif out.shape != (n,) or out.dtype != np.float64:
            raise ValueError(f"pull: out has shape {out.shape} and dtype {out.dtype}; keys "
                             f"{keys!r} need a float64 buffer of shape ({n},)")
        if self.reads is not None:
            self.reads.append((time.perf_counter(), worker, clock, self.clocks.snapshot()))
        for shard, local, pos in pieces:
            shard.read(worker, local, out, pos)
        return out

    def push(self, worker: int, keys: Keys, values, clock: int | None = None) -> int:
        """Applies the update rule to `keys` with the gradient `values` (count floats, key order).

        Returns:
            The push's staleness (the largest over the shards it touched).

        Raises:
            ValueError: `values` hold NaN or inf (nothing is applied; the error names the keys).
        """
        request, pieces, n = self.route(keys, "push")
        g = values
        if not (isinstance(g, np.ndarray) and g.dtype == np.float64 and g.shape == (n,)):
            g = self.layout.check_values(values, request, "push", keys)
        clock = self._clock(worker, clock, "push")
        if self.window is not None:
            with self.clocks.cond:
                self.window.check(worker, clock, "push")
        if not _all_finite(g):  # checked whole before any shard applies a part: all or nothing
            raise _non_finite(worker, keys, request, self.layout, g)
        return max(shard.apply(worker, local, g[pos], self.rule) for shard, local, pos in pieces)

    def tick(self, worker: int) -> int:
        """Ends `worker`'s iteration (after its pushes) and wakes waiters; returns its new clock."""
        with self.clocks.cond:
            self.clocks._check(worker, "tick")
            if self.window is not None:
                self.window.finish(worker, self.clocks.clocks[worker])
            return self.clocks.tick(worker)

    def clock_of(self, worker: int) -> int:
        """Iterations `worker` has finished."""
        return self.clocks.clock(worker)

    def ready(self, worker: int, clock: int | None = None) -> bool:
        """Would a pull by `worker` for iteration `clock` proceed now, without waiting?"""
        return self.clocks.ready(worker, self._clock(worker, clock, "ready"), self.policy)

    def remove_worker(self, worker: int) -> None:
        """A worker leaves: BSP and SSP stop waiting for it, and the window stops counting it."""
        with self.clocks.cond:
            clock = self.clocks.remove_worker(worker)
            if self.window is not None:
                self.window.remove_worker(clock)

    def close(self) -> None:
        """Releases every waiting worker with ServerClosed; later calls raise it too."""
        self.clocks.close()

    # ---- inspection and checkpoints -------------------------------------------------------
    def snapshot(self) -> np.ndarray:
        """A consistent copy of all parameters (layout.size,), not counted as traffic."""
        for shard in self.shards:
            shard.lock.acquire()
        try:
            return self.params.copy()
        finally:
            for shard in self.shards:
                shard.lock.release()

    def stats(self) -> dict[str, np.ndarray]:
        """Per-shard counters: pushes, pulls, bytes_in, bytes_out, version; (n_shards,) each."""
        names = ("pushes", "pulls", "bytes_in", "bytes_out", "version")
        return {n: np.array([getattr(s, n) for s in self.shards], dtype=np.int64) for n in names}

    def save(self, path) -> None:
        """Writes parameters, clocks, rule state, window, versions and counters to `path`
        (an .npz archive under exactly that name, or an open binary file)."""
        from minidl.ps.checkpoint import save
        save(self, path)

    def load(self, path) -> None:
        """Restores a checkpoint written by `save` into this server (same layout, shards, workers).

        Raises:
            ValueError: the file is not a valid checkpoint (damaged, truncated, another kind of
                file) or was saved by a server built differently; the server is left unchanged.
        """
        from minidl.ps.checkpoint import load
        load(self, path)


def _all_finite(g: np.ndarray) -> bool:
    """No NaN and no inf in g."""
    return bool(np.isfinite(g).all())


def _non_finite(worker: int, keys: Keys, request, layout: KeyLayout, g: np.ndarray) -> ValueError:
    """The error for a push with NaN or inf in it, naming the keys whose values hold them."""
    bad = ~np.isfinite(g)
    n_nan = int(np.isnan(g).sum())
    counts = ", ".join(f"{n} {what}" for n, what in ((n_nan, "NaN"), (int(bad.sum()) - n_nan, "inf")) if n)
    key_ids = np.arange(request.start, request.stop) if isinstance(request, KeyRange) else request
    ends = np.cumsum(layout.lengths[key_ids])  # values of key_ids[i] end at ends[i]
    hit = key_ids[np.unique(np.searchsorted(ends, np.flatnonzero(bad), side="right"))].tolist()
    shown = str(hit) if len(hit) <= 8 else f"{str(hit[:8])[:-1]}, ... ({len(hit)} keys)]"
    asked = "all keys" if keys is None else f"keys {_short(keys)}"
    return ValueError(f"push: worker {worker} sent non-finite values ({counts}) for keys {shown} of "
                      f"{asked}; nothing was applied. A NaN or inf gradient usually means the worker "
                      "diverged: lower its learning rate, clip its gradient, or check its data")
