"""The real Morpho Blue (``@morpho-org/morpho-blue@1.0.0`` from npm) in an in-memory EVM (pyrevm).

The package ships sources only. ``Morpho.sol`` and the package's mocks (``ERC20Mock``,
``OracleMock``: a settable price; ``IrmMock``: the utilisation per year) are compiled once with
npm ``solc@0.8.19`` (the version ``Morpho.sol`` pins; optimizer on, EVM paris) and cached as JSON
next to the npm install. :class:`MorphoCore` deploys Morpho, a loan and a collateral token, the
oracle and the IRM once and takes a snapshot; :meth:`MorphoCore.market` reverts to it and
creates one market, so a case costs a few milliseconds and only the newest market is live.

Units are the contract's (raw token amounts, shares, WAD, 1e36-scaled oracle price), as in
:mod:`protocols.lending.morpho_blue.exact`. Reverts raise :class:`~defisim.base.tx.Revert` with
the contract's ``Error(string)`` text ("position is healthy", …) or ``PANIC_0x11`` for an
arithmetic under- or overflow.
"""
from __future__ import annotations

import json
from pathlib import Path

from protocols.lending.morpho_blue.exact import LiquidateResult, MarketState, PositionState

from .solidity import Deployer, address_of, compile_sources, encode, keccak256, topic, words

__all__ = ["PACKAGES", "FEE_RECIPIENT", "load_contracts", "MorphoCore", "EvmMorphoMarket"]

#: The account that receives the fee's supply shares (the twin's ``fee_recipient``).
FEE_RECIPIENT = "fee_recipient"

#: (cache sub-directory, npm packages) to ``npm_install``.
PACKAGES = ("morpho-blue", ["@morpho-org/morpho-blue@1.0.0", "solc@0.8.19"])
_ROOT = "@morpho-org/morpho-blue/src/"
_SOURCES = {"Morpho": "Morpho.sol", "ERC20Mock": "mocks/ERC20Mock.sol", "OracleMock": "mocks/OracleMock.sol",
            "IrmMock": "mocks/IrmMock.sol"}
_SOLC_SETTINGS = {"optimizer": {"enabled": True, "runs": 200}, "evmVersion": "paris"}
_START_TIMESTAMP = 1_700_000_000
_START_BLOCK = 18_000_000
_MAX_UINT256 = 2**256 - 1
_PARAMS = "(address,address,address,address,uint256)"
_LIQUIDATE_EVENT = topic("Liquidate(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)")


def load_contracts(modules: Path) -> dict[str, str]:
    """Creation bytecode (hex) of Morpho and the mocks, compiled on first use."""
    solc = json.loads((modules / "solc/package.json").read_text())["version"]
    package = json.loads((modules / "@morpho-org/morpho-blue/package.json").read_text())["version"]
    cached = modules.parent / f"compiled-morpho-blue-{package}-solc-{solc}.json"
    compiled = compile_sources(modules, {n: _ROOT + s for n, s in _SOURCES.items()}, _SOLC_SETTINGS, cached,
                               "morpho-blue")
    return {name: c["bytecode"] for name, c in compiled["contracts"].items()}


class MorphoCore(Deployer):
    """Morpho, two tokens (loan, collateral), the oracle and the IRM, deployed once, and a snapshot."""

    def __init__(self, contracts: dict[str, str]):
        from pyrevm import EVM, BlockEnv, Env

        super().__init__(EVM(env=Env(block=BlockEnv(number=_START_BLOCK, timestamp=_START_TIMESTAMP))),
                         address_of("owner"))
        self._block_env = BlockEnv
        code = {name: bytes.fromhex(hexcode) for name, hexcode in contracts.items()}
        self.morpho = self.deploy_code(code["Morpho"] + encode("address", [self.admin]))
        self.loan = self.deploy_code(code["ERC20Mock"])
        self.collateral = self.deploy_code(code["ERC20Mock"])
        self.oracle = self.deploy_code(code["OracleMock"])
        self.irm = self.deploy_code(code["IrmMock"])
        self.send(self.admin, self.morpho, "enableIrm(address)", self.irm)
        self.send(self.admin, self.morpho, "setFeeRecipient(address)", address_of(FEE_RECIPIENT))
        self._checkpoint = self.evm.snapshot()
        self.generation = 0

    def market(self, lltv: int, price: int) -> "EvmMorphoMarket":
        """A fresh market of ``lltv`` (WAD) at oracle ``price``, the clock at the start time."""
        self.evm.revert(self._checkpoint)  # a pyrevm checkpoint is used up by its revert: take it again
        self._checkpoint = self.evm.snapshot()
        self.generation += 1
        self.set_time(_START_TIMESTAMP)
        self.send(self.admin, self.oracle, "setPrice(uint256)", price)
        self.send(self.admin, self.morpho, "enableLltv(uint256)", lltv)
        params = (self.loan, self.collateral, self.oracle, self.irm, lltv)
        self.send(self.admin, self.morpho, f"createMarket({_PARAMS})", params)
        return EvmMorphoMarket(self, params, self.generation)

    def set_time(self, timestamp: int) -> None:
        self.evm.set_block_env(self._block_env(number=_START_BLOCK + (timestamp - _START_TIMESTAMP) // 12,
                                               timestamp=timestamp))


