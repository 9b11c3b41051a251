r"""One-bit compressed sensing with generative priors: dithered sign measurements and the ERM of Qiu, Wei & Yang.

Measurements (Qiu, Wei & Yang, ICML 2020, arXiv 1908.05368):

.. math::

    y_i = \mathrm{sign}\big(\langle a_i, G(x_0)\rangle + \xi_i + \tau_i\big), \qquad
    \tau_i \sim \mathrm{Unif}[-\lambda, \lambda],

with isotropic rows :math:`a_i \sim \mathcal{N}(0, I_n)` (note: *not* the
:math:`\mathcal{N}(0, 1/m)` entries of CSGM), pre-quantisation noise :math:`\xi_i`
(Gaussian, Laplace, or Student-t for heavy tails), and optionally labels flipped
at random. The estimator minimises the empirical risk

.. math::

    L(x) = \|G(x)\|_2^2 - \frac{2\lambda}{m}\sum_{i=1}^m y_i \langle a_i, G(x)\rangle
         = \|G(x) - v\|_2^2 - \|v\|_2^2, \qquad v = \frac{\lambda}{m} A^\top y,

so it is the projection of the "target" :math:`v` onto the range of :math:`G`.
The dither makes :math:`v` unbiased up to clipping: for :math:`|u| \le \lambda`,
:math:`\mathbb{E}_\tau[\lambda\,\mathrm{sign}(u + \tau)] = u`.

Also here: the exact mean-squared error for a linear generator and the dither
level that minimises it, the sign-flip and undithered biases (derived with
Stein's lemma), sub-exponential (Laplace) rows, a consistent decoder (binary
iterative hard thresholding through :math:`G`) and the binary embedding
:math:`x \mapsto \mathrm{sign}(Ax)` of the generator's range (Liu, Gomes,
Tiwari & Scarlett, ICML 2020, arXiv 2002.01697). Everything is batched over
trials, restarts and conditions; measurement rows can be streamed so that
``m`` in the tens of thousands costs no memory. The notebook's sweeps live in
:mod:`ilib.experiments.one_bit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch

from ._checks import check_choice, check_elements, check_int_list, check_positive, check_positive_int
from .device import DeviceLike, DTypeLike, SeedLike, make_generator, rand, randn, resolve_device, resolve_dtype
from .generators import LinearGenerator, ReLUGenerator
from .operators import LinearOperator, MatrixOperator, SharedMatrixOperator  # noqa: F401 (re-exported)
from .optim import minimize

NOISE_KINDS = ("none", "gaussian", "laplace", "student")

Level = Union[float, torch.Tensor]


# --------------------------------------------------------------------------- validation
def _level(value: Level, name: str, shape: tuple, *, rule: str, dtype, device) -> torch.Tensor:
    """A scalar or tensor level, broadcast to ``shape`` and checked (``rule`` in positive/nonneg/prob)."""
    lo, hi = {"positive": (0, None), "nonneg": (0, None), "prob": (0, 1)}[rule]
    t = torch.as_tensor(check_elements(value, name, lo, hi, lo_open=rule == "positive"), dtype=torch.float64)
    try:
        t = torch.broadcast_to(t, shape)
    except RuntimeError:
        raise ValueError(f"{name} of shape {tuple(t.shape)} does not broadcast to the batch shape {shape}") from None
    return t.to(device=device, dtype=dtype)


def check_labels(y: torch.Tensor) -> torch.Tensor:
    """Return ``y`` if every entry is -1 or +1; otherwise raise a ``ValueError`` naming ``y``."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y (one-bit labels) must be a torch.Tensor, not {type(y).__name__}")
    ok = (y == 1) | (y == -1)
    if not bool(ok.all()):
        bad = y[~ok].flatten()[:5].tolist()
        raise ValueError(f"y (one-bit labels) must take values in {{-1, +1}}; found {bad}")
    return y


# --------------------------------------------------------------------------- the dither identity
def dither_mean(u: torch.Tensor | float, lam: float) -> torch.Tensor:
    r"""Closed form of :math:`\mathbb{E}_\tau[\lambda\,\mathrm{sign}(u + \tau)]`, :math:`\tau \sim \mathrm{Unif}[-\lambda, \lambda]`.

    .. math::

        \mathbb{E}_\tau[\lambda\,\mathrm{sign}(u + \tau)]
        = \lambda\big(P(\tau > -u) - P(\tau < -u)\big) = \mathrm{clip}(u, -\lambda, \lambda),

    so it equals :math:`u` exactly when :math:`|u| \le \lambda` (the identity behind
    Qiu, Wei & Yang 2020) and saturates at :math:`\pm\lambda` outside.
    """
    _level(lam, "lam", (), rule="positive", dtype=torch.float64, device="cpu")
    u = torch.as_tensor(u, dtype=torch.float64) if not isinstance(u, torch.Tensor) else u
    return u.clamp(-float(lam), float(lam))


