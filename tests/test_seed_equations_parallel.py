"""The parallel neurons (SPSN, PSN, PMSN, S4D; issue 16) against the seed's equations, written here
independently of nsb from ``../shared/reference/neuroseqbench.md`` §1.2 (the SPSN/PSN/PMSN/S4D rows and
the PMSN and S4D paragraphs): step by step or as direct sums over time where nsb convolves by conv1d,
matrix product or FFT. Spikes equal; membranes and gradients (input and every learned tensor) to 1e-5.
The SSM neurons are compared in float64, where the FFT's rounding is far below the tolerance.

Also: each is chosen from a config, refuses recurrence and the learning rules it has no form for in
one line, continues a stream cut into chunks, and S4D's SSM tensors get their own optimiser group.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nsb.errors import ConfigError
from nsb.neurons import build_neuron

T, B, N = 24, 3, 5
TOL = dict(rtol=1e-5, atol=1e-5)


class Spike(torch.autograd.Function):
    """H(u) forward (u > 0, the seed's LIFAct), ``g(u)`` backward."""

    @staticmethod
    def forward(ctx, u, g):
        ctx.save_for_backward(u)
        ctx.g = g
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return grad * ctx.g(u), None


def rectangle(u, a=1.0):  # reference §2: 1[|u| < a/2], height 1
    return (u.abs() < a / 2).to(u.dtype)


def triangle(u, a=1.0):  # reference §2: max(0, a − |u|)/a²
    return (a - u.abs()).clamp(min=0) / a**2


def membrane_of(layer, x, state=None):
    """What the layer's membrane tap saw, and its output."""
    seen = []
    handle = layer.membrane_tap.register_forward_hook(lambda _m, _i, v: seen.append(v))
    try:
        out, final = layer(x, state)
    finally:
        handle.remove()
    return seen[0], out, final


def grads(out, tensors):
    torch.manual_seed(99)
    weight = torch.randn(out.shape, dtype=out.dtype)
    return torch.autograd.grad((out * weight).sum(), tensors)


def assert_same(nsb_out, ref_out, nsb_v, ref_v, nsb_grads, ref_grads):
    assert torch.equal(nsb_out, ref_out) or torch.allclose(nsb_out, ref_out, **TOL)
    torch.testing.assert_close(nsb_v, ref_v, **TOL)
    for a, b in zip(nsb_grads, ref_grads):
        torch.testing.assert_close(a, b, **TOL)


# --- SPSN -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 4, 32])
def test_spsn_against_the_direct_sum(k):
    torch.manual_seed(0)
    layer = build_neuron("spsn", N, kernel_size=k, threshold=0.4, surrogate="rectangle", alpha=1.0)
    # the seed's init: w_{k−1} = 1, halving towards the past; bias 0
    assert torch.equal(layer.weight.detach(), torch.tensor([2.0 ** -(k - 1 - j) for j in range(k)]))
    assert float(layer.bias.detach()) == 0.0
    with torch.no_grad():
        layer.weight.add_(0.1 * torch.randn(k))
        layer.bias.fill_(0.3)
    x = torch.randn(T, B, N, requires_grad=True)
    v, s, _ = membrane_of(layer, x)

    # v_t = Σ_{j=0}^{k−1} w_j·x_{t−k+1+j} + bias·θ (x before step 0 is 0); y = H(v − θ)
    theta = 0.4
    rows = []
    for t in range(T):
        total = torch.zeros(B, N)
        for j in range(k):
            src = t - k + 1 + j
            if src >= 0:
                total = total + layer.weight[j] * x[src]
        rows.append(total + layer.bias * theta)
    v_ref = torch.stack(rows)
    s_ref = Spike.apply(v_ref - theta, rectangle)
    assert torch.equal(s, s_ref)
    tensors = (x, layer.weight, layer.bias)
    assert_same(s, s_ref, v, v_ref, grads(s, tensors), grads(s_ref, tensors))
    assert 0.05 < float(s.mean()) < 0.95


def test_spsn_stream_in_chunks_is_one_pass():
    torch.manual_seed(1)
    layer = build_neuron("spsn", N, kernel_size=6)
    x = torch.randn(T, B, N)
    whole, _ = layer(x)
    state, parts = None, []
    for chunk in x.split([5, 1, 11, 7]):
        s, state = layer(chunk, state)
        parts.append(s)
    assert torch.equal(torch.cat(parts), whole)


# --- PSN --------------------------------------------------------------------------------------------

def test_psn_against_the_direct_sum():
    torch.manual_seed(2)
    layer = build_neuron("psn", N, time_steps=T, threshold=0.3, surrogate="triangle", alpha=1.0)
    bound = 1 / math.sqrt(T)  # Kaiming-uniform with a = √5: U(±1/√fan_in)
    assert layer.weight.shape == (T, T) and float(layer.weight.abs().max()) <= bound
    assert float(layer.weight.std()) > bound / 3  # really drawn, not zeros
    with torch.no_grad():
        layer.bias.normal_(0, 0.1)
    x = torch.randn(T, B, N, requires_grad=True)
    v, s, _ = membrane_of(layer, x)
    # v = W·x_{1:T} + b: v[t] = Σ_s W[t, s]·x[s] + b[t]
    v_ref = torch.stack([sum(layer.weight[t, j] * x[j] for j in range(T)) + layer.bias[t] for t in range(T)])
    s_ref = Spike.apply(v_ref - 0.3, triangle)
    assert torch.equal(s, s_ref)
    tensors = (x, layer.weight, layer.bias)
    assert_same(s, s_ref, v, v_ref, grads(s, tensors), grads(s_ref, tensors))


def test_psn_refuses_another_length():
    layer = build_neuron("psn", N, time_steps=T)
    with pytest.raises(Exception, match="psn mixes exactly 24 steps"):
        layer(torch.randn(T - 1, B, N))


# --- PMSN -------------------------------------------------------------------------------------------

def seed_s_matrix(n=4):
    """−0.5 on the diagonal, +5k on the k-th entry above it and −5k below (reference, PMSN details)."""
    s = -0.5 * torch.eye(n, dtype=torch.float64)
    for k in range(1, n):
        s[k - 1, k] = 5 * k
        s[k, k - 1] = -5 * k
    return s


def test_pmsn_initial_kernel_is_the_compartment_model():
    """With its initial A, B, C the kernel is the N = 4 compartment chain's impulse response
    K_l = e_Nᵀ·e^{S·dt·l}·(e^{S·dt} − I)·S⁻¹·1 (zero-order hold), computed here in real space."""
    torch.manual_seed(3)
    layer = build_neuron("pmsn", N, time_steps=T).double()
    s = seed_s_matrix()
    # A_imag from the eigen-decomposition of −iS, A_real the mean of the diagonal
    expected = torch.linalg.eigvals(s).imag.sort().values
    torch.testing.assert_close(layer.A_imag[0].detach().sort().values, expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(-torch.exp(layer.log_A_real.detach()), torch.full((N, 4), -0.5, dtype=torch.float64))
    dt = torch.exp(layer.log_dt.detach())
    assert float(dt.min()) >= 1e-3 - 1e-9 and float(dt.max()) <= 1e-1 + 1e-9
    kernel = layer.kernel(T).detach()
    ones, e_n = torch.ones(4, dtype=torch.float64), torch.eye(4, dtype=torch.float64)[-1]
    for h in range(N):
        step = torch.linalg.matrix_exp(s * dt[h])
        hold = (step - torch.eye(4, dtype=torch.float64)) @ torch.linalg.solve(s, ones)
        ref = torch.stack([e_n @ torch.linalg.matrix_exp(s * dt[h] * l) @ hold for l in range(T)])
        torch.testing.assert_close(kernel[h], ref, rtol=1e-4, atol=1e-6)


class PMSNSpike(torch.autograd.Function):
    """clamp(⌊r/θ⌋, 0, 1) forward; a triangle of width 1 on r − θ backward."""

    @staticmethod
    def forward(ctx, r, theta):
        ctx.save_for_backward(r)
        ctx.theta = theta
        return torch.clamp(torch.floor(r / theta), 0, 1)

    @staticmethod
    def backward(ctx, grad):
        (r,) = ctx.saved_tensors
        return grad * triangle(r - ctx.theta, 1.0), None


def pmsn_reference(layer, x, theta):
    """BN over T·B (batch statistics), K_l = Re Σ_n C_n·B̄_n·e^{A_n·dt·l}, y = Σ_{l≤t} K_l·u_{t−l} + D·u_t,
    then the cumulative-sum spike rule step by step."""
    bn = layer.norm
    mean = x.mean(dim=(0, 1))
    var = x.var(dim=(0, 1), unbiased=False)
    u = (x - mean) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias
    a = -torch.exp(layer.log_A_real) + 1j * layer.A_imag
    dt = torch.exp(layer.log_dt)[:, None]
    a_bar = torch.exp(a * dt)
    b_bar = (a_bar - 1) * torch.view_as_complex(layer.B) / a
    c = torch.view_as_complex(layer.C)
    k = torch.stack([(c * b_bar * torch.exp(a * dt * l)).sum(-1).real for l in range(x.shape[0])], dim=-1)  # [H, T]
    y = torch.stack([sum(k[:, l] * u[t - l] for l in range(t + 1)) + layer.D * u[t] for t in range(x.shape[0])])
    total = torch.zeros_like(y[0])
    spikes, residuals = [], []
    for t in range(x.shape[0]):
        before = total
        total = total + torch.relu(y[t])
        r = total - theta * torch.floor(before / theta)
        residuals.append(r)
        spikes.append(PMSNSpike.apply(r, theta))
    return torch.stack(spikes), torch.stack(residuals)


def test_pmsn_against_the_seed_equations():
    torch.manual_seed(4)
    theta = 0.3
    layer = build_neuron("pmsn", N, time_steps=T, threshold=theta).double().train()
    with torch.no_grad():  # away from the initial values, so every tensor matters
        layer.log_dt.add_(torch.randn(N, dtype=torch.float64) * 0.3)
        layer.B.add_(0.2 * torch.randn_like(layer.B))
        layer.C.add_(0.2 * torch.randn_like(layer.C))
        layer.norm.weight.uniform_(0.5, 1.5)
        layer.norm.bias.normal_(0, 0.2)
    x = torch.randn(T, B, N, dtype=torch.float64, requires_grad=True)
    r, s, _ = membrane_of(layer, x)
    s_ref, r_ref = pmsn_reference(layer, x, theta)
    assert torch.equal(s, s_ref)
    assert 0.05 < float(s.mean()) < 0.95
    tensors = (x, layer.log_dt, layer.log_A_real, layer.A_imag, layer.B, layer.C, layer.D, layer.norm.weight,
               layer.norm.bias)
    assert_same(s, s_ref, r, r_ref, grads(s, tensors), grads(s_ref, tensors))


def test_pmsn_refuses_recurrence_in_one_line():
    with pytest.raises(ConfigError, match="pmsn.*no recurrent form") as err:
        build_neuron("pmsn", N, time_steps=T, recurrent=True)
    assert "\n" not in str(err.value)


def test_pmsn_stream_in_chunks_continues_the_pass():
    torch.manual_seed(5)
    layer = build_neuron("pmsn", N, time_steps=T).double().eval()
    x = torch.randn(T, B, N, dtype=torch.float64)
    r_whole, whole, final = membrane_of(layer, x)
    state, parts, residuals = None, [], []
    for chunk in x.split([7, 1, 16]):
        r, s, state = membrane_of(layer, chunk, state)
        parts.append(s)
        residuals.append(r)
    torch.testing.assert_close(torch.cat(residuals), r_whole, rtol=1e-9, atol=1e-9)
    assert torch.equal(torch.cat(parts), whole)
    for a, b in zip(state, final):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


# --- S4D --------------------------------------------------------------------------------------------

def s4d_kernel(layer, steps):
    """K_l = 2·Re Σ_n C_n·(e^{dt·A_n} − 1)/A_n·e^{dt·A_n·l}."""
    a = -torch.exp(layer.log_A_real) + 1j * layer.A_imag
    dt = torch.exp(layer.log_dt)[:, None]
    c = torch.view_as_complex(layer.C)
    return torch.stack([2 * (c * (torch.exp(dt * a) - 1) / a * torch.exp(dt * a * l)).sum(-1).real
                        for l in range(steps)], dim=-1)


def s4d_core(layer, z):
    k = s4d_kernel(layer, z.shape[0])
    return torch.stack([sum(k[:, l] * z[t - l] for l in range(t + 1)) + layer.D * z[t] for t in range(z.shape[0])])


def tern(v, top):
    return torch.sign(v) * (v.abs() >= 0.15 * top).to(v.dtype)


def test_s4d_initialisation():
    torch.manual_seed(6)
    layer = build_neuron("s4d", N, time_steps=T, d_state=8)
    a = -torch.exp(layer.log_A_real) + 1j * layer.A_imag  # A = −0.5 + iπn, n = 0…N/2−1
    torch.testing.assert_close(a.real, torch.full((N, 4), -0.5))
    torch.testing.assert_close(a.imag, math.pi * torch.arange(4.0).repeat(N, 1))
    dt = torch.exp(layer.log_dt)
    assert float(dt.min()) >= 1e-3 - 1e-9 and float(dt.max()) <= 1e-1 + 1e-9
    assert build_neuron("s4d", N, time_steps=T).C.shape == (N, 32, 2)  # default d_state 64


def test_s4d_binary_against_the_seed_equations():
    torch.manual_seed(7)
    layer = build_neuron("s4d", N, time_steps=T, d_state=8, surrogate="triangle", alpha=0.5).double().train()
    with torch.no_grad():
        layer.log_dt.add_(torch.randn(N, dtype=torch.float64))
    x = torch.randn(T, B, N, dtype=torch.float64, requires_grad=True)
    y, out, _ = membrane_of(layer, x)
    spikes = []
    h = layer.tap.register_forward_hook(lambda _m, _i, s: spikes.append(s))
    layer(x)
    h.remove()

    z = nn.functional.layer_norm(x, (N,), layer.pre_norm.weight, layer.pre_norm.bias, layer.pre_norm.eps)
    y_ref = s4d_core(layer, z)
    s_ref = Spike.apply(y_ref, lambda u: triangle(u, 0.5))       # H(y − 0), θ = 0
    w = layer.output.weight[:, :, 0]                               # Conv1d(H, 2H, 1): a per-step matrix
    g = s_ref @ w.t() + layer.output.bias
    out_ref = g[..., :N] * torch.sigmoid(g[..., N:]) + x           # GLU, then the residual
    assert torch.equal(spikes[0], s_ref)
    assert 0.05 < float(s_ref.mean()) < 0.95
    tensors = (x, layer.log_dt, layer.log_A_real, layer.A_imag, layer.C, layer.D, layer.pre_norm.weight,
               layer.output.weight, layer.output.bias)
    assert_same(out, out_ref, y, y_ref, grads(out, tensors), grads(out_ref, tensors))


def test_s4d_gsu_against_the_seed_equations():
    torch.manual_seed(8)
    layer = build_neuron("s4d", N, time_steps=T, d_state=8, mode="gsu").double().train()
    with torch.no_grad():
        layer.c.normal_(0, 0.3)
    x = torch.randn(T, B, N, dtype=torch.float64, requires_grad=True)
    events = []
    hook = layer.tap.register_forward_hook(lambda _m, _i, e: events.append(e))
    y, out, _ = membrane_of(layer, x)
    hook.remove()

    y_ref = s4d_core(layer, x)                                     # no pre-LayerNorm in GSU mode
    top = y_ref.detach().abs().amax(dim=(0, 2), keepdim=True)      # per sample (nsb's documented scale)
    w = layer.gate.weight
    gated = (tern(y_ref.detach(), top) @ w.t() + layer.gate.bias) * (y_ref @ tern(w.detach(), w.detach().abs().max()).t()
                                                                     + layer.c)
    ln = layer.post_norm
    out_ref = nn.functional.gelu(nn.functional.layer_norm(gated, (N,), ln.weight, ln.bias, ln.eps)) + x
    assert torch.equal(events[0], tern(y_ref.detach(), top).abs())  # its spike train: the nonzero ternary values
    assert 0.05 < float(events[0].mean()) < 0.95
    tensors = (x, layer.log_dt, layer.A_imag, layer.C, layer.D, layer.gate.weight, layer.gate.bias, layer.c)
    assert_same(out, out_ref, y, y_ref, grads(out, tensors), grads(out_ref, tensors))


def test_s4d_binary_stream_in_chunks_continues_the_pass():
    torch.manual_seed(9)
    layer = build_neuron("s4d", N, time_steps=T, d_state=8).double().eval()
    x = torch.randn(T, B, N, dtype=torch.float64)
    whole, final = layer(x)
    state, parts = None, []
    for chunk in x.split([10, 14]):
        out, state = layer(chunk, state)
        parts.append(out)
    torch.testing.assert_close(torch.cat(parts), whole, rtol=1e-9, atol=1e-9)
    for a, b in zip(state, final):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_s4d_optimiser_group():
    from nsb.train import parameter_groups

    model = nn.Sequential(nn.Linear(3, N), build_neuron("s4d", N, time_steps=T, d_state=8))
    params = list(model.parameters())
    groups = parameter_groups(model, params, 5e-3)
    opt = torch.optim.AdamW(groups, lr=5e-3, weight_decay=0.01)
    ssm = {id(getattr(model[1], n)) for n in ("log_dt", "log_A_real", "A_imag", "C")}
    rest, special = opt.param_groups
    assert {id(p) for p in special["params"]} == ssm
    assert special["lr"] == 1e-3 and special["weight_decay"] == 0.0
    assert rest["lr"] == 5e-3 and rest["weight_decay"] == 0.01 and ssm.isdisjoint(id(p) for p in rest["params"])
    assert len(rest["params"]) + len(special["params"]) == len(params)
    assert parameter_groups(model, params, 1e-4)[1]["lr"] == 1e-4  # lr = min(1e−3, lr)
    plain = nn.Sequential(nn.Linear(3, N), build_neuron("lif", N))
    assert parameter_groups(plain, list(plain.parameters()), 1e-3) == list(plain.parameters())


# --- from a config ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, options", [("spsn", ["neuron.kernel_size=4"]), ("psn", []), ("pmsn", []),
                                           ("s4d", ['neuron.mode="gsu"', "neuron.d_state=4"])])
