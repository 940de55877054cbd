"""``nsb export``: a trained run directory → a deployment bundle.

Reads only what ``nsb train`` wrote (the checkpoint with its config), rebuilds the model, and writes
the formats asked for, ``reference.h5``, ``weights.h5``, ``config.toml`` and the manifest.
"""

from __future__ import annotations

import copy
import datetime
import platform
from pathlib import Path
from typing import Any

import onnx
import torch

from nsb import __version__
from nsb.checkpoint import load_checkpoint
from nsb.config import dump_toml, from_dict
from nsb.data import load_task
from nsb.errors import NsbError
from nsb.export.bundle import write_bundle
from nsb.export.deploy import DeployModel
from nsb.export.reference_data import evaluation_inputs, reference_outputs, write_reference, write_weights
from nsb.models.build import build_model
from nsb.ops.functions import GRAPH_FORMAT, OPSET
from nsb.ops.schema import DOMAIN, VERSION
from nsb.paths import check_bundle_target, plain_name
from nsb.tasks.kinds import task_kind

FORMATS = ("onnx", "torchscript", "engine", "pt2", "nir")


def find_checkpoint(run_dir: Path, which: str) -> Path:
    if not run_dir.is_dir():
        raise NsbError(f"run directory {run_dir} not found; pass the directory nsb train wrote (runs/<name>)")
    if which not in ("best", "last"):
        raise NsbError(f"--checkpoint must be 'best' or 'last', got '{which}'")
    best, last = run_dir / "best.pt", run_dir / "checkpoint.pt"
    if which == "best" and best.is_file():
        return best
    if last.is_file():
        return last
    raise NsbError(f"{run_dir} holds no checkpoint.pt; train first with nsb train")


PRECISIONS = ("fp32", "fp16")
# the formats an fp16 bundle can hold: the ONNX files (and an engine built from them)
FP16_FORMATS = ("onnx", "engine")


def export_run(run_dir: Path, out: Path | None = None, formats: tuple[str, ...] = ("onnx",), samples: int = 256,
               checkpoint: str = "best", dynamic_time: bool = True, precision: str = "fp32") -> Path:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise NsbError(f"unknown export format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}")
    if precision not in PRECISIONS:
        raise NsbError(f"--precision must be fp32 or fp16, got '{precision}'")
    if precision == "fp16" and any(f not in FP16_FORMATS for f in formats):
        others = ", ".join(f for f in formats if f not in FP16_FORMATS)
        raise NsbError(f"--precision fp16 writes ONNX files only, not {others}; export those into a separate fp32 "
                       "bundle (nsb export RUN --format torchscript --out OTHER_DIR)")
    run_dir = Path(run_dir)
    if out is not None:
        check_bundle_target(Path(out), run_dir)
    ckpt = load_checkpoint(find_checkpoint(run_dir, checkpoint))
    cfg = from_dict(ckpt["config"], f"{run_dir} (saved config)")
    target = Path(out) if out is not None else Path("bundle") / plain_name(cfg.name, f"{run_dir}'s run name")
    check_bundle_target(target, run_dir)
    torch.manual_seed(cfg.seed)
    task = load_task(cfg.data.name, cfg.data.root, cfg.data.options, cfg.seed)
    model = build_model(cfg, task)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise NsbError(f"the checkpoint's weights do not fit the model its config builds "
                       f"({str(err).splitlines()[0][:160]}); was the config edited after training?") from None
    model.eval()
    x, y = evaluation_inputs(task, samples)
    output, names, counts, trains = reference_outputs(model, x, task.task, cfg.model.readout)
    deploy = DeployModel(model, task.task, cfg.model.readout)
    example = x[:, : min(2, x.shape[1])]
    t_max = deploy.t_max
    files: dict[str, bytes] = {
        "reference.h5": write_reference(x, y, output, names, counts, trains),
        "weights.h5": write_weights(model),
        "config.toml": dump_toml(cfg).encode(),
    }
    ops: list[str] = []
    if "engine" in formats and "onnx" not in formats:
        formats = (*formats, "onnx")  # the engine is built from model.onnx, which the bundle then carries
    if "onnx" in formats:
        from nsb.export.onnx_export import export_onnx, inline_functions

        metadata = onnx_metadata(task, deploy, t_max, precision)
        if precision == "fp16":
            # the ops keep their membrane in float32 inside (nsb.ops.functions); weights and I/O are fp16
            half = copy.deepcopy(deploy).half()
            proto = export_onnx(half, example.half() if example.is_floating_point() else example,
                                dynamic_time=dynamic_time, metadata=metadata)
        else:
            proto = export_onnx(deploy, example, dynamic_time=dynamic_time, metadata=metadata)
        ops = sorted({n.op_type for n in proto.graph.node if n.domain == DOMAIN})
        files["model.onnx"] = proto.SerializeToString()
        files["model.std.onnx"] = inline_functions(proto).SerializeToString()
    if "engine" in formats:
        files["model.engine"] = _engine(files["model.onnx"], int(x.shape[0]))
    if "torchscript" in formats:
        from nsb.export.torchscript_export import export_torchscript

        files["model.ts"] = export_torchscript(deploy, example)
    if "pt2" in formats:
        from nsb.export.pt2_export import export_pt2

        files["model.pt2"] = export_pt2(deploy, example, dynamic_time=dynamic_time)
    from nsb.metrics import footprint

    manifest = {"footprint_bytes": footprint(model)}
    if "nir" in formats:
        from nsb.export.nir_export import export_nir

        # NIR describes the trained network itself (not the deploy twin); what it cannot say exactly
        # goes into the manifest and a warning
        frame_shape = task.info.get("frame_shape")
        files["model.nir"], manifest["nir"] = export_nir(model, cfg, tuple(frame_shape) if frame_shape else None)
    manifest |= _manifest(cfg.name, task, cfg.model.readout, x, names, [c.shape[1:] for c in counts], deploy, ops,
                         dynamic_time, t_max, precision)
    return write_bundle(target, files, manifest)


