"""Seeded random replay cases for differential checks of Aave v3 models (Aave v3 (aave-dao/aave-v3-origin)).

A :class:`Case` is one small market and one crisis: a lender funds the debt reserve, a borrower
posts collateral and borrows, optionally a saver funds the collateral reserve and the lender
borrows from it (so that both reserves accrue interest), time passes, prices move, and a
liquidator calls ``liquidationCall``. :func:`run_case` replays it on any
:class:`~.replay.Market` (the exact model, the engine's float pool, the real contracts) and
returns what each step observed, so that two markets can be compared step by step.

:func:`generate_cases` draws cases from one seeded ``numpy.random.Generator``: risk parameters
within the configurator's limits, token decimals 6/8/18, interest curves up to 1000% APR, position
sizes from a cent to ten million dollars, elapsed times from 0 to 3 years, health factors after
the price move from 0.5 to 1.1, and debts to cover that are the maximum, a fraction, one wei, a
few wei, or more than the debt. Such draws almost never land on the contracts' thresholds, so
:data:`FAMILIES` adds cases aimed at them (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt; Aave v3 `LiquidationLogic.executeLiquidationCall`):

- ``health_factor_edges``: whole-token positions whose health factor is *exactly* 1 or 0.95 (or
  one price unit, 1e-8 USD, to either side): liquidatable or not, 50% or 100% close factor;
- ``base_thresholds``: debts and collateral at exactly $2,000 (or one token to either side) and
  debts to cover that leave exactly $1,000 of debt (or one raw unit less or more) or about $1,000
  of collateral (v3.6's close-factor and ``MUST_NOT_LEAVE_DUST`` rules);
- ``two_reserves``: the borrower also posts the debt asset as collateral and/or borrows the
  collateral asset (averaged thresholds, v3.6's 50%-of-total-debt cap, other debt written off
  when no collateral is left), sometimes liquidated on the other pair;
- ``other_calls``: a liquidatable account liquidated on a collateral it does not post, a debt it
  does not owe, or by itself;
- ``full_utilisation``: the borrower takes everything the lender supplied (100% usage).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from defisim.base import Revert

from .replay import MAX_UINT256, Market, ReserveConfig

__all__ = ["Case", "Reverted", "generate_cases", "run_case", "STEPS", "FAMILIES"]

#: What :func:`run_case` observes, in order (the keys of its result).
STEPS = (
    "setup", "reserves_after_setup", "reserves_after_time", "account_after_time",
    "account_after_prices", "liquidation", "account_after", "reserves_after",
)

_DECIMALS = (6, 8, 18)
_YEAR = 31_536_000


@dataclass(frozen=True)
class Reverted:
    """A call that reverted, with the contract's error name."""

    reason: str


@dataclass(frozen=True)
class Case:
    """One replay (amounts raw token units, prices USD·1e8, times in seconds).

    ``collateral`` and ``debt`` are the two reserves; ``saver_supply`` (collateral asset, 0 for
    none) is what the lender's ``lender_borrow`` of the collateral asset draws on. The borrower
    may also post the debt asset (``borrower_supply_debt_asset``) and borrow the collateral
    asset (``borrower_borrow_collateral_asset``). ``liquidator`` calls ``liquidationCall`` on
    the assets ``seize`` and ``repay`` (symbols; empty: the collateral and the debt reserve).
    """

    label: str
    collateral: ReserveConfig
    debt: ReserveConfig
    collateral_price: int
    debt_price: int
    lender_supply: int
    saver_supply: int
    borrower_supply: int
    lender_borrow: int
    borrower_borrow: int
    elapsed: int
    collateral_price_after: int
    debt_price_after: int
    debt_to_cover: int
    borrower_supply_debt_asset: int = 0
    borrower_borrow_collateral_asset: int = 0
    liquidator: str = "liquidator"
    seize: str = ""
    repay: str = ""
    family: str = "random"

    @property
    def seized(self) -> ReserveConfig:
        """The reserve ``liquidationCall`` names as collateral."""
        return self.debt if self.seize == self.debt.symbol else self.collateral

    @property
    def repaid(self) -> ReserveConfig:
        """The reserve ``liquidationCall`` names as debt."""
        return self.collateral if self.repay == self.collateral.symbol else self.debt

    def price_after(self, reserve: ReserveConfig) -> int:
        """``reserve``'s price after the move (USD·1e8)."""
        return self.collateral_price_after if reserve is self.collateral else self.debt_price_after


