"""The complete kernel and plugin source tree: the hand-written files shipped with nsb (package data
``nsb.plugins_trt``, the repository's ``plugins_trt/``) and the op code generated for the registered
neurons (:mod:`nsb.ops.cpp`), so a neuron registered at run time has its kernels too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from nsb.errors import NsbError


def shipped_root() -> Path:
    """The installed ``plugins_trt`` folder (in a checkout's editable install: the checkout's)."""
    from importlib.resources import files

    try:
        root = Path(str(files("nsb.plugins_trt")))
    except ModuleNotFoundError:
        root = None
    if root is None or not (root / "kernels" / "neuron_kernels.cuh").is_file():
        raise NsbError("the nsb kernel sources (package data nsb.plugins_trt) are missing from this installation; "
                       "reinstall nsb")
    return root


def tree() -> dict[str, bytes]:
    """``{path under the source root: content}``: the shipped hand-written files and the op code
    generated for the registered neurons (``ops/``, ``plugins/<op>/``, ``harness/cases.inc``)."""
    from nsb.ops.codegen import MARKER
    from nsb.ops.cpp import sources

    root = shipped_root()
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
             if p.is_file() and p.suffix in (".cuh", ".cu", ".cpp", ".h", ".txt") and "__pycache__" not in p.parts}
    # generated files left in an install by an older build are not sources: they are regenerated below
    files = {path: data for path, data in files.items() if not data.startswith(MARKER.encode())}
    files.update({path: text.encode() for path, text in sources().items()})
    return files


def digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + files[path] + b"\0")
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get("NSB_CACHE", Path.home() / ".cache" / "nsb"))


def write_tree(dest: Path, files: dict[str, bytes] | None = None) -> Path:
    files = tree() if files is None else files
    for rel, data in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return dest


def cached_tree() -> tuple[Path, str]:
    """The tree written once into the cache, named by its digest; returns (folder, digest)."""
    files = tree()
    key = digest(files)
    folder = cache_dir() / f"src-{key}"
    if not (folder / "kernels" / "neuron_kernels.cuh").is_file():
        cache_dir().mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".src-", dir=cache_dir()))
        write_tree(staging, files)
        try:
            os.replace(staging, folder)
        except OSError:  # another process won the race; its copy is the same
            shutil.rmtree(staging, ignore_errors=True)
    return folder, key
