"""PMSN, the parallel multi-compartment spiking neuron (Chen et al. 2024; the seed's
``parallel_multi_compartment_spiking_neuron.py``, ``reference/neuroseqbench.md`` §1.2, "PMSN details"):

    u = BN(x)                                  BatchNorm over the T·B samples of each channel
    y = K ∗ u + D·u                            causal convolution by FFT, K ∈ R^{H×T}
    S_t = Σ_{τ≤t} relu(y_τ)
    r_t = S_t − θ·⌊S_{t−1}/θ⌋                  the residual since the last multiple of θ
    spike_t = clamp(⌊r_t/θ⌋, 0, 1)             a spike whenever S crosses a new multiple of θ (one per step)

backward through a triangle of width 1 on r_t − θ (the seed's internal surrogate: the config's
surrogate is not used), none through the floors. The kernel comes from an N = 4 compartment SSM:
S ∈ R^{N×N} has −0.5 on the diagonal, +5k and −5k at (k−1, k) and (k, k−1) (k = 1…N−1); A_imag are
the eigenvalues of −i·(S − diag S) (Hermitian), A_real the mean of the diagonal, stored as
log A_real; A = −exp(log A_real) + i·A_imag; B = 1 and C = e_N rotated into the eigenbasis
(V^H·B, C·V); Ā = e^{A·dt}, B̄ = (Ā − 1)·B/A, K_l = Re Σ_n C_n·B̄_n·e^{A_n·dt·l}; log dt per channel
~ U[log 1e−3, log 1e−1]; D ~ N(0, 1). A, B, C, dt are learned per channel.

The state is the SSM's (h, complex, carried as real and imaginary parts) and S at the last step, so a
stream cut into chunks continues exactly (up to the FFT's rounding). Never recurrent: the seed raises
an error, and so does nsb, in one line. The deployed twin convolves with the kernel materialised for
``time_steps`` steps (its T_max) as a depthwise ``Conv``; the spike rule is ``CumSum``/``Floor``/``Clip``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nsb.neurons.declare import Float, Int
from nsb.neurons.parallel import (ParallelDeploy, ParallelNeuron, State, complex_state, direct_causal_conv,
                                  ssm_convolve, ssm_kernel)

OPTIONS = {
    "threshold": Float(0.3, 0.0, open_lo=True, doc="θ of the cumulative-sum spike rule"),
    "compartments": Int(4, 1, "N, the SSM's compartments (the seed's 4)"),
    "time_steps": Int(None, 1, "the longest sequence the exported kernel covers (filled in from the data)"),
}


def compartment_matrix(n: int) -> Tensor:
    """The seed's S: −0.5 on the diagonal, +5k above and −5k below it at column/row k."""
    s = torch.diag(torch.full((n,), -0.5, dtype=torch.float64))
    for k in range(1, n):
        s[k - 1, k] = 5.0 * k
        s[k, k - 1] = -5.0 * k
    return s


