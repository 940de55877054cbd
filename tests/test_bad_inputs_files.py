"""Bad files, table-driven (issue 13, items 3 and 4): data files, checkpoints and bundles a user or an
attacker could hand nsb, each run through the real ``nsb`` command and checked with the shared harness
(tests/badinput.py): the exit code, exactly one ``nsb: error:`` line naming the file and the problem, no
traceback, and no file in the workspace changed.

Every file is written here in its real format (MNIST IDX, PTB text, SHD/SSC HDF5, AEDAT 3.1, MSWC CSVs
and tar.gz, nsb checkpoints and bundles) and then damaged in one way; a case's fragments name what the
check it targets says, so a case whose check is removed fails (the command either succeeds or says
something else).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import tarfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from badinput import check_case, copy_tree, run_nsb

rng = np.random.default_rng(0)


def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


# --- MNIST IDX (psmnist) ---------------------------------------------------------------------------

RAW = Path("d/MNIST/raw")
TRAIN_CMD = ["train", "--set", 'data.root="d"', "--set", 'out_dir="runs"', "--name", "t", "--quiet"]
PSMNIST = ["train", "--config", "psmnist_ff", *TRAIN_CMD[1:]]


def idx(magic: int, array: np.ndarray, count: int | None = None, dims: tuple[int, int] | None = None) -> bytes:
    """An IDX file: big-endian magic and count (images: rows, columns), then the uint8 values."""
    n = len(array) if count is None else count
    head = struct.pack(">II", magic, n)
    if magic == 2051 or dims is not None:
        head += struct.pack(">II", *(dims or array.shape[1:]))
    return head + array.astype(np.uint8).tobytes()


def images(n: int, side: int = 28) -> np.ndarray:
    return rng.integers(0, 256, (n, side, side))


def labels(n: int) -> np.ndarray:
    return np.arange(n) % 10


def mnist(ws: Path, **replace: bytes) -> None:
    """The four MNIST files (train gzipped, test plain, as the real downloads may be), any replaced by bytes
    (keyed by the file name with ``-`` and ``.`` as ``_``); ``b"<dir>"`` puts a folder where the file belongs."""
    files = {"train-images-idx3-ubyte.gz": gz(idx(2051, images(20))),
             "train-labels-idx1-ubyte.gz": gz(idx(2049, labels(20))),
             "t10k-images-idx3-ubyte": idx(2051, images(10)),
             "t10k-labels-idx1-ubyte": idx(2049, labels(10))}
    (ws / RAW).mkdir(parents=True)
    for name, data in files.items():
        key = name.replace("-", "_").replace(".", "_")
        data = replace.get(key, data)
        if data == b"<dir>":
            (ws / RAW / name).mkdir()
        else:
            (ws / RAW / name).write_bytes(data)


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


TRAIN_IMG, TRAIN_LAB = "train_images_idx3_ubyte_gz", "train_labels_idx1_ubyte_gz"
TEST_IMG, TEST_LAB = "t10k_images_idx3_ubyte", "t10k_labels_idx1_ubyte"

# (id, files replaced, extra args, fragments)
MNIST_CASES = [
    ("gzip-truncated", {TRAIN_IMG: gz(idx(2051, images(20)))[:-40]}, [],
     ("train-images-idx3-ubyte.gz", "truncated gzip")),
    ("gzip-crc-mismatch", {TRAIN_LAB: gz(idx(2049, labels(20)))[:-8] + b"\0\0\0\0" + gz(idx(2049, labels(20)))[-4:]},
     [], ("train-labels-idx1-ubyte.gz", "corrupt gzip")),
    ("gzip-corrupt-stream", {TRAIN_IMG: flip(gz(idx(2051, images(20))), 12)}, [],
     ("train-images-idx3-ubyte.gz", "gzip")),
    ("gzip-only-magic", {TRAIN_LAB: b"\x1f\x8b"}, [], ("train-labels-idx1-ubyte.gz", "gzip")),
    ("gz-name-not-gzip", {TRAIN_IMG: idx(2051, images(20))}, [], ("train-images-idx3-ubyte.gz", "not gzip")),
    ("images-magic-of-labels", {TEST_IMG: idx(2049, labels(10))}, [], ("t10k-images-idx3-ubyte", "magic 2049")),
    ("labels-magic-wrong", {TEST_LAB: b"\x00\x00\x12\x34" + idx(2049, labels(10))[4:]}, [],
     ("t10k-labels-idx1-ubyte", "magic 4660")),
    ("images-header-count-too-big", {TEST_IMG: idx(2051, images(10), count=11)}, [],
     ("t10k-images-idx3-ubyte", "header says 11 x 28 x 28")),
    ("images-trailing-bytes", {TEST_IMG: idx(2051, images(10)) + b"\0" * 7}, [],
     ("t10k-images-idx3-ubyte", "the file has 7863")),
    ("labels-truncated", {TEST_LAB: idx(2049, labels(10))[:-3]}, [], ("t10k-labels-idx1-ubyte", "truncated or corrupt")),
    ("label-10", {TEST_LAB: idx(2049, np.r_[labels(9), 10])}, [], ("t10k-labels-idx1-ubyte", "label 10 at index 9")),
    ("label-255-gzipped", {TRAIN_LAB: gz(idx(2049, np.r_[255, labels(19)]))}, [],
     ("train-labels-idx1-ubyte.gz", "label 255", "classes 0..9")),
    ("images-empty-file", {TEST_IMG: b""}, [], ("t10k-images-idx3-ubyte", "empty (0 bytes)")),
    ("labels-folder", {TEST_LAB: b"<dir>"}, [], ("t10k-labels-idx1-ubyte", "is a folder")),
    ("images-shorter-than-header", {TEST_IMG: b"\x00\x00\x08\x03\x00"}, [], ("t10k-images-idx3-ubyte", "too short")),
    ("images-20x20", {TEST_IMG: idx(2051, images(10, 20))}, [], ("t10k-images-idx3-ubyte", "20 x 20")),
    ("zero-images", {TEST_IMG: idx(2051, images(0))}, [], ("t10k-images-idx3-ubyte", "holds no images")),
    ("count-mismatch", {TEST_LAB: idx(2049, labels(9))}, [], ("t10k-labels-idx1-ubyte", "10 images but 9 labels")),
    ("count-mismatch-train-from-test", {TEST_LAB: idx(2049, labels(9))}, ["--set", "data.train_from_test=5"],
     ("t10k-images-idx3-ubyte", "10 images but 9 labels")),
]


@pytest.mark.parametrize("replace, extra, fragments", [c[1:] for c in MNIST_CASES], ids=[c[0] for c in MNIST_CASES])
def test_mnist_files(tmp_path, replace, extra, fragments):
    ws = workspace(tmp_path)
    mnist(ws, **replace)
    check_case(ws, PSMNIST + extra, 2, fragments)


def test_mnist_files_as_written_are_accepted(tmp_path):
    """The control for the table: the same writer, undamaged, loads (so each case fails on its damage)."""
    from nsb.data import load_task

    ws = workspace(tmp_path)
    mnist(ws)
    data = load_task("psmnist", str(ws / "d"), {}, seed=0)
    assert len(data.train) == 20 and len(data.test) == 10


# --- Penn Treebank ---------------------------------------------------------------------------------

PTB = ["train", "--config", "ptb_ff", *TRAIN_CMD[1:]]


def ptb(ws: Path, **replace: bytes) -> None:
    """train/valid/test.txt, any replaced (keyed by name with ``.`` as ``_``); a ``.gz`` replacement stands in
    for its plain file, ``b"<dir>"`` puts a folder where the file belongs."""
    folder = ws / "d" / "PennTreebank"
    folder.mkdir(parents=True)
    files = {"train.txt": b" the cat sat <unk> \n the dog sat \n", "valid.txt": b" the cat \n", "test.txt": b" a dog \n"}
    for key, data in replace.items():
        name = key.replace("_", ".")
        files.pop(name.removesuffix(".gz"), None)
        files[name] = data
    for name, data in files.items():
        (folder / name).mkdir() if data == b"<dir>" else (folder / name).write_bytes(data)


PTB_CASES = [
    ("empty-train", {"train_txt": b""}, ("train.txt", "empty (0 bytes)")),
    ("blank-valid", {"valid_txt": b"  \n\n \n"}, ("valid.txt", "holds no words")),
    ("binary-test", {"test_txt": b"the\x00cat\n"}, ("test.txt", "binary file")),
    ("latin1-valid", {"valid_txt": "the café\n".encode("latin-1")}, ("valid.txt", "not UTF-8")),
    ("gzip-truncated", {"train_txt_gz": gz(b" the cat sat <unk> \n" * 50)[:-30]}, ("train.txt.gz", "truncated gzip")),
    ("gz-name-not-gzip", {"test_txt_gz": b" a dog \n"}, ("test.txt.gz", "not gzip")),
    ("folder-for-valid", {"valid_txt": b"<dir>"}, ("valid.txt", "is a folder")),
    ("no-unk-for-new-word", {"train_txt": b" the cat \n", "test_txt": b" a dog \n"},
     ("test.txt", "'a' is not in the training vocabulary")),
]


@pytest.mark.parametrize("replace, fragments", [c[1:] for c in PTB_CASES], ids=[c[0] for c in PTB_CASES])
def test_ptb_files(tmp_path, replace, fragments):
    ws = workspace(tmp_path)
    ptb(ws, **replace)
    check_case(ws, PTB, 2, fragments)


# --- SHD / SSC (HDF5) -------------------------------------------------------------------------------

def shd_file(path: Path, n: int = 4, labels_: object = "ok", drop: str | None = None, units_len: int | None = None,
             times_n: int | None = None) -> None:
    """An SHD/SSC split in the release's layout: ragged spikes/times, spikes/units and labels."""
    with h5py.File(path, "w") as f:
        vf, vi = h5py.vlen_dtype(np.float32), h5py.vlen_dtype(np.uint16)
        if drop != "spikes/times":
            times = f.create_dataset("spikes/times", (n if times_n is None else times_n,), dtype=vf)
            for i in range(len(times)):
                times[i] = np.sort(rng.uniform(0, 1, 20)).astype(np.float32)
        if drop != "spikes/units":
            units = f.create_dataset("spikes/units", (n,), dtype=vi)
            for i in range(n):
                units[i] = rng.integers(0, 700, 20 if (units_len is None or i != 1) else units_len).astype(np.uint16)
        if drop != "labels":
            f.create_dataset("labels", data=np.arange(n) % 5 if isinstance(labels_, str) else labels_)


