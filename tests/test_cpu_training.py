"""Training on the CPU through the kernels (issue 16, item 3): ``neuron.backend = "auto"`` runs the CPU
training kernels (nsb/kernels/cpu.py, plugins_trt/kernels/cpu_kernels.cpp) on float32 CPU tensors.

They must give bit for bit what the reference build gives (the GPU's kernel bodies in a host loop,
plugins_trt/kernels/cpu_reference.cpp, which tests/test_kernels_cpu.py holds to the PyTorch loop), on
any thread count; through the layer, spikes equal the PyTorch loop's, element-wise states too, and
every gradient agrees to 2e-5; every learning rule either runs on them with the loop's gradients or
falls back to the loop; without a compiler ``auto`` says so once and runs the loop, ``cpu`` refuses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from nsb.errors import NsbError
from nsb.kernels.check import compare_with_loop
from nsb.kernels.fused import fused_forward
from nsb.learning import apply_rule, build_rule
from nsb.neurons import GradPolicy, build_neuron
from test_kernels_cpu import layer as kernel_layer

pytestmark = pytest.mark.skipif(not any(shutil.which(c) for c in ("c++", "g++", "clang++")),
                                reason="no C++ compiler to build the CPU kernels")

cpu = pytest.importorskip("nsb.kernels.cpu")
N, B, T = 70, 3, 37  # 210 elements: three full 64-element blocks and a partial one; T not a multiple of 16
CASES = [("lif", False), ("alif", False), ("adlif", False), ("glif", False), ("plif", False), ("rlif", None),
         ("lif", True), ("alif", True), ("adlif", True), ("glif", True), ("plif", True)]


def case_id(case) -> str:
    name, recurrent = case
    return name + ("-rec" if recurrent else "")


def layer(name: str, recurrent: bool | None, backend: str = "auto", surrogate: str = "triangle", **options):
    """test_kernels_cpu's layer (seeded, parameters nudged off their initial values) at this file's width."""
    return kernel_layer(name, recurrent, surrogate, size=N, backend=backend, **options)


def inputs(seed: int = 0, steps: int = T) -> torch.Tensor:
    return torch.rand(steps, B, N, generator=torch.Generator().manual_seed(seed)) * 0.9 - 0.15


def through_kernels(m, x, device: str):
    """Spikes, final states and the gradients of x, the initial states and every parameter."""
    x = x.clone().requires_grad_()
    state = tuple(t.clone().requires_grad_() if t.is_floating_point() else t for t in m.initial_state(x[0]))
    s, final = fused_forward(m, x, state, device=device)
    w = torch.linspace(0.5, 1.5, N)
    loss = (s * w).sum() + sum((f * w).square().sum() for f in final if f.is_floating_point())
    leaves = [x, *(t for t in state if t.is_floating_point()), *m.parameters()]
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    return [s, *(f for f in final if f.is_floating_point()), *grads]


def through_layer(m, x):
    """The layer's own forward (its backend's choice), a loss, and the gradients of x and the parameters."""
    x = x.clone().requires_grad_()
    s, final = m(x)
    w = torch.linspace(0.5, 1.5, N)
    loss = (s * w).sum() + sum((f * w).square().sum() for f in final if f.is_floating_point())
    grads = torch.autograd.grad(loss, [x, *m.parameters()])
    return s, [f for f in final if f.is_floating_point()], list(grads)


def assert_close(a: torch.Tensor, b: torch.Tensor, what: str, rtol: float = 2e-5) -> None:
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    bad = (a - b).abs() > rtol * (b.abs() + scale)
    assert not bool(bad.any()), f"{what}: largest difference {float((a - b).abs().max()):.3g} (scale {scale:.3g})"


def test_auto_on_cpu_trains_through_the_kernels():
    m = layer("lif", False)
    x = inputs().requires_grad_()
    assert m.backend == "auto" and m.fused_unsupported(x) is None
    s, _ = m(x)
    assert type(s.grad_fn).__name__ == "FusedOpBackward"
    ref = layer("lif", False, backend="torch")
    s2, _ = ref(x)
    assert type(s2.grad_fn).__name__ != "FusedOpBackward"
    assert torch.equal(s, s2)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_layer_on_auto_equals_the_loop(case):
    """Through Neuron.forward: spikes equal, element-wise ops' states equal (an R-op's recurrent sum is
    ordered as the reference build's, not as BLAS orders nn.Linear's), every gradient to 2e-5."""
    name, recurrent = case
    x = inputs()
    fast, slow = layer(name, recurrent), layer(name, recurrent, backend="torch")
    s1, f1, g1 = through_layer(fast, x)
    s2, f2, g2 = through_layer(slow, x)
    assert 0.02 < float(s2.mean()) < 0.98, "the case must exercise both spiking and silence"
    assert type(s1.grad_fn).__name__ == "FusedOpBackward"
    assert torch.equal(s1, s2)
    for k, (a, b) in enumerate(zip(f1, f2)):
        if fast.recurrent is None:
            assert torch.equal(a, b), f"final state {fast.state_names[k]}"
        else:
            assert_close(a, b, f"final state {fast.state_names[k]}")
    names = ["x", *(n for n, _ in fast.named_parameters())]
    for name_, a, b in zip(names, g1, g2):
        assert_close(a, b, f"∂L/∂{name_}")
    assert compare_with_loop(fast, x, device="cpu")  # and the initial states' gradients, through the check


@pytest.mark.parametrize("surrogate", ["rectangle", "triangle", "sigmoid", "multigauss", "atan", "fast_sigmoid"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_training_kernels_equal_the_reference_build_bit_for_bit(case, surrogate):
    """Vectorised, blocked, threaded and sparse (skipped zero spikes and gradients): not one bit differs."""
    name, recurrent = case
    m = layer(name, recurrent, surrogate=surrogate)
    m.policy = GradPolicy(detach_reset=surrogate == "atan")
    x = inputs(1)
    torch.set_num_threads(2)
    try:
        fast = through_kernels(m, x, "cpu")
    finally:
        torch.set_num_threads(1)
    reference = through_kernels(m, x, "cpu_reference")
    for k, (a, b) in enumerate(zip(fast, reference)):
        assert (a is None) == (b is None)
        assert a is None or torch.equal(a, b), f"output {k} differs by {float((a - b).abs().max()):.3g}"


@pytest.mark.parametrize("case", [("lif", False), ("glif", False), ("alif", True)], ids=case_id)
def test_one_and_two_threads_give_identical_results(case):
    m = layer(*case)
    x = inputs(2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = through_kernels(m, x, "cpu")
        assert cpu.last_threads() == 1
        torch.set_num_threads(2)
        two = through_kernels(m, x, "cpu")
        if cpu.openmp():
            assert cpu.last_threads() == 2  # torch.set_num_threads reaches the kernels
    finally:
        torch.set_num_threads(before)
    for a, b in zip(one, two):
        assert (a is None and b is None) or torch.equal(a, b)


def test_a_chunk_continues_from_the_previous_ones_state():
    m = layer("glif", True)
    x = inputs(3, steps=40)
    with torch.no_grad():
        s_whole, state_whole = m(x)
        s1, state = m(x[:17])
        s2, state = m(x[17:], state)
    assert torch.equal(torch.cat([s1, s2]), s_whole)
    for a, b in zip(state, state_whole):
        assert torch.equal(a, b)


RULES = {"stbp": True, "tstbp": True, "sdbp": False, "notd": False, "ottt": False, "sltt": False, "eprop": False}


@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("rule", list(RULES))
def test_every_learning_rule_uses_the_kernels_or_the_loop(rule, recurrent):
    """STBP and T-STBP (K-step chunks from a detached state) run on the kernels with the loop's
    gradients; the rules that cut the state's gradient at every step fall back to the loop."""
    learning = build_rule(rule, truncation=10)
    if learning.feedforward_only and recurrent:
        pytest.skip(f"{rule} is defined for feed-forward networks")
    x = inputs(4)
    models = []
    for backend in ("auto", "torch"):
        m = layer("alif", recurrent, backend=backend)
        apply_rule(nn.Sequential(m), learning)
        models.append(m)
    fast, slow = models
    reason = fast.fused_unsupported(x)
    assert (reason is None) == RULES[rule], reason
    xs = [x.clone().requires_grad_() for _ in models]
    outs = [m(xi) for m, xi in zip(models, xs)]
    w = torch.linspace(0.5, 1.5, N)
    for s, final in outs:
        ((s * w).sum() + (final[0] * w).square().sum()).backward()
    (s1, f1), (s2, f2) = outs
    assert torch.equal(s1, s2)
    assert_close(xs[0].grad, xs[1].grad, "∂L/∂x")
    for (name, p1), (_, p2) in zip(fast.named_parameters(), slow.named_parameters()):
        assert_close(p1.grad, p2.grad, f"∂L/∂{name}")
    if rule == "tstbp":  # the cut is there: nothing before step 30 feeds the last chunk's loss
        xi = x.clone().requires_grad_()
        s, _ = fast(xi)
        s[-1].sum().backward()
        assert xi.grad[:30].abs().sum() == 0 and xi.grad[30:].abs().sum() > 0


