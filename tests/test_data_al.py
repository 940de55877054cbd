"""AL (autonomous localisation, reference §5.2): the generated data set against its definition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nsb.config import load_config
from nsb.data import load_task
from nsb.data.autonomous_localisation import Options, actions, final_position, generate, labels, one_hot
from nsb.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def walk(acts) -> tuple[int, int, int]:
    """The definition, one step at a time: start at (0, 0) heading north; straight moves one cell along the
    heading (north +y, east +x, south −y, west −x); left turns counter-clockwise, right clockwise, on the spot;
    stop does nothing."""
    x = y = 0
    heading = "N"
    left = {"N": "W", "W": "S", "S": "E", "E": "N"}
    right = {v: k for k, v in left.items()}
    for a in acts:
        if a == 1:
            x += {"E": 1, "W": -1}.get(heading, 0)
            y += {"N": 1, "S": -1}.get(heading, 0)
        elif a == 2:
            heading = left[heading]
        elif a == 3:
            heading = right[heading]
    return x, y, "NESW".index(heading)


def test_al_labels_and_inputs_follow_the_definition():
    o = Options(time_steps=60, capacity=6)
    acts = actions(300, o, np.random.default_rng(1))
    x, y, heading = final_position(acts)
    for i in range(300):
        assert (x[i], y[i], heading[i]) == walk(acts[i].tolist())
    assert np.array_equal(labels(acts), (x > 0).astype(np.int64))
    assert 0 < labels(acts).sum() < 300
    inputs = one_hot(acts)
    assert inputs.shape == (300, 60, 3) and inputs.dtype == np.float32
    assert np.array_equal(inputs.sum(-1), (acts != 0).astype(np.float32))  # a stop is all zeros
    assert np.array_equal(inputs.argmax(-1)[acts != 0] + 1, acts[acts != 0])  # columns: straight, left, right


def test_al_hand_made_walks():
    # right, straight: east, x = 1 → 1; left, straight: west → 0; straight only: north, x = 0 → 0;
    # right ×2 (south), left (east), straight ×2 → x = 2; four rights and a straight: north again → 0
    cases = [([3, 1], 1), ([2, 1], 0), ([1, 1, 1], 0), ([3, 3, 2, 1, 1], 1), ([3, 3, 3, 3, 1], 0),
             ([0, 3, 0, 1, 2, 2, 1, 1], 0)]
    for acts, label in cases:
        assert labels(np.array([acts])).tolist() == [label], acts


def test_al_action_probabilities():
    o = Options()  # the seed's L = 400, c = 20: [0.45, 0.45, 0.05, 0.05]
    acts = actions(2000, o, np.random.default_rng(0))
    freq = np.bincount(acts.ravel(), minlength=4) / acts.size
    assert np.allclose(freq, [0.45, 0.45, 0.05, 0.05], atol=0.003)


def test_al_seed_defaults_and_data_seed():
    o = Options()
    assert (o.time_steps, o.capacity, o.train_size, o.test_size) == (400, 20, 50_000, 5_000)
    small = {"train_size": 200, "test_size": 50}
    a = load_task("autonomous_localisation", "unused", small, seed=1)
    b = load_task("autonomous_localisation", "unused", small, seed=99)  # the run's seed does not matter
    assert a.input_size == 3 and a.num_classes == 2 and a.time_steps == 400
    xa, ya = a.train[:]
    assert xa.shape == (200, 400, 3) and ya.dtype == torch.int64
    assert torch.equal(xa, b.train[:][0]) and torch.equal(ya, b.train[:][1])
    c = load_task("autonomous_localisation", "unused", {**small, "train_size": 100}, seed=1)
    assert torch.equal(a.test[:][0], c.test[:][0])  # the test set does not depend on the training size
    d = load_task("autonomous_localisation", "unused", {**small, "data_seed": 1}, seed=1)
    assert not torch.equal(xa, d.train[:][0])
    x, y = generate(64, Options(time_steps=30, capacity=3), np.random.default_rng(0))
    assert np.array_equal(y, labels(np.where(x.any(-1), x.argmax(-1) + 1, 0)))


@pytest.mark.parametrize("options,match", [
    ({"capacity": 300}, "capacity <= time_steps / 2"),
    ({"time_steps": 0}, "time_steps"),
    ({"capcity": 3}, "no option 'data.capcity'"),
])
def test_al_bad_options_one_line(options, match):
    with pytest.raises(ConfigError, match=match) as err:
        load_task("autonomous_localisation", "unused", {"train_size": 10, "test_size": 10, **options}, seed=0)
    assert "\n" not in str(err.value)


def test_al_config_builds_the_nsa_ffsnn():
    from nsb.data.common import TaskData
    from nsb.models.build import build_model, count_parameters

    cfg = load_config(CONFIGS / "al.toml")
    assert cfg.data.name == "autonomous_localisation" and cfg.data.options["time_steps"] == 400
    assert cfg.model.hidden == [128, 256, 256] and cfg.model.readout == "mean" and cfg.surrogate.name == "triangle"
    assert cfg.train.grad_clip == 1.0
    empty = torch.zeros(0)
    model = build_model(cfg, TaskData("classification", empty, empty, input_size=3, num_classes=2, time_steps=400))
    assert count_parameters(model) == 3 * 128 + 128 + 128 * 256 + 256 + 256 * 256 + 256 + 256 * 2 + 2


def test_al_trains_a_step(tmp_path):
    from nsb.train import Trainer

    cfg = load_config(CONFIGS / "al.toml", ["data.time_steps=40", "data.capacity=2", "data.train_size=64",
                                             "data.test_size=32", "model.hidden=[16, 16]", "train.epochs=1",
                                             "train.batch_size=32", f'out_dir="{tmp_path}"', 'name="al"'])
    Trainer(cfg, progress=False).fit()
    assert (tmp_path / "al" / "neurobench.json").exists()
