"""DVS128 Gesture (Amir et al. 2017): event streams → frames, for the conv spiking model.

The release's layout under ``root/DvsGesture`` (or ``root``): ``userNN_<lighting>.aedat`` (AEDAT 3.1),
``userNN_<lighting>_labels.csv`` (``class,startTime_usec,endTime_usec``, classes 1…11), and
``trials_to_train.txt`` / ``trials_to_test.txt`` naming the files of each split. Every labelled
gesture becomes ``time_steps`` frames of equal duration (SpikingJelly's ``split_by="time"``),
each frame counting the events per polarity and pixel, summed over ``128/size``-pixel blocks:
items are ``x [T, 2, size, size]`` float32 (4-D per step, unlike the vector data sets) and y in
0…10. Parsing takes a while, so the frames are cached once in ``frames_T{T}_{size}x{size}/`` next
to the data (written atomically).

AEDAT 3.1: ASCII header lines starting with ``#`` up to ``#!END-HEADER``, then packets. Each packet
has a 28-byte little-endian header (event type i16, source i16, event size i32, timestamp offset
i32, timestamp overflow i32, capacity i32, number i32, valid i32) followed by ``number`` events;
a polarity event (type 1, 8 bytes) is ``data u32`` (x = bits 17-29, y = bits 2-16, polarity bit 1,
valid bit 0) and ``timestamp i32`` in µs, extended by ``overflow << 31``.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from nsb.data import files
from nsb.data.common import TaskData
from nsb.errors import ConfigError, DataError

SENSOR = 128
CLASSES = 11
PACKET_HEADER = np.dtype([("type", "<i2"), ("source", "<i2"), ("size", "<i4"), ("ts_offset", "<i4"),
                          ("ts_overflow", "<i4"), ("capacity", "<i4"), ("number", "<i4"), ("valid", "<i4")])
POLARITY = np.dtype([("data", "<u4"), ("timestamp", "<i4")])


@dataclass
class Options:
    time_steps: int = 20  # frames per gesture, equal durations
    size: int = 32  # frame side after summing 128/size-pixel blocks (128, 64, 32, 16, ...)


def read_aedat(path: Path) -> dict[str, np.ndarray]:
    """Polarity events of an AEDAT 3.1 file: ``t`` (µs, int64), ``x``, ``y``, ``p``."""
    files.check_file(path, "an AEDAT 3.1 recording", AGAIN)
    raw = path.read_bytes()
    pos = 0
    while raw.startswith(b"#", pos):
        end = raw.find(b"\n", pos)
        if end < 0:
            raise DataError(f"{path}: header never ends; not an AEDAT 3.1 file")
        line = raw[pos:end]
        pos = end + 1
        if line.startswith(b"#!END-HEADER"):
            break
    else:
        if pos == 0:
            raise DataError(f"{path} has no AEDAT header (expected lines starting with '#'); not an AEDAT 3.1 file")
    parts = []
    while pos + PACKET_HEADER.itemsize <= len(raw):
        head = np.frombuffer(raw, PACKET_HEADER, count=1, offset=pos)[0]
        pos += PACKET_HEADER.itemsize
        length = int(head["capacity"]) * int(head["size"])
        if length < 0 or pos + length > len(raw):
            raise DataError(f"{path}: truncated event packet at byte {pos}; the file is corrupt, {AGAIN}")
        if head["size"] < 1 or not 0 <= head["number"] <= head["capacity"]:
            raise DataError(f"{path}: event packet at byte {pos - PACKET_HEADER.itemsize} claims {int(head['number'])} "
                            f"events of {int(head['size'])} bytes in room for {int(head['capacity'])}; the file is "
                            f"corrupt, {AGAIN}")
        if head["type"] == 1 and head["size"] == POLARITY.itemsize:
            events = np.frombuffer(raw, POLARITY, count=int(head["number"]), offset=pos)
            events = events[(events["data"] & 1) == 1]
            t = events["timestamp"].astype(np.int64) | (np.int64(head["ts_overflow"]) << 31)
            parts.append((t, events["data"]))
        pos += length
    if pos != len(raw):
        raise DataError(f"{path}: truncated event packet at byte {pos} (a partial packet header); the file is "
                        f"corrupt, {AGAIN}")
    if not parts:
        return {k: np.zeros(0, dtype=np.int64) for k in "txyp"}
    t = np.concatenate([p[0] for p in parts])
    data = np.concatenate([p[1] for p in parts])
    return {"t": t, "x": ((data >> 17) & 0x1FFF).astype(np.int64), "y": ((data >> 2) & 0x1FFF).astype(np.int64),
            "p": ((data >> 1) & 1).astype(np.int64)}


def to_frames(ev: dict[str, np.ndarray], start: int, end: int, steps: int, size: int) -> np.ndarray:
    """Events in ``[start, end)`` µs → ``[T, 2, size, size]`` counts, equal time bins."""
    sel = (ev["t"] >= start) & (ev["t"] < end)
    t, x, y, p = (ev[k][sel] for k in "txyp")
    frame = np.minimum(((t - start) * steps) // max(end - start, 1), steps - 1)
    block = SENSOR // size
    out = np.zeros((steps, 2, size, size), dtype=np.float32)
    inside = (x < SENSOR) & (y < SENSOR)
    np.add.at(out, (frame[inside], p[inside], y[inside] // block, x[inside] // block), 1)
    return out


def read_labels(path: Path) -> np.ndarray:
    """``[[class (0-based), start_us, end_us], ...]`` from a ``*_labels.csv``."""
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a text file of gesture labels (class,startTime_usec,endTime_usec); "
                        f"{AGAIN}") from None
    for n, line in enumerate(text.splitlines(), start=1):
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 3 or not fields[0].isdigit():
            continue  # header
        try:
            label, start, end = int(fields[0]) - 1, int(fields[1]), int(fields[2])
        except ValueError:
            raise DataError(f"{path}:{n}: '{line.strip()}' is not class,startTime_usec,endTime_usec in whole "
                            f"numbers; {AGAIN}") from None
        if not 0 <= label < CLASSES:
            raise DataError(f"{path}:{n}: class {label + 1} is outside the gestures 1..{CLASSES}; {AGAIN}")
        if end <= start:
            raise DataError(f"{path}:{n}: the gesture ends ({end} µs) before it starts ({start} µs); {AGAIN}")
        rows.append((label, start, end))
    if not rows:
        raise DataError(f"{path} holds no gesture labels (class,startTime_usec,endTime_usec); {AGAIN}")
    return np.asarray(rows, dtype=np.int64)


def build_split(folder: Path, trials: list[str], o: Options) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for name in trials:
        if Path(name).name != name:
            raise DataError(f"{folder}: trial '{name}' is not a plain file name in this folder; the trials_to_*.txt "
                            f"lists name files beside them, {AGAIN}")
        aedat = folder / name
        labels_path = folder / name.replace(".aedat", "_labels.csv")
        if aedat.is_dir() or labels_path.is_dir():
            raise DataError(f"{aedat if aedat.is_dir() else labels_path} is a folder, not a file; {AGAIN}")
        if not aedat.is_file() or not labels_path.is_file():
            raise DataError(f"DVS Gesture trial {name} is listed but {aedat.name} or {labels_path.name} is missing "
                            f"in {folder}; re-extract DvsGesture.tar.gz")
        events = read_aedat(aedat)
        for label, start, end in read_labels(labels_path):
            xs.append(to_frames(events, start, end, o.time_steps, o.size))
            ys.append(label)
    if not xs:
        raise DataError(f"no gestures found for the trials listed in {folder}")
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def _save_atomic(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(buffer.getvalue())
    os.replace(tmp, path)


def load(options: Options, root: Path, seed: int) -> TaskData:
    if options.size < 1 or SENSOR % options.size or options.time_steps < 1:
        raise ConfigError(f"dvs_gesture needs time_steps >= 1 and a size dividing 128, got {options}")
    where = [root / "DvsGesture", root]
    folder = next((f for f in where if (f / "trials_to_train.txt").is_file()), None)
    if folder is None:
        raise files.missing("DVS Gesture", where, ["trials_to_train.txt", "trials_to_test.txt", "user*.aedat",
                                                   "user*_labels.csv"], HOW)
    cache = folder / f"frames_T{options.time_steps}_{options.size}x{options.size}"  # made when first written
    splits, built = {}, {}
    for split in ("train", "test"):  # every split read or built before any cache is written
        cached = cache / f"{split}.npz"
        if cached.exists():
            splits[split] = TensorDataset(*_read_cache(cached, options))
            continue
        listing = folder / f"trials_to_{split}.txt"
        if not listing.is_file():
            raise files.missing("DVS Gesture", [folder], [listing.name], HOW)
        try:
            text = listing.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{listing} is not a text list of trials (userNN_<lighting>.aedat per line); "
                            f"{AGAIN}") from None
        trials = [line.strip() for line in text.splitlines() if line.strip().endswith(".aedat")]
        built[split] = build_split(folder, trials, options)
        splits[split] = TensorDataset(torch.from_numpy(built[split][0]), torch.from_numpy(built[split][1]))
    for split, (x, y) in built.items():
        _save_atomic(cache / f"{split}.npz", x=x, y=y)
    return TaskData("classification", splits["train"], splits["test"], input_size=2 * options.size**2,
                    num_classes=CLASSES, time_steps=options.time_steps,
                    info={"frame_shape": (2, options.size, options.size), "cache": str(cache)})


def _read_cache(path: Path, o: Options) -> tuple[torch.Tensor, torch.Tensor]:
    """A split's cached frames, checked: a damaged cache is one line saying to delete it (it is rebuilt)."""
    fix = f"delete {path} and it is rebuilt from the recordings"
    try:
        with np.load(path, allow_pickle=False) as arrays:
            x, y = arrays["x"], arrays["y"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        reason = str(err).splitlines()[0][:100] if str(err) else type(err).__name__
        raise DataError(f"{path} is a damaged frame cache ({reason}); {fix}") from None
    if x.shape[1:] != (o.time_steps, 2, o.size, o.size) or y.shape != (len(x),) \
            or not np.issubdtype(y.dtype, np.integer) or x.dtype != np.float32:
        raise DataError(f"{path} holds frames {x.dtype} {list(x.shape)} and labels {y.dtype} {list(y.shape)}, not "
                        f"[N, {o.time_steps}, 2, {o.size}, {o.size}] float32 and [N] class indices; {fix}")
    if len(y) and (y.min() < 0 or y.max() >= CLASSES):
        raise DataError(f"{path} holds labels outside the gestures 0..{CLASSES - 1}; {fix}")
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


HOW = ("DVS Gesture needs a manual download: get DvsGesture.tar.gz from IBM Research "
       "(research.ibm.com/interactive/dvsgesture) and extract it under DIR")


AGAIN = "re-extract DvsGesture.tar.gz (nsb data download dvs_gesture says where to get it)"


def download(root: Path) -> None:
    raise DataError(HOW.replace("DIR", str(root)))
