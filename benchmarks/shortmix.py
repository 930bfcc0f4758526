"""Deterministic generator of a short-flow benchmark capture (benchmark input, not part of the package).

Where ``mixcap.py`` stands in for an uplink carrying bulk downloads, this mix is made of
what a real network carries most of: short HTTP/1.1 sessions (a request, a response of
a few segments, 10-40 packets with the handshake and the close), short TLS sessions
(ClientHello with SNI, the server's flight, a few records: 10-40 packets), heavy DNS,
and UDP of other kinds: QUIC-like long-header datagrams on 443, NTP, mDNS, RTP-like
voice streams (160-byte payloads every 20 ms) and game traffic (small datagrams on
high ports). A little mining is mixed in, as in ``mixcap.py`` (Stratum v1, XMRig, a pool
name resolved then connected to), and its flows are listed in the manifest. Everything
comes from one seeded ``random.Random``: the same options give the same bytes.

    python benchmarks/shortmix.py /tmp/short.pcap --packets 1000000
"""

from __future__ import annotations

import random

import mixcap
from mixcap import ACK, PSH, Conn, Endpoints, Kind, Session, blob, close, handshake, send, udp_frame

SHARES = {
    "http": 0.27, "tls": 0.27, "dns": 0.14, "quic": 0.12,
    "ntp": 0.02, "mdns": 0.02, "rtp": 0.10, "game": 0.06,
}  # fmt: skip
"""Share of the packets per benign traffic kind."""
MEAN_PACKETS = {
    "http": 22.0, "tls": 24.0, "dns": 2.0, "quic": 16.0, "ntp": 2.0, "mdns": 1.0, "rtp": 120.0, "game": 60.0,
}  # fmt: skip
"""Mean packets of one session of each kind (to turn shares into session rates)."""
MINING_EVERY = 40_000


