"""Propagation methods ("learning rules"), chosen by ``train.learning_rule`` in a config.

Each rule is a gradient policy on the neurons (:class:`nsb.neurons.GradPolicy`), optionally a
presynaptic trace on the synapses, and whether it trains online (backward at every step). See
``reference/neuroseqbench.md`` §3 for the seed's definitions:

=======  ===============================================================  ========  ======
rule     gradient paths                                                    trace     online
=======  ===============================================================  ========  ======
stbp     full BPTT                                                         —         no
tstbp    BPTT cut every ``truncation`` = K steps (alias ``tbptt``)         —         no
sdbp     λ·sg(v), spike detached in reset; recurrent W·s[t−1] kept         —         no
notd     no temporal memory (v = x[t]); recurrent input still added       —         no
ottt     λ·sg(v); weight gradient through x̂[t] = λ·x̂[t−1] + x[t]          FF        yes
sltt     λ·sg(v); recurrent W·sg(s[t−1]) (gradient into W only)            —         yes
eprop    λ·sg(v); FF trace as OTTT, recurrent eligibility trace           FF + rec  yes
=======  ===============================================================  ========  ======

The seed keeps the whole T-step graph for OTTT, SLTT and e-prop, so they save no memory there.
nsb runs them truly online: one step of the whole network, its instantaneous loss, ``backward``,
gradients accumulated, state detached; the graph never spans more than one step. The loss is
then the per-step loss (mean over t of the step's loss, or the last step's alone for a last-step
readout), which is the loss these methods are defined with (Xiao et al. 2022, Meng et al. 2023).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from nsb.errors import ConfigError, unknown
from nsb.neurons import GradPolicy, Neuron


@dataclass(frozen=True)
class LearningRule:
    name: str
    policy: GradPolicy
    online: bool = False
    input_trace: bool = False  # OTTT / e-prop presynaptic trace on the feed-forward synapses
    feedforward_only: bool = False


def build_rule(name: str, truncation: int = 0) -> LearningRule:
    detached = dict(detach_state=True, detach_reset=True)
    if name in ("tstbp", "tbptt"):
        if truncation < 1:
            raise ConfigError(f"learning rule '{name}' needs train.truncation = K >= 1 (the seed uses 196 for "
                              "PSMNIST and 25 for Binary Adding)")
        return LearningRule("tstbp", GradPolicy(truncate=truncation))
    rules = {
        "stbp": LearningRule("stbp", GradPolicy()),
        "sdbp": LearningRule("sdbp", GradPolicy(**detached)),
        "notd": LearningRule("notd", GradPolicy(temporal=False)),
        "ottt": LearningRule("ottt", GradPolicy(**detached), online=True, input_trace=True, feedforward_only=True),
        "sltt": LearningRule("sltt", GradPolicy(**detached, recurrent="detached"), online=True),
        "eprop": LearningRule("eprop", GradPolicy(**detached, recurrent="trace"), online=True, input_trace=True),
    }
    if name not in rules:
        raise ConfigError(unknown("learning rule", name, list(rules) + ["tstbp", "tbptt"]))
    return rules[name]


def apply_rule(model: nn.Module, rule: LearningRule) -> None:
    """Set the rule's gradient policy on every neuron of ``model`` and its traces on the layers."""
    neurons = [m for m in model.modules() if isinstance(m, Neuron)]
    if rule.feedforward_only and any(n.recurrent is not None for n in neurons):
        raise ConfigError(f"learning rule '{rule.name}' is defined for feed-forward networks only; set "
                          "model.recurrent = false or use 'eprop' or 'sltt' for a recurrent network")
    for n in neurons:
        n.policy = rule.policy
    from nsb.neurons.parallel import ParallelNeuron

    parallel = sorted({m.name for m in model.modules() if isinstance(m, ParallelNeuron)})
    if parallel and rule.name != "stbp":  # issue 16: whole-sequence layers have no step to cut
        raise ConfigError(f"neuron '{parallel[0]}' runs in parallel over time and trains with train.learning_rule = "
                          f"\"stbp\" only (its membrane is a sum over the whole input, with no state to detach)")
    for m in model.modules():
        if hasattr(m, "input_trace"):
            m.input_trace = rule.input_trace
