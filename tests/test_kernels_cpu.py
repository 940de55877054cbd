"""The CUDA kernel bodies (plugins_trt/kernels), built for the CPU, against the PyTorch neurons:
spikes exactly, states and input gradients to 1e-5, for every reset mode and surrogate."""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pytest
import torch

from nsb.neurons import GradPolicy, build_neuron
from nsb.surrogate import build_surrogate

pytestmark = pytest.mark.skipif(not any(shutil.which(c) for c in ("c++", "g++", "clang++")),
                                reason="no C++ compiler to build the CPU kernels")

cpu = pytest.importorskip("nsb.kernels.cpu")
SURROGATES = ["rectangle", "triangle", "sigmoid", "multigauss", "atan", "fast_sigmoid"]
N, B, T = 12, 3, 37  # T not a multiple of the 16-step backward segment


def inputs(seed=0, steps=T):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(steps, B, N, generator=g) * 0.9 - 0.15


@pytest.mark.parametrize("name", SURROGATES)
def test_surrogate_derivatives_match(name):
    for alpha in (0.5, 1.0, 2.0):
        sur = build_surrogate(name, alpha)
        u = torch.linspace(-2, 2, 81)
        want = sur.grad(u).numpy()
        got = np.array([cpu.surrogate_grad(name, alpha, float(v)) for v in u])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("reset,surrogate,detach", list(itertools.product(
    ["hard", "soft", "none"], SURROGATES, [False, True])))
def test_lif_forward_and_backward(reset, surrogate, detach):
    params = {"decay": 0.8, "threshold": 0.5, "v_reset": -0.1 if reset == "hard" else 0.0, "reset": reset,
              "input_gain": 0.9}
    if reset == "none":
        params.update(decay=0.5, threshold=0.9)
    neuron = build_neuron("lif", N, surrogate=surrogate, alpha=1.0, **params)
    neuron.policy = GradPolicy(detach_reset=detach)
    x = inputs().requires_grad_(True)
    v0 = (torch.rand(B, N) * 0.3).requires_grad_(True)
    s, (v_t,) = neuron(x, (v0,))
    assert 0.02 < float(s.mean()) < 0.9
    g = torch.Generator().manual_seed(5)
    gs, gv = torch.randn(T, B, N, generator=g), torch.randn(B, N, generator=g)
    (s * gs).sum().backward(retain_graph=True)
    (v_t * gv).sum().backward()

    kw = dict(decay=params["decay"], input_gain=params["input_gain"], v_threshold=params["threshold"],
              v_reset=params["v_reset"], reset_mode=reset)
    s_k, v_k, ckpt = cpu.lif_forward(x.detach().numpy(), v0.detach().numpy(), **kw)
    np.testing.assert_array_equal(s_k, s.detach().numpy())
    np.testing.assert_allclose(v_k, v_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    gx, gv0, _ = cpu.lif_backward(x.detach().numpy(), gs.numpy(), gv.numpy(), ckpt, surrogate=surrogate, alpha=1.0,
                               detach_reset=detach, **kw)
    np.testing.assert_allclose(gx, x.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gv0, v0.grad.numpy(), rtol=1e-5, atol=1e-5)


def folded(neuron):
    return [p.detach().numpy() for p in neuron.export_op().params]


def test_alif_forward():
    torch.manual_seed(0)
    neuron = build_neuron("alif", N, threshold=0.3)
    x = inputs(1)
    with torch.no_grad():
        s, (v, b) = neuron(x)
    alpha, rho = folded(neuron)
    v0, b0 = (t.numpy() for t in neuron.initial_state(x[0]))
    s_k, v_k, b_k, _ = cpu.alif_forward(x.numpy(), alpha, rho, v0, b0, v_threshold=0.3, beta=neuron.beta)
    assert 0.02 < s.mean() < 0.9
    np.testing.assert_array_equal(s_k, s.numpy())
    np.testing.assert_allclose(v_k, v.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b_k, b.numpy(), rtol=1e-5, atol=1e-6)


def test_adlif_forward():
    torch.manual_seed(0)
    neuron = build_neuron("adlif", N, threshold=0.05, input_norm=False)
    x = inputs(2)
    with torch.no_grad():
        s, (v, w) = neuron(x)
    zeros = np.zeros((B, N), np.float32)
    s_k, v_k, w_k, _ = cpu.adlif_forward(x.numpy(), *folded(neuron), zeros, zeros, v_threshold=0.05)
    assert 0.02 < s.mean() < 0.9
    np.testing.assert_array_equal(s_k, s.numpy())
    np.testing.assert_allclose(v_k, v.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w_k, w.numpy(), rtol=1e-5, atol=1e-6)


def test_glif_forward_from_a_chunk_offset():
    torch.manual_seed(0)
    neuron = build_neuron("glif", N, threshold=0.3, time_steps=60)
    x = inputs(3, steps=50)
    with torch.no_grad():
        first, state = neuron(x[:20])
        s, (u, t) = neuron(x[20:], state)
    params = folded(neuron)
    s_k, u_k, t_k, _ = cpu.glif_forward(x[20:].numpy(), *params, state[0].numpy(), 20)
    assert 0.02 < s.mean() < 0.9 and int(t) == 50 and t_k == 50
    np.testing.assert_array_equal(s_k, s.numpy())
    np.testing.assert_allclose(u_k, u.numpy(), rtol=1e-5, atol=1e-6)


# --- backward of the adaptive neurons against autograd through their PyTorch step functions ---

def _leaf(t):
    return t.detach().clone().requires_grad_(True)


def _close(got, want, what):
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=2e-5, atol=2e-5, err_msg=what)


