"""``model.ts``: the deployable twin traced to TorchScript, loadable with ``torch.jit.load`` alone.

Tracing records Linear, norm and readout as they ran; each neuron is a call to its scripted op
(:mod:`nsb.export.torch_kernels`), so the time loop and the sequence length stay dynamic and
nothing of nsb is needed to load or run the file.
"""

from __future__ import annotations

import io
import warnings

import torch

from nsb.errors import NsbError
from nsb.export.deploy import DeployModel


def export_torchscript(deploy: DeployModel, example: torch.Tensor) -> bytes:
    deploy.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice: TorchScript is still what users load
        try:
            traced = torch.jit.trace(deploy, (example,), check_trace=False, strict=False)
            traced = torch.jit.freeze(traced.eval())
        except Exception as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise NsbError(f"TorchScript export failed: {first[:300]}") from err
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
    return buffer.getvalue()
