r"""Random and linear generators, batched over independent networks.

A :class:`ReLUGenerator` holds ``B`` independent networks

.. math::

    G_b(z) = \mathrm{relu}(W_{b,d} \cdots \mathrm{relu}(W_{b,1} z)),
    \qquad W_{b,i} \in \mathbb{R}^{n_i \times n_{i-1}},

with no biases (Hand & Voroninski 2018; Bora et al. 2017, Thm 1.1). Random
networks draw :math:`(W_{b,i})_{jl} \sim \mathcal{N}(0, \mathrm{gain}/n_i)` iid;
``gain=1`` is the Hand–Voroninski scaling (so :math:`\|G(z)\|^2 \approx \|z\|^2/2^d`)
and ``gain=2`` the norm-preserving scaling of Heckel et al. (2019).

Latents have shape ``(B, ..., k)`` and outputs ``(B, ..., n)``: network ``b``
acts on every latent in slice ``b``. A generator with ``B = 1`` is shared by
any number of latent batches.
"""

from __future__ import annotations

from typing import Sequence

import torch

from ._checks import check_int_list, check_positive, check_positive_int
from .device import DeviceLike, DTypeLike, SeedLike, batched_matmul, make_generator, randn, resolve_device, resolve_dtype


def _check_widths(widths: Sequence[int]) -> list[int]:
    widths = check_int_list(widths, "widths")
    if len(widths) < 2:
        raise ValueError(f"widths must list at least an input and an output width, got {widths}")
    return widths


class WeightStack:
    """Shapes, dtype and device of a network stored as weight matrices ``(..., n_out, n_in)``, batched or not.

    Subclasses set ``weights`` (a list, input layer first); a leading batch axis, where present, is ``batch``.
    """

    weights: list

    @property
    def widths(self) -> list[int]:
        return [self.weights[0].shape[-1]] + [w.shape[-2] for w in self.weights]

    @property
    def latent_dim(self) -> int:
        return self.weights[0].shape[-1]

    @property
    def output_dim(self) -> int:
        return self.weights[-1].shape[-2]

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def dtype(self) -> torch.dtype:
        return self.weights[0].dtype

    @property
    def device(self) -> torch.device:
        return self.weights[0].device

    def _target(self, dtype: DTypeLike, device: DeviceLike) -> tuple[torch.dtype, torch.device]:
        """The dtype and device of :meth:`to`: the current ones where not given."""
        return (self.dtype if dtype is None else resolve_dtype(dtype),
                self.device if device is None else resolve_device(device))


