/*
 * Link layers other than Ethernet, read by the record walks (pipeline stage: prefilter).
 *
 * source -> **prefilter** (the frame's link layer) -> decode -> flows/dissectors -> ...
 *
 * The walks read Ethernet frames: the EtherType at byte 12, the network header at 14. The decoder
 * (``poolsniff.engine.decode``) peels every other link layer it knows down to the same two facts,
 * an EtherType and where the network header starts, and reads on from there as it reads Ethernet.
 * ``link_view`` does the same for the link layers of ``tcpdump -i any`` (Linux cooked v1 and v2),
 * of raw IP (tunnels, WireGuard, some taps), of BSD and macOS loopback, of PPP and of Cisco HDLC: it
 * hands the walk the Ethernet frame the decoder would read the same, so every skip the walk makes of an Ethernet frame it makes of these too.
 * ``poolsniff.engine.fast.link.ethernet_view`` is the reference. Included by ``_walk.c`` only, after its
 * byte readers and EtherTypes.
 */

/* poolsniff.engine.decode.AF_INET6_VALUES: AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD/DragonFly, macOS */
static inline int af_inet6(uint32_t family) { return family == 10 || family == 24 || family == 28 || family == 30; }

/* poolsniff.engine.fast.link.LINKTYPES: the link types ``link_view`` reads */
static inline int link_known(long lt)
{
    return lt == 1 || lt == 113 || lt == 276 || lt == 12 || lt == 14 || lt == 101 || lt == 228 || lt == 229 ||
           lt == 0 || lt == 108 || lt == 104 || lt == 9;
}

/* Room for a frame made into an Ethernet frame: a buffer kept for a walk's call, grown as frames need. */
typedef struct {
    unsigned char *buf; /* NULL until a frame needs more than ``small`` */
    Py_ssize_t size;
    unsigned char small[2048];
} scratch_t;

static inline scratch_t *scratch_init(scratch_t *s)
{
    s->buf = NULL;
    s->size = 0;
    return s;
}

static unsigned char *scratch_for(scratch_t *s, Py_ssize_t need)
{
    if (need <= (Py_ssize_t)sizeof s->small)
        return s->small;
    if (need > s->size) {
        PyMem_Free(s->buf);
        s->buf = PyMem_Malloc((size_t)need);
        s->size = s->buf == NULL ? 0 : need;
        if (s->buf == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
    }
    return s->buf;
}

static void scratch_free(scratch_t *s)
{
    PyMem_Free(s->buf);
    s->buf = NULL;
    s->size = 0;
}

/*
 * The frame ``frame[0:len]`` of link type ``lt`` as the Ethernet frame the decoder reads the same, its
 * length in ``*vlen`` (the walks call ``ethernet_of``, which hands an Ethernet frame back as it is): Linux cooked v1 from its third byte on (its protocol is where
 * an EtherType is, its network header 14 bytes on: no copy); Linux cooked v2 and raw IP copied into
 * ``s`` behind a made header with their EtherType. NULL where the decoder reads the link header
 * otherwise (cut short, raw IP neither version 4 nor 6, an empty frame: it counts those), and on error
 * (no memory, the error set): the frame then goes to the decoder as it is.
 */
static const unsigned char *link_view(long lt, const unsigned char *frame, Py_ssize_t len, scratch_t *s,
                                      Py_ssize_t *vlen)
{
    unsigned char *out;
    unsigned et;
    Py_ssize_t off = 0;

    if (lt == 113) { /* packet type, ARPHRD type, address length, 8-byte address, protocol */
        if (len < 16)
            return NULL;
        *vlen = len - 2;
        return frame + 2;
    }
    if (lt == 276) { /* protocol, reserved, ifindex, ARPHRD type, packet type, address length, address */
        if (len < 20)
            return NULL;
        et = rd16be(frame);
        off = 20;
    } else if (lt == 0 || lt == 108) { /* loopback: the address family, in the writer's order (0) or big-endian (108) */
        uint32_t family;
        if (len < 4)
            return NULL;
        family = (uint32_t)frame[0] << 24 | (uint32_t)frame[1] << 16 | (uint32_t)frame[2] << 8 | frame[3];
        if (lt == 0) { /* little-endian, unless that reads over 0xFFFF */
            uint32_t little = (uint32_t)frame[3] << 24 | (uint32_t)frame[2] << 16 | (uint32_t)frame[1] << 8 | frame[0];
            family = little <= 0xFFFF ? little : family;
        }
        if (family == 2)
            et = ETH_IPV4;
        else if (af_inet6(family))
            et = ETH_IPV6;
        else
            return NULL;
        off = 4;
    } else if (lt == 9) { /* PPP: an optional ff 03 address and control, a 1- or 2-byte protocol */
        unsigned protocol;
        off = len >= 2 && frame[0] == 0xFF && frame[1] == 0x03 ? 2 : 0;
        if (len < off + 1)
            return NULL;
        if (frame[off] & 1) { /* protocol-field compression: one byte */
            protocol = frame[off];
            off += 1;
        } else if (len < off + 2) {
            return NULL;
        } else {
            protocol = rd16be(frame + off);
            off += 2;
        }
        if (protocol == 0x0021) /* poolsniff.engine.decode.PPP_PROTOCOLS */
            et = ETH_IPV4;
        else if (protocol == 0x0057)
            et = ETH_IPV6;
        else
            return NULL;
    } else if (lt == 104) { /* Cisco HDLC: address, control, EtherType */
        if (len < 4)
            return NULL;
        et = rd16be(frame + 2);
        off = 4;
    } else if (len < 1) {
        return NULL;
    } else if (lt == 228) {
        et = ETH_IPV4;
    } else if (lt == 229) {
        et = ETH_IPV6;
    } else if (lt == 12 || lt == 14 || lt == 101) { /* raw IP: the version says which */
        if ((frame[0] >> 4) == 4)
            et = ETH_IPV4;
        else if ((frame[0] >> 4) == 6)
            et = ETH_IPV6;
        else
            return NULL;
    } else {
        return NULL;
    }
    out = scratch_for(s, len - off + 14);
    if (out == NULL)
        return NULL;
    memset(out, 0, 12);
    out[12] = (unsigned char)(et >> 8);
    out[13] = (unsigned char)(et & 0xFF);
    memcpy(out + 14, frame + off, (size_t)(len - off));
    *vlen = len - off + 14;
    return out;
}

/* ``link_view`` for any link type: an Ethernet frame as it is, with no call (the walks' every frame). */
static inline const unsigned char *ethernet_of(long long lt, const unsigned char *frame, Py_ssize_t len,
                                               scratch_t *s, Py_ssize_t *vlen)
{
    if (lt == 1) {
        *vlen = len;
        return frame;
    }
    return link_view((long)lt, frame, len, s, vlen);
}
