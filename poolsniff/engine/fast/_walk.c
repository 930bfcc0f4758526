/*
 * poolsniff.engine.fast._walk: the prefilter's record walk in C (pipeline stage: source -> prefilter).
 *
 * source -> **prefilter** -> decode -> flows/dissectors -> detectors -> enrichment -> sinks
 *
 * ``skip`` does, for the records of a classic Ethernet pcap held in a buffer, exactly what
 * ``poolsniff.engine.fast.walk.skip`` (the pure-Python version, which stays the reference and the
 * fallback when this module is not built) does: it walks the records from ``pos``; for a
 * plain, whole IPv4 or IPv6 TCP packet (behind up to two VLAN tags) of a flow direction
 * in ``fast`` that is closed, or that carries no data and no SYN, FIN or RST, it stamps the
 * flow's ``last_ts`` and counts the packet against ``budget``; so it does with a segment of a
 * direction whose entry carries a TLS record shape (``poolsniff.dissect.shape``) when the segment
 * only advances that shape (``shape_step``, as ``shape.quiet``: no snapshot due, no stop; the
 * headers are read into the state the Python shaper shares); a packet with no data and no
 * SYN, FIN or RST of no known flow is counted against ``budget`` too (the flow table would
 * only count it). Given the flow table's hooks, a SYN or SYN-ACK without data of a known flow
 * (``on_syn``) and the packet without data that ends one (its last FIN, an RST: ``on_end``) are
 * stamped and counted here too, then handed to the hook with the flow, its side and the sequence
 * number (SYN) or the time (end). A plain, whole UDP datagram to and from ports other than 53 is counted in
 * ``others`` (the flow table drops it; it does not count towards the idle sweep); so, given ``counts`` (a
 * bytearray of two native 64-bit counts), is a frame the decoder would only count as "not-ip" or
 * "other-proto" (``dropped_kind``), which is counted there too, by reason. It stops at
 * the first record that is not whole in the buffer, whose captured length is over ``limit``,
 * or that the pipeline must see, and returns ``(pos, budget, others)``. The caller deals
 * with that record.
 *
 * ``skip_ng`` does the same over the enhanced packet blocks of a pcapng section
 * (``poolsniff.engine.fast.walk.skip_ng`` is its reference), with the section's interfaces.
 * Both read the frames of Ethernet and of every other link type the decoder reads, as the Ethernet
 * frames ``_link.h`` makes of them: a pcap file's ``linktype``, each pcapng interface's.
 *
 * Everything read from the buffer is bounds-checked against ``end`` before it is read; the
 * buffer is only read, never kept. The interpreter lock is held throughout (``fast`` is a
 * dict or a ``KeyMap``, ``_keymap.h``, whose entries and flows are Python objects).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <limits.h>
#include <stdarg.h>

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86DD
#define ETH_PPPOE 0x8864 /* poolsniff.engine.decode.ETH_PPPOE: PPPoE's session stage */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define IP_TCP 6
#define IP_UDP 17
#define DNS_PORT 53 /* poolsniff.dissect.flows.DNS_PORT: the only UDP the flow table reads */
#define MAX_BLOCK (16u << 20) /* poolsniff.sources.pcap.MAX_BLOCK */
#define EPB 6

/* what try_skip decided about one frame */
#define FEED 0     /* the pipeline must see it */
#define SKIP_TCP 1 /* dealt with here, a TCP packet (counts towards the idle sweep) */
#define SKIP_UDP 2 /* dealt with here, a UDP datagram the flow table drops */
#define SKIP_NOT_IP 3      /* dealt with here given counts: a frame the decoder counts as "not-ip" */
#define SKIP_OTHER_PROTO 4 /* dealt with here given counts: IP neither TCP nor UDP, "other-proto" */

#include "_keymap.h"

static PyObject *last_ts_name; /* interned "last_ts" */
static PyObject *fins_name;    /* interned "fins" */
static PyObject *raw_name;     /* interned "raw" */

