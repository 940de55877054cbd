"""The stacked GSN network (``reference/neuroseqbench.md`` §6.2): GSN cells (:mod:`nsb.neurons.gsn`), each
holding its own input layer and always recurrent, stacked with a Linear readout; for PTB between the
seed's tied embedding and decoder (:class:`nsb.models.language.SpikingLanguageModel`, the cells' state
carried across windows).

``model.hidden`` lists the cells' sizes (seed: PS-MNIST 64 × 3, lr 5e−4); ``model.neuron`` must be
``"gsn"`` and ``[neuron]`` takes the cell's options (``threshold``). Each cell has
``2H·(F + H + 1)`` parameters (its two gates' input, recurrent and bias terms).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from nsb.config import Config
from nsb.data.common import TaskData
from nsb.errors import ConfigError
from nsb.models.classifier import SpikingClassifier
from nsb.models.language import SpikingLanguageModel


@dataclass
class Options:
    """The network takes no options of its own: sizes are ``model.hidden``, the cell's are ``[neuron]``."""


def build(cfg: Config, task: TaskData, options: Options, make_neuron, make_norm) -> nn.Module:
    m = cfg.model
    if m.neuron != "gsn":
        raise ConfigError(f"model.kind = 'gsn' stacks GSN cells; set model.neuron = 'gsn' (got '{m.neuron}')")
    if not m.hidden or any(h < 1 for h in m.hidden):
        raise ConfigError(f"model.hidden must list positive layer sizes, got {m.hidden}")
    recurrent = [True] * len(m.hidden)  # a GSN cell's gates always read h[t-1]
    dropouts = cfg.layer_flags(m.dropout, float, "dropout")
    if task.task == "language":
        return SpikingLanguageModel(task.num_classes, m.embedding_dim, m.hidden, make_neuron, make_norm, recurrent,
                                    dropouts, m.dropout_embedding, m.dropout_words, m.tie_weights)
    if task.info.get("frame_shape") is not None:
        raise ConfigError(f"model.kind = 'gsn' takes vectors per step; '{cfg.data.name}' gives frames")
    return SpikingClassifier(task.input_size, m.hidden, task.num_classes, make_neuron, make_norm, recurrent, dropouts)