def test_chosen_from_a_config(name, options):
    from nsb.config import load_config
    from nsb.data import load_task
    from nsb.models.build import build_model

    cfg = load_config(None, [f'model.neuron="{name}"', "data.time_steps=20", "model.hidden=[8, 6]", *options])
    task = load_task(cfg.data.name, cfg.data.root, cfg.data.options, cfg.seed)
    model = build_model(cfg, task)
    layers = [layer.neuron for layer in model.layers]
    assert [type(n).__name__.lower() for n in layers] == [name, name]
    out, state = model(torch.randn(20, 2, task.input_size))
    assert out.shape == (20, 2, task.num_classes)
    if name in ("psn", "pmsn", "s4d"):
        assert all(n.opts["time_steps"] == 20 for n in layers)  # filled in from the data
    bad = load_config(None, [f'model.neuron="{name}"', "data.time_steps=20", "model.recurrent=[true, false]"])
    with pytest.raises(ConfigError, match="no recurrent form"):
        build_model(bad, task)


def test_learning_rules_other_than_stbp_are_refused():
    from nsb.learning import apply_rule, build_rule

    model = nn.Sequential(build_neuron("spsn", N))
    apply_rule(model, build_rule("stbp"))
    with pytest.raises(ConfigError, match="spsn.*stbp"):
        apply_rule(model, build_rule("sdbp"))