static inline uint32_t rd32(const unsigned char *p, int big_endian)
{
    if (big_endian)
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

static inline unsigned rd16be(const unsigned char *p) { return ((unsigned)p[0] << 8) | p[1]; }

/* poolsniff.engine.decode.VLAN_TYPES: 802.1Q, 802.1ad and the older QinQ tags */
static inline int vlan_type(unsigned et) { return et == 0x8100 || et == 0x88A8 || et == 0x9100 || et == 0x9200; }

/* The EtherType of the Ethernet frame ``frame[0:len]`` (14 bytes or more) behind up to two VLAN tags it holds
 * whole, its network header's place in ``*l3`` (poolsniff.engine.fast.udp.behind_tags). */
static inline unsigned behind_tags(const unsigned char *frame, Py_ssize_t len, const unsigned char **l3)
{
    unsigned et = rd16be(frame + 12);
    int tags;

    *l3 = frame + 14;
    for (tags = 0; tags < 2 && vlan_type(et) && frame + len - *l3 >= 4; tags++) {
        et = rd16be(*l3 + 2);
        *l3 += 4;
    }
    return et;
}

/*
 * The key and payload length of a plain, whole TCP packet in the Ethernet frame
 * ``frame[0:len]`` (behind up to two VLAN tags: a provider's QinQ trunk), as
 * ``poolsniff.engine.fast.walk.lookup`` finds them. Returns the key's length (12 for IPv4,
 * 36 for IPv6) with ``*key`` pointing at it, or 0 for anything else.
 * ``*ends`` has the packet's SYN, FIN and RST bits.
 */
static Py_ssize_t tcp_key(const unsigned char *frame, Py_ssize_t len, const unsigned char **key, long *data,
                          const unsigned char **tcp, int *ends)
{
    const unsigned char *l3;
    Py_ssize_t room; /* bytes of the frame from l3 on */
    unsigned et;

    if (len < 54)
        return 0;
    et = behind_tags(frame, len, &l3);
    room = frame + len - l3;
    if (et == ETH_IPV4 && room >= 40) {
        /* room >= 40: the IPv4 header and the TCP header's first 14 bytes are in the frame */
        unsigned total = rd16be(l3 + 2);
        unsigned frag = rd16be(l3 + 6);
        unsigned hl, flags = l3[33];
        if (l3[0] != 0x45 || l3[9] != 6 || (frag & 0x1FFF))
            return 0;
        hl = (unsigned)(l3[32] >> 4) << 2;
        *data = (long)total - 20 - (long)hl;
        if (hl < 20 || *data < 0 || (Py_ssize_t)total > room)
            return 0;
        *key = l3 + 12;
        *tcp = l3 + 20;
        *ends = (int)(flags & (TCP_FIN | TCP_SYN | TCP_RST));
        return 12;
    }
    if (et == ETH_IPV6 && room >= 54) {
        unsigned length = rd16be(l3 + 4);
        unsigned hl, flags = l3[53];
        if ((l3[0] >> 4) != 6 || l3[6] != 6)
            return 0;
        hl = (unsigned)(l3[52] >> 4) << 2;
        *data = (long)length - (long)hl;
        if (hl < 20 || *data < 0 || 40 + (Py_ssize_t)length > room)
            return 0;
        *key = l3 + 8;
        *tcp = l3 + 40;
        *ends = (int)(flags & (TCP_FIN | TCP_SYN | TCP_RST));
        return 36;
    }
    return 0;
}

#include "_nottcp.h"
#include "_link.h"

/* Add one packet of ``len`` bytes to a direction's tally: a bytearray of two native uint64 (packets, bytes). */
static void tally(PyObject *counts, Py_ssize_t len)
{
    uint64_t t[2];

    if (!PyByteArray_Check(counts) || PyByteArray_GET_SIZE(counts) < (Py_ssize_t)sizeof t)
        return;
    memcpy(t, PyByteArray_AS_STRING(counts), sizeof t);
    t[0] += 1;
    t[1] += (uint64_t)len;
    memcpy(PyByteArray_AS_STRING(counts), t, sizeof t);
}

/*
 * The TLS record shape of a direction (poolsniff.dissect.shape): a 52-byte state shared with the
 * Python ``RecordShape`` (``shape.STATE`` then two ``shape.SIDE``, native byte order, no padding
 * between fields) and its records (a bytearray, 8 bytes per record).
 */
#define ST_START 0      /* int64: the ClientHello's time, µs */
#define ST_COUNT 8      /* uint32: records read */
#define ST_REPORTED 12  /* uint32: count at the last snapshot */
#define ST_DONE 16      /* uint8: shaping stopped */
#define ST_OPEN 17      /* uint8: the start fits 64 bits: the walk may advance it */
#define ST_SIDES 20     /* the server's side, then the client's */
#define SIDE_SIZE 16
#define SD_NEXT 0       /* uint32: next stream byte */
#define SD_NEED 4       /* uint32: bytes left of the current record */
#define SD_KNOWN 8      /* uint8: next stream byte known */
#define SD_HEAD_LEN 9   /* uint8: bytes of a partial header (0-4) */
#define SD_HEAD 10      /* 4 bytes: the partial header */
#define STATE_SIZE 52
#define MAX_RECORDS 96            /* shape.MAX_RECORDS */
#define MAX_US (1800LL * 1000000) /* shape.MAX_SECONDS */
#define BULK_RECORD 4096          /* shape.BULK_RECORD */
#define HANDSHAKE_RECORDS 16      /* shape.HANDSHAKE_RECORDS */
#define HUGE_RECORD 8192          /* shape.HUGE_RECORD */
#define MAX_LENGTH (16384 + 2048) /* any TLS record */
#define REPORT_AFTER_US (60LL * 1000000) /* shape.REPORT_AFTER_S */
#define REPORT_EVERY 2            /* shape.REPORT_EVERY */
#define RECORD_SIZE 8

static inline int tls_type(unsigned t) { return t >= 20 && t <= 24; }

/*
 * ``poolsniff.dissect.shape.quiet``: advance the shape by the segment ``p[0:n]`` (stream byte
 * ``seq``, time ``ts``) when that is all the segment does -- no snapshot due, no stop -- and return
 * 1; otherwise change nothing and return 0 (the pipeline reads it: ``RecordShape.feed``); -1 on error.
 */
static int shape_step(PyObject *state_obj, PyObject *records, int from_client, long long ts, uint32_t seq,
                      const unsigned char *p, Py_ssize_t n)
{
    unsigned char *st, *side, head[5], out[MAX_RECORDS * RECORD_SIZE];
    int64_t start;
    uint32_t count, reported, next_seq, need, off;
    unsigned head_len;
    Py_ssize_t pos = 0, nout = 0, kept;
    __int128 age;

    if (!PyByteArray_Check(state_obj) || PyByteArray_GET_SIZE(state_obj) < STATE_SIZE || !PyByteArray_Check(records))
        return 0;
    st = (unsigned char *)PyByteArray_AS_STRING(state_obj);
    side = st + ST_SIDES + SIDE_SIZE * (from_client ? 1 : 0);
    if (st[ST_DONE] || !st[ST_OPEN] || !side[SD_KNOWN])
        return 0;
    memcpy(&start, st + ST_START, 8);
    memcpy(&count, st + ST_COUNT, 4);
    memcpy(&reported, st + ST_REPORTED, 4);
    memcpy(&next_seq, side + SD_NEXT, 4);
    memcpy(&need, side + SD_NEED, 4);
    head_len = side[SD_HEAD_LEN] < 5 ? side[SD_HEAD_LEN] : 4;
    memcpy(head, side + SD_HEAD, 4);
    age = (__int128)ts - start;
    off = seq - next_seq;
    if (off >= 0x80000000u) { /* wholly or partly seen before: a retransmission */
        uint32_t skip = next_seq - seq;
        if ((Py_ssize_t)skip >= n)
            return 1;
        p += skip;
        n -= (Py_ssize_t)skip;
        seq = next_seq;
    } else if (off) {
        return 0; /* a gap: shaping stops */
    }
    next_seq = seq + (uint32_t)n;
    while (pos < n) {
        unsigned ctype, length;
        Py_ssize_t take;

        if (need) {
            Py_ssize_t step = (Py_ssize_t)need < n - pos ? (Py_ssize_t)need : n - pos;
            need -= (uint32_t)step;
            pos += step;
            continue;
        }
        take = 5 - (Py_ssize_t)head_len;
        if (take > n - pos)
            take = n - pos;
        memcpy(head + head_len, p + pos, (size_t)take);
        head_len += (unsigned)take;
        pos += take;
        if (head_len < 5)
            break;
        head_len = 0;
        ctype = head[0];
        length = ((unsigned)head[3] << 8) | head[4];
        if (!tls_type(ctype) || head[1] != 3 || length > MAX_LENGTH)
            return 0; /* not TLS: shaping stops */
        if (length > HUGE_RECORD || (length > BULK_RECORD && count >= HANDSHAKE_RECORDS))
            return 0; /* bulk: shaping stops */
        need = length;
        if (count < MAX_RECORDS) {
            __int128 ms = age / 1000;
            uint32_t ms32 = ms < 0 ? 0 : ms > 0xFFFFFFFF ? 0xFFFFFFFFu : (uint32_t)ms;
            unsigned char *r = out + nout;
            r[0] = (unsigned char)(ms32 >> 24);
            r[1] = (unsigned char)(ms32 >> 16);
            r[2] = (unsigned char)(ms32 >> 8);
            r[3] = (unsigned char)ms32;
            r[4] = (unsigned char)((from_client ? 0x80 : 0) | ctype);
            r[5] = 0;
            r[6] = (unsigned char)(length >> 8);
            r[7] = (unsigned char)length;
            nout += RECORD_SIZE;
        }
        count += 1;
    }
    if (age > MAX_US || count >= MAX_RECORDS)
        return 0; /* shaping stops */
    if (!from_client && (long long)count - (long long)reported >= REPORT_EVERY && age >= REPORT_AFTER_US)
        return 0; /* a snapshot is due */
    if (nout) {
        kept = PyByteArray_GET_SIZE(records);
        if (PyByteArray_Resize(records, kept + nout) < 0)
            return -1;
        memcpy(PyByteArray_AS_STRING(records) + kept, out, (size_t)nout);
    }
    memcpy(st + ST_COUNT, &count, 4);
    memcpy(side + SD_NEXT, &next_seq, 4);
    memcpy(side + SD_NEED, &need, 4);
    side[SD_HEAD_LEN] = (unsigned char)head_len;
    memset(side + SD_HEAD, 0, 4);
    memcpy(side + SD_HEAD, head, head_len);
    return 1;
}

/*
 * Whether ``data`` payload bytes starting at the sequence number at ``seq`` (4 bytes into the TCP
 * header) lie wholly inside the bytes ahead that the direction does not
 * read: ``entry``'s first sequence number and length (walk._in_unread). 1 or 0; -1 on error.
 */
static int in_unread(PyObject *entry, const unsigned char *seq, long data)
{
    unsigned long first = PyLong_AsUnsignedLongMask(PyTuple_GET_ITEM(entry, 3));
    long long length = PyLong_AsLongLong(PyTuple_GET_ITEM(entry, 4));
    uint32_t off;

    if (PyErr_Occurred())
        return -1;
    off = (uint32_t)(rd32(seq, 1) - (uint32_t)first);
    return (long long)off + data <= length;
}

/* Whether the raw key ``k`` is the client's side of ``flow`` (``flow.raw[0]``): 1 or 0; -1 on error. */
static int client_side(PyObject *flow, const unsigned char *k, Py_ssize_t klen)
{
    PyObject *raw = PyObject_GetAttr(flow, raw_name), *client;
    int from_client;

    if (raw == NULL)
        return -1;
    if (!PyTuple_Check(raw) || PyTuple_GET_SIZE(raw) < 1 || !PyBytes_Check(PyTuple_GET_ITEM(raw, 0))) {
        Py_DECREF(raw);
        PyErr_SetString(PyExc_TypeError, "a flow's raw keys must be a tuple of bytes");
        return -1;
    }
    client = PyTuple_GET_ITEM(raw, 0);
    from_client = PyBytes_GET_SIZE(client) == klen && memcmp(PyBytes_AS_STRING(client), k, (size_t)klen) == 0;
    Py_DECREF(raw);
    return from_client;
}

/*
 * A FIN with no data of ``flow``'s direction with the key ``k``: 1 when it only marks that side
 * finished (``flow.fins``, bit 1 the client's, bit 2 the server's, set here), 0 when the other side
 * has finished too (the flow ends); -1 on error. walk._fin_seen is the reference.
 */
static int fin_seen(PyObject *flow, const unsigned char *k, Py_ssize_t klen)
{
    PyObject *value;
    long fins, now;
    int from_client = client_side(flow, k, klen), rc;

    if (from_client < 0)
        return -1;
    value = PyObject_GetAttr(flow, fins_name);
    if (value == NULL)
        return -1;
    fins = PyLong_AsLong(value);
    Py_DECREF(value);
    if (fins == -1 && PyErr_Occurred())
        return -1;
    now = fins | (from_client ? 1 : 2);
    if (now == 3)
        return 0;
    if (now == fins) /* a retransmitted FIN */
        return 1;
    value = PyLong_FromLong(now);
    if (value == NULL)
        return -1;
    rc = PyObject_SetAttr(flow, fins_name, value);
    Py_DECREF(value);
    return rc < 0 ? -1 : 1;
}

#define HELLO_OFF 0 /* poolsniff.dissect.flow.HELLO_*: the states of a forwarded server's wait for its ServerHello */
#define HELLO_DUE 1
#define HELLO_READ 2
#include "_hello.h"

/*
 * Append the segment (``data`` bytes after the TCP header at ``tcp``) to a forwarded direction's item
 * list: ``fwd`` is ``(items, kind, fid, from_client[, hello])``, the item ``(kind, fid, from_client, ts, seq,
 * payload)``, what ``engine.split.parallel.Recorder.data`` records (walk._forward is the reference). A
 * server waiting for its ServerHello (``hello``, a ``flow.Hello``): its first segment settles the wait, and
 * once the hello is read nothing more is appended. 0, or -1 on error.
 */
static int forward(PyObject *fwd, long long ts, const unsigned char *tcp, long data)
{
    PyObject *item;
    const unsigned char *payload = tcp + (((unsigned)tcp[12] >> 4) << 2);
    unsigned long seq =
        ((unsigned long)tcp[4] << 24) | ((unsigned long)tcp[5] << 16) | ((unsigned long)tcp[6] << 8) | tcp[7];
    Py_ssize_t size = PyTuple_Check(fwd) ? PyTuple_GET_SIZE(fwd) : 0;
    int i, rc;

    if ((size != 4 && size != 5) || !PyList_Check(PyTuple_GET_ITEM(fwd, 0))) {
        PyErr_SetString(PyExc_TypeError, "a forwarded direction must be (items, kind, fid, from_client[, hello])");
        return -1;
    }
    if (size == 5) {
        PyObject *hello = PyTuple_GET_ITEM(fwd, 4);
        unsigned char *state;

        if (!PyByteArray_Check(hello) || PyByteArray_GET_SIZE(hello) != 5) {
            PyErr_SetString(PyExc_TypeError, "a forwarded server's hello must be a bytearray of 5 bytes");
            return -1;
        }
        state = (unsigned char *)PyByteArray_AS_STRING(hello);
        if (state[0] == HELLO_READ)
            return 0;
        if (state[0] == HELLO_DUE)
            state[0] = seq == rd32(state + 1, 1) && holds_server_hello(payload, (Py_ssize_t)data) ? HELLO_READ
                                                                                                 : HELLO_OFF;
    }
    item = PyTuple_New(6);
    if (item == NULL)
        return -1;
    for (i = 0; i < 3; i++) {
        PyObject *v = PyTuple_GET_ITEM(fwd, i + 1);
        Py_INCREF(v);
        PyTuple_SET_ITEM(item, i, v);
    }
    PyTuple_SET_ITEM(item, 3, PyLong_FromLongLong(ts));
    PyTuple_SET_ITEM(item, 4, PyLong_FromUnsignedLong(seq));
    PyTuple_SET_ITEM(item, 5, PyBytes_FromStringAndSize((const char *)payload, (Py_ssize_t)data));
    if (PyTuple_GET_ITEM(item, 3) == NULL || PyTuple_GET_ITEM(item, 4) == NULL || PyTuple_GET_ITEM(item, 5) == NULL) {
        Py_DECREF(item);
        return -1;
    }
    rc = PyList_Append(PyTuple_GET_ITEM(fwd, 0), item);
    Py_DECREF(item);
    return rc;
}

/*
 * What the walk reads besides the buffer: ``FlowTable.fast``; the listed names (a set, or NULL); the
 * table's hooks for a packet without data of a known flow that is its SYN (``on_syn``) or ends it
 * (``on_end``), each NULL where that packet goes to the pipeline (``poolsniff.dissect.flow.Hook``).
 */
typedef struct {
    PyObject *fast; /* a dict or a KeyMap */
    PyObject *names;
    PyObject *on_syn;
    PyObject *on_end;
    PyObject *counts; /* a bytearray of two native 64-bit counts (poolsniff.engine.fast.dropped), or NULL */
    PyObject *dns_forward; /* the split front's (items, kind) for DNS datagrams (udp.DnsForward), or NULL */
    long long linktype;    /* of a pcap file's records or a live capture's frames (pcapng: each interface's) */
    scratch_t *scratch;    /* room for frames of other link types made Ethernet frames (_link.h) */
} walk_ctx;

#define FORWARD_LIMIT 1024 /* poolsniff.engine.fast.udp.FORWARD_LIMIT */

/* Whether the split front's item list holds FORWARD_LIMIT items (udp.forward_full): the walks stop there, so
 * that the DNS datagrams they record, which do not count against the budget, cannot grow it without bound. */
static inline int forward_full(const walk_ctx *ctx)
{
    return ctx->dns_forward != NULL && PyList_GET_SIZE(PyTuple_GET_ITEM(ctx->dns_forward, 0)) >= FORWARD_LIMIT;
}

/* What the walks do with a kind try_skip gave: 1 go on (counted), 0 stop at the frame (dropped.taken is the
 * reference of the first part). */
static int counted(const walk_ctx *ctx, int done, Py_ssize_t *budget, Py_ssize_t *others)
{
    if (done == FEED)
        return 0;
    if (done >= SKIP_NOT_IP) {
        if (ctx->counts == NULL)
            return 0;
        count_dropped(ctx->counts, done);
    }
    if (done == SKIP_TCP)
        *budget -= 1;
    else
        *others += 1;
    return 1;
}

/* Count a packet of ``len`` bytes in ``entry``'s tally (if it has one) and stamp its flow with ``ts``; -1 on error. */
static int stamp(PyObject *entry, long long ts, Py_ssize_t len)
{
    PyObject *value;
    int rc;

    if (PyTuple_GET_SIZE(entry) > 2) /* the direction's packets and bytes, as walk.tally counts them */
        tally(PyTuple_GET_ITEM(entry, 2), len);
    value = PyLong_FromLongLong(ts);
    if (value == NULL)
        return -1;
    rc = PyObject_SetAttr(PyTuple_GET_ITEM(entry, 0), last_ts_name, value);
    Py_DECREF(value);
    return rc;
}

/*
 * A packet without data of a known flow that the table's ``hook`` deals with: stamped and counted
 * here, then ``hook(flow, from_client, value)`` (which may end the flow and drop ``entry``). SKIP_TCP,
 * or -1 on error (walk._control is the reference).
 */
static int control(PyObject *entry, PyObject *hook, const unsigned char *k, Py_ssize_t klen, long long ts,
                   Py_ssize_t len, long long value)
{
    PyObject *flow = PyTuple_GET_ITEM(entry, 0), *number, *result = NULL;
    int from_client;

    Py_INCREF(flow);
    if (stamp(entry, ts, len) == 0 && (from_client = client_side(flow, k, klen)) >= 0) {
        number = PyLong_FromLongLong(value);
        if (number != NULL) {
            result = PyObject_CallFunctionObjArgs(hook, flow, from_client ? Py_True : Py_False, number, NULL);
            Py_DECREF(number);
        }
    }
    Py_DECREF(flow);
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return SKIP_TCP;
}

/* FEED, SKIP_TCP (stamped where the flow is known) or SKIP_UDP, as poolsniff.engine.fast.walk.decide; -1: error. */
static int try_skip(const walk_ctx *ctx, long long lt, const unsigned char *frame, Py_ssize_t size, long long ts)
{
    const unsigned char *k = NULL, *tcp = NULL;
    long data = 0;
    int ends = 0; /* the packet's SYN, FIN and RST bits */
    Py_ssize_t len = size, klen;
    PyObject *key, *entry;
    int closed, rc;

    /* ``size``, the frame's captured bytes, is what the flow's tally counts; ``len``, its bytes as Ethernet */
    if ((frame = ethernet_of(lt, frame, size, ctx->scratch, &len)) == NULL)
        return PyErr_Occurred() ? -1 : FEED;
    klen = tcp_key(frame, len, &k, &data, &tcp, &ends);

    if (klen == 0) {
        rc = udp_skip(frame, len, ctx->names, ctx->dns_forward, ts);
        return rc == FEED ? dropped_kind(frame, len) : rc;
    }
    if (Py_IS_TYPE(ctx->fast, &KeyMapType)) { /* looked up where the key sits in the frame */
        entry = keymap_find((KeyMap *)ctx->fast, k, klen); /* borrowed */
    } else {
        key = PyBytes_FromStringAndSize((const char *)k, klen);
        if (key == NULL)
            return -1;
        entry = PyDict_GetItemWithError(ctx->fast, key); /* borrowed */
        Py_DECREF(key);
    }
    if (entry == NULL) /* no flow: a packet with no data and no SYN starts none */
        return PyErr_Occurred() ? -1 : (data == 0 && !(ends & TCP_SYN) ? SKIP_TCP : FEED);
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) < 2) {
        PyErr_SetString(PyExc_TypeError, "fast entries must be (flow, closed[, tally]) tuples");
        return -1;
    }
    if (ends & TCP_SYN) /* a SYN or SYN-ACK without data (and without FIN or RST): the table's on_syn */
        return data != 0 || ends != TCP_SYN || ctx->on_syn == NULL
                   ? FEED
                   : control(entry, ctx->on_syn, k, klen, ts, size, (long long)rd32(tcp + 4, 1));
    if (ends & TCP_RST) /* an RST without data ends the flow: the table's on_end */
        return data != 0 || ctx->on_end == NULL ? FEED : control(entry, ctx->on_end, k, klen, ts, size, ts);
    closed = PyObject_IsTrue(PyTuple_GET_ITEM(entry, 1));
    if (closed < 0)
        return -1;
    if (ends) { /* a FIN with data: the pipeline reads it; the flow's last FIN: the table's on_end */
        if (data != 0)
            return FEED;
        rc = fin_seen(PyTuple_GET_ITEM(entry, 0), k, klen);
        if (rc <= 0)
            return rc < 0 ? -1 : ctx->on_end == NULL ? FEED : control(entry, ctx->on_end, k, klen, ts, size, ts);
    } else if (!closed && data != 0) {
        if (PyTuple_GET_SIZE(entry) == 4) {
            /* a direction whose segments go to another process as they are: (flow, False, tally, forward) */
            rc = forward(PyTuple_GET_ITEM(entry, 3), ts, tcp, data);
            if (rc < 0)
                return -1;
        } else if (PyTuple_GET_SIZE(entry) == 5) {
            /* bytes ahead that the direction does not read: (flow, False, tally, first seq, length) */
            rc = in_unread(entry, tcp + 4, data);
            if (rc <= 0)
                return rc < 0 ? -1 : FEED;
        } else {
            /* a direction of a TLS session being shaped: (flow, False, tally, state, records, from_client) */
            int from_client;
            const unsigned char *payload;
            uint32_t seq;

            if (PyTuple_GET_SIZE(entry) < 6)
                return FEED;
            from_client = PyObject_IsTrue(PyTuple_GET_ITEM(entry, 5));
            if (from_client < 0)
                return -1;
            payload = tcp + (((unsigned)tcp[12] >> 4) << 2);
            seq = ((uint32_t)tcp[4] << 24) | ((uint32_t)tcp[5] << 16) | ((uint32_t)tcp[6] << 8) | tcp[7];
            rc = shape_step(PyTuple_GET_ITEM(entry, 3), PyTuple_GET_ITEM(entry, 4), from_client, ts, seq, payload,
                            (Py_ssize_t)data);
            if (rc <= 0)
                return rc < 0 ? -1 : FEED;
        }
    }
    return stamp(entry, ts, size) < 0 ? -1 : SKIP_TCP;
}

