"""Binary Adding, the seed's long-memory counting task, generated in code.

Two input channels over T steps: channel 0 holds random bits (p = 0.5), channel 1 marks
``markers`` = 9 distinct random positions. The label is the number of ones among the marked bits
(0…9, 10 classes), so the network must remember sparse events across the whole sequence. Sets are
class-balanced: ``size/10`` samples per class (50,000 train / 2,000 test in the seed).

The seed draws 80× too many samples and then balances (resampling the rare classes 0 and 9 with
replacement). nsb samples each class directly from the same conditional distribution: markers at
a uniformly random set of positions, a uniformly random subset of ``label`` of them set to one,
every other bit fair. The distribution per class is the seed's; only its duplicated samples of
classes 0 and 9 do not occur here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from nsb.data.common import TaskData
from nsb.errors import ConfigError


@dataclass
class Options:
    time_steps: int = 100  # T (the seed also uses 1200 and 2400)
    markers: int = 9  # marked positions; classes = markers + 1
    train_size: int = 50_000
    test_size: int = 2_000


def generate(size: int, o: Options, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``x [size, T, 2]`` (uint8) and labels ``[size]``, balanced over the ``markers + 1`` classes."""
    classes = o.markers + 1
    if o.markers < 1 or o.time_steps < o.markers:
        raise ConfigError(f"binary_adding needs 1 <= markers <= time_steps, got markers={o.markers}, "
                          f"time_steps={o.time_steps}")
    if size % classes:
        raise ConfigError(f"binary_adding sizes must be multiples of {classes} to balance the classes, got {size}")
    labels = np.repeat(np.arange(classes), size // classes)
    bits = (rng.random((size, o.time_steps)) < 0.5).astype(np.uint8)
    positions = np.argsort(rng.random((size, o.time_steps)), axis=1)[:, :o.markers]  # distinct, uniform
    # which marked bits are one: the first `label` of a random ordering of the markers
    order = np.argsort(rng.random((size, o.markers)), axis=1)
    ones = order < labels[:, None]
    rows = np.arange(size)[:, None]
    bits[rows, positions] = ones
    marks = np.zeros((size, o.time_steps), dtype=np.uint8)
    marks[rows, positions] = 1
    shuffle = rng.permutation(size)
    return np.stack([bits, marks], axis=-1)[shuffle], labels[shuffle].astype(np.int64)


def load(options: Options, root: Path, seed: int) -> TaskData:
    rng = np.random.default_rng(seed)
    x_train, y_train = generate(options.train_size, options, rng)
    x_test, y_test = generate(options.test_size, options, rng)

    def dataset(x: np.ndarray, y: np.ndarray) -> TensorDataset:
        return TensorDataset(torch.from_numpy(x).float(), torch.from_numpy(y))

    return TaskData("classification", dataset(x_train, y_train), dataset(x_test, y_test), input_size=2,
                    num_classes=options.markers + 1, time_steps=options.time_steps,
                    info={"generator": "binary_adding", "seed": seed})


def generated_bytes(options: Options) -> int:
    """Memory the generated splits take: float32 [N, T, 2], built in numpy then copied to torch."""
    return 2 * 4 * (options.train_size + options.test_size) * options.time_steps * 2
