"""What every EVM harness here shares: compiling sources with npm ``solc`` (solc-js), ABI encoding,
and a deployer that deploys, calls and names reverts in one pyrevm EVM.

Reverts raise :class:`defisim.base.tx.Revert` with a name: an ``Error(string)`` text (mapped
through ``error_codes`` when the contracts use codes), a custom error's upper-snake name from
``error_selectors``, ``PANIC_0x11`` for an arithmetic panic (its code in hex), else the revert
data as hex (``"0x"`` when empty).
"""
from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from defisim.base.tx import Revert

from .failure import why

__all__ = ["SetupError", "compile_sources", "canonical", "signature", "upper_snake", "keccak256", "encode",
           "topic", "selector", "calldata", "words", "as_address", "address_of", "Deployer"]

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)
#: solc-js driver, written to the cache at run time: standard-JSON in a file, imports from node_modules.
_COMPILE_JS = """\
const fs = require('fs'), path = require('path');
const [modules, input, output] = process.argv.slice(2);
const solc = require(path.join(modules, 'solc'));
function findImports(p) {
  try { return { contents: fs.readFileSync(path.join(modules, p), 'utf8') }; }
  catch (e) { return { error: 'not found in node_modules: ' + p }; }
}
fs.writeFileSync(output, solc.compile(fs.readFileSync(input, 'utf8'), { import: findImports }));
"""


class SetupError(Exception):
    """The contracts could not be built (node missing, compilation failed); the message says why."""


def compile_sources(modules: Path, wanted: dict[str, str], settings: dict, cached: Path, label: str) -> dict:
    """Compile the sources ``wanted`` (contract name -> path under ``modules``) with the ``solc``
    package installed in ``modules`` and cache, as JSON at ``cached``, each wanted contract's abi,
    bytecode and link references and the ``error`` ABI entries of every contract seen (for revert
    names): ``{"compile_seconds", "contracts": {name: {...}}, "errors": [...]}``. A cached file is
    read, not rebuilt. ``label`` names the sources in a :class:`SetupError`."""
    if cached.is_file():
        return json.loads(cached.read_text())
    node = shutil.which("node")
    if node is None:
        raise SetupError(f"tests/evm: node is not installed (needed to compile {label} with npm solc)")
    outputs = ["abi", "evm.bytecode.object", "evm.bytecode.linkReferences"]
    selection: dict = {"*": {"*": ["abi"]}}
    for name, source in wanted.items():
        selection.setdefault(source, {})[name] = outputs
    standard_json = {
        "language": "Solidity",
        "sources": {s: {"content": (modules / s).read_text()} for s in sorted(set(wanted.values()))},
        "settings": {**settings, "outputSelection": selection},
    }
    script, source_file, output_file = (cached.parent / f"{stem}-{os.getpid()}.{ext}" for stem, ext in
                                        (("compile-solc", "js"), ("solc-input", "json"), ("solc-output", "json")))
    script.write_text(_COMPILE_JS)
    source_file.write_text(json.dumps(standard_json))
    started = time.perf_counter()
    try:
        subprocess.run([node, str(script), str(modules), str(source_file), str(output_file)],
                       check=True, capture_output=True, text=True, timeout=900)
        output = json.loads(output_file.read_text())
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        raise SetupError(f"tests/evm: solc-js compilation of {label} failed ({why(e)})") from None
    finally:
        for file in (script, source_file, output_file):
            file.unlink(missing_ok=True)
    failures = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    if failures:
        raise SetupError(f"tests/evm: solc-js could not compile {label}: {failures[0].strip()}")
    contracts, errors = {}, {}
    for source, by_name in output["contracts"].items():
        for name, c in by_name.items():
            errors.update({signature(e): e for e in c["abi"] if e["type"] == "error"})
            if "evm" in c and wanted.get(name) == source:
                contracts[name] = {"abi": c["abi"], "bytecode": c["evm"]["bytecode"]["object"],
                                   "linkReferences": c["evm"]["bytecode"]["linkReferences"]}
    result = {"compile_seconds": round(time.perf_counter() - started, 1), "contracts": contracts,
              "errors": list(errors.values())}
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(result))
    partial.replace(cached)  # atomic: concurrent test workers never read half a file
    return result


# -- ABI --------------------------------------------------------------------------------------
def canonical(param: dict) -> str:
    """ABI type of one parameter, tuples spelled out (``(uint256,address)[]``)."""
    if param["type"].startswith("tuple"):
        return "(" + ",".join(canonical(c) for c in param["components"]) + ")" + param["type"][5:]
    return param["type"]