class EvmMorphoMarket:
    """One live market: the calls of :class:`~protocols.lending.morpho_blue.exact.ExactMarket`
    against the contract, with the same arguments and results. Accounts are names (addresses
    ``keccak(name)[-20:]``); before a call that pulls tokens the sender is given what it lacks
    and approves Morpho (the mock token's ``setBalance``)."""

    START_TIMESTAMP = _START_TIMESTAMP

    def __init__(self, core: MorphoCore, params: tuple, generation: int):
        self.core, self.params, self.generation = core, params, generation
        self.id = keccak256(encode("address,address,address,address,uint256", params))
        self.now = _START_TIMESTAMP

    def _live(self) -> MorphoCore:
        if self.core.generation != self.generation:
            raise RuntimeError("this market was retired: its core has built a newer one")
        return self.core

    def _fund(self, who: str, token: str, amount: int) -> None:
        core = self._live()
        have = core.view(token, "balanceOf(address)", who)[0]
        if have < amount:
            core.send(core.admin, token, "setBalance(address,uint256)", who, amount)
        core.send(who, token, "approve(address,uint256)", core.morpho, _MAX_UINT256)

    def advance(self, seconds: int) -> None:
        self.now += seconds
        self._live().set_time(self.now)

    def set_price(self, price: int) -> None:
        core = self._live()
        core.send(core.admin, core.oracle, "setPrice(uint256)", price)

    def set_fee(self, fee: int) -> None:
        core = self._live()
        core.send(core.admin, core.morpho, f"setFee({_PARAMS},uint256)", self.params, fee)

    def supply(self, sender: str, assets: int, shares: int) -> tuple[int, int]:
        core, who = self._live(), address_of(sender)
        self._fund(who, core.loan, assets or 2**128)
        return tuple(core.call(who, core.morpho, f"supply({_PARAMS},uint256,uint256,address,bytes)", self.params,
                               assets, shares, who, b"")[:2])

    def withdraw(self, sender: str, assets: int, shares: int) -> tuple[int, int]:
        core, who = self._live(), address_of(sender)
        return tuple(core.call(who, core.morpho, f"withdraw({_PARAMS},uint256,uint256,address,address)", self.params,
                               assets, shares, who, who)[:2])

    def borrow(self, sender: str, assets: int, shares: int) -> tuple[int, int]:
        core, who = self._live(), address_of(sender)
        return tuple(core.call(who, core.morpho, f"borrow({_PARAMS},uint256,uint256,address,address)", self.params,
                               assets, shares, who, who)[:2])

    def repay(self, sender: str, assets: int, shares: int) -> tuple[int, int]:
        core, who = self._live(), address_of(sender)
        self._fund(who, core.loan, assets or 2**128)
        return tuple(core.call(who, core.morpho, f"repay({_PARAMS},uint256,uint256,address,bytes)", self.params,
                               assets, shares, who, b"")[:2])

    def supply_collateral(self, sender: str, assets: int) -> None:
        core, who = self._live(), address_of(sender)
        self._fund(who, core.collateral, assets)
        core.send(who, core.morpho, f"supplyCollateral({_PARAMS},uint256,address,bytes)", self.params, assets, who, b"")

    def withdraw_collateral(self, sender: str, assets: int) -> None:
        core, who = self._live(), address_of(sender)
        core.send(who, core.morpho, f"withdrawCollateral({_PARAMS},uint256,address,address)", self.params, assets,
                  who, who)

    def liquidate(self, sender: str, borrower: str, seized_assets: int, repaid_shares: int) -> LiquidateResult:
        """`liquidate`, its results read from the ``Liquidate`` event; the liquidator is funded
        with plenty of the loan token, and its token balances are checked against the event."""
        core, who = self._live(), address_of(sender)
        self._fund(who, core.loan, 2**128)
        loan_before = core.view(core.loan, "balanceOf(address)", who)[0]
        coll_before = core.view(core.collateral, "balanceOf(address)", who)[0]
        core.send(who, core.morpho, f"liquidate({_PARAMS},address,uint256,uint256,bytes)", self.params,
                  address_of(borrower), seized_assets, repaid_shares, b"")
        (event,) = [log for log in core.logs() if log.address.lower() == core.morpho and log.topics[0] == _LIQUIDATE_EVENT]
        repaid, shares, seized, bad_assets, bad_shares = words(event.data[1])[:5]
        assert loan_before - core.view(core.loan, "balanceOf(address)", who)[0] == repaid, "loan pulled != event"
        assert core.view(core.collateral, "balanceOf(address)", who)[0] - coll_before == seized, "collateral != event"
        return LiquidateResult(seized, repaid, shares, bad_assets, bad_shares)

    def accrue_interest(self) -> None:
        core = self._live()
        core.send(core.admin, core.morpho, f"accrueInterest({_PARAMS})", self.params)

    # -- reads -----------------------------------------------------------------------------
    def market_state(self) -> MarketState:
        core = self._live()
        return MarketState(*core.view(core.morpho, "market(bytes32)", self.id)[:6])

    def position(self, who: str) -> PositionState:
        core = self._live()
        return PositionState(*core.view(core.morpho, "position(bytes32,address)", self.id, address_of(who))[:3])

    def held(self) -> tuple[int, int]:
        """Morpho's balances of the loan and the collateral token (raw units)."""
        core = self._live()
        return (core.view(core.loan, "balanceOf(address)", core.morpho)[0],
                core.view(core.collateral, "balanceOf(address)", core.morpho)[0])
