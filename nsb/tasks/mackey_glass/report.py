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


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def markdown(results: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    """The results table. ``total ops`` = effective MACs + effective ACs + membrane updates + other
    ops, per prediction; ``÷ LSTM`` divides it by the published LSTM's effective MACs (6.03E4), the
    budget of NeuroBench's comparison (the goal is ≤ 0.10)."""
    series = meta.get("series", {})
    lines = ["# Mackey-Glass (tau = 17), NeuroBench protocol", "",
             f"Series: {series.get('solver', '?')} (seed {series.get('seed', '?')}); repeats: {meta.get('repeats')}; "
             f"machine: {meta.get('machine')}; command: `{meta.get('command')}`", "",
             "Operations are per prediction step. sMAPE: mean ± std over repeats (lower is better). Membrane updates: "
             "nsb's membrane_updates metric (spiking models); other ops: what no hook sees (activation functions, "
             "scaling, traces, output neuron; each model's other_ops()).", "",
             "| model | sMAPE | footprint [B] | dense SynOps | effective MACs | effective ACs | membrane updates "
             "| other ops | total ops | ÷ LSTM |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lstm = PUBLISHED["LSTM (NeuroBench)"]["effective_macs"]
    for name, r in results.items():
        ops = r["synaptic_operations"]
        lines.append(f"| {name} | {r['smape_mean']:.2f} ± {r['smape_std']:.2f} | {_num(r['footprint'])} "
                     f"| {_num(ops['dense'])} | {_num(ops['effective_macs'])} | {_num(ops['effective_acs'])} "
                     f"| {_num(r['membrane_updates'])} | {_num(r['other_ops'])} | {_num(r['total_ops'])} "
                     f"| {r['total_ops'] / lstm:.3f} |")
    for name, r in PUBLISHED.items():
        lines.append(f"| {name} | {r['smape']:.2f} (published) | {_num(r['footprint'])} | {_num(r['dense'])} "
                     f"| {_num(r['effective_macs'])} | {_num(r['effective_acs'])} | - | - | - | - |")
    lines += ["", "| model | repeats | train s / repeat | test s / repeat | connection sparsity | activation sparsity "
              "| ridge chosen on validation |", "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        act = r.get("activation_sparsity")
        ridges = r.get("ridge_chosen") or []
        picked = ", ".join(f"{v:g}" for v in sorted(set(ridges))) if ridges else "-"
        lines.append(f"| {name} | {r['repeats']} | {r['train_seconds']:.1f} | {r['test_seconds']:.1f} "
                     f"| {r['connection_sparsity']:.4f} | {'-' if act is None else f'{act:.3f}'} | {picked} |")
    lines += ["", "sMAPE per repeat:", ""]
    for name, r in results.items():
        lines.append(f"* {name}: " + ", ".join(f"{v:.2f}" for v in r["smape"]))
    if "series_check" in meta:
        c = meta["series_check"]
        when = c.get("lyapunov_times_to_1e-2")
        when = "never" if when is None else f"{when:.1f} L"
        extra = (f" jitcdde backend {c['backend']}, Lyapunov exponent {c['lyapunov_exponent']:.5f} "
                 f"(1/λ = {1 / c['lyapunov_exponent']:.0f} time units).") if "backend" in c else ""
        lines += ["", f"Series check ({c['solver']} against {c['against']}): max |Δx| over 1 L {c['max_dev_1L']:.2e}, "
                  f"5 L {c['max_dev_5L']:.2e}; the two first differ by 1e-2 after {when}. Repeat 0's window: mean "
                  f"{c['mean']:.4f}, std {c['std']:.4f}, range [{c['min']:.4f}, {c['max']:.4f}].{extra}"]
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
