"""The seed's elementwise neuron zoo (issue 16) against its equations, written here independently of
nsb from ``../shared/reference/neuroseqbench.md`` §1.2 and §2 (and the seed's code it paraphrases):
TCLIF, LM-H, CELIF (with its network-wide temporal embedding), ASGL-LIF and the non-spiking leaky
readout. Spikes equal; final states and gradients (input, learned parameters, recurrent weights) to
1e-5, for every surrogate, feed-forward and recurrent where the seed has both.

The helpers (the seed's spike with the reference's surrogate formulas, its loop with the recurrent
input added first, the comparison) are those of ``tests/test_seed_equations.py``.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nsb.errors import ConfigError
from nsb.neurons import build_neuron
from nsb.neurons.module import share_learned
from test_seed_equations import SURROGATES, TOL, B, N, T, compare, drive, run_seed, seed_spike

CASES = [(g, rec) for g in sorted(SURROGATES) for rec in (False, True)]


def _perturb(m, scale):
    """Move the learned values off their initial ones, as training would."""
    torch.manual_seed(7)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if not name.startswith("recurrent"):
                p.add_(scale * torch.randn_like(p))


@pytest.mark.parametrize("surrogate,recurrent", CASES)
def test_tclif_is_the_seeds_tclif(surrogate, recurrent):
    torch.manual_seed(1)
    theta, gamma = 0.5, 0.5
    m = build_neuron("tclif", N, threshold=theta, surrogate=surrogate, recurrent=recurrent, backend="torch")
    _perturb(m, 0.5)

    def step(xt, st):  # TCLIF._serial_process
        st["v1"] = st["v1"] - torch.sigmoid(m.beta1) * st["v2"] + xt
        st["v2"] = st["v2"] + torch.sigmoid(m.beta2) * st["v1"]
        y = seed_spike(st["v2"], theta, surrogate, 1.0)
        st["v1"] = st["v1"] - y * gamma
        st["v2"] = st["v2"] - y * theta
        return y

    state = {"v1": torch.zeros(B, N), "v2": torch.zeros(B, N), "y": torch.zeros(B, N)}
    compare(m, step, state, drive(seed=21, scale=0.6), final=("v1", "v1"))


def test_tclif_starts_from_the_seeds_values():
    m = build_neuron("tclif", N)
    assert float(m.beta1) == 0.0 and float(m.beta2) == 0.0  # σ = 0.5
    assert m.options.gamma == 0.5 and m.options.threshold == 0.3
    assert all(not t.any() for t in m.initial_state(torch.zeros(B, N)))


@pytest.mark.parametrize("surrogate,recurrent", CASES)
def test_lmh_is_the_seeds_lmh(surrogate, recurrent):
    torch.manual_seed(1)
    theta = 0.4
    m = build_neuron("lmh", N, threshold=theta, surrogate=surrogate, recurrent=recurrent, backend="torch")
    _perturb(m, 0.4)
    sg = torch.sigmoid

    def step(xt, st):  # LMH._serial_process: a = [1, 1, 1, 1], b = [−0.5, −0.5, 0.5, 0.5]
        st["vd"] = (sg(m.alpha1) - 0.5) * st["vd"] + (sg(m.beta1) - 0.5) * st["vs"] + xt
        st["vs"] = (sg(m.alpha2) + 0.5) * st["vs"] + (sg(m.beta2) + 0.5) * st["vd"]
        y = seed_spike(st["vs"], theta, surrogate, 1.0)
        st["vs"] = st["vs"] - y.detach()  # subtracts 1, with no gradient
        return y

    state = {"vd": torch.zeros(B, N), "vs": torch.full((B, N), 0.5 * theta), "y": torch.zeros(B, N)}
    compare(m, step, state, drive(seed=22, scale=0.5), final=("vd", "vd"))


def test_lmh_soma_starts_at_half_the_threshold_and_resets_by_one():
    m = build_neuron("lmh", N, threshold=0.6, backend="torch")
    vd, vs, s = m.initial_state(torch.zeros(B, N))
    assert not vd.any() and torch.equal(vs, torch.full((B, N), 0.3)) and not s.any()
    assert all(float(getattr(m, k)) == 0.0 for k in ("alpha1", "beta1", "alpha2", "beta2"))
    x = torch.zeros(1, 1, N)
    x[0, 0, 0] = 2.0  # vd = 2, vs = 1·0.3 + 1·2 = 2.3 > 0.6: a spike, then vs = 1.3
    s, (vd, vs, _) = m(x)
    assert s[0, 0, 0] == 1 and torch.isclose(vs[0, 0], torch.tensor(1.3))


def _celif_seed(m, te_seed, theta, beta, decay, surrogate):
    """CELIF._serial_process over the seed's TE [max_hidden, T], read as TE[:N, step]."""
    t = {"i": 0}

    def step(xt, st):
        st["thresh"] = st["thresh"] + st["v"] * te_seed[:N, t["i"]] - (st["thresh"] - theta) * beta
        st["v"] = st["v"] * decay * (1.0 - st["y"]) + xt
        t["i"] += 1
        return seed_spike(st["v"], st["thresh"], surrogate, 1.0)

    return step