class ReLUGenerator(WeightStack):
    r"""``B`` independent bias-free ReLU networks, evaluated in one call.

    Parameters
    ----------
    weights : sequence of torch.Tensor
        Layer matrices, the ``i``-th of shape ``(B, n_i, n_{i-1})``.
    output_relu : bool
        Apply the ReLU after the last layer too (the Hand–Voroninski model).
        ``False`` gives a linear last layer.

    Notes
    -----
    Weights are also kept transposed and contiguous, ``(B, n_{i-1}, n_i)``,
    because ``torch.bmm(h, W^T)`` with a row block of latents is the fast,
    memory-friendly way to apply independent weights on a CPU.
    """

    def __init__(self, weights: Sequence[torch.Tensor], *, output_relu: bool = True):
        if len(weights) == 0:
            raise ValueError("weights must hold at least one layer")
        ws = []
        for i, w in enumerate(weights):
            if w.dim() == 2:
                w = w.unsqueeze(0)
            if w.dim() != 3:
                raise ValueError(f"weights[{i}] must have shape (B, n_out, n_in), got {tuple(w.shape)}")
            ws.append(w)
        B = ws[0].shape[0]
        for i in range(1, len(ws)):
            if ws[i].shape[0] != B:
                raise ValueError(f"weights[{i}] has batch {ws[i].shape[0]}, expected {B}")
            if ws[i].shape[2] != ws[i - 1].shape[1]:
                raise ValueError(
                    f"weights[{i}] takes {ws[i].shape[2]} inputs but layer {i - 1} gives {ws[i - 1].shape[1]}"
                )
        self.weights = ws
        self._wt = [w.transpose(1, 2).contiguous() for w in ws]
        self.output_relu = bool(output_relu)

    # ------------------------------------------------------------------ construction
    @classmethod
    def random(
        cls,
        widths: Sequence[int],
        *,
        batch: int = 1,
        seed: SeedLike = 0,
        gain: float = 1.0,
        output_relu: bool = True,
        dtype: DTypeLike = None,
        device: DeviceLike = "auto",
    ) -> "ReLUGenerator":
        r"""Draw ``batch`` networks with widths ``[k, n_1, ..., n_d]``.

        Entries are iid :math:`\mathcal{N}(0, \mathrm{gain}/n_i)` for layer ``i``
        with ``n_i`` outputs.
        """
        widths = _check_widths(widths)
        batch = check_positive_int(batch, "batch")
        check_positive(gain, "gain")
        g = make_generator(seed)
        ws = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            w = randn(batch, n_out, n_in, generator=g, dtype=torch.float64, device="cpu") * (gain / n_out) ** 0.5
            ws.append(w.to(device=resolve_device(device), dtype=resolve_dtype(dtype)))
        return cls(ws, output_relu=output_relu)

    # ------------------------------------------------------------------ shape (and WeightStack's)
    @property
    def batch(self) -> int:
        return self.weights[0].shape[0]

    def to(self, dtype: DTypeLike = None, device: DeviceLike = None) -> "ReLUGenerator":
        dt, dev = self._target(dtype, device)
        return ReLUGenerator([w.to(device=dev, dtype=dt) for w in self.weights], output_relu=self.output_relu)

    def select(self, index) -> "ReLUGenerator":
        """The sub-batch of networks ``index`` (an int, slice or index tensor)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return ReLUGenerator([w[index] for w in self.weights], output_relu=self.output_relu)

    # ------------------------------------------------------------------ evaluation
    def _flatten(self, z: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"latent has last dimension {z.shape[-1]}, the generator takes {self.latent_dim}")
        if z.dim() < 2:
            raise ValueError(f"latent must have shape (B, ..., k), got {tuple(z.shape)}")
        lead = tuple(z.shape[:-1])
        if self.batch == 1:
            return z.reshape(1, -1, self.latent_dim), lead
        if z.shape[0] != self.batch:
            raise ValueError(f"latent batch {z.shape[0]} does not match the {self.batch} networks")
        return z.reshape(self.batch, -1, self.latent_dim), lead

    def pre_activations(self, z: torch.Tensor) -> list[torch.Tensor]:
        """Pre-activations of every layer, each of shape ``(B, ..., n_i)``."""
        h, lead = self._flatten(z)
        out = []
        for i, wt in enumerate(self._wt):
            pre = torch.bmm(h, wt)
            out.append(pre.reshape(*lead, -1))
            h = torch.relu(pre)
        return out

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`G(z)`, shape ``(B, ..., n)``."""
        h, lead = self._flatten(z)
        last = len(self._wt) - 1
        for i, (wt, w) in enumerate(zip(self._wt, self.weights)):
            h = batched_matmul(h, wt, w)
            if i < last or self.output_relu:
                h = torch.relu(h)
        return h.reshape(*lead, self.output_dim)

    __call__ = forward

    def forward_and_pullback(self, z: torch.Tensor):
        r""":math:`G(z)` and the pullback :math:`v \mapsto \Lambda_z^\top v` by a hand-written backward pass.

        The forward pass keeps the activations :math:`h_i`; the pullback runs the
        layers backwards through their masks,

        .. math::

            \Lambda_z^\top v = W_1^\top D_1 W_2^\top D_2 \cdots W_d^\top D_d\, v,
            \qquad D_i = \mathrm{diag}(W_i h_{i-1} > 0),

        (:math:`D_d = I` without ``output_relu``), which is the vector-Jacobian
        product of ``G`` at ``z`` (Hand & Voroninski 2018, Sec. 2), so that the CSGM
        gradient :math:`\Lambda_z^\top A^\top (A G(z) - y)` of Bora, Jalal, Price &
        Dimakis (2017) costs two passes of batched products and no autograd graph.
        The weights are read contiguously in both directions (forward through the
        stored :math:`W_i^\top`, backward through :math:`W_i`).

        Parameters
        ----------
        z : torch.Tensor
            Latents ``(B, ..., k)``.

        Returns
        -------
        x : torch.Tensor
            :math:`G(z)`, shape ``(B, ..., n)``.
        pullback : callable
            Maps ``v`` of shape ``(B, ..., n)`` to :math:`\Lambda_z^\top v`, shape ``(B, ..., k)``.
        """
        h, lead = self._flatten(z)
        last = len(self._wt) - 1
        acts = []
        for i, wt in enumerate(self._wt):
            h = torch.bmm(h, wt)
            if i < last or self.output_relu:
                h = h.relu_()
                acts.append(h)
            else:
                acts.append(None)
        x = h.reshape(*lead, self.output_dim)

        def pullback(v: torch.Tensor) -> torch.Tensor:
            if tuple(v.shape) != lead + (self.output_dim,):
                raise ValueError(f"v must have shape {lead + (self.output_dim,)}, got {tuple(v.shape)}")
            g = v.reshape(h.shape)
            for i in range(last, -1, -1):
                if acts[i] is not None:
                    g = g * (acts[i] > 0)
                g = torch.bmm(g, self.weights[i])
            return g.reshape(*lead, self.latent_dim)

        return x, pullback

    def local_linear_map(self, z: torch.Tensor) -> torch.Tensor:
        r"""The local linear map :math:`\Lambda_z` with :math:`G(z) = \Lambda_z z`.

        .. math::

            \Lambda_z = \prod_{i=d}^{1} \mathrm{diag}(W_i h_{i-1} > 0)\, W_i,
            \qquad h_0 = z,

        (Hand & Voroninski 2018, Sec. 2). Returns shape ``(B, ..., n, k)``. It is
        the Jacobian of ``G`` at every ``z`` where no pre-activation is zero.
        """
        h, lead = self._flatten(z)
        Bf, R, k = h.shape
        J = torch.eye(k, dtype=h.dtype, device=h.device).expand(Bf, R, k, k)
        last = len(self.weights) - 1
        for i, (w, wt) in enumerate(zip(self.weights, self._wt)):
            pre = torch.bmm(h, wt)
            J = torch.einsum("bij,brjk->brik", w, J)
            if i < last or self.output_relu:
                mask = (pre > 0).to(h.dtype)
                J = J * mask.unsqueeze(-1)
                h = torch.relu(pre)
            else:
                h = pre
        return J.reshape(*lead, self.output_dim, k)

    def region_step(self, z: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        r"""How far ``z`` can move along ``v`` before leaving its activation region.

        On the region of ``z`` every pre-activation is affine in the step,
        :math:`p_j(z + t v) = p_j(z) + t\,\dot p_j` with :math:`\dot p_j` propagated
        through the masks of ``z``; the region ends at the first sign change,

        .. math::

            t_{\max} = \min\{-p_j/\dot p_j : -p_j/\dot p_j > 0\}

        over every unit of every layer (``inf`` if no unit changes sign). On
        :math:`[0, t_{\max})` the network is linear: :math:`G(z + tv) = G(z) + t\Lambda_z v`.
        ``z`` and ``v`` have shape ``(B, ..., k)``; returns shape ``(B, ...)``.
        """
        h, lead = self._flatten(z)
        u, _ = self._flatten(v)
        t_max = torch.full(h.shape[:-1], float("inf"), dtype=h.dtype, device=h.device)
        last = len(self.weights) - 1
        for i, wt in enumerate(self._wt):
            pre, dpre = torch.bmm(h, wt), torch.bmm(u, wt)
            if i < last or self.output_relu:
                with torch.no_grad():
                    t = -pre / dpre
                    t = torch.where((t > 0) & torch.isfinite(t), t, torch.full_like(t, float("inf")))
                    t_max = torch.minimum(t_max, t.min(dim=-1).values)
                mask = (pre > 0).to(h.dtype)
                h, u = pre * mask, dpre * mask
            else:
                h, u = pre, dpre
        return t_max.reshape(lead)

    def lipschitz_upper_bound(self) -> torch.Tensor:
        r"""Product of spectral norms :math:`\prod_i \|W_i\|_2`, an upper bound on the Lipschitz constant, shape ``(B,)``."""
        out = torch.ones(self.batch, dtype=self.dtype, device=self.device)
        for w in self.weights:
            out = out * torch.linalg.matrix_norm(w, ord=2)
        return out

    def __repr__(self) -> str:
        return f"ReLUGenerator(widths={self.widths}, batch={self.batch}, dtype={self.dtype}, device={self.device})"


class LinearGenerator(WeightStack):
    r"""``B`` linear generators :math:`G_b(z) = U_b z`, a baseline with exact theory.

    With orthonormal columns (``orthonormal=True``) the S-REC constant of a
    Gaussian ``A`` over the range is exactly :math:`\sigma_{\min}(A U)`.
    """

    def __init__(self, U: torch.Tensor):
        if U.dim() == 2:
            U = U.unsqueeze(0)
        if U.dim() != 3:
            raise ValueError(f"U must have shape (B, n, k), got {tuple(U.shape)}")
        self.U = U
        self._ut = U.transpose(1, 2).contiguous()

    @classmethod
    def random(
        cls,
        n: int,
        k: int,
        *,
        batch: int = 1,
        seed: SeedLike = 0,
        orthonormal: bool = True,
        dtype: DTypeLike = None,
        device: DeviceLike = "auto",
    ) -> "LinearGenerator":
        """Draw ``batch`` Gaussian ``n x k`` maps, orthonormalised if asked."""
        n, k = check_positive_int(n, "n"), check_positive_int(k, "k")
        batch = check_positive_int(batch, "batch")
        if orthonormal and k > n:
            raise ValueError(f"an orthonormal n x k map needs k <= n, got k={k} > n={n}")
        g = make_generator(seed)
        U = randn(batch, n, k, generator=g, dtype=torch.float64, device="cpu") / n**0.5
        if orthonormal:
            U = torch.linalg.qr(U).Q
        return cls(U.to(device=resolve_device(device), dtype=resolve_dtype(dtype)))

    @property
    def weights(self) -> list[torch.Tensor]:
        """``[U]``: a one-layer :class:`WeightStack`."""
        return [self.U]

    @property
    def batch(self) -> int:
        return self.U.shape[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"latent has last dimension {z.shape[-1]}, the generator takes {self.latent_dim}")
        lead = tuple(z.shape[:-1])
        if self.batch == 1:
            h = z.reshape(1, -1, self.latent_dim)
        else:
            if z.shape[0] != self.batch:
                raise ValueError(f"latent batch {z.shape[0]} does not match the {self.batch} generators")
            h = z.reshape(self.batch, -1, self.latent_dim)
        return torch.bmm(h, self._ut).reshape(*lead, self.output_dim)

    __call__ = forward

    def forward_and_pullback(self, z: torch.Tensor):
        r""":math:`G(z) = U z` and the pullback :math:`v \mapsto U^\top v` (see :meth:`ReLUGenerator.forward_and_pullback`)."""
        x = self.forward(z)
        lead = tuple(z.shape[:-1])
        B = 1 if self.batch == 1 else self.batch

        def pullback(v: torch.Tensor) -> torch.Tensor:
            if tuple(v.shape) != lead + (self.output_dim,):
                raise ValueError(f"v must have shape {lead + (self.output_dim,)}, got {tuple(v.shape)}")
            return torch.bmm(v.reshape(B, -1, self.output_dim), self.U).reshape(*lead, self.latent_dim)

        return x, pullback

    def local_linear_map(self, z: torch.Tensor) -> torch.Tensor:
        lead = tuple(z.shape[:-1])
        U = self.U if self.batch > 1 else self.U.expand(lead[0], -1, -1)
        shape = (lead[0],) + (1,) * (len(lead) - 1) + tuple(self.U.shape[1:])
        return U.reshape(shape).expand(*lead, *self.U.shape[1:])

    def select(self, index) -> "LinearGenerator":
        if isinstance(index, int):
            index = slice(index, index + 1)
        return LinearGenerator(self.U[index])
