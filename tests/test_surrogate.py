"""Each surrogate: exact Heaviside forward, backward equal to the seed's analytic formula."""

import math

import pytest
import torch

from nsb.errors import ConfigError
from nsb.surrogate import SURROGATES, asgl_noise_rate, build_surrogate


def normal_pdf(u, mu, sigma):
    return math.exp(-((u - mu) ** 2) / (2 * sigma**2)) / (math.sqrt(2 * math.pi) * sigma)


# written from reference/neuroseqbench.md §2, scalar by scalar, independently of nsb.surrogate
FORMULAS = {
    "rectangle": lambda u, a: 1.0 if abs(u) < a / 2 else 0.0,
    "triangle": lambda u, a: max(0.0, a - abs(u)) / a**2,
    "sigmoid": lambda u, a: (1 / (1 + math.exp(-u / (a / 4)))) * (1 - 1 / (1 + math.exp(-u / (a / 4)))) / (a / 4),
    "multigauss": lambda u, a: (a / 2) * (1.15 * normal_pdf(u, 0, a / 2) - 0.15 * normal_pdf(u, a / 2, 3 * a)
                                          - 0.15 * normal_pdf(u, -a / 2, 3 * a)),
    "atan": lambda u, a: (2 / a) / (2 * (1 + ((2 / math.pi) * (2 / a) * u) ** 2)),
    "fast_sigmoid": lambda u, a: 1 / (1 + abs(u) / a) ** 2,
    "superspike": lambda u, a: 1 / (1 + abs(u) / a) ** 2,
    "asgl": lambda u, a: 1.0 if abs(u) < a / 2 else 0.0,
}


def test_every_registered_surrogate_has_a_formula_here():
    assert set(SURROGATES) == set(FORMULAS)


@pytest.mark.parametrize("name", sorted(FORMULAS))
@pytest.mark.parametrize("alpha", [0.4, 0.6, 1.0, 2.5])
def test_backward_matches_formula(name, alpha):
    sg = build_surrogate(name, alpha).eval()
    u = torch.linspace(-2, 2, 401, dtype=torch.float64).requires_grad_()
    sg(u).sum().backward()
    want = torch.tensor([FORMULAS[name](float(x), alpha) for x in u.detach()], dtype=torch.float64)
    # the rectangle's edges are where float rounding may differ; skip points within 1e-9 of them
    keep = ((u.detach().abs() - alpha / 2).abs() > 1e-9)
    torch.testing.assert_close(u.grad[keep], want[keep], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_forward_is_the_seeds_heaviside(name):
    """Strict (u > 0, the seed's LIFAct) for every surrogate but ASGL, whose spike is u ≥ 0 (the seed's
    EfficientNoisySpike); the surrogate names its test so an exported op carries it."""
    sg = build_surrogate(name, 1.0).eval()
    u = torch.tensor([-1.0, -1e-7, 0.0, 1e-7, 1.0])
    at_zero = 1.0 if name == "asgl" else 0.0
    assert sg(u).tolist() == [0.0, 0.0, at_zero, 1.0, 1.0]
    assert sg.spike_test == ("greater_equal" if name == "asgl" else "greater")


def test_seed_peaks_at_alpha_one():
    """The seed's scalings: rectangle/triangle/sigmoid/atan peak at 1, multigauss at about 0.44."""
    for name, peak in [("rectangle", 1.0), ("triangle", 1.0), ("sigmoid", 1.0), ("atan", 1.0), ("multigauss", 0.44)]:
        u = torch.zeros(1, requires_grad=True)
        build_surrogate(name, 1.0)(u).sum().backward()
        assert u.grad.item() == pytest.approx(peak, abs=0.01), name


def test_asgl_noisy_forward_in_training_exact_in_eval():
    torch.manual_seed(0)
    sg = build_surrogate("asgl", 1.0)
    sg.noise_rate.fill_(0.5)
    u = torch.linspace(-0.4, 0.4, 1000).reshape(1, 1000)
    fire = sg.train().sequence_fire(u.shape, u)
    out = fire(u)
    smooth = (u + 0.5).clamp(0, 1)
    noisy = out != (u > 0).float()
    # about half the neurons pass r(u) forward; the others spike exactly
    assert 0.4 < noisy.float().mean() < 0.6
    torch.testing.assert_close(out[noisy], smooth[noisy])
    # the mask is drawn once per sequence: the same neurons are noisy at the next step
    assert torch.equal(fire(u) != (u > 0).float(), noisy)
    assert torch.equal(sg.eval().sequence_fire(u.shape, u)(u), (u > 0).float())


def test_asgl_noise_rate_schedule():
    assert asgl_noise_rate(0, 100) == pytest.approx(0.1)
    assert asgl_noise_rate(29, 100) == pytest.approx(0.1)
    assert asgl_noise_rate(30, 100) == pytest.approx(0.09)
    assert asgl_noise_rate(70, 100) == pytest.approx(0.081)
    assert asgl_noise_rate(99, 100) == pytest.approx(0.1 * 0.9**4)


def test_unknown_surrogate_suggests_closest():
    with pytest.raises(ConfigError, match="did you mean 'triangle'"):
        build_surrogate("triangel")
    with pytest.raises(ConfigError, match="alpha must be > 0"):
        build_surrogate("sigmoid", 0.0)
