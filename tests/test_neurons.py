"""Neurons: the seed's equations, chunked streams, gradient policies, bad input."""

import math

import pytest
import torch

from nsb.errors import ConfigError, NsbError
from nsb.neurons import NEURONS, GradPolicy, build_neuron

N = 12


def make(name, recurrent=False, **kw):
    if name == "glif":
        kw.setdefault("time_steps", 64)
    if name == "rlif":
        return build_neuron(name, N, **kw)
    return build_neuron(name, N, recurrent=recurrent, **kw)


def drive(T=40, B=3, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, B, N, generator=g) * scale


CASES = [(n, r) for n in NEURONS for r in (False, True) if not (n == "rlif" and not r)]


@pytest.mark.parametrize("name,recurrent", CASES)
@pytest.mark.parametrize("cuts", [[1], [7, 19, 33], [13]])
def test_chunked_stream_equals_one_pass(name, recurrent, cuts):
    torch.manual_seed(1)
    m = make(name, recurrent)
    m.eval()  # adLIF's input BN uses running statistics, which is what a stream sees
    x = drive(T=40)
    with torch.no_grad():
        full, final = m(x)
        pieces, state, start = [], None, 0
        for end in cuts + [40]:
            s, state = m(x[start:end], state)
            pieces.append(s)
            start = end
    assert torch.equal(torch.cat(pieces), full)
    for a, b in zip(state, final):
        assert torch.equal(a, b)
    assert 0.0 < full.mean() < 1.0, "the drive should make some but not all neurons spike"


@pytest.mark.parametrize("reset", ["hard", "soft", "none"])
def test_lif_chunking_each_reset_mode(reset):
    m = make("lif", decay=0.8, threshold=0.5, reset=reset)
    x = drive(T=30)
    full, vt = m(x)
    a, st = m(x[:11])
    b, st = m(x[11:], st)
    assert torch.equal(torch.cat([a, b]), full) and torch.equal(st[0], vt[0])


def seed_recurrent_lif(x, decay, threshold, rest, w=None, bias=None):
    """The seed's Recurrent_LIF, written from reference §1.2: reset applied in the next charge."""
    v = torch.full_like(x[0], rest)
    y = torch.zeros_like(x[0])
    out = []
    for xt in x:
        if w is not None:
            xt = xt + y @ w.T + bias
        v = decay * v * (1 - y) + rest * y + xt
        y = (v > threshold).float()
        out.append(y)
    return torch.stack(out)


@pytest.mark.parametrize("recurrent", [False, True])
def test_lif_equals_seed_recurrent_lif(recurrent):
    torch.manual_seed(2)
    m = make("rlif" if recurrent else "lif", decay=0.5, threshold=0.5)
    x = drive(T=60, scale=0.6)
    w = m.recurrent.weight.detach() if recurrent else None
    b = m.recurrent.bias.detach() if recurrent else None
    with torch.no_grad():
        assert torch.equal(m(x)[0], seed_recurrent_lif(x, 0.5, 0.5, 0.0, w, b))


def test_if_is_lif_without_leak():
    x = drive(T=30, scale=0.3)
    a = make("if", threshold=0.5)(x)[0]
    b = make("lif", decay=1.0, threshold=0.5)(x)[0]
    assert torch.equal(a, b) and a.sum() > 0


def test_spike_is_strict():
    m = make("lif", decay=0.0, threshold=0.5)
    x = torch.full((1, 1, N), 0.5)
    assert m(x)[0].sum() == 0
    assert m(x + 1e-6)[0].sum() == N


def test_soft_reset_subtracts_threshold():
    m = make("lif", decay=1.0, threshold=1.0, reset="soft")
    s, (v,) = m(torch.full((1, 1, N), 1.75))
    assert s.sum() == N and torch.allclose(v, torch.full_like(v, 0.75))


def test_plif_learns_its_decay():
    m = make("plif", init_decay=0.5)
    assert math.isclose(float(torch.sigmoid(m.w.detach())), 0.5)
    x = drive(scale=0.5)
    m(x)[0].sum().backward()
    assert m.w.grad is not None and m.w.grad.abs() > 0


