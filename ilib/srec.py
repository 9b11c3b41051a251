r"""The S-REC constant of a measurement matrix over a generator's range, bounded from both sides.

Bora, Jalal, Price & Dimakis (ICML 2017, Def. 1) say that :math:`A` satisfies
S-REC(:math:`S, \gamma, \delta`) when

.. math::

    \|A(x_1 - x_2)\| \ge \gamma\,\|x_1 - x_2\| - \delta
    \qquad \text{for all } x_1, x_2 \in S .

For a set :math:`S = G(\mathbb{R}^k)` (or :math:`G(B^k(r))`) the largest such
:math:`\gamma` is

.. math::

    \gamma_\delta(A, G) = \inf_{z_1, z_2}
    \frac{\|A(G(z_1) - G(z_2))\| + \delta}{\|G(z_1) - G(z_2)\|},

and their Lemmas 4.1/4.2 say that a Gaussian :math:`A` with
:math:`m = O(k d \log n)` rows has :math:`\gamma_0 \ge 1 - \alpha` with high
probability for a ``d``-layer ReLU generator. This module bounds
:math:`\gamma` from both sides:

* :func:`adversarial_gamma`: many pairs and restarts minimised at once; the
  smallest ratio found is attained by a pair, so it is an **upper bound**;
* :func:`relu_k2_gamma`: for a one-layer ReLU net with :math:`k = 2` the range
  is a union of 2-D cones; enumerating the faces of every difference cone gives
  :math:`\gamma` **exactly**, and the smallest singular value of :math:`A` on the
  span of every pair of cones a **certified lower bound**;
* :func:`linear_gamma`: :math:`\gamma = \sigma_{\min}(AU)` for :math:`G(z) = Uz`;
* :func:`region_pair_bound`: the span bound for the two activation regions of a
  given pair (a lower bound on those regions only);
* :func:`sparse_gamma_exact` / :func:`sparse_gamma_adversarial`: the classical
  restricted eigenvalue :math:`\min_{\|v\|_0 \le s} \|Av\|/\|v\|` the lemma generalises;
* :func:`gordon_bound` and the Gaussian widths that feed it (Gordon 1988):
  :math:`\mathbb{E}\,\gamma \ge (a_m - w(T))/\sqrt m \approx 1 - \sqrt{k_{\mathrm{eff}}/m}`;
  :func:`gordon_tail_bound` and :func:`union_tail_bound`, the tails
  :math:`P(\gamma < 1 - \alpha)` the lemmas bound, with explicit constants;
* :func:`lemma42_count` and :func:`lipschitz_count`: sufficient measurement counts from the proofs of
  Lemmas 4.2 and 4.1 with explicit constants (ours), and :func:`log_region_count`;
* :func:`relu_k2_least_squares` (the exact CSGM minimiser and the exact projection onto a
  :math:`k = 2` one-layer range) and :func:`lemma43_bound`, the recovery bound of Lemma 4.3;
* :func:`nested_operators` and :func:`fit_effective_dimension`.

The sweeps that use them live in :mod:`ilib.experiments.srec` (notebook ``02_srec``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch

from . import stats
from ._checks import check_in_range, check_int_list, check_nonneg, check_nonneg_int, check_positive, check_positive_int
from .device import DeviceLike, DTypeLike, SeedLike, make_generator, rand, randn, resolve_device, resolve_dtype
from .generators import LinearGenerator, ReLUGenerator
from .operators import LinearOperator, MatrixOperator
from .optim import minimize, project_ball

Generator = Union[ReLUGenerator, LinearGenerator]

#: start families of :func:`adversarial_gamma`, in the order of ``AdversarialResult.kinds``
START_KINDS = ("random", "near", "zero")


# =============================================================================== checks
def _check_pair(operator: LinearOperator, generator) -> int:
    """Check that ``operator`` measures what ``generator`` outputs; return the common batch."""
    if not isinstance(operator, LinearOperator):
        raise TypeError(f"operator must be an ilib LinearOperator, not {type(operator).__name__}")
    if operator.out_dim < 1:
        raise ValueError(f"operator must have at least one row (m >= 1), got m={operator.out_dim}")
    if operator.in_dim != generator.output_dim:
        raise ValueError(
            f"shape mismatch: the operator acts on R^{operator.in_dim} (n={operator.in_dim}) "
            f"but the generator outputs R^{generator.output_dim}"
        )
    if operator.dtype != generator.dtype:
        raise ValueError(f"operator dtype {operator.dtype} differs from generator dtype {generator.dtype}")
    b_op, b_gen = operator.batch, generator.batch
    if b_op != b_gen and 1 not in (b_op, b_gen):
        raise ValueError(f"operator batch {b_op} and generator batch {b_gen} must agree (or one be 1)")
    return max(b_op, b_gen)


def _homogeneous(generator) -> bool:
    # bias-free ReLU nets and linear maps satisfy G(tz) = t G(z) for t >= 0
    return isinstance(generator, (ReLUGenerator, LinearGenerator))


# =============================================================================== the ratio
def srec_ratio(operator: LinearOperator, x1: torch.Tensor, x2: torch.Tensor, delta: float = 0.0) -> torch.Tensor:
    r"""The S-REC ratio of two signals, along the last dimension.

    .. math::

        \rho_\delta(x_1, x_2) = \frac{\|A(x_1 - x_2)\| + \delta}{\|x_1 - x_2\|}
        \qquad\text{(Bora et al. 2017, Def. 1)}.

    ``x1`` and ``x2`` have shape ``(B, ..., n)``; coincident pairs give ``inf``.
    """
    check_nonneg(delta, "delta")
    if x1.shape != x2.shape:
        raise ValueError(f"x1 and x2 must have the same shape, got {tuple(x1.shape)} and {tuple(x2.shape)}")
    d = x1 - x2
    den = d.norm(dim=-1)
    num = operator(d).norm(dim=-1) + delta
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), torch.full_like(den, math.inf))


# =============================================================================== adversarial upper bound
@dataclass
class AdversarialResult:
    """Result of :func:`adversarial_gamma`.

    Attributes
    ----------
    gamma : smallest ratio found per instance, ``(B,)``: an upper bound on :math:`\\gamma_\\delta`.
    z1, z2 : the pair that attains it, ``(B, k)`` each.
    start_gamma : best ratio reached from every start, ``(B, R)``.
    kinds : start family of every kept restart, ``(B, R)``, indices into :data:`START_KINDS`.
    """

    gamma: torch.Tensor
    z1: torch.Tensor
    z2: torch.Tensor
    start_gamma: torch.Tensor
    kinds: torch.Tensor
    steps: int = 0

    def best_by_kind(self) -> dict:
        """Smallest ratio reached from each start family, ``{kind: (B,)}``."""
        out = {}
        for i, name in enumerate(START_KINDS):
            sel = self.kinds == i
            if bool(sel.any()):
                out[name] = self.start_gamma.masked_fill(~sel, math.inf).min(dim=1).values
        return out


def _start_counts(restarts: int, mix: Sequence[float]) -> list[int]:
    if len(mix) != 3 or any(w < 0 for w in mix) or sum(mix) <= 0:
        raise ValueError(f"mix must give three non-negative weights (random, near, zero), got mix={mix!r}")
    w = np.asarray(mix, dtype=float) / float(sum(mix))
    counts = np.floor(w * restarts).astype(int)
    for i in np.argsort(-(w * restarts - counts))[: restarts - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


def starting_pairs(
    batch: int,
    k: int,
    restarts: int,
    *,
    mix: Sequence[float] = (1.0, 1.0, 1.0),
    near_scale: float = 0.05,
    radius: Optional[float] = None,
    seed: SeedLike = 0,
    dtype: DTypeLike = None,
    device: DeviceLike = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Starting latent pairs for :func:`adversarial_gamma`, shape ``(B, R, 2, k)``, and their kinds ``(R,)``.

    Three families (Bora et al. 2017; theory notes Sec. 1.4), in proportions ``mix``:

    * ``random``: :math:`z_1, z_2 \sim \mathcal{N}(0, I_k)` independent;
    * ``near``: :math:`z_2 = z_1 + \epsilon\|z_1\| u/\|u\|`, :math:`\epsilon` = ``near_scale``,
      which probes the local Jacobian directions;
    * ``zero``: :math:`z_2 = 0`, which probes the rays :math:`G(z)` themselves.

    With a ``radius`` the latents are drawn as :math:`r\,\mathcal{N}(0, I_k)/\sqrt k` and
    projected onto the ball :math:`\|z\| \le r`.
    """
    batch = check_positive_int(batch, "batch")
    k = check_positive_int(k, "k")
    restarts = check_positive_int(restarts, "restarts")
    check_positive(near_scale, "near_scale")
    if radius is not None:
        check_positive(radius, "radius")
    counts = _start_counts(restarts, mix)
    kinds = torch.repeat_interleave(torch.arange(3), torch.tensor(counts))
    g = make_generator(seed)
    z1 = randn(batch, restarts, k, generator=g, dtype=torch.float64, device="cpu")
    z2 = randn(batch, restarts, k, generator=g, dtype=torch.float64, device="cpu")
    u = randn(batch, restarts, k, generator=g, dtype=torch.float64, device="cpu")
    near = z1 + near_scale * z1.norm(dim=-1, keepdim=True) * u / u.norm(dim=-1, keepdim=True)
    z2 = torch.where((kinds == 1).view(1, -1, 1), near, z2)
    z2 = torch.where((kinds == 2).view(1, -1, 1), torch.zeros_like(z2), z2)
    z = torch.stack([z1, z2], dim=2)
    if radius is not None:
        z = project_ball(radius)(z * (radius / math.sqrt(k)))
    return z.to(device=resolve_device(device), dtype=resolve_dtype(dtype)), kinds.to(resolve_device(device))


