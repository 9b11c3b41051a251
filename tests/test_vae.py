"""The MNIST VAE: architecture, deterministic training that lowers the loss, and checksummed weight files."""

import dataclasses
import json

import pytest
import torch

from ilib import vae

TINY = vae.TrainConfig(latent=3, hidden=(16, 8), epochs=2, batch_size=20, lr=3e-3, seed=0, storage="float32")


def _images(N=100, n=36, seed=0):
    return torch.rand(N, n, generator=torch.Generator().manual_seed(seed))


def test_architecture_is_the_csgm_mnist_vae():
    model = vae.VAE(784)
    G = vae.MLPGenerator.from_vae(model)
    assert G.widths == [20, 500, 500, 784]
    assert [lin.out_features for lin in model.enc] == [500, 500] and model.mu.out_features == 20
    z = torch.randn(4, 2, 20, generator=torch.Generator().manual_seed(0))
    x = G(z)
    assert x.shape == (4, 2, 784) and float(x.min()) > 0 and float(x.max()) < 1
    torch.testing.assert_close(x, torch.sigmoid(model.decode_logits(z)).detach())


@pytest.mark.parametrize("layer", [0, 1, 2, 3])
def test_head_then_tail_is_the_generator(layer):
    G = vae.MLPGenerator.from_vae(vae.VAE(30, TINY))
    z = torch.randn(5, 3, generator=torch.Generator().manual_seed(layer))
    torch.testing.assert_close(G.tail(G.head(z, layer), layer), G(z))
    assert G.head(z, layer).shape[-1] == G.widths[layer]


def test_training_a_few_steps_lowers_the_loss():
    x = _images()
    g = torch.Generator().manual_seed(1)
    eps = torch.randn(x.shape[0], TINY.latent, generator=g)
    before = vae.VAE(x.shape[1], TINY, seed=torch.Generator().manual_seed(TINY.seed))
    # train_vae seeds the same initialisation from config.seed, so `before` is its starting point
    model, losses = vae.train_vae(x, TINY, steps=15, progress=False)
    with torch.no_grad():
        l0 = float(before.loss(x, eps).mean())
        l1 = float(model.loss(x, eps).mean())
    assert l1 < l0 - 1.0, (l0, l1)


def test_training_is_deterministic_from_the_seed():
    x = _images()
    m1, l1 = vae.train_vae(x, TINY, progress=False)
    m2, l2 = vae.train_vae(x, TINY, progress=False)
    m3, _ = vae.train_vae(x, dataclasses.replace(TINY, seed=1), progress=False)
    assert l1 == l2
    for a, b in zip(m1.decoder_tensors(), m2.decoder_tensors()):
        assert torch.equal(a, b)
    assert not torch.equal(m1.decoder_tensors()[0], m3.decoder_tensors()[0])


@pytest.fixture()
def saved(tmp_path):
    x = _images()
    model, _ = vae.train_vae(x, TINY, progress=False)
    vae.save_weights(model, x, TINY, tmp_path)
    return tmp_path, x, model


def test_saved_weights_load_back_exactly(saved):
    d, x, model = saved
    assert vae.weights_status(x, TINY, d).state == "fresh"
    G = vae.load_generator(x, TINY, weights_dir=d, retrain=False, device="cpu")
    ref = vae.MLPGenerator.from_vae(model)
    for a, b in zip(G.weights + G.biases, ref.weights + ref.biases):
        assert torch.equal(a, b)


def test_float16_storage_is_close(tmp_path):
    x = _images()
    cfg = dataclasses.replace(TINY, storage="float16")
    model, _ = vae.train_vae(x, cfg, progress=False)
    vae.save_weights(model, x, cfg, tmp_path)
    G = vae.load_generator(x, cfg, weights_dir=tmp_path, retrain=False, device="cpu")
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    diff = (G(z) - vae.MLPGenerator.from_vae(model)(z)).abs().max()
    assert 0 < float(diff) < 2e-3


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "no_manifest", "bad_manifest"])
def test_corrupted_weights_are_reported_never_used(saved, damage):
    d, x, _ = saved
    w, m = d / vae.WEIGHTS_NAME, d / vae.MANIFEST_NAME
    if damage == "flip_byte":
        b = bytearray(w.read_bytes())
        b[-5] ^= 0x01
        w.write_bytes(bytes(b))
    elif damage == "truncate":
        w.write_bytes(w.read_bytes()[:-100])
    elif damage == "no_manifest":
        m.unlink()
    else:
        m.write_text("{not json")
    assert vae.weights_status(x, TINY, d).state == "corrupt"
    with pytest.raises(vae.CorruptWeightsError):
        vae.load_generator(x, TINY, weights_dir=d, retrain=True, progress=False, device="cpu")


def test_a_changed_checksum_in_the_manifest_is_detected(saved):
    d, x, _ = saved
    m = d / vae.MANIFEST_NAME
    man = json.loads(m.read_text())
    man["sha256"] = "0" * 64
    m.write_text(json.dumps(man))
    with pytest.raises(vae.CorruptWeightsError, match="sha256"):
        vae.load_generator(x, TINY, weights_dir=d, retrain=False, device="cpu")


