"""NeuroBench's Mackey-Glass series from jitcdde (nsb.data.mackey_glass), against nsb's RK4, and the task's use of it."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from nsb.data.mackey_glass import Options, generate_series, jitcdde_samples, sample
from nsb.errors import ConfigError, DataError
from nsb.tasks.mackey_glass import protocol

pytest.importorskip("jitcdde")  # the test extra installs it; without it the loader's error is tested below

L = protocol.POINTS_PER_LYAPUNOV


@pytest.fixture(scope="module")
def neurobench():
    return jitcdde_samples(Options(solver="jitcdde"), 6 * L)


def test_jitcdde_follows_neurobench_construction(neurobench):
    x, info = neurobench
    # step_on_discontinuities leaves the solver at t = τ; NeuroBench samples from there
    assert info["t0"] == pytest.approx(17.0)
    assert info["backend"] in ("C", "python")
    # the τ = 17 attractor's range and mean
    assert 0.40 < x.min() < 0.45 and 1.30 < x.max() < 1.35 and 0.90 < x.mean() < 0.96
    # jitcdde_lyap's largest Lyapunov exponent over 6 L: positive (chaos), 1/λ of the order of NeuroBench's L = 197
    assert 0.002 < info["lyapunov_exponent"] < 0.02
    # seeded: the same seed gives the same series bit for bit, and the global numpy state is left alone
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    again, _ = jitcdde_samples(Options(solver="jitcdde"), 6 * L)
    assert np.random.random() == before
    np.testing.assert_array_equal(again, x)


def test_rk4_cross_check_agrees_over_the_first_lyapunov_time(neurobench):
    """nsb's own RK4 (dt = 0.1, Hermite delay) on jitcdde's grid: 1e-4 over 1 L, 1e-2 over 5 L; the
    chaotic divergence after that is the same as between two jitcdde seeds."""
    x, info = neurobench
    rk4 = sample(Options(solver="rk4", start_offset=info["t0"]), len(x))
    dev = np.abs(x - rk4)
    assert dev[:L + 1].max() < 1e-4
    assert dev[:5 * L + 1].max() < 1e-2
    other_seed, _ = jitcdde_samples(Options(solver="jitcdde", seed=1), 2 * L)
    assert np.abs(other_seed - x[:2 * L]).max() < 1e-4


def test_python_backend_gives_the_same_series(neurobench, monkeypatch):
    """Without a C compiler jitcdde integrates with its Python backend: the same numbers."""
    import jitcdde

    def no_compiler(self, *args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(jitcdde.jitcdde_lyap, "compile_C", no_compiler)
    x, info = jitcdde_samples(Options(solver="jitcdde"), 40)
    assert info["backend"] == "python"
    np.testing.assert_allclose(x, neurobench[0][:40], rtol=0, atol=1e-12)


def test_repeats_are_slices_of_one_series():
    s0, s1, s29 = protocol.series_for(0), protocol.series_for(1), protocol.series_for(29)
    assert s0.shape == s29.shape == (1501,)
    np.testing.assert_array_equal(s1[:1501 - 37], s0[37:])
    np.testing.assert_array_equal(s29[:100], protocol.series_for(28)[1087 - 1050:1087 - 1050 + 100])


def test_missing_jitcdde_is_a_one_line_data_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "jitcdde", None)  # import fails as if not installed
    with pytest.raises(DataError) as err:
        generate_series(Options(solver="jitcdde"))
    assert "\n" not in str(err.value) and "nsb[mackey-glass]" in str(err.value)
    with pytest.raises(ConfigError):
        generate_series(Options(solver="euler"))
