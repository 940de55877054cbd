"""The prototypical readout of NeuroBench's FSCIL baselines.

For class k with prototype c_k (the mean embedding of its training shots) the readout is a linear
layer with ``W_k = 2 c_k`` and ``b_k = −c_k·c_k``, so

    logit_k(e) = 2 e·c_k − |c_k|² = |e|² − |e − c_k|²,

i.e. the arg-max is the nearest prototype in Euclidean distance. Classes not seen yet get −∞
(NeuroBench subtracts +inf from their outputs), so they are never predicted.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nsb.errors import NsbError


class Prototypes:
    """A fixed table ``[classes, dim]`` filled session by session; no autograd state, no growth."""

    def __init__(self, num_classes: int, dim: int) -> None:
        self.weight = torch.zeros(num_classes, dim)
        self.seen = torch.zeros(num_classes, dtype=torch.bool)

    def add(self, embeddings: Tensor, labels: Tensor) -> None:
        """Set ``c_k`` = mean of ``embeddings`` with label k, for each k in ``labels``."""
        if embeddings.requires_grad:
            raise NsbError("prototypes must be built from detached embeddings (run under torch.inference_mode())")
        if embeddings.dim() != 2 or embeddings.shape[1] != self.weight.shape[1] or len(labels) != len(embeddings):
            raise NsbError(f"prototypes need embeddings [N, {self.weight.shape[1]}] and N labels, got "
                           f"{tuple(embeddings.shape)} and {len(labels)}")
        for k in labels.unique().tolist():
            self.weight[k] = embeddings[labels == k].float().mean(dim=0).cpu()
            self.seen[k] = True

    def logits(self, embeddings: Tensor) -> Tensor:
        w = self.weight.to(embeddings.device)
        out = 2 * embeddings @ w.t() - (w * w).sum(dim=1)
        return out.masked_fill(~self.seen.to(embeddings.device), float("-inf"))

    def predict(self, embeddings: Tensor) -> Tensor:
        return self.logits(embeddings).argmax(dim=1)