def compartment_init(n: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(log A_real, A_imag, B, C) of one channel: A_imag and the eigenbasis V from −i·(S − diag S)."""
    s = compartment_matrix(n)
    diagonal = torch.diagonal(s)
    lam, v = torch.linalg.eigh(-1j * (s - torch.diag(diagonal)).to(torch.complex128))
    a_real = -diagonal.mean()
    b = v.conj().T @ torch.ones(n, dtype=torch.complex128)
    c = torch.zeros(n, dtype=torch.complex128)
    c[-1] = 1.0
    c = c @ v
    return torch.full((n,), math.log(a_real)), lam.float(), b.to(torch.complex64), c.to(torch.complex64)


class _PMSNFire(torch.autograd.Function):
    """spike = clamp(⌊r/θ⌋, 0, 1) forward, triangle(r − θ) of width 1 backward."""

    @staticmethod
    def forward(ctx, residual: Tensor, threshold: float) -> Tensor:
        ctx.save_for_backward(residual)
        ctx.threshold = threshold
        return torch.floor(residual / threshold).clamp(0, 1)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (residual,) = ctx.saved_tensors
        return grad * (1 - (residual - ctx.threshold).abs()).clamp(min=0), None


def residual(y: Tensor, threshold: float | Tensor, s0: Tensor | None) -> tuple[Tensor, Tensor]:
    """``r_t = S_t − θ·⌊S_{t−1}/θ⌋`` and ``S [T, B, H]`` for ``S_t = S_{−1} + Σ_{τ≤t} relu(y_τ)``, S_{−1} = s0 (0)."""
    gain = torch.relu(y)
    if s0 is None:
        total = torch.cumsum(gain, dim=0)
        before = nn.functional.pad(total, (0, 0, 0, 0, 1, 0))[:-1]  # S shifted one step (a cat would pin T)
    else:  # one sequential sum from the carried S, as one pass would have added
        total = torch.cumsum(torch.cat([s0.unsqueeze(0), gain], dim=0), dim=0)
        before, total = total[:-1], total[1:]
    return total - threshold * torch.floor(before / threshold), total


class PMSN(ParallelNeuron):
    name = "pmsn"
    OPTIONS = OPTIONS

    def __init__(self, size: int, **kwargs) -> None:
        super().__init__(size, **kwargs)
        n = self.opts["compartments"]
        self.threshold = float(self.opts["threshold"])
        self.norm = nn.BatchNorm1d(size)
        log_a_real, a_imag, b, c = compartment_init(n)
        self.log_dt = nn.Parameter(torch.empty(size).uniform_(math.log(1e-3), math.log(1e-1)))
        self.log_A_real = nn.Parameter(log_a_real.repeat(size, 1))
        self.A_imag = nn.Parameter(a_imag.repeat(size, 1))
        self.B = nn.Parameter(torch.view_as_real(b.repeat(size, 1)).clone())
        self.C = nn.Parameter(torch.view_as_real(c.repeat(size, 1)).clone())
        self.D = nn.Parameter(torch.randn(size))

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("h_real", "h_imag", "S")

    def initial_state(self, x: Tensor) -> State:
        h = x.new_zeros((*x.shape, self.opts["compartments"]))
        return (h, h.clone(), torch.zeros_like(x))

    def ssm(self) -> tuple[Tensor, Tensor]:
        """(W = C·B̄, dt·A), complex [H, N]: K_l = Re Σ_n W_n·e^{dt·A_n·l}."""
        a = torch.complex(-torch.exp(self.log_A_real), self.A_imag)
        dt_a = a * torch.exp(self.log_dt).unsqueeze(-1)
        b_bar = (torch.exp(dt_a) - 1) * torch.view_as_complex(self.B) / a
        return torch.view_as_complex(self.C) * b_bar, dt_a

    def kernel(self, length: int) -> Tensor:
        weight, dt_a = self.ssm()
        return ssm_kernel(weight, dt_a, length)

    def normalise(self, x: Tensor) -> Tensor:
        return self.norm(x.reshape(-1, x.shape[-1])).reshape(x.shape)

    def run(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        u = self.normalise(x)
        weight, dt_a = self.ssm()
        h0 = None if state is None else complex_state(state)
        y, h = ssm_convolve(u, weight, dt_a, h0)
        y = y + self.D * u
        r, total = residual(y, self.threshold, None if state is None else state[2])
        spikes = self.tap(_PMSNFire.apply(self.membrane_tap(r), self.threshold))
        return spikes, (h.real, h.imag, total[-1])

    def deployable(self) -> nn.Module:
        return _DeployPMSN(self)


class _DeployPMSN(ParallelDeploy):
    def __init__(self, neuron: PMSN) -> None:
        super().__init__()
        import copy

        self.norm = copy.deepcopy(neuron.norm).eval()
        self.t_max = int(neuron.opts["time_steps"])
        with torch.no_grad():
            self.register_buffer("kernel", neuron.kernel(self.t_max).detach().clone())
        self.register_buffer("D", neuron.D.detach().clone())
        self.register_buffer("threshold", torch.tensor(neuron.threshold, dtype=torch.float32))

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        u = self.norm(x.reshape(-1, x.shape[-1])).reshape(x.shape)
        y = direct_causal_conv(u, self.kernel) + self.D * u
        r, _ = residual(y, self.threshold, None)
        return self.emit(torch.floor(r / self.threshold).clamp(0, 1)), ()


NEURON = PMSN