def signature(entry: dict) -> str:
    return f"{entry['name']}({','.join(canonical(p) for p in entry['inputs'])})"


def upper_snake(name: str) -> str:
    """``HealthFactorNotBelowThreshold`` -> ``HEALTH_FACTOR_NOT_BELOW_THRESHOLD``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).upper()


def keccak256(data: bytes) -> bytes:
    from Crypto.Hash import keccak

    return keccak.new(digest_bits=256, data=data).digest()


def _types(types: str) -> list[str]:
    """``'address,(uint8,string)[]'`` -> ``['address', '(uint8,string)[]']``."""
    from eth_abi.grammar import parse

    return [t.to_type_str() for t in parse(f"({types})").components] if types else []


def encode(types: str, args) -> bytes:
    """ABI encoding of ``args`` as the comma-separated ``types`` (``eth_abi``)."""
    from eth_abi import encode as abi_encode

    return abi_encode(_types(types), list(args))


@functools.lru_cache(maxsize=None)
def topic(sig: str) -> str:
    """An event's topic 0 as pyrevm's logs spell it (``0x`` + hex)."""
    return "0x" + keccak256(sig.encode()).hex()


@functools.lru_cache(maxsize=None)
def selector(sig: str) -> bytes:
    return keccak256(sig.encode())[:4]


def calldata(sig: str, args) -> bytes:
    return selector(sig) + encode(sig[sig.index("(") + 1 : -1], args)


def words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32)]


def as_address(word: int) -> str:
    """An address returned as a 32-byte word, as lower-case hex."""
    return "0x" + word.to_bytes(20, "big").hex()


def address_of(name: str) -> str:
    """The deterministic address of a named account: the last 20 bytes of keccak(name)."""
    return "0x" + keccak256(name.encode())[-20:].hex()


class Deployer:
    """One pyrevm EVM and an admin account: deploy creation code, send calls, read views, name reverts.

    ``error_codes`` maps an ``Error(string)`` text to a name (contracts that revert with codes),
    ``error_selectors`` a custom error's selector to its name.
    """

    def __init__(self, evm, admin: str, error_codes: dict | None = None, error_selectors: dict | None = None):
        self.evm, self.admin = evm, admin
        self.error_codes, self.error_selectors = error_codes or {}, error_selectors or {}

    def deploy_code(self, code: bytes) -> str:
        """Deploy creation ``code`` (constructor arguments appended) from admin; its address."""
        try:
            return self.evm.deploy(self.admin, code).lower()
        except RuntimeError as e:
            raise Revert(self.reason(str(e))) from None

    def send(self, sender: str, to: str, sig: str, *args) -> None:
        """A state-changing call; a revert raises :class:`Revert` and changes nothing."""
        try:
            self.evm.message_call(sender, to, calldata(sig, args))
        except RuntimeError as e:
            raise Revert(self.reason(str(e))) from None

    def call(self, sender: str, to: str, sig: str, *args) -> list[int]:
        """A state-changing call's return data as 32-byte words."""
        try:
            return words(bytes(self.evm.message_call(sender, to, calldata(sig, args))))
        except RuntimeError as e:
            raise Revert(self.reason(str(e))) from None

    def view(self, to: str, sig: str, *args) -> list[int]:
        """A static call's return data as 32-byte words."""
        try:
            return words(bytes(self.evm.message_call(self.admin, to, calldata(sig, args), is_static=True)))
        except RuntimeError as e:
            raise Revert(self.reason(str(e))) from None

    def logs(self) -> list:
        """The logs of the last call."""
        return self.evm.result.logs

    def reason(self, message: str) -> str:
        """The error's name in a pyrevm revert message (else the message itself)."""
        found = re.search(r"output: 0x([0-9a-fA-F]*)", message)
        if found is None:
            return message  # a halt (out of gas, code size, …), not a revert
        data = bytes.fromhex(found.group(1))
        if data[:4] == _ERROR_STRING and len(data) >= 68:
            text = data[68 : 68 + int.from_bytes(data[36:68], "big")].decode("utf-8", "replace")
            return self.error_codes.get(text, text)
        if data[:4] == _PANIC:
            return f"PANIC_0x{int.from_bytes(data[4:36], 'big'):02x}"
        return self.error_selectors.get(data[:4], "0x" + data.hex())
