"""Checkpoints: the whole state of a parameter server in one .npz file, and back.

`save(path)` writes exactly `path` (no extension is added) by way of a temporary file
beside it, so an interrupted save leaves the previous checkpoint whole; `load(path)`
reads it back. Both also take an open binary file. A file that is not a checkpoint,
or is truncated or damaged, is refused with a ValueError naming it, before anything
in the server changes.

Saved: the parameters; every worker's clock and whether it is still active; the
update rule's state (e.g. Adagrad's cache); each shard's version, the version each
worker last read and the per-version update counts that staleness is computed from;
the traffic counters; and the sliding window. The configuration (layout, shards,
workers, rule, policy) is code: build the same server, then `load`. Restoring and
continuing gives the same numbers, bit for bit, as never having stopped.
"""
from __future__ import annotations

import contextlib
import os

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
    # the list of fields, first in the archive: a damaged zip directory can lose later ones silently
    state = {"format": state.pop("format"), "fields": np.array(sorted(state)), **state}
    if hasattr(path, "write"):  # an open binary file
        np.savez(path, **state)
        return
    path = os.fspath(path)
    partial = path + ".partial"
    try:
        with open(partial, "wb") as f:  # np.savez(path) would add ".npz" to a path without it
            np.savez(f, **state)
        os.replace(partial, path)  # atomic: the old checkpoint stays whole until the new one is
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise


def load(server, path) -> None:
    if hasattr(path, "read"):  # an open binary file
        name = getattr(path, "name", "the file")
        data = _read(path, name)
    else:
        name = os.fspath(path)
        with open(path, "rb") as f:  # a missing file is FileNotFoundError, as for open()
            data = _read(f, name)
    _check(server, data, name)  # everything is checked before anything changes
    names = [k[5:] for k in data if k.startswith("rule_")]
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
            for state_name in names:
                s.state[state_name][...] = data["rule_" + state_name][s.flat]
        if server.window is not None:
            server.window.restore(data)
        server.clocks.cond.notify_all()


ZIP_MAGIC = b"PK\x03\x04"  # how every .npz (a zip archive of .npy files) begins


def _invalid(name, why: str) -> ValueError:
    return ValueError(f"load: {name} is not a valid minidl checkpoint: {why}. Load a file written "
                      "by ParameterServer.save (an earlier copy, if this one was damaged)")


def _read(f, name) -> dict[str, np.ndarray]:
    """Every array of the archive, or a ValueError saying why the file is not one."""
    head = f.read(len(ZIP_MAGIC))
    if head != ZIP_MAGIC:
        raise _invalid(name, "it is empty" if not head else
                       "it does not begin as an .npz archive does (a zip file), so it is another "
                       "kind of file or its start is damaged")
    f.seek(-len(head), os.SEEK_CUR)
    try:
        with np.load(f, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 (zipfile, numpy and struct errors: all mean "damaged")
        raise _invalid(name, f"it is truncated or damaged ({type(e).__name__}: {e})") from e


def _check(server, data: dict, name) -> None:
    """Raises unless `data` is a checkpoint that fits this server."""
    if str(data.get("format", "")) != FORMAT:
        raise _invalid(name, f"it is not a parameter-server checkpoint (no '{FORMAT}' tag)")
    fields = ["lengths", "bounds", "params", "clocks", "active", "versions", "read_versions",
              "from_version", "counters"] + (["window_done"] if "window_meta" in data else [])
    if "fields" in data:  # (older checkpoints do not list them)
        fields += [str(k) for k in np.ravel(data["fields"]) if str(k) not in fields]
    missing = [k for k in fields if k not in data]
    if missing:
        raise _invalid(name, f"the fields {missing} are missing")
    # a checkpoint of a server built differently: say what differs
    rules = sorted(k[5:] for k in data if k.startswith("rule_"))
    checks = [("layout", data["lengths"], server.layout.lengths),
              ("shard bounds", data["bounds"], server.bounds),
              ("workers", data["clocks"].size, server.n_workers)]
    for what, saved, here in checks:
        if not np.array_equal(saved, here):
            raise ValueError(f"load: the checkpoint's {what} ({_brief(saved)}) differ from this "
                             f"server's ({_brief(here)}); build the server as the saved one was")
    if rules != sorted(server.rule.state_names):
        raise ValueError(f"load: the checkpoint was saved with rule {data.get('rule')} (state {rules}) "
                         f"but this server uses {server.rule!r}; use the same kind of rule")
    if ("window_meta" in data) != (server.window is not None):
        raise ValueError(f"load: the checkpoint {'has' if 'window_meta' in data else 'has no'} "
                         "sliding window but this server is built the other way; match `window=`")
    W, S, size = server.n_workers, len(server.shards), server.layout.size
    need = {"params": (size,), "clocks": (W,), "active": (W,), "versions": (S,), "read_versions": (S, W),
            "from_version": (None, 3), "counters": (S, len(COUNTERS))}
    need.update({"rule_" + n: (size,) for n in rules})
    if server.window is not None:
        need.update({"window_meta": (3,), "window_done": (server.window.length,)})
    for key, shape in need.items():  # then every field must fit this server
        a = data[key]
        if a.dtype.kind not in ("f" if key == "params" or key.startswith("rule_") else "iub"):
            raise _invalid(name, f"the field {key} holds {a.dtype}, not numbers")
        if a.ndim != len(shape) or any(n not in (None, m) for n, m in zip(shape, a.shape)):
            want = ", ".join("k" if n is None else str(n) for n in shape) + ("," if len(shape) == 1 else "")
            raise _invalid(name, f"the field {key} has shape {a.shape} where this server needs ({want})")
    if server.window is not None and int(data["window_meta"][0]) != server.window.length:
        raise ValueError(f"load: the checkpoint's window has length {int(data['window_meta'][0])}, "
                         f"this server's {server.window.length}; build the server with "
                         f"window={int(data['window_meta'][0])}")


def _brief(a) -> str:
    a = np.asarray(a)
    return str(a.tolist()) if a.size <= 6 else f"{a.size} values"
