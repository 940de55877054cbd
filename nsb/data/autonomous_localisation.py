"""AL, autonomous localisation: the Neuromorphic Sequential Arena's dead-reckoning task (the seed's second
paper, ``reference/neuroseqbench.md`` §5.2), generated in code.

An agent on a grid takes one action per step from {stop, straight, left, right} with probabilities
``[0.5 − c/L, 0.5 − c/L, c/L, c/L]`` (``c`` = ``capacity`` = 20, ``L`` = ``time_steps`` = 400, so a turn
every 20 steps on average). The input is the one-hot code of the three non-stop actions, ``[T, 3]``
(columns straight, left, right; a stop is a row of zeros). The label is 1 when the agent ends to the
right of where it started (final x > 0), else 0: the network must integrate its heading over the whole
sequence.

The integration, as the seed's ``AL.compute`` does it: the agent starts at (0, 0) heading north
(heading index 0); heading indices 0, 1, 2, 3 are north (+y), east (+x), south (−y), west (−x); a left
turn is heading − 1 and a right turn heading + 1 (mod 4), both on the spot; a straight step moves one
cell along the current heading; a stop does nothing. Label = 1 iff x_T ≥ 1 (the seed's
``clamp(x, 0, 1)`` of an integer x). Vectorised here: the heading at step t is the running sum of the
turns up to t (mod 4), and x_T = Σ_t straight_t · [0, 1, 0, −1][heading_t].

As :mod:`nsb.data.binary_adding`, the data have their own fixed seed (``data_seed``, not the run's) and
one stream per split, so the test set does not change with the training-set size. Seed sizes: 50,000
training and 5,000 test sequences. The seed drew its actions with ``torch.multinomial`` under the run's
seed; the sequences here are drawn with numpy from ``data_seed`` (same distribution, other samples).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from nsb.data.common import TaskData
from nsb.errors import ConfigError

STOP, STRAIGHT, LEFT, RIGHT = 0, 1, 2, 3
DX = np.array([0, 1, 0, -1], dtype=np.int64)  # x step of a straight move per heading (north, east, south, west)
DY = np.array([1, 0, -1, 0], dtype=np.int64)
CHUNK = 4096  # sequences generated at a time (bounds the int64 temporaries)


@dataclass
class Options:
    time_steps: int = 400  # L = T, the seed's
    capacity: int = 20  # c: a turn has probability c/L per step (each direction)
    train_size: int = 50_000
    test_size: int = 5_000
    data_seed: int = 0  # the data's own seed; the run's seed does not change them


def probabilities(o: Options) -> np.ndarray:
    """``[stop, straight, left, right]`` = ``[0.5 − c/L, 0.5 − c/L, c/L, c/L]``."""
    turn = o.capacity / o.time_steps
    return np.array([0.5 - turn, 0.5 - turn, turn, turn])


def _check(o: Options) -> None:
    if 2 * o.capacity > o.time_steps:
        raise ConfigError(f"autonomous_localisation needs capacity <= time_steps / 2 (the stop and straight "
                          f"probabilities 0.5 - c/L must not be negative), got capacity={o.capacity}, "
                          f"time_steps={o.time_steps}")


def actions(size: int, o: Options, rng: np.random.Generator) -> np.ndarray:
    """``[size, T]`` action indices (0 stop, 1 straight, 2 left, 3 right), drawn i.i.d. per step."""
    _check(o)
    return rng.choice(4, size=(size, o.time_steps), p=probabilities(o)).astype(np.int8)


def final_position(acts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, heading) after the whole sequence, for ``acts [N, T]``."""
    turns = (acts == RIGHT).astype(np.int64) - (acts == LEFT).astype(np.int64)
    heading = np.cumsum(turns, axis=1) % 4  # after step t's own turn; a straight step turns nothing
    straight = acts == STRAIGHT
    x = (straight * DX[heading]).sum(1)
    y = (straight * DY[heading]).sum(1)
    return x, y, heading[:, -1] if acts.shape[1] else np.zeros(len(acts), dtype=np.int64)


def labels(acts: np.ndarray) -> np.ndarray:
    """1 where the final x-coordinate is > 0, else 0."""
    return (final_position(acts)[0] > 0).astype(np.int64)


def one_hot(acts: np.ndarray) -> np.ndarray:
    """``[N, T, 3]`` float32: straight, left, right; a stop is all zeros."""
    return np.stack([acts == STRAIGHT, acts == LEFT, acts == RIGHT], axis=-1).astype(np.float32)


def generate(size: int, o: Options, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``x [size, T, 3]`` (float32) and labels ``[size]`` (0/1)."""
    _check(o)
    xs, ys = [], []
    for start in range(0, size, CHUNK):
        acts = actions(min(CHUNK, size - start), o, rng)
        xs.append(one_hot(acts))
        ys.append(labels(acts))
    if not xs:
        return np.zeros((0, o.time_steps, 3), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return np.concatenate(xs), np.concatenate(ys)


def load(options: Options, root: Path, seed: int) -> TaskData:
    _check(options)
    train_stream, test_stream = np.random.SeedSequence(options.data_seed).spawn(2)
    x_train, y_train = generate(options.train_size, options, np.random.default_rng(train_stream))
    x_test, y_test = generate(options.test_size, options, np.random.default_rng(test_stream))

    def dataset(x: np.ndarray, y: np.ndarray) -> TensorDataset:
        return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))

    return TaskData("classification", dataset(x_train, y_train), dataset(x_test, y_test), input_size=3,
                    num_classes=2, time_steps=options.time_steps,
                    info={"generator": "autonomous_localisation", "data_seed": options.data_seed,
                          "capacity": options.capacity, "train_positive": float(y_train.mean()) if len(y_train) else 0.0})


def generated_bytes(options: Options) -> int:
    """Memory the generated splits take: float32 [N, T, 3]."""
    return 4 * (options.train_size + options.test_size) * options.time_steps * 3