def seed_alif(x, tau_m, tau_adp, threshold=0.3, beta=1.8):
    """The seed's ALIF.mem_update_adp loop (reference §1.2)."""
    v = torch.zeros_like(x[0])
    y = torch.zeros_like(x[0])
    b = 0.01
    rho, alpha = torch.exp(-1.0 / tau_adp), torch.exp(-1.0 / tau_m)
    out = []
    for xt in x:
        b = rho * b + (1 - rho) * y
        big_b = threshold + beta * b
        v = v * alpha + xt - big_b * y
        y = (v - big_b > 0).float()
        out.append(y)
    return torch.stack(out)


def test_alif_equals_seed():
    torch.manual_seed(3)
    m = make("alif")
    x = drive(T=80, scale=1.5)
    with torch.no_grad():
        s = m(x)[0]
    assert torch.equal(s, seed_alif(x, m.tau_m.detach(), m.tau_adp.detach()))
    assert s.sum() > 0


def seed_adlif(x, m):
    """The seed's adLIF._serial_process (BN over T·B first), reference §1.2."""
    alpha = m.alpha.clamp(*m.alpha_lim)
    beta = m.beta.clamp(*m.beta_lim)
    a, b = m.a.clamp(*m.a_lim), m.b.clamp(*m.b_lim)
    x = torch.nn.functional.batch_norm(x.reshape(-1, N), m.norm.running_mean, m.norm.running_var,
                                       m.norm.weight, m.norm.bias, False, 0.0, m.norm.eps).reshape(x.shape)
    v = torch.zeros_like(x[0]); y = torch.zeros_like(x[0]); w = torch.zeros_like(x[0])
    out = []
    for xt in x:
        w = beta * w + a * v + b * y
        v = alpha * (v - y) + (1 - alpha) * (xt - w)
        y = (v - m.threshold > 0).float()
        out.append(y)
    return torch.stack(out)


def test_adlif_equals_seed():
    torch.manual_seed(4)
    m = make("adlif").eval()
    x = drive(T=80, scale=2.0)
    with torch.no_grad():
        s = m(x)[0]
        assert torch.equal(s, seed_adlif(x, m))
    assert s.sum() > 0


def test_adlif_recurrent_has_no_self_connection():
    m = make("adlif", recurrent=True)
    s = torch.zeros(1, N); s[0, 3] = 1
    assert m.recurrent(s)[0, 3] == 0 and m.recurrent(s).abs().sum() > 0


def seed_glif(x, m):
    sg = torch.sigmoid
    al, be, ga = sg(m.alpha_g), sg(m.beta_g), sg(m.gamma_g)
    tau, leak, revth, vth = sg(m.tau), sg(m.leak), sg(m.re_vth), sg(m.v_th)
    u = torch.zeros_like(x[0]); y = torch.zeros_like(x[0]); out = []
    for t, xt in enumerate(x):
        current = xt * (1 - be * (1 - sg(m.conductance[t])))
        u = (1 - al * (1 - tau)) * u * (1 - ga * y) - (1 - al) * leak + current - (1 - ga) * revth * y
        y = (u - vth > 0).float()
        out.append(y)
    return torch.stack(out)


def test_glif_equals_seed_and_initial_values():
    m = make("glif", threshold=0.3)
    sg = torch.sigmoid
    for p, want in [(m.alpha_g, 0.65), (m.beta_g, 0.35), (m.gamma_g, 0.65), (m.tau, 0.25), (m.leak, 0.0625),
                    (m.v_th, 0.3), (m.conductance, 0.5)]:
        torch.testing.assert_close(sg(p), torch.full_like(p, want))
    x = drive(T=50)
    with torch.no_grad():
        s = m(x)[0]
        assert torch.equal(s, seed_glif(x, m))
    assert s.sum() > 0


def test_glif_refuses_more_steps_than_built_for():
    m = make("glif", time_steps=10)
    with pytest.raises(NsbError, match="built for 10 steps"):
        m(drive(T=11))


def grad_of_last_spikes_wrt_inputs(m, x):
    x = x.clone().requires_grad_()
    s, _ = m(x)
    s[-1].sum().backward()
    return x.grad.abs().sum(dim=(1, 2))


