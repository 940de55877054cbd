"""The fused kernels on a GPU against the PyTorch loop, for every neuron and choice option (the
same cases tests/test_kernels_cpu.py runs through the CPU build), through nsb.kernels.check: spikes
exactly (R-ops: the recurrent sum's order differs from cuBLAS, so a rare threshold tie is allowed),
states and every gradient to 1e-4; fp16/bf16 storage: spikes agree on 99.9 %. Skipped without CUDA;
run on a GPU with `pytest tests/test_kernels_gpu.py` (nsb doctor --device cuda runs the same checks)."""

from __future__ import annotations

import pytest
import torch

from nsb.kernels.check import compare_with_loop
from nsb.neurons import GradPolicy, build_neuron
from nsb.ops.samples import case_id, neuron_cases

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
SURROGATES = ["rectangle", "triangle", "sigmoid", "multigauss", "atan", "fast_sigmoid"]


def layer(name, recurrent, surrogate="triangle", size=64, **options):
    kw = dict(options, surrogate=surrogate)
    if name == "glif":
        kw.setdefault("time_steps", 120)
    if name == "adlif":
        kw.update(input_norm=False, threshold=0.05)
    if recurrent is not None:
        kw["recurrent"] = recurrent
    torch.manual_seed(0)
    return build_neuron(name, size, backend="cuda", **kw).cuda()


def check(neuron, dtype=torch.float32):
    torch.manual_seed(1)
    x = (torch.rand(100, 8, neuron.size, device="cuda") * 0.9 - 0.15).to(dtype)
    result = compare_with_loop(neuron, x, device="cuda", rtol=1e-4)
    assert result, result.detail


@pytest.mark.parametrize("name,recurrent,choices", neuron_cases(), ids=case_id)
def test_every_neuron_and_option_on_the_gpu(name, recurrent, choices):
    from nsb.neurons import NEURONS

    own = NEURONS[name].surrogate  # ASGL-LIF spikes through its own (noisy in training) surrogate
    check(layer(name, recurrent, **({"surrogate": own} if own else {}), **choices))


@pytest.mark.parametrize("recurrent", [False, True])
def test_asgl_noisy_spike_on_the_gpu(recurrent):
    """ASGL in training: the kernels take the loop's per-(sample, neuron) draw; noisy neurons pass r(u)."""
    neuron = layer("asgl_lif", recurrent, surrogate="asgl")
    neuron.surrogate.noise_rate.fill_(0.4)
    neuron.train()
    check(neuron)


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("name", ["lif", "alif", "adlif", "glif"])
def test_every_surrogate_and_reset_detachment_on_the_gpu(name, surrogate, detach):
    neuron = layer(name, False, surrogate=surrogate)
    neuron.policy = GradPolicy(detach_reset=detach)
    check(neuron)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ["lif", "alif", "rlif"])
def test_half_storage_keeps_fp32_states(name, dtype):
    check(layer(name, None if name == "rlif" else False), dtype=dtype)


@pytest.mark.parametrize("name", ["rlif", "glif", "adlif"])
def test_a_wide_recurrent_layer_launches_and_trains(name):
    """1,024 neurons: the largest block the launcher uses; the recurrent kernels' launch bounds keep
    their registers within it (RGLIF's backward would need 72 per thread without them)."""
    check(layer(name, None if name == "rlif" else True, size=1024))


@pytest.mark.parametrize("branches", [4, 3])
def test_dhlif_feed_forward_stage_kernels_on_the_gpu(branches):
    """DH-LIF's feed-forward layer through DHDEND, the branch sum and DHSOMA on the GPU, against its loop."""
    torch.manual_seed(0)
    neuron = build_neuron("dhlif", 64, input_size=64, branches=branches, threshold=0.3, backend="cuda").cuda()
    check(neuron)
