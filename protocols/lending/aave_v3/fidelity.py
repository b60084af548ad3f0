"""How far the float64 engine may be from the exact-integer model, and where their decisions may
legitimately differ (Aave `WadRayMath.sol` and `PercentageMath.sol`: half-up rounding; Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt; Aave v3 `LiquidationLogic.executeLiquidationCall`; Aave v3 `ReserveConfiguration.sol` and Aave governance listings; Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`; Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`; ``docs/fidelity.md``).

The engine computes in float64 and ignores the contracts' integer rounding; the exact model
(:mod:`.exact`, :class:`~.exact_pool.ExactPool`) reproduces it. On the same replay
(:func:`~.cases.run_case`) :func:`compare` checks every observation against this bound:

**Tolerance.** Contract rounding moves an amount by a few units of its *granularity*
``g`` = the largest of one base unit (1e-8 USD) and one *scaled* unit of either token of the
case (balances are stored scaled: one scaled unit is ``index`` raw units, with ``index`` the
largest of the case's indices), measured in value (base units). So, with ``RTOL`` = 1e-9 and
``K`` = 4:

- token amounts of token T: ``|float − exact| ≤ RTOL·scale + K·g / value_of_one_raw_T + K·index``
  (``scale`` is the amount itself; for the deficit and the protocol fee, which are differences
  of larger amounts, the debt before the call and the collateral seized);
- base-currency values: ``≤ RTOL·value + K·g``;
- health factor, relative: ``≤ RTOL + K·g/collateral_base + K·g/debt_base``, plus under v3.0
  with more than one collateral one bps of the average liquidation threshold (v3.0 floors that
  average to whole bps; the engine does not);
- rates: compared on the float side's own balances (the exact strategy applied to the float
  model's total debt, cash and deficit), relative ``RTOL`` plus ``1e18/total_debt + 2`` ray units
  for v3.0's wad-to-ray round trip in ``_getOverallBorrowRate``;
- indices, relative: ``RTOL`` plus their growth times the relative difference of the rate that
  drove them.

**Boundary cases** (:data:`BOUNDARIES`): the float and exact paths may decide a liquidation
differently only when the exact path is within the tolerance of one of the contract's
thresholds, or when an amount rounds to zero in the contract:

- ``dust``: the contract reverts ``INVALID_BURN_AMOUNT`` because the collateral to seize or the
  scaled debt to burn rounds to 0; the float path has no integers to round, and its call must
  move at most ``K`` scaled units (plus one raw unit) of one of the two tokens;
- ``health factor at 1``: HF within tolerance of 1.0 (liquidatable or not);
- ``close factor at 0.95``: HF within tolerance of 0.95 (50% or 100% close factor);
- ``$2,000 / $1,000 thresholds`` (v3.6): a reserve's collateral or debt value within tolerance
  of $2,000 (close factor), the total debt's half of the reserve's debt (cap), or a leftover
  within tolerance of $1,000 (``MUST_NOT_LEAVE_DUST``);
- ``collateral cap``: the collateral for the debt within tolerance of the whole balance (the
  call switches to the collateral-limited branch);
- ``no collateral left`` (v3.6): what remains is worth less than the tolerance (the contract
  compares floored base values; v3.6 then writes off the rest as deficit).

A boundary explains only the decision it can flip: HF at 1 whether the account is liquidatable
(``HEALTH_FACTOR_NOT_BELOW_THRESHOLD`` on one side), the others v3.6's leftover check
(``MUST_NOT_LEAVE_DUST`` on one side). After a liquidation decided differently, or one on an
amount boundary (the close factor or the branch switched), the two states differ by design, so
the observations that follow it are not compared. ``setup`` steps (supply, borrow) are compared on revert or not:
the engine checks a borrow against LTV only, so a borrow at the LTV limit can revert for
``HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD`` in the contract and for
``COLLATERAL_CANNOT_COVER_NEW_BORROW`` in the engine.
"""
from __future__ import annotations

from typing import NamedTuple

from . import exact as x
from .cases import Case, Reverted
from .replay import MAX_UINT256, AccountData, LiquidationResult, ReserveData

__all__ = ["RTOL", "K", "BOUNDARIES", "Comparison", "granularity", "hf_tolerance", "compare", "boundaries_of"]

#: Relative tolerance of float64 arithmetic chains (about 1e6 ulps).
RTOL = 1e-9
#: Units of the case's value granularity any amount may move by through contract rounding.
K = 4
#: The named cases where float and exact liquidation decisions may differ.
BOUNDARIES = ("dust", "health factor at 1", "close factor at 0.95", "$2,000 / $1,000 thresholds",
              "collateral cap", "no collateral left")


