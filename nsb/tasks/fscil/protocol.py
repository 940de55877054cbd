"""NeuroBench's keyword FSCIL protocol: pre-train on the base classes, then add classes few-shot.

1. Pre-train the network with cross-entropy on the base training set (backprop allowed only here):
   Adam + StepLR. ``pretrain = "neurobench"`` (default) is NeuroBench's schedule (its
   ``examples/mswc_fscil``): lr 1e-2 for M5 and 1e-3 for the SNN, weight decay 1e-4, step 20 epochs,
   γ 0.1; ``"nsb"`` is nsb's earlier one: lr 1e-3, no weight decay, step 20, γ 0.5. An explicit lr,
   weight_decay, step_size or gamma overrides the preset's.
2. Session 0: prototypes c_k of every base class from the base training set (the mean embedding,
   :mod:`nsb.tasks.fscil.prototypes`); test on the base test set.
3. Sessions 1..S, one group (a language) each, in an order drawn from the seed: ``ways`` new classes,
   ``shots`` clips each drawn at random from the class's support pool (its first ``support_pool``
   clips); their mean embeddings become new prototypes. The extractor stays frozen.
4. After every session, test on the base test set plus the query pool (the last
   ``query_per_class`` clips) of every incremental class seen so far, classifying among the classes
   seen so far. Reported: accuracy on all of it, on base clips, on new-class clips.
5. Summary: base accuracy (session 0), the session average over 0..S (NeuroBench's headline
   number) and the new-class accuracy averaged over sessions 1..S.

Memory stays flat (the NeuroBench/CS4240 leak, reference §4): every evaluation runs under
``torch.inference_mode()`` so no autograd graph is built; a batch's tensors are dropped before the
next batch (only the detached ``[B, D]`` embeddings are kept); the complexity metrics register
their hooks inside :func:`nsb.metrics.measure` only, and :func:`assert_no_hooks` checks they are gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from nsb.data.mswc import KeywordData
from nsb.errors import DataError, NsbError
from nsb.tasks.fscil.m5 import build_model, parameter_total
from nsb.tasks.fscil.mfcc import MFCC, MFCCConfig
from nsb.tasks.fscil.prototypes import Prototypes


@dataclass
class FSCILConfig:
    model: str = "m5"  # m5 | snn
    data: str = "synthetic"  # synthetic | mswc (a label for the results)
    width: float = 1.0  # channel multiplier of M5 (1.0 = NeuroBench's 256/256/512/512)
    sessions: int = 10
    ways: int = 10
    shots: int = 5
    support_pool: int = 100  # NeuroBench: support_query_split=(100, 100) of 200 clips per class
    query_per_class: int = 100
    epochs: int = 50
    batch_size: int = 256
    eval_batch_size: int = 256
    pretrain: str = "neurobench"  # the schedule preset (PRETRAIN); None fields below take its values
    lr: float | None = None
    weight_decay: float | None = None
    step_size: int | None = None  # StepLR
    gamma: float | None = None
    seed: int = 0
    device: str = "cpu"  # cpu | cuda | auto
    cache_embeddings: bool = True  # the frozen extractor gives the same test embeddings every session
    limit_train_batches: int = 0  # > 0: stop each epoch after this many batches (smoke runs)
    metrics_batches: int = 0  # > 0: NeuroBench complexity metrics on this many base-test batches


Log = Callable[[str], None]

# lr per model kind; NeuroBench's examples/mswc_fscil/mswc_fscil.py pre_train(): Adam(lr, weight_decay=1e-4),
# StepLR(step_size=20, gamma=0.1), 50 epochs, batch 256, lr 0.01 (M5) or 0.001 (SNN)
PRETRAIN = {
    "neurobench": {"lr": {"m5": 1e-2, "snn": 1e-3}, "weight_decay": 1e-4, "step_size": 20, "gamma": 0.1},
    "nsb": {"lr": {"m5": 1e-3, "snn": 1e-3}, "weight_decay": 0.0, "step_size": 20, "gamma": 0.5},
}


def resolve_schedule(cfg: FSCILConfig) -> FSCILConfig:
    """``cfg`` with lr, weight_decay, step_size and gamma filled from its ``pretrain`` preset where unset."""
    if cfg.pretrain not in PRETRAIN:
        raise NsbError(f"unknown pretrain schedule '{cfg.pretrain}'; choose one of: {', '.join(PRETRAIN)}")
    preset = PRETRAIN[cfg.pretrain]
    lr = preset["lr"].get(cfg.model, preset["lr"]["m5"])
    return replace(cfg, lr=lr if cfg.lr is None else cfg.lr,
                   weight_decay=preset["weight_decay"] if cfg.weight_decay is None else cfg.weight_decay,
                   step_size=preset["step_size"] if cfg.step_size is None else cfg.step_size,
                   gamma=preset["gamma"] if cfg.gamma is None else cfg.gamma)


def device_of(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise NsbError(f"unknown device '{name}'; use cpu, cuda, cuda:N or auto") from None


def labels_of(dataset: Dataset) -> list[int]:
    """Labels without decoding audio where the dataset lists them (both nsb loaders do)."""
    labels = getattr(dataset, "labels", None)
    return list(labels) if labels is not None else [int(dataset[i][1]) for i in range(len(dataset))]


def class_pools(dataset: Dataset, support_pool: int, query_per_class: int) -> dict[int, tuple[list[int], list[int]]]:
    """Per class, in dataset order: support = first ``support_pool`` indices, query = last ``query_per_class``."""
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels_of(dataset)):
        by_class.setdefault(int(label), []).append(i)
    pools = {}
    for label, idx in by_class.items():
        if len(idx) < support_pool + query_per_class:
            raise DataError(f"class {label} has {len(idx)} clips, fewer than support_pool + query_per_class = "
                            f"{support_pool} + {query_per_class}; lower them or use the full data")
        pools[label] = (idx[:support_pool], idx[len(idx) - query_per_class:])
    return pools


def schedule(data: KeywordData, sessions: int, ways: int, seed: int) -> list[tuple[str, list[int]]]:
    """The sessions: groups in a seeded random order, each adding its first ``ways`` classes."""
    groups = sorted(data.incremental)
    if sessions > len(groups):
        raise DataError(f"{sessions} sessions asked but the data has {len(groups)} incremental groups "
                        f"({', '.join(groups)})")
    order = np.random.default_rng(seed).permutation(len(groups))[:sessions]
    plan = []
    for g in order:
        name = groups[int(g)]
        classes = sorted(set(labels_of(data.incremental[name])))
        if len(classes) < ways:
            raise DataError(f"group '{name}' has {len(classes)} classes, fewer than ways = {ways}")
        plan.append((name, classes[:ways]))
    return plan


def _loader(dataset: Dataset, indices: Sequence[int] | None, batch_size: int, shuffle: bool = False,
            seed: int = 0) -> DataLoader:
    subset = dataset if indices is None else Subset(dataset, list(indices))
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(subset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def embed(model: nn.Module, frontend: nn.Module, dataset: Dataset, indices: Sequence[int] | None,
          batch_size: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Embeddings ``[N, D]`` (CPU, no graph) and labels ``[N]``; one batch alive at a time."""
    model.eval()
    chunks, labels = [], []
    with torch.inference_mode():
        for x, y in _loader(dataset, indices, batch_size):
            e = model.embed(frontend(x.to(device)))
            chunks.append(e.float().cpu())
            labels.append(torch.as_tensor(y))
    if not chunks:
        raise DataError("nothing to embed: an empty split")
    return torch.cat(chunks), torch.cat(labels)


