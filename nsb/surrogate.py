"""Surrogate spike functions: exact Heaviside forward, a smooth stand-in for its derivative backward.

Each surrogate is a small ``nn.Module`` (no parameters) named in configs by its registry name and
scaled by one width ``alpha``. The scalings are those of the Neuromorphic Sequential Benchmark's
``surrogate.py`` (``reference/neuroseqbench.md`` §2), which differ from some papers on purpose:

============  =========================================================================  ==========
name          g(u), u = h − θ                                                            a = 1 peak
============  =========================================================================  ==========
rectangle     1[|u| < a/2]  (height 1, not 1/a)                                          1
triangle      max(0, a − |u|) / a²                                                       1
sigmoid       s(1 − s)/k with s = σ(u/k), k = a/4                                        1
multigauss    σ_g·[1.15 N(u; 0, σ_g) − 0.15 N(u; σ_g, 6σ_g) − 0.15 N(u; −σ_g, 6σ_g)],
              σ_g = a/2, N the Gaussian density                                          ≈ 0.44
atan          k / (2(1 + ((2/π)·k·u)²)), k = 2/a (2/π where SpikingJelly uses π/2)        1
fast_sigmoid  1 / (1 + k|u|)², k = 1/a  (SuperSpike, Zenke & Ganguli 2018)               1
asgl          1[|u| < a/2]; training forward is ASGL's noisy spike (below)               1
============  =========================================================================  ==========

The forward pass is ``(u > 0)``: a spike needs the membrane strictly above threshold (the seed's
``LIFAct``), except ASGL, whose spike is ``(u ≥ 0)`` as the seed's ``EfficientNoisySpike`` computes
it; ``Surrogate.spike_test`` names the comparison, and an exported op carries it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from nsb.errors import ConfigError, unknown

Fire = Callable[[Tensor], Tensor]


class _Heaviside(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u: Tensor, surrogate: "Surrogate") -> Tensor:
        ctx.save_for_backward(u)
        ctx.surrogate = surrogate
        return surrogate.heaviside(u)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (u,) = ctx.saved_tensors
        return grad * ctx.surrogate.grad(u), None


class Surrogate(nn.Module):
    """Base class: subclasses define :meth:`grad`, the analytic g(u)."""

    name = ""
    #: the forward comparison: "greater" (u > 0) or "greater_equal" (u ≥ 0)
    spike_test = "greater"

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        if not alpha > 0:
            raise ConfigError(f"surrogate width alpha must be > 0, got {alpha}; set surrogate.alpha to a positive number")
        self.alpha = float(alpha)

    def grad(self, u: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def heaviside(self, u: Tensor) -> Tensor:
        return ((u >= 0) if self.spike_test == "greater_equal" else (u > 0)).to(u.dtype)

    def forward(self, u: Tensor) -> Tensor:
        """Spike of ``u = h − θ``: Heaviside forward, :meth:`grad` backward."""
        return _Heaviside.apply(u, self)

    def sequence_fire(self, shape: torch.Size, like: Tensor) -> Fire:
        """The spike function for one sequence of per-step shape ``shape``.

        Stateless surrogates return themselves; ASGL draws its noise mask here, once per sequence.
        """
        return self

    def keep_mask(self, shape: torch.Size, like: Tensor) -> Tensor | None:
        """A noisy spike's draw for one sequence (1: spike, 0: pass the smooth value), or None."""
        return None

    @property
    def noisy(self) -> bool:
        """Whether this call's spikes may be real values (a noisy spike in training)."""
        return False

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Rectangle(Surrogate):
    name = "rectangle"

    def grad(self, u: Tensor) -> Tensor:
        return (u.abs() < self.alpha / 2).to(u.dtype)


class Triangle(Surrogate):
    name = "triangle"

    def grad(self, u: Tensor) -> Tensor:
        a = self.alpha
        return (a - u.abs()).clamp(min=0) / (a * a)


class Sigmoid(Surrogate):
    name = "sigmoid"

    def grad(self, u: Tensor) -> Tensor:
        k = self.alpha / 4
        s = torch.sigmoid(u / k)
        return s * (1 - s) / k


