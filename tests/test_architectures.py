"""The seed's architectures (issue 17): configs and budgets, the models' contracts, export forms and metrics.

Each engineer's tests are in their own clearly named block.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import torch

from nsb.config import load_config
from nsb.data.common import TaskData
from nsb.errors import ConfigError
from nsb.models.build import build_model

ARCH_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "architectures"


# --- DCLS delays and the spike-driven transformer -------------------------------------------------------------

DCLS_SDT_BUDGETS = {"ptb": 5_000_000, "psmnist": 90_000, "ba": 40_000}
DCLS_SDT_CELLS = [(row, column) for row in ("dcls", "sdt4", "sdt1") for column in ("ptb", "psmnist", "ba")]


def _task(kind: str = "classification", inputs: int = 3, classes: int = 4, steps: int = 20) -> TaskData:
    empty = torch.zeros(0)
    return TaskData(kind, empty, empty, input_size=inputs, num_classes=classes, time_steps=steps)


def _model(overrides: list[str], task: TaskData | None = None, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(load_config(None, overrides), task or _task())


DCLS_SMALL = ['model.kind="dcls"', "model.hidden=[12, 8]", "arch.max_delay=7", 'model.norm="bn"',
              "neuron.threshold=0.1"]
SDT_SMALL = ['model.kind="sdt"', "arch.d_model=8", "arch.layers=2", "arch.heads=2", "arch.t_in=3",
             "neuron.threshold=0.1"]


@pytest.mark.parametrize("row, column", DCLS_SDT_CELLS)
def test_dcls_sdt_configs_build_within_their_budget(row, column):
    from nsb.reproduce.configs import parameters

    path = ARCH_CONFIGS / f"{row}-{column}.toml"
    raw = tomllib.loads(path.read_text())
    cfg = load_config(path)
    assert cfg.model.kind == ("dcls" if row == "dcls" else "sdt")
    if row.startswith("sdt"):
        assert cfg.arch["t_in"] == int(row[3:])
    if column == "ba":  # the architecture table's Binary Adding T: 100 for DCLS, 2,400 for the SDT rows
        assert cfg.data.options["time_steps"] == (100 if row == "dcls" else 2400)
    count = parameters(raw, column)
    budget = DCLS_SDT_BUDGETS[column]
    assert 0.5 * budget <= count <= 1.3 * budget, f"{row}-{column}: {count:,} parameters for a ~{budget:,} budget"
    assert f"{count:,}" in path.read_text(), f"{path.name}'s header should state its {count:,} parameters"


def test_dcls_psmnist_is_the_seeds_network():
    from nsb.models.dcls_net import DelayNet
    from nsb.neurons import Neuron

    cfg = load_config(ARCH_CONFIGS / "dcls-psmnist.toml")
    model = build_model(cfg, _task(inputs=1, classes=10, steps=784))
    assert isinstance(model, DelayNet)
    convs = [d.conv for d in model.delays]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 167), (167, 167), (167, 10)]
    assert all(c.kernel_count == 1 and c.version == "gauss" and c.dilated_kernel_size == (100,) for c in convs)
    assert [(d.left, d.right) for d in model.delays] == [(99, 49)] * 3
    assert [n.decl.name for n in model.neurons if isinstance(n, Neuron)] == ["lif", "lif", "leaky"]


def test_dcls_paddings_lengthen_the_sequence_and_every_tap_is_causal():
    model = _model(DCLS_SMALL + ['model.readout="sum"']).eval()
    x = (torch.rand(20, 3, 3) < 0.5).float()
    out, _ = model(x)
    assert out.shape == (20 + 3 * 3, 3, 4)  # each of the 3 layers adds ⌊(D − 1)/2⌋ = 3 steps
    later = x.clone()
    later[12:] = 1 - later[12:]
    out2, _ = model(later)
    assert torch.equal(out[:12], out2[:12]) and not torch.equal(out[12:], out2[12:])
    from nsb.models.probe import recorded_spikes

    with recorded_spikes(model) as spikes:
        model(x)
    assert [s.shape for s in spikes] == [(20, 3, 12), (20, 3, 8), (20, 3, 4)]  # each layer's first T steps recorded
    aligned = _model(DCLS_SMALL + ['model.readout="all"']).eval()
    assert aligned(x)[0].shape == (20, 3, 4)
    assert torch.allclose(aligned(x)[0], out[:20], atol=1e-6)  # "all" is the first T of the padded run


def test_dcls_stream_in_windows_is_one_pass():
    model = _model(DCLS_SMALL + ['model.readout="all"']).eval()
    x = (torch.rand(24, 2, 3) < 0.5).float()
    whole, _ = model(x)
    state, parts = None, []
    for chunk in x.split([5, 2, 9, 8]):  # windows shorter than D − 1 too
        out, state = model(chunk, state)
        parts.append(out)
    assert torch.allclose(torch.cat(parts), whole, atol=1e-6)


def _trained_dcls(readout: str = "sum") -> torch.nn.Module:
    model = _model(DCLS_SMALL + [f'model.readout="{readout}"'])
    start = [d.conv.P.detach().clone() for d in model.delays]
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    x = (torch.rand(16, 8, 3) < 0.5).float()
    y = torch.randint(0, 4, (8,))
    for _ in range(5):
        opt.zero_grad()
        out, _ = model(x)
        torch.nn.functional.cross_entropy(out.sum(0), y).backward()
        opt.step()
    assert all(not torch.equal(s, d.conv.P) for s, d in zip(start, model.delays)), "the delays must have learned"
    return model.eval()


def test_dcls_frozen_delays_equal_the_trained_model():
    import copy

    from nsb.export.deploy import DeployModel

    model = _trained_dcls()
    frozen = copy.deepcopy(model)
    for i, d in enumerate(frozen.delays):
        frozen.delays[i] = d.frozen_for_export()
        conv = frozen.delays[i].conv
        assert type(conv) is torch.nn.Conv1d and conv.kernel_size == (7,) and conv.dilation == (1,)
        assert torch.equal(conv.weight, model.delays[i].kernel())
    x = (torch.rand(30, 4, 3) < 0.5).float()
    with torch.no_grad():
        expected, _ = model(x)
        got, _ = frozen(x)
        assert torch.allclose(got, expected, atol=1e-6, rtol=0)
        deploy = DeployModel(model, "classification", "sum")
        assert not any(type(m).__name__ == "Dcls1d" for m in deploy.modules())
        assert torch.allclose(deploy(x)[0], expected.sum(0), atol=1e-5, rtol=0)


def test_dcls_and_sdt_refuse_bad_options_in_one_line():
    cases = [
        (DCLS_SMALL + ["arch.max_delay=1"], "max_delay"),
        (DCLS_SMALL + ["model.recurrent=true"], "feed-forward"),
        (SDT_SMALL + ["arch.heads=3"], "multiple"),
        (SDT_SMALL + ["arch.depth=3"], "arch.depth"),
        (SDT_SMALL + ["model.recurrent=true"], "recurrent"),
        (SDT_SMALL + ['model.neuron="alif"', "neuron={threshold = 0.3}"], "scalar parameters"),
    ]
    for overrides, needle in cases:
        with pytest.raises(ConfigError) as err:
            _model(overrides)
        assert needle in str(err.value) and "\n" not in str(err.value)


def test_sdt_attention_products_are_the_seeds():
    from nsb.models.sdt import SpikeAttention

    q, k, v = ((torch.rand(6, 10, 4) < 0.4).float() for _ in range(3))
    plain = SpikeAttention(False, 0.125)(q, k, v)
    assert torch.allclose(plain, (q @ k.transpose(1, 2) @ v) * 0.125)
    causal = SpikeAttention(True, 0.125)(q, k, v)
    loop = torch.stack([torch.stack([(q[n, t] @ k[n, :t + 1].T) @ v[n, :t + 1] for t in range(10)])
                        for n in range(6)]) * 0.125
    assert torch.allclose(causal, loop)


def test_sdt_runs_its_neurons_over_t_in_and_averages_it():
    from nsb.models.probe import recorded_spikes

    model = _model(SDT_SMALL).eval()
    x = torch.rand(11, 2, 3)
    with recorded_spikes(model) as spikes:
        out, state = model(x)
    assert out.shape == (11, 2, 4) and state == []
    assert all(s.shape[:3] == (11, 2, 3) for s in spikes)  # recorded as [T, B, T_in, N]
    assert len(spikes) == 2 * 7 and any(s.sum() > 0 for s in spikes)
    one = _model([*SDT_SMALL[:-2], "arch.t_in=1", "neuron.threshold=0.1"]).eval()
    with recorded_spikes(one) as spikes:
        one(x)
    assert all(s.shape[2] == 1 for s in spikes)


def test_sdt_language_model_is_causal_and_ties_its_embedding():
    task = _task("language", inputs=50, classes=50, steps=9)
    model = _model(SDT_SMALL + ['model.readout="all"', "model.embedding_dim=8"], task).eval()
    assert model.head.weight is model.embedding.weight
    tokens = torch.randint(0, 50, (9, 2))
    out, _ = model(tokens)
    changed = tokens.clone()
    changed[5:] = (changed[5:] + 1) % 50
    out2, _ = model(changed)
    assert out.shape == (9, 2, 50)
    assert torch.allclose(out[:5], out2[:5], atol=1e-6) and not torch.allclose(out[5:], out2[5:])


def test_sdsa_synaptic_operations_count_spike_products():
    from nsb.metrics.ops import layer_ops
    from nsb.models.sdt import SpikeAttention

    q = torch.tensor([[[1.0, 0], [1, 1], [0, 0]]])  # n 1, T 3, h 2
    k = torch.tensor([[[1.0, 1], [0, 1], [1, 0]]])
    v = torch.tensor([[[0.0, 1], [1, 1], [1, 0]]])
    # kᵀv: term (t, i, j) counts when k_ti = v_tj = 1: t0 2·1, t1 1·2, t2 1·1 → 5
    # kv = [[1, 1], [1, 2]] has 4 non-zeros; q·kv: q rows have 1, 2, 0 ones, each times 2 non-zero entries → 6
    plain = layer_ops(SpikeAttention(False, 0.125), (q, k, v))
    assert plain == [(5.0, 12.0, True), (6.0, 12.0, True)]
    # causal: q·kᵀ on s ≤ t: t0 s0 1; t1 s0 2, s1 1; t2 none → 4 terms, S = [[1,·,·],[2,1,·],[0,0,0]]
    # S·v: row t0 reads v_0 (1 one), t1 reads v_0 and v_1 (1 + 2) → 4; dense h·6 pairs = 12 each
    causal = layer_ops(SpikeAttention(True, 0.125), (q, k, v))
    assert causal == [(4.0, 12.0, True), (4.0, 12.0, True)]
    assert layer_ops(SpikeAttention(False, 0.125), (q * 0.5, k, v))[0][2] is False


def test_dcls_synaptic_operations_are_the_frozen_convolution():
    from nsb.metrics import measure
    from nsb.metrics.ops import layer_ops

    model = _trained_dcls("sum")
    delay = model.delays[1]
    x = (torch.rand(10, 2, 12) < 0.3).float()
    (effective, dense, spiking), = layer_ops(delay, (x,))
    w = (delay.kernel() != 0).double()
    xp = torch.nn.functional.pad((x != 0).double().permute(1, 2, 0), (6, 3))
    assert effective == float(torch.nn.functional.conv1d(xp, w).sum()) and spiking
    # dense: every (tap, output) pair reading a real input step, the padding's taps excluded: input step t is read
    # by the 7 taps at outputs t … t + 6 of the 13 (steps 7, 8, 9 by 6, 5, 4), per sample, input and output channel
    assert dense == 2 * 12 * 8 * (7 * 7 + 6 + 5 + 4)
    frozen = delay.frozen_for_export()
    assert layer_ops(frozen, (x,)) == [(effective, dense, True)]
    # the whole model: three delayed convolutions, each counted once per call; no Dcls1d is invisible
    res = measure(model, [((torch.rand(10, 2, 3) < 0.5).float(), torch.zeros(2, dtype=torch.long))],
                  ["synaptic_operations", "connection_sparsity"], forward=lambda m, x: m(x)[0].sum(0).argmax(-1))
    assert res["synaptic_operations"]["dense"] > 0 and res["synaptic_operations"]["effective_acs"] > 0


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


def test_tcn_gsn_references_causal_conv_synaptic_operations():
    """Dense = every tap that reads a sequence step (the causal left padding excluded), effective = the taps with a
    non-zero weight and a non-zero input, both against a loop over outputs and taps; spikes into a conv are ACs."""
    from nsb.metrics.ops import layer_ops
    from nsb.models.tcn import CausalConv1d

    torch.manual_seed(0)
    conv = CausalConv1d(3, 4, kernel_size=3, dilation=2)
    with torch.no_grad():
        conv.weight[0, 1] = 0.0  # pruned taps never count
    x = (torch.rand(2, 3, 11) < 0.4).float()
    dense = effective = 0
    for b in range(2):
        for o in range(4):
            for t in range(11):
                for c in range(3):
                    for j in range(3):
                        src = t - j * 2  # tap j of output t reads step t − j·d (kernel flipped as Conv1d's)
                        if src >= 0:
                            dense += 1
                            effective += int(conv.weight[o, c, 2 - j] != 0 and x[b, c, src] != 0)
    [(eff, den, spiking)] = layer_ops(conv, (x,))
    assert (eff, den, spiking) == (effective, dense, True)
    [(_, _, spiking)] = layer_ops(conv, (torch.rand(2, 3, 11),))
    assert not spiking


def test_tcn_gsn_references_synaptic_operations_of_every_model():
    """Each model's NeuroBench synaptic operations: the TCNs count each Conv1d (weight-normed and 1×1), the
    SpikingTCN's convs after the first read spikes (ACs), each GSN cell its two products per step (the input's
    and the recurrent spikes'), the LSTM counts every step, the Transformer its attention products."""
    from nsb.metrics.recorder import Recorder

    x = torch.rand(20, 3, 2)
    seen = {}
    for row in ("tcn", "spiking_tcn", "lstm", "transformer"):
        model = _tgr_small(row, "ba", ["arch.causal=true"] if row == "transformer" else [])
        with Recorder(model, synapses=True, activations=True, membranes=False) as rec, torch.no_grad():
            model(x)
        seen[row] = rec.ops
    convs = {"tcn.blocks.0.conv1", "tcn.blocks.0.conv2", "tcn.blocks.0.downsample", "tcn.blocks.1.conv1",
             "tcn.blocks.1.conv2", "tcn.blocks.2.conv1", "tcn.blocks.2.conv2", "tcn.blocks.2.downsample"}
    for row in ("tcn", "spiking_tcn"):
        assert {name for name, *_ in seen[row]} == convs | {"readout"}
        dense = {name: d for name, _, d, _ in seen[row]}
        # block 0's conv1: B·C_out·C_in·Σ_t min(k, t + 1) = 3·6·2·57, the padding never counted
        assert dense["tcn.blocks.0.conv1"] == 3 * 6 * 2 * 57
        assert dense["tcn.blocks.0.downsample"] == 3 * 6 * 2 * 20
    spiking = {name: s for name, _, _, s in seen["spiking_tcn"]}
    assert not spiking["tcn.blocks.0.conv1"] and all(spiking[n] for n in convs - {"tcn.blocks.0.conv1",
                                                                                   "tcn.blocks.0.downsample"})
    assert sum(1 for name, *_ in seen["lstm"] if name == "lstm.layers.0") == 20  # one count per step
    attention = [(e, d) for name, e, d, _ in seen["transformer"] if name.endswith("layers.0.self_attn")]
    pairs = 20 * 21 // 2  # causal: step t attends to t + 1 steps
    assert [d for _, d in attention] == [3 * 20 * 3 * 64, 3 * 2 * pairs * 4, 3 * 2 * pairs * 4, 20 * 3 * 64]
    assert all(e <= d for e, d in attention)
    gsn = _tgr_small("gsn", "ba")
    with Recorder(gsn, synapses=True, activations=False, membranes=False) as rec, torch.no_grad():
        gsn(x)
    cells = [name for name, m in gsn.named_modules() if type(m).__name__ == "GSN"]
    assert len(cells) >= 2 and {name for name, *_ in rec.ops} == {*cells, "readout"}
    for name in cells:
        products = [(d, spiking) for n, _, d, spiking in rec.ops if n == name]
        assert len(products) == 2 * 20  # [W_u; W_c]·x[t] and [U_u; U_c]·h[t−1] at every step
        assert all(spiking for _, spiking in products[1::2])  # h is spikes: accumulates


