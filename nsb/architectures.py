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
    "tcn": "nsb.models.tcn",  # Bai et al.'s TCN (weight-normed dilated causal Conv1d, residuals)
    "spiking_tcn": "nsb.models.spiking_tcn",  # the TCN with nsb neurons over an inner time axis T_in = 1
    "gsn": "nsb.models.gsn_net",  # stacked GSN cells
    "lstm": "nsb.models.reference_lstm",  # non-spiking reference (nn.LSTM)
    "transformer": "nsb.models.reference_transformer",  # non-spiking reference (nn.TransformerEncoder)
}


def kinds() -> list[str]:
    return [*BUILT_IN, *ARCHITECTURES]
