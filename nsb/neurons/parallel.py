"""What the parallel neurons share (SPSN, PSN, PMSN, S4D; issue 16): whole-sequence layers with no
element-wise step, run as one batched convolution, matrix product or FFT over time.

They are not op declarations (``docs/architecture.md`` §5): their membrane at step t is a weighted sum
over the whole input history, so there is no step to trace into a kernel or an ``nsb`` op. Each is a
:class:`ParallelNeuron` with the interface of every nsb neuron — ``spikes, state = layer(x [T, B, N],
state)`` — and a deployable twin (:meth:`ParallelNeuron.deployable`) that computes the same map with
standard operators only: the FFT convolution becomes a causal depthwise ``Conv`` with the kernel
materialised and frozen at export, since ONNX runtimes lack DFT or differ on it.

Every layer passes its spikes through ``self.tap`` (a :class:`SpikeTap`), which is what the probes,
metrics and the deploy twin record: S4D's block output is not its spikes, so the tap, not the
layer's return value, marks them.

This module also holds the state-space helpers of PMSN and S4D: a diagonal SSM
``h_t = e^{dt·A}·h_{t−1} + u_t``, ``y_t = Re Σ_n W_n·h_{n,t}`` is the causal convolution of ``u`` with
``K_l = Re Σ_n W_n·e^{dt·A_n·l}``; :func:`ssm_convolve` runs it by FFT and carries ``h`` across calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from nsb.errors import ConfigError, NsbError, closest
from nsb.neurons.declare import Option
from nsb.surrogate import Surrogate, build_surrogate

State = tuple[Tensor, ...]

BACKENDS = ("auto", "torch", "cuda")


def check_options(name: str, specs: Mapping[str, Option], given: Mapping[str, Any]) -> dict[str, Any]:
    """The options with defaults filled in, each checked against its spec; one line for anything wrong."""
    for key in given:
        if key not in specs:
            raise ConfigError(f"neuron '{name}' has no option '{key}'{closest(key, specs)}; "
                              f"it takes: {', '.join(specs) or 'none'}")
    out: dict[str, Any] = {}
    for key, spec in specs.items():
        if key in given:
            out[key] = spec.check(f"neuron.{key}", given[key])
        elif spec.default is None:
            raise ConfigError(f"neuron '{name}' needs the option '{key}'" + (f" ({spec.doc})" if spec.doc else ""))
        else:
            out[key] = spec.default
    return out


class SpikeTap(nn.Identity):
    """The point a parallel layer's spikes pass through: recorded by probes, metrics and the deploy twin."""


class MembraneTap(nn.Identity):
    """The point a parallel layer's membrane ``[T, B, N]`` (what its spike is tested from) passes through:
    the membrane-updates metric counts it."""


