"""The dense-recurrence neurons (DH-LIF, LTC, the GSN cell; issue 16) against the seed's equations,
transcribed here from ``../shared/reference/neuroseqbench.md`` §1.2 independently of nsb's layers:
each transcription runs the seed's step as written — the dense layers applied to the concatenated
(and, for DH-LIF, zero-padded) input at every step, no batching over time — on the nsb layer's own
tensors. Spikes equal; final membranes and gradients (input and every parameter) to 1e-5.

Also: the seed's initialisation and shapes, streams cut into chunks, the deployable twin (TorchScript
loop and the ``scan`` that ONNX and ``torch.export`` get) bit for bit with the trained layer, and the
models a config builds.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch

from nsb.errors import ConfigError
from nsb.neurons import build_neuron
from test_seed_equations import SURROGATES, seed_spike

N, T, B, N_IN = 8, 30, 3, 5
TOL = dict(rtol=1e-5, atol=1e-5)


def drive(seed: int, features: int, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(T, B, features, generator=g) * scale + 0.2 * scale).requires_grad_()


def compare(layer, x, make_seed, membrane_index=0, seed_membrane="v"):
    """One loss through both, in float32 (the training dtype) and in float64: spikes equal and the final
    membrane close in both; every gradient to 1e-5 in float64, where the order in which each side sums
    (one GEMM over the sequence against one product per step) no longer shows, and to 1e-4 in float32."""
    for dtype, tol in ((torch.float32, dict(rtol=1e-4, atol=1e-4)), (torch.float64, TOL)):
        m = copy.deepcopy(layer).to(dtype)
        xx = x.detach().to(dtype).requires_grad_()
        weights = torch.linspace(0.5, 1.5, m.size, dtype=dtype)
        s_nsb, state = m(xx)
        loss = (s_nsb * weights).sum() + state[membrane_index].square().sum()
        params = [p for p in m.parameters() if p.requires_grad]
        names = ["x", *(n for n, p in m.named_parameters() if p.requires_grad)]
        grads_nsb = torch.autograd.grad(loss, [xx, *params], allow_unused=True)
        s_seed, final = make_seed(m)(xx)
        loss_seed = (s_seed * weights).sum() + final[seed_membrane].square().sum()
        grads_seed = torch.autograd.grad(loss_seed, [xx, *params], allow_unused=True)
        assert torch.equal(s_nsb, s_seed), dtype
        rate = float(s_seed.detach().mean())
        assert 0.02 < rate < 0.95, f"the case must exercise both spiking and silence, {rate}"
        torch.testing.assert_close(state[membrane_index], final[seed_membrane], **TOL)
        for name, a, b in zip(names, grads_nsb, grads_seed):
            assert a is not None and b is not None, name
            assert b.abs().sum() > 0, f"gradient of {name} is zero: the case tests nothing"
            torch.testing.assert_close(a, b, **tol, msg=lambda msg: f"{dtype} gradient of {name}: {msg}")


# --- DH-LIF -------------------------------------------------------------------------------------------

def seed_dhlif(layer, threshold, branches, recurrent, surrogate, alpha):
    """The seed's DHSNN step: [x (; y); zero pad] → dense → d per branch → Σ → LIF with θ·y reset."""

    def run(x):
        n = layer.size
        width = x.shape[-1] + (n if recurrent else 0)
        pad = (branches - width % branches) % branches  # zero-pad to a multiple of B_n
        beta = torch.sigmoid(layer.tau_n)
        decay = torch.sigmoid(layer.tau_m)
        v = x.new_zeros(x.shape[1], n)
        d = x.new_zeros(x.shape[1], n, branches)
        y = x.new_zeros(x.shape[1], n)
        out = []
        for xt in x:
            parts = [xt, y] if recurrent else [xt]
            inp = torch.cat(parts + [x.new_zeros(x.shape[1], pad)], dim=1)
            d = beta * d + (1 - beta) * layer.dense(inp).reshape(x.shape[1], n, branches)
            current = d.sum(dim=2)
            v = decay * v + current - threshold * y
            y = seed_spike(v, threshold, surrogate, alpha)
            out.append(y)
        return torch.stack(out), {"v": v, "d": d}

    return run


DHLIF_CASES = [(g, rec, br, backend) for g in sorted(SURROGATES) for rec in (False, True) for br in (4, 3)
               for backend in (("torch", "auto") if not rec else ("torch",))]


