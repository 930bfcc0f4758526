"""TCP segment reassembly for one direction of a flow (dissection layer).

decode -> flows -> **reassembly** -> stream dissectors

``Reassembler.feed(seq, payload)`` returns the bytes that are now in order. Segments that
arrive early wait in a bounded queue; retransmitted bytes are dropped. Overlapping
segments keep the bytes that arrived *first* (Suricata's "first" policy; see SECURITY.md).
When the queue overflows, the gap is skipped and ``gaps`` counts it, so a consumer knows
the stream lost bytes and may be mid-message.
"""

from __future__ import annotations

from typing import Final

MAX_PENDING_SEGMENTS: Final = 64
"""Out-of-order segments kept per direction before the hole is given up."""
MAX_PENDING_BYTES: Final = 256 * 1024
"""Out-of-order bytes kept per direction before the hole is given up."""

_MOD: Final = 1 << 32
_HALF: Final = 1 << 31


def seq_diff(a: int, b: int) -> int:
    """Return ``a - b`` in 32-bit sequence space, as a signed number."""
    d = (a - b) % _MOD
    return d - _MOD if d >= _HALF else d


class Reassembler:
    """In-order byte delivery for one TCP direction."""

    __slots__ = ("next_seq", "pending", "pending_bytes", "gaps")

    def __init__(self, next_seq: int | None = None) -> None:
        """Start expecting ``next_seq``; ``None`` means the first data segment defines it."""
        self.next_seq = next_seq
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.gaps = 0

    def feed(self, seq: int, payload: bytes) -> bytes:
        """Accept one segment and return whatever contiguous new bytes it releases."""
        if self.next_seq is None:
            self.next_seq = seq
        d = (seq - self.next_seq) % _MOD  # seq_diff, inline: this runs for every segment
        if d >= _HALF:
            d -= _MOD
        if d < 0:
            payload = payload[-d:]
            if not payload:
                return b""
            seq, d = self.next_seq, 0
        if d == 0 and not self.pending:
            self.next_seq = (seq + len(payload)) % _MOD
            return payload
        self._queue(seq, payload)
        if len(self.pending) > MAX_PENDING_SEGMENTS or self.pending_bytes > MAX_PENDING_BYTES:
            return self._skip_gap()
        return self._drain()

    def pass_over(self, n: int) -> None:
        """Take the next ``n`` bytes as delivered without seeing them (bytes nobody will read, which
        the prefilter may have skipped); queued bytes among them are dropped."""
        assert self.next_seq is not None
        nxt = self.next_seq = (self.next_seq + n) % _MOD
        if not self.pending:
            return
        kept: dict[int, bytes] = {}
        for qseq, data in self.pending.items():
            off = seq_diff(qseq, nxt)
            if off + len(data) <= 0:
                continue
            if off < 0:
                qseq, data = nxt, data[-off:]
            kept[qseq] = data
        self.pending = kept
        self.pending_bytes = sum(len(d) for d in kept.values())

    def _queue(self, seq: int, payload: bytes) -> None:
        """Queue the parts of ``payload`` that no queued segment covers yet (first copy wins)."""
        assert self.next_seq is not None
        base = self.next_seq
        start = seq_diff(seq, base)
        end = start + len(payload)
        pieces = [(start, end)]
        for qseq, data in self.pending.items():
            qs = seq_diff(qseq, base)
            qe = qs + len(data)
            cut: list[tuple[int, int]] = []
            for s, e in pieces:
                if qe <= s or qs >= e:
                    cut.append((s, e))
                    continue
                if s < qs:
                    cut.append((s, qs))
                if qe < e:
                    cut.append((qe, e))
            pieces = cut
        for s, e in pieces:
            chunk = payload[s - start : e - start]
            self.pending[(base + s) % _MOD] = chunk
            self.pending_bytes += len(chunk)

    def _drain(self) -> bytes:
        """Release queued segments that have become contiguous."""
        out: list[bytes] = []
        while self.pending:
            assert self.next_seq is not None
            data = self.pending.pop(self.next_seq, None)
            if data is None:
                break
            self.pending_bytes -= len(data)
            out.append(data)
            self.next_seq = (self.next_seq + len(data)) % _MOD
        return b"".join(out)

    def _skip_gap(self) -> bytes:
        """Give up on the hole: jump to the earliest queued segment and release from there."""
        assert self.next_seq is not None
        nxt = self.next_seq
        first = min(self.pending, key=lambda s: seq_diff(s, nxt))
        self.next_seq = first
        self.gaps += 1
        return self._drain()
