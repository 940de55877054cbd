"""Binary Adding, the seed's long-memory counting task, generated in code exactly as the seed makes it.

Two input channels over T steps: channel 0 holds random bits (p = 0.5), channel 1 marks
``markers`` = 9 distinct random positions. The label is the number of ones among the marked bits
(0…9, 10 classes), so the network must remember sparse events across the whole sequence.

As the seed (reference §5.1): the data have their own fixed seed (``data_seed`` = 0, not the run's
seed), 80× as many samples as needed are drawn, and each class keeps ``size/10`` of them — the first
drawn; a class that 80× did not fill (0 and 9 are 1/512 each) is filled by resampling its samples with
replacement. The test set is drawn from its own stream, so it does not change with the training-set size
or the run's seed.

The label depends only on the nine marked bits, so each candidate draws those nine coins first and the
other T − 9 bits and the marker positions are drawn only for the samples kept: the same distribution
and the same selection as drawing every candidate in full, at 9/T of the cost (T = 2,400 stays cheap).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from nsb.data.common import TaskData
from nsb.errors import ConfigError

OVERSAMPLING = 80  # the seed's: candidates drawn per sample kept
CHUNK = 1 << 16


@dataclass
class Options:
    time_steps: int = 100  # T (the seed also uses 1200 and 2400)
    markers: int = 9  # marked positions; classes = markers + 1
    train_size: int = 50_000
    test_size: int = 2_000
    data_seed: int = 0  # the seed's fixed data seed; the run's seed does not change the data


def _check(size: int, o: Options) -> int:
    classes = o.markers + 1
    if o.markers < 1 or o.time_steps < o.markers:
        raise ConfigError(f"binary_adding needs 1 <= markers <= time_steps, got markers={o.markers}, "
                          f"time_steps={o.time_steps}")
    if size % classes:
        raise ConfigError(f"binary_adding sizes must be multiples of {classes} to balance the classes, got {size}")
    return classes


def select_labels(size: int, o: Options, rng: np.random.Generator) -> np.ndarray:
    """The seed's balancing: labels of 80·size candidates (sums of the nine marked coins), the first
    ``size/classes`` of each class kept (in draw order), short classes resampled with replacement. Returns the
    kept candidates' marked coins ``[size, markers]`` grouped by class."""
    classes = _check(size, o)
    need = size // classes
    kept: list[list[np.ndarray]] = [[] for _ in range(classes)]
    counts = np.zeros(classes, dtype=np.int64)
    drawn = 0
    while drawn < OVERSAMPLING * size and (counts < need).any():
        n = min(CHUNK, OVERSAMPLING * size - drawn)
        coins = (rng.random((n, o.markers)) < 0.5).astype(np.uint8)
        labels = coins.sum(1)
        for c in np.flatnonzero(counts < need):
            rows = coins[labels == c][: need - counts[c]]
            kept[c].append(rows)
            counts[c] += len(rows)
        drawn += n
    groups = []
    for c in range(classes):
        rows = np.concatenate(kept[c]) if kept[c] else np.zeros((0, o.markers), dtype=np.uint8)
        if len(rows) == 0:
            raise ConfigError(f"binary_adding: {OVERSAMPLING}x{size} candidates held no sample of class {c}; "
                              f"raise the size")
        if len(rows) < need:  # the seed resamples its rare classes with replacement
            rows = np.concatenate([rows, rows[rng.integers(0, len(rows), need - len(rows))]])
        groups.append(rows)
    return np.concatenate(groups)


def generate(size: int, o: Options, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``x [size, T, 2]`` (uint8) and labels ``[size]``, balanced over the ``markers + 1`` classes."""
    marked = select_labels(size, o, rng)
    labels = marked.sum(1).astype(np.int64)
    bits = (rng.random((size, o.time_steps)) < 0.5).astype(np.uint8)
    positions = np.argsort(rng.random((size, o.time_steps)), axis=1)[:, :o.markers]  # distinct, uniform
    rows = np.arange(size)[:, None]
    bits[rows, positions] = marked
    marks = np.zeros((size, o.time_steps), dtype=np.uint8)
    marks[rows, positions] = 1
    shuffle = rng.permutation(size)
    return np.stack([bits, marks], axis=-1)[shuffle], labels[shuffle]


def load(options: Options, root: Path, seed: int) -> TaskData:
    # one stream per split from the data seed alone: the test set is the same whatever the training size
    train_stream, test_stream = np.random.SeedSequence(options.data_seed).spawn(2)
    x_train, y_train = generate(options.train_size, options, np.random.default_rng(train_stream))
    x_test, y_test = generate(options.test_size, options, np.random.default_rng(test_stream))

    def dataset(x: np.ndarray, y: np.ndarray) -> TensorDataset:
        return TensorDataset(torch.from_numpy(x).float(), torch.from_numpy(y))

    return TaskData("classification", dataset(x_train, y_train), dataset(x_test, y_test), input_size=2,
                    num_classes=options.markers + 1, time_steps=options.time_steps,
                    info={"generator": "binary_adding", "data_seed": options.data_seed,
                          "oversampling": OVERSAMPLING})


def generated_bytes(options: Options) -> int:
    """Memory the generated splits take: float32 [N, T, 2], built in numpy then copied to torch."""
    return 2 * 4 * (options.train_size + options.test_size) * options.time_steps * 2
