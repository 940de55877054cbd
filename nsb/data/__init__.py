"""Data sets, one module each; the registry maps a config's ``data.name`` to its module.

Every module exposes ``Options`` (a dataclass of the settings it accepts under ``[data]`` in a
config; unknown keys are refused with a suggestion) and ``load(options, root, seed) -> TaskData``.
Real data sets read their files from ``root``; a missing directory raises
:class:`nsb.errors.DataError` naming the files expected and how to get them (each module also
has a ``download(root)`` for users with a network). Generated tasks ignore ``root``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from nsb.data.common import TaskData, time_major_collate

__all__ = ["DATASETS", "TaskData", "dataset_module", "time_major_collate"]

# name -> module; imported lazily so that `import nsb.data` stays cheap.
DATASETS: dict[str, str] = {
    "randman": "nsb.data.randman",
    "binary_adding": "nsb.data.binary_adding",
    "mackey_glass": "nsb.data.mackey_glass",
    "psmnist": "nsb.data.psmnist",
    "ptb": "nsb.data.ptb",
    "shd": "nsb.data.shd",
    "ssc": "nsb.data.ssc",
    "dvs_gesture": "nsb.data.dvs_gesture",
    "mswc": "nsb.data.mswc",
    "keywords_synthetic": "nsb.data.keywords_synthetic",
    "autonomous_localisation": "nsb.data.autonomous_localisation",
}


def dataset_module(name: str) -> ModuleType:
    from nsb.errors import ConfigError, unknown

    if name not in DATASETS:
        raise ConfigError(unknown("data set", name, DATASETS))
    return importlib.import_module(DATASETS[name])


def load_task(name: str, root: str, options: dict, seed: int) -> TaskData:
    """Check ``options`` against the data set's ``Options`` and load it."""
    import dataclasses
    from pathlib import Path

    from nsb.errors import ConfigError, closest

    module = dataset_module(name)
    fields = {f.name: f for f in dataclasses.fields(module.Options)}
    for key in options:
        if key not in fields:
            raise ConfigError(f"data set '{name}' has no option 'data.{key}'{closest(key, fields)}; "
                              f"it accepts: name, root, {', '.join(fields)}")
    for key, value in options.items():
        check_option(name, fields[key], value)
    try:
        opts = module.Options(**options)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"data set '{name}': bad option ({err})") from None
    if hasattr(module, "generated_bytes"):  # generated in memory: refuse a size the machine cannot hold
        from nsb.memory import check_fits

        check_fits(module.generated_bytes(opts), f"data set '{name}' with these sizes", "lower its sizes "
                   "(data.train_per_class, data.train_size, data.time_steps, ...)")
    return module.load(opts, Path(root).expanduser(), seed)


def check_option(data_set: str, option, value, where: str | None = None) -> None:
    """The type and range of one ``[data]`` option, from its ``Options`` field: a count whose default is at
    least 1 must be at least 1 (sizes, steps, classes), other counts at least 0, real numbers finite and
    non-negative (durations, jitters, rates). A data set with other rules checks them in its ``load``."""
    import math
    import typing

    from nsb.config import _describe, _type_ok
    from nsb.errors import ConfigError

    annotation = option.type
    if isinstance(annotation, str):
        annotation = eval(annotation, vars(typing) | {"Literal": typing.Literal})  # noqa: S307 - our annotations
    where = where or f"data set '{data_set}': 'data.{option.name}'"
    if not _type_ok(value, annotation):
        raise ConfigError(f"{where} must be {_describe(annotation)}, got {value!r}")
    default = option.default
    if annotation is int and isinstance(default, int):
        low = 1 if default >= 1 else 0
        if value < low:
            raise ConfigError(f"{where} must be a whole number >= {low}, got {value!r}")
    elif annotation is float:
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{where} must be a finite number >= 0, got {value!r}")
