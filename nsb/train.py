"""The trainer: config → data → model → epochs → ``runs/<name>/``.

A run directory holds ``config.toml`` (the resolved config), ``checkpoint.pt`` (the latest epoch,
written atomically, enough to resume bit-exactly on CPU), ``best.pt`` (best on the validation
split, or on the test split where the data set has none, as the seed selects), and
``metrics.jsonl`` (one JSON line per epoch). Under ``torchrun`` with several processes the model
is wrapped in DistributedDataParallel and only rank 0 writes.

The trainer does the same for every data set; what differs between classification, regression and
language modelling (batches, targets, loss, score and whether higher is better) it asks of the
data set's :class:`nsb.tasks.kinds.Task`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nsb.checkpoint import atomic_write_bytes, load_checkpoint, save_checkpoint
from nsb.config import Config, dump_toml, from_dict
from nsb.data import TaskData, load_task
from nsb.errors import ConfigError, NsbError
from nsb.memory import check_fits, training_bytes
from nsb.paths import check_writable, plain_name
from nsb.learning import LearningRule, apply_rule, build_rule
from nsb.learning.steps import detach_state, offline_step, online_step
from nsb.models.build import build_model, count_parameters
from nsb.surrogate import ASGL, asgl_noise_rate
from nsb.tasks.kinds import Batching, Task, task_kind


@dataclass
class RunResult:
    run_dir: Path
    parameters: int
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device '{name}' was asked for but this PyTorch sees no CUDA GPU; "
                              "use --device cpu (or install a CUDA build of PyTorch)")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N")


MAY_CHANGE_ON_RESUME = {"epochs", "device", "limit_train_batches", "limit_eval_batches", "num_workers"}


class Distributed:
    """The process group under ``torchrun``, or a single process."""

    def __init__(self, device: torch.device) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.active = self.world > 1
        if self.active and not torch.distributed.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        if not self.active:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def sum(self, *values: float) -> list[float]:
        """Sum per-rank totals so that rank 0 reports the whole epoch, not its shard."""
        if not self.active:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64)
        torch.distributed.all_reduce(t)
        return t.tolist()

    def close(self) -> None:
        if self.active and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def parameter_groups(model: nn.Module, params: list[nn.Parameter], lr: float) -> list[nn.Parameter] | list[dict]:
    """The optimiser's parameters: ``params`` as they are, unless a module asks for groups of its own
    (``module.parameter_groups(lr)``, e.g. S4D's SSM tensors: weight decay 0, lr ≤ 1e−3); then those
    groups, and the rest in one group with the trainer's settings."""
    special: list[dict] = []
    for module in model.modules():
        hook = getattr(module, "parameter_groups", None)
        if callable(hook):
            special += [g for g in hook(lr) if g["params"]]
    if not special:
        return params
    taken = {id(p) for g in special for p in g["params"]}
    rest = [p for p in params if id(p) not in taken]
    return [{"params": rest}, *special] if rest else special


class Trainer:
    def __init__(self, cfg: Config, *, resume: bool = False, overwrite: bool = False, progress: bool | None = None,
                 console: Any = None) -> None:
        self.run_dir = Path(cfg.out_dir) / plain_name(cfg.name, "the run name")
        check_writable(self.run_dir, "the run directory")
        # a fresh run that fails before its first checkpoint leaves no half-made run directory behind
        self.fresh = not self.run_dir.exists()
        self.checkpoint_path = self.run_dir / "checkpoint.pt"
        self.start_epoch = 0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {}
        resumed = None
        if resume:
            resumed = load_checkpoint(self.checkpoint_path)
            cfg = self._resume_config(cfg, resumed)
        elif self.checkpoint_path.exists() and not overwrite:
            raise NsbError(f"run directory {self.run_dir} already holds a checkpoint; continue it with --resume, "
                           f"start a new run with --name NEW, or replace it with --overwrite")
        self.cfg = cfg
        self.device = resolve_device(cfg.train.device)
        self.dist = Distributed(self.device)
        self.console = console
        self.progress = (self.dist.main and sys.stderr.isatty()) if progress is None else (progress and self.dist.main)

        torch.manual_seed(cfg.seed)
        self.task: TaskData = load_task(cfg.data.name, cfg.data.root, cfg.data.options, cfg.seed)
        self.kind: Task = task_kind(self.task)
        self.kind.check_readout(cfg.model.readout)
        estimate = training_bytes(cfg, self.task.input_size, self.task.num_classes, self.task.time_steps,
                                  self.task.info.get("frame_shape"))
        check_fits(sum(estimate.values()), f"training this model ({estimate['parameters'] // 16:,} parameters, "
                   f"batch {cfg.train.batch_size} × {self.task.time_steps} steps)",
                   "lower model.hidden, train.batch_size or the sequence length", str(self.device))
        self.rule: LearningRule = build_rule(cfg.train.learning_rule, cfg.train.truncation)
        self.model = build_model(cfg, self.task).to(self.device)
        apply_rule(self.model, self.rule)
        self.parameters = count_parameters(self.model)
        self.net = self.dist.wrap(self.model, self.device)
        self.optimizer = self._optimizer()
        self.scheduler = self._scheduler()
        if resumed is not None:
            self._restore(resumed)

    # --- setup ---------------------------------------------------------------------------------

    def _resume_config(self, cfg: Config, ckpt: dict[str, Any]) -> Config:
        """A resumed run keeps its saved config; only how long and where it runs may change."""
        saved = from_dict(ckpt["config"], f"{self.checkpoint_path} (saved config)").to_dict()
        mine = cfg.to_dict()
        diff = []
        for section in sorted(set(saved) | set(mine)):
            a, b = saved.get(section), mine.get(section)
            if isinstance(a, dict) and isinstance(b, dict):
                diff += [f"{section}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
                         and not (section == "train" and k in MAY_CHANGE_ON_RESUME)]
            elif a != b and section != "out_dir":  # a run directory may be moved
                diff.append(section)
        if diff:
            raise ConfigError(f"--resume continues {self.run_dir} with its saved config, which differs in "
                              f"{', '.join(diff)}; drop those changes (only train.{', train.'.join(sorted(MAY_CHANGE_ON_RESUME))} "
                              f"may change) or start a new run with --name")
        return cfg

    def _optimizer(self) -> torch.optim.Optimizer:
        t = self.cfg.train
        params = [p for p in self.model.parameters() if p.requires_grad]
        groups = parameter_groups(self.model, params, t.lr)
        if t.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
        cls = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
        return cls(groups, lr=t.lr, weight_decay=t.weight_decay)

    def _scheduler(self) -> torch.optim.lr_scheduler.LRScheduler | None:
        t = self.cfg.train
        if t.scheduler == "step":
            return torch.optim.lr_scheduler.StepLR(self.optimizer, t.step_size, t.gamma)
        if t.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, max(t.epochs, 1))
        return None

    def _restore(self, ckpt: dict[str, Any]) -> None:
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scheduler is not None and ckpt.get("scheduler"):
                self.scheduler.load_state_dict(ckpt["scheduler"])
        except (RuntimeError, KeyError, ValueError) as err:
            raise NsbError(f"checkpoint {self.checkpoint_path} does not fit this model "
                           f"({str(err).splitlines()[0][:150]}); it was written by a different config") from None
        torch.set_rng_state(ckpt["rng_cpu"])
        if self.device.type == "cuda" and ckpt.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(ckpt["rng_cuda"], self.device)
        self.start_epoch = int(ckpt["epoch"])
        self.history = list(ckpt.get("history", []))
        self.best = dict(ckpt.get("best", {}))

    # --- data ----------------------------------------------------------------------------------

    def _batches(self, split: str, train: bool, epoch: int):
        t = self.cfg.train
        how = Batching(t.batch_size, t.eval_batch_size, self.cfg.seed, t.num_workers, self.dist.rank, self.dist.world)
        return self.kind.batches(self.task, split, train, epoch, how)

    # --- one epoch -----------------------------------------------------------------------------

    def _set_epoch_hyper(self, epoch: int) -> None:
        for m in self.model.modules():
            if isinstance(m, ASGL):
                m.noise_rate.fill_(asgl_noise_rate(epoch, self.cfg.train.epochs))

    def _run_epoch(self, epoch: int, bar) -> dict[str, float]:
        cfg = self.cfg
        self.net.train()
        self._set_epoch_hyper(epoch)
        total_loss, total_score, count, batches = 0.0, 0.0, 0, 0
        state = None
        limit = cfg.train.limit_train_batches
        for x, y in self._batches("train", True, epoch):
            self.kind.check_targets(y, self.task.num_classes, "train")
            x, y = x.to(self.device), self.kind.targets(y.to(self.device))
            self.optimizer.zero_grad(set_to_none=True)
            if not self.kind.carries_state:
                state = None
            args = (self.net, x, y, state, self.kind, cfg.model.readout, cfg.train.label_smoothing)
            if self.rule.online:
                out, loss, state = online_step(*args, no_sync=self.net.no_sync if self.dist.active else None)
            else:
                out, loss, state = offline_step(*args)
            state = detach_state(state)
            if cfg.train.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.train.grad_clip)
            self.optimizer.step()
            s, n = self.kind.score(out, y, cfg.model.readout)
            total_score += s
            count += n
            total_loss += loss
            batches += 1
            if bar is not None:
                bar.advance(loss, total_loss / batches, self.kind.metric_value(total_score, count))
            if limit and batches >= limit:
                break
        if batches == 0:
            raise NsbError(f"the training split of '{cfg.data.name}' gave no batch; check the data set size "
                           f"against train.batch_size = {cfg.train.batch_size}")
        if self.scheduler is not None:
            self.scheduler.step()
        total_loss, total_score, count, batches = self.dist.sum(total_loss, total_score, count, batches)
        return {"train_loss": total_loss / batches,
                f"train_{self.metric_name}": self.kind.metric_value(total_score, count)}

    @torch.no_grad()
    def evaluate(self, split: str) -> dict[str, float]:
        cfg = self.cfg
        self.model.eval()
        total_score, count, batches, state = 0.0, 0, 0, None
        for x, y in self._batches(split, False, 0):
            self.kind.check_targets(y, self.task.num_classes, split)
            x, y = x.to(self.device), self.kind.targets(y.to(self.device))
            if not self.kind.carries_state:
                state = None
            out, state = self.model(x, state)
            s, n = self.kind.score(out, y, cfg.model.readout)
            total_score += s
            count += n
            batches += 1
            if cfg.train.limit_eval_batches and batches >= cfg.train.limit_eval_batches:
                break
        if count == 0:
            raise NsbError(f"the {split} split of '{cfg.data.name}' is empty")
        return {f"{split}_{self.metric_name}": self.kind.metric_value(total_score, count)}

    def write_neurobench(self) -> dict[str, Any]:
        """NeuroBench's metrics of the best model (best.pt) on the test split → ``neurobench.json``."""
        import copy

        from nsb.metrics.report import benchmark_metrics

        from nsb.models.layers import SpikingLayer
        from nsb.neurons import FULL_BPTT, Neuron

        model = copy.deepcopy(self.model)
        best = self.run_dir / "best.pt"
        if best.is_file():
            model.load_state_dict(load_checkpoint(best, self.device)["model"])
        # the learning rule's gradient plumbing (input traces, e-prop's recurrent trace) leaves the
        # outputs unchanged but calls synapses differently; measure the plain network
        for m in model.modules():
            if isinstance(m, SpikingLayer):
                m.input_trace = False
            if isinstance(m, Neuron):
                m.policy = FULL_BPTT
        limit = self.cfg.train.limit_eval_batches

        def batches():
            for i, (x, y) in enumerate(self._batches("test", False, 0)):
                if limit and i >= limit:
                    break
                yield x, self.kind.targets(y)

        results = benchmark_metrics(model, batches(), self.kind, self.cfg.model.readout)
        results["checkpoint"] = "best.pt" if best.is_file() else "checkpoint.pt"
        atomic_write_bytes(self.run_dir / "neurobench.json", (json.dumps(results, indent=2) + "\n").encode())
        return results

    @property
    def metric_name(self) -> str:
        """The task's score, as metrics.jsonl names it (acc, mse, ppl)."""
        return self.kind.metric

    # --- the run -------------------------------------------------------------------------------

    def _payload(self, epoch: int) -> dict[str, Any]:
        return {
            "config": self.cfg.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "epoch": epoch,
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
            "history": self.history,
            "best": self.best,
            "parameters": self.parameters,
            "processes": self.dist.world,
            "task": {"task": self.task.task, "input_size": self.task.input_size,
                     "num_classes": self.task.num_classes, "time_steps": self.task.time_steps},
        }

    def _write_run_files(self) -> None:
        atomic_write_bytes(self.run_dir / "config.toml", dump_toml(self.cfg).encode())
        lines = "".join(json.dumps(h) + "\n" for h in self.history)
        atomic_write_bytes(self.run_dir / "metrics.jsonl", lines.encode())

    def fit(self, on_epoch=None) -> RunResult:
        cfg = self.cfg
        select = "valid" if self.task.valid is not None else "test"
        key = f"{select}_{self.metric_name}"
        started = time.perf_counter()
        try:
            if self.dist.main:
                self._write_run_files()
            for epoch in range(self.start_epoch, cfg.train.epochs):
                t0 = time.perf_counter()
                bar = on_epoch(epoch, self) if on_epoch is not None and self.dist.main else None
                row: dict[str, Any] = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
                row.update(self._run_epoch(epoch, bar))
                if self.task.valid is not None:
                    row.update(self.evaluate("valid"))
                row.update(self.evaluate("test"))
                row["seconds"] = round(time.perf_counter() - t0, 3)
                self.history.append(row)
                improved = not self.best or self.kind.better(row[key], self.best[key])
                if improved:
                    self.best = {"epoch": epoch + 1, key: row[key], "selected_on": select}
                bad = next((k for k, v in self.model.state_dict().items()
                            if v.is_floating_point() and not torch.isfinite(v).all()), None)
                if bad is not None:  # never save a diverged model over the last good checkpoint
                    raise NsbError(f"training diverged in epoch {epoch + 1}: parameter '{bad}' is NaN or infinite; "
                                   f"nothing of this epoch was saved; lower train.lr (now {cfg.train.lr:g}) or set "
                                   "train.grad_clip and train again")
                if self.dist.main:
                    payload = self._payload(epoch + 1)
                    save_checkpoint(self.checkpoint_path, payload)
                    if improved:
                        save_checkpoint(self.run_dir / "best.pt", payload)
                    self._write_run_files()
                if bar is not None:
                    bar.finish(row)
            if self.dist.main and self.history:
                self.write_neurobench()
        except BaseException:
            if self.fresh and not self.checkpoint_path.exists() and self.dist.main:
                shutil.rmtree(self.run_dir, ignore_errors=True)
            raise
        finally:
            self.dist.close()
        return RunResult(self.run_dir, self.parameters, self.history, self.best, time.perf_counter() - started)
