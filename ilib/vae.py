r"""The MNIST VAE of CSGM (Bora, Jalal, Price & Dimakis 2017), trained on CPU, shipped with a checksum.

Architecture of AshishBora/mnist-vae (after Kingma & Welling 2014): encoder
784-500-500-(20, 20) and decoder

.. math::

    G(z) = \sigma\big(W_3\, \mathrm{sp}(W_2\, \mathrm{sp}(W_1 z + b_1) + b_2) + b_3\big),
    \qquad z \in \mathbb{R}^{20},\ G(z) \in [0, 1]^{784},

with :math:`\mathrm{sp}(t) = \log(1 + e^t)` (softplus) and :math:`\sigma` the logistic
sigmoid; Xavier-uniform weights and zero biases at initialisation. Training
minimises the negative evidence lower bound

.. math::

    \mathcal{L}(x) = \sum_{i=1}^{784} \mathrm{BCE}\big(x_i, G(\mu + \sigma\odot\varepsilon)_i\big)
    + \tfrac12 \sum_{j=1}^{20} \big(\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1\big),

averaged over a mini-batch, with Adam (lr :math:`10^{-3}`, batch 100), every random
draw (initialisation, shuffling, :math:`\varepsilon`) coming from one seeded
:class:`torch.Generator`.

Shipped weights
---------------
Only the decoder is shipped (the notebooks need :math:`G` alone): ``ilib/weights/mnist_vae_decoder.npy``,
the six decoder tensors flattened and concatenated (float16 by default, see
:data:`DEFAULT_CONFIG`), and the manifest ``mnist_vae.json`` holding the file's sha256,
the training configuration and the sha256 of the training images. Weights for other data
get another ``name`` (e.g. ``sklearn_vae``), so they never replace the shipped ones. :func:`load_generator`

* loads the weights when the checksum matches and the configuration and data hash are current;
* retrains (with a tqdm progress bar) when they are missing or stale and writes the new files to the
  user's folder (:func:`user_weights_dir`), never into the package;
* raises :class:`CorruptWeightsError` when a file does not match its checksum (it is never used); the
  shipped files are checked against hashes kept in code (:data:`SHIPPED`), so an edited manifest is
  corruption too, not a reason to retrain.

Retrain by hand with ``python -m ilib.vae`` (``--help`` for options).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._checks import check_choice, check_int, check_int_list, check_nonneg_int, check_positive, check_positive_int
from .device import DeviceLike, DTypeLike, SeedLike, make_generator, resolve_device, resolve_dtype
from .generators import WeightStack
from .record import atomic_write_bytes, atomic_write_text

PACKAGE_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_NAME = "mnist_vae"
# The shipped files' sha256, kept in code so that a changed manifest is corruption, not a reason to retrain.
SHIPPED = {
    "mnist_vae": {"mnist_vae.json": "09070c1e4ecabca9811809078503e3b003bd4806f86d4b52e22e829fa313ebe7",
                  "mnist_vae_decoder.npy": "f65ab6ca75a837f03d7a1ebf51fceadb4a7e6c65ff7e98a223088ba8bde81ffe"},
}


def user_weights_dir() -> Path:
    """Where retrained weights go: ``$ILIB_WEIGHTS_DIR``, else ``~/.cache/ilib/weights`` (never the package folder)."""
    env = os.environ.get("ILIB_WEIGHTS_DIR")
    return Path(env) if env else Path.home() / ".cache" / "ilib" / "weights"
WEIGHTS_NAME = f"{DEFAULT_NAME}_decoder.npy"
MANIFEST_NAME = f"{DEFAULT_NAME}.json"
FORMAT_VERSION = 1
_STORAGE = {"float16": np.float16, "float32": np.float32}


class WeightsError(RuntimeError):
    """Base class of the weight-file errors."""


class CorruptWeightsError(WeightsError):
    """The weight file does not match the checksum in its manifest (or cannot be read)."""


class StaleWeightsError(WeightsError):
    """The weights are missing or were trained with another configuration or other data, and retraining was refused."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines the trained weights; a change makes shipped weights stale.

    Parameters
    ----------
    latent : latent dimension ``k`` (20 in CSGM).
    hidden : widths of the two hidden layers of encoder and decoder (500, 500).
    epochs, batch_size, lr : Adam training schedule (mnist-vae: 100 epochs of 60k images, batch 100, lr 1e-3).
    seed : seeds initialisation, shuffling and the reparametrisation noise.
    storage : dtype of the shipped decoder weights, ``"float16"`` or ``"float32"``.
    """

    latent: int = 20
    hidden: tuple[int, ...] = (500, 500)
    epochs: int = 80
    batch_size: int = 100
    lr: float = 1e-3
    seed: int = 0
    storage: str = "float16"

    def __post_init__(self):
        check_positive_int(self.latent, "latent")
        hidden = check_int_list(self.hidden, "hidden")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive(self.lr, "lr")
        check_nonneg_int(self.seed, "seed")
        check_choice(self.storage, "storage", sorted(_STORAGE))
        object.__setattr__(self, "hidden", tuple(hidden))

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d


DEFAULT_CONFIG = TrainConfig()


def data_sha256(x: torch.Tensor | np.ndarray) -> str:
    """sha256 of the training images as float32 little-endian bytes (C order), prefixed by their shape."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.ascontiguousarray(np.asarray(x, dtype="<f4"))
    h = hashlib.sha256()
    h.update(str(a.shape).encode())
    h.update(a.tobytes())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- the model
