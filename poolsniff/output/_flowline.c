/*
 * poolsniff.output._flowline: an alerted flow's EVE record line and id, in C (output layer).
 *
 * pipeline -> FlowSummary -> **flow line** -> EVE writer
 *
 * ``line(...)`` does for one flow record what ``poolsniff.output.eveflow.flow_record``,
 * ``eveflow.known_texts`` and ``eventid._digest`` do together in Python (they stay the reference,
 * and the fallback where this module is not built): it computes the record's ``flow_id`` (the
 * first 51 bits of the SHA-1 of ``client|cport|server|sport|proto``), its Community ID v1, its
 * start and end timestamps as Suricata writes them, the canonical JSON its id is the SHA-256 of,
 * and the line the EVE file carries, and returns
 * ``(flow_id, community_id, start, end, event_id, line)``.
 *
 * It answers None, and the caller takes the Python way, for anything outside the plain case it
 * writes byte for byte as ``json`` does: a string that is not ASCII, an address that is not in the
 * form ``inet_ntop`` writes, a number that does not fit in 62 bits, a port or protocol that the
 * Community ID's packing refuses. The record's SHA-256 is hashlib's (OpenSSL); the two SHA-1s, of a few
 * dozen bytes each, are computed here.
 * A flow record is most of what a scan of the real corpus writes: 37,350 of 40,300 lines on the
 * corpus joined ten times.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_TS_US 253402300799999999LL /* 9999-12-31T23:59:59.999999, what format_ts clamps to */
#define BIG (1LL << 62)

static PyObject *sha256_fn; /* hashlib.sha256: OpenSSL, with the CPU's SHA instructions where it has them */
static PyObject *digest_name; /* "digest", interned once (a method called by a C string makes the str each time) */

typedef struct {
    char *p;
    char *end;
    int ok;
} Out;

static void put(Out *o, const char *s, size_t n)
{
    if (!o->ok || (size_t)(o->end - o->p) < n) {
        o->ok = 0;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
}

static void puts_(Out *o, const char *s) { put(o, s, strlen(s)); }
#define LIT(o, s) put(o, s, sizeof(s) - 1)

static void put_int(Out *o, long long v)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    put(o, tmp + i, sizeof tmp - (size_t)i);
}

/* A JSON string as json.encoder.encode_basestring writes an ASCII one (quotes included). */
static void put_json(Out *o, const char *s, Py_ssize_t n)
{
    static const char hex[] = "0123456789abcdef";
    char esc[7];
    Py_ssize_t run = 0;
    put(o, "\"", 1);
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(o, s + run, (size_t)(i - run));
        run = i + 1;
        switch (c) {
        case '"': put(o, "\\\"", 2); break;
        case '\\': put(o, "\\\\", 2); break;
        case '\n': put(o, "\\n", 2); break;
        case '\r': put(o, "\\r", 2); break;
        case '\t': put(o, "\\t", 2); break;
        case '\b': put(o, "\\b", 2); break;
        case '\f': put(o, "\\f", 2); break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            put(o, esc, 6);
        }
    }
    put(o, s + run, (size_t)(n - run));
    put(o, "\"", 1);
}

/* The ASCII bytes of a str, or NULL (not a str, or not ASCII). */
static const char *ascii_of(PyObject *s, Py_ssize_t *n)
{
    if (!PyUnicode_Check(s) || !PyUnicode_IS_ASCII(s))
        return NULL;
    *n = PyUnicode_GET_LENGTH(s);
    return (const char *)PyUnicode_DATA(s);
}

/* A tuple of ASCII strs (checked before) as a JSON array. */
static void put_bits(Out *o, PyObject *bits)
{
    LIT(o, "[");
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(bits); i++) {
        Py_ssize_t n;
        const char *s = ascii_of(PyTuple_GET_ITEM(bits, i), &n);
        if (i)
            LIT(o, ",");
        put_json(o, s, n);
    }
    LIT(o, "]");
}

static void two(char *p, int v) { p[0] = (char)('0' + v / 10), p[1] = (char)('0' + v % 10); }

/* format_ts: microseconds since the epoch, clamped to 1970..9999, as 2024-05-01T12:00:00.000000+0000
 * (31 characters and a NUL). The date from the days since the epoch by the usual civil-calendar
 * arithmetic (400-year eras of 146,097 days, years starting in March). */
