"""Plots of one evaluation, next to its report: latency per batch size, fidelity and spike rates per layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _save(fig: Any, path: Path) -> None:
    """Write the PNG beside its name and rename it into place: a kill or a full disk leaves no half a plot."""
    import io

    from nsb.eval.report import _write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    _write_bytes(path, buffer.getvalue())


def write_plots(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """PNG files written; none (and no error) when matplotlib is not installed: the report says so."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out_dir = Path(out_dir)
    written = []
    title = f"{report['model']}: {report['backend']} on {report['device']}, {report['precision']}"

    fig, ax = plt.subplots(figsize=(6, 3.5))
    lat = report["latency"]
    ax.boxplot([r["times_ms"] for r in lat], showfliers=True)
    ax.set_xticks(range(1, len(lat) + 1), [str(r["batch_size"]) for r in lat])
    ax.set_xlabel("batch size")
    ax.set_ylabel("latency per batch (ms)")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    written.append(out_dir / "latency.png")
    _save(fig, written[-1])
    plt.close(fig)

    layers = report["fidelity"]["layers"]
    if layers:
        names = [f"{i}" for i in range(len(layers))]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
        a1.bar(names, [100 * (1 - layer["spike_agreement"]) for layer in layers], color="tab:red")
        a1.set_xlabel("spiking layer")
        a1.set_ylabel("spikes that differ (%)")
        a1.set_title("fidelity per layer", fontsize=9)
        ref = [layer["rate"] for layer in layers]
        got = [layer["rate"] + layer["rate_difference"] for layer in layers]
        width = 0.4
        xs = range(len(layers))
        a2.bar([x - width / 2 for x in xs], ref, width, label="trained model")
        a2.bar([x + width / 2 for x in xs], got, width, label=report["backend"])
        a2.set_xticks(list(xs), names)
        a2.set_xlabel("spiking layer")
        a2.set_ylabel("spikes per neuron per step")
        a2.set_title("spike rate per layer", fontsize=9)
        a2.legend(fontsize=8)
        fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        written.append(out_dir / "layers.png")
        _save(fig, written[-1])
        plt.close(fig)
    return written
