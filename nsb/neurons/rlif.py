"""Recurrent LIF, the seed's ``Recurrent_LIF`` (its neuron for every main result).

LIF (see :mod:`nsb.neurons.lif`) whose input current gains a recurrent term before the charge::

    h[t] = decay · v[t−1] + (x[t] + W_rec · s[t−1] + b_rec)

``W_rec`` is an ``nn.Linear(N, N)`` with bias; spikes are strict (h > θ) and the reset is hard.
State ``(v, s)``.
"""

from __future__ import annotations

from nsb.neurons.lif import LIF, ResetMode


class RLIF(LIF):
    def __init__(self, size: int, *, decay: float = 0.2, threshold: float = 0.3, v_reset: float = 0.0,
                 reset: ResetMode = "hard", input_gain: float = 1.0, surrogate: str = "rectangle",
                 alpha: float = 1.0, backend: str = "auto") -> None:
        super().__init__(size, decay=decay, threshold=threshold, v_reset=v_reset, reset=reset,
                         input_gain=input_gain, surrogate=surrogate, alpha=alpha, recurrent=True, backend=backend)
