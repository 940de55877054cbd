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
"""

from __future__ import annotations

from onnx import AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto, ValueInfoProto, helper

from nsb.neurons.declare import STEP_STATE, Op, state_input, state_output
from nsb.ops.schema import DOMAIN, ROUTING_ATTRIBUTES
from nsb.ops.trace import Emitter, Node, Step, variants

OPSET = 20
_ONNX_OPS = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "neg": "Neg"}


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

    def attribute(self, name: str, like: str) -> str:
        """The function's float attribute ``name`` as a scalar of ``like``'s type."""
        self.count += 1
        node = helper.make_node("Constant", [], [f"{self.prefix}{name}_attr"], name=f"{self.prefix}attr{self.count}")
        node.attribute.append(AttributeProto(name="value_float", ref_attr_name=name, type=AttributeProto.FLOAT))
        self.nodes.append(node)
        return self.op("CastLike", node.output[0], like)

    def constant(self, value: float, like: str) -> str:
        return self.op("CastLike", self.op("Constant", value_float=float(value)), like)


def _untyped(name: str) -> ValueInfoProto:
    # a function is generic in its element type; a value info without a type is legal in a body
    return ValueInfoProto(name=name)


class _Onnx(Emitter):
    """The nodes of one Scan body."""

    LEAVES = {"x": "x_t", "state": "{name}_prev", "input": "c_{name}", "step_input": "{name}_t", "attr": "c_{name}"}

    def __init__(self, step: Step, graph: _Graph, x_t: str) -> None:
        super().__init__(step)
        self.graph = graph
        self.LEAVES = {**self.LEAVES, "x": x_t}

    def constant(self, value: float) -> str:
        return self.graph.constant(value, "x_t")

    def operation(self, node: Node, args: list[str]) -> str:
        g = self.graph
        if node.kind == "fire":
            test = "GreaterOrEqual" if self.step.fire_test == "greater_equal" else "Greater"
            return g.op("CastLike", g.op(test, args[0], g.constant(0.0, args[0])), args[0])
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
    return helper.make_graph(g.nodes, "step", [_untyped(n) for n in (*states_in, *carried, *scanned)],
                             [_untyped(n) for n in (*outs, spike)])


def op_function(op: Op, step: Step) -> FunctionProto:
    """The function of one variant of ``op``: a Scan over time of the traced step."""
    outer = _Graph("")
    carried_in: list[str] = []
    body_names: list[str] = []
    for name in op.float_attributes:
        carried_in.append(outer.attribute(name, "X"))
        body_names.append(f"c_{name}")
    for name in op.inputs:
        carried_in.append(name)
        body_names.append(f"c_{name}")
    scanned_inputs = ["X"]
    if op.step_inputs:  # this chunk's rows: C[T0 : T0 + T]
        start = outer.op("Reshape", outer.op("Cast", state_input(STEP_STATE), to=7), outer.op("Constant", value_ints=[1]))
        stop = outer.op("Add", start, outer.op("Shape", "X", start=0, end=1))
        axis = outer.op("Constant", value_ints=[0])
        scanned_inputs += [outer.op("Slice", n, start, stop, axis) for n in op.step_inputs]
    if op.recurrent:
        carried_in += [outer.op("Transpose", "W_rec", perm=[1, 0]), "B_rec"]
        body_names += ["w_rec_t", "b_rec"]
    body = _body(step, body_names)
    states = [state_input(s) for s in op.element_states]
    finals = [f"{s}_final" for s in op.element_states]
    kept = [f"{c}_unused" for c in carried_in]
    outer.nodes.append(helper.make_node("Scan", [*states, *carried_in, *scanned_inputs], [*finals, *kept, "S"],
                                        name="scan", body=body, num_scan_inputs=len(scanned_inputs)))
    for final, s in zip(finals, op.element_states):
        outer.op("Identity", final, out=state_output(s))
    if op.step_inputs:
        steps = outer.op("Squeeze", outer.op("Shape", "X", start=0, end=1), outer.op("Constant", value_ints=[0]))
        outer.op("Add", state_input(STEP_STATE), outer.op("CastLike", steps, state_input(STEP_STATE)),
                 out=state_output(STEP_STATE))
    return helper.make_function(DOMAIN, op.name, list(op.onnx_inputs), list(op.onnx_outputs), outer.nodes,
                                [helper.make_opsetid("", OPSET)], [*op.all_attributes, *ROUTING_ATTRIBUTES],
                                overload=overload(step))


def functions_for(op: Op, overloads: set[str] | None = None) -> list[FunctionProto]:
    """The functions of ``op``'s variants (all, or those named in ``overloads``)."""
    return [op_function(op, step) for step in variants(op) if overloads is None or overload(step) in overloads]


def strip_functions(model: ModelProto) -> ModelProto:
    """A copy of ``model`` without its ``nsb`` functions (others kept): for TensorRT ≤ 10.6, which would
    expand them instead of calling the plugin, and for runtimes that bring their own kernels."""
    out = ModelProto()
    out.CopyFrom(model)
    kept = [f for f in out.functions if f.domain != DOMAIN]
    del out.functions[:]
    out.functions.extend(kept)
    return out