/* The record walk of ``skip`` from ``*pos``; updates ``*pos``, ``*budget``, ``*others``; -1 on error. */
static int skip_records(const walk_ctx *ctx, const unsigned char *buf, Py_ssize_t *pos, Py_ssize_t end, int big_endian,
                        long long frac_div, unsigned long limit, Py_ssize_t *budget, Py_ssize_t *others,
                        long long next_check)
{
    while (*budget > 0 && end - *pos >= 16 && !forward_full(ctx)) {
        const unsigned char *h = buf + *pos;
        uint32_t caplen = rd32(h + 8, big_endian);
        long long ts;
        int done;

        if (caplen > limit || (Py_ssize_t)caplen > end - *pos - 16)
            break;
        ts = (long long)rd32(h, big_endian) * 1000000LL + (long long)rd32(h + 4, big_endian) / frac_div;
        if (ts >= next_check)
            break;
        done = try_skip(ctx, ctx->linktype, h + 16, (Py_ssize_t)caplen, ts);
        if (done < 0)
            return -1;
        if (!counted(ctx, done, budget, others))
            break;
        *pos += 16 + (Py_ssize_t)caplen;
    }
    return 0;
}

/*
 * The optional arguments: the listed names, None (no DNS query is skipped) or a set; the hooks, None
 * or callables; the counts of dropped frames, None (they go to the pipeline) or a bytearray. Each None
 * becomes NULL.
 */
