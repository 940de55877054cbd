"""Latency of one bundle on every backend a machine has, as `nsb eval` measures it, in one table.

Trains and exports the requested configs if their bundles are missing (default: the offline default
and a PSMNIST-sized network on generated data, T = 784), then evaluates each bundle on: torch eager
(PyTorch step loop), torch with the fused kernels, TorchScript, torch.export (pt2), onnxruntime on
model.onnx (nsb functions) and on model.std.onnx, and OpenVINO (f32; CPU only), and prints the table
with each latency as a ratio to onnxruntime's (model.onnx), batch 1 first:

    python benchmarks/eval_backends.py                 # CPU
    python benchmarks/eval_backends.py --device cuda   # the GPU machine (no OpenVINO there)

Reports land in each bundle's reports/ folder; compare two with `nsb compare A.json B.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CONFIGS = {
    "default": ["--set", "train.epochs=2"],
    # PSMNIST's 1-64-256-256-10 LIF network at T = 784 on generated data (no download)
    "psmnist_sized": ["--set", "data.time_steps=784", "--set", "data.units=1", "--set", "model.hidden=[64,256,256]",
                      "--set", "train.epochs=1", "--set", "data.train_per_class=50", "--set", "data.test_per_class=26",
                      "--set", "train.batch_size=64"],
}


def nsb(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nsb.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--root", default="benchmarks/out")
    args = parser.parse_args()
    rows = []
    for name in args.configs:
        run, bundle = Path(args.root) / "runs" / name, Path(args.root) / "bundle" / name
        if not (bundle / "manifest.json").exists():
            done = nsb("train", *CONFIGS[name], "--set", f'out_dir="{Path(args.root) / "runs"}"', "--name", name,
                       "--overwrite", "--device", args.device)
            if done.returncode:
                raise SystemExit(done.stderr)
            done = nsb("export", str(run), "--format", "onnx", "--format", "torchscript", "--format", "pt2",
                       "--out", str(bundle), "--samples", "64")
            if done.returncode:
                raise SystemExit(done.stderr)
        cases = [("torch eager", "torch", None, {"NSB_NEURON_BACKEND": "torch"}),
                 ("torch fused", "torch", None, {"NSB_NEURON_BACKEND": "auto"}),
                 ("torchscript", "torchscript", None, {}), ("torch.export (pt2)", "pt2", None, {}),
                 ("onnxruntime", "onnxruntime", "custom", {}), ("onnxruntime std", "onnxruntime", "std", {})]
        if args.device == "cpu":
            cases.append(("openvino f32", "openvino", None, {}))
        measured = []
        for label, backend, graph, env in cases:
            out = bundle / "reports" / f"bench-{label.replace(' ', '-').replace('.', '')}-{args.device}"
            flags = ["--graph", graph] if graph else []
            done = nsb("eval", str(bundle), "--backend", backend, "--device", args.device, *flags,
                       "--repeats", str(args.repeats), "--out", str(out), env=env)
            if done.returncode not in (0, 1):
                rows.append((name, label, done.stderr.strip().splitlines()[-1][:80], "", "", "", "", ""))
                continue
            report = json.loads((out / "report.json").read_text())
            measured.append((label, report))
        base = next((r for label, r in measured if label == "onnxruntime"), None)
        base_lat = {r["batch_size"]: r["p50_ms"] for r in base["latency"]} if base else {}
        for label, report in measured:
            lat = {r["batch_size"]: r for r in report["latency"]}
            big = max(lat)
            agree = report["fidelity"].get("prediction_agreement")
            ratio1 = f"{lat[1]['p50_ms'] / base_lat[1]:.2f}×" if 1 in base_lat else "—"
            ratio_big = f"{lat[big]['p50_ms'] / base_lat[big]:.2f}×" if big in base_lat else "—"
            rows.append((f"{name} (T = {report['time_steps']})", label, f"{lat[1]['p50_ms']:.2f}", ratio1,
                         f"{big}: {lat[big]['p50_ms']:.2f}", ratio_big, f"{lat[big]['samples_per_s']:.0f}",
                         "—" if agree is None else f"{agree:.2%}"))
    print(f"\nnsb eval on {args.device}: median latency per batch (ms) and its ratio to onnxruntime (model.onnx)\n")
    print("| model | backend | batch 1 ms | × ort | largest batch ms | × ort | samples/s | prediction agreement |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
