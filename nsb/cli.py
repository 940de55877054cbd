"""The ``nsb`` command line. Heavy imports (torch) happen inside the commands that need them."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from nsb.errors import NsbError, unknown
from typer import Abort

try:  # typer vendors click since 0.22; older ones use the click package
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, NoArgsIsHelpError

app = typer.Typer(
    help="nsb: spiking neural networks on long temporal sequences. Train a benchmark from a TOML config "
         "(with no arguments `nsb train` runs the offline default, random manifolds) and read its NeuroBench "
         "metrics (`nsb metrics RUN_DIR`), export it (`nsb export RUN_DIR --format onnx`), evaluate the bundle on a "
         "runtime (`nsb eval BUNDLE --backend onnxruntime`) and set two evaluations side by side (`nsb compare "
         "A.json B.json`). NeuroBench's Mackey-Glass and keyword FSCIL tasks run end to end with `nsb mackey-glass` "
         "and `nsb fscil`.",
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Data sets: download the real ones (needs a network).", no_args_is_help=True)
app.add_typer(data_app, name="data")
plugins_app = typer.Typer(help="TensorRT plugins for the nsb ops: build and check libnsb_trt_plugins.so.",
                          no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")

console = Console(stderr=False)


def shipped_configs() -> dict[str, Path]:
    """Configs shipped with nsb (the repository's configs/ folder), by name."""
    from importlib.resources import files

    folder = Path(str(files("nsb.configs")))
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def resolve_config(config: Optional[str]) -> Path:
    if config is None:
        return shipped_configs()["default"]
    path = Path(config)
    if path.exists() or path.suffix == ".toml":
        return path
    shipped = shipped_configs()
    if config in shipped:
        return shipped[config]
    from nsb.errors import ConfigError, unknown

    raise ConfigError(f"{unknown('config', config, shipped)} (or pass a path to a .toml file)")


def _require_torch(command: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise NsbError(f"nsb {command} needs PyTorch, which is not installed here; pip install 'nsb[torch]'") from None


@app.command()
def train(
    config: Optional[str] = typer.Option(None, "--config", "-c", help="TOML file, or the name of a shipped config "
                                         "(nsb configs lists them). Default: default."),
    overrides: list[str] = typer.Option([], "--set", "-s", help="Override a key, e.g. --set train.lr=1e-3 "
                                        "--set model.hidden=[64,64]. Repeatable."),
    unset: list[str] = typer.Option([], "--unset", help="Remove a key the config sets, e.g. --unset neuron.decay "
                                    "to train another neuron from a LIF config. Repeatable."),
    seed: Optional[int] = typer.Option(None, help="Random seed (overrides the config's)."),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda or cuda:N (overrides train.device)."),
    name: Optional[str] = typer.Option(None, help="Run name: the run is written to <out_dir>/<name>/."),
    epochs: Optional[int] = typer.Option(None, help="Number of epochs (overrides train.epochs)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run from its checkpoint.pt, bit-exactly on CPU."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run of the same name."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or per-epoch lines."),
) -> None:
    """Train a model from a config and write runs/<name>/ (checkpoints, config, metrics, neurobench.json)."""
    _require_torch("train")
    from nsb.checkpoint import load_checkpoint
    from nsb.config import Config, apply_overrides, from_dict, load_config, read_toml
    from nsb.progress import EpochBar, summary_table
    from nsb.train import Trainer

    extra = list(overrides)
    if seed is not None:
        extra.append(f"seed={seed}")
    if device is not None:
        extra.append(f'train.device="{device}"')
    if name is not None:
        extra.append(f'name="{name}"')
    if epochs is not None:
        extra.append(f"train.epochs={epochs}")

    if resume and config is None:
        # continue a run from its own saved config; the run is found by name (default: "default")
        probe = from_dict(apply_overrides({}, [o for o in extra if o.startswith(("name=", "out_dir="))]))
        base = read_toml(shipped_configs()["default"]) if name is None else {}
        probe_name = name or base.get("name", "default")
        ckpt = load_checkpoint(Path(probe.out_dir) / probe_name / "checkpoint.pt")
        cfg = from_dict(apply_overrides(ckpt["config"], extra), "saved config with --set overrides")
    else:
        cfg = load_config(resolve_config(config), extra, unset)
    assert isinstance(cfg, Config)

    live = not quiet and sys.stderr.isatty()

    def on_epoch(epoch: int, trainer: Trainer):
        if quiet:
            return None
        total = None
        try:
            total = len(trainer._batches("train", True, epoch))
        except TypeError:
            pass
        if cfg.train.limit_train_batches and total:
            total = min(total, cfg.train.limit_train_batches)
        return EpochBar(console, epoch, cfg.train.epochs, total, trainer.metric_name, live)

    trainer = Trainer(cfg, resume=resume, overwrite=overwrite)
    if trainer.dist.main and not quiet:
        console.print(f"[bold]nsb train[/]  {cfg.name}: {cfg.data.name}, {cfg.model.neuron}, "
                      f"{trainer.parameters:,} parameters, {cfg.train.learning_rule}, on {trainer.device}"
                      + (f", {trainer.dist.world} processes" if trainer.dist.active else ""))
    result = trainer.fit(on_epoch)
    if trainer.dist.main:
        console.print(summary_table(result, cfg))


@app.command()
def configs() -> None:
    """List the configs shipped with nsb (use a name with --config)."""
    from rich.table import Table

    table = Table("name", "what")
    for name, path in shipped_configs().items():
        first = next((line.lstrip("# ").strip() for line in path.read_text().splitlines() if line.startswith("#")), "")
        table.add_row(name, first)
    console.print(table)


@app.command()
def summary(
    config: Optional[str] = typer.Option(None, "--config", "-c", help="TOML file or shipped config name."),
    overrides: list[str] = typer.Option([], "--set", "-s", help="Override a key. Repeatable."),
    unset: list[str] = typer.Option([], "--unset", help="Remove a key the config sets. Repeatable."),
) -> None:
    """Build the model of a config and print its layers and parameter count, without training."""
    _require_torch("summary")
    import torch

    from nsb.config import load_config
    from nsb.data import load_task
    from nsb.models.build import build_model, count_parameters

    cfg = load_config(resolve_config(config), list(overrides), list(unset))
    torch.manual_seed(cfg.seed)
    task = load_task(cfg.data.name, cfg.data.root, cfg.data.options, cfg.seed)
    model = build_model(cfg, task)
    console.print(model)
    console.print(f"[bold]{count_parameters(model):,}[/] trainable parameters; task {task.task}, "
                  f"T = {task.time_steps}, input {task.input_size}, outputs {task.num_classes}")


@app.command()
def neurons() -> None:
    """List the neuron models: their op, states and options (defaults and ranges)."""
    from rich.table import Table

    from nsb.neurons import NEURONS

    table = Table("name", "op", "states", "options (default, allowed)")
    for name, decl in NEURONS.items():
        options = []
        for key, spec in decl.options.items():
            bounded = spec.kind == "float" and (spec.lo is not None or spec.hi is not None)
            allowed = spec.range_text() if bounded else "|".join(spec.choices) if spec.kind == "choice" else ""
            default = "required" if spec.default is None else repr(spec.default)
            options.append(f"{key}={default}" + (f" {allowed}" if allowed else ""))
        recurrent = {"always": "R", "optional": "", "never": ""}[decl.recurrence]
        op = recurrent + decl.op.name + (" / R" + decl.op.name if decl.recurrence == "optional" else "")
        table.add_row(name, op, ", ".join(decl.op.all_states), "; ".join(options))
    try:  # issue 16: the parallel neurons are torch layers (no op): listed where torch is installed
        from nsb.neurons import PARALLEL_FILES, parallel_layer

        for name in PARALLEL_FILES:
            specs = parallel_layer(name).OPTIONS
            options = [f"{key}={'(the data’s T)' if key == 'time_steps' else repr(spec.default)}"
                       for key, spec in specs.items()]
            table.add_row(name, "— (parallel: standard ops)", "—", "; ".join(options))
    except ImportError:
        pass
    try:  # issue 16: the dense-recurrence neurons are torch layers too (a standard ONNX Scan, no op)
        from nsb.neurons import LAYER_FILES, declaration

        for name in LAYER_FILES:
            decl = declaration(name)
            options = [f"{key}={'θ' if spec.default is None else repr(spec.default)}" for key, spec in decl.options.items()]
            rec = {"always": " (always recurrent)", "optional": "", "never": ""}[decl.recurrence]
            table.add_row(name, f"— ({decl.op_name}: ONNX Scan){rec}", ", ".join(decl.states), "; ".join(options))
    except ImportError:
        pass
    console.print(table)
    console.print("Every neuron also takes surrogate, alpha and backend; recurrent where the op has an R-variant. "
                  "Equations: docs/neurons.md.")


@data_app.command("download")
def data_download(
    name: str = typer.Argument(..., help="Data set name (psmnist, ptb, shd, ssc, dvs_gesture)."),
    root: Path = typer.Option(Path("data"), help="Folder to download into."),
) -> None:
    """Download a real data set into ROOT (needs a network)."""
    _require_torch("data download")
    from nsb.data import dataset_module

    module = dataset_module(name)
    if not hasattr(module, "download"):
        raise NsbError(f"'{name}' is generated in code and needs no download")
    module.download(root)
    console.print(f"{name} is ready in {root}")


@app.command("export")
def export_cmd(
    run_dir: Path = typer.Argument(..., help="Run directory written by nsb train (runs/<name>)."),
    formats: list[str] = typer.Option(["onnx"], "--format", "-f", help="onnx (model.onnx with nsb ops + "
                                      "model.std.onnx with standard ops), torchscript (model.ts), pt2 (torch.export's "
                                      "ExportedProgram, model.pt2), nir (model.nir for neuromorphic toolchains) or "
                                      "engine (a TensorRT engine for this machine's GPU, model.engine). Repeatable."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Bundle directory. Default: bundle/<run name>."),
    samples: int = typer.Option(256, help="Test samples stored in reference.h5 for evaluation."),
    checkpoint: str = typer.Option("best", help="best (best.pt, when the run kept one) or last (checkpoint.pt)."),
    static_time: bool = typer.Option(False, "--static-time", help="Fix the sequence length in the ONNX graph."),
    precision: str = typer.Option("fp32", help="fp32, or fp16 ONNX files (weights and I/O fp16, each op's membrane "
                                  "fp32 inside; what TensorRT's strongly typed mode builds as is)."),
) -> None:
    """Write a deployment bundle (ONNX/TorchScript, reference outputs, manifest) from a trained run."""
    _require_torch("export")
    from nsb.export.run import export_run

    with console.status("exporting"):
        path = export_run(run_dir, out, tuple(formats), samples, checkpoint, dynamic_time=not static_time,
                          precision=precision)
    import json

    manifest = json.loads((path / "manifest.json").read_text())
    files = ", ".join(f"{k} ({v['bytes'] / 1024:.0f} KiB)" for k, v in manifest["files"].items())
    console.print(f"bundle [bold]{path}[/]: {files}")
    console.print(f"next: nsb eval {path} --backend onnxruntime")


def _is_run_dir(path: Path) -> bool:
    """A training run (nsb train's output), as opposed to a deployment bundle (nsb export's)."""
    return not (path / "manifest.json").exists() and ((path / "checkpoint.pt").exists()
                                                      or (path / "neurobench.json").exists())


@app.command("eval")
def eval_cmd(
    bundle: Optional[Path] = typer.Argument(None, help="Bundle directory written by nsb export."),
    backend: str = typer.Option("onnxruntime", "--backend", "-b", help="torch, torchscript, pt2, onnxruntime, "
                                "onnx-reference, openvino or tensorrt."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    precision: str = typer.Option("fp32", help="fp32 (the fidelity gate applies), fp16 on cuda, or bf16/fp16 "
                                  "inference on the CPU with openvino (reported with the first divergent step, not "
                                  "gated)."),
    graph: Optional[str] = typer.Option(None, help="ONNX backends: custom (model.onnx, nsb ops; the default) or std "
                                        "(model.std.onnx; the only one openvino runs)."),
    time_steps: Optional[int] = typer.Option(None, "--time-steps", help="Sequence length of the latency sweep (the "
                                             "reference inputs repeated over time). Default: as exported."),
    batch_size: int = typer.Option(64, help="Samples per run call for the accuracy and fidelity pass."),
    batch_sizes: list[int] = typer.Option([1, 8, 64], "--sweep", help="Batch sizes of the latency sweep (batch 1 "
                                          "always first). Repeatable."),
    repeats: int = typer.Option(10, help="Timed runs per batch size."),
    out: Optional[Path] = typer.Option(None, "--report-dir", "--out", help="Where report.json, report.md and the "
                                       "plots go. Default: BUNDLE/reports/<backend>[-std]-<device>[-fp16]; a "
                                       "bundle on a read-only medium needs this."),
    engine: Optional[Path] = typer.Option(None, help="tensorrt: a prebuilt .engine/.plan instead of building one."),
    plugins: Optional[Path] = typer.Option(None, help="tensorrt: libnsb_trt_plugins.so (default: $NSB_TRT_PLUGINS "
                                           "or ./build/trt/)."),
    compare: list[Path] = typer.Option([], "--compare", hidden=True, help="Moved: nsb compare A.json B.json."),
) -> None:
    """Measure a deployment bundle on a backend: score, fidelity to the trained model, latency, memory."""
    from rich.table import Table

    if compare:
        raise NsbError("nsb eval --compare has moved: set two reports side by side with nsb compare A.json B.json")
    if bundle is None:
        raise NsbError("nsb eval needs a BUNDLE directory written by nsb export")
    if _is_run_dir(bundle):
        raise NsbError(f"{bundle} is a training run, not a bundle; show its NeuroBench metrics with nsb metrics "
                       f"{bundle}, or export it first with nsb export {bundle}")
    from nsb.eval.bundle import Bundle
    from nsb.eval.evaluate import evaluate
    from nsb.eval.report import summary_rows, write_report
    from nsb.paths import check_writable, recover_bundle

    if batch_size < 1 or any(b < 1 for b in batch_sizes):
        raise NsbError("--batch-size and --sweep sizes must be at least 1")
    if repeats < 1:
        raise NsbError(f"--repeats must be at least 1 (got {repeats}): a latency needs at least one timed run")
    recover_bundle(bundle)  # an export killed between its two renames left the old bundle beside it
    opened = Bundle(bundle)
    suffix = ("-std" if graph == "std" and backend in ("onnxruntime", "onnx-reference", "tensorrt") else "")
    suffix += f"-{device}"
    if out is None:
        default = opened.path / "reports" / f"{backend}{suffix}"
        try:
            check_writable(default, "the report folder")
        except NsbError as err:
            raise NsbError(f"{err} (pass --report-dir DIR to write the report elsewhere)") from None
    else:
        check_writable(out, "--report-dir")
    with console.status(f"evaluating on {backend}"):
        report = evaluate(opened, backend, device=device, graph=graph, batch_size=batch_size, repeats=repeats,
                          batch_sizes=tuple(batch_sizes), precision=precision, time_steps=time_steps,
                          engine=str(engine) if engine else None, plugin_library=str(plugins) if plugins else None)
    suffix += f"-{report['precision']}" if report["precision"] != "fp32" else ""
    out = out or opened.path / "reports" / f"{backend}{suffix}"
    json_path, md_path = write_report(report, out)
    table = Table("measure", "value", title=f"{report['model']}: {backend}")
    for k, v in summary_rows(report):
        table.add_row(k, v)
    console.print(table)
    console.print(f"report: {md_path}")
    if report["fidelity"].get("passed") is False:
        raise typer.Exit(1)


@app.command()
def compare(
    a: Path = typer.Argument(..., help="report.json written by nsb eval (column A)."),
    b: Path = typer.Argument(..., help="report.json written by nsb eval (column B)."),
) -> None:
    """Two evaluations side by side (report.json files written by nsb eval): targets, backends, precisions."""
    from rich.table import Table

    from nsb.eval.compare import load_report, rows

    left, right = load_report(a), load_report(b)
    table = Table("", "A", "B", title="nsb compare: side by side", caption=f"A = {a}\nB = {b}")
    for name, x, y in rows(left, right):
        table.add_row(name, x, y)
    console.print(table)


@app.command()
def conformance(
    bundle: Path = typer.Argument(..., help="Bundle directory written by nsb export."),
    runtimes: list[str] = typer.Option([], "--runtime", "-r", help="Only these runtimes (repeatable); default: all."),
) -> None:
    """Run a bundle on every runtime installed here (onnxruntime, onnx.reference, OpenVINO, TensorRT's parser,
    TorchScript, torch.export, snnTorch via NIR): PASS / FAIL / SKIP each, by the fidelity gate."""
    from rich.table import Table

    from nsb.eval.bundle import Bundle
    from nsb.eval.conformance import RUNTIMES, check

    opened = Bundle(bundle)
    for name in runtimes:
        if name not in RUNTIMES:
            raise NsbError(unknown("runtime", name, RUNTIMES))
    table = Table("runtime", "result", "detail", title=f"{opened.manifest.get('name')}: conformance")
    failed = False
    colour = {"pass": "green", "fail": "red", "skip": "yellow"}
    for name in runtimes or list(RUNTIMES):
        with console.status(f"checking {name}"):
            cell = check(opened, name)
        failed |= cell.status == "fail"
        table.add_row(RUNTIMES[name][0].label, f"[{colour[cell.status]}]{cell.status.upper()}[/]", cell.detail)
    console.print(table)
    if failed:
        raise typer.Exit(1)


@app.command()
def metrics(
    run_dir: Path = typer.Argument(..., help="Run directory written by nsb train (runs/<name>)."),
    recompute: bool = typer.Option(False, "--recompute", help="Measure again from the checkpoint even when "
                                   "neurobench.json exists."),
) -> None:
    """NeuroBench's metrics of a training run (neurobench.json, measured from the checkpoint when missing)."""
    import json

    from rich.table import Table

    if (run_dir / "manifest.json").exists():
        raise NsbError(f"{run_dir} is a deployment bundle, not a training run; evaluate it with nsb eval {run_dir}")
    if not _is_run_dir(run_dir):
        raise NsbError(f"{run_dir} holds neither neurobench.json nor checkpoint.pt; pass a run directory written by "
                       "nsb train (runs/<name>)")
    file = run_dir / "neurobench.json"
    if file.exists() and not recompute:
        try:
            results = json.loads(file.read_text())
        except json.JSONDecodeError as err:
            raise NsbError(f"{file} is not valid JSON ({err}); measure it again with nsb metrics {run_dir} "
                           "--recompute") from None
    else:
        _require_torch("metrics")
        from nsb.checkpoint import load_checkpoint
        from nsb.config import from_dict
        from nsb.train import Trainer

        cfg = from_dict(load_checkpoint(run_dir / "checkpoint.pt")["config"], f"{run_dir} (saved config)")
        where = run_dir.resolve()  # `nsb metrics .` names the folder by its real name
        cfg.out_dir, cfg.name = str(where.parent), where.name
        with console.status("measuring NeuroBench metrics"):
            results = Trainer(cfg, resume=True, progress=False).write_neurobench()
    from nsb.metrics.report import rows

    table = Table("metric", "value", title=f"NeuroBench metrics: {run_dir} ({results.get('checkpoint', '?')}, "
                                            f"{results.get('split', 'test')} split)")
    for k, v in rows(results):
        table.add_row(k, v)
    console.print(table)


class FscilData(str, Enum):
    synthetic = "synthetic"
    mswc = "mswc"


class FscilModel(str, Enum):
    m5 = "m5"
    snn = "snn"


class OnOff(str, Enum):
    on = "on"
    off = "off"


@app.command()
def fscil(
    out: Path = typer.Option(..., help="folder for results.json and sessions.png"),
    data: FscilData = typer.Option(FscilData.synthetic, help="synthetic (offline stand-in keywords) or mswc "
                                   "(Multilingual Spoken Words, read from ROOT)"),
    root: str = typer.Option("data", help="folder holding MSWC/ (mswc only)"),
    model: FscilModel = typer.Option(FscilModel.m5, help="m5 (NeuroBench's M5) or snn (a spiking M5)"),
    config: Optional[Path] = typer.Option(None, help="nsb TOML config (e.g. configs/fscil_m5.toml)"),
    quick: bool = typer.Option(False, "--quick", help="reduced sizes for a smoke run (synthetic data)"),
    threads: int = typer.Option(0, help="torch CPU threads (0: torch's default)"),
    cache: OnOff = typer.Option(OnOff.on, help="reuse test embeddings across sessions"),
    width: Optional[float] = typer.Option(None, help="channel multiplier of M5 (1.0 = NeuroBench's 256/256/512/512)"),
    sessions: Optional[int] = typer.Option(None, help="incremental sessions after the base session"),
    ways: Optional[int] = typer.Option(None, help="new classes per session"),
    shots: Optional[int] = typer.Option(None, help="support clips per new class"),
    support_pool: Optional[int] = typer.Option(None, help="clips per class the shots are drawn from"),
    query_per_class: Optional[int] = typer.Option(None, help="test clips per class"),
    epochs: Optional[int] = typer.Option(None, help="base training epochs"),
    batch_size: Optional[int] = typer.Option(None, help="base training batch size"),
    eval_batch_size: Optional[int] = typer.Option(None, help="batch size of the embedding passes"),
    lr: Optional[float] = typer.Option(None, help="base training learning rate"),
    step_size: Optional[int] = typer.Option(None, help="StepLR step (epochs)"),
    gamma: Optional[float] = typer.Option(None, help="StepLR decay"),
    weight_decay: Optional[float] = typer.Option(None, help="Adam weight decay"),
    pretrain: Optional[str] = typer.Option(None, help="pre-training schedule preset: neurobench (default: lr 1e-2 "
                                           "M5 / 1e-3 SNN, weight decay 1e-4, StepLR 20/0.1) or nsb (lr 1e-3, no "
                                           "weight decay, StepLR 20/0.5); explicit options override it"),
    seed: Optional[int] = typer.Option(None, help="random seed (the first of --seeds)"),
    seeds: int = typer.Option(1, help="runs with seeds seed..seed+N-1; results are their mean ± std per session"),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:N or auto"),
    limit_train_batches: Optional[int] = typer.Option(None, help="> 0: stop each epoch after this many batches"),
    metrics_batches: Optional[int] = typer.Option(None, help="> 0: NeuroBench complexity metrics on this many "
                                                  "base-test batches"),
    data_option: list[str] = typer.Option([], "--data-option", metavar="KEY=VALUE",
                                          help="synthetic data option, e.g. base_classes=10 (repeatable)"),
) -> None:
    """NeuroBench's keyword few-shot class-incremental learning (MSWC FSCIL), end to end.

    Writes OUT/results.json and OUT/sessions.png. Sizes not given here come from --quick, then --config, then
    NeuroBench's defaults."""
    _require_torch("fscil")
    from nsb.tasks.fscil.run import main as run_fscil, summary_line

    settings = dict(width=width, sessions=sessions, ways=ways, shots=shots, support_pool=support_pool,
                    query_per_class=query_per_class, epochs=epochs, batch_size=batch_size,
                    eval_batch_size=eval_batch_size, lr=lr, step_size=step_size, gamma=gamma, weight_decay=weight_decay,
                    pretrain=pretrain, seed=seed, device=device,
                    limit_train_batches=limit_train_batches, metrics_batches=metrics_batches)
    results = run_fscil(out, data=data.value, root=root, model=model.value, config=config, quick=quick,
                        threads=threads, cache=cache == OnOff.on, settings=settings, data_options=data_option,
                        seeds=seeds)
    print(summary_line(results, out))


@app.command("mackey-glass")
def mackey_glass(
    out: Path = typer.Option(..., help="output directory"),
    repeats: Optional[int] = typer.Option(None, help="offsets to run (1..30; default: the config's)"),
    model: str = typer.Option("all", help="lstm, esn, snn, lsm, ttfs or all"),
    config: Optional[Path] = typer.Option(None, help="TOML (default configs/neurobench/mackey_glass.toml)"),
    ops_repeats: Optional[int] = typer.Option(None, help="repeats that also count SynOps/activation sparsity "
                                              "(default: all)"),
    threads: int = typer.Option(1, help="torch intra-op threads"),
    no_series_check: bool = typer.Option(False, "--no-series-check",
                                         help="skip the series check (jitcdde against nsb's RK4)"),
) -> None:
    """NeuroBench's Mackey-Glass prediction, end to end: LSTM, ESN and nsb spiking models.

    Runs NeuroBench's repeats (series offsets) and writes OUT/results.json, results.md and prediction.png."""
    _require_torch("mackey-glass")
    from nsb.tasks.mackey_glass.run import main as run_benchmark

    paths = run_benchmark(out, repeats=repeats, model=model, config=config, ops_repeats=ops_repeats,
                          threads=threads, check_series=not no_series_check)
    print(paths["md"].read_text())
    print("wrote " + ", ".join(str(v) for v in paths.values()))


@app.command()
def reproduce(
    table: str = typer.Argument(..., help="neurons, rules or architectures (the seed's neuron, learning-rule and "
                               "architecture tables)."),
    rows: list[str] = typer.Option([], "--rows", "-r", help="Only these rows, e.g. --rows lif --rows alif."),
    columns: list[str] = typer.Option([], "--columns", "-c", help="Only these columns: ptb-ff, ptb-rec, psmnist-ff, "
                                      "psmnist-rec, ba-ff, ba-rec (architectures: ptb, psmnist, ba)."),
    budget: str = typer.Option("short", help="full (the seed's schedule) or short (a CPU schedule that shows the "
                               "ordering early)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N for every cell."),
    jobs: int = typer.Option(1, help="Cells trained side by side; each gets cores/jobs threads."),
    out: Path = typer.Option(Path("runs/reproduce"), help="Where the runs go (OUT/<budget>/<cell>/); a rerun "
                             "resumes them."),
    data_root: Optional[Path] = typer.Option(None, help="Folder of the real data sets (PS-MNIST under mnist/, PTB "
                                             "under ptb/ when present). Default: each config's data.root."),
    report: Path = typer.Option(Path("benchmarks/REPRODUCTION.md"), help="The report the table is written into."),
    list_cells: bool = typer.Option(False, "--list", help="List the cells and their state; train nothing."),
    overrides: list[str] = typer.Option([], "--set", "-s", help="Override a key in every cell, e.g. --set "
                                        "data.time_steps=100; the report gets its own section for it."),
) -> None:
    """Train rows of a seed table and write ours beside the paper's into benchmarks/REPRODUCTION.md; resumes."""
    _require_torch("reproduce")
    from nsb.reproduce.runner import reproduce as run_table, select, status

    if list_cells:
        import re

        from nsb.reproduce.runner import variant

        folder = out / re.sub(r"[^A-Za-z0-9._=-]+", "_", variant(budget, list(overrides)))
        for cell in select(table, rows or None, columns or None):
            console.print(f"{cell.name:32s} {status(cell, folder):12s} paper {cell.row.paper[cell.column]}")
        return

    def show(row: dict) -> None:
        ours = "–" if row["ours"] is None else f"{row['ours']:.2f}"
        console.print(f"{row['cell']:32s} paper {row['paper']:7.2f}  ours {ours:>7s}  {row['status']}")

    results = run_table(table, rows or None, columns or None, budget, device, jobs, out, data_root, report, show,
                        list(overrides))
    console.print(f"wrote {report} ({len(results)} cells)")


@app.command()
def doctor(
    device: str = typer.Option("auto", help="auto (cuda when a GPU is here), cpu or cuda."),
    tensorrt: Optional[Path] = typer.Option(None, help="TensorRT install or its include folder, to build and check "
                                            "the plugins (default: $TENSORRT_INCLUDE_DIR or $TensorRT_ROOT)."),
    json_file: Optional[Path] = typer.Option(None, "--json", help="Also write the report as JSON."),
    keep: Optional[Path] = typer.Option(None, help="Keep the plugin build and the test bundle in this folder."),
) -> None:
    """Check this install: the machine, the runtimes, every fused kernel, the TensorRT plugins and a bundle
    on each runtime, each PASS / FAIL / SKIP with its reason. Exit 0 only if no check failed."""
    _require_torch("doctor")
    from nsb.doctor import render, run, write_json
    from nsb.doctor.environment import gpu_arch

    if device not in ("auto", "cpu", "cuda"):
        raise NsbError(f"--device must be auto, cpu or cuda, got '{device}'")
    from nsb.paths import check_writable

    for folder, what in ((json_file.parent if json_file else None, "--json"), (keep, "--keep")):
        if folder is not None:
            check_writable(folder, what)
    if device == "cuda" and gpu_arch() is None:
        raise NsbError("--device cuda but torch sees no CUDA device here; run nsb doctor without --device for the "
                       "CPU checks, or on a GPU machine with a CUDA build of torch")
    with console.status("checking (the kernels, the plugin build and a small bundle take a minute)"):
        report = run(device, tensorrt, keep)
    render(report, console)
    if json_file is not None:
        write_json(report, json_file)
        console.print(f"wrote {json_file}")
    if not report["passed"]:
        raise typer.Exit(1)


@plugins_app.command("build")
def plugins_build(
    tensorrt: Optional[Path] = typer.Option(None, help="TensorRT install or its include folder (NvInferRuntime.h)."),
    out: Path = typer.Option(Path("build/trt"), help="Build folder."),
    arch: list[int] = typer.Option([87, 90], help="CUDA architectures, e.g. --arch 87 (Orin) --arch 90 (H100)."),
    check: bool = typer.Option(True, help="Run the harness on the built library."),
    gpu: bool = typer.Option(False, help="Also run enqueue on the GPU in the harness."),
) -> None:
    """Build libnsb_trt_plugins.so with CMake and test it through getCreators (no TensorRT runtime needed)."""
    from nsb.kernels.plugins import build, run_harness
    from nsb.paths import check_writable

    check_writable(out, "--out")
    with console.status("building the TensorRT plugins"):
        library = build(tensorrt, out, tuple(arch))
    console.print(f"built {library}")
    if check:
        report = run_harness(library, gpu)
        console.print(report.strip().splitlines()[-1])
    console.print(f"load it with trtexec --dynamicPlugins={library} or IPluginRegistry::loadLibrary")


def _run(application: typer.Typer, **kwargs) -> None:
    """Run the CLI and turn every way it can end into an exit code and at most one line on stderr:
    usage and input errors exit 2 (``nsb: error: ...``), an interrupt 130, a bug in nsb 3."""
    from nsb.errors import report_bug, system_error

    try:
        code = application(standalone_mode=False, **kwargs)
    except NsbError as err:
        _fail(str(err), 2)
    except NoArgsIsHelpError as err:
        print(err.format_message())  # bare `nsb` or a bare group: its help, which is not an error
        sys.exit(0)
    except ClickException as err:
        command = err.ctx.command_path if getattr(err, "ctx", None) is not None else "nsb"
        _fail(f"{err.format_message().rstrip('.')} (see {command} --help)", err.exit_code)
    except (KeyboardInterrupt, Abort):
        _fail("interrupted; finished files are intact (checkpoints and bundles are written atomically)", 130)
    except OSError as err:
        _fail(system_error(err), 2)
    except MemoryError:
        _fail("out of memory; lower train.batch_size or the model size (or --batch-size for nsb eval)", 2)
    except Exception as err:  # noqa: BLE001 - the last line of defence: a bug, said as one
        if os.environ.get("NSB_DEBUG"):
            raise
        _fail(report_bug(err), 3)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    print(f"nsb: error: {message}", file=sys.stderr)
    sys.exit(code)


def main() -> None:
    """Entry point: usage and input errors are one line and exit 2, a bug in nsb exits 3; never a traceback."""
    _run(app)


def run_one(command: str, prog_name: str) -> None:
    """Run one command of ``nsb`` on its own, as ``python -m nsb.tasks.<task>`` does: the same options,
    help and errors as ``nsb <command>``."""
    functions = {"mackey-glass": mackey_glass, "fscil": fscil}
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command()(functions[command])
    _run(single, prog_name=prog_name)


if __name__ == "__main__":
    main()
