"""Integrate-and-fire: LIF without leak (λ = 1), as the seed's PS-MNIST feed-forward runs use it.

    v[t] = v[t−1]·(1 − s[t−1]) + V_rest·s[t−1] + g·x[t];   s[t] = H(v[t] − θ)     (deferred hard reset)
"""

from __future__ import annotations

from nsb.neurons import lif

NEURON = lif.NEURON.variant("if", __doc__, drop=("decay",), fold={**lif.NEURON.fold, "decay": 1.0}, trace_decay=1.0)