static int check_ctx(walk_ctx *ctx)
{
    PyObject **hooks[2] = {&ctx->on_syn, &ctx->on_end};
    int i;

    if (!PyDict_Check(ctx->fast) && !PyObject_TypeCheck(ctx->fast, &KeyMapType)) {
        PyErr_Format(PyExc_TypeError, "fast must be a dict or a KeyMap, not %.100s", Py_TYPE(ctx->fast)->tp_name);
        return -1;
    }
    if (ctx->names == Py_None)
        ctx->names = NULL;
    if (ctx->names != NULL && !PyAnySet_Check(ctx->names)) {
        PyErr_SetString(PyExc_TypeError, "dns_names must be a set or frozenset of bytes, or None");
        return -1;
    }
    if (ctx->dns_forward == Py_None)
        ctx->dns_forward = NULL;
    if (ctx->dns_forward != NULL && (!PyTuple_Check(ctx->dns_forward) || PyTuple_GET_SIZE(ctx->dns_forward) != 2 ||
                                     !PyList_Check(PyTuple_GET_ITEM(ctx->dns_forward, 0)))) {
        PyErr_SetString(PyExc_TypeError, "dns_forward must be (items, kind), items a list, or None");
        return -1;
    }
    if (ctx->counts == Py_None)
        ctx->counts = NULL;
    if (ctx->counts != NULL && (!PyByteArray_Check(ctx->counts) || PyByteArray_GET_SIZE(ctx->counts) != 16)) {
        PyErr_SetString(PyExc_TypeError, "counts must be a bytearray of 16 bytes (dropped.new_dropped()), or None");
        return -1;
    }
    for (i = 0; i < 2; i++) {
        if (*hooks[i] == Py_None)
            *hooks[i] = NULL;
        if (*hooks[i] != NULL && !PyCallable_Check(*hooks[i])) {
            PyErr_SetString(PyExc_TypeError, "on_syn and on_end must be callables or None");
            return -1;
        }
    }
    return 0;
}

