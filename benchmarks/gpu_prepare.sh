#!/usr/bin/env bash
# Prepare what a lent GPU machine needs for benchmarks/gpu_check.sh, here, in the repository root. That
# machine has no package registry: carry the wheels nsb needs beyond its image (.whl) and TensorRT's
# headers for the plugin build (.trt, copied from ../shared/tensorrt, never committed). Then one device
# call: carry [".whl", ".trt"], command `bash benchmarks/gpu_check.sh`, timeout 580 s (docs/gpu.md).
# onnxruntime-gpu is larger than one call can carry: stage it first with
# ../shared/device/stage-wheels.sh onnxruntime-gpu==1.31.1 (one call per .whl-parts folder, back to back).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
for d in /.whl/ /.trt/; do grep -qx "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude; done
rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
  -d .whl tomli-w==1.2.0 onnxconverter-common==1.16.0
for version in 10.3 11.1; do
  rm -rf ".trt/$version" && mkdir -p ".trt/$version" && cp -r "../shared/tensorrt/$version/include" ".trt/$version/"
done
echo "prepared: $(ls .whl | tr '\n' ' ')and TensorRT headers in .trt/ ($(du -sh .trt .whl | awk '{print $1}' | tr '\n' ' '))"
