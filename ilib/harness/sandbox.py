"""Running a student's code out of reach of the grader and the project.

Everything a submission runs -- its notebook's kernel and the process that calls its exercise
functions -- runs here, in a child process with

* a temporary working directory and ``HOME`` (and Jupyter's runtime and config directories inside it);
* ``ilib`` imported from a read-only copy of the package (files 0444, folders 0555) without the
  instructor-only ``ilib/solutions/``, first on ``PYTHONPATH``;
* limits on memory (``RLIMIT_AS``), CPU time (``RLIMIT_CPU``) and wall time (the parent kills the
  process group);
* where Linux user namespaces are available (``unshare -rm``), a private mount namespace in which the
  project, the Python environment and the git directory are mounted read-only and the instructor's
  notebooks, the batch's inputs and outputs are hidden behind empty read-only mounts; the command
  itself runs in a nested user namespace (``unshare -U``), without the capabilities that could remount
  them. Elsewhere the project is writable and the grader compares its ``git status`` before and after,
  reporting any change as a violation.

Values cross the process boundary as JSON data (:func:`encode` / :func:`decode`), never as objects.

Entry points run inside the sandbox::

    python -m ilib.harness.sandbox exercises REQUEST.json FD   # call the student's functions, one JSON line per event on FD
    python -m ilib.harness.sandbox notebook IN.ipynb OUT.ipynb TIMEOUT PROFILE
"""

from __future__ import annotations

import functools
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE_EXCLUDE = ("solutions", "__pycache__")
EXERCISE_FILE = "<exercise {}>"


# --------------------------------------------------------------------------- values as data
def encode(value: Any) -> Any:
    """A JSON-able description of ``value``: numbers, strings, lists, dicts, arrays (as lists with shape)."""
    import numpy as np

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, (list, tuple)):
        return {"__seq__": [encode(v) for v in value], "tuple": isinstance(value, tuple)}
    if isinstance(value, dict):
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.kind in "biuf":
            flat = [float(x) if arr.dtype.kind == "f" else int(x) for x in arr.ravel()]
            return {"__array__": [x if not isinstance(x, float) or math.isfinite(x) else repr(x) for x in flat],
                    "shape": list(arr.shape), "kind": arr.dtype.kind}
    return {"__object__": type(value).__name__}


def decode(data: Any) -> Any:
    """The value described by :func:`encode` (arrays as float or integer ``numpy`` arrays)."""
    import numpy as np

    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "__float__" in data:
        return float(data["__float__"])
    if "__seq__" in data:
        items = [decode(v) for v in data["__seq__"]]
        return tuple(items) if data.get("tuple") else items
    if "__dict__" in data:
        return {_hashable(decode(k)): decode(v) for k, v in data["__dict__"]}
    if "__array__" in data:
        flat = [float(x) if isinstance(x, str) else x for x in data["__array__"]]
        dtype = float if data.get("kind") == "f" else None
        return np.asarray(flat, dtype=dtype).reshape(data["shape"])
    if "__object__" in data:
        return _Opaque(data["__object__"])
    return data


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


@dataclass(frozen=True)
class _Opaque:
    """A value the sandbox could not describe as data (it never equals anything)."""

    type_name: str

    def __eq__(self, other):
        return False

    __hash__ = object.__hash__


# --------------------------------------------------------------------------- limits and isolation
@dataclass
class Limits:
    """Resource limits of one sandboxed process (each of its children gets the same)."""

    wall_s: float = 600.0
    memory_bytes: int = 8 * 2**30
    cpu_s: int = 600

    def __post_init__(self):
        for name in ("wall_s", "memory_bytes", "cpu_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)}")

    def apply(self) -> None:
        """Set the limits on the calling process (used as ``preexec_fn``)."""
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (self.memory_bytes, self.memory_bytes))
        cpu = int(math.ceil(self.cpu_s))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))