/*
 * The arguments of a METH_FASTCALL function by a PyArg_ParseTuple format, for the codes the walk uses
 * (``y*`` ``n`` ``p`` ``L`` ``k`` ``O`` and ``|``), with the same conversions. CPython's parser
 * reads its format through a general machine on every call: about 2,000 instructions for a stop of the
 * walk (93,113 stops on the real mix x3, 2.4 % of a scan's instructions), against a few hundred here.
 * On failure: an exception set, a buffer it took released, -1.
 */
static int fast_args(PyObject *const *args, Py_ssize_t nargs, const char *name, const char *format, ...)
{
    va_list va;
    Py_ssize_t i = 0, least = -1, most = 0;
    const char *f;
    Py_buffer *taken = NULL;

    for (f = format; *f; f++) {
        if (*f == '|')
            least = most;
        else if (*f != '*')
            most++;
    }
    if (least < 0)
        least = most;
    if (nargs < least || nargs > most) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd to %zd arguments (%zd given)", name, least, most, nargs);
        return -1;
    }
    va_start(va, format);
    for (f = format; *f && i < nargs; f++) {
        PyObject *o;
        if (*f == '|')
            continue;
        o = args[i++];
        switch (*f) {
        case 'y': {
            Py_buffer *view = va_arg(va, Py_buffer *);
            f++; /* the '*' */
            if (PyObject_GetBuffer(o, view, PyBUF_SIMPLE) < 0)
                goto fail;
            taken = view;
            break;
        }
        case 'n': {
            Py_ssize_t *out = va_arg(va, Py_ssize_t *);
            *out = PyNumber_AsSsize_t(o, PyExc_OverflowError);
            if (*out == -1 && PyErr_Occurred())
                goto fail;
            break;
        }
        case 'p': {
            int *out = va_arg(va, int *);
            *out = PyObject_IsTrue(o);
            if (*out < 0)
                goto fail;
            break;
        }
        case 'L': {
            long long *out = va_arg(va, long long *);
            *out = PyLong_AsLongLong(o);
            if (*out == -1 && PyErr_Occurred())
                goto fail;
            break;
        }
        case 'k': {
            unsigned long *out = va_arg(va, unsigned long *);
            if (!PyLong_Check(o)) {
                PyErr_Format(PyExc_TypeError, "%s() argument %zd must be int, not %.50s", name, i, Py_TYPE(o)->tp_name);
                goto fail;
            }
            *out = PyLong_AsUnsignedLongMask(o);
            if (*out == (unsigned long)-1 && PyErr_Occurred())
                goto fail;
            break;
        }
        case 'O':
            *va_arg(va, PyObject **) = o;
            break;
        default:
            PyErr_Format(PyExc_SystemError, "%s(): no format code %c", name, *f);
            goto fail;
        }
    }
    va_end(va);
    return 0;
fail:
    va_end(va);
    if (taken != NULL)
        PyBuffer_Release(taken);
    return -1;
}

/*
 * A tuple of the ``n`` integers ``values``, then ``tail`` if it is not NULL (a reference taken over, also
 * on failure): what Py_BuildValue("nnn...") makes, without reading a format string on every call (about
 * 1,500 instructions a stop of the walk: 1.5 % of the split's front on mining traffic).
 */
static PyObject *int_tuple(Py_ssize_t n, const long long *values, PyObject *tail)
{
    PyObject *out = PyTuple_New(n + (tail != NULL));
    Py_ssize_t i;

    for (i = 0; out != NULL && i < n; i++) {
        PyObject *value = PyLong_FromLongLong(values[i]);

        if (value == NULL)
            Py_CLEAR(out);
        else
            PyTuple_SET_ITEM(out, i, value);
    }
    if (out == NULL) {
        Py_XDECREF(tail);
        return NULL;
    }
    if (tail != NULL)
        PyTuple_SET_ITEM(out, n, tail);
    return out;
}

/* The last value of a walk's answer: ``(ts, caplen, linktype, packet or frame)``, ``got`` taken over (NULL:
 * failed). */
static PyObject *stepped(long long ts, unsigned long caplen, long long lt, PyObject *got)
{
    const long long values[3] = {ts, (long long)caplen, lt};

    return got == NULL ? NULL : int_tuple(3, values, got);
}

static PyObject *fast_lane(PyTypeObject *packet_type, long long ts, const unsigned char *d, Py_ssize_t size);

/* What the fast lane makes of the frame ``frame[0:len]`` of link type ``lt`` (its Ethernet frame:
 * link_view), else the frame's own bytes for the decoder; NULL on error. */
