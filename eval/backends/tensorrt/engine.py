"""TensorRT engines for a bundle: build one from ``model.onnx`` (the ``nsb`` nodes run by the plugin
library) or ``model.std.onnx`` (standard ops only), cache it per GPU, TensorRT version and precision,
or take a prebuilt ``.engine``/``.plan``.

Shared by the ``tensorrt`` evaluation backend and by an exporter. TensorRT and cuda-python are imported
only inside the functions that need them, so this module imports without either; ONNX work is done with
``onnx`` alone (``nsb.export.onnx_export`` would import torch).

TensorRT ≤ 10.6 expands a node's model-local function instead of calling a registered plugin, so
``model.onnx`` goes to the parser with its ``nsb`` functions stripped (:func:`strip_nsb_functions`);
from 10.7 on the plugin wins anyway and stripping changes nothing.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import onnx

from nsb.errors import NsbError
from nsb.eval.backends import require
from nsb.ops.functions import strip_functions
from nsb.ops.schema import DOMAIN, PLUGIN_NAMESPACE, PLUGIN_VERSION

if TYPE_CHECKING:
    from nsb.eval.bundle import Bundle

PRECISIONS = ("fp32", "fp16")
ENGINE_SUFFIXES = (".engine", ".plan")
DEFAULT_MAX_BATCH = 64
PLUGIN_ENV = "NSB_TRT_PLUGINS"
CACHE_ENV = "NSB_ENGINE_CACHE"
PLUGIN_FILE = "libnsb_trt_plugins.so"
TENSORRT_INSTALL = "pip install tensorrt (on Jetson it comes with JetPack: apt install python3-libnvinfer)"
CUDA_INSTALL = "pip install cuda-python"
GRAPH_FILES = {"custom": "model.onnx", "std": "model.std.onnx"}

# time_steps: one T (min = opt = max) or (min, opt, max)
TimeSteps = Union[int, tuple[int, int, int]]

_loaded_libraries: set[str] = set()


# --- runtimes ---------------------------------------------------------------------------------------


def require_tensorrt(backend: str = "tensorrt") -> str:
    """TensorRT's version, or the one-line error saying how to install it.

    ``tensorrt-stubs`` (for type checking) leaves a ``tensorrt/`` folder with only ``.pyi`` files, which
    Python imports as an empty namespace package: that counts as not installed.
    """
    module = require("tensorrt", backend, TENSORRT_INSTALL)
    if not hasattr(module, "Builder"):
        raise NsbError(f"the {backend} backend needs tensorrt, which is not installed here (only its type stubs "
                       f"are); {TENSORRT_INSTALL}")
    return str(module.__version__)


def cuda_runtime(backend: str = "tensorrt") -> Any:
    """cuda-python's runtime module: ``cuda.bindings.runtime`` (cuda-python ≥ 12.6), else ``cuda.cudart``."""
    for name in ("cuda.bindings.runtime", "cuda.cudart"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return require("cuda.bindings.runtime", backend, CUDA_INSTALL)  # raises the one-line error


def cuda_check(cudart: Any, result: Any, what: str) -> Any:
    """Unpack a cuda-python ``(err, *values)`` tuple; a failure is one line naming the call."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != cudart.cudaError_t.cudaSuccess:
        _, text = cudart.cudaGetErrorString(err)
        text = text.decode() if isinstance(text, bytes) else str(text)
        hint = "; is there a CUDA GPU and driver on this machine?" if "no CUDA" in text or "driver" in text else ""
        raise NsbError(f"CUDA {what} failed: {text}{hint}")
    return values[0] if len(values) == 1 else tuple(values) if values else None


def gpu_name(cudart: Any, device: int | None = None) -> str:
    """The current (or given) GPU's name with its SM, e.g. ``NVIDIA H100 80GB HBM3 sm90``: engines are
    specific to both."""
    if device is None:
        device = int(cuda_check(cudart, cudart.cudaGetDevice(), "cudaGetDevice"))
    prop = cuda_check(cudart, cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
    name = prop.name.split(b"\0")[0].decode() if isinstance(prop.name, bytes) else str(prop.name)
    return f"{name.strip()} sm{prop.major}{prop.minor}"


def trt_major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        raise NsbError(f"cannot read TensorRT's version '{version}'") from None


# --- plugin library ---------------------------------------------------------------------------------


def find_plugin_library(explicit: Path | str | None = None, *, required: bool = True) -> Path | None:
    """``explicit`` (``--plugins``), else ``$NSB_TRT_PLUGINS``, else ``build/trt/libnsb_trt_plugins.so`` in the
    current folder (where ``nsb plugins build`` writes it by default). An installed nsb does not know where a
    checkout is, so it never looks beside its own files."""
    for source, value in (("--plugins", explicit), (PLUGIN_ENV, os.environ.get(PLUGIN_ENV))):
        if value:
            path = Path(value)
            if not path.is_file():
                raise NsbError(f"the TensorRT plugin library {path} (from {source}) does not exist; build it with "
                               "nsb plugins build")
            return path
    path = Path.cwd() / "build" / "trt" / PLUGIN_FILE
    if path.is_file():
        return path
    if required:
        raise NsbError(f"the TensorRT plugin library ({PLUGIN_FILE}) was not found in ./build/trt/, --plugins or "
                       f"${PLUGIN_ENV}; "
                       "build it with nsb plugins build --tensorrt PATH, or use --graph std (standard ops, no plugin)")
    return None


def load_plugins(library: Path) -> None:
    """Register the library's creators in TensorRT's plugin registry, once per process."""
    import tensorrt as trt

    key = str(Path(library).resolve())
    if key in _loaded_libraries:
        return
    registry = trt.get_plugin_registry()
    # a library loaded twice fails: its creators exist already
    if registry.get_creator("LIF", PLUGIN_VERSION, PLUGIN_NAMESPACE) is None:
        try:
            handle = registry.load_library(key)
        except Exception as err:  # the bindings raise on a library without getCreators
            raise NsbError(f"TensorRT could not load the plugin library {library} ({err}); rebuild it with nsb "
                           "plugins build against this TensorRT major version") from None
        if handle is None or registry.get_creator("LIF", PLUGIN_VERSION, PLUGIN_NAMESPACE) is None:
            raise NsbError(f"{library} registered no nsb::LIF version {PLUGIN_VERSION} creator with TensorRT "
                           f"{trt.__version__}; rebuild it with this nsb's nsb plugins build against this TensorRT "
                           "major version")
    _loaded_libraries.add(key)


# --- ONNX ---------------------------------------------------------------------------------------------


# TensorRT ≤ 10.6 inlines the nsb functions instead of calling the plugin; one home for the stripping
strip_nsb_functions = strip_functions


def _graph_input(model: onnx.ModelProto) -> onnx.ValueInfoProto:
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise NsbError(f"the model has {len(inputs)} inputs, nsb models have exactly one (input [T, B, ...]); "
                       "re-export the bundle")
    return inputs[0]


def profile_shapes(model: onnx.ModelProto, max_batch: int, time_steps: TimeSteps,
                   opt_batch: int | None = None) -> tuple[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """The input's name and its (min, opt, max) shapes: B from 1 to ``max_batch``, T as given, the feature
    dimensions from the graph (they are fixed)."""
    value = _graph_input(model)
    dims = value.type.tensor_type.shape.dim
    if len(dims) < 2:
        raise NsbError(f"the model input {value.name} has {len(dims)} dimensions, expected [T, B, ...]")
    features = []
    for i, d in enumerate(dims[2:], start=2):
        if not d.HasField("dim_value"):
            raise NsbError(f"dimension {i} of the model input is symbolic ('{d.dim_param}'); only T and B may vary")
        features.append(int(d.dim_value))
    if max_batch < 1:
        raise NsbError(f"--max-batch must be at least 1, got {max_batch}")
    t_min, t_opt, t_max = (time_steps,) * 3 if isinstance(time_steps, int) else time_steps
    if not 1 <= t_min <= t_opt <= t_max:
        raise NsbError(f"time steps must satisfy 1 <= min <= opt <= max, got {t_min}, {t_opt}, {t_max}")
    for fixed, want in ((dims[0], (t_min, t_max)), (dims[1], (1, max_batch))):
        if fixed.HasField("dim_value") and (want[0] != fixed.dim_value or want[1] != fixed.dim_value):
            raise NsbError(f"the model was exported with a fixed dimension of {fixed.dim_value}; the engine profile "
                           f"asks for {want[0]}..{want[1]}")
    opt_b = max_batch if opt_batch is None else min(max(1, opt_batch), max_batch)
    return value.name, ((t_min, 1, *features), (t_opt, opt_b, *features), (t_max, max_batch, *features))


def onnx_is_fp16(model: onnx.ModelProto) -> bool:
    return _graph_input(model).type.tensor_type.elem_type == onnx.TensorProto.FLOAT16


# --- build --------------------------------------------------------------------------------------------


def _logger(messages: list[str]) -> Any:
    """A TensorRT logger that keeps errors (for a one-line message) and prints nothing below ERROR."""
    import tensorrt as trt

    class Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: Any, msg: str) -> None:
            if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                messages.append(msg.strip().splitlines()[0] if msg.strip() else msg)

    return Logger()


def build_engine(onnx_path: Path | str, plugin_library: Path | str | None, precision: str = "fp32",
                 max_batch: int = DEFAULT_MAX_BATCH, time_steps: TimeSteps = 1, *, opt_batch: int | None = None,
                 workspace_mb: int | None = None, optimization_level: int | None = None,
                 info: dict[str, Any] | None = None) -> bytes:
    """A serialized engine (plan) for ``onnx_path``.

    ``plugin_library`` is loaded into TensorRT's registry first (required when the graph has ``nsb``
    nodes); the ``nsb`` functions are stripped in memory before parsing. One optimization profile: B from
    1 to ``max_batch`` (opt = ``opt_batch`` or ``max_batch``), T fixed or a (min, opt, max) range.
    ``precision`` fp32 turns TF32 off (spikes must match the reference bit for bit); fp16 sets
    ``BuilderFlag.FP16`` on TensorRT 10 and, TensorRT ≥ 11 being always strongly typed, needs an fp16
    ONNX. ``info``, when given, receives the build time, the TensorRT version and the profile.
    """
    version = require_tensorrt()
    import tensorrt as trt

    if precision not in PRECISIONS:
        raise NsbError(f"--precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise NsbError(f"{onnx_path} not found; export the bundle with nsb export --format onnx")
    model = onnx.load(str(onnx_path), load_external_data=False)
    nsb_nodes = sum(1 for n in model.graph.node if n.domain == DOMAIN)
    major = trt_major(version)
    fp16_onnx = onnx_is_fp16(model)
    if precision == "fp16" and major >= 11 and not fp16_onnx:
        raise NsbError(f"TensorRT {version} builds strongly typed networks only: an fp16 engine needs an fp16 "
                       f"{onnx_path.name} (this one is fp32); use --precision fp32 or TensorRT 10")
    if nsb_nodes:
        if plugin_library is None:
            raise NsbError(f"{onnx_path.name} has {nsb_nodes} nsb nodes and needs the plugin library; build it with "
                           "nsb plugins build, or use --graph std")
        load_plugins(Path(plugin_library))
    input_name, (smin, sopt, smax) = profile_shapes(model, max_batch, time_steps, opt_batch)

    messages: list[str] = []
    logger = _logger(messages)
    builder = trt.Builder(logger)
    flags = 0
    if fp16_onnx and major < 11:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    data = strip_nsb_functions(model).SerializeToString()
    if not parser.parse(data, str(onnx_path)):
        errors = [str(parser.get_error(i).desc()) for i in range(parser.num_errors)] or messages or ["?"]
        hint = ("; the plugin library lacks this op or version, rebuild it with nsb plugins build"
                if "Plugin not found" in errors[0] else "")
        raise NsbError(f"TensorRT's ONNX parser rejected {onnx_path.name}: {errors[0][:300]}{hint}")
    plugin_layers = sum(1 for i in range(network.num_layers)
                        if network.get_layer(i).type == trt.LayerType.PLUGIN_V3)
    if plugin_layers < nsb_nodes:
        raise NsbError(f"TensorRT {version} turned only {plugin_layers} of {nsb_nodes} nsb nodes into plugin "
                       "layers; the rest were expanded, which the nsb plugins are there to avoid (this is a bug)")

    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape(input_name, trt.Dims(list(smin)), trt.Dims(list(sopt)), trt.Dims(list(smax)))
    config.add_optimization_profile(profile)
    if hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)
    if precision == "fp16" and major < 11 and not fp16_onnx:
        config.set_flag(trt.BuilderFlag.FP16)
    if workspace_mb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb * 2**20)
    if optimization_level is not None:
        config.builder_optimization_level = optimization_level

    start = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - start
    if plan is None:
        raise NsbError(f"TensorRT could not build an engine from {onnx_path.name}: "
                       f"{messages[-1][:300] if messages else 'no reason logged'}")
    if info is not None:
        info.update({"build_s": round(seconds, 3), "tensorrt": version, "precision": precision,
                     "profile": {"input": input_name, "min": list(smin), "opt": list(sopt), "max": list(smax)},
                     "plugin_layers": plugin_layers, "onnx": onnx_path.name})
    return bytes(memoryview(plan))


# --- cache --------------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower() or "x"


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def default_cache_dir(bundle: Bundle) -> Path:
    """``$NSB_ENGINE_CACHE``, else ``BUNDLE/engines`` when the bundle is writable, else ``~/.cache/nsb/engines``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    if os.access(bundle.path, os.W_OK):
        return bundle.path / "engines"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nsb" / "engines"


