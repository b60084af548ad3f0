"""AMM math: constant product, concentrated liquidity in one range, StableSwap (Uniswap v2 `UniswapV2Library.sol`; Curve StableSwap whitepaper).

Free functions on float64 whole-token amounts (no decimals, no wei). Where a function iterates or
branches, a ``*_vec`` twin does the same on numpy arrays, element by element, with the same arithmetic
in the same order; closed-form helpers accept scalars or arrays directly.

Rounding: the contracts round in the pool's favour with integer wei (``floor`` on outputs, ``+ 1`` on
required inputs, ``- 1`` on StableSwap outputs). In whole-token floats one wei is below the resolution of
the numbers, so those wei adjustments are dropped; :func:`get_amount_in` still rounds up, in floats, so
that ``get_amount_out(get_amount_in(y)) >= y`` holds exactly.

References
----------
Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input (Uniswap v2), Uniswap v3 whitepaper (Uniswap v3), Curve StableSwap whitepaper, Egorov 2019, and its `get_D` / `get_y` (Curve StableSwap), Uniswap v2 whitepaper: constant-product price impact (price-impact helpers),
Uniswap v2 whitepaper (LP value and impermanent loss, leveraged LP);
Uniswap/v2-periphery ``UniswapV2Library.sol``; Uniswap/v3-core ``SwapMath.sol``, ``SqrtPriceMath.sol``;
Curve StableSwap ``get_D`` / ``get_y`` / ``get_dy``; the StableSwap whitepaper.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

__all__ = [
    # Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input Uniswap v2
    "get_amount_out",
    "get_amount_out_vec",
    "get_amount_in",
    "get_amount_in_vec",
    "cpmm_spot_price",
    # Uniswap v3 whitepaper Uniswap v3, one initialized-tick interval
    "V3Step",
    "v3_swap_step",
    "v3_position_amounts",
    "v3_amount_in_to_price",
    # Curve StableSwap whitepaper, Egorov 2019, and its `get_D` / `get_y` Curve StableSwap
    "get_D",
    "get_D_vec",
    "get_y",
    "get_y_vec",
    "get_dy",
    "get_dy_vec",
    "exchange_amounts",
    "stableswap_spot_price",
    # Uniswap v2 whitepaper: constant-product price impact generic helpers
    "price_impact",
    "amount_to_move_price",
    # Uniswap v2 whitepaper LP value
    "impermanent_loss",
    "leveraged_lp_equity",
]

#: Newton iterations of StableSwap before giving up (the contracts' bound).
MAX_ITERATIONS = 255
#: Newton stops when a step is at most this fraction of D (the contracts stop at a step of 1 wei).
NEWTON_RTOL = 1e-14
#: Doublings of the round-up step of :func:`get_amount_in` before it gives up (returns ``inf``).
_ROUND_UP_STEPS = 2_100


# ---------------------------------------------------------------------------------------------
# Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input Uniswap v2: constant product with the fee taken from the input
# ---------------------------------------------------------------------------------------------
def get_amount_out(amount_in: float, reserve_in: float, reserve_out: float, fee: float = 0.003) -> float:
    """Output of selling ``amount_in`` into a constant-product pool (Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input, ``getAmountOut``).

    ``out = a·(1−fee)·R_out / (R_in + a·(1−fee))``. The fee stays in the pool, so
    ``(R_in + a)·(R_out − out) >= R_in·R_out`` (k grows).

    Parameters
    ----------
    amount_in : float
        Tokens sold into the pool (input token units, >= 0).
    reserve_in, reserve_out : float
        Pool reserves of the input and output token (token units, > 0).
    fee : float
        Fraction of the input kept by the pool (0.003 = 0.3%).

    Returns
    -------
    float
        Output token units; always below ``reserve_out`` in exact arithmetic.

    Examples
    --------
    >>> round(get_amount_out(100.0, 1_000.0, 2_000_000.0), 4)  # worked example
    181322.1788
    """
    amount_in_with_fee = amount_in * (1.0 - fee)
    return amount_in_with_fee * reserve_out / (reserve_in + amount_in_with_fee)


def get_amount_out_vec(amount_in, reserve_in, reserve_out, fee=0.003) -> np.ndarray:
    """:func:`get_amount_out` on arrays (broadcast). Same arithmetic, same results.

    Examples
    --------
    >>> get_amount_out_vec([0.0, 100.0], 1_000.0, 2_000_000.0).round(2).tolist()
    [0.0, 181322.18]
    """
    amount_in_with_fee = np.asarray(amount_in, dtype=np.float64) * (1.0 - np.asarray(fee, dtype=np.float64))
    return amount_in_with_fee * reserve_out / (reserve_in + amount_in_with_fee)


def get_amount_in(amount_out: float, reserve_in: float, reserve_out: float, fee: float = 0.003) -> float:
    """Input needed to receive ``amount_out`` from a constant-product pool (Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input, ``getAmountIn``).

    ``in = R_in·out / ((R_out − out)·(1−fee))``, then rounded up in floats (the contract's ``+ 1`` wei)
    until ``get_amount_out(in) >= amount_out`` holds exactly.

    Parameters
    ----------
    amount_out : float
        Tokens wanted out (output token units, >= 0).
    reserve_in, reserve_out : float
        Pool reserves of the input and output token (token units, > 0).
    fee : float
        Fraction of the input kept by the pool.

    Returns
    -------
    float
        Input token units; ``inf`` when ``amount_out >= reserve_out`` (the contract reverts).

    Examples
    --------
    >>> round(get_amount_in(100_000.0, 1_000.0, 2_000_000.0), 4)  # 1000·1e5 / (1.9e6·0.997)
    52.7899
    """
    if not amount_out < reserve_out:
        return math.inf
    amount_in = reserve_in * amount_out / ((reserve_out - amount_out) * (1.0 - fee))
    step = math.ulp(amount_in)
    for _ in range(_ROUND_UP_STEPS):
        if get_amount_out(amount_in, reserve_in, reserve_out, fee) >= amount_out:
            return amount_in
        amount_in += step
        step *= 2.0
    return math.inf


def get_amount_in_vec(amount_out, reserve_in, reserve_out, fee=0.003) -> np.ndarray:
    """:func:`get_amount_in` on arrays (broadcast). Same arithmetic, same results.

    Examples
    --------
    >>> get_amount_in_vec([100_000.0, 2e6], 1_000.0, 2_000_000.0).round(4).tolist()
    [52.7899, inf]
    """
    amount_out, reserve_in, reserve_out, fee = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (amount_out, reserve_in, reserve_out, fee))
    )
    possible = amount_out < reserve_out
    with np.errstate(divide="ignore", invalid="ignore"):
        amount_in = np.where(possible, reserve_in * amount_out / ((reserve_out - amount_out) * (1.0 - fee)), np.inf)
    step = np.spacing(np.where(possible, amount_in, 0.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        short = possible & (get_amount_out_vec(amount_in, reserve_in, reserve_out, fee) < amount_out)
        for _ in range(_ROUND_UP_STEPS):
            if not short.any():
                return amount_in
            amount_in = np.where(short, amount_in + step, amount_in)
            step = np.where(short, step * 2.0, step)
            short &= get_amount_out_vec(amount_in, reserve_in, reserve_out, fee) < amount_out
    return np.where(short, np.inf, amount_in)


def cpmm_spot_price(reserve_in, reserve_out):
    """Marginal price of the input token in output-token units, before fee: ``R_out / R_in`` (Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input).

    Examples
    --------
    >>> cpmm_spot_price(1_000.0, 2_000_000.0)
    2000.0
    """
    return reserve_out / reserve_in


# ---------------------------------------------------------------------------------------------
# Uniswap v3 whitepaper Uniswap v3: one initialized-tick interval (constant liquidity L)
# ---------------------------------------------------------------------------------------------
class V3Step(NamedTuple):
    """One swap step inside a liquidity range (Uniswap v3 ``SwapMath.computeSwapStep``).

    ``amount_in`` is the input used, fee included (less than asked when the step stopped at
    ``price_limit``); ``fee_amount`` is its fee part; ``price_after`` is token1 per token0.
    """

    amount_in: float
    amount_out: float
    price_after: float
    fee_amount: float


def v3_swap_step(liquidity: float, price: float, amount_in: float, fee: float, zero_for_one: bool = True,
                 price_limit: float | None = None) -> V3Step:
    """Exact-input swap within one range of constant liquidity (Uniswap v3 whitepaper).

    The fee is taken from the input; with ``Δ = amount_in·(1−fee)``:

    - token0 in (``zero_for_one``): ``√P' = L·√P / (L + Δ·√P)``, out ``L·(√P − √P')`` token1;
    - token1 in: ``√P' = √P + Δ/L``, out ``L·(1/√P − 1/√P')`` token0.

    If ``√P'`` would pass ``price_limit`` (the next initialized tick or the range end) the step stops
    there and uses only the input needed to reach it; the caller continues in the next range.

    Parameters
    ----------
    liquidity : float
        L of the active range (√(token0 · token1) units, > 0).
    price : float
        Current price P, token1 per token0 (whole-token units, > 0).
    amount_in : float
        Input offered, fee included (token0 if ``zero_for_one`` else token1).
    fee : float
        Fee tier as a fraction (0.0005 = 0.05%).
    zero_for_one : bool
        True when selling token0 (the price falls), False when selling token1 (it rises).
    price_limit : float, optional
        Price where the step stops (below ``price`` when selling token0, above otherwise).

    Returns
    -------
    V3Step

    Examples
    --------
    >>> s = v3_swap_step(1e5, 2_000.0, 10.0, 0.0005)  # worked example
    >>> round(s.amount_out, 3), round(s.price_after, 4)
    (19901.044, 1982.2396)
    """
    sqrt_p = math.sqrt(price)
    net = amount_in * (1.0 - fee)
    if price_limit is not None:
        if (price_limit > price) if zero_for_one else (price_limit < price):
            raise ValueError(f"price_limit {price_limit} is on the wrong side of price {price}")
        sqrt_limit = math.sqrt(price_limit)
        net_max = liquidity * ((1.0 / sqrt_limit - 1.0 / sqrt_p) if zero_for_one else (sqrt_limit - sqrt_p))
    if price_limit is not None and net >= net_max:  # stops at the limit: uses only the input that reaches it
        net, sqrt_new, used, price_after = net_max, sqrt_limit, net_max / (1.0 - fee), price_limit
    else:
        if zero_for_one:
            sqrt_new = liquidity * sqrt_p / (liquidity + net * sqrt_p)
        else:
            sqrt_new = sqrt_p + net / liquidity
        used, price_after = amount_in, sqrt_new * sqrt_new
    out = liquidity * (sqrt_p - sqrt_new) if zero_for_one else liquidity * (1.0 / sqrt_p - 1.0 / sqrt_new)
    return V3Step(used, out, price_after, used - net)


def v3_position_amounts(liquidity: float, price: float, price_lower: float, price_upper: float) -> tuple[float, float]:
    """Token amounts (token0, token1) of a position with liquidity L on ``[P_a, P_b]`` at price P (Uniswap v3 whitepaper).

    Inside the range ``x = L·(1/√P − 1/√P_b)``, ``y = L·(√P − √P_a)``; below ``P_a`` all token0,
    above ``P_b`` all token1.

    Examples
    --------
    >>> x, y = v3_position_amounts(1e5, 2_000.0, 1_800.0, 2_200.0)
    >>> round(x, 2), round(y)
    (104.06, 229495)
    """
    sa, sb = math.sqrt(price_lower), math.sqrt(price_upper)
    s = min(max(math.sqrt(price), sa), sb)
    return liquidity * (1.0 / s - 1.0 / sb), liquidity * (s - sa)


def v3_amount_in_to_price(liquidity, price, price_target, fee):
    """Input, fee included, that moves a range of liquidity L from ``price`` to ``price_target`` (Uniswap v3 whitepaper).

    Token0 in ``L·(1/√P_t − 1/√P)/(1−fee)`` when the target is lower, token1 in
    ``L·(√P_t − √P)/(1−fee)`` when it is higher. Scalars or arrays.

    Examples
    --------
    >>> round(float(v3_amount_in_to_price(1e5, 2_000.0, 1_800.0, 0.0005)), 2)  # to the range bottom
    121.02
    """
    s, t = np.sqrt(price), np.sqrt(price_target)
    return np.where(t <= s, liquidity * (1.0 / t - 1.0 / s), liquidity * (t - s)) / (1.0 - fee)


# ---------------------------------------------------------------------------------------------
# Curve StableSwap whitepaper, Egorov 2019, and its `get_D` / `get_y` Curve StableSwap
# ---------------------------------------------------------------------------------------------
def get_D(balances: Sequence[float], A: float) -> float:
    """StableSwap invariant D by Newton's method, as in the contract's ``get_D`` (Curve StableSwap whitepaper, Egorov 2019, and its `get_D` / `get_y`).

    Solves ``Ann·S + D = Ann·D + D^(n+1) / (n^n·Πx)`` with ``Ann = A·n``, starting from ``D = S``::

        D_P = D; for x in balances: D_P = D_P·D / (x·n)
        D = (Ann·S + D_P·n)·D / ((Ann − 1)·D + (n + 1)·D_P)

    until a step is at most ``NEWTON_RTOL``·D (the contract: 1 wei).

    Parameters
    ----------
    balances : sequence of float
        Pool balances (token units, > 0), all valued at par.
    A : float
        Amplification as returned by ``pool.A()`` (= whitepaper A × n^(n−1)).

    Returns
    -------
    float
        D (token units): the total balance when the pool is balanced.

    Raises
    ------
    ArithmeticError
        If Newton does not converge in ``MAX_ITERATIONS`` (the contract reverts).

    Examples
    --------
    >>> get_D([50e6, 50e6], 100)
    100000000.0
    >>> round(get_D([80e6, 20e6], 100), 2)
    99723824.13
    """
    n = len(balances)
    s = 0.0
    for x in balances:
        s += x
    if s == 0.0:
        return 0.0
    d = s
    ann = A * n
    for _ in range(MAX_ITERATIONS):
        d_p = d
        for x in balances:
            d_p = d_p * d / (x * n)
        d_prev = d
        d = (ann * s + d_p * n) * d / ((ann - 1.0) * d + (n + 1) * d_p)
        if abs(d - d_prev) <= NEWTON_RTOL * d:
            return d
    raise ArithmeticError("StableSwap get_D did not converge")


def get_D_vec(balances, A) -> np.ndarray:
    """:func:`get_D` for many pools: ``balances`` has shape ``(..., n)``, ``A`` broadcasts to ``(...)``.

    Each pool iterates until its own step is small, with the same arithmetic as :func:`get_D`.

    Examples
    --------
    >>> get_D_vec([[50e6, 50e6], [80e6, 20e6]], 100).round(2).tolist()
    [100000000.0, 99723824.13]
    """
    xs = np.asarray(balances, dtype=np.float64)
    n = xs.shape[-1]
    s = np.zeros(xs.shape[:-1])
    for k in range(n):
        s = s + xs[..., k]
    ann = np.asarray(A, dtype=np.float64) * n
    d = s.copy()
    active = s != 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(MAX_ITERATIONS):
            if not active.any():
                return d
            d_p = d
            for k in range(n):
                d_p = d_p * d / (xs[..., k] * n)
            d_new = (ann * s + d_p * n) * d / ((ann - 1.0) * d + (n + 1) * d_p)
            done = np.abs(d_new - d) <= NEWTON_RTOL * d_new
            d = np.where(active, d_new, d)
            active = active & ~done
    if active.any():
        raise ArithmeticError("StableSwap get_D did not converge")
    return d


def get_y(i: int, j: int, x: float, balances: Sequence[float], A: float) -> float:
    """New balance of coin ``j`` when coin ``i``'s balance becomes ``x``, D held fixed (Curve StableSwap whitepaper, Egorov 2019, and its `get_D` / `get_y`, ``get_y``).

    With ``c = D^(n+1) / (n^n·Π_{k≠j} x_k·Ann)`` and ``b = S' + D/Ann`` (``S'`` the sum over k ≠ j, coin
    ``i`` at its new balance), iterate ``y = (y² + c) / (2y + b − D)`` from ``y = D`` until a step is at
    most ``NEWTON_RTOL``·D (absolute, like the contract's 1 wei: ``b − D`` cancels, so a step relative to a
    small y may never get below float noise).

    Parameters
    ----------
    i, j : int
        Index of the coin whose balance is set, and of the coin solved for (``i != j``).
    x : float
        New balance of coin ``i`` (token units, > 0).
    balances : sequence of float
        Current balances (token units, > 0); D is computed from them.
    A : float
        Amplification as returned by ``pool.A()``.

    Examples
    --------
    >>> round(get_y(0, 1, 60e6, [50e6, 50e6], 100), 2)
    40020565.69
    """
    n = len(balances)
    if i == j or not (0 <= i < n and 0 <= j < n):
        raise ValueError(f"need two distinct coin indices in 0..{n - 1}, got i={i}, j={j}")
    d = get_D(balances, A)
    ann = A * n
    c = d
    s = 0.0
    for k in range(n):
        if k == j:
            continue
        xk = x if k == i else balances[k]
        s += xk
        c = c * d / (xk * n)
    c = c * d / (ann * n)
    b = s + d / ann
    y = d
    for _ in range(MAX_ITERATIONS):
        y_prev = y
        y = (y * y + c) / (2.0 * y + b - d)
        if abs(y - y_prev) <= NEWTON_RTOL * d:
            return y
    raise ArithmeticError("StableSwap get_y did not converge")


def get_y_vec(i: int, j: int, x, balances, A) -> np.ndarray:
    """:func:`get_y` for many pools: ``balances`` shape ``(..., n)``; ``x`` and ``A`` broadcast to ``(...)``.

    Examples
    --------
    >>> get_y_vec(0, 1, [60e6, 50e6], [[50e6, 50e6], [50e6, 50e6]], 100).round(2).tolist()
    [40020565.69, 50000000.0]
    """
    xs = np.asarray(balances, dtype=np.float64)
    n = xs.shape[-1]
    if i == j or not (0 <= i < n and 0 <= j < n):
        raise ValueError(f"need two distinct coin indices in 0..{n - 1}, got i={i}, j={j}")
    x = np.asarray(x, dtype=np.float64)
    d = get_D_vec(xs, A)
    ann = np.asarray(A, dtype=np.float64) * n
    c = d
    s = np.zeros(np.broadcast_shapes(d.shape, x.shape))
    for k in range(n):
        if k == j:
            continue
        xk = x if k == i else xs[..., k]
        s = s + xk
        c = c * d / (xk * n)
    c = c * d / (ann * n)
    b = s + d / ann
    y = np.broadcast_to(d, s.shape).copy()
    active = np.ones(s.shape, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(MAX_ITERATIONS):
            if not active.any():
                return y
            y_new = (y * y + c) / (2.0 * y + b - d)
            done = np.abs(y_new - y) <= NEWTON_RTOL * d
            y = np.where(active, y_new, y)
            active = active & ~done
    if active.any():
        raise ArithmeticError("StableSwap get_y did not converge")
    return y


def exchange_amounts(i: int, j: int, dx: float, balances: Sequence[float], A: float, fee: float) -> tuple[float, float]:
    """``(output after fee, fee)`` of selling ``dx`` of coin ``i`` for coin ``j`` (Curve StableSwap whitepaper, Egorov 2019, and its `get_D` / `get_y`, the contract's
    ``exchange``); both in coin ``j`` units. The fee stays in the pool; see :func:`get_dy`.

    Examples
    --------
    >>> out, fee = exchange_amounts(0, 1, 10e6, [50e6, 50e6], 100, 0.0001)
    >>> round(out + fee, 2), round(fee, 2)
    (9979434.31, 997.94)
    """
    dy = balances[j] - get_y(i, j, balances[i] + dx, balances, A)
    dy_fee = dy * fee
    return dy - dy_fee, dy_fee


def get_dy(i: int, j: int, dx: float, balances: Sequence[float], A: float, fee: float = 0.0001) -> float:
    """Output of selling ``dx`` of coin ``i`` for coin ``j`` (Curve StableSwap whitepaper, Egorov 2019, and its `get_D` / `get_y`, the contract's ``get_dy``/``exchange``).

    ``dy = x_j − get_y(i, j, x_i + dx)``; the pool keeps ``dy·fee``; the trader receives ``dy·(1 − fee)``.
    (The contract also subtracts 1 wei from ``dy``; dropped in whole-token floats.)

    Parameters
    ----------
    i, j : int
        Coin sold and coin bought.
    dx : float
        Amount of coin ``i`` sold (token units, >= 0).
    balances : sequence of float
        Pool balances (token units, > 0).
    A : float
        Amplification as returned by ``pool.A()``.
    fee : float
        Fraction of the output kept by the pool (0.0001 = 1 bp = 1e6 in the contract's 1e10 units).

    Examples
    --------
    >>> round(get_dy(0, 1, 10e6, [50e6, 50e6], 100, 0.0001), 2)  # worked example
    9978436.37
    """
    return exchange_amounts(i, j, dx, balances, A, fee)[0]


def get_dy_vec(i: int, j: int, dx, balances, A, fee=0.0001) -> np.ndarray:
    """:func:`get_dy` for many trades or pools: ``balances`` shape ``(..., n)``; ``dx``, ``A``, ``fee`` broadcast.

    Examples
    --------
    >>> (get_dy_vec(0, 1, [1e6, 10e6, 25e6, 40e6], [50e6, 50e6], 100) / [1e6, 10e6, 25e6, 40e6]).round(5).tolist()
    [0.9997, 0.99784, 0.99341, 0.98021]
    """
    xs = np.asarray(balances, dtype=np.float64)
    dx = np.asarray(dx, dtype=np.float64)
    xs = np.broadcast_to(xs, np.broadcast_shapes(xs.shape[:-1], dx.shape) + xs.shape[-1:])
    dy = xs[..., j] - get_y_vec(i, j, xs[..., i] + dx, xs, A)
    dy_fee = dy * np.asarray(fee, dtype=np.float64)
    return dy - dy_fee


def stableswap_spot_price(i: int, j: int, balances: Sequence[float], A: float) -> float:
    """Marginal price of coin ``i`` in units of coin ``j`` (``−dx_j/dx_i`` along the invariant, no fee; Curve StableSwap whitepaper, Egorov 2019, and its `get_D` / `get_y`).

    From ``F = Ann·S + D − Ann·D − D_P`` with ``D_P = D^(n+1)/(n^n·Πx)``:
    ``price = (Ann + D_P/x_i) / (Ann + D_P/x_j)``.

    Examples
    --------
    >>> round(stableswap_spot_price(0, 1, [80e6, 20e6], 1_000), 5), round(stableswap_spot_price(0, 1, [80e6, 20e6], 100), 5)
    (0.99708, 0.97203)
    """
    n = len(balances)
    d = get_D(balances, A)
    d_p = d
    for x in balances:
        d_p = d_p * d / (x * n)
    ann = A * n
    return (ann + d_p / balances[i]) / (ann + d_p / balances[j])


# ---------------------------------------------------------------------------------------------
# Uniswap v2 whitepaper: constant-product price impact generic price-impact helpers (constant product); scalars or arrays
# ---------------------------------------------------------------------------------------------
def price_impact(amount_in, reserve_in, reserve_out, fee=0.003):
    """Price impact ``1 − execution/spot`` of selling ``amount_in`` into a constant-product pool (Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input; Uniswap v2 whitepaper: constant-product price impact).

    Execution price ``out/a``, spot ``R_out/R_in``; this equals ``1 − (1−fee)·R_in / (R_in + a·(1−fee))``,
    which is exactly ``a/(R_in + a)`` without fee (the Uniswap v2 whitepaper: constant-product price impact ``impact(q) ≈ q/(R + q)``) and close to
    ``a/(R_in + a) + fee`` with it.

    Examples
    --------
    >>> round(price_impact(100.0, 1_000.0, 2_000_000.0), 4)  # 9.34% incl. fee (Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input)
    0.0934
    """
    return 1.0 - (1.0 - fee) * reserve_in / (reserve_in + amount_in * (1.0 - fee))


def amount_to_move_price(reserve_in, price_factor, fee=0.0):
    """Input that multiplies the spot price of the input token by ``price_factor`` (< 1), constant product (Uniswap v2 whitepaper: constant-product price impact).

    Without fee ``R_in·(√(1/m) − 1)``. With a fee kept in the pool the input reserve grows by the whole
    input, so ``m = R_in² / ((R_in + q)·(R_in + q·(1−fee)))`` is solved for q:
    ``q = R_in·(−(2−fee) + √((2−fee)² − 4(1−fee)(1 − 1/m))) / (2(1−fee))``.

    Parameters
    ----------
    reserve_in : float or array
        Reserve of the token sold (token units).
    price_factor : float or array
        Target spot price over current spot price, in (0, 1] (0.9 = a 10% drop).
    fee : float or array
        Fraction of the input kept by the pool.

    Examples
    --------
    >>> round(float(amount_to_move_price(1.0, 0.9)), 4)  # a 10% drop needs 5.41% of the reserve (Uniswap v2 whitepaper: constant-product price impact)
    0.0541
    """
    g = 1.0 - np.asarray(fee, dtype=np.float64)
    b = 1.0 + g
    return reserve_in * (np.sqrt(b * b - 4.0 * g * (1.0 - 1.0 / np.asarray(price_factor, dtype=np.float64))) - b) / (2.0 * g)


# ---------------------------------------------------------------------------------------------
# Uniswap v2 whitepaper LP value, impermanent loss, leveraged LP; scalars or arrays
# ---------------------------------------------------------------------------------------------
def impermanent_loss(price_ratio):
    """Impermanent loss of a 50/50 constant-product position, ``2√k / (1 + k) − 1`` (Uniswap v2 whitepaper),
    where ``k = P / P₀``; the LP is worth ``√k`` of its start, holding would be worth ``(1 + k)/2``.

    Examples
    --------
    Worked example: k = 2 → −5.7191%; symmetric in k ↔ 1/k.

    >>> round(float(impermanent_loss(2.0)), 6), round(float(impermanent_loss(0.5)), 6), round(float(impermanent_loss(4.0)), 12)
    (-0.057191, -0.057191, -0.2)
    """
    k = np.asarray(price_ratio, dtype=np.float64)
    return 2.0 * np.sqrt(k) / (1.0 + k) - 1.0


def leveraged_lp_equity(price_ratio, leverage, debt: str = "stable"):
    """Equity of a leveraged constant-product LP position, in multiples of the starting equity
    (Alpaca, Extra Finance and Gearbox docs): position ``L`` times the LP value ``√k``, less the debt ``L − 1`` borrowed in the
    stable (``debt="stable"``) or half in each token (``debt="split"``, worth ``(L − 1)(1 + k)/2``).

    Examples
    --------
    Worked example: L = 3, stable debt, k = 0.5 → 0.12132; the split debt → 0.62132.

    >>> round(float(leveraged_lp_equity(0.5, 3.0)), 5), round(float(leveraged_lp_equity(0.5, 3.0, "split")), 5)
    (0.12132, 0.62132)
    """
    k = np.asarray(price_ratio, dtype=np.float64)
    lev = np.asarray(leverage, dtype=np.float64)
    if debt == "stable":
        owed = lev - 1.0
    elif debt == "split":
        owed = (lev - 1.0) * (1.0 + k) / 2.0
    else:
        raise ValueError(f"debt must be 'stable' or 'split', got {debt!r}")
    return lev * np.sqrt(k) - owed
