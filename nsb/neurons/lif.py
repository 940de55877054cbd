"""Leaky integrate-and-fire: the seed's ``LIF``/``Recurrent_LIF`` (its neuron for every main result)
and, by ``reset_timing``, its ``RLIF`` class (the learning-rule and normalisation experiments).

``reset_timing = "deferred"`` (the default): the reset is applied in the next step's charge, with the
rest value undecayed; ``v`` is the membrane the spike is taken from::

    hard:  v[t] = λ·v[t−1]·(1 − s[t−1]) + V_rest·s[t−1] + g·x[t]
    soft:  v[t] = λ·v[t−1] + (V_rest − θ)·s[t−1] + g·x[t]
    none:  v[t] = λ·v[t−1] + g·x[t]
    s[t] = H(v[t] − θ)

``reset_timing = "immediate"``: the reset follows the spike, so the rest value decays with the next
charge; ``v`` is the membrane after the reset::

    h[t] = λ·v[t−1] + g·x[t];   s[t] = H(h[t] − θ)
    hard:  v[t] = h[t] − h[t]·s[t] + V_rest·s[t]        soft: v[t] = h[t] − θ·s[t]        none: v[t] = h[t]

Both start from ``v[0] = V_rest`` and ``s[0] = 0`` (a constant: no surrogate path through a rebuilt
first spike). With V_rest = 0 and the hard reset the two timings give the same spikes; with the
soft reset and λ < 1, or V_rest ≠ 0, they do not. ``g`` (``input_gain``, 1 in the seed) scales the
input current. Defaults are the seed's constructor defaults: λ 0.2, θ 0.3, V_rest 0, hard.
"""

from __future__ import annotations

from nsb.neurons.declare import Choice, Float, Neuron, Op

RESETS = ("hard", "soft", "none")
TIMINGS = ("deferred", "immediate")


def lif_step(f, x, state, p):
    charge = p.input_gain * x
    if p.reset_timing == "deferred":
        s_prev = f.reset(state.s)
        if p.reset_mode == "hard":
            v = p.decay * state.v * (1 - s_prev) + p.v_rest * s_prev + charge
        elif p.reset_mode == "soft":
            v = p.decay * state.v + (p.v_rest - p.v_threshold) * s_prev + charge
        else:
            v = p.decay * state.v + charge
        return f.fire(v - p.v_threshold), {"v": v}
    h = p.decay * state.v + charge
    s = f.fire(h - p.v_threshold)
    s_reset = f.reset(s)
    if p.reset_mode == "hard":
        v = h - h * s_reset + p.v_rest * s_reset
    elif p.reset_mode == "soft":
        v = h - p.v_threshold * s_reset
    else:
        v = h
    return s, {"v": v}


OP = Op(
    "LIF", lif_step,
    attributes={
        "decay": Float(0.2, 0.0, 1.0, doc="λ, the membrane's leak per step"),
        "input_gain": Float(1.0, doc="g, the input current's scale"),
        "v_threshold": Float(0.3, doc="θ"),
        "v_rest": Float(0.0, doc="V_rest: the reset value and the initial membrane"),
        "reset_mode": Choice("hard", RESETS),
        "reset_timing": Choice("deferred", TIMINGS, "deferred: the seed's LIF/Recurrent_LIF; immediate: its RLIF"),
    },
    states=("v",),
    doc="leaky integrate-and-fire (LIF, IF, PLIF); reset deferred to the next charge or immediate",
)

NEURON = Neuron(
    "lif", OP, __doc__,
    options={
        "decay": Float(0.2, 0.0, 1.0, doc="λ"),
        "threshold": Float(0.3, 0.0, None, open_lo=True, doc="θ"),
        "v_rest": Float(0.0, doc="V_rest: the reset value and the initial membrane"),
        "reset": Choice("hard", RESETS),
        "reset_timing": Choice("deferred", TIMINGS),
        "input_gain": Float(1.0),
    },
    fold={"decay": "decay", "input_gain": "input_gain", "v_threshold": "threshold", "v_rest": "v_rest",
          "reset_mode": "reset", "reset_timing": "reset_timing"},
    initial={"v": "v_rest"},
    trace_decay="decay",
)
