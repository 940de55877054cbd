"""``results.json`` and ``results.md``: our measured rows next to NeuroBench's published ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nsb.errors import NsbError

# NeuroBench leaderboard / paper, tau = 17 (reference §3.4); SynOps per time step
PUBLISHED = {
    "LSTM (NeuroBench)": {"smape": 13.37, "footprint": 4.90e5, "dense": 6.03e4, "effective_macs": 6.03e4,
                          "effective_acs": 0.0},
    "ESN (NeuroBench)": {"smape": 14.79, "footprint": 2.81e5, "dense": 3.52e4, "effective_macs": 4.37e3,
                         "effective_acs": 0.0},
}


def _row(name: str, smape: str, r: dict[str, Any]) -> str:
    return (f"| {name} | {smape} | {r['footprint']:,.0f} | {r['dense']:,.0f} | {r['effective_macs']:,.0f} "
            f"| {r['effective_acs']:,.0f} |")


def markdown(results: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = ["# Mackey-Glass (tau = 17), NeuroBench protocol", "",
             f"Repeats: {meta.get('repeats')}; machine: {meta.get('machine')}; command: `{meta.get('command')}`", "",
             "SynOps are per time step (one prediction). sMAPE: mean ± std over repeats (lower is better).", "",
             "| model | sMAPE | footprint [B] | dense SynOps | effective MACs | effective ACs |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        ops = r["synaptic_operations"]
        lines.append(_row(name, f"{r['smape_mean']:.2f} ± {r['smape_std']:.2f}",
                          {"footprint": r["footprint"], **ops}))
    for name, r in PUBLISHED.items():
        lines.append(_row(name, f"{r['smape']:.2f} (published)", r))
    lines += ["", "| model | train s / repeat | test s / repeat | connection sparsity | activation sparsity |",
              "|---|---|---|---|---|"]
    for name, r in results.items():
        act = r.get("activation_sparsity")
        lines.append(f"| {name} | {r['train_seconds']:.1f} | {r['test_seconds']:.1f} | {r['connection_sparsity']:.4f} "
                     f"| {'-' if act is None else f'{act:.3f}'} |")
    if "series_check" in meta:
        c = meta["series_check"]
        when = c.get("lyapunov_times_to_1e-2")
        when = "never" if when is None else f"{when:.1f} L"
        lines += ["", f"Series check (repeat 0, dt = {c['dt']} vs {c['dt_fine']}): max |Δx| over 1 L "
                  f"{c['max_dev_1L']:.2e}, 5 L {c['max_dev_5L']:.2e}, all 20 L {c['max_dev_all']:.2e}; the two first "
                  f"differ by 1e-2 after {when}. Series mean {c['mean']:.4f}, std "
                  f"{c['std']:.4f}, range [{c['min']:.4f}, {c['max']:.4f}]."]
    return "\n".join(lines) + "\n"


def write_report(out: Path, results: dict[str, dict[str, Any]], meta: dict[str, Any]) -> dict[str, Path]:
    """Write ``results.json`` (everything, repeat 0's predictions included) and ``results.md`` into ``out``."""
    if not results:
        raise NsbError("write_report: no model results to write")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # repeat 0's closed-loop predictions and truth go in as lists so the plot can be redrawn
    slim = {k: {kk: (vv.tolist() if hasattr(vv, "tolist") else vv) for kk, vv in v.items()}
            for k, v in results.items()}
    payload = {"meta": meta, "results": slim, "published": PUBLISHED}
    js = out / "results.json"
    js.write_text(json.dumps(payload, indent=2))
    md = out / "results.md"
    md.write_text(markdown(results, meta))
    return {"json": js, "md": md}
