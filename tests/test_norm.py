"""Normalisation over time-major tensors: statistics, init, time indexing, chunking, errors."""

import pytest
import torch

from nsb.errors import ConfigError, NsbError
from nsb.norm import NORMS, build_norm


def seq(T=6, B=32, C=5, seed=0, spatial=()):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, B, C, *spatial, generator=g) * 3 + 2


@pytest.mark.parametrize("name", ["bn", "tdbn", "tebn"])
def test_shared_statistics_over_time_and_batch(name):
    norm = build_norm(name, 5, time_steps=6, threshold=1.0).train()
    y = norm(seq())
    flat = y.flatten(0, 1)
    torch.testing.assert_close(flat.mean(0), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.var(0, unbiased=False), torch.ones(5), atol=1e-3, rtol=0)
    # not normalised per step: the step means differ
    assert y.mean(dim=(1, 2)).std() > 0.01


def test_bntt_normalises_each_step():
    x = seq()
    x[3] += 10  # one step shifted: BNTT removes it, shared BN would not
    y = build_norm("bntt", 5, time_steps=6).train()(x)
    torch.testing.assert_close(y.mean(dim=1), torch.zeros(6, 5), atol=1e-5, rtol=0)
    assert not build_norm("bntt", 5, time_steps=6).steps[0].bias.requires_grad


def test_tdbn_scale_starts_at_threshold_and_tebn_p_at_one():
    assert torch.equal(build_norm("tdbn", 4, time_steps=3, threshold=0.3).bn1d.weight, torch.full((4,), 0.3))
    assert torch.equal(build_norm("tebn", 4, time_steps=3).p.data, torch.ones(3))


@pytest.mark.parametrize("name", ["tebn", "bntt"])
def test_time_indexed_norms_chunk_in_eval_mode(name):
    norm = build_norm(name, 5, time_steps=6)
    for _ in range(3):
        norm.train()(seq(seed=1))  # populate running statistics
    with torch.no_grad():
        if name == "tebn":
            norm.p.copy_(torch.arange(1.0, 7.0))
    norm.eval()
    x = seq(seed=2)
    full = norm(x)
    torch.testing.assert_close(torch.cat([norm(x[:2], t0=0), norm(x[2:], t0=2)]), full)
    shorter = norm(x[:4])
    torch.testing.assert_close(shorter, full[:4])


@pytest.mark.parametrize("name", ["tebn", "bntt"])
def test_too_long_is_an_error(name):
    norm = build_norm(name, 5, time_steps=6)
    with pytest.raises(NsbError, match="built for 6 time steps"):
        norm(seq(T=7))
    with pytest.raises(NsbError, match="built for 6 time steps"):
        norm(seq(T=2), t0=5)


@pytest.mark.parametrize("name", sorted(NORMS))
def test_conv_maps_and_gradients(name):
    norm = build_norm(name, 3, time_steps=4).train()
    x = seq(T=4, B=6, C=3, spatial=(5, 5)).requires_grad_()
    y = norm(x)
    assert y.shape == x.shape
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad.abs().sum() > 0


def test_layernorm_is_per_sample_and_step():
    y = build_norm("layernorm", 5, time_steps=1)(seq())
    torch.testing.assert_close(y.mean(-1), torch.zeros(6, 32), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(NORMS))
def test_state_dict_round_trip(name):
    a = build_norm(name, 5, time_steps=6).train()
    a(seq())
    b = build_norm(name, 5, time_steps=6)
    b.load_state_dict(a.state_dict())
    x = seq(seed=3)
    torch.testing.assert_close(a.eval()(x), b.eval()(x))


def test_unknown_norm():
    with pytest.raises(ConfigError, match="did you mean 'tebn'"):
        build_norm("tebm", 4, time_steps=2)
