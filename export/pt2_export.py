"""``model.pt2``: the deployable twin as a ``torch.export`` ``ExportedProgram``, loadable with
``torch.export.load`` alone (no nsb).

``torch.export`` cannot look inside the scripted kernels the TorchScript export calls, and a Python
loop over time would unroll to the example's length. So each neuron is exported as one
``torch.ops.higher_order.scan`` over time whose body is the op's traced step (:mod:`nsb.ops.trace`)
evaluated node by node in the trace's order, with the same float32 arithmetic as
:mod:`nsb.export.torch_kernels` (attributes as 0-d tensors of the input's dtype, Python constants as
scalars): spikes agree bit for bit with the trained model. An R-op adds ``linear(s, W_rec, B_rec)``
to each step's input; a per-step op (GLIF) carries its step index and reads its row of the per-step
inputs with ``index_select``. Batch and time stay dynamic; with per-step inputs the time dimension is
bounded by their rows (``T ≤ T_max``), which the loaded program checks on every call.
"""

from __future__ import annotations

import copy
import io
import logging
import warnings
from typing import Any, Callable

import torch
from torch import Tensor

from nsb.errors import NsbError
from nsb.export.deploy import DeployModel, DeployNeuron
from nsb.neurons.declare import Op
from nsb.ops.trace import Emitter, Node, Step, variant_of

_TORCH_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b}


class _Eager(Emitter):
    """The traced step evaluated on tensors: every node one torch operation, in the trace's order."""

    def __init__(self, step: Step, leaves: dict[tuple[str, str], Any]) -> None:
        super().__init__(step)
        self.values = leaves

    def leaf(self, node: Node) -> Any:  # type: ignore[override]
        return self.values[(node.kind, node.name)]

    def constant(self, value: float) -> Any:
        return value  # a Python scalar, as in the TorchScript source: one float32 rounding per operation

    def operation(self, node: Node, args: list[Any]) -> Any:  # type: ignore[override]
        if node.kind == "fire":
            u = args[0]
            return ((u >= 0) if self.step.fire_test == "greater_equal" else (u > 0)).to(u.dtype)
        if node.kind == "neg":
            return -args[0]
        if node.kind == "sigmoid":
            return torch.sigmoid(args[0])
        return _TORCH_OPS[node.kind](args[0], args[1])


