"""Offline stand-in for MSWC FSCIL: generated keyword-like clips in the same item format.

Each class is a fixed "word": 2–4 syllables, each a voiced tone whose pitch f0 glides linearly
(a chirp) and which carries two formant-like partials F1, F2 that glide too::

    x(t) = Σ_syllables env(t) · Σ_{p∈{f0,F1,F2}} a_p · sin(2π ∫ f_p(τ) dτ),   env = Hann over the syllable

Per clip (jitter): all frequencies scaled by ``1 + N(0, pitch_jitter)``, the word stretched by
``U(1 − time_jitter, 1 + time_jitter)`` and shifted by ``U(0, max_offset)``, gain ``U(0.5, 1)``,
plus white noise of standard deviation ``noise``. Everything is seeded by (seed, class, split,
index), so a clip is the same on every access and every machine, and built only when read.

Items are ``(waveform [L, 1] float32, label)`` like :mod:`nsb.data.mswc`; classes
``0..base_classes−1`` are the base classes, then ``groups`` incremental groups ("languages") of
``ways`` classes, each with ``eval_per_class`` clips in class-by-class order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from nsb.data.common import TaskData
from nsb.data.mswc import KeywordData
from nsb.errors import DataError

SPLIT_IDS = {"train": 0, "test": 1, "eval": 2}


@dataclass
class Options:
    base_classes: int = 100
    groups: int = 10  # incremental sessions' worth of new classes
    ways: int = 10  # classes per group
    train_per_class: int = 100
    test_per_class: int = 20
    eval_per_class: int = 40  # support pool + query pool of each incremental class
    sample_rate: int = 16000
    seconds: float = 1.0
    # jitter large enough that the task is not trivial: M5 at 1/8 width reaches ~95% base, ~80% new
    noise: float = 0.3
    pitch_jitter: float = 0.08
    time_jitter: float = 0.15
    max_offset: float = 0.1  # seconds

    def check(self) -> None:
        for name in ("base_classes", "ways", "train_per_class", "test_per_class", "eval_per_class", "sample_rate"):
            if getattr(self, name) < 1:
                raise DataError(f"keywords_synthetic: {name} must be >= 1, got {getattr(self, name)}")
        if self.groups < 0 or self.seconds <= 0:
            raise DataError("keywords_synthetic: groups must be >= 0 and seconds > 0")


def word_recipe(seed: int, label: int) -> np.ndarray:
    """A class's syllables, rows ``(start s, duration s, f0_a, f0_b, F1_a, F1_b, F2_a, F2_b)``."""
    rng = np.random.default_rng([seed, label, 7919])
    n = int(rng.integers(2, 5))
    rows, t = [], 0.05
    for _ in range(n):
        d = rng.uniform(0.08, 0.2)
        f0 = rng.uniform(100, 320, 2)
        f1 = rng.uniform(300, 1000, 2)
        f2 = rng.uniform(1000, 3200, 2)
        rows.append([t, d, *f0, *f1, *f2])
        t += d + rng.uniform(0.01, 0.06)
    return np.asarray(rows)


def render(recipe: np.ndarray, rng: np.random.Generator, options: Options) -> np.ndarray:
    """One jittered clip of ``round(seconds · sample_rate)`` samples."""
    sr, length = options.sample_rate, int(round(options.seconds * options.sample_rate))
    pitch = 1.0 + rng.normal(0.0, options.pitch_jitter)
    stretch = rng.uniform(1 - options.time_jitter, 1 + options.time_jitter)
    offset = rng.uniform(0.0, options.max_offset)
    nyquist = sr / 2
    t = np.arange(length) / sr
    x = np.zeros(length)
    for start, dur, *freqs in recipe:
        s0, d = offset + start * stretch, dur * stretch
        tau = t - s0
        inside = (tau >= 0) & (tau < d)
        if not inside.any():
            continue
        tau = tau[inside]
        env = np.sin(np.pi * tau / d) ** 2
        tone = np.zeros_like(tau)
        for (fa, fb), amp in zip(np.reshape(freqs, (3, 2)), (1.0, 0.6, 0.35)):
            fa, fb = fa * pitch, fb * pitch
            if max(fa, fb) >= nyquist:
                continue
            # phase of a linear chirp: 2π (f_a τ + (f_b − f_a) τ² / 2d)
            tone += amp * np.sin(2 * np.pi * (fa * tau + (fb - fa) * tau ** 2 / (2 * d)))
        x[inside] += env * tone
    x *= rng.uniform(0.5, 1.0) / 2.0
    x += rng.normal(0.0, options.noise, length)
    return x.astype(np.float32)


class SyntheticKeywords(Dataset):
    """``per_class`` clips of each class in ``classes``, class by class; built on access."""

    def __init__(self, classes: list[int], per_class: int, split: str, options: Options, seed: int) -> None:
        self.classes, self.per_class, self.split = list(classes), per_class, SPLIT_IDS[split]
        self.options, self.seed = options, seed
        self.recipes = {c: word_recipe(seed, c) for c in self.classes}
        self.labels = [c for c in self.classes for _ in range(per_class)]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if not 0 <= i < len(self.labels):
            raise IndexError(i)
        label = self.labels[i]
        rng = np.random.default_rng([self.seed, label, self.split, i % self.per_class])
        return torch.from_numpy(render(self.recipes[label], rng, self.options)).unsqueeze(1), label


def load_fscil(options: Options | None = None, seed: int = 0) -> KeywordData:
    options = options or Options()
    options.check()
    base = list(range(options.base_classes))
    incremental = {}
    for g in range(options.groups):
        first = options.base_classes + g * options.ways
        incremental[f"g{g:02d}"] = SyntheticKeywords(list(range(first, first + options.ways)),
                                                     options.eval_per_class, "eval", options, seed)
    total = options.base_classes + options.groups * options.ways
    return KeywordData(base_train=SyntheticKeywords(base, options.train_per_class, "train", options, seed),
                       base_test=SyntheticKeywords(base, options.test_per_class, "test", options, seed),
                       incremental=incremental, class_names=[f"word{c:03d}" for c in range(total)],
                       num_base=options.base_classes, sample_rate=options.sample_rate, info={"synthetic": True})


def load(options: Options, root: Path, seed: int) -> TaskData:
    """Registry form (``root`` ignored): the base classes as classification; FSCIL data in ``info``."""
    data = load_fscil(options, seed)
    return TaskData("classification", data.base_train, data.base_test, input_size=1, num_classes=data.num_base,
                    time_steps=int(round(options.seconds * options.sample_rate)), info={"fscil": data})


def download(root: Path) -> None:
    """Nothing to fetch: the clips are generated."""