class ShortGenerator(mixcap.Generator):
    """``mixcap.Generator`` with short sessions and UDP of many kinds."""

    def short_http(self, t: int) -> Session:
        """Handshake, one GET, a response of 1-12 segments (ACKed), FIN both ways."""
        rng = self.rng
        ep = Endpoints(self.client4(), self.server4(), self.port(), rng.choice((80, 80, 80, 8080)))
        conn, rtt = Conn(rng, ep), rng.randrange(1_000, 30_000)
        yield from handshake(conn, t, rtt)
        t += rtt + 50
        name = rng.choice(mixcap.BENIGN_NAMES)
        request = f"GET /{rng.choice(('index.html', 'api/v1/items', 'img/logo.png', 'js/app.js'))}"
        request += f"?r={rng.getrandbits(24):06x} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: Mozilla/5.0\r\n"
        request += "Accept: */*\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
        yield t, conn.frame(True, PSH | ACK, request.encode()), None
        t += rtt
        segments = rng.randrange(1, 13)
        body = blob(rng, segments * conn.mss - 200)
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body)
        data = head + body
        for n, i in enumerate(range(0, len(data), conn.mss)):
            yield t, conn.frame(False, ACK, data[i : i + conn.mss]), None
            if n % 2 == 1:
                yield t + 40, conn.frame(True, ACK), None
            t += 120
        yield from close(conn, t + rtt, rtt)

    def short_tls(self, t: int) -> Session:
        """Handshake, ClientHello, the server's flight, 1-4 request/response rounds, close."""
        rng = self.rng
        ep = Endpoints(self.client4(), self.server4(), self.port(), 443)
        conn, rtt = Conn(rng, ep), rng.randrange(1_000, 40_000)
        yield from handshake(conn, t, rtt)
        t += rtt + 50
        yield t, conn.frame(True, PSH | ACK, mixcap.client_hello(rng, None)), None
        t += rtt
        yield from send(conn, t, False, mixcap.server_hello(rng), 50)
        t += 200
        finished = mixcap.tls_record(0x14, b"\x01") + mixcap.tls_record(0x17, blob(rng, 53))
        yield t, conn.frame(True, PSH | ACK, finished), None
        for _ in range(rng.randrange(1, 5)):
            t += rng.randrange(500, 50_000)
            yield (
                t,
                conn.frame(True, PSH | ACK, mixcap.tls_record(0x17, blob(rng, rng.randrange(100, 700)))),
                None,
            )
            t += rtt
            size = rng.randrange(200, 4 * conn.mss)
            records = mixcap.tls_record(0x17, blob(rng, size))
            yield from send(conn, t, False, records, 80)
            yield t + 300, conn.frame(True, ACK), None
            t += 400
        yield from close(conn, t + rtt, rtt, server_first=False)

    def _udp_session(self, t: int, ep: Endpoints, sizes: list[tuple[bool, int]], gap: int) -> Session:
        for i, (from_client, size) in enumerate(sizes):
            yield t, udp_frame(ep, from_client, blob(self.rng, size), i), None
            t += gap + self.rng.randrange(0, gap // 4 + 1)

    def quic(self, t: int) -> Session:
        """QUIC-like: a 1200-byte long-header Initial, then short-header datagrams both ways."""
        rng = self.rng
        ep = Endpoints(self.client4(), self.server4(), self.port(), 443)
        initial = b"\xc3\x00\x00\x00\x01" + blob(rng, 1195)
        yield t, udp_frame(ep, True, initial, 0), None
        sizes = [(rng.random() < 0.3, rng.choice((40, 60, 1200, 1350))) for _ in range(rng.randrange(6, 26))]
        for i, (from_client, size) in enumerate(sizes):
            t += rng.randrange(200, 20_000)
            yield t, udp_frame(ep, from_client, b"\x40" + blob(rng, size - 1), i + 1), None

    def ntp(self, t: int) -> Session:
        """An NTP client request and the server's reply (48 bytes each, port 123)."""
        ep = Endpoints(self.client4(), self.server4(), 123, 123)
        return self._udp_session(t, ep, [(True, 48), (False, 48)], 20_000)

    def mdns(self, t: int) -> Session:
        """One mDNS announcement to 224.0.0.251:5353 (not port 53: not DNS to the pipeline)."""
        ep = Endpoints(self.client4(), bytes((224, 0, 0, 251)), 5353, 5353)
        return self._udp_session(t, ep, [(True, self.rng.randrange(60, 400))], 1)

    def rtp(self, t: int) -> Session:
        """An RTP-like voice stream: 172-byte datagrams every 20 ms, both ways, on high ports."""
        rng = self.rng
        ports = rng.randrange(16384, 32768, 2), rng.randrange(16384, 32768, 2)
        ep = Endpoints(self.client4(), self.server4(), *ports)
        count = int(rng.expovariate(1 / MEAN_PACKETS["rtp"])) + 10
        return self._udp_session(t, ep, [(i % 2 == 0, 172) for i in range(count)], 10_000)

    def game(self, t: int) -> Session:
        """Game traffic: small datagrams both ways at 30 per second."""
        rng = self.rng
        ep = Endpoints(self.client4(), self.server4(), self.port(), rng.choice((27015, 3074, 7777, 25565)))
        count = int(rng.expovariate(1 / MEAN_PACKETS["game"])) + 6
        sizes = [(rng.random() < 0.5, rng.randrange(30, 200)) for _ in range(count)]
        return self._udp_session(t, ep, sizes, 33_000)


def short_kinds(packets: int, seed: int) -> tuple[mixcap.Generator, list[Kind]]:
    """The short-flow mix's traffic kinds, with their mean time between session starts."""
    gen = ShortGenerator(random.Random(seed))
    duration = packets / mixcap.PPS * 1e6
    starts = {
        "http": gen.short_http, "tls": gen.short_tls, "dns": gen.dns, "quic": gen.quic,
        "ntp": gen.ntp, "mdns": gen.mdns, "rtp": gen.rtp, "game": gen.game,
    }  # fmt: skip
    out = [Kind(k, starts[k], duration / (packets * share / MEAN_PACKETS[k])) for k, share in SHARES.items()]
    sessions = max(1, packets // MINING_EVERY)
    mining = {"stratum": gen.stratum, "xmrig": gen.xmrig, "resolved": gen.resolved}
    out += [Kind(k, start, duration / sessions) for k, start in mining.items()]
    return gen, out


def generate(path: str, packets: int, seed: int = 1) -> dict[str, object]:
    """Write the capture to ``path`` and its manifest to ``path.manifest.json``; return the manifest."""
    return mixcap.generate(path, packets, seed, short_kinds)


def main() -> None:
    """Command line: write one capture (the same options as mixcap's)."""
    mixcap.main(generate, __doc__)


if __name__ == "__main__":
    main()
