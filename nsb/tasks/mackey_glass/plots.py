"""PNG of the autoregressive prediction against the truth (matplotlib, Agg: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nsb.errors import NsbError


def plot_predictions(path: Path, truth: np.ndarray, predictions: dict[str, np.ndarray], title: str) -> Path:
    """One line for the truth, one per model; x in Lyapunov times (75 points each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truth = np.asarray(truth, dtype=float).ravel()
    if truth.size == 0 or not predictions:
        raise NsbError("plot_predictions needs a non-empty truth and at least one model's predictions")
    x = np.arange(truth.size) / 75.0
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(x, truth, color="black", lw=1.5, label="truth")
    for name, pred in predictions.items():
        pred = np.asarray(pred, dtype=float).ravel()
        if pred.shape != truth.shape:
            raise NsbError(f"plot_predictions: '{name}' has {pred.size} points, the truth {truth.size}")
        ax.plot(x, pred, lw=1.0, label=name)
    ax.set_xlabel("test time [Lyapunov times]")
    ax.set_ylabel("x(t)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
