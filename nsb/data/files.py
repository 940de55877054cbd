"""File helpers shared by the real data sets: finding files, gzip-or-plain, clear errors, downloads."""

from __future__ import annotations

import gzip
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from nsb.errors import DataError


def find(folders: Iterable[Path], names: Iterable[str]) -> Path | None:
    """The first existing ``folder/name`` (each name also tried with and without ``.gz``). A folder where the
    file belongs is refused rather than passed over, so the user is told what is in the way."""
    for folder in folders:
        for name in names:
            for candidate in (name, name + ".gz") if not name.endswith(".gz") else (name, name[:-3]):
                path = folder / candidate
                if path.is_dir():
                    raise DataError(f"{path} is a folder, but the data file {candidate} belongs there; move the "
                                    "folder away and put the file in its place")
                if path.is_file():
                    return path
    return None


def check_file(path: Path, what: str, fix: str) -> None:
    """``path`` is a readable, non-empty file, else one line saying which and ``fix``."""
    if path.is_dir():
        raise DataError(f"{path} is a folder, not {what}; {fix}")
    if not path.is_file():
        raise DataError(f"{path} not found ({what}); {fix}")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes), not {what}; {fix}")


def missing(dataset: str, folders: list[Path], expected: Iterable[str], how: str) -> DataError:
    where = " or ".join(str(f) for f in folders)
    return DataError(f"{dataset} files not found in {where}: expected {', '.join(expected)}; {how}")


def open_binary(path: Path) -> IO[bytes]:
    """Open a file that may be gzip-compressed (decided by its magic bytes, not its name)."""
    with path.open("rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else path.open("rb")


def read_bytes(path: Path, fix: str) -> bytes:
    """The whole content of a file that may be gzip-compressed (by its magic bytes), decompressed. A gzip
    stream that is truncated or corrupt (bad header, bad data, CRC or length mismatch) is one line naming
    the file, with ``fix``; so is a ``.gz`` name on a file that is not gzip."""
    with path.open("rb") as f:
        magic = f.read(2)
    if magic != b"\x1f\x8b":
        if path.suffix == ".gz":
            raise DataError(f"{path} is named .gz but is not gzip-compressed (it starts with {magic!r}); {fix}")
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except EOFError:
        raise DataError(f"{path} is a truncated gzip archive (it ends before the compressed stream does); "
                        f"{fix}") from None
    except (gzip.BadGzipFile, zlib.error) as err:
        raise DataError(f"{path} is a corrupt gzip archive ({err}); {fix}") from None


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