def test_deployed_convolution_is_the_fft_one():
    from nsb.neurons.parallel import direct_causal_conv, fft_causal_conv

    torch.manual_seed(10)
    u, k = torch.randn(T, B, N), torch.randn(N, 40)
    torch.testing.assert_close(direct_causal_conv(u, k), fft_causal_conv(u, k), **TOL)
    torch.testing.assert_close(direct_causal_conv(u[:7], k), fft_causal_conv(u[:7], k), **TOL)  # T ≤ T_max


def test_metrics_count_the_taps():
    """Activation sparsity counts a parallel layer's spikes (S4D's, not its block output); membrane updates
    count its membrane: every neuron at step 0 of a fresh start, then each change."""
    from nsb.metrics.harness import measure

    torch.manual_seed(11)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = build_neuron("spsn", N, kernel_size=3)
            self.b = build_neuron("s4d", N, time_steps=T, d_state=4)

        def forward(self, x):
            s, _ = self.a(x)
            return self.b(s)

    net = Net().eval()
    x = torch.randn(T, B, N)
    seen = {}
    hooks = [net.a.membrane_tap.register_forward_hook(lambda _m, _i, v: seen.setdefault("va", v)),
             net.b.membrane_tap.register_forward_hook(lambda _m, _i, v: seen.setdefault("vb", v)),
             net.a.tap.register_forward_hook(lambda _m, _i, s: seen.setdefault("sa", s)),
             net.b.tap.register_forward_hook(lambda _m, _i, s: seen.setdefault("sb", s))]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    result = measure(net, [x], ["membrane_updates", "activation_sparsity"])
    updates = sum(v[0].numel() + int(torch.count_nonzero(v[1:] - v[:-1])) for v in (seen["va"], seen["vb"]))
    assert result["membrane_updates"] == updates / B
    spikes = float(seen["sa"].count_nonzero() + seen["sb"].count_nonzero())
    assert result["activation_sparsity"] == pytest.approx(1 - spikes / (2 * T * B * N))


