"""The parameter server across machines: server ranks and worker ranks over MPI.

Ranks 0 .. n_servers - 1 are servers, the rest are workers (worker w is rank n_servers + w).
The key range [0, n_keys) is cut into one contiguous shard per server rank, with the same
bounds as `ParameterServer(layout, n_shards=n_servers)`, and each server rank keeps its
shard, its update rule's state and the whole clock table. A worker talks to them through
a `Client`, whose `pull`, `push` and `clock` mean what the threaded server's do:

    ps = Client(comm, layout, n_servers)          # or LocalClient(server, w) with threads
    for c in range(iterations):
        local[where] = ps.pull(keys)               # waits until the policy lets clock c read
        ps.push(keys, task.gradient(local, w, c, K)[where])
        ps.clock()                                 # tick: sent to every server

Messages use mpi4py's buffer API (no pickled arrays): a request is an int64 header
[clock, first key, stop key, floats] with the operation as its tag, then the float64
values; a reply is [status, staleness or lagging worker, its clock, 0], then the values.
A pull that the policy blocks is parked on the server and answered when ticks arrive;
every wait, on either side, has a timeout. Under BSP a pull of clock c is served from the
copy of the shard taken when the slowest worker reached c, so that no read of clock c sees
an update of clock c however the messages interleave: the simulator's BSP, synchronous SGD.
Only transport changed: the rule (`SGD`,
`Adagrad`, `ConSGD`/`DynSGD`), the policy (`BSP`, `SSP(s)`, `ASP`), the staleness count
and the clock table are the same objects as in one process.
"""
from __future__ import annotations

import time

import numpy as np

from minidl.ps.clocks import ServerClosed, StragglerTimeout
from minidl.ps.direction import tagged
from minidl.ps.keys import KeyLayout, KeyRange, Keys, _short
from minidl.ps.server import ParameterServer, _non_finite

PUSH, PUSH_DATA, PULL, TICK, DONE, REPLY, DATA = 11, 12, 13, 14, 15, 21, 22
OK, TIMEOUT, BAD_KEY, BAD_LENGTH, NON_FINITE, REMOVED, BAD_CLOCK = range(7)
REASONS = {BAD_KEY: "asks for keys outside the server's shard", BAD_LENGTH: "sent the wrong number of values",
           NON_FINITE: "sent NaN or inf", REMOVED: "was removed from the server (it stopped answering)",
           BAD_CLOCK: "sent a clock that differs from the server's table"}


def wait_all(requests: list, timeout: float, what: str) -> None:
    """Waits for MPI requests, polling with a growing pause; TimeoutError after `timeout` s."""
    from mpi4py import MPI
    deadline, pause = time.monotonic() + timeout, 0.0
    while not MPI.Request.Testall(requests):
        if time.monotonic() > deadline:
            for r in requests:
                if r != MPI.REQUEST_NULL:
                    r.Cancel()
                    r.Free()
            raise TimeoutError(f"{what}: no answer after {timeout:g} s; is that rank still running? "
                               "Raise timeout= if the job is only slow")
        time.sleep(pause)
        pause = min(2 * pause or 2e-5, 1e-3)


def shard_bounds(layout: KeyLayout, n_servers: int) -> np.ndarray:
    """Key bounds (n_servers + 1,) of the servers' shards: those of a one-process server."""
    return ParameterServer(layout, np.zeros(layout.size), n_shards=n_servers).bounds