def scan_sequence(op: Op, attributes: dict, x: Tensor, params: tuple[Tensor, ...],
                  state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """What :func:`nsb.export.torch_kernels.run` computes, as one ``scan`` over time that
    ``torch.export`` keeps as a loop (any sequence length)."""
    from torch._higher_order_ops.scan import scan

    step = variant_of(op, attributes)
    named = dict(zip(op.parameter_inputs, params))
    attrs = {a: torch.tensor(float(attributes[a]), dtype=x.dtype, device=x.device) for a in op.float_attributes}
    n = len(op.element_states)

    def body(carry: tuple[Tensor, ...], x_t: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        states = dict(zip(op.element_states, carry[:n]))
        if op.recurrent:
            x_t = x_t + torch.nn.functional.linear(states["s"], named["W_rec"], named["B_rec"])
        leaves: dict[tuple[str, str], Any] = {("x", "x"): x_t}
        leaves |= {("state", k): v for k, v in states.items()}
        leaves |= {("input", k): named[k] for k in op.inputs}
        leaves |= {("attr", k): v for k, v in attrs.items()}
        if op.step_inputs:
            row = carry[n].to(torch.long).reshape(1)
            leaves |= {("step_input", k): torch.index_select(named[k], 0, row).reshape(named[k].shape[1:])
                       for k in op.step_inputs}
        values = _Eager(step, leaves).walk()
        new: list[Tensor] = []
        for name in op.element_states:
            value = values[step.new_states[name].id]
            # scan refuses an output that aliases an input or another output: a state the step leaves
            # unchanged, or the spike that is also the state s
            new.append(value.clone() if any(value is c for c in (*carry, *new)) else value)
        if op.step_inputs:
            new.append(carry[n] + 1.0)
        return tuple(new), values[step.spike.id].clone()

    final, spikes = scan(body, tuple(state), x)
    return spikes, tuple(final)


class _ScanNeuron(DeployNeuron):
    """A :class:`DeployNeuron` whose op runs as :func:`scan_sequence` (only inside :func:`export_pt2`)."""

    def run_op(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        return scan_sequence(self.spec, self.attributes, x, self.params(), state)


class _ScanLSTM(torch.nn.Module):
    """One ``nn.LSTM`` layer as a ``scan`` over time: ``torch.export`` unrolls ``nn.LSTM`` to the example's
    length (its decomposition loops in Python), which would fix T. PyTorch's gate order (i, f, g, o) and
    arithmetic; the result agrees with ``nn.LSTM`` to float32 rounding, not bit for bit."""

    def __init__(self, lstm: torch.nn.LSTM) -> None:
        super().__init__()
        if lstm.num_layers != 1 or lstm.bidirectional or lstm.batch_first or lstm.proj_size or not lstm.bias:
            raise NsbError("pt2 export runs one-layer, one-direction, time-major LSTMs with biases as a scan; "
                           "this model's nn.LSTM is another kind: export it with --format onnx or torchscript")
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            self.register_buffer(name.removesuffix("_l0"), getattr(lstm, name).detach().contiguous().clone())
        self.hidden_size = lstm.hidden_size

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        from torch._higher_order_ops.scan import scan

        if state is None:
            zero = x.new_zeros(x.shape[1], self.hidden_size)
            state = (zero, zero.clone())
        else:
            state = (state[0][0], state[1][0])

        def body(carry: tuple[Tensor, ...], x_t: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
            h, c = carry
            gates = (torch.nn.functional.linear(x_t, self.weight_ih, self.bias_ih)
                     + torch.nn.functional.linear(h, self.weight_hh, self.bias_hh))
            i, f, g, o = gates.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            return (h, c), h.clone()

        (h, c), out = scan(body, state, x)
        return out, (h[None], c[None])


def _scan_lstms(module: torch.nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, torch.nn.LSTM):
            setattr(module, name, _ScanLSTM(child))
        else:
            _scan_lstms(child)


def scan_twin(deploy: DeployModel) -> DeployModel:
    """A copy of ``deploy`` whose neurons run their ops as ``scan``s (and LSTMs their steps)."""
    twin = copy.deepcopy(deploy).eval()
    _scan_lstms(twin)
    for neuron in twin.deploy_neurons:
        if not isinstance(neuron, DeployNeuron):  # issue 16: a dense-recurrence twin scans by itself under export
            continue
        neuron.__class__ = _ScanNeuron
        # the trained layer stays for its initial state only, which its declaration and options give; its
        # learned tensors (already folded into the op's inputs) would be saved as unused weights
        for module in neuron.neuron.modules():
            module._parameters.clear()
            module._buffers.clear()
    # torch.export.save stores a strided weight (a transposed W_rec) through a guess about its storage
    for module in twin.modules():
        for table in (module._parameters, module._buffers):
            for name, tensor in table.items():
                if tensor is not None and not tensor.is_contiguous():
                    dense = tensor.detach().contiguous()
                    table[name] = torch.nn.Parameter(dense, requires_grad=False) \
                        if isinstance(tensor, torch.nn.Parameter) else dense
    return twin


def export_program(deploy: DeployModel, example: Tensor, *, dynamic_time: bool = True) -> torch.export.ExportedProgram:
    # dynamo caches what it traced of the shared scan step functions with the shapes of the model exported
    # before; those entries would add guards such as "B != 16" (another model's width) and fail the dynamic B
    torch._dynamo.reset()
    twin = scan_twin(deploy)
    if example.shape[1] < 2:  # a batch of 1 would be specialised to 1
        example = torch.cat([example, example], dim=1)
    example = example.contiguous()  # a slice of a larger batch has strides that would tie B to a number
    limit = deploy.t_max
    if dynamic_time and example.shape[0] < 2:  # likewise a single step; only shapes matter to the trace
        if limit is not None and limit < 2:
            dynamic_time = False
        else:
            example = torch.cat([example, example], dim=0)
    dims: dict[int, Any] = {1: torch.export.Dim("B")}
    if dynamic_time:
        dims[0] = torch.export.Dim("T", max=limit) if limit is not None else torch.export.Dim("T")
    quiet = logging.getLogger("torch.export")  # its notes on guards and fallbacks are not the user's concern
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # scan is marked a prototype
        try:
            return torch.export.export(twin, (example,), dynamic_shapes=(dims,), strict=False)
        except Exception as err:  # the exporter's own errors are long; keep the first line
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise NsbError(f"torch.export failed: {first[:300]}") from err
        finally:
            quiet.setLevel(level)


def export_pt2(deploy: DeployModel, example: Tensor, *, dynamic_time: bool = True) -> bytes:
    """``model.pt2``: ``forward(x [T, B, …]) -> (output, spikes_0, …)``; T and B dynamic (T bounded by
    a per-step op's rows), or T fixed to the example's under ``dynamic_time=False``."""
    program = export_program(deploy, example, dynamic_time=dynamic_time)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


__all__ = ["export_program", "export_pt2", "scan_sequence", "scan_twin"]
