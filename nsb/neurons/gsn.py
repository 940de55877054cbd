"""The GSN cell: the Gated Spiking Neuron (Spiking-FullSubNet, Hao et al. 2024; the seed's ``GSN``
architecture cell, ``reference/neuroseqbench.md`` §1.2 and §6.2), an LSTM-like gate over a spiking
hidden state. It owns its input layer, so the network gives it no separate Linear, and it is always
recurrent (its gates read h[t−1]):

    u[t] = σ(W_u·x[t] + U_u·h[t−1] + b_u)
    c[t] = u[t] ⊙ c[t−1] + (1 − u[t]) ⊙ (W_c·x[t] + U_c·h[t−1] + b_c)
    h[t] = H(c[t] − θ)                       (surrogate gradient; no reset)

Every weight and bias ~ U(±1/√H) (H = the layer's size), as PyTorch's recurrent cells; c₀ = 0, h₀ = 0.
θ is the config's ``neuron.threshold`` (default 0.5, the seed's NSA default: the reference gives the
cell no value of its own). The state is (c, h) — h is the spike.

``[W_u; W_c]·x[t] + [b_u; b_c]`` for the whole sequence is one GEMM before the loop; only
``[U_u; U_c]·h[t−1]`` stays in it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nsb.neurons.declare import Float
from nsb.neurons.dense import DenseNeuron, LayerNeuron, State, hard_fire, scan_with_weights


class GSN(DenseNeuron):
    def setup(self) -> None:
        h = self.size
        bound = 1.0 / math.sqrt(h)
        self.weight_x = nn.Parameter(torch.empty(2 * h, self.input_size).uniform_(-bound, bound))  # [W_u; W_c]
        self.weight_h = nn.Parameter(torch.empty(2 * h, h).uniform_(-bound, bound))               # [U_u; U_c]
        self.bias = nn.Parameter(torch.empty(2 * h).uniform_(-bound, bound))                      # [b_u; b_c]

    @staticmethod
    def initial(x0: Tensor, constants: dict[str, Any]) -> State:
        c = x0.new_zeros(x0.shape[0], constants["size"])
        return c, c.clone()

    def run(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        gu, gc = F.linear(x, self.weight_x, self.bias).chunk(2, dim=-1)
        c, h = state
        spikes, last = self.loop((gu, gc), {"c": c, "s": h}, {"w_h": self.weight_h})
        return spikes, (last["c"], last["s"])

    def step(self, x: tuple[Tensor, ...], state: dict[str, Tensor], p: dict[str, Any],  # type: ignore[override]
             prims: Any) -> tuple[Tensor, dict]:
        gu, gc = x
        ru, rc = F.linear(state["s"], p["w_h"]).chunk(2, dim=-1)
        u = torch.sigmoid(gu + ru)
        c = u * state["c"] + (1 - u) * (gc + rc)
        return prims.fire(c - self.options.threshold), {"c": c}

    def weight_matrices(self) -> list[Tensor]:
        return [self.weight_x, self.weight_h]

    def step_synapses(self, x_t: Tensor, state: dict[str, Tensor], p: dict[str, Any]) -> list[tuple[Tensor, Tensor]]:
        return [(x_t, self.weight_x), (state["s"], self.weight_h)]  # [W_u; W_c]·x[t], [U_u; U_c]·h[t−1]

    # --- deployment: the same arithmetic in the same order, with a hard spike ---------------------

    def deploy_tensors(self) -> dict[str, Tensor]:
        return {"w_x": self.weight_x, "bias": self.bias, "w_h": self.weight_h}

    @staticmethod
    def deploy_scan(x: Tensor, tensors: tuple[Tensor, ...], state: State, k: dict[str, Any]) -> tuple[Tensor, State]:
        w_x, bias, w_h = tensors
        gu, gc = F.linear(x, w_x, bias).chunk(2, dim=-1)
        theta, ge = k["threshold"], k["ge"]

        def body(carry, w, inputs):
            c, h = carry
            a, g = inputs
            ru, rc = F.linear(h, w[0]).chunk(2, dim=-1)
            u = torch.sigmoid(a + ru)
            c = u * c + (1 - u) * (g + rc)
            h = hard_fire(c - theta, ge)
            return (c, h), h

        return scan_with_weights(body, state, (w_h,), (gu, gc))

    @staticmethod
    def deploy_script(x: Tensor, tensors: tuple[Tensor, ...], state: State, k: dict[str, Any]) -> tuple[Tensor, State]:
        w_x, bias, w_h = tensors
        gu, gc = F.linear(x, w_x, bias).chunk(2, dim=-1)
        out = _script()(gu, gc, w_h, state[0], state[1], float(k["threshold"]), bool(k["ge"]))
        return out[0], tuple(out[1:])


_SOURCE = """
def gsn_sequence(gu: Tensor, gc: Tensor, w_h: Tensor, c: Tensor, h: Tensor, theta: float, ge: bool
                 ) -> Tuple[Tensor, Tensor, Tensor]:
    spikes: List[Tensor] = []
    for t in range(gu.shape[0]):
        r = torch.nn.functional.linear(h, w_h).chunk(2, dim=-1)
        u = torch.sigmoid(gu[t] + r[0])
        c = u * c + (1 - u) * (gc[t] + r[1])
        z = c - theta
        if ge:
            h = (z >= 0).to(z.dtype)
        else:
            h = (z > 0).to(z.dtype)
        spikes.append(h)
    return torch.stack(spikes), c, h
"""


@lru_cache(maxsize=None)
def _script():
    return torch.jit.CompilationUnit(_SOURCE).gsn_sequence


NEURON = LayerNeuron(
    "gsn", __doc__, "GSN", GSN, states=("c", "s"), recurrence="always", owns_input=True,
    options={"threshold": Float(0.5, 0.0, None, open_lo=True, doc="θ")},
)