def shd(ws: Path, name: str = "shd", splits: tuple[str, ...] = ("train", "test"),
        damage: Callable[[Path], None] | None = None, which: str = "test") -> None:
    folder = ws / "d" / name.upper()
    folder.mkdir(parents=True)
    for split in splits:
        path = folder / f"{name}_{split}.h5"
        if split == which and damage is not None:
            damage(path)
        else:
            shd_file(path)


def truncated_h5(path: Path) -> None:
    shd_file(path)
    path.write_bytes(path.read_bytes()[:1500])


SHD_CASES = [
    ("not-hdf5", lambda p: p.write_bytes(b"not an HDF5 file at all" * 10), ("shd_test.h5", "not a readable SHD/SSC")),
    ("empty", lambda p: p.write_bytes(b""), ("shd_test.h5", "empty (0 bytes)")),
    ("truncated", truncated_h5, ("shd_test.h5", "not a readable SHD/SSC")),
    ("folder", lambda p: p.mkdir(), ("shd_test.h5", "is a folder")),
    ("no-labels", lambda p: shd_file(p, drop="labels"), ("shd_test.h5", "no dataset 'labels'")),
    ("no-units", lambda p: shd_file(p, drop="spikes/units"), ("shd_test.h5", "no dataset 'spikes/units'")),
    ("no-times", lambda p: shd_file(p, drop="spikes/times"), ("shd_test.h5", "no dataset 'spikes/times'")),
    ("labels-longer", lambda p: shd_file(p, labels_=np.arange(5) % 5), ("shd_test.h5", "different lengths", "labels 5")),
    ("times-shorter", lambda p: shd_file(p, times_n=3), ("shd_test.h5", "different lengths", "spikes/times 3")),
    ("label-20", lambda p: shd_file(p, labels_=np.array([0, 1, 20, 3])), ("shd_test.h5", "label 20 of sample 2",
                                                                          "20 classes")),
    ("label-negative", lambda p: shd_file(p, labels_=np.array([0, -1, 2, 3], dtype=np.int16)),
     ("shd_test.h5", "label -1 of sample 1")),
    ("labels-float", lambda p: shd_file(p, labels_=np.array([0.0, 1.5, 2.0, 3.0])), ("shd_test.h5", "not one class index")),
    ("labels-2d", lambda p: shd_file(p, labels_=np.zeros((4, 2), dtype=np.int64)), ("shd_test.h5", "not one class index")),
    ("zero-samples", lambda p: shd_file(p, n=0, labels_=np.zeros(0, dtype=np.int64)), ("shd_test.h5", "holds no samples")),
    ("sample-times-units-differ", lambda p: shd_file(p, units_len=7), ("shd_test.h5", "sample 1 has 20 spike times but 7 units")),
    ("gzipped", None, ("shd_train.h5.gz", "gunzip")),
]


