"""Read a deployment bundle and refuse anything that is not exactly what the exporter wrote.

Checks, each failing with a one-line reason: no symbolic link anywhere in the folder, the manifest's
format, version and the type of every field the evaluator reads, that every listed file exists with its
sha256, that every ONNX file parses and keeps all its tensors inside itself (no external data: a runtime
would read files outside the bundle), the ops and their versions against the ``nsb`` op set this
evaluator knows, and the reference data (samples, labels in the output range, inputs and spike trains of
the shapes the manifest gives). Nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nsb.errors import NsbError
from nsb.ops.functions import GRAPH_FORMAT
from nsb.ops.registry import ops
from nsb.ops.schema import DOMAIN, VERSION

FORMAT = "nsb-bundle"
# what a re-export changes, for the one-line refusal of a bundle written with another op set version
_CHANGED = "op set 2: every op carries the last spike as a state and LIF resets as the seed does"
_GRAPH_CHANGE = "typed Scan bodies without CastLike, which OpenVINO and TensorRT's parser accept"
FORMAT_VERSION = 1
TASKS = ("classification", "regression", "language")
REEXPORT = "re-export the bundle with nsb export"


class BundleError(NsbError):
    pass


@dataclass
class Reference:
    inputs: np.ndarray
    labels: np.ndarray
    outputs: np.ndarray
    layers: list[str]
    spike_counts: list[np.ndarray]
    spikes: list[np.ndarray]


class Bundle:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._check_no_links()
        self.manifest = self._read_manifest()
        self._check_files()
        self._check_ops()
        self._check_graph_format()

    # --- checks --------------------------------------------------------------------------------

    def _check_no_links(self) -> None:
        """nsb export never writes a link; one inside the folder (even pointing inside) would let a file
        outside the bundle pass for one of its files, so none is followed."""
        if not self.path.is_dir():
            raise BundleError(f"bundle {self.path} not found; create it with nsb export RUN_DIR --out {self.path}")
        for folder, dirs, names in os.walk(self.path):
            for name in sorted(dirs + names):
                link = Path(folder) / name
                if link.is_symlink():
                    raise BundleError(f"bundle {self.path} holds a symbolic link, {link.relative_to(self.path)} -> "
                                      f"{os.readlink(link)}; bundles never contain links, so nsb does not follow "
                                      f"it: copy the bundle without links (cp -rL) or {REEXPORT}")

    def _read_manifest(self) -> dict[str, Any]:
        file = self.path / "manifest.json"
        if not file.is_file():
            raise BundleError(f"{self.path} has no manifest.json, so it is not an nsb bundle; re-export it with nsb export")
        try:
            manifest = json.loads(file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise BundleError(f"{file} is not valid JSON ({err}); re-export the bundle") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleError(f"{file} is not an nsb bundle manifest (format != '{FORMAT}'); re-export the bundle")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise BundleError(f"bundle format version {manifest.get('format_version')} is not the {FORMAT_VERSION} this "
                              "nsb reads; evaluate it with the nsb version that exported it")
        for key in ("files", "input", "outputs", "task", "ops"):
            if key not in manifest:
                raise BundleError(f"{file} lacks '{key}'; the bundle is damaged, re-export it")
        _check_manifest_types(manifest, file)
        return manifest

    def _check_files(self) -> None:
        files = self.manifest["files"]
        for required in ("reference.h5", "config.toml"):
            if required not in files:
                raise BundleError(f"bundle {self.path} lists no {required}; re-export it with nsb export")
        for name, entry in files.items():
            if "/" in name or name.startswith("."):
                raise BundleError(f"bundle manifest names a file outside the bundle ('{name}'); refusing it")
            file = self.path / name
            if not file.is_file():
                raise BundleError(f"bundle file {name} is missing from {self.path}; re-export the bundle")
            data = file.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest != entry.get("sha256"):
                raise BundleError(f"bundle file {name} does not match its sha256 in manifest.json (changed after "
                                  "export?); re-export the bundle")
            if name.endswith(".onnx"):
                check_onnx_file(data, file)

    def _check_ops(self) -> None:
        for op in self.manifest["ops"]:
            name, version = op.get("name"), op.get("version")
            if op.get("domain") != DOMAIN or name not in ops():
                raise BundleError(f"bundle uses op {op.get('domain')}::{name}, which this nsb does not know; "
                                  "upgrade nsb or re-export with this version")
            if not isinstance(version, int) or version != VERSION:
                raise BundleError(f"bundle uses {DOMAIN}::{name} version {version}, this nsb implements version "
                                  f"{VERSION} ({_CHANGED}); re-export the run with this nsb, or evaluate the bundle "
                                  "with the nsb that exported it")

    def _check_graph_format(self) -> None:
        if not (self.has("model.onnx") or self.has("model.std.onnx")):
            return
        written = self.manifest.get("graph_format", 1)
        if written != GRAPH_FORMAT:
            raise BundleError(f"this bundle's ONNX files follow graph format {written}, this nsb reads format "
                              f"{GRAPH_FORMAT} ({_GRAPH_CHANGE}); re-export the run with this nsb (nsb export RUN_DIR)")

    # --- contents --------------------------------------------------------------------------------

    def has(self, name: str) -> bool:
        return name in self.manifest["files"]

    def file(self, name: str) -> Path:
        if not self.has(name):
            formats = {"model.onnx": "onnx", "model.std.onnx": "onnx", "model.ts": "torchscript", "model.pt2": "pt2",
                       "model.nir": "nir"}
            hint = f"; export it with nsb export --format {formats[name]}" if name in formats else ""
            raise BundleError(f"bundle {self.path} has no {name}{hint}")
        return self.path / name

    @property
    def task(self) -> str:
        return self.manifest["task"]["task"]

    @property
    def layer_count(self) -> int:
        return len(self.spike_outputs)

    def reference(self) -> Reference:
        import h5py

        path = self.file("reference.h5")
        try:
            with h5py.File(path, "r") as f:
                if "layers" not in f.attrs:
                    raise BundleError(f"{path} lacks its 'layers' attribute; the reference is incomplete, {REEXPORT}")
                layers = [s.decode() if isinstance(s, bytes) else str(s) for s in np.atleast_1d(f.attrs["layers"])]
                if len(layers) != self.layer_count:
                    raise BundleError(f"{path} has {len(layers)} spiking layers, the manifest {self.layer_count}; "
                                      f"{REEXPORT}")
                names = ["inputs", "labels", "outputs"] + [f"{group}/{i}" for group in ("spike_counts", "spikes")
                                                           for i in range(len(layers))]
                for name in names:
                    if not isinstance(f.get(name), h5py.Dataset):
                        raise BundleError(f"{path} has no dataset '{name}' ({len(layers)} spiking layers need "
                                          f"spike_counts/0.. and spikes/0..); the reference is incomplete, {REEXPORT}")
                ref = Reference(f["inputs"][()], f["labels"][()], f["outputs"][()], layers,
                                [np.asarray(f[f"spike_counts/{i}"][()]) for i in range(len(layers))],
                                [np.asarray(f[f"spikes/{i}"][()]) for i in range(len(layers))])
        except (OSError, KeyError, TypeError, ValueError) as err:
            reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
            raise BundleError(f"{path} is unreadable or incomplete ({reason}); {REEXPORT}") from None
        self._check_reference(ref)
        return ref

    def _check_reference(self, ref: Reference) -> None:
        where = self.path / "reference.h5"
        spec = self.manifest["input"]
        fixed = spec["shape"][2:]
        if ref.inputs.ndim != len(spec["shape"]) or list(ref.inputs.shape[2:]) != list(fixed):
            raise BundleError(f"reference inputs have shape {list(ref.inputs.shape)}, the manifest's input is "
                              f"{spec['shape']}; the bundle is inconsistent, re-export it")
        if ref.inputs.shape[0] != spec["time_steps"]:
            raise BundleError(f"{where}: the inputs have {ref.inputs.shape[0]} time steps, the manifest's input "
                              f"{spec['time_steps']}; the bundle is inconsistent, {REEXPORT}")
        if str(ref.inputs.dtype) != spec["dtype"]:
            raise BundleError(f"reference inputs are {ref.inputs.dtype}, the manifest says {spec['dtype']}; re-export")
        samples = ref.inputs.shape[1]
        if samples == 0:
            raise BundleError(f"{where} holds no samples (inputs {list(ref.inputs.shape)}); nothing to evaluate, "
                              f"{REEXPORT} --samples N with N >= 1")
        per_step = self.task != "classification"
        batch_axis = 1 if per_step else 0
        if ref.outputs.ndim <= batch_axis or ref.outputs.shape[batch_axis] != samples:
            raise BundleError(f"{where}: the outputs {list(ref.outputs.shape)} do not hold the {samples} samples of the "
                              f"inputs; {REEXPORT}")
        self._check_labels(ref, where, samples)
        for i, (counts, train) in enumerate(zip(ref.spike_counts, ref.spikes)):
            self._check_spikes(i, counts, train, where, samples, spec["time_steps"])

    def _check_labels(self, ref: Reference, where: Path, samples: int) -> None:
        labels = ref.labels
        if self.task == "regression":  # targets per step, [T, N, ...] like the outputs
            if labels.ndim < 2 or labels.shape[1] != samples:
                raise BundleError(f"{where}: the targets have shape {list(labels.shape)}, not [T, {samples}, ...] "
                                  f"for the {samples} samples; {REEXPORT}")
            if not np.issubdtype(labels.dtype, np.number) or not np.isfinite(labels).all():
                raise BundleError(f"{where}: the regression targets are not all finite numbers; {REEXPORT}")
            return
        expected = [samples] if self.task == "classification" else list(ref.outputs.shape[:2])
        if list(labels.shape) != expected:
            raise BundleError(f"{where}: the labels have shape {list(labels.shape)}, the outputs need {expected}; "
                              f"{REEXPORT}")
        classes = self.manifest["task"]["num_classes"]
        if not np.issubdtype(labels.dtype, np.integer):
            raise BundleError(f"{where}: the labels are {labels.dtype}, class indices must be integers; {REEXPORT}")
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise BundleError(f"{where}: labels run from {labels.min()} to {labels.max()}, outside the model's "
                              f"{classes} outputs (0..{classes - 1}); {REEXPORT}")

    def _check_spikes(self, i: int, counts: np.ndarray, train: np.ndarray, where: Path, samples: int,
                      steps: int) -> None:
        declared = self.spike_outputs[i]["shape"]
        neurons = list(declared[2:])
        if train.ndim != len(declared) or train.shape[0] != steps or train.shape[1] > samples \
                or (samples and train.shape[1] == 0) or list(train.shape[2:]) != neurons:
            raise BundleError(f"{where}: spike train spikes/{i} has shape {list(train.shape)}, the manifest's "
                              f"{self.spike_outputs[i]['name']} is {declared} over {steps} steps and at most "
                              f"{samples} samples; {REEXPORT}")
        if list(counts.shape) != [samples, *neurons]:
            raise BundleError(f"{where}: spike_counts/{i} has shape {list(counts.shape)}, expected "
                              f"{[samples, *neurons]} (samples, neurons); {REEXPORT}")

    @property
    def spike_outputs(self) -> list[dict[str, Any]]:
        return [o for o in self.manifest["outputs"] if o["name"].startswith("spikes_")]


def check_input(bundle: Bundle, x: np.ndarray) -> None:
    """Refuse inputs a bundle's model was not exported for, before a runtime fails obscurely."""
    spec = bundle.manifest["input"]
    if x.ndim != len(spec["shape"]) or list(x.shape[2:]) != list(spec["shape"][2:]):
        raise BundleError(f"input of shape {list(x.shape)} does not fit the model's input {spec['shape']} "
                          "(time-major [T, B, ...])")
    if not spec.get("dynamic_time", True) and x.shape[0] != spec["time_steps"]:
        raise BundleError(f"this model was exported for T = {spec['time_steps']} steps, got {x.shape[0]}")
    t_max = spec.get("T_max")
    if t_max is not None and x.shape[0] > t_max:
        raise BundleError(f"this model runs at most T_max = {t_max} steps (a per-step parameter has one row per "
                          f"step), got {x.shape[0]}; cut the input to {t_max} steps or train with "
                          f"time_steps >= {x.shape[0]}")


