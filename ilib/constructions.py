r"""Lower-bound constructions: generators that contain sparsity, group-sparse generators, and Fano.

Three families of explicit networks, with the estimators that go with them (the sweeps live in
:mod:`ilib.experiments.lower_bounds`, notebook ``05_lower_bounds``).

* :class:`SparsityGenerator`, the network :math:`G_{sp}: \mathbb{R}^{2k} \to \mathbb{R}^n` of Kamath,
  Karmalkar & Price (2020, Thm 2.3 / Lemma 4.1), two hidden layers of widths :math:`4kn` and
  :math:`2kn`, no biases, whose range is exactly the set of vectors with at most ``k`` non-zeros.
  Every 2-D latent block is read in polar form :math:`(t\sin\theta, t\cos\theta)`; the circle is cut
  into :math:`2n` sectors of angle :math:`\alpha = \pi/n` and sector ``s`` (start angle
  :math:`\beta_s = s\alpha`) drives one output coordinate with a tent

  .. math::

      b_s = \mathrm{relu}\Big(\frac{u_{s,1} - 2\cos(\alpha/2)\,u_{s,2}}{\sin(\alpha/2)}\Big),\quad
      u_{s,1} = \mathrm{relu}(t\sin(\theta - \beta_s)),\quad
      u_{s,2} = \mathrm{relu}(t\sin(\theta - \beta_s - \alpha/2)),

  which equals :math:`t` at the sector's centre and 0 outside the sector (the identity
  :math:`\sin u + \sin(u - \alpha) = 2\cos(\alpha/2)\sin(u - \alpha/2)`). Output ``i`` is
  :math:`b_i - b_{n+i}`, summed over the ``k`` blocks.
* :func:`hat_generator` and :func:`sawtooth_generator`, group-sparse generators in the manner of
  Liu & Scarlett (2020): ``k`` copies of a one-input ReLU network acting on separate latent
  coordinates (:class:`GroupGenerator`). The shallow one is a comb of "hat" units
  (one hidden layer, width :math:`w + 2` per group) passing through :math:`\xi e_1, \dots, \xi e_w`,
  so :math:`\log|X| = k\log w`; the deep one composes Telgarsky's tent map and reads one Gray-code
  bit per layer (depth ``d``, width :math:`\le d + 3` per group), passing through all :math:`2^d`
  vertices of :math:`\{\pm\xi\}^d`, so :math:`\log|X| = k d \log 2`.
* :func:`ml_decoding_error` and :func:`fano_lower_bound`: maximum-likelihood decoding of a codeword
  from ``m`` noisy Gaussian measurements, against Fano's inequality

  .. math::

      P_{err} \ge 1 - \frac{\tfrac m2 \log_2(1 + \mathrm{SNR}) + 1}{\log_2 |X|}.

* :func:`gsp_global_minimiser`: the exact global CSGM minimiser over :math:`G_{sp}` by enumerating the
  cells (sectors) of its latent space, and :func:`measured_lipschitz`, a group generator's Lipschitz
  constant read off its linear pieces.

The group-sparse networks here are built for this library from the descriptions in the papers
(no code is public); their constants are ours, not the papers'.

References
----------
A. Kamath, S. Karmalkar, E. Price, "On the Power of Compressed Sensing with Generative Models",
ICML 2020 (arXiv 1912.02938).
Z. Liu, J. Scarlett, "Information-Theoretic Lower Bounds for Compressive Sensing with Generative
Models", IEEE JSAIT 2020 (arXiv 1908.10744).
M. Telgarsky, "Benefits of depth in neural networks", COLT 2016.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Sequence

import numpy as np
import torch

from ._checks import check_in_range, check_nonneg, check_positive, check_positive_int
from .device import DeviceLike, DTypeLike, SeedLike, make_generator, rand, randn, resolve_device, resolve_dtype
from .generators import ReLUGenerator
from .operators import LinearOperator

DEFAULT_MAX_BYTES = 2**31  # 2 GiB: the largest dense construction or activation buffer built without asking


class TooLargeError(ValueError):
    """A construction would need more memory than allowed; the message names the parameters and the size."""


def _available_bytes() -> int | None:
    """Memory the system can give without swapping (``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def _check_bytes(need: float, max_bytes: int | None, what: str) -> None:
    limit = DEFAULT_MAX_BYTES if max_bytes is None else int(max_bytes)
    avail = _available_bytes()
    if avail is not None:
        limit = min(limit, avail)
    if need > limit:
        raise TooLargeError(
            f"{what} needs about {need / 2**30:.2f} GiB, more than the {limit / 2**30:.2f} GiB allowed "
            f"(max_bytes={max_bytes}, available memory {'unknown' if avail is None else f'{avail / 2**30:.1f} GiB'}); "
            "use smaller sizes or pass a larger max_bytes if the machine has the memory"
        )


# =========================================================================== the sparsity network
class SparsityGenerator:
    r"""The sparsity-producing ReLU network :math:`G_{sp}: \mathbb{R}^{2k} \to \mathbb{R}^n` (Kamath et al. 2020).

    .. math::

        G_{sp}(z_1, \dots, z_k) = \sum_{j=1}^k G(z_j), \qquad
        G(z)_i = b_i(z) - b_{n+i}(z),

    with :math:`b_s` the sector tents of the module docstring, :math:`\alpha = \pi/n`. Its range is
    exactly :math:`\{v \in \mathbb{R}^n : \|v\|_0 \le k\}` and its Lipschitz constant is

    .. math::

        L = \frac{\sqrt{k}}{\sin(\pi / 2n)} \approx \frac{2n\sqrt{k}}{\pi}

    (every block's Jacobian is :math:`e_i g^\top` with :math:`\|g\| = 1/\sin(\alpha/2)`; the norm is largest
    when all blocks drive the same coordinate).

    The network has no biases and layer widths ``[2k, 4kn, 2kn, n]``; :meth:`dense` returns it as a
    :class:`~ilib.generators.ReLUGenerator` with explicit (block-diagonal) weights. Evaluation here uses
    the block structure instead, :math:`O(kn)` work per latent rather than :math:`O(k^2 n^2)`.

    Parameters
    ----------
    n : int
        Output dimension.
    k : int
        Sparsity; the latent dimension is ``2k``.
    dtype, device :
        Where the weights live (float64 by default, for exact range checks).
    max_bytes : int, optional
        Memory allowed for any buffer the generator builds (weights, activations, the dense form);
        default 2 GiB, and never more than the memory available.
    """

    def __init__(
        self,
        n: int,
        k: int,
        *,
        dtype: DTypeLike = torch.float64,
        device: DeviceLike = "auto",
        max_bytes: int | None = None,
    ):
        n = check_positive_int(n, "n")
        k = check_positive_int(k, "k")
        if k > n:
            raise ValueError(f"k must be at most n, got k={k} > n={n}")
        self.n, self.k = n, k
        self.max_bytes = max_bytes
        dt = resolve_dtype(dtype)
        item = torch.finfo(dt).bits // 8
        _check_bytes(8 * n * 2 * item, max_bytes, f"the sparsity network's weights for n={n}, k={k}")
        self.alpha = math.pi / n
        s = torch.arange(2 * n, dtype=torch.float64)
        beta = s * self.alpha
        half = beta + self.alpha / 2
        # layer 1, per block: (2n sectors, 2 neurons, 2 inputs); u = relu(cos(b) x1 - sin(b) x2)
        w1 = torch.stack(
            [torch.stack([torch.cos(beta), -torch.sin(beta)], -1), torch.stack([torch.cos(half), -torch.sin(half)], -1)],
            dim=1,
        )
        sa = math.sin(self.alpha / 2)
        self._c = (1.0 / sa, -2.0 * math.cos(self.alpha / 2) / sa)  # layer 2 coefficients of (u1, u2)
        dev = resolve_device(device)
        self.w1 = w1.to(device=dev, dtype=dt)  # (2n, 2, 2)
        self._w1_flat_t = self.w1.reshape(4 * n, 2).t().contiguous()  # (2, 4n)

    # ------------------------------------------------------------------ shape
    @property
    def latent_dim(self) -> int:
        return 2 * self.k

    @property
    def output_dim(self) -> int:
        return self.n

    @property
    def widths(self) -> list[int]:
        return [2 * self.k, 4 * self.k * self.n, 2 * self.k * self.n, self.n]

    @property
    def batch(self) -> int:
        return 1

    @property
    def dtype(self) -> torch.dtype:
        return self.w1.dtype

    @property
    def device(self) -> torch.device:
        return self.w1.device

    # ------------------------------------------------------------------ evaluation
    def _blocks(self, z: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"latent has last dimension {z.shape[-1]}, G_sp takes 2k={self.latent_dim}")
        lead = tuple(z.shape[:-1])
        rows = int(np.prod(lead)) if lead else 1
        # activations kept for autograd: layer 1 (4n), layer 2 (2n), output pieces, per block and row
        need = 3 * rows * self.k * 7 * self.n * z.element_size()
        _check_bytes(need, self.max_bytes, f"evaluating G_sp (n={self.n}, k={self.k}) on {rows} latents")
        return z.reshape(*lead, self.k, 2), lead

    def sector_activations(self, z: torch.Tensor) -> torch.Tensor:
        r"""The second-layer activations :math:`b_s`, shape ``(..., k, 2n)``."""
        zb, _ = self._blocks(z)
        u = torch.relu(zb @ self._w1_flat_t.to(zb.dtype)).unflatten(-1, (2 * self.n, 2))
        return torch.relu(self._c[0] * u[..., 0] + self._c[1] * u[..., 1])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`G_{sp}(z)` for latents of shape ``(..., 2k)``; returns ``(..., n)``."""
        b = self.sector_activations(z)
        return (b[..., : self.n] - b[..., self.n :]).sum(-2)

    __call__ = forward

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        r"""The Jacobian :math:`\partial G_{sp}/\partial z` in closed form, shape ``(..., n, 2k)``.

        .. math::

            \frac{\partial b_s}{\partial z_j} = \mathbb{1}[b_s > 0]\,
            \frac{\mathbb{1}[u_{s,1} > 0]\, w_{s,1} - 2\cos(\alpha/2)\,\mathbb{1}[u_{s,2} > 0]\, w_{s,2}}{\sin(\alpha/2)},

        with :math:`w_{s,\cdot}` the first-layer rows; valid wherever no pre-activation is zero.
        """
        zb, lead = self._blocks(z)
        w1 = self.w1.to(zb.dtype)
        pre = torch.einsum("...jc,sac->...jsa", zb, w1)  # (..., k, 2n, 2)
        u = torch.relu(pre)
        b_pre = self._c[0] * u[..., 0] + self._c[1] * u[..., 1]
        act = (pre > 0).to(zb.dtype)
        coef = torch.stack([self._c[0] * act[..., 0], self._c[1] * act[..., 1]], -1) * (b_pre > 0).to(zb.dtype).unsqueeze(-1)
        grad = torch.einsum("...jsa,sac->...jsc", coef, w1)  # (..., k, 2n, 2)
        jb = grad[..., : self.n, :] - grad[..., self.n :, :]  # (..., k, n, 2)
        return jb.movedim(-3, -2).reshape(*lead, self.n, 2 * self.k)

    # ------------------------------------------------------------------ encoder
    def encode(self, v: torch.Tensor) -> torch.Tensor:
        r"""A latent with :math:`G_{sp}(\mathrm{encode}(v)) = v` for every ``v`` with at most ``k`` non-zeros.

        For the ``j``-th largest entry :math:`v_i` (``i`` counted from 0; largest :math:`|v_i|` first, ties to
        the smaller index) the block is :math:`z_j = t(\sin\theta, \cos\theta)` with :math:`t = |v_i|` and
        :math:`\theta = (i + \tfrac12)\alpha + \pi\,\mathbb{1}[v_i < 0]`, the centre of the sector that drives
        coordinate ``i`` with the right sign. Unused blocks are zero.

        Parameters
        ----------
        v : torch.Tensor
            Shape ``(..., n)``, at most ``k`` non-zeros per row (else a ``ValueError``).
        """
        if v.shape[-1] != self.n:
            raise ValueError(f"v must have last dimension n={self.n}, got shape {tuple(v.shape)}")
        nnz = (v != 0).sum(-1)
        if v.numel() and int(nnz.max()) > self.k:
            raise ValueError(
                f"v must have at most k={self.k} non-zeros per row to lie in the range of G_sp; "
                f"a row has {int(nnz.max())}"
            )
        mag, idx = torch.sort(v.abs(), dim=-1, descending=True, stable=True)
        mag, idx = mag[..., : self.k], idx[..., : self.k]
        val = torch.gather(v, -1, idx)
        theta = (idx.to(v.dtype) + 0.5) * self.alpha + math.pi * (val < 0).to(v.dtype)
        z = torch.stack([mag * torch.sin(theta), mag * torch.cos(theta)], -1)
        return z.reshape(*v.shape[:-1], 2 * self.k)

    # ------------------------------------------------------------------ Lipschitz constants
    def lipschitz_constant(self) -> float:
        r"""The exact Lipschitz constant :math:`\sqrt{k}/\sin(\pi/2n)` (Euclidean norms)."""
        return math.sqrt(self.k) / math.sin(self.alpha / 2)

    def _block_matrices(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = self.n
        w1 = self.w1.reshape(4 * n, 2)
        w2 = torch.zeros(2 * n, 4 * n, dtype=self.dtype, device=self.device)
        r = torch.arange(2 * n, device=self.device)
        w2[r, 2 * r] = self._c[0]
        w2[r, 2 * r + 1] = self._c[1]
        eye = torch.eye(n, dtype=self.dtype, device=self.device)
        p = torch.cat([eye, -eye], 1)  # (n, 2n)
        return w1, w2, p

    def lipschitz_upper_bound(self) -> float:
        r"""The crude bound :math:`\prod_i \|W_i\|_2` of the dense network, from its blocks.

        ``W_1`` and ``W_2`` are block-diagonal (norm of one block); :math:`W_3 = [P, \dots, P]`
        has norm :math:`\sqrt{k}\,\|P\|_2`.
        """
        w1, w2, p = self._block_matrices()
        norms = [torch.linalg.matrix_norm(w, ord=2).item() for w in (w1, w2, p)]
        return norms[0] * norms[1] * norms[2] * math.sqrt(self.k)

    # ------------------------------------------------------------------ the dense network
    @staticmethod
    def dense_bytes(n: int, k: int, dtype: DTypeLike = torch.float64) -> int:
        r"""Bytes of the dense weights: :math:`8k^2n + 8k^2n^2 + 2kn^2` entries, stored twice (a
        :class:`~ilib.generators.ReLUGenerator` also keeps them transposed)."""
        item = torch.finfo(resolve_dtype(dtype)).bits // 8
        entries = 8 * k * k * n + 8 * k * k * n * n + 2 * k * n * n
        return 2 * entries * item

    def dense(self, *, max_bytes: int | None = None) -> ReLUGenerator:
        r"""The same network as a bias-free :class:`~ilib.generators.ReLUGenerator` with explicit weights.

        Weights: :math:`W_1 = I_k \otimes W_1^{(1)}` (``4kn x 2k``), :math:`W_2 = I_k \otimes W_2^{(1)}`
        (``2kn x 4kn``), :math:`W_3 = 1_k^\top \otimes [I_n, -I_n]` (``n x 2kn``), linear last layer.
        Memory grows like :math:`k^2 n^2`; sizes above ``max_bytes`` (default: the generator's) are
        refused with a :class:`TooLargeError` before anything is allocated.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        _check_bytes(
            self.dense_bytes(self.n, self.k, self.dtype),
            limit,
            f"the dense G_sp for n={self.n}, k={self.k} (weights of sizes {self.widths})",
        )
        w1, w2, p = self._block_matrices()
        eye_k = torch.eye(self.k, dtype=self.dtype, device=self.device)
        W1 = torch.kron(eye_k, w1)
        W2 = torch.kron(eye_k, w2)
        W3 = p.repeat(1, self.k)
        return ReLUGenerator([W1, W2, W3], output_relu=False)

    def __repr__(self) -> str:
        return f"SparsityGenerator(n={self.n}, k={self.k}, widths={self.widths}, dtype={self.dtype})"


def encode_sparse(v: torch.Tensor, k: int) -> torch.Tensor:
    r"""The latent of :math:`G_{sp}` (``n = v.shape[-1]``, sparsity ``k``) that generates ``v``: :meth:`SparsityGenerator.encode`.

    ``v`` has shape ``(..., n)`` and at most ``k`` non-zeros per row; returns ``(..., 2k)``.
    """
    return SparsityGenerator(v.shape[-1], k, dtype=v.dtype, device=v.device).encode(v)


def wide_range_sparse(
    batch: int,
    n: int,
    k: int,
    *,
    low: float = 0.1,
    high: float = 10.0,
    seed: SeedLike = 0,
    dtype: DTypeLike = torch.float64,
    device: DeviceLike = "auto",
) -> torch.Tensor:
    r"""``batch`` vectors with exactly ``k`` non-zeros at uniform positions, random signs and
    magnitudes log-uniform on ``[low, high]``."""
    batch, n, k = check_positive_int(batch, "batch"), check_positive_int(n, "n"), check_positive_int(k, "k")
    if k > n:
        raise ValueError(f"k must be at most n, got k={k} > n={n}")
    if not 0 < low <= high:
        raise ValueError(f"need 0 < low <= high, got low={low}, high={high}")
    g = make_generator(seed)
    u = rand(batch, k, generator=g, dtype=torch.float64, device="cpu")
    mag = torch.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    sign = torch.where(rand(batch, k, generator=g, dtype=torch.float64, device="cpu") < 0.5, -1.0, 1.0)
    pos = rand(batch, n, generator=g, dtype=torch.float64, device="cpu").argsort(-1)[:, :k]
    v = torch.zeros(batch, n, dtype=torch.float64)
    v.scatter_(1, pos, mag * sign)
    return v.to(device=resolve_device(device), dtype=resolve_dtype(dtype))


def lipschitz_estimate(
    gen: SparsityGenerator,
    *,
    samples: int = 2000,
    step: float = 1e-7,
    seed: SeedLike = 0,
) -> dict:
    r"""Estimate the Lipschitz constant of ``gen`` from below and compare it with the analytic value.

    Three estimates, each a lower bound on :math:`L`:

    * ``jacobian_random``: :math:`\max \|J(z)\|_2` over standard normal latents;
    * ``jacobian_aligned``: the same over latents whose ``k`` blocks share one angle (so all blocks drive
      the same output coordinate, where the analytic maximum is attained);
    * ``difference_quotient``: :math:`\max \|G(z) - G(z')\|/\|z - z'\|` over random nearby pairs.

    ``estimate`` is the largest of them; ``analytic`` is :meth:`SparsityGenerator.lipschitz_constant` and
    ``product_bound`` the crude :math:`\prod\|W_i\|_2`.
    """
    g = make_generator(seed)
    dt, dev = gen.dtype, gen.device
    k = gen.k
    z = randn(samples, 2 * k, generator=g, dtype=dt, device=dev)
    jr = torch.linalg.matrix_norm(gen.jacobian(z), ord=2)
    theta = 2 * math.pi * rand(samples, 1, generator=g, dtype=dt, device=dev)
    t = 0.1 + rand(samples, k, generator=g, dtype=dt, device=dev)
    za = torch.stack([t * torch.sin(theta), t * torch.cos(theta)], -1).reshape(samples, 2 * k)
    ja = torch.linalg.matrix_norm(gen.jacobian(za), ord=2)
    d = randn(samples, 2 * k, generator=g, dtype=dt, device=dev)
    d = step * d / d.norm(dim=-1, keepdim=True)
    zz = torch.cat([z, za])
    dd = torch.cat([d, d])
    dq = (gen(zz + dd) - gen(zz)).norm(dim=-1) / dd.norm(dim=-1)
    est = max(jr.max().item(), ja.max().item(), dq.max().item())
    return {
        "analytic": gen.lipschitz_constant(),
        "per_block": 1.0 / math.sin(gen.alpha / 2),
        "jacobian_random": jr.max().item(),
        "jacobian_random_all": jr,
        "jacobian_aligned": ja.max().item(),
        "difference_quotient": dq.max().item(),
        "estimate": est,
        "product_bound": gen.lipschitz_upper_bound(),
    }


# =========================================================================== group-sparse generators
class GroupGenerator:
    r"""``k`` copies of a one-input ReLU network :math:`g: \mathbb{R} \to \mathbb{R}^p` on separate latents.

    .. math::

        G(z_1, \dots, z_k) = \big(g(z_1), \dots, g(z_k)\big) \in \mathbb{R}^{kp},\qquad
        g(u) = W_L\,\mathrm{relu}(\cdots \mathrm{relu}(W_1 u + b_1) \cdots) + b_L,

    the group-sparse construction of Liu & Scarlett (2020). As one network on :math:`\mathbb{R}^k` it has
    block-diagonal weights, widths ``k`` times the group widths, and biases.

    Parameters
    ----------
    layers : sequence of (W, b)
        The group network's affine layers, ``W`` of shape ``(out, in)`` with ``in = 1`` first; ReLU
        between layers, none after the last.
    k : int
        Number of groups (the latent dimension).
    centres : torch.Tensor
        The latents :math:`u_1 < \dots < u_N` at which ``g`` passes through its intended points.
    points : torch.Tensor
        The intended points :math:`g(u_i)`, shape ``(N, p)``.
    lipschitz : float
        The analytic Lipschitz constant of ``G`` (Euclidean norms).
    name : str
    """

    def __init__(
        self,
        layers: Sequence[tuple[torch.Tensor, torch.Tensor]],
        k: int,
        *,
        centres: torch.Tensor,
        points: torch.Tensor,
        lipschitz: float,
        name: str = "group",
    ):
        if len(layers) < 1:
            raise ValueError("layers must hold at least one (W, b) pair")
        if layers[0][0].shape[1] != 1:
            raise ValueError(f"the group network takes one input; layers[0] has W of shape {tuple(layers[0][0].shape)}")
        for i in range(1, len(layers)):
            if layers[i][0].shape[1] != layers[i - 1][0].shape[0]:
                raise ValueError(f"layers[{i}] takes {layers[i][0].shape[1]} inputs, layer {i - 1} gives {layers[i - 1][0].shape[0]}")
        self.layers = [(W, b) for W, b in layers]
        self.k = check_positive_int(k, "k")
        self.centres = centres
        self.points = points
        self._lipschitz = float(lipschitz)
        self.name = name

    @property
    def group_dim(self) -> int:
        return self.layers[-1][0].shape[0]

    @property
    def latent_dim(self) -> int:
        return self.k

    @property
    def output_dim(self) -> int:
        return self.k * self.group_dim

    @property
    def batch(self) -> int:
        return 1

    @property
    def depth(self) -> int:
        """Number of hidden layers."""
        return len(self.layers) - 1

    @property
    def group_widths(self) -> list[int]:
        return [1] + [W.shape[0] for W, _ in self.layers]

    @property
    def widths(self) -> list[int]:
        return [self.k * w for w in self.group_widths]

    @property
    def dtype(self) -> torch.dtype:
        return self.layers[0][0].dtype

    @property
    def device(self) -> torch.device:
        return self.layers[0][0].device

    def group(self, u: torch.Tensor) -> torch.Tensor:
        """The group network ``g`` on scalar latents of shape ``(...)``; returns ``(..., p)``."""
        h = u.unsqueeze(-1)
        last = len(self.layers) - 1
        for i, (W, b) in enumerate(self.layers):
            h = h @ W.t().to(h.dtype) + b.to(h.dtype)
            if i < last:
                h = torch.relu(h)
        return h

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`G(z)` for latents ``(..., k)``; returns ``(..., k p)``."""
        if z.shape[-1] != self.k:
            raise ValueError(f"latent has last dimension {z.shape[-1]}, the generator takes k={self.k}")
        return self.group(z).flatten(-2)

    __call__ = forward

    def lipschitz_constant(self) -> float:
        return self._lipschitz

    def codebook(self, *, max_size: int = 2**16) -> torch.Tensor:
        r"""All :math:`N^k` outputs :math:`G(u_{i_1}, \dots, u_{i_k})` at the centres, shape ``(N^k, kp)``.

        This is the finite set :math:`X` of the lower-bound argument; it is computed by running the
        network, so it contains only what the network really produces.
        """
        N = self.centres.shape[0]
        size = N**self.k
        if size > max_size:
            raise TooLargeError(f"the codebook has N^k = {N}^{self.k} = {size} codewords, more than max_size={max_size}")
        grid = torch.cartesian_prod(*([self.centres] * self.k)).reshape(size, self.k)
        return self(grid)

    def __repr__(self) -> str:
        return f"GroupGenerator({self.name}, k={self.k}, group widths={self.group_widths})"


def hat_generator(
    w: int,
    k: int = 1,
    *,
    xi: float = 1.0,
    radius: float = 1.0,
    dtype: DTypeLike = torch.float64,
    device: DeviceLike = "auto",
) -> GroupGenerator:
    r"""The shallow, wide group-sparse generator: one hidden layer of hat units per group.

    With spacing :math:`h = 2r/w`, centres :math:`c_i = -r + (i - \tfrac12)h` (:math:`i = 1..w`) and knots
    :math:`c_0, \dots, c_{w+1}`, output ``i`` of a group is

    .. math::

        g(u)_i = \frac{\xi}{h}\big(\mathrm{relu}(u - c_{i-1}) - 2\,\mathrm{relu}(u - c_i) + \mathrm{relu}(u - c_{i+1})\big),

    a hat of height :math:`\xi` at :math:`c_i`, so :math:`g(c_i) = \xi e_i` and ``g`` interpolates linearly
    between consecutive :math:`\xi e_i`. Width :math:`w + 2` per group, :math:`k(w + 2)` in all; the range
    holds the :math:`w^k` group-sparse vectors with one entry :math:`\xi` per group, and
    :math:`L = \sqrt2\,\xi/h = \xi w/(\sqrt2 r)` (Liu & Scarlett 2020, Sec. III, constants ours).
    """
    w = check_positive_int(w, "w")
    k = check_positive_int(k, "k")
    xi, radius = check_positive(xi, "xi"), check_positive(radius, "radius")
    h = 2 * radius / w
    knots = -radius + (torch.arange(w + 2, dtype=torch.float64) - 0.5) * h  # c_0 .. c_{w+1}
    W1 = torch.ones(w + 2, 1, dtype=torch.float64)
    b1 = -knots
    W2 = torch.zeros(w, w + 2, dtype=torch.float64)
    r = torch.arange(w)
    W2[r, r] = xi / h
    W2[r, r + 1] = -2 * xi / h
    W2[r, r + 2] = xi / h
    b2 = torch.zeros(w, dtype=torch.float64)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    layers = [(W1.to(dev, dt), b1.to(dev, dt)), (W2.to(dev, dt), b2.to(dev, dt))]
    centres = knots[1:-1].to(dev, dt)
    points = xi * torch.eye(w, dtype=dt, device=dev)
    lip = (math.sqrt(2) if w > 1 else 1.0) * xi / h
    return GroupGenerator(layers, k, centres=centres, points=points, lipschitz=lip, name=f"hat(w={w})")


def _gray_bits(depth: int) -> torch.Tensor:
    j = torch.arange(2**depth)
    gray = j ^ (j >> 1)
    shifts = torch.arange(depth - 1, -1, -1)
    return ((gray.unsqueeze(-1) >> shifts) & 1).to(torch.float64)  # (2^d, d), most significant first


def sawtooth_generator(
    depth: int,
    k: int = 1,
    *,
    xi: float = 1.0,
    dtype: DTypeLike = torch.float64,
    device: DeviceLike = "auto",
) -> GroupGenerator:
    r"""The deep, narrow group-sparse generator: Telgarsky's tent map composed ``depth`` times.

    With the tent :math:`T(v) = 2\,\mathrm{relu}(v) - 4\,\mathrm{relu}(v - \tfrac12)` and
    :math:`S_\ell = T^{\circ \ell}` (:math:`S_0(u) = u`), layer :math:`\ell` reads one bit with a steep clipped ramp

    .. math::

        \beta_\ell(u) = \mathrm{relu}\big(c_\ell(S_{\ell-1}(u) - \tfrac12) + \tfrac12\big)
                      - \mathrm{relu}\big(c_\ell(S_{\ell-1}(u) - \tfrac12) - \tfrac12\big),\qquad
        c_\ell = 2^{d - \ell + 2},

    carries the bits read so far, and the output is :math:`g(u) = \xi(2\beta(u) - 1) \in \mathbb{R}^d`.
    At the centres :math:`u_j = (j + \tfrac12)/2^d` the bits are the Gray code of ``j`` exactly, so ``g``
    walks through all :math:`2^d` vertices of :math:`\{\pm\xi\}^d`, one coordinate flip per step; the
    range of ``k`` groups holds :math:`2^{kd}` such vectors, :math:`\log|X| = kd\log 2`, with ``d``
    hidden layers of width at most :math:`d + 3` per group. Only one ramp is steep at a time, so
    :math:`L = \xi\,2^{d+2}` and :math:`\log L = \Theta(d)` (after Liu & Scarlett 2020, Sec. IV;
    construction and constants ours).
    """
    d = check_positive_int(depth, "depth")
    k = check_positive_int(k, "k")
    xi = check_positive(xi, "xi")
    f64 = torch.float64
    layers: list[tuple[torch.Tensor, torch.Tensor]] = []
    # state after a hidden layer: [tent p1, tent p2 (absent in the last layer), ramp q1, q2, carried bits...]
    # S = 2 p1 - 4 p2, newest bit = q1 - q2
    prev_has_tent, prev_bits = False, 0  # layer 0 is the input u itself
    for ell in range(1, d + 1):
        c = 2.0 ** (d - ell + 2)
        tent = ell < d
        n_in = 1 if ell == 1 else (2 if prev_has_tent else 0) + 2 + prev_bits
        # S_{ell-1} as a linear form of the previous layer
        s_row = torch.zeros(n_in, dtype=f64)
        if ell == 1:
            s_row[0] = 1.0
        else:
            s_row[0], s_row[1] = 2.0, -4.0
        rows, bias = [], []
        if tent:
            rows += [s_row, s_row]
            bias += [0.0, -0.5]
        rows += [c * s_row, c * s_row]
        bias += [-c / 2 + 0.5, -c / 2 - 0.5]
        if ell > 1:
            off = 2 if prev_has_tent else 0
            new_bit = torch.zeros(n_in, dtype=f64)
            new_bit[off], new_bit[off + 1] = 1.0, -1.0
            rows.append(new_bit)
            bias.append(0.0)
            for j in range(prev_bits):
                carry = torch.zeros(n_in, dtype=f64)
                carry[off + 2 + j] = 1.0
                rows.append(carry)
                bias.append(0.0)
        layers.append((torch.stack(rows), torch.tensor(bias, dtype=f64)))
        prev_bits = 0 if ell == 1 else prev_bits + 1
        prev_has_tent = tent
    # output: bits in order 1..d; the last layer holds [q1, q2, bit_{d-1}, bit_1, ..., bit_{d-2}]
    n_in = 2 + prev_bits
    Wout = torch.zeros(d, n_in, dtype=f64)
    Wout[d - 1, 0], Wout[d - 1, 1] = 2 * xi, -2 * xi
    # carried bits: position 2 holds bit_{d-1}, then bits carried from earlier layers, oldest last
    order = list(range(d - 1, 0, -1))  # bit indices (1-based) held at positions 2, 3, ...
    for pos, bit in enumerate(order):
        Wout[bit - 1, 2 + pos] = 2 * xi
    bout = torch.full((d,), -xi, dtype=f64)
    layers.append((Wout, bout))
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    layers = [(W.to(dev, dt), b.to(dev, dt)) for W, b in layers]
    centres = ((torch.arange(2**d, dtype=f64) + 0.5) / 2**d).to(dev, dt)
    points = (xi * (2 * _gray_bits(d) - 1)).to(dev, dt)
    return GroupGenerator(layers, k, centres=centres, points=points, lipschitz=xi * 2.0 ** (d + 2), name=f"sawtooth(d={d})")


def tent_composition(depth: int, *, dtype: DTypeLike = torch.float64, device: DeviceLike = "auto") -> GroupGenerator:
    r"""Telgarsky's sawtooth :math:`S_d = T^{\circ d}`, :math:`T(v) = 2\,\mathrm{relu}(v) - 4\,\mathrm{relu}(v - \tfrac12)`,
    as a width-2, depth-``d`` ReLU network on one input; it has :math:`2^d` linear pieces on ``[0, 1]``."""
    d = check_positive_int(depth, "depth")
    f64 = torch.float64
    layers = [(torch.tensor([[1.0], [1.0]], dtype=f64), torch.tensor([0.0, -0.5], dtype=f64))]
    for _ in range(d - 1):
        layers.append((torch.tensor([[2.0, -4.0], [2.0, -4.0]], dtype=f64), torch.tensor([0.0, -0.5], dtype=f64)))
    layers.append((torch.tensor([[2.0, -4.0]], dtype=f64), torch.zeros(1, dtype=f64)))
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    layers = [(W.to(dev, dt), b.to(dev, dt)) for W, b in layers]
    c = torch.tensor([0.5], dtype=dt, device=dev)
    return GroupGenerator(layers, 1, centres=c, points=torch.ones(1, 1, dtype=dt, device=dev), lipschitz=2.0**d, name=f"tent^{d}")


def linear_pieces(gen: GroupGenerator, lo: float, hi: float, *, rtol: float = 1e-9) -> int:
    r"""The number of maximal intervals of ``[lo, hi]`` on which the group network ``g`` is affine.

    Exact up to rounding: every breakpoint of a one-input ReLU network is a zero of some pre-activation,
    and each pre-activation is affine between the breakpoints of the layers below. So the zeros are found
    layer by layer (by linear interpolation inside each piece), and adjacent pieces with the same slope
    (to ``rtol``) are merged. A one-hidden-layer network with ``N`` units has at most ``N + 1`` pieces;
    the tent composition of depth ``d`` has :math:`2^d` on ``[0, 1]`` (Telgarsky 2016).
    """
    if not hi > lo:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    pts = _breakpoints(gen, lo, hi)
    out = gen.group(torch.as_tensor(pts, dtype=torch.float64, device=gen.device).to(gen.dtype)).cpu().double().numpy()
    slopes = np.diff(out, axis=0) / np.diff(pts)[:, None]
    scale = max(np.abs(slopes).max(), 1e-300)
    change = np.abs(np.diff(slopes, axis=0)).max(axis=1) > rtol * scale
    return int(1 + change.sum())


def _breakpoints(gen: GroupGenerator, lo: float, hi: float) -> np.ndarray:
    """``lo``, ``hi`` and every zero of a pre-activation of the group network in between, sorted."""
    pts = np.array([lo, hi], dtype=np.float64)
    layers = [(W.detach().cpu().double().numpy(), b.detach().cpu().double().numpy()) for W, b in gen.layers]
    for depth in range(len(layers) - 1):
        h = pts[:, None]
        for i in range(depth + 1):
            W, b = layers[i]
            pre = h @ W.T + b
            h = np.maximum(pre, 0) if i < depth else pre
        a, c = h[:-1], h[1:]  # pre-activations of this layer at consecutive breakpoints
        cross = (a * c) < 0
        ii, jj = np.nonzero(cross)
        frac = a[ii, jj] / (a[ii, jj] - c[ii, jj])
        roots = pts[ii] + frac * (pts[ii + 1] - pts[ii])
        pts = np.unique(np.concatenate([pts, roots]))
    return pts


# =========================================================================== Fano and ML decoding
def random_codebook(b: int, n: int, *, seed: SeedLike = 0, dtype: DTypeLike = torch.float64, device: DeviceLike = "auto") -> torch.Tensor:
    r""":math:`2^b` distinct codewords with iid entries :math:`\pm 1/\sqrt n` (unit norm), shape ``(2^b, n)``.

    Repeated draws are redrawn, so the codebook has exactly :math:`2^b` elements (needs ``b <= n``).
    """
    b, n = check_positive_int(b, "b"), check_positive_int(n, "n")
    if b > 24:
        raise TooLargeError(f"b={b} gives 2^b codewords; at most b=24 is supported")
    if b > n:
        raise ValueError(f"2^b distinct sign vectors need b <= n, got b={b} > n={n}")
    g = make_generator(seed)
    signs = torch.where(rand(2**b, n, generator=g, dtype=torch.float64, device="cpu") < 0.5, -1.0, 1.0)
    while True:  # redraw repeated codewords, so that |X| = 2^b exactly
        _, inverse = torch.unique(signs, dim=0, return_inverse=True)
        first = torch.full((2**b,), 2**b, dtype=torch.long).scatter_reduce(0, inverse, torch.arange(2**b), "amin")
        repeat = first[inverse] != torch.arange(2**b)
        if not bool(repeat.any()):
            break
        r = int(repeat.sum())
        signs[repeat] = torch.where(rand(r, n, generator=g, dtype=torch.float64, device="cpu") < 0.5, -1.0, 1.0)
    return (signs / math.sqrt(n)).to(device=resolve_device(device), dtype=resolve_dtype(dtype))


def fano_lower_bound(m, log2_size: float, snr: float) -> np.ndarray:
    r"""Fano's lower bound on the error of any decoder of a uniform codeword from ``m`` measurements.

    .. math::

        P_{err} \ge 1 - \frac{\tfrac m2 \log_2(1 + \mathrm{SNR}) + 1}{\log_2|X|},

    using :math:`I(X; Y \mid A) \le \tfrac m2\log_2(1 + \mathbb{E}\|x\|^2/\sigma^2)` for rows
    :math:`a_i \sim \mathcal{N}(0, I_n)` and noise :math:`\mathcal{N}(0, \sigma^2)`, so
    :math:`\mathrm{SNR} = \mathbb{E}\|x\|^2/\sigma^2` (Liu & Scarlett 2020; Cover & Thomas, Thm 2.10.1).
    Clipped at 0.
    """
    log2_size = check_positive(log2_size, "log2_size")
    if snr < 0:
        raise ValueError(f"snr must be non-negative, got snr={snr}")
    m = np.asarray(m, dtype=float)
    return np.maximum(0.0, 1.0 - (0.5 * m * math.log2(1.0 + snr) + 1.0) / log2_size)


def fano_m(log2_size, snr: float, p_err: float = 0.5) -> np.ndarray:
    r"""The ``m`` below which Fano forces :math:`P_{err} > p`: :math:`m = 2((1 - p)\log_2|X| - 1)/\log_2(1 + \mathrm{SNR})`."""
    check_in_range(p_err, "p_err", 0, 1, hi_open=True)
    if not snr > 0:
        raise ValueError(f"snr must be positive, got snr={snr}")
    s = np.asarray(log2_size, dtype=float)
    return np.maximum(0.0, 2 * ((1 - p_err) * s - 1) / math.log2(1 + snr))


def ml_decoding_error(
    codebook: torch.Tensor,
    m_values: Sequence[int],
    *,
    noise_std: float = 1.0,
    trials: int = 200,
    seed: SeedLike = 0,
    max_bytes: int = 2**28,
) -> dict:
    r"""Error rate of maximum-likelihood decoding of a uniform codeword from ``m`` Gaussian measurements.

    For each trial a codeword :math:`x \in X` is drawn uniformly, :math:`A` has iid :math:`\mathcal{N}(0, 1)`
    entries and :math:`y = A x + \eta`, :math:`\eta \sim \mathcal{N}(0, \sigma^2 I)`. The ML decoder is the
    nearest codeword, :math:`\hat x = \arg\min_{x' \in X} \|y - A x'\|`. The ``m`` values use nested
    prefixes of the same rows, so all of them cost one pass over :math:`\max m` rows; trials are
    processed in chunks of at most ``max_bytes`` of scores.

    Returns
    -------
    dict with ``m`` (sorted), ``error`` (rate per m), ``wrong`` (counts), ``trials``, ``log2_size``,
    ``snr`` (:math:`\mathbb{E}\|x\|^2/\sigma^2` over the codebook) and ``fano`` (the bound per m).
    """
    if codebook.dim() != 2:
        raise ValueError(f"codebook must have shape (M, n), got {tuple(codebook.shape)}")
    M, n = codebook.shape
    if M < 2:
        raise ValueError(f"codebook must hold at least 2 codewords, got {M}")
    ms = sorted({check_positive_int(m, "m") for m in m_values})
    trials = check_positive_int(trials, "trials")
    noise_std = check_nonneg(noise_std, "noise_std")
    X = codebook
    dt, dev = X.dtype, X.device
    g = make_generator(seed)
    m_max = ms[-1]
    idx = torch.randint(M, (trials,), generator=g).to(dev)
    A = randn(trials, m_max, n, generator=g, dtype=dt, device=dev)
    eta = noise_std * randn(trials, m_max, generator=g, dtype=dt, device=dev)
    y = (A @ X[idx].unsqueeze(-1)).squeeze(-1) + eta
    # scores ||y - A x'||^2 for every prefix of rows: one GEMM per chunk of trials, then a cumulative sum
    chunk = max(1, int(max_bytes // (3 * m_max * M * X.element_size())))
    cols = torch.as_tensor([m - 1 for m in ms], device=dev)
    wrong = torch.zeros(len(ms), dtype=torch.long)
    for t0 in range(0, trials, chunk):
        sl = slice(t0, min(trials, t0 + chunk))
        c = sl.stop - sl.start
        P = (A[sl].reshape(c * m_max, n) @ X.t()).reshape(c, m_max, M)
        P.sub_(y[sl].unsqueeze(-1)).square_()
        S = torch.cumsum(P, dim=1).index_select(1, cols)  # (c, len(ms), M)
        del P
        wrong += (S.argmin(-1) != idx[sl].unsqueeze(-1)).sum(0).cpu()
    snr = float((X.double() ** 2).sum(-1).mean()) / noise_std**2 if noise_std > 0 else math.inf
    log2_size = math.log2(M)
    err = (wrong.double() / trials).numpy()
    return {
        "m": np.array(ms),
        "error": err,
        "wrong": wrong.numpy(),
        "trials": trials,
        "log2_size": log2_size,
        "snr": snr,
        "fano": fano_lower_bound(ms, log2_size, snr) if math.isfinite(snr) else np.zeros(len(ms)),
    }


# =========================================================================== the global CSGM minimiser over G_sp
def gsp_global_minimiser(
    operator: LinearOperator, y: torch.Tensor, k: int, *, chunk: int = 4096
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The exact global minimiser of the CSGM loss :math:`\|y - A G_{sp}(z)\|` over :math:`z \in \mathbb{R}^{2k}`.

    The latent space of :math:`G_{sp}` splits into cells: each block :math:`z_j` lies in one of the
    :math:`2n` sectors, and on a cell the network is linear, block :math:`j` giving
    :math:`\pm c_j e_{i_j}` with :math:`c_j \ge 0` (sign and coordinate set by the sector). Minimising over
    every cell (a non-negative least-squares problem per cell) gives the global minimum. Cells that drive
    the same coordinates with the same signs have the same range, and every sign is available (a positive
    and a negative sector per coordinate), so the minimum over the cells of a coordinate set :math:`T`,
    :math:`|T| \le k`, is unconstrained least squares on the columns :math:`A_T`, whose solution's signs
    pick the cell. Hence

    .. math::

        \min_z \|y - A G_{sp}(z)\|^2 = \min_{|T| = k} \min_{x_T} \|y - A_T x_T\|^2,

    enumerated here over the :math:`\binom{n}{k}` supports (sets of size ``k`` contain every smaller
    one), batched over instances and chunks of supports. It needs :math:`m \ge k` (else every support
    fits exactly). This is the minimiser Bora et al.'s theorem speaks of (Kamath, Karmalkar & Price 2020,
    Thm 2.3, for the network); the tests check it against an enumeration of all :math:`(2n)^k` cells.

    Parameters
    ----------
    operator : LinearOperator
        ``B`` operators of shape ``m x n``.
    y : torch.Tensor
        Measurements ``(B, m)``.
    k : int
        The network's sparsity (latent dimension ``2k``).

    Returns
    -------
    (residual (B,), x (B, n), z (B, 2k))
        The minimum of :math:`\|y - Ax\|`, the minimiser :math:`\hat x = G_{sp}(\hat z)` and a latent
        :math:`\hat z` (:meth:`SparsityGenerator.encode`).
    """
    k = check_positive_int(k, "k")
    A = operator.matrix()
    B, m, n = A.shape
    if k > n:
        raise ValueError(f"k must be at most n={n}, got k={k}")
    if m < k:
        raise ValueError(f"operator must have at least k={k} rows (m >= k), got m={m}")
    if y.dim() != 2 or y.shape != (B, m):
        raise ValueError(f"y must have shape ({B}, {m}), got {tuple(y.shape)}")
    chunk = check_positive_int(chunk, "chunk")
    count = math.comb(n, k)
    _check_bytes(chunk * B * (m + k) * k * 8 * 4, None, f"the support enumeration (B={B}, m={m}, k={k}, chunk={chunk})")
    Ad, yd = A.double(), y.double()
    best = torch.full((B,), math.inf, dtype=torch.float64, device=A.device)
    best_T = torch.zeros(B, k, dtype=torch.long, device=A.device)
    best_c = torch.zeros(B, k, dtype=torch.float64, device=A.device)
    yy = (yd * yd).sum(-1)
    combos = itertools.combinations(range(n), k)
    for _ in range(0, count, chunk):
        T = torch.tensor(list(itertools.islice(combos, chunk)), dtype=torch.long, device=A.device)  # (C, k)
        AT = Ad[:, :, T].permute(0, 2, 1, 3)  # (B, C, m, k)
        gram = AT.transpose(-1, -2) @ AT
        rhs = (AT * yd[:, None, :, None]).sum(-2)  # (B, C, k)
        ridge = 1e-13 * gram.diagonal(dim1=-2, dim2=-1).sum(-1, keepdim=True).unsqueeze(-1)
        c = torch.linalg.solve(gram + ridge * torch.eye(k, dtype=torch.float64, device=A.device), rhs.unsqueeze(-1)).squeeze(-1)
        res2 = yy[:, None] - (rhs * c).sum(-1)
        v, j = res2.min(dim=1)
        better = v < best
        best = torch.where(better, v, best)
        best_T = torch.where(better[:, None], T[j], best_T)
        best_c = torch.where(better[:, None], c[torch.arange(B, device=A.device), j], best_c)
    x = torch.zeros(B, n, dtype=torch.float64, device=A.device).scatter_(1, best_T, best_c).to(A.dtype)
    z = SparsityGenerator(n, k, dtype=A.dtype, device=A.device).encode(x)
    resid = (operator(x.unsqueeze(1)).squeeze(1) - y).norm(dim=-1)  # at the minimiser, free of the cancellation in res2
    return resid, x, z


def measured_lipschitz(gen: GroupGenerator, lo: float, hi: float) -> float:
    r"""The Lipschitz constant of a group generator, read off its linear pieces on ``[lo, hi]``.

    ``G`` is block diagonal in the groups, so :math:`L(G) = L(g) = \max_{\text{pieces}} \|g(u_{i+1}) -
    g(u_i)\| / (u_{i+1} - u_i)` over consecutive breakpoints of the group network ``g`` (found as in
    :func:`linear_pieces`): exact for a piecewise-linear ``g`` up to rounding.
    """
    if not hi > lo:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    pts = _breakpoints(gen, lo, hi)
    out = gen.group(torch.as_tensor(pts, dtype=torch.float64, device=gen.device).to(gen.dtype)).cpu().double().numpy()
    return float((np.linalg.norm(np.diff(out, axis=0), axis=1) / np.diff(pts)).max())


__all__ = [
    "TooLargeError",
    "SparsityGenerator",
    "encode_sparse",
    "wide_range_sparse",
    "lipschitz_estimate",
    "GroupGenerator",
    "hat_generator",
    "sawtooth_generator",
    "tent_composition",
    "linear_pieces",
    "random_codebook",
    "fano_lower_bound",
    "fano_m",
    "ml_decoding_error",
    "gsp_global_minimiser",
    "measured_lipschitz",
]
