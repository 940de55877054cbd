#!/usr/bin/env bash
# Every GPU check and measurement of nsb in one run on a lent GPU (docs/gpu.md), within 10 minutes:
#   1. nsb doctor --device cuda: every fused kernel against PyTorch (each op, option, surrogate,
#      fp32/fp16/bf16), the TensorRT plugins built for this GPU with the harness's enqueue, a bundle on
#      onnxruntime CUDA (when onnxruntime-gpu is staged in /tmp/site) and TensorRT (when installed);
#   2. benchmarks/lif_kernels.py: the LIF kernel speed table;
#   3. benchmarks/eval_backends.py --device cuda: the backend latency table.
# Outputs land in $OUT. Prepare here with benchmarks/gpu_prepare.sh; without a GPU (PY=.venv/bin/python
# bash benchmarks/gpu_check.sh) it runs the doctor's CPU checks and stops before the GPU calls.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/nsb-gpu-check}
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
[ -d /tmp/site ] && export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
if ! "$PY" -c "import nsb.cli" 2>/dev/null; then  # the device image lacks nsb and two of its dependencies
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl &&
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir --target /tmp/site . ||
    { echo "gpu_check: installing nsb failed; run benchmarks/gpu_prepare.sh and carry .whl" >&2; exit 2; }
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
gpu=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))")
device=$([ "$gpu" = 1 ] && echo cuda || echo cpu)
headers=.trt/11.1/include
[ -f "$headers/NvInferRuntime.h" ] || headers=../shared/tensorrt/11.1/include
"$PY" -m nsb.cli doctor --device "$device" --tensorrt "$headers" --json "$OUT/doctor.json" 2>&1 | tee "$OUT/doctor.txt"
doctor=${PIPESTATUS[0]}
if [ "$gpu" != 1 ]; then
  echo "gpu_check: no CUDA device here; stopped before benchmarks/lif_kernels.py and eval_backends.py --device cuda"
  exit "$doctor"
fi
"$PY" benchmarks/lif_kernels.py 2>&1 | tee "$OUT/lif_kernels.md"
"$PY" benchmarks/eval_backends.py --device cuda --root /tmp/nsb-bench 2>&1 | tee "$OUT/eval_backends.md"
exit "$doctor"
