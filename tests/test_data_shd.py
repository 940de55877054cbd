"""SHD/SSC: HDF5 files in the release's layout, the seed's binning on a hand-built example."""

import h5py
import numpy as np
import pytest

from nsb.data import load_task
from nsb.data.shd import bin_events
from nsb.errors import DataError


def write_h5(path, samples, labels):
    with h5py.File(path, "w") as f:
        vf, vi = h5py.vlen_dtype(np.float32), h5py.vlen_dtype(np.uint16)
        times = f.create_dataset("spikes/times", (len(samples),), dtype=vf)
        units = f.create_dataset("spikes/units", (len(samples),), dtype=vi)
        for i, (t, u) in enumerate(samples):
            times[i] = np.asarray(t, dtype=np.float32)
            units[i] = np.asarray(u, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))


def test_seed_binning_by_hand():
    # T = 4, dt = 0.25: thresholds 0, .25, .5, .75; an event goes to the first i with t <= i*dt
    times = np.array([0.0, 0.1, 0.25, 0.26, 0.74, 0.76, 0.3])
    units = np.array([1, 2, 3, 4, 0, 5, 699])
    out = bin_events(times, units, steps=4)
    assert out.shape == (4, 700) and out.dtype == np.uint8
    assert out[0, 699] == 1  # t = 0 → frame 0, unit 1 → index 699
    assert out[1, 698] == 1 and out[1, 697] == 1  # 0.1 and 0.25 → frame 1
    assert out[2, 696] == 1 and out[2, 1] == 1  # 0.26 and 0.3 → frame 2, unit 699 → index 1
    assert out.sum() == 5  # unit 0 dropped (index 700), t = 0.76 > 0.75 dropped


def test_shd_split_files(tmp_path):
    folder = tmp_path / "SHD"
    folder.mkdir()
    rng = np.random.default_rng(0)
    samples = [(np.sort(rng.uniform(0, 1.2, 50)), rng.integers(0, 700, 50)) for _ in range(6)]
    write_h5(folder / "shd_train.h5", samples, [0, 1, 2, 3, 4, 19])
    write_h5(folder / "shd_test.h5", samples[:2], [5, 6])
    d = load_task("shd", str(tmp_path), {"time_steps": 100}, seed=0)
    assert len(d.train) == 6 and len(d.test) == 2 and d.num_classes == 20 and d.input_size == 700
    x, y = d.train[5]
    assert x.shape == (100, 700) and int(y) == 19
    t, u = samples[5]
    np.testing.assert_array_equal(x.numpy(), bin_events(t.astype(np.float32).astype(np.float64), u, 100))


def test_ssc_has_a_validation_split(tmp_path):
    folder = tmp_path / "SSC"
    folder.mkdir()
    sample = [(np.array([0.1, 0.5]), np.array([10, 20]))]
    for split in ("train", "valid", "test"):
        write_h5(folder / f"ssc_{split}.h5", sample * 3, [34, 0, 1])
    d = load_task("ssc", str(tmp_path), {}, seed=0)
    assert d.valid is not None and len(d.valid) == 3 and d.num_classes == 35 and d.time_steps == 250


def test_missing_gzipped_and_corrupt(tmp_path):
    with pytest.raises(DataError, match=r"SHD files not found .*shd_train.h5, shd_test.h5.*nsb data download shd"):
        load_task("shd", str(tmp_path), {}, seed=0)
    (tmp_path / "shd_train.h5.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / "shd_test.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="gunzip"):
        load_task("shd", str(tmp_path), {}, seed=0)
    (tmp_path / "shd_train.h5.gz").unlink()
    (tmp_path / "shd_train.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="not a readable SHD/SSC HDF5"):
        load_task("shd", str(tmp_path), {}, seed=0)
