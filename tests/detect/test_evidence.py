"""Tests for poolsniff.detect.evidence: agents, wallets, logins, coins, redaction."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poolsniff.detect import evidence as ev
from poolsniff.detect.evidence import (
    MAX_CACHED_AGENTS,
    Login,
    classify_wallet,
    coin_for_algo,
    coin_for_wallet,
    is_miner_software,
    parse_agent,
    redact,
    split_login,
)

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58(data: bytes) -> str:
    """Plain base58 (Bitcoin alphabet), leading zero bytes as '1'."""
    value = int.from_bytes(data, "big")
    out = ""
    while value:
        value, digit = divmod(value, 58)
        out = ALPHABET[digit] + out
    return "1" * (len(data) - len(data.lstrip(b"\x00"))) + out


def b58check(version: bytes, payload: bytes) -> str:
    """Base58check: version + payload + first 4 bytes of double SHA-256."""
    body = version + payload
    return b58(body + hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4])


def monero_b58(data: bytes) -> str:
    """Monero base58: 8-byte blocks as 11 characters, a short last block padded to its size."""
    sizes = {0: 0, 1: 2, 2: 3, 3: 5, 4: 6, 5: 7, 6: 9, 7: 10, 8: 11}
    out = ""
    for i in range(0, len(data), 8):
        block = data[i : i + 8]
        value, chars = int.from_bytes(block, "big"), ""
        while value:
            value, digit = divmod(value, 58)
            chars = ALPHABET[digit] + chars
        out += chars.rjust(sizes[len(block)], "1")
    return out


def monero_address(prefix: int, key_bytes: int = 64) -> str:
    """A Monero-shaped address: varint prefix, keys (and payment id), 4 checksum bytes.

    The checksum bytes are not Keccak (hashlib has none); evidence.py does not check them.
    """
    return monero_b58(bytes([prefix]) + bytes(range(7, 7 + key_bytes)) + b"\xde\xad\xbe\xef")


HASH160 = hashlib.new("ripemd160", hashlib.sha256(b"poolsniff").digest()).digest()
BTC_P2PKH = b58check(b"\x00", HASH160)
BTC_P2SH = b58check(b"\x05", HASH160)
LTC_P2PKH = b58check(b"\x30", HASH160)
LTC_P2SH = b58check(b"\x32", HASH160)
ZEC_T1 = b58check(b"\x1c\xb8", HASH160)
ZEC_T3 = b58check(b"\x1c\xbd", HASH160)
DOGE = b58check(b"\x1e", HASH160)  # a valid base58check address of a version not accepted
XMR_STANDARD = monero_address(18)
XMR_INTEGRATED = monero_address(19, key_bytes=72)
XMR_SUBADDRESS = monero_address(42)
# Monero Project general fund donation address (a published standard address).
XMR_DONATION = (
    "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
)
GENESIS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"  # Bitcoin genesis block coinbase address
ETH = "0x9c99d212f7e5daa18ab50810e0fd255d1f04303b"  # Claymore trace login (PROTOCOLS.md §3)
PAYMENT_ID = "a1" * 32


def test_generated_addresses_have_the_documented_shape() -> None:
    # The helpers, not the code under test, must agree with PROTOCOLS.md §9.
    assert BTC_P2PKH[0] == "1" and BTC_P2SH[0] == "3"
    assert LTC_P2PKH[0] == "L" and LTC_P2SH[0] == "M"
    assert ZEC_T1[:2] == "t1" and ZEC_T3[:2] == "t3" and len(ZEC_T1) == 35
    assert (XMR_STANDARD[0], len(XMR_STANDARD)) == ("4", 95)
    assert (XMR_INTEGRATED[0], len(XMR_INTEGRATED)) == ("4", 106)
    assert (XMR_SUBADDRESS[0], len(XMR_SUBADDRESS)) == ("8", 95)


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("XMRig/6.22.2 (Linux x86_64) libuv/1.48.0 gcc/13.2.1", ("XMRig", "6.22.2")),
        ("XMRig/6.21.0 (Macintosh; macOS; x86_64) libuv/1.46.0 clang/14.0.3", ("XMRig", "6.21.0")),
        ("xmrig/6.0.0", ("XMRig", "6.0.0")),
        ("cgminer/4.11.1", ("cgminer", "4.11.1")),
        ("bfgminer/5.2.0", ("bfgminer", "5.2.0")),
        ("xmr-stak-cpu/1.0.0", ("xmr-stak-cpu", "1.0.0")),
        ("xmr-stak/2.10.8/e4bb1e1/master/lin/cpu/monero/0", ("xmr-stak", "2.10.8")),
        ("EWBF 0.3.4b", ("EWBF", "0.3.4b")),
        ("ethminer-0.19.0", ("ethminer", "0.19.0")),
        ("ethminer-0.19.0-17+commit.e3b5f4b5", ("ethminer", "0.19.0-17+commit.e3b5f4b5")),
        ("NiceHash/1.0.0", ("NiceHash", "1.0.0")),
        ("xmr/1.0", ("xmr", "1.0")),
        ("bitaxe/BM1366/v2.4.0", ("bitaxe", "v2.4.0")),
        ("bitaxe/BM1397", ("bitaxe", "")),
        ("cpuminer-multi/1.3", ("cpuminer-multi", "1.3")),
        ("SRBMiner-MULTI/2.4.5", ("SRBMiner-MULTI", "2.4.5")),
        ("lolMiner 1.76", ("lolMiner", "1.76")),
        ("TeamRedMiner/0.10", ("TeamRedMiner", "0.10")),
        ("PhoenixMiner/6.2c", ("PhoenixMiner", "6.2c")),
        ("T-Rex/0.26.8", ("T-Rex", "0.26.8")),
        ("NBMiner/42.3", ("NBMiner", "42.3")),
        ("NiceHash", ("NiceHash", "")),
        ("  XMRig  ", ("XMRig", "")),
        ("MinerName/1.0.0", ("MinerName", "1.0.0")),  # NiceHash spec example
        ("xmrig-mo/6.22.0", ("xmrig-mo", "6.22.0")),  # fork name is not cut to "XMRig"
        ("xmrigx/1.0", ("xmrigx", "1.0")),
        ("python-requests/2.31.0", ("python-requests", "2.31.0")),
        ("", None),
        ("x", None),
        ("hello world", None),
        ("name/", None),
        ("name/abc", None),
        ("/1.0", None),
        ("EthereumStratum/1.0.0x!", None),
    ],
)
def test_parse_agent(agent: str, expected: tuple[str, str] | None) -> None:
    assert parse_agent(agent) == expected
    assert parse_agent(agent) == expected  # the remembered answer is the same


def test_parse_agent_remembers_a_bounded_number_of_agents() -> None:
    parse_agent.cache_clear()
    for i in range(MAX_CACHED_AGENTS + 10):
        parse_agent(f"agent{i}/1.{i}")
    info = parse_agent.cache_info()
    assert (info.maxsize, info.currsize) == (MAX_CACHED_AGENTS, MAX_CACHED_AGENTS)
    assert parse_agent("agent3/1.3") == ("agent3", "1.3")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("XMRig", True), ("xmrig", True), ("T-Rex", True), ("MinerName", False), ("Mozilla", False)],
)
def test_is_miner_software(name: str, expected: bool) -> None:
    assert is_miner_software(name) is expected


BIP_VALID = [
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
    "BC1SW50QGDZ25J",
    "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
    "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
    "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
]
"""BIP350 "valid segwit addresses" test vectors (they include BIP173's)."""
BIP_INVALID = [
    "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
    "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
    "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
    "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
    "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
    "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
    "bc1pw5dgrnzv",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
    "bc1gmk9yu",
]
"""BIP350 "invalid segwit addresses" test vectors."""


@pytest.mark.parametrize("address", BIP_VALID)
def test_bech32_valid_vectors(address: str) -> None:
    assert classify_wallet(address) == "bitcoin-bech32"


@pytest.mark.parametrize("address", BIP_INVALID)
def test_bech32_invalid_vectors(address: str) -> None:
    assert classify_wallet(address) != "bitcoin-bech32"


def flip_last(s: str) -> str:
    """Change the last character to another base58 character."""
    return s[:-1] + ("2" if s[-1] != "2" else "3")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (XMR_STANDARD, "monero-standard"),
        (XMR_DONATION, "monero-standard"),
        (XMR_INTEGRATED, "monero-integrated"),
        (XMR_SUBADDRESS, "monero-subaddress"),
        (monero_address(19), "account"),  # integrated prefix at standard length
        (monero_address(24), "account"),  # testnet-style prefix
        (XMR_STANDARD[:-1] + "0", "account"),  # '0' is not base58
        (GENESIS, "bitcoin-base58"),
        (BTC_P2PKH, "bitcoin-base58"),
        (BTC_P2SH, "bitcoin-base58"),
        (flip_last(BTC_P2PKH), "account"),
        (LTC_P2PKH, "litecoin-base58"),
        (LTC_P2SH, "litecoin-base58"),
        (ZEC_T1, "zcash-t"),
        (ZEC_T3, "zcash-t"),
        (flip_last(ZEC_T1), "account"),
        (DOGE, "account"),
        (ETH, "ethereum"),
        ("0x4B999BA68E017854FFB6B494BC2DDB9EF02BD745", "ethereum"),
        (ETH[:-1], "account"),
        ("slavf1@yandex.ru", "email"),  # ET deleted rule (PROTOCOLS.md §9)
        ("vvesely@mailinator", "email"),  # Claymore trace
        ("kvetak", "account"),  # suprnova
        ("donations", "account"),
        (" kvetak ", "account"),
        ("", None),
        ("   ", None),
        ("two words", None),
        ("a" * 200, None),
    ],
)
def test_classify_wallet(value: str, expected: str | None) -> None:
    assert classify_wallet(value) == expected


