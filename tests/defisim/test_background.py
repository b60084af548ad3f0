"""Background demand: the count and the lowest included tip follow their closed-form laws.

A block with no simulated actor competing draws only the lowest of its ``n`` effective tips
(:meth:`BackgroundDemand.lowest_tip`); a block with competition draws all ``n`` tips
(:meth:`BackgroundDemand.effective_tips`). Both must give the lowest tip the law
``P[min > x] = (P[tip > x] · P[cap − b > x | cap ≥ b])^n``.
"""
import numpy as np
import pytest
from scipy import stats

from defisim.chain.background import BackgroundDemand, BlockDemand
from defisim.chain.spec import BackgroundSpec

BASE = 72.0  # gwei
N = 40  # background transactions in the block
DRAWS = 3000

SPECS = {
    "lognormal caps": {"tip_gwei": {"kind": "lognormal", "median": 1.5, "sigma": 0.8},
                       "max_fee_gwei": {"kind": "lognormal", "median": 60.0, "sigma": 0.6}},
    "uniform caps": {"tip_gwei": {"kind": "exponential", "mean": 2.0},
                     "max_fee_gwei": {"kind": "uniform", "low": 50.0, "high": 90.0}},
    "fixed caps": {"tip_gwei": {"kind": "lognormal", "median": 1.5, "sigma": 0.8},
                   "max_fee_gwei": {"kind": "fixed", "value": 75.0}},
}


def _background(raw: dict, seed: int) -> BackgroundDemand:
    spec = BackgroundSpec.model_validate({"rate_tx_per_block": 400.0, **raw})
    return BackgroundDemand(spec, np.random.default_rng(seed))


def _lowest_tip_cdf(spec: BackgroundSpec, n: int, tip_multiplier: float = 1.0):
    """CDF of the lowest of ``n`` effective tips, from the distributions' survival functions."""
    tips, caps = spec.tip_gwei, spec.max_fee_gwei
    s_base = caps.sf(BASE)

    def cdf(x):
        x = np.atleast_1d(x)
        above = np.array([tips.sf(v / tip_multiplier) * caps.sf(BASE + v) / s_base for v in x])
        return 1.0 - above**n

    return cdf


@pytest.mark.parametrize("name", SPECS)
@pytest.mark.parametrize("path", ["lowest_tip", "effective_tips"])
def test_lowest_tip_follows_its_law(name, path):
    bg = _background(SPECS[name], seed=11)
    d = BlockDemand(N, BASE, bg.spec.max_fee_gwei.sf(BASE), 1.0)
    draw = bg.lowest_tip if path == "lowest_tip" else (lambda d: float(bg.effective_tips(d).min()))
    lows = np.array([draw(d) for _ in range(DRAWS)])
    cdf = _lowest_tip_cdf(bg.spec, N)
    if name == "fixed caps":  # an atom at cap − b: compare the continuous part and the atom's mass
        atom = bg.spec.max_fee_gwei.value - BASE
        expected_atom = 1.0 - cdf(atom - 1e-12)[0]
        assert np.mean(lows == atom) == pytest.approx(expected_atom, abs=4 * np.sqrt(expected_atom / DRAWS) + 1e-3)
        lows = lows[lows < atom]
        p = stats.kstest(lows, lambda x: cdf(x) / cdf(atom - 1e-12)[0]).pvalue
    else:
        p = stats.kstest(lows, cdf).pvalue
    assert p > 1e-3


def test_tip_multiplier_scales_the_tips():
    bg = _background(SPECS["lognormal caps"], seed=5)
    d = BlockDemand(N, BASE, bg.spec.max_fee_gwei.sf(BASE), 3.0)
    lows = np.array([bg.lowest_tip(d) for _ in range(DRAWS)])
    assert stats.kstest(lows, _lowest_tip_cdf(bg.spec, N, 3.0)).pvalue > 1e-3
    # and the law is not the unmultiplied one
    assert stats.kstest(lows, _lowest_tip_cdf(bg.spec, N, 1.0)).pvalue < 1e-6


def test_count_is_poisson_thinned_by_the_base_fee():
    bg = _background(SPECS["lognormal caps"], seed=3)
    counts = np.array([bg.demand(0, BASE).n for _ in range(4000)])
    lam = 400.0 * bg.spec.max_fee_gwei.sf(BASE)
    # mean and variance of a Poisson(λ·P[cap ≥ b]) count, within 5 standard errors
    assert counts.mean() == pytest.approx(lam, abs=5 * np.sqrt(lam / counts.size))
    assert counts.var() == pytest.approx(lam, rel=0.1)
