"""``report.json`` (everything measured, schema-versioned) and ``report.md`` (what a person reads)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _write(path: Path, text: str) -> None:
    _write_bytes(path, text.encode())


def _write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling and rename it over ``path``: the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:  # a full disk or a kill: no half-written report, no temporary file left
        Path(tmp).unlink(missing_ok=True)
        raise


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.4f} %"


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    fid = report["fidelity"]
    (score_name, score), = report["score"].items()
    rows = [
        ("backend", f"{report['backend']}" + (f" ({report['graph']})" if report.get("graph") else "")
         + f" on {report['device']}, {report['precision']}"),
        (score_name, f"{score:.4f} (trained model: {report['reference_score'][score_name]:.4f})"),
    ]
    if "prediction_agreement" in fid:
        rows.append(("prediction agreement", _pct(fid["prediction_agreement"])))
    rows.append(("output error (max / rel. L2)", f"{fid['max_abs_error']:.3g} / {fid['relative_l2_error']:.3g}"))
    if fid["layers"]:
        rows.append(("spike agreement (min layer)", _pct(min(layer["spike_agreement"] for layer in fid["layers"]))))
    if fid["layers"]:  # a step where a spike first differs; a model without spiking layers has none to compare
        rows.append(("first divergent step",
                     "none" if fid["first_divergent_step"] is None else str(fid["first_divergent_step"])))
    start = report["startup"]
    rows.append(("load / first output", f"{start['load_s']:.2f} s / {1e3 * start['first_output_s']:.1f} ms"))
    for lat in report["latency"]:
        rows.append((f"latency, batch {lat['batch_size']} (p50 / p90 / p99)",
                     f"{lat['p50_ms']:.2f} / {lat['p90_ms']:.2f} / {lat['p99_ms']:.2f} ms, {lat['samples_per_s']:.0f} samples/s"))
    mem = report["memory"]
    rows.append(("peak host memory", f"{mem['peak_host_rss_mb']:.0f} MB"))
    if mem.get("peak_device_mb") is not None:
        rows.append(("peak device memory", f"{mem['peak_device_mb']:.1f} MB ({mem['device_measured_by']})"))
    rows.append((f"size of {report['model_file']}", f"{report['model_bytes'] / 1024:.1f} KiB"))
    if mem.get("neurobench_footprint_bytes"):
        rows.append(("NeuroBench footprint", f"{mem['neurobench_footprint_bytes'] / 1024:.1f} KiB"))
    if "passed" in fid:
        # a model without spiking layers is gated by its outputs (eval/fidelity.py)
        gate = "fidelity gate (fp32)" if fid["layers"] else "fidelity gate (fp32, outputs: rel. L2 ≤ 1e-5)"
        rows.append((gate, "PASS" if fid["passed"] else "FAIL"))
    else:
        rows.append(("fidelity gate", f"not applied to {report['precision']} (reported only)"))
    return rows


def markdown(report: dict[str, Any], plots: list[str] | None = None) -> str:
    lines = [f"# nsb eval: {report['model']} on {report['backend']}", "",
             f"{report['samples']} reference samples of {report['time_steps']} steps from `{report['bundle']}`.", "",
             "| measure | value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in summary_rows(report)]
    lines += ["", "## Latency per batch", "", "| batch | mean (ms) | p50 (ms) | p90 (ms) | p99 (ms) | samples/s | timer |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    lines += [f"| {r['batch_size']} | {r['mean_ms']:.3f} | {r['p50_ms']:.3f} | {r['p90_ms']:.3f} | {r['p99_ms']:.3f} | "
              f"{r['samples_per_s']:.1f} | {r['timer']} |" for r in report["latency"]]
    layers = report["fidelity"]["layers"]
    if layers:
        lines += ["", "## Spikes per layer", "",
                  "| layer | spike agreement | count agreement | rate (spikes/neuron/step) | rate difference | first divergent step |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {l['layer']} | {_pct(l['spike_agreement'])} | {_pct(l['count_agreement'])} | {l['rate']:.4f} | "
                  f"{l['rate_difference']:+.2e} | {'none' if l['first_divergent_step'] is None else l['first_divergent_step']} |"
                  for l in layers]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    elif plots is not None:
        lines += ["", "Plots: not drawn (matplotlib is not installed; pip install 'nsb[plots]')."]
    m = report["machine"]
    gpu = m.get("gpu")
    lines += ["", "## Machine", "", f"{m['platform']}, {m['cpus']} CPUs"
              + (f"; GPU {gpu.get('name')}, " + ", ".join(f"{k} {v}" for k, v in gpu.items() if k != "name") if gpu else "")
              + "; " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()), ""]
    return "\n".join(lines)


def write_report(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    from nsb.eval.plots import write_plots

    out_dir = Path(out_dir)
    fresh = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        plots = write_plots(report, out_dir)
        json_path, md_path = out_dir / "report.json", out_dir / "report.md"
        _write(json_path, json.dumps(report, indent=2) + "\n")
        _write(md_path, markdown(report, [str(p) for p in plots]))
    except BaseException:
        if fresh:  # a report folder that could not be filled is not left behind half made
            import shutil

            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return json_path, md_path