@pytest.mark.parametrize(
    ("login", "expected"),
    [
        pytest.param(
            f"{ZEC_T1}.rig4",
            Login(ZEC_T1, "zcash-t", worker="rig4"),
            id="addr.worker",
        ),
        pytest.param(
            f"{XMR_STANDARD}.{PAYMENT_ID}.worker1",
            Login(XMR_STANDARD, "monero-standard", worker="worker1", payment_id=PAYMENT_ID),
            id="addr.paymentid.worker",
        ),
        pytest.param(
            f"{XMR_STANDARD}.{PAYMENT_ID[:16]}",
            Login(XMR_STANDARD, "monero-standard", payment_id=PAYMENT_ID[:16]),
            id="addr.short-paymentid",
        ),
        pytest.param(
            f"{ETH}/tester.worker1/vvesely@mailinator",
            Login(ETH, "ethereum", worker="tester.worker1", email="vvesely@mailinator"),
            id="addr/worker/email",
        ),
        pytest.param(f"{ETH}.rig1", Login(ETH, "ethereum", worker="rig1"), id="eth.worker"),
        pytest.param(
            "kvetak.worker1", Login("kvetak", "account", worker="worker1"), id="account.worker"
        ),
        pytest.param(
            "slavf1@yandex.ru",
            Login("slavf1@yandex.ru", "email", email="slavf1@yandex.ru"),
            id="email",
        ),
        pytest.param(
            "30@0x4b999ba68e017854ffb6b494bc2ddb9ef02bd745@OptionalRigName",
            Login("0x4b999ba68e017854ffb6b494bc2ddb9ef02bd745", "ethereum", worker="OptionalRigName"),
            id="getwork-mh@addr@rig",
        ),
        pytest.param(
            "/?miner=30@0x4b999ba68e017854ffb6b494bc2ddb9ef02bd745@OptionalRigName",
            Login("0x4b999ba68e017854ffb6b494bc2ddb9ef02bd745", "ethereum", worker="OptionalRigName"),
            id="getwork-uri",
        ),
        pytest.param(
            f"12.5@{ETH}", Login(ETH, "ethereum"), id="getwork-no-rig"
        ),
        pytest.param(
            f"SHIB:{ETH}.rig#ab12-cd34",
            Login(ETH, "ethereum", worker="rig", coin="SHIB", referral="ab12-cd34"),
            id="unmineable",
        ),
        pytest.param(
            f"doge:{ETH}", Login(ETH, "ethereum", coin="DOGE"), id="unmineable-no-worker"
        ),
        pytest.param(
            f"{XMR_STANDARD}+50000",
            Login(XMR_STANDARD, "monero-standard", difficulty="50000"),
            id="fixed-diff",
        ),
        pytest.param(
            f"{XMR_STANDARD}.rig+1.5",
            Login(XMR_STANDARD, "monero-standard", worker="rig", difficulty="1.5"),
            id="worker-fixed-diff",
        ),
        pytest.param(
            f"{BTC_P2PKH}+1000.rig",
            Login(BTC_P2PKH, "bitcoin-base58", worker="rig", difficulty="1000"),
            id="diff-before-worker",
        ),
        pytest.param(
            f"{BIP_VALID[0].lower()}.rig",
            Login(BIP_VALID[0].lower(), "bitcoin-bech32", worker="rig"),
            id="bech32.worker",
        ),
        pytest.param(XMR_SUBADDRESS, Login(XMR_SUBADDRESS, "monero-subaddress"), id="bare-addr"),
        pytest.param("x", Login("x", "account"), id="pass-like"),
        pytest.param("", Login(None, None), id="empty"),
        pytest.param(".rig", Login(None, None, worker="rig"), id="worker-only"),
    ],
)
def test_split_login(login: str, expected: Login) -> None:
    assert split_login(login) == Login(
        expected.wallet, expected.wallet_type, expected.worker, expected.payment_id,
        expected.email, login, expected.coin, expected.referral, expected.difficulty,
    )