@pytest.mark.parametrize("surrogate,detach", [("rectangle", False), ("triangle", False), ("sigmoid", True),
                                              ("atan", False)])
def test_alif_backward(surrogate, detach):
    from nsb.neurons.alif import alif_step

    torch.manual_seed(1)
    fire = build_surrogate(surrogate, 1.0)
    x = _leaf(inputs(4))
    alpha, rho = _leaf(torch.rand(N) * 0.2 + 0.75), _leaf(torch.rand(N) * 0.1 + 0.88)
    v0, b0 = _leaf(torch.rand(B, N) * 0.2), _leaf(torch.full((B, N), 0.01))
    v, b, spikes = v0, b0, []
    for t in range(T):
        s, v, b = alif_step(x[t], v, b, alpha=alpha, rho=rho, threshold=0.3, beta=1.8, fire=fire, detach_reset=detach)
        spikes.append(s)
    s = torch.stack(spikes)
    assert 0.02 < float(s.mean()) < 0.9
    g = torch.Generator().manual_seed(9)
    gs, gv, gb = torch.randn(T, B, N, generator=g), torch.randn(B, N, generator=g), torch.randn(B, N, generator=g)
    ((s * gs).sum() + (v * gv).sum() + (b * gb).sum()).backward()

    arrays = [t.detach().numpy() for t in (x, alpha, rho, v0, b0)]
    s_k, v_k, b_k, ckpts = cpu.alif_forward(*arrays, v_threshold=0.3, beta=1.8)
    np.testing.assert_array_equal(s_k, s.detach().numpy())
    gx, gv0, gb0, ga, gr = cpu.alif_backward(arrays[0], gs.numpy(), gv.numpy(), gb.numpy(), ckpts, arrays[1], arrays[2],
                                             v_threshold=0.3, beta=1.8, surrogate=surrogate, alpha_sg=1.0,
                                             detach_reset=detach)
    _close(gx, x.grad, "x")
    _close(gv0, v0.grad, "v0")
    _close(gb0, b0.grad, "b0")
    _close(ga.sum(0), alpha.grad, "alpha")
    _close(gr.sum(0), rho.grad, "rho")


