/*
 * What the record walk does with a frame that is no plain TCP packet (pipeline stage: prefilter).
 *
 * source -> **prefilter** (frames other than TCP) -> decode -> flows/dissectors -> ...
 *
 * ``udp_skip``: a UDP datagram the flow table drops (neither port 53), a DNS query for no listed name,
 * and, in the split's front, any other DNS datagram, recorded as the front's recorder records it
 * (``poolsniff.engine.fast.udp`` is the reference); ``dropped_kind``: a frame the decoder only counts,
 * not IP or IP neither TCP nor UDP (``poolsniff.engine.fast.dropped``). Included by ``_walk.c`` only,
 * after its byte readers (``rd16be``), its protocol numbers and its kinds (FEED, SKIP_UDP, ...).
 */

/* vlan_type (poolsniff.engine.decode.VLAN_TYPES) is _walk.c's, which the TCP key reads too */

/*
 * The UDP datagram the decoder reads in the Ethernet frame ``frame[0:len]``, as
 * ``poolsniff.engine.fast.udp.udp_datagram`` finds it: 1 with its ports and payload, or 0 where the
 * walk leaves the frame to the decoder. IPv4 without options or IPv6 without extension headers,
 * behind at most two VLAN tags, not a fragment; bounded as the decoder bounds it (the IP length,
 * or the frame where the capture cut it short or the IPv4 length is 0; then the UDP length).
 */
static int udp_datagram(const unsigned char *frame, Py_ssize_t len, unsigned *sport, unsigned *dport,
                        const unsigned char **payload, Py_ssize_t *size, const unsigned char **ip)
{
    const unsigned char *l3, *udp;
    Py_ssize_t room, end, length;
    unsigned et;

    if (len < 42)
        return 0;
    et = behind_tags(frame, len, &l3);
    room = frame + len - l3;
    if (et == ETH_IPV4) {
        Py_ssize_t total;
        if (room < 28 || l3[0] != 0x45 || l3[9] != IP_UDP || (rd16be(l3 + 6) & 0x1FFF))
            return 0;
        total = rd16be(l3 + 2); /* 1-19: the decoder's bad header, and under 28 below */
        end = (total == 0 || total > room) ? room : total;
        udp = l3 + 20;
    } else if (et == ETH_IPV6) {
        if (room < 48 || (l3[0] >> 4) != 6 || l3[6] != IP_UDP)
            return 0;
        length = rd16be(l3 + 4);
        end = (length && 40 + length < room) ? 40 + length : room;
        udp = l3 + 40;
    } else {
        return 0;
    }
    end -= udp - l3; /* the datagram's bytes */
    if (end < 8)
        return 0;
    length = rd16be(udp + 4);
    if (length >= 8 && length < end) /* the UDP length trims further; 0 is a jumbogram */
        end = length;
    *sport = rd16be(udp);
    *dport = rd16be(udp + 2);
    *payload = udp + 8;
    *size = end - 8;
    *ip = l3;
    return 1;
}

#define MAX_NAME 200 /* poolsniff.engine.fast.udp.MAX_NAME */