class ServerRank:
    """One server rank: its shard of a `ParameterServer`, and the loop that answers workers.

    Args:
        comm: the communicator (ranks 0 .. n_servers - 1 serve, the rest work).
        layout, init, rule, policy: as for `ParameterServer` (init: the full vector).
        timeout: seconds a pull may wait, and a silent worker may stay silent, before
            `on_timeout` acts: "stop" answers the waiting worker with StragglerTimeout naming
            the lagging worker; "remove" calls remove_worker on it and goes on without it.
        checkpoint, every: under BSP, save this rank's server to `checkpoint` (a path) each time
            the slowest worker reaches a multiple of `every` clocks: at the barrier no update of
            the next clock exists yet, so the files of all server ranks form one consistent cut.
        die_at: fault injection: this rank kills itself (SIGKILL) when the slowest clock reaches it.
    """
    saves: list  # (clock, seconds) of every checkpoint written

    def __init__(self, comm, layout: KeyLayout, init, n_servers: int, *, rule=None, policy=None,
                 timeout: float = 30.0, on_timeout: str = "stop", checkpoint=None, every: int = 0,
                 die_at: int | None = None):
        if on_timeout not in ("stop", "remove"):
            raise ValueError(f"ServerRank: on_timeout={on_timeout!r}; use 'stop' or 'remove'")
        self.comm, self.rank, self.n_servers = comm, comm.Get_rank(), n_servers
        self.n_workers = comm.Get_size() - n_servers
        self.ps = ParameterServer(layout, init, n_shards=n_servers, rule=rule, policy=policy,
                                  n_workers=self.n_workers, timeout=timeout)
        self.shard = self.ps.shards[self.rank]
        self.timeout, self.on_timeout = timeout, on_timeout
        self.parked: list = []       # blocked pulls: (worker, header, since)
        self.reads: list = []        # (worker, clock, {worker: clock}) of every pull let through
        self.removed: list = []      # (worker, its clock, why)
        self.done: set = set()
        self._sends: list = []       # [(request, buffer)] until delivered
        self._heard = [time.monotonic()] * self.n_workers
        if checkpoint is not None and (every < 1 or self.ps.policy.staleness != 0):
            raise ValueError(f"ServerRank: checkpoints every {every} clocks under {self.ps.policy!r}; "
                             "they need BSP() (a consistent cut at the barrier) and every >= 1")
        self.checkpoint, self.every, self.die_at, self.saves = checkpoint, every, die_at, []
        self._freeze()

    def resume(self) -> int:
        """Loads this rank's checkpoint; returns the clock the workers resume from."""
        self.ps.load(self.checkpoint)
        self._freeze()
        return self.ps.clocks.slowest()

    def _freeze(self) -> None:
        # under BSP a read of clock c sees exactly the updates of clocks < c (the simulator's BSP,
        # synchronous SGD): reads are served from a copy taken when the slowest worker reaches c
        if self.ps.policy.staleness == 0:
            self.frozen = (self.shard.params.copy(), self.shard.version)

    def serve(self) -> ServerRank:
        """Answers workers until each has said DONE or was removed; returns self."""
        from mpi4py import MPI
        status, pause = MPI.Status(), 0.0
        while len(self.done | self.gone()) < self.n_workers:
            if self.comm.Iprobe(MPI.ANY_SOURCE, MPI.ANY_TAG, status):
                self._handle(status.Get_source(), status.Get_tag())
                pause = 0.0
            else:
                self._check_timeouts()
                time.sleep(pause)
                pause = min(2 * pause or 2e-5, 1e-3)
            self._sends = [(r, b) for r, b in self._sends if not r.Test()]
        wait_all([r for r, _ in self._sends], self.timeout, f"server rank {self.rank}: last replies")
        return self

    def gone(self) -> set:
        """Workers removed for lagging or silence."""
        return {w for w, _, _ in self.removed}

    def _barrier(self, clock: int) -> None:
        if clock == self.die_at:
            import os
            import signal
            os.kill(os.getpid(), signal.SIGKILL)
        if self.checkpoint is not None and clock % self.every == 0:
            start = time.perf_counter()
            self.ps.save(self.checkpoint)
            self.saves.append((clock, time.perf_counter() - start))

    def _reply(self, w: int, status: int, a: int = 0, b: int = 0, data=None) -> None:
        dest = self.n_servers + w
        self._heard[w] = time.monotonic()  # an answered worker is not silent: it is busy now
        head = np.array([status, a, b, 0], dtype=np.int64)
        self._sends.append((self.comm.Isend(head, dest, REPLY), head))
        if data is not None:
            self._sends.append((self.comm.Isend(data, dest, DATA), data))

    def _handle(self, source: int, tag: int) -> None:
        head = np.empty(4, dtype=np.int64)
        self.comm.Recv(head, source, tag)
        w = source - self.n_servers
        self._heard[w] = time.monotonic()
        if tag == PUSH:
            self._push(w, head)
        elif tag == PULL:
            self._pull(w, head, time.monotonic())
        elif tag == TICK and w not in self.gone():
            slowest = self.ps.clocks.slowest()
            self.ps.tick(w)
            if self.ps.clocks.slowest() != slowest:
                self._freeze()
                self._barrier(self.ps.clocks.slowest())
            parked, self.parked = self.parked, []
            for w2, h2, since in parked:
                self._pull(w2, h2, since)
        elif tag == DONE:
            self.done.add(w)

    def _check(self, w: int, head: np.ndarray, n: int | None = None) -> int:
        clock, a, b, count = (int(x) for x in head)
        if w in self.gone():
            return REMOVED
        if not self.shard.keys.start <= a < b <= self.shard.keys.stop:
            return BAD_KEY
        if count != self.ps.layout.count(KeyRange(a, b)) or (n is not None and n != count):
            return BAD_LENGTH
        return BAD_CLOCK if clock != self.ps.clocks.clocks[w] else OK

    def _local(self, a: int, b: int) -> slice:
        off, base = self.ps.layout.offsets, self.shard.flat.start
        return slice(int(off[a] - base), int(off[b] - base))

    def _push(self, w: int, head: np.ndarray) -> None:
        from mpi4py import MPI
        status = MPI.Status()
        self.comm.Probe(self.n_servers + w, PUSH_DATA, status)  # sent just after the header
        g = np.empty(status.Get_count(MPI.DOUBLE))
        self.comm.Recv(g, self.n_servers + w, PUSH_DATA)
        code = self._check(w, head, g.size)
        if code == OK and not np.isfinite(g).all():
            code = NON_FINITE
        if code != OK:
            return self._reply(w, code)
        g = tagged(g, w)  # the source of the message: rules such as DirectionDistance need it
        staleness = self.shard.apply(w, self._local(int(head[1]), int(head[2])), g, self.ps.rule)
        self._reply(w, OK, staleness)

    def _pull(self, w: int, head: np.ndarray, since: float) -> None:
        code = self._check(w, head)
        if code != OK:
            return self._reply(w, code)
        clocks = self.ps.clocks
        lagging = self.ps.policy.lagging({v: clocks.clocks[v] for v in clocks.active}, w, int(head[0]))
        if lagging is not None:
            self.parked.append((w, head, since))
            return
        self.reads.append((w, int(head[0]), clocks.snapshot()))
        local = self._local(int(head[1]), int(head[2]))
        data = np.empty(local.stop - local.start)
        self.shard.read(w, local, data, slice(None))
        if self.ps.policy.staleness == 0:  # the values and the version of the barrier
            data[:] = self.frozen[0][local]
            self.shard.read_version[w] = self.frozen[1]
        self._reply(w, OK, data=data)

    def _check_timeouts(self) -> None:
        now, clocks = time.monotonic(), self.ps.clocks
        for w, head, since in list(self.parked):
            if now - since <= self.timeout:
                continue
            lag = self.ps.policy.lagging({v: clocks.clocks[v] for v in clocks.active}, w, int(head[0]))
            if lag is None:
                continue
            if self.on_timeout == "remove":
                self._remove(lag, f"worker {w} waited {self.timeout:g} s for it")
            else:
                self.parked.remove((w, head, since))
                self._reply(w, TIMEOUT, lag, clocks.clocks[lag])
        if not self.parked:  # nobody waits, but a worker that went silent would keep us serving
            for w in sorted(clocks.active - self.done):
                if now - self._heard[w] > self.timeout and self.done | self.gone():
                    self._remove(w, f"silent for {self.timeout:g} s")

    def _remove(self, w: int, why: str) -> None:
        self.removed.append((w, self.ps.clocks.clocks[w], why))
        slowest = self.ps.clocks.slowest()
        self.ps.remove_worker(w)
        if self.ps.clocks.slowest() != slowest:
            self._freeze()
        parked, self.parked = self.parked, []
        for w2, h2, since in parked:
            self._pull(w2, h2, since)


