"""DH-LIF: the LIF neuron with dendritic heterogeneity (DH-SNN, Zheng et al. 2024; the seed's ``DHSNN``,
``dendritic_heterogeneity_lif.py``, ``reference/neuroseqbench.md`` §1.2). The neuron owns its input
layer, so the network gives it no separate Linear:

    x̃[t] = [x[t] (; s[t−1] if recurrent); zeros up to a multiple of B_n]
    c[t] = W·x̃[t] + b                       N·B_n outputs: neuron j's branch k is output j·B_n + k
    d[t] = β ⊙ d[t−1] + (1 − β) ⊙ c[t]       β = σ(τ_n), one per (neuron, branch)
    I[t] = Σ_k d_k[t]
    v[t] = σ(τ_m)·v[t−1] + I[t] − θ·s[t−1]
    s[t] = H(v[t] − θ)

τ_m ~ U(0, 4) per neuron, τ_n ~ U(0, 4) per (neuron, branch), B_n = 4, θ 0.3, v₀ = d₀ = 0, s₀ = 0;
the Linear has PyTorch's default initialisation over its padded fan-in. The seed's sparse branch mask
is built but never applied (``apply_mask()`` is not called), so the layer is dense, as here.

The input's products ``W_x·x[t] + b`` for the whole sequence are one GEMM before the loop; a recurrent
layer's ``W_s·s[t−1]`` stays in it (the padding columns multiply zeros and are skipped). What remains of a
feed-forward layer is an element-wise recurrence over (d, v), which trains through the generated kernels of
two stage ops (:mod:`nsb.neurons.dhlif_ops`: the branches, their sum, the soma), bit for bit this loop. A
recurrent layer couples the two stages inside each step and runs the loop.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nsb.errors import ConfigError
from nsb.neurons.declare import Float, Floats, Int
from nsb.neurons.dense import DenseNeuron, LayerNeuron, State, hard_fire, scan_with_weights
from nsb.neurons.dhlif_ops import DENDRITE, SOMA, dendrite_step, soma_step


class DHLIF(DenseNeuron):
    def setup(self) -> None:
        o = self.options
        for key in ("tau_m", "tau_n"):
            lo, hi = getattr(o, key)
            if not lo <= hi:
                raise ConfigError(f"neuron.{key} is the range [low, high] of a uniform initialisation; "
                                  f"got [{lo}, {hi}]")
        n, branches = self.size, o.branches
        total = self.input_size + (n if self.is_recurrent else 0)
        self.pad = (-total) % branches
        self.dense = nn.Linear(total + self.pad, n * branches)
        self.tau_m = nn.Parameter(torch.empty(n).uniform_(*o.tau_m))
        self.tau_n = nn.Parameter(torch.empty(n, branches).uniform_(*o.tau_n))

    def deploy_constants(self) -> dict[str, Any]:
        return {**super().deploy_constants(), "branches": int(self.options.branches), "recurrent": self.is_recurrent}

    @staticmethod
    def initial(x0: Tensor, constants: dict[str, Any]) -> State:
        v = x0.new_zeros(x0.shape[0], constants["size"])
        return v, x0.new_zeros(x0.shape[0], constants["size"], constants["branches"]), v.clone()

    def _tensors(self) -> dict[str, Tensor]:
        """The folded tensors: σ(τ_m), σ(τ_n), 1 − σ(τ_n), the input's and the spikes' columns of W, b."""
        beta = torch.sigmoid(self.tau_n)
        weight, n_in = self.dense.weight, self.input_size
        out = {"alpha": torch.sigmoid(self.tau_m), "beta": beta, "gamma": 1 - beta,
               "w_x": weight[:, :n_in].contiguous(), "bias": self.dense.bias}
        if self.is_recurrent:
            out["w_s"] = weight[:, n_in:n_in + self.size].contiguous()
        return out

    def run(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        p = self._tensors()
        current = F.linear(x, p["w_x"], p["bias"]).unflatten(-1, (self.size, self.options.branches))
        v, d, s = state
        spikes, last = self.loop((current,), {"v": v, "d": d, "s": s}, p)
        return spikes, (last["v"], last["d"], last["s"])

    # --- the feed-forward layer through the fused kernels of its two stages (nsb/neurons/dhlif_ops.py) -----

    def fused_unsupported(self, x: Tensor) -> str | None:
        from nsb.kernels import SURROGATE_IDS, cpu_unavailable, tensor_unsupported

        if self.is_recurrent:
            return ("a recurrent DH-LIF layer reads s[t−1] through its dense layer inside each step, so it has no "
                    "fused kernel")
        if self.surrogate.name not in SURROGATE_IDS:
            return f"the surrogate '{self.surrogate.name}' has no kernel"
        return tensor_unsupported(x, self.backend) or cpu_unavailable(x, self.backend)

    def run_fused(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """``run`` through the kernels: DHDEND over the N·B_n branches, their sum in branch order, DHSOMA over
        the N neurons, chunk by chunk under T-STBP (every state detached at a cut, as the loop does)."""
        from nsb.kernels.fused import Config, FusedOp, kernel_surrogate, noise_draw

        p = self._tensors()
        n, branches = self.size, self.options.branches
        current = F.linear(x, p["w_x"], p["bias"])  # [T, B, N·B_n]: neuron j's branch k is column j·B_n + k
        device = "cuda" if x.is_cuda else "cpu"
        sg = self.surrogate
        keep = noise_draw(sg, torch.Size((x.shape[1], n)), x)  # after the GEMM, where the loop draws it
        name = kernel_surrogate(sg.name, keep)
        dendrite = Config(DENDRITE, (("spike_test", "greater"),), (), 0, name, float(sg.alpha), False, device)
        soma = Config(SOMA, (("v_threshold", float(self.options.threshold)), ("spike_test", sg.spike_test)), (), 0,
                      name, float(sg.alpha), False, device, keep)
        beta = p["beta"].reshape(-1)
        v, d, s = state
        d = d.reshape(*d.shape[:-2], n * branches)
        window = self.policy.truncate or x.shape[0]
        spikes = []
        for t0 in range(0, x.shape[0], window):
            if t0:
                v, d, s = v.detach(), d.detach(), s.detach()
            d_seq, d, _ = FusedOp.apply(dendrite, current[t0:t0 + window], beta, d, torch.zeros_like(d))
            out, v, s = FusedOp.apply(soma, branch_sum(d_seq.unflatten(-1, (n, branches))), p["alpha"], v, s)
            spikes.append(out)
        dtype = x.dtype
        return torch.cat(spikes), (v.to(dtype), d.unflatten(-1, (n, branches)).to(dtype), s.to(dtype))

    def step(self, x: tuple[Tensor, ...], state: dict[str, Tensor], p: dict[str, Any],  # type: ignore[override]
             prims: Any) -> tuple[Tensor, dict]:
        (c,) = x
        if self.is_recurrent:
            c = c + F.linear(state["s"], p["w_s"]).unflatten(-1, (self.size, self.options.branches))
        # the element-wise math is the stage ops' (dhlif_ops.py), the one the kernels are generated from
        d, _ = dendrite_step(prims, c, SimpleNamespace(d=state["d"]), SimpleNamespace(BETA=p["beta"]))
        soma = SimpleNamespace(ALPHA=p["alpha"], v_threshold=self.options.threshold)
        s, new = soma_step(prims, branch_sum(d), SimpleNamespace(v=state["v"], s=state["s"]), soma)
        return s, {"v": new["v"], "d": d}

    def weight_matrices(self) -> list[Tensor]:
        return [self.dense.weight]

    def step_synapses(self, x_t: Tensor, state: dict[str, Tensor], p: dict[str, Any]) -> list[tuple[Tensor, Tensor]]:
        # the seed's step: the dense layer over [x (; s[t−1]); zero padding] (the padding multiplies zeros)
        parts = [x_t, state["s"]] if self.is_recurrent else [x_t]
        return [(torch.cat([*parts, x_t.new_zeros(*x_t.shape[:-1], self.pad)], -1), self.dense.weight)]

    # --- deployment: the same arithmetic in the same order, with a hard spike ---------------------

    def deploy_tensors(self) -> dict[str, Tensor]:
        return self._tensors()

    @staticmethod
    def deploy_scan(x: Tensor, tensors: tuple[Tensor, ...], state: State, k: dict[str, Any]) -> tuple[Tensor, State]:
        alpha, beta, gamma, w_x, bias, *rest = tensors
        n, branches, theta = k["size"], k["branches"], k["threshold"]
        current = F.linear(x, w_x, bias).unflatten(-1, (n, branches))

        def body(carry, weights, inputs):
            v, d, s = carry
            (c,) = inputs
            if k["recurrent"]:
                c = c + F.linear(s, weights[3]).unflatten(-1, (n, branches))
            d = weights[1] * d + weights[2] * c
            i = d[..., 0]
            for b in range(1, branches):
                i = i + d[..., b]
            v = weights[0] * v + i - theta * s
            s = hard_fire(v - theta, k["ge"])
            return (v, d, s), s

        return scan_with_weights(body, state, (alpha, beta, gamma, *rest), (current,))

    @staticmethod
    def deploy_script(x: Tensor, tensors: tuple[Tensor, ...], state: State, k: dict[str, Any]) -> tuple[Tensor, State]:
        alpha, beta, gamma, w_x, bias, *rest = tensors
        current = F.linear(x, w_x, bias).unflatten(-1, (k["size"], k["branches"]))
        w_s = rest[0] if rest else current.new_zeros(0)
        out = _script()(current, alpha, beta, gamma, w_s, state[0], state[1], state[2], float(k["threshold"]),
                        bool(k["recurrent"]), bool(k["ge"]))
        return out[0], tuple(out[1:])


def branch_sum(d: Tensor) -> Tensor:
    """Σ_k d[..., k] in branch order, ((d_0 + d_1) + d_2) + …: the order every DH-LIF backend sums in."""
    parts = d.unbind(-1)
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


_SOURCE = """
def dhlif_sequence(c: Tensor, alpha: Tensor, beta: Tensor, gamma: Tensor, w_s: Tensor, v: Tensor, d: Tensor,
                   s: Tensor, theta: float, recurrent: bool, ge: bool) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    spikes: List[Tensor] = []
    n = d.shape[1]
    branches = d.shape[2]
    for t in range(c.shape[0]):
        c_t = c[t]
        if recurrent:
            c_t = c_t + torch.nn.functional.linear(s, w_s).reshape(s.shape[0], n, branches)
        d = beta * d + gamma * c_t
        i = d[:, :, 0]
        for b in range(1, branches):
            i = i + d[:, :, b]
        v = alpha * v + i - theta * s
        u = v - theta
        if ge:
            s = (u >= 0).to(u.dtype)
        else:
            s = (u > 0).to(u.dtype)
        spikes.append(s)
    return torch.stack(spikes), v, d, s
"""


@lru_cache(maxsize=None)
def _script():
    return torch.jit.CompilationUnit(_SOURCE).dhlif_sequence


NEURON = LayerNeuron(
    "dhlif", __doc__, "DHLIF", DHLIF, states=("v", "d", "s"), owns_input=True,
    options={
        "threshold": Float(0.3, 0.0, None, open_lo=True, doc="θ"),
        "branches": Int(4, doc="B_n, the dendritic branches per neuron"),
        "tau_m": Floats((0.0, 4.0), "range of the uniform initialisation of τ_m (σ(τ_m) is the membrane decay)"),
        "tau_n": Floats((0.0, 4.0), "range of the uniform initialisation of τ_n (σ(τ_n) is a branch's decay)"),
    },
)
