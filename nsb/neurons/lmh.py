"""Learnable multi-hierarchical neuron (Hao et al. 2024, LM-H), as the seed's ``LMH``.

A dendritic state vd and a somatic state vs, mixed by four learned scalars per layer through the
affine maps ``a·σ(·) + b`` with a = [1, 1, 1, 1], b = [−0.5, −0.5, 0.5, 0.5]::

    vd[t] = (σ(α1) − 0.5)·vd[t−1] + (σ(β1) − 0.5)·vs[t−1] + x[t]
    vs[t] = (σ(α2) + 0.5)·vs[t−1] + (σ(β2) + 0.5)·vd[t]
    s[t]  = H(vs[t] − θ)
    then  vs[t] ← vs[t] − sg(s[t])          subtracts 1, not θ; no gradient through the reset

α1, β1, α2, β2 start at 0; vd[0] = 0, vs[0] = 0.5·θ, s[0] = 0. The seed's ``decay`` and ``rest`` are
unused by this neuron. The states are vd and vs after the reset.
"""

from __future__ import annotations

from nsb.neurons.declare import Floats, Float, Learned, Neuron, Op


def lmh_step(f, x, state, p):
    vd = p.alpha1 * state.vd + p.beta1 * state.vs + x
    vs = p.alpha2 * state.vs + p.beta2 * vd
    s = f.fire(vs - p.v_threshold)
    return s, {"vd": vd, "vs": vs - f.detach(s)}


OP = Op(
    "LMH", lmh_step,
    attributes={
        "alpha1": Float(0.0, -0.5, 0.5, doc="σ(α1) − 0.5: the dendrite's leak"),
        "beta1": Float(0.0, -0.5, 0.5, doc="σ(β1) − 0.5: the soma's feedback into the dendrite"),
        "alpha2": Float(1.0, 0.5, 1.5, doc="σ(α2) + 0.5: the soma's leak", sample=0.875),
        "beta2": Float(1.0, 0.5, 1.5, doc="σ(β2) + 0.5: the dendrite's drive of the soma", sample=0.75),
        "v_threshold": Float(0.3, doc="θ"),
    },
    states=("vd", "vs"),
    doc="learnable multi-hierarchical neuron: dendrite vd, soma vs, σ-folded couplings; vs −= sg(s)",
)

#: the seed's affine maps a·σ(w) + b of α1, β1, α2, β2
A = (1.0, 1.0, 1.0, 1.0)
B = (-0.5, -0.5, 0.5, 0.5)


def _coupling(index, name):
    return lambda f, w, o: A[index] * f.sigmoid(getattr(w, name)) + B[index]


NEURON = Neuron(
    "lmh", OP, __doc__,
    options={
        "threshold": Float(0.3, 0.0, None, open_lo=True, doc="θ (vs starts at 0.5·θ)"),
        "init": Floats((0.0, 0.0, 0.0, 0.0), "α1, β1, α2, β2 at initialisation"),
    },
    learned={name: Learned("scalar", (lambda k: lambda g, o: g.full(o.init[k]))(k))
             for k, name in enumerate(("alpha1", "beta1", "alpha2", "beta2"))},
    fold={**{name: _coupling(k, name) for k, name in enumerate(("alpha1", "beta1", "alpha2", "beta2"))},
          "v_threshold": "threshold"},
    initial={"vs": lambda f, w, o: 0.5 * o.threshold},
)
