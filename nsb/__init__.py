"""nsb: spiking neural networks on long temporal sequences.

Importing ``nsb`` stays light (no torch) so that ``nsb.eval`` works on a deployment target
where torch is absent; the PyTorch core lives in the subpackages.
"""

__version__ = "0.1.0"
