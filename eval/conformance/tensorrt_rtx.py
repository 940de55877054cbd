"""TensorRT's ONNX parser and engine builder as a judge, through TensorRT-RTX on a machine with no GPU.

TensorRT-RTX (``tensorrt-rtx-cu13-bindings`` + ``-libs`` on PyPI) ships NVIDIA's ONNX parser and an
engine builder that runs on the CPU, so the question "does TensorRT accept this graph?" is answered
here rather than on the first GPU the bundle meets. Two checks:

* ``model.std.onnx`` parses with no error and builds a serialized engine (B 1…16, T as exported);
* ``model.onnx`` with its ``nsb`` functions stripped parses up to the plugin lookup: the only errors
  are "Plugin not found" at the ``nsb`` nodes (TensorRT-RTX has no plugin layer; running the plugins
  is the GPU's job, ``nsb doctor --device cuda``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import onnx

from nsb.errors import NsbError
from nsb.eval.backends.tensorrt.engine import profile_shapes
from nsb.ops.functions import strip_functions
from nsb.ops.schema import DOMAIN

MODULE = "tensorrt_rtx_bindings"
INSTALL = "pip install tensorrt-rtx-cu13-bindings tensorrt-rtx-cu13-libs"


@dataclass
class ParseResult:
    parsed: bool
    errors: list[tuple[str, str]]  # (node name, description)
    engine_bytes: int | None = None


def tensorrt_rtx() -> Any:
    try:
        return importlib.import_module(MODULE)
    except ImportError:
        raise NsbError(f"TensorRT-RTX is not installed here; {INSTALL}") from None


def _parse(trt: Any, model: onnx.ModelProto) -> tuple[Any, Any, ParseResult]:
    logger = trt.Logger(trt.Logger.INTERNAL_ERROR)  # the errors come back through the parser
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    ok = bool(parser.parse(model.SerializeToString()))
    errors = [(str(parser.get_error(i).node_name()), str(parser.get_error(i).desc())) for i in range(parser.num_errors)]
    return builder, network, ParseResult(ok, errors)


def parse_and_build(model: onnx.ModelProto, time_steps: int, max_batch: int = 16) -> ParseResult:
    """Parse a standard-op model and build a serialized engine for B 1…``max_batch`` at ``time_steps``."""
    trt = tensorrt_rtx()
    builder, network, result = _parse(trt, model)
    if not result.parsed:
        return result
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    name, (smin, sopt, smax) = profile_shapes(model, max_batch, time_steps, opt_batch=min(8, max_batch))
    profile.set_shape(name, smin, sopt, smax)
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    result.engine_bytes = None if plan is None else int(plan.nbytes)
    return result


def parses_up_to_plugins(model: onnx.ModelProto) -> tuple[bool, str]:
    """Whether ``model`` (with ``nsb`` nodes) parses with no error but the plugin lookup at each ``nsb``
    node; and a one-line account."""
    trt = tensorrt_rtx()
    nsb_nodes = {n.name for n in model.graph.node if n.domain == DOMAIN}
    _, _, result = _parse(trt, strip_functions(model))
    other = [(node, desc) for node, desc in result.errors if "Plugin not found" not in desc]
    missing = {node for node, desc in result.errors if "Plugin not found" in desc}
    if other:
        node, desc = other[0]
        return False, f"{len(other)} error(s) besides the plugin lookup, first at {node or '?'}: {desc[:200]}"
    if missing != nsb_nodes:
        return False, (f"the plugin lookup failed at {sorted(missing)}, expected exactly the nsb nodes "
                       f"{sorted(nsb_nodes)}")
    return True, f"parsed; {len(nsb_nodes)} nsb node(s) wait for the plugin library"

