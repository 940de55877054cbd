"""Checkpoints: atomic writes survive a crash; corrupt or foreign files are refused clearly."""


import pytest
import torch

from nsb.checkpoint import atomic_write_bytes, load_checkpoint, save_checkpoint
from nsb.errors import CheckpointError


def payload(epoch=1, **extra):
    """What nsb train saves, in miniature: every key a reader needs."""
    return {"config": {"name": "t"}, "model": {"w": torch.arange(3.0)}, "optimizer": {"state": {}},
            "epoch": epoch, "rng_cpu": torch.get_rng_state(), **extra}


def test_round_trip(tmp_path):
    path = tmp_path / "run" / "checkpoint.pt"
    save_checkpoint(path, payload(epoch=2))
    data = load_checkpoint(path)
    assert data["epoch"] == 2 and torch.equal(data["model"]["w"], torch.arange(3.0))


def test_crash_during_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, payload(epoch=1))
    before = path.read_bytes()

    class Boom(Exception):
        pass

    real_fsync = __import__("os").fsync

    def crash(fd):
        raise Boom("power cut")

    monkeypatch.setattr("os.fsync", crash)
    with pytest.raises(Boom):
        save_checkpoint(path, payload(epoch=2))
    monkeypatch.setattr("os.fsync", real_fsync)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"], "no temporary file may be left behind"
    assert load_checkpoint(path)["epoch"] == 1


def test_atomic_write_replaces(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write_bytes(path, b"one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"


def test_missing_corrupt_and_foreign(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(corrupt)
    truncated = tmp_path / "truncated.pt"
    save_checkpoint(truncated, payload(model={"w": torch.zeros(1000)}))
    truncated.write_bytes(truncated.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not an nsb checkpoint"):
        load_checkpoint(foreign)


@pytest.mark.parametrize("change, message", [
    ({"model": None}, "lacks 'model'"),
    ({"epoch": None}, "lacks 'epoch'"),
    ({"epoch": "3"}, "'epoch' is '3'"),
    ({"config": [1]}, "'config' is a list"),
    ({"model": {"w": torch.tensor([1.0, float("nan")])}}, "holds 1 NaN value"),
    ({"model": {"w": torch.tensor([float("inf")] * 2)}}, "holds 2 infinite values"),
])
def test_missing_keys_wrong_types_and_nan_weights(tmp_path, change, message):
    data = payload()
    for key, value in change.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, data)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


class Payload:
    """Unpickling this would create a file (``open(path, "w")``)."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_pickled_objects_are_never_executed(tmp_path):
    evil = tmp_path / "evil.pt"
    target = tmp_path / "created-by-the-pickle"
    torch.save({**payload(), "format": "nsb-checkpoint", "version": 1, "x": Payload(target)}, evil)
    with pytest.raises(CheckpointError, match="does not load"):
        load_checkpoint(evil)
    assert not target.exists(), "the pickle's payload ran"
    torch.load(evil, weights_only=False)  # the control: an unsafe load does run it
    assert target.exists()