@pytest.mark.parametrize("surrogate,recurrent", CASES)
def test_celif_is_the_seeds_celif(surrogate, recurrent):
    torch.manual_seed(1)
    theta, beta, decay, rest = 0.4, 0.05, 0.7, 0.1
    m = build_neuron("celif", N, time_steps=T + 5, threshold=theta, beta=beta, decay=decay, v_rest=rest,
                     surrogate=surrogate, recurrent=recurrent, backend="torch")
    with torch.no_grad():  # an embedding large enough to move the threshold visibly
        m.te.normal_(0.0, 0.3)
    state = {"v": torch.full((B, N), rest), "y": torch.zeros(B, N), "thresh": torch.full((B, N), theta)}
    compare(m, _celif_seed(m, m.te.t(), theta, beta, decay, surrogate), state, drive(seed=23, scale=0.8))


@pytest.mark.parametrize("recurrent", [False, True])
def test_celif_embedding_is_one_network_tensor_shared_by_every_layer(recurrent):
    """The network creates TE [T, widest] once; a narrower layer reads its first N columns (the seed's
    TE[:N, t]) and its gradient reaches the one shared tensor."""
    torch.manual_seed(2)
    theta = 0.3
    wide = build_neuron("celif", N + 5, time_steps=T, threshold=theta, recurrent=False, backend="torch")
    narrow = build_neuron("celif", N, time_steps=T, threshold=theta, recurrent=recurrent, backend="torch")
    net = share_learned(nn.ModuleList([wide, narrow]))
    assert wide.te is narrow.te and tuple(wide.te.shape) == (T, N + 5)
    assert len(list(net.parameters())) == 1 + 2 * recurrent  # TE once (and the recurrent Linear)
    mean, std = float(wide.te.mean()), float(wide.te.std())
    assert abs(mean - 0.01) < 0.005 and abs(std - 0.01) < 0.005  # N(0.01, 0.01)
    with torch.no_grad():
        wide.te.normal_(0.0, 0.3)
    state = {"v": torch.zeros(B, N), "y": torch.zeros(B, N), "thresh": torch.full((B, N), theta)}
    compare(narrow, _celif_seed(narrow, wide.te.t(), theta, 0.02, 0.2, "rectangle"), state,
            drive(seed=24, scale=0.8))
    assert narrow.export_op().params[0].shape == (T, N)


def test_celif_layers_that_disagree_on_the_sequence_length_cannot_share():
    layers = nn.ModuleList([build_neuron("celif", 4, time_steps=10), build_neuron("celif", 4, time_steps=12)])
    with pytest.raises(ConfigError, match="share 'te'"):
        share_learned(layers)