class VAE(nn.Module):
    """Encoder ``n-h1-h2-(k, k)`` and decoder ``k-h2-h1-n``, softplus hidden layers, sigmoid output (logits returned)."""

    def __init__(self, n: int, config: TrainConfig = DEFAULT_CONFIG, *, seed: SeedLike = 0):
        super().__init__()
        check_positive_int(n, "n")  # the image dimension
        hs = list(config.hidden)
        enc = [n] + hs
        dec = [config.latent] + hs[::-1] + [n]
        self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(enc[:-1], enc[1:]))
        self.mu = nn.Linear(enc[-1], config.latent)
        self.logvar = nn.Linear(enc[-1], config.latent)
        self.dec = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dec[:-1], dec[1:]))
        g = make_generator(seed)
        for lin in list(self.enc) + [self.mu, self.logvar] + list(self.dec):
            nn.init.xavier_uniform_(lin.weight, generator=g)
            nn.init.zeros_(lin.bias)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = x
        for lin in self.enc:
            h = F.softplus(lin(h))
        return self.mu(h), self.logvar(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        last = len(self.dec) - 1
        for i, lin in enumerate(self.dec):
            h = lin(h)
            if i < last:
                h = F.softplus(h)
        return h

    def loss(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        r"""Negative ELBO per image, shape ``x.shape[:-1]``, with the reparametrisation noise ``eps`` given."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        logits = self.decode_logits(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        kl = 0.5 * (mu * mu + logvar.exp() - logvar - 1.0).sum(-1)
        return rec + kl

    def decoder_tensors(self) -> list[torch.Tensor]:
        """``[W_1, b_1, W_2, b_2, W_3, b_3]`` of the decoder, detached."""
        out = []
        for lin in self.dec:
            out += [lin.weight.detach().clone(), lin.bias.detach().clone()]
        return out


def train_vae(
    train_x: torch.Tensor,
    config: TrainConfig = DEFAULT_CONFIG,
    *,
    steps: Optional[int] = None,
    progress: bool = True,
    callback: Optional[Callable[[int, float], None]] = None,
) -> tuple[VAE, list[float]]:
    """Train a :class:`VAE` on ``train_x`` (``(N, n)`` in ``[0, 1]``), deterministically from ``config.seed``.

    Parameters
    ----------
    steps : int, optional
        Stop after this many Adam steps (for tests); default ``config.epochs`` full epochs.
    progress : bool
        Show a tqdm bar over epochs with the running loss.
    callback : callable, optional
        Called as ``callback(epoch, mean_loss)`` after every epoch.

    Returns
    -------
    (model, losses): the model in float32 on the CPU and the mean negative ELBO of every epoch.
    """
    if train_x.dim() != 2:
        raise ValueError(f"train_x must have shape (N, n), got {tuple(train_x.shape)}")
    if float(train_x.min()) < 0 or float(train_x.max()) > 1:
        raise ValueError("train_x must hold pixel values in [0, 1]")
    if steps is not None:
        check_positive_int(steps, "steps")
    x_all = train_x.detach().to(device="cpu", dtype=torch.float32)
    N, n = x_all.shape
    g = make_generator(config.seed)
    model = VAE(n, config, seed=g)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    bs = min(config.batch_size, N)
    per_epoch = N // bs
    epochs = config.epochs if steps is None else -(-int(steps) // per_epoch)
    losses: list[float] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=epochs, desc="training the MNIST VAE", unit="epoch", mininterval=5.0)
    done = 0
    try:
        for epoch in range(epochs):
            perm = torch.randperm(N, generator=g)
            total, count = 0.0, 0
            for b in range(per_epoch):
                if steps is not None and done >= steps:
                    break
                xb = x_all[perm[b * bs : (b + 1) * bs]]
                eps = torch.randn(xb.shape[0], config.latent, generator=g)
                loss = model.loss(xb, eps).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * xb.shape[0]
                count += xb.shape[0]
                done += 1
            losses.append(total / max(count, 1))
            if callback is not None:
                callback(epoch, losses[-1])
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.2f}")
    finally:
        if bar is not None:
            bar.close()
    return model.eval(), losses


# --------------------------------------------------------------------------- the generator
class MLPGenerator(WeightStack):
    r"""A trained decoder as a generator for :func:`ilib.csgm`: :math:`G = G_L \circ \cdots \circ G_1`.

    Block ``i`` is :math:`h \mapsto a_i(W_i h + b_i)` with :math:`a_i` softplus for the hidden
    blocks and the sigmoid for the last. Latents may have any leading shape ``(..., k)``
    (one network shared by all of them), so ``(B, R, k)`` batches of trials and restarts
    work directly. The weights never require gradients; autograd tracks only the input.

    ``blocks`` (the callables :math:`G_i`) and :meth:`head`/:meth:`tail` split the network
    at an intermediate layer, as intermediate layer optimisation needs.
    """

    def __init__(self, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]):
        if len(weights) != len(biases) or len(weights) == 0:
            raise ValueError("weights and biases must be non-empty lists of the same length")
        for i, (w, b) in enumerate(zip(weights, biases)):
            if w.dim() != 2 or b.dim() != 1 or b.shape[0] != w.shape[0]:
                raise ValueError(f"layer {i}: weight must be (out, in) and bias (out,), got {tuple(w.shape)}, {tuple(b.shape)}")
            if i and w.shape[1] != weights[i - 1].shape[0]:
                raise ValueError(f"layer {i} takes {w.shape[1]} inputs but layer {i - 1} gives {weights[i - 1].shape[0]}")
        self.weights = [w.detach() for w in weights]
        self.biases = [b.detach() for b in biases]

    def to(self, dtype: DTypeLike = None, device: DeviceLike = None) -> "MLPGenerator":
        dt, dev = self._target(dtype, device)
        return MLPGenerator([w.to(dev, dt) for w in self.weights], [b.to(dev, dt) for b in self.biases])

    def block(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Apply block ``i`` (0-based) to ``h`` of shape ``(..., widths[i])``."""
        check_int(i, "i", lo=0, hi=self.depth - 1)  # the block index
        if h.shape[-1] != self.widths[i]:
            raise ValueError(f"block {i} takes inputs of width {self.widths[i]}, got shape {tuple(h.shape)}")
        pre = F.linear(h, self.weights[i], self.biases[i])
        return torch.sigmoid(pre) if i == self.depth - 1 else F.softplus(pre)

    @property
    def blocks(self) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        return [lambda h, i=i: self.block(i, h) for i in range(self.depth)]

    def head(self, z: torch.Tensor, layer: int) -> torch.Tensor:
        """:math:`h_\\ell = G_\\ell \\circ \\cdots \\circ G_1(z)`, the output of the first ``layer`` blocks."""
        check_int(layer, "layer", lo=0, hi=self.depth)
        h = z
        for i in range(layer):
            h = self.block(i, h)
        return h

    def tail(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        """:math:`G_L \\circ \\cdots \\circ G_{\\ell+1}(h)`: the network run from layer ``layer`` on."""
        check_int(layer, "layer", lo=0, hi=self.depth)
        for i in range(layer, self.depth):
            h = self.block(i, h)
        return h

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`G(z)`, shape ``(..., n)``."""
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"latent has last dimension {z.shape[-1]}, the generator takes {self.latent_dim}")
        return self.tail(z, 0)

    __call__ = forward

    def jacobian(self, z: torch.Tensor) -> torch.Tensor:
        r"""The Jacobian :math:`J(z) = \partial G/\partial z`, shape ``(..., n, k)``, by forward accumulation.

        .. math::

            J(z) = D_L W_L D_{L-1} W_{L-1} \cdots D_1 W_1, \qquad
            D_i = \mathrm{diag}\, a_i'(W_i h_{i-1} + b_i),

        with :math:`\mathrm{sp}'(t) = \sigma(t)` for the softplus blocks and
        :math:`\sigma'(t) = \sigma(t)(1 - \sigma(t))` for the sigmoid output. This is what a
        Gauss--Newton step of CSGM needs (:func:`ilib.recovery.gauss_newton_polish`).
        """
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"latent has last dimension {z.shape[-1]}, the generator takes {self.latent_dim}")
        with torch.no_grad():
            h, J = z, None
            for i in range(self.depth):
                pre = F.linear(h, self.weights[i], self.biases[i])
                s = torch.sigmoid(pre)
                last = i == self.depth - 1
                d = s * (1 - s) if last else s
                J = self.weights[i] if J is None else torch.matmul(self.weights[i], J)
                J = d.unsqueeze(-1) * J
                h = s if last else F.softplus(pre)
        return J

    @classmethod
    def from_vae(cls, model: VAE) -> "MLPGenerator":
        t = model.decoder_tensors()
        return cls(t[0::2], t[1::2])

    def __repr__(self) -> str:
        return f"MLPGenerator(widths={self.widths}, dtype={self.dtype}, device={self.device})"


# --------------------------------------------------------------------------- weight files
def _default_dirs() -> list[Path]:
    """Where to look: the package's shipped weights, then the user's folder (the only one written)."""
    return [PACKAGE_WEIGHTS_DIR, user_weights_dir()]


def weight_files(name: str = DEFAULT_NAME) -> tuple[str, str]:
    """File names ``(<name>_decoder.npy, <name>.json)`` of the weights called ``name`` (one name per data set)."""
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValueError(f"name must be a non-empty plain file stem (letters, digits, _ and -), got name={name!r}")
    return f"{name}_decoder.npy", f"{name}.json"


def _shapes(n: int, config: TrainConfig) -> list[tuple[int, ...]]:
    dec = [config.latent] + list(config.hidden)[::-1] + [n]
    out = []
    for a, b in zip(dec[:-1], dec[1:]):
        out += [(b, a), (b,)]
    return out


@dataclass
class WeightsStatus:
    """Outcome of :func:`weights_status`: ``state`` is ``"fresh"``, ``"missing"``, ``"stale"`` or ``"corrupt"``."""

    state: str
    reason: str
    directory: Path
    manifest: Optional[dict] = None
    name: str = DEFAULT_NAME


def weights_status(
    train_x: torch.Tensor, config: TrainConfig = DEFAULT_CONFIG, weights_dir=None, *, name: str = DEFAULT_NAME
) -> WeightsStatus:
    """Check the weights ``name`` in ``weights_dir`` (default: the package's) against their checksum, ``config`` and the data."""
    d = Path(weights_dir) if weights_dir is not None else _default_dirs()[0]
    wname, mname = weight_files(name)
    wpath, mpath = d / wname, d / mname
    shipped = SHIPPED.get(name) if d.resolve() == PACKAGE_WEIGHTS_DIR.resolve() else None
    if shipped is not None:
        for fname in (mname, wname):
            path = d / fname
            if not path.exists():
                return WeightsStatus("corrupt", f"the shipped file {path} is missing (reinstall the package)", d, name=name)
            actual = file_sha256(path)
            if actual != shipped[fname]:
                return WeightsStatus("corrupt", f"the shipped file {path} has sha256 {actual}, the package expects "
                                     f"{shipped[fname]} (restore it with `git checkout {path.relative_to(d.parent.parent)}` "
                                     "or reinstall)", d, name=name)
    if not mpath.exists():
        if wpath.exists():
            return WeightsStatus("corrupt", f"{wpath} has no manifest {mname}, so its checksum cannot be verified", d, name=name)
        return WeightsStatus("missing", f"no weights in {d}", d, name=name)
    try:
        manifest = json.loads(mpath.read_text())
        expected_sha = manifest["sha256"]
    except (ValueError, KeyError, OSError) as exc:
        return WeightsStatus("corrupt", f"the manifest {mpath} cannot be read ({exc})", d, name=name)
    if not wpath.exists():
        return WeightsStatus("missing", f"{mpath} exists but the weight file {wpath} is missing", d, manifest, name=name)
    actual = file_sha256(wpath)
    if actual != expected_sha:
        return WeightsStatus(
            "corrupt", f"sha256 of {wpath} is {actual}, the manifest says {expected_sha}", d, manifest, name=name
        )
    if manifest.get("format") != FORMAT_VERSION:
        return WeightsStatus("stale", f"file format {manifest.get('format')} != {FORMAT_VERSION}", d, manifest, name=name)
    if manifest.get("config") != config.as_dict():
        return WeightsStatus("stale", f"trained with config {manifest.get('config')}, wanted {config.as_dict()}", d, manifest, name=name)
    want = data_sha256(train_x)
    if manifest.get("data_sha256") != want:
        return WeightsStatus("stale", f"trained on data {manifest.get('data_sha256')}, the given data hash to {want}", d, manifest, name=name)
    return WeightsStatus("fresh", "checksum, configuration and data match", d, manifest, name=name)


def save_weights(
    model: VAE, train_x: torch.Tensor, config: TrainConfig, weights_dir, *, extra: Optional[dict] = None, name: str = DEFAULT_NAME
) -> Path:
    """Write the decoder (flat, in ``config.storage``) and its manifest atomically; returns the weight file's path."""
    d = Path(weights_dir)
    wname, mname = weight_files(name)
    tensors = model.decoder_tensors()
    flat = np.concatenate([t.cpu().numpy().ravel() for t in tensors]).astype(_STORAGE[config.storage])
    buf = io.BytesIO()
    np.save(buf, flat, allow_pickle=False)
    data = buf.getvalue()
    wpath = d / wname
    atomic_write_bytes(wpath, data)
    manifest = {
        "format": FORMAT_VERSION,
        "file": wname,
        "sha256": hashlib.sha256(data).hexdigest(),
        "config": config.as_dict(),
        "data_sha256": data_sha256(train_x),
        "n": int(train_x.shape[1]),
        "n_train": int(train_x.shape[0]),
        "shapes": [list(s) for s in _shapes(int(train_x.shape[1]), config)],
        "torch": torch.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if extra:
        manifest.update(extra)
    atomic_write_text(d / mname, json.dumps(manifest, indent=2) + "\n")
    for path in (wpath, d / mname):  # package data: readable by everyone (mkstemp makes 0600)
        os.chmod(path, 0o644)
    return wpath


def _read_generator(status: WeightsStatus, n: int, config: TrainConfig) -> MLPGenerator:
    wpath = status.directory / weight_files(status.name)[0]
    try:
        flat = np.load(wpath, allow_pickle=False)
    except (ValueError, OSError) as exc:  # pragma: no cover - the checksum catches damage first
        raise CorruptWeightsError(f"{wpath} cannot be read ({exc})") from exc
    shapes = _shapes(n, config)
    total = sum(int(np.prod(s)) for s in shapes)
    if flat.ndim != 1 or flat.size != total:
        raise CorruptWeightsError(f"{wpath} holds {flat.size} numbers, the configuration needs {total}")
    tensors, off = [], 0
    for s in shapes:
        size = int(np.prod(s))
        tensors.append(torch.from_numpy(flat[off : off + size].astype(np.float32).reshape(s)))
        off += size
    return MLPGenerator(tensors[0::2], tensors[1::2])


def load_generator(
    train_x: torch.Tensor,
    config: TrainConfig = DEFAULT_CONFIG,
    *,
    weights_dir=None,
    retrain: bool = True,
    progress: bool = True,
    name: str = DEFAULT_NAME,
    dtype: DTypeLike = None,
    device: DeviceLike = "auto",
) -> MLPGenerator:
    """The trained decoder for ``train_x`` as an :class:`MLPGenerator`, training it first if needed.

    Parameters
    ----------
    train_x : torch.Tensor
        The training images ``(N, n)``; their hash decides whether stored weights are current.
    config : TrainConfig
        The training configuration the weights must come from.
    weights_dir : path, optional
        Where to look and write. Default: ``$ILIB_WEIGHTS_DIR`` if set, else the package's
        ``ilib/weights/`` (checked against the hashes in :data:`SHIPPED`) and then
        :func:`user_weights_dir`. Retrained weights are written to ``weights_dir`` when given,
        else to :func:`user_weights_dir`, never into the package.
    retrain : bool
        Train (a few minutes on 2 cores) when the weights are missing or stale; if False raise
        :class:`StaleWeightsError` instead.
    name : str
        Stem of the weight files; use one name per data set (``"mnist_vae"`` is shipped), so that
        weights trained on other data never replace the shipped ones.

    Raises
    ------
    CorruptWeightsError
        When a weight file does not match its checksum; it is reported, never used.
        Delete it or rerun ``python -m ilib.vae`` to replace it.
    """
    dirs = [Path(weights_dir)] if weights_dir is not None else _default_dirs()
    reasons = []
    for d in dirs:
        st = weights_status(train_x, config, d, name=name)
        if st.state == "corrupt":
            raise CorruptWeightsError(f"{st.reason}; the file is not used. Delete it or retrain with `python -m ilib.vae`.")
        if st.state == "fresh":
            return _read_generator(st, int(train_x.shape[1]), config).to(dtype=resolve_dtype(dtype), device=resolve_device(device))
        reasons.append(st.reason)
    if not retrain:
        raise StaleWeightsError("no usable VAE weights: " + "; ".join(reasons))
    t0 = time.perf_counter()
    model, losses = train_vae(train_x, config, progress=progress)
    seconds = time.perf_counter() - t0
    extra = {"train_loss": [round(v, 4) for v in losses], "train_seconds": round(seconds, 1)}
    d = Path(weights_dir) if weights_dir is not None else user_weights_dir()
    if d.resolve() == PACKAGE_WEIGHTS_DIR.resolve() and name in SHIPPED:
        raise WeightsError(f"the shipped weights {name} are never overwritten; pass another name or weights_dir")
    try:
        save_weights(model, train_x, config, d, extra=extra, name=name)
    except OSError as exc:
        raise WeightsError(f"could not write VAE weights to {d}: {exc}") from exc
    st = weights_status(train_x, config, d, name=name)
    if st.state != "fresh":  # pragma: no cover - a write that did not stick
        raise WeightsError(f"weights written to {d} do not check out: {st.reason}")
    return _read_generator(st, int(train_x.shape[1]), config).to(dtype=resolve_dtype(dtype), device=resolve_device(device))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m ilib.vae``: retrain the shipped MNIST VAE (or ``--check`` the stored one)."""
    import argparse

    # the command line needs the training data; the library functions take it as an argument
    from .data import load_digits
    from .device import set_threads

    p = argparse.ArgumentParser(prog="python -m ilib.vae", description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="only report whether the stored weights are fresh")
    p.add_argument("--data", choices=("mnist", "sklearn"), default="mnist", help="training data (weights are named <data>_vae)")
    p.add_argument("--epochs", type=int, default=DEFAULT_CONFIG.epochs)
    p.add_argument("--seed", type=int, default=DEFAULT_CONFIG.seed)
    p.add_argument("--weights-dir", default=None,
                   help="default: check the package's ilib/weights/, write to $ILIB_WEIGHTS_DIR or ~/.cache/ilib/weights")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args(argv)
    set_threads(args.threads)
    config = dataclasses.replace(DEFAULT_CONFIG, epochs=args.epochs, seed=args.seed)
    digits = load_digits(args.data, device="cpu")
    name = f"{args.data}_vae"
    d = Path(args.weights_dir) if args.weights_dir else _default_dirs()[0]
    st = weights_status(digits.train_x, config, d, name=name)
    print(f"{d / weight_files(name)[0]}: {st.state} ({st.reason})")
    if args.check:
        return 0 if st.state == "fresh" else 1
    d = Path(args.weights_dir) if args.weights_dir else user_weights_dir()
    t0 = time.perf_counter()
    model, losses = train_vae(digits.train_x, config, progress=True)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        eps = torch.zeros(digits.test_x.shape[0], config.latent)
        test_loss = float(model.loss(digits.test_x.float(), eps).mean())
    path = save_weights(
        model,
        digits.train_x,
        config,
        d,
        extra={"train_loss": [round(v, 4) for v in losses], "test_loss_at_mean": round(test_loss, 4), "train_seconds": round(seconds, 1)},
        name=name,
    )
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {seconds:.0f} s; final train loss {losses[-1]:.2f}, test loss (z = mu) {test_loss:.2f}")
    if d.resolve() == PACKAGE_WEIGHTS_DIR.resolve() and name in SHIPPED:
        m = weight_files(name)
        print(f"new shipped weights: set ilib.vae.SHIPPED[{name!r}] to "
              + json.dumps({f: file_sha256(d / f) for f in (m[1], m[0])}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