static void format_ts(long long ts, char *out)
{
    long long seconds, days, era, doe, yoe, doy, mp, year, rem;
    int month, day, micros;
    if (ts < 0)
        ts = 0;
    if (ts > MAX_TS_US)
        ts = MAX_TS_US;
    seconds = ts / 1000000, micros = (int)(ts % 1000000);
    days = seconds / 86400, rem = seconds % 86400;
    days += 719468; /* from 1970-01-01 to 0000-03-01 */
    era = days / 146097;
    doe = days - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    day = (int)(doy - (153 * mp + 2) / 5 + 1);
    month = (int)(mp < 10 ? mp + 3 : mp - 9);
    year = yoe + era * 400 + (month <= 2);
    two(out, (int)(year / 100)), two(out + 2, (int)(year % 100));
    out[4] = '-', two(out + 5, month), out[7] = '-', two(out + 8, day), out[10] = 'T';
    two(out + 11, (int)(rem / 3600)), out[13] = ':', two(out + 14, (int)(rem / 60 % 60)), out[16] = ':';
    two(out + 17, (int)(rem % 60)), out[19] = '.';
    two(out + 20, micros / 10000), two(out + 22, micros / 100 % 100), two(out + 24, micros % 100);
    memcpy(out + 26, "+0000", 6);
}

/* The network-order bytes of an address written as inet_ntop writes it; 0 for any other text. */
static int packed(const char *text, Py_ssize_t n, unsigned char *out)
{
    char copy[64], back[INET6_ADDRSTRLEN];
    if (n <= 0 || n >= (Py_ssize_t)sizeof copy)
        return 0;
    if (memchr(text, ':', (size_t)n) == NULL) { /* IPv4: four numbers 0-255 without leading zeros */
        int part = 0, digits = 0, value = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            char c = text[i];
            if (c == '.') {
                if (!digits || part == 3)
                    return 0;
                out[part++] = (unsigned char)value, digits = value = 0;
            } else if (c >= '0' && c <= '9') {
                if ((digits && value == 0) || (value = value * 10 + (c - '0')) > 255)
                    return 0;
                digits++;
            } else {
                return 0;
            }
        }
        if (!digits || part != 3)
            return 0;
        out[3] = (unsigned char)value;
        return 4;
    }
    memcpy(copy, text, (size_t)n);
    copy[n] = 0;
    if (inet_pton(AF_INET6, copy, out) != 1 || inet_ntop(AF_INET6, out, back, sizeof back) == NULL)
        return 0;
    return strcmp(back, copy) == 0 ? 16 : 0;
}

/* hashlib.<fn>(data).digest() into out (len bytes); 0 with an exception set on failure. */
static int digest(PyObject *fn, const char *data, Py_ssize_t n, unsigned char *out, Py_ssize_t len)
{
    PyObject *bytes = PyBytes_FromStringAndSize(data, n), *h, *d;
    if (bytes == NULL)
        return 0;
    h = PyObject_CallOneArg(fn, bytes);
    Py_DECREF(bytes);
    if (h == NULL)
        return 0;
    d = PyObject_CallMethodNoArgs(h, digest_name);
    Py_DECREF(h);
    if (d == NULL)
        return 0;
    if (!PyBytes_Check(d) || PyBytes_GET_SIZE(d) < len) {
        Py_DECREF(d);
        PyErr_SetString(PyExc_ValueError, "short digest");
        return 0;
    }
    memcpy(out, PyBytes_AS_STRING(d), (size_t)len);
    Py_DECREF(d);
    return 1;
}

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

/* SHA-1 (FIPS 180-4) of a short message: the two ids hash 20-100 bytes, for which a call into hashlib
 * costs more than the hash (the tests compare the ids with hashlib's). */
