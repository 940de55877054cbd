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