@pytest.mark.parametrize("surrogate,recurrent,branches,backend", DHLIF_CASES)
def test_dhlif_is_the_seeds(surrogate, recurrent, branches, backend):
    """backend "auto": a feed-forward layer's float32 pass runs its stage kernels' CPU build (dhlif_ops.py)."""
    torch.manual_seed(3)
    threshold, alpha = 0.4, 1.0
    layer = build_neuron("dhlif", N, input_size=N_IN, threshold=threshold, branches=branches, surrogate=surrogate,
                         alpha=alpha, recurrent=recurrent, backend=backend)
    width = N_IN + (N if recurrent else 0)
    assert layer.dense.in_features == width + (branches - width % branches) % branches
    assert layer.dense.out_features == N * branches
    compare(layer, drive(0, N_IN), lambda m: seed_dhlif(m, threshold, branches, recurrent, surrogate, alpha))


def test_dhlif_initialisation():
    torch.manual_seed(0)
    layer = build_neuron("dhlif", 256, input_size=30)
    assert layer.options.branches == 4 and layer.options.threshold == 0.3
    assert layer.tau_m.shape == (256,) and layer.tau_n.shape == (256, 4)
    for tau in (layer.tau_m, layer.tau_n):  # U(0, 4)
        tau = tau.detach()
        assert 0 <= float(tau.min()) < 0.1 and 3.9 < float(tau.max()) <= 4
        assert abs(float(tau.mean()) - 2.0) < 0.1
    bound = 1 / math.sqrt(32)  # nn.Linear's default over the padded fan-in (30 → 32)
    assert layer.dense.in_features == 32 and float(layer.dense.weight.abs().max()) <= bound


# --- LTC -----------------------------------------------------------------------------------------------

def seed_ltc(layer, threshold, b0, recurrent, surrogate, alpha):
    """The seed's LTC step: gates over [x; v] and [x; b], adaptive threshold, reset v ← (1 − y)·v."""

    def run(x):
        v = x.new_zeros(x.shape[1], layer.size)
        y = torch.zeros_like(v)
        b = torch.full_like(v, b0)
        out = []
        for xt in x:
            if recurrent:
                xt = xt + layer.recurrent(y)
            a = torch.sigmoid(layer.gate_m(torch.cat([xt, v], dim=-1)))
            rho = torch.sigmoid(layer.gate_a(torch.cat([xt, b], dim=-1)))
            b = rho * b + (1 - rho) * y
            big_b = threshold + 0.2 * b
            v = v + a * (xt - v)
            y = seed_spike(v, big_b, surrogate, alpha)  # gradient into B
            v = (1 - y) * v
            out.append(y)
        return torch.stack(out), {"v": v, "b": b}

    return run


LTC_CASES = [(g, rec, b0) for g in sorted(SURROGATES) for rec in (False, True) for b0 in (None, 0.5)]


@pytest.mark.parametrize("surrogate,recurrent,b0", LTC_CASES)
def test_ltc_is_the_seeds(surrogate, recurrent, b0):
    torch.manual_seed(4)
    threshold, alpha = 0.3, 1.0
    options = {} if b0 is None else {"b0": b0}
    layer = build_neuron("ltc", N, threshold=threshold, surrogate=surrogate, alpha=alpha, recurrent=recurrent,
                         backend="torch", **options)
    with torch.no_grad():  # the seed's biases start at 0; move them so their gradients are exercised too
        layer.gate_m.bias.normal_(0, 0.5)
        layer.gate_a.bias.normal_(0, 0.5)
    x = drive(1, N, scale=1.5)
    compare(layer, x, lambda m: seed_ltc(m, threshold, threshold if b0 is None else b0, recurrent, surrogate, alpha))


def test_ltc_initialisation_and_state():
    torch.manual_seed(0)
    layer = build_neuron("ltc", 256)
    for gate in (layer.gate_m, layer.gate_a):  # Xavier-normal, zero bias, 2N → N
        assert gate.weight.shape == (256, 512)
        assert not gate.bias.any()
        assert abs(float(gate.weight.std()) - math.sqrt(2 / (512 + 256))) < 0.02 * math.sqrt(2 / 768)
        assert abs(float(gate.weight.mean())) < 1e-3
    v, b, s = layer.initial_state(torch.zeros(2, 256))
    assert not v.any() and not s.any() and torch.all(b == 0.3)  # b₀ = θ
    _, b, _ = build_neuron("ltc", 4, b0=0.5).initial_state(torch.zeros(2, 4))
    assert torch.all(b == 0.5)  # the seed's PTB state


# --- the GSN cell --------------------------------------------------------------------------------------

