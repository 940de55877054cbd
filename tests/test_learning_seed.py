"""The online rules give the seed's gradients for the same loss (reference §3).

The seed trains OTTT, SLTT and e-prop with one backward per sequence on the time-averaged readout, and
builds each rule into the forward pass: OTTT's Linear has the value W·x[t] and the gradient of W·x̂[t]
(x̂[t] = λ·sg(x̂[t−1]) + x[t]); SLTT's recurrent input is W·sg(y[t−1]); e-prop's has the value
W·sg(y[t−1]) and the gradient of W·ê[t] (ê[t] = λ·sg(ê[t−1]) + sg(y[t−1])), plus OTTT's trace on the
feed-forward Linears; the membrane is λ·sg(v) + I with the reset spike detached. Below that is written out
as the seed's RLIF step (reset after the spike), independently of nsb's layers, and compared with nsb's
model under the same rule (``apply_rule``) for the seed's loss. The readout is a plain Linear in both: it has
no postsynaptic neuron, so no λ for a trace.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nsb.learning import apply_rule, build_rule
from nsb.models.classifier import SpikingClassifier
from nsb.neurons import build_neuron
from nsb.surrogate import build_surrogate

DECAY, THETA = 0.8, 0.3


class NoNorm(nn.Module):
    def forward(self, x, t0=0):
        return x


def nsb_model(recurrent: tuple[bool, ...], seed: int = 0) -> SpikingClassifier:
    torch.manual_seed(seed)

    def make_neuron(size, rec):
        return build_neuron("lif", size, decay=DECAY, threshold=THETA, surrogate="triangle", alpha=1.0,
                            recurrent=rec)

    return SpikingClassifier(3, [16, 12], 4, make_neuron, lambda size, i: NoNorm(), list(recurrent))


def seed_forward(p: dict[str, torch.Tensor], x: torch.Tensor, rule: str, recurrent: tuple[bool, ...]) -> torch.Tensor:
    """The seed's RLIF network under ``rule``, step by step: logits averaged over time."""
    spike = build_surrogate("triangle", 1.0)
    h = x
    for i, rec in enumerate(recurrent):
        W, b = p[f"layers.{i}.synapse.weight"], p[f"layers.{i}.synapse.bias"]
        n = W.shape[0]
        v = torch.zeros(x.shape[1], n)
        y = torch.zeros(x.shape[1], n)
        x_hat = torch.zeros(x.shape[1], W.shape[1])
        e_hat = torch.zeros(x.shape[1], n)
        outs = []
        for t in range(x.shape[0]):
            if rule in ("ottt", "eprop"):  # value W·x[t] + b, gradient through W·x̂[t] + b
                x_hat = DECAY * x_hat.detach() + h[t]
                current = F.linear(h[t], W, b).detach() + F.linear(x_hat, W, b) - F.linear(x_hat, W, b).detach()
            else:
                current = F.linear(h[t], W, b)
            if rec:
                Wr, br = p[f"layers.{i}.neuron.recurrent.weight"], p[f"layers.{i}.neuron.recurrent.bias"]
                if rule == "sltt":
                    current = current + F.linear(y.detach(), Wr, br)
                elif rule == "eprop":
                    e_hat = DECAY * e_hat.detach() + y.detach()
                    value = F.linear(y.detach(), Wr, br)
                    current = current + value.detach() + F.linear(e_hat, Wr, br) - F.linear(e_hat, Wr, br).detach()
                else:
                    current = current + F.linear(y, Wr, br)
            v = DECAY * v.detach() + current
            y = spike(v - THETA)
            outs.append(y)
            v = v * (1 - y.detach())  # the seed's RLIF: hard reset after the spike, V_rest = 0, spike detached
        h = torch.stack(outs)
    logits = F.linear(h, p["readout.weight"], p["readout.bias"])
    return logits.mean(0)


@pytest.mark.parametrize("rule,recurrent", [("ottt", (False, False)), ("sltt", (False, False)),
                                            ("sltt", (True, False)), ("eprop", (True, False))])
def test_online_rule_gives_the_seeds_gradient(rule, recurrent):
    g = torch.Generator().manual_seed(3)
    x = torch.rand(20, 5, 3, generator=g) * 1.5
    labels = torch.randint(0, 4, (5,), generator=g)

    model = nsb_model(recurrent)
    apply_rule(model, build_rule(rule))
    out, _ = model(x)
    F.cross_entropy(out.mean(0), labels).backward()
    ours = {k: q.grad for k, q in model.named_parameters() if q.grad is not None}

    params = {k: q.detach().clone().requires_grad_(True) for k, q in nsb_model(recurrent).named_parameters()}
    F.cross_entropy(seed_forward(params, x, rule, recurrent), labels).backward()
    seeds = {k: q.grad for k, q in params.items() if q.grad is not None}

    assert ours.keys() == seeds.keys() and len(ours) > 0
    for k in seeds:
        torch.testing.assert_close(ours[k], seeds[k], rtol=1e-5, atol=1e-6, msg=k)
    assert any(v.abs().sum() > 0 for v in seeds.values())


def test_the_rules_differ_from_full_bptt():
    """The comparison above can fail: the seed's full BPTT gradient differs from each rule's."""
    g = torch.Generator().manual_seed(3)
    x = torch.rand(20, 5, 3, generator=g) * 1.5
    labels = torch.randint(0, 4, (5,), generator=g)
    params = {k: q.detach().clone().requires_grad_(True) for k, q in nsb_model((True, False)).named_parameters()}
    F.cross_entropy(seed_forward(params, x, "stbp", (True, False)), labels).backward()
    full = {k: q.grad.clone() for k, q in params.items()}
    for q in params.values():
        q.grad = None
    F.cross_entropy(seed_forward(params, x, "eprop", (True, False)), labels).backward()
    assert not torch.allclose(full["layers.0.synapse.weight"], params["layers.0.synapse.weight"].grad)
