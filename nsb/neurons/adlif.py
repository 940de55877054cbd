"""Adaptive LIF with a subthreshold coupling (Bittar & Garner 2022), as the seed's ``adLIF``.

Per neuron, all four parameters learned and clamped to their ranges at every use::

    x̃ = BN(x)                                         over all T·B samples, momentum 0.05
    w[t] = β·w[t−1] + a·v[t−1] + b·s[t−1]
    v[t] = α·(v[t−1] − s[t−1]) + (1 − α)·(x̃[t] − w[t])
    s[t] = H(v[t] − θ)

α ∈ [e^(−1/5), e^(−1/25)], β ∈ [e^(−1/30), e^(−1/120)], a ∈ [−1, 1], b ∈ [0, 2], each initialised
uniformly over its range (``init_zero`` sets a = b = 0); v[0] = V_rest (0), w[0] = 0, s[0] = 0. The recurrent synapse is the seed's: an
orthogonally initialised N×N matrix with its diagonal held at zero, applied as ``s @ W`` without
bias. The input BN makes a chunked stream equal to one pass only in eval mode (running
statistics); ``input_norm = false`` drops it. The exporter writes the BN as standard ops.
"""

from __future__ import annotations

import math

from nsb.neurons.declare import Bool, Float, Floats, Learned, Neuron, Op


def adlif_step(f, x, state, p):
    s_prev = f.reset(state.s)
    w = p.BETA * state.w + p.A * state.v + p.B * s_prev
    v = p.ALPHA * (state.v - s_prev) + (1 - p.ALPHA) * (x - w)
    return f.fire(v - p.v_threshold), {"v": v, "w": w}


OP = Op(
    "ADLIF", adlif_step,
    attributes={"v_threshold": Float(0.3, doc="θ")},
    inputs=("ALPHA", "BETA", "A", "B"),
    states=("v", "w"),
    doc="adLIF with clamped per-neuron α, β, a, b; the input BN is exported as standard ops",
)


def _decays(taus):
    return math.exp(-1 / taus[0]), math.exp(-1 / taus[1])


NEURON = Neuron(
    "adlif", OP, __doc__,
    options={
        "threshold": Float(0.3, 0.0, None, open_lo=True, doc="θ"),
        "v_rest": Float(0.0, doc="the membrane at t = 0 (the seed's rest)"),
        "input_norm": Bool(True, "BN over the T·B samples of the input, as the seed"),
        "init_zero": Bool(False, "start a and b at 0"),
        "alpha_tau": Floats((5.0, 25.0), "time constants bounding α = exp(−1/τ)"),
        "beta_tau": Floats((30.0, 120.0), "time constants bounding β = exp(−1/τ)"),
        "a_range": Floats((-1.0, 1.0)),
        "b_range": Floats((0.0, 2.0)),
    },
    learned={
        "alpha": Learned("neuron", lambda g, o: g.uniform(*_decays(o.alpha_tau))),
        "beta": Learned("neuron", lambda g, o: g.uniform(*_decays(o.beta_tau))),
        "a": Learned("neuron", lambda g, o: g.zeros() if o.init_zero else g.uniform(*o.a_range)),
        "b": Learned("neuron", lambda g, o: g.zeros() if o.init_zero else g.uniform(*o.b_range)),
    },
    fold={"v_threshold": "threshold",
          "ALPHA": lambda f, w, o: f.clamp(w.alpha, *_decays(o.alpha_tau)),
          "BETA": lambda f, w, o: f.clamp(w.beta, *_decays(o.beta_tau)),
          "A": lambda f, w, o: f.clamp(w.a, *o.a_range),
          "B": lambda f, w, o: f.clamp(w.b, *o.b_range)},
    initial={"v": "v_rest"},
    trace_decay=lambda f, w, o: f.clamp(w.alpha, *_decays(o.alpha_tau)),
    recurrent_synapse="zero_diagonal",
    input_norm="input_norm",
)
