"""The per-session accuracy curve (base, new, all classes seen) as a PNG, with matplotlib's Agg backend."""

from __future__ import annotations

from pathlib import Path

from nsb.errors import NsbError


def plot_sessions(results: dict, path: Path | str) -> Path:
    """Accuracy after each session; ``results`` is :func:`nsb.tasks.fscil.protocol.run_fscil`'s output."""
    try:
        import matplotlib
    except ImportError:
        raise NsbError("plotting needs matplotlib: pip install 'nsb[plots]'") from None
    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    sessions = results["sessions"]
    x = [s["session"] for s in sessions]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label, style in (("acc_all", "all seen", "o-"), ("acc_base", "base", "s--"), ("acc_new", "new", "^:")):
        ys = [100 * s[key] if s[key] is not None else float("nan") for s in sessions]
        line, = ax.plot(x, ys, style, label=label)
        if f"{key}_std" in sessions[0]:  # several seeds: mean ± std band
            sd = [100 * s[f"{key}_std"] if s[f"{key}_std"] is not None else float("nan") for s in sessions]
            ax.fill_between(x, [a - b for a, b in zip(ys, sd)], [a + b for a, b in zip(ys, sd)],
                            color=line.get_color(), alpha=0.15)
    ax.set_xlabel("session")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(x)
    ax.grid(alpha=0.3)
    ax.legend()
    seeds = f", mean ± std of {results['seeds']} seeds" if results.get("seeds", 1) > 1 else ""
    ax.set_title(f"FSCIL {results['config']['model']} on {results['config']['data']}: "
                 f"session avg {100 * results['summary']['session_average']:.1f}%{seeds}", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)  # pyplot keeps every open figure alive otherwise
    return path
