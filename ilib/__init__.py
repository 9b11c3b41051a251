"""ilib: an executable companion to compressed sensing with deep generative priors.

The public API is re-exported here; notebooks import only from ``ilib``.
Importing it has no side effects beyond imports: threads, devices and output
folders are set by :func:`ilib.notebook.start` (from the runner's context).
"""

__version__ = "0.1.0"

from .claims import Claim, Estimate
from .device import Stream, make_generator, rand, randn, resolve_device, resolve_dtype, set_threads, spawn, stream
from .generators import LinearGenerator, ReLUGenerator
from .linalg import lstsq
from .operators import GaussianOperator, IdentityOperator, LinearOperator, MatrixOperator, dot_test
from .optim import OptimResult, minimize, project_ball
from .params import resolve as resolve_parameters
from .profile import ParameterError, Profile, param
from .record import Recorder
from .recovery import CSGMResult, csgm, csgm_objective, relative_error
from .sparse import (
    SolverResult,
    basis_pursuit_admm,
    basis_pursuit_lp,
    donoho_tanner_m,
    donoho_tanner_rho,
    fista,
    gaussian_problems,
    ista,
    lasso_cost,
    lasso_cvxpy,
    operator_norm_sq,
    soft_threshold,
    sparse_signals,
    statistical_dimension_l1,
)

_TOPICAL = ("srec", "landscape", "onebit", "constructions", "inversion", "unrolled", "data", "vae", "ilo",
            "notebook", "experiments", "stats", "plotting")


def __getattr__(name):
    # topical modules (and the stats and plotting helpers) load on first use: ``ilib.srec`` or ``from ilib import srec``
    if name in _TOPICAL:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ilib' has no attribute {name!r}")

__all__ = [
    "__version__",
    "Claim", "Estimate", "Profile", "param",
    "Stream", "make_generator", "rand", "randn", "resolve_device", "resolve_dtype", "set_threads", "spawn", "stream",
    "LinearGenerator", "ReLUGenerator", "lstsq",
    "GaussianOperator", "IdentityOperator", "LinearOperator", "MatrixOperator", "dot_test",
    "OptimResult", "minimize", "project_ball",
    "ParameterError", "resolve_parameters",
    "Recorder",
    "CSGMResult", "csgm", "csgm_objective", "relative_error",
    "SolverResult", "basis_pursuit_admm", "basis_pursuit_lp", "donoho_tanner_m", "donoho_tanner_rho", "fista",
    "gaussian_problems", "ista", "lasso_cost", "lasso_cvxpy", "operator_norm_sq", "soft_threshold",
    "sparse_signals", "statistical_dimension_l1",
]
