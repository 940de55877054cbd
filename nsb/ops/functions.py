"""Model-local ONNX functions: each ``nsb`` op's math as a standard ``Scan`` over time.

``model.onnx`` carries one function per op it uses, so onnxruntime and ``onnx.reference`` run the
custom-op file with no plugin, and ``onnx.inliner`` turns it into ``model.std.onnx`` (standard ops
only). The body repeats the neuron's step with the same float32 operations in the same order as
:mod:`nsb.ops.numpy_kernels` and the PyTorch neuron, so all three agree bit for bit. TensorRT ≤ 10.6
expands such a function instead of calling the plugin, so its build step strips them first.
"""

from __future__ import annotations

from onnx import AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto, ValueInfoProto, helper

from nsb.ops.schema import DOMAIN, OPS, ROUTING_ATTRIBUTES

OPSET = 20


class _Body:
    """Collects the nodes of one graph and hands out fresh value names."""

    def __init__(self, prefix: str) -> None:
        self.nodes: list[NodeProto] = []
        self.prefix = prefix
        self.count = 0

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        self.count += 1
        out = f"{self.prefix}{op_type.lower()}{self.count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def attr_scalar(self, name: str, like: str) -> str:
        """A float attribute of the function as a scalar of ``like``'s dtype."""
        node = helper.make_node("Constant", [], [f"{self.prefix}{name}_attr"])
        node.attribute.append(AttributeProto(name="value_float", ref_attr_name=name, type=AttributeProto.FLOAT))
        self.nodes.append(node)
        return self.op("CastLike", node.output[0], like)

    def fire(self, u: str, zero: str) -> str:
        """The spike H(u) as a value of u's type (u = membrane − threshold)."""
        return self.op("CastLike", self.op("Greater", u, zero), u)

    def constant(self, value: float, like: str) -> str:
        c = self.op("Constant", value_float=float(value))
        return self.op("CastLike", c, like)


def _untyped(name: str) -> ValueInfoProto:
    # onnxruntime rejects UNDEFINED element types in a Scan body; a value info without a type is legal
    return ValueInfoProto(name=name)


def _scan(outer: _Body, body: _Body, states: list[str], x: str, body_states: list[str], x_t: str,
          new_states: list[str], s_t: str, outputs: list[str]) -> None:
    body.nodes.append(helper.make_node("Identity", [s_t], ["s_out"]))
    graph: GraphProto = helper.make_graph(body.nodes, "step", [_untyped(n) for n in (*body_states, x_t)],
                                          [_untyped(n) for n in (*new_states, "s_out")])
    final = [f"{o}_final" for o in outputs[1:]]
    outer.nodes.append(helper.make_node("Scan", [*states, x], [*final, outputs[0]], body=graph,
                                        num_scan_inputs=1))
    for f, o in zip(final, outputs[1:]):
        outer.nodes.append(helper.make_node("Identity", [f], [o]))


def _lif_function(name: str) -> FunctionProto:
    spec = OPS[name]
    outer = _Body("")
    decay, gain, theta, v_reset = (outer.attr_scalar(a, "X") for a in ("decay", "input_gain", "v_threshold", "v_reset"))
    mode = helper.make_node("Constant", [], ["reset_mode_attr"])
    mode.attribute.append(AttributeProto(name="value_string", ref_attr_name="reset_mode", type=AttributeProto.STRING))
    outer.nodes.append(mode)
    is_hard = outer.op("Equal", "reset_mode_attr", outer.op("Constant", value_string="hard"))
    is_soft = outer.op("Equal", "reset_mode_attr", outer.op("Constant", value_string="soft"))
    one = outer.constant(1.0, "X")

    b = _Body("b_")
    recurrent = name == "RLIF"
    x_t = "x_t"
    if recurrent:
        # x[t] + (s[t−1]·W_recᵀ + b_rec), as nn.Linear computes it
        rec = b.op("Add", b.op("MatMul", "s_prev", b.op("Transpose", "W_rec", perm=[1, 0])), "B_rec")
        x_t = b.op("Add", "x_t", rec)
    h = b.op("Add", b.op("Mul", decay, "v_prev"), b.op("Mul", gain, x_t))
    s = b.op("Cast", b.op("Greater", b.op("Sub", h, theta), b.op("CastLike", b.constant(0.0, h), h)), to=1)
    s = b.op("CastLike", s, h)
    hard = b.op("Add", b.op("Mul", h, b.op("Sub", one, s)), b.op("Mul", s, v_reset))
    soft = b.op("Sub", h, b.op("Mul", s, theta))
    v_new = b.op("Where", is_hard, hard, b.op("Where", is_soft, soft, h))
    body_states, new_states = ["v_prev"], [v_new]
    if recurrent:
        body_states.append("s_prev")
        new_states.append(b.op("Identity", s))
    _scan(outer, b, list(spec.states), "X", body_states, "x_t", new_states, s, list(spec.outputs))
    return helper.make_function(DOMAIN, name, list(spec.inputs), list(spec.outputs), outer.nodes,
                                [helper.make_opsetid("", OPSET)], [*spec.attributes, *ROUTING_ATTRIBUTES])