def _unit_value(price: int, decimals: int) -> float:
    """Base units (1e-8 USD) one raw unit is worth."""
    return price / 10**decimals


def granularity(case: Case, prices: tuple[int, int] | None = None, index: float = 1.0) -> float:
    """The case's value granularity ``g`` (base units): the largest of one base unit and
    ``index`` raw units (one scaled unit) of either token at ``prices`` (collateral, debt;
    default: the prices after the move)."""
    pc, pd = prices or (case.collateral_price_after, case.debt_price_after)
    return max(1.0, index * _unit_value(pc, case.collateral.decimals), index * _unit_value(pd, case.debt.decimals))


def hf_tolerance(version: str, exact: AccountData, g: float) -> float:
    """Relative tolerance of the health factor: ``RTOL + K·g/collateral + K·g/debt``, plus, under
    v3.0 with more than one collateral, one bps of the average liquidation threshold, which v3.0
    floors to whole bps (``Σ base·LT // Σ base``) and the engine does not."""
    rel = RTOL + K * g / max(exact.total_collateral_base, 1) + K * g / max(exact.total_debt_base, 1)
    if version == "v3.0" and sum(balance > 0 for balance in exact.collateral.values()) > 1 and exact.total_debt_base:
        average_lt_bps = exact.health_factor / x.WAD * exact.total_debt_base / exact.total_collateral_base * 1e4
        rel += 1 / max(average_lt_bps, 1.0)
    return rel