def engine_cache_path(bundle: Bundle, gpu_name: str, trt_version: str, precision: str, *, graph: str = "custom",
                      max_batch: int = DEFAULT_MAX_BATCH, time_steps: TimeSteps | None = None,
                      plugin_library: Path | str | None = None, cache_dir: Path | str | None = None) -> Path:
    """Where the engine for these settings lives. The name shows the model, precision, GPU and TensorRT
    version; its hash also covers the model file's sha256 (a re-export gets a new engine), the plugin
    library's, and the profile."""
    if graph not in GRAPH_FILES:
        raise NsbError(f"--graph must be custom (model.onnx) or std (model.std.onnx), got '{graph}'")
    model_file = GRAPH_FILES[graph]
    entry = bundle.manifest.get("files", {}).get(model_file, {})
    model_sha = entry.get("sha256") or _sha256(bundle.file(model_file))
    steps = bundle.manifest["input"].get("time_steps") if time_steps is None else time_steps
    key = {"model": model_sha, "gpu": gpu_name, "tensorrt": trt_version, "precision": precision,
           "max_batch": max_batch, "time_steps": steps,
           "plugins": _sha256(Path(plugin_library)) if plugin_library and graph == "custom" else None}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    name = f"{Path(model_file).stem.replace('.', '-')}-{precision}-{_slug(gpu_name)}-trt{_slug(trt_version)}-{digest}.engine"
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir(bundle)) / name


