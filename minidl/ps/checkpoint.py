"""Checkpoints: the whole state of a parameter server in one .npz file, and back.

Saved: the parameters; every worker's clock and whether it is still active; the
update rule's state (e.g. Adagrad's cache); each shard's version, the version each
worker last read and the per-version update counts that staleness is computed from;
the traffic counters; and the sliding window. The configuration (layout, shards,
workers, rule, policy) is code: build the same server, then `load`. Restoring and
continuing gives the same numbers, bit for bit, as never having stopped.
"""
from __future__ import annotations

import contextlib

import numpy as np

FORMAT = "minidl.ps checkpoint 1"
COUNTERS = ("pushes", "pulls", "bytes_in", "bytes_out")


@contextlib.contextmanager
def _frozen(server):
    """Holds the clock lock and every shard lock (always in this order: no deadlock)."""
    with server.clocks.cond, contextlib.ExitStack() as stack:
        for shard in server.shards:
            stack.enter_context(shard.lock)
        yield


def save(server, path) -> None:
    with _frozen(server):
        shards = server.shards
        fv = [(s.index, v, n) for s in shards for v, n in sorted(s.from_version.items())]
        state = {
            "format": np.array(FORMAT),
            "rule": np.array(repr(server.rule)),
            "policy": np.array(repr(server.policy)),
            "lengths": server.layout.lengths,
            "bounds": server.bounds,
            "params": server.params.copy(),
            "clocks": np.array(server.clocks.clocks, dtype=np.int64),
            "active": np.array([w in server.clocks.active for w in range(server.n_workers)]),
            "versions": np.array([s.version for s in shards], dtype=np.int64),
            "read_versions": np.stack([s.read_version for s in shards]),
            "from_version": np.array(fv, dtype=np.int64).reshape(-1, 3),
            "counters": np.array([[getattr(s, c) for c in COUNTERS] for s in shards], dtype=np.int64),
        }
        for name in server.rule.state_names:  # shards are contiguous: one flat array per state
            state["rule_" + name] = np.concatenate([s.state[name] for s in shards])
        if server.window is not None:
            state.update(server.window.state())
    np.savez(path, **state)


def load(server, path) -> None:
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    if str(data.get("format", "")) != FORMAT:
        raise ValueError(f"load: {path} is not a parameter-server checkpoint (no '{FORMAT}' tag)")
    checks = [("layout", data["lengths"], server.layout.lengths),
              ("shard bounds", data["bounds"], server.bounds),
              ("workers", len(data["clocks"]), server.n_workers)]
    for what, saved, here in checks:
        if not np.array_equal(saved, here):
            raise ValueError(f"load: the checkpoint's {what} ({_brief(saved)}) differ from this "
                             f"server's ({_brief(here)}); build the server as the saved one was")
    names = [k[5:] for k in data if k.startswith("rule_")]
    if sorted(names) != sorted(server.rule.state_names):
        raise ValueError(f"load: the checkpoint was saved with rule {data['rule']} (state {names}) "
                         f"but this server uses {server.rule!r}; use the same kind of rule")
    if ("window_meta" in data) != (server.window is not None):
        raise ValueError(f"load: the checkpoint {'has' if 'window_meta' in data else 'has no'} "
                         "sliding window but this server is built the other way; match `window=`")
    with _frozen(server):
        server.params[...] = data["params"]
        server.clocks.clocks = [int(c) for c in data["clocks"]]
        server.clocks.active = {w for w, a in enumerate(data["active"]) if a}
        for s in server.shards:
            s.version = int(data["versions"][s.index])
            s.read_version[...] = data["read_versions"][s.index]
            s.from_version = {int(v): int(n) for i, v, n in data["from_version"] if i == s.index}
            for c, value in zip(COUNTERS, data["counters"][s.index]):
                setattr(s, c, int(value))
            for name in names:
                s.state[name][...] = data["rule_" + name][s.flat]
        if server.window is not None:
            server.window.restore(data)
        server.clocks.cond.notify_all()


def _brief(a) -> str:
    a = np.asarray(a)
    return str(a.tolist()) if a.size <= 6 else f"{a.size} values"
