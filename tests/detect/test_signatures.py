"""Tests for poolsniff.detect.signatures: ids, severities and the flavour/role -> signature map."""

from __future__ import annotations

import pytest

from poolsniff.detect import signatures as sigs
from poolsniff.model import Role

EXPECTED_SIDS = {
    9300101: ("Stratum v1 miner session", 1),
    9300102: ("Stratum v1 pool server session", 1),
    9300103: ("EthereumStratum miner session", 1),
    9300104: ("EthereumStratum pool server session", 1),
    9300105: ("eth-proxy (Ethereum getWork) miner session", 1),
    9300106: ("eth-proxy (Ethereum getWork) pool server session", 1),
    9300107: ("CryptoNote/XMRig stratum miner session", 1),
    9300108: ("CryptoNote/XMRig stratum pool server session", 1),
    9300109: ("getwork/getblocktemplate miner session", 1),
    9300110: ("getwork/getblocktemplate pool server session", 1),
    9300120: ("Mining infrastructure", 3),
    9300130: ("Possible Stratum V2", 3),
    9300131: ("Stratum V2 SetupConnection", 1),
    9300140: ("Possible encrypted Stratum session", 2),
    9300141: ("Possible encrypted Stratum session in opaque TCP", 2),
    9300201: ("DNS query for a mining pool domain", 2),
    9300202: ("TLS SNI of a mining pool", 2),
    9300203: ("HTTP Host of a mining pool", 2),
    9300204: ("address a mining pool name resolved to", 2),
    9300205: ("listed mining pool endpoint", 2),
    9300206: ("Proxy tunnel to a mining pool", 2),
    9300301: ("Mining pool confirmed by an active probe", 1),
}
"""Every signature: a fragment of its message and its severity."""


def test_every_signature_is_listed_once() -> None:
    """ALL holds exactly the expected ids, each once."""
    sids = [s.sid for s in sigs.ALL]
    assert sorted(sids) == sorted(EXPECTED_SIDS)
    assert len(set(sids)) == len(sids)


@pytest.mark.parametrize("sid", sorted(EXPECTED_SIDS))
def test_signature_message_and_severity(sid: int) -> None:
    """Each signature says what it found, at its severity, under the POOLSNIFF COINMINER prefix."""
    [sig] = [s for s in sigs.ALL if s.sid == sid]
    fragment, severity = EXPECTED_SIDS[sid]
    assert sig.msg.startswith("POOLSNIFF COINMINER ")
    assert fragment in sig.msg
    assert sig.severity == severity
    assert 9_300_000 <= sig.sid <= 9_300_999


VERDICT_ROWS = [
    ("stratum-v1", Role.MINER, 9300101),
    ("stratum-v1", Role.POOL, 9300102),
    ("stratum-v1-equihash", Role.MINER, 9300101),
    ("stratum-v1-equihash", Role.POOL, 9300102),
    ("ethereumstratum", Role.MINER, 9300103),
    ("ethereumstratum", Role.POOL, 9300104),
    ("eth-proxy", Role.MINER, 9300105),
    ("eth-proxy", Role.POOL, 9300106),
    ("cryptonote", Role.MINER, 9300107),
    ("cryptonote", Role.POOL, 9300108),
    ("getwork", Role.MINER, 9300109),
    ("getwork", Role.POOL, 9300110),
    ("getblocktemplate", Role.MINER, 9300109),
    ("getblocktemplate", Role.POOL, 9300110),
    ("getblocktemplate", Role.INFRA, 9300120),
    ("stratum-v1", Role.INFRA, 9300120),
    ("some-new-flavour", Role.MINER, 9300101),
    ("some-new-flavour", Role.POOL, 9300102),
]


@pytest.mark.parametrize(("flavour", "role", "sid"), VERDICT_ROWS)
def test_for_verdict(flavour: str, role: Role, sid: int) -> None:
    """Flavour family and role pick the signature; INFRA is coin-daemon RPC whatever the flavour."""
    assert sigs.for_verdict(flavour, role).sid == sid


@pytest.mark.parametrize("family", sorted(sigs.MINER))
def test_pool_signature_follows_miner_signature(family: str) -> None:
    """Each family's pool signature id is its miner id plus one."""
    assert sigs.POOL[family].sid == sigs.MINER[family].sid + 1


def test_fallback_signatures() -> None:
    """Only the resolved-address and endpoint signatures are fallbacks."""
    assert sigs.FALLBACK == {9300204, 9300205}


def test_probe_worthy_signatures_are_possible_pools_with_the_server_as_dest() -> None:
    """--confirm probes "possible" alerts whose dest is the server: not DNS (the resolver), not sure ones."""
    worthy = sigs.probe_worthy()
    assert worthy == {9300140, 9300202, 9300204, 9300205}
    assert all(sigs.by_sid(sid).severity == 2 for sid in worthy)  # type: ignore[union-attr]
    assert sigs.DNS_POOL.sid not in worthy and sigs.CONFIRMED.sid not in worthy
    assert sigs.by_sid(9300301) is sigs.CONFIRMED and sigs.by_sid(1) is None