def test_backend_cpu_names_what_it_cannot_run():
    m = layer("lif", False, backend="cpu")
    with pytest.raises(NsbError, match="neuron.backend = 'cpu'.*float32 only"):
        m(inputs().double())
    m.policy = build_rule("sdbp").policy
    with pytest.raises(NsbError, match="cuts the state's gradient at every step"):
        m(inputs())
    m.policy = GradPolicy()
    assert torch.equal(m(inputs())[0], layer("lif", False, backend="torch")(inputs())[0])


def test_tracing_runs_the_loop():
    m = layer("lif", False)
    traced = torch.jit.trace(lambda x: m(x)[0], inputs(), check_trace=False)
    assert "FusedOp" not in str(traced.graph)
    assert torch.equal(traced(inputs(5)), layer("lif", False, backend="torch")(inputs(5))[0])


def test_without_a_compiler_auto_says_so_once_and_cpu_refuses(tmp_path):
    """A machine with no C++ compiler: auto runs the loop after one warning; cpu is a one-line error."""
    code = textwrap.dedent("""
        import warnings
        import torch
        from nsb.errors import NsbError
        from nsb.neurons import build_neuron
        x = torch.rand(9, 2, 5)
        auto = build_neuron("lif", 5)
        ref = build_neuron("lif", 5, backend="torch")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            s1 = auto(x)[0]
            s2 = auto(x)[0]
        assert torch.equal(s1, ref(x)[0]) and torch.equal(s2, s1)
        assert s1.grad_fn is None or type(s1.grad_fn).__name__ != "FusedOpBackward"
        said = [str(w.message) for w in caught if "CPU kernels are unavailable" in str(w.message)]
        assert len(said) == 1, said
        print("WARNING:", said[0])
        try:
            build_neuron("lif", 5, backend="cpu")(x)
        except NsbError as err:
            print("ERROR:", err)
    """)
    env = {k: v for k, v in os.environ.items() if k != "CXX"}
    env.update(PATH=str(tmp_path), NSB_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("WARNING:") and "no C++ compiler found" in lines[0]
    assert lines[1].startswith("ERROR: neuron.backend = 'cpu' but the fused kernel cannot run here")
    assert "no C++ compiler found" in lines[1] and len(lines) == 2