def _gauss(u: Tensor, mu: float, sigma: float) -> Tensor:
    return torch.exp(-((u - mu) ** 2) / (2 * sigma * sigma)) / (math.sqrt(2 * math.pi) * sigma)


class MultiGauss(Surrogate):
    name = "multigauss"

    def grad(self, u: Tensor) -> Tensor:
        sg = self.alpha / 2
        mix = 1.15 * _gauss(u, 0.0, sg) - 0.15 * _gauss(u, sg, 6 * sg) - 0.15 * _gauss(u, -sg, 6 * sg)
        return mix * sg


class Atan(Surrogate):
    name = "atan"

    def grad(self, u: Tensor) -> Tensor:
        k = 2 / self.alpha
        return k / (2 * (1 + ((2 / math.pi) * k * u) ** 2))


class FastSigmoid(Surrogate):
    name = "fast_sigmoid"

    def grad(self, u: Tensor) -> Tensor:
        return 1 / (1 + u.abs() / self.alpha) ** 2


class ASGL(Surrogate):
    """Adaptive smoothing gradient learning (Wang et al. 2023), the seed's ``EfficientNoisySpike``.

    Training forward: ``r(u) + sg((H(u) − r(u))·M)`` with ``r(u) = clamp(u + a/2, 0, a)`` and
    ``M ~ Bernoulli(1 − p)`` drawn once per sequence and reused at every step, so a fraction p of
    neurons pass the smooth ``r(u)`` forward instead of a spike. The gradient is ``r'(u)`` =
    ``1[|u| < a/2]`` everywhere. Evaluation forward is the exact Heaviside. ``p`` (buffer
    ``noise_rate``) starts at 0.1 and follows :func:`asgl_noise_rate`.
    """

    name = "asgl"
    spike_test = "greater_equal"

    def __init__(self, alpha: float = 1.0, noise_rate: float = 0.1) -> None:
        super().__init__(alpha)
        self.register_buffer("noise_rate", torch.tensor(float(noise_rate)))

    def grad(self, u: Tensor) -> Tensor:
        return (u.abs() < self.alpha / 2).to(u.dtype)

    @property
    def noisy(self) -> bool:
        return self.training and float(self.noise_rate) > 0

    def keep_mask(self, shape: torch.Size, like: Tensor) -> Tensor | None:
        """In training, M ~ Bernoulli(1 − p) per (sample, neuron), drawn once per sequence; the fused kernels
        take the same draw (nsb.kernels.fused), so both paths consume the generator alike."""
        if not self.training:
            return None
        return (torch.rand(shape, device=like.device) >= float(self.noise_rate)).to(like.dtype)

    def sequence_fire(self, shape: torch.Size, like: Tensor) -> Fire:
        mask = self.keep_mask(shape, like)
        if mask is None:
            return self
        a = self.alpha

        def fire(u: Tensor) -> Tensor:
            r = (u + a / 2).clamp(0, a)
            return r + ((self.heaviside(u) - r) * mask).detach()

        return fire


def asgl_noise_rate(epoch: int, epochs: int, initial: float = 0.1, gamma: float = 0.9,
                    milestones: tuple[float, ...] = (0.3, 0.7, 0.9, 0.95)) -> float:
    """The seed's ``MutiStepNoisyRateScheduler``: p × gamma at each milestone fraction of the epochs."""
    passed = sum(1 for m in milestones if epoch >= int(m * epochs))
    return initial * gamma**passed


SURROGATES: dict[str, type[Surrogate]] = {
    cls.name: cls for cls in (Rectangle, Triangle, Sigmoid, MultiGauss, Atan, FastSigmoid, ASGL)
}
SURROGATES["superspike"] = FastSigmoid


def build_surrogate(name: str, alpha: float = 1.0) -> Surrogate:
    if name not in SURROGATES:
        raise ConfigError(unknown("surrogate", name, SURROGATES))
    return SURROGATES[name](alpha)