class Client:
    """A worker's handle on the server ranks: `pull`, `push`, `clock`, like the threaded server.

    Args:
        comm: the communicator; this rank is worker comm.rank - n_servers.
        layout: the KeyLayout the servers hold; n_servers: ranks 0 .. n_servers - 1 serve.
        timeout: the servers' timeout: an answer may take twice this plus a second, so that
            a server's StragglerTimeout (which names the lagging worker) arrives first.
    """

    def __init__(self, comm, layout: KeyLayout, n_servers: int, timeout: float = 30.0):
        self.comm, self.layout, self.n_servers = comm, layout, n_servers
        self.server_timeout, self.timeout = timeout, 2 * timeout + 1.0
        self.worker = comm.Get_rank() - n_servers
        if not 0 <= self.worker < comm.Get_size() - n_servers:
            raise ValueError(f"Client: rank {comm.Get_rank()} is a server rank (ranks 0 .. "
                             f"{n_servers - 1} serve); build a Client on ranks >= {n_servers}")
        self.bounds = shard_bounds(layout, n_servers)
        self.c = 0  # iterations finished

    def _pieces(self, keys: Keys, op: str):
        request = self.layout.resolve(keys, op)
        if not isinstance(request, KeyRange):
            raise KeyError(f"{op}: keys {_short(keys)} are not one contiguous range; over MPI a "
                           "request is a key range [a, b) (a range, a slice, one key or None)")
        a, b = request
        off, out = self.layout.offsets, []
        for s in range(self.n_servers):
            lo, hi = max(a, int(self.bounds[s])), min(b, int(self.bounds[s + 1]))
            if lo < hi:
                out.append((s, lo, hi, slice(int(off[lo] - off[a]), int(off[hi] - off[a]))))
        return request, out

    def _answers(self, sends: list, pieces: list, op: str) -> list:
        heads = [np.empty(4, dtype=np.int64) for _ in pieces]
        recvs = [self.comm.Irecv(h, s, REPLY) for h, (s, *_) in zip(heads, pieces)]
        wait_all(sends + recvs, self.timeout, f"{op}: worker {self.worker} waiting for server ranks "
                 f"{[p[0] for p in pieces]}")
        if op == "pull" and any(h[0] != OK for h in heads):  # take the values the others sent
            wait_all([self.comm.Irecv(np.empty(pos.stop - pos.start), s, DATA)
                      for h, (s, _, _, pos) in zip(heads, pieces) if h[0] == OK], self.timeout, op)
        for h, (s, a, b, _) in zip(heads, pieces):
            if h[0] == TIMEOUT:
                raise StragglerTimeout(
                    f"{op}: worker {self.worker} waited {self.server_timeout:g} s to start iteration {self.c}, "
                    f"but worker {h[1]} lags at clock {h[2]}; server rank {s} stopped the wait. If "
                    f"worker {h[1]} has stopped, run the servers with on_timeout='remove'",
                    self.worker, self.c, int(h[1]), int(h[2]))
            if h[0] == REMOVED:
                raise ServerClosed(f"{op}: worker {self.worker} {REASONS[REMOVED]} (server rank {s})")
            if h[0] != OK:
                raise ValueError(f"{op}: server rank {s} refused keys [{a}, {b}) of worker "
                                 f"{self.worker}: the request {REASONS[int(h[0])]}")
        return heads

    def pull(self, keys: Keys = None, out: np.ndarray | None = None) -> np.ndarray:
        """The values of `keys` (None: all), once the policy lets this worker's clock read."""
        request, pieces = self._pieces(keys, "pull")
        n = self.layout.count(request)
        out = np.empty(n) if out is None else out
        if out.shape != (n,) or out.dtype != np.float64 or not out.flags.c_contiguous:
            raise ValueError(f"pull: out has shape {out.shape} and dtype {out.dtype}; keys "
                             f"{_short(keys)} need a contiguous float64 buffer of shape ({n},)")
        sends = [self.comm.Isend(np.array([self.c, a, b, hi.stop - hi.start], dtype=np.int64), s, PULL)
                 for s, a, b, hi in pieces]
        self._answers(sends, pieces, "pull")
        wait_all([self.comm.Irecv(out[pos], s, DATA) for s, _, _, pos in pieces], self.timeout,
                 f"pull: worker {self.worker} receiving values")
        return out

    def push(self, keys: Keys, values) -> int:
        """Sends the gradient of `keys`; returns the push's staleness (largest over servers).
        Values with NaN or inf, or of the wrong length, are refused before anything is sent."""
        request, pieces = self._pieces(keys, "push")
        g = np.ascontiguousarray(self.layout.check_values(values, request, "push", keys))
        if not np.isfinite(g).all():  # checked whole, so no server applies a part: all or nothing
            raise _non_finite(self.worker, keys, request, self.layout, g)
        sends = []
        for s, a, b, pos in pieces:
            head = np.array([self.c, a, b, pos.stop - pos.start], dtype=np.int64)
            sends += [self.comm.Isend(head, s, PUSH), self.comm.Isend(g[pos], s, PUSH_DATA)]
        return max(int(h[1]) for h in self._answers(sends, pieces, "push"))

    def clock(self) -> int:
        """Ends this worker's iteration on every server; returns its new clock."""
        self._tell(TICK)
        self.c += 1
        return self.c

    def done(self) -> None:
        """This worker has finished: the servers stop serving once every worker is done."""
        self._tell(DONE)

    def _tell(self, tag: int) -> None:
        head = np.array([self.c, 0, 0, 0], dtype=np.int64)
        wait_all([self.comm.Isend(head, s, tag) for s in range(self.n_servers)], self.timeout,
                 f"worker {self.worker}: telling the servers")


class LocalClient:
    """The same `pull`, `push`, `clock` on a threaded `ParameterServer`: only the transport differs."""

    def __init__(self, server: ParameterServer, worker: int):
        self.server, self.worker = server, worker

    def pull(self, keys: Keys = None, out=None) -> np.ndarray:
        return self.server.pull(self.worker, keys, out=out)

    def push(self, keys: Keys, values) -> int:
        return self.server.push(self.worker, keys, values)

    def clock(self) -> int:
        return self.server.tick(self.worker)

    def done(self) -> None:
        pass
