"""User-facing errors: one line that names the problem and the fix.

The CLI turns an :class:`NsbError` into that line and exit code 2, never a traceback. Library
code raises it wherever the cause is the user's input (a file, a config key, a shape) rather
than a bug in nsb.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class NsbError(Exception):
    """A problem with the user's input; ``str(err)`` is the whole message, fix included."""


class ConfigError(NsbError):
    """A malformed, misspelled or mistyped configuration value."""


class DataError(NsbError):
    """Missing, corrupt or wrongly shaped data."""


class CheckpointError(NsbError):
    """A checkpoint that is missing, corrupt or was not written by nsb."""


def closest(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the nearest choice, or ``""`` if none is close."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def unknown(kind: str, name: str, choices: Iterable[str]) -> str:
    """Message for an unknown registry name, listing what exists."""
    choices = sorted(choices)
    return f"unknown {kind} '{name}'{closest(name, choices)}; choose one of: {', '.join(choices)}"


class InternalError(Exception):
    """A broken invariant inside nsb: a bug, never the user's input (the CLI exits 3 for it)."""


def system_error(err: OSError) -> str:
    """One line for an operating-system error: which file, what the system said, what to do."""
    import errno

    where = f" {err.filename}" if err.filename else ""
    fixes = {
        errno.ENOSPC: "the disk is full; free space or write somewhere else (--out, --name, out_dir)",
        errno.EDQUOT: "the disk quota is exhausted; free space or write somewhere else",
        errno.EROFS: "the file system is read-only; write somewhere else (--out, --report-dir, out_dir)",
        errno.EACCES: "permission denied; write somewhere you own or fix the permissions",
        errno.EPERM: "operation not permitted; write somewhere you own",
        errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
        errno.EISDIR: "the path is a folder, not a file; pass a file",
        errno.ENOENT: "no such file or folder; check the path",
        errno.ENAMETOOLONG: "the path is too long; choose a shorter one",
    }
    fix = fixes.get(err.errno, f"{err.strerror or type(err).__name__}; check the path and the disk")
    return f"cannot use{where}: {fix}"


def report_bug(err: BaseException) -> str:
    """One line for an unexpected exception: it is nsb's fault. The traceback goes to a file, not the screen."""
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    try:
        with tempfile.NamedTemporaryFile("w", prefix="nsb-bug-", suffix=".txt", delete=False) as f:
            f.write(text)
        where = f"; the traceback is in {f.name}"
    except OSError:
        where = "; run again with NSB_DEBUG=1 for the traceback"
    first = str(err).splitlines()[0][:200] if str(err) else ""
    return (f"this is a bug in nsb ({type(err).__name__}{': ' + first if first else ''}){where}; "
            "please report it with the command you ran")
