"""S4D as a spiking block (Stan & Rhodes 2024, "Learning long sequences in SNNs"; the seed's ``s4d.py``,
``reference/neuroseqbench.md`` §1.2, "S4D details"):

    kernel   A_n = −exp(log A_real) + i·A_imag (init −0.5 + iπn, n = 0…N/2−1), log dt ~ U[log 1e−3, log 1e−1]
             per channel, C complex N(0, 1):  K_l = 2·Re Σ_n C_n·(e^{dt·A_n} − 1)/A_n·e^{dt·A_n·l}
    core     y = K ∗ z + D·z (FFT convolution), D ~ N(0, 1)
    binary   z = LayerNorm(x); s = H(y − θ), θ = 0 (the config's surrogate); out = GLU(Conv1d(H, 2H, 1)(dropout(s))) + x
    gsu      z = x (no pre-LayerNorm); tern(v) = sign(v)·[|v| ≥ 0.15·max|v|];
             out = GELU(LayerNorm((tern(y)·Wᵀ + b) ⊙ (y·tern(W)ᵀ + c))) + x

The layer's spikes (what is recorded and exported as its spike train) are s in binary mode and the
events |tern(y)| in GSU mode; its output is the block's. The ternarisation's scale max|y| is taken per sample, over
its steps and channels (the seed takes it over the batch, which would make a sample's output depend on
the others), and tern() carries no gradient: y and W get theirs through the other factor. The SSM
tensors (log dt, log A_real, A_imag, C) form their own optimiser group, weight decay 0 and
lr = min(1e−3, lr) (the seed's ``setup_optimizer``), through :meth:`S4D.parameter_groups`.

The state is the SSM's (complex, as real and imaginary parts), so a binary-mode stream cut into
chunks continues exactly (up to the FFT's rounding); GSU's per-call scale does not. The deployed twin
convolves with the kernel materialised for ``time_steps`` steps as a depthwise ``Conv``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn

from nsb.errors import ConfigError
from nsb.neurons.declare import Choice, Float, Int
from nsb.neurons.parallel import (ParallelDeploy, ParallelNeuron, State, complex_state, direct_causal_conv, fire,
                                  ssm_convolve, ssm_kernel)

OPTIONS = {
    "mode": Choice("binary", ("binary", "gsu"), "binary: spikes then Conv1d + GLU; gsu: ternary gated unit"),
    "threshold": Float(0.0, doc="θ of the binary mode's spike H(y − θ) (the seed's 0; not used by gsu)"),
    "d_state": Int(64, 2, "N, the SSM's state size (N/2 complex modes)"),
    "dropout": Float(0.0, 0.0, 1.0, open_hi=True, doc="dropout on the spikes (binary mode; the seed's NSA runs use 0.1)"),
    "ssm_lr": Float(1e-3, 0.0, open_lo=True, doc="the SSM tensors' learning rate cap: lr = min(ssm_lr, train.lr)"),
    "time_steps": Int(None, 1, "the longest sequence the exported kernel covers (filled in from the data)"),
}

TERNARY = 0.15
SSM_TENSORS = ("log_dt", "log_A_real", "A_imag", "C")


def ternary(v: Tensor, scale_dims: tuple[int, ...] | None) -> Tensor:
    """sign(v) where |v| ≥ 0.15·max|v| (max over ``scale_dims``, all when None), else 0; no gradient."""
    v = v.detach()
    a = v.abs()
    top = a.amax() if scale_dims is None else a.amax(dim=scale_dims, keepdim=True)
    return torch.sign(v) * (a >= TERNARY * top).to(v.dtype)


class S4D(ParallelNeuron):
    name = "s4d"
    OPTIONS = OPTIONS

    def __init__(self, size: int, **kwargs) -> None:
        super().__init__(size, **kwargs)
        if self.opts["d_state"] % 2:
            raise ConfigError(f"neuron.d_state must be even (N/2 complex modes), got {self.opts['d_state']}")
        half = self.opts["d_state"] // 2
        self.mode = self.opts["mode"]
        self.threshold = float(self.opts["threshold"])
        self.log_dt = nn.Parameter(torch.empty(size).uniform_(math.log(1e-3), math.log(1e-1)))
        self.log_A_real = nn.Parameter(torch.full((size, half), math.log(0.5)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(half, dtype=torch.float32).repeat(size, 1))
        self.C = nn.Parameter(torch.view_as_real(torch.randn(size, half, dtype=torch.cfloat)).clone())
        self.D = nn.Parameter(torch.randn(size))
        if self.mode == "binary":
            self.pre_norm = nn.LayerNorm(size)
            self.dropout = nn.Dropout(self.opts["dropout"])
            self.output = nn.Conv1d(size, 2 * size, 1)
        else:
            self.gate = nn.Linear(size, size)   # W and b of tern(y)·Wᵀ + b
            self.c = nn.Parameter(torch.zeros(size))
            self.post_norm = nn.LayerNorm(size)

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("h_real", "h_imag")

    def initial_state(self, x: Tensor) -> State:
        h = x.new_zeros((*x.shape, self.opts["d_state"] // 2))
        return (h, h.clone())

    def ssm(self) -> tuple[Tensor, Tensor]:
        """(W = 2·C·(e^{dt·A} − 1)/A, dt·A), complex [H, N/2]: K_l = Re Σ_n W_n·e^{dt·A_n·l}."""
        a = torch.complex(-torch.exp(self.log_A_real), self.A_imag)
        dt_a = a * torch.exp(self.log_dt).unsqueeze(-1)
        return 2 * torch.view_as_complex(self.C) * (torch.exp(dt_a) - 1) / a, dt_a

    def kernel(self, length: int) -> Tensor:
        weight, dt_a = self.ssm()
        return ssm_kernel(weight, dt_a, length)

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        return [{"params": [getattr(self, n) for n in SSM_TENSORS], "lr": min(self.opts["ssm_lr"], lr),
                 "weight_decay": 0.0}]

    def run(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        z = self.pre_norm(x) if self.mode == "binary" else x
        weight, dt_a = self.ssm()
        y, h = ssm_convolve(z, weight, dt_a, None if state is None else complex_state(state))
        y = self.membrane_tap(y + self.D * z)
        return self.block(x, y) + x, (h.real, h.imag)

    def block(self, x: Tensor, y: Tensor) -> Tensor:
        """The block's output before the residual, from the SSM's output ``y`` (spikes through ``self.tap``)."""
        if self.mode == "binary":
            s = self.tap(self.surrogate(y - self.threshold))
            return glu_out(self.output, self.dropout(s))
        ty = ternary(y, (0, 2))
        self.tap(ty.abs())  # its events: a nonzero ternary value (the sign stays in the computation)
        gated = (self.gate(ty) * (torch.matmul(y, ternary(self.gate.weight, None).t()) + self.c))
        return nn.functional.gelu(self.post_norm(gated))

    def deployable(self) -> nn.Module:
        return _DeployS4D(self)


def glu_out(conv: nn.Conv1d, s: Tensor) -> Tensor:
    """Conv1d(H, 2H, 1) then GLU over channels, on ``s [T, B, H]``."""
    out = conv(s.permute(1, 2, 0))                          # [B, 2H, T]
    return nn.functional.glu(out, dim=1).permute(2, 0, 1)


class _DeployS4D(ParallelDeploy):
    def __init__(self, neuron: S4D) -> None:
        super().__init__()
        self.t_max = int(neuron.opts["time_steps"])
        self.mode = neuron.mode
        with torch.no_grad():
            self.register_buffer("kernel", neuron.kernel(self.t_max).detach().clone())
        self.register_buffer("D", neuron.D.detach().clone())
        self.register_buffer("threshold", torch.tensor(neuron.threshold, dtype=torch.float32))
        self.spike_test = neuron.surrogate.spike_test
        if self.mode == "binary":
            self.pre_norm = copy.deepcopy(neuron.pre_norm)
            self.output = copy.deepcopy(neuron.output)
        else:
            self.gate = copy.deepcopy(neuron.gate)
            self.register_buffer("c", neuron.c.detach().clone())
            self.register_buffer("gate_ternary", ternary(neuron.gate.weight, None).t().contiguous())
            self.post_norm = copy.deepcopy(neuron.post_norm)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        z = self.pre_norm(x) if self.mode == "binary" else x
        y = direct_causal_conv(z, self.kernel) + self.D * z
        if self.mode == "binary":
            return glu_out(self.output, self.emit(fire(y - self.threshold, self.spike_test))) + x, ()
        ty = ternary(y, (0, 2))
        self.emit(ty.abs())
        gated = self.gate(ty) * (torch.matmul(y, self.gate_ternary) + self.c)
        return nn.functional.gelu(self.post_norm(gated)) + x, ()


NEURON = S4D
