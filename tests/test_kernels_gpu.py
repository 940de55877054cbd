"""The fused kernels on a GPU against the PyTorch layer, for every neuron and choice option (the
same cases tests/test_kernels_cpu.py runs through the CPU build): spikes exactly (R-ops: the
recurrent sum's order differs from cuBLAS, so rare threshold ties are allowed), states and every
gradient to 1e-4. Skipped without CUDA; run on a GPU with `pytest tests/test_kernels_gpu.py`."""

from __future__ import annotations

import pytest
import torch

from nsb.neurons import GradPolicy, build_neuron
from nsb.ops.samples import case_id, neuron_cases

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
SURROGATES = ["rectangle", "triangle", "sigmoid", "multigauss", "atan", "fast_sigmoid"]


def pair(name, recurrent, surrogate="triangle", **options):
    kw = dict(options, surrogate=surrogate)
    if name == "glif":
        kw.setdefault("time_steps", 120)
    if name == "adlif":
        kw.update(input_norm=False, threshold=0.05)
    if recurrent is not None:
        kw["recurrent"] = recurrent
    torch.manual_seed(0)
    fused = build_neuron(name, 64, backend="cuda", **kw).cuda()
    ref = build_neuron(name, 64, backend="torch", **kw).cuda()
    ref.load_state_dict(fused.state_dict())
    return fused, ref


def compare(fused, ref, dtype=torch.float32):
    torch.manual_seed(1)
    x = (torch.rand(100, 8, 64, device="cuda") * 0.9 - 0.15).to(dtype)
    gs = torch.randn(100, 8, 64, device="cuda")
    results = []
    for neuron in (fused, ref):
        neuron.zero_grad()
        # the reference gets the same rounded inputs in fp32: the kernels keep fp32 states for any storage
        xi = (x if neuron is fused else x.float()).clone().requires_grad_(True)
        s, state = neuron(xi)
        ((s.float() * gs).sum() + sum(t.float().square().sum() for t in state if t.is_floating_point())).backward()
        results.append((s.detach(), [t.detach() for t in state], xi.grad,
                        {k: p.grad.clone() for k, p in neuron.named_parameters() if p.grad is not None}))
    (s1, st1, gx1, gp1), (s2, st2, gx2, gp2) = results
    if fused.recurrent is not None or dtype != torch.float32:
        assert (s1 == s2).float().mean() > 0.9999
        return
    assert torch.equal(s1, s2)
    for a, b in zip(st1, st2):
        torch.testing.assert_close(a.float(), b.float(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gx1, gx2, rtol=1e-4, atol=1e-5)
    for key in gp2:
        torch.testing.assert_close(gp1[key], gp2[key], rtol=1e-4, atol=1e-4, msg=key)


@pytest.mark.parametrize("name,recurrent,choices", neuron_cases(), ids=case_id)
def test_every_neuron_and_option_on_the_gpu(name, recurrent, choices):
    compare(*pair(name, recurrent, **choices))


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("name", ["lif", "alif", "adlif", "glif"])
def test_every_surrogate_and_reset_detachment_on_the_gpu(name, surrogate, detach):
    fused, ref = pair(name, False, surrogate=surrogate)
    for n in (fused, ref):
        n.policy = GradPolicy(detach_reset=detach)
    compare(fused, ref)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ["lif", "alif", "rlif"])
def test_half_storage_keeps_fp32_states(name, dtype):
    compare(*pair(name, None if name == "rlif" else False), dtype=dtype)