def test_full_bptt_reaches_early_inputs():
    m = make("lif", decay=0.9, threshold=0.5, surrogate="triangle", alpha=2.0)
    g = grad_of_last_spikes_wrt_inputs(m, drive(T=10, scale=0.3))
    assert (g[:-1] > 0).any() and g[-1] > 0


def test_detached_state_keeps_only_the_current_step():
    m = make("lif", decay=0.9, threshold=0.5, surrogate="triangle", alpha=2.0)
    m.policy = GradPolicy(detach_state=True, detach_reset=True)
    g = grad_of_last_spikes_wrt_inputs(m, drive(T=10, scale=0.3))
    assert (g[:-1] == 0).all() and g[-1] > 0


def test_truncation_cuts_at_window_boundaries():
    m = make("lif", decay=0.9, threshold=0.5, surrogate="triangle", alpha=2.0)
    m.policy = GradPolicy(truncate=4)
    g = grad_of_last_spikes_wrt_inputs(m, drive(T=10, scale=0.3))  # last window starts at t = 8
    assert (g[:8] == 0).all() and (g[8:] > 0).all()


def test_notd_has_no_memory_but_keeps_recurrence():
    m = make("rlif", decay=0.9, threshold=0.5)
    m.policy = GradPolicy(temporal=False)
    x = drive(T=6, scale=0.5)
    with torch.no_grad():
        m.recurrent.weight.zero_(); m.recurrent.bias.zero_()
        s = m(x)[0]
    assert torch.equal(s, (x > 0.5).float())  # v = x[t]: no leak, no carried membrane
    with torch.no_grad():
        m.recurrent.weight.fill_(0.1)
        s2 = m(x)[0]
    assert not torch.equal(s2, (x > 0.5).float()), "the recurrent input must still be added under NoTD"


def test_eprop_trace_forward_equals_full():
    torch.manual_seed(5)
    m = make("rlif", decay=0.7, threshold=0.4)
    x = drive(T=30)
    with torch.no_grad():
        full = m(x)[0]
    m.policy = GradPolicy(detach_state=True, detach_reset=True, recurrent="trace")
    s, state = m(x)
    assert torch.equal(s, full) and len(state) == 3
    s.sum().backward()
    assert m.recurrent.weight.grad.abs().sum() > 0


def test_wrong_shapes_are_explained():
    m = make("lif")
    with pytest.raises(NsbError, match="time-major"):
        m(torch.zeros(5, N))
    with pytest.raises(NsbError, match="has 12 neurons but the input has 7"):
        m(torch.zeros(5, 2, 7))
    with pytest.raises(NsbError, match="state must be"):
        m(torch.zeros(5, 2, N), (torch.zeros(3, N),))


def test_unknown_neuron_and_parameter():
    with pytest.raises(ConfigError, match="did you mean 'alif'"):
        build_neuron("alfi", 4)
    with pytest.raises(ConfigError, match="did you mean 'threshold'"):
        build_neuron("lif", 4, treshold=0.5)
    with pytest.raises(ConfigError, match="reset mode"):
        build_neuron("lif", 4, reset="sideways")
    with pytest.raises(ConfigError, match="needs time_steps"):
        build_neuron("glif", 4)


@pytest.mark.parametrize("name", list(NEURONS))
def test_backend_cuda_without_a_gpu_input_is_refused_with_the_reason(name):
    """auto falls back to the PyTorch loop on CPU tensors; cuda names why the fused kernel cannot run."""
    kw = {"time_steps": 5} if name == "glif" else {}
    x = torch.rand(3, 2, 4)
    auto = build_neuron(name, 4, backend="auto", **kw)
    ref = build_neuron(name, 4, backend="torch", **kw)
    ref.load_state_dict(auto.state_dict())
    with torch.no_grad():
        assert torch.equal(auto(x)[0], ref(x)[0])
    with pytest.raises(NsbError, match="not on a CUDA device"):
        build_neuron(name, 4, backend="cuda", **kw)(x)
    with pytest.raises(ConfigError, match="unknown neuron backend 'gpu'"):
        build_neuron(name, 4, backend="gpu", **kw)
