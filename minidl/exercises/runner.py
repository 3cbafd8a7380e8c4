"""Runs one notebook in its own kernel, in a child process, and reads its checks' results.

The parent (`run_isolated`) starts `python -m minidl.exercises.runner JOB.json`
in a new process group. The child starts a kernel with nbclient, runs every cell
with errors allowed (a check cell whose `assert_passed()` raises does not stop the later
checks, and each check keeps its own points), and around each check cell runs two
injected cells. The first imports `minidl.exercises` afresh (its modules are dropped from
`sys.modules`) and binds `check`, `check_value` and `assert_passed` to the fresh
functions, so that student code run earlier in the kernel that replaced a comparison
function, the answer key or a check itself changes nothing; it then counts `results()`.
The second prints the results recorded by that cell (with the expected value, for the
instructor) as JSON between markers holding a random nonce. Only the injected cell's own
outputs are parsed, so a student cell that prints a fake marker block counts for nothing.

The whole notebook has one time budget. When it runs out the kernel is killed and
the checks not yet run are reported as timed out; if the child itself hangs, the
parent kills its process group and the kernel's.
"""
from __future__ import annotations

import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["OUTPUT_CAP", "NBCLIENT_MISSING", "kill_running", "nbclient_available", "run_isolated"]

OUTPUT_CAP = 200_000  # characters of output kept per cell; a flood beyond it is counted and dropped
STARTUP_GRACE = 90  # seconds the parent allows for starting and stopping the kernel
NBCLIENT_MISSING = ("grading runs notebooks with nbclient, which is not installed: "
                    "pip install nbclient ipykernel (or pip install -e \".[dev]\")")
_PRE = ("import sys as _s{n}\n"
        "for _k{n} in [k for k in list(_s{n}.modules) if (k + '.').startswith('minidl.exercises.')]:\n"
        "    del _s{n}.modules[_k{n}]\n"
        "import minidl.exercises as _m{n}\n"
        "from minidl.exercises import assert_passed, check, check_value\n"
        "_minidl_start_{n} = len(_m{n}.results())")
_POST = ("import builtins as _b{n}, json as _j{n}, minidl.exercises as _m{n}\n"
         "_b{n}.print('<minidl-results-{n}>' + _j{n}.dumps([dict(exercise=str(r.exercise), "
         "points=float(r.points), max_points=float(r.max_points), feedback=str(r.feedback)[:4000], "
         "expected=str(r.expected)[:4000]) for r in _m{n}.results()[_minidl_start_{n}:]]) "
         "+ '</minidl-results-{n}>')")


def nbclient_available() -> bool:
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError:
        return False
    return True


