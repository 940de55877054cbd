"""Keyword FSCIL: MSWC loader layout, synthetic keywords, MFCC, M5, sessions, memory, outputs, errors."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import warnings
import wave
import weakref
from collections import Counter

import numpy as np
import pytest
import torch

from nsb.data import keywords_synthetic as ks
from nsb.data import mswc
from nsb.errors import DataError, NsbError
from nsb.tasks.fscil.m5 import M5, build_model
from nsb.tasks.fscil.mfcc import MFCC, MFCCConfig, dct_matrix, hz_to_mel, mel_to_hz
from nsb.tasks.fscil.protocol import (FSCILConfig, assert_no_hooks, complexity, embed, run_fscil, schedule,
                                      train_epoch, _loader)

TINY_DATA = ks.Options(base_classes=10, groups=3, ways=4, train_per_class=30, test_per_class=10, eval_per_class=20,
                       sample_rate=8000, seconds=0.5)
TINY_RUN = dict(width=0.125, sessions=3, ways=4, shots=5, support_pool=10, query_per_class=10, epochs=5,
                batch_size=32, eval_batch_size=64, lr=3e-3, step_size=100)


@pytest.fixture(autouse=True)
def one_thread():
    # two shared cores: torch's default thread pool oversubscribes them and runs ~50x slower
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny():
    return ks.load_fscil(TINY_DATA, seed=0)


@pytest.fixture(scope="module")
def trained(tiny):
    torch.set_num_threads(1)
    return run_fscil(tiny, FSCILConfig(**TINY_RUN))


# --- MSWC loader on files written in the real layout ------------------------------------------

def write_wav(path, samples, rate=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def make_mswc(root, per_class=4):
    folder = root / "MSWC"
    base_words = [("en", "surrounding"), ("fr", "nombreuses")]
    rows = {"train": [], "test": []}
    for lang, word in base_words:
        for split in rows:
            for i in range(per_class):
                rel = f"{word}/{split}_{i}.opus"
                if lang == "en":  # the 16 kHz WAV form
                    write_wav(folder / lang / "clips" / rel.replace(".opus", ".wav"), np.full(8000, 0.25))
                else:  # decoded once to .npy beside the (absent) opus file
                    (folder / lang / "clips" / word).mkdir(parents=True, exist_ok=True)
                    np.save(folder / lang / "clips" / rel.replace(".opus", ".npy"), np.full(60000, -0.5, np.float32))
                rows[split].append(f"{rel},{word},{lang}")
    for split, lines in rows.items():
        (folder / f"base_{split}.csv").write_text("PATH,WORD,LANG\n" + "\n".join(lines) + "\n", encoding="utf-8")
    lines = []
    for word in ("demandis", "respondis"):
        for i in range(per_class):
            write_wav(folder / "eo" / "clips" / word / f"{i}.wav", np.sin(np.arange(16000) * 0.3) * 0.5)
            lines.append(f"{word}/{i}.opus,{word},eo")
    (folder / "eo" / "evaluation.csv").write_text("PATH,WORD,LANG\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_mswc_loader_reads_the_real_layout(tmp_path):
    make_mswc(tmp_path)
    data = mswc.load_fscil(tmp_path, mswc.Options(languages=("eo",)))
    assert data.num_base == 100 and len(data.class_names) == 200 and data.sample_rate == 48000
    x, y = data.base_train[0]
    assert x.shape == (48000, 1) and x.dtype == torch.float32 and y == mswc.KEYWORDS.index("surrounding") == 0
    # 0.5 s at 16 kHz → 24000 samples at 48 kHz, then zero padding to 1 s
    assert torch.allclose(x[:23990, 0], torch.tensor(0.25), atol=1e-3) and x[24010:].abs().max() == 0
    x, y = data.base_train[len(data.base_train) - 1]
    assert y == mswc.KEYWORDS.index("nombreuses") == 20 and torch.all(x == -0.5)  # .npy cut to 1 s
    assert sorted(set(data.incremental["eo"].labels)) == [110, 111]
    assert data.incremental["eo"].labels == [110] * 4 + [111] * 4  # class by class, as the protocol needs
    task = mswc.load(mswc.Options(languages=("eo",)), tmp_path, seed=0)
    assert task.num_classes == 100 and task.info["fscil"].incremental["eo"] is not None


def test_mswc_runs_through_the_protocol(tmp_path):
    make_mswc(tmp_path)
    data = mswc.load_fscil(tmp_path, mswc.Options(languages=("eo",)))
    cfg = FSCILConfig(width=0.05, sessions=1, ways=2, shots=1, support_pool=2, query_per_class=2, epochs=1,
                      batch_size=8, eval_batch_size=8)
    results = run_fscil(data, cfg)
    assert [s["classes_seen"] for s in results["sessions"]] == [2, 4]
    assert results["mfcc"]["hop_length"] == 240 and results["sessions"][1]["test_clips"] == 8 + 4


def test_mswc_errors_are_one_line(tmp_path):
    with pytest.raises(DataError) as err:
        mswc.load_fscil(tmp_path / "absent")
    assert "base_train.csv" in str(err.value) and "huggingface" in str(err.value) and "\n" not in str(err.value)
    folder = make_mswc(tmp_path)
    opus = folder / "en" / "clips" / "surrounding" / "lonely.opus"
    opus.write_bytes(b"OggS")
    with pytest.raises(DataError, match="ffmpeg"):
        mswc.read_clip(opus, 48000)
    bad = folder / "fr" / "clips" / "nombreuses" / "stereo.npy"
    np.save(bad, np.zeros((100, 2), np.float32))
    with pytest.raises(DataError, match=r"\[L\] or \[L, 1\]"):
        mswc.read_clip(bad, 48000)
    (folder / "base_test.csv").write_text("a.opus,notaword,en\n")
    with pytest.raises(DataError, match="not one of NeuroBench's 200"):
        mswc.load_fscil(tmp_path, mswc.Options(languages=()))
    (folder / "base_test.csv").write_text("a.opus,surrounding\n")
    with pytest.raises(DataError, match="3 columns"):
        mswc.load_fscil(tmp_path, mswc.Options(languages=()))


# --- synthetic keywords -----------------------------------------------------------------------

def test_synthetic_is_balanced_and_deterministic(tiny):
    assert Counter(tiny.base_train.labels) == {c: 30 for c in range(10)}
    assert Counter(tiny.base_test.labels) == {c: 10 for c in range(10)}
    groups = [set(d.labels) for d in tiny.incremental.values()]
    assert sorted(set().union(*groups)) == list(range(10, 22)) and sum(map(len, groups)) == 12
    again = ks.load_fscil(TINY_DATA, seed=0)
    x, y = tiny.base_train[37]
    assert y == 1 and x.shape == (4000, 1) and torch.equal(x, again.base_train[37][0])
    assert not torch.equal(x, ks.load_fscil(TINY_DATA, seed=1).base_train[37][0])
    assert not torch.equal(x, tiny.base_train[38][0])  # jitter: two clips of a class differ


# --- MFCC -------------------------------------------------------------------------------------

def test_mfcc_neurobench_shape_and_pure_tone_band():
    mfcc = MFCC()  # NeuroBench's 48 kHz settings
    t = torch.arange(48000) / 48000
    assert mfcc(torch.zeros(2, 48000, 1)).shape == (2, 20, 201)
    centres = mel_to_hz(torch.linspace(float(hz_to_mel(20.0)), float(hz_to_mel(4000.0)), 22, dtype=torch.float64))[1:-1]
    for f in (300.0, 1000.0, 2500.0):
        band = mfcc.mel_db(torch.sin(2 * torch.pi * f * t)[None]).mean(-1)[0].argmax().item()
        assert band == int((centres - f).abs().argmin())  # energy lands in the filter centred nearest f
    dct = dct_matrix(20, 20)
    assert torch.allclose(dct.t() @ dct, torch.eye(20), atol=1e-5)  # orthonormal: c = DCT(D) keeps energy
    assert mfcc.mel.max() <= 1.0 + 1e-6 and (mfcc.mel.sum(0) > 0).all()  # every band sees some bins
    assert MFCCConfig.for_rate(8000).frames(4000) == 101
    with pytest.raises(DataError, match=r"\[B, L\]"):
        mfcc(torch.zeros(2, 48000, 2))


def test_m5_matches_neurobench_size():
    assert sum(p.numel() for p in M5(n_output=200).parameters()) == 1_503_944
    with pytest.raises(NsbError, match="expects MFCC"):
        M5()(torch.zeros(1, 13, 201))


# --- protocol ---------------------------------------------------------------------------------

def test_full_schedule_is_100_base_plus_10_sessions_of_10():
    full = ks.load_fscil(ks.Options(), seed=0)  # lazy: nothing is generated here
    plan = schedule(full, sessions=10, ways=10, seed=3)
    new = [c for _, classes in plan for c in classes]
    assert full.num_base == 100 and len(plan) == 10 and all(len(c) == 10 for _, c in plan)
    assert sorted(new) == list(range(100, 200))
    assert plan == schedule(full, 10, 10, seed=3)


def test_sessions_shots_and_accuracy(trained):
    sessions = trained["sessions"]
    assert [s["classes_seen"] for s in sessions] == [10, 14, 18, 22]
    assert [s["test_clips"] for s in sessions] == [100, 140, 180, 220]
    assert sessions[0]["acc_new"] is None and all(s["acc_new"] is not None for s in sessions[1:])
    # far above chance (1/10 base, 1/22 at the end)
    assert trained["summary"]["base_accuracy"] > 0.75  # measured 0.93
    assert sessions[-1]["acc_new"] > 0.4 and sessions[-1]["acc_all"] > 0.5  # measured: final all 0.73
    print("tiny run:", trained["summary"])


def test_each_session_uses_exactly_the_shots(tiny, monkeypatch):
    from nsb.tasks.fscil import protocol

    seen = []
    original = protocol.Prototypes.add

    def spy(self, embeddings, labels):
        seen.append(Counter(labels.tolist()))
        original(self, embeddings, labels)

    monkeypatch.setattr(protocol.Prototypes, "add", spy)
    run_fscil(tiny, FSCILConfig(**{**TINY_RUN, "epochs": 0, "shots": 3}))
    assert seen[0] == {c: 30 for c in range(10)}  # session 0: base prototypes from the training set
    assert all(len(c) == 4 and set(c.values()) == {3} for c in seen[1:]) and len(seen) == 4


def live_tensors() -> tuple[int, int]:
    """(count, bytes) of every tensor the garbage collector can reach."""
    gc.collect()
    with warnings.catch_warnings():  # isinstance on torch.distributed's deprecated aliases warns
        warnings.simplefilter("ignore")
        # real tensors only: fake tensors left behind by an ONNX export earlier in the process have
        # symbolic sizes (and are no memory anyway)
        tensors = [o for o in gc.get_objects() if type(o) in (torch.Tensor, torch.nn.Parameter)]
    return len(tensors), sum(int(t.numel()) * t.element_size() for t in tensors)


def test_memory_is_flat_and_no_graph_survives(tiny):
    model = build_model("m5", 20, 10, 0.125)
    frontend = MFCC(MFCCConfig.for_rate(8000))
    outputs = []
    hook = model.features.register_forward_hook(lambda m, a, out: outputs.append(weakref.ref(out)))
    try:
        counts = []
        for _ in range(3):  # evaluation batches: no graph, nothing kept but the returned embeddings
            e, y = embed(model, frontend, tiny.base_test, None, 16, torch.device("cpu"))
            assert e.grad_fn is None and not e.requires_grad
            del e, y
            counts.append(live_tensors())
        assert counts[0] == counts[1] == counts[2]
        optimizer = torch.optim.Adam(model.parameters())
        loader = _loader(tiny.base_train, None, 32, shuffle=True)
        counts = []
        for _ in range(3):  # training: every batch's graph dies with its backward
            train_epoch(model, frontend, loader, optimizer, torch.device("cpu"), limit=3)
            counts.append(live_tensors())
        assert counts[1] == counts[2]  # epoch 1 also created Adam's state
        gc.collect()
        assert len(outputs) == 3 * 7 + 9 and all(ref() is None for ref in outputs)
    finally:
        hook.remove()
    assert_no_hooks(model)
    metrics = complexity(model, frontend, tiny.base_test, 2, 16, torch.device("cpu"))
    assert metrics["parameter_count"] == sum(p.numel() for p in model.parameters())
    assert metrics["synaptic_operations"]["dense"] > 0
    assert_no_hooks(model)  # measure removed its hooks
    model.fc.register_forward_hook(lambda *a: None)
    with pytest.raises(NsbError, match="hooks left on fc"):
        assert_no_hooks(model)


def test_memory_is_flat_across_sessions(tiny):
    counts = []
    run_fscil(tiny, FSCILConfig(**{**TINY_RUN, "epochs": 0, "cache_embeddings": False}),
              on_session=lambda s: counts.append(live_tensors()))
    assert len(counts) == 4 and len(set(counts)) == 1, counts


def test_spiking_variant_runs(tiny):
    results = run_fscil(tiny, FSCILConfig(**{**TINY_RUN, "model": "snn", "epochs": 1, "sessions": 1,
                                             "limit_train_batches": 2}))
    assert len(results["sessions"]) == 2 and 0 <= results["summary"]["session_average"] <= 1


def test_pools_too_small_is_a_one_line_error(tiny):
    with pytest.raises(DataError, match="fewer than support_pool"):
        run_fscil(tiny, FSCILConfig(**{**TINY_RUN, "epochs": 0, "support_pool": 15}))
    with pytest.raises(DataError, match="incremental groups"):
        run_fscil(tiny, FSCILConfig(**{**TINY_RUN, "epochs": 0, "sessions": 9}))


# --- entry point, results and plot ------------------------------------------------------------

def test_entry_point_writes_results_and_plot(tmp_path):
    """nsb fscil end to end (a subprocess: the typed options reach the run)."""
    out = tmp_path / "run"
    opts = [f"--data-option={k}={v}" for k, v in (("base_classes", 6), ("groups", 2), ("ways", 3),
                                                   ("train_per_class", 10), ("test_per_class", 4),
                                                   ("eval_per_class", 6))]
    done = subprocess.run([sys.executable, "-m", "nsb.cli", "fscil", "--quick", "--out", str(out), "--epochs", "1",
                           "--sessions", "2", "--ways", "3", "--support-pool", "3", "--query-per-class", "3",
                           "--shots", "2", "--threads", "1", *opts], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "base " in done.stdout and str(out / "results.json") in done.stdout
    results = json.loads((out / "results.json").read_text())
    assert len(results["sessions"]) == 3 and {"acc_all", "acc_base", "acc_new"} <= set(results["sessions"][1])
    assert results["config"]["shots"] == 2 and results["config"]["ways"] == 3
    png = (out / "sessions.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_entry_point_errors_are_nsb_errors(tmp_path):
    from nsb.tasks.fscil.run import main

    with pytest.raises(DataError, match="MSWC FSCIL files not found"):
        main(tmp_path / "x", data="mswc", root=str(tmp_path / "nowhere"))
    with pytest.raises(NsbError, match="unknown FSCIL setting"):
        main(tmp_path / "x", settings={"widht": 1.0})
    with pytest.raises(NsbError, match="KEY=NUMBER"):
        main(tmp_path / "x", data_options=["base_classes=ten"])


def test_shipped_config_loads():
    from pathlib import Path

    from nsb.tasks.fscil.run import from_config

    run, data = from_config(str(Path(__file__).resolve().parents[1] / "configs" / "fscil_m5.toml"))
    assert run["sessions"] == 10 and run["ways"] == 10 and run["shots"] == 5 and run["data"] == "mswc"
    assert set(run) - {"data", "root"} <= {f for f in FSCILConfig.__dataclass_fields__}


# --- pre-training schedule presets and several seeds (issue 14) ---------------------------------------------

def test_pretrain_schedule_is_neurobench_by_default():
    from nsb.tasks.fscil.protocol import resolve_schedule

    m5 = resolve_schedule(FSCILConfig())
    assert (m5.lr, m5.weight_decay, m5.step_size, m5.gamma) == (1e-2, 1e-4, 20, 0.1)
    assert resolve_schedule(FSCILConfig(model="snn")).lr == 1e-3
    old = resolve_schedule(FSCILConfig(pretrain="nsb"))
    assert (old.lr, old.weight_decay, old.step_size, old.gamma) == (1e-3, 0.0, 20, 0.5)
    mixed = resolve_schedule(FSCILConfig(gamma=0.3, weight_decay=0.0))
    assert (mixed.lr, mixed.weight_decay, mixed.gamma) == (1e-2, 0.0, 0.3)
    with pytest.raises(NsbError) as err:
        resolve_schedule(FSCILConfig(pretrain="fast"))
    assert "\n" not in str(err.value)


def test_aggregate_is_mean_and_spread_per_session():
    from nsb.tasks.fscil.protocol import aggregate

    def run(seed, accs, new):
        sessions = [{"session": i, "acc_all": a, "acc_base": a, "acc_new": n, "acc_session_new": n}
                    for i, (a, n) in enumerate(zip(accs, new))]
        summary = {"base_accuracy": accs[0], "pretrain_head_accuracy": 0.5, "session_average": float(np.mean(accs)),
                   "new_average": float(np.mean(new[1:])) if len(new) > 1 else None, "final_all": accs[-1]}
        return {"config": {"seed": seed}, "mfcc": {}, "parameters": 1, "sessions": sessions, "summary": summary,
                "complexity": None}

    agg = aggregate([run(0, [0.9, 0.7], [None, 0.4]), run(1, [0.8, 0.5], [None, 0.2])])
    assert agg["seeds"] == 2 and agg["config"]["seeds"] == [0, 1]
    s1 = agg["sessions"][1]
    assert s1["acc_all"] == pytest.approx(0.6) and s1["acc_all_std"] == pytest.approx(0.1)
    assert (s1["acc_all_min"], s1["acc_all_max"]) == (0.5, 0.7)
    assert agg["sessions"][0]["acc_new"] is None
    assert agg["summary"]["session_average"] == pytest.approx(0.725)
    with pytest.raises(NsbError):
        aggregate([run(0, [0.9, 0.7], [None, 0.4]), run(1, [0.8], [None])])


def test_main_averages_seeds(tmp_path):
    from nsb.tasks.fscil.run import main, summary_line

    options = ["base_classes=6", "groups=2", "ways=3", "train_per_class=10", "test_per_class=4", "eval_per_class=6"]
    settings = dict(epochs=1, sessions=2, ways=3, support_pool=3, query_per_class=3, shots=2)
    results = main(tmp_path, quick=True, settings=settings, data_options=options, seeds=2)
    assert results["seeds"] == 2 and len(results["runs"]) == 2 and len(results["sessions"]) == 3
    assert [r["config"]["seed"] for r in results["runs"]] == [0, 1]
    assert "acc_all_std" in results["sessions"][1] and "over 2 seeds" in summary_line(results, tmp_path)
    assert (tmp_path / "sessions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(NsbError):
        main(tmp_path, quick=True, settings=settings, data_options=options, seeds=0)
