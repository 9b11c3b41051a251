"""ilib: an executable companion to compressed sensing with deep generative priors.

The public API is re-exported here; notebooks import only from ``ilib``.
"""

__version__ = "0.1.0"

from .device import make_generator, rand, randn, resolve_device, resolve_dtype, set_threads, spawn
from .generators import LinearGenerator, ReLUGenerator
from .operators import GaussianOperator, LinearOperator, MatrixOperator, dot_test
from .optim import OptimResult, minimize, project_ball
from .params import ParameterError, resolve as resolve_parameters
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

set_threads()  # honours ILIB_NUM_THREADS when set (run_all.py sets it for parallel workers)

_TOPICAL = ("phase", "srec", "landscape", "onebit", "constructions", "inversion", "unrolled", "data", "vae", "ilo", "runner", "assignments",
            "stats", "plotting")


def __getattr__(name):
    # topical modules (and the stats and plotting helpers) load on first use: ``ilib.srec`` or ``from ilib import srec``
    if name in _TOPICAL:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ilib' has no attribute {name!r}")

__all__ = [
    "__version__",
    "make_generator", "rand", "randn", "resolve_device", "resolve_dtype", "set_threads", "spawn",
    "LinearGenerator", "ReLUGenerator",
    "GaussianOperator", "LinearOperator", "MatrixOperator", "dot_test",
    "OptimResult", "minimize", "project_ball",
    "ParameterError", "resolve_parameters",
    "Recorder",
    "CSGMResult", "csgm", "csgm_objective", "relative_error",
    "SolverResult", "basis_pursuit_admm", "basis_pursuit_lp", "donoho_tanner_m", "donoho_tanner_rho", "fista",
    "gaussian_problems", "ista", "lasso_cost", "lasso_cvxpy", "operator_norm_sq", "soft_threshold",
    "sparse_signals", "statistical_dimension_l1",
]
