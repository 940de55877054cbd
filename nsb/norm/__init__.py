"""Normalisation over time-major tensors ``[T, B, C, ...]``, applied to a layer's feed-forward current.

Every module takes ``forward(x, t0=0)``; ``t0`` (the index of the first step of a chunk) matters only
to the time-indexed ones (TEBN, BNTT), so callers treat all of them alike.
"""

from __future__ import annotations

from torch import Tensor, nn

from nsb.errors import ConfigError, unknown
from nsb.norm.bn import BN, TDBN
from nsb.norm.bntt import BNTT
from nsb.norm.layernorm import LayerNorm
from nsb.norm.tebn import TEBN


class NoNorm(nn.Module):
    def forward(self, x: Tensor, t0: int = 0) -> Tensor:
        return x


NORMS = {"none": NoNorm, "bn": BN, "tdbn": TDBN, "tebn": TEBN, "bntt": BNTT, "layernorm": LayerNorm}

__all__ = ["BN", "BNTT", "NORMS", "LayerNorm", "NoNorm", "TDBN", "TEBN", "build_norm"]


def build_norm(name: str, num_features: int, *, time_steps: int, threshold: float = 1.0) -> nn.Module:
    if name not in NORMS:
        raise ConfigError(unknown("norm", name, NORMS))
    if name == "none":
        return NoNorm()
    if name == "tdbn":
        return TDBN(num_features, threshold=threshold)
    if name in ("tebn", "bntt"):
        return NORMS[name](num_features, time_steps=time_steps)
    return NORMS[name](num_features)
