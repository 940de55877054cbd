"""Every backend of every nsb op against the PyTorch neuron it comes from: the numpy kernels, the
Scan functions (onnxruntime and onnx.reference), and the TorchScript kernels."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper
from onnx.reference import ReferenceEvaluator

from nsb.errors import NsbError
from nsb.export.deploy import DeployNeuron
from nsb.neurons import build_neuron
from nsb.ops.functions import OPSET, op_function
from nsb.ops.numpy_kernels import KERNELS
from nsb.ops.reference import reference_ops
from nsb.ops.schema import DOMAIN, OPS, op_spec, register_onnx_schemas

CASES = {
    "lif-hard": ("lif", {"decay": 0.8, "threshold": 0.5, "reset": "hard"}),
    "lif-soft": ("lif", {"decay": 0.8, "threshold": 0.5, "reset": "soft"}),
    "lif-none": ("lif", {"decay": 0.5, "threshold": 0.9, "reset": "none"}),
    "lif-vreset": ("lif", {"decay": 0.7, "threshold": 0.4, "v_reset": -0.1, "input_gain": 0.5}),
    "if": ("if", {"threshold": 0.6}),
    "plif": ("plif", {"init_decay": 0.6, "threshold": 0.4}),
    "rlif": ("rlif", {"decay": 0.9, "threshold": 0.5}),
    "alif": ("alif", {"threshold": 0.3}),
    "adlif": ("adlif", {"threshold": 0.05, "input_norm": False}),
    "glif": ("glif", {"threshold": 0.3, "time_steps": 80}),
}
N = 24


def trained_like(name: str, params: dict) -> torch.nn.Module:
    torch.manual_seed(1)
    neuron = build_neuron(name, N, **params).eval()
    with torch.no_grad():  # move learnable values off their initial ones, as training would
        for p in neuron.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return neuron


def torch_run(neuron, x):
    with torch.no_grad():
        s, state = neuron(x)
    return s.numpy(), [t.numpy() for t in state]


def inputs(steps: int = 60, batch: int = 5) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.rand(steps, batch, N, generator=g) * 0.8 - 0.1


def single_node_model(op, attributes, params, x, states) -> onnx.ModelProto:
    spec = op_spec(op)
    inits = [onnx.numpy_helper.from_array(p, name) for name, p in zip(spec.params, params)]
    inits += [onnx.numpy_helper.from_array(s, name) for name, s in zip(spec.states, states)]
    node = helper.make_node(op, list(spec.inputs), list(spec.outputs), domain=DOMAIN, **attributes,
                            plugin_namespace="nsb", plugin_version="1")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, list(shape)) for o, shape
                               in zip(spec.outputs, [x.shape, *(s.shape for s in states)])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(DOMAIN, 1)],
                              functions=[op_function(op)])
    model.ir_version = 10
    return model


@pytest.mark.parametrize("case", CASES)
def test_every_backend_of_the_op_equals_the_neuron(case):
    name, params = CASES[case]
    neuron = trained_like(name, params)
    x = inputs()
    s_ref, state_ref = torch_run(neuron, x)
    assert 0.02 < s_ref.mean() < 0.9, "the case must exercise both spiking and silence"

    op = neuron.export_op()
    arrays = [p.numpy() for p in op.params]
    init = [t.to(x.dtype).numpy() for t in neuron.full_initial_state(x[0])]
    xn = x.numpy()
    # numpy kernel
    outs = KERNELS[op.name](xn, *arrays, *init, **op.attributes)
    np.testing.assert_array_equal(outs[0], s_ref)
    for got, want in zip(outs[1:], state_ref):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # the Scan function, in onnxruntime and in the reference evaluator, and the numpy kernel as an onnx op
    model = single_node_model(op.name, op.attributes, arrays, xn, init)
    register_onnx_schemas()
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for runner in (lambda: session.run(None, {"X": xn}),
                   lambda: ReferenceEvaluator(model).run(None, {"X": xn}),
                   lambda: ReferenceEvaluator(_without_functions(model), new_ops=reference_ops()).run(None, {"X": xn})):
        got = runner()
        np.testing.assert_array_equal(got[0], s_ref)
        for g, want in zip(got[1:], state_ref):
            np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)
    # the TorchScript kernel behind model.ts
    deploy = DeployNeuron(neuron)
    with torch.no_grad():
        s_ts, state_ts = deploy(x)
    np.testing.assert_array_equal(s_ts.numpy(), s_ref)
    for g, want in zip(state_ts, state_ref):
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ["lif-soft", "rlif", "alif", "adlif", "glif"])
def test_op_streams_in_chunks(case):
    """Final states fed back as initial states give the same spikes as one pass."""
    name, params = CASES[case]
    neuron = trained_like(name, params)
    op = neuron.export_op()
    xn = inputs(steps=50).numpy()
    arrays = [p.numpy() for p in op.params]
    init = [t.float().numpy() for t in neuron.full_initial_state(torch.from_numpy(xn[0]))]
    whole = KERNELS[op.name](xn, *arrays, *init, **op.attributes)
    first = KERNELS[op.name](xn[:17], *arrays, *init, **op.attributes)
    second = KERNELS[op.name](xn[17:], *arrays, *first[1:], **op.attributes)
    np.testing.assert_array_equal(np.concatenate([first[0], second[0]]), whole[0])


def _without_functions(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.functions[:]
    return out


def test_schema_matches_what_each_neuron_exports():
    for name, params in CASES.values():
        op = trained_like(name, params).export_op()
        spec = OPS[op.name]
        assert set(op.attributes) == set(spec.attributes)
        assert len(op.params) == len(spec.params)


def test_checker_refuses_an_undeclared_attribute():
    register_onnx_schemas()
    node = helper.make_node("LIF", ["X", "V0"], ["S", "VT"], domain=DOMAIN, decay=0.5, tau=2.0)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [2, 3])
                                            for n in ("X", "V0")],
                              [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [2, 3]) for n in ("S", "VT")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(DOMAIN, 1)])
    with pytest.raises(onnx.checker.ValidationError, match="tau"):
        onnx.checker.check_model(model)


def test_unknown_op_and_unexportable_neuron_are_named():
    with pytest.raises(NsbError, match="unknown nsb op 'QIF'"):
        op_spec("QIF")
    with pytest.raises(NsbError, match="recurrent GLIF"):
        build_neuron("glif", 4, time_steps=5, recurrent=True).export_op()
    with pytest.raises(NsbError, match="recurrent ALIF"):
        build_neuron("alif", 4, recurrent=True).export_op()
