"""Fidelity of a backend's outputs to the training-time model (docs/architecture.md §9), in numpy.

    prediction agreement = mean(argmax(out) == argmax(ref))                       (classification)
    accuracy delta       = accuracy(out) − accuracy(ref)
    max error            = max |out − ref|;  relative L2 = ‖out − ref‖₂ / ‖ref‖₂
    spike agreement      = mean(s == s_ref) over the stored full spike trains, per layer
    count agreement      = mean(count == count_ref) over every sample and neuron, per layer
    rate difference      = mean(count − count_ref) / T, spikes per neuron per step, per layer
    first divergent step = the first t where any stored spike differs (None when none does)

fp32 backends must agree on 100 % of predictions and ≥ 99.99 % of spikes; others are reported only.
A model with no spiking layer (the TCN, the LSTM and Transformer references) has no spikes to hold it
to, so its outputs are gated instead: relative L2 error ≤ 1e-5, which float32 runtimes meet with their
own summation orders (measured ≤ 3e-7 max error) and a wrong weight, op or state never does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PREDICTION_GATE = 1.0
SPIKE_GATE = 0.9999
OUTPUT_GATE = 1e-5  # relative L2 error of a model without spiking layers


def task_score(task: str, outputs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy (classification), MSE (regression) or perplexity (language)."""
    if task == "classification":
        return {"accuracy": float(np.mean(outputs.argmax(-1) == labels))}
    if task == "language":
        logits = outputs.astype(np.float64)
        logits -= logits.max(-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        nll = -np.take_along_axis(logp, labels[..., None].astype(np.int64), -1).mean()
        return {"perplexity": float(np.exp(nll))}
    return {"mse": float(np.mean((outputs.astype(np.float64) - labels) ** 2))}


def fidelity(task: str, outputs: np.ndarray, reference, counts: list[np.ndarray] | None,
             trains: list[np.ndarray] | None, gated: bool = True) -> dict[str, Any]:
    ref = reference.outputs
    diff = outputs.astype(np.float64) - ref
    norm = float(np.linalg.norm(ref))
    result: dict[str, Any] = {
        "max_abs_error": float(np.abs(diff).max()) if diff.size else 0.0,
        "relative_l2_error": float(np.linalg.norm(diff) / norm) if norm > 0 else float(np.linalg.norm(diff)),
    }
    mine, theirs = task_score(task, outputs, reference.labels), task_score(task, ref, reference.labels)
    key = next(iter(mine))
    result[f"{key}_delta"] = mine[key] - theirs[key]
    if task == "classification":
        result["prediction_agreement"] = float(np.mean(outputs.argmax(-1) == ref.argmax(-1)))
    layers = []
    first_divergence = None
    if counts is not None and trains is not None:
        steps = reference.inputs.shape[0]
        for i, name in enumerate(reference.layers):
            s, s_ref = trains[i], reference.spikes[i]
            differs = (s != s_ref).reshape(s.shape[0], -1).any(1)
            first = int(np.argmax(differs)) if differs.any() else None
            if first is not None:
                first_divergence = first if first_divergence is None else min(first_divergence, first)
            layers.append({
                "layer": name,
                "spike_agreement": float(np.mean(s == s_ref)),
                "count_agreement": float(np.mean(counts[i] == reference.spike_counts[i])),
                "rate": float(reference.spike_counts[i].mean() / steps),
                "rate_difference": float((counts[i].astype(np.float64) - reference.spike_counts[i]).mean() / steps),
                "first_divergent_step": first,
            })
    result["layers"] = layers
    result["first_divergent_step"] = first_divergence
    if gated:
        checks = []
        if "prediction_agreement" in result:
            checks.append(result["prediction_agreement"] >= PREDICTION_GATE)
        checks += [layer["spike_agreement"] >= SPIKE_GATE and layer["count_agreement"] >= SPIKE_GATE for layer in layers]
        if not reference.layers:
            checks.append(result["relative_l2_error"] <= OUTPUT_GATE)
        result["passed"] = all(checks)
    return result