static PyObject *laned(PyTypeObject *packet_type, long long ts, long long lt, const unsigned char *frame,
                       Py_ssize_t len, scratch_t *scratch)
{
    Py_ssize_t vlen = len;
    const unsigned char *view = ethernet_of(lt, frame, len, scratch, &vlen);
    PyObject *got;

    if (view == NULL) {
        if (PyErr_Occurred())
            return NULL;
        got = Py_NewRef(Py_None);
    } else {
        got = fast_lane(packet_type, ts, view, vlen);
    }
    if (got == Py_None) {
        Py_DECREF(got);
        got = PyBytes_FromStringAndSize((const char *)frame, len);
    }
    return got;
}

static PyObject *walk_skip(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    Py_ssize_t pos, end, budget, others = 0;
    int big_endian, rc;
    long long frac_div, next_check;
    unsigned long limit;
    scratch_t scratch; /* its small buffer left as it is: zeroed, 2 KiB a call */
    walk_ctx ctx = {NULL, NULL, NULL, NULL, NULL, NULL, 1, scratch_init(&scratch)};

    (void)self;
    if (fast_args(args, nargs, "skip", "y*nnpLkOnL|OOOOOL", &view, &pos, &end, &big_endian, &frac_div, &limit,
                          &ctx.fast, &budget, &next_check, &ctx.names, &ctx.on_syn, &ctx.on_end, &ctx.counts,
                          &ctx.dns_forward, &ctx.linktype))
        return NULL;
    if (check_ctx(&ctx) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    if (pos < 0 || end < pos || end > view.len || frac_div <= 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "skip: need 0 <= pos <= end <= len(buf) and frac_div > 0");
        return NULL;
    }
    rc = skip_records(&ctx, (const unsigned char *)view.buf, &pos, end, big_endian, frac_div, limit, &budget,
                      &others, next_check);
    PyBuffer_Release(&view);
    scratch_free(&scratch);
    if (rc < 0)
        return NULL;
    return int_tuple(3, (const long long[]){pos, budget, others}, NULL);
}

/*
 * The decoder's fast lane, as ``poolsniff.engine.decode._ethernet_ipv4`` (its reference): for an
 * untagged Ethernet frame with a 20-byte IPv4 header, not a fragment, holding a whole TCP
 * header or a UDP header, a new ``packet_type`` (``poolsniff.model.Packet``) tuple
 * ``(ts, src, dst, proto, sport, dport, flags, seq, payload)``; Py_None (a new reference)
 * for any other frame, which the general decoder then takes; NULL on error.
 */
static PyObject *fast_lane(PyTypeObject *packet_type, long long ts, const unsigned char *d, Py_ssize_t size)
{
    Py_ssize_t total, end, start;
    unsigned proto, sport, dport, flags = 0;
    unsigned long seq = 0;
    PyObject *packet, *items[9];
    int i;

    if (size < 54 || rd16be(d + 12) != ETH_IPV4 || d[14] != 0x45 || (rd16be(d + 20) & 0x1FFF))
        Py_RETURN_NONE;
    total = (Py_ssize_t)rd16be(d + 16);
    if (total < 20)
        Py_RETURN_NONE;
    end = 14 + total < size ? 14 + total : size;
    proto = d[23];
    sport = rd16be(d + 34);
    dport = rd16be(d + 36);
    if (proto == IP_TCP) {
        start = 34 + (((Py_ssize_t)d[46] >> 4) << 2);
        if (start < 54 || start > end)
            Py_RETURN_NONE;
        seq = ((unsigned long)d[38] << 24) | ((unsigned long)d[39] << 16) | ((unsigned long)d[40] << 8) | d[41];
        flags = d[47];
    } else if (proto == IP_UDP) {
        Py_ssize_t length = (Py_ssize_t)rd16be(d + 38);
        if (end < 42)
            Py_RETURN_NONE;
        if (8 <= length && length < end - 34) /* the UDP length trims further; 0 is a jumbogram */
            end = 34 + length;
        start = 42;
    } else {
        Py_RETURN_NONE;
    }
    items[0] = PyLong_FromLongLong(ts);
    items[1] = PyBytes_FromStringAndSize((const char *)d + 26, 4);
    items[2] = PyBytes_FromStringAndSize((const char *)d + 30, 4);
    items[3] = PyLong_FromLong((long)proto);
    items[4] = PyLong_FromLong((long)sport);
    items[5] = PyLong_FromLong((long)dport);
    items[6] = PyLong_FromLong((long)flags);
    items[7] = PyLong_FromUnsignedLong(seq);
    items[8] = PyBytes_FromStringAndSize((const char *)d + start, end - start);
    packet = packet_type->tp_alloc(packet_type, 9);
    for (i = 0; i < 9; i++) {
        if (items[i] == NULL || packet == NULL) {
            int j;
            for (j = 0; j < 9; j++)
                Py_XDECREF(items[j]);
            Py_XDECREF(packet);
            return NULL;
        }
    }
    for (i = 0; i < 9; i++)
        PyTuple_SET_ITEM(packet, i, items[i]);
    return packet;
}

static int check_packet_type(PyObject *t)
{
    if (!PyType_Check(t) || !PyType_IsSubtype((PyTypeObject *)t, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "packet_type must be a tuple subclass (poolsniff.model.Packet)");
        return -1;
    }
    return 0;
}