def check_onnx_ops(model: Any, source: str) -> None:
    """Every ``nsb`` node of an ONNX model must be an op and version this nsb implements."""
    declared = {o.domain: o.version for o in model.opset_import}
    if DOMAIN in declared and declared[DOMAIN] != VERSION:
        raise BundleError(f"{source} imports the {DOMAIN} op set version {declared[DOMAIN]}, this nsb implements "
                          f"version {VERSION} ({_CHANGED}); re-export the run with this nsb")
    for node in model.graph.node:
        if node.domain == DOMAIN and node.op_type not in ops():
            raise BundleError(f"{source} uses unknown op {DOMAIN}::{node.op_type}; this nsb knows {', '.join(ops())}")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _check_manifest_types(manifest: dict[str, Any], file: Path) -> None:
    """Every manifest field the evaluator reads, with the type the exporter writes: a wrong one is one
    line here, not a TypeError in the middle of an evaluation."""

    def bad(field: str, want: str, value: Any) -> BundleError:
        return BundleError(f"{file}: '{field}' must be {want}, got {_kind(value)} ({json.dumps(value)[:60]}); "
                           f"the manifest is damaged, {REEXPORT}")

    def integer(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    files = manifest["files"]
    if not isinstance(files, dict) or not files:
        raise bad("files", "an object naming each file with its sha256", files)
    for name, entry in files.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise bad(f"files.{name}", 'an object with a "sha256" string', entry)
    spec = manifest["input"]
    if not isinstance(spec, dict):
        raise bad("input", "an object (shape, dtype, time_steps)", spec)
    for key in ("shape", "dtype", "time_steps"):
        if key not in spec:
            raise BundleError(f"{file}: 'input' lacks '{key}'; the manifest is damaged, {REEXPORT}")
    shape = spec["shape"]
    if not isinstance(shape, list) or len(shape) < 2 or not all(integer(d) or isinstance(d, str) for d in shape) \
            or not all(integer(d) and d > 0 for d in shape[2:]):
        raise bad("input.shape", 'a list ["T", "B", sizes...] with positive integer sizes', shape)
    if not isinstance(spec["dtype"], str):
        raise bad("input.dtype", "a string such as \"float32\"", spec["dtype"])
    if not integer(spec["time_steps"]) or spec["time_steps"] < 1:
        raise bad("input.time_steps", "an integer >= 1", spec["time_steps"])
    if "dynamic_time" in spec and not isinstance(spec["dynamic_time"], bool):
        raise bad("input.dynamic_time", "true or false", spec["dynamic_time"])
    if spec.get("T_max") is not None and (not integer(spec["T_max"]) or spec["T_max"] < 1):
        raise bad("input.T_max", "null or an integer >= 1", spec["T_max"])
    outputs = manifest["outputs"]
    if not isinstance(outputs, list) or not outputs:
        raise bad("outputs", "a list of the model's outputs", outputs)
    for i, out in enumerate(outputs):
        if not isinstance(out, dict) or not isinstance(out.get("name"), str):
            raise bad(f"outputs[{i}]", 'an object with a "name" string', out)
        if out["name"].startswith("spikes_"):
            dims = out.get("shape")
            if not isinstance(dims, list) or len(dims) < 3 or not all(integer(d) and d > 0 for d in dims[2:]):
                raise bad(f"outputs[{i}].shape", 'a list ["T", "B", neurons...] with positive integer sizes', dims)
    task = manifest["task"]
    if not isinstance(task, dict):
        raise bad("task", "an object (task, num_classes, ...)", task)
    if task.get("task") not in TASKS:
        raise bad("task.task", f"one of {', '.join(TASKS)}", task.get("task"))
    if not integer(task.get("num_classes")) or task["num_classes"] < 1:
        raise bad("task.num_classes", "an integer >= 1", task.get("num_classes"))
    ops = manifest["ops"]
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise bad("ops", "a list of {domain, name, version} objects", ops)
    for key, want, ok in (("name", "a string", lambda v: isinstance(v, str)),
                          ("precision", "a string", lambda v: isinstance(v, str)),
                          ("graph_format", "an integer", integer)):
        if key in manifest and not ok(manifest[key]):
            raise bad(key, want, manifest[key])


def _tensors(model: Any) -> Any:
    """Every tensor an ONNX model holds: initializers (dense and sparse) and attribute values, in the main
    graph, in every subgraph (Scan/Loop/If bodies) and in the model-local functions."""

    def from_nodes(nodes: Any) -> Any:
        for node in nodes:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                yield from attr.tensors
                if attr.HasField("sparse_tensor"):
                    yield attr.sparse_tensor.values
                    yield attr.sparse_tensor.indices
                for sparse in attr.sparse_tensors:
                    yield sparse.values
                    yield sparse.indices
                if attr.HasField("g"):
                    yield from from_graph(attr.g)
                for graph in attr.graphs:
                    yield from from_graph(graph)

    def from_graph(graph: Any) -> Any:
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield sparse.values
            yield sparse.indices
        yield from from_nodes(graph.node)

    yield from from_graph(model.graph)
    for function in model.functions:
        yield from from_nodes(function.node)


def check_onnx_file(data: bytes, path: Path) -> None:
    """An ONNX file of a bundle must parse and hold every tensor itself. A tensor with external data would
    make a runtime open a file the manifest does not vouch for (any path, even outside the bundle), so it is
    refused here, before any runtime is given the file."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError) as err:
        reason = str(err).splitlines()[0][:100] if str(err) else type(err).__name__
        raise BundleError(f"{path} is not a readable ONNX model ({reason}); {REEXPORT}") from None
    if model.ir_version < 1 or not model.HasField("graph") or not model.graph.node or not model.graph.output:
        raise BundleError(f"{path} is not a readable ONNX model (no graph with nodes and outputs); {REEXPORT}")
    for tensor in _tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            location = next((e.value for e in tensor.external_data if e.key == "location"), "?")
            raise BundleError(f"{path} keeps tensor '{tensor.name}' in an external file ('{location}'); nsb bundles "
                              f"never use external data, so no runtime is given this file: {REEXPORT}")
