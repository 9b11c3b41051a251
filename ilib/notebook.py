"""The notebook harness: one call turns a notebook's globals into parameters, a recorder, a device and seed streams.

A notebook's first code cells are::

    # parameters cell (tagged "parameters"): every parameter named once
    profile = "paper"   # "smoke": seconds, for tests; "paper": the real figure
    seed = 0
    trials = None       # None: the profile's value
    ...

    import ilib
    from ilib.experiments import csgm_phase_transition as ex
    nb = ilib.notebook.start("01_csgm_phase_transition", ex.Profile, globals())
    P = nb.params

:func:`start` resolves the profile's values with the parameters papermill
injected (a parameter papermill does not know, or a bad value, is refused with
a message naming it), makes the :class:`~ilib.record.Recorder`, picks the
device, sets the thread count the runner asks for, and gives named seed
streams: ``nb.stream("a")`` depends only on the master seed and the name.
Claims are evaluated with ``nb.check(claim, result)``; ``nb.finish()`` writes
``results.json`` and prints the verdict table.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import torch

from .claims import Claim, declared
from .device import Stream, resolve_device, set_threads
from .profile import Profile, ParameterError, check_profile, check_seed
from .record import Recorder, run_context


@dataclass
class Notebook:
    """What :func:`start` returns."""

    name: str
    profile: str
    seed: int
    params: Profile
    rec: Recorder
    device: torch.device
    claims: list = field(default_factory=list)

    def stream(self, name: str) -> Stream:
        """The named seed stream ``name`` (a :class:`~ilib.device.Stream`; any seed argument takes it)."""
        return Stream(self.seed, (name,))

    def check(self, claim: Claim, result: Any, case: Optional[str] = None) -> dict:
        """Evaluate a declared claim on ``result`` (see :meth:`ilib.record.Recorder.check`)."""
        return self.rec.check(claim, result, case)

    def checks(self, claims, result: Any, case: Optional[str] = None) -> list[dict]:
        """Evaluate several declared claims on the same result."""
        return [self.rec.check(c, result, case) for c in claims]

    def timed(self, section: str):
        return self.rec.timed(section)

    def finish(self):
        return self.rec.finish()

    def markdown(self, text: str):
        """Show ``text`` as Markdown: the way prose quotes a measured number (from an f-string of results)."""
        from IPython.display import Markdown, display

        display(Markdown(text))


def injected_parameters(user_ns: Mapping[str, Any]) -> Optional[dict]:
    """The names papermill injected into this kernel, read from its ``# Parameters`` cell; None outside papermill."""
    history = user_ns.get("In")
    if not isinstance(history, list):
        return None
    for src in reversed(history):
        if isinstance(src, str) and src.lstrip().startswith("# Parameters"):
            out = {}
            for node in ast.parse(src).body:
                if isinstance(node, ast.Assign):
                    for t in node.targets:
                        if isinstance(t, ast.Name):
                            out[t.id] = True
            return out
    return None


def experiment_module(notebook: str):
    """The experiment module of a notebook: ``01_csgm_phase_transition`` -> ``ilib.experiments.csgm_phase_transition``."""
    topic = notebook.split("_", 1)[1] if notebook[:2].isdigit() and "_" in notebook else notebook
    return importlib.import_module(f"ilib.experiments.{topic}")


def start(name: str, profile_cls: type[Profile], user_ns: Mapping[str, Any], *, device: str = "auto") -> Notebook:
    """Start a notebook: resolve and validate its parameters, make its recorder, device and streams.

    Parameters
    ----------
    name : str
        The notebook's file stem, e.g. ``"01_csgm_phase_transition"``.
    profile_cls : type
        The experiment module's :class:`~ilib.profile.Profile` subclass.
    user_ns : dict
        The notebook's ``globals()``: ``profile``, ``seed`` and every parameter
        (``None`` meaning "the profile's value").
    device : str
        ``"auto"`` (CUDA when present) or an explicit device.
    """
    if not (isinstance(profile_cls, type) and issubclass(profile_cls, Profile)):
        raise TypeError(f"profile_cls must be a Profile subclass, got {profile_cls!r}")
    names = profile_cls.names()
    injected = injected_parameters(user_ns)
    if injected is not None:
        unknown = sorted(set(injected) - set(names) - {"profile", "seed"})
        if unknown:
            raise ParameterError(f"parameter(s) {unknown} are not parameters of {name}; it has: profile, seed, "
                                 + ", ".join(names))
    profile = check_profile(user_ns.get("profile", "paper"))
    seed = check_seed(user_ns.get("seed", 0))
    missing = [n for n in names if n not in user_ns]
    if missing:
        raise ParameterError(f"the parameters cell of {name} does not name {missing}")
    params = profile_cls.resolve(profile, {n: user_ns[n] for n in names})
    ctx = run_context()
    if ctx.threads:
        set_threads(ctx.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)  # same seed, same numbers
    module = importlib.import_module(profile_cls.__module__)
    claims = declared(module)
    rec = Recorder(name, parameters=params.as_dict(), seed=seed, profile=profile, root=ctx.out, claims=claims)
    return Notebook(name=name, profile=profile, seed=seed, params=params, rec=rec, device=resolve_device(device),
                    claims=claims)
