"""Adaptive LIF (Yin et al. 2021), as the seed's ``ALIF``.

Per neuron, with learnable time constants τ_m and τ_adp::

    α = exp(−1/τ_m),  ρ = exp(−1/τ_adp)
    b[t] = ρ·b[t−1] + (1 − ρ)·s[t−1]                 adaptation
    B[t] = θ + β·b[t]                                 adaptive threshold
    v[t] = α·v[t−1] + x[t] − B[t]·s[t−1]              reset by the current threshold
    s[t] = H(v[t] − B[t])                             the gradient also flows into B

As in the seed the (1 − α) input factor of the paper is dropped, τ_m ~ N(20, 5) and
τ_adp ~ N(700, 25) are unconstrained, β = 1.8, b[0] = 0.01, v[0] = V_rest (0), s[0] = 0.
"""

from __future__ import annotations

from nsb.neurons.declare import Float, Floats, Learned, Neuron, Op


def alif_step(f, x, state, p):
    s_prev = f.reset(state.s)
    b = p.RHO * state.b + (1 - p.RHO) * s_prev
    threshold = p.v_threshold + p.beta * b
    v = p.ALPHA * state.v + x - threshold * s_prev
    return f.fire(v - threshold), {"v": v, "b": b}


OP = Op(
    "ALIF", alif_step,
    attributes={"v_threshold": Float(0.3, doc="θ"), "beta": Float(1.8, doc="β, the adaptation's weight")},
    inputs=("ALPHA", "RHO"),
    states=("v", "b"),
    doc="adaptive threshold θ + β·b, reset by it; α = exp(−1/τ_m), ρ = exp(−1/τ_adp) per neuron",
)

NEURON = Neuron(
    "alif", OP, __doc__,
    options={
        "threshold": Float(0.3, 0.0, None, open_lo=True, doc="θ"),
        "v_rest": Float(0.0, doc="the membrane at t = 0 (the seed's rest)"),
        "beta": Float(1.8),
        "b0": Float(0.01, doc="the adaptation at t = 0"),
        "tau_m": Floats((20.0, 5.0), "mean and spread of the membrane time constants"),
        "tau_adp": Floats((700.0, 25.0), "mean and spread of the adaptation time constants"),
    },
    learned={
        "tau_m": Learned("neuron", lambda g, o: g.normal(*o.tau_m)),
        "tau_adp": Learned("neuron", lambda g, o: g.normal(*o.tau_adp)),
    },
    fold={"v_threshold": "threshold", "beta": "beta",
          "ALPHA": lambda f, w, o: f.exp(-1.0 / w.tau_m), "RHO": lambda f, w, o: f.exp(-1.0 / w.tau_adp)},
    initial={"v": "v_rest", "b": "b0"},
    trace_decay=lambda f, w, o: f.exp(-1.0 / w.tau_m),
)
