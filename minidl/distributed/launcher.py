"""Starting P copies of a script under MPI, from a notebook, a test or the shell.

    python -m minidl.distributed.launch -n 4 script.py [args ...]

`launch()` and the command both run the `mpiexec` installed next to the running
Python (the `mpich` wheel puts it there), never whichever one comes first on PATH,
so the ranks run the same interpreter and the same minidl. Each rank gets one BLAS
thread unless told otherwise: P ranks on a 2-core laptop are already oversubscribed.

Only rank 0 prints, by convention; `launch()` returns what it printed and, if
rank 0 called `minidl.distributed.report(obj)`, that object.
"""
from __future__ import annotations

import functools
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

INSTALL = f"{sys.executable} -m pip install mpich 'mpi4py>=4.1'"
RESULT_VAR = "MINIDL_RESULT_FILE"
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# glibc's malloc hands arrays of more than ~128 KiB back to the kernel when they are freed, so
# every training step allocates them again and pays a page fault per 4 KiB on first touch:
# about two thousand per step for the MNIST model on 2 ranks, and hundreds more inside MPI's
# Allreduce for its temporary buffer. Keeping freed memory in the process (as PyTorch's caching allocator
# does) removes them. Only glibc reads these variables; values already set are kept.
KEEP_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(64 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
               "MALLOC_TOP_PAD_": str(64 << 20)}


class LaunchError(RuntimeError):
    """mpiexec is missing, or the job failed or timed out."""


@dataclass
class Run:
    """A finished MPI job: what was run, what it printed, what rank 0 reported."""
    command: list
    stdout: str
    stderr: str
    result: object = None


def find_mpiexec() -> str:
    """The mpiexec next to sys.executable; a LaunchError saying how to install it if absent."""
    bindir = Path(sys.executable).parent
    for name in ("mpiexec", "mpiexec.exe", "mpiexec.hydra", "mpirun"):
        if (bindir / name).exists():
            return str(bindir / name)
    elsewhere = shutil.which("mpiexec")
    hint = f" (there is one at {elsewhere}, but it may belong to another MPI library)" if elsewhere else ""
    raise LaunchError(f"launch: no mpiexec next to {sys.executable}{hint}. "
                      f"Install the MPI runtime into this environment with: {INSTALL}")


@functools.cache
def flavor(mpiexec: str) -> str:
    """"openmpi" or "mpich" (MPICH, Intel MPI and other Hydra launchers)."""
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "mpich"
    text = (out.stdout + out.stderr).lower()
    return "openmpi" if ("open mpi" in text or "open-mpi" in text or "openrte" in text) else "mpich"


def placement_flags(kind: str, n: int, hosts=None, hostfile=None) -> list:
    """Where the ranks go. MPICH's Hydra runs as root and oversubscribed as it is;
    Open MPI refuses both unless asked."""
    flags = []
    if hostfile is not None:
        flags += ["--hostfile" if kind == "openmpi" else "-f", str(hostfile)]
    if hosts:
        flags += ["--host" if kind == "openmpi" else "-hosts",
                  hosts if isinstance(hosts, str) else ",".join(hosts)]
    if kind == "openmpi":
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--allow-run-as-root")
        if hosts is None and hostfile is None and n > (os.cpu_count() or 1):
            flags.append("--oversubscribe")
    return flags


