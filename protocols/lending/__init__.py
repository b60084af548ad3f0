"""Lending protocols. ``register`` adds their kinds to a registry."""
from .aave_v3.agents import Backrunner, BackrunnerParams, BorrowerGuard, BorrowerGuardParams, Keeper, KeeperParams
from .aave_v3.model import AaveV3Pool
from .aave_v3.params import PoolParams
from .aave_v3.checks import check_backrunner, check_flash_keeper, check_keeper, check_lender_run, check_pool
from .aave_v3.flash_keeper import FlashKeeper, FlashKeeperParams
from .aave_v3.lenders import LenderRun, LenderRunParams
from .flash import FlashLiquidator, FlashLiquidatorParams, FlashVault, FlashVaultParams
from .looper import Looper, LooperParams
from .compound_v3.agents import Absorber, CollateralBuyer
from .compound_v3.market import CometMarket
from .compound_v3.params import AbsorberParams, CollateralBuyerParams, CometParams
from .morpho_blue.market import MorphoBlueMarket
from .morpho_blue.params import MorphoMarketParams

__all__ = ["register"]


def register(registry) -> None:
    """Register the lending kinds."""
    registry.protocol("lending.aave_v3", PoolParams, AaveV3Pool, "Aave v3 market: supply, borrow, repay, withdraw, liquidationCall",
                      check_pool)
    registry.protocol("lending.morpho_blue", MorphoMarketParams, MorphoBlueMarket,
                      "Morpho Blue isolated market: LLTV, liquidate with the incentive factor, bad debt to suppliers")
    registry.protocol("lending.compound_v3", CometParams, CometMarket,
                      "Compound III (Comet): one base asset lent against collateral, absorb and buyCollateral")
    registry.agent("compound_v3.absorber", AbsorberParams, Absorber,
                   "calls absorb on liquidatable Compound III accounts, largest debts first")
    registry.agent("compound_v3.collateral_buyer", CollateralBuyerParams, CollateralBuyer,
                   "buys absorbed collateral at the store-front discount and sells it on a venue")
    registry.protocol("lending.flash_vault", FlashVaultParams, FlashVault,
                      "flash-loan lender holding cash, with a premium that may be zero (Balancer, Morpho)")
    registry.protocol("lending.flash_liquidator", FlashLiquidatorParams, FlashLiquidator,
                      "liquidator contract: flash-borrow, liquidate, sell on chain, repay, all or nothing")
    registry.agent("lending.flash_keeper", FlashKeeperParams, FlashKeeper,
                   "keeper without capital: flash-loan liquidations sized against the swap pool's depth",
                   check_flash_keeper)
    registry.agent("lending.keeper", KeeperParams, Keeper, "liquidation keeper: sizes, bids gas, sells seized collateral",
                   check_keeper)
    registry.agent("lending.backrunner", BackrunnerParams, Backrunner, "keeper that backruns oracle updates with bundles",
                   check_backrunner)
    registry.agent("lending.borrower_guard", BorrowerGuardParams, BorrowerGuard, "borrowers who repay when their HF falls")
    registry.agent("lending.lender_run", LenderRunParams, LenderRun,
                   "lenders who withdraw when utilisation or losses cross their thresholds; retry while cash is short",
                   check_lender_run)
    registry.agent("lending.looper", LooperParams, Looper, "leverage loopers: borrow, swap on an AMM, re-supply; unwind under stress")
