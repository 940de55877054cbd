"""The element-wise parts of DH-LIF's step (:mod:`nsb.neurons.dhlif`) as ops, so that its feed-forward layer
trains through generated fused kernels. Not neurons: no config names them, and the layer runs them one after
the other with the branch sum between, in the order of its loop::

    d[t] = β ⊙ d[t−1] + (1 − β) ⊙ c[t]      DHDEND, over the N·B_n branches (β = σ(τ_n) per branch)
    I[t] = Σ_k d_k[t]                       in branch order, in PyTorch over the whole sequence
    v[t] = α·v[t−1] + I[t] − θ·s[t−1]       DHSOMA, over the N neurons (α = σ(τ_m))
    s[t] = H(v[t] − θ)

These steps are DH-LIF's element-wise math, written once: the layer's PyTorch loop calls them at every step
and the kernels are generated from them, so the two agree bit for bit. A recurrent layer's branch currents
read s[t−1] through its own dense layer, which couples the two stages inside a step: it trains through its
loop. Importing this file needs no torch (the op registry reads it).
"""

from __future__ import annotations

from nsb.neurons.declare import Float, Op


def dendrite_step(f, x, state, p):
    d = p.BETA * state.d + (1 - p.BETA) * x
    return d, {"d": d}


def soma_step(f, x, state, p):
    v = p.ALPHA * state.v + x - p.v_threshold * state.s
    return f.fire(v - p.v_threshold), {"v": v}


DENDRITE = Op(
    "DHDEND", dendrite_step, inputs=("BETA",), states=("d",),
    doc="DH-LIF's dendritic branches: d = β·d + (1 − β)·c per branch, output d (no spike)",
)

SOMA = Op(
    "DHSOMA", soma_step, inputs=("ALPHA",), attributes={"v_threshold": Float(0.3, doc="θ")}, states=("v",),
    doc="DH-LIF's soma: v = α·v + I − θ·s[t−1], s = H(v − θ)",
)

#: the ops nsb.ops.registry adds besides the neurons' own
OPS = (DENDRITE, SOMA)