static inline int name_byte(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * Whether the DNS message ``m[0:n]`` is a query the pipeline makes nothing of, as
 * ``poolsniff.engine.fast.udp.dns_quiet``: QR 0, one question, no answers, its name plain labels of
 * letters, digits, '-' and '_', none of whose label suffixes (lower-cased) is in the set ``names``.
 * 1 or 0; -1 on error.
 */
static int dns_quiet(const unsigned char *m, Py_ssize_t n, PyObject *names)
{
    char text[MAX_NAME + 1];
    Py_ssize_t starts[MAX_NAME / 2 + 1];
    Py_ssize_t off = 12, used = 0, labels = 0, i;

    if (n < 12 || (m[2] & 0x80) || m[4] != 0 || m[5] != 1 || m[6] != 0 || m[7] != 0)
        return 0;
    for (;;) {
        unsigned c;
        Py_ssize_t j;
        if (off >= n)
            return 0;
        c = m[off];
        if (c == 0)
            break;
        if (c > 63 || off + 1 + (Py_ssize_t)c - 12 > MAX_NAME || off + 1 + (Py_ssize_t)c > n)
            return 0;
        if (labels)
            text[used++] = '.';
        starts[labels++] = used;
        for (j = 0; j < (Py_ssize_t)c; j++) {
            unsigned b = m[off + 1 + j];
            if (!name_byte(b))
                return 0;
            text[used++] = (char)((b >= 'A' && b <= 'Z') ? b + 32 : b);
        }
        off += 1 + c;
    }
    if (labels == 0 || off + 5 > n)
        return 0;
    for (i = 0; i < labels; i++) {
        PyObject *key = PyBytes_FromStringAndSize(text + starts[i], used - starts[i]);
        int found;
        if (key == NULL)
            return -1;
        found = PySet_Contains(names, key);
        Py_DECREF(key);
        if (found != 0)
            return found < 0 ? -1 : 0;
    }
    return 1;
}

/*
 * Append a DNS datagram (its IP header at ``ip``) to the split front's items as the recorder records it:
 * ``fwd`` is ``(items, kind)``, the item ``(kind, ts, src, dst, 17, sport, dport, 0, 0, payload)``
 * (``poolsniff.engine.fast.udp.dns_item`` is the reference). 0, or -1 on error.
 */
static int dns_append(PyObject *fwd, const unsigned char *ip, long long ts, unsigned sport, unsigned dport,
                      const unsigned char *payload, Py_ssize_t size)
{
    PyObject *item;
    const unsigned char *src = (ip[0] >> 4) == 4 ? ip + 12 : ip + 8;
    Py_ssize_t alen = (ip[0] >> 4) == 4 ? 4 : 16, i;
    int rc;

    item = PyTuple_New(10);
    if (item == NULL)
        return -1;
    Py_INCREF(PyTuple_GET_ITEM(fwd, 1));
    PyTuple_SET_ITEM(item, 0, PyTuple_GET_ITEM(fwd, 1));
    PyTuple_SET_ITEM(item, 1, PyLong_FromLongLong(ts));
    PyTuple_SET_ITEM(item, 2, PyBytes_FromStringAndSize((const char *)src, alen));
    PyTuple_SET_ITEM(item, 3, PyBytes_FromStringAndSize((const char *)src + alen, alen));
    PyTuple_SET_ITEM(item, 4, PyLong_FromLong(IP_UDP));
    PyTuple_SET_ITEM(item, 5, PyLong_FromUnsignedLong(sport));
    PyTuple_SET_ITEM(item, 6, PyLong_FromUnsignedLong(dport));
    PyTuple_SET_ITEM(item, 7, PyLong_FromLong(0));
    PyTuple_SET_ITEM(item, 8, PyLong_FromLong(0));
    PyTuple_SET_ITEM(item, 9, PyBytes_FromStringAndSize((const char *)payload, size));
    for (i = 1; i < 10; i++) {
        if (PyTuple_GET_ITEM(item, i) == NULL) {
            Py_DECREF(item);
            return -1;
        }
    }
    rc = PyList_Append(PyTuple_GET_ITEM(fwd, 0), item);
    Py_DECREF(item);
    return rc;
}

/*
 * What the walk does with a frame that is no plain TCP packet: SKIP_UDP for a UDP datagram the flow
 * table drops (neither port 53), or, given the listed names (``names``, a set, or NULL), a DNS query
 * for none of them, or, given ``dns_forward`` (the split front's ``(items, kind)``, or NULL), any other
 * DNS datagram, appended there; else FEED; -1 on error (``poolsniff.engine.fast.udp.udp_skip``).
 */
static int udp_skip(const unsigned char *frame, Py_ssize_t len, PyObject *names, PyObject *dns_forward,
                    long long ts)
{
    unsigned sport, dport;
    const unsigned char *payload, *ip;
    Py_ssize_t size;
    int rc;

    if (!udp_datagram(frame, len, &sport, &dport, &payload, &size, &ip))
        return FEED;
    if (sport != DNS_PORT && dport != DNS_PORT)
        return SKIP_UDP;
    if (names != NULL) {
        rc = dns_quiet(payload, size, names);
        if (rc != 0)
            return rc < 0 ? -1 : SKIP_UDP;
    }
    if (dns_forward == NULL)
        return FEED;
    return dns_append(dns_forward, ip, ts, sport, dport, payload, size) < 0 ? -1 : SKIP_UDP;
}

/*
 * SKIP_NOT_IP or SKIP_OTHER_PROTO for an Ethernet frame that the decoder counts so without reading
 * further (not IP; IPv4 or IPv6 neither TCP nor UDP), else FEED: poolsniff.engine.fast.dropped.dropped
 * is the reference.
 */
static int dropped_kind(const unsigned char *d, Py_ssize_t len)
{
    unsigned etype, nxt;
    Py_ssize_t ihl, total, end;

    if (len < 14)
        return FEED;
    etype = rd16be(d + 12);
    if (etype == ETH_IPV4) {
        if (len < 34 || (d[14] >> 4) != 4)
            return FEED;
        ihl = (Py_ssize_t)(d[14] & 0x0F) << 2;
        if (ihl < 20 || (rd16be(d + 20) & 0x1FFF))
            return FEED;
        total = (Py_ssize_t)rd16be(d + 16);
        if (total >= ihl)
            end = 14 + total < len ? 14 + total : len;
        else if (total == 0) /* segmentation offload: the capture holds the real length */
            end = len;
        else
            return FEED;
        if (14 + ihl > end || d[23] == IP_TCP || d[23] == IP_UDP)
            return FEED;
        return SKIP_OTHER_PROTO;
    }
    if (etype == ETH_IPV6) {
        if (len < 54 || (d[14] >> 4) != 6)
            return FEED;
        nxt = d[20];
        if (nxt == IP_TCP || nxt == IP_UDP || nxt == 0 || nxt == 43 || nxt == 60 || nxt == 135 || nxt == 44 ||
            nxt == 51) /* decode.IPV6_EXT_ALL: the decoder steps over them */
            return FEED;
        return SKIP_OTHER_PROTO;
    }
    if (vlan_type(etype) || etype == ETH_PPPOE)
        return FEED; /* the decoder reads on behind a VLAN tag and PPPoE's session stage */
    return SKIP_NOT_IP;
}

/* Count a frame of ``kind`` (SKIP_NOT_IP or SKIP_OTHER_PROTO) in the ``counts`` bytearray. */
static void count_dropped(PyObject *counts, int kind)
{
    long long values[2];

    memcpy(values, PyByteArray_AS_STRING(counts), sizeof values);
    values[kind - SKIP_NOT_IP] += 1;
    memcpy(PyByteArray_AS_STRING(counts), values, sizeof values);
}
