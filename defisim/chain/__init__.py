"""The chain floor: the slot loop and everything a transaction meets on its way into a block.

The slot loop (:mod:`.blockchain`), the public mempool (:mod:`.mempool`), the builder's
ordering (:mod:`.ordering`), gas bidding (:mod:`.gas`), EIP-1559 fees (:mod:`.fees`),
execution against the protocols (:mod:`.execution`), the background demand
(:mod:`.background`), network latencies (:mod:`.network`), and their spec (:mod:`.spec`).
Imports only :mod:`defisim.base`.
"""
from defisim.chain.spec import ChainSpec, NetworkSpec, MempoolSpec, DemandSpike, BackgroundSpec, ORDERING_POLICIES
from defisim.chain.fees import next_base_fee_wei, effective_gas_price_gwei
from defisim.chain.gas import FixedTip, PercentileTip, GasStrategy, bid, outbid, rebid
from defisim.chain.network import LatencySampler
from defisim.chain.mempool import Mempool, MempoolWatch
from defisim.chain.ordering import OrderingPolicy, PriorityFee, Fifo, RandomOrder, BundleAuction, SequencerFcfs, make_policy
from defisim.chain.execution import Executor, INTRINSIC_GAS, argument_error
from defisim.chain.background import BackgroundDemand, BlockDemand
from defisim.chain.blockchain import Chain, Bundle, TX_COLUMNS, BLOCK_COLUMNS

__all__ = [
    "ChainSpec",
    "NetworkSpec",
    "MempoolSpec",
    "DemandSpike",
    "BackgroundSpec",
    "ORDERING_POLICIES",
    "next_base_fee_wei",
    "effective_gas_price_gwei",
    "FixedTip",
    "PercentileTip",
    "GasStrategy",
    "bid",
    "rebid",
    "outbid",
    "LatencySampler",
    "Mempool",
    "MempoolWatch",
    "OrderingPolicy",
    "PriorityFee",
    "Fifo",
    "RandomOrder",
    "BundleAuction",
    "SequencerFcfs",
    "make_policy",
    "Executor",
    "INTRINSIC_GAS",
    "argument_error",
    "BackgroundDemand",
    "BlockDemand",
    "Chain",
    "Bundle",
    "TX_COLUMNS",
    "BLOCK_COLUMNS",
]
