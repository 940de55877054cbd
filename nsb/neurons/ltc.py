"""LTC: the liquid time-constant spiking neuron (Yin et al. 2023, FPTT; the seed's ``LTC``,
``liquid_time_constant_neuron.py``, ``reference/neuroseqbench.md`` §1.2). Its decays are computed at
every step from the input and its own state by two dense layers:

    α[t] = σ(L_m([x[t]; v[t−1]]))          ρ[t] = σ(L_a([x[t]; b[t−1]]))      L_m, L_a: Linear(2N → N)
    b[t] = ρ[t]·b[t−1] + (1 − ρ[t])·s[t−1]
    B[t] = θ + 0.2·b[t]
    v[t] = v[t−1] + α[t]·(x[t] − v[t−1])
    s[t] = H(v[t] − B[t])                   (the surrogate's gradient reaches B)
    v[t] ← (1 − s[t])·v[t]                  (the state v is the membrane after this reset)

L_m and L_a: Xavier-normal weights, zero biases. v₀ = 0, s₀ = 0, b₀ = θ (``neuron.b0``; the seed's PTB
state starts from b = 0.5). A recurrent layer (``model.recurrent``) adds ``W_rec·s[t−1] + b_rec``
(``nn.Linear(N, N)``, PyTorch's initialisation) to x[t] first, as every seed neuron does; that sum is
the x[t] both gates and the membrane see.

The input's halves of L_m and L_a (and their biases) for the whole sequence are one GEMM before the
loop; the halves reading v[t−1], b[t−1] (and a recurrent layer's current) stay in it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nsb.neurons.declare import Float
from nsb.neurons.dense import DenseNeuron, LayerNeuron, OptionalFloat, State, hard_fire, scan_with_weights

ADAPTATION = 0.2  # the seed's weight of b in the threshold B = θ + 0.2·b


class LTC(DenseNeuron):
    def setup(self) -> None:
        n = self.size
        self.gate_m = nn.Linear(2 * n, n)  # L_m, over [x; v]
        self.gate_a = nn.Linear(2 * n, n)  # L_a, over [x; b]
        for gate in (self.gate_m, self.gate_a):
            nn.init.xavier_normal_(gate.weight)
            nn.init.zeros_(gate.bias)
        if self.is_recurrent:
            self.recurrent = nn.Linear(n, n)

    @property
    def b0(self) -> float:
        b0 = self.options.b0
        return float(self.options.threshold if b0 is None else b0)

    def deploy_constants(self) -> dict[str, Any]:
        return {**super().deploy_constants(), "b0": self.b0, "recurrent": self.is_recurrent}

    @staticmethod
    def initial(x0: Tensor, constants: dict[str, Any]) -> State:
        v = x0.new_zeros(x0.shape[0], constants["size"])
        return v, torch.full_like(v, constants["b0"]), v.clone()

    def _tensors(self) -> dict[str, Tensor]:
        n = self.size
        wm, wa = self.gate_m.weight, self.gate_a.weight
        out = {"w_x": torch.cat([wm[:, :n], wa[:, :n]]), "bias": torch.cat([self.gate_m.bias, self.gate_a.bias]),
               "w_mv": wm[:, n:].contiguous(), "w_ab": wa[:, n:].contiguous()}
        if isinstance(self.recurrent, nn.Linear):
            out |= {"w_mx": wm[:, :n].contiguous(), "w_ax": wa[:, :n].contiguous(), "w_rec": self.recurrent.weight,
                    "b_rec": self.recurrent.bias}
        return out

    def run(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        p = self._tensors()
        gm, ga = F.linear(x, p["w_x"], p["bias"]).chunk(2, dim=-1)
        v, b, s = state
        spikes, last = self.loop((x, gm, ga), {"v": v, "b": b, "s": s}, p)
        return spikes, (last["v"], last["b"], last["s"])

    def step(self, x: tuple[Tensor, ...], state: dict[str, Tensor], p: dict[str, Any],  # type: ignore[override]
             prims: Any) -> tuple[Tensor, dict]:
        x_t, gm, ga = x
        v, b, s = state["v"], state["b"], state["s"]
        if self.is_recurrent:
            r = F.linear(s, p["w_rec"], p["b_rec"])
            x_t = x_t + r
            gm = gm + F.linear(r, p["w_mx"])
            ga = ga + F.linear(r, p["w_ax"])
        alpha = torch.sigmoid(gm + F.linear(v, p["w_mv"]))
        rho = torch.sigmoid(ga + F.linear(b, p["w_ab"]))
        b = rho * b + (1 - rho) * s
        threshold = self.options.threshold + ADAPTATION * b
        v = v + alpha * (x_t - v)
        s = prims.fire(v - threshold)
        return s, {"v": (1 - s) * v, "b": b}

    def weight_matrices(self) -> list[Tensor]:
        rec = [self.recurrent.weight] if isinstance(self.recurrent, nn.Linear) else []
        return [self.gate_m.weight, self.gate_a.weight, *rec]

    def step_synapses(self, x_t: Tensor, state: dict[str, Tensor], p: dict[str, Any]) -> list[tuple[Tensor, Tensor]]:
        # the seed's step: x̃ = x + W_rec·s (recurrent), L_m([x̃; v]), L_a([x̃; b])
        products = []
        if isinstance(self.recurrent, nn.Linear):
            products.append((state["s"], self.recurrent.weight))
            x_t = x_t + F.linear(state["s"], self.recurrent.weight, self.recurrent.bias)
        return products + [(torch.cat([x_t, state["v"]], -1), self.gate_m.weight),
                           (torch.cat([x_t, state["b"]], -1), self.gate_a.weight)]

    # --- deployment: the same arithmetic in the same order, with a hard spike ---------------------

    def deploy_tensors(self) -> dict[str, Tensor]:
        return self._tensors()

    @staticmethod
    def deploy_scan(x: Tensor, tensors: tuple[Tensor, ...], state: State, k: dict[str, Any]) -> tuple[Tensor, State]:
        w_x, bias, *weights = tensors
        gm, ga = F.linear(x, w_x, bias).chunk(2, dim=-1)
        theta, ge = k["threshold"], k["ge"]

        def body(carry, w, inputs):
            v, b, s = carry
            x_t, m, a = inputs
            if k["recurrent"]:
                r = F.linear(s, w[4], w[5])
                x_t = x_t + r
                m = m + F.linear(r, w[2])
                a = a + F.linear(r, w[3])
            alpha = torch.sigmoid(m + F.linear(v, w[0]))
            rho = torch.sigmoid(a + F.linear(b, w[1]))
            b = rho * b + (1 - rho) * s
            threshold = theta + ADAPTATION * b
            v = v + alpha * (x_t - v)
            s = hard_fire(v - threshold, ge)
            return ((1 - s) * v, b, s), s

        return scan_with_weights(body, state, tuple(weights), (x, gm, ga))

    @staticmethod
    def deploy_script(x: Tensor, tensors: tuple[Tensor, ...], state: State, k: dict[str, Any]) -> tuple[Tensor, State]:
        w_x, bias, w_mv, w_ab, *rest = tensors
        gm, ga = F.linear(x, w_x, bias).chunk(2, dim=-1)
        if not rest:
            empty = x.new_zeros(0)
            rest = [empty, empty, empty, empty]
        out = _script()(x, gm, ga, w_mv, w_ab, rest[0], rest[1], rest[2], rest[3], state[0], state[1], state[2],
                        float(k["threshold"]), bool(k["recurrent"]), bool(k["ge"]))
        return out[0], tuple(out[1:])


_SOURCE = f"""
def ltc_sequence(x: Tensor, gm: Tensor, ga: Tensor, w_mv: Tensor, w_ab: Tensor, w_mx: Tensor, w_ax: Tensor,
                 w_rec: Tensor, b_rec: Tensor, v: Tensor, b: Tensor, s: Tensor, theta: float, recurrent: bool,
                 ge: bool) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    spikes: List[Tensor] = []
    for t in range(x.shape[0]):
        x_t = x[t]
        m = gm[t]
        a = ga[t]
        if recurrent:
            r = torch.nn.functional.linear(s, w_rec, b_rec)
            x_t = x_t + r
            m = m + torch.nn.functional.linear(r, w_mx)
            a = a + torch.nn.functional.linear(r, w_ax)
        alpha = torch.sigmoid(m + torch.nn.functional.linear(v, w_mv))
        rho = torch.sigmoid(a + torch.nn.functional.linear(b, w_ab))
        b = rho * b + (1 - rho) * s
        threshold = theta + {ADAPTATION!r} * b
        v = v + alpha * (x_t - v)
        u = v - threshold
        if ge:
            s = (u >= 0).to(u.dtype)
        else:
            s = (u > 0).to(u.dtype)
        v = (1 - s) * v
        spikes.append(s)
    return torch.stack(spikes), v, b, s
"""


@lru_cache(maxsize=None)
def _script():
    return torch.jit.CompilationUnit(_SOURCE).ltc_sequence


NEURON = LayerNeuron(
    "ltc", __doc__, "LTC", LTC, states=("v", "b", "s"),
    options={
        "threshold": Float(0.3, 0.0, None, open_lo=True, doc="θ, the threshold's base"),
        "b0": OptionalFloat(None, doc="the adaptation b at t = 0 (default θ; the seed's PTB runs use 0.5)"),
    },
)
