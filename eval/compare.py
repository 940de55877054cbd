"""``nsb compare A.json B.json``: two evaluations side by side (targets, backends, precisions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nsb.errors import NsbError
from nsb.eval.evaluate import SCHEMA, SCHEMA_VERSION


def load_report(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise NsbError(f"report {path} not found; nsb eval writes BUNDLE/reports/<backend>-<device>/report.json") from None
    except json.JSONDecodeError as err:
        raise NsbError(f"{path} is not valid JSON ({err}); pass a report.json written by nsb eval") from None
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        raise NsbError(f"{path} is not an nsb eval report; pass a report.json written by nsb eval")
    if report.get("schema_version") != SCHEMA_VERSION:
        raise NsbError(f"{path} has report schema version {report.get('schema_version')}, this nsb reads "
                       f"{SCHEMA_VERSION}; compare it with the nsb version that wrote it")
    return report


def _lat(report: dict[str, Any], batch: int, key: str) -> str:
    for row in report["latency"]:
        if row["batch_size"] == batch:
            return f"{row[key]:.3f}" if key.endswith("ms") else f"{row[key]:.1f}"
    return "—"


def rows(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    def machine(r):
        gpu = r["machine"].get("gpu")
        return gpu["name"] if gpu else f"{r['machine']['processor']} ({r['machine']['cpus']} CPUs)"

    def val(r, *keys, fmt="{}"):
        cur: Any = r
        for k in keys:
            if not isinstance(cur, dict) or k not in cur or cur[k] is None:
                return "—"
            cur = cur[k]
        return fmt.format(cur)

    (score_name, _), = a["score"].items()
    batches = sorted({row["batch_size"] for r in (a, b) for row in r["latency"]})
    out = [
        ("model", a["model"], b["model"]),
        ("machine", machine(a), machine(b)),
        ("backend", f"{a['backend']} ({a['device']}, {a['precision']})", f"{b['backend']} ({b['device']}, {b['precision']})"),
        (score_name, val(a, "score", score_name, fmt="{:.4f}"), val(b, "score", score_name, fmt="{:.4f}")),
        ("prediction agreement", val(a, "fidelity", "prediction_agreement", fmt="{:.4%}"),
         val(b, "fidelity", "prediction_agreement", fmt="{:.4%}")),
        ("max output error", val(a, "fidelity", "max_abs_error", fmt="{:.3g}"), val(b, "fidelity", "max_abs_error", fmt="{:.3g}")),
        ("time to first output (s)", val(a, "startup", "first_output_s", fmt="{:.3f}"),
         val(b, "startup", "first_output_s", fmt="{:.3f}")),
    ]
    for batch in batches:
        out.append((f"latency p50 / p99, batch {batch} (ms)", f"{_lat(a, batch, 'p50_ms')} / {_lat(a, batch, 'p99_ms')}",
                    f"{_lat(b, batch, 'p50_ms')} / {_lat(b, batch, 'p99_ms')}"))
        out.append((f"throughput, batch {batch} (samples/s)", _lat(a, batch, "samples_per_s"), _lat(b, batch, "samples_per_s")))
    out += [
        ("peak device memory (MB)", val(a, "memory", "peak_device_mb", fmt="{:.0f}"), val(b, "memory", "peak_device_mb", fmt="{:.0f}")),
        ("peak host memory (MB)", val(a, "memory", "peak_host_rss_mb", fmt="{:.0f}"), val(b, "memory", "peak_host_rss_mb", fmt="{:.0f}")),
        ("model on disk (KiB)", f"{a['model_bytes'] / 1024:.1f}", f"{b['model_bytes'] / 1024:.1f}"),
    ]
    return out
