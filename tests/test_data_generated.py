"""Generated tasks: randman, Binary Adding, Mackey-Glass."""

import numpy as np
import pytest
import torch

from nsb.data import load_task
from nsb.data.binary_adding import Options as BAOptions, generate
from nsb.data.mackey_glass import Options as MGOptions, generate_series, integrate
from nsb.errors import ConfigError


def test_randman_is_one_spike_per_unit_and_deterministic():
    a = load_task("randman", "unused", {"train_per_class": 20, "test_per_class": 5}, seed=3)
    b = load_task("randman", "unused", {"train_per_class": 20, "test_per_class": 5}, seed=3)
    c = load_task("randman", "unused", {"train_per_class": 20, "test_per_class": 5}, seed=4)
    x, y = a.train.tensors
    assert x.shape == (200, 50, 32) and a.test.tensors[0].shape == (50, 50, 32)
    assert torch.equal(x.sum(1), torch.ones(200, 32))  # exactly one spike per input unit
    assert torch.equal(torch.bincount(y), torch.full((10,), 20))
    assert torch.equal(x, b.train.tensors[0]) and not torch.equal(x, c.train.tensors[0])


def test_randman_class_is_in_the_spike_times():
    """Each class is a 1-D manifold: a sample's nearest neighbour (by spike times) shares its class."""
    d = load_task("randman", "unused", {"train_per_class": 40, "test_per_class": 1, "jitter": 0.0}, seed=0)
    x, y = d.train.tensors
    times = x.argmax(1).float()  # [n, units]
    dist = torch.cdist(times, times)
    dist.fill_diagonal_(float("inf"))
    accuracy = (y[dist.argmin(1)] == y).float().mean()
    assert accuracy > 0.9


def test_binary_adding_labels_count_the_marked_ones():
    o = BAOptions(time_steps=40, train_size=1000, test_size=10)
    x, y = generate(1000, o, np.random.default_rng(0))
    assert x.shape == (1000, 40, 2)
    assert (x[:, :, 1].sum(1) == 9).all()
    assert np.array_equal((x[:, :, 0] * x[:, :, 1]).sum(1), y)
    assert np.array_equal(np.bincount(y), np.full(10, 100))
    # unmarked bits are fair coins
    unmarked = x[:, :, 0][x[:, :, 1] == 0]
    assert abs(unmarked.mean() - 0.5) < 0.02


def test_binary_adding_defaults_are_the_seeds():
    d = load_task("binary_adding", "unused", {}, seed=1234)
    assert len(d.train) == 50_000 and len(d.test) == 2_000 and d.time_steps == 100 and d.num_classes == 10
    x, y = d.train[0]
    assert x.shape == (100, 2) and x.dtype == torch.float32
    with pytest.raises(ConfigError, match="multiples of 10"):
        load_task("binary_adding", "unused", {"train_size": 1234}, seed=0)


def test_mackey_glass_series():
    s = generate_series()
    assert s.shape == (1501,) and s[0] == pytest.approx(0.7206597)
    assert 0.2 < s.min() and s.max() < 1.4  # the attractor's known range
    assert np.abs(np.diff(s)).max() < 0.3
    # the solver converges: step halving changes the first Lyapunov time very little
    a, _ = integrate(MGOptions(dt=0.1), 197)
    b, _ = integrate(MGOptions(dt=0.05), 197)
    assert np.abs(a - b[::2]).max() < 1e-4
    # and agrees with the delay equation: a finite-difference slope matches the right-hand side
    o = MGOptions(dt=0.01)
    x, dx = integrate(o, 100)
    lag = int(o.tau / o.dt)
    i = np.arange(lag + 10, len(x) - 10)
    rhs = o.beta * x[i - lag] / (1 + x[i - lag] ** o.n) - o.gamma * x[i]
    np.testing.assert_allclose((x[i + 1] - x[i - 1]) / (2 * o.dt), rhs, atol=1e-4)


def test_mackey_glass_windows_are_next_value_targets():
    d = load_task("mackey_glass", "unused", {"time_steps": 20}, seed=0)
    x, y = d.train[5]
    series = torch.tensor(d.info["series"], dtype=torch.float32)
    assert torch.equal(x[:, 0], series[5:25]) and torch.equal(y[:, 0], series[6:26])
    assert d.task == "regression" and len(d.train) == 750 - 20 + 1
    last_x, last_y = d.test[len(d.test) - 1]
    assert last_y[-1, 0] == series[-1]
    with pytest.raises(ConfigError, match="longer than the split"):
        load_task("mackey_glass", "unused", {"time_steps": 800}, seed=0)


def test_unknown_option_is_named():
    with pytest.raises(ConfigError, match="did you mean 'time_steps'"):
        load_task("binary_adding", "unused", {"time_step": 50}, seed=0)


def test_binary_adding_is_made_as_the_seed():
    """Fixed data seed, 80x oversampling with the first samples of each class kept, and a test set that depends
    on neither the training size nor the run's seed."""
    small = load_task("binary_adding", "unused", {"train_size": 500, "test_size": 200, "time_steps": 30}, seed=1)
    other = load_task("binary_adding", "unused", {"train_size": 1000, "test_size": 200, "time_steps": 30}, seed=99)
    assert torch.equal(small.test.tensors[0], other.test.tensors[0])
    assert torch.equal(small.test.tensors[1], other.test.tensors[1])
    assert not torch.equal(small.train.tensors[1][:500], other.train.tensors[1][:500])  # shuffled differently
    reseeded = load_task("binary_adding", "unused", {"train_size": 200, "test_size": 100, "time_steps": 30,
                                                     "data_seed": 1}, seed=1)
    assert not torch.equal(reseeded.test.tensors[0], small.test.tensors[0][:100])
    # the balancing keeps the first candidates of each class, in draw order
    from nsb.data.binary_adding import select_labels

    o = BAOptions(time_steps=30)
    marked = select_labels(100, o, np.random.default_rng(7))
    coins = (np.random.default_rng(7).random((8000, 9)) < 0.5).astype(np.uint8)
    for c in range(1, 9):  # common classes: never resampled
        first = coins[coins.sum(1) == c][:10]
        assert np.array_equal(marked[c * 10:(c + 1) * 10], first)
    # 8,000 candidates hold about 16 of class 0: 10 kept without resampling; class 9 likewise
    assert len(np.unique(marked[:10], axis=0)) == 1 and marked[:10].sum() == 0


def test_binary_adding_rare_classes_are_resampled_with_replacement():
    from nsb.data.binary_adding import select_labels

    o = BAOptions(time_steps=30, markers=14)  # 15 classes; class 1 is 14 in 16,384
    marked = select_labels(300, o, np.random.default_rng(3))  # 24,000 candidates
    assert np.array_equal(np.bincount(marked.sum(1), minlength=15), np.full(15, 20))
    coins = (np.random.default_rng(3).random((24000, 14)) < 0.5).astype(np.uint8)
    found = coins[coins.sum(1) == 1]
    assert 1 < len(found) < 20  # this seed leaves class 1 short: it must have been resampled
    kept = marked[20:40]
    assert {tuple(r) for r in kept} <= {tuple(r) for r in found}
    assert len({tuple(r) for r in kept}) == len({tuple(r) for r in found})
