"""Two-compartment LIF (Zhang et al. 2024, TC-LIF), as the seed's ``TCLIF``.

A dendritic compartment v1 and a somatic one v2, coupled by two learned scalars per layer::

    v1[t] = v1[t−1] − σ(β1)·v2[t−1] + x[t]
    v2[t] = v2[t−1] + σ(β2)·v1[t]
    s[t]  = H(v2[t] − θ)
    then  v1[t] ← v1[t] − γ·s[t],   v2[t] ← v2[t] − θ·s[t]      (the reset follows the spike)

β1, β2 start at 0 (σ = 0.5), γ = 0.5; v1[0] = v2[0] = V_rest (0), s[0] = 0. The seed's ``decay`` is
unused by this neuron. The states are the compartments after the reset.
"""

from __future__ import annotations

from nsb.neurons.declare import Float, Floats, Learned, Neuron, Op


def tclif_step(f, x, state, p):
    v1 = state.v1 - p.beta1 * state.v2 + x
    v2 = state.v2 + p.beta2 * v1
    s = f.fire(v2 - p.v_threshold)
    s_reset = f.reset(s)
    return s, {"v1": v1 - s_reset * p.gamma, "v2": v2 - s_reset * p.v_threshold}


OP = Op(
    "TCLIF", tclif_step,
    attributes={
        "beta1": Float(0.5, 0.0, 1.0, doc="σ(β1): the soma's pull on the dendrite"),
        "beta2": Float(0.5, 0.0, 1.0, doc="σ(β2): the dendrite's drive of the soma"),
        "gamma": Float(0.5, doc="γ: the dendrite's reset per spike"),
        "v_threshold": Float(0.3, doc="θ: the soma's threshold and its reset per spike"),
    },
    states=("v1", "v2"),
    doc="two-compartment LIF: dendrite v1, soma v2, σ-folded couplings, resets after the spike",
)

NEURON = Neuron(
    "tclif", OP, __doc__,
    options={
        "threshold": Float(0.3, 0.0, None, open_lo=True, doc="θ"),
        "v_rest": Float(0.0, doc="both compartments at t = 0 (the seed's rest)"),
        "gamma": Float(0.5, doc="γ, the dendrite's reset per spike"),
        "beta_init": Floats((0.0, 0.0), "β1 and β2 at initialisation (the couplings are σ(β))"),
    },
    learned={
        "beta1": Learned("scalar", lambda g, o: g.full(o.beta_init[0])),
        "beta2": Learned("scalar", lambda g, o: g.full(o.beta_init[1])),
    },
    fold={"beta1": lambda f, w, o: f.sigmoid(w.beta1), "beta2": lambda f, w, o: f.sigmoid(w.beta2),
          "gamma": "gamma", "v_threshold": "threshold"},
    initial={"v1": "v_rest", "v2": "v_rest"},
)
