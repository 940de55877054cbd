"""``python -m nsb.tasks.mackey_glass``: the same command as ``nsb mackey-glass`` (options in ``nsb/cli.py``)."""

from nsb.cli import run_one

if __name__ == "__main__":
    run_one("mackey-glass", "python -m nsb.tasks.mackey_glass")
