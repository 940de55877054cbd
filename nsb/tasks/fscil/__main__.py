"""``python -m nsb.tasks.fscil``: the same command as ``nsb fscil`` (options in ``nsb/cli.py``)."""

from nsb.cli import run_one

if __name__ == "__main__":
    run_one("fscil", "python -m nsb.tasks.fscil")
