"""The bad-input suite's harness: run one ``nsb`` command as a user would, and check the contract of
docs/reliability.md — the exit code, exactly one line on stderr, no traceback, and no file outside the
command's target changed.

Commands run in-process (the same ``nsb.cli._run`` as the console script) so that 150 cases take
seconds, not the minutes 150 interpreter starts with torch would; the kill tests, which need a process
to kill, use subprocesses.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from model_kinds import SMALL

# a small run every case that needs a trained model or a bundle copies (training it once per session)
TINY = SMALL + ["train.epochs=1", "model.hidden=[8]", "data.train_per_class=4", "data.test_per_class=2",
                "data.time_steps=10", "train.batch_size=8"]


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def run_nsb(args: list[str], cwd: Path) -> Outcome:
    """``nsb ARGS`` in ``cwd``, in this process: its exit code and what it printed."""
    from nsb.cli import _run, app

    out, err = io.StringIO(), io.StringIO()
    code = 0
    old = Path.cwd()
    os.chdir(cwd)
    env = {"COLUMNS": os.environ.get("COLUMNS"), "NO_COLOR": os.environ.get("NO_COLOR")}
    os.environ.update(COLUMNS="200", NO_COLOR="1")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                _run(app, args=list(args), prog_name="nsb")
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        os.chdir(old)
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return Outcome(code, out.getvalue(), err.getvalue())


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with what would show a change: kind, size, mtime and content hash."""
    state: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            state[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            state[rel] = ("dir",)
        elif path.is_file():
            stat = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.st_size < 50_000_000 else ""
            state[rel] = ("file", stat.st_size, stat.st_mtime_ns, digest)
    return state


def changed(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def assert_refused(outcome: Outcome, code: int, *fragments: str) -> None:
    """The contract for a refused input: this exit code, one line on stderr starting ``nsb: error:``, no
    traceback, and each fragment (case-insensitive) in that line."""
    assert outcome.code == code, f"exit {outcome.code}, wanted {code}\nstdout: {outcome.stdout}\nstderr: {outcome.stderr}"
    assert "Traceback" not in outcome.stderr + outcome.stdout, outcome.stderr
    assert len(outcome.lines) == 1, f"{len(outcome.lines)} lines on stderr:\n{outcome.stderr}"
    line = outcome.lines[0]
    assert line.startswith("nsb: error: "), line
    for fragment in fragments:
        assert fragment.lower() in line.lower(), f"'{fragment}' not in: {line}"


def check_case(workspace: Path, args: list[str], code: int, fragments: tuple[str, ...] = (),
               may_change: tuple[str, ...] = ()) -> Outcome:
    """Run a refused command in ``workspace`` and check the whole contract, including that nothing in the
    workspace changed except paths under ``may_change``."""
    before = snapshot(workspace)
    outcome = run_nsb(args, workspace)
    assert_refused(outcome, code, *fragments)
    moved = [p for p in changed(before, snapshot(workspace)) if not p.startswith(may_change or ("\0",))]
    assert not moved, f"the refused command changed {moved}"
    return outcome


def copy_tree(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, symlinks=True)
    return dest