class ParallelNeuron(nn.Module):
    """Base of the parallel layers: options, surrogate, the refusal of recurrence, the input check."""

    name = ""
    #: the [neuron] options this layer takes besides surrogate, alpha, backend and recurrent
    OPTIONS: Mapping[str, Option] = {}

    def __init__(self, size: int, *, surrogate: str | Surrogate = "rectangle", alpha: float = 1.0,
                 recurrent: bool | None = None, backend: str = "auto", **options: Any) -> None:
        super().__init__()
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"a neuron layer needs at least one neuron, got size={size!r}")
        if recurrent:
            raise ConfigError(f"neuron '{self.name}' runs in parallel over time and has no recurrent form; "
                              "set model.recurrent = false")
        if backend not in BACKENDS:
            raise ConfigError(f"unknown neuron backend '{backend}'; choose one of: {', '.join(BACKENDS)}")
        self.size = size
        self.backend = backend  # every backend is the same batched torch code (no fused kernel needed)
        self.opts = check_options(self.name, self.OPTIONS, options)
        self.surrogate = surrogate if isinstance(surrogate, Surrogate) else build_surrogate(surrogate, alpha)
        self.tap = SpikeTap()
        self.membrane_tap = MembraneTap()
        self.recurrent = None  # as every nsb neuron: the learning rules and metrics ask

    # --- the interface of every neuron --------------------------------------------------------

    def check_input(self, x: Tensor) -> None:
        if x.dim() != 3:
            raise NsbError(f"{self.name} expects a time-major input [T, B, N], got shape {tuple(x.shape)}")
        if x.shape[-1] != self.size:
            raise NsbError(f"{self.name} has {self.size} neurons but the input has {x.shape[-1]} features "
                           f"(shape {tuple(x.shape)}); make the preceding layer's output size {self.size}")

    def initial_state(self, x: Tensor) -> State:
        """The state before the first step, for a batch shaped like ``x [B, N]``."""
        return ()

    @property
    def state_names(self) -> tuple[str, ...]:
        return ()

    @property
    def full_state_names(self) -> tuple[str, ...]:
        return self.state_names

    def check_state(self, x: Tensor, state: State) -> State:
        from nsb.neurons.module import matching_state

        return matching_state(self.name, self.state_names, self.initial_state(x[0]), state)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        self.check_input(x)
        return self.run(x, None if state is None else self.check_state(x, state))

    def run(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:  # pragma: no cover - abstract
        """Output and final state from ``state`` (None: the initial state, which needs no work)."""
        raise NotImplementedError

    def deployable(self) -> nn.Module:  # pragma: no cover - abstract
        """The inference twin with standard operators only, its kernel materialised and frozen."""
        raise NotImplementedError

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        """Optimiser groups of their own (S4D's SSM tensors); the rest use the trainer's defaults."""
        return []

    def extra_repr(self) -> str:
        return f"{self.name}, size={self.size}, " + ", ".join(f"{k}={v}" for k, v in self.opts.items())


class ParallelDeploy(nn.Module):
    """Base of the deploy twins: ``(x, state=None) -> (output, ())`` from the initial state, spikes into
    ``sink`` (the deploy model's list for the call)."""

    #: the longest sequence the materialised kernel covers (None: any length)
    t_max: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.sink: list[Tensor] = []

    def emit(self, spikes: Tensor) -> Tensor:
        self.sink.append(spikes)
        return spikes


def fire(u: Tensor, spike_test: str) -> Tensor:
    """The deployed spike of ``u = membrane − threshold``: ``u > 0``, or ``u ≥ 0`` under an ASGL-trained layer."""
    return ((u >= 0) if spike_test == "greater_equal" else (u > 0)).to(u.dtype)


# --- convolution over time ----------------------------------------------------------------------

def fft_causal_conv(u: Tensor, kernel: Tensor) -> Tensor:
    """``y_t = Σ_{l=0}^{t} K[:, l]·u_{t−l}`` for ``u [T, B, H]`` and ``K [H, L ≥ T]``, by FFT (zero-padded to
    2T, so nothing wraps round)."""
    steps = u.shape[0]
    n = 2 * steps
    k_f = torch.fft.rfft(kernel[:, :steps], n=n)                 # [H, F]
    u_f = torch.fft.rfft(u.permute(1, 2, 0), n=n)                # [B, H, F]
    y = torch.fft.irfft(u_f * k_f, n=n)[..., :steps]            # [B, H, T]
    return y.permute(2, 0, 1).contiguous()                       # time-major in memory: the rest runs along T


def direct_causal_conv(u: Tensor, kernel: Tensor) -> Tensor:
    """The same convolution as a depthwise ``Conv1d`` (standard ONNX ``Conv``, group = H): ``u [T, B, H]``
    left-padded with L − 1 zeros, the kernel reversed. Any T ≤ L gives T outputs."""
    length = kernel.shape[1]
    x = u.permute(1, 2, 0)                                                      # [B, H, T]
    x = nn.functional.pad(x, (length - 1, 0))
    y = nn.functional.conv1d(x, kernel.flip(-1).unsqueeze(1), groups=kernel.shape[0])
    return y.permute(2, 0, 1)


# --- diagonal state-space models (PMSN, S4D) ----------------------------------------------------

def _powers(dt_a: Tensor, length: int, start: int = 0) -> Tensor:
    """``e^{dt·A·l}`` for l = start … start + length − 1, complex ``[H, N, L]`` (through ``polar``: a complex
    ``exp`` costs several times more on the CPU)."""
    steps = torch.arange(start, start + length, device=dt_a.device, dtype=dt_a.real.dtype)
    z = dt_a.unsqueeze(-1) * steps
    return torch.polar(torch.exp(z.real), z.imag)


def ssm_kernel(weight: Tensor, dt_a: Tensor, length: int) -> Tensor:
    """``K [H, L]``, ``K_l = Re Σ_n W_n·e^{dt·A_n·l}``, from ``W, dt·A`` complex ``[H, N]``."""
    return _kernel(weight, _powers(dt_a, length))


def _kernel(weight: Tensor, powers: Tensor) -> Tensor:
    # Re(W·P) = Re W·Re P − Im W·Im P, as two real contractions
    return (torch.einsum("hn,hnl->hl", weight.real, powers.real)
            - torch.einsum("hn,hnl->hl", weight.imag, powers.imag))


def ssm_convolve(u: Tensor, weight: Tensor, dt_a: Tensor, h0: Tensor | None) -> tuple[Tensor, Tensor]:
    """``y [T, B, H]`` and the final SSM state ``h_T [B, H, N]`` (complex) of ``h_t = e^{dt·A}·h_{t−1} + u_t``,
    ``y_t = Re Σ_n W_n·h_{n,t}``, from ``h_{−1} = h0`` (zero when None); the convolution by FFT."""
    steps = u.shape[0]
    powers = _powers(dt_a, steps)                                              # e^{dt·A·l}, l = 0 … T−1
    y = fft_causal_conv(u, _kernel(weight, powers))
    # h_{T−1} = Σ_j e^{dt·A·(T−1−j)}·u_j (+ e^{dt·A·T}·h0): one real contraction over time per part
    back = powers.flip(-1)
    h_t = torch.complex(torch.einsum("tbh,hnt->bhn", u, back.real), torch.einsum("tbh,hnt->bhn", u, back.imag))
    if h0 is not None:
        ahead = powers * torch.exp(dt_a).unsqueeze(-1)                         # e^{dt·A·(t+1)}
        y = y + torch.einsum("hn,bhn,hnt->tbh", weight, h0, ahead).real
        h_t = h_t + h0 * ahead[..., -1]
    return y, h_t


def complex_state(state: State) -> Tensor:
    return torch.complex(state[0], state[1])
