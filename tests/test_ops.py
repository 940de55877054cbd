"""Every backend of every op variant, parametrised from the op declarations: the numpy kernel, the
Scan function (onnxruntime on model.onnx, the reference evaluator on the inlined standard-op model),
the numpy kernel as an ``onnx.reference`` op, and the TorchScript kernel — all bit for bit. Then every
neuron against its op: the PyTorch layer equals the numpy kernel on its exported op."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper, inliner
from onnx.reference import ReferenceEvaluator

from nsb.errors import NsbError
from nsb.export import torch_kernels
from nsb.export.deploy import DeployNeuron
from nsb.neurons import NEURONS, build_neuron
from nsb.ops.functions import OPSET, functions_for, overload, strip_functions
from nsb.ops.numpy_kernels import run
from nsb.ops.reference import reference_ops
from nsb.ops.registry import op as op_spec
from nsb.ops.registry import ops
from nsb.ops.samples import OpSample, all_samples, case_id, neuron_cases
from nsb.ops.schema import DOMAIN, VERSION, register_onnx_schemas
from nsb.ops.trace import transcendental

SAMPLES = all_samples(ops())


def single_node_model(sample: OpSample, attributes: dict | None = None, *, with_functions: bool = True,
                      shapes: bool = True) -> onnx.ModelProto:
    op, x = sample.op, sample.x
    attributes = dict(sample.attributes if attributes is None else attributes)
    inits = [onnx.numpy_helper.from_array(t, name) for name, t in sample.named.items()]
    node = helper.make_node(op.name, list(op.onnx_inputs), list(op.onnx_outputs), domain=DOMAIN, name="n0",
                            overload=overload(sample.step), **attributes, plugin_namespace="nsb",
                            plugin_version=str(VERSION))
    out_shapes = [list(x.shape)] + [list(x.shape[1:])] * len(op.element_states) + ([[]] if op.step_inputs else [])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, s if shapes else None)
                               for o, s in zip(op.onnx_outputs, out_shapes)], initializer=inits)
    functions = functions_for(op, {overload(sample.step)}) if with_functions else []
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(DOMAIN, VERSION)],
                              functions=functions)
    model.ir_version = 10
    return model


def assert_same(got, want, what, recurrent=False, inexact=False):
    """Spikes equal; states equal too, except that an R-op's recurrent matmul sums in the order of each
    runtime's BLAS, which moves a membrane by an ulp (never a spike, in these samples), and that an op
    with a sigmoid in its step (CLIF) meets each runtime's own exp (``nsb.ops.trace.transcendental``)."""
    np.testing.assert_array_equal(got[0], want[0], err_msg=f"{what}: spikes")
    for g, w in zip(got[1:], want[1:]):
        if inexact:
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-5, err_msg=f"{what}: states")
        elif recurrent:
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6, atol=1e-6, err_msg=f"{what}: states")
        else:
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w), err_msg=f"{what}: states")


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s.op.name}-{overload(s.step)}")
def test_every_backend_of_every_variant_is_bit_exact(sample):
    want = run(sample.op, sample.x, *sample.tensors, **sample.attributes)
    model = single_node_model(sample)
    register_onnx_schemas()
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rec, inexact = sample.op.recurrent, transcendental(sample.op)
    assert_same(session.run(None, {"X": sample.x}), want, "onnxruntime (Scan function)", rec, inexact)
    std = inliner.inline_local_functions(model)
    assert not any(n.domain == DOMAIN for n in std.graph.node)
    assert_same(ReferenceEvaluator(std).run(None, {"X": sample.x}), want, "onnx.reference (inlined)", rec, inexact)
    numpy_op = ReferenceEvaluator(strip_functions(model), new_ops=reference_ops())
    assert_same(numpy_op.run(None, {"X": sample.x}), want, "onnx.reference (numpy kernel)", rec, inexact)
    s, finals = torch_kernels.run(sample.op, sample.attributes, torch.from_numpy(sample.x),
                                  tuple(torch.from_numpy(t) for t in sample.tensors[:len(sample.op.parameter_inputs)]),
                                  tuple(torch.from_numpy(t) for t in sample.tensors[len(sample.op.parameter_inputs):]))
    assert_same([s.numpy(), *(f.numpy() for f in finals)], want, "TorchScript", rec, inexact)


def test_the_samples_exercise_spiking_and_silence():
    rates = [float(run(s.op, s.x, *s.tensors, **s.attributes)[0].mean()) for s in SAMPLES]
    assert sum(0.02 < r < 0.98 for r in rates) >= 0.8 * len(rates)


@pytest.mark.parametrize("sample", [s for s in SAMPLES if overload(s.step).endswith("_greater") or
                                    overload(s.step) == "greater"], ids=lambda s: f"{s.op.name}-{overload(s.step)}")