@pytest.mark.parametrize("damage, fragments", [c[1:] for c in SHD_CASES], ids=[c[0] for c in SHD_CASES])
def test_shd_files(tmp_path, damage, fragments):
    ws = workspace(tmp_path)
    if damage is None:  # the release's .h5.gz, not unpacked
        shd(ws, splits=("test",))
        (ws / "d" / "SHD" / "shd_train.h5.gz").write_bytes(gz(b"\x89HDF\r\n\x1a\n"))
    else:
        shd(ws, damage=damage)
    check_case(ws, ["train", "--config", "shd", *TRAIN_CMD[1:]], 2, fragments)


SSC_CASES = [
    ("valid-label-35", lambda p: shd_file(p, labels_=np.array([34, 35, 0, 1])), ("ssc_valid.h5", "label 35", "35 classes")),
    ("valid-no-times", lambda p: shd_file(p, drop="spikes/times"), ("ssc_valid.h5", "no dataset 'spikes/times'")),
]


@pytest.mark.parametrize("damage, fragments", [c[1:] for c in SSC_CASES], ids=[c[0] for c in SSC_CASES])
def test_ssc_files(tmp_path, damage, fragments):
    ws = workspace(tmp_path)
    shd(ws, "ssc", ("train", "valid", "test"), damage, which="valid")
    check_case(ws, ["train", "--config", "ssc", *TRAIN_CMD[1:]], 2, fragments)


def test_shd_files_as_written_are_accepted(tmp_path):
    from nsb.data import load_task

    ws = workspace(tmp_path)
    shd(ws)
    assert len(load_task("shd", str(ws / "d"), {"time_steps": 10}, seed=0).test) == 4


# --- DVS Gesture (AEDAT 3.1) -----------------------------------------------------------------------

def aedat(events: int = 40, number: int | None = None, header: bool = True) -> bytes:
    from nsb.data.dvs_gesture import PACKET_HEADER, POLARITY

    head = np.zeros(1, PACKET_HEADER)
    head["type"], head["source"], head["size"] = 1, 1, 8
    head["capacity"], head["number"], head["valid"] = events, events if number is None else number, events
    body = np.zeros(events, POLARITY)
    body["data"] = (rng.integers(0, 128, events) << 17) | (rng.integers(0, 128, events) << 2) | 1
    body["timestamp"] = np.sort(rng.integers(0, 2_000_000, events))
    start = b"#!AER-DAT3.1\r\n#!END-HEADER\r\n" if header else b""
    return start + head.tobytes() + body.tobytes()


LABELS_CSV = b"class,startTime_usec,endTime_usec\n1,0,1000000\n11,1000000,2000000\n"


def dvs(ws: Path, **replace: bytes) -> Path:
    """The release's layout, one trial per split; ``replace`` maps file names to their bytes ("<dir>": a folder)."""
    folder = ws / "d" / "DvsGesture"
    folder.mkdir(parents=True)
    files = {"trials_to_train.txt": b"user01_led.aedat\n", "trials_to_test.txt": b"user02_led.aedat\n",
             "user01_led.aedat": aedat(), "user01_led_labels.csv": LABELS_CSV,
             "user02_led.aedat": aedat(), "user02_led_labels.csv": LABELS_CSV}
    files.update(replace)
    for name, data in files.items():
        if data is None:
            continue
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir() if data == b"<dir>" else path.write_bytes(data)
    return folder


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


