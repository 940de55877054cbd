"""The benchmark's TOML (``configs/neurobench/mackey_glass.toml``, shipped with nsb), checked key by key.

Sections: ``[protocol]`` (repeats, the series' solver and seed, rk4's dt, the validation window), ``[lstm]`` + ``[lstm.fit]``, ``[esn]``, ``[snn]`` +
``[snn.neuron_args]`` (keyword arguments of the nsb neuron) + ``[snn.fit]``, ``[lsm]``, ``[ttfs]``. A misspelled key is an
``NsbError`` naming it and the closest valid key, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from nsb.tasks.mackey_glass.baselines import ESNOptions
from nsb.tasks.mackey_glass.lsm import LSMOptions
from nsb.tasks.mackey_glass.snn import SNNOptions
from nsb.tasks.mackey_glass.training import FitOptions
from nsb.tasks.mackey_glass.ttfs import TTFSOptions
from nsb.errors import ConfigError, closest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# shipped as package data of nsb.configs (configs/neurobench/ in a checkout), so an installed nsb finds it too
DEFAULT_CONFIG = ("nsb.configs", "neurobench/mackey_glass.toml")


@dataclass
class LSTMOptions:
    window: int = 50
    hidden: int = 100


@dataclass
class Settings:
    repeats: int = 30
    solver: str = "jitcdde"      # NeuroBench's; "rk4" is nsb's own solver
    series_seed: int = 0         # jitcdde_lyap's numpy seed
    dt: float = 0.1              # rk4's step
    validation_points: int = 150  # the end of the training segment on which ridge λ is chosen
    lstm: LSTMOptions = field(default_factory=LSTMOptions)
    lstm_fit: FitOptions = field(default_factory=FitOptions)
    esn: ESNOptions = field(default_factory=ESNOptions)
    snn: SNNOptions = field(default_factory=SNNOptions)
    snn_fit: FitOptions = field(default_factory=FitOptions)
    lsm: LSMOptions = field(default_factory=LSMOptions)
    ttfs: TTFSOptions = field(default_factory=TTFSOptions)


def _fill(cls: type, values: dict[str, Any], where: str, skip: tuple[str, ...] = ()) -> Any:
    names = [f.name for f in dataclasses.fields(cls) if f.name != "neuron_kwargs" and f.name not in skip]
    for key in values:
        if key not in names:
            raise ConfigError(f"unknown key '{where}.{key}'{closest(key, names)}; valid: {', '.join(names)}")
    defaults = cls()
    for key, value in values.items():
        want = type(getattr(defaults, key))
        ok = isinstance(value, want) and not (want is not bool and isinstance(value, bool))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise ConfigError(f"'{where}.{key}' must be {want.__name__}, got {value!r}")
    return cls(**values)


def settings_from_dict(raw: dict[str, Any]) -> Settings:
    sections = ("protocol", "lstm", "esn", "snn", "lsm", "ttfs")
    for key in raw:
        if key not in sections:
            raise ConfigError(f"unknown section '[{key}]'{closest(key, sections)}; valid: {', '.join(sections)}")
    s = _fill(Settings, dict(raw.get("protocol", {})), "protocol",
              skip=("lstm", "lstm_fit", "esn", "snn", "snn_fit", "lsm", "ttfs"))
    lstm = dict(raw.get("lstm", {}))
    s.lstm_fit = _fill(FitOptions, lstm.pop("fit", {}), "lstm.fit")
    s.lstm = _fill(LSTMOptions, lstm, "lstm")
    s.esn = _fill(ESNOptions, raw.get("esn", {}), "esn")
    s.lsm = _fill(LSMOptions, raw.get("lsm", {}), "lsm")
    s.ttfs = _fill(TTFSOptions, raw.get("ttfs", {}), "ttfs")
    snn = dict(raw.get("snn", {}))
    s.snn_fit = _fill(FitOptions, snn.pop("fit", {}), "snn.fit")
    neuron = snn.pop("neuron_args", {})
    s.snn = _fill(SNNOptions, snn, "snn")
    s.snn.neuron_kwargs = dict(neuron)
    return s


def default_config_text() -> str:
    """The shipped ``configs/neurobench/mackey_glass.toml``, read as package data of ``nsb.configs``."""
    package, name = DEFAULT_CONFIG
    resource = files(package).joinpath(name)
    if not resource.is_file():
        raise ConfigError(f"the shipped Mackey-Glass config {name} is missing from {package}; reinstall nsb or "
                          "pass --config FILE")
    return resource.read_text()


def load_settings(path: Path | str | None = None) -> Settings:
    """Read the TOML at ``path`` (default: the shipped ``configs/neurobench/mackey_glass.toml``)."""
    where = str(path) if path is not None else f"{DEFAULT_CONFIG[0]}:{DEFAULT_CONFIG[1]}"
    if path is None:
        text = default_config_text()
    else:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        text = path.read_text()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}: not valid TOML ({err})") from None
    return settings_from_dict(raw)