static void sha1(const unsigned char *msg, size_t len, unsigned char out[20])
{
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    size_t total = ((len + 8) / 64 + 1) * 64; /* the message, 0x80, zeros, its length in bits */
    unsigned char block[64];
    uint32_t w[80], a, b, c, d, e, t;
    int i;
    for (size_t off = 0; off < total; off += 64) {
        if (off + 64 <= len) {
            memcpy(block, msg + off, 64);
        } else {
            size_t have = off < len ? len - off : 0;
            memcpy(block, msg + off, have);
            memset(block + have, 0, 64 - have);
            if (off <= len)
                block[len - off] = 0x80;
        }
        if (off + 64 == total) {
            uint64_t bits = (uint64_t)len * 8;
            for (i = 0; i < 8; i++)
                block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
        }
        for (i = 0; i < 16; i++)
            w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 | (uint32_t)block[4 * i + 2] << 8 |
                   block[4 * i + 3];
        for (i = 16; i < 80; i++)
            w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
#define ROUND(f, k) (t = ROL(a, 5) + (f) + e + (k) + w[i], e = d, d = c, c = ROL(b, 30), b = a, a = t)
        for (i = 0; i < 20; i++)
            ROUND((b & c) | (~b & d), 0x5A827999u);
        for (; i < 40; i++)
            ROUND(b ^ c ^ d, 0x6ED9EBA1u);
        for (; i < 60; i++)
            ROUND((b & c) | (b & d) | (c & d), 0x8F1BBCDCu);
        for (; i < 80; i++)
            ROUND(b ^ c ^ d, 0xCA62C1D6u);
#undef ROUND
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    for (i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24), out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8), out[4 * i + 3] = (unsigned char)h[i];
    }
}

