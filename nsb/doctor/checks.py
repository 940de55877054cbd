"""The checks of ``nsb doctor``: each returns PASS, FAIL (naming what and where) or SKIP (saying why).

- fused kernels: every neuron and choice option (feed-forward and recurrent), every surrogate with and
  without reset detachment, and on a GPU fp16/bf16 storage, against the PyTorch loop forward and
  backward (:mod:`nsb.kernels.check`); on the CPU through the kernels' CPU build;
- the TensorRT plugin library built from the TensorRT headers, and its harness (``enqueue`` against the
  host reference on a GPU);
- a small trained and exported bundle through onnxruntime (CPU, CUDA) and a TensorRT engine with the
  plugins, held to its reference outputs by the evaluator's fidelity gate.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from nsb.errors import NsbError
from nsb.kernels import SURROGATE_IDS

# one name per kernel surrogate, the first for each id (superspike is fast_sigmoid's alias)
SURROGATES = tuple(name for name, i in SURROGATE_IDS.items() if name == next(n for n, j in SURROGATE_IDS.items()
                                                                             if j == i))


@dataclass
class Check:
    name: str
    status: str       # PASS, FAIL or SKIP
    detail: str
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def timed(name: str, fn: Callable[[], tuple[str, str]]) -> Check:
    """Run one check; an NsbError is its FAIL line, anything else a FAIL naming the exception."""
    start = time.perf_counter()
    try:
        status, detail = fn()
    except NsbError as err:
        status, detail = "FAIL", str(err)
    except Exception as err:  # a doctor reports, it does not crash: the exception is the finding
        status, detail = "FAIL", f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:400]
    return Check(name, status, detail, round(time.perf_counter() - start, 2))


# --- fused kernels ------------------------------------------------------------------------------------

def _layer(name: str, recurrent: bool | None, steps: int, size: int, **options):
    from nsb.neurons import NEURONS, build_neuron

    decl = NEURONS[name]
    kw = dict(options)
    for key, spec in decl.options.items():  # required options (GLIF's time_steps): the sequence length
        if spec.default is None and key not in kw:
            kw[key] = steps
    if recurrent is not None:
        kw["recurrent"] = recurrent
    return build_neuron(name, size, **kw)


def kernel_cases(device: str) -> dict[str, list[tuple[str, Callable]]]:
    """``{op: [(case, build layer)]}``: every neuron case, every surrogate × reset detachment, and on a
    GPU fp16/bf16 storage (a case returns the layer and the input dtype)."""
    import torch

    from nsb.neurons import NEURONS, GradPolicy
    from nsb.ops.samples import case_id, neuron_cases, recurrences

    steps, size = (100, 64) if device == "cuda" else (37, 12)
    cases: dict[str, list[tuple[str, Callable]]] = {}

    def add(label: str, make: Callable, dtype=torch.float32) -> None:
        op = make().op.name
        cases.setdefault(op, []).append((label, lambda: (make(), dtype)))

    # a neuron that spikes through its own surrogate (ASGL-LIF's noisy spike) is checked with it, in training
    # (the noise on); the surrogate sweep below is for the others
    own_spike = {name: decl.surrogate for name, decl in NEURONS.items() if getattr(decl, "surrogate", "")}
    for name, recurrent, choices in neuron_cases():
        label = f"{name} {case_id(recurrent)} {case_id(choices)}"
        add(label, lambda n=name, r=recurrent, c=choices: _layer(n, r, steps, size,
                                                                 surrogate=own_spike.get(n, "triangle"), **c))
    for name, decl in NEURONS.items():
        if name in own_spike:
            continue
        for recurrent in recurrences(decl):
            for surrogate in SURROGATES:
                for detach in (False, True):
                    def make(n=name, r=recurrent, g=surrogate, d=detach):
                        layer = _layer(n, r, steps, size, surrogate=g)
                        layer.policy = GradPolicy(detach_reset=d)
                        return layer

                    add(f"{name} {case_id(recurrent)} {surrogate}{' detach_reset' if detach else ''}", make)
    # DH-LIF's feed-forward layer runs two stage ops (nsb/neurons/dhlif_ops.py); each is checked through it
    for branches in (4, 3):
        for surrogate in SURROGATES:
            def dhlif(b=branches, g=surrogate):
                from nsb.neurons import build_neuron

                return build_neuron("dhlif", size, input_size=size, branches=b, surrogate=g, threshold=0.3)

            for op in ("DHDEND", "DHSOMA"):
                cases.setdefault(op, []).append((f"dhlif ff B_n = {branches} {surrogate}",
                                                 lambda m=dhlif: (m(), torch.float32)))
    if device == "cuda":
        for name, recurrent, _ in neuron_cases():
            if name in own_spike:
                continue
            for dtype in (torch.float16, torch.bfloat16):
                add(f"{name} {case_id(recurrent)} {str(dtype).replace('torch.', '')}",
                    lambda n=name, r=recurrent: _layer(n, r, steps, size), dtype)
    return cases


def kernel_checks(device: str) -> list[Check]:
    where = "CUDA" if device == "cuda" else "CPU build"
    if device == "cpu":
        from nsb.kernels.cpu import compiler

        try:
            compiler()
        except NsbError as err:
            return [Check(f"fused kernels ({where})", "SKIP", f"{err} (for the CPU build)")]
    import torch

    from nsb.kernels.check import compare_with_loop

    steps = 100 if device == "cuda" else 37
    out = []
    for op, cases in kernel_cases(device).items():
        def run(cases=cases) -> tuple[str, str]:
            for label, make in cases:
                torch.manual_seed(0)
                layer, dtype = make()
                layer = layer.to(device)
                g = torch.Generator().manual_seed(1)
                x = (torch.rand(steps, 3 if device == "cpu" else 8, layer.size, generator=g) * 0.9 - 0.15)
                x = x.to(device=device, dtype=dtype)
                result = compare_with_loop(layer, x, device=device, rtol=2e-5 if device == "cpu" else 1e-4)
                if not result:
                    return "FAIL", f"{label}: {result.detail}"
            return "PASS", f"{len(cases)} case{'s' if len(cases) > 1 else ''}: forward and backward equal the PyTorch loop"

        out.append(timed(f"fused kernels {op} ({where})", run))
    return out


def skipped_kernels(reason: str) -> Check:
    return Check("fused kernels (CUDA)", "SKIP", reason)


# --- TensorRT plugins ---------------------------------------------------------------------------------

def plugin_check(tensorrt: Path | None, device: str, arch: int | None, work: Path) -> tuple[Check, Path | None]:
    from nsb.kernels.plugins import build, find_headers, run_harness

    name = "TensorRT plugins: build and harness" + (" with enqueue" if device == "cuda" else "")
    try:
        headers = find_headers(tensorrt)
    except NsbError:
        return Check(name, "SKIP", "no TensorRT headers found: pass --tensorrt DIR (a TensorRT install, JetPack's "
                                   "/usr/include/aarch64-linux-gnu, or a folder with NvInferRuntime.h)"), None
    for tool in ("nvcc", "cmake"):
        if shutil.which(tool) is None:
            return Check(name, "SKIP", f"{tool} not found; the plugin build needs it"), None
    library: list[Path] = []

    def run() -> tuple[str, str]:
        library.append(build(headers, work / "plugins", archs=(arch or 90,)))
        report = run_harness(library[0], gpu=device == "cuda")
        return "PASS", f"{report.strip().splitlines()[-1]} (headers {headers})"

    check = timed(name, run)
    return check, (library[0] if library and check.status == "PASS" else None)


# --- a bundle on the deployment runtimes -----------------------------------------------------------

def small_bundle(work: Path) -> Path:
    """A tiny offline model (random manifolds, one recurrent and one plain LIF layer), trained for one
    epoch and exported to ONNX."""
    from nsb.config import load_config
    from nsb.export.run import export_run
    from nsb.train import Trainer

    cfg = load_config(None, ["data.train_per_class=20", "data.test_per_class=4", "data.time_steps=25",
                             "model.hidden=[24, 16]", "model.recurrent=[true, false]", "train.epochs=1",
                             "train.batch_size=32", "neuron.threshold=0.5", "neuron.decay=0.9",
                             f'out_dir="{work}"', 'name="doctor"', "train.device=\"cpu\""])
    Trainer(cfg, progress=False).fit()
    return export_run(work / "doctor", work / "bundle", ("onnx",), samples=32)


def bundle_check(name: str, bundle: Path | None, backend: str, device: str, **options) -> Check:
    def run() -> tuple[str, str]:
        from nsb.eval.bundle import Bundle
        from nsb.eval.evaluate import evaluate

        assert bundle is not None
        report = evaluate(Bundle(bundle), backend, device=device, batch_size=16, warmup=1, repeats=2,
                          batch_sizes=(1,), **options)
        fid = report["fidelity"]
        layers = fid.get("layers", [])
        spikes = min((layer["spike_agreement"] for layer in layers), default=1.0)
        summary = (f"predictions agree {fid.get('prediction_agreement', 1.0):.2%}, spikes {spikes:.4%}, "
                   f"max output error {fid['max_abs_error']:.2e}")
        if fid["passed"]:
            return "PASS", summary
        first = fid.get("first_divergent_step")
        return "FAIL", summary + (f", first differing step {first}" if first is not None else "")

    return timed(name, run)
