"""What a workload metric sees per batch, and the small protocol every metric class follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import Tensor, nn


@dataclass
class Batch:
    """One processed batch: predictions, targets and the recorder's counts for this batch only."""

    preds: Tensor
    targets: Tensor | None
    samples: int
    steps: int
    connections: dict[str, nn.Module]
    activations: dict[str, nn.Module]
    neurons: dict[str, nn.Module]
    ops: list[tuple[str, float, float, bool]] = field(default_factory=list)
    spikes: dict[str, list[int]] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)


class WorkloadMetric:
    """Accumulates over batches; ``compute`` gives the value over everything seen since ``reset``.

    ``needs`` names what the recorder must collect: "synapses", "activations", "membranes".
    """

    name: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, batch: Batch) -> None:
        raise NotImplementedError

    def compute(self) -> Any:
        raise NotImplementedError
