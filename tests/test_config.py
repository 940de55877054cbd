"""Configs: every shipped file loads; bad keys, types and TOML give one clear line."""

from pathlib import Path

import pytest

from nsb.config import Config, apply_overrides, dump_toml, from_dict, load_config
from nsb.errors import ConfigError

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))


def test_configs_are_shipped():
    names = {p.stem for p in CONFIGS}
    assert {"default", "psmnist_ff", "psmnist_rec", "binary_adding_ff", "binary_adding_rec", "ptb_ff", "ptb_rec",
            "shd", "ssc", "mackey_glass", "randman", "dvs_gesture"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_config_loads_and_round_trips(path, tmp_path):
    cfg = load_config(path)
    assert cfg.name == path.stem
    again = tmp_path / "again.toml"
    again.write_text(dump_toml(cfg))
    assert load_config(again) == cfg


def test_misspelled_keys_suggest_the_closest(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nlearning_rat = 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'train.learning_rat' \(did you mean 'learning_rule'\?\)"):
        load_config(bad)
    bad.write_text("[modle]\nhidden = [3]\n")
    with pytest.raises(ConfigError, match="did you mean 'model'"):
        load_config(bad)


def test_wrong_types_are_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[train]\nepochs = "ten"\n')
    with pytest.raises(ConfigError, match="'train.epochs' must be int, got 'ten'"):
        load_config(bad)
    bad.write_text('[model]\nreadout = "median"\n')
    with pytest.raises(ConfigError, match="model.readout"):
        load_config(bad)
    bad.write_text('[model]\nhidden = [64, "x"]\n')
    with pytest.raises(ConfigError, match="model.hidden"):
        load_config(bad)


def test_malformed_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs = 3\n")
    with pytest.raises(ConfigError, match="malformed TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")


def test_overrides_are_typed_and_checked():
    raw = apply_overrides({}, ["train.lr=1e-3", "model.hidden=[32, 16]", "model.neuron=alif", "neuron.beta=2",
                               'data.name="binary_adding"', "data.time_steps=50"])
    cfg = from_dict(raw)
    assert cfg.train.lr == 1e-3 and cfg.model.hidden == [32, 16] and cfg.model.neuron == "alif"
    assert cfg.neuron == {"beta": 2} and cfg.data.name == "binary_adding" and cfg.data.options == {"time_steps": 50}
    with pytest.raises(ConfigError, match="section.key=value"):
        apply_overrides({}, ["train.lr"])
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        load_config(None, ["train.epoch=3"])


def test_ints_are_accepted_for_floats():
    cfg = from_dict({"train": {"lr": 3}})
    assert cfg.train.lr == 3.0 and isinstance(cfg.train.lr, float)


def test_defaults_are_the_default_config():
    assert Config().data.name == "randman"