def test_tcn_gsn_references_lstm_pt2_scan_is_nn_lstm_at_any_length():
    """torch.export unrolls nn.LSTM to the example's T; the pt2 twin scans each layer instead. The exported
    program runs other lengths and batches and equals nn.LSTM to float32 rounding, with and without a state."""
    from nsb.export.deploy import DeployModel
    from nsb.export.pt2_export import _ScanLSTM, export_program

    model = _model(['model.kind="lstm"', "model.hidden=[6, 5]"], _task(inputs=3, classes=4, steps=9)).eval()
    deploy = DeployModel(model, "classification", "last")
    program = export_program(deploy, torch.randn(9, 2, 3)).module()
    for shape in ((1, 1, 3), (4, 3, 3), (23, 5, 3)):
        x = torch.randn(*shape)
        torch.testing.assert_close(program(x)[0], deploy(x)[0], rtol=1e-5, atol=1e-6)
    lstm = model.lstm.layers[0]
    scan = _ScanLSTM(lstm)
    x, state = torch.randn(7, 2, 3), (torch.randn(1, 2, 6), torch.randn(1, 2, 6))
    with torch.no_grad():
        want, (h, c) = lstm(x, state)
        got, (h2, c2) = scan(x, state)
    for a, b in ((got, want), (h2, h), (c2, c)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_tcn_gsn_references_pt2_refuses_an_lstm_it_cannot_scan_in_one_line():
    from nsb.errors import NsbError
    from nsb.export.pt2_export import _ScanLSTM

    with pytest.raises(NsbError, match="one-layer, one-direction") as err:
        _ScanLSTM(torch.nn.LSTM(3, 4, bidirectional=True))
    assert "\n" not in str(err.value)


def test_tcn_gsn_references_non_spiking_gate_is_the_output():
    """Without spiking layers the gate holds the outputs (relative L2 ≤ 1e-5): float32 rounding passes,
    a perturbed output fails even when every prediction still agrees."""
    from types import SimpleNamespace

    import numpy as np

    from nsb.eval.fidelity import fidelity

    rng = np.random.default_rng(0)
    ref_out = rng.normal(size=(40, 4)).astype(np.float32)
    reference = SimpleNamespace(outputs=ref_out, labels=ref_out.argmax(-1), layers=[], inputs=np.zeros((5, 40, 2)))
    rounded = ref_out + np.float32(1e-7) * rng.normal(size=ref_out.shape).astype(np.float32)
    assert fidelity("classification", rounded, reference, [], [])["passed"]
    wrong = ref_out * np.float32(1.001)  # same argmax everywhere: only the output gate sees it
    result = fidelity("classification", wrong, reference, [], [])
    assert result["prediction_agreement"] == 1.0 and not result["passed"]
    regression = SimpleNamespace(outputs=ref_out, labels=ref_out, layers=[], inputs=reference.inputs)
    assert not fidelity("regression", ref_out + 0.01, regression, [], [])["passed"]