def test_a_built_model_shares_one_embedding():
    from nsb.config import load_config
    from nsb.data.common import TaskData
    from nsb.models.build import build_model

    cfg = load_config(None, ['model.neuron="celif"', "model.hidden=[12, 7]"])
    task = TaskData(task="classification", train=[], test=[], input_size=2, num_classes=10, time_steps=20)
    layers = [m for m in build_model(cfg, task).modules() if type(m).__name__ == "Neuron"]
    assert len(layers) == 2 and layers[0].te is layers[1].te and tuple(layers[0].te.shape) == (20, 12)


@pytest.mark.parametrize("recurrent", [False, True])
def test_asgl_lif_is_the_seeds_asgl_lif(recurrent):
    """Training forward with the noise mask drawn once per sequence (p = 0.1): the seed's
    EfficientNoisySpike, out = r(u) + sg((H(u) − r(u))·M), r(u) = clamp(u + a/2, 0, a), H(0) = 1."""
    torch.manual_seed(1)
    decay, theta, rest, a = 0.7, 0.5, -0.1, 0.8
    m = build_neuron("asgl_lif", N, decay=decay, threshold=theta, v_rest=rest, alpha=a, recurrent=recurrent,
                     backend="torch")
    mask = {}

    def step(xt, st):  # ASGL_LIF._serial_process
        st["v"] = decay * st["v"] * (1.0 - st["y"]) + rest * st["y"] + xt
        u = st["v"] - theta
        r = (u + a / 2).clamp(0, a)
        return r + (((u >= 0).to(u.dtype) - r) * mask["M"]).detach()

    x = drive(seed=25, scale=0.6)
    torch.manual_seed(9)
    mask["M"] = (torch.rand(B, N) >= 0.1).to(x.dtype)  # M ~ Bernoulli(1 − p), once per sequence
    torch.manual_seed(9)
    state = {"v": torch.full((B, N), rest), "y": torch.zeros(B, N)}
    compare(m, step, state, x)


def test_asgl_lif_spikes_through_asgl_only():
    m = build_neuron("asgl_lif", N)
    assert m.surrogate.name == "asgl" and m.export_op().attributes["spike_test"] == "greater_equal"
    assert m.export_op().attributes["reset_mode"] == "hard" and m.export_op().attributes["reset_timing"] == "deferred"
    with pytest.raises(ConfigError, match='surrogate.name = "asgl"'):
        build_neuron("asgl_lif", N, surrogate="rectangle")
    with pytest.raises(ConfigError, match="has no option 'reset'"):
        build_neuron("asgl_lif", N, reset="soft")


def test_leaky_readout_is_the_seeds_non_spiking_lif():
    """v[t] = λ·v[t−1] + x[t] (the seed's LIF update with y held at 0), the output is v; gradients too."""
    torch.manual_seed(1)
    decay, rest = 0.6, 0.2
    m = build_neuron("leaky", N, decay=decay, v_rest=rest, backend="torch")
    x = drive(seed=26, scale=0.6)
    out, (v_nsb, _) = m(x)
    v, seed_out = torch.full((B, N), rest), []
    for xt in x:
        v = decay * v + xt
        seed_out.append(v)
    seed_out = torch.stack(seed_out)
    assert torch.equal(out, seed_out) and torch.equal(v_nsb, v)
    w = torch.linspace(-1.0, 1.0, N)
    g_nsb, = torch.autograd.grad((out * w).sum(), x)
    g_seed, = torch.autograd.grad((seed_out * w).sum(), x)
    torch.testing.assert_close(g_nsb, g_seed, **TOL)


def test_leaky_readout_is_never_recurrent():
    with pytest.raises(ConfigError, match="never recurrent"):
        build_neuron("leaky", N, recurrent=True)