def test_a_stream_in_chunks_equals_one_pass(sample):
    """Final states fed back as initial states give the same spikes as one pass."""
    op, x = sample.op, sample.x
    n_params = len(op.parameter_inputs)
    params, init = sample.tensors[:n_params], sample.tensors[n_params:]
    whole = run(op, x, *params, *init, **sample.attributes)
    first = run(op, x[:17], *params, *init, **sample.attributes)
    second = run(op, x[17:], *params, *first[1:], **sample.attributes)
    np.testing.assert_array_equal(np.concatenate([first[0], second[0]]), whole[0])
    for a, b in zip(second[1:], whole[1:]):
        np.testing.assert_array_equal(a, b)


def build(name, recurrent, choices):
    kw = dict(choices)
    if "time_steps" in NEURONS[name].options:  # per-step parameters (GLIF, CELIF): one row per step
        kw["time_steps"] = 80
    if name == "adlif":
        kw["input_norm"] = False
        kw["threshold"] = 0.05
    if recurrent is not None:
        kw["recurrent"] = recurrent
    torch.manual_seed(1)
    neuron = build_neuron(name, 24, **kw).eval()
    with torch.no_grad():  # move learnable values off their initial ones, as training would
        for p in neuron.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return neuron


@pytest.mark.parametrize("name,recurrent,choices", neuron_cases(), ids=case_id)
def test_every_neuron_equals_its_exported_op(name, recurrent, choices):
    neuron = build(name, recurrent, choices)
    g = torch.Generator().manual_seed(3)
    x = torch.rand(60, 5, 24, generator=g) * 0.8 - 0.1
    with torch.no_grad():
        s_ref, state_ref = neuron(x)
    exported = neuron.export_op()
    op = op_spec(exported.name)
    assert set(exported.attributes) == set(op.all_attributes) and len(exported.params) == len(op.parameter_inputs)
    init = [t.to(x.dtype).numpy() for t in neuron.initial_state(x[0])]
    outs = run(op, x.numpy(), *(p.numpy() for p in exported.params), *init, **exported.attributes)
    np.testing.assert_array_equal(outs[0], s_ref.numpy())
    for got, want in zip(outs[1:], state_ref):
        want = want.float().numpy()
        # a recurrent matmul sums in each library's order; without leak (IF) membranes grow, and so does
        # that rounding, in absolute terms
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(want).max())))
    with torch.no_grad():  # the deployable twin (TorchScript kernel) too
        s_ts, _ = DeployNeuron(neuron)(x)
    np.testing.assert_array_equal(s_ts.numpy(), s_ref.numpy())


def test_checker_refuses_an_undeclared_attribute():
    register_onnx_schemas()
    node = helper.make_node("LIF", ["X", "V0", "S0"], ["S", "VT", "ST"], domain=DOMAIN, decay=0.5, tau=2.0)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [2, 3])
                                            for n in ("X", "V0", "S0")],
                              [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [2, 3]) for n in ("S", "VT", "ST")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(DOMAIN, VERSION)])
    with pytest.raises(onnx.checker.ValidationError, match="tau"):
        onnx.checker.check_model(model)


def test_bad_nodes_and_unknown_ops_are_named():
    with pytest.raises(NsbError, match="unknown nsb op 'QIF'"):
        op_spec("QIF")
    lif = op_spec("LIF")
    x = np.zeros((2, 1, 3), np.float32)
    zeros = np.zeros((1, 3), np.float32)
    with pytest.raises(NsbError, match="lacks attribute 'decay'"):
        run(lif, x, zeros, zeros)
    attrs = {"decay": 0.5, "input_gain": 1.0, "v_threshold": 0.3, "v_rest": 0.0, "reset_mode": "bogus",
             "reset_timing": "deferred"}
    with pytest.raises(NsbError, match="'reset_mode' must be one of hard, soft, none"):
        run(lif, x, zeros, zeros, **attrs)
    with pytest.raises(NsbError, match="takes 3 inputs"):
        run(lif, x, zeros, **{**attrs, "reset_mode": "hard"})


def test_the_scan_bodies_are_self_contained_and_hold_no_strings():
    """Everything an op's attributes decide is resolved at export: no string tensor, no Equal on a
    mode, and a Scan body reads only its own inputs (TensorRT's parser refuses outer-scope values)."""
    for op in ops().values():
        for function in functions_for(op):
            for node in function.node:
                assert node.op_type != "Equal"
                for a in node.attribute:
                    assert a.name != "value_string"
                if node.op_type == "Scan":
                    body = node.attribute[0].g
                    known = {i.name for i in body.input} | {o for n in body.node for o in n.output}
                    used = {i for n in body.node for i in n.input if i}
                    assert used <= known, f"{op.name}: body reads {used - known} from outside"
                    assert len({n.name for n in body.node}) == len(body.node)