def read_engine_file(path: Path | str) -> bytes:
    """A prebuilt engine (``.engine`` or ``.plan``, e.g. from trtexec --saveEngine)."""
    path = Path(path)
    if path.suffix not in ENGINE_SUFFIXES:
        raise NsbError(f"--engine takes a TensorRT plan ({' or '.join(ENGINE_SUFFIXES)}), got {path.name}")
    if not path.is_file():
        raise NsbError(f"engine {path} not found")
    return path.read_bytes()


def load_or_build(bundle: Bundle, *, gpu: str, graph: str = "custom", precision: str = "fp32",
                  plugin_library: Path | None = None, max_batch: int = DEFAULT_MAX_BATCH,
                  time_steps: TimeSteps | None = None, cache_dir: Path | str | None = None,
                  rebuild: bool = False) -> tuple[bytes, dict[str, Any]]:
    """The cached engine for these settings, built and written (atomically, with a ``.json`` beside it
    holding the build time) when missing or when ``rebuild``."""
    version = require_tensorrt()
    steps: TimeSteps = int(bundle.manifest["input"]["time_steps"]) if time_steps is None else time_steps
    path = engine_cache_path(bundle, gpu, version, precision, graph=graph, max_batch=max_batch, time_steps=steps,
                             plugin_library=plugin_library, cache_dir=cache_dir)
    sidecar = path.with_suffix(".json")
    if path.is_file() and not rebuild:
        info: dict[str, Any] = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
        info.update({"engine": str(path), "cached": True})
        return path.read_bytes(), info
    info = {"gpu": gpu, "graph": graph, "max_batch": max_batch, "time_steps": steps,
            "plugin_library": str(plugin_library) if plugin_library else None}
    plan = build_engine(bundle.file(GRAPH_FILES[graph]), plugin_library, precision, max_batch, steps, info=info)
    path.parent.mkdir(parents=True, exist_ok=True)
    for target, content in ((path, plan), (sidecar, json.dumps(info, indent=2).encode())):
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(content)
        os.replace(tmp, target)
    info.update({"engine": str(path), "cached": False})
    return plan, info
