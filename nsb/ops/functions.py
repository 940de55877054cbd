"""Model-local ONNX functions: each ``nsb`` op's step, generated from its trace, as a standard ``Scan``.

``model.onnx`` carries one function per op and variant it uses (an ONNX function *overload* per
combination of the choice attributes, e.g. ``LIF`` overload ``hard_deferred_greater``), so
onnxruntime runs the custom-op file with no plugin, and ``onnx.inliner`` turns it into
``model.std.onnx`` (standard ops only). What the choice attributes decide is resolved here, when
the body is generated: no string tensor and no run-time mode switch reaches a runtime.

The Scan body is self-contained: the attributes, the per-neuron inputs and ``W_rec``/``B_rec`` enter
it as loop-carried values passed through unchanged, never as outer-scope references (TensorRT's
parser refuses those). The body computes the traced nodes in their order with one float operation
each, as the numpy kernels and the PyTorch neuron do, so all agree bit for bit.

The body is typed and computes in float32 whatever the model's element type: the constants are
float32 ``Constant`` nodes and a spike is ``Cast(to=FLOAT)`` of the comparison. An fp16 model's
function casts its inputs to float32 before the ``Scan`` and the spikes and states back after it,
so the membrane never rounds to fp16 inside an op (docs/architecture.md §8). No ``CastLike``: OpenVINO
cannot evaluate one inside a loop body, and TensorRT's strongly typed mode wants the types written.
"""

from __future__ import annotations

from onnx import AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto, helper

from nsb.neurons.declare import STEP_STATE, Op, state_input, state_output
from nsb.ops.schema import DOMAIN, ROUTING_ATTRIBUTES
from nsb.ops.trace import Emitter, Node, Step, variants

OPSET = 20
# the ONNX graph rules a bundle's files follow (docs/deployment.md): 2 = typed float32 Scan bodies
# without CastLike, unique node names, named initializers, metadata_props. Bundles record it.
GRAPH_FORMAT = 2
_ONNX_OPS = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "neg": "Neg", "sigmoid": "Sigmoid"}


def overload(step: Step) -> str:
    """The function overload of a traced variant, e.g. ``hard_deferred_greater``."""
    return "_".join(step.variant[k] for k in step.op.choice_attributes)


class _Graph:
    """Nodes of one graph with fresh value and node names."""

    def __init__(self, prefix: str) -> None:
        self.nodes: list[NodeProto] = []
        self.prefix = prefix
        self.count = 0

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs) -> str:
        self.count += 1
        name = f"{self.prefix}{op_type.lower()}{self.count}"
        out = out or name
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=name, **attrs))
        return out

    def attribute(self, name: str) -> str:
        """The function's float attribute ``name`` as a float32 scalar."""
        self.count += 1
        node = helper.make_node("Constant", [], [f"{self.prefix}{name}_attr"], name=f"{self.prefix}attr{self.count}")
        node.attribute.append(AttributeProto(name="value_float", ref_attr_name=name, type=AttributeProto.FLOAT))
        self.nodes.append(node)
        return node.output[0]

    def constant(self, value: float) -> str:
        return self.op("Constant", value_float=float(value))


def _typed(name: str) -> ValueInfoProto:
    # rank is left open: one function serves dense ([B, N]) and convolutional ([B, C, H, W]) layers
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, None)


class _Onnx(Emitter):
    """The nodes of one Scan body."""

    LEAVES = {"x": "x_t", "state": "{name}_prev", "input": "c_{name}", "step_input": "{name}_t", "attr": "c_{name}"}

    def __init__(self, step: Step, graph: _Graph, x_t: str) -> None:
        super().__init__(step)
        self.graph = graph
        self.LEAVES = {**self.LEAVES, "x": x_t}

    def constant(self, value: float) -> str:
        return self.graph.constant(value)

    def operation(self, node: Node, args: list[str]) -> str:
        g = self.graph
        if node.kind == "fire":
            test = "GreaterOrEqual" if self.step.fire_test == "greater_equal" else "Greater"
            return g.op("Cast", g.op(test, args[0], g.constant(0.0)), to=TensorProto.FLOAT)
        return g.op(_ONNX_OPS[node.kind], *args)