def command(script: str, n: int, args=(), python: str | None = None, hosts=None, hostfile=None) -> list:
    """The argument list that runs `script` on `n` ranks (on `hosts`, or those in `hostfile`)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"launch: n = {n!r} ranks; use a positive integer such as 2 or 4")
    mpiexec = find_mpiexec()
    # `-m mpi4py` aborts the whole job when any rank raises, instead of leaving the
    # other ranks waiting for it in a collective
    return [mpiexec, "-n", str(n), *placement_flags(flavor(mpiexec), n, hosts, hostfile),
            python or sys.executable, "-m", "mpi4py", str(script), *map(str, args)]


def launch(script=None, n: int = 2, args=(), timeout: float = 120.0, code: str | None = None,
           env: dict | None = None, threads: int | None = 1, check: bool = True,
           hosts=None, hostfile=None, keep_memory: bool = True) -> Run:
    """Runs `script` (a path) or `code` (Python source) on `n` MPI ranks and waits.

    Args:
        timeout: seconds before the whole job is killed; a LaunchError says so.
        env: extra environment variables for every rank.
        threads: BLAS threads per rank (None leaves the environment alone).
        check: raise a LaunchError with the end of stderr if any rank fails.
        keep_memory: keep freed memory in each rank instead of returning it to the
            kernel and faulting it in again on the next step (`KEEP_MEMORY`).
        hosts, hostfile: run on other machines: "node1,node2" or a list, or a file
            with one host per line; minidl and the script must be at the same path there.

    Returns:
        A Run whose `stdout` is what the ranks printed (by convention only rank 0)
        and whose `result` is the object rank 0 passed to `report()`, or None.
    """
    if (script is None) == (code is None):
        raise ValueError("launch: pass either a script path or code=..., not both or neither")
    with tempfile.TemporaryDirectory(prefix="minidl-launch-") as tmp:
        if code is not None:
            script = Path(tmp) / "job.py"
            script.write_text(code)
        elif not Path(script).exists():
            raise FileNotFoundError(f"launch: no script at {script}; pass an existing path "
                                    "or the source as code=...")
        result_file = Path(tmp) / "result.pickle"
        thread_env = {} if threads is None else {k: str(threads) for k in SINGLE_THREAD}
        memory_env = KEEP_MEMORY if keep_memory else {}
        full_env = {**memory_env, **os.environ, **thread_env, **(env or {}), RESULT_VAR: str(result_file)}
        cmd = command(script, n, args, hosts=hosts, hostfile=hostfile)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=full_env, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            raise LaunchError(f"launch: {_show(cmd)} did not finish in {timeout:g} s and was "
                              f"killed (a rank waiting for a message that never comes?). "
                              f"Last output:\n{_tail(out)}{_tail(err)}") from None
        if check and proc.returncode != 0:
            raise LaunchError(f"launch: {_show(cmd)} failed with exit code {proc.returncode}:\n"
                              f"{_tail(err) or _tail(out)}")
        result = pickle.loads(result_file.read_bytes()) if result_file.exists() else None
        return Run(cmd, out, err, result)


def report(obj) -> None:
    """Called by rank 0 of a launched script: hands `obj` back to `launch()`.

    Outside `launch()` (plain `mpiexec` or `python script.py`) it does nothing.
    """
    path = os.environ.get(RESULT_VAR)
    if path:
        Path(path).write_bytes(pickle.dumps(obj))


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _show(cmd: list) -> str:
    """The command as a student would type it: `mpiexec -n 2 python job.py ...`."""
    at = cmd.index("mpi4py")
    return " ".join(["mpiexec", *cmd[1:at - 2], "python", Path(cmd[at + 1]).name, *cmd[at + 2:]])


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:])


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m minidl.distributed.launch",
                                     description="Run a script on N MPI ranks with this Python's mpiexec.")
    parser.add_argument("-n", "--np", type=int, default=2, dest="n", help="number of ranks")
    parser.add_argument("--timeout", type=float, default=None, help="seconds before the job is killed")
    parser.add_argument("--hosts", default=None, help="comma-separated hosts to run on")
    parser.add_argument("--hostfile", default=None, help="a file with one host per line")
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    try:
        cmd = command(ns.script, ns.n, ns.args, hosts=ns.hosts, hostfile=ns.hostfile)
    except (LaunchError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    env = {**KEEP_MEMORY, **SINGLE_THREAD, **os.environ}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        return proc.wait(timeout=ns.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        print(f"launch: {_show(cmd)} did not finish in {ns.timeout:g} s and was killed", file=sys.stderr)
        return 124
    except KeyboardInterrupt:
        _kill_group(proc)
        return 130


if __name__ == "__main__":
    sys.exit(main())