def run_case(market: Market, case: Case) -> dict[str, object]:
    """Replay ``case`` on ``market``; a dict of what each step in :data:`STEPS` observed
    (:class:`Reverted` for a call that reverted)."""
    c, d = case.collateral.symbol, case.debt.symbol

    def attempt(fn, *args):
        try:
            return fn(*args)
        except Revert as e:
            return Reverted(e.reason)

    out: dict[str, object] = {}
    setup = [attempt(market.supply, "lender", d, case.lender_supply)]
    if case.saver_supply:
        setup.append(attempt(market.supply, "saver", c, case.saver_supply))
    setup.append(attempt(market.supply, "borrower", c, case.borrower_supply))
    if case.borrower_supply_debt_asset:
        setup.append(attempt(market.supply, "borrower", d, case.borrower_supply_debt_asset))
    if case.lender_borrow:
        setup.append(attempt(market.borrow, "lender", c, case.lender_borrow))
    setup.append(attempt(market.borrow, "borrower", d, case.borrower_borrow))
    if case.borrower_borrow_collateral_asset:
        setup.append(attempt(market.borrow, "borrower", c, case.borrower_borrow_collateral_asset))
    out["setup"] = setup
    out["reserves_after_setup"] = (market.reserve_data(c), market.reserve_data(d))
    market.advance(case.elapsed)
    out["reserves_after_time"] = (market.reserve_data(c), market.reserve_data(d))
    out["account_after_time"] = market.account_data("borrower")
    market.set_price(c, case.collateral_price_after)
    market.set_price(d, case.debt_price_after)
    out["account_after_prices"] = market.account_data("borrower")
    out["liquidation"] = attempt(market.liquidation_call, case.liquidator, case.seized.symbol, case.repaid.symbol,
                                 "borrower", case.debt_to_cover)
    out["account_after"] = market.account_data("borrower")
    out["reserves_after"] = (market.reserve_data(c), market.reserve_data(d))
    return out


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _reserve(rng: np.random.Generator, symbol: str) -> ReserveConfig:
    """Risk parameters the configurator accepts: LTV ≤ LT, percentMul(LT, bonus) ≤ 100%,
    1% ≤ U* ≤ 99%, slope1 ≤ slope2, base + slope1 + slope2 ≤ 1000% (Aave v3 `ReserveConfiguration.sol` and Aave governance listings; Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`)."""
    lt = int(rng.integers(5_000, 9_501))
    ltv = int(rng.integers(max(1_000, lt - 1_500), lt + 1))
    max_bonus = min(2_000, (10_000 * 10_000 + 5_000) // lt - 10_000)  # keeps percentMul(lt, 10000 + b) ≤ 10000
    while (lt * (10_000 + max_bonus) + 5_000) // 10_000 > 10_000:
        max_bonus -= 1
    bonus = 10_000 + int(rng.integers(1, max_bonus + 1))
    protocol_fee = 0 if rng.random() < 0.2 else int(rng.integers(1, 5_001))
    reserve_factor = 0 if rng.random() < 0.2 else int(rng.integers(1, 5_001))
    optimal = int(rng.integers(100, 9_901))
    base = 0 if rng.random() < 0.5 else int(rng.integers(1, 501))
    slope1 = int(rng.integers(0, 2_001))
    slope2 = int(rng.integers(slope1, min(30_000, 100_000 - base - slope1) + 1))
    return ReserveConfig(symbol, int(rng.choice(_DECIMALS)), ltv, lt, bonus, protocol_fee, reserve_factor,
                         optimal, base, slope1, slope2)


def _raw(value_usd: float, price: int, decimals: int) -> int:
    """Raw token units worth ``value_usd`` at ``price`` (USD·1e8), at least 1."""
    return max(1, int(value_usd * 1e8 / price * 10**decimals))


def _elapsed(rng: np.random.Generator) -> int:
    kind = rng.integers(0, 6)
    if kind == 0:
        return 0
    if kind == 1:
        return int(rng.integers(1, 13))
    return int(_log_uniform(rng, 12, (3_600, 86_400, _YEAR, 3 * _YEAR)[kind - 2]))


def _debt_to_cover(rng: np.random.Generator, borrowed: int) -> int:
    kind = rng.integers(0, 6)
    if kind == 0:
        return MAX_UINT256
    if kind == 1:
        return 1
    if kind == 2:
        return int(rng.integers(2, 1_000))
    if kind == 3:
        return 2 * borrowed + 1  # over-cover
    return max(1, int(borrowed * rng.uniform(0.0, 1.0)))


def _case(rng: np.random.Generator, label: str) -> Case:
    coll, debt = _reserve(rng, "COLL"), _reserve(rng, "DEBT")
    coll_price = max(1, int(_log_uniform(rng, 1e-2, 1e5) * 1e8))
    debt_price = max(1, int(_log_uniform(rng, 1e-1, 1e4) * 1e8))
    collateral_usd = _log_uniform(rng, 1e-2, 1e7)
    borrow_usd = collateral_usd * coll.ltv / 1e4 * rng.uniform(0.3, 0.99)
    utilization = rng.uniform(0.05, 0.99)
    lender_usd = borrow_usd / utilization
    saver_usd = lender_borrow_usd = 0.0
    if rng.random() < 0.5:
        saver_usd = collateral_usd * _log_uniform(rng, 0.1, 10.0)
        lender_borrow_usd = min(saver_usd * rng.uniform(0.0, 0.5), 0.9 * lender_usd * debt.ltv / 1e4)
    # price move toward a target health factor (ignoring interest; the spread is what matters)
    hf_now = coll.liquidation_threshold / 1e4 * collateral_usd / max(borrow_usd, 1e-12)
    target = rng.uniform(0.5, 1.1)
    debt_price_after = debt_price if rng.random() < 0.8 else max(1, int(debt_price * rng.uniform(0.9, 1.3)))
    coll_price_after = max(1, int(coll_price * target / hf_now * debt_price_after / debt_price))
    borrowed = _raw(borrow_usd, debt_price, debt.decimals)
    return Case(
        label, coll, debt, coll_price, debt_price,
        lender_supply=_raw(lender_usd, debt_price, debt.decimals),
        saver_supply=_raw(saver_usd, coll_price, coll.decimals) if saver_usd else 0,
        borrower_supply=_raw(collateral_usd, coll_price, coll.decimals),
        lender_borrow=_raw(lender_borrow_usd, coll_price, coll.decimals) if lender_borrow_usd > 0 else 0,
        borrower_borrow=borrowed,
        elapsed=_elapsed(rng),
        collateral_price_after=coll_price_after,
        debt_price_after=debt_price_after,
        debt_to_cover=_debt_to_cover(rng, borrowed),
    )


def _whole(rng: np.random.Generator, low: int, high: int) -> int:
    return int(rng.integers(low, high + 1))


def _opening_price(debt_base: int, tokens: int, ltv: int, rng: np.random.Generator) -> int:
    """A collateral price (USD·1e8) at which ``tokens`` whole tokens borrow ``debt_base`` within
    LTV with a margin of 10% to 100%."""
    return -(-debt_base * 10_000 * int(rng.integers(110, 201)) // (tokens * ltv * 100))


def _whole_token_case(label: str, family: str, coll: ReserveConfig, debt: ReserveConfig, tokens: int,
                      debt_tokens: int, debt_price: int, opening_price: int, usage_pct: int, price_after: int,
                      debt_to_cover: int) -> Case:
    """The borrower posts ``tokens`` whole collateral tokens at ``opening_price`` and borrows
    ``debt_tokens`` whole debt tokens (``usage_pct`` % of what the lender supplied); no time
    passes; the collateral price moves to ``price_after`` (prices USD·1e8, at least 1 unit)."""
    debt_raw = debt_tokens * 10**debt.decimals
    return Case(
        label, coll, debt, opening_price, debt_price,
        lender_supply=debt_raw * 100 // usage_pct + 1, saver_supply=0, borrower_supply=tokens * 10**coll.decimals,
        lender_borrow=0, borrower_borrow=debt_raw, elapsed=0, collateral_price_after=max(1, price_after),
        debt_price_after=debt_price, debt_to_cover=max(1, debt_to_cover), family=family)


#: Divisors of 10,000 and of 190,000: whole-token collateral at prices that hit an HF exactly.
_DIVISORS = {t: [g for g in range(1, 10_001) if 10_000 * t % g == 0] for t in (1, 19)}


def _health_factor_edge(rng: np.random.Generator, label: str) -> Case:
    """``a·g`` whole collateral tokens at price ``p`` against ``m`` whole debt tokens at ``q``,
    with ``k·p·LT = 10⁴·t·m·q``: the contracts' health factor (both versions, elapsed time 0)
    is then exactly ``t`` = 1 or 0.95; a price one unit off lands just beside it."""
    coll, debt = _reserve(rng, "COLL"), _reserve(rng, "DEBT")
    t_num, t_den = (1, 1) if rng.random() < 0.5 else (19, 20)
    g = int(rng.choice(_DIVISORS[t_num]))
    a = _whole(rng, 1, 20)
    q = max(1, int(_log_uniform(rng, 1e-4, 1e2) * 1e8))
    tokens, debt_tokens = a * g, coll.liquidation_threshold * t_den * a
    price_after = 10_000 * t_num * q // g + int(rng.choice([0, 0, -1, 1]))
    opening, usage_pct = _opening_price(debt_tokens * q, tokens, coll.ltv, rng), _whole(rng, 30, 99)
    debt_raw = debt_tokens * 10**debt.decimals
    cover = MAX_UINT256 if rng.random() < 0.5 else _debt_to_cover(rng, debt_raw)
    return _whole_token_case(label, "health_factor_edges", coll, debt, tokens, debt_tokens, q, opening, usage_pct,
                             price_after, cover)


#: Debt prices (USD·1e8) that divide $1,000 and $2,000: whole tokens worth exactly those.
_ROUND_PRICES = (10**6, 5 * 10**6, 10**7, 25 * 10**6, 5 * 10**7, 10**8, 2 * 10**8, 4 * 10**8, 5 * 10**8, 10**9,
                 2 * 10**9, 4 * 10**9, 10**10)
_THOUSAND = 1_000 * 10**8  # base units


def _base_thresholds(rng: np.random.Generator, label: str) -> Case:
    """Debts or collateral worth exactly $2,000 (or one token to either side), debts to cover
    leaving $1,000 of debt (or a raw unit beside) or about $1,000 of collateral; elapsed time 0."""
    coll, debt = _reserve(rng, "COLL"), _reserve(rng, "DEBT")
    q = int(rng.choice(_ROUND_PRICES))
    if rng.random() < 0.5:
        debt_tokens = 2 * _THOUSAND // q + int(rng.choice([-1, 0, 0, 1]))
    else:
        debt_tokens = max(1, int(rng.uniform(1.2, 4.0) * _THOUSAND) // q)
    debt_base = debt_tokens * q
    tokens = int(rng.choice([1, 2, 4, 5, 8, 10, 16, 20, 25, 40, 50, 80, 100]))
    if rng.random() < 0.3:  # collateral worth exactly $2,000 (or one price unit beside)
        price_after = 2 * _THOUSAND // tokens + int(rng.choice([-1, 0, 1]))
    else:  # a health factor of 0.8 to 1
        price_after = int(rng.uniform(0.8, 1.0) * debt_base * 10_000 / coll.liquidation_threshold / tokens)
    unit, debt_raw = 10**debt.decimals, debt_tokens * 10**debt.decimals
    kind = rng.integers(0, 4)
    if kind == 0:
        cover = MAX_UINT256
    elif kind == 1:  # leaves exactly $1,000 of debt, or one raw unit less or more
        cover = debt_raw - -(-_THOUSAND * unit // q) + int(rng.choice([-1, 0, 1]))
    elif kind == 2:  # leaves just under $1,000 of debt (rounded up to the base unit)
        cover = debt_raw - (_THOUSAND - 1) * unit // q
    else:  # leaves about $1,000 of collateral
        seized_base = tokens * price_after - _THOUSAND
        cover = seized_base * 10_000 * unit // (coll.liquidation_bonus * q) + int(rng.integers(-2, 3))
    opening, usage_pct = _opening_price(debt_base, tokens, coll.ltv, rng), _whole(rng, 30, 99)
    return _whole_token_case(label, "base_thresholds", coll, debt, tokens, debt_tokens, q, opening, usage_pct,
                             price_after, cover)


def _two_reserves(rng: np.random.Generator, label: str) -> Case:
    """A borrower with collateral in both reserves and/or debt in both; the collateral (or, when
    that cannot do it, the debt asset's) price moves to a health factor of 0.5 to 1.1."""
    coll, debt = _reserve(rng, "COLL"), _reserve(rng, "DEBT")
    pc = max(1, int(_log_uniform(rng, 1e-2, 1e5) * 1e8))
    pd = max(1, int(_log_uniform(rng, 1e-1, 1e4) * 1e8))
    kind = rng.integers(0, 3)  # 0: both collaterals, 1: both debts, 2: both of both
    coll_usd = _log_uniform(rng, 1e2, 1e7)
    other_coll_usd = coll_usd * _log_uniform(rng, 0.05, 2.0) if kind != 1 else 0.0
    power = (coll_usd * coll.ltv + other_coll_usd * debt.ltv) / 1e4 * rng.uniform(0.3, 0.95)
    share = rng.uniform(0.2, 0.8) if kind != 0 else 1.0
    # the collateral asset borrowed comes out of what the borrower supplied of it
    borrow_usd, other_borrow_usd = power * share, min(power * (1 - share), 0.9 * coll_usd)
    # tokens, for the price solve: HF = (Bc·pc·LTc + Bd·pd·LTd) / (Dd·pd + Dc·pc)
    bc, bd, dd_, dc = coll_usd / pc, other_coll_usd / pd, borrow_usd / pd, other_borrow_usd / pc
    lt_c, lt_d = coll.liquidation_threshold / 1e4, debt.liquidation_threshold / 1e4
    # half of them between the close-factor threshold and 1, where v3.6 caps at 50% of the total debt
    target = rng.uniform(0.5, 1.1) if rng.random() < 0.5 else rng.uniform(0.95, 1.0)
    pc_after, pd_after = pc, pd
    if bc * lt_c - target * dc > 0 and target * dd_ - bd * lt_d > 0:
        pc_after = max(1, int(pd * (target * dd_ - bd * lt_d) / (bc * lt_c - target * dc)))
    elif target * dd_ - bd * lt_d < 0 < bc * lt_c - target * dc:
        pd_after = max(1, int(pc * (bc * lt_c - target * dc) / (target * dd_ - bd * lt_d)))
    borrowed = _raw(borrow_usd, pd, debt.decimals)
    other = kind == 2 and rng.random() < 0.3  # liquidated on the other pair
    return Case(
        label, coll, debt, pc, pd,
        lender_supply=_raw(borrow_usd / rng.uniform(0.05, 0.99), pd, debt.decimals), saver_supply=0,
        borrower_supply=_raw(coll_usd, pc, coll.decimals), lender_borrow=0, borrower_borrow=borrowed,
        elapsed=_elapsed(rng), collateral_price_after=pc_after, debt_price_after=pd_after,
        debt_to_cover=_debt_to_cover(rng, _raw(other_borrow_usd, pc, coll.decimals) if other else borrowed),
        borrower_supply_debt_asset=_raw(other_coll_usd, pd, debt.decimals) if other_coll_usd else 0,
        borrower_borrow_collateral_asset=_raw(other_borrow_usd, pc, coll.decimals) if other_borrow_usd else 0,
        seize=debt.symbol if other else "", repay=coll.symbol if other else "", family="two_reserves")


def _other_calls(rng: np.random.Generator, label: str) -> Case:
    """A random case whose account is pushed below HF 1, then liquidated on a collateral it does
    not post, a debt it does not owe, or by the borrower itself."""
    base = _case(rng, label)
    hf_scale = rng.uniform(0.5, 0.95)  # the random case aimed at 0.5-1.1: push it below 1
    kind = rng.integers(0, 3)
    return replace(
        base, collateral_price_after=max(1, int(base.collateral_price_after * hf_scale)),
        seize=base.debt.symbol if kind == 0 else "", repay=base.collateral.symbol if kind == 1 else "",
        liquidator="borrower" if kind == 2 else "liquidator", family="other_calls")


def _full_utilisation(rng: np.random.Generator, label: str) -> Case:
    """A random case in which the borrower takes all the lender supplied."""
    base = _case(rng, label)
    return replace(base, lender_supply=base.borrower_borrow, saver_supply=0, lender_borrow=0,
                   family="full_utilisation")


#: Case families (see the module's docstring) and how each is drawn.
FAMILIES = {
    "random": _case,
    "health_factor_edges": _health_factor_edge,
    "base_thresholds": _base_thresholds,
    "two_reserves": _two_reserves,
    "other_calls": _other_calls,
    "full_utilisation": _full_utilisation,
}


def generate_cases(seed: int, n: int, family: str = "random") -> list[Case]:
    """``n`` cases of ``family`` (:data:`FAMILIES`) from one seeded generator, labelled
    ``"seed/i"`` (``"seed/family/i"`` for the aimed families); the same seed gives the same cases.

    >>> a, b = generate_cases(7, 3), generate_cases(7, 3)
    >>> a == b, len({c.collateral for c in a})
    (True, 3)
    >>> [c.label for c in generate_cases(7, 2, "two_reserves")]
    ['7/two_reserves/0', '7/two_reserves/1']
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown case family {family!r}; expected one of {sorted(FAMILIES)}")
    if family == "random":
        rng = np.random.default_rng(seed)
        return [_case(rng, f"{seed}/{i}") for i in range(n)]
    rng = np.random.default_rng([seed, list(FAMILIES).index(family)])
    return [FAMILIES[family](rng, f"{seed}/{family}/{i}") for i in range(n)]
