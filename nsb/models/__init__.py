"""Models: spiking classifier/regressor, PTB language model, conv SNN; :mod:`nsb.models.build` makes one from a config."""

from nsb.models.classifier import SpikingClassifier
from nsb.models.conv import ConvSpikingNet
from nsb.models.language import SpikingLanguageModel

__all__ = ["ConvSpikingNet", "SpikingClassifier", "SpikingLanguageModel"]
