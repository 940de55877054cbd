"""The architectures a config's ``model.kind`` names besides the built-in three (classifier, language,
conv): one module each under ``nsb/models/``, imported on first use so that reading a config needs no torch.

Each module exposes ``Options`` (a dataclass of its own settings, given under ``[arch]`` in a config and
checked like ``[data]``'s: unknown keys refused with a suggestion, types and ranges checked) and
``build(cfg, task, options, make_neuron, make_norm) -> nn.Module`` returning a model with the classifier's
interface: ``model(x [T, B, F], state) -> (output, state)``.
"""

from __future__ import annotations

BUILT_IN = ("classifier", "language", "conv")

#: model.kind -> module; issue 17 adds the seed's architectures here, one line each
ARCHITECTURES: dict[str, str] = {
    "dcls": "nsb.models.dcls_net",  # LIF with DCLS learnable delays
    "sdt": "nsb.models.sdt",  # the spike-driven transformer (T_in = 1 or 4)
}


def kinds() -> list[str]:
    return [*BUILT_IN, *ARCHITECTURES]