@functools.lru_cache(maxsize=1)
def namespaces_available() -> bool:
    """Whether ``unshare -rm`` can make a private mount namespace with read-only bind mounts here."""
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    probe = Path(__file__).resolve().parent
    script = f"mount --bind {shlex.quote(str(probe))} {shlex.quote(str(probe))} && " \
             f"mount -o remount,bind,ro {shlex.quote(str(probe))} && mount -t tmpfs -o ro,size=4k none " \
             f"{shlex.quote(str(probe))} && true"
    try:
        return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def isolation_prefix(readonly: list[Path], hidden: list[Path]) -> list[str]:
    """The command prefix that runs a command with ``readonly`` mounted read-only and ``hidden`` covered.

    Empty where namespaces are not available (see :func:`namespaces_available`).
    """
    if not namespaces_available():
        return []
    steps = []
    # parents before children: a bind mount of a parent made after its child's would cover the child's
    for p in sorted({str(Path(p).resolve()) for p in readonly if Path(p).exists()}, key=lambda s: (len(Path(s).parts), s)):
        q = shlex.quote(p)
        steps.append(f"mount --bind {q} {q} && mount -o remount,bind,ro {q}")
    # a folder below another hidden one is hidden with it; mounting it after its parent's empty tmpfs would fail
    covered = {Path(p).resolve() for p in hidden if Path(p).is_dir()}
    for p in sorted(str(p) for p in covered if not any(a in covered for a in p.parents)):
        steps.append(f"mount -t tmpfs -o ro,size=4k none {shlex.quote(p)}")
    # the command runs in a nested user namespace, without the capabilities that could undo these mounts
    script = " && ".join(steps + ['exec unshare -U "$@"'])
    return ["unshare", "-rm", "--", "sh", "-c", script, "sandbox"]


def readonly_package(package: Path, dest: Path) -> Path:
    """Copy ``package`` (the ``ilib`` folder) under ``dest`` without instructor-only parts, compiled, read-only.

    Returns the folder to put first on ``PYTHONPATH``.
    """
    import compileall

    target = dest / package.name
    shutil.copytree(package, target, ignore=shutil.ignore_patterns(*PACKAGE_EXCLUDE, "*.pyc"))
    compileall.compile_dir(str(target), quiet=2, workers=1)
    make_readonly(dest)
    return dest


def make_readonly(root: Path) -> None:
    """Files 0444 and folders 0555 under ``root`` (``root`` included)."""
    for dirpath, dirnames, filenames in os.walk(root):
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o444)
    for dirpath, dirnames, _ in os.walk(root, topdown=False):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o555)
    os.chmod(root, 0o555)


def remove_tree(root: Path) -> None:
    """Remove ``root`` even where :func:`make_readonly` (or a student) made parts read-only."""
    if not Path(root).exists():
        return
    for dirpath, dirnames, _ in os.walk(root):
        os.chmod(dirpath, 0o700)
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, 0o700)
    shutil.rmtree(root, ignore_errors=True)


def project_state(root: Path) -> frozenset:
    """What a submission must not change in the project at ``root``: ``git status`` lines and tracked files' stat."""
    root = Path(root)
    if (root / ".git").exists():
        out = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=all"],
                             capture_output=True, text=True, timeout=300)
        return frozenset(line for line in out.stdout.splitlines() if line.strip())
    state = set()
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            p = os.path.join(dirpath, f)
            st = os.lstat(p)
            state.add(f"{p} {st.st_size} {st.st_mtime_ns}")
    return frozenset(state)


@dataclass
class Outcome:
    """How a sandboxed process ended."""

    returncode: int | None
    wall_s: float
    timed_out: bool = False
    log: str = ""
    events: list = field(default_factory=list)


