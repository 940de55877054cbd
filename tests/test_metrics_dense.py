"""Dense-recurrence neurons (DH-LIF, LTC, GSN) multiply weights inside the neuron: their synaptic operations
are reported as not measured, never as a number too small."""

import torch, pytest
from nsb.config import load_config
from nsb.data import load_task
from nsb.models.build import build_model
from nsb.metrics.report import benchmark_metrics
from nsb.metrics.errors import MetricError
from nsb.metrics.harness import measure

@pytest.mark.parametrize("neuron", ["dhlif", "ltc", "gsn"])
def test_dense_neuron_synops_are_reported_not_measured(neuron):
    cfg = load_config(None, [f'model.neuron="{neuron}"', "model.hidden=[8]", "data.train_per_class=2", "data.test_per_class=2", "data.time_steps=6"])
    task = load_task(cfg.data.name, cfg.data.root, cfg.data.options, 0)
    model = build_model(cfg, task)
    x = torch.rand(6, 4, task.input_size); y = torch.zeros(4, dtype=torch.long)
    with pytest.raises(MetricError, match="multiply their weights inside the neuron"):
        measure(model, [(x, y)], ["synaptic_operations"])
    out = benchmark_metrics(model, [(x, y)], "classification", "mean")
    assert "not_measured" in out["synaptic_operations"] and "activation_sparsity" in out
