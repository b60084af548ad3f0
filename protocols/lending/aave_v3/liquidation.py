"""Aave v3 ``liquidationCall`` (Aave v3 `LiquidationLogic.executeLiquidationCall`): the outcome of one call — debt repaid,
collateral seized, liquidator share, protocol fee, deficit, revert reason — as a scalar function
and its vectorised twin, tested against each other and against the contracts
(``tests/evm``, v3.0 and v3.6).

Units as in :mod:`.math`: whole tokens, USD, plain fractions; rules ``"v3.3"`` (current mainnet),
``"v3.0"``, or ``"v2"`` (Aave v2, `LendingPoolCollateralManager.liquidationCall`).

References
----------
Aave v3 `LiquidationLogic.executeLiquidationCall`; worked example; aave-dao/aave-v3-origin ``LiquidationLogic.sol``,
``ValidationLogic.sol``; aave/aave-v3-core (v3.0) ``LiquidationLogic.sol``; aave/protocol-v2
``contracts/protocol/lendingpool/LendingPoolCollateralManager.sol`` (``liquidationCall``,
``_calculateAvailableCollateralToLiquidate``) and ``ValidationLogic.validateLiquidationCall``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .math import HEALTH_FACTOR_LIQUIDATION_THRESHOLD, _check_rules

__all__ = [
    "CLOSE_FACTOR_HF_THRESHOLD",
    "DEFAULT_LIQUIDATION_CLOSE_FACTOR",
    "MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD",
    "MIN_LEFTOVER_BASE_USD",
    "HEALTH_FACTOR_NOT_BELOW_THRESHOLD",
    "COLLATERAL_CANNOT_BE_LIQUIDATED",
    "SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER",
    "MUST_NOT_LEAVE_DUST",
    "LiquidationOutcome",
    "liquidation_call",
    "liquidation_calls",
]

#: ``CLOSE_FACTOR_HF_THRESHOLD = 0.95e18``: the 50% close factor needs ``HF > 0.95`` (Aave v3 `LiquidationLogic.executeLiquidationCall`).
CLOSE_FACTOR_HF_THRESHOLD = 0.95
#: ``DEFAULT_LIQUIDATION_CLOSE_FACTOR = 0.5e4`` (Aave v3 `LiquidationLogic.executeLiquidationCall`); Aave v2's
#: ``LIQUIDATION_CLOSE_FACTOR_PERCENT = 5000`` (`LendingPoolCollateralManager.liquidationCall`) is the same 50%.
DEFAULT_LIQUIDATION_CLOSE_FACTOR = 0.5
#: ``MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = 2000e8``: USD 2,000 (Aave v3 `LiquidationLogic.executeLiquidationCall`, v3.3+).
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD = 2_000.0
#: ``MIN_LEFTOVER_BASE = 1000e8``: USD 1,000 (Aave v3 `LiquidationLogic.executeLiquidationCall`, v3.3+).
MIN_LEFTOVER_BASE_USD = 1_000.0

#: Revert reasons of :func:`liquidation_call` (the contracts' error names; ``""`` = success).
HEALTH_FACTOR_NOT_BELOW_THRESHOLD = "HEALTH_FACTOR_NOT_BELOW_THRESHOLD"
COLLATERAL_CANNOT_BE_LIQUIDATED = "COLLATERAL_CANNOT_BE_LIQUIDATED"
SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER = "SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER"
MUST_NOT_LEAVE_DUST = "MUST_NOT_LEAVE_DUST"


# ----------------------------------------------------------------------------------------------
# liquidationCall (Aave v3 `LiquidationLogic.executeLiquidationCall`)
# ----------------------------------------------------------------------------------------------
class LiquidationOutcome(NamedTuple):
    """Result of one ``liquidationCall`` (floats), or of many (equal-length arrays).

    On a revert every amount is 0 and ``no_collateral_left`` is False.
    """

    debt_repaid: float
    """Debt tokens the liquidator pays (``actualDebtToLiquidate`` after the collateral cap)."""
    collateral_seized: float
    """Collateral tokens leaving the account: liquidator's share plus protocol fee."""
    liquidator_collateral: float
    """Collateral tokens the liquidator receives (``seized − fee``)."""
    protocol_fee_collateral: float
    """Collateral tokens sent to the treasury (``liquidationProtocolFee`` share of the bonus part)."""
    deficit: float
    """Debt tokens of the *debt reserve* burned and booked as reserve deficit (v3.3 rules only;
    always 0 under v3.0 and v2, where the residual debt stays on the account)."""
    revert: str
    """``""`` on success, else the contract's error name."""
    no_collateral_left: bool
    """The account holds no collateral after the call (contract ``hasNoCollateralLeft``). Under v3.3
    rules the debt of every *other* reserve is then also burned into deficit; that is the caller's
    to book, since this function sees one (collateral, debt) pair."""

    @property
    def ok(self):
        """True where the call succeeded (a bool, or a bool array for :func:`liquidation_calls`)."""
        return self.revert == ""


