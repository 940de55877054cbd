"""``model.onnx`` (one ``nsb`` node per spiking layer, plus each op's Scan function) and
``model.std.onnx`` (the same graph with the functions inlined: standard operators only).

The nodes come from ``torch.onnx.export`` (dynamo) through :class:`nsb.export.deploy.DeployNeuron`,
which emits them with ``torch.onnx.ops.symbolic_multi_out``; batch and time stay dynamic. The files
set IR version 10 and opset 20, which onnxruntime 1.2x–1.3x and TensorRT 10.3 (JetPack 6) read.
"""

from __future__ import annotations

import logging
import warnings

import onnx
import torch
from onnx import ModelProto

from nsb.errors import NsbError
from nsb.export.deploy import DeployModel
from nsb.ops.functions import OPSET, functions_for, overload, strip_functions  # noqa: F401  (re-exported)
from nsb.ops.registry import op as op_spec
from nsb.ops.schema import DOMAIN, VERSION, register_onnx_schemas
from nsb.ops.trace import variant_of

IR_VERSION = 10


def export_onnx(deploy: DeployModel, example: torch.Tensor, *, dynamic_time: bool = True) -> ModelProto:
    """The custom-op model, checked with the ``nsb`` schemas registered."""
    names = ["output", *(f"spikes_{i}" for i in range(len(deploy.layer_names)))]
    dims = {1: torch.export.Dim("B")}
    if dynamic_time:
        dims[0] = torch.export.Dim("T")
    deploy.eval()
    # the exporter logs a warning per missing optional package (torchvision); not the user's concern
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(deploy, (example,), dynamo=True, opset_version=OPSET, input_names=["input"],
                                        output_names=names, dynamic_shapes=(dims,), optimize=True, verbose=False,
                                        report=False)
        except Exception as err:  # the exporter's own errors are long; keep the first line
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise NsbError(f"torch.onnx.export failed: {first[:300]}") from err
    model = program.model_proto
    add_op_functions(model)
    model.ir_version = IR_VERSION
    for opset in model.opset_import:
        if opset.domain == DOMAIN:
            opset.version = VERSION
    # the exporter's provenance metadata (stack traces, fx node names) would leak local paths
    for node in model.graph.node:
        del node.metadata_props[:]
    register_onnx_schemas()
    onnx.checker.check_model(model, full_check=True)
    return model


def add_op_functions(model: ModelProto) -> None:
    """Point every ``nsb`` node at the function overload of its variant and add those functions."""
    used: dict[str, set[str]] = {}
    for node in model.graph.node:
        if node.domain != DOMAIN:
            continue
        spec = op_spec(node.op_type)
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        attributes = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attributes.items()}
        node.overload = overload(variant_of(spec, attributes))
        used.setdefault(node.op_type, set()).add(node.overload)
    for name, overloads in sorted(used.items()):
        model.functions.extend(functions_for(op_spec(name), overloads))


def inline_functions(model: ModelProto) -> ModelProto:
    """The standard-op twin: every ``nsb`` node replaced by its function body."""
    from onnx import inliner

    std = inliner.inline_local_functions(model)
    del std.functions[:]
    kept = [o for o in std.opset_import if o.domain != DOMAIN]
    del std.opset_import[:]
    std.opset_import.extend(kept)
    if any(n.domain == DOMAIN for n in std.graph.node):
        raise NsbError("inlining left nsb nodes in the standard-op model; this is a bug in nsb, please report it")
    std.ir_version = IR_VERSION
    onnx.checker.check_model(std, full_check=True)
    return std