@pytest.mark.parametrize("surrogate,detach", [("rectangle", False), ("multigauss", False), ("fast_sigmoid", True)])
def test_adlif_backward(surrogate, detach):
    from nsb.neurons.adlif import adlif_step

    torch.manual_seed(2)
    fire = build_surrogate(surrogate, 1.0)
    x = _leaf(inputs(5))
    alpha, beta = _leaf(torch.rand(N) * 0.15 + 0.8), _leaf(torch.rand(N) * 0.03 + 0.96)
    a, b = _leaf(torch.rand(N) * 2 - 1), _leaf(torch.rand(N) * 2)
    v0, w0 = _leaf(torch.rand(B, N) * 0.1), _leaf(torch.zeros(B, N))
    v, w, spikes = v0, w0, []
    for t in range(T):
        s, v, w = adlif_step(x[t], v, w, alpha=alpha, beta=beta, a=a, b=b, threshold=0.05, fire=fire,
                             detach_reset=detach)
        spikes.append(s)
    s = torch.stack(spikes)
    assert 0.02 < float(s.mean()) < 0.9
    g = torch.Generator().manual_seed(9)
    gs, gv, gw = torch.randn(T, B, N, generator=g), torch.randn(B, N, generator=g), torch.randn(B, N, generator=g)
    ((s * gs).sum() + (v * gv).sum() + (w * gw).sum()).backward()

    arrays = [t.detach().numpy() for t in (x, alpha, beta, a, b, v0, w0)]
    s_k, _, _, ckpts = cpu.adlif_forward(*arrays, v_threshold=0.05)
    np.testing.assert_array_equal(s_k, s.detach().numpy())
    gx, gv0, gw0, gp = cpu.adlif_backward(arrays[0], gs.numpy(), gv.numpy(), gw.numpy(), ckpts, *arrays[1:5],
                                          v_threshold=0.05, surrogate=surrogate, alpha_sg=1.0, detach_reset=detach)
    _close(gx, x.grad, "x")
    _close(gv0, v0.grad, "v0")
    _close(gw0, w0.grad, "w0")
    for k, (name, leaf) in enumerate(zip("alpha beta a b".split(), (alpha, beta, a, b))):
        _close(gp[k].sum(0), leaf.grad, name)


@pytest.mark.parametrize("surrogate,detach", [("rectangle", False), ("sigmoid", False), ("triangle", True)])
def test_glif_backward(surrogate, detach):
    from nsb.neurons.glif import glif_step

    torch.manual_seed(3)
    fire = build_surrogate(surrogate, 1.0)
    start, rows = 5, T + 10
    x = _leaf(inputs(6))
    names = ["alpha_g", "beta_g", "gamma_g", "tau", "leak", "re_vth", "v_th"]
    init = [0.65, 0.35, 0.65, 0.25, 0.0625, 0.3, 0.3]
    params = [_leaf(torch.full((N,), v) + 0.05 * torch.rand(N)) for v in init]
    c = _leaf(torch.rand(rows, N) * 0.5 + 0.25)
    u0 = _leaf(torch.rand(B, N) * 0.2)
    u, spikes = u0, []
    for t in range(T):
        s, u = glif_step(x[t], u, **dict(zip(names, params)), c=c[start + t], fire=fire, detach_reset=detach)
        spikes.append(s)
    s = torch.stack(spikes)
    assert 0.02 < float(s.mean()) < 0.9
    g = torch.Generator().manual_seed(9)
    gs, gu = torch.randn(T, B, N, generator=g), torch.randn(B, N, generator=g)
    ((s * gs).sum() + (u * gu).sum()).backward()

    p_np = [p.detach().numpy() for p in params]
    s_k, _, _, ckpt = cpu.glif_forward(x.detach().numpy(), *p_np, c.detach().numpy(), u0.detach().numpy(), start)
    np.testing.assert_array_equal(s_k, s.detach().numpy())
    gx, gu0, gp, gc = cpu.glif_backward(x.detach().numpy(), gs.numpy(), gu.numpy(), ckpt, p_np, c.detach().numpy(),
                                        start, surrogate=surrogate, alpha_sg=1.0, detach_reset=detach)
    _close(gx, x.grad, "x")
    _close(gu0, u0.grad, "u0")
    for k, name in enumerate(names):
        _close(gp[k].sum(0), params[k].grad, name)
    _close(gc.sum(1), c.grad[start:start + T], "c")


