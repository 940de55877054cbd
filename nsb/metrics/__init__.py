"""NeuroBench's algorithm-track metrics for nsb models and plain torch layers (docs/metrics.md).

Complexity: footprint, connection sparsity, activation sparsity, synaptic operations (dense,
effective MACs, effective ACs), membrane updates; correctness: accuracy, MSE, sMAPE, R².
:func:`measure` runs them over batches. This package imports torch; ``import nsb`` does not.
"""

from nsb.metrics.accuracy import Accuracy
from nsb.metrics.activation_sparsity import ActivationSparsity
from nsb.metrics.base import Batch, WorkloadMetric
from nsb.metrics.connection_sparsity import connection_sparsity
from nsb.metrics.errors import MetricError, NothingToCount
from nsb.metrics.footprint import footprint
from nsb.metrics.harness import COMPLEXITY, STATIC, WORKLOAD, default_forward, measure
from nsb.metrics.layers import activation_layers, connection_layers
from nsb.metrics.membrane_updates import MembraneUpdates
from nsb.metrics.mse import MSE
from nsb.metrics.ops import layer_ops
from nsb.metrics.parameter_count import parameter_count
from nsb.metrics.r2 import R2
from nsb.metrics.smape import SMAPE
from nsb.metrics.synaptic_operations import SynapticOperations

__all__ = [
    "COMPLEXITY", "MSE", "R2", "SMAPE", "STATIC", "WORKLOAD", "Accuracy", "ActivationSparsity", "Batch",
    "MembraneUpdates", "MetricError", "NothingToCount", "SynapticOperations", "WorkloadMetric", "activation_layers",
    "connection_layers", "connection_sparsity", "default_forward", "footprint", "layer_ops", "measure",
    "parameter_count",
]