def train_epoch(model: nn.Module, frontend: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                device: torch.device, limit: int = 0) -> float:
    """One pre-training epoch; returns the mean loss. The graph of a batch dies with its backward."""
    model.train()
    total, count = 0.0, 0
    for b, (x, y) in enumerate(loader):
        if limit and b >= limit:
            break
        with torch.no_grad():  # MFCC is a fixed pre-processor: no graph for it
            features = frontend(x.to(device))
        loss = nn.functional.cross_entropy(model(features), torch.as_tensor(y, device=device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)  # .item(): a float, so no tensor outlives the batch
        count += len(y)
    return total / max(count, 1)


def pretrain(model: nn.Module, frontend: nn.Module, data: KeywordData, cfg: FSCILConfig, device: torch.device,
             log: Log) -> list[float]:
    """Cross-entropy on the base training set, Adam + StepLR (NeuroBench's recipe; sizes from ``cfg``)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    losses = []
    for epoch in range(cfg.epochs):
        loader = _loader(data.base_train, None, cfg.batch_size, shuffle=True, seed=cfg.seed + epoch)
        losses.append(train_epoch(model, frontend, loader, optimizer, device, cfg.limit_train_batches))
        scheduler.step()
        log(f"pre-train epoch {epoch + 1}/{cfg.epochs}: loss {losses[-1]:.4f}")
    return losses


def assert_no_hooks(model: nn.Module) -> None:
    """Fail loudly if any module still carries a hook (the NeuroBench 1.0.0–1.0.2 leak, reference §4.1)."""
    hooked = [name or "<model>" for name, m in model.named_modules()
              if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks]
    if hooked:
        raise NsbError(f"hooks left on {', '.join(hooked[:5])}: every forward would be recorded and memory would grow")


def complexity(model: nn.Module, frontend: nn.Module, dataset: Dataset, batches: int, batch_size: int,
               device: torch.device) -> dict:
    """NeuroBench's complexity metrics on the network alone (the MFCC pre-processor is not counted)."""
    from nsb.metrics import measure

    def feature_batches():
        for b, (x, y) in enumerate(_loader(dataset, None, batch_size)):
            if b >= batches:
                return
            with torch.inference_mode():
                yield frontend(x.to(device)), torch.as_tensor(y)

    result = measure(model, feature_batches(), ("footprint", "parameter_count", "connection_sparsity",
                                                "activation_sparsity", "synaptic_operations"),
                     forward=lambda m, x: m(x).argmax(dim=1), batch_dim=0, time_dim=None)
    assert_no_hooks(model)
    return result


def _accuracy(protos: Prototypes, embeddings: Tensor, labels: Tensor) -> Tensor:
    """Per-clip correctness (bool ``[N]``)."""
    return protos.predict(embeddings) == labels


def run_fscil(data: KeywordData, cfg: FSCILConfig, model: nn.Module | None = None, log: Log = lambda s: None,
              on_session: Callable[[int], None] | None = None) -> dict:
    """Pre-train (unless ``cfg.epochs`` is 0), run sessions 0..S and return the results dictionary."""
    cfg = resolve_schedule(cfg)
    torch.manual_seed(cfg.seed)
    device = device_of(cfg.device)
    mfcc_config = MFCCConfig() if data.sample_rate == 48000 else MFCCConfig.for_rate(data.sample_rate)
    frontend = MFCC(mfcc_config).to(device)
    if model is None:
        model = build_model(cfg.model, mfcc_config.n_mfcc, data.num_base, cfg.width)
    model = model.to(device)
    plan = schedule(data, cfg.sessions, cfg.ways, cfg.seed)
    if cfg.shots > cfg.support_pool:
        raise NsbError(f"shots ({cfg.shots}) cannot exceed support_pool ({cfg.support_pool})")
    pools = {name: class_pools(data.incremental[name], cfg.support_pool, cfg.query_per_class) for name, _ in plan}
    timings: dict[str, float] = {}

    start = time.perf_counter()
    losses = pretrain(model, frontend, data, cfg, device, log)
    timings["pretrain_s"] = time.perf_counter() - start

    start = time.perf_counter()
    rng = np.random.default_rng(cfg.seed + 1)
    protos = Prototypes(len(data.class_names), model.embedding_size)
    e_train, y_train = embed(model, frontend, data.base_train, None, cfg.eval_batch_size, device)
    protos.add(e_train, y_train)
    del e_train, y_train

    def base_test() -> tuple[Tensor, Tensor]:
        return embed(model, frontend, data.base_test, None, cfg.eval_batch_size, device)

    def queries(name: str, classes: list[int]) -> tuple[Tensor, Tensor]:
        idx = [i for c in classes for i in pools[name][c][1]]
        return embed(model, frontend, data.incremental[name], idx, cfg.eval_batch_size, device)

    cached_base = base_test() if cfg.cache_embeddings else None
    cached_queries: list[tuple[Tensor, Tensor]] = []
    e0, y0 = cached_base if cached_base is not None else base_test()
    head_accuracy = (model.fc(e0.to(device)).argmax(1).cpu() == y0).float().mean().item()
    del e0, y0
    sessions = []
    for s in range(len(plan) + 1):
        name, classes = plan[s - 1] if s else ("base", [])
        if s:
            shot_idx = [int(i) for c in classes for i in rng.choice(pools[name][c][0], cfg.shots, replace=False)]
            e_shot, y_shot = embed(model, frontend, data.incremental[name], shot_idx, cfg.eval_batch_size, device)
            protos.add(e_shot, y_shot)
            del e_shot, y_shot
            if cfg.cache_embeddings:
                cached_queries.append(queries(name, classes))
        e_base, y_base = cached_base if cached_base is not None else base_test()
        ok_base = _accuracy(protos, e_base, y_base)
        ok_new = [_accuracy(protos, *q) for q in (cached_queries if cfg.cache_embeddings else
                                                   (queries(n, c) for n, c in plan[:s]))]
        ok_new_all = torch.cat(ok_new) if ok_new else torch.zeros(0, dtype=torch.bool)
        correct = int(ok_base.sum()) + int(ok_new_all.sum())
        total = len(ok_base) + len(ok_new_all)
        sessions.append({
            "session": s, "group": name, "new_classes": classes, "classes_seen": int(protos.seen.sum()),
            "test_clips": total, "acc_all": correct / total, "acc_base": ok_base.float().mean().item(),
            "acc_new": ok_new_all.float().mean().item() if len(ok_new_all) else None,
            "acc_session_new": ok_new[-1].float().mean().item() if ok_new else None,
        })
        del e_base, y_base, ok_base, ok_new, ok_new_all
        log(f"session {s} ({name}): all {sessions[-1]['acc_all']:.4f}, base {sessions[-1]['acc_base']:.4f}, "
            f"new {sessions[-1]['acc_new'] if sessions[-1]['acc_new'] is not None else '-'}")
        if on_session is not None:
            on_session(s)
    timings["sessions_s"] = time.perf_counter() - start

    metrics = None
    if cfg.metrics_batches:
        metrics = complexity(model, frontend, data.base_test, cfg.metrics_batches, cfg.eval_batch_size, device)
    assert_no_hooks(model)
    new = [x["acc_new"] for x in sessions[1:]]
    return {
        "config": asdict(cfg),
        "mfcc": asdict(mfcc_config),
        "parameters": parameter_total(model),
        "pretrain_losses": losses,
        "sessions": sessions,
        "summary": {
            "base_accuracy": sessions[0]["acc_all"],
            "pretrain_head_accuracy": head_accuracy,
            "session_average": float(np.mean([x["acc_all"] for x in sessions])),
            "new_average": float(np.mean(new)) if new else None,
            "final_all": sessions[-1]["acc_all"],
        },
        "complexity": metrics,
        "timings": timings,
    }


SESSION_KEYS = ("acc_all", "acc_base", "acc_new", "acc_session_new")
SUMMARY_KEYS = ("base_accuracy", "pretrain_head_accuracy", "session_average", "new_average", "final_all")


def _mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    if any(v is None for v in values):
        return None, None
    return float(np.mean(values)), float(np.std(values))


def aggregate(runs: list[dict]) -> dict:
    """Several seeds' :func:`run_fscil` results as one: per session and summary key, the mean over the
    runs and its population std (``<key>_std``), plus min and max of the session accuracy; the runs
    themselves under ``runs``. The session groups differ between seeds (the order is drawn), so a
    session is an index, not a language."""
    if not runs:
        raise NsbError("aggregate: no FSCIL runs")
    counts = {len(r["sessions"]) for r in runs}
    if len(counts) != 1:
        raise NsbError(f"aggregate: the runs have different session counts {sorted(counts)}")
    sessions = []
    for i in range(counts.pop()):
        row: dict = {"session": i}
        for key in SESSION_KEYS:
            row[key], row[f"{key}_std"] = _mean_std([r["sessions"][i][key] for r in runs])
        all_acc = [r["sessions"][i]["acc_all"] for r in runs]
        row["acc_all_min"], row["acc_all_max"] = min(all_acc), max(all_acc)
        sessions.append(row)
    summary = {}
    for key in SUMMARY_KEYS:
        summary[key], summary[f"{key}_std"] = _mean_std([r["summary"][key] for r in runs])
    config = dict(runs[0]["config"])
    config["seeds"] = [r["config"]["seed"] for r in runs]
    return {"config": config, "mfcc": runs[0]["mfcc"], "parameters": runs[0]["parameters"], "seeds": len(runs),
            "sessions": sessions, "summary": summary, "complexity": runs[0]["complexity"], "runs": runs}
