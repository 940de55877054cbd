"""Recurrent LIF, the seed's ``Recurrent_LIF`` with ``recurrent=True``: LIF whose input current gains
``W_rec·s[t−1] + b_rec`` (an ``nn.Linear(N, N)`` with bias) before the charge. Always recurrent; the
op is ``RLIF``.
"""

from __future__ import annotations

from nsb.neurons import lif

NEURON = lif.NEURON.variant("rlif", __doc__, recurrence="always")
