"""``report.json`` (everything measured) and ``report.md`` (what a person reads) for one evaluation."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


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
    rows.append(("first divergent step", "none" if fid["first_divergent_step"] is None else str(fid["first_divergent_step"])))
    lat = report["latency"]
    rows.append((f"latency, batch {lat['batch_size']} (p50 / p90 / p99)",
                 f"{lat['p50_ms']:.2f} / {lat['p90_ms']:.2f} / {lat['p99_ms']:.2f} ms"))
    rows.append(("throughput", f"{lat['samples_per_s']:.1f} samples/s"))
    rows.append(("peak host memory", f"{report['memory']['peak_host_rss_mb']:.0f} MB"))
    rows.append((f"size of {report['model_file']}", f"{report['model_bytes'] / 1024:.1f} KiB"))
    if "passed" in fid:
        rows.append(("fidelity gate (fp32)", "PASS" if fid["passed"] else "FAIL"))
    return rows


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# nsb eval: {report['model']} on {report['backend']}", "",
             f"{report['samples']} reference samples of {report['time_steps']} steps from `{report['bundle']}`.", "",
             "| measure | value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in summary_rows(report)]
    layers = report["fidelity"]["layers"]
    if layers:
        lines += ["", "## Spikes per layer", "",
                  "| layer | spike agreement | count agreement | rate (spikes/neuron/step) | rate difference | first divergent step |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {l['layer']} | {_pct(l['spike_agreement'])} | {_pct(l['count_agreement'])} | {l['rate']:.4f} | "
                  f"{l['rate_difference']:+.2e} | {'none' if l['first_divergent_step'] is None else l['first_divergent_step']} |"
                  for l in layers]
    m = report["machine"]
    lines += ["", "## Machine", "", f"{m['platform']}, {m['cpus']} CPUs; "
              + ", ".join(f"{k} {v}" for k, v in m["versions"].items()), ""]
    return "\n".join(lines)


def write_report(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    _write(json_path, json.dumps(report, indent=2) + "\n")
    _write(md_path, markdown(report))
    return json_path, md_path
