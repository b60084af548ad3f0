"""Real Aave v3 markets in an in-memory EVM (pyrevm), behind :class:`~protocols.lending.aave_v3.replay.Market`.

Two versions, both installed from npm into the test cache (nothing of them is in the repository):

- ``"v3.0"``: ``@aave/core-v3@1.19.3`` ships Hardhat artifacts with bytecode (solc 0.8.10);
- ``"v3.6"``: ``@aave-dao/aave-v3-origin@3.6.0`` ships sources only; they are compiled once with npm
  ``solc@0.8.27`` (solc-js, driven by ``node``; optimizer 200 runs, EVM shanghai, as the repository's
  foundry.toml) and the bytecode is cached as JSON next to the npm install.

An :class:`AaveCore` deploys a version's core once (addresses provider, ACL manager, logic
libraries, pool and configurator proxies, mock price oracle, token implementations, the v3.6
rate strategy) and takes an EVM snapshot. :meth:`EvmAaveMarket.create` reverts the EVM to that
snapshot and only deploys the market's tokens and lists its reserves, so a market costs a few
milliseconds. Hence **one live market per core**: creating a market retires the previous one of
the same version (using a retired market raises ``RuntimeError``).

Units are the contracts' (see replay.py): raw token amounts, prices USD·1e8, rays, wad health
factor, bps. Reverts raise :class:`defisim.base.tx.Revert` with the contract's error name in upper
snake case: v3.0's ``Error(string)`` numeric codes are mapped through the package's
``Errors.sol``, v3.6's custom errors through the selectors of the compiled ABIs, and arithmetic
panics read ``PANIC_0x11`` (the code in hex). Other ``Error(string)`` texts (the mock ERC20's) are
kept as they are; revert data that names nothing is given as hex, ``"0x"`` when empty (WadRayMath's
assembly overflow checks revert without data).

Speed (one process, a 2-core development machine): about 550 (v3.0) to 700 (v3.6) markets of two reserves per
second, and about 280 to 320 full cases per second (create, two supplies, borrow, advance, set
price, account data, liquidation).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from protocols.lending.aave_v3.replay import (
    MAX_UINT256,
    AccountData,
    LiquidationResult,
    ReserveConfig,
    ReserveData,
)

from .solidity import (
    words,
    Deployer,
    SetupError,
    as_address,
    address_of,
    compile_sources,
    encode,
    selector,
    signature,
    topic,
    upper_snake,
)

__all__ = ["PACKAGES", "SetupError", "Build", "load_build", "AaveCore", "EvmAaveMarket"]

#: version -> (cache sub-directory, npm packages) to ``npm_install``.
PACKAGES = {
    "v3.0": ("aave-v3.0", ["@aave/core-v3@1.19.3"]),
    "v3.6": ("aave-v3.6", ["@aave-dao/aave-v3-origin@3.6.0", "solc@0.8.27"]),
}

_V30_ROOT = "@aave/core-v3"
_V30_ARTIFACTS = {  # contract -> its source under contracts/ (libraries are found through linkReferences)
    "PoolAddressesProvider": "protocol/configuration/PoolAddressesProvider.sol",
    "ACLManager": "protocol/configuration/ACLManager.sol",
    "Pool": "protocol/pool/Pool.sol",
    "PoolConfigurator": "protocol/pool/PoolConfigurator.sol",
    "AToken": "protocol/tokenization/AToken.sol",
    "StableDebtToken": "protocol/tokenization/StableDebtToken.sol",
    "VariableDebtToken": "protocol/tokenization/VariableDebtToken.sol",
    "DefaultReserveInterestRateStrategy": "protocol/pool/DefaultReserveInterestRateStrategy.sol",
    "PriceOracle": "mocks/oracle/PriceOracle.sol",
    "MintableERC20": "mocks/tokens/MintableERC20.sol",
}

_V36_ROOT = "@aave-dao/aave-v3-origin/src/contracts/"
_V36_SOURCES = {  # contract -> its source under src/contracts/
    "PoolInstance": "instances/PoolInstance.sol",
    "PoolConfiguratorInstance": "instances/PoolConfiguratorInstance.sol",
    "ATokenInstance": "instances/ATokenInstance.sol",
    "VariableDebtTokenInstance": "instances/VariableDebtTokenInstance.sol",
    "DefaultReserveInterestRateStrategyV2": "misc/DefaultReserveInterestRateStrategyV2.sol",
    "PoolAddressesProvider": "protocol/configuration/PoolAddressesProvider.sol",
    "ACLManager": "protocol/configuration/ACLManager.sol",
    "PriceOracle": "mocks/oracle/PriceOracle.sol",
    "MintableERC20": "mocks/tokens/MintableERC20.sol",
    **{lib: f"protocol/libraries/logic/{lib}.sol" for lib in (
        "SupplyLogic", "BorrowLogic", "LiquidationLogic", "PoolLogic", "FlashLoanLogic", "ConfiguratorLogic")},
}
_SOLC_SETTINGS = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "shanghai",
    # aave-v3-origin imports OpenZeppelin by its foundry lib path (the contracts compiled here
    # import nothing else from outside the package)
    "remappings": ["openzeppelin-contracts/contracts/=@openzeppelin/contracts/"],
}
_CODE_SIZE_LIMIT = 1 << 20  # PoolConfigurator v3.0 is 24,268 bytes, a hair under EIP-170's 24,576
_START_TIMESTAMP = 1_700_000_000
_START_BLOCK = 18_000_000
_VARIABLE_RATE = 2
_NO_ADDRESS = "0x" + "00" * 20  # no incentives / rewards controller
# word positions in getReserveData's struct (v3.0 ReserveData and v3.6 ReserveDataLegacy agree)
_LIQUIDITY_RATE, _VARIABLE_BORROW_RATE, _A_TOKEN, _VARIABLE_DEBT_TOKEN = 2, 4, 8, 10
_BPS_TO_RAY = 10**23


@dataclass(frozen=True)
class Build:
    """One version's creation bytecode and how to name its reverts.

    ``contracts``: name -> (creation bytecode as hex with ``__$…$__`` library placeholders,
    {library name: byte offsets of its placeholders}). ``error_codes``: ``Error(string)`` text ->
    name (v3.0's numeric codes). ``error_selectors``: custom-error selector -> name (v3.6).
    """

    version: str
    contracts: dict[str, tuple[str, dict[str, list[int]]]]
    error_codes: dict[str, str]
    error_selectors: dict[bytes, str]


def load_build(version: str, modules: Path) -> Build:
    """The :class:`Build` of ``version`` from its npm ``node_modules`` (compiling v3.6 on first use)."""
    if version == "v3.0":
        return _load_v30(modules)
    if version == "v3.6":
        return _load_v36(modules)
    raise ValueError(f"unknown Aave version {version!r}; expected one of {sorted(PACKAGES)}")


def _link_offsets(link_references: dict) -> dict[str, list[int]]:
    return {lib: [ref["start"] for ref in refs]
            for libs in link_references.values() for lib, refs in libs.items()}


def _load_v30(modules: Path) -> Build:
    root = modules / _V30_ROOT
    contracts: dict[str, tuple[str, dict[str, list[int]]]] = {}
    pending = [(name, f"contracts/{source}") for name, source in _V30_ARTIFACTS.items()]
    while pending:  # the listed contracts and, transitively, the libraries they link
        name, source = pending.pop()
        if name in contracts:
            continue
        artifact = json.loads((root / "artifacts" / source / f"{name}.json").read_text())
        contracts[name] = (artifact["bytecode"].removeprefix("0x"), _link_offsets(artifact["linkReferences"]))
        pending += [(lib, file) for file, libs in artifact["linkReferences"].items() for lib in libs]
    errors = (root / "contracts/protocol/libraries/helpers/Errors.sol").read_text()
    codes = {code: name for name, code in re.findall(r"constant\s+(\w+)\s*=\s*'(\d+)'", errors)}
    return Build("v3.0", contracts, codes, {})


def _load_v36(modules: Path) -> Build:
    package = json.loads((modules / "@aave-dao/aave-v3-origin/package.json").read_text())["version"]
    solc = json.loads((modules / "solc/package.json").read_text())["version"]
    cached = modules.parent / f"compiled-aave-v3-origin-{package}-solc-{solc}.json"
    wanted = {name: _V36_ROOT + source for name, source in _V36_SOURCES.items()}
    compiled = compile_sources(modules, wanted, _SOLC_SETTINGS, cached, "aave-v3-origin")
    contracts = {name: (c["bytecode"], _link_offsets(c["linkReferences"]))
                 for name, c in compiled["contracts"].items()}
    selectors = {selector(signature(e)): upper_snake(e["name"]) for e in compiled["errors"]}
    return Build("v3.6", contracts, {}, selectors)


class AaveCore(Deployer):
    """One Aave version deployed once in its own EVM, with a snapshot that markets start from.

    ``generation`` counts the markets built on it; only the latest is live.
    """

    def __init__(self, build: Build):
        from pyrevm import EVM, BlockEnv, CfgEnv, Env

        self._block_env = BlockEnv
        self.build = build
        self.v30 = build.version == "v3.0"
        super().__init__(EVM(env=Env(cfg=CfgEnv(limit_contract_code_size=_CODE_SIZE_LIMIT),
                                     block=BlockEnv(number=_START_BLOCK, timestamp=_START_TIMESTAMP))),
                         address_of("admin"), build.error_codes, build.error_selectors)
        self.treasury = address_of("treasury")
        self._libraries: dict[str, str] = {}
        self._deploy_core()
        self._checkpoint = self.evm.snapshot()
        self.generation = 0

    def _deploy_core(self) -> None:
        a, v30 = self.admin, self.v30
        self.provider = provider = self.deploy("PoolAddressesProvider", "string,address", "defisim", a)
        self.send(a, provider, "setACLAdmin(address)", a)
        acl = self.deploy("ACLManager", "address", provider)
        self.send(a, provider, "setACLManager(address)", acl)
        for role in ("addPoolAdmin", "addRiskAdmin", "addAssetListingAdmin"):
            self.send(a, acl, f"{role}(address)", a)
        if v30:
            pool_impl = self.deploy("Pool", "address", provider)
        else:  # v3.6: one rate strategy for the whole pool, fixed at construction
            strategy = self.deploy("DefaultReserveInterestRateStrategyV2", "address", provider)
            pool_impl = self.deploy("PoolInstance", "address,address", provider, strategy)
        self.send(a, provider, "setPoolImpl(address)", pool_impl)
        self.pool = as_address(self.view(provider, "getPool()")[0])
        self.send(a, provider, "setPoolConfiguratorImpl(address)",
                  self.deploy("PoolConfigurator" if v30 else "PoolConfiguratorInstance", ""))
        self.configurator = as_address(self.view(provider, "getPoolConfigurator()")[0])
        self.oracle = self.deploy("PriceOracle", "")
        self.send(a, provider, "setPriceOracle(address)", self.oracle)
        if v30:
            self.a_token_impl = self.deploy("AToken", "address", self.pool)
            self.stable_debt_impl = self.deploy("StableDebtToken", "address", self.pool)
            self.debt_impl = self.deploy("VariableDebtToken", "address", self.pool)
        else:
            self.a_token_impl = self.deploy("ATokenInstance", "address,address,address", self.pool, _NO_ADDRESS,
                                            self.treasury)
            self.debt_impl = self.deploy("VariableDebtTokenInstance", "address,address", self.pool, _NO_ADDRESS)

    def _linked(self, name: str) -> bytes:
        """``name``'s creation code with its library placeholders filled (deploying the libraries)."""
        code, links = self.build.contracts[name]
        for lib, offsets in links.items():
            if lib not in self._libraries:
                self._libraries[lib] = self.evm.deploy(self.admin, self._linked(lib)).lower()
            for start in offsets:
                code = code[: 2 * start] + self._libraries[lib][2:] + code[2 * start + 40 :]
        return bytes.fromhex(code)

    def deploy(self, name: str, arg_types: str, *args) -> str:
        """Deploy ``name`` (constructor arguments of ``arg_types``, e.g. ``"string,uint8"``) from admin."""
        return self.deploy_code(self._linked(name) + encode(arg_types, args))

    def reset(self, timestamp: int, block: int) -> int:
        """Back to the core's snapshot at ``timestamp``/``block``; returns the new generation."""
        self.evm.revert(self._checkpoint)  # a pyrevm checkpoint is used up by its revert: take it again
        self._checkpoint = self.evm.snapshot()
        self.set_time(timestamp, block)
        self.generation += 1
        return self.generation

    def set_time(self, timestamp: int, block: int) -> None:
        self.evm.set_block_env(self._block_env(number=block, timestamp=timestamp))


@dataclass(frozen=True)
class _Reserve:
    """Addresses of one listed reserve: the underlying and its aToken and variable-debt token."""

    asset: str
    a_token: str
    debt_token: str


class EvmAaveMarket:
    """A market of the given reserves on an :class:`AaveCore` (implements replay's ``Market``).

    Every reserve is listed with no caps, no e-mode, no isolation and variable borrowing enabled;
    the treasury is a fixed address. Accounts are names mapped to ``keccak(name)[-20:]``; before
    supplying or liquidating, the account is minted what it lacks of the token and approves the pool.
    Reverted calls change no protocol state (such a wallet top-up stays).
    """

    def __init__(self, core: AaveCore, reserves: dict[str, _Reserve], generation: int, timestamp: int, block: int):
        self._core, self._reserves, self._generation = core, reserves, generation
        self._timestamp, self._block = timestamp, block
        self._approved: set[tuple[str, str]] = set()

    @classmethod
    def create(cls, core: AaveCore, reserves: tuple[ReserveConfig, ...], prices: dict[str, int]) -> EvmAaveMarket:
        """Reset ``core`` to its snapshot and list ``reserves`` at ``prices`` (USD·1e8 by symbol).

        v3.0 gets one ``DefaultReserveInterestRateStrategy`` per reserve (rays = bps × 1e23, no
        stable rate); v3.6 sets the reserve's curve (bps) on the pool's strategy at listing.
        An invalid configuration raises :class:`Revert` with the configurator's error.
        """
        generation = core.reset(_START_TIMESTAMP, _START_BLOCK)
        c, a = core, core.admin
        assets = {r.symbol: c.deploy("MintableERC20", "string,string,uint8", r.symbol, r.symbol, r.decimals)
                  for r in reserves}
        if c.v30:
            inputs = [(c.a_token_impl, c.stable_debt_impl, c.debt_impl, r.decimals, _v30_strategy(c, r),
                       assets[r.symbol], c.treasury, _NO_ADDRESS, *_token_names(r),
                       f"stableDebt{r.symbol}", f"stableDebt{r.symbol}", b"")
                      for r in reserves]
            c.send(a, c.configurator, "initReserves((address,address,address,uint8,address,address,address,address,"
                                      "string,string,string,string,string,string,bytes)[])", inputs)
        else:
            inputs = [(c.a_token_impl, c.debt_impl, assets[r.symbol], *_token_names(r), b"", _v36_rate_data(r))
                      for r in reserves]
            c.send(a, c.configurator, "initReserves((address,address,address,string,string,string,string,bytes,bytes)[])",
                   inputs)
        listed = {}
        for r in reserves:
            asset = assets[r.symbol]
            if r.liquidation_threshold > 0:
                c.send(a, c.configurator, "configureReserveAsCollateral(address,uint256,uint256,uint256)",
                       asset, r.ltv, r.liquidation_threshold, r.liquidation_bonus)
            c.send(a, c.configurator, "setReserveBorrowing(address,bool)", asset, True)
            c.send(a, c.configurator, "setReserveFactor(address,uint256)", asset, r.reserve_factor)
            c.send(a, c.configurator, "setLiquidationProtocolFee(address,uint256)", asset, r.protocol_fee)
            c.send(a, c.oracle, "setAssetPrice(address,uint256)", asset, prices[r.symbol])
            data = c.view(c.pool, "getReserveData(address)", asset)
            listed[r.symbol] = _Reserve(asset, as_address(data[_A_TOKEN]), as_address(data[_VARIABLE_DEBT_TOKEN]))
        return cls(core, listed, generation, _START_TIMESTAMP, _START_BLOCK)

    # --- Market ---

    def set_price(self, symbol: str, price: int) -> None:
        """Set the oracle price of ``symbol`` (USD·1e8)."""
        self._live().send(self._core.admin, self._core.oracle, "setAssetPrice(address,uint256)",
                          self._reserves[symbol].asset, price)

    def supply(self, user: str, symbol: str, amount: int) -> None:
        """``supply(asset, amount, onBehalfOf=user, 0)`` (raw token units)."""
        core, who, asset = self._live(), address_of(user), self._reserves[symbol].asset
        self._fund(who, asset, amount)
        core.send(who, core.pool, "supply(address,uint256,address,uint16)", asset, amount, who, 0)

    def borrow(self, user: str, symbol: str, amount: int) -> None:
        """``borrow(asset, amount, variable, 0, onBehalfOf=user)`` (raw token units)."""
        core, who = self._live(), address_of(user)
        core.send(who, core.pool, "borrow(address,uint256,uint256,uint16,address)",
                  self._reserves[symbol].asset, amount, _VARIABLE_RATE, 0, who)

    def advance(self, seconds: int) -> None:
        """Move ``block.timestamp`` forward by ``seconds`` (and the block number by one)."""
        if seconds < 0:
            raise ValueError(f"time only moves forward, got {seconds} s")
        self._timestamp += seconds
        self._block += 1
        self._live().set_time(self._timestamp, self._block)

    def reserve_data(self, symbol: str) -> ReserveData:
        """Normalised indices (rays, now), the stored rates (rays per year), the v3.6 deficit, the
        variable debt token's ``totalSupply`` and the available liquidity (v3.0: the aToken's
        underlying balance; v3.6: ``getVirtualUnderlyingBalance``), raw units."""
        core, reserve = self._live(), self._reserves[symbol]
        asset = reserve.asset
        stored = core.view(core.pool, "getReserveData(address)", asset)
        return ReserveData(
            liquidity_index=core.view(core.pool, "getReserveNormalizedIncome(address)", asset)[0],
            variable_borrow_index=core.view(core.pool, "getReserveNormalizedVariableDebt(address)", asset)[0],
            liquidity_rate=stored[_LIQUIDITY_RATE],
            variable_borrow_rate=stored[_VARIABLE_BORROW_RATE],
            deficit=self._deficit(asset),
            total_debt=core.view(reserve.debt_token, "totalSupply()")[0],
            available_liquidity=(self._balance(asset, reserve.a_token) if core.v30
                                 else core.view(core.pool, "getVirtualUnderlyingBalance(address)", asset)[0]),
        )

    def account_data(self, user: str) -> AccountData:
        """``getUserAccountData`` (USD·1e8, wad HF) and the aToken / variable-debt balances by symbol."""
        core, who = self._live(), address_of(user)
        collateral, debt, _borrowable, _lt, _ltv, health_factor = core.view(
            core.pool, "getUserAccountData(address)", who)
        return AccountData(
            total_collateral_base=collateral,
            total_debt_base=debt,
            health_factor=health_factor,
            collateral={s: self._balance(r.a_token, who) for s, r in self._reserves.items()},
            debt={s: self._balance(r.debt_token, who) for s, r in self._reserves.items()},
        )

    def liquidation_call(self, liquidator: str, collateral: str, debt: str, user: str,
                         debt_to_cover: int) -> LiquidationResult:
        """``liquidationCall(collateral, debt, user, debtToCover, receiveAToken=false)``.

        The amounts come from the ``LiquidationCall`` event and are checked against the
        liquidator's balance changes; the protocol fee is the rise of the treasury's collateral
        aToken balance, the deficit the rise of the debt reserve's deficit (v3.6).
        """
        core, who, victim = self._live(), address_of(liquidator), address_of(user)
        coll, owed = self._reserves[collateral], self._reserves[debt]
        self._fund(who, owed.asset, min(debt_to_cover, self._balance(owed.debt_token, victim)))
        debt_before, coll_before = self._balance(owed.asset, who), self._balance(coll.asset, who)
        fee_before, deficit_before = self._balance(coll.a_token, core.treasury), self._deficit(owed.asset)
        core.send(who, core.pool, "liquidationCall(address,address,address,uint256,bool)",
                  coll.asset, owed.asset, victim, debt_to_cover, False)
        liquidated = topic("LiquidationCall(address,address,address,uint256,uint256,address,bool)")
        (event,) = [log for log in core.logs() if log.address.lower() == core.pool and log.topics[0] == liquidated]
        repaid, seized = words(event.data[1])[:2]
        assert debt_before - self._balance(owed.asset, who) == repaid, "debt pulled from the liquidator != event"
        assert self._balance(coll.asset, who) - coll_before == seized, "collateral received != event"
        return LiquidationResult(
            debt_repaid=repaid,
            collateral_to_liquidator=seized,
            protocol_fee=self._balance(coll.a_token, core.treasury) - fee_before,
            deficit_created=self._deficit(owed.asset) - deficit_before,
        )

    # --- helpers ---

    def _live(self) -> AaveCore:
        if self._core.generation != self._generation:
            raise RuntimeError("this EvmAaveMarket was retired: a newer market was created on the same AaveCore")
        return self._core

    def _balance(self, token: str, who: str) -> int:
        return self._core.view(token, "balanceOf(address)", who)[0]

    def _deficit(self, asset: str) -> int:
        return 0 if self._core.v30 else self._core.view(self._core.pool, "getReserveDeficit(address)", asset)[0]

    def _fund(self, who: str, asset: str, amount: int) -> None:
        """Mint ``who`` what it lacks of ``amount`` and approve the pool for everything (once)."""
        core = self._core
        lacking = amount - self._balance(asset, who)
        if lacking > 0:
            core.send(who, asset, "mint(address,uint256)", who, lacking)
        if (who, asset) not in self._approved:
            core.send(who, asset, "approve(address,uint256)", core.pool, MAX_UINT256)
            self._approved.add((who, asset))


def _token_names(r: ReserveConfig) -> list[str]:
    """aToken and variable-debt token name and symbol of reserve ``r``."""
    return [f"a{r.symbol}", f"a{r.symbol}", f"variableDebt{r.symbol}", f"variableDebt{r.symbol}"]


def _v30_strategy(core: AaveCore, r: ReserveConfig) -> str:
    """A v3.0 ``DefaultReserveInterestRateStrategy`` for ``r``'s curve (bps -> rays; stable rate all 0)."""
    rays = (x * _BPS_TO_RAY for x in (r.optimal_usage, r.base_rate, r.slope1, r.slope2))
    return core.deploy("DefaultReserveInterestRateStrategy", "address" + ",uint256" * 9,
                       core.provider, *rays, 0, 0, 0, 0, 0)


def _v36_rate_data(r: ReserveConfig) -> bytes:
    """v3.6 ``interestRateData``: ``abi.encode(uint16 optimal, uint32 base, uint32 slope1, uint32 slope2)``, bps."""
    return encode("uint16,uint32,uint32,uint32", (r.optimal_usage, r.base_rate, r.slope1, r.slope2))