def seed_gsn(layer, threshold, surrogate, alpha):
    """The GSN step: u = σ(W_u x + U_u h + b_u); c = u c + (1 − u)(W_c x + U_c h + b_c); h = H(c − θ)."""
    h_size = layer.size
    w_u, w_c = layer.weight_x[:h_size], layer.weight_x[h_size:]
    u_u, u_c = layer.weight_h[:h_size], layer.weight_h[h_size:]
    b_u, b_c = layer.bias[:h_size], layer.bias[h_size:]

    def run(x):
        c = x.new_zeros(x.shape[1], h_size)
        h = torch.zeros_like(c)
        out = []
        for xt in x:
            u = torch.sigmoid(xt @ w_u.t() + h @ u_u.t() + b_u)
            c = u * c + (1 - u) * (xt @ w_c.t() + h @ u_c.t() + b_c)
            h = seed_spike(c, threshold, surrogate, alpha)
            out.append(h)
        return torch.stack(out), {"c": c}

    return run


@pytest.mark.parametrize("surrogate", sorted(SURROGATES))
def test_gsn_is_the_seeds(surrogate):
    torch.manual_seed(5)
    threshold, alpha = 0.1, 1.0
    layer = build_neuron("gsn", N, input_size=N_IN, threshold=threshold, surrogate=surrogate, alpha=alpha,
                         backend="torch")
    compare(layer, drive(2, N_IN, scale=2.0), lambda m: seed_gsn(m, threshold, surrogate, alpha), seed_membrane="c")


def test_gsn_initialisation():
    torch.manual_seed(0)
    layer = build_neuron("gsn", 64, input_size=10)
    bound = 1 / math.sqrt(64)  # U(±1/√H) for every weight and bias
    for p in (layer.weight_x, layer.weight_h, layer.bias):
        assert float(p.abs().max()) <= bound and float(p.abs().max()) > 0.9 * bound
    assert layer.weight_x.shape == (128, 10) and layer.weight_h.shape == (128, 64)
    with pytest.raises(ConfigError, match="always recurrent"):
        build_neuron("gsn", 4, recurrent=False)


# --- what every one of them keeps ------------------------------------------------------------------------

LAYERS = {
    "dhlif": dict(input_size=N_IN), "dhlif recurrent": dict(input_size=N_IN, recurrent=True),
    "ltc": {}, "ltc recurrent": dict(recurrent=True), "gsn": dict(input_size=N_IN, threshold=0.1),
}


def _layer(kind: str):
    torch.manual_seed(7)
    return build_neuron(kind.split()[0], N, backend="torch", **LAYERS[kind])


@pytest.mark.parametrize("kind", list(LAYERS))
def test_a_stream_cut_into_chunks_is_one_pass(kind):
    layer = _layer(kind)
    x = drive(3, layer.input_size, scale=1.5).detach()
    spikes, state = layer(x)
    first, mid = layer(x[:11])
    second, end = layer(x[11:], mid)
    assert torch.equal(torch.cat([first, second]), spikes)
    for a, b in zip(end, state):
        assert torch.equal(a, b)
    assert len(state) == len(layer.state_names) and layer.state_names[-1] == "s"


@pytest.mark.parametrize("kind", list(LAYERS))
def test_the_deployable_twin_is_bit_exact(kind):
    """The TorchScript loop (model.ts) and the scan (model.onnx, model.std.onnx, model.pt2) of the twin
    give the trained layer's spikes and states bit for bit, with a state passed in too."""
    layer = _layer(kind).eval()
    x = drive(4, layer.input_size, scale=1.5).detach()
    with torch.no_grad():
        spikes, state = layer(x[:20])
        more, final = layer(x[20:], state)
        twin = layer.deploy_module().eval()
        tensors = twin.tensors()
        for run in (twin.kind.deploy_script, twin.kind.deploy_scan):
            got, got_state = run(x[:20], tensors, layer.initial_state(x[0]), twin.constants)
            assert torch.equal(got, spikes)
            got_more, got_final = run(x[20:], tensors, got_state, twin.constants)
            assert torch.equal(got_more, more)
            for a, b in zip(got_final, final):
                assert torch.equal(a, b)


def test_the_input_products_run_outside_the_time_loop():
    """One GEMM over the whole sequence for the input side: in the loop, only the state's products."""
    calls = []
    original = torch.nn.functional.linear

    def counted(inp, weight, bias=None):
        calls.append(tuple(inp.shape))
        return original(inp, weight, bias)

    torch.nn.functional.linear = counted
    try:
        for kind, per_step in (("dhlif", 0), ("dhlif recurrent", 1), ("ltc", 2), ("ltc recurrent", 5), ("gsn", 1)):
            calls.clear()
            layer = _layer(kind)
            layer(torch.randn(T, B, layer.input_size))
            whole = [c for c in calls if len(c) == 3]
            assert whole == [(T, B, layer.input_size)], (kind, whole)
            assert len(calls) - 1 == per_step * T, (kind, len(calls))
    finally:
        torch.nn.functional.linear = original