class _Checker:
    def __init__(self, case: Case, version: str):
        self.case, self.version, self.problems = case, version, []
        self.index = 1.0  # the largest index so far (RAY = 1): raw units per scaled unit

    def near(self, a: float, b: float, tol: float, what: str) -> None:
        if not abs(a - b) <= tol:
            self.problems.append(f"{what}: float {a} vs exact {b} (tolerance {tol:.4g})")

    def amount(self, f: int, e: int, decimals: int, price: int, g: float, what: str, scale: int | None = None) -> None:
        unit = _unit_value(price, decimals)
        self.near(f, e, RTOL * abs(scale if scale is not None else e) + K * g / unit + K * self.index, what)

    def account(self, f: AccountData, e: AccountData, prices: tuple[int, int], what: str) -> None:
        c = self.case
        g = granularity(c, prices, self.index)
        self.near(f.total_collateral_base, e.total_collateral_base, RTOL * e.total_collateral_base + K * g, f"{what}.total_collateral_base")
        self.near(f.total_debt_base, e.total_debt_base, RTOL * e.total_debt_base + K * g, f"{what}.total_debt_base")
        for sym, cfg, price in ((c.collateral.symbol, c.collateral, prices[0]), (c.debt.symbol, c.debt, prices[1])):
            self.amount(f.collateral[sym], e.collateral[sym], cfg.decimals, price, g, f"{what}.collateral[{sym}]")
            self.amount(f.debt[sym], e.debt[sym], cfg.decimals, price, g, f"{what}.debt[{sym}]")
        if e.health_factor == MAX_UINT256 or f.health_factor == MAX_UINT256:
            if e.total_debt_base > K * g or f.total_debt_base > K * g:
                self.near(f.health_factor, e.health_factor, 0, f"{what}.health_factor (no debt on one side)")
            return
        self.near(f.health_factor, e.health_factor, hf_tolerance(self.version, e, g) * e.health_factor + 1,
                  f"{what}.health_factor")

    def reserve(self, f: ReserveData, e: ReserveData, cfg, price: int, g: float, what: str,
                rate_drift: float, rates_set_now: bool = True) -> None:
        """``rates_set_now``: the last action on the reserve happened at this time, so its rates
        are the strategy's at the balances observed (else they were set earlier)."""
        for field in ("total_debt", "available_liquidity", "deficit"):
            self.amount(getattr(f, field), getattr(e, field), cfg.decimals, price, g, f"{what}.{field}")
        if rates_set_now:
            self.rates(f, cfg, what)
        self.near(f.liquidity_index, e.liquidity_index,
                  RTOL * e.liquidity_index + (e.liquidity_index - x.RAY) * rate_drift, f"{what}.liquidity_index")
        if e.total_debt:  # without debt the contract's normalised view grows an index nobody owes on
            self.near(f.variable_borrow_index, e.variable_borrow_index,
                      RTOL * e.variable_borrow_index + (e.variable_borrow_index - x.RAY) * rate_drift,
                      f"{what}.variable_borrow_index")

    def rates(self, f: ReserveData, cfg, what: str) -> None:
        """The float rates against the exact strategy applied to the float side's own balances,
        anywhere within one raw unit of them (the observed balances are the float ones rounded)."""
        unbacked = f.deficit if self.version == "v3.6" else 0
        corners = [x.interest_rates_exact(self.version, max(d, 0), max(a, 0), unbacked, cfg.reserve_factor,
                                          cfg.optimal_usage, cfg.base_rate, cfg.slope1, cfg.slope2)
                   for d in (f.total_debt - 1, f.total_debt, f.total_debt + 1)
                   for a in (f.available_liquidity - 1, f.available_liquidity, f.available_liquidity + 1)]
        slack = 2 + (10**18 // max(f.total_debt - 1, 1) if self.version == "v3.0" else 0)
        for i, name in ((1, "variable_borrow_rate"), (0, "liquidity_rate")):
            low, high = min(r[i] for r in corners), max(r[i] for r in corners)
            value = getattr(f, name)
            tol = RTOL * high + slack
            if not low - tol <= value <= high + tol:
                self.problems.append(f"{what}.{name}: float {value} outside the exact strategy's [{low}, {high}] "
                                     f"(tolerance {tol:.4g})")


def _rate_drift(f: ReserveData, e: ReserveData) -> float:
    """Relative difference of the rates in force (drives the indices' difference)."""
    drift = 0.0
    for a, b in ((f.liquidity_rate, e.liquidity_rate), (f.variable_borrow_rate, e.variable_borrow_rate)):
        if a != b:
            drift = max(drift, abs(a - b) / max(abs(b), 1))
    return drift + RTOL


def boundaries_of(case: Case, version: str, before: AccountData, index: float = 1.0) -> list[str]:
    """The named boundaries (:data:`BOUNDARIES`, without ``dust``) the liquidation of ``case``
    sits on, judged on the exact account data before the call (``index``: raw units per scaled
    unit, see :func:`granularity`); empty if it is clear of all."""
    c = case
    seized, repaid = c.seized, c.repaid
    pc, pd = c.price_after(seized), c.price_after(repaid)
    g = granularity(c, None, index)
    near = []
    hf = before.health_factor
    if hf != MAX_UINT256:
        rel = hf_tolerance(version, before, g)
        for threshold, name in ((x.WAD, "health factor at 1"), (x.CLOSE_FACTOR_HF_THRESHOLD, "close factor at 0.95")):
            if abs(hf - threshold) <= rel * threshold + 1:
                near.append(name)
    coll = before.collateral[seized.symbol]
    debt = before.debt[repaid.symbol]
    coll_value, debt_value = coll * pc / 10**seized.decimals, debt * pd / 10**repaid.decimals
    tol = RTOL * max(coll_value, debt_value) + K * g
    bonus = seized.liquidation_bonus / 1e4
    cover = min(c.debt_to_cover, debt) * pd / 10**repaid.decimals
    covers = (cover, cover / 2)
    if version == "v3.6":
        cap = before.total_debt_base / 2
        covers = (cover, min(cover, cap))
        thresholds = (abs(coll_value - x.MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD) <= tol
                      or abs(debt_value - x.MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD) <= tol
                      or abs(debt_value - cap) <= tol)
        for to_cover in covers:
            taken = min(to_cover * bonus, coll_value)  # collateral value seized
            thresholds = thresholds or (abs(debt_value - taken / bonus - x.MIN_LEFTOVER_BASE) <= tol * bonus
                                        or abs(coll_value - taken - x.MIN_LEFTOVER_BASE) <= tol * bonus)
            if 0 < before.total_collateral_base - taken <= tol * bonus:
                near.append("no collateral left")
        if thresholds:
            near.append("$2,000 / $1,000 thresholds")
    if any(abs(to_cover * bonus - coll_value) <= tol * bonus for to_cover in covers):
        near.append("collateral cap")
    return list(dict.fromkeys(near))


class Comparison(NamedTuple):
    """Result of :func:`compare`: ``problems`` (empty when the engine is within tolerance);
    ``boundary``, the named boundary a liquidation decided differently sits on (``None`` when
    the decisions agree); ``amounts_unchecked``, the boundary on which a liquidation both sides
    made moved different amounts by design (the close factor or the branch switched)."""

    problems: list[str]
    boundary: str | None = None
    amounts_unchecked: str | None = None


#: Boundaries across which the same decision moves different amounts.
_AMOUNT_BOUNDARIES = ("close factor at 0.95", "$2,000 / $1,000 thresholds", "collateral cap", "no collateral left")
#: The revert a boundary can flip: HF at 1 decides liquidatable or not; the others switch the
#: close factor or the branch, which decides v3.6's leftover check.
_FLIPS = {"health factor at 1": "HEALTH_FACTOR_NOT_BELOW_THRESHOLD"} | {b: "MUST_NOT_LEAVE_DUST" for b in _AMOUNT_BOUNDARIES}


def _explained(decided_e: str, decided_f: str, float_outcome, near: list[str], dust_raw: float) -> str | None:
    """The named boundary that explains exact deciding ``decided_e`` and float ``decided_f``
    (``""``: the call went through), or ``None``. ``dust``: the contract could not burn an amount
    that rounds to 0 and the float call moved at most ``dust_raw`` raw units of one token."""
    if decided_e == "INVALID_BURN_AMOUNT" and isinstance(float_outcome, LiquidationResult):
        if min(float_outcome.debt_repaid, float_outcome.collateral_to_liquidator) <= dust_raw:
            return "dust"
    return next((b for b in near if _FLIPS[b] in (decided_e, decided_f)), None)


def compare(case: Case, version: str, exact: dict, engine: dict) -> Comparison:
    """Compare the engine's replay of ``case`` (``engine``, from :func:`~.cases.run_case`) with
    the exact replay (``exact``) under the tolerance of this module."""
    c, check = case, _Checker(case, version)
    setup_e = [isinstance(o, Reverted) for o in exact["setup"]]
    setup_f = [isinstance(o, Reverted) for o in engine["setup"]]
    if setup_e != setup_f:
        return Comparison([f"setup: exact {exact['setup']} vs float {engine['setup']}"])
    g0 = granularity(c, (c.collateral_price, c.debt_price))
    for step in ("reserves_after_setup", "reserves_after_time"):
        for i, (cfg, price) in enumerate(((c.collateral, c.collateral_price), (c.debt, c.debt_price))):
            drift = _rate_drift(engine["reserves_after_setup"][i], exact["reserves_after_setup"][i])
            check.reserve(engine[step][i], exact[step][i], cfg, price, g0, f"{step}[{cfg.symbol}]", drift,
                          rates_set_now=step == "reserves_after_setup")
    for side, name in ((engine, "float"), (exact, "exact")):  # no action, no new rates
        for before, after in zip(side["reserves_after_setup"], side["reserves_after_time"]):
            if (before.liquidity_rate, before.variable_borrow_rate) != (after.liquidity_rate, after.variable_borrow_rate):
                check.problems.append(f"{name} rates changed while time passed: {before} -> {after}")
    check.index = max(max(r.liquidity_index, r.variable_borrow_index) for r in exact["reserves_after_time"]) / x.RAY
    prices0, prices1 = (c.collateral_price, c.debt_price), (c.collateral_price_after, c.debt_price_after)
    check.account(engine["account_after_time"], exact["account_after_time"], prices0, "account_after_time")
    check.account(engine["account_after_prices"], exact["account_after_prices"], prices1, "account_after_prices")
    le, lf = exact["liquidation"], engine["liquidation"]
    decided_e = le.reason if isinstance(le, Reverted) else ""
    decided_f = lf.reason if isinstance(lf, Reverted) else ""
    near = boundaries_of(c, version, exact["account_after_prices"], check.index)
    if decided_e != decided_f:
        name = _explained(decided_e, decided_f, lf, near, K * check.index + 1)
        if name is None:
            check.problems.append(f"liquidation: exact {le} vs float {lf}, on no named boundary that explains it")
        return Comparison(check.problems, name)
    unchecked = next((b for b in near if b in _AMOUNT_BOUNDARIES), None)
    if unchecked and isinstance(le, LiquidationResult):
        return Comparison(check.problems, None, unchecked)
    if isinstance(le, LiquidationResult):
        g = granularity(c, None, check.index)
        cd, dd = c.seized, c.repaid
        pc, pd = c.price_after(cd), c.price_after(dd)
        check.amount(lf.debt_repaid, le.debt_repaid, dd.decimals, pd, g, "liquidation.debt_repaid")
        check.amount(lf.collateral_to_liquidator, le.collateral_to_liquidator, cd.decimals, pc, g,
                     "liquidation.collateral_to_liquidator")
        check.amount(lf.protocol_fee, le.protocol_fee, cd.decimals, pc, g, "liquidation.protocol_fee",
                     scale=le.collateral_to_liquidator + le.protocol_fee)
        check.amount(lf.deficit_created, le.deficit_created, dd.decimals, pd, g, "liquidation.deficit_created",
                     scale=exact["account_after_prices"].debt[dd.symbol])
    check.account(engine["account_after"], exact["account_after"], prices1, "account_after")
    g1 = granularity(c, None, check.index)
    for cfg, price, f, e, f0, e0 in zip((c.collateral, c.debt), prices1, engine["reserves_after"], exact["reserves_after"],
                                        engine["reserves_after_setup"], exact["reserves_after_setup"]):
        check.reserve(f, e, cfg, price, g1, f"reserves_after[{cfg.symbol}]", _rate_drift(f0, e0),
                      rates_set_now=isinstance(le, LiquidationResult))
    return Comparison(check.problems)