CACHE = "frames_T5_32x32"
GOOD_X = np.zeros((2, 5, 2, 32, 32), np.float32)
DVS_CASES = [
    ("aedat-truncated", {"user01_led.aedat": aedat()[:-20]}, ("user01_led.aedat", "truncated event packet")),
    ("aedat-no-header", {"user02_led.aedat": aedat(header=False)}, ("user02_led.aedat", "no AEDAT header")),
    ("aedat-empty", {"user01_led.aedat": b""}, ("user01_led.aedat", "empty (0 bytes)")),
    ("aedat-folder", {"user02_led.aedat": b"<dir>"}, ("user02_led.aedat", "is a folder")),
    ("aedat-more-events-than-room", {"user01_led.aedat": aedat(number=41)}, ("user01_led.aedat", "claims 41 events")),
    ("aedat-missing", {"user02_led.aedat": None}, ("user02_led", "is missing")),
    ("class-12", {"user01_led_labels.csv": b"1,0,10\n12,10,20\n"}, ("user01_led_labels.csv:2", "class 12")),
    ("class-0", {"user02_led_labels.csv": b"0,0,10\n"}, ("user02_led_labels.csv:1", "class 0 is outside")),
    ("times-not-numbers", {"user01_led_labels.csv": b"3,zero,10\n"}, ("user01_led_labels.csv:1", "whole numbers")),
    ("ends-before-start", {"user01_led_labels.csv": b"3,500,100\n"}, ("user01_led_labels.csv:1", "ends (100")),
    ("no-label-rows", {"user02_led_labels.csv": b"class,startTime_usec,endTime_usec\n"},
     ("user02_led_labels.csv", "no gesture labels")),
    ("labels-binary", {"user01_led_labels.csv": b"\xff\xfe1,0,10\n"}, ("user01_led_labels.csv", "not a text file")),
    ("trial-outside-folder", {"trials_to_test.txt": b"../user02_led.aedat\n"}, ("../user02_led.aedat", "plain file name")),
    ("cache-damaged", {f"{CACHE}/test.npz": b"PK\x03\x04 not a zip"}, (f"{CACHE}/test.npz", "damaged frame cache")),
    ("cache-wrong-frames", {f"{CACHE}/train.npz": npz(x=np.zeros((2, 5, 2, 16, 16), np.float32), y=np.zeros(2, np.int64))},
     (f"{CACHE}/train.npz", "[N, 5, 2, 32, 32]")),
    ("cache-label-11", {f"{CACHE}/train.npz": npz(x=GOOD_X, y=np.array([0, 11]))}, (f"{CACHE}/train.npz", "outside the gestures")),
    ("cache-no-labels", {f"{CACHE}/test.npz": npz(x=GOOD_X)}, (f"{CACHE}/test.npz", "damaged frame cache")),
]


@pytest.mark.parametrize("replace, fragments", [c[1:] for c in DVS_CASES], ids=[c[0] for c in DVS_CASES])
def test_dvs_gesture_files(tmp_path, replace, fragments):
    ws = workspace(tmp_path)
    dvs(ws, **replace)
    args = ["train", "--config", "dvs_gesture", "--set", "data.time_steps=5", "--set", "data.size=32", *TRAIN_CMD[1:]]
    check_case(ws, args, 2, fragments)


def test_dvs_refusal_of_the_second_split_writes_no_cache(tmp_path):
    """The train split is fine and would be cached; the test split is damaged: nothing is written at all
    (check_case in the table proves it too; this says why the loader builds every split first)."""
    ws = workspace(tmp_path)
    folder = dvs(ws, **{"user02_led.aedat": aedat()[:-20]})
    args = ["train", "--config", "dvs_gesture", "--set", "data.time_steps=5", "--set", "data.size=32", *TRAIN_CMD[1:]]
    check_case(ws, args, 2, ("user02_led.aedat", "truncated"))
    assert not (folder / CACHE).exists()


# --- MSWC (CSV lists and the tar.gz) ---------------------------------------------------------------

def mswc(ws: Path, **replace: bytes) -> None:
    """Split lists of the mswc_fscil layout (clips are read lazily, so none are needed to reach the checks)."""
    from nsb.data.mswc import EVAL_LANGUAGES, FSCIL_KEYWORDS

    folder = ws / "d" / "MSWC"
    files = {f"base_{s}.csv": b"PATH,WORD,LANG\nsurrounding/a.opus,surrounding,en\n" for s in ("train", "val", "test")}
    for lang in EVAL_LANGUAGES:
        word = FSCIL_KEYWORDS[lang][0]
        files[f"{lang}/evaluation.csv"] = f"PATH,WORD,LANG\n{word}/a.opus,{word},{lang}\n".encode()
    files.update(replace)
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir() if data == b"<dir>" else path.write_bytes(data)


MSWC_CASES = [
    ("base-train-not-utf8", {"base_train.csv": b"surrounding/a.opus,surrounding,en\n\xff\n"}, ("base_train.csv", "not UTF-8")),
    ("base-test-binary", {"base_test.csv": b"PATH,WORD,LANG\n\x00\x00\x00\n"}, ("base_test.csv", "binary file")),
    ("base-train-empty", {"base_train.csv": b""}, ("base_train.csv", "empty (0 bytes)")),
    ("base-val-folder", {"base_val.csv": b"<dir>"}, ("base_val.csv", "is a folder")),
    ("unknown-word", {"base_test.csv": b"a.opus,notaword,en\n"}, ("base_test.csv:1", "not one of NeuroBench's 200")),
    ("two-columns", {"base_train.csv": b"a.opus,surrounding\n"}, ("base_train.csv:1", "3 columns")),
    ("clip-path-escapes", {"base_train.csv": b"../../../etc/passwd,surrounding,en\n"}, ("base_train.csv:1", "does not name a clip")),
    ("unknown-language", {"base_train.csv": b"a.opus,surrounding,xx\n"}, ("base_train.csv:1", "language 'xx'")),
    ("evaluation-folder", {"fa/evaluation.csv": b"<dir>"}, ("fa/evaluation.csv", "is a folder")),
    ("base-word-in-evaluation", {"eo/evaluation.csv": b"x.opus,surrounding,en\n"}, ("eo split holds words",)),
    ("no-rows", {"base_test.csv": b"PATH,WORD,LANG\n"}, ("base_test.csv", "lists no clips")),
]


