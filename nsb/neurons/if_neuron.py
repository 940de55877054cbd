"""Integrate-and-fire: LIF without leak (decay = 1), as the seed's PSMNIST feed-forward runs use it.

    h[t] = v[t−1] + input_gain · x[t];  s[t] = H(h[t] − θ);  v[t] = reset(h[t], s[t])
"""

from __future__ import annotations

from nsb.neurons.lif import LIF, Backend, ResetMode


class IF(LIF):
    def __init__(self, size: int, *, threshold: float = 0.3, v_reset: float = 0.0, reset: ResetMode = "hard",
                 input_gain: float = 1.0, surrogate: str = "rectangle", alpha: float = 1.0,
                 recurrent: bool = False, backend: Backend = "auto") -> None:
        super().__init__(size, decay=1.0, threshold=threshold, v_reset=v_reset, reset=reset, input_gain=input_gain,
                         surrogate=surrogate, alpha=alpha, recurrent=recurrent, backend=backend)
