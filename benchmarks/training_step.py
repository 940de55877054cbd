"""A PS-MNIST training step on the CPU: the PyTorch step loop against the CPU training kernels, side by side.

The seed's networks (1-64-256-256-10, T = 784, LIF with the reset right after the spike, feed-forward
and recurrent as in ``benchmarks/learning_rules.py``), STBP, AdamW, one full step (forward, backward,
optimiser) through the trainer's own step function. ``neuron.backend = "torch"`` is the step loop;
``"auto"`` on a CPU tensor is the CPU training kernels (nsb/kernels/cpu.py). The two backends' steps
alternate (warm-up, then ``--steps`` pairs), so a machine shared with other work slows both alike; the
median of each is reported, with the speed-up. ``--profile`` adds where the kernel backend's step
goes: the neuron kernels (FusedOp forward and backward), the synapses' matmuls, and the rest.

Run: ``python benchmarks/training_step.py [--threads 2] [--steps 3] [--batch 32] [--profile]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

MODELS = {"ff": [False, False, False], "rec": [True, True, False]}  # 1-64-256-256-10, as psmnist_ff/_rec


def build(model_kind: str, backend: str, batch: int, time_steps: int, rule: str):
    import torch

    from nsb.config import Config
    from nsb.data.common import TaskData
    from nsb.learning import apply_rule, build_rule
    from nsb.learning.steps import offline_step, online_step
    from nsb.models.build import build_model

    torch.manual_seed(0)
    cfg = Config()
    cfg.model.hidden = [64, 256, 256]
    cfg.model.recurrent = MODELS[model_kind]
    cfg.neuron = {"decay": 0.5, "threshold": 0.5, "reset_timing": "immediate", "backend": backend}
    empty = torch.empty(0)
    task = TaskData("classification", empty, empty, input_size=1, num_classes=10, time_steps=time_steps)
    model = build_model(cfg, task)
    learning = build_rule(rule, truncation=196)
    apply_rule(model, learning)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(time_steps, batch, 1, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    step = online_step if learning.online else offline_step

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        step(model, x, y, None, "classification", "mean")
        opt.step()

    return train_step


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def breakdown(train_step) -> dict[str, float]:
    """Seconds of one step in the neuron kernels, the synapse matmuls and everything else (self time)."""
    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        train_step()
    kinds = {"neuron kernels": 0.0, "synapse matmuls": 0.0, "other": 0.0}
    for event in prof.key_averages():
        seconds = event.self_cpu_time_total / 1e6
        if "FusedOp" in event.key:
            kinds["neuron kernels"] += seconds
        elif event.key in ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear"):
            kinds["synapse matmuls"] += seconds
        else:
            kinds["other"] += seconds
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (the kernels use the same)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per backend (after one warm-up)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--time-steps", type=int, default=784)
    parser.add_argument("--rule", default="stbp")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--profile", action="store_true", help="also break the kernel backend's step down")
    args = parser.parse_args()
    import torch

    from nsb.kernels import cpu

    torch.set_num_threads(args.threads)
    problem = cpu.unavailable(quiet=True)
    if problem:
        raise SystemExit(f"nsb: error: {problem}")
    rows, profiles = [], {}
    for kind in args.models:
        steps = {b: build(kind, b, args.batch, args.time_steps, args.rule) for b in ("torch", "auto")}
        for b in steps:
            steps[b]()  # warm-up (and the kernels' build, the first time)
        times: dict[str, list[float]] = {b: [] for b in steps}
        for _ in range(args.steps):
            for b in steps:  # alternating: a busy machine slows both alike
                times[b].append(timed(steps[b]))
        torch_s, kernel_s = statistics.median(times["torch"]), statistics.median(times["auto"])
        rows.append((kind, torch_s, kernel_s))
        print(f"  measured {kind}: torch {times['torch']}, kernels {times['auto']}", flush=True)
        if args.profile:
            profiles[kind] = breakdown(steps["auto"])
    print(f"\nPS-MNIST training step ({args.rule}), 1-64-256-256-10, T = {args.time_steps}, batch {args.batch}, "
          f"{args.threads} threads, {platform.machine()} {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"median of {args.steps}\n")
    print("| model | backend \"torch\" (step loop) s | backend \"auto\" (CPU kernels) s | speed-up |")
    print("| --- | ---: | ---: | ---: |")
    for kind, torch_s, kernel_s in rows:
        print(f"| {kind} | {torch_s:.2f} | {kernel_s:.3f} | {torch_s / kernel_s:.1f}× |")
    if profiles:
        print("\nWhere the CPU-kernel step goes (torch.profiler self time, one step):\n")
        print("| model | neuron kernels s | synapse matmuls s | other s |")
        print("| --- | ---: | ---: | ---: |")
        for kind, parts in profiles.items():
            print(f"| {kind} | {parts['neuron kernels']:.3f} | {parts['synapse matmuls']:.3f} | {parts['other']:.3f} |")


if __name__ == "__main__":
    main()