def _reverted(reason: str) -> LiquidationOutcome:
    return LiquidationOutcome(0.0, 0.0, 0.0, 0.0, 0.0, reason, False)




_PRICES = ("collateral_price_usd", "debt_price_usd")
_UNBOUNDED = ("hf", "debt_to_cover")  # inf allowed: no debt / "as much as allowed"


def _bad_input(name: str, value: float) -> str:
    """Why a scalar input is a programming error (not a revert), or ``""``."""
    if name in _PRICES:
        return "" if 0.0 < value < math.inf else "must be positive and finite"
    if name == "protocol_liquidation_fee":
        return "" if 0.0 <= value <= 1.0 else "must be a fraction in [0, 1]"
    if name in _UNBOUNDED:
        return "" if value >= 0.0 else "must be non-negative (inf allowed)"
    return "" if 0.0 <= value < math.inf else "must be non-negative and finite"


def _no_fee_under_v2(value) -> str:
    return (f"protocol_liquidation_fee must be 0 under rules 'v2' (Aave v2 has no protocol liquidation "
            f"fee: the whole bonus goes to the liquidator), got {value!r}")


def _check_liquidation_inputs(rules: str, **values) -> None:
    """Negative or NaN amounts, non-positive prices, fee shares outside [0, 1], a fee share other
    than 0 under v2 rules: ``ValueError``."""
    for name, value in values.items():
        reason = _bad_input(name, value)
        if reason:
            raise ValueError(f"{name} {reason}, got {value!r}")
    if rules == "v2" and values["protocol_liquidation_fee"] != 0.0:
        raise ValueError(_no_fee_under_v2(values["protocol_liquidation_fee"]))


def _check_liquidation_arrays(rules: str, **arrays) -> None:
    """The vectorised twin of :func:`_check_liquidation_inputs`."""
    fee = arrays["protocol_liquidation_fee"]
    for name, v in arrays.items():
        if name in _PRICES:
            good = (v > 0.0) & (v < np.inf)
        elif name == "protocol_liquidation_fee":
            good = (v >= 0.0) & (v <= 1.0)
        elif name in _UNBOUNDED:
            good = v >= 0.0
        else:
            good = (v >= 0.0) & (v < np.inf)
        if not good.all():
            bad = v[~good][0]
            raise ValueError(f"{name} {_bad_input(name, float(bad))}, got {bad!r}")
    if rules == "v2" and (fee != 0.0).any():
        raise ValueError(_no_fee_under_v2(float(fee[fee != 0.0][0])))


