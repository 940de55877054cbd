"""Batch normalisation over time-major tensors, statistics shared across time.

``BN``: per feature, mean and variance over all T·B (and H·W) samples, one running estimate;
γ = 1, β = 0 at init. This is how the seed's fixed BNs (SHD/SSC layers 3-5) see a sequence.

``TDBN`` (threshold-dependent BN, Zheng et al. 2021): the same statistics, γ initialised to
α·V_th so that normalised currents are scaled to the neuron's threshold (α = 1 in the seed).
"""

from __future__ import annotations

from torch import Tensor, nn


def _to_batch(x: Tensor) -> Tensor:
    """[T, B, C, ...] → [T·B, C, ...], the layout BatchNorm expects."""
    return x.flatten(0, 1)


class BN(nn.Module):
    def __init__(self, num_features: int, *, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features = num_features
        self.bn1d = nn.BatchNorm1d(num_features, eps=eps, momentum=momentum)

    def forward(self, x: Tensor, t0: int = 0) -> Tensor:
        y = _to_batch(x)
        if y.dim() > 3:  # conv maps [N, C, H, W]: BatchNorm1d takes [N, C, L]
            y = self.bn1d(y.flatten(2)).reshape(y.shape)
        else:
            y = self.bn1d(y)
        return y.reshape(x.shape)


class TDBN(BN):
    def __init__(self, num_features: int, *, threshold: float = 1.0, alpha: float = 1.0, eps: float = 1e-5,
                 momentum: float = 0.1) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        nn.init.constant_(self.bn1d.weight, alpha * threshold)
