"""Hooks that live for one measurement only and turn each layer call into counts at once.

NeuroBench keeps its hooks (and every recorded input) for the life of a ``Benchmark``, so forward
passes made between runs leak into the next run. Here the hooks exist only inside ``with
Recorder(...)``, and each call is reduced to a few numbers immediately, so no input tensor is kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nsb.metrics.errors import MetricError
from nsb.metrics.layers import activation_layers, connection_layers, counts_per_step
from nsb.models.layers import SpikingLayer
from nsb.metrics.ops import layer_ops, product_ops
from nsb.neurons import Neuron
from nsb.neurons.parallel import ParallelNeuron


def spikes_of(output: object) -> Tensor:
    """The activation a layer emits: nsb neurons return ``(spikes, state)``."""
    return output if isinstance(output, Tensor) else output[0]


class Recorder:
    """Counts per batch: synaptic ops per connection call, non-zeros per activation, membrane updates."""

    def __init__(self, model: nn.Module, *, synapses: bool, activations: bool, membranes: bool,
                 extra_activations: Sequence[type[nn.Module]] = ()) -> None:
        self.connections = connection_layers(model)
        self.activations = activation_layers(model, extra_activations)
        traced = [name for name, m in model.named_modules() if isinstance(m, SpikingLayer) and m.input_trace]
        if synapses and traced:
            # traced_linear feeds the synapse its presynaptic trace, so the counts would be of the trace
            raise MetricError(f"layer(s) {', '.join(traced) or 'model'} use input_trace, which feeds the synapse a "
                              "trace instead of spikes; set input_trace = False before measuring (same outputs)")
        self.neurons = {k: m for k, m in self.activations.items() if isinstance(m, Neuron)}
        self.neurons.update({k: m for k, m in model.named_modules() if isinstance(m, ParallelNeuron)})
        self._want = (synapses, activations, membranes)
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._patched: list[tuple[Neuron, str]] = []
        self._forced: list[tuple[Neuron, str]] = []
        self.clear()

    def clear(self) -> None:
        self.ops: list[tuple[str, float, float, bool]] = []
        self.spikes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.updates: dict[str, int] = defaultdict(int)

    # --- hooks --------------------------------------------------------------------------------

    def _on_connection(self, name: str):
        def hook(module: nn.Module, args: tuple) -> None:
            for effective, dense, spiking in layer_ops(module, args):
                self.ops.append((name, effective, dense, spiking))
        return hook

    def _on_activation(self, name: str):
        def hook(module: nn.Module, args: tuple, output: object) -> None:
            out = spikes_of(output)
            counts = self.spikes[name]
            counts[0] += int(torch.count_nonzero(out))
            counts[1] += out.numel()
        return hook

    def _patch_neuron(self, name: str, neuron: Neuron, *, membranes: bool, synapses: bool) -> None:
        # the membrane lives inside the neuron's time loop, so the per-step ``step`` is wrapped; the
        # membrane is the op's first state. A fused kernel has no per-step call to wrap, so the layer runs
        # its PyTorch loop (the same spikes) while it is measured. A neuron that owns its weights (GSN,
        # DH-LIF, LTC) names each step's products, counted from the step's input and previous state
        if "step" in vars(neuron):
            raise RuntimeError(f"neuron {name} already has a patched step; is another measurement running?")
        original = neuron.step
        membrane = neuron.state_names[0]
        call: dict = {"fresh": True, "first": True, "x": None, "t": 0}

        def pre(module: nn.Module, args: tuple, kwargs: dict) -> None:
            state = args[1] if len(args) > 1 else kwargs.get("state")
            call["fresh"], call["first"] = state is None, True
            call["x"], call["t"] = args[0] if args else kwargs["x"], 0

        def step(x: Tensor, state: dict, params: dict, prims: object) -> tuple:
            if synapses:
                for operand, weight in neuron.step_synapses(call["x"][call["t"]], state, params):
                    self.ops.append((name, *product_ops(operand, weight)))
            call["t"] += 1
            s, new = original(x, state, params, prims)
            if not membranes:
                return s, new
            if call["first"] and call["fresh"]:
                # as NeuroBench: a neuron (re)started from its initial state counts as updated at step 0
                self.updates[name] += new[membrane].numel()
            else:
                self.updates[name] += int(torch.count_nonzero(new[membrane] - state[membrane]))
            call["first"] = False
            return s, new

        self._handles.append(neuron.register_forward_pre_hook(pre, with_kwargs=True))
        neuron.step = step
        self._patched.append((neuron, neuron.backend))
        neuron.backend = "torch"

    def _watch_parallel(self, name: str, neuron: ParallelNeuron) -> None:
        # a parallel neuron computes its whole membrane [T, B, N] at once; it passes its membrane tap
        fresh = {"call": True}

        def pre(module: nn.Module, args: tuple, kwargs: dict) -> None:
            state = args[1] if len(args) > 1 else kwargs.get("state")
            fresh["call"] = state is None

        def seen(module: nn.Module, args: tuple, v: Tensor) -> None:
            first = v[0].numel() if fresh["call"] else 0  # NeuroBench: a fresh start counts step 0 as updated
            self.updates[name] += first + int(torch.count_nonzero(v[1:] - v[:-1]))

        self._handles.append(neuron.register_forward_pre_hook(pre, with_kwargs=True))
        self._handles.append(neuron.membrane_tap.register_forward_hook(seen))

    def __enter__(self) -> Recorder:
        synapses, activations, membranes = self._want
        try:
            per_step = {name for name, layer in self.connections.items() if counts_per_step(layer)}
            if synapses:
                for name, layer in self.connections.items():
                    if name not in per_step:
                        self._handles.append(layer.register_forward_pre_hook(self._on_connection(name)))
                # a fused kernel applies the recurrent weights inside the kernel, where no hook sees them: the
                # recurrent layers run their PyTorch loop (the same spikes) while they are counted
                for neuron in self.neurons.values():
                    if isinstance(neuron, Neuron) and neuron.recurrent is not None:
                        self._forced.append((neuron, neuron.backend))
                        neuron.backend = "torch"
            if activations:
                for name, layer in self.activations.items():
                    self._handles.append(layer.register_forward_hook(self._on_activation(name)))
            for name, neuron in self.neurons.items():
                counted = synapses and counts_per_step(neuron)
                if membranes and isinstance(neuron, ParallelNeuron):
                    self._watch_parallel(name, neuron)
                elif membranes or counted:
                    self._patch_neuron(name, neuron, membranes=membranes, synapses=counted)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        for neuron, backend in self._patched:
            del neuron.step
            neuron.backend = backend
        for neuron, backend in reversed(self._forced):  # after the patched ones: those saw "torch"
            neuron.backend = backend
        self._forced.clear()
        self._handles.clear()
        self._patched.clear()
