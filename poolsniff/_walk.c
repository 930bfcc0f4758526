/*
 * poolsniff._walk: the prefilter's record walk in C (pipeline stage: source -> prefilter).
 *
 * source -> **prefilter** -> decode -> flows/dissectors -> detectors -> enrichment -> sinks
 *
 * ``skip`` does, for the records of a classic Ethernet pcap held in a buffer, exactly what
 * ``poolsniff.prefilter._skip`` (the pure-Python version, which stays the reference and the
 * fallback when this module is not built) does: it walks the records from ``pos``; for a
 * plain, whole IPv4 or IPv6 TCP packet (behind at most one 802.1Q tag) of a flow direction
 * in ``fast`` that is closed, or that carries no data and no SYN, FIN or RST, it stamps the
 * flow's ``last_ts`` and counts the packet against ``budget``. It stops at the first record
 * that is not whole in the buffer, whose captured length is over ``limit``, or that the
 * pipeline must see, and returns ``(pos, budget)``. The caller deals with that record.
 *
 * Everything read from the buffer is bounds-checked against ``end`` before it is read; the
 * buffer is only read, never kept. The interpreter lock is held throughout (``fast`` is a
 * dict and the flows are Python objects).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define ETH_VLAN 0x8100
#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86DD
#define FIN_SYN_RST 0x07

static PyObject *last_ts_name; /* interned "last_ts" */

static inline uint32_t rd32(const unsigned char *p, int big_endian)
{
    if (big_endian)
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

static inline unsigned rd16be(const unsigned char *p) { return ((unsigned)p[0] << 8) | p[1]; }

/*
 * The key and payload length of a plain, whole TCP packet in the Ethernet frame
 * ``frame[0:len]``, as ``poolsniff.prefilter._lookup`` finds them. Returns the key's
 * length (12 for IPv4, 36 for IPv6) with ``*key`` pointing at it, or 0 for anything else.
 */
static Py_ssize_t tcp_key(const unsigned char *frame, Py_ssize_t len, const unsigned char **key, long *data)
{
    const unsigned char *l3;
    Py_ssize_t room; /* bytes of the frame from l3 on */
    unsigned et;

    if (len < 54)
        return 0;
    et = rd16be(frame + 12);
    l3 = frame + 14;
    room = len - 14;
    if (et == ETH_VLAN) {
        if (len < 58)
            return 0;
        et = rd16be(frame + 16);
        l3 = frame + 18;
        room = len - 18;
    }
    if (et == ETH_IPV4) {
        /* room >= 40: the IPv4 header and the TCP header's first 14 bytes are in the frame */
        unsigned total = rd16be(l3 + 2);
        unsigned frag = rd16be(l3 + 6);
        unsigned hl, flags = l3[33];
        if (l3[0] != 0x45 || l3[9] != 6 || (frag & 0x1FFF) || (flags & FIN_SYN_RST))
            return 0;
        hl = (unsigned)(l3[32] >> 4) << 2;
        *data = (long)total - 20 - (long)hl;
        if (hl < 20 || *data < 0 || (Py_ssize_t)total > room)
            return 0;
        *key = l3 + 12;
        return 12;
    }
    if (et == ETH_IPV6 && room >= 54) {
        unsigned length = rd16be(l3 + 4);
        unsigned hl, flags = l3[53];
        if ((l3[0] >> 4) != 6 || l3[6] != 6 || (flags & FIN_SYN_RST))
            return 0;
        hl = (unsigned)(l3[52] >> 4) << 2;
        *data = (long)length - (long)hl;
        if (hl < 20 || *data < 0 || 40 + (Py_ssize_t)length > room)
            return 0;
        *key = l3 + 8;
        return 36;
    }
    return 0;
}

/* 1: the record was dealt with here (stamped and counted); 0: the pipeline must see it; -1: error. */
static int try_skip(PyObject *fast, const unsigned char *frame, Py_ssize_t len, long long ts)
{
    const unsigned char *k = NULL;
    long data = 0;
    Py_ssize_t klen = tcp_key(frame, len, &k, &data);
    PyObject *key, *entry, *stamp;
    int closed, rc;

    if (klen == 0)
        return 0;
    key = PyBytes_FromStringAndSize((const char *)k, klen);
    if (key == NULL)
        return -1;
    entry = PyDict_GetItemWithError(fast, key); /* borrowed */
    Py_DECREF(key);
    if (entry == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2) {
        PyErr_SetString(PyExc_TypeError, "fast entries must be (flow, closed) tuples");
        return -1;
    }
    closed = PyObject_IsTrue(PyTuple_GET_ITEM(entry, 1));
    if (closed < 0)
        return -1;
    if (!closed && data != 0)
        return 0;
    stamp = PyLong_FromLongLong(ts);
    if (stamp == NULL)
        return -1;
    rc = PyObject_SetAttr(PyTuple_GET_ITEM(entry, 0), last_ts_name, stamp);
    Py_DECREF(stamp);
    return rc < 0 ? -1 : 1;
}

static PyObject *walk_skip(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, end, budget;
    int big_endian;
    long long frac_div, next_check;
    unsigned long limit;
    PyObject *fast;
    const unsigned char *buf;

    (void)self;
    if (!PyArg_ParseTuple(args, "y*nnpLkO!nL", &view, &pos, &end, &big_endian, &frac_div, &limit,
                          &PyDict_Type, &fast, &budget, &next_check))
        return NULL;
    if (pos < 0 || end < pos || end > view.len || frac_div <= 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "skip: need 0 <= pos <= end <= len(buf) and frac_div > 0");
        return NULL;
    }
    buf = (const unsigned char *)view.buf;
    while (budget > 0 && end - pos >= 16) {
        const unsigned char *h = buf + pos;
        uint32_t caplen = rd32(h + 8, big_endian);
        long long ts;
        int done;

        if (caplen > limit || (Py_ssize_t)caplen > end - pos - 16)
            break;
        if (caplen < 54)
            break;
        ts = (long long)rd32(h, big_endian) * 1000000LL + (long long)rd32(h + 4, big_endian) / frac_div;
        if (ts >= next_check)
            break;
        done = try_skip(fast, h + 16, (Py_ssize_t)caplen, ts);
        if (done < 0) {
            PyBuffer_Release(&view);
            return NULL;
        }
        if (done == 0)
            break;
        budget -= 1;
        pos += 16 + (Py_ssize_t)caplen;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("nn", pos, budget);
}

static PyMethodDef walk_methods[] = {
    {"skip", walk_skip, METH_VARARGS,
     "skip(buf, pos, end, big_endian, frac_div, limit, fast, budget, next_check) -> (pos, budget)\n\n"
     "Walk the pcap records of buf[pos:end], stamping and counting the packets the flow table\n"
     "lets the prefilter skip; stop at the first record the caller must handle."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef walk_module = {
    PyModuleDef_HEAD_INIT, "poolsniff._walk",
    "The prefilter's record walk in C (see poolsniff.prefilter._skip, its reference).", -1, walk_methods,
};

PyMODINIT_FUNC PyInit__walk(void)
{
    last_ts_name = PyUnicode_InternFromString("last_ts");
    if (last_ts_name == NULL)
        return NULL;
    return PyModule_Create(&walk_module);
}