@pytest.mark.parametrize("reset", ["hard", "soft", "none"])
def test_lif_learned_decay_gradient(reset):
    """PLIF: the kernel's Σ_t ∂L/∂h[t]·v[t−1] equals autograd's gradient of a tensor decay."""
    from nsb.neurons.lif import lif_step

    fire = build_surrogate("triangle", 1.0)
    decay = torch.tensor(0.7, requires_grad=True)
    x = _leaf(inputs(7))
    v0 = _leaf(torch.rand(B, N) * 0.2)
    threshold = 0.5 if reset != "none" else 0.9
    v, spikes = v0, []
    for t in range(T):
        s, v = lif_step(x[t], v, decay=decay, input_gain=1.0, threshold=threshold, v_reset=0.0, reset=reset, fire=fire)
        spikes.append(s)
    s = torch.stack(spikes)
    g = torch.Generator().manual_seed(4)
    gs, gv = torch.randn(T, B, N, generator=g), torch.randn(B, N, generator=g)
    ((s * gs).sum() + (v * gv).sum()).backward()
    kw = dict(decay=0.7, input_gain=1.0, v_threshold=threshold, v_reset=0.0, reset_mode=reset)
    _, _, ckpt = cpu.lif_forward(x.detach().numpy(), v0.detach().numpy(), **kw)
    gx, gv0, gd = cpu.lif_backward(x.detach().numpy(), gs.numpy(), gv.numpy(), ckpt, surrogate="triangle", alpha=1.0,
                                   **kw)
    _close(gx, x.grad, "x")
    np.testing.assert_allclose(gd.sum(), float(decay.grad), rtol=1e-4)


@pytest.mark.parametrize("reset,surrogate", [("hard", "rectangle"), ("soft", "sigmoid"), ("hard", "atan")])
def test_rlif_backward_against_autograd(reset, surrogate):
    """The recurrent backward: ∂L/∂x, ∂L/∂v0, ∂L/∂s0 from the kernel body; ∂L/∂W_rec, ∂L/∂b as one GEMM."""
    torch.manual_seed(6)
    neuron = build_neuron("rlif", N, decay=0.8, threshold=0.5, reset=reset, surrogate=surrogate)
    with torch.no_grad():
        neuron.recurrent.weight.mul_(0.5)
    x = _leaf(inputs(8))
    v0, s0 = _leaf(torch.rand(B, N) * 0.2), _leaf((torch.rand(B, N) > 0.7).float())
    s, (v, s_last) = neuron(x, (v0, s0))
    assert 0.02 < float(s.mean()) < 0.9
    g = torch.Generator().manual_seed(2)
    gs, gv, gsl = torch.randn(T, B, N, generator=g), torch.randn(B, N, generator=g), torch.randn(B, N, generator=g)
    ((s * gs).sum() + (v * gv).sum() + (s_last * gsl).sum()).backward()

    w, bias = neuron.recurrent.weight.detach().numpy(), neuron.recurrent.bias.detach().numpy()
    kw = dict(decay=0.8, input_gain=1.0, v_threshold=0.5, v_reset=0.0, reset_mode=reset)
    s_k, h_k, v_k, last_k = cpu.rlif_forward(x.detach().numpy(), w, bias, v0.detach().numpy(), s0.detach().numpy(), **kw)
    assert (s_k == s.detach().numpy()).mean() > 0.999  # the recurrent sum's order may flip a threshold tie
    gi, gv0, gs0 = cpu.rlif_backward(s.detach().numpy(), h_k, gs.numpy(), gv.numpy(), gsl.numpy(), w, surrogate=surrogate,
                                     alpha=1.0, **kw)
    _close(gi, x.grad, "x")
    _close(gv0, v0.grad, "v0")
    _close(gs0, s0.grad, "s0")
    s_prev = np.concatenate([s0.detach().numpy()[None], s.detach().numpy()[:-1]])
    _close(np.einsum("tbi,tbj->ij", gi, s_prev), neuron.recurrent.weight.grad, "W_rec")
    _close(gi.sum((0, 1)), neuron.recurrent.bias.grad, "b_rec")
