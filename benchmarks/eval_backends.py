"""Latency of one bundle on every backend a machine has, as `nsb eval` measures it, in one table.

Trains and exports the requested configs if their bundles are missing (default: the offline default
and a PSMNIST-sized network on generated data, T = 784), then evaluates each bundle on: torch eager
(PyTorch step loop), torch with the fused kernels, TorchScript, onnxruntime (CUDA when present),
and writes the table to stdout. Run on the GPU machine:

    python benchmarks/eval_backends.py --device cuda

Reports land in each bundle's reports/ folder; compare two with `nsb compare A.json B.json`.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--device", default="cuda")
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
            done = nsb("export", str(run), "--format", "onnx", "--format", "torchscript", "--out", str(bundle),
                       "--samples", "64")
            if done.returncode:
                raise SystemExit(done.stderr)
        cases = [("torch eager", "torch", {"NSB_NEURON_BACKEND": "torch"}),
                 ("torch fused", "torch", {"NSB_NEURON_BACKEND": "auto"}),
                 ("torchscript", "torchscript", {}), ("onnxruntime", "onnxruntime", {})]
        for label, backend, env in cases:
            out = bundle / "reports" / f"bench-{label.replace(' ', '-')}-{args.device}"
            done = nsb("eval", str(bundle), "--backend", backend, "--device", args.device, "--graph", "std",
                       "--repeats", str(args.repeats), "--out", str(out), env=env)
            if done.returncode not in (0, 1):
                rows.append((name, label, done.stderr.strip().splitlines()[-1][:80]))
                continue
            import json

            report = json.loads((out / "report.json").read_text())
            lat = {r["batch_size"]: r for r in report["latency"]}
            agree = report["fidelity"].get("prediction_agreement")
            rows.append((name, label, f"{lat[1]['p50_ms']:.2f}", f"{max(lat)}: {lat[max(lat)]['p50_ms']:.2f}",
                         f"{lat[max(lat)]['samples_per_s']:.0f}", "—" if agree is None else f"{agree:.2%}"))
    print(f"\nnsb eval on {args.device}: median latency per batch (ms), throughput at the largest batch\n")
    print("| model | backend | batch 1 | largest batch | samples/s | prediction agreement |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