def _cell(code: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": code, "outputs": [], "execution_count": None}


def _error_of(cell: dict) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {str(out.get('evalue'))[:500]}"
    return None


def _results_in(cell: dict, nonce: str) -> list[dict] | None:
    """The last marker block in the injected cell's own stdout, or None."""
    text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")
    blocks = re.findall(f"<minidl-results-{nonce}>(.*?)</minidl-results-{nonce}>", text, re.S)
    try:
        return json.loads(blocks[-1]) if blocks else None
    except ValueError:
        return None


def _capped_client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """A NotebookClient that keeps at most OUTPUT_CAP characters of output per cell."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.kept: dict[int, int] = {}  # characters kept, per cell index
            self.dropped = 0

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
            used = self.kept.get(cell_index, 0)
            if msg.get("msg_type") != "error" and used + size > OUTPUT_CAP:
                self.dropped += size  # the flood is read off the socket and forgotten
                return None
            self.kept[cell_index] = used + size
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def _write(result: dict, path: Path) -> None:
    tmp = Path(f"{path}.part")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    os.replace(tmp, path)  # the parent never reads half a file


def _kill_group(pgid: int) -> None:
    if pgid > 1:  # never 0 or 1: killpg would then signal our own group or init's
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass  # already gone


def execute(job: dict) -> dict:
    """Runs the job's notebook (in the child) and returns what its check cells recorded.

    Returns:
        {"status": "ok" | "timeout" | "dead" | "error", "message": str, "dropped": int,
         "cells": {grade_id: {"results": [...] or None, "error": str or None}}}
    """
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.from_dict(json.loads(Path(job["notebook"]).read_text(encoding="utf-8")))
    for cell in nb.cells:  # nbclient wants each source as one string, files may hold a list of lines
        cell.source = "".join(cell.source) if isinstance(cell.source, list) else cell.source
    checks = {int(i): gid for i, gid in job["checks"].items()}  # cell index -> grade_id
    nonce = secrets.token_hex(8)
    cells, post, injected = [], {}, set()
    for i, cell in enumerate(nb.cells):
        if i in checks:
            injected.add(len(cells))
            cells.append(nbformat.from_dict(_cell(_PRE.format(n=nonce))))
        cells.append(cell)
        if i in checks:
            post[len(cells)] = checks[i]
            injected.add(len(cells))
            cells.append(nbformat.from_dict(_cell(_POST.format(n=nonce))))
    nb.cells = cells
    result = {"status": "ok", "message": "", "dropped": 0, "cells": {}}
    client = _capped_client_class()(
        nb, timeout=job["timeout"], kernel_name="python3", allow_errors=True,
        shutdown_kernel="immediate", record_timing=False,
        resources={"metadata": {"path": str(Path(job["notebook"]).parent)}})
    pid = 0
    try:
        with client.setup_kernel():
            pid = getattr(getattr(client.km, "provisioner", None), "pid", None) or 0
            Path(job["kernel_pid_file"]).write_text(str(pid))
            deadline = time.monotonic() + job["timeout"]
            for index, cell in enumerate(nb.cells):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CellTimeoutError("the notebook's time budget ran out")
                client.timeout = max(1, math.ceil(remaining))
                # the injected cells stay out of In[], so student code cannot read the nonce there
                client.execute_cell(cell, index, store_history=index not in injected)
                if index in post:
                    result["cells"][post[index]] = {"results": _results_in(cell, nonce),
                                                    "error": _error_of(nb.cells[index - 1])}
                    result["dropped"] = client.dropped
                    _write(result, Path(job["result"]))  # partial results survive a hard kill
    except CellTimeoutError:
        result["status"], result["message"] = "timeout", f"timed out after {job['timeout']:g} s"
    except DeadKernelError:
        result["status"], result["message"] = "dead", "the kernel died (a crash, os._exit or out of memory)"
    except Exception as e:  # the kernel could not start, or nbclient failed: report, don't hang
        result["status"], result["message"] = "error", f"could not run the notebook: {type(e).__name__}: {e}"
    finally:
        _kill_group(pid)  # what the student's code started lives on in the kernel's group
    result["dropped"] = client.dropped
    return result


_RUNNING: dict[int, tuple[subprocess.Popen, Path]] = {}  # child pid -> (child, its kernel's pid file)
_LOCK = threading.Lock()


def kill_running() -> None:
    """Kills every child still running and its kernel (the instructor pressed Ctrl-C)."""
    with _LOCK:
        running = list(_RUNNING.values())
    for proc, pid_file in running:
        _kill_group(proc.pid)
        if pid_file.exists():
            _kill_group(int(pid_file.read_text().strip() or 0))


def run_isolated(notebook: Path, checks: dict[int, str], timeout: float) -> dict:
    """Runs `notebook` (cwd: its folder) in a child process; see `execute` for the result.

    Args:
        notebook: a notebook inside a scratch folder the grader owns.
        checks: the check cells to read, as {cell index: grade_id}.
        timeout: seconds for the whole notebook, kernel start-up not included.
    """
    work = Path(notebook).parent.parent  # scratch/lessons/NN.ipynb -> scratch/
    job = {"notebook": str(notebook), "checks": {str(i): g for i, g in checks.items()},
           "timeout": timeout, "result": str(work / "result.json"),
           "kernel_pid_file": str(work / "kernel.pid")}
    (work / "job.json").write_text(json.dumps(job), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "MINIDL_FIGURES"}  # grading writes no figures
    env.update(PYTHONHASHSEED="0", MPLBACKEND="Agg")
    with open(work / "runner.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "minidl.exercises.runner", str(work / "job.json")],
                                cwd=Path(notebook).parent, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        pid_file = work / "kernel.pid"
        with _LOCK:
            _RUNNING[proc.pid] = (proc, pid_file)
        try:
            proc.wait(timeout=timeout + STARTUP_GRACE)
            killed = False
        except subprocess.TimeoutExpired:  # the child hangs: kill it
            killed = True
            _kill_group(proc.pid)
            proc.wait()
        finally:
            with _LOCK:
                _RUNNING.pop(proc.pid, None)
    if (killed or proc.returncode != 0) and pid_file.exists():  # the kernel has its own session
        _kill_group(int(pid_file.read_text().strip() or 0))
    try:
        result = json.loads((work / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tail = (work / "runner.log").read_bytes()[-800:].decode("utf-8", "replace").strip()
        result = {"status": "error", "message": f"the runner stopped without a result: {tail}",
                  "dropped": 0, "cells": {}}
    if killed:
        result["status"], result["message"] = "timeout", f"timed out after {timeout:g} s"
    return result


def main(argv: list[str] | None = None) -> int:
    # rfc3987-syntax 1.1 (an optional jsonschema extra that nbformat pulls in) takes ~2 s to
    # import and only validates IRIs, which running a notebook never does
    sys.modules.setdefault("rfc3987_syntax", None)
    job = json.loads(Path((argv or sys.argv[1:])[0]).read_text(encoding="utf-8"))
    _write(execute(job), Path(job["result"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
