"""Gated LIF (Yao et al. 2022), as the seed's ``GLIF``.

Every parameter is stored as a logit and used through σ, per neuron; the conductance c is per
(time step, neuron), so a layer is built for at most ``time_steps`` steps::

    I[t] = x[t]·(1 − β_g·(1 − c[t]))
    u[t] = (1 − α_g·(1 − τ))·u[t−1]·(1 − γ_g·s[t−1]) − (1 − α_g)·leak + I[t] − (1 − γ_g)·reVth·s[t−1]
    s[t] = H(u[t] − V_th)                              the gradient also flows into V_th

Initial σ values: gates α_g, β_g, γ_g = 0.65, 0.35, 0.65 (Yao's ``(g − 0.5)/2 + 0.5`` of the gate
init [0.8, 0.2, 0.8]); τ = 0.25; V_th = threshold; leak = 0.0625; reVth = threshold; c = 0.5.
u[0] = V_rest (0) and s[0] = 0. The op carries the index of the next step as a state, so a chunked stream
picks up the right row of c (the seed restarts at row 0 on every call).
"""

from __future__ import annotations

from nsb.neurons.declare import Float, Floats, Int, Learned, Neuron, Op


def glif_step(f, x, state, p):
    s_prev = f.reset(state.s)
    current = x * (1 - p.BETA_G * (1 - p.C))
    u = ((1 - p.ALPHA_G * (1 - p.TAU)) * state.u * (1 - p.GAMMA_G * s_prev) - (1 - p.ALPHA_G) * p.LEAK + current
         - (1 - p.GAMMA_G) * p.RE_VTH * s_prev)
    return f.fire(u - p.V_TH), {"u": u}


OP = Op(
    "GLIF", glif_step,
    inputs=("ALPHA_G", "BETA_G", "GAMMA_G", "TAU", "LEAK", "RE_VTH", "V_TH"),
    step_inputs=("C",),
    states=("u",),
    doc="gated LIF with σ-folded per-neuron gates and the per-step conductance C [T_max, N]; "
        "T0 (a float scalar) is the index of the chunk's first step",
)

def _logit_of(name):
    return lambda g, o: g.full(g.logit(getattr(o, name)))


def _gate(index):
    return lambda g, o: g.full(g.logit((o.gates[index] - 0.5) * 0.5 + 0.5))


NEURON = Neuron(
    "glif", OP, __doc__,
    options={
        "time_steps": Int(None, doc="the sequence length (the conductance has one row per step); "
                                    "nsb train sets it from the data"),
        "threshold": Float(0.3, 0.0, 1.0, open_lo=True, open_hi=True, doc="σ(V_th) and σ(reVth) at initialisation"),
        "v_rest": Float(0.0, doc="the membrane at t = 0 (the seed's rest)"),
        "gates": Floats((0.8, 0.2, 0.8), "Yao's gate init for α_g, β_g, γ_g",
                        item=Float(lo=-0.5, hi=1.5, open_lo=True, open_hi=True)),
        "tau": Float(0.25, 0.0, 1.0, open_lo=True, open_hi=True),
        "leak": Float(0.0625, 0.0, 1.0, open_lo=True, open_hi=True),
        "conductance": Float(0.5, 0.0, 1.0, open_lo=True, open_hi=True),
    },
    learned={
        "alpha_g": Learned("neuron", _gate(0)),
        "beta_g": Learned("neuron", _gate(1)),
        "gamma_g": Learned("neuron", _gate(2)),
        "tau": Learned("neuron", _logit_of("tau")),
        "leak": Learned("neuron", _logit_of("leak")),
        "re_vth": Learned("neuron", _logit_of("threshold")),
        "v_th": Learned("neuron", _logit_of("threshold")),
        "conductance": Learned("step", _logit_of("conductance"), rows="time_steps"),
    },
    fold={name.upper(): (lambda key: lambda f, w, o: f.sigmoid(getattr(w, key)))(name)
          for name in ("alpha_g", "beta_g", "gamma_g", "tau", "leak", "re_vth", "v_th")}
    | {"C": lambda f, w, o: f.sigmoid(w.conductance)},
    initial={"u": "v_rest"},
    trace_decay=lambda f, w, o: 1 - f.sigmoid(w.alpha_g) * (1 - f.sigmoid(w.tau)),
)