@pytest.mark.parametrize("change", ["config", "data"])
def test_stale_weights_are_detected_and_retraining_can_be_refused(saved, change):
    d, x, _ = saved
    cfg, xx = TINY, x
    if change == "config":
        cfg = dataclasses.replace(TINY, epochs=3)
    else:
        xx = x.clone()
        xx[0, 0] = 1 - xx[0, 0]
    st = vae.weights_status(xx, cfg, d)
    assert st.state == "stale" and change in st.reason
    with pytest.raises(vae.StaleWeightsError):
        vae.load_generator(xx, cfg, weights_dir=d, retrain=False, device="cpu")


def test_missing_or_stale_weights_are_retrained_and_written(tmp_path, capsys):
    x = _images()
    assert vae.weights_status(x, TINY, tmp_path).state == "missing"
    G = vae.load_generator(x, TINY, weights_dir=tmp_path, progress=True, device="cpu")
    assert "training the MNIST VAE" in capsys.readouterr().err  # the progress bar
    st = vae.weights_status(x, TINY, tmp_path)
    assert st.state == "fresh" and len(st.manifest["train_loss"]) == TINY.epochs
    ref = vae.MLPGenerator.from_vae(vae.train_vae(x, TINY, progress=False)[0])
    torch.testing.assert_close(G.weights[0], ref.weights[0], rtol=0, atol=0)
    # a new configuration makes them stale: retrained in place
    cfg = dataclasses.replace(TINY, epochs=1)
    vae.load_generator(x, cfg, weights_dir=tmp_path, progress=False, device="cpu")
    assert vae.weights_status(x, cfg, tmp_path).state == "fresh"
    assert vae.weights_status(x, TINY, tmp_path).state == "stale"


def test_shipped_weights_check_out():
    """The weights in the package match their checksum, the default configuration and the shipped data."""
    from ilib import data

    digits = data.load_digits("mnist", device="cpu")
    st = vae.weights_status(digits.train_x, vae.DEFAULT_CONFIG, vae.PACKAGE_WEIGHTS_DIR)
    assert st.state == "fresh", st.reason
    G = vae.load_generator(digits.train_x, weights_dir=vae.PACKAGE_WEIGHTS_DIR, retrain=False, device="cpu")
    assert G.widths == [20, 500, 500, 784]
    # a trained decoder: the mean of the prior looks like an average digit, not noise
    x = G(torch.zeros(1, 20))
    assert 0.02 < float(x.mean()) < 0.3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(latent=0), "latent"),
        (dict(hidden=(10, 0)), "hidden"),
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(lr=0.0), "lr"),
        (dict(seed=-1), "seed"),
        (dict(storage="int8"), "storage"),
    ],
)
def test_bad_config_names_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vae.TrainConfig(**kwargs)


def test_bad_training_data_is_rejected():
    with pytest.raises(ValueError, match="train_x"):
        vae.train_vae(torch.rand(10), TINY, progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vae.train_vae(2 * torch.ones(10, 4), TINY, progress=False)


def test_weights_of_another_data_set_live_beside_and_never_replace(saved):
    """Weights trained under another name are written next to the first ones, which stay fresh and unchanged."""
    d, x, _ = saved
    before = (d / vae.WEIGHTS_NAME).read_bytes()
    other = _images(N=60, n=16, seed=5)
    G = vae.load_generator(other, TINY, weights_dir=d, name="other_vae", progress=False, device="cpu")
    assert G.output_dim == 16 and (d / "other_vae_decoder.npy").exists()
    assert (d / vae.WEIGHTS_NAME).read_bytes() == before
    assert vae.weights_status(x, TINY, d).state == "fresh"
    assert vae.weights_status(other, TINY, d, name="other_vae").state == "fresh"
    with pytest.raises(ValueError, match="name"):
        vae.weight_files("../evil")


def test_jacobian_is_the_autograd_jacobian():
    G = vae.MLPGenerator.from_vae(vae.VAE(30, TINY)).to(dtype=torch.float64)
    z = torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    J = G.jacobian(z)
    assert J.shape == (2, 3, 30, 3)
    ref = torch.autograd.functional.jacobian(lambda u: G(u), z[1, 2])
    torch.testing.assert_close(J[1, 2], ref, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="latent"):
        G.jacobian(torch.zeros(2, 4, dtype=torch.float64))


def test_an_edited_shipped_manifest_is_corruption_never_a_reason_to_retrain(tmp_path, monkeypatch):
    """The shipped files are checked against hashes kept in code; retraining never writes into the package."""
    import shutil

    from ilib import vae

    fake_pkg = tmp_path / "ilib" / "weights"
    shutil.copytree(vae.PACKAGE_WEIGHTS_DIR, fake_pkg)
    monkeypatch.setattr(vae, "PACKAGE_WEIGHTS_DIR", fake_pkg)
    monkeypatch.setenv("ILIB_WEIGHTS_DIR", str(tmp_path / "user"))
    manifest = fake_pkg / "mnist_vae.json"
    data = json.loads(manifest.read_text())
    data["config"]["epochs"] = 1  # looks stale: before, this retrained into the package folder
    manifest.write_text(json.dumps(data))
    st = vae.weights_status(torch.zeros(2, 784), vae.DEFAULT_CONFIG, fake_pkg)
    assert st.state == "corrupt" and "the package expects" in st.reason
    with pytest.raises(vae.CorruptWeightsError):
        vae.load_generator(torch.zeros(2, 784), retrain=True, device="cpu")
    assert vae.user_weights_dir() == tmp_path / "user" and not (tmp_path / "user").exists()