def _engine(onnx_bytes: bytes, time_steps: int) -> bytes:
    """A TensorRT engine (fp32, batch 1…64, T fixed) built here, for this GPU and TensorRT version."""
    import tempfile

    from nsb.eval.backends.tensorrt.engine import build_engine, find_plugin_library

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        path.write_bytes(onnx_bytes)
        return build_engine(path, find_plugin_library(), "fp32", 64, time_steps)


def onnx_metadata(task: Any, deploy: DeployModel, t_max: int | None, precision: str) -> dict[str, str]:
    """``metadata_props`` of both ONNX files: what a runtime or an engineer cannot infer from the graph."""
    props = {"nsb_version": __version__, "layout": "time-major: input [T, B, ...], spikes [T, B, ...]",
             "precision": precision, "opsets": f"ai.onnx {OPSET}, {DOMAIN} {VERSION}",
             "graph_format": str(GRAPH_FORMAT),
             "task": task.task, "readout": deploy.readout,
             "time_steps": "any" if t_max is None else f"at most T_max = {t_max}"}
    if t_max is not None:
        props["T_max"] = str(t_max)
    return props


def _manifest(name: str, task: Any, readout: str, x: torch.Tensor, layers: list[str], shapes: list[tuple[int, ...]],
              deploy: DeployModel, ops: list[str], dynamic_time: bool, t_max: int | None,
              precision: str) -> dict[str, Any]:
    per_step = task_kind(task).per_step
    feature_shape = list(x.shape[2:])
    return {
        "name": name,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "task": {"task": task.task, "readout": readout, "input_size": task.input_size,
                 "num_classes": task.num_classes, "time_steps": task.time_steps,
                 "frame_shape": task.info.get("frame_shape")},
        "input": {"name": "input", "shape": ["T", "B", *feature_shape], "dtype": str(x.dtype).replace("torch.", ""),
                  "time_steps": int(x.shape[0]), "dynamic_time": dynamic_time, "T_max": t_max},
        "precision": precision,
        "outputs": [{"name": "output", "shape": ["T", "B", task.num_classes] if per_step else ["B", task.num_classes],
                     "meaning": "per-step outputs" if per_step else f"logits ({readout} over time)"}]
                   + [{"name": f"spikes_{i}", "layer": layer, "op": op, "shape": ["T", "B", *shape]}
                      for i, (layer, op, shape) in enumerate(zip(layers, deploy.layer_ops, shapes))],
        "ops": [{"domain": DOMAIN, "name": op, "version": VERSION} for op in ops],
        "graph_format": GRAPH_FORMAT,
        "versions": {"nsb": __version__, "torch": torch.__version__, "onnx": onnx.__version__, "opset": OPSET,
                     "python": platform.python_version()},
    }
