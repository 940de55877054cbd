"""The conformance matrix: every model kind nsb exports × every runtime installed here, nsb's own and
the ones it did not write (onnxruntime, onnx.reference, OpenVINO, TensorRT-RTX's parser and engine
builder, TorchScript, torch.export, snnTorch through NIR), each judged by the fidelity gate.

`make test` installs every judge, so a runtime that is missing fails here instead of skipping; the
only skips are models a format cannot express (NIR's refusals, with their reason).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nsb.eval.bundle import Bundle
from nsb.eval.conformance import RUNTIMES, check, installed
from model_kinds import KINDS, make_bundle


@pytest.fixture(scope="module")
def bundle_of(tmp_path_factory):
    made: dict[str, tuple[Path, str | None]] = {}

    def get(kind: str) -> tuple[Path, str | None]:
        if kind not in made:
            made[kind] = make_bundle(kind, tmp_path_factory.mktemp("kind"))
            ref = Bundle(made[kind][0]).reference()
            rates = [c.mean() / ref.inputs.shape[0] for c in ref.spike_counts]
            if ref.layers:  # a model without spiking layers is gated by its outputs alone
                assert any(0.005 < r < 0.95 for r in rates), f"{kind}: the model must spike to test anything, {rates}"
        return made[kind]

    return get


@pytest.mark.parametrize("runtime", list(RUNTIMES))
@pytest.mark.parametrize("kind", list(KINDS))
def test_conformance(bundle_of, kind, runtime):
    spec, _ = RUNTIMES[runtime]
    assert installed(spec.module), f"{spec.module} is missing; the test environment installs it ({spec.install})"
    bundle, nir_refused = bundle_of(kind)
    cell = check(Bundle(bundle), runtime)
    if runtime == "nir-snntorch" and nir_refused:
        assert cell.status == "skip"
        pytest.skip(f"NIR cannot express {kind}: {nir_refused}")
    if runtime == "nir-snntorch" and cell.status == "flagged":  # lossy, or a v_reset snnTorch ignores
        nir = Bundle(bundle).manifest["nir"]
        assert not nir["exact"] or any(layer["nir"]["v_reset"] for layer in nir["layers"]), cell.detail
        return
    assert cell.status == "pass", f"{kind} on {runtime}: {cell.detail}"
