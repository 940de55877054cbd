"""The seed's architectures (issue 17): configs and budgets, the models' contracts, export forms and metrics.

Each engineer's tests are in their own clearly named block.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nsb.config import load_config
from nsb.data.common import TaskData
from nsb.errors import ConfigError
from nsb.models.build import build_model

ARCH_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "architectures"


# --- TCN, SpikingTCN, GSN, and the LSTM and Transformer references ---------------------------------------------

TCN_GSN_REFERENCE_BUDGETS = {"ptb": 5_000_000, "psmnist": 90_000, "ba": 40_000}
TCN_GSN_REFERENCE_ROWS = ("tcn", "spiking_tcn", "gsn", "lstm", "transformer")
#: the exact counts; the seed gives PS-MNIST GSN as hidden 64 × 3 (42,122 parameters, 0.47× the ~90K budget):
#: its own size is kept, and only that cell is held to its exact count instead of the 0.5× floor
TCN_GSN_REFERENCE_COUNTS = {
    "tcn-psmnist": 66_910, "tcn-ptb": 5_434_000, "tcn-ba": 37_510,
    "spiking_tcn-psmnist": 66_910, "spiking_tcn-ptb": 5_434_000, "spiking_tcn-ba": 37_510,
    "gsn-psmnist": 42_122, "gsn-ptb": 5_291_600, "gsn-ba": 42_250,
    "lstm-psmnist": 86_122, "lstm-ptb": 5_293_200, "lstm-ba": 39_370,
    "transformer-psmnist": 85_402, "transformer-ptb": 5_076_224, "transformer-ba": 38_538,
}
TCN_GSN_REFERENCE_SEED_SIZE_BELOW_BUDGET = {"gsn-psmnist"}
TCN_GSN_REFERENCE_CELLS = [f"{row}-{col}" for row in TCN_GSN_REFERENCE_ROWS for col in ("ptb", "psmnist", "ba")]


def _tgr_task(column: str, steps: int, vocab: int = 10_000) -> TaskData:
    empty = torch.zeros(0)
    if column == "ptb":
        return TaskData("language", empty, empty, input_size=vocab, num_classes=vocab, time_steps=steps)
    return TaskData("classification", empty, empty, input_size=1 if column == "psmnist" else 2, num_classes=10,
                    time_steps=steps)


@pytest.mark.parametrize("cell", TCN_GSN_REFERENCE_CELLS)
def test_tcn_gsn_references_configs_build_within_budget(cell):
    from nsb.models.build import count_parameters

    cfg = load_config(ARCH_CONFIGS / f"{cell}.toml")
    row, column = cell.rsplit("-", 1)
    assert cfg.model.kind == row and cfg.name == f"architectures-{cell}"
    steps = {"ptb": 70, "psmnist": 784}.get(column) or cfg.data.options["time_steps"]
    if column == "ba":
        assert steps == (2400 if row in ("lstm", "transformer") else 1200)  # the table's T
    n = count_parameters(build_model(cfg, _tgr_task(column, steps)))
    assert n == TCN_GSN_REFERENCE_COUNTS[cell]
    if cell not in TCN_GSN_REFERENCE_SEED_SIZE_BELOW_BUDGET:
        budget = TCN_GSN_REFERENCE_BUDGETS[column]
        assert 0.5 * budget <= n <= 1.3 * budget, f"{cell}: {n:,} parameters"


def test_tcn_gsn_references_tcn_as_bai():
    """8 levels × 25, k = 7 on PS-MNIST: dilations 2^i, weight norm, a 1×1 downsampling only where the width
    changes, a receptive field covering T (PS-MNIST 784, Binary Adding 1,200)."""
    from nsb.models.tcn import CausalConv1d, Options, receptive_field

    cfg = load_config(ARCH_CONFIGS / "tcn-psmnist.toml")
    blocks = build_model(cfg, _tgr_task("psmnist", 784)).tcn.blocks
    assert len(blocks) == 8
    assert [b.conv1.dilation[0] for b in blocks] == [2 ** i for i in range(8)]
    assert all(isinstance(b.conv1, CausalConv1d) and hasattr(b.conv1, "parametrizations") for b in blocks)
    assert blocks[0].downsample is not None and all(b.downsample is None for b in blocks[1:])
    assert receptive_field(Options(**cfg.arch)) >= 784
    assert receptive_field(Options(**load_config(ARCH_CONFIGS / "tcn-ba.toml").arch)) >= 1200


def _tgr_small(row: str, column: str, extra: list[str] | None = None) -> torch.nn.Module:
    sets = {"tcn": ["arch.channels=[6, 6, 8]", "arch.kernel_size=3"],
            "spiking_tcn": ["arch.channels=[6, 6, 8]", "arch.kernel_size=3", "neuron.threshold=0.01"],
            "gsn": ["model.hidden=[8, 8]", "model.embedding_dim=8", "model.dropout=0.0"],
            "lstm": ["model.hidden=[8, 8]", "model.embedding_dim=8"],
            "transformer": ["arch.d_model=8", "arch.feedforward=16", "arch.layers=2"]}[row]
    if column == "ptb" and row in ("tcn", "spiking_tcn"):
        sets = [*sets, "model.embedding_dim=8"]
    cfg = load_config(ARCH_CONFIGS / f"{row}-{column}.toml", sets + (extra or []))
    torch.manual_seed(0)
    model = build_model(cfg, _tgr_task(column, 20, vocab=50)).eval()
    if row == "spiking_tcn":  # Bai's N(0, 0.01) leaves an untrained SpikingTCN's spikes blind to its input
        with torch.no_grad():
            for m in model.modules():
                if hasattr(m, "parametrizations"):
                    m.parametrizations.weight.original0.mul_(40)
                elif isinstance(m, torch.nn.Conv1d):
                    m.weight.mul_(40)
    return model


@pytest.mark.parametrize("row", ["tcn", "spiking_tcn", "transformer"])
def test_tcn_gsn_references_causal(row):
    """An output at step t depends on inputs ≤ t only (the TCNs' left padding, the causal mask)."""
    model = _tgr_small(row, "ba", ["arch.causal=true"] if row == "transformer" else [])
    x = torch.rand(20, 3, 2)
    y = x.clone()
    y[12:] = torch.rand(8, 3, 2)
    with torch.no_grad():
        a, _ = model(x)
        b, _ = model(y)
    assert torch.equal(a[:12], b[:12])
    assert not torch.equal(a[12:], b[12:])


def test_tcn_gsn_references_transformer_unmasked_sees_the_future():
    model = _tgr_small("transformer", "ba")  # arch.causal = false, as the config
    x = torch.rand(20, 3, 2)
    y = x.clone()
    y[15:] += 1.0
    with torch.no_grad():
        assert not torch.allclose(model(x)[0][:10], model(y)[0][:10])


@pytest.mark.parametrize("row", TCN_GSN_REFERENCE_ROWS)
@pytest.mark.parametrize("column", ["ptb", "ba"])
def test_tcn_gsn_references_forward_shapes(row, column):
    model = _tgr_small(row, column)
    if column == "ptb":
        tokens = torch.randint(0, 50, (20, 2))
        out, state = model(tokens)
        assert out.shape == (20, 2, 50)
        out2, _ = model(tokens, state)  # the trainer hands the state back
        assert out2.shape == out.shape
        if row == "lstm":  # the LSTM carries (h, c) across windows
            assert not torch.allclose(out, out2)
    else:
        model.train()
        out, _ = model(torch.rand(20, 3, 2))
        assert out.shape == (20, 3, 10)
        out.sum().backward()
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_tcn_gsn_references_spiking_tcn_neurons_over_inner_time():
    """Every ReLU is a neuron (3 per block, a 4th on the downsampling residual), each fed ``[T_in = 1, T, B, C]``
    and firing binary spikes; the probes see them as ``[T, B, C]``."""
    from nsb.models.probe import recorded_spikes, spiking_layers

    model = _tgr_small("spiking_tcn", "ba")
    layers = spiking_layers(model)
    assert len(layers) == 11  # blocks 2→6 (downsample), 6→6, 6→8 (downsample): 4 + 3 + 4 neurons
    seen = []
    hooks = [m.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape))) for _, m in layers]
    with recorded_spikes(model) as captured, torch.no_grad():
        model(torch.rand(20, 3, 2))
    for h in hooks:
        h.remove()
    assert len(seen) == 11 and all(s[:3] == (1, 20, 3) for s in seen)
    assert all(c.shape[:2] == (20, 3) and set(c.unique().tolist()) <= {0.0, 1.0} for c in captured)
    assert any(c.sum() > 0 for c in captured)