def sandbox_env(home: Path, pythonpath: Path, extra: dict | None = None) -> dict:
    """The environment of a sandboxed process: nothing of the grader's but ``PATH`` and the locale."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    env.update({
        "HOME": str(home), "PYTHONPATH": str(pythonpath), "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(home),
        "JUPYTER_RUNTIME_DIR": str(home / ".jupyter-runtime"), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_DATA_DIR": str(home / ".jupyter-data"), "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(home / ".mpl"),
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
    })
    env.update(extra or {})
    return env


def run(cmd: list[str], *, cwd: Path, env: dict, limits: Limits, prefix: list[str],
        event_deadline: float | None = None) -> Outcome:
    """Run ``cmd`` sandboxed; collect the JSON lines it writes on the event pipe (fd passed as last argument).

    The process group is killed at ``limits.wall_s``, or when an exercise runs longer than
    ``event_deadline`` seconds after its ``start`` event.
    """
    import select

    r, w = os.pipe()
    log_path = Path(cwd) / ".sandbox.log"
    t0 = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(prefix + cmd + [str(w)], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, pass_fds=(w,), preexec_fn=limits.apply,
                                start_new_session=True)
    os.close(w)
    events, buf, started, timed_out = [], b"", None, False
    with os.fdopen(r, "rb", buffering=0) as pipe:
        while True:
            now = time.perf_counter()
            limit = t0 + limits.wall_s
            if event_deadline is not None and started is not None:
                limit = min(limit, started + event_deadline)
            if now >= limit:
                timed_out = True
                _kill(proc)
                break
            ready, _, _ = select.select([pipe], [], [], min(1.0, limit - now))
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            chunk = pipe.read(65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if isinstance(ev, dict):
                    events.append(ev)
                    if ev.get("event") == "start":
                        started = time.perf_counter()
                    elif ev.get("event") == "done":
                        started = None
    try:
        proc.wait(timeout=max(1.0, t0 + limits.wall_s - time.perf_counter()))
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(proc)
        proc.wait()
    _kill(proc)  # whatever the student left running in its group
    text = log_path.read_text(errors="replace")[-20000:] if log_path.exists() else ""
    return Outcome(proc.returncode, time.perf_counter() - t0, timed_out, text, events)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------------- inside the sandbox: exercises
class ReferenceUsed(BaseException):
    """Raised by the stand-in for a reference implementation inside the sandbox."""


def _tripwire(ref: str, emit):
    def reference_is_not_available(*args, **kwargs):
        emit({"event": "tripwire", "reference": ref})
        raise ReferenceUsed(f"the reference implementation {ref} is not available to your code")

    return reference_is_not_available


def _install_tripwires(refs: list[str], emit) -> None:
    """Replace each reference, wherever ``ilib`` modules hold it, by a stand-in that reports its use."""
    import importlib

    for ref in refs:
        module, _, attr = ref.partition(":")
        try:
            obj = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            continue
        wire = _tripwire(ref, emit)
        for name, mod in list(sys.modules.items()):
            if name.split(".")[0] == "ilib" and mod is not None:
                for key, val in list(vars(mod).items()):
                    if val is obj:
                        setattr(mod, key, wire)
        del obj


def _origin(fn) -> dict:
    """Where the code of ``fn`` (unwrapped) comes from."""
    seen, files = set(), []
    while fn is not None and id(fn) not in seen:
        seen.add(id(fn))
        code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__func__", None), "__code__", None)
        if getattr(fn, "__name__", "") == "reference_is_not_available":
            files.append("<reference>")
        elif code is not None:
            files.append(code.co_filename)
        fn = getattr(fn, "__wrapped__", None) or getattr(fn, "func", None)
    return {"files": files}


def run_exercises(request: dict, fd: int) -> None:
    """Call the student's functions on every case and write what they return, as data, on ``fd``."""
    import copy

    write = os.write
    lock_fd = fd

    def emit(event: dict) -> None:
        write(lock_fd, (json.dumps(event) + "\n").encode())

    cases = {}
    for ex in request["exercises"]:
        try:
            cases[ex["name"]] = [case_arguments(c, i) for i, c in enumerate(ex["cases"])]
        except Exception as exc:  # noqa: BLE001 - reported to the instructor
            emit({"event": "case-error", "name": ex["name"], "error": f"{type(exc).__name__}: {exc}"})
            cases[ex["name"]] = []
    current = {"name": None}  # the exercise being checked, named in a tripwire's report
    _install_tripwires(request["references"], lambda event: emit({**event, "name": current["name"]}))
    ns: dict = {"__name__": "__student__", "__builtins__": __builtins__}
    for ex in request["exercises"]:
        for stmt in ex["preamble"]:
            try:
                exec(compile(stmt, "<preamble>", "exec"), ns)  # noqa: S102 - the notebook's own imports
            except Exception:  # noqa: BLE001 - an import the exercise may not need
                pass
    case_timeout = float(request["case_timeout"])

    def alarm(signum, frame):
        raise TimeoutError(f"a call ran past its time limit of {case_timeout:g} s")

    signal.signal(signal.SIGALRM, alarm)
    for ex in request["exercises"]:
        name = current["name"] = ex["name"]
        emit({"event": "start", "name": name})
        try:
            exec(compile(ex["source"], EXERCISE_FILE.format(name), "exec"), ns)  # noqa: S102 - the submission
        except BaseException as exc:  # noqa: BLE001 - the student's cell raised
            emit({"event": "cell-error", "name": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
            emit({"event": "done", "name": name})
            continue
        fn = ns.get(name)
        emit({"event": "origin", "name": name, "callable": callable(fn), **_origin(fn)})
        for i, args in enumerate(cases[name] if callable(fn) else []):
            try:
                signal.setitimer(signal.ITIMER_REAL, case_timeout)
                try:
                    got = fn(*copy.deepcopy(args))
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                emit({"event": "case", "name": name, "i": i, "value": encode(got)})
            except NotImplementedError:
                emit({"event": "case", "name": name, "i": i, "not_implemented": True})
            except BaseException as exc:  # noqa: BLE001 - the student's function raised
                emit({"event": "case", "name": name, "i": i, "error": f"{type(exc).__name__}: {exc}"[:300]})
        emit({"event": "done", "name": name})


def case_arguments(expr: str, index: int) -> tuple:
    """The argument tuple of a case: ``expr`` evaluated with ``torch``, ``np``, ``ilib`` and ``math`` in scope.

    The ``ilib`` modules it names are imported first, and the global random generators are seeded
    by the case's ``index``, so that every process (the grader's, the sandbox, a student's checker)
    builds the same arguments.
    """
    import importlib
    import random
    import re

    import numpy as np
    import torch

    import ilib

    for module in dict.fromkeys(re.findall(r"\bilib((?:\.\w+)+)", expr)):
        parts = module.strip(".").split(".")
        for k in range(len(parts), 0, -1):  # the longest prefix that is a module
            try:
                importlib.import_module("ilib." + ".".join(parts[:k]))
                break
            except ImportError:
                continue
    random.seed(index)
    np.random.seed(index)
    torch.manual_seed(index)
    args = eval(expr, {"torch": torch, "np": np, "ilib": ilib, "math": math})  # noqa: S307 - the instructor's cases
    return args if isinstance(args, tuple) else (args,)


# --------------------------------------------------------------------------- inside the sandbox: the notebook
def run_notebook(src: str, dest: str, timeout: float, profile: str, fd: int) -> None:
    """Execute the notebook at ``src`` (its profile set to ``profile``) and write it to ``dest``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(src, as_version=4)
    idx = next((i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), -1)
    cell = nbformat.v4.new_code_cell(f"profile = {profile!r}")
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(idx + 1, cell)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": os.getcwd()}})
    status = {"event": "notebook", "timed_out": False, "message": ""}
    try:
        client.execute()
    except CellTimeoutError:
        status.update(timed_out=True, message=f"a cell ran past its time limit of {timeout:g} s")
    except DeadKernelError as exc:
        status["message"] = f"the kernel died: {exc}"
    finally:
        tmp = dest + ".tmp"
        nbformat.write(nb, tmp)
        os.replace(tmp, dest)
    os.write(fd, (json.dumps(status) + "\n").encode())


def main(argv: list[str]) -> int:
    if argv[:1] == ["exercises"] and len(argv) == 3:
        run_exercises(json.loads(Path(argv[1]).read_text()), int(argv[2]))
        return 0
    if argv[:1] == ["notebook"] and len(argv) == 6:
        run_notebook(argv[1], argv[2], float(argv[3]), argv[4], int(argv[5]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
