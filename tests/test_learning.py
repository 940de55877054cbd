"""Learning rules: their gradient paths, and online training equal to its offline definition."""

import pytest
import torch
from torch import nn

from nsb.errors import ConfigError
from nsb.learning import apply_rule, build_rule
from nsb.models.classifier import SpikingClassifier
from nsb.neurons import build_neuron
from nsb.learning.steps import offline_step, online_step


class NoNorm(nn.Module):
    def forward(self, x, t0=0):
        return x


def model(recurrent=(True, False), seed=0, neuron="lif"):
    torch.manual_seed(seed)

    def make_neuron(size, rec):
        return build_neuron(neuron, size, decay=0.8, threshold=0.3, surrogate="triangle", alpha=1.0, recurrent=rec)

    return SpikingClassifier(3, [16, 12], 4, make_neuron, lambda size, i: NoNorm(), list(recurrent))


def data(T=25, B=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(T, B, 3, generator=g) * 1.5, torch.randint(0, 4, (B,), generator=g)


def grads(m):
    return {k: p.grad.clone() for k, p in m.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("rule,recurrent", [("ottt", (False, False)), ("sltt", (True, False)),
                                            ("eprop", (True, False)), ("sltt", (False, False))])
@pytest.mark.parametrize("readout", ["mean", "last"])
def test_online_equals_offline_per_step_loss(rule, recurrent, readout):
    """Per-step backward with detached state gives exactly the gradient of the whole-graph per-step loss."""
    x, y = data()
    online = model(recurrent)
    apply_rule(online, build_rule(rule))
    online_step(online, x, y, None, "classification", readout)

    offline = model(recurrent)
    apply_rule(offline, build_rule(rule))
    out, state = offline(x)
    steps = x.shape[0]
    if readout == "last":
        loss = nn.functional.cross_entropy(out[-1], y)
    else:
        loss = sum(nn.functional.cross_entropy(out[t], y) for t in range(steps)) / steps
    loss.backward()
    a, b = grads(online), grads(offline)
    assert a.keys() == b.keys() and len(a) > 0
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-7, msg=k)
    assert any(v.abs().sum() > 0 for v in a.values())


def test_ottt_weight_gradient_uses_the_presynaptic_trace():
    """OTTT's first-layer gradient is δ[t]·x̂[t]ᵀ with x̂ = λx̂ + x, not δ[t]·x[t]ᵀ."""
    x, y = data(T=12)
    traced = model((False, False))
    apply_rule(traced, build_rule("ottt"))
    online_step(traced, x, y, None, "classification", "mean")
    plain = model((False, False))
    apply_rule(plain, build_rule("sltt"))  # same detached state, no trace
    online_step(plain, x, y, None, "classification", "mean")
    g_traced = traced.layers[0].synapse.weight.grad
    g_plain = plain.layers[0].synapse.weight.grad
    assert not torch.allclose(g_traced, g_plain)
    # biases see no trace: identical
    torch.testing.assert_close(traced.layers[0].synapse.bias.grad, plain.layers[0].synapse.bias.grad)


def test_online_memory_does_not_keep_the_sequence_graph():
    """An online step holds no autograd graph across steps: outputs come back detached, state too."""
    x, y = data(T=30)
    m = model((True, False))
    apply_rule(m, build_rule("eprop"))
    out, loss, state = online_step(m, x, y, None, "classification", "mean")
    assert not out.requires_grad
    assert all(not t.requires_grad for layer in state for t in layer)


@pytest.mark.parametrize("rule", ["stbp", "sdbp", "notd"])
def test_offline_rules_train(rule):
    x, y = data()
    m = model()
    apply_rule(m, build_rule(rule))
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        _, loss, _ = offline_step(m, x, y, None, "classification", "mean")
        opt.step()
        losses.append(loss)
    assert losses[-1] < losses[0] * 0.8


def test_tstbp_needs_a_window_and_ottt_refuses_recurrence():
    with pytest.raises(ConfigError, match="truncation"):
        build_rule("tstbp")
    assert build_rule("tbptt", 25).policy.truncate == 25
    with pytest.raises(ConfigError, match="feed-forward"):
        apply_rule(model((True, False)), build_rule("ottt"))
    with pytest.raises(ConfigError, match="did you mean 'eprop'"):
        build_rule("e-prop")


def test_sdbp_keeps_the_recurrent_gradient_notd_too():
    for rule in ("sdbp", "notd"):
        m = model((True, False))
        apply_rule(m, build_rule(rule))
        x, y = data()
        offline_step(m, x, y, None, "classification", "mean")
        assert m.layers[0].neuron.recurrent.weight.grad.abs().sum() > 0, rule
