"""One check that every rank was given the same settings, before any rank waits on another.

A collective called with different shapes or settings on different ranks hangs or computes
nonsense. `agree_settings` allgathers a few small fields first and raises the same error on
every rank when they differ, naming each field, its value on the first rank that differs and
on rank 0.
"""
from __future__ import annotations

__all__ = ["agree_settings"]


def agree_settings(comm, op: str, **fields) -> list[dict]:
    """Allgathers `fields` from every rank and returns them; raises the same ValueError on every
    rank when any rank's fields differ from rank 0's."""
    every = comm.allgather(fields)
    bad = [(r, f) for r, f in enumerate(every) if f != every[0]]
    if bad:
        r, f = bad[0]
        diff = ", ".join(f"{k} = {f[k]!r} on rank {r} but {every[0][k]!r} on rank 0"
                         for k in fields if f[k] != every[0][k])
        raise ValueError(f"{op}: the ranks disagree: {diff}. Every rank must call {op} with the "
                         "same model, shapes and settings.")
    return every
