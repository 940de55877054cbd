"""The deployable twin of a trained model: every neuron replaced by its ``nsb`` op.

``DeployModel`` deep-copies a trained model in eval mode and swaps each :class:`nsb.neurons.Neuron`
for a :class:`DeployNeuron` that holds the neuron's folded op (:meth:`Neuron.export_op`). Under
``torch.onnx.export`` a ``DeployNeuron`` emits exactly one ``nsb`` node; anywhere else it runs the
TorchScript kernel of the same op, which is what ``torch.jit.trace`` records. The twin's forward
returns the task output (reduced over time as the config's readout says) followed by every spiking
layer's spikes, so a runtime can be checked layer by layer. A model with no spiking layer (the TCN, the
LSTM and Transformer references) is its own twin and returns its output alone.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from nsb.export import torch_kernels
from nsb.neurons import Neuron
from nsb.neurons.parallel import ParallelDeploy, ParallelNeuron
from nsb.objectives import reduce_time
from nsb.ops.registry import op as op_spec
from nsb.ops.schema import DOMAIN, PLUGIN_NAMESPACE, PLUGIN_VERSION, VERSION


class DeployNeuron(nn.Module):
    def __init__(self, neuron: Neuron) -> None:
        super().__init__()
        exported = neuron.export_op()
        self.spec = op_spec(exported.name)
        self.attributes = dict(exported.attributes)
        for name, tensor in zip(self.spec.parameter_inputs, exported.params):
            self.register_buffer(name, tensor.detach().clone())
        # an input BN (adLIF) runs before the op, as standard operators
        self.pre = copy.deepcopy(neuron.norm) if neuron.norm is not None else None
        self.neuron = neuron  # for its initial state only
        self.sink: list[Tensor] = []  # set by DeployModel for each call
        # a neuron over an inner time axis (SpikingTCN) outputs its spikes as [T, B, ...] through this view
        self.spike_view = getattr(neuron, "spike_view", None)

    def params(self) -> tuple[Tensor, ...]:
        return tuple(getattr(self, name) for name in self.spec.parameter_inputs)

    def forward(self, x: Tensor, state: tuple[Tensor, ...] | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        if self.pre is not None:
            x = self.pre(x.reshape(-1, x.shape[-1])).reshape(x.shape)
        if state is None:
            state = self.neuron.initial_state(x[0])
        # every op state is a tensor of the input's dtype (the step index included)
        state = tuple(t.to(x.dtype) for t in state)
        spikes, final = self.run_op(x, state)
        self.sink.append(spikes if self.spike_view is None else self.spike_view(spikes))
        return spikes, final

    def run_op(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The op on the whole sequence: one nsb node under ONNX export, else its TorchScript kernel."""
        if torch.onnx.is_in_onnx_export():
            attrs = {**self.attributes, "plugin_namespace": PLUGIN_NAMESPACE, "plugin_version": PLUGIN_VERSION}
            inputs = (x, *self.params(), *state)
            outs = torch.onnx.ops.symbolic_multi_out(
                f"{DOMAIN}::{self.spec.name}", inputs, attrs,
                dtypes=tuple(t.dtype for t in (x, *state)), shapes=tuple(t.shape for t in (x, *state)),
                version=VERSION)
            return outs[0], tuple(outs[1:])
        return torch_kernels.run(self.spec, self.attributes, x, self.params(), state)


class DeployModel(nn.Module):
    """``forward(x) -> (output, spikes of layer 0, spikes of layer 1, …)``; inference only."""

    def __init__(self, model: nn.Module, task: str, readout: str) -> None:
        from nsb.tasks.kinds import task_kind

        super().__init__()
        self.model = copy.deepcopy(model).eval()
        _freeze_parametrizations(self.model)
        # a task scored at every step (regression, language) keeps every step's output
        self.readout = "all" if task_kind(task).per_step else readout
        self.layer_names: list[str] = []
        self.deploy_neurons: list[DeployNeuron] = []
        self.parallel: list[ParallelDeploy] = []  # the parallel neurons' twins (no nsb op)
        self.layer_ops: list[str] = []  # per layer: its nsb op, or a parallel neuron's name (standard ops)
        self._swap(self.model, "")
        for p in self.model.parameters():
            p.requires_grad_(False)

    def _swap(self, module: nn.Module, prefix: str) -> None:
        for name, child in module.named_children():
            path = f"{prefix}{name}"
            if isinstance(child, ParallelNeuron):  # issue 16: standard operators, kernels frozen
                twin = child.deployable()
                setattr(module, name, twin)
                self.layer_names.append(path)
                self.layer_ops.append(child.name.upper())
                self.parallel.append(twin)
            elif callable(getattr(child, "frozen_for_export", None)):
                # issue 17: a synapse with learned structure (DCLS's delays) exports as its fixed equivalent
                setattr(module, name, child.frozen_for_export())
            elif isinstance(child, Neuron):
                # issue 16: a dense-recurrence neuron (DH-LIF, LTC, GSN) brings its own twin (standard ops)
                deploy = child.deploy_module() if hasattr(child, "deploy_module") else DeployNeuron(child)
                setattr(module, name, deploy)
                self.layer_names.append(path)
                self.layer_ops.append(deploy.spec.name)
                self.deploy_neurons.append(deploy)
            else:
                self._swap(child, f"{path}.")

    @property
    def t_max(self) -> int | None:
        """The longest sequence the model runs: the fewest rows of any per-step input (GLIF's conductance
        has one row per step), or None when any length runs."""
        rows = [int(getattr(n, name).shape[0]) for n in self.deploy_neurons for name in n.spec.step_inputs]
        rows += [n.t_max for n in self.parallel if n.t_max is not None]  # a materialised kernel's length
        return min(rows) if rows else None

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        # a fresh list per call: torch.export restores module attributes after tracing, which
        # would silently break a list shared once at construction
        collected: list[Tensor] = []
        for neuron in (*self.deploy_neurons, *self.parallel):
            neuron.sink = collected
        out, _ = self.model(x)
        spikes = tuple(collected)
        for neuron in (*self.deploy_neurons, *self.parallel):
            neuron.sink = []
        return (reduce_time(out, self.readout), *spikes)


def _freeze_parametrizations(model: nn.Module) -> None:
    """Weight-normed layers (the TCNs') hold the weight they computed, so every runtime reads the same
    float32 weight the trained model used instead of recomputing g·v/‖v‖ with its own rounding."""
    from torch.nn.utils import parametrize

    for module in list(model.modules()):
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
