"""Compile a tcpdump-style ``--bpf`` expression into classic BPF with libpcap, through ctypes.

source (live capture: the kernel filter) <- **compile_expression** <- ``sniff --bpf EXPR``

``pcap_open_dead`` gives a handle for the link type without opening a device, ``pcap_compile``
compiles (optimised, netmask unknown) and ``pcap_geterr`` says why an expression does not; the
program's instructions are copied out and freed. libpcap is loaded on first use, so a capture
without ``--bpf`` needs neither it nor this module's cost. This replaces scapy, whose only use in
poolsniff was this compilation (its import alone took about half a second).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Final

from poolsniff.errors import CaptureError

Insn = tuple[int, int, int, int]
"""One classic BPF instruction: (code, jt, jf, k)."""

PCAP_NETMASK_UNKNOWN: Final = 0xFFFFFFFF
SNAPLEN: Final = 65535
DLT_OF_LINKTYPE: Final = {101: 12}
"""pcap_open_dead takes a DLT, not the file format's LINKTYPE; they differ for raw IP (101 -> DLT_RAW)."""
NO_LIBPCAP: Final = (
    "--bpf needs libpcap to compile the filter: install it (Debian: apt-get install libpcap0.8)"
)


class _Insn(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32),
    ]  # fmt: skip


class _Program(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_Insn))]


@cache
def _libpcap() -> ctypes.CDLL:
    """libpcap, with the prototypes used here; CaptureError when it is not installed."""
    name = ctypes.util.find_library("pcap")
    try:
        lib = ctypes.CDLL(name or "libpcap.so.0.8")
    except OSError as e:
        raise CaptureError(NO_LIBPCAP) from e
    lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.pcap_open_dead.restype = ctypes.c_void_p
    lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Program), ctypes.c_char_p, ctypes.c_int,
                                 ctypes.c_uint32]  # fmt: skip
    lib.pcap_compile.restype = ctypes.c_int
    lib.pcap_geterr.argtypes = [ctypes.c_void_p]
    lib.pcap_geterr.restype = ctypes.c_char_p
    lib.pcap_freecode.argtypes = [ctypes.POINTER(_Program)]
    lib.pcap_freecode.restype = None
    lib.pcap_close.argtypes = [ctypes.c_void_p]
    lib.pcap_close.restype = None
    return lib


def compile_expression(expression: str, linktype: int) -> list[Insn]:
    """Compile a tcpdump-style filter for ``linktype``; CaptureError (one line) if it does not compile."""
    lib = _libpcap()
    handle = lib.pcap_open_dead(DLT_OF_LINKTYPE.get(linktype, linktype), SNAPLEN)
    if not handle:
        raise CaptureError(f"--bpf: libpcap cannot compile for link type {linktype}")
    program = _Program()
    try:
        if lib.pcap_compile(handle, ctypes.byref(program), expression.encode(), 1, PCAP_NETMASK_UNKNOWN) != 0:
            reason = (lib.pcap_geterr(handle) or b"does not compile").decode(errors="replace")
            reason = reason.removeprefix("can't parse filter expression: ").replace("\n", " ").strip()
            raise CaptureError(f"--bpf {expression!r} does not compile: {reason}")
        try:
            return [(i.code, i.jt, i.jf, i.k) for i in program.bf_insns[: program.bf_len]]
        finally:
            lib.pcap_freecode(ctypes.byref(program))
    finally:
        lib.pcap_close(handle)
