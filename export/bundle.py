"""Write a deployment bundle directory atomically (docs/architecture.md §7).

Every file is first written into a hidden sibling directory; the manifest, which holds each file's
sha256, comes last; then the directory replaces the old bundle with two renames. A crash leaves the
old bundle or the new one, never a mix, and a re-export removes files the new bundle no longer has.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from nsb.paths import BUNDLE_FORMAT, check_bundle_target

FORMAT = BUNDLE_FORMAT
FORMAT_VERSION = 1


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _test_hook(point: str) -> None:
    """The kill tests stop the process here (``NSB_TEST_KILL=<point>``), between the two renames that no
    signal sent from outside can reliably hit."""
    if os.environ.get("NSB_TEST_KILL") == point:
        os.kill(os.getpid(), signal.SIGKILL)


def write_bundle(target: Path, files: dict[str, bytes], manifest: dict[str, Any]) -> Path:
    target = Path(target)
    check_bundle_target(target)  # again: the folder may have filled while the model was exported
    target.parent.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest,
                "files": {name: {"sha256": sha256(data), "bytes": len(data)} for name, data in sorted(files.items())}}
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        for name, data in files.items():
            with open(staging / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        _test_hook("bundle-staged")
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.rmdir(old)
            os.replace(target, old)
            _test_hook("bundle-swap")
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
