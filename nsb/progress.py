"""What a person sees while training: a rich progress bar per epoch and a closing summary table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class EpochBar:
    """One epoch: a live bar with running loss and metric when interactive, one line otherwise."""

    def __init__(self, console: Console, epoch: int, epochs: int, total: int | None, metric: str, live: bool) -> None:
        self.console, self.epoch, self.epochs, self.metric, self.live = console, epoch, epochs, metric, live
        self.progress = None
        if live:
            self.progress = Progress(TextColumn(f"epoch {epoch + 1}/{epochs}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("loss {task.fields[loss]}  {task.fields[metric]}"),
                                     TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("train", total=total, loss="-", metric="")

    def advance(self, loss: float, mean_loss: float, metric: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=1, loss=f"{mean_loss:.4f}", metric=f"{self.metric} {metric:.4g}")

    def finish(self, row: dict[str, Any]) -> None:
        if self.progress is not None:
            self.progress.stop()
        shown = "  ".join(f"{k} {_fmt(v)}" for k, v in row.items() if k not in ("epoch", "lr"))
        self.console.print(f"epoch {row['epoch']}/{self.epochs}  {shown}")


def summary_table(result: Any, cfg: Any) -> Table:
    table = Table(title=f"nsb train: {cfg.name}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    last = result.history[-1] if result.history else {}
    table.add_row("data", cfg.data.name)
    table.add_row("model", f"{cfg.model.kind}, {cfg.model.neuron}, hidden {cfg.model.hidden}, "
                           f"recurrent {cfg.model.recurrent}, norm {cfg.model.norm}")
    table.add_row("learning rule", cfg.train.learning_rule)
    table.add_row("parameters", f"{result.parameters:,}")
    table.add_row("epochs", str(len(result.history)))
    for key, value in last.items():
        if key not in ("epoch", "lr", "seconds"):
            table.add_row(f"final {key}", _fmt(value))
    if result.best:
        metric = next(k for k in result.best if k not in ("epoch", "selected_on"))
        table.add_row(f"best {metric}", f"{_fmt(result.best[metric])} (epoch {result.best['epoch']})")
    table.add_row("time", f"{result.seconds:.1f} s")
    table.add_row("run directory", str(result.run_dir))
    return table
