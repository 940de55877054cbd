"""Checkpoints: written atomically, read with ``weights_only=True`` (nothing is unpickled).

A checkpoint is a dict of tensors and plain values: the config, the model, optimiser and
scheduler states, the epoch, the RNG states needed to resume bit-exactly, and the metrics so far.
:func:`load_checkpoint` refuses, with one line, a file that lacks one of the keys every reader needs
(:data:`REQUIRED`), holds one of the wrong type, or whose model weights are not all finite (a diverged
run's NaN is never resumed, exported or measured).
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from nsb import __version__
from nsb.errors import CheckpointError

FORMAT = "nsb-checkpoint"
VERSION = 1
# what resume, export and metrics read, with the type nsb train writes
REQUIRED: dict[str, str] = {
    "config": "a config table (dict)",
    "model": "a state dict of tensors",
    "optimizer": "an optimiser state (dict)",
    "epoch": "a whole number of epochs >= 0",
    "rng_cpu": "torch's CPU RNG state (a uint8 tensor)",
}
OPTIONAL: dict[str, type] = {"scheduler": dict, "history": list, "best": dict}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, "nsb_version": __version__, **payload}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder, not a file; pass the run directory that holds "
                              "checkpoint.pt (nsb train writes it)")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found; train first (nsb train) or pass the run directory "
                              f"that holds checkpoint.pt")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; anything else is damaged or foreign
        raise CheckpointError(f"checkpoint {path} is corrupt or not a PyTorch file (not a zip archive); "
                              "delete it and train again, or resume from another run")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"checkpoint {path} is corrupt or not a PyTorch file ({reason[:120]}); "
                              "delete it and train again, or resume from another run") from None
    except Exception as err:  # weights_only refuses foreign pickles with UnpicklingError
        raise CheckpointError(f"checkpoint {path} holds objects nsb does not load ({type(err).__name__}); "
                              "only checkpoints written by nsb train are accepted") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an nsb checkpoint (no '{FORMAT}' marker); "
                              "pass a checkpoint.pt written by nsb train")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{path} is an nsb checkpoint of format version {data.get('version')}, this nsb "
                              f"reads version {VERSION}; use the nsb version that wrote it")
    check_contents(data, path)
    return data


def check_contents(data: dict[str, Any], path: Path) -> None:
    """The keys every reader needs, their types, and finite model weights."""
    fix = "it was not written whole by nsb train; resume from another checkpoint or train again"
    for key, what in REQUIRED.items():
        if key not in data:
            raise CheckpointError(f"checkpoint {path} lacks '{key}' ({what}); {fix}")
    config, model, epoch, rng = data["config"], data["model"], data["epoch"], data["rng_cpu"]
    if not isinstance(config, dict):
        raise CheckpointError(f"checkpoint {path}: 'config' is a {type(config).__name__}, not {REQUIRED['config']}; {fix}")
    if not isinstance(model, dict) or not model \
            or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in model.items()):
        raise CheckpointError(f"checkpoint {path}: 'model' is not {REQUIRED['model']} (names to tensors); {fix}")
    if not isinstance(data["optimizer"], dict):
        raise CheckpointError(f"checkpoint {path}: 'optimizer' is a {type(data['optimizer']).__name__}, not "
                              f"{REQUIRED['optimizer']}; {fix}")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise CheckpointError(f"checkpoint {path}: 'epoch' is {epoch!r}, not {REQUIRED['epoch']}; {fix}")
    if not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8:
        raise CheckpointError(f"checkpoint {path}: 'rng_cpu' is not {REQUIRED['rng_cpu']}; {fix}")
    for key, kind in OPTIONAL.items():
        if data.get(key) is not None and not isinstance(data[key], kind):
            raise CheckpointError(f"checkpoint {path}: '{key}' is a {type(data[key]).__name__}, not a "
                                  f"{kind.__name__}; {fix}")
    for name, tensor in model.items():
        if tensor.is_floating_point() or tensor.is_complex():
            finite = torch.isfinite(tensor)
            if not bool(finite.all()):
                bad = int((~finite).sum())
                what = "NaN" if bool(torch.isnan(tensor).any()) else "infinite"
                raise CheckpointError(f"checkpoint {path}: model weight '{name}' holds {bad} {what} value"
                                      f"{'s' if bad > 1 else ''}; the training diverged, so nsb will not resume, "
                                      "export or measure it: train again with a lower train.lr (or resume an "
                                      "earlier run)")
