"""LIF with the ASGL noisy spike (Wang et al. 2023), as the seed's ``ASGL_LIF``.

The seed's LIF update with the hard reset deferred to the next charge, spiking through its
``EfficientNoisySpike`` (the ``asgl`` surrogate, :mod:`nsb.surrogate`)::

    v[t] = λ·v[t−1]·(1 − s[t−1]) + V_rest·s[t−1] + x[t]
    s[t] = H(v[t] − θ) with H(0) = 1 (u ≥ 0); in training a fraction p of the neurons, drawn once
           per sequence, pass r(u) = clamp(u + a/2, 0, a) forward instead; gradient 1[|u| < a/2]

The surrogate is part of the neuron: a config naming ``asgl_lif`` sets ``surrogate.name = "asgl"``
(its width ``surrogate.alpha`` is the seed's ``a``, 1 by default; p follows the seed's schedule).
Defaults are the seed's: λ 0.2, θ 0.3, V_rest 0. The op is LIF's, exported with
``spike_test = "greater_equal"``.
"""

from __future__ import annotations

from nsb.neurons import lif

NEURON = lif.NEURON.variant(
    "asgl_lif", __doc__, drop=("reset", "reset_timing", "input_gain"),
    fold={**lif.NEURON.fold, "reset_mode": lambda f, w, o: "hard", "reset_timing": lambda f, w, o: "deferred",
          "input_gain": 1.0},
    surrogate="asgl",
)
