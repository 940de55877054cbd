"""PSMNIST on IDX files the test writes, and on the real MNIST test digits."""

import gzip
import struct

import numpy as np
import pytest
import torch

from nsb.data import load_task
from nsb.data.psmnist import permutation, read_idx
from nsb.errors import DataError


def write_idx(path, array, magic, compress):
    header = struct.pack(">II", magic, len(array)) + (struct.pack(">II", 28, 28) if magic == 2051 else b"")
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


@pytest.fixture
def mnist(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = {s: rng.integers(0, 256, (n, 28, 28)) for s, n in (("train", 30), ("t10k", 12))}
    labels = {s: rng.integers(0, 10, len(images[s])) for s in images}
    for s, compress in (("train", True), ("t10k", False)):
        write_idx(raw / (f"{s}-images-idx3-ubyte" + (".gz" if compress else "")), images[s], 2051, compress)
        write_idx(raw / (f"{s}-labels-idx1-ubyte" + (".gz" if compress else "")), labels[s], 2049, compress)
    return tmp_path, images, labels


def test_the_seeds_permutation():
    np.random.seed(1234)
    assert np.array_equal(permutation(1234), np.random.permutation(784))
    assert permutation()[:5].tolist() == [529, 511, 328, 133, 532]


def test_round_trip_and_permutation(mnist):
    root, images, labels = mnist
    d = load_task("psmnist", str(root), {}, seed=0)
    assert len(d.train) == 30 and len(d.test) == 12 and d.time_steps == 784
    x, y = d.train[3]
    perm = permutation()
    expected = images["train"][3].reshape(-1)[perm] / 255
    assert x.shape == (784, 1) and torch.allclose(x[:, 0], torch.tensor(expected, dtype=torch.float32))
    assert int(y) == labels["train"][3]
    seq = load_task("psmnist", str(root), {"permute": False}, seed=0)
    assert torch.allclose(seq.test[0][0][:, 0], torch.tensor(images["t10k"][0].reshape(-1) / 255, dtype=torch.float32))


def test_missing_and_corrupt(tmp_path, mnist):
    with pytest.raises(DataError, match=r"MNIST files not found .*train-images-idx3-ubyte.*nsb data download psmnist"):
        load_task("psmnist", str(tmp_path / "nowhere"), {}, seed=0)
    root, _, _ = mnist
    bad = root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    bad.write_bytes(bad.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_task("psmnist", str(root), {}, seed=0)
    label = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    with pytest.raises(DataError, match="not an MNIST IDX image file"):
        read_idx(label, 2051)


def test_real_test_digits(shared_data):
    d = load_task("psmnist", str(shared_data / "mnist"), {"train_from_test": 8000}, seed=0)
    assert len(d.train) == 8000 and len(d.test) == 2000
    labels = read_idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz", 2049)
    assert len(labels) == 10_000 and np.bincount(labels).min() > 800
    x, y = d.train[0]
    assert int(y) == 7 and 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and x.sum() > 50
    train_labels = read_idx(shared_data / "mnist" / "train-labels-idx1-ubyte.gz", 2049)
    assert len(train_labels) == 60_000