def test_options_and_rules_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="has no option 'decay'"):
        build_neuron("ltc", 4, decay=0.5)
    with pytest.raises(ConfigError, match="branches"):
        build_neuron("dhlif", 4, branches=0)
    with pytest.raises(ConfigError, match="tau_m"):
        build_neuron("dhlif", 4, tau_m=[4.0, 0.0])
    from nsb.learning import apply_rule, build_rule

    layer = build_neuron("ltc", 4)
    for rule in ("ottt", "sdbp", "notd", "eprop", "sltt"):
        with pytest.raises(ConfigError, match="STBP or T-STBP"):
            apply_rule(layer, build_rule(rule))


@pytest.mark.parametrize("kind", ["dhlif recurrent", "ltc recurrent", "gsn"])
def test_tstbp_cuts_the_gradient_every_k_steps(kind):
    from nsb.learning import apply_rule, build_rule

    layer = _layer(kind)
    x = drive(5, layer.input_size, scale=1.5)
    _, state = layer(x)
    full = torch.autograd.grad(state[0].sum(), x)[0]
    apply_rule(layer, build_rule("tstbp", truncation=10))
    _, state = layer(x)
    cut = torch.autograd.grad(state[0].sum(), x)[0]
    assert full[:20].abs().sum() > 0 and not cut[:20].any()  # the last window starts at step 20
    torch.testing.assert_close(cut[20:], full[20:])


# --- from a config ------------------------------------------------------------------------------------------

def _model(neuron: str, *overrides: str, config=None):
    from nsb.config import load_config
    from nsb.data import load_task
    from nsb.models.build import build_model

    cfg = load_config(config, [f'model.neuron="{neuron}"', "data.time_steps=20", "model.hidden=[12, 10]",
                               *overrides])
    task = load_task(cfg.data.name, cfg.data.root, cfg.data.options, cfg.seed)
    return build_model(cfg, task), task


@pytest.mark.parametrize("neuron", ["dhlif", "ltc", "gsn"])
def test_classifier_from_a_config(neuron):
    from nsb.neurons.dense import DenseNeuron

    torch.manual_seed(0)
    model, task = _model(neuron, "model.recurrent=[true, false]")
    layers = [layer.neuron for layer in model.layers]
    assert all(isinstance(n, DenseNeuron) and n.decl.name == neuron for n in layers)
    if neuron in ("dhlif", "gsn"):  # the neuron owns its input layer: no Linear before it
        assert all(isinstance(layer.synapse, torch.nn.Identity) for layer in model.layers)
        assert [n.input_size for n in layers] == [task.input_size, 12]
    if neuron == "dhlif":
        assert layers[0].is_recurrent and not layers[1].is_recurrent
        padded = task.input_size + 12 + (-(task.input_size + 12)) % 4
        expected = (padded * 48 + 48 + 12 + 48) + (12 * 40 + 40 + 10 + 40) + (10 * task.num_classes + task.num_classes)
        assert sum(p.numel() for p in model.parameters()) == expected
    x = torch.randn(20, 4, task.input_size)
    out, state = model(x)
    out.sum().backward()
    assert out.shape == (20, 4, task.num_classes) and len(state) == 2


def test_dhlif_refuses_a_norm_it_cannot_have():
    with pytest.raises(ConfigError, match="owns its input layer"):
        _model("dhlif", 'model.norm="bn"')


@pytest.mark.parametrize("neuron", ["dhlif", "ltc", "gsn"])
def test_language_model_carries_the_state_across_windows(neuron, tmp_path):
    from model_kinds import ptb_files

    ptb_files(tmp_path)
    config = __import__("model_kinds").CONFIGS / "ptb_rec.toml"
    options = "neuron={threshold = 0.05}" if neuron != "ltc" else "neuron={threshold = 0.05, b0 = 0.5}"
    torch.manual_seed(0)
    model, task = _model(neuron, "model.embedding_dim=10", "model.hidden=[12, 10]", f'data.root="{tmp_path}"',
                         options, config=config)
    model.eval()
    tokens = torch.randint(0, task.num_classes, (16, 2))
    with torch.no_grad():
        whole, _ = model(tokens)
        first, state = model(tokens[:7])
        second, _ = model(tokens[7:], state)
    torch.testing.assert_close(torch.cat([first, second]), whole, rtol=0, atol=0)