@pytest.mark.parametrize(
    ("algo", "expected"),
    [
        ("rx/0", "Monero"),
        ("RX/0", "Monero"),
        ("rx/wow", "Wownero"),
        ("rx/arq", "ArQmA"),
        ("rx/graft", "Graft"),
        ("cn/r", "Monero"),
        ("cn-heavy/xhv", "Haven"),
        ("cn-pico/tlo", "Talleo"),
        ("argon2/chukwa", "TurtleCoin"),
        ("kawpow", "Ravencoin"),
        ("ghostrider", "Raptoreum"),
        ("etchash", "Ethereum Classic"),
        ("ethash", "Ethereum"),
        ("equihash", "Zcash"),
        ("scrypt", "Litecoin"),
        ("sha256d", "Bitcoin"),
        (" rx/0 ", "Monero"),
        ("cn/0", None),
        ("unknown-algo", None),
        ("", None),
    ],
)
def test_coin_for_algo(algo: str, expected: str | None) -> None:
    assert coin_for_algo(algo) == expected


@pytest.mark.parametrize(
    ("wallet_type", "expected"),
    [
        ("monero-standard", "Monero"),
        ("monero-integrated", "Monero"),
        ("monero-subaddress", "Monero"),
        ("bitcoin-base58", "Bitcoin"),
        ("bitcoin-bech32", "Bitcoin"),
        ("litecoin-base58", "Litecoin"),
        ("ethereum", "Ethereum"),
        ("zcash-t", "Zcash"),
        ("email", None),
        ("account", None),
        (None, None),
    ],
)
def test_coin_for_wallet(wallet_type: str | None, expected: str | None) -> None:
    assert coin_for_wallet(wallet_type) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (XMR_DONATION, "44AF...P3A [redacted monero-standard]"),
        (ETH, "0x9c...03b [redacted ethereum]"),
        ("slavf1@yandex.ru", "slav....ru [redacted email]"),
        ("kvetak", "[redacted account]"),
        (f"{XMR_STANDARD}.rig1", f"{XMR_STANDARD[:4]}...ig1 [redacted monero-standard]"),
        (f"{ETH}/tester.worker1/vvesely@mailinator", "0x9c...tor [redacted ethereum]"),
        ("two words here", "two ...ere [redacted value]"),
        ("", ""),
    ],
)
def test_redact(value: str, expected: str) -> None:
    assert redact(value) == expected


@pytest.mark.parametrize("value", [XMR_STANDARD, BTC_P2PKH, ETH, "slavf1@yandex.ru"])
def test_redact_hides_the_middle(value: str) -> None:
    assert value[4:-3] not in redact(value)


@given(st.text(max_size=200))
def test_never_raise(text: str) -> None:
    login = split_login(text)
    assert login.raw == text
    assert login.wallet_type == (classify_wallet(login.wallet) if login.wallet else None)
    parse_agent(text)
    redact(text)


LOGINS = ["", "x", "Bitcoin", "4" + "a" * 94, "a@b.c", "30@0x" + "1" * 40 + "@rig", "/?miner=1@2@3"]


@settings(max_examples=200, deadline=None)
@given(login=st.sampled_from(LOGINS) | st.text(max_size=60))
def test_a_remembered_login_split_is_the_split_itself(login: str) -> None:
    """``split_login`` keeps its answers (bounded); a kept answer is the one the split gives afresh."""
    first, again = ev.split_login(login), ev.split_login(login)
    assert first == again == ev.split_login.__wrapped__(login)
    assert ev.split_login.cache_info().maxsize == ev.MAX_CACHED_LOGINS
