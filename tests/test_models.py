"""Models built from the shipped configs: the seed's parameter counts, shapes, bad combinations."""

from pathlib import Path

import pytest
import torch

from nsb.config import load_config
from nsb.data.common import TaskData
from nsb.errors import ConfigError
from nsb.models.build import build_model, count_parameters

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
EMPTY = torch.empty(0)


def task(kind="classification", inputs=1, classes=10, steps=784, **info):
    return TaskData(kind, EMPTY, EMPTY, input_size=inputs, num_classes=classes, time_steps=steps, info=info)


SEED_COUNTS = [  # reference/neuroseqbench.md §6.2 and §11
    ("psmnist_ff", task(inputs=1, classes=10, steps=784), 85_130),
    ("psmnist_rec", task(inputs=1, classes=10, steps=784), 155_082),
    ("binary_adding_ff", task(inputs=2, classes=10, steps=100), 18_186),
    ("binary_adding_rec", task(inputs=2, classes=10, steps=100), 34_698),
    ("ptb_ff", task("language", inputs=10_000, classes=10_000, steps=70), 4_891_500),
    ("ptb_rec", task("language", inputs=10_000, classes=10_000, steps=70), 6_263_000),
]


@pytest.mark.parametrize("name,data,count", SEED_COUNTS, ids=[c[0] for c in SEED_COUNTS])
def test_seed_parameter_counts(name, data, count):
    model = build_model(load_config(CONFIGS / f"{name}.toml"), data)
    assert count_parameters(model) == count


def test_classifier_outputs_per_step_and_state_per_layer():
    cfg = load_config(CONFIGS / "binary_adding_rec.toml")
    model = build_model(cfg, task(inputs=2, steps=100))
    out, state = model(torch.rand(100, 4, 2))
    assert out.shape == (100, 4, 10)
    assert len(state) == 2 and len(state[0]) == 2 and len(state[1]) == 2  # every layer carries (v, s)


def test_language_model_ties_weights_and_carries_state():
    cfg = load_config(CONFIGS / "ptb_rec.toml", ["model.embedding_dim=16", "model.hidden=[24, 16]"])
    model = build_model(cfg, task("language", inputs=50, classes=50, steps=7)).eval()
    assert model.decoder.weight is model.embedding.weight
    tokens = torch.randint(0, 50, (14, 3))
    full, _ = model(tokens)
    first, st = model(tokens[:7])
    second, _ = model(tokens[7:], st)
    assert torch.equal(torch.cat([first, second]), full)


@pytest.mark.parametrize("neuron", ["lif", "if", "rlif", "plif", "alif", "adlif", "glif"])
def test_every_neuron_builds_into_a_classifier(neuron):
    cfg = load_config(None, [f'model.neuron="{neuron}"', "model.hidden=[8, 6]", "model.recurrent=[true, false]",
                             "neuron={}"])
    model = build_model(cfg, task(inputs=3, classes=4, steps=20))
    out, _ = model(torch.rand(20, 2, 3))
    assert out.shape == (20, 2, 4)


@pytest.mark.parametrize("norm", ["none", "bn", "tdbn", "tebn", "bntt", "layernorm"])
def test_every_norm_builds(norm):
    cfg = load_config(None, [f'model.norm="{norm}"', "model.hidden=[8]"])
    model = build_model(cfg, task(inputs=3, classes=4, steps=20))
    out, _ = model(torch.rand(20, 2, 3))
    assert out.shape == (20, 2, 4)


def test_conv_model_on_frames():
    cfg = load_config(CONFIGS / "dvs_gesture.toml", ["model.channels=[4, 8]", "model.hidden=[16]"])
    model = build_model(cfg, task(inputs=2 * 32 * 32, classes=11, steps=6, frame_shape=(2, 32, 32)))
    out, state = model(torch.rand(6, 2, 2, 32, 32))
    assert out.shape == (6, 2, 11) and len(state) == 3


def test_bad_combinations_are_explained():
    with pytest.raises(ConfigError, match="model.recurrent has 3 entries but model.hidden has 2"):
        build_model(load_config(None, ["model.recurrent=[true, true, false]"]), task(inputs=3, steps=5))
    with pytest.raises(ConfigError, match="conv model takes feed-forward"):
        build_model(load_config(CONFIGS / "dvs_gesture.toml", ['model.neuron="alif"'], ["neuron.decay"]),
                    task(steps=5, frame_shape=(2, 8, 8)))
    with pytest.raises(ConfigError, match="language task; set model.kind"):
        build_model(load_config(None), task("language", inputs=20, classes=20, steps=5))
    with pytest.raises(ConfigError, match="tied weights"):
        build_model(load_config(CONFIGS / "ptb_ff.toml", ["model.embedding_dim=32"]),
                    task("language", inputs=20, classes=20, steps=5))
    with pytest.raises(ConfigError, match="did you mean 'threshold'"):
        build_model(load_config(None, ["neuron.treshold=0.2"]), task(inputs=3, steps=5))
    with pytest.raises(ConfigError, match="model.norm lists 1 names for 2"):
        build_model(load_config(None, ['model.norm=["bn"]']), task(inputs=3, steps=5))
