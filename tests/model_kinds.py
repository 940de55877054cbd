"""Every kind of model nsb exports, small enough to train in seconds: the rows of the conformance
matrix (tests/test_conformance.py, benchmarks/conformance_matrix.py).

Each kind is a config and overrides; ``make_bundle`` trains it one epoch and exports every format,
NIR too where NIR can express the model (else the refusal is kept as the reason its cell is skipped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SMALL = ["data.train_per_class=20", "data.test_per_class=4", "data.time_steps=25", "model.hidden=[24, 16]",
         "train.batch_size=32", "train.epochs=1", "neuron.threshold=0.5"]
FORMATS = ("onnx", "torchscript", "pt2")
PTB_CONFIGS = ("ptb_rec.toml", "architectures/lstm-ptb.toml", "architectures/transformer-ptb.toml")  # need ptb/

# name: (config file or None for the default, overrides, reference samples)
KINDS: dict[str, tuple[str | None, list[str], int]] = {
    "LIF hard": (None, SMALL + ["neuron.decay=0.9"], 40),
    "LIF soft": (None, SMALL + ["neuron.decay=0.9", 'neuron.reset="soft"'], 40),
    "LIF no reset": (None, SMALL + ["neuron.decay=0.8", 'neuron.reset="none"', "neuron.threshold=0.3"], 40),
    "LIF soft immediate": (None, SMALL + ["neuron.decay=0.9", 'neuron.reset="soft"',
                                          'neuron.reset_timing="immediate"'], 40),
    "LIF V_rest + BN": (None, SMALL + ["neuron.decay=0.9", "neuron.v_rest=-0.2", 'model.norm="bn"'], 40),
    "IF": (None, SMALL + ['model.neuron="if"'], 40),
    "PLIF": (None, SMALL + ['model.neuron="plif"', "neuron.init_decay=0.8"], 40),
    "ALIF": (None, SMALL + ['model.neuron="alif"', "neuron.threshold=0.3"], 40),
    "adLIF": (None, SMALL + ['model.neuron="adlif"', "neuron.threshold=0.1"], 40),
    "GLIF": (None, SMALL + ['model.neuron="glif"', "neuron.threshold=0.3"], 40),
    "RLIF (recurrent)": (None, SMALL + ['model.neuron="rlif"', "neuron.decay=0.9", "model.recurrent=[true, false]"], 40),
    "ALIF recurrent": (None, SMALL + ['model.neuron="alif"', "neuron.threshold=0.3", "model.recurrent=[true, false]"], 40),
    "adLIF recurrent": (None, SMALL + ['model.neuron="adlif"', "neuron.threshold=0.1",
                                       "model.recurrent=[true, false]"], 40),
    "GLIF recurrent": (None, SMALL + ['model.neuron="glif"', "neuron.threshold=0.3", "model.recurrent=[true, false]"],
                       40),
    "conv SNN (DVS frames)": ("dvs_gesture.toml", ["model.channels=[4, 8]", "model.hidden=[16]", "train.epochs=1",
                                                   "train.batch_size=4", "neuron.threshold=0.2",
                                                   "data.time_steps=6", "data.size=16"], 8),
    "regression (Mackey-Glass)": ("mackey_glass.toml", ["train.epochs=1", "model.hidden=[32]",
                                                        "train.limit_train_batches=3", "neuron.threshold=0.2"], 8),
    "language model (PTB)": ("ptb_rec.toml", ["data.time_steps=12", "model.embedding_dim=16", "model.hidden=[16, 16]",
                                              "train.epochs=1", "train.batch_size=4", "neuron.threshold=0.05"], 4),
}


def ptb_files(root: Path) -> None:
    """A tiny PTB release (train/valid/test.txt) under ``root/ptb``."""
    folder = root / "ptb"
    folder.mkdir(parents=True, exist_ok=True)
    text = "\n".join(" ".join(["a b c d e"] * 6) for _ in range(40))
    for split in ("train", "valid", "test"):
        (folder / f"{split}.txt").write_text(text)


def _dvs_files(root: Path) -> None:
    """A small DVS Gesture release in its real format (AEDAT 3.1): two users, eleven gestures each."""
    from test_data_dvs_gesture import write_aedat

    folder = root / "DvsGesture"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for user, split in (("user01_led", "train"), ("user02_led", "test")):
        n = 6000
        events = sorted((int(t), int(x), int(y), int(p)) for t, x, y, p in
                        zip(rng.integers(0, 11_000_000, n), rng.integers(0, 128, n), rng.integers(0, 128, n),
                            rng.integers(0, 2, n)))
        write_aedat(folder / f"{user}.aedat", events, packet=256)
        rows = "".join(f"{c + 1},{c * 1_000_000},{(c + 1) * 1_000_000}\n" for c in range(11))
        (folder / f"{user}_labels.csv").write_text("class,startTime_usec,endTime_usec\n" + rows)
        (folder / f"trials_to_{split}.txt").write_text(f"{user}.aedat\n")


def make_bundle(kind: str, root: Path, formats: tuple[str, ...] = FORMATS, nir: bool = True) -> tuple[Path, str | None]:
    """Train ``kind`` in ``root`` and export it; returns the bundle and, when NIR refused the model,
    why (the bundle then holds every other format)."""
    from nsb.config import load_config
    from nsb.errors import NsbError
    from nsb.export.run import export_run
    from nsb.train import Trainer

    config, overrides, samples = KINDS[kind]
    root.mkdir(parents=True, exist_ok=True)
    extra = []
    if config in PTB_CONFIGS:
        ptb_files(root)
        extra.append(f'data.root="{root}"')
    if config == "dvs_gesture.toml":
        _dvs_files(root)
        extra.append(f'data.root="{root}"')
    cfg = load_config(CONFIGS / config if config else None, overrides + extra + [f'out_dir="{root}"', 'name="run"'])
    Trainer(cfg, progress=False).fit()
    refused = None
    if nir:
        try:
            return export_run(root / "run", root / "bundle", (*formats, "nir"), samples=samples), None
        except NsbError as err:  # NIR cannot express this model: export the rest, keep the reason
            refused = str(err)
    return export_run(root / "run", root / "bundle", formats, samples=samples), refused



# issue 16: parallel zoo (SPSN, PSN, PMSN, S4D): whole-sequence layers exported as standard ops (Conv, MatMul,
# CumSum), the FFT kernels materialised and frozen (T_max = time_steps); no nsb op, never recurrent
KINDS.update({
    "SPSN": (None, SMALL + ['model.neuron="spsn"', "neuron.kernel_size=8", "neuron.threshold=0.2"], 40),
    "PSN": (None, SMALL + ['model.neuron="psn"', "neuron.threshold=0.05"], 40),
    "PMSN": (None, SMALL + ['model.neuron="pmsn"'], 40),
    "S4D binary": (None, SMALL + ['model.neuron="s4d"', "neuron.d_state=8", "neuron.threshold=0.0"], 40),
    "S4D GSU": (None, SMALL + ['model.neuron="s4d"', 'neuron.mode="gsu"', "neuron.d_state=8", "neuron.threshold=0.0"],
                40),
    "PMSN language model (PTB)": ("ptb_rec.toml", ["data.time_steps=12", "model.embedding_dim=16",
                                                   "model.hidden=[16, 16]", "train.epochs=1", "train.batch_size=4",
                                                   'model.neuron="pmsn"', "model.recurrent=false",
                                                   "neuron={threshold = 0.05}"], 4),
})


# issue 16: dense-recurrence zoo (DH-LIF, LTC, the GSN cell): layers with dense products in the time loop,
# exported as standard ONNX Scans (no nsb op); DH-LIF and GSN own their input layer (no norm between)
KINDS.update({
    "DH-LIF": (None, SMALL + ['model.neuron="dhlif"', "neuron.threshold=0.3"], 40),
    "DH-LIF recurrent": (None, SMALL + ['model.neuron="dhlif"', "neuron.threshold=0.3",
                                        "model.recurrent=[true, false]"], 40),
    "LTC": (None, SMALL + ['model.neuron="ltc"', "neuron.threshold=0.05"], 40),
    "LTC recurrent": (None, SMALL + ['model.neuron="ltc"', "neuron.threshold=0.3", "model.recurrent=[true, false]"], 40),
    "GSN": (None, SMALL + ['model.neuron="gsn"', "neuron.threshold=0.3"], 40),
    "LTC language model (PTB)": ("ptb_rec.toml", ["data.time_steps=12", "model.embedding_dim=16", "model.hidden=[16, 16]",
                                                  "train.epochs=1", "train.batch_size=4", 'model.neuron="ltc"',
                                                  "neuron={threshold = 0.05, b0 = 0.5}"], 4),
})


# issue 16: elementwise zoo (TCLIF, LM-H, CELIF, ASGL-LIF, CLIF): each an nsb op from its declaration, with its plugin
KINDS.update({
    "TCLIF": (None, SMALL + ['model.neuron="tclif"'], 40),
    "TCLIF recurrent": (None, SMALL + ['model.neuron="tclif"', "model.recurrent=[true, false]"], 40),
    "LM-H": (None, SMALL + ['model.neuron="lmh"'], 40),
    "LM-H recurrent": (None, SMALL + ['model.neuron="lmh"', "model.recurrent=[true, false]"], 40),
    "CELIF": (None, SMALL + ['model.neuron="celif"', "neuron.threshold=0.3"], 40),
    "CELIF recurrent": (None, SMALL + ['model.neuron="celif"', "neuron.threshold=0.3", "model.recurrent=[true, false]"],
                        40),
    "ASGL-LIF": (None, SMALL + ['model.neuron="asgl_lif"', 'surrogate.name="asgl"', "neuron.decay=0.9"], 40),
    "CLIF": (None, SMALL + ['model.neuron="clif"'], 40),
    "CLIF recurrent": (None, SMALL + ['model.neuron="clif"', "model.recurrent=[true, false]"], 40),
})


# issue 17: TCN, GSN, references — the SpikingTCN (nsb LIF ops over an inner time axis T_in = 1, their spikes
# [T, B, C]) and the stacked GSN network; the TCN, LSTM and Transformer have no spiking layer: standard ops
# only, gated by their outputs (relative L2 ≤ 1e-5); pt2 runs each LSTM layer as a scan
_ISSUE17_BA = ["data.time_steps=25", "data.train_size=200", "data.test_size=40", "train.batch_size=32",
               "train.epochs=1"]
KINDS.update({
    "SpikingTCN": ("architectures/spiking_tcn-ba.toml", _ISSUE17_BA + ["arch.channels=[6, 8]", "arch.kernel_size=3",
                                                                      "neuron.threshold=0.02"], 40),
    "GSN network": ("architectures/gsn-ba.toml", _ISSUE17_BA + ["model.hidden=[16, 16]", "neuron.threshold=0.1"], 40),
    "TCN (non-spiking)": ("architectures/tcn-ba.toml", _ISSUE17_BA + ["arch.channels=[6, 8]", "arch.kernel_size=3"], 40),
    "LSTM reference": ("architectures/lstm-ba.toml", _ISSUE17_BA + ["model.hidden=[16, 12]"], 40),
    "Transformer reference": ("architectures/transformer-ba.toml", _ISSUE17_BA + [
        "arch.d_model=8", "arch.feedforward=16", "arch.layers=1"], 40),
    "LSTM language model (PTB)": ("architectures/lstm-ptb.toml", [
        "data.time_steps=12", "model.embedding_dim=16", "model.hidden=[16]", "train.epochs=1", "train.batch_size=4"],
        4),
    "Transformer language model (PTB)": ("architectures/transformer-ptb.toml", [
        "data.time_steps=12", "model.embedding_dim=8", "arch.d_model=8", "arch.feedforward=16", "arch.layers=1",
        "train.epochs=1", "train.batch_size=4"], 4),
})


# issue 17: DCLS, spike-driven transformer — DCLS's learned delays exported as the fixed dilated Conv1d (BN and the
# non-spiking leaky readout after; the sum readout's lengthened sequence, the language model's carried context);
# the SDT's LIF ops over the inner T_in axis, SDSA unmasked (T_in = 2) and causal (the language model, T_in = 1)
_DCLS_SDT_PTB = ["data.time_steps=12", "train.epochs=1", "train.batch_size=4", "model.recurrent=false"]
KINDS.update({
    "DCLS delays": (None, SMALL + ['model.kind="dcls"', "arch.max_delay=5", 'model.norm="bn"', 'model.readout="sum"',
                                   "neuron.threshold=0.05"], 16),
    "DCLS language model (PTB)": ("ptb_rec.toml", _DCLS_SDT_PTB + ['model.kind="dcls"', "arch.max_delay=4",
                                                                   "model.embedding_dim=16", "model.hidden=[16, 16]",
                                                                   'model.norm="bn"', "model.dropout=0.0",
                                                                   "neuron.threshold=0.05"], 4),
    "spike-driven transformer": (None, SMALL + ['model.kind="sdt"', "arch.d_model=8", "arch.t_in=2",
                                                "neuron.threshold=0.3"], 16),
    "spike-driven transformer language model (PTB)": ("ptb_rec.toml", _DCLS_SDT_PTB + [
        'model.kind="sdt"', "arch.d_model=8", "arch.t_in=1", "model.embedding_dim=8", "neuron.threshold=0.05"], 4),
})