static void base64(const unsigned char *in, int n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int i, j = 0;
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = ((unsigned)in[i] << 16) | ((unsigned)in[i + 1] << 8) | in[i + 2];
        out[j++] = abc[v >> 18];
        out[j++] = abc[(v >> 12) & 63];
        out[j++] = abc[(v >> 6) & 63];
        out[j++] = abc[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        out[j++] = abc[v >> 18];
        out[j++] = abc[(v >> 12) & 63];
        out[j++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        out[j++] = '=';
    }
    out[j] = 0;
}

typedef struct {
    const char *s;
    Py_ssize_t n;
} Text;

#define FIELD(out, name, text) (LIT(out, name), put_json(out, (text).s, (text).n))

static PyObject *flowline_line(PyObject *self, PyObject *args)
{
    PyObject *cip_o, *sip_o, *proto_name_o, *reason_o, *app_o, *bits_o, *source_o;
    long long cport, sport, proto, start, end, pc, ps, bc, bs;
    int closed, live;
    Text cip, sip, pname, reason, app, source, state;
    unsigned char a[16], b[16], sha[32], data[64];
    int alen, blen;
    char start_ts[48], end_ts[48], cid[40], ident[33], fid_text[160], buf[4096];
    long long fid, age;
    Py_ssize_t nbits, i;
    Out o;
    (void)self;

    if (!PyArg_ParseTuple(args, "ULULLULLLLLLpUUO!Up", &cip_o, &cport, &sip_o, &sport, &proto, &proto_name_o,
                          &start, &end, &pc, &ps, &bc, &bs, &closed, &reason_o, &app_o, &PyTuple_Type,
                          &bits_o, &source_o, &live)) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return NULL;
        PyErr_Clear(); /* a number beyond 64 bits: the Python way writes it */
        Py_RETURN_NONE;
    }
    cip.s = ascii_of(cip_o, &cip.n);
    sip.s = ascii_of(sip_o, &sip.n);
    pname.s = ascii_of(proto_name_o, &pname.n);
    reason.s = ascii_of(reason_o, &reason.n);
    app.s = ascii_of(app_o, &app.n);
    source.s = ascii_of(source_o, &source.n);
    if (!cip.s || !sip.s || !pname.s || !reason.s || !app.s || !source.s)
        Py_RETURN_NONE;
    if (cport < 0 || cport > 65535 || sport < 0 || sport > 65535 || proto < 0 || proto > 255)
        Py_RETURN_NONE;
    if (start <= -BIG || start >= BIG || end <= -BIG || end >= BIG || pc < 0 || ps < 0 || bc < 0 || bs < 0)
        Py_RETURN_NONE;
    nbits = PyTuple_GET_SIZE(bits_o);
    for (i = 0; i < nbits; i++) {
        Py_ssize_t n;
        if (!ascii_of(PyTuple_GET_ITEM(bits_o, i), &n))
            Py_RETURN_NONE;
    }
    alen = packed(cip.s, cip.n, a);
    blen = packed(sip.s, sip.n, b);
    if (!alen || alen != blen)
        Py_RETURN_NONE;
    format_ts(start, start_ts);
    format_ts(end, end_ts);
    age = end - start > 0 ? (end - start) / 1000000 : 0;

    /* flow_id: sha1("client|cport|server|sport|proto"), first 8 bytes big-endian >> 13 */
    o.p = fid_text, o.end = fid_text + sizeof fid_text, o.ok = 1;
    put(&o, cip.s, (size_t)cip.n), LIT(&o, "|"), put_int(&o, cport), LIT(&o, "|");
    put(&o, sip.s, (size_t)sip.n), LIT(&o, "|"), put_int(&o, sport), LIT(&o, "|"), put_int(&o, proto);
    if (!o.ok) /* cannot be: the addresses are under 64 characters */
        Py_RETURN_NONE;
    sha1((const unsigned char *)fid_text, (size_t)(o.p - fid_text), sha);
    fid = 0;
    for (i = 0; i < 8; i++)
        fid = (long long)(((unsigned long long)fid << 8) | sha[i]);
    fid = (long long)((unsigned long long)fid >> 13);

    /* Community ID v1, seed 0: the lower (address, port) first */
    {
        const unsigned char *lo = a, *hi = b;
        long long lport = cport, hport = sport;
        int cmp = memcmp(a, b, (size_t)alen);
        size_t k = 0;
        if (cmp > 0 || (cmp == 0 && cport > sport)) {
            lo = b, hi = a, lport = sport, hport = cport;
        }
        data[k++] = 0, data[k++] = 0;
        memcpy(data + k, lo, (size_t)alen), k += (size_t)alen;
        memcpy(data + k, hi, (size_t)alen), k += (size_t)alen;
        data[k++] = (unsigned char)proto, data[k++] = 0;
        data[k++] = (unsigned char)(lport >> 8), data[k++] = (unsigned char)lport;
        data[k++] = (unsigned char)(hport >> 8), data[k++] = (unsigned char)hport;
        sha1(data, k, sha);
        memcpy(cid, "1:", 2);
        base64(sha, 20, cid + 2);
    }
    state.s = closed ? "closed" : "established";
    state.n = (Py_ssize_t)strlen(state.s);
    Text ts = {end_ts, (Py_ssize_t)strlen(end_ts)}, st = {start_ts, (Py_ssize_t)strlen(start_ts)};
    Text cidt = {cid, (Py_ssize_t)strlen(cid)};
    const char *key = live ? "in_iface" : "pcap_filename";

    /* the canonical form: sorted keys, compact */
    o.p = buf, o.end = buf + sizeof buf, o.ok = 1;
    LIT(&o, "{");
    if (app.n)
        FIELD(&o, "\"app_proto\":", app), LIT(&o, ",");
    FIELD(&o, "\"community_id\":", cidt);
    FIELD(&o, ",\"dest_ip\":", sip);
    LIT(&o, ",\"dest_port\":"), put_int(&o, sport);
    LIT(&o, ",\"event_type\":\"flow\",\"flow\":{\"age\":"), put_int(&o, age);
    LIT(&o, ",\"alerted\":true,\"bytes_toclient\":"), put_int(&o, bs);
    LIT(&o, ",\"bytes_toserver\":"), put_int(&o, bc);
    FIELD(&o, ",\"end\":", ts);
    LIT(&o, ",\"pkts_toclient\":"), put_int(&o, ps);
    LIT(&o, ",\"pkts_toserver\":"), put_int(&o, pc);
    FIELD(&o, ",\"reason\":", reason);
    FIELD(&o, ",\"start\":", st);
    FIELD(&o, ",\"state\":", state);
    LIT(&o, "},\"flow_id\":"), put_int(&o, fid);
    if (live)
        FIELD(&o, ",\"in_iface\":", source);
    LIT(&o, ",\"metadata\":{\"flowbits\":"), put_bits(&o, bits_o), LIT(&o, "}");
    if (!live)
        FIELD(&o, ",\"pcap_filename\":", source);
    FIELD(&o, ",\"proto\":", pname);
    FIELD(&o, ",\"src_ip\":", cip);
    LIT(&o, ",\"src_port\":"), put_int(&o, cport);
    FIELD(&o, ",\"timestamp\":", ts);
    LIT(&o, "}");
    if (!o.ok) /* a record longer than the buffer: the Python way has no limit */
        Py_RETURN_NONE;
    if (!digest(sha256_fn, buf, o.p - buf, sha, 32))
        return NULL;
    for (i = 0; i < 16; i++) {
        static const char hex[] = "0123456789abcdef";
        ident[2 * i] = hex[sha[i] >> 4], ident[2 * i + 1] = hex[sha[i] & 15];
    }
    ident[32] = 0;

    /* the line: Suricata's key order, the id in metadata.flowvars */
    o.p = buf, o.ok = 1;
    FIELD(&o, "{\"timestamp\":", ts);
    LIT(&o, ",\"flow_id\":"), put_int(&o, fid);
    LIT(&o, ",\""), puts_(&o, key), LIT(&o, "\":"), put_json(&o, source.s, source.n);
    LIT(&o, ",\"event_type\":\"flow\"");
    FIELD(&o, ",\"src_ip\":", cip);
    LIT(&o, ",\"src_port\":"), put_int(&o, cport);
    FIELD(&o, ",\"dest_ip\":", sip);
    LIT(&o, ",\"dest_port\":"), put_int(&o, sport);
    FIELD(&o, ",\"proto\":", pname);
    FIELD(&o, ",\"community_id\":", cidt);
    if (app.n)
        FIELD(&o, ",\"app_proto\":", app);
    LIT(&o, ",\"flow\":{\"pkts_toserver\":"), put_int(&o, pc);
    LIT(&o, ",\"pkts_toclient\":"), put_int(&o, ps);
    LIT(&o, ",\"bytes_toserver\":"), put_int(&o, bc);
    LIT(&o, ",\"bytes_toclient\":"), put_int(&o, bs);
    FIELD(&o, ",\"start\":", st);
    FIELD(&o, ",\"end\":", ts);
    LIT(&o, ",\"age\":"), put_int(&o, age);
    FIELD(&o, ",\"state\":", state);
    FIELD(&o, ",\"reason\":", reason);
    LIT(&o, ",\"alerted\":true},\"metadata\":{\"flowbits\":"), put_bits(&o, bits_o);
    LIT(&o, ",\"flowvars\":[{\"event_id\":\""), put(&o, ident, 32), LIT(&o, "\"}]}}");
    if (!o.ok)
        Py_RETURN_NONE;
    {
        const char *texts[5] = {cid, start_ts, end_ts, ident, buf};
        Py_ssize_t sizes[5] = {(Py_ssize_t)strlen(cid), 31, 31, 32, (Py_ssize_t)(o.p - buf)};
        PyObject *result = PyTuple_New(6), *item;
        if (result == NULL)
            return NULL;
        item = PyLong_FromLongLong(fid);
        if (item == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyTuple_SET_ITEM(result, 0, item);
        for (i = 0; i < 5; i++) {
            item = PyUnicode_New(sizes[i], 127);
            if (item == NULL) {
                Py_DECREF(result);
                return NULL;
            }
            memcpy(PyUnicode_DATA(item), texts[i], (size_t)sizes[i]);
            PyTuple_SET_ITEM(result, i + 1, item);
        }
        return result;
    }
}

static PyMethodDef flowline_methods[] = {
    {"line", flowline_line, METH_VARARGS,
     "line(client_ip, client_port, server_ip, server_port, proto, proto_name, start_us, end_us, pkts_c,\n"
     "     pkts_s, bytes_c, bytes_s, closed, reason, app_proto, flowbits, source, live)\n"
     "    -> (flow_id, community_id, start, end, event_id, line) or None\n\n"
     "An alerted flow's EVE record line and id (see poolsniff.output.eveflow, the reference);\n"
     "None for what only the Python way writes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef flowline_module = {
    PyModuleDef_HEAD_INIT, "poolsniff.output._flowline",
    "An alerted flow's EVE record line and id in C (see poolsniff.output.eveflow, the reference).", -1,
    flowline_methods,
};

PyMODINIT_FUNC PyInit__flowline(void)
{
    PyObject *hashlib = PyImport_ImportModule("hashlib");
    if (hashlib == NULL)
        return NULL;
    sha256_fn = PyObject_GetAttrString(hashlib, "sha256");
    digest_name = PyUnicode_InternFromString("digest");
    Py_DECREF(hashlib);
    if (sha256_fn == NULL || digest_name == NULL)
        return NULL;
    return PyModule_Create(&flowline_module);
}
