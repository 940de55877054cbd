"""Peak memory and step time of each learning rule on the seed's PSMNIST networks at T = 784.

Every rule runs one warm-up step and then ``--steps`` timed training steps (forward, backward,
optimiser) with the trainer's own step functions, in a fresh process, so the peak resident memory
it reports is that rule's alone: "peak MB" is the rise of the process's peak RSS over what the
model and the batch already held. Offline rules (stbp, tstbp, sdbp, notd) keep the graph of all T
steps; the online ones (ottt, sltt, eprop) keep one step's graph, so their memory does not grow
with T. Each rule runs with every backend of ``--backends`` (default: ``torch``, the PyTorch step loop,
and ``auto``, which on a CPU tensor is the CPU training kernels where the rule runs on them — STBP,
T-STBP — and the loop otherwise), one after the other in the same run.
Run: ``python benchmarks/learning_rules.py [--batch 64] [--steps 1] [--device cpu] [--backends torch auto]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

RULES = ["stbp", "tstbp", "sdbp", "notd", "ottt", "sltt", "eprop"]
MODELS = {"ff": [False, False, False], "rec": [True, True, False]}  # 1-64-256-256-10, as psmnist_ff/_rec


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(rule: str, model_kind: str, batch: int, steps: int, time_steps: int, device: str,
            backend: str = "auto") -> dict:
    import torch

    from nsb.config import Config
    from nsb.data.common import TaskData
    from nsb.learning import apply_rule, build_rule
    from nsb.models.build import build_model
    from nsb.learning.steps import offline_step, online_step

    torch.manual_seed(0)
    cfg = Config()
    cfg.model.hidden = [64, 256, 256]
    cfg.model.recurrent = MODELS[model_kind]
    # the seed's learning-rule experiments use its RLIF class: the reset right after the spike
    cfg.neuron = {"decay": 0.5, "threshold": 0.5, "reset_timing": "immediate", "backend": backend}
    empty = torch.empty(0)
    task = TaskData("classification", empty, empty, input_size=1, num_classes=10, time_steps=time_steps)
    model = build_model(cfg, task).to(device)
    learning = build_rule(rule, truncation=196)
    apply_rule(model, learning)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.rand(time_steps, batch, 1, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    step = online_step if learning.online else offline_step

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        step(model, x, y, None, "classification", "mean")
        opt.step()

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    before = peak_rss_mb()
    train_step()  # warm-up, and the step whose memory we read
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if device.startswith("cuda") else peak_rss_mb() - before
    times = []
    for _ in range(steps):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        train_step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    layers = [m for m in model.modules() if hasattr(m, "fused_unsupported")]
    kernels = backend != "torch" and all(m.fused_unsupported(x[:, :, :1].expand(-1, -1, m.size)) is None
                                         for m in layers)
    return {"rule": rule, "model": model_kind, "online": learning.online, "peak_mb": peak,
            "step_s": sorted(times)[len(times) // 2], "backend": backend, "kernels": kernels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--time-steps", type=int, default=784)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rules", nargs="+", default=RULES, choices=RULES, help="the rules to measure")
    parser.add_argument("--backends", nargs="+", default=["torch", "auto"], help="neuron.backend values to compare")
    parser.add_argument("--one", nargs=3, metavar=("RULE", "MODEL", "BACKEND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        rule, model_kind, backend = args.one
        print(json.dumps(measure(rule, model_kind, args.batch, args.steps, args.time_steps, args.device, backend)))
        return
    import torch

    torch.set_num_threads(torch.get_num_threads())
    rows = []
    for model_kind in MODELS:
        for rule in args.rules:
            if rule == "ottt" and model_kind == "rec":
                continue  # OTTT is defined for feed-forward networks
            row = {}
            for backend in args.backends:
                cmd = [sys.executable, __file__, "--one", rule, model_kind, backend, "--batch", str(args.batch),
                       "--steps", str(args.steps), "--time-steps", str(args.time_steps), "--device", args.device]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                r = json.loads(done.stdout.strip().splitlines()[-1])
                row[backend] = r
                print(f"  measured {rule:6s} {model_kind:3s} {backend:5s} {r['peak_mb']:8.1f} MB  {r['step_s']:7.2f} s"
                      f"{'  (kernels)' if r['kernels'] else ''}", file=sys.stderr)
            rows.append(row)
    print(f"\nLearning rules, PSMNIST networks (1-64-256-256-10), T = {args.time_steps}, batch {args.batch}, "
          f"{args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}\n")
    head = "| rule | model | online |"
    rule_line = "| --- | --- | --- |"
    for b in args.backends:
        head += f" {b}: peak memory (MB) | {b}: step (s) |"
        rule_line += " ---: | ---: |"
    if len(args.backends) > 1:
        head += f" speed-up {args.backends[-1]} vs {args.backends[0]} |"
        rule_line += " ---: |"
    print(head)
    print(rule_line)
    for row in rows:
        first = row[args.backends[0]]
        line = f"| {first['rule']} | {first['model']} | {'yes' if first['online'] else 'no'} |"
        for b in args.backends:
            mark = " (kernels)" if row[b]["kernels"] else ""
            line += f" {row[b]['peak_mb']:.1f} | {row[b]['step_s']:.2f}{mark} |"
        if len(args.backends) > 1:
            line += f" {first['step_s'] / row[args.backends[-1]]['step_s']:.1f}× |"
        print(line)


if __name__ == "__main__":
    main()