@pytest.mark.parametrize("replace, fragments", [c[1:] for c in MSWC_CASES], ids=[c[0] for c in MSWC_CASES])
def test_mswc_files(tmp_path, replace, fragments):
    ws = workspace(tmp_path)
    mswc(ws, **replace)
    check_case(ws, ["fscil", "--data", "mswc", "--root", "d", "--out", "out"], 2, fragments)


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def member(name: str, data: bytes = b"x", kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


GOOD_TAR = tar_gz([member("MSWC/base_train.csv", b"PATH,WORD,LANG\n" * 400)])
TAR_CASES = [
    ("truncated", GOOD_TAR[: len(GOOD_TAR) // 2], "corrupt or truncated tar.gz"),
    ("not-gzip", b"this is not an archive" * 20, "corrupt or truncated tar.gz"),
    ("gzip-of-garbage", gz(b"\x01" * 2000), "corrupt or truncated tar.gz"),
    ("member-escapes", tar_gz([member("MSWC/a.csv"), member("../escaped.txt")]), "unsafe member '../escaped.txt'"),
    ("absolute-member", tar_gz([member("/tmp/nsb-absolute.txt")]), "unsafe member '/tmp/nsb-absolute.txt'"),
    ("symlink-member", tar_gz([member("MSWC/link", kind=tarfile.SYMTYPE, link="/etc/passwd")]), "unsafe member 'MSWC/link'"),
    ("hardlink-member", tar_gz([member("MSWC/a.csv"), member("MSWC/h", kind=tarfile.LNKTYPE, link="MSWC/a.csv")]),
     "unsafe member 'MSWC/h'"),
    ("device-member", tar_gz([member("MSWC/dev", kind=tarfile.CHRTYPE)]), "unsafe member 'MSWC/dev'"),
]


@pytest.mark.parametrize("archive, fragment", [c[1:] for c in TAR_CASES], ids=[c[0] for c in TAR_CASES])
def test_mswc_archive(tmp_path, archive, fragment):
    """``nsb data download mswc`` unpacks an archive already in ROOT: a damaged or hostile one writes nothing."""
    ws = workspace(tmp_path)
    (ws / "d").mkdir()
    (ws / "d" / "mswc_fscil.tar.gz").write_bytes(archive)
    check_case(ws, ["data", "download", "mswc", "--root", "d"], 2, ("mswc_fscil.tar.gz", fragment))
    assert not Path("/tmp/nsb-absolute.txt").exists() and not (tmp_path / "escaped.txt").exists()


# --- checkpoints -----------------------------------------------------------------------------------

MARKER = "pwned-by-pickle"


class Evil:
    """A pickle whose loading would create a file: ``weights_only`` must refuse it before it runs."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def run_copy(tiny_run: Path, ws: Path) -> Path:
    return copy_tree(tiny_run, ws / "runs" / "tiny")


def edit_checkpoint(path: Path, change: Callable[[dict], None]) -> None:
    """Load an nsb checkpoint, change it, save it back the way nsb does (a valid zip, nothing else damaged)."""
    from nsb.checkpoint import save_checkpoint

    data = torch.load(path, weights_only=True)
    for key in ("format", "version", "nsb_version"):
        data.pop(key)
    change(data)
    save_checkpoint(path, data)


def drop(key: str) -> Callable[[dict], None]:
    return lambda d: d.pop(key)


def put(key: str, value: object) -> Callable[[dict], None]:
    return lambda d: d.__setitem__(key, value)


def poison(value: float) -> Callable[[dict], None]:
    def change(d: dict) -> None:
        name = next(iter(d["model"]))
        d["model"][name] = d["model"][name].clone()
        d["model"][name].view(-1)[1] = value
    return change


EXPORT = ["export", "runs/tiny", "--out", "b"]
EXPORT_LAST = EXPORT + ["--checkpoint", "last"]
RESUME = ["train", "--resume", "--name", "tiny", "--set", 'out_dir="runs"', "--quiet"]
METRICS = ["metrics", "runs/tiny", "--recompute"]

# (id, command, which file, change, fragments)
CHECKPOINT_CASES = [
    ("no-model/export", EXPORT_LAST, "checkpoint.pt", drop("model"), ("lacks 'model'",)),
    ("no-model/export-best", EXPORT, "best.pt", drop("model"), ("best.pt", "lacks 'model'")),
    ("no-config/resume", RESUME, "checkpoint.pt", drop("config"), ("lacks 'config'",)),
    ("no-config/metrics", METRICS, "checkpoint.pt", drop("config"), ("lacks 'config'",)),
    ("no-optimizer/resume", RESUME, "checkpoint.pt", drop("optimizer"), ("lacks 'optimizer'",)),
    ("no-epoch/resume", RESUME, "checkpoint.pt", drop("epoch"), ("lacks 'epoch'",)),
    ("no-rng/resume", RESUME, "checkpoint.pt", drop("rng_cpu"), ("lacks 'rng_cpu'",)),
    ("model-is-list/export", EXPORT_LAST, "checkpoint.pt", put("model", [1, 2]), ("'model' is not a state dict",)),
    ("model-empty/export", EXPORT_LAST, "checkpoint.pt", put("model", {}), ("'model' is not a state dict",)),
    ("model-value-not-tensor/export", EXPORT_LAST, "checkpoint.pt", put("model", {"w": 1.5}), ("'model' is not",)),
    ("config-is-string/metrics", METRICS, "checkpoint.pt", put("config", "lr=1"), ("'config' is a str",)),
    ("config-is-list/resume", RESUME, "checkpoint.pt", put("config", [1]), ("'config' is a list",)),
    ("optimizer-is-list/resume", RESUME, "checkpoint.pt", put("optimizer", [1]), ("'optimizer' is a list",)),
    ("epoch-string/resume", RESUME, "checkpoint.pt", put("epoch", "3"), ("'epoch' is '3'",)),
    ("epoch-negative/resume", RESUME, "checkpoint.pt", put("epoch", -1), ("'epoch' is -1",)),
    ("epoch-bool/resume", RESUME, "checkpoint.pt", put("epoch", True), ("'epoch' is True",)),
    ("epoch-float/resume", RESUME, "checkpoint.pt", put("epoch", 1.5), ("'epoch' is 1.5",)),
    ("rng-float/resume", RESUME, "checkpoint.pt", put("rng_cpu", torch.zeros(4)), ("'rng_cpu' is not",)),
    ("history-dict/resume", RESUME, "checkpoint.pt", put("history", {"a": 1}), ("'history' is a dict",)),
    ("scheduler-list/resume", RESUME, "checkpoint.pt", put("scheduler", [1]), ("'scheduler' is a list",)),
    ("nan-weights/export", EXPORT, "best.pt", poison(float("nan")), ("best.pt", "1 NaN value", "diverged")),
    ("nan-weights/resume", RESUME, "checkpoint.pt", poison(float("nan")), ("NaN value", "will not resume")),
    ("nan-weights/metrics", METRICS, "checkpoint.pt", poison(float("nan")), ("NaN value",)),
    ("inf-weights/export", EXPORT_LAST, "checkpoint.pt", poison(float("-inf")), ("1 infinite value",)),
    ("format-version-2/export", EXPORT_LAST, "checkpoint.pt", None, ("format version 2",)),
]


@pytest.mark.parametrize("args, name, change, fragments", [c[1:] for c in CHECKPOINT_CASES],
                         ids=[c[0] for c in CHECKPOINT_CASES])
def test_checkpoint_contents(tmp_path, tiny_run, args, name, change, fragments):
    ws = workspace(tmp_path)
    run = run_copy(tiny_run, ws)
    if change is None:  # a future format
        from nsb.checkpoint import atomic_write_bytes

        data = torch.load(run / name, weights_only=True)
        data["version"] = 2
        buffer = io.BytesIO()
        torch.save(data, buffer)
        atomic_write_bytes(run / name, buffer.getvalue())
    else:
        edit_checkpoint(run / name, change)
    check_case(ws, args, 2, (name, *fragments))


def damaged_file(kind: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        if kind == "folder":
            path.unlink()
            path.mkdir()
        elif kind == "empty":
            path.write_bytes(b"")
        elif kind == "truncated":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        elif kind == "foreign":
            buffer = io.BytesIO()
            torch.save({"weights": torch.zeros(2)}, buffer)
            path.write_bytes(buffer.getvalue())
    return damage


CHECKPOINT_FILE_CASES = [
    ("folder/resume", RESUME, "checkpoint.pt", "folder", "is a folder"),
    ("empty/export", EXPORT_LAST, "checkpoint.pt", "empty", "corrupt or not a PyTorch file"),
    ("truncated/resume", RESUME, "checkpoint.pt", "truncated", "corrupt or not a PyTorch file"),
    ("truncated-best/export", EXPORT, "best.pt", "truncated", "corrupt or not a PyTorch file"),
    ("foreign/export", EXPORT_LAST, "checkpoint.pt", "foreign", "not an nsb checkpoint"),
]


@pytest.mark.parametrize("args, name, kind, fragment", [c[1:] for c in CHECKPOINT_FILE_CASES],
                         ids=[c[0] for c in CHECKPOINT_FILE_CASES])
def test_checkpoint_files(tmp_path, tiny_run, args, name, kind, fragment):
    ws = workspace(tmp_path)
    run = run_copy(tiny_run, ws)
    damaged_file(kind)(run / name)
    check_case(ws, args, 2, (name, fragment))


@pytest.mark.parametrize("args, name", [(EXPORT, "best.pt"), (RESUME, "checkpoint.pt"), (METRICS, "checkpoint.pt")],
                         ids=["export", "resume", "metrics"])
def test_pickle_that_would_run_code_never_runs(tmp_path, tiny_run, args, name):
    """The checkpoint's pickle would create a file when unpickled: it is refused and the file never appears."""
    ws = workspace(tmp_path)
    run = run_copy(tiny_run, ws)
    target = tmp_path / MARKER  # outside the workspace, so check_case's snapshot cannot hide it
    data = torch.load(run / name, weights_only=True)
    data["history"] = [Evil(str(target))]
    torch.save(data, run / name)
    check_case(ws, args, 2, (name, "objects nsb does not load"))
    assert not target.exists(), "unpickling ran the payload"
    # the control: the payload really would run under a plain (unsafe) load
    torch.load(run / name, weights_only=False)
    assert target.exists()


# --- bundles ---------------------------------------------------------------------------------------

EVAL = ["eval", "b", "--backend", "onnxruntime", "--repeats", "1", "--sweep", "1"]
EVAL_TS = ["eval", "b", "--backend", "torchscript", "--repeats", "1", "--sweep", "1"]
EVAL_REF = ["eval", "b", "--backend", "onnx-reference", "--repeats", "1", "--sweep", "1"]


def bundle_copy(tiny_bundle: Path, ws: Path) -> Path:
    return copy_tree(tiny_bundle, ws / "b")


def rehash(bundle: Path, name: str) -> None:
    """Record a changed file's sha256 in the manifest, so the bundle reaches the check past the hash."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    data = (bundle / name).read_bytes()
    manifest["files"][name].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2))


def edit_manifest(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(bundle: Path) -> None:
        manifest = json.loads((bundle / "manifest.json").read_text())
        change(manifest)
        (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return apply


def at(path: str, value: object = ..., delete: bool = False) -> Callable[[dict], None]:
    """Set (or delete) ``a/b/c`` in the manifest (``/`` separates keys: file names hold dots)."""
    def change(manifest: dict) -> None:
        *parents, last = path.split("/")
        node = manifest
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if delete:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return change


MANIFEST_CASES = [
    ("files-is-list", at("files", ["model.onnx"]), ("'files' must be an object",)),
    ("files-empty", at("files", {}), ("'files' must be an object",)),
    ("file-entry-without-sha", at("files/model.onnx", {"bytes": 1}), ("'files.model.onnx' must be",)),
    ("input-is-list", at("input", [10, 1, 32]), ("'input' must be an object",)),
    ("input-no-time-steps", at("input/time_steps", delete=True), ("'input' lacks 'time_steps'",)),
    ("input-no-shape", at("input/shape", delete=True), ("'input' lacks 'shape'",)),
    ("input-shape-string", at("input/shape", "T,B,32"), ("'input.shape' must be",)),
    ("input-shape-size-string", at("input/shape", ["T", "B", "32"]), ("'input.shape' must be",)),
    ("input-time-steps-string", at("input/time_steps", "10"), ("'input.time_steps' must be an integer",)),
    ("input-time-steps-zero", at("input/time_steps", 0), ("'input.time_steps' must be an integer >= 1",)),
    ("input-dtype-number", at("input/dtype", 32), ("'input.dtype' must be a string",)),
    ("input-dynamic-time-string", at("input/dynamic_time", "yes"), ("'input.dynamic_time' must be true or false",)),
    ("input-t-max-negative", at("input/T_max", -3), ("'input.T_max' must be",)),
    ("outputs-is-object", at("outputs", {"name": "output"}), ("'outputs' must be a list",)),
    ("outputs-empty", at("outputs", []), ("'outputs' must be a list",)),
    ("output-without-name", at("outputs/1", {"layer": "x"}), ("'outputs[1]' must be an object",)),
    ("spikes-shape-not-list", at("outputs/1/shape", "T,B,8"), ("'outputs[1].shape' must be",)),
    ("task-is-string", at("task", "classification"), ("'task' must be an object",)),
    ("task-unknown", at("task/task", "segmentation"), ("'task.task' must be one of",)),
    ("num-classes-string", at("task/num_classes", "10"), ("'task.num_classes' must be an integer",)),
    ("ops-is-object", at("ops", {"LIF": 2}), ("'ops' must be a list",)),
    ("name-is-number", at("name", 5), ("'name' must be a string",)),
    ("graph-format-string", at("graph_format", "2"), ("'graph_format' must be an integer",)),
    ("no-outputs", at("outputs", delete=True), ("lacks 'outputs'",)),
]


@pytest.mark.parametrize("change, fragments", [c[1:] for c in MANIFEST_CASES], ids=[c[0] for c in MANIFEST_CASES])
def test_manifest_fields(tmp_path, tiny_bundle, change, fragments):
    ws = workspace(tmp_path)
    edit_manifest(change)(bundle_copy(tiny_bundle, ws))
    check_case(ws, EVAL, 2, ("manifest.json", *fragments))


def test_manifest_not_json_or_not_an_object(tmp_path, tiny_bundle):
    ws = workspace(tmp_path)
    bundle = bundle_copy(tiny_bundle, ws)
    (bundle / "manifest.json").write_text('{"format": "nsb-bundle", ')
    check_case(ws, EVAL, 2, ("manifest.json", "not valid JSON"))
    (bundle / "manifest.json").write_text('["nsb-bundle"]')
    check_case(ws, EVAL, 2, ("manifest.json", "not an nsb bundle manifest"))


# ONNX files


def external(tensor) -> None:
    """Mark a tensor as stored outside the file, as onnx's save_as_external_data would."""
    import onnx

    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", "../../../etc/passwd"), ("offset", "0"), ("length", "4")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value


def onnx_edit(name: str, edit: Callable) -> Callable[[Path], None]:
    def apply(bundle: Path) -> None:
        import onnx

        model = onnx.load(str(bundle / name), load_external_data=False)
        edit(model)
        (bundle / name).write_bytes(model.SerializeToString())
        rehash(bundle, name)
    return apply


def external_initializer(model) -> None:
    external(model.graph.initializer[0])


def external_function_constant(model) -> None:
    """A Constant node inside the model-local function (the op's body in model.onnx) whose value is external."""
    import onnx

    function = model.functions[0]
    value = onnx.helper.make_tensor("folded", onnx.TensorProto.FLOAT, [1], [0.0])
    function.node.append(onnx.helper.make_node("Constant", [], ["folded_out"], value=value))
    external(function.node[-1].attribute[0].t)


def external_subgraph(model) -> None:
    """An initializer of a Scan body: a subgraph of the main graph in model.std.onnx."""
    import onnx

    for node in model.graph.node:
        for attr in node.attribute:
            if attr.HasField("g"):
                tensor = onnx.helper.make_tensor("hidden", onnx.TensorProto.FLOAT, [1], [0.0])
                attr.g.initializer.append(tensor)
                return external(attr.g.initializer[-1])
    raise AssertionError("model.std.onnx has no subgraph")


def raw(name: str, data: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(bundle: Path) -> None:
        (bundle / name).write_bytes(data((bundle / name).read_bytes()))
        rehash(bundle, name)
    return apply


ONNX_CASES = [
    ("garbage", EVAL, raw("model.onnx", lambda b: b"\xff\xff\xff garbage" * 50), ("model.onnx", "not a readable ONNX")),
    ("truncated", EVAL, raw("model.onnx", lambda b: b[: len(b) // 3]), ("model.onnx", "not a readable ONNX")),
    ("empty-std", EVAL, raw("model.std.onnx", lambda b: b""), ("model.std.onnx", "not a readable ONNX")),
    ("text-std/torchscript", EVAL_TS, raw("model.std.onnx", lambda b: b"ir_version: 8\n"),
     ("model.std.onnx", "not a readable ONNX")),
    ("external-initializer", EVAL, onnx_edit("model.onnx", external_initializer),
     ("model.onnx", "external file ('../../../etc/passwd')")),
    ("external-initializer/onnx-reference", EVAL_REF, onnx_edit("model.onnx", external_initializer),
     ("model.onnx", "never use external data")),
    ("external-in-function", EVAL, onnx_edit("model.onnx", external_function_constant), ("model.onnx", "'folded'")),
    ("external-in-subgraph", EVAL, onnx_edit("model.std.onnx", external_subgraph), ("model.std.onnx", "'hidden'")),
    ("external-std/torchscript", EVAL_TS, onnx_edit("model.std.onnx", external_initializer),
     ("model.std.onnx", "external file")),
    ("changed-after-export", EVAL, lambda b: (b / "model.onnx").write_bytes((b / "model.onnx").read_bytes() + b"\0"),
     ("model.onnx", "sha256")),
]


@pytest.mark.parametrize("args, damage, fragments", [c[1:] for c in ONNX_CASES], ids=[c[0] for c in ONNX_CASES])
def test_onnx_files(tmp_path, tiny_bundle, args, damage, fragments):
    ws = workspace(tmp_path)
    damage(bundle_copy(tiny_bundle, ws))
    check_case(ws, args, 2, fragments)


# symbolic links


def link(name: str, target: str, make: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    def apply(bundle: Path) -> None:
        if make is not None:
            make(bundle)
        (bundle / name).unlink(missing_ok=True)
        (bundle / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, bundle / name)
    return apply


def keep_copy(name: str, copy: str) -> Callable[[Path], None]:
    return lambda bundle: shutil.copy(bundle / name, bundle / copy)


LINK_CASES = [
    ("model-to-copy-inside", link("model.onnx", "model.copy", keep_copy("model.onnx", "model.copy")), "model.onnx -> model.copy"),
    ("reference-outside", link("reference.h5", "/etc/hostname"), "reference.h5 -> /etc/hostname"),
    ("manifest", link("manifest.json", "manifest.real", keep_copy("manifest.json", "manifest.real")), "manifest.json ->"),
    ("dangling", link("notes.txt", "nowhere"), "notes.txt -> nowhere"),
    ("folder-in-reports", link("reports/latest", ".."), "reports/latest -> .."),
    ("unlisted-file", link("extra.onnx", "model.onnx"), "extra.onnx -> model.onnx"),
]


@pytest.mark.parametrize("damage, fragment", [c[1:] for c in LINK_CASES], ids=[c[0] for c in LINK_CASES])
def test_symbolic_links(tmp_path, tiny_bundle, damage, fragment):
    ws = workspace(tmp_path)
    damage(bundle_copy(tiny_bundle, ws))
    check_case(ws, EVAL, 2, ("symbolic link", fragment))


# reference.h5


def edit_reference(change: Callable[[dict, list], None]) -> Callable[[Path], None]:
    """Rewrite reference.h5 with its datasets changed (``None`` drops one), then rehash it."""
    def apply(bundle: Path) -> None:
        path = bundle / "reference.h5"
        datasets: dict[str, np.ndarray] = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: datasets.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
            layers = [s.decode() if isinstance(s, bytes) else str(s) for s in f.attrs["layers"]]
        change(datasets, layers)
        with h5py.File(path, "w") as f:
            f.attrs["format"] = "nsb-reference"
            if layers is not None and layers != ["<none>"]:
                f.attrs["layers"] = np.array(layers, dtype=h5py.string_dtype())
            for name, value in datasets.items():
                if value is not None:
                    f.create_dataset(name, data=value)
        rehash(bundle, "reference.h5")
    return apply


def setting(name: str, fn: Callable[[np.ndarray], np.ndarray | None]) -> Callable[[Path], None]:
    return edit_reference(lambda d, layers: d.__setitem__(name, fn(d[name])))


def no_samples(d: dict, layers: list) -> None:
    for name in d:
        d[name] = d[name][:, :0] if name in ("inputs", "spikes/0") else d[name][:0]


def no_layers_attr(d: dict, layers: list) -> None:
    layers[:] = ["<none>"]


REFERENCE_CASES = [
    ("zero-samples", EVAL, edit_reference(no_samples), "holds no samples"),
    ("label-10", EVAL, setting("labels", lambda y: np.r_[y[:-1], 10]), "to 10, outside the model's 10 outputs"),
    ("label-negative", EVAL_TS, setting("labels", lambda y: np.r_[-1, y[1:]]), "labels run from -1"),
    ("labels-float", EVAL, setting("labels", lambda y: y.astype(np.float32)), "class indices must be integers"),
    ("labels-count", EVAL, setting("labels", lambda y: y[:-1]), "labels have shape [7]"),
    ("inputs-features", EVAL, setting("inputs", lambda x: np.concatenate([x, x[..., :1]], -1)), "reference inputs have shape [10, 8, 33]"),
    ("inputs-time", EVAL, setting("inputs", lambda x: x[:-1]), "inputs have 9 time steps"),
    ("inputs-float64", EVAL, setting("inputs", lambda x: x.astype(np.float64)), "float64"),
    ("inputs-2d", EVAL_REF, setting("inputs", lambda x: x[:, :, 0]), "reference inputs have shape [10, 8]"),
    ("outputs-count", EVAL, setting("outputs", lambda o: o[:-2]), "outputs [6, 10] do not hold the 8 samples"),
    ("no-spikes", EVAL, setting("spikes/0", lambda s: None), "no dataset 'spikes/0'"),
    ("no-spike-counts", EVAL_TS, setting("spike_counts/0", lambda s: None), "no dataset 'spike_counts/0'"),
    ("no-labels", EVAL, setting("labels", lambda s: None), "no dataset 'labels'"),
    ("no-inputs", EVAL, setting("inputs", lambda s: None), "no dataset 'inputs'"),
    ("spikes-neurons", EVAL, setting("spikes/0", lambda s: s[..., :7]), "spikes/0 has shape [10, 8, 7]"),
    ("spikes-time", EVAL, setting("spikes/0", lambda s: s[:4]), "spikes/0 has shape [4, 8, 8]"),
    ("spikes-flat", EVAL, setting("spikes/0", lambda s: s.reshape(10, -1)), "spikes/0 has shape [10, 64]"),
    ("spike-counts-shape", EVAL, setting("spike_counts/0", lambda c: c[:, :5]), "spike_counts/0 has shape [8, 5]"),
    ("no-layers-attribute", EVAL, edit_reference(no_layers_attr), "lacks its 'layers' attribute"),
    ("extra-layer", EVAL, edit_reference(lambda d, layers: layers.append("layers.1.neuron")),
     "2 spiking layers, the manifest 1"),
    ("not-hdf5", EVAL, raw("reference.h5", lambda b: b"not hdf5" * 100), "unreadable or incomplete"),
    ("truncated", EVAL, raw("reference.h5", lambda b: b[:2000]), "unreadable or incomplete"),
]


@pytest.mark.parametrize("args, damage, fragment", [c[1:] for c in REFERENCE_CASES], ids=[c[0] for c in REFERENCE_CASES])
def test_reference_data(tmp_path, tiny_bundle, args, damage, fragment):
    ws = workspace(tmp_path)
    damage(bundle_copy(tiny_bundle, ws))
    check_case(ws, args, 2, ("reference", fragment))


def test_tiny_bundle_as_copied_evaluates(tmp_path, tiny_bundle):
    """The control for the bundle tables: the copied bundle, and one only rehashed, evaluate cleanly."""
    ws = workspace(tmp_path)
    bundle = bundle_copy(tiny_bundle, ws)
    edit_reference(lambda d, layers: None)(bundle)
    onnx_edit("model.onnx", lambda m: None)(bundle)
    outcome = run_nsb(EVAL + ["--out", str(tmp_path / "reports")], ws)
    assert outcome.code == 0, outcome.stderr
