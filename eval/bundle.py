"""Read a deployment bundle and refuse anything that is not exactly what the exporter wrote.

Checks, each failing with a one-line reason: the manifest's format and version, that every listed
file exists with its sha256, the ops and their versions against the ``nsb`` op set this evaluator
knows, and the shapes of the reference data against the manifest's input spec. Nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
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
        self.manifest = self._read_manifest()
        self._check_files()
        self._check_ops()
        self._check_graph_format()

    # --- checks --------------------------------------------------------------------------------

    def _read_manifest(self) -> dict[str, Any]:
        if not self.path.is_dir():
            raise BundleError(f"bundle {self.path} not found; create it with nsb export RUN_DIR --out {self.path}")
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
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
            if digest != entry.get("sha256"):
                raise BundleError(f"bundle file {name} does not match its sha256 in manifest.json (changed after "
                                  "export?); re-export the bundle")

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
        return sum(1 for o in self.manifest["outputs"] if o["name"].startswith("spikes_"))

    def reference(self) -> Reference:
        import h5py

        try:
            with h5py.File(self.file("reference.h5"), "r") as f:
                layers = [s.decode() if isinstance(s, bytes) else str(s) for s in f.attrs["layers"]]
                ref = Reference(f["inputs"][()], f["labels"][()], f["outputs"][()], layers,
                                [f[f"spike_counts/{i}"][()] for i in range(len(layers))],
                                [f[f"spikes/{i}"][()] for i in range(len(layers))])
        except (OSError, KeyError) as err:
            raise BundleError(f"reference.h5 in {self.path} is unreadable or incomplete ({err}); re-export the bundle") from None
        self._check_reference(ref)
        return ref

    def _check_reference(self, ref: Reference) -> None:
        spec = self.manifest["input"]
        fixed = spec["shape"][2:]
        if ref.inputs.ndim != len(spec["shape"]) or list(ref.inputs.shape[2:]) != list(fixed):
            raise BundleError(f"reference inputs have shape {list(ref.inputs.shape)}, the manifest's input is "
                              f"{spec['shape']}; the bundle is inconsistent, re-export it")
        if str(ref.inputs.dtype) != spec["dtype"]:
            raise BundleError(f"reference inputs are {ref.inputs.dtype}, the manifest says {spec['dtype']}; re-export")
        if len(ref.layers) != self.layer_count:
            raise BundleError(f"reference.h5 has {len(ref.layers)} spiking layers, the manifest {self.layer_count}; "
                              "re-export the bundle")
        samples = ref.inputs.shape[1]
        batch_axis = 0 if self.task == "classification" else 1
        if ref.outputs.shape[batch_axis] != samples:
            raise BundleError(f"reference outputs hold {ref.outputs.shape[batch_axis]} samples for {samples} inputs; "
                              "re-export the bundle")


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