@pytest.mark.parametrize("surrogate,recurrent", CASES)
def test_clif_is_the_seeds_clif(surrogate, recurrent):
    """CLIF._serial_process as it runs: its ``torch.sigmoid_(m)`` in the reset replaces m by σ(m) in
    place, so the next step starts from σ(m) (the reference's §1.2 line leaves the in-place out)."""
    torch.manual_seed(1)
    theta, gamma, rest = 0.5, 0.5, 0.1
    m = build_neuron("clif", N, threshold=theta, v_rest=rest, surrogate=surrogate, recurrent=recurrent,
                     backend="torch")

    def step(xt, st):
        st["u"] = gamma * st["u"] + xt
        y = seed_spike(st["u"], theta, surrogate, 1.0)
        st["m"] = st["m"] * torch.sigmoid_((1.0 - gamma) * st["u"]) + y
        st["u"] = st["u"] - y * (theta + torch.sigmoid_(st["m"]))
        return y

    state = {"u": torch.full((B, N), rest), "y": torch.zeros(B, N), "m": torch.zeros(B, N)}
    compare(m, step, state, drive(seed=27, scale=0.8), final=("u", "u"))


def test_clif_gamma_is_fixed_and_m_starts_at_zero():
    m = build_neuron("clif", N)
    assert m.export_op().attributes["gamma"] == 0.5 and m.options.threshold == 0.3
    with pytest.raises(ConfigError, match="has no option 'decay'"):
        build_neuron("clif", N, decay=0.9)
    u, mm, s = m.initial_state(torch.zeros(B, N))
    assert not u.any() and not mm.any() and not s.any()


class _EndsInLeaky(nn.Module):
    """Linear → LIF → Linear → leaky readout (the seed's DCLS network's shape): the output is the
    readout's membrane at every step."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.fc1, self.fc2 = nn.Linear(3, 12), nn.Linear(12, 4)
        self.lif = build_neuron("lif", 12, decay=0.8, threshold=0.3)
        self.readout = build_neuron("leaky", 4, decay=0.6, v_rest=0.1)

    def forward(self, x, state=None):
        s, _ = self.lif(self.fc1(x))
        v, _ = self.readout(self.fc2(s))
        return v, []


def test_a_model_ending_in_the_leaky_readout_deploys_on_every_cpu_runtime():
    """The readout's membrane through its LI op: TorchScript kernel, torch.export, onnxruntime on the nsb
    functions and on the standard ops, and OpenVINO all give the PyTorch layer's output."""
    import numpy as np
    import onnxruntime as ort
    import openvino as ov

    from nsb.export.deploy import DeployModel
    from nsb.export.onnx_export import export_onnx, inline_functions
    from nsb.export.pt2_export import export_program

    model = _EndsInLeaky().eval()
    x = torch.rand(30, 5, 3, generator=torch.Generator().manual_seed(4)) * 1.5
    with torch.no_grad():
        want, _ = model(x)
        deploy = DeployModel(model, "regression", "all")
        got = deploy(x)
    assert torch.equal(got[0], want) and 0.05 < float(got[1].mean()) < 0.95  # the LIF layer spikes
    assert deploy.deploy_neurons[1].spec.name == "LI"
    outputs = {"TorchScript kernel": got[0].numpy()}
    outputs["torch.export"] = export_program(deploy, x).module()(x)[0].detach().numpy()
    custom = export_onnx(deploy, x)
    assert [n.op_type for n in custom.graph.node if n.domain == "nsb"] == ["LIF", "LI"]
    std = inline_functions(custom)
    for name, proto in (("onnxruntime (nsb functions)", custom), ("onnxruntime (std)", std)):
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        outputs[name] = session.run(None, {"input": x.numpy()})[0]
    core = ov.Core()
    compiled = core.compile_model(core.read_model(std.SerializeToString(), b""), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32"})
    outputs["OpenVINO"] = compiled({0: x.numpy()})[compiled.output(0)]
    for name, out in outputs.items():
        np.testing.assert_allclose(out, want.numpy(), rtol=1e-6, atol=1e-6, err_msg=name)
