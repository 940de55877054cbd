"""Permuted sequential MNIST (PSMNIST), the seed's long-sequence vision task.

Reads the official MNIST IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, gzipped or not) from ``root/MNIST/raw``,
``root/MNIST`` or ``root``. Pixels are scaled to [0, 1] with no further normalisation, each image
becomes a sequence of 784 single pixels ``[784, 1]``, and one fixed permutation of the 784
positions, shared by train and test, is applied: the seed's ``np.random.seed(1234);
np.random.permutation(784)``, drawn here from a private ``RandomState(1234)`` (the same numbers
without touching NumPy's global state). ``permute = false`` gives sequential MNIST.

``train_from_test = N`` trains on the first N test digits and tests on the rest, for machines
that have only the test files (not comparable with the papers, which use all 60,000).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from nsb.data import files
from nsb.data.common import TaskData
from nsb.errors import ConfigError, DataError

URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
HOW = "run `nsb data download psmnist --root DIR` on a machine with a network, or copy the four MNIST IDX files there"


@dataclass
class Options:
    permute: bool = True  # false: plain sequential MNIST
    permutation_seed: int = 1234  # the seed's fixed permutation
    train_from_test: int = 0  # > 0: train on the first N test digits, test on the rest


def permutation(seed: int = 1234) -> np.ndarray:
    return np.random.RandomState(seed).permutation(784)


AGAIN = "download it again (nsb data download psmnist --root DIR)"
CLASSES = 10


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """An IDX file (images: magic 2051, [n, 28, 28]; labels: magic 2049, [n] in 0..9) as uint8."""
    kind = "image" if expected_magic == 2051 else "label"
    files.check_file(path, f"an MNIST IDX {kind} file", AGAIN)
    data = files.read_bytes(path, AGAIN)
    header = 16 if expected_magic == 2051 else 8
    if len(data) < header:
        raise DataError(f"{path} is too short to be an MNIST IDX {kind} file ({len(data)} bytes, the header alone "
                        f"is {header}); {AGAIN}")
    magic, count = struct.unpack(">II", data[:8])
    if magic != expected_magic:
        raise DataError(f"{path} is not an MNIST IDX {kind} file (magic {magic}, expected {expected_magic}); "
                        f"{AGAIN}")
    shape = (count, *struct.unpack(">II", data[8:16])) if magic == 2051 else (count,)
    if len(data) != header + int(np.prod(shape, dtype=np.int64)):
        raise DataError(f"{path} is truncated or corrupt: its header says {' x '.join(map(str, shape))} values "
                        f"({header + int(np.prod(shape, dtype=np.int64))} bytes), the file has {len(data)}; {AGAIN}")
    if count == 0:
        raise DataError(f"{path} holds no {kind}s (its header says 0); {AGAIN}")
    if magic == 2051 and shape[1:] != (28, 28):
        raise DataError(f"{path} holds {shape[1]} x {shape[2]} images, MNIST's are 28 x 28; {AGAIN}")
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
    if magic == 2049 and int(array.max()) >= CLASSES:
        bad = int(np.argmax(array >= CLASSES))
        raise DataError(f"{path}: label {int(array[bad])} at index {bad} is outside MNIST's classes 0..{CLASSES - 1}; "
                        f"{AGAIN}")
    return array


class SequentialImages(Dataset):
    """Images as pixel sequences ``[784, 1]`` in the given order; stored as uint8, scaled on access."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, order: np.ndarray, sources: str = "MNIST") -> None:
        if len(images) != len(labels):
            raise DataError(f"{sources}: {len(images)} images but {len(labels)} labels; the files come from "
                            f"different releases, {AGAIN}")
        self.pixels = torch.from_numpy(images.reshape(len(images), -1)[:, order].copy())
        self.labels = torch.from_numpy(labels.astype(np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pixels[i].float().div_(255).unsqueeze(-1), self.labels[i]


def folders(root: Path) -> list[Path]:
    return [root / "MNIST" / "raw", root / "MNIST", root]


def load(options: Options, root: Path, seed: int) -> TaskData:
    where = folders(root)
    paths = {k: files.find(where, [v]) for k, v in NAMES.items()}
    order = permutation(options.permutation_seed) if options.permute else np.arange(784)
    if options.train_from_test > 0:
        need = ("test_images", "test_labels")
    else:
        need = tuple(NAMES)
    absent = [NAMES[k] for k in need if paths[k] is None]
    if absent:
        raise files.missing("MNIST", where, [NAMES[k] + "(.gz)" for k in need], HOW
                            + ("" if options.train_from_test else "; or set data.train_from_test = 8000 to use "
                               "the test digits alone"))
    def pair(split: str) -> str:
        return f"{paths[split + '_images']} and {paths[split + '_labels']}"

    test_x = read_idx(paths["test_images"], 2051)
    test_y = read_idx(paths["test_labels"], 2049)
    if options.train_from_test > 0:
        n = options.train_from_test
        if n >= len(test_x):
            raise ConfigError(f"data.train_from_test = {n} leaves no test digits (there are {len(test_x)})")
        if len(test_x) != len(test_y):
            SequentialImages(test_x, test_y, order, pair("test"))  # refuses with the two file names
        train = SequentialImages(test_x[:n], test_y[:n], order)
        test = SequentialImages(test_x[n:], test_y[n:], order)
    else:
        train = SequentialImages(read_idx(paths["train_images"], 2051), read_idx(paths["train_labels"], 2049), order,
                                 pair("train"))
        test = SequentialImages(test_x, test_y, order, pair("test"))
    return TaskData("classification", train, test, input_size=1, num_classes=10, time_steps=784,
                    info={"permutation": order.tolist(), "files": {k: str(p) for k, p in paths.items() if p}})


def download(root: Path) -> None:
    target = root / "MNIST" / "raw"
    for name in NAMES.values():
        if files.find([target], [name]) is None:
            files.download(URL + name + ".gz", target / (name + ".gz"))
