"""Parameters of the oracle kinds (Chainlink Data Feeds docs; Pyth docs)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from defisim.base import FeedAsset, LatencyMs, Uniform, VenueName, protocol_of, unit
from defisim.chain import GasStrategy, PercentileTip
from defisim.base import DurationMs

__all__ = ["PushOracleParams", "FixedOracleParams", "OsmParams", "ExchangeRateOracleParams", "PushUpdaterParams",
           "PokerParams", "SpotOracleParams", "TwapOracleParams", "PullOracleParams",
           "AnchoredOracleParams"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PushOracleParams(_Params):
    """A Chainlink-style push feed (Chainlink Data Feeds docs: a new round on a deviation threshold or a heartbeat): the answer changes only when a transmission
    transaction is included. ``min_answer``/``max_answer`` clamp as old aggregators did."""

    initial_answer: float = Field(gt=0, description="answer at the start (USD)", json_schema_extra=unit("USD"))
    deviation: float = Field(0.005, gt=0, lt=1,
        description="relative move that triggers a round", json_schema_extra=unit("fraction"))
    heartbeat: DurationMs = Field(3_600_000, gt=0, description="longest time between rounds")
    min_answer: float = Field(0.0, ge=0, description="lower clamp", json_schema_extra=unit("USD"))
    max_answer: float | None = Field(None, gt=0, description="upper clamp (None: none)", json_schema_extra=unit("USD"))
    transmitter: str = Field("oracle/0", description="the only address allowed to transmit (an agent name)")
    asset: FeedAsset | None = Field(
        None, description="asset whose price it reports (a feed of markets.feeds); its updaters' sources must "
        "quote it (None: whatever they quote, which must then be one asset)")

    @model_validator(mode="after")
    def _bounds(self):
        if self.max_answer is not None and self.min_answer >= self.max_answer:
            raise ValueError(f"min_answer ({self.min_answer}) must be below max_answer ({self.max_answer})")
        return self


class OsmParams(_Params):
    """Maker's Oracle Security Module (Maker `osm.sol`, `OSM.poke`: the price released one `hop` (an hour) late): the price of ``source`` (an oracle protocol
    listed before this one, the "medianizer") released one ``hop`` late."""

    source: protocol_of("oracles.", role="oracle") = Field(description="oracle protocol read at each poke")
    hop: DurationMs = Field(3_600_000, gt=0, description="delay between pokes (ONE_HOUR)")


class ExchangeRateOracleParams(_Params):
    """An exchange-rate adapter (Aave `AaveOracle.getAssetPrice` with Chainlink-compatible exchange-rate adapters): ``rate × receipt × underlying`` (USD)."""

    underlying: protocol_of("oracles.", role="oracle") = Field(
        description="oracle protocol, listed before, of the underlying token (USD)")
    rate: float = Field(1.0, gt=0,
        description="underlying tokens one token redeems for", json_schema_extra=unit("tokens per token"))
    receipt_pool: protocol_of("lending.aave_v3", role="lending pool") | None = Field(None,
        description="lending pool whose receipt token this is (written down by its deficit)")
    receipt_asset: str | None = Field(None, description="the pool's reserve the receipt token is for")

    @model_validator(mode="after")
    def _receipt(self):
        if (self.receipt_pool is None) != (self.receipt_asset is None):
            raise ValueError("receipt_pool and receipt_asset go together")
        return self


class FixedOracleParams(_Params):
    """A pegged or fixed price (Chainlink Data Feeds docs and Maker `osm.sol`: e.g. USDe priced as USDT = $1)."""

    price: float = Field(gt=0, description="the constant answer (USD)", json_schema_extra=unit("USD"))


class PushUpdaterParams(_Params):
    """The off-chain side of a push feed: the node network that observes the venues and transmits.

    Every ``poll`` it reads the median mid of ``sources``; when the move against the on-chain
    answer reaches the oracle's deviation threshold or the heartbeat is due, a round starts
    and its report is sent after an OCR ``round_latency`` (Chainlink OCR docs). The transmission
    is an ordinary transaction: with ``gas`` bidding, re-bid after ``rebid_after_blocks``
    blocks of waiting."""

    oracle: protocol_of("oracles.push", role="push oracle") = Field(description="the push oracle protocol it transmits to")
    sources: tuple[VenueName, ...] = Field(min_length=1, description="venues whose median mid is observed")
    poll: DurationMs = Field(1_000, gt=0, description="how often the nodes read the venues")
    round_latency: LatencyMs = Field(Uniform(low=2_000, high=10_000),
        description="from a round's start to its report being sent (OCR)", json_schema_extra=unit("ms"))
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.5), description="gas bidding of the transmissions")
    gas_limit: int = Field(250_000, gt=0, description="gas limit of a transmission", json_schema_extra=unit("gas"))
    rebid_after_blocks: int = Field(2, ge=1, description="re-bid a transmission still waiting after this many blocks")


class PokerParams(_Params):
    """Whoever pokes an OSM when its hop has passed (anyone may; keepers do at the top of the hour)."""

    oracle: protocol_of("oracles.osm", role="OSM oracle") = Field(description="the OSM protocol to poke")
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.2), description="gas bidding of the pokes")
    gas_limit: int = Field(100_000, gt=0, description="gas limit of a poke", json_schema_extra=unit("gas"))


class SpotOracleParams(_Params):
    """The marginal price of one token of an on-chain pool, read when asked (a manipulable spot read)."""

    pool: protocol_of("amm.", role="swap pool") = Field(description="the pool read (listed before the oracle)")
    asset: str = Field(min_length=1, description="the pool's token it prices (in the other token)")
    quote_oracle: protocol_of("oracles.", role="oracle") | None = Field(
        None, description="oracle of the pool's other token, listed before (None: that token is worth $1)")


class TwapOracleParams(SpotOracleParams):
    """The time-weighted average of that price over a sliding ``window`` (Uniswap v2 whitepaper, "Price oracle":
    the pair's cumulative price at each block's start)."""

    window: DurationMs = Field(1_800_000, gt=0, description="averaging window (30 min by default)")


class PullOracleParams(_Params):
    """A pull oracle (Pyth docs, "Pull updates"): signed prices posted by whoever needs them,
    read with a staleness and a confidence check."""

    initial_price: float = Field(gt=0, allow_inf_nan=False, description="stored price at the start (USD)",
                                 json_schema_extra=unit("USD"))
    initial_conf: float = Field(0.0, ge=0, allow_inf_nan=False, description="its confidence interval (USD)",
                                json_schema_extra=unit("USD"))
    initial_publish_ms: int = Field(0, description="its publish time (ms; 0: the run's start)",
                                    json_schema_extra=unit("ms"))
    max_age: DurationMs = Field(60_000, gt=0, description="oldest price a consumer accepts (getPriceNoOlderThan)")
    max_conf_ratio: float = Field(0.02, gt=0, allow_inf_nan=False,
        description="widest confidence a consumer accepts, as a fraction of the price", json_schema_extra=unit("fraction"))
    update_fee_native: float = Field(1e-18, ge=0, allow_inf_nan=False,
        description="fee per update (getUpdateFee; 1 wei on Ethereum)", json_schema_extra=unit("native token"))


class AnchoredOracleParams(_Params):
    """Compound's Open Price Feed view (compound-finance/open-oracle `UniswapAnchoredView`): a
    reporter's price accepted only within ``tolerance`` of an anchor (a TWAP)."""

    reporter: protocol_of("oracles.", role="oracle") = Field(description="oracle of the signed reporter prices, listed before")
    anchor: protocol_of("oracles.", role="oracle") = Field(description="the anchor oracle (a TWAP), listed before")
    tolerance: float = Field(0.2, gt=0, lt=1, description="anchor / reporter must lie within 1 ± tolerance",
                             json_schema_extra=unit("fraction"))
