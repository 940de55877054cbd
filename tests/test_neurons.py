"""Neurons: declarations, chunked streams, gradient policies, bad input. (The seed's equations are
tests/test_seed_equations.py; every backend of every op is tests/test_ops.py and test_kernels_cpu.py.)"""

import math

import pytest
import torch

from nsb.errors import ConfigError, NsbError
from nsb.neurons import NEURONS, GradPolicy, build_neuron

N = 12


def drive(T=40, B=3, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, B, N, generator=g) * scale


CASES = [(n, r) for n in NEURONS for r in (False, True)
         if not (NEURONS[n].recurrence == "always" and not r) and not (NEURONS[n].recurrence == "never" and r)]


def make(name, recurrent=False, **kw):  # the registry says which neurons take ``recurrent``
    if "time_steps" in NEURONS[name].options:  # per-step parameters (GLIF, CELIF): one row per step
        kw.setdefault("time_steps", 64)
    if NEURONS[name].recurrence != "optional":
        return build_neuron(name, N, **kw)
    return build_neuron(name, N, recurrent=recurrent, **kw)


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


@pytest.mark.parametrize("timing", ["deferred", "immediate"])
@pytest.mark.parametrize("reset", ["hard", "soft", "none"])
def test_lif_chunking_each_reset_mode(reset, timing):
    m = make("lif", decay=0.8, threshold=0.5, v_rest=-0.1, reset=reset, reset_timing=timing)
    x = drive(T=30)
    full, vt = m(x)
    a, st = m(x[:11])
    b, st = m(x[11:], st)
    assert torch.equal(torch.cat([a, b]), full) and all(torch.equal(p, q) for p, q in zip(st, vt))


def test_spike_is_strict():
    m = make("lif", decay=0.0, threshold=0.5)
    x = torch.full((1, 1, N), 0.5)
    assert m(x)[0].sum() == 0
    assert m(x + 1e-6)[0].sum() == N


def test_soft_reset_subtracts_threshold():
    m = make("lif", decay=1.0, threshold=1.0, reset="soft")
    s, (v, last) = m(torch.full((2, 1, N), 1.75))  # deferred: θ comes off at the next charge
    assert s[0].sum() == N and torch.allclose(v, torch.full_like(v, 1.75 + 1.75 - 1.0)) and last.sum() == N


def test_plif_learns_its_decay():
    m = make("plif", init_decay=0.5)
    assert math.isclose(float(torch.sigmoid(m.w.detach())), 0.5)
    x = drive(scale=0.5)
    m(x)[0].sum().backward()
    assert m.w.grad is not None and m.w.grad.abs() > 0


def test_adlif_recurrent_has_no_self_connection():
    m = make("adlif", recurrent=True)
    s = torch.zeros(1, N); s[0, 3] = 1
    assert m.recurrent(s)[0, 3] == 0 and m.recurrent(s).abs().sum() > 0


def test_glif_initial_values_are_the_seeds():
    m = make("glif", threshold=0.3)
    sg = torch.sigmoid
    for p, want in [(m.alpha_g, 0.65), (m.beta_g, 0.35), (m.gamma_g, 0.65), (m.tau, 0.25), (m.leak, 0.0625),
                    (m.v_th, 0.3), (m.conductance, 0.5)]:
        torch.testing.assert_close(sg(p), torch.full_like(p, want))


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
    with pytest.raises(NsbError, match=r"state must be 2 tensors \['v', 's'\]"):
        m(torch.zeros(5, 2, N), (torch.zeros(3, N),))


def test_unknown_neuron_and_parameter():
    with pytest.raises(ConfigError, match="did you mean 'alif'"):
        build_neuron("alfi", 4)
    with pytest.raises(ConfigError, match="did you mean 'threshold'"):
        build_neuron("lif", 4, treshold=0.5)
    with pytest.raises(ConfigError, match="did you mean 'v_rest'"):
        build_neuron("lif", 4, v_reset=0.1)  # op set 1's name
    with pytest.raises(ConfigError, match="reset' must be one of hard, soft, none"):
        build_neuron("lif", 4, reset="sideways")
    with pytest.raises(ConfigError, match="needs the option 'time_steps'"):
        build_neuron("glif", 4)


@pytest.mark.parametrize("name,options,message", [
    ("lif", {"decay": 1.5}, r"'neuron.decay' must be a finite number in \[0, 1\], got 1.5"),
    ("lif", {"decay": "fast"}, "'neuron.decay' must be a number, got 'fast'"),
    ("lif", {"threshold": float("nan")}, "'neuron.threshold' must be a finite number"),
    ("plif", {"init_decay": 1.0}, r"'neuron.init_decay' must be a finite number in \(0, 1\)"),
    ("glif", {"time_steps": 0}, "'neuron.time_steps' must be a whole number >= 1"),
    ("glif", {"time_steps": 8, "threshold": 1.2}, r"in \(0, 1\)"),
    ("alif", {"tau_m": [20.0]}, "'neuron.tau_m' must be a list of 2 numbers"),
    ("adlif", {"input_norm": "yes"}, "'neuron.input_norm' must be true or false"),
    ("rlif", {"recurrent": False}, "neuron 'rlif' is always recurrent"),
])
def test_every_option_is_checked_with_its_range(name, options, message):
    with pytest.raises(ConfigError, match=message):
        build_neuron(name, 4, **options)


def test_the_registry_is_torch_free_and_complete():
    """Importing the declarations and the op set needs no torch (the evaluator's machines have none)."""
    import subprocess
    import sys

    code = ("import sys, nsb.neurons, nsb.ops.registry, nsb.ops.numpy_kernels, nsb.ops.functions; "
            "assert 'torch' not in sys.modules; print(sorted(nsb.ops.registry.ops()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    from nsb.ops.registry import ops

    assert out.strip() == str(sorted(ops()))  # every registered neuron's op (and R-op) without torch
    assert {"LIF", "RLIF", "ALIF", "RALIF", "ADLIF", "RADLIF", "GLIF", "RGLIF"} <= set(ops())


@pytest.mark.parametrize("name", list(NEURONS))
def test_backend_cuda_without_a_gpu_input_is_refused_with_the_reason(name):
    """auto falls back to the PyTorch loop on CPU tensors; cuda names why the fused kernel cannot run."""
    kw = {"time_steps": 5} if "time_steps" in NEURONS[name].options else {}
    x = torch.rand(3, 2, 4)
    auto = build_neuron(name, 4, backend="auto", **kw)
    ref = build_neuron(name, 4, backend="torch", **kw)
    ref.load_state_dict(auto.state_dict())
    with torch.no_grad():  # the same draws for a neuron whose training spike is noisy (asgl_lif)
        torch.manual_seed(0)
        s_auto = auto(x)[0]
        torch.manual_seed(0)
        assert torch.equal(s_auto, ref(x)[0])
    with pytest.raises(NsbError, match="not on a CUDA device"):
        build_neuron(name, 4, backend="cuda", **kw)(x)
    with pytest.raises(ConfigError, match="unknown neuron backend 'gpu'"):
        build_neuron(name, 4, backend="gpu", **kw)
