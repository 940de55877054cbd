"""File helpers shared by the real data sets: finding files, gzip-or-plain, clear errors, downloads."""

from __future__ import annotations

import gzip
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from nsb.errors import DataError


def find(folders: Iterable[Path], names: Iterable[str]) -> Path | None:
    """The first existing ``folder/name`` (each name also tried with and without ``.gz``)."""
    for folder in folders:
        for name in names:
            for candidate in (name, name + ".gz") if not name.endswith(".gz") else (name, name[:-3]):
                path = folder / candidate
                if path.is_file():
                    return path
    return None


def missing(dataset: str, folders: list[Path], expected: Iterable[str], how: str) -> DataError:
    where = " or ".join(str(f) for f in folders)
    return DataError(f"{dataset} files not found in {where}: expected {', '.join(expected)}; {how}")


def open_binary(path: Path) -> IO[bytes]:
    """Open a file that may be gzip-compressed (decided by its magic bytes, not its name)."""
    with path.open("rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else path.open("rb")


def download(url: str, target: Path) -> None:
    """Fetch ``url`` to ``target`` atomically (a temporary file, then a rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, tmp)
        except (urllib.error.URLError, OSError) as err:
            Path(tmp.name).unlink(missing_ok=True)
            raise DataError(f"could not download {url} ({err}); check the network or fetch it by hand into "
                            f"{target.parent}") from None
    Path(tmp.name).replace(target)
