"""``model.onnx`` (one ``nsb`` node per spiking layer, plus each op's Scan function) and
``model.std.onnx`` (the same graph with the functions inlined: standard operators only).

The nodes come from ``torch.onnx.export`` (dynamo) through :class:`nsb.export.deploy.DeployNeuron`,
which emits them with ``torch.onnx.ops.symbolic_multi_out``; batch and time stay dynamic. The files
set IR version 10 and opset 20, which onnxruntime 1.2x–1.3x and TensorRT 10.3 (JetPack 6) read.

The graph rules that make both files portable (docs/deployment.md): every node has a unique name,
initializers are named after the model's parameters (``layers.0.synapse.weight.T`` for the
transposed copy a MatMul reads), the functions' Scan bodies are self-contained and typed
(:mod:`nsb.ops.functions`), no string tensor anywhere, and ``metadata_props`` say what a runtime
cannot infer: layout, ``T_max``, precision, op-set versions, task and readout.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import onnx
import torch
from onnx import ModelProto, TensorProto, numpy_helper

from nsb.errors import NsbError
from nsb.export.deploy import DeployModel
from nsb.ops.functions import OPSET, functions_for, overload, strip_functions  # noqa: F401  (re-exported)
from nsb.ops.registry import op as op_spec
from nsb.ops.schema import DOMAIN, VERSION, register_onnx_schemas
from nsb.ops.trace import variant_of

IR_VERSION = 10


ELEMENT_TYPES = {torch.float32: TensorProto.FLOAT, torch.float16: TensorProto.FLOAT16}


def export_onnx(deploy: DeployModel, example: torch.Tensor, *, dynamic_time: bool = True,
                metadata: dict[str, str] | None = None) -> ModelProto:
    """The custom-op model, checked with the ``nsb`` schemas registered. ``deploy`` and ``example``
    are float32, or float16 for an fp16 model (its ops still compute in float32 inside)."""
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
    add_op_functions(model, ELEMENT_TYPES[next(deploy.parameters()).dtype])
    name_initializers(model, deploy)
    for node in model.graph.node:  # a plugin error names the layer, not "node__symbolic_multi_out__2"
        if node.domain == DOMAIN and node.output[0].startswith("spikes_"):
            node.name = deploy.layer_names[int(node.output[0].removeprefix("spikes_"))]
    name_nodes(model.graph)
    model.ir_version = IR_VERSION
    for opset in model.opset_import:
        if opset.domain == DOMAIN:
            opset.version = VERSION
    # the exporter's provenance metadata (stack traces, fx node names) would leak local paths
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.helper.set_model_props(model, metadata or {})
    register_onnx_schemas()
    onnx.checker.check_model(model, full_check=True)
    return model


def add_op_functions(model: ModelProto, elem: int = TensorProto.FLOAT) -> None:
    """Point every ``nsb`` node at the function overload of its variant and add those functions
    (for tensors of type ``elem``)."""
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
        model.functions.extend(functions_for(op_spec(name), overloads, elem))


def name_initializers(model: ModelProto, deploy: DeployModel) -> None:
    """Rename the exporter's ``val_N`` initializers after the parameter they hold (``.T`` when they
    hold its transpose, as a folded ``Linear`` does), the rest ``constant_N``; drop the ``model.`` prefix
    the deploy twin adds, so names match the trained model's ``state_dict`` and ``weights.h5``."""
    tensors = {name.removeprefix("model."): t.detach().float().cpu().numpy()
               for name, t in [*deploy.named_parameters(), *deploy.named_buffers()] if t.dim() > 0}
    renames: dict[str, str] = {}
    for count, init in enumerate(model.graph.initializer):
        name = init.name.removeprefix("model.") if init.name.startswith("model.") else None
        if name is None and init.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16):
            name = _holder(numpy_helper.to_array(init).astype(np.float32), tensors, set(renames.values()))
        renames[init.name] = name if name is not None and name not in renames.values() else f"constant_{count}"
    _rename_values(model.graph, renames)


def _holder(value: np.ndarray, tensors: dict[str, np.ndarray], taken: set[str]) -> str | None:
    """The parameter ``value`` holds as it is or transposed (``name.T``), not yet given to another."""
    if value.ndim == 0:
        return None
    for name, tensor in tensors.items():
        for candidate, held in ((name, tensor), (f"{name}.T", tensor.T if tensor.ndim == 2 else None)):
            if (held is not None and candidate not in taken and held.shape == value.shape
                    and np.array_equal(held, value)):
                return candidate
    return None


def _rename_values(graph: onnx.GraphProto, renames: dict[str, str]) -> None:
    for init in graph.initializer:
        init.name = renames.get(init.name, init.name)
    for info in [*graph.input, *graph.output, *graph.value_info]:
        info.name = renames.get(info.name, info.name)
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        for attr in node.attribute:  # an outer-scope reference inside a subgraph (none from nsb)
            if attr.type == onnx.AttributeProto.GRAPH:
                _rename_values(attr.g, renames)


def name_nodes(graph: onnx.GraphProto, prefix: str = "", seen: set[str] | None = None) -> None:
    """A name for every node unique in the whole model: a subgraph's nodes are prefixed with their
    loop's name (the bodies of two inlined Scans start with the same names)."""
    seen = set() if seen is None else seen
    for node in graph.node:
        base = f"{prefix}{node.name or node.op_type.lower()}"
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        node.name = name
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                name_nodes(attr.g, f"{name}/", seen)


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
    name_nodes(std.graph)
    onnx.checker.check_model(std, full_check=True)
    return std