@pytest.mark.parametrize("name, options, expected", [
    ("spsn", ["neuron.kernel_size=5"], {"Conv"}),
    ("psn", [], {"MatMul"}),
    ("pmsn", [], {"Conv", "CumSum", "Floor"}),
    ("s4d", ["neuron.d_state=4"], {"Conv", "Sigmoid"}),
    ("s4d", ['neuron.mode="gsu"', "neuron.d_state=4"], {"Conv", "Sign"}),
])
def test_exports_with_standard_ops_and_a_dynamic_length(name, options, expected):
    """The twin's ONNX graph holds standard operators only (no DFT, no nsb op), runs in onnxruntime as the
    trained model does, and takes any T up to T_max (the materialised kernel's length)."""
    import numpy as np
    import onnxruntime as ort

    from nsb.config import load_config
    from nsb.data import load_task
    from nsb.export.deploy import DeployModel
    from nsb.export.onnx_export import export_onnx
    from nsb.models.build import build_model

    torch.manual_seed(12)
    cfg = load_config(None, [f'model.neuron="{name}"', "data.time_steps=16", "model.hidden=[6, 5]",
                             "neuron.threshold=0.05", *options])
    task = load_task(cfg.data.name, cfg.data.root, cfg.data.options, cfg.seed)
    model = build_model(cfg, task).eval()
    deploy = DeployModel(model, task.task, "mean")
    assert deploy.t_max == (None if name == "spsn" else 16)
    x = torch.rand(16, 3, task.input_size)
    proto = export_onnx(deploy, x[:, :2])
    ops = {n.op_type for n in proto.graph.node}
    assert expected <= ops and not ops & {"DFT", "STFT", "Scan", "Loop"}, ops
    assert all(n.domain in ("", "ai.onnx") for n in proto.graph.node)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for steps in (16, 9):
        with torch.no_grad():
            ref = deploy(x[:steps])
        got = session.run(None, {session.get_inputs()[0].name: x[:steps].numpy()})
        np.testing.assert_allclose(got[0], ref[0].numpy(), rtol=1e-4, atol=1e-5)
        for a, b in zip(got[1:], ref[1:]):
            assert np.array_equal(a, b.numpy())
    with torch.no_grad():  # the twin is the trained model: same spikes at T_max
        spikes = []
        hooks = [layer.neuron.tap.register_forward_hook(lambda _m, _i, s: spikes.append(s)) for layer in model.layers]
        out, _ = model(x)
        for h in hooks:
            h.remove()
        twin = deploy(x)
    torch.testing.assert_close(twin[0], out.mean(0), rtol=1e-4, atol=1e-5)
    for a, b in zip(twin[1:], spikes):
        assert float((a != b).float().mean()) <= 1e-3
    assert any(0 < float(s.mean()) < 1 for s in spikes)


def test_nir_refuses_in_one_line():
    from nsb.config import load_config
    from nsb.data import load_task
    from nsb.errors import NsbError
    from nsb.export.nir_export import export_nir
    from nsb.models.build import build_model

    cfg = load_config(None, ['model.neuron="spsn"', "data.time_steps=10", "model.hidden=[4, 3]"])
    model = build_model(cfg, load_task(cfg.data.name, cfg.data.root, cfg.data.options, cfg.seed)).eval()
    with pytest.raises(NsbError, match="the spsn neuron is a convolution over the whole input sequence") as err:
        export_nir(model, cfg, None)
    assert "\n" not in str(err.value)