def liquidation_call(
    collateral: float,
    debt: float,
    collateral_price_usd: float,
    debt_price_usd: float,
    hf: float,
    liquidation_bonus: float,
    protocol_liquidation_fee: float,
    debt_to_cover: float = math.inf,
    *,
    other_collateral_usd: float = 0.0,
    other_debt_usd: float = 0.0,
    rules: str = "v3.3",
    close_factor_min_usd: float = MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD,
    min_leftover_usd: float = MIN_LEFTOVER_BASE_USD,
) -> LiquidationOutcome:
    """Outcome of ``liquidationCall`` on one (collateral, debt) pair of an account (Aave v3 `LiquidationLogic.executeLiquidationCall`; Aave v2 `LendingPoolCollateralManager.liquidationCall`).

    Steps, as in ``LiquidationLogic.executeLiquidationCall`` (v2: ``liquidationCall`` of
    ``LendingPoolCollateralManager`` and ``ValidationLogic.validateLiquidationCall``):

    1. **Validation** (contract order, the same in v2): ``hf ≥ 1`` reverts
       ``HEALTH_FACTOR_NOT_BELOW_THRESHOLD``; no collateral in this reserve reverts
       ``COLLATERAL_CANNOT_BE_LIQUIDATED``; no debt in this reserve reverts
       ``SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER`` (v2 names them ``LPCM_…``, codes 42, 43, 44).
       (Reserve active/paused flags, grace periods and the L2 sentinel are the caller's.)
    2. **Close factor.** ``rules="v3.3"`` (current mainnet, v3.3 … v3.7): the whole debt of the
       reserve is liquidatable, unless the collateral reserve is worth ≥ $2,000 *and* the debt
       reserve is worth ≥ $2,000 *and* ``hf > 0.95``; then at most 50% of the account's *total*
       debt (in USD) may be repaid, and only if the debt reserve exceeds that. ``rules="v3.0"``
       (v3.0 … v3.2): 50% of the reserve's debt if ``hf > 0.95``, else 100%. ``rules="v2"``:
       50% of the reserve's debt (``LIQUIDATION_CLOSE_FACTOR_PERCENT = 5000``) whatever the
       health factor, so even a deeply unhealthy account needs at least two calls.
    3. ``actualDebt = min(debt_to_cover, maxLiquidatableDebt)``.
    4. **Collateral.** ``seized = actualDebt · p_debt / p_coll · (1 + bonus)``; if that exceeds the
       balance, all of it is seized and the debt repaid is recomputed as
       ``balance · p_coll / p_debt / (1 + bonus)`` (v2's ``_calculateAvailableCollateralToLiquidate``
       and its ``debtAmountNeeded`` alike). The protocol fee is carved out of the bonus
       part only: ``fee = (seized − seized / (1 + bonus)) · protocol_liquidation_fee``; the
       liquidator gets ``seized − fee``. v2 has no protocol fee: the liquidator gets all of
       ``seized``, and ``protocol_liquidation_fee`` must be 0.
    5. **Leftover rule** (v3.3 only): if debt stays in the reserve *and* collateral stays in the
       reserve, both leftovers must be worth ≥ $1,000, else ``MUST_NOT_LEAVE_DUST``.
    6. **Deficit** (v3.3 only): if the account has no collateral left, the debt reserve's
       remaining debt is burned and returned as ``deficit`` (and ``no_collateral_left`` tells
       the caller to do the same for the account's other debt reserves). Under v3.0 and v2 rules
       the residual debt stays on the account.

    Parameters
    ----------
    collateral : float
        The account's balance of the collateral asset (tokens), counted only if enabled as
        collateral with LT ≠ 0 (pass 0 otherwise: the call reverts).
    debt : float
        The account's debt in the debt asset, interest accrued (tokens).
    collateral_price_usd, debt_price_usd : float
        Oracle prices (USD per token, > 0).
    hf : float
        The account's health factor before the call (:func:`~.math.health_factor`).
    liquidation_bonus : float
        Bonus on top of the repaid value as a fraction: 0.05 means the contract's 10500 (Aave v3 `ReserveConfiguration.sol` and Aave governance listings).
        Use the e-mode category's bonus when the account is in e-mode and this collateral is in
        the category (Aave v3 `LiquidationLogic.executeLiquidationCall` step 2).
    protocol_liquidation_fee : float
        Share of the *bonus* part that goes to the treasury (fraction, e.g. 0.10); must be 0
        under ``rules="v2"``.
    debt_to_cover : float, default inf
        What the liquidator offers to repay (debt tokens); ``inf`` = "as much as allowed"
        (``type(uint256).max`` on chain).
    other_collateral_usd : float, default 0
        Value of the account's *other* collateral (enabled, LT ≠ 0), USD. Only whether it is
        zero matters (deficit booking).
    other_debt_usd : float, default 0
        Value of the account's debt in *other* reserves, USD (the v3.3 50% cap is on total debt).
    rules : {"v3.3", "v3.0", "v2"}
        Rule set, see above.
    close_factor_min_usd, min_leftover_usd : float
        The v3.3 constants $2,000 and $1,000; exposed for what-if studies and for the worked example dust
        example, which uses $500.

    Returns
    -------
    LiquidationOutcome

    Notes
    -----
    Points the formula leaves open, resolved with the contract (``aave-v3-origin`` v3.3):

    - The leftover collateral of step 5 is ``balance − seized`` *including* the protocol fee
      (the deployed v3.3 code; an audited pre-release omitted the fee).
    - The leftover rule is applied after the collateral cap, to the recomputed debt repaid.
    - At exactly ``hf == 0.95`` the close factor is 100% under v3.0 and v3.3 rules (both
      contracts test ``hf > 0.95`` for the 50% factor); v2 has no such threshold.
    - v2 applies its 50% to the reserve's stable plus variable debt; this model has variable
      debt only.
    - ``hasNoCollateralLeft`` compares USD totals on chain; here it is ``seized ≥ collateral``
      and ``other_collateral_usd ≤ 0``, exact in float64.
    - ``debt_to_cover = 0`` does not revert by itself (the contract has no such check); it
      repays nothing, or reverts ``MUST_NOT_LEAVE_DUST`` on a small position.
    - Float rounding could make the 50% cap or the recomputed repayment exceed the debt by an
      ulp where the contract's floor division cannot; both are clamped, so
      ``debt_repaid ≤ min(debt, debt_to_cover)`` always.

    Negative or NaN amounts, non-positive prices, fee shares outside [0, 1] and a non-zero fee
    share under v2 rules raise ``ValueError``: they are bugs, not reverts.

    See Also
    --------
    liquidation_calls : the vectorised twin (many accounts or pairs at once).

    Examples
    --------
    Worked example A: 10 WETH at $1,800, 15,000 USDC debt, HF 0.996.

    >>> out = liquidation_call(10.0, 15_000.0, 1_800.0, 1.0, hf=0.996,
    ...                        liquidation_bonus=0.05, protocol_liquidation_fee=0.10)
    >>> out.debt_repaid, round(out.collateral_seized, 9), round(out.protocol_fee_collateral, 7)
    (7500.0, 4.375, 0.0208333)
    >>> out.revert, out.ok
    ('', True)

    Case C (price $1,400): collateral runs out, the rest of the debt becomes deficit.

    >>> out = liquidation_call(10.0, 15_000.0, 1_400.0, 1.0, hf=0.774667,
    ...                        liquidation_bonus=0.05, protocol_liquidation_fee=0.10)
    >>> round(out.debt_repaid, 2), round(out.deficit, 2), out.no_collateral_left
    (13333.33, 1666.67, True)
    >>> liquidation_call(10.0, 15_000.0, 2_000.0, 1.0, hf=1.1, liquidation_bonus=0.05,
    ...                  protocol_liquidation_fee=0.10).revert
    'HEALTH_FACTOR_NOT_BELOW_THRESHOLD'

    Under v2 rules case C repays only half (at most 7,500 of the 15,000 USDC however low the
    health factor) and the liquidator keeps the whole bonus: 7,500 × 1.05 / 1,400 WETH.

    >>> out = liquidation_call(10.0, 15_000.0, 1_400.0, 1.0, hf=0.774667, liquidation_bonus=0.05,
    ...                        protocol_liquidation_fee=0.0, rules="v2")
    >>> out.debt_repaid, out.liquidator_collateral == out.collateral_seized == 7_500.0 * 1.05 / 1_400.0, out.deficit
    (7500.0, True, 0.0)
    """
    _check_rules(rules)
    # every input in range, in the order :func:`_check_liquidation_inputs` names them; it runs only
    # to name the first bad one (a liquidation on the hot path pays one chained test)
    if not (0.0 <= collateral < math.inf and 0.0 <= debt < math.inf and 0.0 < collateral_price_usd < math.inf
            and 0.0 < debt_price_usd < math.inf and hf >= 0.0 and 0.0 <= liquidation_bonus < math.inf
            and 0.0 <= protocol_liquidation_fee <= 1.0 and debt_to_cover >= 0.0
            and 0.0 <= other_collateral_usd < math.inf and 0.0 <= other_debt_usd < math.inf
            and (rules != "v2" or protocol_liquidation_fee == 0.0)):
        _check_liquidation_inputs(
            rules, collateral=collateral, debt=debt, collateral_price_usd=collateral_price_usd,
            debt_price_usd=debt_price_usd, hf=hf, liquidation_bonus=liquidation_bonus,
            protocol_liquidation_fee=protocol_liquidation_fee, debt_to_cover=debt_to_cover,
            other_collateral_usd=other_collateral_usd, other_debt_usd=other_debt_usd,
        )
    # 1. validation, in the contract's order
    if hf >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
        return _reverted(HEALTH_FACTOR_NOT_BELOW_THRESHOLD)
    if collateral <= 0.0:
        return _reverted(COLLATERAL_CANNOT_BE_LIQUIDATED)
    if debt <= 0.0:
        return _reverted(SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER)

    lb = 1.0 + liquidation_bonus
    collateral_usd = collateral * collateral_price_usd
    debt_usd = debt * debt_price_usd

    # 2. close factor
    if rules == "v2":
        max_debt = debt * DEFAULT_LIQUIDATION_CLOSE_FACTOR
    elif rules == "v3.0":
        max_debt = debt * DEFAULT_LIQUIDATION_CLOSE_FACTOR if hf > CLOSE_FACTOR_HF_THRESHOLD else debt
    else:
        max_debt = debt
        if (
            collateral_usd >= close_factor_min_usd
            and debt_usd >= close_factor_min_usd
            and hf > CLOSE_FACTOR_HF_THRESHOLD
        ):
            cap_usd = (debt_usd + other_debt_usd) * DEFAULT_LIQUIDATION_CLOSE_FACTOR
            if debt_usd > cap_usd:
                max_debt = min(cap_usd / debt_price_usd, debt)

    # 3. what the liquidator asked for, within the close factor
    to_liquidate = min(debt_to_cover, max_debt)

    # 4. collateral to seize, capped by the balance (then the debt repaid is recomputed); the fee is 0 under v2
    seized = to_liquidate * debt_price_usd / collateral_price_usd * lb
    repaid = to_liquidate
    if seized > collateral:
        seized = collateral
        repaid = min(collateral * collateral_price_usd / debt_price_usd / lb, to_liquidate)
    fee = (seized - seized / lb) * protocol_liquidation_fee
    liquidator = seized - fee

    # 5. leftover ("dust") rule, v3.3+
    if rules == "v3.3" and repaid < debt and seized < collateral:
        debt_left_usd = (debt - repaid) * debt_price_usd
        collateral_left_usd = (collateral - seized) * collateral_price_usd
        if debt_left_usd < min_leftover_usd or collateral_left_usd < min_leftover_usd:
            return _reverted(MUST_NOT_LEAVE_DUST)

    # 6. bad debt
    no_collateral_left = seized >= collateral and other_collateral_usd <= 0.0
    deficit = debt - repaid if (rules == "v3.3" and no_collateral_left) else 0.0
    return LiquidationOutcome(repaid, seized, liquidator, fee, deficit, "", no_collateral_left)


