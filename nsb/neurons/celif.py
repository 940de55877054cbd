"""Contextual-embedding LIF (Chen et al. 2023), as the seed's ``CELIF``.

A LIF whose threshold is a state, driven by the membrane through a temporal embedding TE::

    θ[t] = θ[t−1] + v[t−1]·TE[t] − β·(θ[t−1] − θ₀)
    v[t] = λ·v[t−1]·(1 − s[t−1]) + x[t]
    s[t] = H(v[t] − θ[t])                              the gradient also flows into θ[t]

TE has one row per time step (``time_steps``, fixed like GLIF's conductance) and is created by the
network and shared by all its CELIF layers (the seed's ``TE ∈ R^{max_hidden × T}``, stored here as
``[T, max_hidden]``): each layer reads its first N columns, and the op takes that slice as its
per-step input ``TE [T_max, N]``. A layer built alone holds its own. TE ~ N(0.01, 0.01); β = 0.02,
θ₀ = θ, λ 0.2 (the seed's defaults); θ[0] = θ₀, v[0] = V_rest (0), s[0] = 0. The op carries the
step index, so a chunked stream reads the right row of TE.
"""

from __future__ import annotations

from nsb.neurons.declare import Float, Floats, Int, Learned, Neuron, Op


def celif_step(f, x, state, p):
    s_prev = f.reset(state.s)
    theta = state.theta + state.v * p.TE - (state.theta - p.v_threshold) * p.beta
    v = state.v * p.decay * (1 - s_prev) + x
    return f.fire(v - theta), {"theta": theta, "v": v}


OP = Op(
    "CELIF", celif_step,
    attributes={
        "decay": Float(0.2, 0.0, 1.0, doc="λ"),
        "v_threshold": Float(0.3, doc="θ₀: the threshold at t = 0 and its rest"),
        "beta": Float(0.02, doc="β: the threshold's relaxation towards θ₀"),
    },
    step_inputs=("TE",),
    states=("v", "theta"),
    doc="LIF with a threshold state driven by v·TE[t] and relaxed to θ₀; TE [T_max, N] per step; "
        "T0 (a float scalar) is the index of the chunk's first step",
)

NEURON = Neuron(
    "celif", OP, __doc__,
    options={
        "time_steps": Int(None, doc="the sequence length (TE has one row per step); nsb train sets it from the data"),
        "decay": Float(0.2, 0.0, 1.0, doc="λ"),
        "threshold": Float(0.3, doc="θ₀"),
        "v_rest": Float(0.0, doc="the membrane at t = 0 (the seed's rest)"),
        "beta": Float(0.02, doc="β"),
        "embedding_init": Floats((0.01, 0.01), "mean and spread of TE at initialisation"),
    },
    learned={"te": Learned("step", lambda g, o: g.normal(*o.embedding_init), rows="time_steps", shared=True)},
    fold={"decay": "decay", "v_threshold": "threshold", "beta": "beta", "TE": lambda f, w, o: w.te},
    initial={"v": "v_rest", "theta": "threshold"},
    trace_decay="decay",
)