def test_tcn_gsn_references_spiking_tcn_position_has_no_memory():
    """T_in = 1: a neuron at position t starts fresh, so with one level of kernel 2 the output at step 5 depends
    on steps 4 and 5 alone, whatever the neurons saw before."""
    model = _tgr_small("spiking_tcn", "ba", ["arch.channels=[4]", "arch.kernel_size=2"])
    x = torch.rand(20, 3, 2)
    y = torch.zeros_like(x)
    y[4:6] = x[4:6]
    with torch.no_grad():
        full, _ = model(x)
        part, _ = model(y)
    assert torch.equal(full[5], part[5])
    assert not torch.equal(full[2], part[2])


@pytest.mark.parametrize("overrides,match", [
    (['model.neuron="alif"'], "takes feed-forward lif, if, plif neurons"),
    (["arch.kernel_size=1"], "kernel_size must be at least 2"),
    (["arch.channels=[]"], "at least one level"),
    (['model.norm="bn"'], "set model.norm = 'none'"),
    (["arch.layers=2"], "has no option 'arch.layers'"),
])
def test_tcn_gsn_references_bad_options_one_line(overrides, match):
    unset = ["neuron.decay", "neuron.reset_timing"] if "alif" in overrides[0] else []
    cfg = load_config(ARCH_CONFIGS / "spiking_tcn-ba.toml", overrides, unset)
    with pytest.raises(ConfigError, match=match) as err:
        build_model(cfg, _tgr_task("ba", 50))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name,overrides,column,match", [
    ("tcn-ptb.toml", ["model.embedding_dim=300"], "ptb", "tied weights need"),
    ("gsn-psmnist.toml", ['model.neuron="lif"'], "psmnist", "set model.neuron = 'gsn'"),
    ("transformer-ptb.toml", ["arch.causal=false"], "ptb", "must be causal"),
    ("transformer-ba.toml", ["arch.heads=3"], "ba", "multiple of"),
    ("lstm-ptb.toml", ["model.hidden=[300]"], "ptb", "tied weights need"),
])
def test_tcn_gsn_references_more_bad_options_one_line(name, overrides, column, match):
    with pytest.raises(ConfigError, match=match) as err:
        build_model(load_config(ARCH_CONFIGS / name, overrides), _tgr_task(column, 20, vocab=50))
    assert "\n" not in str(err.value)
