"""The fused kernels (the bodies in plugins_trt/kernels with each op's generated step and backward),
built for the CPU and run through the same autograd function as on CUDA, against the PyTorch layer:
spikes exactly, states and every gradient (input, learned parameters, recurrent weights, initial
states) to 2e-5, for every neuron, choice option, surrogate and reset detachment."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from nsb.kernels.check import compare_with_loop
from nsb.kernels.fused import fused_forward
from nsb.kernels import SURROGATE_IDS
from nsb.neurons import NEURONS, GradPolicy, build_neuron
from nsb.ops.samples import case_id, neuron_cases
from nsb.surrogate import build_surrogate

pytestmark = pytest.mark.skipif(not any(shutil.which(c) for c in ("c++", "g++", "clang++")),
                                reason="no C++ compiler to build the CPU kernels")

cpu = pytest.importorskip("nsb.kernels.cpu")
SURROGATES = ["rectangle", "triangle", "sigmoid", "multigauss", "atan", "fast_sigmoid"]
N, B, T = 12, 3, 37  # T not a multiple of the 16-step backward segment


@pytest.mark.parametrize("name", SURROGATES)
def test_surrogate_derivatives_match(name):
    for alpha in (0.5, 1.0, 2.0):
        sur = build_surrogate(name, alpha)
        u = torch.linspace(-2, 2, 81)
        want = sur.grad(u).numpy()
        got = np.array([cpu.surrogate_grad(name, alpha, float(v)) for v in u])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def layer(name, recurrent, surrogate="triangle", size=N, backend="torch", **options):
    kw = dict(options)
    if "time_steps" in NEURONS[name].options:  # per-step parameters (GLIF, CELIF): one row per step
        kw.setdefault("time_steps", 64)
    if name == "adlif":
        kw.setdefault("input_norm", False)
        kw.setdefault("threshold", 0.05)
    if NEURONS[name].recurrence == "optional":
        kw["recurrent"] = recurrent
    torch.manual_seed(3)
    m = build_neuron(name, size, surrogate=surrogate, alpha=1.2, backend=backend, **kw)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m


def assert_kernels_equal_loop(m, x, state=None):
    state = m.initial_state(x[0]) if state is None else state
    with torch.no_grad():
        rate = float(m.forward_loop(x, state)[0].mean())
    assert 0.02 < rate < 0.99, "the case must exercise both spiking and silence"
    result = compare_with_loop(m, x, device="cpu", state=state)
    assert result, result.detail


@pytest.mark.parametrize("name,recurrent,choices", neuron_cases(), ids=case_id)
def test_every_neuron_and_option_through_the_kernels(name, recurrent, choices):
    own = NEURONS[name].surrogate  # a neuron whose spike function is its own (asgl_lif: noisy in training)
    assert not own or own in SURROGATE_IDS, f"{name} spikes through '{own}', which has no kernel"
    extra = {"surrogate": own} if own else {}
    m = layer(name, recurrent, v_rest=-0.1, **extra, **choices) if "v_rest" in NEURONS[name].options else \
        layer(name, recurrent, **extra, **choices)
    g = torch.Generator().manual_seed(0)
    assert_kernels_equal_loop(m, torch.rand(T, B, N, generator=g) * 0.9 - 0.15)


@pytest.mark.parametrize("recurrent", [False, True], ids=["ff", "recurrent"])
@pytest.mark.parametrize("truncate", [0, 10], ids=["stbp", "tstbp"])
def test_asgl_noisy_spike_trains_through_the_kernels(recurrent, truncate):
    """ASGL in training: a fraction p of the neurons, drawn once per sequence (T-STBP's chunks share the draw),
    pass r(u) = clamp(u + a/2, 0, a) instead of a spike; the kernels take the loop's draw and its arithmetic
    (feed-forward: bit for bit; recurrent: the real values enter W_rec·s, summed in the kernel's order)."""
    m = layer("asgl_lif", recurrent, surrogate="asgl")
    m.surrogate.noise_rate.fill_(0.4)
    m.policy = GradPolicy(truncate=truncate)
    m.train()
    g = torch.Generator().manual_seed(5)
    x = torch.rand(T, B, N, generator=g) * 0.9 - 0.15
    torch.manual_seed(7)
    s, _ = fused_forward(m, x, m.initial_state(x[0]), device="cpu")
    soft = (s != 0) & (s != 1)
    assert soft.any() and (s == 1).any(), "the case must have noisy neurons and spikes"
    # the draw is per (sample, neuron) for the whole sequence: a neuron that passed r(u) once never spiked
    noisy = soft.any(0)
    assert not ((s == 1) & noisy).any()
    assert_kernels_equal_loop(m, x)


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("name", ["lif", "alif", "adlif", "glif"])
def test_every_surrogate_and_reset_detachment(name, surrogate, detach):
    m = layer(name, False, surrogate=surrogate)
    m.policy = GradPolicy(detach_reset=detach)
    g = torch.Generator().manual_seed(1)
    assert_kernels_equal_loop(m, torch.rand(T, B, N, generator=g) * 0.9 - 0.15)


@pytest.mark.parametrize("name", ["lif", "rlif", "glif"])
def test_a_chunk_continues_from_a_state(name):
    """A second chunk from the first one's final state (GLIF: from its step index, rows 20…)."""
    m = layer(name, name == "rlif")
    g = torch.Generator().manual_seed(2)
    x = torch.rand(40, B, N, generator=g) * 0.9 - 0.15
    with torch.no_grad():
        _, state = m.forward_loop(x[:20])
    assert_kernels_equal_loop(m, x[20:], tuple(state))


def test_plif_learned_decay_gets_its_gradient():
    m = layer("plif", False, init_decay=0.7)
    g = torch.Generator().manual_seed(4)
    x = torch.rand(T, B, N, generator=g) * 0.9 - 0.15
    assert_kernels_equal_loop(m, x)
    s, _ = fused_forward(m, x, m.initial_state(x[0]), device="cpu")
    s.sum().backward()
    assert m.w.grad is not None and m.w.grad.abs() > 0  # ∂L/∂w through σ(w) = the op's decay


def test_conv_shaped_input():
    """[T, B, C, H, W]: element-wise ops take any trailing shape."""
    torch.manual_seed(0)
    m = build_neuron("lif", 4, decay=0.8, threshold=0.4, backend="torch")
    x = torch.rand(T, 2, 4, 3, 4)
    s1, _ = m.forward_loop(x)
    s2, _ = fused_forward(m, x, m.initial_state(x[0]), device="cpu")
    assert torch.equal(s1, s2)


SAMPLES = None


def _samples():
    from nsb.ops.registry import ops
    from nsb.ops.samples import all_samples

    global SAMPLES
    SAMPLES = SAMPLES or all_samples(ops())
    return SAMPLES


def _ids():
    from nsb.ops.functions import overload

    return [f"{s.op.name}-{overload(s.step)}" for s in _samples()]


@pytest.mark.parametrize("index", range(len(_ids())), ids=_ids())
def test_every_op_variant_forward_equals_the_numpy_kernel(index):
    """The CPU build's bindings per op and variant, spike test included, against the numpy kernel."""
    from nsb.kernels.fused import Config, FusedOp
    from nsb.ops.numpy_kernels import run
    from nsb.ops.trace import transcendental

    sample = _samples()[index]
    op = sample.op
    want = run(op, sample.x, *sample.tensors, **sample.attributes)
    named = sample.named
    start = int(named["T0"]) if op.step_inputs else 0
    config = Config(op, tuple(sample.attributes.items()), (), start, "triangle", 1.0, False, "cpu")
    tensors = [torch.from_numpy(named[k]) for k in op.parameter_inputs]
    tensors += [torch.from_numpy(named[k.upper() + "0"]) for k in op.element_states]
    with torch.no_grad():
        got = FusedOp.apply(config, torch.from_numpy(sample.x), *tensors)
    assert torch.equal(got[0], torch.from_numpy(want[0]))
    for g, w in zip(got[1:], want[1:]):
        if transcendental(op):  # a sigmoid in the step (CLIF): the C library's exp against numpy's
            torch.testing.assert_close(g, torch.from_numpy(w), rtol=1e-5, atol=1e-5)
        elif op.recurrent:
            torch.testing.assert_close(g, torch.from_numpy(w), rtol=1e-6, atol=1e-6)
        else:
            assert torch.equal(g, torch.from_numpy(w))


def test_the_inclusive_spike_test_fires_at_a_tie():
    from nsb.kernels.fused import Config, FusedOp
    from nsb.ops.registry import op

    lif = op("LIF")
    attrs = {"decay": 0.5, "input_gain": 1.0, "v_threshold": 0.5, "v_rest": 0.0, "reset_mode": "hard",
             "reset_timing": "deferred"}
    x = torch.full((1, 1, 4), 0.5)  # v − θ = 0 exactly
    zeros = torch.zeros(1, 4)
    for test, want in (("greater", 0.0), ("greater_equal", 1.0)):
        config = Config(lif, tuple({**attrs, "spike_test": test}.items()), (), 0, "rectangle", 1.0, False, "cpu")
        with torch.no_grad():
            s = FusedOp.apply(config, x, zeros, zeros)[0]
        assert torch.equal(s, torch.full_like(s, want))


@pytest.mark.parametrize("surrogate", ["triangle", "rectangle", "atan"])
@pytest.mark.parametrize("branches", [4, 3])
@pytest.mark.parametrize("truncate", [0, 10], ids=["stbp", "tstbp"])
def test_dhlif_feed_forward_trains_through_its_stage_kernels(surrogate, branches, truncate):
    """DH-LIF's feed-forward layer: its input GEMM, DHDEND over the N·B_n branches, the branch sum, DHSOMA
    over the neurons (nsb/neurons/dhlif_ops.py), against its PyTorch loop: spikes and states bit for bit,
    every gradient (input, τ_m, τ_n, the dense layer) within 2e-5."""
    torch.manual_seed(3)
    m = build_neuron("dhlif", N, input_size=5, branches=branches, threshold=0.3, surrogate=surrogate, alpha=1.2)
    m.policy = GradPolicy(truncate=truncate)
    g = torch.Generator().manual_seed(6)
    x = torch.randn(T, B, 5, generator=g) * 1.5 + 0.3
    state = m.initial_state(x[0])
    with torch.no_grad():
        loop, loop_state = m.forward_loop(x, state)
        fused, fused_state = m(x, state)  # backend auto: the kernels' CPU build
    assert 0.02 < float(loop.mean()) < 0.95
    assert torch.equal(loop, fused) and all(torch.equal(a, b) for a, b in zip(loop_state, fused_state))
    result = compare_with_loop(m, x, device="cpu", state=state)
    assert result, result.detail


def test_dhlif_fused_kernels_are_refused_where_they_do_not_apply():
    """A recurrent DH-LIF layer (its branch currents read s[t−1] inside the step) and LTC run their loop under
    "auto"; a forced kernel backend is one line naming why."""
    from nsb.errors import NsbError

    x = torch.rand(5, 2, 4)
    recurrent = build_neuron("dhlif", 4, input_size=4, recurrent=True, backend="cpu")
    with pytest.raises(NsbError, match="recurrent DH-LIF layer reads s\\[t−1\\] through its dense layer") as err:
        recurrent(x)
    assert "\n" not in str(err.value)
    recurrent.backend = "auto"
    assert recurrent(x)[0].shape == (5, 2, 4)
    with pytest.raises(NsbError, match="neuron 'ltc' has no fused kernel"):
        build_neuron("ltc", 4, backend="cpu")(x)
