"""Where nsb may write: plain names, writable folders, and bundle targets it owns.

Every command checks its output location here *before* any work, so that a wrong path costs one
line and no time, and so that nsb never deletes or overwrites a folder it did not create
(docs/reliability.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from nsb.errors import NsbError

# pseudo file systems: writing there is never what the user meant
SYSTEM_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))
BUNDLE_FORMAT = "nsb-bundle"  # export.bundle.FORMAT; repeated so that this module needs no torch


def plain_name(name: object, what: str) -> str:
    """A run or bundle name: one path component, so that ``runs/<name>`` stays inside ``runs/``."""
    if not isinstance(name, str) or not name.strip():
        raise NsbError(f"{what} must be a non-empty name, got {name!r}")
    bad = (name in (".", "..") or "/" in name or "\\" in name or "\0" in name or name.startswith("~")
           or Path(name).is_absolute() or name != name.strip())
    if bad:
        raise NsbError(f"{what} '{name}' is not a plain name (no '/', '\\', '..', '~' or surrounding spaces); "
                       f"use letters, digits, '-', '_' or '.', e.g. my-run")
    if len(name.encode()) > 200:
        raise NsbError(f"{what} is {len(name.encode())} bytes long; use a name of at most 200 bytes")
    return name


def _under_system(path: Path) -> Path | None:
    for root in SYSTEM_ROOTS:
        if path == root or root in path.parents:
            return root
    return None


def check_writable(folder: Path, what: str) -> Path:
    """Refuse, before any work, a folder nsb could not create or write: under a regular file, under
    /proc, /sys or /dev, or on a read-only or unwritable file system."""
    folder = Path(os.path.abspath(folder))
    system = _under_system(folder)
    if system is not None:
        raise NsbError(f"{what} {folder} is under {system}, a system folder; write somewhere else")
    existing = folder
    while not existing.exists():
        if existing.is_symlink():  # a dangling link: creating through it would write elsewhere
            raise NsbError(f"{what} {folder}: {existing} is a broken symbolic link; remove it or choose another path")
        existing = existing.parent
    if not existing.is_dir():
        raise NsbError(f"{what} {folder} is under {existing}, which is a file, not a folder; choose another path")
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "is on a read-only file system" if _read_only(existing) else "is not writable by you"
        raise NsbError(f"{what} {folder}: {existing} {reason}; write somewhere else")
    return folder


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def is_bundle(folder: Path) -> bool:
    """An nsb bundle: its manifest says so."""
    manifest = folder / "manifest.json"
    if not manifest.is_file() or manifest.is_symlink():
        return False
    try:
        return json.loads(manifest.read_text()).get("format") == BUNDLE_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def check_bundle_target(out: Path, source: Path | None = None) -> None:
    """``nsb export --out``: absent, empty, or an nsb bundle that the export may replace. Anything else (a run,
    a folder of other files, the run being exported) is someone's data and is refused."""
    out = Path(out)
    recover_bundle(out)
    if out.is_symlink():
        raise NsbError(f"--out {out} is a symbolic link; pass the real folder, nsb does not replace links")
    if source is not None and out.exists():
        here, there = out.resolve(), Path(source).resolve()
        if here == there or there in here.parents or here in there.parents:
            raise NsbError(f"--out {out} is the run being exported (or holds it); write the bundle elsewhere, "
                           f"e.g. --out bundle/{there.name}")
    if out.exists():
        if not out.is_dir():
            raise NsbError(f"--out {out} is a file; pass a folder that is absent, empty or an nsb bundle")
        if any(out.iterdir()) and not is_bundle(out):
            raise NsbError(f"--out {out} holds files that are not an nsb bundle; nsb export only replaces its own "
                           f"bundles: pass an absent or empty folder")
    # the new bundle is staged beside the target and renamed into place
    check_writable(out.parent, f"--out {out}: the folder")


def recover_bundle(target: Path) -> None:
    """Finish a bundle swap that a crash interrupted. ``export.bundle.write_bundle`` moves the old bundle
    aside (``.<name>.*.old``) and then the new one into place; killed between the two renames, the target is
    missing and the old bundle waits beside it: put it back. Leftover staging folders (``.<name>.*.tmp``,
    never a complete bundle until renamed) and old copies whose replacement landed are removed."""
    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        return
    olds = sorted(parent.glob(f".{target.name}.*.old"), key=lambda p: p.stat().st_mtime)
    stale = list(parent.glob(f".{target.name}.*.tmp"))
    if not os.access(parent, os.W_OK) or not (olds or stale):
        return
    import shutil

    if not target.exists() and olds and is_bundle(olds[-1]):
        os.replace(olds.pop(), target)
    for leftover in olds + stale:
        shutil.rmtree(leftover, ignore_errors=True)
