"""Build a model from a config: spiking classifier/regressor, PTB language model, conv SNN."""

from __future__ import annotations

import importlib

from torch import nn

from nsb.architectures import ARCHITECTURES
from nsb.config import Config
from nsb.data.common import TaskData
from nsb.errors import ConfigError
from nsb.models.classifier import SpikingClassifier
from nsb.models.conv import ConvSpikingNet
from nsb.models.language import SpikingLanguageModel
from nsb.neurons import LAYER_FILES, Neuron, build_neuron, declaration, neuron_parameters
from nsb.norm import build_norm


SCALAR_NEURONS = ("lif", "if", "plif")


def _neuron_factory(cfg: Config, time_steps: int):
    params = dict(cfg.neuron)
    accepted = neuron_parameters(cfg.model.neuron)
    params.setdefault("surrogate", cfg.surrogate.name)
    params.setdefault("alpha", cfg.surrogate.alpha)
    if "time_steps" in accepted:
        params.setdefault("time_steps", time_steps)
    if "recurrent" in params:
        raise ConfigError("set recurrence with model.recurrent, not neuron.recurrent")

    # issue 16: DH-LIF and the GSN cell own their input layer; the network gives them its input size
    owns_input = cfg.model.neuron in LAYER_FILES and declaration(cfg.model.neuron).owns_input

    def make(size: int, recurrent: bool, input_size: int | None = None) -> Neuron:
        kwargs = dict(params)
        if owns_input:
            kwargs["input_size"] = size if input_size is None else input_size
        if "recurrent" in accepted:
            kwargs["recurrent"] = recurrent
        elif recurrent is False and cfg.model.neuron == "rlif":
            # rlif is recurrent by definition; a layer asked to be feed-forward gets a plain LIF
            return build_neuron("lif", size, **kwargs)
        return build_neuron(cfg.model.neuron, size, **kwargs)

    make.owns_input = owns_input  # type: ignore[attr-defined]
    return make


def build_model(cfg: Config, task: TaskData) -> nn.Module:
    """The config's model; tensors a neuron shares across its layers (CELIF's temporal embedding) are
    created once, by the network (:func:`nsb.neurons.module.share_learned`)."""
    from nsb.neurons.module import share_learned

    return share_learned(_build_model(cfg, task))


def _build_model(cfg: Config, task: TaskData) -> nn.Module:
    m = cfg.model
    make_neuron = _neuron_factory(cfg, task.time_steps)
    make_neuron(1, False)  # checks every [neuron] option against its declared type and range, before any use
    threshold = float(cfg.neuron.get("threshold", 1.0))
    recurrent = cfg.layer_flags(m.recurrent, bool, "recurrent")
    layers = len(m.hidden) if m.kind != "conv" else len(m.channels) + 1
    norms = m.norm if isinstance(m.norm, list) else [m.norm] * layers
    if len(norms) != layers:
        raise ConfigError(f"model.norm lists {len(norms)} names for {layers} spiking layers; give one per layer "
                          "or a single name")
    if getattr(make_neuron, "owns_input", False) and any(n != "none" for n in norms):
        raise ConfigError(f"neuron '{m.neuron}' owns its input layer, so no norm can sit between them; "
                          "set model.norm = 'none'")

    def make_norm(size: int, index: int) -> nn.Module:
        return build_norm(norms[index], size, time_steps=task.time_steps, threshold=threshold)

    dropouts = cfg.layer_flags(m.dropout, float, "dropout")
    if m.kind in ARCHITECTURES:
        module = importlib.import_module(ARCHITECTURES[m.kind])
        return module.build(cfg, task, architecture_options(m.kind, module.Options, cfg.arch), make_neuron, make_norm)
    if not m.hidden or any(h < 1 for h in m.hidden):
        raise ConfigError(f"model.hidden must list positive layer sizes, got {m.hidden}")
    if m.kind == "language":
        if task.task != "language":
            raise ConfigError(f"model.kind = 'language' needs a language data set, '{cfg.data.name}' is {task.task}")
        return SpikingLanguageModel(task.num_classes, m.embedding_dim, m.hidden, make_neuron, make_norm, recurrent,
                                    dropouts, m.dropout_embedding, m.dropout_words, m.tie_weights)
    if task.task == "language":
        raise ConfigError(f"data set '{cfg.data.name}' is a language task; set model.kind = 'language'")
    if m.kind == "conv":
        shape = task.info.get("frame_shape")
        if shape is None:
            raise ConfigError(f"model.kind = 'conv' needs frames [C, H, W] per step; '{cfg.data.name}' gives vectors")
        if m.neuron not in SCALAR_NEURONS or any(recurrent):
            raise ConfigError(f"the conv model takes feed-forward {', '.join(SCALAR_NEURONS)} neurons, "
                              f"got '{m.neuron}' (recurrent={m.recurrent})")
        c, h, w = shape
        return ConvSpikingNet(c, h, w, m.channels, m.hidden[-1], task.num_classes, make_neuron, make_norm,
                              dropouts[-1])
    if task.info.get("frame_shape") is not None:
        raise ConfigError(f"data set '{cfg.data.name}' gives frames; set model.kind = 'conv'")
    return SpikingClassifier(task.input_size, m.hidden, task.num_classes, make_neuron, make_norm, recurrent, dropouts)


def architecture_options(kind: str, options_class: type, given: dict) -> object:
    """``[arch]`` checked against the architecture's ``Options``: unknown keys with a suggestion, then each
    value's type and range as ``[data]`` options are checked (:func:`nsb.data.check_option`)."""
    import dataclasses

    from nsb.data import check_option
    from nsb.errors import closest

    fields = {f.name: f for f in dataclasses.fields(options_class)}
    for key, value in given.items():
        if key not in fields:
            raise ConfigError(f"model.kind = '{kind}' has no option 'arch.{key}'{closest(key, fields)}; it takes: "
                              f"{', '.join(fields) or 'none'}")
        check_option(kind, fields[key], value, f"model.kind = '{kind}': 'arch.{key}'")
    return options_class(**given)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, each shared tensor once (the tied PTB embedding counts once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
