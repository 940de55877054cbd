# Quick start: `make demo` trains the offline default, `make test` runs the test suite.
# Each creates the virtual environment it needs in .venv (override with VENV=...).

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
# cpu: onnxruntime; gpu on a CUDA machine: onnxruntime-gpu, NVML, cuda-python (make demo TORCH=torch RUNTIME=gpu)
RUNTIME ?= cpu
PY := $(VENV)/bin/python
STAMP := $(VENV)/.nsb-installed

.PHONY: venv demo test clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[torch,test,plots,$(RUNTIME)]"
	# NeuroBench is the metrics tests' oracle; --no-deps keeps its pinned training stack out
	$(PY) -m pip install --quiet --no-deps neurobench==2.3.0 snntorch==1.0.0 tqdm
	# the TensorRT backend is type-checked against these stubs (TensorRT itself cannot be installed here)
	$(PY) -m pip install --quiet --no-deps tensorrt-stubs==10.13.0.35.1
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/nsb train --overwrite

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache
