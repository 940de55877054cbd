"""Penn Treebank: tokenising, vocabulary, parallel streams, and the real validation/test text."""

import pytest
import torch

from nsb.data import load_task
from nsb.data.ptb import batchify, windows
from nsb.errors import DataError


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "PennTreebank"
    folder.mkdir()
    (folder / "train.txt").write_text(" the cat sat \n the dog <unk> \n")
    (folder / "valid.txt").write_text(" the cat \n")
    (folder / "test.txt").write_text(" a dog sat \n")
    return tmp_path


def test_vocabulary_eos_and_unknowns(corpus):
    d = load_task("ptb", str(corpus), {"time_steps": 3}, seed=0)
    vocab = d.info["vocabulary"]
    assert vocab == ["the", "cat", "sat", "<eos>", "dog", "<unk>"]
    assert d.train.tolist() == [0, 1, 2, 3, 0, 4, 5, 3]
    assert d.test.tolist() == [5, 4, 2, 3] and d.info["unknown_tokens"] == 1
    assert d.valid.tolist() == [0, 1, 3] and d.task == "language" and d.num_classes == 6


def test_streams_and_windows():
    ids = torch.arange(23)
    s = batchify(ids, 4)
    assert s.shape == (5, 4) and s[:, 1].tolist() == [5, 6, 7, 8, 9]
    pairs = list(windows(s, 2))
    assert [x.shape[0] for x, _ in pairs] == [2, 2]
    x, y = pairs[1]
    assert torch.equal(y, s[3:5]) and torch.equal(x, s[2:4])
    with pytest.raises(DataError, match="too short"):
        batchify(torch.arange(3), 4)


def test_missing_files_say_what_and_how(tmp_path):
    with pytest.raises(DataError, match=r"Penn Treebank files not found .*train.txt.*nsb data download ptb"):
        load_task("ptb", str(tmp_path), {}, seed=0)


def test_real_valid_and_test(shared_data):
    d = load_task("ptb", str(shared_data), {"train_file": "valid.txt"}, seed=0)
    assert d.train.numel() == 73_760  # Mikolov's valid.txt with <eos>
    assert d.test.numel() == 82_430
    assert "<eos>" in d.info["vocabulary"] and "<unk>" in d.info["vocabulary"]
    streams = batchify(d.valid, 10)
    assert streams.shape == (7376, 10)
