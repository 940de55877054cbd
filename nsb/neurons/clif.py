"""Complementary LIF (Huang et al. 2024, CLIF), as the seed's ``CLIF``.

A membrane u and a complementary potential m that remembers recent spikes::

    u[t] = γ·u[t−1] + x[t]
    s[t] = H(u[t] − θ)
    m[t] = σ(m[t−1]·σ((1 − γ)·u[t]) + s[t])
    then  u[t] ← u[t] − s[t]·(θ + m[t])            (the reset follows the spike)

γ = 0.5 is fixed (the seed ignores its ``decay``); u[0] = V_rest (0), m[0] = 0, s[0] = 0. The outer σ
of m is the seed's code as it runs (and CLIF's own): it writes ``torch.sigmoid_(m)`` in the reset,
which replaces m by σ(m) in place, so the state carried to the next step is σ(m), the value the reset
subtracted. (``reference/neuroseqbench.md`` §1.2 paraphrases it as ``m[t] = m[t−1]·σ(…) + y[t]`` and
``u ← u − y·(θ + σ(m[t]))``, which differ from the code from the second spike on.)

The step has two sigmoids of element values (``f.sigmoid``), which each runtime computes with its own
exp: backends agree on the spikes and on the states to about an ulp per step, not bit for bit.
"""

from __future__ import annotations

from nsb.neurons.declare import Float, Neuron, Op


def clif_step(f, x, state, p):
    u = p.gamma * state.u + x
    s = f.fire(u - p.v_threshold)
    s_reset = f.reset(s)
    m = f.sigmoid(state.m * f.sigmoid((1 - p.gamma) * u) + s_reset)
    return s, {"u": u - s_reset * (p.v_threshold + m), "m": m}


OP = Op(
    "CLIF", clif_step,
    attributes={
        "gamma": Float(0.5, 0.0, 1.0, doc="γ, the membrane's leak (the seed fixes it at 0.5)"),
        "v_threshold": Float(0.3, doc="θ"),
    },
    states=("u", "m"),
    doc="complementary LIF: u leaks by γ, m = σ(m·σ((1 − γ)u) + s), the reset subtracts s·(θ + m)",
)

NEURON = Neuron(
    "clif", OP, __doc__,
    options={
        "threshold": Float(0.3, 0.0, None, open_lo=True, doc="θ"),
        "v_rest": Float(0.0, doc="the membrane at t = 0 (the seed's rest)"),
    },
    fold={"gamma": 0.5, "v_threshold": "threshold"},
    initial={"u": "v_rest"},
    trace_decay=0.5,
)
