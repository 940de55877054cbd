"""Fused LIF kernels against the PyTorch step loop (and SpikingJelly when installed), on a GPU.

Median of CUDA-event timings after warm-up; LIF, tau 2 (decay 0.5), hard reset, T = 784, as the
anchors in ../shared/device/README.md. Prints a markdown table: forward and forward+backward in ms,
and the bandwidth floor (8 bytes per neuron-step forward, 24 forward+backward at --bandwidth TB/s).
Run on the GPU machine: ``python benchmarks/lif_kernels.py [--sizes 256x64 256x1024 64x4096]``.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from nsb.neurons import build_neuron


def timed(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def case(neuron, x: torch.Tensor, backward: bool):
    def run():
        xi = x.requires_grad_(backward)
        s, _ = neuron(xi)
        if backward:
            s.sum().backward()
    return run


def spikingjelly_neuron():
    try:
        from spikingjelly.activation_based import neuron, surrogate
    except ImportError:
        return None
    return neuron.LIFNode(tau=2.0, decay_input=False, v_threshold=0.5, step_mode="m", backend="cupy",
                          surrogate_function=surrogate.Rect())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=784)
    parser.add_argument("--sizes", nargs="+", default=["256x64", "256x1024", "64x4096"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--bandwidth", type=float, default=2.96, help="device copy bandwidth, TB/s")
    parser.add_argument("--no-loop", action="store_true", help="skip the slow PyTorch step loop")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU")
    rows = []
    for size in args.sizes:
        b, n = (int(v) for v in size.split("x"))
        for dtype in (torch.float32, torch.float16):
            x = (torch.rand(args.steps, b, n, device="cuda") * 1.2).to(dtype)
            fused = build_neuron("lif", n, decay=0.5, threshold=0.5, backend="cuda")
            row = {"size": f"{args.steps}, {b}, {n}", "dtype": str(dtype).replace("torch.", ""),
                   "floor": (8 * args.steps * b * n * (dtype.itemsize / 4) / args.bandwidth / 1e9,
                             24 * args.steps * b * n * (dtype.itemsize / 4) / args.bandwidth / 1e9)}
            row["nsb"] = (timed(case(fused, x, False), args.repeats), timed(case(fused, x, True), args.repeats))
            if dtype == torch.float32 and not args.no_loop:
                loop = build_neuron("lif", n, decay=0.5, threshold=0.5, backend="torch")
                row["loop"] = (timed(case(loop, x, False), 3, 1), timed(case(loop, x, True), 3, 1))
            sj = spikingjelly_neuron() if dtype == torch.float32 else None
            if sj is not None:
                row["sj"] = (timed(case(sj, x, False), args.repeats), timed(case(sj, x, True), args.repeats))
            rows.append(row)
    print(f"\nLIF, T = {args.steps}, {torch.cuda.get_device_name()}, torch {torch.__version__}; median ms, "
          "forward / forward+backward\n")
    print("| T, B, N | storage | floor | nsb fused | PyTorch step loop | SpikingJelly |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    fmt = lambda pair: "—" if pair is None else f"{pair[0]:.3f} / {pair[1]:.3f}"  # noqa: E731
    for r in rows:
        print(f"| {r['size']} | {r['dtype']} | {fmt(r['floor'])} | {fmt(r['nsb'])} | {fmt(r.get('loop'))} | "
              f"{fmt(r.get('sj'))} |")


if __name__ == "__main__":
    main()
