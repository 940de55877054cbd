"""Any declared neuron through its generated kernels, as one autograd function.

Forward: one launch over all T steps (element-wise ops: a thread per neuron and sample; R-ops: a
block per sample), writing spikes, final states and, in training, a state checkpoint every 16 steps
(R-ops: each step's current and states). Backward: one launch in reverse time through the op's
generated backward step, then the per-neuron input, attribute and per-step-row gradients reduced
over the batch here (deterministic: no atomics), and for R-ops ∂L/∂W_rec as one GEMM.

The same function runs on the CPU builds (:mod:`nsb.kernels.cpu`, fp32): ``device="cpu"`` is the CPU
training kernels (time outermost, vectorised across neurons, OpenMP over blocks or samples on
``torch.get_num_threads()`` threads), ``device="cpu_reference"`` the GPU's kernel bodies in a host
loop; the two give bit-identical results, and CI tests both against the PyTorch loop. On CUDA tensors
it launches the NVRTC build.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from nsb.kernels import SEGMENT, SURROGATE_IDS, abi
from nsb.neurons.declare import STEP_STATE, Op

BLOCK = 256
SUFFIX = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}


@dataclass(frozen=True)
class Config:
    """What the autograd function needs besides its tensor inputs."""

    op: Op
    attributes: tuple[tuple[str, Any], ...]   # the fixed attributes' values (learned ones come as tensors)
    learned: tuple[str, ...]                  # float attributes passed as tensors (their gradient is wanted)
    start: int                                # the first row of the per-step inputs
    surrogate: str
    alpha: float
    detach_reset: bool
    device: str                               # "cuda", "cpu" (the CPU training kernels) or "cpu_reference"
    keep: Tensor | None = None                # ASGL in training: the sequence's draw [n] (float32), else None


def _f32(t: Tensor) -> Tensor:
    return t.detach().contiguous().float()


def _checkpoints(x: Tensor) -> Tensor:
    return torch.empty(((x.shape[0] + SEGMENT - 1) // SEGMENT, x[0].numel()), device=x.device, dtype=torch.float32)


class _Launch:
    """One op's kernels on one device."""

    def __init__(self, config: Config, x: Tensor) -> None:
        self.op = config.op
        self.device = config.device
        self.dtype = x.dtype
        self.name = self.op.name.lower()

    def forward(self, x: Tensor, s: Tensor, args: abi.KernelArgs, rec: abi.RecurrentArgs, steps: int, n: int,
                neurons: int) -> None:
        if self.device == "cpu":
            from nsb.kernels.cpu import forward_function

            forward_function(self.op.name)(x.data_ptr(), s.data_ptr(), ctypes.byref(args), steps, n, neurons,
                                           ctypes.byref(rec), torch.get_num_threads())
            return
        if self.device == "cpu_reference":
            from nsb.kernels.cpu import forward_function

            forward_function(self.op.name, reference=True)(x.data_ptr(), s.data_ptr(), ctypes.byref(args), steps,
                                                           n, neurons, ctypes.byref(rec))
            return
        module, stream = self._module(x)
        if self.op.recurrent:
            module.launch(f"nsb_{self.name}_forward_{SUFFIX[self.dtype]}", n // neurons, _threads(neurons), stream,
                          ctypes.c_void_p(x.data_ptr()), ctypes.c_void_p(s.data_ptr()), args, rec,
                          ctypes.c_int(steps), ctypes.c_int(n // neurons), ctypes.c_int(neurons), shared=8 * neurons)
        else:
            module.launch(f"nsb_{self.name}_forward_{SUFFIX[self.dtype]}", (n + BLOCK - 1) // BLOCK, BLOCK, stream,
                          ctypes.c_void_p(x.data_ptr()), ctypes.c_void_p(s.data_ptr()), args, ctypes.c_int(steps),
                          ctypes.c_long(n), ctypes.c_int(neurons))

    def backward(self, first: Tensor, grad_s: Tensor, grad_out: Tensor, args: abi.KernelArgs, grads: abi.GradArgs,
                 rec: abi.RecurrentArgs, steps: int, n: int, neurons: int) -> None:
        if self.device in ("cpu", "cpu_reference"):
            from nsb.kernels.cpu import backward_function

            reference = self.device == "cpu_reference"
            extra = () if reference else (torch.get_num_threads(),)
            backward_function(self.op.name, reference)(first.data_ptr(), grad_s.data_ptr(), grad_out.data_ptr(),
                                                       ctypes.byref(args), ctypes.byref(grads), steps, n, neurons,
                                                       ctypes.byref(rec), *extra)
            return
        module, stream = self._module(first)
        ptrs = [ctypes.c_void_p(t.data_ptr()) for t in (first, grad_s, grad_out)]
        if self.op.recurrent:
            module.launch(f"nsb_{self.name}_backward_{SUFFIX[self.dtype]}", n // neurons, _threads(neurons), stream,
                          *ptrs, args, grads, rec, ctypes.c_int(steps), ctypes.c_int(n // neurons),
                          ctypes.c_int(neurons), shared=8 * neurons)
        else:
            module.launch(f"nsb_{self.name}_backward_{SUFFIX[self.dtype]}", (n + BLOCK - 1) // BLOCK, BLOCK, stream,
                          *ptrs, args, grads, ctypes.c_int(steps), ctypes.c_long(n), ctypes.c_int(neurons))

    @staticmethod
    def _module(x: Tensor):
        from nsb.kernels.nvrtc import module_for

        return module_for(x.device.index or 0), torch.cuda.current_stream(x.device).cuda_stream


def _threads(neurons: int) -> int:
    return min(1024, max(32, -(-neurons // 32) * 32))


class FusedOp(torch.autograd.Function):
    """``apply(config, x, *learned attributes, *inputs, *rows, [W_rec, B_rec], *element states)``
    → ``(spikes, *final element states)``."""

    @staticmethod
    def forward(ctx, config: Config, x: Tensor, *tensors: Tensor):
        op = config.op
        nl, ni, nr, nw = len(config.learned), len(op.inputs), len(op.step_inputs), 2 if op.recurrent else 0
        learned = tensors[:nl]
        inputs = [_f32(t) for t in tensors[nl:nl + ni]]
        rows = [_f32(t) for t in tensors[nl + ni:nl + ni + nr]]
        weights = [_f32(t) for t in tensors[nl + ni + nr:nl + ni + nr + nw]]
        states = [_f32(t) for t in tensors[nl + ni + nr + nw:]]
        x = x.contiguous()
        steps, n, neurons = x.shape[0], x[0].numel(), x.shape[-1]
        values = dict(config.attributes)
        values.update({k: float(v) for k, v in zip(config.learned, learned)})
        s = torch.empty_like(x)
        finals = [torch.empty_like(t) for t in states]
        training = any(ctx.needs_input_grad)
        ckpts = [_checkpoints(x) for _ in states] if training and not op.recurrent else []
        t0 = torch.full((1,), float(config.start), device=x.device)
        t_out = torch.empty_like(t0)
        args = abi.KernelArgs()
        abi.fill(args.inputs, inputs)
        abi.fill(args.rows, rows)
        args.row_count = rows[0].shape[0] if rows else 0
        args.t0, args.t_out = t0.data_ptr(), t_out.data_ptr()
        abi.fill(args.state_in, states)
        abi.fill(args.state_out, finals)
        abi.fill(args.checkpoints, ckpts)
        args.attrs = abi.attributes(op, values)
        _noise(args, config)
        rec = abi.RecurrentArgs()
        currents, seq = None, []
        if op.recurrent:
            rec.w_rec, rec.b_rec = weights[0].data_ptr(), weights[1].data_ptr()
            if training:
                currents = torch.empty(x.shape, device=x.device, dtype=torch.float32)
                seq = [torch.empty(x.shape, device=x.device, dtype=torch.float32) for _ in states[:-1]]
                rec.currents = currents.data_ptr()
                abi.fill(rec.states_seq, seq)
        launch = _Launch(config, x)
        if steps and n:
            launch.forward(x, s, args, rec, steps, n, neurons)
        else:
            finals = [t.clone() for t in states]
        ctx.config = config
        ctx.values = values
        ctx.shapes = (steps, n, neurons)
        saved = [x if not op.recurrent else s, *inputs, *rows, *weights, *states, *ckpts]
        if op.recurrent:
            saved += [currents if currents is not None else torch.empty(0), *seq]
        ctx.save_for_backward(*saved)
        ctx.counts = (len(inputs), len(rows), len(weights), len(states), len(ckpts), len(seq))
        return (s, *finals)

    @staticmethod
    def backward(ctx, grad_s: Tensor | None, *grad_finals: Tensor | None):
        config: Config = ctx.config
        op = config.op
        ni, nr, nw, ns, nc, nq = ctx.counts
        saved = list(ctx.saved_tensors)
        first = saved.pop(0)
        inputs = [saved.pop(0) for _ in range(ni)]
        rows = [saved.pop(0) for _ in range(nr)]
        weights = [saved.pop(0) for _ in range(nw)]
        states = [saved.pop(0) for _ in range(ns)]
        ckpts = [saved.pop(0) for _ in range(nc)]
        currents = saved.pop(0) if op.recurrent else None
        seq = [saved.pop(0) for _ in range(nq)]
        steps, n, neurons = ctx.shapes
        device, dtype = first.device, first.dtype
        grad_s = torch.zeros_like(first) if grad_s is None else grad_s.contiguous().to(dtype)
        grad_out = [None if g is None else g.contiguous().float() for g in grad_finals]
        grad_in_states = [torch.empty(n, device=device, dtype=torch.float32) for _ in states]
        grad_inputs = [torch.empty(n, device=device, dtype=torch.float32) for _ in inputs]
        grad_rows = [torch.zeros((steps, n), device=device, dtype=torch.float32) for _ in rows]
        learned_index = [op.float_attributes.index(k) for k in config.learned]
        grad_attrs: list[Tensor | None] = [None] * len(op.float_attributes)
        for k in learned_index:
            grad_attrs[k] = torch.empty(n, device=device, dtype=torch.float32)
        args = abi.KernelArgs()
        abi.fill(args.inputs, inputs)
        abi.fill(args.rows, rows)
        args.row_count = rows[0].shape[0] if rows else 0
        t0 = torch.full((1,), float(config.start), device=device)
        args.t0 = t0.data_ptr()
        abi.fill(args.state_in, states)
        abi.fill(args.checkpoints, ckpts)
        args.attrs = abi.attributes(op, ctx.values)
        _noise(args, config)
        grads = abi.GradArgs()
        abi.fill(grads.grad_state_out, grad_out)
        abi.fill(grads.grad_state_in, grad_in_states)
        abi.fill(grads.grad_inputs, grad_inputs)
        abi.fill(grads.grad_rows, grad_rows)
        abi.fill(grads.grad_attrs, grad_attrs)
        grads.surrogate = abi.SurrogateSpec(SURROGATE_IDS[config.surrogate], config.alpha, int(config.detach_reset))
        rec = abi.RecurrentArgs()
        if op.recurrent:
            rec.w_rec, rec.b_rec = weights[0].data_ptr(), weights[1].data_ptr()
            rec.currents = currents.data_ptr()
            abi.fill(rec.states_seq, seq)
            grad_x = torch.empty(first.shape, device=device, dtype=torch.float32)  # ∂L/∂current
        else:
            grad_x = torch.empty_like(first)
        launch = _Launch(config, first)
        if steps and n:
            launch.backward(first, grad_s, grad_x, args, grads, rec, steps, n, neurons)
        else:
            for g, out in zip(grad_in_states, grad_out):
                g.copy_(out.reshape(-1) if out is not None else torch.zeros_like(g))
            for g in (*grad_inputs, *(a for a in grad_attrs if a is not None)):
                g.zero_()

        def per_neuron(partial: Tensor) -> Tensor:
            return partial.reshape(-1, neurons).sum(0)

        shape = first.shape[1:]
        out: list[Tensor | None] = [None, grad_x.to(dtype) if op.recurrent else grad_x]
        out += [grad_attrs[k].sum() for k in learned_index]
        out += [per_neuron(g) for g in grad_inputs]
        for g, table in zip(grad_rows, rows):
            full = torch.zeros_like(table)
            full[config.start:config.start + steps] = g.reshape(steps, -1, neurons).sum(1)
            out.append(full)
        if op.recurrent:
            spikes = first.float()
            s_prev = torch.cat([states[-1].reshape(1, *shape), spikes[:-1]])
            out.append(grad_x.reshape(-1, neurons).t() @ s_prev.reshape(-1, neurons))
            out.append(grad_x.sum(tuple(range(grad_x.dim() - 1))))
        out += [g.reshape(shape) for g in grad_in_states]
        return tuple(out)


def noise_draw(surrogate, shape: torch.Size, like: Tensor) -> Tensor | None:
    """A noisy surrogate's mask for one sequence (ASGL in training) as the kernels read it, float32 [n], drawn
    where the loop draws it so both consume the generator alike; None for every other surrogate."""
    mask = surrogate.keep_mask(shape, like)
    return None if mask is None else mask.reshape(-1).float().contiguous()


def kernel_surrogate(name: str, keep: Tensor | None) -> str:
    """The derivative the kernels use: ASGL's is its training spike's clamp, and outside training (no draw)
    the exact spike with ASGL.grad, the rectangle."""
    return "rectangle" if name == "asgl" and keep is None else name


def _noise(args: abi.KernelArgs, config: Config) -> None:
    """ASGL's noisy spike in training: its width and the sequence's draw (nsb_math.cuh's ``fire``)."""
    if config.keep is not None:
        args.attrs.soft = config.alpha
        args.keep = config.keep.data_ptr()


def fused_forward(neuron, x: Tensor, state: tuple[Tensor, ...], device: str | None = None) -> tuple[Tensor, tuple]:
    """A layer's forward through the kernels; ``state`` is its full state (the op's states, in order).

    T-STBP (``policy.truncate = K``) runs the kernels on K-step chunks, each from the previous one's
    final state detached: the loop's cut of the state's gradient every K steps, with the same values."""
    # once per sequence, T-STBP's chunks included, as the loop draws it
    keep = noise_draw(neuron.surrogate, x.shape[1:], x)
    k = neuron.policy.truncate
    if k and x.shape[0] > k:
        spikes = []
        for t0 in range(0, x.shape[0], k):
            if t0:
                state = tuple(t.detach() if t.is_floating_point() else t for t in state)
            s, state = _fused_chunk(neuron, x[t0:t0 + k], state, device, keep)
            spikes.append(s)
        return torch.cat(spikes), state
    return _fused_chunk(neuron, x, state, device, keep)


def _fused_chunk(neuron, x: Tensor, state: tuple[Tensor, ...], device: str | None,
                 keep: Tensor | None = None) -> tuple[Tensor, tuple]:
    op = neuron.op
    attributes, inputs = neuron.folded()
    learned = tuple(k for k in op.float_attributes if isinstance(attributes[k], Tensor) and attributes[k].requires_grad)
    # a learned attribute's value is read in FusedOp.forward (one device sync), not here as well
    fixed = tuple((k, v if isinstance(v, str) else float(v.detach() if isinstance(v, Tensor) else v))
                  for k, v in attributes.items() if k not in learned)
    names = neuron.state_names
    current = dict(zip(names, state))
    start = int(current[STEP_STATE]) if STEP_STATE in current else 0
    if op.step_inputs:
        rows = inputs[op.step_inputs[0]].shape[0]
        if start + x.shape[0] > rows:
            from nsb.errors import NsbError

            raise NsbError(f"{neuron.decl.name} was built for {rows} steps (its per-step inputs have one row per step) "
                           f"but steps {start + 1} to {start + x.shape[0]} were requested; set the model's time_steps")
    config = Config(op, fixed, learned, start, kernel_surrogate(neuron.surrogate.name, keep),
                    float(neuron.surrogate.alpha), neuron.policy.detach_reset,
                    device or ("cuda" if x.is_cuda else "cpu"), keep)
    tensors = [attributes[k] for k in learned]
    tensors += [inputs[k] for k in (*op.inputs, *op.step_inputs)]
    if neuron.recurrent is not None:
        tensors += list(neuron.recurrent_weights())
    tensors += [current[k] for k in op.element_states]
    out = FusedOp.apply(config, x, *tensors)
    spikes, finals = out[0], dict(zip(op.element_states, out[1:]))
    new_state = []
    for name in names:
        if name == STEP_STATE:
            new_state.append(current[name] + x.shape[0])
        else:
            new_state.append(finals[name].to(x.dtype))
    return spikes, tuple(new_state)