def _pair_objective(operator: LinearOperator, generator, k: int, delta: float, floor: float):
    """Ratio of a batch of latent pairs ``(B, R, 2k)``; rows whose difference is below ``floor`` are not valid."""

    def ratio(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, R = x.shape[:2]
        g = generator(x.reshape(B, R, 2, k))  # (B, R, 2, n)
        d = g[..., 0, :] - g[..., 1, :]
        den = torch.linalg.vector_norm(d, dim=-1)
        scale = torch.linalg.vector_norm(g, dim=-1).sum(-1)
        ok = den > floor * scale
        num = torch.linalg.vector_norm(operator(d), dim=-1) + delta
        r = num / torch.where(ok, den, torch.ones_like(den))
        return torch.where(ok, r, torch.zeros_like(r)), ok

    return ratio


def _tracked_search(ratio, x0: torch.Tensor, *, steps: int, lr: float, method: str, project) -> tuple[torch.Tensor, torch.Tensor]:
    """Run :func:`minimize` on the ratio and keep, per row, the smallest valid ratio met and its pair."""
    best = torch.full(x0.shape[:-1], math.inf, dtype=x0.dtype, device=x0.device)
    best_x = x0.clone()

    def fun(x: torch.Tensor) -> torch.Tensor:
        r, ok = ratio(x)
        with torch.no_grad():
            rv = torch.where(ok, r.detach(), torch.full_like(best, math.inf))
            better = rv < best
            best.copy_(torch.where(better, rv, best))
            best_x.copy_(torch.where(better.unsqueeze(-1), x.detach(), best_x))
        return r

    minimize(fun, x0, steps=steps, lr=lr, method=method, project=project)
    return best, best_x


def _feasible(x: torch.Tensor, k: int, radius: Optional[float], normalise: bool) -> torch.Tensor:
    """Pairs ``(..., 2k)`` moved onto the search's feasible set: the ball ``||z_i|| <= radius``, or the sphere
    of radius ``sqrt(2k)`` when the ratio is scale-free (``normalise``)."""
    if radius is not None:
        return project_ball(radius)(x.reshape(*x.shape[:-1], 2, k)).reshape(x.shape)
    if normalise:
        return x * (math.sqrt(2 * k) / x.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny))
    return x