def _alif_function() -> FunctionProto:
    spec = OPS["ALIF"]
    outer = _Body("")
    theta, beta = outer.attr_scalar("v_threshold", "X"), outer.attr_scalar("beta", "X")
    one = outer.constant(1.0, "X")
    zero = outer.constant(0.0, "X")
    b = _Body("b_")

    s_prev = b.fire(b.op("Sub", "v_prev", b.op("Add", theta, b.op("Mul", beta, "b_prev"))), zero)
    b_new = b.op("Add", b.op("Mul", "RHO", "b_prev"), b.op("Mul", b.op("Sub", one, "RHO"), s_prev))
    big_b = b.op("Add", theta, b.op("Mul", beta, b_new))
    v_new = b.op("Sub", b.op("Add", b.op("Mul", "ALPHA", "v_prev"), "x_t"), b.op("Mul", big_b, s_prev))
    s = b.fire(b.op("Sub", v_new, big_b), zero)
    _scan(outer, b, list(spec.states), "X", ["v_prev", "b_prev"], "x_t", [v_new, b_new], s, list(spec.outputs))
    return helper.make_function(DOMAIN, "ALIF", list(spec.inputs), list(spec.outputs), outer.nodes,
                                [helper.make_opsetid("", OPSET)], [*spec.attributes, *ROUTING_ATTRIBUTES])


def _adlif_function() -> FunctionProto:
    spec = OPS["ADLIF"]
    outer = _Body("")
    theta = outer.attr_scalar("v_threshold", "X")
    one = outer.constant(1.0, "X")
    zero = outer.constant(0.0, "X")
    b = _Body("b_")

    s_prev = b.fire(b.op("Sub", "v_prev", theta), zero)
    w_new = b.op("Add", b.op("Add", b.op("Mul", "BETA", "w_prev"), b.op("Mul", "A", "v_prev")), b.op("Mul", "B", s_prev))
    v_new = b.op("Add", b.op("Mul", "ALPHA", b.op("Sub", "v_prev", s_prev)),
                 b.op("Mul", b.op("Sub", one, "ALPHA"), b.op("Sub", "x_t", w_new)))
    s = b.fire(b.op("Sub", v_new, theta), zero)
    _scan(outer, b, list(spec.states), "X", ["v_prev", "w_prev"], "x_t", [v_new, w_new], s, list(spec.outputs))
    return helper.make_function(DOMAIN, "ADLIF", list(spec.inputs), list(spec.outputs), outer.nodes,
                                [helper.make_opsetid("", OPSET)], [*spec.attributes, *ROUTING_ATTRIBUTES])


def _glif_function() -> FunctionProto:
    spec = OPS["GLIF"]
    outer = _Body("")
    one = outer.constant(1.0, "X")
    zero = outer.constant(0.0, "X")
    # the conductance rows of this chunk: C[T0 : T0 + T]
    start = outer.op("Reshape", outer.op("Cast", "T0", to=7), outer.op("Constant", value_ints=[1]))
    steps = outer.op("Shape", "X", start=0, end=1)
    c_rows = outer.op("Slice", "C", start, outer.op("Add", start, steps), outer.op("Constant", value_ints=[0]))
    b = _Body("b_")

    s_prev = b.fire(b.op("Sub", "u_prev", "V_TH"), zero)
    current = b.op("Mul", "x_t", b.op("Sub", one, b.op("Mul", "BETA_G", b.op("Sub", one, "c_t"))))
    decay = b.op("Sub", one, b.op("Mul", "ALPHA_G", b.op("Sub", one, "TAU")))
    kept = b.op("Mul", b.op("Mul", decay, "u_prev"), b.op("Sub", one, b.op("Mul", "GAMMA_G", s_prev)))
    u_new = b.op("Sub", b.op("Add", b.op("Sub", kept, b.op("Mul", b.op("Sub", one, "ALPHA_G"), "LEAK")), current),
                 b.op("Mul", b.op("Mul", b.op("Sub", one, "GAMMA_G"), "RE_VTH"), s_prev))
    s = b.fire(b.op("Sub", u_new, "V_TH"), zero)
    b.nodes.append(helper.make_node("Identity", [s], ["s_out"]))
    graph = helper.make_graph(b.nodes, "step", [_untyped(n) for n in ("u_prev", "x_t", "c_t")],
                              [_untyped(n) for n in (u_new, "s_out")])
    outer.nodes.append(helper.make_node("Scan", ["U0", "X", c_rows], ["UT", "S"], body=graph, num_scan_inputs=2))
    outer.nodes.append(helper.make_node("Add", ["T0", outer.op("CastLike", steps_scalar(outer, steps), "T0")], ["TT"]))
    return helper.make_function(DOMAIN, "GLIF", list(spec.inputs), list(spec.outputs), outer.nodes,
                                [helper.make_opsetid("", OPSET)], [*ROUTING_ATTRIBUTES])


def steps_scalar(outer: _Body, steps: str) -> str:
    return outer.op("Squeeze", steps, outer.op("Constant", value_ints=[0]))


def strip_functions(model: ModelProto) -> ModelProto:
    """A copy of ``model`` without its ``nsb`` functions (others kept): for TensorRT ≤ 10.6, which would
    expand them instead of calling the plugin, and for runtimes that bring their own kernels."""
    out = ModelProto()
    out.CopyFrom(model)
    kept = [f for f in out.functions if f.domain != DOMAIN]
    del out.functions[:]
    out.functions.extend(kept)
    return out


def op_function(name: str) -> FunctionProto:
    if name in ("LIF", "RLIF"):
        return _lif_function(name)
    return {"ALIF": _alif_function, "ADLIF": _adlif_function, "GLIF": _glif_function}[name]()