def _body(step: Step, carried: list[str]) -> GraphProto:
    """The Scan body of one step: inputs (states, carried constants, x_t, step rows); outputs
    (new states, the constants passed through, the spike). A recurrent op carries ``w_rec_t`` and
    ``b_rec`` too and computes ``x_t + s_prev·W_recᵀ + B_rec`` (as ``nn.Linear`` does) first."""
    op = step.op
    g = _Graph("b_")
    x_t = "x_t"
    if op.recurrent:
        x_t = g.op("Add", "x_t", g.op("Add", g.op("MatMul", "s_prev", "w_rec_t"), "b_rec"))
    values = _Onnx(step, g, x_t).walk()
    states_in = [f"{s}_prev" for s in op.element_states]
    outs = [g.op("Identity", values[step.new_states[s].id], out=f"{s}_next") for s in op.element_states]
    outs += [g.op("Identity", c, out=f"{c}_kept") for c in carried]
    spike = g.op("Identity", values[step.spike.id], out="s_out")
    scanned = ["x_t", *(f"{n}_t" for n in op.step_inputs)]
    return helper.make_graph(g.nodes, "step", [_typed(n) for n in (*states_in, *carried, *scanned)],
                             [_typed(n) for n in (*outs, spike)])


def op_function(op: Op, step: Step, elem: int = TensorProto.FLOAT) -> FunctionProto:
    """The function of one variant of ``op`` for tensors of type ``elem``: a Scan over time of the
    traced step, computed in float32."""
    outer = _Graph("")
    cast = elem != TensorProto.FLOAT

    def f32(value: str) -> str:
        return outer.op("Cast", value, to=TensorProto.FLOAT) if cast else value

    carried_in: list[str] = []
    body_names: list[str] = []
    for name in op.float_attributes:
        carried_in.append(outer.attribute(name))
        body_names.append(f"c_{name}")
    for name in op.inputs:
        carried_in.append(f32(name))
        body_names.append(f"c_{name}")
    scanned_inputs = [f32("X")]
    if op.step_inputs:  # this chunk's rows: C[T0 : T0 + T]
        start = outer.op("Reshape", outer.op("Cast", state_input(STEP_STATE), to=TensorProto.INT64),
                         outer.op("Constant", value_ints=[1]))
        stop = outer.op("Add", start, outer.op("Shape", "X", start=0, end=1))
        axis = outer.op("Constant", value_ints=[0])
        scanned_inputs += [f32(outer.op("Slice", n, start, stop, axis)) for n in op.step_inputs]
    if op.recurrent:
        carried_in += [outer.op("Transpose", f32("W_rec"), perm=[1, 0]), f32("B_rec")]
        body_names += ["w_rec_t", "b_rec"]
    body = _body(step, body_names)
    states = [f32(state_input(s)) for s in op.element_states]
    finals = [f"{s}_final" for s in op.element_states]
    kept = [f"{c}_unused" for c in carried_in]
    spikes = "S_f32" if cast else "S"
    outer.nodes.append(helper.make_node("Scan", [*states, *carried_in, *scanned_inputs], [*finals, *kept, spikes],
                                        name="scan", body=body, num_scan_inputs=len(scanned_inputs)))
    back = {"to": elem} if cast else {}
    if cast:
        outer.op("Cast", spikes, out="S", **back)
    for final, s in zip(finals, op.element_states):
        outer.op("Cast" if cast else "Identity", final, out=state_output(s), **back)
    if op.step_inputs:
        steps = outer.op("Squeeze", outer.op("Shape", "X", start=0, end=1), outer.op("Constant", value_ints=[0]))
        outer.op("Add", state_input(STEP_STATE), outer.op("Cast", steps, to=elem), out=state_output(STEP_STATE))
    return helper.make_function(DOMAIN, op.name, list(op.onnx_inputs), list(op.onnx_outputs), outer.nodes,
                                [helper.make_opsetid("", OPSET)], [*op.all_attributes, *ROUTING_ATTRIBUTES],
                                overload=overload(step))


def functions_for(op: Op, overloads: set[str] | None = None, elem: int = TensorProto.FLOAT) -> list[FunctionProto]:
    """The functions of ``op``'s variants (all, or those named in ``overloads``) for ``elem`` tensors."""
    return [op_function(op, step, elem) for step in variants(op) if overloads is None or overload(step) in overloads]


def strip_functions(model: ModelProto) -> ModelProto:
    """A copy of ``model`` without its ``nsb`` functions (others kept): for TensorRT ≤ 10.6, which would
    expand them instead of calling the plugin, and for runtimes that bring their own kernels."""
    out = ModelProto()
    out.CopyFrom(model)
    kept = [f for f in out.functions if f.domain != DOMAIN]
    del out.functions[:]
    out.functions.extend(kept)
    return out
