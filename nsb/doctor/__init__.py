"""``nsb doctor``: what this machine is, which runtimes it has, and whether every GPU part of nsb
works on it, proven numerically (``docs/gpu.md``).

On a GPU (``--device cuda``) it runs every fused kernel against the PyTorch loop (each op, choice
option and surrogate, fp32/fp16/bf16 storage, forward and backward), builds the TensorRT plugins for
this GPU and runs their harness with ``enqueue``, and holds a small bundle to its reference on
onnxruntime's CUDA provider and on a TensorRT engine with the plugins. On a CPU it runs the CPU
build of the same kernels, the plugin harness without ``enqueue`` and the bundle on onnxruntime's CPU
provider, and says which GPU checks it skipped and why. Exit 0 only when every check that ran passed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from nsb.doctor.checks import Check, bundle_check, kernel_checks, plugin_check, skipped_kernels, small_bundle
from nsb.doctor.environment import gpu_arch, machine, runtimes


def run(device: str = "auto", tensorrt: Path | None = None, work: Path | None = None) -> dict[str, Any]:
    """Every check for ``device`` ("auto": cuda when a GPU is here); the report as a dict."""
    arch = gpu_arch()
    if device == "auto":
        device = "cuda" if arch is not None else "cpu"
    with tempfile.TemporaryDirectory(prefix="nsb-doctor-") as tmp:
        folder = Path(work) if work is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        checks: list[Check] = []
        checks += kernel_checks("cpu")
        if device == "cuda":
            checks += kernel_checks("cuda")
        else:
            checks.append(skipped_kernels("no CUDA device (torch.cuda.is_available() is False): run nsb doctor "
                                          "--device cuda on a GPU machine"))
        plugins, library = plugin_check(tensorrt, device, arch, folder)
        checks.append(plugins)
        bundle = None
        try:
            import torch  # noqa: F401

            bundle = small_bundle(folder)
        except ImportError:
            checks.append(Check("a small bundle", "SKIP", "torch missing: the bundle is trained here first; "
                                                         "pip install 'nsb[torch]'"))
        if bundle is not None:
            checks.append(bundle_check("bundle on onnxruntime (CPU)", bundle, "onnxruntime", "cpu"))
            checks += _gpu_bundle_checks(device, bundle, library, plugins)
    return {"device": device, "machine": machine(), "runtimes": runtimes(),
            "checks": [c.as_dict() for c in checks],
            "passed": all(c.status != "FAIL" for c in checks)}


def _gpu_bundle_checks(device: str, bundle: Path, library: Path | None, plugins: Check) -> list[Check]:
    cuda = "bundle on onnxruntime (CUDA)"
    trt = "bundle on a TensorRT engine with the plugins"
    if device != "cuda":
        reason = "no CUDA device"
        return [Check(cuda, "SKIP", reason), Check(trt, "SKIP", reason)]
    out = []
    try:
        import onnxruntime

        has_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    except ImportError:
        has_cuda = False
    out.append(bundle_check(cuda, bundle, "onnxruntime", "cuda") if has_cuda else
               Check(cuda, "SKIP", "onnxruntime here has no CUDA provider: pip install 'nsb[gpu]'"))
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        out.append(Check(trt, "SKIP", "TensorRT's Python package is missing: pip install 'nsb[tensorrt]' "
                                      "(NVIDIA's index), or JetPack's python3-libnvinfer"))
        return out
    if library is None:
        out.append(Check(trt, "SKIP", f"no plugin library ({plugins.status}: {plugins.detail})"))
        return out
    out.append(bundle_check(trt, bundle, "tensorrt", "cuda", plugin_library=str(library)))
    return out


def write_json(report: dict[str, Any], path: Path) -> None:
    from nsb.checkpoint import atomic_write_bytes

    atomic_write_bytes(Path(path), (json.dumps(report, indent=2) + "\n").encode())


def render(report: dict[str, Any], console) -> None:
    from rich.table import Table

    machine_table = Table("machine", "", title="nsb doctor")
    for key, value in report["machine"].items():
        machine_table.add_row(key, str(value))
    console.print(machine_table)
    runtime_table = Table("runtime", "version")
    for key, value in report["runtimes"].items():
        runtime_table.add_row(key, value)
    console.print(runtime_table)
    checks = Table("check", "result", "detail", "s")
    colour = {"PASS": "green", "FAIL": "bold red", "SKIP": "yellow"}
    for c in report["checks"]:
        checks.add_row(c["name"], f"[{colour[c['status']]}]{c['status']}[/]", c["detail"], f"{c['seconds']:.1f}")
    console.print(checks)
    counts = {s: sum(c["status"] == s for c in report["checks"]) for s in ("PASS", "FAIL", "SKIP")}
    console.print(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped on {report['device']}")
