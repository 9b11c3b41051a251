"""Random ReLU generators: the local linear map, homogeneity, batching and seeding."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ilib

WIDTHS = [[2, 10, 30], [5, 50, 200], [3, 7, 11, 13]]


@pytest.mark.parametrize("widths", WIDTHS)
@pytest.mark.parametrize("output_relu", [True, False])
def test_local_linear_map_is_the_jacobian(widths, output_relu):
    """Λ_z equals autograd's Jacobian of G at z (no pre-activation is exactly zero almost surely)."""
    G = ilib.ReLUGenerator.random(widths, batch=1, seed=1, output_relu=output_relu, dtype="float64", device="cpu")
    z = ilib.randn(1, 1, widths[0], generator=ilib.make_generator(2), dtype="float64", device="cpu")
    J = torch.autograd.functional.jacobian(lambda v: G(v.reshape(1, 1, -1)).reshape(-1), z.reshape(-1))
    L = G.local_linear_map(z)[0, 0]
    torch.testing.assert_close(L, J, rtol=0, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), scale=st.floats(1e-3, 1e3))
def test_relu_net_is_piecewise_linear_and_positively_homogeneous(seed, scale):
    """For a bias-free ReLU net, G(z) = Λ_z z and G(a z) = a G(z) for every a > 0."""
    G = ilib.ReLUGenerator.random([4, 20, 40], batch=3, seed=seed, dtype="float64", device="cpu")
    z = ilib.randn(3, 5, 4, generator=ilib.make_generator(seed + 1), dtype="float64", device="cpu")
    x = G(z)
    torch.testing.assert_close((G.local_linear_map(z) @ z.unsqueeze(-1)).squeeze(-1), x, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(G(scale * z), scale * x, rtol=1e-10, atol=1e-12)


def test_batched_networks_equal_per_instance_networks():
    G = ilib.ReLUGenerator.random([5, 30, 60], batch=6, seed=3, dtype="float64", device="cpu")
    z = ilib.randn(6, 4, 5, generator=ilib.make_generator(4), dtype="float64", device="cpu")
    x = G(z)
    for b in range(6):
        xb = G.select(b)(z[b : b + 1])
        torch.testing.assert_close(x[b : b + 1], xb, rtol=0, atol=1e-13)
        manual = z[b]
        for i, w in enumerate(G.weights):
            manual = torch.relu(manual @ w[b].T)
        torch.testing.assert_close(x[b], manual, rtol=0, atol=1e-13)


def test_same_seed_same_numbers_and_different_seed_different_numbers():
    a = ilib.ReLUGenerator.random([3, 8, 16], batch=2, seed=7, device="cpu")
    b = ilib.ReLUGenerator.random([3, 8, 16], batch=2, seed=7, device="cpu")
    c = ilib.ReLUGenerator.random([3, 8, 16], batch=2, seed=8, device="cpu")
    for wa, wb, wc in zip(a.weights, b.weights, c.weights):
        assert torch.equal(wa, wb)
        assert not torch.equal(wa, wc)


def test_weights_have_the_hand_voroninski_variance():
    """Entries of layer i are N(0, 1/n_i): the empirical variance times n_i is close to 1."""
    G = ilib.ReLUGenerator.random([50, 400, 800], batch=2, seed=0, dtype="float64", device="cpu")
    for w in G.weights:
        n_out = w.shape[1]
        assert abs(w.var().item() * n_out - 1) < 0.02


def test_norm_halves_per_layer_in_expectation():
    """||G(z)||^2 ≈ ||z||^2 / 2^d for HV-scaled nets (the WDC's Q_{x,x} = I/2)."""
    G = ilib.ReLUGenerator.random([10, 2000, 4000], batch=1, seed=0, dtype="float64", device="cpu")
    z = ilib.randn(1, 200, 10, generator=ilib.make_generator(1), dtype="float64", device="cpu")
    ratio = (G(z).norm(dim=-1) ** 2 / z.norm(dim=-1) ** 2).mean().item()
    assert abs(ratio - 0.25) < 0.01


def test_linear_generator_is_orthonormal_and_linear():
    U = ilib.LinearGenerator.random(30, 4, batch=2, seed=0, dtype="float64", device="cpu")
    torch.testing.assert_close(U.U.transpose(1, 2) @ U.U, torch.eye(4, dtype=torch.float64).expand(2, 4, 4))
    z = ilib.randn(2, 3, 4, generator=ilib.make_generator(1), dtype="float64", device="cpu")
    torch.testing.assert_close(U(z), (U.local_linear_map(z) @ z.unsqueeze(-1)).squeeze(-1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(widths=[3]), "widths"),
        (dict(widths=[3, 0, 5]), "width"),
        (dict(widths=[3, 5], batch=0), "batch"),
        (dict(widths=[3, 5], gain=-1.0), "gain"),
    ],
)
def test_bad_construction_is_refused(kwargs, match):
    widths = kwargs.pop("widths")
    with pytest.raises(ValueError, match=match):
        ilib.ReLUGenerator.random(widths, device="cpu", **kwargs)


