"""The real contracts in an in-memory EVM (pyrevm), installed from npm at test time.

Nothing of the contracts is in the repository: the npm packages are installed into a cache
directory (``$DEFISIM_EVM_CACHE``, else ``$XDG_CACHE_HOME/defisim/evm``, else
``~/.cache/defisim/evm``) on first use and reused afterwards. The suite skips, saying exactly
why, only when pyrevm, pycryptodome, eth-abi or node/npm are missing or the npm install (or, for
Aave v3.6, the solc-js compilation) fails.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from defisim.base.tx import Revert

from .aave_market import PACKAGES as AAVE_PACKAGES
from .aave_market import AaveCore, EvmAaveMarket, SetupError, load_build
from .failure import why
from .morpho_market import PACKAGES as MORPHO_PACKAGES
from .morpho_market import MorphoCore, load_contracts

UNISWAP_PACKAGES = ["@uniswap/v2-core@1.0.1", "@uniswap/v2-periphery@1.1.0-beta.0"]


def cache_dir() -> Path:
    if os.environ.get("DEFISIM_EVM_CACHE"):
        return Path(os.environ["DEFISIM_EVM_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "defisim" / "evm"


def npm_install(name: str, packages: list[str]) -> Path:
    """``node_modules`` of ``packages`` installed under the cache (once); skips when impossible."""
    root = cache_dir() / name
    stamp = root / "installed.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == packages:
        return root / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("tests/evm: npm is not installed (needed to fetch the contracts' npm packages)")
    root.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(root), *packages],
                       check=True, capture_output=True, text=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"tests/evm: npm install {' '.join(packages)} failed ({why(e)})")
    stamp.write_text(json.dumps(packages))
    return root / "node_modules"


def _imports():
    try:
        from pyrevm import EVM
    except ImportError as e:
        pytest.skip(f"tests/evm: pyrevm is not importable ({e}); install the test extra (wheels exist for CPython 3.10-3.12)")
    try:
        from Crypto.Hash import keccak
    except ImportError as e:
        pytest.skip(f"tests/evm: pycryptodome is not importable ({e}); install the test extra")
    try:
        import eth_abi  # noqa: F401  (the Aave harness encodes its calls with it)
    except ImportError as e:
        pytest.skip(f"tests/evm: eth-abi is not importable ({e}); install the test extra")
    return EVM, keccak


def word(x: int) -> bytes:
    """One ABI word: a uint256 (or an address) big-endian."""
    return x.to_bytes(32, "big")


def decode_revert(message: str) -> str:
    """The reason of a pyrevm revert: ``Error(string)`` decoded, else the raw output."""
    out = message.split("output: 0x", 1)[-1].split(" ", 1)[0].rstrip("}").strip(",")
    data = bytes.fromhex(out) if all(c in "0123456789abcdefABCDEF" for c in out) and len(out) % 2 == 0 else b""
    if data[:4] == bytes.fromhex("08c379a0") and len(data) >= 68:
        length = int.from_bytes(data[36:68], "big")
        return data[68 : 68 + length].decode("utf-8", "replace")
    return out or message


class Contract:
    """Calls into one deployed contract (static calls of uint256 functions)."""

    def __init__(self, evm, keccak, address: str, caller: str):
        self.evm, self._keccak, self.address, self.caller = evm, keccak, address, caller

    def selector(self, signature: str) -> bytes:
        k = self._keccak.new(digest_bits=256)
        k.update(signature.encode())
        return k.digest()[:4]

    def call_uint(self, signature: str, *args: int) -> int:
        """``signature``'s uint256 result; a revert raises :class:`~defisim.base.tx.Revert` with its reason."""
        data = self.selector(signature) + b"".join(word(a) for a in args)
        try:
            out = self.evm.message_call(self.caller, self.address, data, is_static=True)
        except RuntimeError as e:
            raise Revert(decode_revert(str(e))) from None
        return int.from_bytes(bytes(out), "big")


@pytest.fixture(scope="session")
def uniswap_router() -> Contract:
    """Uniswap v2 Router02 (its pure ``getAmountOut``/``getAmountIn`` are ``UniswapV2Library``'s)."""
    EVM, keccak = _imports()
    modules = npm_install("uniswap-v2", UNISWAP_PACKAGES)
    artifact = json.loads((modules / "@uniswap/v2-periphery/build/UniswapV2Router02.json").read_text())
    evm = EVM()
    me = "0x" + "11" * 20
    evm.set_balance(me, 10**20)
    code = bytes.fromhex(artifact["bytecode"].removeprefix("0x"))
    router = evm.deploy(me, code + word(0x1234) + word(0x5678))  # factory and WETH: never used by the pure calls
    return Contract(evm, keccak, router, me)


@pytest.fixture(scope="session")
def aave_market():
    """Factory ``aave_market(version, reserves, prices) -> EvmAaveMarket`` of real Aave v3 markets.

    ``version`` is ``"v3.0"`` or ``"v3.6"``, ``reserves`` a tuple of
    :class:`~protocols.lending.aave_v3.replay.ReserveConfig`, ``prices`` USD·1e8 by symbol. A
    version's core is installed, built (v3.6: compiled once, then cached) and deployed on first
    use; every market then starts from its snapshot, so only one market per version is live at a
    time (see :mod:`tests.evm.aave_market`).
    """
    cores: dict[str, AaveCore] = {}

    def make(version: str, reserves, prices: dict[str, int]) -> EvmAaveMarket:
        if version not in cores:
            if version not in AAVE_PACKAGES:
                raise ValueError(f"unknown Aave version {version!r}; expected one of {sorted(AAVE_PACKAGES)}")
            _imports()
            name, packages = AAVE_PACKAGES[version]
            try:
                cores[version] = AaveCore(load_build(version, npm_install(name, packages)))
            except SetupError as e:
                pytest.skip(str(e))
        return EvmAaveMarket.create(cores[version], reserves, prices)

    return make


@pytest.fixture(scope="session")
def morpho_core() -> MorphoCore:
    """Morpho Blue 1.0 deployed with its package's mocks; ``morpho_core.market(lltv, price)`` makes a fresh market."""
    _imports()
    name, packages = MORPHO_PACKAGES
    try:
        return MorphoCore(load_contracts(npm_install(name, packages)))
    except SetupError as e:
        pytest.skip(str(e))
