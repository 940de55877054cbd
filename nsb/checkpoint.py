"""Checkpoints: written atomically, read with ``weights_only=True`` (nothing is unpickled).

A checkpoint is a dict of tensors and plain values: the config, the model, optimiser and
scheduler states, the epoch, the RNG states needed to resume bit-exactly, and the metrics so far.
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
    return data
