"""Parametric LIF (Fang et al. 2021): LIF whose decay is learned, one scalar per layer.

    λ = σ(w), then the LIF step (:mod:`nsb.neurons.lif`)

``w`` starts at logit(init_decay); the seed starts it at 0 (λ = 0.5) and ignores its ``decay``
argument, which ``init_decay = 0.5`` reproduces. Export folds σ(w) into the op's ``decay``.
"""

from __future__ import annotations

from nsb.neurons import lif
from nsb.neurons.declare import Float, Learned

NEURON = lif.NEURON.variant(
    "plif", __doc__, drop=("decay",),
    options={"init_decay": Float(0.5, 0.0, 1.0, open_lo=True, open_hi=True, doc="σ(w) at initialisation")},
    learned={"w": Learned("scalar", lambda g, o: g.full(g.logit(o.init_decay)))},
    fold={**lif.NEURON.fold, "decay": lambda f, w, o: f.sigmoid(w.w)},
    trace_decay=lambda f, w, o: f.sigmoid(w.w),
)