def liquidation_calls(
    collateral,
    debt,
    collateral_price_usd,
    debt_price_usd,
    hf,
    liquidation_bonus,
    protocol_liquidation_fee,
    debt_to_cover=np.inf,
    *,
    other_collateral_usd=0.0,
    other_debt_usd=0.0,
    rules: str = "v3.3",
    close_factor_min_usd: float = MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD,
    min_leftover_usd: float = MIN_LEFTOVER_BASE_USD,
) -> LiquidationOutcome:
    """``liquidationCall`` outcomes for many (collateral, debt) pairs at once (Aave v3 `LiquidationLogic.executeLiquidationCall`; Aave v2 `LendingPoolCollateralManager.liquidationCall`).

    The vectorised twin of :func:`liquidation_call`: the same arguments as arrays (broadcast
    together; ``rules`` and the two USD constants are shared), the same float operations in the
    same order, so each element equals the scalar result exactly.

    Returns
    -------
    LiquidationOutcome
        Of 1-d arrays: float64 amounts, ``revert`` as a numpy string array (``""`` on success),
        ``no_collateral_left`` as bool.

    Examples
    --------
    Worked examples A, B and C in one call (one WETH price per account), plus a healthy account:

    >>> out = liquidation_calls(10.0, 15_000.0, [1_800.0, 1_700.0, 1_400.0, 2_000.0], 1.0,
    ...                         hf=[0.996, 0.940667, 0.774667, 1.1],
    ...                         liquidation_bonus=0.05, protocol_liquidation_fee=0.10)
    >>> out.debt_repaid.round(2).tolist()
    [7500.0, 15000.0, 13333.33, 0.0]
    >>> out.deficit.round(2).tolist(), out.ok.tolist()
    ([0.0, 0.0, 1666.67, 0.0], [True, True, True, False])

    The same accounts under v2 rules: half of the debt at every health factor, no fee.

    >>> out = liquidation_calls(10.0, 15_000.0, [1_800.0, 1_700.0, 1_400.0, 2_000.0], 1.0,
    ...                         hf=[0.996, 0.940667, 0.774667, 1.1],
    ...                         liquidation_bonus=0.05, protocol_liquidation_fee=0.0, rules="v2")
    >>> out.debt_repaid.tolist(), out.protocol_fee_collateral.tolist()
    ([7500.0, 7500.0, 7500.0, 0.0], [0.0, 0.0, 0.0, 0.0])
    """
    _check_rules(rules)
    names = (
        "collateral", "debt", "collateral_price_usd", "debt_price_usd", "hf", "liquidation_bonus",
        "protocol_liquidation_fee", "debt_to_cover", "other_collateral_usd", "other_debt_usd",
    )
    values = (
        collateral, debt, collateral_price_usd, debt_price_usd, hf, liquidation_bonus,
        protocol_liquidation_fee, debt_to_cover, other_collateral_usd, other_debt_usd,
    )
    arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in values))
    _check_liquidation_arrays(rules, **dict(zip(names, arrays)))
    c, d, pc, pd, h, bonus, fee_share, cover, other_c, other_d = arrays

    lb = 1.0 + bonus
    collateral_usd = c * pc
    debt_usd = d * pd

    # 2. close factor
    if rules == "v2":
        max_debt = d * DEFAULT_LIQUIDATION_CLOSE_FACTOR
    elif rules == "v3.0":
        max_debt = np.where(h > CLOSE_FACTOR_HF_THRESHOLD, d * DEFAULT_LIQUIDATION_CLOSE_FACTOR, d)
    else:
        cap_usd = (debt_usd + other_d) * DEFAULT_LIQUIDATION_CLOSE_FACTOR
        halve = (
            (collateral_usd >= close_factor_min_usd)
            & (debt_usd >= close_factor_min_usd)
            & (h > CLOSE_FACTOR_HF_THRESHOLD)
            & (debt_usd > cap_usd)
        )
        max_debt = np.where(halve, np.minimum(cap_usd / pd, d), d)

    # 3.
    to_liquidate = np.minimum(cover, max_debt)

    # 4. collateral, capped by the balance
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        uncapped = to_liquidate * pd / pc * lb
        capped = uncapped > c
        seized = np.where(capped, c, uncapped)
        repaid = np.where(capped, np.minimum(c * pc / pd / lb, to_liquidate), to_liquidate)
        fee = (seized - seized / lb) * fee_share
        liquidator = seized - fee

        # 5. leftover rule
        if rules == "v3.3":
            partial = (repaid < d) & (seized < c)
            short = ((d - repaid) * pd < min_leftover_usd) | ((c - seized) * pc < min_leftover_usd)
            dust = partial & short
        else:
            dust = np.zeros(c.shape, dtype=bool)

    # 1. validation (first matching reason wins, as in the contract)
    revert = np.select(
        [h >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD, c <= 0.0, d <= 0.0, dust],
        [HEALTH_FACTOR_NOT_BELOW_THRESHOLD, COLLATERAL_CANNOT_BE_LIQUIDATED,
         SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER, MUST_NOT_LEAVE_DUST],
        default="",
    )
    ok = revert == ""

    # 6. bad debt
    no_collateral_left = ok & (seized >= c) & (other_c <= 0.0)
    if rules == "v3.3":
        deficit = np.where(no_collateral_left, d - repaid, 0.0)
    else:
        deficit = np.zeros(c.shape)
    zero = 0.0
    return LiquidationOutcome(
        np.where(ok, repaid, zero),
        np.where(ok, seized, zero),
        np.where(ok, liquidator, zero),
        np.where(ok, fee, zero),
        np.where(ok, deficit, zero),
        revert,
        no_collateral_left,
    )
