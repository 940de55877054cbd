"""The non-spiking leaky readout, as the seed's ``NonSpikingLIF`` (its DCLS network's last layer).

A leaky integrator whose output is its membrane, not a spike::

    v[t] = λ·v[t−1] + x[t]              output v[t]

The seed writes it as its LIF update with the spike held at 0 (``λ·v·(1 − y) + V_rest·y + x`` with
y = 0), so V_rest only sets v[0]. Defaults are the seed's: λ 0.2, V_rest 0. It has no threshold and no
reset; the surrogate never enters. Like the seed's, it is never recurrent (a recurrent matmul sums in
each runtime's order, and this neuron's output is the membrane itself, which every backend must
reproduce bit for bit). It is an op like every neuron (``LI``, with its R-variant), so a
model ends in it as in any other layer and every backend runs it; its "spikes" are the membrane
(``s[t] = v[t]``), which is what a following time reduction (sum, mean, last step) reads.
"""

from __future__ import annotations

from nsb.neurons.declare import Float, Neuron, Op


def leaky_step(f, x, state, p):
    v = p.decay * state.v + x
    return v, {"v": v}


OP = Op(
    "LI", leaky_step,
    attributes={"decay": Float(0.2, 0.0, 1.0, doc="λ, the membrane's leak per step")},
    states=("v",),
    doc="non-spiking leaky integrator: v = λ·v + x, output v (a readout layer)",
)

NEURON = Neuron(
    "leaky", OP, __doc__,
    options={
        "decay": Float(0.2, 0.0, 1.0, doc="λ"),
        "v_rest": Float(0.0, doc="the membrane at t = 0"),
    },
    fold={"decay": "decay"},
    initial={"v": "v_rest"},
    trace_decay="decay",
    recurrence="never",
)
