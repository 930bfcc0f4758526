"""What an alert says about a miner: software, wallet, worker, coin (pipeline stage: detectors).

source -> decode -> flows/dissectors -> detectors -> enrichment -> sinks

Detectors call these pure functions on strings taken from Stratum / JSON-RPC / HTTP
messages (an ``agent`` or subscribe parameter, a ``login`` or authorize user, an
``algo`` name) to fill ``Detection.evidence``. Nothing here decides whether traffic
is mining; it only describes it. Wallet checks follow the address formats in
PROTOCOLS.md §9: base58check (Bitcoin, Litecoin, Zcash), bech32/bech32m (BIP173,
BIP350), Monero's block base58 (prefix checked; its Keccak checksum is not, since
hashlib has no Keccak-256), Ethereum hex (EIP-55 case checksum not checked).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from urllib.parse import parse_qs, urlsplit

MINER_SOFTWARE: Final[dict[str, str]] = {
    name.lower(): name
    for name in (
        # agents in PROTOCOLS.md §2-§4 fixtures
        "XMRig",
        "cgminer",
        "bfgminer",
        "xmr-stak-cpu",
        "EWBF",
        "ethminer",
        "NiceHash",
        "bitaxe",
        "cpuminer-multi",
        # other widespread miners, spelled as their projects spell them
        "xmrig-proxy",
        "xmrig-amd",
        "xmrig-nvidia",
        "xmr-stak",
        "xmr-stak-rx",
        "cpuminer",
        "cpuminer-opt",
        "minerd",
        "sgminer",
        "ccminer",
        "SRBMiner-MULTI",
        "SRBMiner",
        "lolMiner",
        "TeamRedMiner",
        "PhoenixMiner",
        "T-Rex",
        "NBMiner",
        "GMiner",
        "nanominer",
        "BzMiner",
        "WildRig",
        "Claymore",
        # getwork-era miners seen in User-Agents (ET sids 2016067, 26395; poclbm ET POLICY rule)
        "BitMinter",
        "poclbm",
        "Ufasoft",
    )
}
"""Known miner software, by lower-cased name, in its canonical spelling."""
MINER_REQUEST_HEADERS: Final = ("x-mining-extensions", "x-mining-hashrate")
"""HTTP request headers only miners send (cgminer, bfgminer; ET sid 2016758)."""
MAX_CACHED_AGENTS: Final = 1024
"""Agent strings whose ``parse_agent`` answer is remembered."""
MAX_CACHED_LOGINS: Final = 4096
"""Logins whose ``split_login`` answer is remembered (a miner sends its login with every getwork
request and every Stratum submit; the answer is a frozen ``Login``, shared safely)."""
_KNOWN_LONGEST_FIRST: Final = sorted(MINER_SOFTWARE, key=len, reverse=True)
_VERSION: Final = re.compile(r"v?\d[0-9A-Za-z.+~_-]{0,39}")
_GENERIC_AGENT: Final = re.compile(r"([A-Za-z][A-Za-z0-9._-]{0,39})/(v?\d[0-9A-Za-z.+~_-]{0,39})")
_AGENT_END: Final = re.compile(r"$|[\s(;,/\[]")
# ESP-Miner (Bitaxe firmware) subscribes with "bitaxe/<ASIC model>/<firmware version>".
_BITAXE: Final = re.compile(r"bitaxe/[^/\s]+(?:/(\S+))?", re.IGNORECASE)

BASE58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX: Final = {c: i for i, c in enumerate(BASE58_ALPHABET)}
BASE58CHECK_VERSIONS: Final[dict[bytes, str]] = {
    b"\x00": "bitcoin-base58",  # P2PKH "1..." (Bitcoin chainparams)
    b"\x05": "bitcoin-base58",  # P2SH "3..." (BIP13); Litecoin's old P2SH too
    b"\x30": "litecoin-base58",  # P2PKH "L..." (Litecoin chainparams)
    b"\x32": "litecoin-base58",  # P2SH "M..." (Litecoin chainparams)
    b"\x1c\xb8": "zcash-t",  # transparent P2PKH "t1..." (Zcash protocol spec §5.6.1.1)
    b"\x1c\xbd": "zcash-t",  # transparent P2SH "t3..."
}
"""Version bytes of the base58check addresses ``classify_wallet`` accepts."""
MONERO_TYPES: Final[dict[tuple[int, int], str]] = {
    (95, 18): "monero-standard",
    (106, 19): "monero-integrated",
    (95, 42): "monero-subaddress",
}
"""(length, network prefix) of Monero mainnet addresses (cryptonote_config.h; PROTOCOLS.md §9)."""
_MONERO_TAIL_BYTES: Final = {0: 0, 2: 1, 3: 2, 5: 3, 6: 4, 7: 5, 9: 6, 10: 7}
"""Monero base58 encodes 8-byte blocks as 11 characters; a short last block maps like this."""

BECH32_CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32_HRPS: Final[dict[str, str]] = {
    "bc": "bitcoin-bech32",
    "tb": "bitcoin-bech32",
    "ltc": "litecoin-bech32",
}
"""Human-readable parts accepted (BIP173 registry; Litecoin's "ltc")."""
_BECH32_GENERATOR: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_BECH32_CONST: Final = 1  # BIP173
_BECH32M_CONST: Final = 0x2BC830A3  # BIP350

_ETHEREUM: Final = re.compile(r"0x[0-9a-fA-F]{40}")
# The Claymore trace logs in with "vvesely@mailinator": a domain without a dot still counts.
_EMAIL: Final = re.compile(r"[^@\s/:]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_ACCOUNT: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,127}")
_PAYMENT_ID: Final = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{16}")
_UNMINEABLE: Final = re.compile(r"([A-Za-z0-9]{2,10}):([^:]+?)(?:#([A-Za-z0-9-]+))?")
_FIXED_DIFF: Final = re.compile(r"\+(\d+(?:\.\d+)?)(?=$|[./])")
_HASHRATE: Final = re.compile(r"\d+(?:\.\d+)?")

ALGO_COINS: Final[dict[str, str]] = {
    # XMRig names (xmrig src/base/crypto/Algorithm.h comments, Algorithm.cpp aliases)
    "rx/0": "Monero",
    "rx": "Monero",
    "randomx": "Monero",
    "cn/r": "Monero",
    "cryptonight/r": "Monero",
    "cn/2": "Monero",
    "cn/1": "Monero",
    "rx/wow": "Wownero",
    "randomwow": "Wownero",
    "rx/arq": "ArQmA",
    "randomarq": "ArQmA",
    "rx/graft": "Graft",
    "cn/rwz": "Graft",
    "rx/sfx": "Safex",
    "rx/keva": "Keva",
    "rx/yada": "YadaCoin",
    "rx/salvium": "Salvium",
    "rx/loki": "Loki",
    "panthera": "Scala",
    "cn/half": "Masari",
    "cn/fast": "Masari",
    "cn/msr": "Masari",
    "cn/xao": "Alloy",
    "cn/rto": "Arto",
    "cn/zls": "Zelerius",
    "cn/double": "X-CASH",
    "cn/ccx": "Conceal",
    "cn-lite/1": "Aeon",
    "cn-heavy/xhv": "Haven",
    "cn-heavy/tube": "BitTube",
    "cn-pico": "TurtleCoin",
    "cn-pico/trtl": "TurtleCoin",
    "cn-pico/tlo": "Talleo",
    "cn/upx2": "uPlexa",
    "argon2/chukwa": "TurtleCoin",
    "argon2/chukwav2": "TurtleCoin",
    "argon2/wrkz": "WrkzCoin",
    "astrobwt": "Dero",
    "astrobwt/v2": "Dero",
    "kawpow": "Ravencoin",
    "kawpow/rvn": "Ravencoin",
    "ghostrider": "Raptoreum",
    # other miners' algorithm names, by the coin each algorithm was made for
    "etchash": "Ethereum Classic",
    "ethash": "Ethereum",
    "equihash": "Zcash",
    "scrypt": "Litecoin",
    "sha256d": "Bitcoin",
    "sha256": "Bitcoin",
    "x11": "Dash",
    "autolykos2": "Ergo",
    "kheavyhash": "Kaspa",
    "firopow": "Firo",
    "octopus": "Conflux",
}
"""Mining algorithm name (lower case) -> the coin it points to."""
WALLET_COINS: Final[dict[str, str]] = {
    "monero": "Monero",
    "bitcoin": "Bitcoin",
    "litecoin": "Litecoin",
    "ethereum": "Ethereum",
    "zcash": "Zcash",
}
"""First word of a ``classify_wallet`` type -> coin."""
REDACT_KEEP: Final = (4, 3)
"""Characters ``redact`` keeps from the start and the end of values longer than 10."""


@dataclass(frozen=True, slots=True)
class Login:
    """A pool login split into its parts (PROTOCOLS.md §9 decorations)."""

    wallet: str | None
    """Payout address, pool account or e-mail that identifies the miner."""
    wallet_type: str | None
    """``classify_wallet`` of ``wallet``."""
    worker: str | None = None
    payment_id: str | None = None
    email: str | None = None
    raw: str = ""
    """The login exactly as received."""
    coin: str | None = None
    """Payout coin ticker of an unMineable ``COIN:ADDRESS`` login."""
    referral: str | None = None
    """Referral code after ``#`` in an unMineable login."""
    difficulty: str | None = None
    """Fixed difficulty requested with a ``+<diff>`` suffix."""


def is_miner_software(name: str) -> bool:
    """Say whether ``name`` (from ``parse_agent``) is known miner software."""
    return name.lower() in MINER_SOFTWARE


def is_miner_agent(agent: str) -> bool:
    """Say whether an agent or User-Agent string names known miner software (``Mozilla/5.0`` does not)."""
    parsed = parse_agent(agent)
    return parsed is not None and is_miner_software(parsed[0])


@lru_cache(maxsize=MAX_CACHED_AGENTS)
def parse_agent(agent: str) -> tuple[str, str] | None:
    """Return (software, version) from a miner agent or User-Agent string, else ``None``.

    Known miners get their canonical name and may have an empty version; any other
    ``name/version`` is returned as written. The version token is kept whole. Every HTTP
    request's User-Agent is asked about, and the same few come back, so the last
    ``MAX_CACHED_AGENTS`` answers are remembered.
    """
    text = agent.strip()
    bitaxe = _BITAXE.match(text)
    if bitaxe:  # the ASIC model in the middle is hardware, not a version
        return "bitaxe", bitaxe.group(1) or ""
    return _known_agent(text) or _generic_agent(text)


def _known_agent(text: str) -> tuple[str, str] | None:
    lower = text.lower()
    for key in _KNOWN_LONGEST_FIRST:
        version = _version_after_name(text[len(key) :]) if lower.startswith(key) else None
        if version is not None:
            return MINER_SOFTWARE[key], version
    return None


def _version_after_name(rest: str) -> str | None:
    """Return the version after a known name: "" if none is given, ``None`` if no name ended."""
    if rest[:1] in ("/", " ", "_", "-"):
        version = _VERSION.match(rest, 1)
        if version and _AGENT_END.match(rest, version.end()):
            return version.group()
    return "" if _AGENT_END.match(rest) else None


def _generic_agent(text: str) -> tuple[str, str] | None:
    match = _GENERIC_AGENT.match(text)
    if match and _AGENT_END.match(text, match.end()):
        return match.group(1), match.group(2)
    return None


def classify_wallet(s: str) -> str | None:
    """Name the kind of payout identity in ``s`` (see module docstring), or ``None``.

    Types: monero-standard, monero-integrated, monero-subaddress, bitcoin-base58,
    litecoin-base58, zcash-t (all checksum-verified except Monero), bitcoin-bech32,
    litecoin-bech32, ethereum, email, and "account" for other pool-account-like names.
    ``None`` for empty strings and for text no pool would take as a login.
    """
    text = s.strip()
    if not text:
        return None
    if _ETHEREUM.fullmatch(text):
        return "ethereum"
    if _EMAIL.fullmatch(text):
        return "email"
    kind = _bech32_type(text) or _monero_type(text) or _base58check_type(text)
    if kind:
        return kind
    return "account" if _ACCOUNT.fullmatch(text) else None


def _b58_int(text: str) -> int | None:
    value = 0
    for char in text:
        digit = _BASE58_INDEX.get(char)
        if digit is None:
            return None
        value = value * 58 + digit
    return value


def _base58check_type(text: str) -> str | None:
    if not 26 <= len(text) <= 35:
        return None
    value = _b58_int(text)
    if value is None:
        return None
    leading_zeros = len(text) - len(text.lstrip("1"))
    raw = b"\x00" * leading_zeros + value.to_bytes((value.bit_length() + 7) // 8, "big")
    payload, checksum = raw[:-4], raw[-4:]
    if len(payload) not in (21, 22):
        return None
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        return None
    return BASE58CHECK_VERSIONS.get(payload[:-20])


def _monero_type(text: str) -> str | None:
    """Decode Monero block base58 far enough to check the network prefix byte."""
    if len(text) not in (95, 106):
        return None
    blocks, tail = divmod(len(text), 11)
    decoded = b""
    for i in range(blocks + 1):
        chunk = text[i * 11 : (i + 1) * 11]
        size = 8 if len(chunk) == 11 else _MONERO_TAIL_BYTES.get(len(chunk), -1)
        value = _b58_int(chunk)
        if value is None or size < 0 or value >= 1 << (8 * size):
            return None
        decoded += value.to_bytes(size, "big")
    return MONERO_TYPES.get((len(text), decoded[0]))


def _bech32_polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_BECH32_GENERATOR):
            chk ^= gen if (top >> i) & 1 else 0
    return chk


def _five_to_eight(data: list[int]) -> bytes | None:
    """Regroup 5-bit values into bytes; ``None`` on more than 4 or non-zero padding bits."""
    acc = bits = 0
    out = bytearray()
    for value in data:
        acc = ((acc << 5) | value) & 0xFFF
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5 or (acc << (8 - bits)) & 0xFF:
        return None
    return bytes(out)


def _bech32_type(text: str) -> str | None:
    """Validate a segwit address per BIP173 (v0, bech32) and BIP350 (v1+, bech32m)."""
    if len(text) > 90 or text not in (text.lower(), text.upper()):
        return None
    hrp, _, data = text.lower().rpartition("1")
    if hrp not in BECH32_HRPS or len(data) < 7 or any(c not in BECH32_CHARSET for c in data):
        return None
    values = [BECH32_CHARSET.index(c) for c in data]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    version, program = values[0], _five_to_eight(values[1:-6])
    if version > 16 or program is None or not 2 <= len(program) <= 40:
        return None
    if version == 0 and len(program) not in (20, 32):
        return None
    expected = _BECH32_CONST if version == 0 else _BECH32M_CONST
    return BECH32_HRPS[hrp] if _bech32_polymod(expanded + values) == expected else None


@lru_cache(maxsize=MAX_CACHED_LOGINS)
def split_login(login: str) -> Login:
    """Split a pool login into wallet, worker, payment id, e-mail and decorations.

    Handles ``<addr>.<worker>``, ``<addr>.<paymentID>.<worker>``,
    ``<addr>/<worker>/<email>``, ``<account>.<worker>``, plain e-mail,
    ``<MH>@<addr>@<rig>`` (also inside a ``/?miner=`` URI), unMineable
    ``COIN:ADDRESS.WORKER#ref`` and ``+<diff>`` fixed-difficulty suffixes.
    """
    text = _miner_parameter(login.strip())
    coin = referral = difficulty = None
    unmineable = _UNMINEABLE.fullmatch(text)
    if unmineable:
        coin, text, referral = unmineable.group(1).upper(), unmineable.group(2), unmineable.group(3)
    fixed = _FIXED_DIFF.search(text)
    if fixed:
        difficulty, text = fixed.group(1), text[: fixed.start()] + text[fixed.end() :]
    wallet, worker, payment_id, email = _identity(text)
    return Login(
        wallet=wallet,
        wallet_type=classify_wallet(wallet) if wallet else None,
        worker=worker,
        payment_id=payment_id,
        email=email,
        raw=login,
        coin=coin,
        referral=referral,
        difficulty=difficulty,
    )


def _identity(text: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(wallet, worker, payment id, e-mail) of an undecorated login."""
    getwork = _getwork_login(text)
    if getwork:
        return getwork[0], getwork[1], None, None
    head, *tail = text.split("/")
    email = next((part for part in tail if "@" in part), None)
    slash_worker = next((part for part in tail if part and "@" not in part), None)
    if _EMAIL.fullmatch(head):
        return head, slash_worker, None, head
    wallet, *dotted = head.split(".")
    payment_id = dotted.pop(0) if dotted and _PAYMENT_ID.fullmatch(dotted[0]) else None
    return wallet or None, slash_worker or ".".join(dotted) or None, payment_id, email


def _miner_parameter(text: str) -> str:
    """Take the ``miner`` query value out of an HTTP getwork URI (``/?miner=...``)."""
    if not text.startswith(("/?", "/", "http://", "https://")) or "miner=" not in text:
        return text
    values = parse_qs(urlsplit(text).query).get("miner")
    return values[0] if values else text


def _getwork_login(text: str) -> tuple[str, str | None] | None:
    """(wallet, rig) from ``<MH>@<addr>@<rig>`` or ``<MH>@<addr>``, else ``None``."""
    parts = text.split("@")
    if len(parts) not in (2, 3) or not _HASHRATE.fullmatch(parts[0]):
        return None
    if classify_wallet(parts[1]) in (None, "account", "email"):
        return None
    return parts[1], (parts[2] or None) if len(parts) == 3 else None


def coin_for_algo(algo: str) -> str | None:
    """Return the coin a mining algorithm name points to (``rx/wow`` -> Wownero), else ``None``."""
    return ALGO_COINS.get(algo.strip().lower())


def coin_for_wallet(wallet_type: str | None) -> str | None:
    """Return the coin of a ``classify_wallet`` type (``monero-subaddress`` -> Monero)."""
    if not wallet_type:
        return None
    return WALLET_COINS.get(wallet_type.split("-")[0])


def redact(value: str) -> str:
    """Hide a wallet, account or e-mail for the redaction option.

    Form: ``<first 4>...<last 3> [redacted <type>]`` (``47mr...yjN [redacted
    monero-standard]``); values of 10 characters or fewer keep nothing but the type.
    The type is that of the wallet in ``value`` read as a login (``split_login``), so a
    decorated login keeps its wallet's type; ``value`` when there is none; "" stays "".
    """
    if not value:
        return ""
    kind = split_login(value).wallet_type or "value"
    head, tail = REDACT_KEEP
    if len(value) <= 10:
        return f"[redacted {kind}]"
    return f"{value[:head]}...{value[-tail:]} [redacted {kind}]"
