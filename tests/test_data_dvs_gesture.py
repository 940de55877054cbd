"""DVS Gesture: AEDAT 3.1 files written here in the release's binary format, framed and cached."""

import numpy as np
import pytest
import torch

from nsb.data import load_task
from nsb.data.dvs_gesture import PACKET_HEADER, POLARITY, read_aedat
from nsb.errors import DataError


def write_aedat(path, events, overflow=0, packet=4):
    """events: list of (t_us, x, y, p); written in packets of `packet` polarity events."""
    out = [b"#!AER-DAT3.1\r\n", b"#Source 1: DVS128\r\n", b"#!END-HEADER\r\n"]
    for start in range(0, len(events), packet):
        chunk = events[start:start + packet]
        head = np.zeros(1, PACKET_HEADER)
        head["type"], head["source"], head["size"] = 1, 1, 8
        head["ts_overflow"], head["capacity"], head["number"], head["valid"] = overflow, len(chunk), len(chunk), len(chunk)
        body = np.zeros(len(chunk), POLARITY)
        for i, (t, x, y, p) in enumerate(chunk):
            body[i]["data"] = (x << 17) | (y << 2) | (p << 1) | 1
            body[i]["timestamp"] = t
        out += [head.tobytes(), body.tobytes()]
    # a packet of another event type (special events) that must be skipped
    other = np.zeros(1, PACKET_HEADER)
    other["type"], other["size"], other["capacity"], other["number"] = 0, 8, 1, 1
    out += [other.tobytes(), b"\x00" * 8]
    path.write_bytes(b"".join(out))


def test_aedat_parse(tmp_path):
    events = [(10, 0, 0, 0), (20, 127, 5, 1), (30, 64, 127, 1), (40, 3, 4, 0), (50, 9, 9, 1)]
    write_aedat(tmp_path / "a.aedat", events, overflow=1)
    ev = read_aedat(tmp_path / "a.aedat")
    assert ev["x"].tolist() == [0, 127, 64, 3, 9] and ev["y"].tolist() == [0, 5, 127, 4, 9]
    assert ev["p"].tolist() == [0, 1, 1, 0, 1]
    assert ev["t"].tolist() == [t + (1 << 31) for t in (10, 20, 30, 40, 50)]


def make_release(root):
    folder = root / "DvsGesture"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for user, split in (("user01_led", "train"), ("user02_led", "test")):
        events = sorted((int(t), int(x), int(y), int(p)) for t, x, y, p in
                        zip(rng.integers(0, 2_000_000, 400), rng.integers(0, 128, 400), rng.integers(0, 128, 400),
                            rng.integers(0, 2, 400)))
        write_aedat(folder / f"{user}.aedat", events, packet=64)
        (folder / f"{user}_labels.csv").write_text(
            "class,startTime_usec,endTime_usec\n1,0,1000000\n11,1000000,2000000\n")
        (folder / f"trials_to_{split}.txt").write_text(f"{user}.aedat\n")
    return folder, events


def test_frames_and_cache(tmp_path):
    folder, test_events = make_release(tmp_path)
    d = load_task("dvs_gesture", str(tmp_path), {"time_steps": 5, "size": 32}, seed=0)
    assert len(d.train) == 2 and len(d.test) == 2 and d.info["frame_shape"] == (2, 32, 32)
    x, y = d.test[1]
    assert x.shape == (5, 2, 32, 32) and int(y) == 10
    in_window = [e for e in test_events if 1_000_000 <= e[0] < 2_000_000]
    assert x.sum() == len(in_window)
    t, xx, yy, p = in_window[0]
    frame = (t - 1_000_000) * 5 // 1_000_000
    assert x[frame, p, yy // 4, xx // 4] >= 1
    assert (folder / "frames_T5_32x32" / "test.npz").is_file()
    again = load_task("dvs_gesture", str(tmp_path), {"time_steps": 5, "size": 32}, seed=0)
    assert torch.equal(again.test.tensors[0], d.test.tensors[0])


def test_missing_and_corrupt(tmp_path):
    with pytest.raises(DataError, match=r"DVS Gesture files not found .*trials_to_train.txt.*IBM"):
        load_task("dvs_gesture", str(tmp_path), {}, seed=0)
    folder, _ = make_release(tmp_path)
    raw = (folder / "user01_led.aedat").read_bytes()
    (folder / "user01_led.aedat").write_bytes(raw[:-20])
    with pytest.raises(DataError, match="truncated event packet"):
        load_task("dvs_gesture", str(tmp_path), {}, seed=0)