def test_wrong_latent_dimension_is_refused():
    G = ilib.ReLUGenerator.random([3, 5, 7], device="cpu")
    with pytest.raises(ValueError, match="latent"):
        G(torch.zeros(1, 4))


def test_batched_matmul_gradient_is_the_transpose_product():
    """The custom backward of ilib.device.batched_matmul equals autograd's for torch.bmm (gradcheck in float64)."""
    from ilib.device import batched_matmul

    g = ilib.make_generator(0)
    w = ilib.randn(3, 5, 4, generator=g, dtype="float64", device="cpu")
    h = ilib.randn(3, 2, 4, generator=g, dtype="float64", device="cpu").requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: batched_matmul(v, w.transpose(1, 2).contiguous(), w), (h,))
    torch.testing.assert_close(batched_matmul(h, w.transpose(1, 2), w), torch.bmm(h, w.transpose(1, 2)))


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("output_relu", [True, False])
def test_pullback_is_the_vector_jacobian_product(batch, output_relu):
    """forward_and_pullback gives G(z) and v -> Λ_zᵀ v, equal to autograd's vector-Jacobian product (float64)."""
    G = ilib.ReLUGenerator.random([4, 20, 30, 50], batch=batch, seed=5, output_relu=output_relu, dtype="float64",
                                  device="cpu")
    g = ilib.make_generator(6)
    z = ilib.randn(3, 5, 4, generator=g, dtype="float64", device="cpu").requires_grad_(True)
    v = ilib.randn(3, 5, 50, generator=g, dtype="float64", device="cpu")
    x, pullback = G.forward_and_pullback(z.detach())
    (vjp,) = torch.autograd.grad((G(z) * v).sum(), z)
    torch.testing.assert_close(x, G(z.detach()), rtol=0, atol=0)
    torch.testing.assert_close(pullback(v), vjp, rtol=1e-12, atol=1e-13)
    L = G.local_linear_map(z.detach())
    torch.testing.assert_close(pullback(v), (L.transpose(-1, -2) @ v.unsqueeze(-1)).squeeze(-1), rtol=1e-10, atol=1e-12)


def test_linear_generator_pullback_is_the_transpose():
    U = ilib.LinearGenerator.random(30, 4, batch=2, seed=0, dtype="float64", device="cpu")
    g = ilib.make_generator(1)
    z = ilib.randn(2, 3, 4, generator=g, dtype="float64", device="cpu")
    v = ilib.randn(2, 3, 30, generator=g, dtype="float64", device="cpu")
    x, pullback = U.forward_and_pullback(z)
    torch.testing.assert_close(x, U(z))
    torch.testing.assert_close(pullback(v), (U.U.transpose(1, 2).unsqueeze(1) @ v.unsqueeze(-1)).squeeze(-1))


def test_pullback_refuses_a_vector_of_the_wrong_shape():
    G = ilib.ReLUGenerator.random([3, 5, 7], batch=1, device="cpu")
    _, pullback = G.forward_and_pullback(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="v must have shape"):
        pullback(torch.zeros(1, 2, 6))