static PyObject *walk_fast_lane(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    long long ts;
    PyObject *packet_type, *out;

    (void)self;
    if (fast_args(args, nargs, "fast_lane", "OLy*", &packet_type, &ts, &view))
        return NULL;
    if (check_packet_type(packet_type) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    out = fast_lane((PyTypeObject *)packet_type, ts, (const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return out;
}

/* ``shape_quiet(state, records, from_client, ts, seq, payload)``: ``shape_step`` (shape.quiet) on its own. */
static PyObject *walk_shape_quiet(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    PyObject *state, *records;
    int from_client, rc;
    long long ts;
    unsigned long seq;

    (void)self;
    if (fast_args(args, nargs, "shape_quiet", "OOpLky*", &state, &records, &from_client, &ts, &seq, &view))
        return NULL;
    rc = shape_step(state, records, from_client, ts, (uint32_t)seq, (const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    if (rc < 0)
        return NULL;
    return PyBool_FromLong(rc);
}

/* ``web_hello(payload)``: ``web_client_hello`` on its own (hellos.web_hello). */
static PyObject *walk_web_hello(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    int web;

    (void)self;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    web = web_client_hello((const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return PyBool_FromLong(web);
}

/* ``decide(fast, frame, ts)``: what to do with one frame of a live capture (walk.decide_frame). */
static PyObject *walk_decide(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    long long ts;
    scratch_t scratch; /* its small buffer left as it is: zeroed, 2 KiB a call */
    walk_ctx ctx = {NULL, NULL, NULL, NULL, NULL, NULL, 1, scratch_init(&scratch)};
    int rc;

    (void)self;
    if (fast_args(args, nargs, "decide", "Oy*L|OOOL", &ctx.fast, &view, &ts, &ctx.names, &ctx.on_syn,
                          &ctx.on_end, &ctx.linktype))
        return NULL;
    if (check_ctx(&ctx) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    rc = try_skip(&ctx, ctx.linktype, (const unsigned char *)view.buf, view.len, ts);
    PyBuffer_Release(&view);
    scratch_free(&scratch);
    return rc < 0 ? NULL : PyLong_FromLong(rc);
}

/*
 * ``step``: ``skip``, then the record it stopped at, when that record is whole in the buffer
 * and its captured length is at most ``limit``: ``(pos after it, budget, others, (ts, caplen,
 * linktype, packet))`` where ``packet`` is what the fast lane makes of the frame (of its Ethernet
 * frame: ``link_view``), or the frame's bytes when the fast lane declines it. Otherwise ``(pos, budget, others, None)`` with ``pos`` at
 * the record (or the end) for the caller to read more or report the damage.
 * ``poolsniff.engine.fast.walk.step`` is the reference.
 */
static PyObject *walk_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    Py_ssize_t pos, end, budget, others = 0;
    int big_endian;
    long long frac_div, next_check;
    unsigned long limit;
    PyObject *packet_type, *got, *result;
    scratch_t scratch; /* its small buffer left as it is: zeroed, 2 KiB a call */
    walk_ctx ctx = {NULL, NULL, NULL, NULL, NULL, NULL, 1, scratch_init(&scratch)};
    const unsigned char *buf, *h;
    uint32_t caplen;
    long long ts;

    (void)self;
    if (fast_args(args, nargs, "step", "y*nnpLkOnLO|OOOOOL", &view, &pos, &end, &big_endian, &frac_div, &limit,
                          &ctx.fast, &budget, &next_check, &packet_type, &ctx.names, &ctx.on_syn,
                          &ctx.on_end, &ctx.counts, &ctx.dns_forward, &ctx.linktype))
        return NULL;
    if (pos < 0 || end < pos || end > view.len || frac_div <= 0 || check_packet_type(packet_type) < 0 ||
        check_ctx(&ctx) < 0) {
        PyBuffer_Release(&view);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "step: need 0 <= pos <= end <= len(buf) and frac_div > 0");
        return NULL;
    }
    buf = (const unsigned char *)view.buf;
    if (skip_records(&ctx, buf, &pos, end, big_endian, frac_div, limit, &budget, &others, next_check) < 0) {
        PyBuffer_Release(&view);
        scratch_free(&scratch);
        return NULL;
    }
    if (end - pos < 16) {
        PyBuffer_Release(&view);
        scratch_free(&scratch);
        return int_tuple(3, (const long long[]){pos, budget, others}, Py_NewRef(Py_None));
    }
    h = buf + pos;
    caplen = rd32(h + 8, big_endian);
    if (caplen > limit || (Py_ssize_t)caplen > end - pos - 16) {
        PyBuffer_Release(&view);
        scratch_free(&scratch);
        return int_tuple(3, (const long long[]){pos, budget, others}, Py_NewRef(Py_None));
    }
    ts = (long long)rd32(h, big_endian) * 1000000LL + (long long)rd32(h + 4, big_endian) / frac_div;
    got = laned((PyTypeObject *)packet_type, ts, ctx.linktype, h + 16, (Py_ssize_t)caplen, &scratch);
    PyBuffer_Release(&view);
    scratch_free(&scratch);
    if (got == NULL)
        return NULL;
    result = stepped(ts, (unsigned long)caplen, ctx.linktype, got);
    return result == NULL ? NULL
                          : int_tuple(3, (const long long[]){pos + 16 + (Py_ssize_t)caplen, budget, others}, result);
}

/* The interfaces of a pcapng section, as poolsniff.sources.pcap.Interface tuples. */
typedef struct {
    long linktype;
    long long mul, div, offset;
} iface_t;

#define MAX_IFACES 64

static int read_ifaces(PyObject *seq, iface_t *out, Py_ssize_t *count)
{
    Py_ssize_t i, n;

    if (!PyList_Check(seq)) {
        PyErr_SetString(PyExc_TypeError, "skip_ng: ifaces must be a list");
        return -1;
    }
    n = PyList_GET_SIZE(seq);
    *count = n < MAX_IFACES ? n : MAX_IFACES; /* blocks of later interfaces go to the caller */
    for (i = 0; i < *count; i++) {
        PyObject *t = PyList_GET_ITEM(seq, i);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 4) {
            PyErr_SetString(PyExc_TypeError, "skip_ng: interfaces are (linktype, mul, div, offset, ...) tuples");
            return -1;
        }
        int o1 = 0, o2 = 0, o3 = 0, o4 = 0;
        out[i].linktype = PyLong_AsLongAndOverflow(PyTuple_GET_ITEM(t, 0), &o1);
        out[i].mul = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(t, 1), &o2);
        out[i].div = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(t, 2), &o3);
        out[i].offset = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(t, 3), &o4);
        if (PyErr_Occurred())
            return -1;
        /* a resolution or offset out of 64-bit range (or not from _tsresol): the caller's blocks */
        if (o1 || o2 || o3 || o4 || out[i].div <= 0 || out[i].mul <= 0 || out[i].mul > (1LL << 40))
            out[i].linktype = -1;
    }
    return 0;
}

/*
 * Whether the block at ``buf[pos:end]`` is a sound enhanced packet block (as the reader checks
 * it: type, length, trailer, captured length, interface) of an interface of a link type the walk
 * reads (``link_known``) whose time fits 64 bits; its time, captured length, block length and link
 * type then go to the pointers.
 */
static int packet_epb(const unsigned char *buf, Py_ssize_t pos, Py_ssize_t end, int big_endian,
                      const iface_t *ifaces, Py_ssize_t nifaces, long long *ts, uint32_t *caplen, uint32_t *blen,
                      long long *lt)
{
    const unsigned char *b = buf + pos;
    uint32_t ifid;
    __int128 units;

    if (end - pos < 32)
        return 0;
    *blen = rd32(b + 4, big_endian);
    if (rd32(b, big_endian) != EPB || *blen < 32 || (*blen & 3) || *blen > MAX_BLOCK)
        return 0;
    if ((Py_ssize_t)*blen > end - pos || rd32(b + *blen - 4, big_endian) != *blen)
        return 0;
    ifid = rd32(b + 8, big_endian);
    *caplen = rd32(b + 20, big_endian);
    if (*caplen > *blen - 32 || ifid >= (uint32_t)nifaces || !link_known(ifaces[ifid].linktype))
        return 0;
    *lt = ifaces[ifid].linktype;
    units = ((__int128)rd32(b + 12, big_endian) << 32) | rd32(b + 16, big_endian);
    /* floor division, as Python's // (units is never negative) */
    units = units * ifaces[ifid].mul / ifaces[ifid].div + ifaces[ifid].offset;
    if (units > (__int128)LLONG_MAX || units < (__int128)LLONG_MIN)
        return 0;
    *ts = (long long)units;
    return 1;
}

/* The block walk of ``skip_ng`` from ``*pos``; updates the counts and ``*last_ts``; -1 on error. */
static int skip_blocks(const walk_ctx *ctx, const unsigned char *buf, Py_ssize_t *pos, Py_ssize_t end, int big_endian,
                       const iface_t *ifaces, Py_ssize_t nifaces, Py_ssize_t *budget, Py_ssize_t *others,
                       long long next_check, long long *last_ts, Py_ssize_t *size)
{
    while (*budget > 0 && !forward_full(ctx)) {
        long long ts, lt;
        uint32_t caplen, blen;
        int done;

        if (!packet_epb(buf, *pos, end, big_endian, ifaces, nifaces, &ts, &caplen, &blen, &lt) || ts >= next_check)
            break;
        done = try_skip(ctx, lt, buf + *pos + 28, (Py_ssize_t)caplen, ts);
        if (done < 0)
            return -1;
        if (!counted(ctx, done, budget, others))
            break;
        *last_ts = ts;
        *size += (Py_ssize_t)caplen;
        *pos += (Py_ssize_t)blen;
    }
    return 0;
}

/* ``skip_ng`` (step 0) and ``step_ng`` (step 1): parse the arguments, walk, build the result. */
static PyObject *blocks(PyObject *const *args, Py_ssize_t nargs, int step)
{
    Py_buffer view;
    Py_ssize_t pos, end, budget, others = 0, nifaces = 0, size = 0;
    int big_endian, rc;
    long long next_check, last_ts, ts, lt;
    uint32_t caplen, blen;
    PyObject *ifaces_list, *packet_type = NULL, *got;
    scratch_t scratch; /* its small buffer left as it is: zeroed, 2 KiB a call */
    walk_ctx ctx = {NULL, NULL, NULL, NULL, NULL, NULL, 1, scratch_init(&scratch)};
    iface_t ifaces[MAX_IFACES];
    const unsigned char *buf;

    if (step ? fast_args(args, nargs, "step_ng", "y*nnpOOnLLO|OOOOO", &view, &pos, &end, &big_endian, &ifaces_list,
                                 &ctx.fast, &budget, &next_check, &last_ts, &packet_type, &ctx.names,
                                 &ctx.on_syn, &ctx.on_end, &ctx.counts, &ctx.dns_forward)
             : fast_args(args, nargs, "skip_ng", "y*nnpOOnLL|OOOOO", &view, &pos, &end, &big_endian, &ifaces_list,
                                 &ctx.fast, &budget, &next_check, &last_ts, &ctx.names, &ctx.on_syn,
                                 &ctx.on_end, &ctx.counts, &ctx.dns_forward))
        return NULL;
    if (check_ctx(&ctx) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    if (pos < 0 || end < pos || end > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "skip_ng: need 0 <= pos <= end <= len(buf)");
        return NULL;
    }
    if (read_ifaces(ifaces_list, ifaces, &nifaces) < 0 || (step && check_packet_type(packet_type) < 0)) {
        PyBuffer_Release(&view);
        return NULL;
    }
    buf = (const unsigned char *)view.buf;
    rc = skip_blocks(&ctx, buf, &pos, end, big_endian, ifaces, nifaces, &budget, &others, next_check, &last_ts,
                     &size);
    if (rc < 0 || !step || !packet_epb(buf, pos, end, big_endian, ifaces, nifaces, &ts, &caplen, &blen, &lt)) {
        PyBuffer_Release(&view);
        scratch_free(&scratch);
        if (rc < 0)
            return NULL;
        return int_tuple(5, (const long long[]){pos, budget, others, last_ts, size}, step ? Py_NewRef(Py_None) : NULL);
    }
    got = laned((PyTypeObject *)packet_type, ts, lt, buf + pos + 28, (Py_ssize_t)caplen, &scratch);
    PyBuffer_Release(&view);
    scratch_free(&scratch);
    got = stepped(ts, (unsigned long)caplen, lt, got);
    return got == NULL ? NULL
                       : int_tuple(5, (const long long[]){pos + (Py_ssize_t)blen, budget, others, ts, size}, got);
}

static PyObject *walk_skip_ng(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return blocks(args, nargs, 0);
}

static PyObject *walk_step_ng(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return blocks(args, nargs, 1);
}

static PyMethodDef walk_methods[] = {
    {"skip", (PyCFunction)(void (*)(void))walk_skip, METH_FASTCALL,
     "skip(buf, pos, end, big_endian, frac_div, limit, fast, budget, next_check[, dns_names, on_syn, on_end, counts, dns_forward,\n"
     "     linktype])\n"
     "    -> (pos, budget, others)\n\n"
     "Walk the pcap records of buf[pos:end], stamping and counting the packets the flow table\n"
     "lets the prefilter skip; stop at the first record the caller must handle."},
    {"step", (PyCFunction)(void (*)(void))walk_step, METH_FASTCALL,
     "step(buf, pos, end, big_endian, frac_div, limit, fast, budget, next_check, packet_type[, dns_names, on_syn, on_end,\n"
     "     counts, dns_forward, linktype])\n"
     "    -> (pos, budget, others, (ts, caplen, linktype, packet or frame) or None)\n\n"
     "skip(), then the record it stopped at, decoded by the fast lane when it can be."},
    {"shape_quiet", (PyCFunction)(void (*)(void))walk_shape_quiet, METH_FASTCALL,
     "shape_quiet(state, records, from_client, ts, seq, payload) -> bool: advance a TLS record shape by\n"
     "one segment when that is all it does (shape.quiet; the state and records bytearrays change)."},
    {"web_hello", walk_web_hello, METH_O,
     "web_hello(payload) -> bool: whether a client's first bytes hold, whole in their first record, a ClientHello\n"
     "the back makes an event of and that offers a web protocol in ALPN (hellos.web_hello)."},
    {"decide", (PyCFunction)(void (*)(void))walk_decide, METH_FASTCALL,
     "decide(fast, frame, ts[, dns_names, on_syn, on_end, linktype]) -> 0 (feed it), 1 (a TCP packet dealt with here), 2 (a UDP datagram the\n"
     "flow table drops), 3 or 4 (a frame the decoder counts as not IP, or as IP neither TCP nor UDP): the walk's decision\n"
     "for one frame, as walk.decide_frame."},
    {"fast_lane", (PyCFunction)(void (*)(void))walk_fast_lane, METH_FASTCALL,
     "fast_lane(packet_type, ts, frame) -> packet or None: the decoder's fast lane."},
    {"step_ng", (PyCFunction)(void (*)(void))walk_step_ng, METH_FASTCALL,
     "step_ng(buf, pos, end, big_endian, ifaces, fast, budget, next_check, last_ts, packet_type[, dns_names, on_syn, on_end,\n"
     "        counts, dns_forward])\n"
     "    -> (pos, budget, others, last_ts, size, (ts, caplen, linktype, packet or frame) or None)\n\n"
     "skip_ng(), then the block it stopped at when it is an enhanced packet block the walk reads."},
    {"skip_ng", (PyCFunction)(void (*)(void))walk_skip_ng, METH_FASTCALL,
     "skip_ng(buf, pos, end, big_endian, ifaces, fast, budget, next_check, last_ts[, dns_names, on_syn, on_end, counts,\n"
     "        dns_forward])\n"
     "    -> (pos, budget, others, last_ts, size)\n\n"
     "The same over the enhanced packet blocks of a pcapng section; stop at any other block."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef walk_module = {
    PyModuleDef_HEAD_INIT, "poolsniff.engine.fast._walk",
    "The prefilter's record walk in C (see poolsniff.engine.fast.walk.skip, its reference).", -1, walk_methods,
};

PyMODINIT_FUNC PyInit__walk(void)
{
    PyObject *module;

    last_ts_name = PyUnicode_InternFromString("last_ts");
    fins_name = PyUnicode_InternFromString("fins");
    raw_name = PyUnicode_InternFromString("raw");
    if (last_ts_name == NULL || fins_name == NULL || raw_name == NULL || PyType_Ready(&KeyMapType) < 0)
        return NULL;
    module = PyModule_Create(&walk_module);
    if (module != NULL && PyModule_AddObjectRef(module, "KeyMap", (PyObject *)&KeyMapType) < 0)
        Py_CLEAR(module);
    return module;
}
