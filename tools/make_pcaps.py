"""Developer tool outside the package: writes the demo captures in ``pcaps/`` (input for the *source* stage).

source -> decode -> flows/dissectors -> detectors -> enrichment (blocklists, DNS memory) -> sinks

Every capture is built from scratch with the standard library only (headers packed with ``struct``, checksums
computed here), so re-running ``python tools/make_pcaps.py [--out pcaps]`` writes byte-identical files: fixed
timestamps from 2024-05-01T12:00:00Z, documentation addresses, fixed ports and sequence numbers, and a
SHA-256 counter stream instead of a random generator. The JSON lines follow the per-implementation formats in
``../shared/reference/PROTOCOLS.md``; every line is checked with ``json.loads`` before it is written.
``pcaps/README.md`` says what each capture must and must not trigger.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

from pcapgen.scenarios.benign import cap_benign_mix
from pcapgen.scenarios.cryptonote import cap_xmrig_login
from pcapgen.scenarios.ethereum import cap_eth_proxy_claymore, cap_ethereumstratum_nicehash
from pcapgen.scenarios.getwork import cap_coin_daemon_rpc, cap_getwork_http
from pcapgen.scenarios.names import cap_dns_pool_lookup, cap_dns_then_tls_stratum, cap_tls_sni_donate
from pcapgen.scenarios.stratum import cap_equihash_zcash, cap_stratum_split_midsession, cap_stratum_v1_cgminer
from pcapgen.scenarios.sv2 import cap_sv2_handshake
from pcapgen.scenarios.tunnels import (
    cap_http_connect_stratum,
    cap_proxy_v2_stratum,
    cap_socks5_https_benign,
    cap_socks5_xmrig,
    cap_websocket_stratum,
)

CAPTURES: dict[str, Callable[[], bytes]] = {
    "stratum-v1-cgminer.pcap": cap_stratum_v1_cgminer,
    "xmrig-login.pcapng": cap_xmrig_login,
    "dns-pool-lookup.pcap": cap_dns_pool_lookup,
    "tls-sni-donate.pcap": cap_tls_sni_donate,
    "eth-proxy-claymore.pcap": cap_eth_proxy_claymore,
    "ethereumstratum-nicehash.pcap": cap_ethereumstratum_nicehash,
    "getwork-http.pcap": cap_getwork_http,
    "stratum-split-midsession.pcap": cap_stratum_split_midsession,
    "equihash-zcash.pcap.gz": cap_equihash_zcash,
    "benign-mix.pcapng": cap_benign_mix,
    "sv2-handshake.pcap": cap_sv2_handshake,
    "dns-then-tls-stratum.pcap": cap_dns_then_tls_stratum,
    "coin-daemon-rpc.pcap": cap_coin_daemon_rpc,
    "socks5-xmrig.pcap": cap_socks5_xmrig,
    "socks5-https-benign.pcap": cap_socks5_https_benign,
    "http-connect-stratum.pcap": cap_http_connect_stratum,
    "proxy-v2-stratum.pcap": cap_proxy_v2_stratum,
    "websocket-stratum.pcap": cap_websocket_stratum,
}
MAX_SIZE = 30 * 1024


def main(argv: Sequence[str] | None = None) -> int:
    """Write every capture into ``--out`` and print name, size and SHA-256 of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "pcaps",
        help="output directory (default: the repository's pcaps/)",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, build in CAPTURES.items():
        data = build()
        if len(data) > MAX_SIZE:
            raise SystemExit(f"{name}: {len(data)} bytes, over the {MAX_SIZE}-byte budget")
        (out / name).write_bytes(data)
        print(f"{name:34} {len(data):6d}  {hashlib.sha256(data).hexdigest()[:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