def region_jumps(
    operator: LinearOperator,
    generator: Generator,
    x: torch.Tensor,
    *,
    iters: int = 5,
    perturbations: int = 3,
    scale: float = 0.05,
    steps_t: Sequence[float] = (0.1, 0.3, 0.6, 1.0),
    delta: float = 0.0,
    radius: Optional[float] = None,
    seed: SeedLike = 0,
    max_elements: int = 2**24,
) -> torch.Tensor:
    r"""Move latent pairs ``(B, R, 2k)`` to pairs of smaller S-REC ratio by exact steps on activation regions.

    On the activation regions of :math:`z_1` and :math:`z_2` a piecewise-linear generator is linear,
    :math:`G(u) - G(v) = \Lambda_{z_1}u - \Lambda_{z_2}v = Mc` with :math:`M = [\Lambda_{z_1}, -\Lambda_{z_2}]`
    and :math:`c = (u, v)`. The smallest ratio over the span of the two regions is attained at the bottom
    generalised eigenvector of

    .. math::

        M^\top A^\top A M\, c = \lambda\, M^\top M\, c

    (the quantity :func:`region_pair_bound` bounds). A jump evaluates the true ratio at the points
    :math:`(1-t)x + t(\pm c)` for ``t`` in ``steps_t`` (each moved onto the feasible set) and keeps the
    best of them and ``x``: the ratio never increases, and every value is the ratio of an actual pair, so
    the result is still an upper bound on :math:`\gamma`. When :math:`c` lies in the two regions the jump
    lands on the exact minimum over them; when it does not, the line search crosses into a neighbouring
    region. Each jump also tries the regions met at ``perturbations - 1`` random points
    :math:`x + \epsilon\|x\|\xi/\sqrt{2k}` (:math:`\epsilon` = ``scale``, :math:`\xi` standard normal), so a
    pair that sits on a region boundary can take the eigenvector of the region on the other side (an
    active-set step). With ``radius`` the pairs stay in the ball, and every candidate is also tried scaled
    out to its boundary (with :math:`\delta > 0` a longer difference has a smaller ratio). Starts are
    processed in chunks so that the local linear maps hold at most ``max_elements`` numbers at a time.

    This is our addition to the search of Bora et al. (2017) and the theory notes (Sec. 1.4); it is
    what makes the search meet the exact :math:`k = 2` value (notebook 02, section (b)).
    """
    iters = check_nonneg_int(iters, "iters")
    perturbations = check_positive_int(perturbations, "perturbations")
    check_positive(scale, "scale")
    check_nonneg(delta, "delta")
    if radius is not None:
        check_positive(radius, "radius")
    if not hasattr(generator, "local_linear_map"):
        raise TypeError(f"generator must have a local_linear_map (piecewise linear), not {type(generator).__name__}")
    _check_pair(operator, generator)
    k = generator.latent_dim
    if x.dim() != 3 or x.shape[-1] != 2 * k:
        raise ValueError(f"x must have shape (B, R, {2 * k}), got {tuple(x.shape)}")
    B, R, _ = x.shape
    floor = 10.0 * math.sqrt(torch.finfo(x.dtype).eps)
    ratio = _pair_objective(operator, generator, k, float(delta), floor)
    normalise = radius is None and delta == 0 and _homogeneous(generator)
    g = make_generator(seed)
    tiny = torch.finfo(x.dtype).tiny
    x = x.detach()
    chunk = max(1, int(max_elements // max(1, B * generator.output_dim * 2 * k)))
    if R > chunk:  # the local linear maps of all pairs at once would not fit: jump chunks of starts in turn
        return torch.cat([region_jumps(operator, generator, x[:, i:i + chunk], iters=iters, perturbations=perturbations,
                                       scale=scale, steps_t=steps_t, delta=delta, radius=radius, seed=g,
                                       max_elements=max_elements) for i in range(0, R, chunk)], dim=1)
    with torch.no_grad():
        for _ in range(iters):
            cands = [x]
            for p in range(perturbations):
                xp = x
                if p:
                    xi = randn(*x.shape, generator=g, dtype=x.dtype, device=x.device)
                    xp = x + scale * x.norm(dim=-1, keepdim=True) * xi / math.sqrt(2 * k)
                z = xp.reshape(B, R, 2, k)
                M = torch.cat([generator.local_linear_map(z[:, :, 0]), -generator.local_linear_map(z[:, :, 1])], -1)
                AM = operator(M.transpose(-1, -2)).transpose(-1, -2)  # (B, R, m, 2k)
                # the small 2k x 2k eigenproblems in float64 whatever the working precision, on the range of M
                # (M has rank < 2k when both latents share a region, or for a linear generator)
                N = torch.nan_to_num((M.transpose(-1, -2) @ M).double())
                K = torch.nan_to_num((AM.transpose(-1, -2) @ AM).double())
                mu, V = torch.linalg.eigh(N)
                drop = mu <= 1e-10 * mu[..., -1:].clamp_min(tiny)
                W = V / mu.clamp_min(tiny).sqrt().unsqueeze(-2)
                W = torch.where(drop.unsqueeze(-2), torch.zeros_like(W), W)
                big = 1e6 * (1.0 + K.diagonal(dim1=-2, dim2=-1).abs().amax(-1))
                Kt = W.transpose(-1, -2) @ K @ W + torch.diag_embed(drop.double() * big[..., None])
                _, Y = torch.linalg.eigh(0.5 * (Kt + Kt.transpose(-1, -2)))
                c = (W @ Y[..., :1]).squeeze(-1).to(x.dtype)
                c = c * (x.norm(dim=-1, keepdim=True) / c.norm(dim=-1, keepdim=True).clamp_min(tiny))
                c = torch.where(torch.isfinite(c), c, x)
                for sign in (1.0, -1.0):
                    for t in steps_t:
                        y = _feasible((1 - t) * x + t * sign * c, k, radius, normalise)
                        cands.append(y)
                        if radius is not None:
                            zn = y.reshape(B, R, 2, k).norm(dim=-1).amax(-1, keepdim=True)
                            cands.append(y * (radius / zn.clamp_min(tiny)))
            C = torch.stack(cands, 2)  # (B, R, candidates, 2k)
            r, ok = ratio(C.reshape(B, R * C.shape[2], 2 * k))
            r = torch.where(ok & torch.isfinite(r), r, torch.full_like(r, math.inf)).reshape(B, R, -1)
            j = r.argmin(-1)
            x = C.gather(2, j[..., None, None].expand(-1, -1, 1, 2 * k)).squeeze(2)
    return x


def adversarial_gamma(
    operator: LinearOperator,
    generator: Generator,
    *,
    restarts: int = 32,
    steps: int = 200,
    lr: float = 0.05,
    delta: float = 0.0,
    radius: Optional[float] = None,
    mix: Sequence[float] = (1.0, 1.0, 1.0),
    near_scale: float = 0.05,
    pool: Optional[int] = None,
    screen_steps: int = 20,
    polish_steps: int = 0,
    polish_factor: float = 0.1,
    z0: Optional[torch.Tensor] = None,
    method: str = "adam",
    jumps: int = 0,
    jump_perturbations: int = 3,
    jump_scale: float = 0.05,
    seed: SeedLike = 0,
) -> AdversarialResult:
    r"""Upper bound on the S-REC constant by adversarial search over latent pairs, batched.

    Minimises

    .. math::

        \rho(z_1, z_2) = \frac{\|A(G(z_1) - G(z_2))\| + \delta}{\|G(z_1) - G(z_2)\|}

    over ``restarts`` starting pairs per instance (see :func:`starting_pairs`), all
    ``B x R`` pairs in one tensor through :func:`ilib.optim.minimize`, and keeps
    the smallest ratio met along every trajectory. The value returned is the
    ratio *at a pair*, so :math:`\gamma_\delta(A, G) \le` ``gamma`` always; it
    is tight only if the search finds the worst pair (Bora et al. 2017, Def. 1;
    theory notes Sec. 1.4).

    Parameters
    ----------
    operator : LinearOperator
        ``B`` measurement operators (or one shared).
    generator : ReLUGenerator or LinearGenerator
        ``B`` generators (or one shared).
    restarts, steps, lr, method :
        Starts per instance and the optimiser's settings (``steps=0`` gives the
        best of the random starts: the random-sampling estimate).
    delta : float
        The additive slack :math:`\delta` of S-REC(:math:`S, \gamma, \delta`).
    radius : float, optional
        Restrict both latents to :math:`\|z\| \le r` (Lemma 4.1's :math:`G(B^k(r))`).
    mix, near_scale :
        Proportions of random / near-coincident / :math:`z_2 = 0` starts, and the
        relative offset of near-coincident pairs.
    pool, screen_steps :
        If ``pool > restarts``: draw ``pool`` starts, run ``screen_steps`` steps on
        all of them, and continue the ``restarts`` best for ``steps`` steps
        (successive halving: the worst pair is rare, so many short searches
        beat a few long ones).
    polish_steps, polish_factor :
        If ``polish_steps > 0``, continue every kept restart from its best pair
        for that many steps with step size ``lr * polish_factor``.
    z0 : torch.Tensor, optional
        Explicit starts ``(B, R, 2, k)``; overrides ``restarts``, ``mix``, ``pool`` and the starts' ``seed``.
    jumps, jump_perturbations, jump_scale :
        If ``jumps > 0``: ``jumps`` region jumps (:func:`region_jumps`) on every start of the pool before
        the ``restarts`` best are kept (in place of the screening steps), and again on the kept pairs
        after the gradient search; each jump also tries the regions of ``jump_perturbations - 1`` random
        perturbations of relative size ``jump_scale``. Needs a generator with a ``local_linear_map``.
    seed : int, Stream or torch.Generator
        Seeds the starts and the jumps' perturbations.

    Notes
    -----
    For ``radius=None`` and ``delta=0`` the ratio of a positively homogeneous
    generator (bias-free ReLU, linear) is invariant under :math:`(z_1, z_2) \to
    t(z_1, z_2)`, so every pair is rescaled to norm :math:`\sqrt{2k}` after each
    step. For a bias-free ReLU net, autograd's :math:`\mathrm{relu}'(0) = 0`
    keeps :math:`z_2 = 0` fixed, so the ``zero`` starts search rays
    :math:`\|AG(z)\|/\|G(z)\|`. Pairs whose difference is below
    :math:`10\sqrt{\varepsilon_{\mathrm{mach}}}` of their norms are not counted
    (their ratio would be rounding noise).
    """
    B = _check_pair(operator, generator)
    k = generator.latent_dim
    steps = check_nonneg_int(steps, "steps")
    screen_steps = check_nonneg_int(screen_steps, "screen_steps")
    polish_steps = check_nonneg_int(polish_steps, "polish_steps")
    check_positive(polish_factor, "polish_factor")
    check_nonneg(delta, "delta")
    if radius is not None:
        check_positive(radius, "radius")
    jumps = check_nonneg_int(jumps, "jumps")
    jump_perturbations = check_positive_int(jump_perturbations, "jump_perturbations")
    check_positive(jump_scale, "jump_scale")
    dtype, device = generator.dtype, generator.device
    g = make_generator(seed)
    if z0 is None:
        restarts = check_positive_int(restarts, "restarts")
        n_start = restarts if pool is None else max(check_positive_int(pool, "pool"), restarts)
        z0, kinds = starting_pairs(
            B, k, n_start, mix=mix, near_scale=near_scale, radius=radius, seed=g, dtype=dtype, device=device
        )
        kinds = kinds.expand(B, -1)
    else:
        if z0.dim() != 4 or z0.shape[0] not in (1, B) or z0.shape[2] != 2 or z0.shape[3] != k:
            raise ValueError(f"z0 must have shape ({B}, R, 2, {k}), got {tuple(z0.shape)}")
        z0 = z0.to(dtype=dtype, device=device)
        B = z0.shape[0] if B == 1 else B
        z0 = z0.expand(B, -1, -1, -1)
        restarts = z0.shape[1]
        kinds = torch.zeros(B, restarts, dtype=torch.long, device=device)
    floor = 10.0 * math.sqrt(torch.finfo(dtype).eps)
    ratio = _pair_objective(operator, generator, k, float(delta), floor)

    if radius is not None:
        ball = project_ball(radius)

        def project(x: torch.Tensor) -> torch.Tensor:
            return ball(x.reshape(*x.shape[:-1], 2, k)).reshape(x.shape)

    elif delta == 0 and _homogeneous(generator):
        target = math.sqrt(2 * k)

        def project(x: torch.Tensor) -> torch.Tensor:
            return x * (target / x.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny))

    else:
        project = None
    x0 = z0.reshape(B, z0.shape[1], 2 * k)
    jump = dict(iters=jumps, perturbations=jump_perturbations, scale=jump_scale, radius=radius, seed=g)
    if jumps:
        x0 = region_jumps(operator, generator, x0, delta=float(delta), **jump)
    if x0.shape[1] > restarts and jumps:
        with torch.no_grad():
            r, ok = ratio(x0)
        top = torch.where(ok, r, torch.full_like(r, math.inf)).argsort(dim=1)[:, :restarts]
        x0 = x0.gather(1, top.unsqueeze(-1).expand(-1, -1, 2 * k))
        kinds = kinds.gather(1, top)
    elif x0.shape[1] > restarts and screen_steps > 0:
        screened, xs = _tracked_search(ratio, x0, steps=screen_steps, lr=lr, method=method, project=project)
        top = screened.argsort(dim=1)[:, :restarts]
        x0 = xs.gather(1, top.unsqueeze(-1).expand(-1, -1, 2 * k))
        kinds = kinds.gather(1, top)
    elif x0.shape[1] > restarts:
        x0, kinds = x0[:, :restarts], kinds[:, :restarts]
    _, best_x = _tracked_search(ratio, x0, steps=steps, lr=lr, method=method, project=project)
    if polish_steps:
        # a second, finer search from the best pair of every restart: a constant step size leaves the iterates
        # circling the minimum at a distance of order lr
        _, best_x = _tracked_search(ratio, best_x, steps=polish_steps, lr=lr * polish_factor, method=method, project=project)
    if jumps:
        best_x = region_jumps(operator, generator, best_x, delta=float(delta), **jump)
    with torch.no_grad():
        # recompute the ratio at the kept pairs: the value returned is the ratio of an actual pair
        r, ok = ratio(best_x)
        start_gamma = torch.where(ok, r, torch.full_like(r, math.inf))
    gamma, j = start_gamma.min(dim=1)
    idx = torch.arange(B, device=device)
    pair = best_x[idx, j].reshape(B, 2, k)
    return AdversarialResult(
        gamma=gamma, z1=pair[:, 0], z2=pair[:, 1], start_gamma=start_gamma, kinds=kinds, steps=steps
    )


# =============================================================================== exact: linear generator
def linear_gamma(operator: LinearOperator, generator: LinearGenerator) -> torch.Tensor:
    r"""Exact S-REC constant over the range of :math:`G(z) = Uz`, shape ``(B,)``.

    The differences :math:`G(z_1) - G(z_2)` fill :math:`\mathrm{range}(U)`, so

    .. math::

        \gamma = \min_{c \ne 0} \frac{\|AUc\|}{\|Uc\|}
        = \sqrt{\lambda_{\min}(U^\top A^\top A U,\ U^\top U)}
        = \sigma_{\min}(AU) \ \text{ for orthonormal } U

    (theory notes Sec. 1.4, special case 1). ``U`` must have full column rank. Computed as
    :math:`\sigma_{\min}(AQ)` with :math:`U = QR` (thin QR) from the singular values, accurate to rounding
    relative to :math:`\|AQ\|` even when :math:`\gamma` is near 0 (the square root of an eigenvalue would
    lose half the digits there); :math:`\gamma = 0` when :math:`m < k`.
    """
    if not isinstance(generator, LinearGenerator):
        raise TypeError(f"generator must be a LinearGenerator, not {type(generator).__name__}")
    _check_pair(operator, generator)
    Q, R = torch.linalg.qr(generator.U)  # (B, n, k), (B, k, k)
    diag = R.diagonal(dim1=-2, dim2=-1).abs()
    if bool((diag <= 1e-12 * diag.amax(dim=-1, keepdim=True).clamp_min(torch.finfo(diag.dtype).tiny)).any()):
        raise ValueError("generator.U must have full column rank")
    AQ = operator(Q.transpose(1, 2)).transpose(1, 2)  # (B, m, k)
    if AQ.shape[-2] < AQ.shape[-1]:
        return torch.zeros(AQ.shape[0], dtype=AQ.dtype, device=AQ.device)
    return torch.linalg.svdvals(AQ)[..., -1]


# =============================================================================== exact: one-layer ReLU, k = 2
_SLOT_SIGN = (1.0, 1.0, -1.0, -1.0)
_SUBSETS = {p: list(itertools.combinations(range(4), p)) for p in range(1, 5)}


def _check_relu_k2(generator) -> None:
    if not isinstance(generator, ReLUGenerator):
        raise TypeError(f"generator must be a ReLUGenerator, not {type(generator).__name__}")
    if generator.depth != 1 or generator.latent_dim != 2 or not generator.output_relu:
        raise ValueError(
            "the exact k = 2 computation needs a one-layer ReLU generator relu(Wz) with k = 2, "
            f"got widths={generator.widths}, output_relu={generator.output_relu}"
        )
    if generator.output_dim < 2:
        raise ValueError(f"the exact k = 2 computation needs n >= 2 rows, got n={generator.output_dim}")


def relu_k2_rays(generator: ReLUGenerator) -> torch.Tensor:
    r"""Boundary rays of the 2n angular sectors of :math:`G(z) = \mathrm{relu}(Wz)`, :math:`z \in \mathbb{R}^2`.

    The zero line of row :math:`w_i` contributes the rays at angles
    :math:`\varphi_i \pm \pi/2`; sorted, consecutive rays bound the sectors on
    which the activation pattern, hence :math:`G`, is constant/linear (theory
    notes Sec. 1.4, special case 2). Returns unit rays ``(B, 2n, 2)``.
    """
    _check_relu_k2(generator)
    W = generator.weights[0]  # (B, n, 2)
    phi = torch.atan2(W[..., 1], W[..., 0])
    theta = torch.remainder(torch.cat([phi + math.pi / 2, phi - math.pi / 2], dim=-1), 2 * math.pi)
    theta = theta.sort(dim=-1).values
    return torch.stack([torch.cos(theta), torch.sin(theta)], dim=-1)


@dataclass
class _FaceData:
    N: torch.Tensor  # (B, S, S) Gram of unit cone generators
    M: torch.Tensor  # (B, S, S) Gram of their images under A
    ok: torch.Tensor  # (B, S) generator is non-zero
    idx: torch.Tensor  # (P, 4) generator index of each slot, per sector pair
    sign: torch.Tensor  # (4,)


def _sub(mat: torch.Tensor, b: torch.Tensor, I: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``mat[b][I, I] * s s^T`` for a flat list of (instance, index set) rows: ``(Q, p, p)``."""
    return mat[b[:, None, None], I[:, :, None], I[:, None, :]] * (s[:, None] * s[None, :])


def _face_minima(fd: _FaceData, b: torch.Tensor, p_idx: torch.Tensor, subset: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Smallest Rayleigh quotient at a critical point inside the face ``subset`` of each difference cone.

    For generators :math:`E_S` (linearly independent) the critical points of
    :math:`\|AEc\|^2/\|Ec\|^2` on :math:`\mathrm{span}(E_S)` solve
    :math:`E_S^\top A^\top A E_S c = \lambda E_S^\top E_S c`; those with all
    :math:`c_i > 0` lie inside the face. Returns ``(lam (Q,), c (Q, 4))`` with
    ``inf`` where there is none.
    """
    sl = list(subset)
    I = fd.idx[p_idx][:, sl]  # (Q, p)
    s = fd.sign[sl]
    p = len(sl)
    valid = fd.ok[b[:, None], I].all(dim=-1)
    for i, j in itertools.combinations(range(p), 2):
        valid = valid & (I[:, i] != I[:, j])  # a generator and its negative are one line, not a face
    N = _sub(fd.N, b, I, s)
    M = _sub(fd.M, b, I, s)
    eye = torch.eye(p, dtype=N.dtype, device=N.device)
    N = torch.where(valid[:, None, None], N, eye)
    L, info = torch.linalg.cholesky_ex(N)
    valid = valid & (info == 0) & (torch.diagonal(L, dim1=-2, dim2=-1).min(dim=-1).values > 1e-12)
    L = torch.where(valid[:, None, None], L, eye)
    X = torch.linalg.solve_triangular(L, M, upper=False)
    K = torch.linalg.solve_triangular(L, X.transpose(1, 2), upper=False)
    lam, Y = torch.linalg.eigh(0.5 * (K + K.transpose(1, 2)))
    C = torch.linalg.solve_triangular(L.transpose(1, 2), Y, upper=True)  # columns: coefficient vectors
    pos = (C > 0).all(dim=1) | (C < 0).all(dim=1)  # (Q, p)
    lam = torch.where(pos & valid[:, None], lam.clamp_min(0), torch.full_like(lam, math.inf))
    best, j = lam.min(dim=1)
    c = C[torch.arange(C.shape[0], device=C.device), :, j].abs()
    c4 = torch.zeros(C.shape[0], 4, dtype=C.dtype, device=C.device)
    c4[:, sl] = c
    return best, c4


def _span_minima(fd: _FaceData, b: torch.Tensor, p_idx: torch.Tensor) -> torch.Tensor:
    r"""Smallest Rayleigh quotient of :math:`A` on the span of each pair of cones, ``(Q,)``.

    Repeated generators (shared boundary rays) and zero generators are removed
    structurally (their slot becomes a decoupled direction with a huge
    quotient); the others are whitened with the Gram eigenvalues, dropping those
    below :math:`10^{-14}` of the largest (numerical dependence: the span then
    misses a direction of relative size below :math:`10^{-7}`).
    """
    I = fd.idx[p_idx]  # (Q, 4)
    keep = fd.ok[b[:, None], I].clone()
    for j in (2, 3):
        keep[:, j] &= (I[:, j] != I[:, 0]) & (I[:, j] != I[:, 1])
    s = fd.sign
    N = _sub(fd.N, b, I, s)
    M = _sub(fd.M, b, I, s)
    km = keep[:, :, None] & keep[:, None, :]
    eye = torch.eye(4, dtype=N.dtype, device=N.device).expand_as(N)
    big = 1e6 * (1.0 + M.diagonal(dim1=-2, dim2=-1).abs().amax(dim=-1))
    N = torch.where(km, N, eye)
    M = torch.where(km, M, eye * big[:, None, None])
    mu, V = torch.linalg.eigh(N)
    drop = mu <= 1e-14 * mu.amax(dim=-1, keepdim=True)
    P = V / mu.clamp_min(torch.finfo(mu.dtype).tiny).sqrt().unsqueeze(-2)
    P = torch.where(drop.unsqueeze(-2), torch.zeros_like(P), P)
    K = P.transpose(1, 2) @ M @ P
    K = K + torch.diag_embed(drop.to(K.dtype) * big[:, None])
    return torch.linalg.eigvalsh(0.5 * (K + K.transpose(1, 2)))[:, 0].clamp_min(0)


@dataclass
class ReluK2Result:
    """Result of :func:`relu_k2_gamma`.

    Attributes
    ----------
    gamma : exact :math:`\\gamma_0` per instance, ``(B,)``.
    lower : certified lower bound, the smallest :math:`\\sigma_{\\min}` of :math:`A` on a pair of cone spans, ``(B,)``.
    z1, z2 : latents attaining ``gamma`` (``(B, 2)`` each).
    sectors : the two sectors of the worst pair, ``(B, 2)``.
    refined : fraction of sector pairs whose 3- and 4-generator faces had to be checked.
    """

    gamma: torch.Tensor
    lower: torch.Tensor
    z1: torch.Tensor
    z2: torch.Tensor
    sectors: torch.Tensor
    refined: float


def relu_k2_gamma(operator: LinearOperator, generator: ReLUGenerator) -> ReluK2Result:
    r"""Exact S-REC constant (and a certified lower bound) for :math:`G(z) = \mathrm{relu}(Wz)`, :math:`k = 2`.

    The range is the union of the 2n cones
    :math:`C_s = \mathrm{cone}(G(r_s), G(r_{s+1}))` over the sectors between
    consecutive zero-line rays :math:`r_s` (:func:`relu_k2_rays`). Every
    difference of two range points lies in a difference cone
    :math:`D_{st} = \mathrm{cone}(e_s, e_{s+1}, -e_t, -e_{t+1})`, and

    .. math::

        \gamma^2 = \min_{s \le t}\ \min_{v \in D_{st}\setminus 0}
        \frac{\|Av\|^2}{\|v\|^2}.

    The inner minimum is attained inside some face :math:`F` (a linearly
    independent subset of the generators, with positive coefficients), where it
    is a generalised eigenvalue of :math:`(E_F^\top A^\top A E_F, E_F^\top E_F)`
    with a positive eigenvector; enumerating the 15 faces of every
    :math:`D_{st}` gives :math:`\gamma` exactly (theory notes Sec. 1.4,
    special case 2; Bora et al. 2017, Lemma 4.2's cone picture). The minimum of
    the same quotient over :math:`\mathrm{span}(D_{st})` is a lower bound for
    each pair, hence

    .. math::

        \gamma \ \ge\ \min_{s \le t} \sigma_{\min}\big(A\,\mathrm{orth}[e_s, e_{s+1}, e_t, e_{t+1}]\big),

    the certified (and looser) bound (less a rounding allowance of
    :math:`10^{-10}\max_i\|Ae_i\|^2` on the squared value). Pairs whose span bound is not below the
    best 1- and 2-generator face value cannot hold the minimum, so only the
    others have their 3- and 4-generator faces checked.
    """
    _check_relu_k2(generator)
    B = _check_pair(operator, generator)
    rays = relu_k2_rays(generator)  # (Bg, S, 2)
    S = rays.shape[1]
    E = generator(rays)  # (Bg, S, n): G on the rays
    nu = E.norm(dim=-1)
    ok = nu > 1e-12 * nu.amax(dim=-1, keepdim=True).clamp_min(torch.finfo(nu.dtype).tiny)
    Eh = E / torch.where(ok, nu, torch.ones_like(nu)).unsqueeze(-1) * ok.unsqueeze(-1)
    if Eh.shape[0] == 1 and B > 1:
        rays, nu, ok, Eh = rays.expand(B, -1, -1), nu.expand(B, -1), ok.expand(B, -1), Eh.expand(B, -1, -1)
    AE = operator(Eh)  # (B, S, m)
    N = Eh @ Eh.transpose(1, 2)
    M = AE @ AE.transpose(1, 2)
    dev, dt = N.device, N.dtype
    st = torch.triu_indices(S, S, device=dev)  # (2, P), sector pairs s <= t
    s_, t_ = st[0], st[1]
    idx = torch.stack([s_, (s_ + 1) % S, t_, (t_ + 1) % S], dim=1)
    fd = _FaceData(N=N, M=M, ok=ok, idx=idx, sign=torch.tensor(_SLOT_SIGN, dtype=dt, device=dev))
    P = idx.shape[0]

    def pair_index(s, t):  # position of the sector pair (s, t), s <= t, in the triu order
        return s * S - s * (s - 1) // 2 + (t - s)

    # ---- 1-generator faces: the rays themselves (pair (i, i), slot 0)
    diagM = M.diagonal(dim1=-2, dim2=-1)
    lam1 = torch.where(ok, diagM, torch.full_like(diagM, math.inf))
    best, i1 = lam1.min(dim=1)
    best_p = pair_index(i1, i1)
    best_c = torch.zeros(B, 4, dtype=dt, device=dev)
    best_c[:, 0] = 1.0
    # ---- 2-generator faces, closed form: (i, i+1, +) inside one sector, (i, j, -) across two
    ii, jj = torch.triu_indices(S, S, offset=1, device=dev)
    for same in (False, True):
        if same:
            a_i, a_j, sg = torch.arange(S, device=dev), (torch.arange(S, device=dev) + 1) % S, 1.0
        else:
            a_i, a_j, sg = ii, jj, -1.0
        a, d = diagM[:, a_i], diagM[:, a_j]
        b, c = sg * M[:, a_i, a_j], sg * N[:, a_i, a_j]
        valid = ok[:, a_i] & ok[:, a_j] & (1.0 - c * c > 1e-24)
        tr = a + d - 2.0 * b * c
        det = (a * d - b * b).clamp_min(0)
        disc = (tr * tr - 4.0 * (1.0 - c * c) * det).clamp_min(0)
        den = tr + disc.sqrt()
        lam = torch.where(den > 0, 2.0 * det / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(den))
        xa = torch.stack([lam * c - b, a - lam], dim=-1)
        xb = torch.stack([d - lam, lam * c - b], dim=-1)
        x = torch.where((xa.norm(dim=-1) >= xb.norm(dim=-1)).unsqueeze(-1), xa, xb)
        inside = ((x > 0).all(-1) | (x < 0).all(-1)) & valid
        lam = torch.where(inside, lam, torch.full_like(lam, math.inf))
        v, j = lam.min(dim=1)
        better = v < best
        x = x.abs()[torch.arange(B, device=dev), j]
        x = x / x.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(dt).tiny)
        ci, cj = a_i[j], a_j[j]
        if same:
            p_new = pair_index(ci, ci)
            c_new = torch.stack([x[:, 0], x[:, 1], torch.zeros_like(v), torch.zeros_like(v)], dim=1)
        else:
            p_new = pair_index(ci, cj)
            c_new = torch.stack([x[:, 0], torch.zeros_like(v), x[:, 1], torch.zeros_like(v)], dim=1)
        best = torch.where(better, v, best)
        best_p = torch.where(better, p_new, best_p)
        best_c = torch.where(better[:, None], c_new, best_c)
    # ---- certified lower bound: A on the span of every pair of cones
    b_all = torch.arange(B, device=dev).repeat_interleave(P)
    p_all = torch.arange(P, device=dev).repeat(B)
    span = _span_minima(fd, b_all, p_all)
    lower = span.view(B, P).min(dim=1).values
    # ---- 3- and 4-generator faces, only where the span bound leaves room below the best so far
    cand = (span < best[b_all]).nonzero().squeeze(-1)
    if cand.numel():
        bc, pc = b_all[cand], p_all[cand]
        cbest = torch.full((cand.numel(),), math.inf, dtype=dt, device=dev)
        cc = torch.zeros(cand.numel(), 4, dtype=dt, device=dev)
        for p in (3, 4):
            for sub in _SUBSETS[p]:
                lam, c = _face_minima(fd, bc, pc, sub)
                better = lam < cbest
                cbest = torch.where(better, lam, cbest)
                cc = torch.where(better[:, None], c, cc)
        per = torch.full((B * P,), math.inf, dtype=dt, device=dev)
        per[cand] = cbest
        v, j = per.view(B, P).min(dim=1)
        better = v < best
        q = torch.arange(B, device=dev) * P + j
        full_c = torch.zeros(B * P, 4, dtype=dt, device=dev)
        full_c[cand] = cc
        best = torch.where(better, v, best)
        best_p = torch.where(better, j, best_p)
        best_c = torch.where(better[:, None], full_c[q], best_c)
    # ---- latents attaining the minimum: G is linear on each closed sector
    I = idx[best_p]  # (B, 4)
    bi = torch.arange(B, device=dev)[:, None]
    w = best_c / torch.where(ok[bi, I], nu[bi, I], torch.ones_like(best_c))
    r = rays[bi, I]  # (B, 4, 2)
    z1 = (w[:, :2, None] * r[:, :2]).sum(1)
    z2 = (w[:, 2:, None] * r[:, 2:]).sum(1)
    # gamma is read off the attaining pair: the quotient is stationary there, so this is accurate to rounding,
    # whereas sqrt(lambda) loses half the digits when gamma is near 0
    with torch.no_grad():
        gamma = srec_ratio(operator, generator(z1.unsqueeze(1)).squeeze(1), generator(z2.unsqueeze(1)).squeeze(1))
    gamma = torch.where(torch.isfinite(gamma), gamma, best.clamp_min(0).sqrt())
    # rounding allowance on the squared bound keeps the certificate valid when it is near 0
    allowance = 1e-10 * diagM.amax(dim=-1)
    return ReluK2Result(
        gamma=gamma,
        lower=(lower - allowance).clamp_min(0).sqrt(),
        z1=z1,
        z2=z2,
        sectors=torch.stack([s_[best_p], t_[best_p]], dim=1),
        refined=float(cand.numel()) / float(B * P),
    )


# =============================================================================== region-pair lower bound
def region_pair_bound(operator: LinearOperator, generator: Generator, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    r"""Lower bound on :math:`\gamma` over the two activation regions of ``z1`` and ``z2``, shape ``(B,)``.

    On the region :math:`\mathcal{R}_i` of :math:`z_i`, :math:`G(z) = \Lambda_{z_i} z`
    (the local linear map), so every difference :math:`G(u) - G(v)` with
    :math:`u \in \mathcal{R}_1, v \in \mathcal{R}_2` lies in
    :math:`V = \mathrm{range}[\Lambda_{z_1}, \Lambda_{z_2}]` and

    .. math::

        \min_{u \in \mathcal{R}_1, v \in \mathcal{R}_2}
        \frac{\|A(G(u) - G(v))\|}{\|G(u) - G(v)\|} \ \ge\ \sigma_{\min}(A Q_V),

    :math:`Q_V` an orthonormal basis of :math:`V` (singular values below
    :math:`10^{-10}` of the largest count as rank deficiency). This is Lemma
    4.2's subspace argument applied to one pair of regions; it bounds
    :math:`\gamma` on those regions only, not on the whole range.
    """
    B = _check_pair(operator, generator)
    k = generator.latent_dim
    for name, z in (("z1", z1), ("z2", z2)):
        if z.dim() != 2 or z.shape[-1] != k:
            raise ValueError(f"{name} must have shape (B, {k}), got {tuple(z.shape)}")
    J = torch.cat(
        [generator.local_linear_map(z1.unsqueeze(1)).squeeze(1), generator.local_linear_map(z2.unsqueeze(1)).squeeze(1)],
        dim=-1,
    )  # (B, n, 2k)
    U, sv, _ = torch.linalg.svd(J, full_matrices=False)
    keep = sv > 1e-10 * sv[..., :1].clamp_min(torch.finfo(sv.dtype).tiny)
    AU = operator(U.transpose(1, 2)).transpose(1, 2)  # (B, m, 2k)
    AU = AU * keep.unsqueeze(1)
    G = AU.transpose(1, 2) @ AU
    big = 1e6 * (1.0 + G.diagonal(dim1=-2, dim2=-1).abs().max(dim=-1).values)
    G = G + torch.diag_embed((~keep).to(G.dtype) * big[:, None])
    return torch.linalg.eigvalsh(G)[:, 0].clamp_min(0).sqrt()


# =============================================================================== exact least squares over a k = 2 range
def relu_k2_least_squares(operator: LinearOperator, generator: ReLUGenerator, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Exact :math:`\min_{x \in G(\mathbb{R}^2)} \|y - Ax\|` for a one-layer ReLU net :math:`G(z) = \mathrm{relu}(Wz)`.

    The range is the union of the 2n cones :math:`C_s = \mathrm{cone}(G(r_s), G(r_{s+1}))`
    (:func:`relu_k2_rays`), so

    .. math::

        \min_{x \in G(\mathbb{R}^2)} \|y - Ax\|^2 = \min_s \min_{c \ge 0} \|y - A[e_s, e_{s+1}]\,c\|^2,

    a two-variable non-negative least-squares problem per cone, solved in closed form (the
    unconstrained solution if it is non-negative, else the best of the two one-generator solutions
    and :math:`c = 0`). With the identity operator this is the projection of ``y`` onto the range.
    ``y`` has shape ``(B, m)``. Returns ``(residual norm (B,), minimiser x (B, n))``: the global CSGM
    minimiser (Bora et al. 2017) for this generator, found without optimisation.
    """
    _check_relu_k2(generator)
    B = _check_pair(operator, generator)
    if y.dim() != 2 or y.shape[-1] != operator.out_dim or y.shape[0] not in (1, B):
        raise ValueError(f"y must have shape ({B}, {operator.out_dim}), got {tuple(y.shape)}")
    B = max(B, y.shape[0])
    rays = relu_k2_rays(generator)
    E = generator(rays)  # (Bg, S, n)
    if E.shape[0] == 1 and B > 1:
        E = E.expand(B, -1, -1)
    S = E.shape[1]
    AE = operator(E)  # (B, S, m)
    yy = y.expand(B, -1)
    a, b = AE, AE.roll(-1, dims=1)  # generators of cone s: e_s and e_{s+1}
    aa, bb, ab = (a * a).sum(-1), (b * b).sum(-1), (a * b).sum(-1)
    ay, by = (a * yy.unsqueeze(1)).sum(-1), (b * yy.unsqueeze(1)).sum(-1)
    tiny = torch.finfo(y.dtype).tiny
    det = aa * bb - ab * ab
    ok2 = det > 1e-12 * (aa * bb).clamp_min(tiny)
    ca = torch.where(ok2, (bb * ay - ab * by) / torch.where(ok2, det, torch.ones_like(det)), torch.full_like(det, -1.0))
    cb = torch.where(ok2, (aa * by - ab * ay) / torch.where(ok2, det, torch.ones_like(det)), torch.full_like(det, -1.0))
    zero = torch.zeros_like(aa)
    one_a = torch.where(aa > 0, (ay / aa.clamp_min(tiny)).clamp_min(0), zero)
    one_b = torch.where(bb > 0, (by / bb.clamp_min(tiny)).clamp_min(0), zero)
    cands = torch.stack([torch.stack([ca, cb], -1), torch.stack([one_a, zero], -1), torch.stack([zero, one_b], -1)], -2)
    feas = (cands >= 0).all(-1)  # (B, S, 3)
    rhs = torch.stack([ay, by], -1).unsqueeze(-2)
    gram = torch.stack([torch.stack([aa, ab], -1), torch.stack([ab, bb], -1)], -2)  # (B, S, 2, 2)
    quad = torch.einsum("bsci,bsij,bscj->bsc", cands, gram, cands)
    res2 = (yy * yy).sum(-1)[:, None, None] - 2 * (cands * rhs).sum(-1) + quad
    res2 = torch.where(feas, res2, torch.full_like(res2, math.inf)).reshape(B, S * 3)
    best, j = res2.min(dim=1)
    s, c = j // 3, cands.reshape(B, S * 3, 2)[torch.arange(B, device=y.device), j]
    x = c[:, :1] * E[torch.arange(B, device=y.device), s] + c[:, 1:] * E[torch.arange(B, device=y.device), (s + 1) % S]
    resid = (operator(x.unsqueeze(1)).squeeze(1) - yy).norm(dim=-1)  # recomputed at the minimiser: no rounding of res2
    return resid, x


# =============================================================================== Lemma 4.3: the recovery bound
def lemma43_bound(gamma, representation_error, noise_norm, eps, delta: float = 0.0):
    r"""The right-hand side of Bora et al.'s Lemma 4.3 (deterministic), elementwise.

    If :math:`A` satisfies S-REC(:math:`S, \gamma, \delta`), :math:`\|A(\bar x - x^*)\| \le 2\|\bar x - x^*\|`
    for :math:`\bar x = \arg\min_{x \in S}\|x^* - x\|`, and :math:`\hat x \in S` fits
    :math:`\|y - A\hat x\| \le \min_{x \in S}\|y - Ax\| + \epsilon`, then

    .. math::

        \|\hat x - x^*\| \le \Big(\frac{4}{\gamma} + 1\Big)\min_{x \in S}\|x^* - x\|
        + \frac{2\|\eta\| + \epsilon + \delta}{\gamma}.

    Returns ``inf`` where :math:`\gamma = 0`.
    """
    check_nonneg(delta, "delta")
    g = np.asarray(gamma, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (4.0 / g + 1.0) * np.asarray(representation_error, float) + (
            2.0 * np.asarray(noise_norm, float) + np.asarray(eps, float) + delta) / g
    return np.where(g > 0, out, np.inf)


# =============================================================================== tails and sufficient counts
def gordon_tail_bound(width, m_values, level: float) -> np.ndarray:
    r"""Upper bound on :math:`P(\min_{v \in T}\|Av\| < \ell)` for unit vectors :math:`T` of Gaussian width :math:`w`.

    :math:`A \mapsto \min_{v\in T}\|\sqrt m A v\|` is 1-Lipschitz in the Frobenius norm, so Gordon's
    inequality (:func:`gordon_bound`) and Gaussian concentration (Vershynin 2012, Prop. 5.34) give,
    for :math:`A` with iid :math:`\mathcal{N}(0, 1/m)` entries,

    .. math::

        P\Big(\min_{v \in T}\|Av\| < \ell\Big) \le \exp\!\big(-m s^2/2\big), \qquad
        s = \frac{a_m - w}{\sqrt m} - \ell,

    when :math:`s > 0` (1 otherwise): the form :math:`1 - e^{-\Omega(\alpha^2 m)}` of Bora et al.'s
    Lemmas 4.1/4.2 with :math:`\ell = 1 - \alpha`. Returns an array over ``m_values``.
    """
    ms = np.atleast_1d(np.asarray(m_values))
    level = check_positive(level, "level")
    s = gordon_bound(width, ms) - level
    return np.where(s > 0, np.exp(-ms * np.clip(s, 0, None) ** 2 / 2), 1.0)


def union_tail_bound(log_count: float, dim: int, m_values, level: float) -> np.ndarray:
    r"""The union bound of Bora et al.'s Lemma 4.2 proof, with explicit constants.

    If the normalised differences of the range lie in a union of :math:`N` subspaces of dimension at
    most :math:`p`, then for each subspace :func:`gordon_tail_bound` with :math:`w = a_p` holds, and

    .. math::

        P(\gamma < \ell) \le \min\Big(1,\ N \exp\!\big(-m s_p^2/2\big)\Big), \qquad
        s_p = \frac{a_m - a_p}{\sqrt m} - \ell

    (1 where :math:`s_p \le 0`). ``log_count`` is :math:`\log N` (natural log).
    """
    check_nonneg(log_count, "log_count")
    dim = check_positive_int(dim, "dim")
    ms = np.atleast_1d(np.asarray(m_values))
    level = check_positive(level, "level")
    s = gordon_bound(gaussian_mean_norm(dim), ms) - level
    with np.errstate(over="ignore"):
        out = np.exp(np.minimum(log_count - ms * np.clip(s, 0, None) ** 2 / 2, 0.0))
    return np.where(s > 0, out, 1.0)


def log_region_count(widths: Sequence[int]) -> float:
    r"""Log of an upper bound on the number of activation regions of a ReLU net of widths ``[k, n_1, ..., n_d]``.

    .. math::

        R \le \prod_{l=1}^{d} \sum_{j=0}^{\min(k, n_l)} \binom{n_l}{j},

    the product form of Serra, Tjandraatmadja & Ramalingam (ICML 2018, Thm 1): within a region of the
    layers below, layer :math:`l` is an arrangement of :math:`n_l` hyperplanes in a space of dimension at
    most :math:`k`. Every layer counts, the output layer included (its ReLU also cuts the latent space).
    """
    ws = check_int_list(widths, "widths")
    if len(ws) < 2:
        raise ValueError(f"widths must hold the latent dimension and at least one layer, got {ws}")
    k = ws[0]
    total = 0.0
    for n_l in ws[1:]:
        terms = [math.lgamma(n_l + 1) - math.lgamma(j + 1) - math.lgamma(n_l - j + 1) for j in range(min(k, n_l) + 1)]
        top = max(terms)
        total += top + math.log(sum(math.exp(t - top) for t in terms))
    return total


def union_bound_m(log_count: float, dim: int, level: float, *, prob: float = 0.5, m_max: int = 10**7) -> int:
    r"""The smallest ``m`` at which :func:`union_tail_bound` is at most ``prob``.

    That is the smallest :math:`m` with :math:`a_m - a_p - \sqrt{2\ln(N/\mathrm{prob})} \ge \ell\sqrt m`.
    With ``prob = 1/2`` it bounds the median threshold: at this :math:`m`, :math:`P(\gamma \ge \ell) \ge 1/2`.
    Found by bisection (the left side minus the right grows with :math:`m` once positive).
    """
    check_nonneg(log_count, "log_count")
    dim = check_positive_int(dim, "dim")
    level = check_in_range(level, "level", 0.0, 1.0, lo_open=True, hi_open=True)
    prob = check_in_range(prob, "prob", 0.0, 1.0, lo_open=True)
    need = math.sqrt(2.0 * (log_count - math.log(prob))) + gaussian_mean_norm(dim)

    def ok(m: int) -> bool:
        return gaussian_mean_norm(m) - need >= level * math.sqrt(m)

    lo, hi = 1, 2
    while not ok(hi):
        lo, hi = hi, 2 * hi
        if hi > m_max:
            raise ValueError(f"no m <= m_max={m_max} meets the bound (log_count={log_count}, level={level})")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi if not ok(lo) else lo


def lemma42_count(widths: Sequence[int], level: float, *, prob: float = 0.5) -> int:
    r"""A sufficient ``m`` for :math:`P(\gamma(A, G) \ge \ell) \ge` ``1 - prob``: Lemma 4.2's proof with explicit constants.

    Bora et al. (2017, Lemma 4.2): the range of a ReLU net is a union of :math:`R` cones (one per
    activation region; :func:`log_region_count` bounds :math:`R`), so differences of range points lie in
    a union of :math:`N = R(R+1)/2` subspaces of dimension at most :math:`2k`; a subspace embedding
    and a union bound (:func:`union_tail_bound`) finish. Returns :func:`union_bound_m` with
    :math:`\log N` and :math:`p = 2k`: a count of order :math:`k d \log n` (our constants; the paper
    states the order only).
    """
    ws = check_int_list(widths, "widths")
    log_r = log_region_count(ws)
    log_n = log_r + math.log1p(math.exp(-log_r)) - math.log(2.0) + log_r  # log(R (R + 1) / 2)
    return union_bound_m(log_n, 2 * ws[0], level, prob=prob)


def lipschitz_count(k: int, lipschitz: float, radius: float, delta: float, n: int, level: float, *,
                    prob: float = 0.5) -> int:
    r"""A sufficient ``m`` for S-REC(:math:`G(B^k(r)), \ell, \delta`) with probability ``1 - prob``, any L-Lipschitz G.

    Bora et al.'s Lemma 4.1 route with one net and explicit constants (our derivation; the paper uses
    chaining and states the order :math:`k\log(Lr/\delta)` only). Take an :math:`\epsilon`-net of
    :math:`B^k(r)` with :math:`N \le (1 + 2r/\epsilon)^k` points. If every difference of two net images
    has :math:`\|Av\| \ge \ell\|v\|` (a union bound over :math:`N^2` directions, :func:`union_tail_bound`
    with :math:`p = 1`, probability ``prob/2``) and :math:`\|A\| \le 1 + (\sqrt n + t)/\sqrt m` with
    :math:`e^{-t^2/2}` = ``prob/2`` (Vershynin 2012, Cor. 5.35), then for all pairs

    .. math::

        \|A(x_1 - x_2)\| \ge \ell\|x_1 - x_2\| - 2L\epsilon\Big(\ell + 1 + \frac{\sqrt n + t}{\sqrt m}\Big),

    so :math:`\epsilon = \delta / (2L(\ell + 1 + (\sqrt n + t)/\sqrt m))` gives S-REC with slack
    :math:`\delta`. Returns the smallest such ``m`` (by bisection; :math:`N` depends on ``m``): of order
    :math:`k\log(Lr\sqrt{n/m}/\delta)`.
    """
    k = check_positive_int(k, "k")
    lipschitz, radius, delta = check_positive(lipschitz, "lipschitz"), check_positive(radius, "radius"), check_positive(delta, "delta")
    n = check_positive_int(n, "n")
    level = check_in_range(level, "level", 0.0, 1.0, lo_open=True, hi_open=True)
    prob = check_in_range(prob, "prob", 0.0, 1.0, lo_open=True)
    t = math.sqrt(2.0 * math.log(2.0 / prob))
    a1 = gaussian_mean_norm(1)

    def ok(m: int) -> bool:
        eps = delta / (2 * lipschitz * (level + 1 + (math.sqrt(n) + t) / math.sqrt(m)))
        log_pairs = 2 * k * math.log1p(2 * radius / eps)
        return gaussian_mean_norm(m) - a1 - math.sqrt(2.0 * (log_pairs - math.log(prob / 2))) >= level * math.sqrt(m)

    lo, hi = 0, 1  # ok(m) turns true once and stays true (both sides grow like sqrt(m), the left one faster)
    while not ok(hi):
        lo, hi = hi, 2 * hi
        if hi > 10**9:
            raise ValueError(f"no m <= 1e9 meets the bound (delta={delta}, lipschitz={lipschitz})")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


# =============================================================================== k-sparse vectors
def _check_sparsity(operator: LinearOperator, s: int) -> int:
    s = check_positive_int(s, "s")
    if s > operator.in_dim:
        raise ValueError(f"s (sparsity) must be at most n={operator.in_dim}, got s={s}")
    return s


def sparse_gamma_exact(operator: LinearOperator, s: int, *, max_supports: int = 2_000_000, chunk: int = 20_000) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Exact restricted eigenvalue :math:`\min_{\|v\|_0 \le s} \|Av\|/\|v\|` by enumerating supports.

    .. math::

        \gamma_s(A) = \min_{|T| = s} \sigma_{\min}(A_T),

    the smallest singular value over all ``s``-column submatrices (Candès & Tao
    2005; Bickel, Ritov & Tsybakov 2009). The set of ``k``-sparse vectors has
    differences that are ``2k``-sparse, so its S-REC constant is
    :math:`\gamma_{2k}`. Returns ``(gamma (B,), support (B, s))``.
    """
    s = _check_sparsity(operator, s)
    n = operator.in_dim
    count = math.comb(n, s)
    if count > max_supports:
        raise ValueError(f"C(n={n}, s={s}) = {count} supports exceed max_supports={max_supports}")
    A = operator.matrix()
    Gm = A.transpose(1, 2) @ A  # (B, n, n)
    B = Gm.shape[0]
    best = torch.full((B,), math.inf, dtype=Gm.dtype, device=Gm.device)
    best_T = torch.zeros(B, s, dtype=torch.long, device=Gm.device)
    combos = itertools.combinations(range(n), s)
    while True:
        block = list(itertools.islice(combos, chunk))
        if not block:
            break
        T = torch.tensor(block, dtype=torch.long, device=Gm.device)  # (C, s)
        sub = Gm[:, T[:, :, None], T[:, None, :]]  # (B, C, s, s)
        lam = torch.linalg.eigvalsh(sub)[..., 0]
        v, j = lam.min(dim=1)
        better = v < best
        best = torch.where(better, v, best)
        best_T = torch.where(better[:, None], T[j], best_T)
    return best.clamp_min(0).sqrt(), best_T


def sparse_gamma_adversarial(
    operator: LinearOperator,
    s: int,
    *,
    restarts: int = 32,
    steps: int = 60,
    seed: SeedLike = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Upper bound on :math:`\gamma_s(A)` by the truncated power method, batched over instances and restarts.

    Projected gradient descent on :math:`\|Av\|^2` over unit ``s``-sparse
    vectors with step :math:`1/(2L)`, :math:`L = \|A\|^2`, which is the
    truncated power iteration :math:`v \leftarrow H_s((LI - A^\top A)v)` of Yuan
    & Zhang (2013) run through :func:`ilib.optim.minimize`. Every restart starts
    from a random support; at the end :math:`\sigma_{\min}(A_T)` is computed
    exactly on each final support :math:`T`, so the value returned is attained.
    Returns ``(gamma (B,), support (B, s))``.
    """
    s = _check_sparsity(operator, s)
    restarts = check_positive_int(restarts, "restarts")
    steps = check_nonneg_int(steps, "steps")
    A = operator.matrix()
    B, m, n = A.shape
    Gm = A.transpose(1, 2) @ A
    L = torch.linalg.matrix_norm(A, ord=2) ** 2  # (B,)
    g = make_generator(seed)
    keys = rand(B, restarts, n, generator=g, dtype=torch.float64, device="cpu").to(A.device)
    T0 = keys.argsort(dim=-1)[..., :s]
    v0 = randn(B, restarts, n, generator=g, dtype=A.dtype, device=A.device)
    mask = torch.zeros_like(v0).scatter_(-1, T0, 1.0)
    v0 = v0 * mask
    v0 = v0 / v0.norm(dim=-1, keepdim=True)

    def fun(v: torch.Tensor) -> torch.Tensor:
        return (v * (v @ Gm)).sum(-1)

    def project(v: torch.Tensor) -> torch.Tensor:
        top = v.abs().topk(s, dim=-1).indices
        w = torch.zeros_like(v).scatter_(-1, top, v.gather(-1, top))
        return w / w.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)

    # step 1/(2L) per instance: minimise f/L with lr 1/2 (gradient descent is linear in the scale)
    Lc = L.view(B, 1)
    res = minimize(lambda v: fun(v) / Lc, v0, steps=steps, lr=0.5, method="gd", project=project)
    T = res.x.abs().topk(s, dim=-1).indices.sort(dim=-1).values  # (B, R, s)
    bi = torch.arange(B, device=A.device)[:, None, None, None]
    sub = Gm[bi, T[..., :, None], T[..., None, :]]
    lam = torch.linalg.eigvalsh(sub)[..., 0]  # (B, R)
    v, j = lam.min(dim=1)
    return v.clamp_min(0).sqrt(), T[torch.arange(B, device=A.device), j]


# =============================================================================== Gordon-type predictions
def gaussian_mean_norm(m: int) -> float:
    r""":math:`a_m = \mathbb{E}\|g\|` for :math:`g \sim \mathcal{N}(0, I_m)`: :math:`\sqrt2\,\Gamma(\tfrac{m+1}2)/\Gamma(\tfrac m2)`."""
    m = check_positive_int(m, "m")
    return math.sqrt(2.0) * math.exp(math.lgamma((m + 1) / 2) - math.lgamma(m / 2))


def gordon_bound(width, m_values) -> np.ndarray:
    r"""Gordon's escape bound on the expected S-REC constant.

    For a set of unit vectors :math:`T` and :math:`A` with iid
    :math:`\mathcal{N}(0, 1/m)` entries (Gordon 1988, Cor. 1.2),

    .. math::

        \mathbb{E}\min_{v \in T}\|Av\| \ \ge\ \frac{a_m - w(T)}{\sqrt m}
        \ \approx\ 1 - \sqrt{k_{\mathrm{eff}}/m},
        \qquad w(T) = \mathbb{E}\sup_{v\in T}\langle g, v\rangle,\ k_{\mathrm{eff}} = w(T)^2,

    with :math:`a_m` from :func:`gaussian_mean_norm`. For the normalised
    differences of a generator's range this is a prediction of
    :math:`\mathbb{E}\gamma`. Returns an array broadcasting ``width`` against ``m_values``.
    """
    ms = np.atleast_1d(np.asarray(m_values))
    w = np.asarray(width, dtype=float)
    a = np.array([gaussian_mean_norm(int(m)) for m in ms])
    return (a - w[..., None]) / np.sqrt(ms) if w.ndim else (a - float(w)) / np.sqrt(ms)


def linear_width(k: int) -> float:
    r"""Gaussian width of the unit sphere of a ``k``-dimensional subspace: :math:`a_k`."""
    return gaussian_mean_norm(k)


def sparse_width(n: int, s: int, *, samples: int = 20_000, seed: SeedLike = 0) -> tuple[float, float]:
    r"""Gaussian width of the unit ``s``-sparse vectors in :math:`\mathbb{R}^n` by Monte Carlo.

    :math:`\sup_{\|v\|_0 \le s, \|v\| = 1}\langle g, v\rangle` is the norm of the
    ``s`` largest :math:`|g_i|`. Returns ``(mean, standard error)``.
    """
    n, s, samples = check_positive_int(n, "n"), check_positive_int(s, "s"), check_positive_int(samples, "samples")
    if s > n:
        raise ValueError(f"s must be at most n={n}, got s={s}")
    g = randn(samples, n, generator=make_generator(seed), dtype=torch.float64, device="cpu")
    top = g.abs().topk(s, dim=-1).values.norm(dim=-1)
    return float(top.mean()), float(top.std() / math.sqrt(samples))


def relu_k2_width(generator: ReLUGenerator, *, samples: int = 64, chunk: int = 16, seed: SeedLike = 0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Gaussian width of the normalised differences of a one-layer :math:`k = 2` ReLU range, ``(B,)`` each.

    :math:`T = \bigcup_{s, t} D_{st} \cap S^{n-1}` (see :func:`relu_k2_gamma`; :math:`D_{ts} = -D_{st}`)
    and :math:`\sup_{v \in D \cap S^{n-1}}\langle g, v\rangle = \|\Pi_D g\|`
    when positive. The projection onto a cone is the projection onto one face's
    span with non-negative coefficients, and among the faces with non-negative
    least-squares coefficients it is the longest, so
    :math:`\|\Pi_D g\|^2 = \max_F \{ g^\top E_F c_F : c_F = (E_F^\top E_F)^{-1}E_F^\top g \ge 0\}`.
    Counting 0 when no face is feasible can only over-estimate :math:`w`, which
    keeps :func:`gordon_bound` a valid lower bound. Returns ``(mean, standard error)``
    over ``samples`` draws of :math:`g`.
    """
    _check_relu_k2(generator)
    samples, chunk = check_positive_int(samples, "samples"), check_positive_int(chunk, "chunk")
    rays = relu_k2_rays(generator)
    E = generator(rays)
    B, S, n = E.shape
    nu = E.norm(dim=-1)
    ok = nu > 1e-12 * nu.max(dim=-1, keepdim=True).values.clamp_min(torch.finfo(nu.dtype).tiny)
    Eh = E / torch.where(ok, nu, torch.ones_like(nu)).unsqueeze(-1) * ok.unsqueeze(-1)
    N = Eh @ Eh.transpose(1, 2)
    st = torch.triu_indices(S, S, device=N.device)
    s_, t_ = st[0], st[1]
    idx = torch.stack([s_, (s_ + 1) % S, t_, (t_ + 1) % S], dim=1)
    sign = torch.tensor(_SLOT_SIGN, dtype=N.dtype, device=N.device)
    P = idx.shape[0]
    faces = []  # (slots, valid (B, P), inverse Gram (B, P, p, p))
    b_all = torch.arange(B, device=N.device).repeat_interleave(P)
    for p in range(1, 5):
        for sub in _SUBSETS[p]:
            sl = list(sub)
            I = idx[:, sl]
            valid = ok[:, I].all(dim=-1)  # (B, P)
            for i, j in itertools.combinations(range(p), 2):
                valid = valid & (I[:, i] != I[:, j])[None]
            Ns = _sub(N, b_all, I.repeat(B, 1), sign[sl])
            eye = torch.eye(p, dtype=N.dtype, device=N.device)
            Ns = torch.where(valid.reshape(-1, 1, 1), Ns, eye)
            L, info = torch.linalg.cholesky_ex(Ns)
            valid = valid & (info == 0).view(B, P) & (torch.diagonal(L, dim1=-2, dim2=-1).min(-1).values > 1e-12).view(B, P)
            L = torch.where(valid.reshape(-1, 1, 1), L, eye)
            Ninv = torch.cholesky_inverse(L).view(B, P, p, p)
            faces.append((sl, valid, Ninv))
    g_all = randn(B, samples, n, generator=make_generator(seed), dtype=N.dtype, device=N.device)
    vals = []
    for start in range(0, samples, chunk):
        g = g_all[:, start : start + chunk]
        c = g.shape[1]
        h = Eh @ g.transpose(1, 2)  # (B, S, c)
        h = torch.cat([h, -h], dim=-1)  # D_ts = -D_st: the pairs s > t are the pairs s < t seen from -g
        hp = h[:, idx] * sign.view(1, 1, 4, 1)  # (B, P, 4, 2c)
        best = torch.zeros(B, P, 2 * c, dtype=N.dtype, device=N.device)
        for sl, valid, Ninv in faces:
            hs = hp[:, :, sl]  # (B, P, p, 2c)
            coef = (Ninv.unsqueeze(-1) * hs.unsqueeze(2)).sum(dim=3)  # small p: broadcasting beats batched matmul
            feas = (coef >= 0).all(dim=2) & valid.unsqueeze(-1)
            val = (hs * coef).sum(dim=2)
            best = torch.maximum(best, torch.where(feas, val, torch.zeros_like(val)))
        best = best.amax(dim=1)  # (B, 2c)
        vals.append(torch.maximum(best[:, :c], best[:, c:]).sqrt())
    v = torch.cat(vals, dim=1)
    se = v.std(dim=1) / math.sqrt(samples) if samples > 1 else torch.full_like(v[:, 0], math.nan)
    return v.mean(dim=1), se


# =============================================================================== nested operators
def nested_operators(
    n: int, m_values: Sequence[int], *, batch: int = 1, seed: SeedLike = 0, dtype: DTypeLike = None,
    device: DeviceLike = "auto", stacked: bool = False,
) -> Union[list[MatrixOperator], MatrixOperator]:
    r"""Gaussian operators :math:`A_m = \tilde A_{1:m}/\sqrt m` for every ``m``, sharing rows.

    :math:`\tilde A` has iid :math:`\mathcal{N}(0, 1)` entries and
    :math:`\max m` rows, so each :math:`A_m` has iid :math:`\mathcal{N}(0, 1/m)`
    entries and the curves :math:`m \mapsto \gamma(A_m)` of one trial are
    coupled, which makes the threshold in :math:`m` of every trial well defined.

    With ``stacked=True`` the result is one operator of batch ``len(m_values) * batch`` (``m`` outer,
    trials inner) whose matrices are the :math:`A_m` padded with zero rows to :math:`\max m`: a zero row
    adds nothing to :math:`\|Av\|`, so every quantity of this module is the same as on :math:`A_m`, and
    all ``m`` are solved in one batch.
    """
    n = check_positive_int(n, "n")
    ms = check_int_list(m_values, "m_values", increasing=True)
    batch = check_positive_int(batch, "batch")
    full = randn(batch, ms[-1], n, generator=make_generator(seed), dtype=torch.float64, device="cpu")
    to = dict(device=resolve_device(device), dtype=resolve_dtype(dtype))
    if stacked:
        rows = torch.arange(ms[-1], dtype=torch.float64)
        A = torch.stack([full * ((rows < m).to(full.dtype) / math.sqrt(m)).view(1, -1, 1) for m in ms])
        return MatrixOperator(A.reshape(len(ms) * batch, ms[-1], n).to(**to))
    return [MatrixOperator((full[:, :m] / math.sqrt(m)).to(**to)) for m in ms]


def fit_effective_dimension(m_values: Sequence[int], gamma: np.ndarray, *, min_gamma: float = 0.2) -> float:
    r"""Fit the Gordon-type form :math:`\gamma(m) \approx 1 - \sqrt{k_{\mathrm{eff}}/m}` by least squares.

    With :math:`u = m^{-1/2}` the form is linear in :math:`\sqrt{k_{\mathrm{eff}}}`:
    :math:`\sqrt{k_{\mathrm{eff}}} = \sum u (1 - \gamma) / \sum u^2`, over the
    points with :math:`\gamma \ge` ``min_gamma`` (below it the form's
    :math:`1 - \sqrt{k/m}` goes negative while :math:`\gamma \ge 0`).
    ``gamma`` is ``(M,)``, for example the median over trials. At level 1/2 the
    form gives :math:`m^* = 4k_{\mathrm{eff}}`.
    """
    ms = np.asarray(check_int_list(m_values, "m_values", increasing=True), dtype=float)
    g = np.asarray(gamma, dtype=float)
    if g.shape != ms.shape:
        raise ValueError(f"gamma must have shape ({ms.size},), got {g.shape}")
    use = g >= min_gamma
    if not use.any():
        return float("nan")
    u = 1.0 / np.sqrt(ms[use])
    root = float(np.sum(u * (1.0 - g[use])) / np.sum(u * u))
    return max(root, 0.0) ** 2
