"""Run configuration: a TOML file, checked key by key, with ``--set section.key=value`` overrides.

Layout (every key optional; the defaults are ``configs/default.toml``)::

    name = "default"            # run name: runs/<name>/
    seed = 1234

    [data]                      # name + the data set's own options (nsb.data.<name>.Options)
    [model]                     # architecture (ModelConfig)
    [neuron]                    # the neuron's keyword arguments (decay, threshold, ...)
    [surrogate]                 # name and alpha
    [train]                     # optimiser, schedule, learning rule (TrainConfig)

A misspelled key, a wrong type or an unknown name is a :class:`ConfigError` naming the key, the
file and the closest valid key. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from nsb.errors import ConfigError, NsbError, closest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class DataConfig:
    name: str = "randman"
    root: str = "data"  # folder of the real data sets; generated ones ignore it
    options: dict[str, Any] = field(default_factory=dict)  # every other key of [data]


@dataclass
class ModelConfig:
    kind: str = "classifier"  # classifier, language, conv, or an architecture of nsb.architectures
    neuron: str = "lif"
    hidden: list[int] = field(default_factory=lambda: [128, 128])
    recurrent: bool | list[bool] = False  # one flag for all hidden layers, or one per layer
    norm: str | list[str] = "none"  # none, bn, tdbn, tebn, bntt, layernorm; one for all layers or one per layer
    dropout: float | list[float] = 0.0  # after each hidden layer (locked: one mask per sequence)
    readout: Literal["mean", "last", "sum", "all"] = "mean"  # how per-step outputs become a prediction
    # language model
    embedding_dim: int = 400
    dropout_embedding: float = 0.4
    dropout_words: float = 0.1
    tie_weights: bool = True
    # conv model
    channels: list[int] = field(default_factory=lambda: [16, 32])


@dataclass
class SurrogateConfig:
    name: str = "rectangle"
    alpha: float = 1.0


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    eval_batch_size: int = 0  # 0: same as batch_size (language: 10 for valid, 1 for test as the seed)
    lr: float = 1e-3
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    momentum: float = 0.0
    weight_decay: float = 1e-2
    grad_clip: float = 0.0  # max gradient norm; 0 disables
    scheduler: Literal["none", "step", "cosine"] = "none"
    step_size: int = 10
    gamma: float = 0.8
    label_smoothing: float = 0.0
    learning_rule: str = "stbp"
    truncation: int = 0  # K for tstbp
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    limit_train_batches: int = 0  # > 0: stop each epoch after this many batches (smoke runs)
    limit_eval_batches: int = 0
    num_workers: int = 0


@dataclass
class Config:
    name: str = "default"
    seed: int = 1234
    out_dir: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    neuron: dict[str, Any] = field(default_factory=dict)
    surrogate: SurrogateConfig = field(default_factory=SurrogateConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    arch: dict[str, Any] = field(default_factory=dict)  # the architecture's own options (model.kind's Options)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["data"] = {"name": self.data.name, "root": self.data.root, **self.data.options}
        return d

    # per-layer views of the model settings
    def layer_flags(self, value: Any, kind: type, what: str) -> list:
        n = len(self.model.hidden)
        if isinstance(value, list):
            if len(value) != n:
                raise ConfigError(f"model.{what} has {len(value)} entries but model.hidden has {n} layers; "
                                  f"give one per layer or a single value")
            return [kind(v) for v in value]
        return [kind(value)] * n


SECTIONS = {"data": DataConfig, "model": ModelConfig, "surrogate": SurrogateConfig, "train": TrainConfig}
FREE_SECTIONS = {"neuron", "arch"}  # checked against the neuron's / the architecture's options at build time


def _type_ok(value: Any, annotation: Any) -> bool:
    if isinstance(annotation, str):
        annotation = eval(annotation, vars(typing) | {"Literal": Literal})  # noqa: S307 - our own annotations
    origin = get_origin(annotation)
    if origin is Literal:
        return value in get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in get_args(annotation))
    if origin is list:
        (item,) = get_args(annotation)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin is tuple:
        item = get_args(annotation)[0]
        return isinstance(value, (list, tuple)) and all(_type_ok(v, item) for v in value)
    if origin is dict or annotation is Any:
        return True
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _describe(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    return getattr(annotation, "__name__", str(annotation))


def _fill(section: str, cls: type, values: dict[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in fields or key == "options":
            raise ConfigError(f"{where}: unknown key '{section}.{key}'{closest(key, fields)}")
        annotation = fields[key].type
        if not _type_ok(value, annotation):
            raise ConfigError(f"{where}: '{section}.{key}' must be {_describe(annotation)}, got {value!r}")
        if isinstance(value, int) and not isinstance(value, bool) and "float" in str(annotation) \
                and "int" not in str(annotation):
            value = float(value)
        kwargs[key] = value
    return cls(**kwargs)


def from_dict(raw: dict[str, Any], where: str = "config") -> Config:
    top = {f.name for f in dataclasses.fields(Config)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in top:
            raise ConfigError(f"{where}: unknown key '{key}'{closest(key, top)}")
        if key in SECTIONS or key in FREE_SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{key}' must be a table [{key}], got {value!r}")
        if key == "data":
            value = dict(value)
            known = {k: value.pop(k) for k in ("name", "root") if k in value}
            kwargs["data"] = _fill("data", DataConfig, known, where)
            kwargs["data"].options = value
        elif key in SECTIONS:
            kwargs[key] = _fill(key, SECTIONS[key], value, where)
        elif key in FREE_SECTIONS:
            kwargs[key] = dict(value)
        else:
            field_type = {f.name: f.type for f in dataclasses.fields(Config)}[key]
            if not _type_ok(value, field_type):
                raise ConfigError(f"{where}: '{key}' must be {_describe(field_type)}, got {value!r}")
            kwargs[key] = value
    return check_ranges(Config(**kwargs), where)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``section.key=value`` → (path, value); the value is read as TOML, else taken as a string."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like section.key=value, e.g. train.lr=1e-3")
    key, raw = text.split("=", 1)
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise ConfigError(f"override '{text}' has no key before '='")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return path, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for text in overrides:
        path, value = parse_override(text)
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{text}': '{part}' is not a table")
        node[path[-1]] = value
    return raw


def remove_keys(raw: dict[str, Any], keys: list[str], where: str) -> dict[str, Any]:
    """``--unset section.key``: drop a key the file sets (a neuron option another neuron rejects)."""
    for text in keys:
        path = [p for p in text.strip().split(".") if p]
        node = raw
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not path or not isinstance(node, dict) or path[-1] not in node:
            raise ConfigError(f"--unset {text}: {where} does not set '{text}'; nothing to remove")
        del node[path[-1]]
    return raw


def read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; pass an existing TOML file with --config "
                          f"(the shipped ones are in configs/)")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: malformed TOML ({err}); fix the line it names") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a UTF-8 text file; pass a TOML config") from None


def load_config(path: Path | None = None, overrides: list[str] | None = None,
                unset: list[str] | None = None) -> Config:
    """Read ``path`` (or the built-in defaults), drop the ``unset`` keys, apply ``overrides``, check every key
    and type."""
    raw = read_toml(path) if path is not None else {}
    raw = remove_keys(raw, unset or [], str(path) if path is not None else "the default config")
    raw = apply_overrides(raw, overrides or [])
    where = str(path) if path is not None else "defaults"
    if overrides:
        where += " with --set overrides"
    return from_dict(raw, where)


def dump_toml(config: Config) -> str:
    import tomli_w

    return tomli_w.dumps(_drop_none(config.to_dict()))


def _drop_none(d: dict) -> dict:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}


# --- ranges: every value is checked before any work starts ---------------------------------------------------

def _finite(v: float) -> bool:
    return math.isfinite(v)


# key -> (test, the allowed range as the message says it)
RANGES: dict[str, tuple[Any, str]] = {
    "seed": (lambda v: 0 <= v < 2**32, "a whole number in [0, 2^32)"),
    "train.epochs": (lambda v: v >= 1, "at least 1"),
    "train.batch_size": (lambda v: v >= 1, "at least 1"),
    "train.eval_batch_size": (lambda v: v >= 0, "at least 0 (0: same as train.batch_size)"),
    "train.lr": (lambda v: _finite(v) and v > 0, "a finite number > 0"),
    "train.momentum": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "train.weight_decay": (lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    "train.grad_clip": (lambda v: _finite(v) and v >= 0, "a finite number >= 0 (0 disables)"),
    "train.step_size": (lambda v: v >= 1, "at least 1 epoch"),
    "train.gamma": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "train.label_smoothing": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "train.truncation": (lambda v: v >= 0, "at least 0 (0: the rule's default)"),
    "train.limit_train_batches": (lambda v: v >= 0, "at least 0 (0: no limit)"),
    "train.limit_eval_batches": (lambda v: v >= 0, "at least 0 (0: no limit)"),
    "train.num_workers": (lambda v: 0 <= v <= 256, "in [0, 256]"),
    "model.hidden": (lambda v: len(v) >= 1 and all(h >= 1 for h in v), "a list of at least one size >= 1"),
    "model.channels": (lambda v: len(v) >= 1 and all(c >= 1 for c in v), "a list of at least one size >= 1"),
    "model.dropout": (lambda v: all(0 <= p < 1 for p in (v if isinstance(v, list) else [v])), "in [0, 1)"),
    "model.embedding_dim": (lambda v: v >= 1, "at least 1"),
    "model.dropout_embedding": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "model.dropout_words": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "surrogate.alpha": (lambda v: _finite(v) and v > 0, "a finite number > 0"),
}


def check_ranges(cfg: Config, where: str) -> Config:
    """Refuse a value outside its range with the range in the message (a NaN learning rate or zero epochs
    would otherwise train nothing, or nonsense, without a word)."""
    from nsb.paths import plain_name

    for key, (test, allowed) in RANGES.items():
        node: Any = cfg
        for part in key.split("."):
            node = getattr(node, part)
        try:
            ok = bool(test(node))
        except TypeError:
            ok = False
        if not ok:
            raise ConfigError(f"{where}: '{key}' must be {allowed}, got {node!r}")
    try:
        plain_name(cfg.name, f"{where}: 'name'")
    except NsbError as err:
        raise ConfigError(str(err)) from None
    from nsb.architectures import kinds

    if cfg.model.kind not in kinds():
        from nsb.errors import unknown

        raise ConfigError(f"{where}: {unknown('model.kind', cfg.model.kind, kinds())}")
    if cfg.arch and cfg.model.kind not in kinds()[3:]:
        raise ConfigError(f"{where}: [arch] holds options of an architecture, but model.kind = '{cfg.model.kind}' "
                          f"takes none; remove [arch] or set model.kind to one of: {', '.join(kinds()[3:]) or 'none'}")
    if not cfg.out_dir.strip():
        raise ConfigError(f"{where}: 'out_dir' must be a folder path, got {cfg.out_dir!r}")
    for key in ("hidden", "recurrent", "dropout"):  # norm: one per spiking layer, which build_model counts
        value = getattr(cfg.model, key)
        if key != "hidden" and isinstance(value, list) and len(value) != len(cfg.model.hidden):
            raise ConfigError(f"{where}: model.{key} has {len(value)} entries but model.hidden has "
                              f"{len(cfg.model.hidden)} layers; give one per layer or a single value")
    return cfg