def dither_monte_carlo(
    u: torch.Tensor, lam: float, *, samples: int, seed: SeedLike = 0, device: DeviceLike = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Monte Carlo mean of :math:`\lambda\,\mathrm{sign}(u + \tau)` and its standard error, for every ``u``.

    ``samples`` dithers per value of ``u``, all drawn in one float64 tensor of
    shape ``(len(u), samples)``. The standard error is the sample standard
    deviation over :math:`\sqrt{\mathrm{samples}}` (zero where the sign never changes, :math:`|u| \ge \lambda`).
    """
    lam_t = _level(lam, "lam", (), rule="positive", dtype=torch.float64, device="cpu")
    samples = check_positive_int(samples, "samples")
    dev = resolve_device(device)
    u = torch.as_tensor(u, dtype=torch.float64).to(dev).reshape(-1)
    g = make_generator(seed)
    tau = (2 * rand(u.numel(), samples, generator=g, dtype=torch.float64, device=dev) - 1) * float(lam_t)
    val = float(lam_t) * _sign(u.unsqueeze(-1) + tau)
    mean = val.mean(-1)
    se = val.std(-1, correction=1) / math.sqrt(samples) if samples > 1 else torch.zeros_like(mean)
    return mean, se


def _sign(s: torch.Tensor) -> torch.Tensor:
    """Sign with ties sent to +1, so labels are always in {-1, +1}."""
    return torch.where(s >= 0, torch.ones_like(s), -torch.ones_like(s))


# --------------------------------------------------------------------------- noise and measurements
def _standard_noise(kind: str, shape: tuple, df: int, generator: torch.Generator, dtype) -> torch.Tensor:
    """Unit-scale noise drawn on the CPU: N(0,1), Laplace(0,1) or Student-t with ``df`` degrees of freedom."""
    if kind == "gaussian":
        return torch.randn(shape, generator=generator, dtype=dtype)
    if kind == "laplace":
        u = torch.rand((2, *shape), generator=generator, dtype=dtype).clamp_min(torch.finfo(dtype).tiny)
        return torch.log(u[1]) - torch.log(u[0])  # difference of two Exp(1)
    if kind == "student":
        z = torch.randn(shape, generator=generator, dtype=dtype)
        chi2 = (torch.randn((df, *shape), generator=generator, dtype=dtype) ** 2).sum(0)
        return z / torch.sqrt(chi2 / df).clamp_min(torch.finfo(dtype).tiny)
    return torch.zeros(shape, dtype=dtype)


def sample_noise(
    shape: Sequence[int],
    *,
    kind: str,
    scale: Level = 1.0,
    df: int = 3,
    seed: SeedLike = 0,
    dtype: DTypeLike = None,
    device: DeviceLike = "auto",
) -> torch.Tensor:
    r"""Pre-quantisation noise :math:`\xi = \mathrm{scale}\cdot\xi_0` of shape ``shape``.

    ``kind``: ``"gaussian"`` (:math:`\xi_0 \sim \mathcal{N}(0,1)`), ``"laplace"``
    (density :math:`e^{-|t|}/2`, sub-exponential as Qiu et al.'s Assumption 2.1
    allows), ``"student"`` (:math:`t_{\mathrm{df}} = Z/\sqrt{\chi^2_{\mathrm{df}}/\mathrm{df}}`,
    heavy-tailed: only moments of order below ``df`` exist, so it is *outside*
    the sub-exponential assumption) or ``"none"``. A tensor ``scale`` broadcasts
    against ``shape[:-1]``: one level per row of measurements.
    """
    check_choice(kind, "kind", NOISE_KINDS)
    df = check_positive_int(df, "df")
    shape = tuple(int(s) for s in shape)
    dt = resolve_dtype(dtype)
    sc = torch.as_tensor(check_elements(scale, "scale", 0), dtype=torch.float64)  # the noise level
    g = make_generator(seed)
    xi = _standard_noise(kind, shape, df, g, dt)
    if sc.dim() > 0:
        sc = sc.reshape(*sc.shape, 1)  # one level per row of measurements
    return (xi * sc.to(dt)).to(resolve_device(device))


def sample_flips(
    shape: Sequence[int], *, prob: Level, seed: SeedLike = 0, dtype: DTypeLike = None, device: DeviceLike = "auto"
) -> torch.Tensor:
    """Random signs: -1 with probability ``prob`` (a flipped label), +1 otherwise; ``prob`` broadcasts like ``sample_noise``'s scale."""
    shape = tuple(int(s) for s in shape)
    p = torch.as_tensor(check_elements(prob, "prob", 0, 1), dtype=torch.float64)  # the flip probability
    if p.dim() > 0:
        p = p.reshape(*p.shape, 1)  # one level per row of measurements
    g = make_generator(seed)
    u = torch.rand(shape, generator=g, dtype=torch.float64)
    f = torch.where(u < p, -1.0, 1.0).to(resolve_dtype(dtype))
    return f.to(resolve_device(device))


def quantize(s: torch.Tensor, *, lam: Level, dither: bool = True, seed: SeedLike = 0) -> torch.Tensor:
    r"""One bit per entry: :math:`\mathrm{sign}(s + \tau)` with :math:`\tau \sim \mathrm{Unif}[-\lambda, \lambda]` (or :math:`\mathrm{sign}(s)` without dither).

    ``s`` holds the pre-quantisation values :math:`\langle a_i, x\rangle + \xi_i`,
    shape ``(..., m)``; ``lam`` is a positive scalar or broadcasts against ``s.shape[:-1]``.
    Ties go to +1, so the output is in :math:`\{-1, +1\}`.
    """
    lam_t = _level(lam, "lam", tuple(s.shape[:-1]), rule="positive", dtype=s.dtype, device=s.device).unsqueeze(-1)
    if not dither:
        return _sign(s)
    g = make_generator(seed)
    tau = (2 * torch.rand(tuple(s.shape), generator=g, dtype=s.dtype) - 1).to(s.device) * lam_t
    return _sign(s + tau)


ROW_KINDS = ("gaussian", "laplace")


def _standard_rows(kind: str, shape: tuple, generator: torch.Generator, dtype) -> torch.Tensor:
    """Isotropic rows drawn on the CPU: iid N(0, 1) entries, or iid Laplace entries of unit variance."""
    if kind == "laplace":
        return _standard_noise("laplace", shape, 1, generator, dtype) / math.sqrt(2.0)
    return torch.randn(shape, generator=generator, dtype=dtype)


def measurement_rows(
    m: int, n: int, *, kind: str = "gaussian", batch: int = 1, seed: SeedLike = 0, dtype: DTypeLike = None,
    device: DeviceLike = "auto",
) -> torch.Tensor:
    r"""``batch`` matrices ``(batch, m, n)`` of isotropic rows, :math:`\mathbb{E}\,a_i a_i^\top = I_n`.

    ``kind="gaussian"``: entries :math:`\mathcal{N}(0, 1)`; ``kind="laplace"``: iid
    Laplace entries of unit variance (density :math:`e^{-\sqrt2|t|}/\sqrt2`), sub-exponential
    rows as Qiu, Wei & Yang's Assumption 2.1 allows.
    """
    check_choice(kind, "kind", ROW_KINDS)
    m = check_positive_int(m, "m")
    n = check_positive_int(n, "n")
    batch = check_positive_int(batch, "batch")
    g = make_generator(seed)
    A = _standard_rows(kind, (batch, m, n), g, torch.float64)
    return A.to(device=resolve_device(device), dtype=resolve_dtype(dtype))


def gaussian_rows(
    m: int, n: int, *, batch: int = 1, seed: SeedLike = 0, dtype: DTypeLike = None, device: DeviceLike = "auto"
) -> MatrixOperator:
    r"""``batch`` measurement matrices with isotropic rows :math:`a_i \sim \mathcal{N}(0, I_n)` (entries N(0, 1)).

    This is the scaling of Qiu et al. (2020) and Liu et al. (2020); the dither
    level :math:`\lambda` is compared with :math:`\langle a_i, x\rangle \sim \mathcal{N}(0, \|x\|^2)`.
    The CSGM scaling :math:`\mathcal{N}(0, 1/m)` is this matrix divided by :math:`\sqrt m`.
    """
    return MatrixOperator(measurement_rows(m, n, batch=batch, seed=seed, dtype=dtype, device=device))


def one_bit_measure(
    operator: LinearOperator,
    x: torch.Tensor,
    *,
    lam: Level,
    dither: bool = True,
    noise: str = "none",
    noise_scale: Level = 0.0,
    df: int = 3,
    flip_prob: Level = 0.0,
    seed: SeedLike = 0,
) -> torch.Tensor:
    r"""Dithered one-bit measurements :math:`y_i = \epsilon_i\,\mathrm{sign}(\langle a_i, x\rangle + \xi_i + \tau_i)`.

    Parameters
    ----------
    operator : LinearOperator
        ``B`` matrices with rows :math:`a_i` (see :func:`gaussian_rows`).
    x : torch.Tensor
        Signals, shape ``(B, ..., n)``.
    lam : float or tensor
        Dither level :math:`\lambda > 0`; :math:`\tau_i \sim \mathrm{Unif}[-\lambda, \lambda]`.
        Broadcasts against ``x.shape[:-1]``.
    dither : bool
        ``False`` gives :math:`\mathrm{sign}(\langle a_i, x\rangle + \xi_i)`, which carries no norm information.
    noise, noise_scale, df :
        Pre-quantisation noise :math:`\xi_i` (see :func:`sample_noise`).
    flip_prob : float or tensor
        Probability :math:`q` that a label is flipped, :math:`\epsilon_i = -1`.
    seed : int or torch.Generator

    Returns
    -------
    torch.Tensor
        Labels in :math:`\{-1, +1\}`, shape ``(B, ..., m)``.
    """
    check_choice(noise, "noise", NOISE_KINDS)
    df = check_positive_int(df, "df")
    g = make_generator(seed)
    s = operator(x)
    return _labels(s, lam=lam, dither=dither, noise=noise, noise_scale=noise_scale, df=df, flip_prob=flip_prob, g=g)


def _labels(s, *, lam, dither, noise, noise_scale, df, flip_prob, g) -> torch.Tensor:
    bshape = tuple(s.shape[:-1])
    lam_t = _level(lam, "lam", bshape, rule="positive", dtype=s.dtype, device=s.device).unsqueeze(-1)
    sc = _level(noise_scale, "noise_scale", bshape, rule="nonneg", dtype=s.dtype, device=s.device).unsqueeze(-1)
    fp = _level(flip_prob, "flip_prob", bshape, rule="prob", dtype=torch.float64, device=s.device).unsqueeze(-1)
    if noise != "none":
        s = s + sc * _standard_noise(noise, tuple(s.shape), df, g, s.dtype).to(s.device)
    if dither:
        s = s + (2 * torch.rand(tuple(s.shape), generator=g, dtype=s.dtype) - 1).to(s.device) * lam_t
    y = _sign(s)
    if bool((fp > 0).any()):
        u = torch.rand(tuple(s.shape), generator=g, dtype=torch.float64).to(s.device)
        y = torch.where(u < fp, -y, y)
    return y


def erm_target(y: torch.Tensor, operator: LinearOperator, lam: Level) -> torch.Tensor:
    r"""The target :math:`v = \frac{\lambda}{m} A^\top y = \frac{\lambda}{m}\sum_i y_i a_i`, shape ``(B, ..., n)``.

    The empirical risk of Qiu et al. (2020) is :math:`L(x) = \|G(x) - v\|^2 - \|v\|^2`;
    with dither, :math:`\mathbb{E}\,v \approx G(x_0)`.
    """
    check_labels(y)
    lam_t = _level(lam, "lam", tuple(y.shape[:-1]), rule="positive", dtype=y.dtype, device=y.device)
    return operator.adjoint(y) * (lam_t.unsqueeze(-1) / y.shape[-1])


def streamed_targets(
    x: torch.Tensor,
    m_values: Sequence[int],
    *,
    lam: Level,
    dither: bool = True,
    noise: str = "none",
    noise_scale: Level = 0.0,
    df: int = 3,
    flip_prob: Level = 0.0,
    rows: str = "gaussian",
    seed: SeedLike = 0,
    chunk: int = 512,
) -> torch.Tensor:
    r"""Targets :math:`v_m = \frac{\lambda}{m}\sum_{i \le m} y_i a_i` for nested ``m``, without storing ``A``.

    Isotropic rows :math:`a_i` (``rows``: Gaussian or Laplace entries, :func:`measurement_rows`) are drawn ``chunk`` at a time (on the
    CPU from ``seed``, in ``x``'s dtype), measured and accumulated, so the
    design is nested: the first ``m`` rows serve every ``m`` in ``m_values``.
    The result depends on ``chunk`` (the order of the random draws).

    Parameters
    ----------
    x : torch.Tensor
        Signals, shape ``(B, *S, n)``: ``B`` independent matrices, each measuring
        the ``S`` signals of its slice (common rows, independent noise and dither).
    m_values : list of int
        Strictly increasing numbers of measurements.
    lam, dither, noise, noise_scale, df, flip_prob :
        As in :func:`one_bit_measure`; levels broadcast against ``(B, *S)``.
    rows : {"gaussian", "laplace"}
        The law of the rows' entries (unit variance).

    Returns
    -------
    torch.Tensor
        Shape ``(len(m_values), B, *S, n)``.
    """
    check_choice(noise, "noise", NOISE_KINDS)
    check_choice(rows, "rows", ROW_KINDS)
    df = check_positive_int(df, "df")
    ms = check_int_list(m_values, "m_values", increasing=True)
    chunk = check_positive_int(chunk, "chunk")
    if x.dim() < 2:
        raise ValueError(f"x must have shape (B, ..., n), got {tuple(x.shape)}")
    B, n = x.shape[0], x.shape[-1]
    bshape = tuple(x.shape[:-1])
    lam_t = _level(lam, "lam", bshape, rule="positive", dtype=x.dtype, device=x.device).reshape(B, -1, 1)
    # validate the other levels once, up front
    _level(noise_scale, "noise_scale", bshape, rule="nonneg", dtype=x.dtype, device=x.device)
    _level(flip_prob, "flip_prob", bshape, rule="prob", dtype=x.dtype, device=x.device)
    xf = x.reshape(B, -1, n)
    S = xf.shape[1]
    lvl = lambda v: torch.broadcast_to(torch.as_tensor(v, dtype=torch.float64), bshape).reshape(B, S)  # noqa: E731
    lam_f, sc_f, fp_f = lvl(torch.as_tensor(lam, dtype=torch.float64)), lvl(noise_scale), lvl(flip_prob)
    g = make_generator(seed)
    acc = torch.zeros(B, S, n, dtype=x.dtype, device=x.device)
    out, done = [], 0
    for target in ms:
        while done < target:
            c = min(chunk, target - done)
            a = _standard_rows(rows, (B, c, n), g, x.dtype).to(x.device)
            s = torch.bmm(xf, a.transpose(1, 2))  # (B, S, c)
            y = _labels(s, lam=lam_f, dither=dither, noise=noise, noise_scale=sc_f, df=df, flip_prob=fp_f, g=g)
            acc = acc + torch.bmm(y, a)
            done += c
        out.append((acc * (lam_t / target)).reshape(*bshape, n))
    return torch.stack(out)


# --------------------------------------------------------------------------- the estimator
@dataclass
class OneBitResult:
    """Result of :func:`erm_recover`.

    Attributes
    ----------
    z : best latent per problem, ``(*batch, k)``.
    x : ``G(z)``, ``(*batch, n)``.
    loss : empirical risk at ``z`` (shifted: :math:`\\|G(z) - v\\|^2 - \\|v\\|^2`), ``(*batch,)``.
    restart_loss : risk at the end of every restart, ``(*batch, R)``.
    restart_z : every restart's final latent, ``(*batch, R, k)``.
    flips : negation-check flips per restart, ``(*batch, R)``.
    """

    z: torch.Tensor
    x: torch.Tensor
    loss: torch.Tensor
    restart_loss: torch.Tensor
    restart_z: torch.Tensor
    flips: torch.Tensor


def erm_objective(v: torch.Tensor, generator):
    r"""The empirical risk of Qiu, Wei & Yang (2020) as a function of latents ``(B, *S, R, k)``.

    .. math::

        L(z) = \|G(z)\|_2^2 - 2\langle v, G(z)\rangle
             = \|G(z)\|_2^2 - \frac{2\lambda}{m}\sum_i y_i\langle a_i, G(z)\rangle,

    with ``v`` of shape ``(B, *S, n)`` from :func:`erm_target` or
    :func:`streamed_targets`. Computing :math:`v` once makes each step cost one
    pass through :math:`G`, whatever ``m`` is.
    """
    vv = v.unsqueeze(-2)

    def fun(z: torch.Tensor) -> torch.Tensor:
        gz = generator(z)
        return (gz * (gz - 2 * vv)).sum(-1)

    return fun


def erm_recover(
    v: torch.Tensor,
    generator,
    *,
    restarts: int = 4,
    steps: int = 200,
    lr: float = 0.2,
    method: str = "gd",
    negate_every: int = 10,
    init_std: float = 1.0,
    z0: Optional[torch.Tensor] = None,
    seed: SeedLike = 0,
) -> OneBitResult:
    r"""Minimise the one-bit empirical risk from ``restarts`` random starts per problem, all in one batch.

    Runs :func:`ilib.optim.minimize` (gradient descent by default, with the
    negation check of Huang, Hand, Heckel & Voroninski every ``negate_every``
    steps) on latents of shape ``(B, *S, R, k)`` and keeps, for every problem,
    the restart of lowest risk.

    Parameters
    ----------
    v : torch.Tensor
        Targets :math:`\frac{\lambda}{m}A^\top y`, shape ``(B, *S, n)``.
    generator : ReLUGenerator or LinearGenerator
        ``B`` generators (or one shared); network ``b`` serves every problem in slice ``b``.
    restarts, steps, lr, method, negate_every :
        Passed to :func:`ilib.optim.minimize`. For gradient descent on a
        norm-preserving network (``gain=2``), :math:`\nabla^2 L \approx 2I`, so ``lr`` about 0.2 is stable.
    init_std : float
        Starts :math:`z_0 \sim \mathcal{N}(0, \mathrm{init\_std}^2 I_k)`.
    z0 : torch.Tensor, optional
        Explicit starts ``(B, *S, R, k)``; overrides ``restarts``, ``init_std`` and ``seed``.
    """
    if v.dim() < 2:
        raise ValueError(f"v must have shape (B, ..., n), got {tuple(v.shape)}")
    if v.shape[-1] != generator.output_dim:
        raise ValueError(f"v lives in R^{v.shape[-1]} but the generator outputs R^{generator.output_dim}")
    k = generator.latent_dim
    if z0 is None:
        restarts = check_positive_int(restarts, "restarts")
        check_positive(init_std, "init_std")
        g = make_generator(seed)
        z0 = init_std * randn(*v.shape[:-1], restarts, k, generator=g, dtype=v.dtype, device=v.device)
    elif z0.dim() != v.dim() + 1 or tuple(z0.shape[:-2]) != tuple(v.shape[:-1]) or z0.shape[-1] != k:
        raise ValueError(f"z0 must have shape {(*v.shape[:-1], 'R', k)}, got {tuple(z0.shape)}")
    fun = erm_objective(v, generator)
    res = minimize(fun, z0, steps=steps, lr=lr, method=method, negate_every=negate_every)
    best = res.loss.argmin(dim=-1, keepdim=True)  # (*batch, 1)
    z = res.x.gather(-2, best.unsqueeze(-1).expand(*best.shape, k)).squeeze(-2)
    with torch.no_grad():
        x = generator(z)
    return OneBitResult(
        z=z, x=x, loss=res.loss.gather(-1, best).squeeze(-1), restart_loss=res.loss, restart_z=res.x, flips=res.flips
    )


def one_bit_recover(
    y: torch.Tensor, operator: LinearOperator, generator, *, lam: Level, **kwargs
) -> OneBitResult:
    r"""The estimator of Qiu et al. (2020) from labels: :func:`erm_recover` on :math:`v = \frac{\lambda}{m}A^\top y`."""
    return erm_recover(erm_target(y, operator, lam), generator, **kwargs)


def linear_estimate(v: torch.Tensor, generator: Union[LinearGenerator, torch.Tensor]) -> torch.Tensor:
    r"""Closed-form minimiser of the risk for a linear generator :math:`G(x) = Ux`.

    .. math::

        \hat x = \arg\min_x \|Ux\|^2 - 2\langle v, Ux\rangle = (U^\top U)^{-1} U^\top v,

    which is :math:`U^\top v` for orthonormal :math:`U`. ``v`` has shape
    ``(B, ..., n)``; ``U`` is ``(B, n, k)`` or ``(n, k)``. Returns ``(B, ..., k)``.
    """
    U = generator.U if isinstance(generator, LinearGenerator) else generator
    if U.dim() == 2:
        U = U.unsqueeze(0)
    if U.dim() != 3 or U.shape[1] != v.shape[-1]:
        raise ValueError(f"U must have shape (B, n={v.shape[-1]}, k), got {tuple(U.shape)}")
    lead = tuple(v.shape[:-1])
    Bu = U.shape[0]
    vf = v.reshape(Bu, -1, v.shape[-1]) if Bu > 1 else v.reshape(1, -1, v.shape[-1])
    rhs = torch.bmm(vf, U)  # (B, P, k)
    gram = U.transpose(1, 2) @ U  # (B, k, k)
    xhat = torch.linalg.solve(gram, rhs.transpose(1, 2)).transpose(1, 2)
    return xhat.reshape(*lead, U.shape[2])


# --------------------------------------------------------------------------- exact formulas (Stein's lemma)
def _std_pdf(noise: str, df: int):
    from scipy import stats

    return {"gaussian": stats.norm.pdf, "laplace": stats.laplace.pdf, "student": lambda t: stats.t.pdf(t, df)}[noise]


def prob_unclipped(
    r: float, lam: float, *, noise: str = "none", noise_scale: float = 0.0, df: int = 3
) -> float:
    r""":math:`p = P(|r g + \xi| \le \lambda)` with :math:`g \sim \mathcal{N}(0,1)` independent of the noise :math:`\xi`.

    With isotropic Gaussian rows, :math:`\langle a, G(x_0)\rangle = r g` where :math:`r = \|G(x_0)\|`;
    :math:`p` is the probability that the dither is wide enough. Gaussian noise
    gives :math:`2\Phi(\lambda/\sqrt{r^2 + \sigma^2}) - 1`; other noises are integrated numerically.
    """
    from scipy import integrate, stats

    check_choice(noise, "noise", NOISE_KINDS)
    _level(lam, "lam", (), rule="positive", dtype=torch.float64, device="cpu")
    check_elements(r, "r", 0)
    check_elements(noise_scale, "noise_scale", 0)
    if noise == "none" or noise_scale == 0:
        return float(2 * stats.norm.cdf(lam / r) - 1) if r > 0 else 1.0
    if noise == "gaussian":
        return float(2 * stats.norm.cdf(lam / math.hypot(r, noise_scale)) - 1)
    pdf = _std_pdf(noise, check_positive_int(df, "df"))
    if r == 0:
        return float(integrate.quad(pdf, -lam / noise_scale, lam / noise_scale)[0])

    def f(t):
        xi = noise_scale * t
        return pdf(t) * (stats.norm.cdf((lam - xi) / r) - stats.norm.cdf((-lam - xi) / r))

    return float(integrate.quad(f, -np.inf, np.inf, limit=200)[0])


def linear_mse(
    m,
    *,
    k: int,
    lam: float,
    r: float = 1.0,
    noise: str = "none",
    noise_scale: float = 0.0,
    df: int = 3,
    flip_prob: float = 0.0,
) -> np.ndarray:
    r"""Exact :math:`\mathbb{E}\|\hat x - x_0\|^2` for the linear generator :math:`G(x) = Ux`, :math:`U^\top U = I_k`.

    With isotropic Gaussian rows, :math:`\hat x = U^\top v = \frac1m\sum_i w_i`,
    :math:`w_i = \lambda y_i U^\top a_i`, an average of iid vectors with
    :math:`\|w_i\|^2 = \lambda^2\|U^\top a_i\|^2`, so :math:`\mathbb{E}\|w\|^2 = k\lambda^2`, and, by Stein's lemma
    applied to :math:`u \mapsto \mathbb{E}_{\tau,\xi}\lambda\,\mathrm{sign}(u + \xi + \tau) = \mathbb{E}_\xi\mathrm{clip}(u + \xi, \pm\lambda)`,

    .. math::

        \mathbb{E}\,w = c\,x_0, \qquad c = (1 - 2q)\,P(|\langle a, Ux_0\rangle + \xi| \le \lambda),

    for any noise independent of :math:`a` and flip probability :math:`q`. Hence, with :math:`r = \|x_0\|`,

    .. math::

        \mathbb{E}\|\hat x - x_0\|^2 = (1 - c)^2 r^2 + \frac{k\lambda^2 - c^2 r^2}{m},

    exact for every ``m`` (derived here; it refines the formula
    :math:`(k\lambda^2 - \|\mathbb{E}\lambda y U^\top a\|^2)/m` plus a truncation bias of the theory notes, Sec. 3.3).
    """
    k = check_positive_int(k, "k")
    check_elements(flip_prob, "flip_prob", 0, 1)
    c = (1 - 2 * flip_prob) * prob_unclipped(r, lam, noise=noise, noise_scale=noise_scale, df=df)
    m = np.asarray(m, dtype=float)
    return (1 - c) ** 2 * r**2 + (k * lam**2 - c**2 * r**2) / m


def optimal_lambda(
    m: int,
    *,
    k: int,
    r: float = 1.0,
    noise: str = "none",
    noise_scale: float = 0.0,
    df: int = 3,
    flip_prob: float = 0.0,
    bounds: tuple[float, float] = (1e-2, 1e2),
) -> float:
    r"""The dither level minimising the exact linear-generator error :func:`linear_mse` at ``m`` measurements.

    .. math::

        \lambda^\star = \arg\min_{\lambda > 0}\ (1 - c_\lambda)^2 r^2 + \frac{k\lambda^2 - c_\lambda^2 r^2}{m},
        \qquad c_\lambda = (1 - 2q)\,P(|\langle a, Ux_0\rangle + \xi| \le \lambda):

    a small :math:`\lambda` clips (bias), a large one adds variance :math:`k\lambda^2/m`
    (the trade-off behind Qiu, Wei & Yang's choice :math:`\lambda \asymp \log(1/\epsilon)`).
    Found by bounded scalar minimisation over :math:`\log\lambda` in ``bounds``.
    """
    from scipy import optimize

    m = check_positive_int(m, "m")
    lo, hi = (check_positive(b, "bounds") for b in bounds)
    if not lo < hi:
        raise ValueError(f"bounds must be increasing, got {bounds}")

    def f(t: float) -> float:
        return float(linear_mse(m, k=k, lam=math.exp(t), r=r, noise=noise, noise_scale=noise_scale, df=df,
                                flip_prob=flip_prob))

    res = optimize.minimize_scalar(f, bounds=(math.log(lo), math.log(hi)), method="bounded", options={"xatol": 1e-6})
    return float(math.exp(res.x))


def undithered_gain(r: float, *, noise: str = "none", noise_scale: float = 0.0, df: int = 3) -> float:
    r""":math:`\mathbb{E}[g\,\mathrm{sign}(r g + \xi)] = 2\,\mathbb{E}_\xi\,\varphi(\xi / r)` (Stein's lemma).

    Without dither, :math:`\mathbb{E}[y\,a] = \kappa\,G(x_0)/\|G(x_0)\|` with
    :math:`\kappa` this value: :math:`\sqrt{2/\pi}` without noise and
    :math:`\sqrt{2/\pi}\,r/\sqrt{r^2 + \sigma^2}` with Gaussian noise. It depends on
    :math:`r = \|G(x_0)\|` only through the noise, so the norm is lost.
    """
    from scipy import integrate, stats

    check_choice(noise, "noise", NOISE_KINDS)
    check_positive(r, "r")  # the signal norm
    if noise == "none" or noise_scale == 0:
        return math.sqrt(2 / math.pi)
    if noise == "gaussian":
        return math.sqrt(2 / math.pi) * r / math.hypot(r, noise_scale)
    pdf = _std_pdf(noise, check_positive_int(df, "df"))
    val = integrate.quad(lambda t: pdf(t) * stats.norm.pdf(noise_scale * t / r), -np.inf, np.inf, limit=200)[0]
    return float(2 * val)


# --------------------------------------------------------------------------- a consistent decoder
@dataclass
class BIHTResult:
    r"""Result of :func:`biht_recover`.

    Attributes
    ----------
    z : latents ``(B, M, k)``, scaled so that :math:`\|G(z)\| = 1`.
    x : unit-norm estimates :math:`G(z)`, ``(B, M, n)``.
    mismatches : labels the estimate does not reproduce, :math:`\#\{i \le m: \mathrm{sign}\langle a_i, x\rangle \ne y_i\}`, ``(B, M)``.
    """

    z: torch.Tensor
    x: torch.Tensor
    mismatches: torch.Tensor


def _unit(generator, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Rescale latents so that :math:`\|G(z)\| = 1` (positive homogeneity of a bias-free ReLU or linear G)."""
    with torch.no_grad():
        x = generator(z)
        nrm = x.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
    return z / nrm, x / nrm


def biht_recover(
    y: torch.Tensor,
    rows: torch.Tensor,
    generator,
    z0: torch.Tensor,
    *,
    m_values: Optional[Sequence[int]] = None,
    steps: int = 25,
    step: float = 0.5,
    project_steps: int = 10,
    project_lr: float = 0.2,
) -> BIHTResult:
    r"""Normalised binary iterative hard thresholding through :math:`G`, for noiseless labels :math:`y = \mathrm{sign}(Ax)`.

    The iteration of Jacques, Laska, Boufounos & Baraniuk (2013), with the
    hard-thresholding step replaced by the projection :math:`P_G` onto the range
    of :math:`G` (the decoder Liu, Gomes, Tiwari & Scarlett 2020 suggest):

    .. math::

        u_t = x_t + \frac{\mathrm{step}}{m}\sqrt{\frac{\pi}{2}}\,A^\top\big(y - \mathrm{sign}(Ax_t)\big), \qquad
        x_{t+1} = \frac{P_G(u_t)}{\|P_G(u_t)\|}.

    For Gaussian rows and unit :math:`x_t, x`, :math:`\mathbb{E}\,\mathrm{sign}(\langle a, u\rangle)\,a =
    \sqrt{2/\pi}\,u`, so :math:`\mathbb{E}\,u_t = x_t + \mathrm{step}\,(x - x_t)`: ``step`` is the
    fraction of the way to the signal covered in expectation. :math:`P_G` is
    ``project_steps`` gradient steps on :math:`\|G(z) - u_t\|^2` (:func:`ilib.optim.minimize`),
    warm-started at the current latent. The iteration aims at a sign-consistent
    point, :math:`\mathrm{sign}(A\hat x) = y`, for which Liu et al. bound the error
    by :math:`O((k/m)\log(\cdot))`, faster than the :math:`\sqrt{k/m}` of correlation estimators.

    Parameters
    ----------
    y : torch.Tensor
        Labels in :math:`\{-1, +1\}`, shape ``(B, m_max)``.
    rows : torch.Tensor
        The rows :math:`a_i`, shape ``(B, m_max, n)``; problem ``m`` uses the first ``m`` (nested designs).
    generator : ReLUGenerator or LinearGenerator
        ``B`` generators (bias-free, so positively homogeneous).
    z0 : torch.Tensor
        Starting latents ``(B, M, k)``, one per entry of ``m_values`` (for example the correlation estimate).
    m_values : list of int, optional
        Increasing numbers of measurements, at most ``m_max``; default ``[m_max]``.
    steps, step, project_steps, project_lr :
        Outer iterations, their step (above), and the inner projection's gradient steps and step size.
    """
    check_labels(y)
    if rows.dim() != 3 or rows.shape[:2] != y.shape:
        raise ValueError(f"rows must have shape (B, m, n) = {(*y.shape, 'n')}, got {tuple(rows.shape)}")
    if rows.shape[-1] != generator.output_dim:
        raise ValueError(f"rows act on R^{rows.shape[-1]} but the generator outputs R^{generator.output_dim}")
    ms = check_int_list([y.shape[1]] if m_values is None else m_values, "m_values", increasing=True)
    if ms[-1] > y.shape[1]:
        raise ValueError(f"m_values must be at most the number of rows, {y.shape[1]}; got {ms[-1]}")
    if z0.dim() != 3 or z0.shape[0] != y.shape[0] or z0.shape[1] != len(ms) or z0.shape[2] != generator.latent_dim:
        raise ValueError(f"z0 must have shape ({y.shape[0]}, {len(ms)}, {generator.latent_dim}), got {tuple(z0.shape)}")
    steps = check_positive_int(steps, "steps")
    check_positive(step, "step")
    scale = step * math.sqrt(math.pi / 2)

    def correction(x: torch.Tensor) -> torch.Tensor:
        out = []
        for j, m in enumerate(ms):
            A = rows[:, :m]
            s = _sign(torch.bmm(A, x[:, j].unsqueeze(-1)).squeeze(-1))
            out.append(torch.bmm((y[:, :m] - s).unsqueeze(1), A).squeeze(1) * (scale / m))
        return torch.stack(out, dim=1)

    z, x = _unit(generator, z0.detach())
    for _ in range(steps):
        with torch.no_grad():
            u = x + correction(x)
        res = minimize(lambda w: ((generator(w) - u) ** 2).sum(-1), z, steps=project_steps, lr=project_lr, method="gd")
        z, x = _unit(generator, res.x)
    with torch.no_grad():
        mism = torch.stack([(_sign(torch.bmm(rows[:, :m], x[:, j].unsqueeze(-1)).squeeze(-1)) != y[:, :m]).sum(-1)
                            for j, m in enumerate(ms)], dim=1)
    return BIHTResult(z=z, x=x, mismatches=mism)


# --------------------------------------------------------------------------- binary embedding
def sign_distances(
    X: torch.Tensor, Xp: torch.Tensor, m_values: Sequence[int], *, seed: SeedLike = 0, chunk: int = 512
) -> torch.Tensor:
    r"""Normalised Hamming distances :math:`d_H(\mathrm{sign}(Ax), \mathrm{sign}(Ax'))/m` for nested ``m``.

    ``X`` and ``Xp`` have shape ``(B, P, n)``: ``P`` pairs measured by each of ``B``
    independent Gaussian matrices, drawn ``chunk`` rows at a time. For a Gaussian
    row, :math:`P(\mathrm{sign}\langle a, x\rangle \ne \mathrm{sign}\langle a, x'\rangle) = \angle(x, x')/\pi`,
    so the expectation is the angular distance :math:`d_S`. Returns ``(len(m_values), B, P)``.
    """
    ms = check_int_list(m_values, "m_values", increasing=True)
    chunk = check_positive_int(chunk, "chunk")
    if X.shape != Xp.shape or X.dim() != 3:
        raise ValueError(f"X and Xp must both have shape (B, P, n), got {tuple(X.shape)} and {tuple(Xp.shape)}")
    B, P, n = X.shape
    g = make_generator(seed)
    both = torch.cat([X, Xp], dim=1)
    count = torch.zeros(B, P, dtype=torch.float64, device=X.device)
    out, done = [], 0
    for target in ms:
        while done < target:
            c = min(chunk, target - done)
            a = torch.randn((B, c, n), generator=g, dtype=X.dtype).to(X.device)
            s = torch.bmm(both, a.transpose(1, 2)) >= 0
            count += (s[:, :P] != s[:, P:]).sum(-1).to(torch.float64)
            done += c
        out.append(count / target)
    return torch.stack(out)


def angular_distance(X: torch.Tensor, Xp: torch.Tensor) -> torch.Tensor:
    r""":math:`d_S(x, x') = \angle(x, x')/\pi \in [0, 1]` along the last dimension."""
    cos = (X * Xp).sum(-1) / (X.norm(dim=-1) * Xp.norm(dim=-1)).clamp_min(torch.finfo(X.dtype).tiny)
    return torch.arccos(cos.clamp(-1.0, 1.0)) / math.pi


# --------------------------------------------------------------------------- signals
def relu_signals(generator: ReLUGenerator, norm, *, shape: tuple = (), seed: SeedLike = 0) -> torch.Tensor:
    r"""Latents :math:`x_0`, shape ``(B, *shape, k)``, scaled so :math:`\|G(x_0)\| =` ``norm`` (positive homogeneity of :math:`G`).

    ``norm`` is a scalar or broadcasts against ``shape``.
    """
    g = make_generator(seed)
    z = randn(generator.batch, *shape, generator.latent_dim, generator=g, dtype=generator.dtype, device=generator.device)
    with torch.no_grad():
        gn = generator(z).norm(dim=-1, keepdim=True)
    if bool((gn == 0).any()):
        raise RuntimeError("a random latent mapped to G(z) = 0; draw again with another seed")
    r = torch.as_tensor(norm, dtype=z.dtype, device=z.device)
    return z / gn * r.unsqueeze(-1) if r.dim() > 0 else z / gn * r


def zscore_check(measured, predicted, se, *, alpha: float = 0.001) -> tuple[float, float, bool]:
    r"""Largest :math:`|z| = |\mathrm{measured} - \mathrm{predicted}|/\mathrm{se}` and the Bonferroni threshold.

    Agreement when every :math:`|z|` is below :math:`\Phi^{-1}(1 - \alpha/(2N))` for ``N`` points.
    Points with zero standard error must match to 1e-12.
    """
    from scipy import stats

    measured, predicted, se = (np.asarray(a, dtype=float) for a in (measured, predicted, se))
    exact = se == 0
    if bool(np.any(np.abs(measured - predicted)[exact] > 1e-12)):
        return float("inf"), float("nan"), False
    z = np.abs(measured - predicted)[~exact] / se[~exact]
    thr = float(stats.norm.ppf(1 - alpha / (2 * max(z.size, 1))))
    zmax = float(z.max()) if z.size else 0.0
    return zmax, thr, bool(zmax < thr)
