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
 * Community ID's packing refuses. The three hashes (two SHA-1s of a few dozen bytes, the record's
 * SHA-256) are ``_sha.h``'s, with the CPU's SHA instructions where it has them (else the SHA-256 is
 * hashlib's). ``line`` returns all of it, ``line_text`` the line alone (what the EVE file takes); both
 * read their arguments themselves (METH_FASTCALL: PyArg_ParseTuple read its format at every call).
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

#include "_sha.h"

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

typedef struct {
    long long fid;
    char start_ts[48], end_ts[48], cid[40], ident[33];
    Py_ssize_t size; /* of the line in buf */
    char buf[4096];
} Made;

/* What each argument of ``line`` is, as PyArg_ParseTuple's format "ULULLULLLLLLpUUO!Up" said it (T: the
 * flowbits' tuple): client_ip, client_port, server_ip, server_port, proto, proto_name, start_us, end_us,
 * pkts_c, pkts_s, bytes_c, bytes_s, closed, reason, app_proto, flowbits, source, live. */
static const char KINDS[] = "ULULLULLLLLLpUUTUp";
#define NARGS ((Py_ssize_t)sizeof KINDS - 1)

/* The arguments read in order as that format read them, without reading a format string at every
 * call: the str and the tuple into ``objs``, the numbers into ``nums``, the truths into ``flags``; 1, or 0
 * for None (a number beyond 64 bits: the Python way writes it), or -1 with an exception set. */
static int parse(PyObject *const *args, Py_ssize_t nargs, PyObject **objs, long long *nums, int *flags)
{
    int nnum = 0, nobj = 0, nflag = 0;
    if (nargs != NARGS) {
        PyErr_Format(PyExc_TypeError, "line() takes exactly %zd arguments (%zd given)", NARGS, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < NARGS; i++) {
        PyObject *arg = args[i];
        long long v;
        int truth;
        switch (KINDS[i]) {
        case 'U':
        case 'T':
            if (KINDS[i] == 'U' ? !PyUnicode_Check(arg) : !PyTuple_Check(arg)) {
                PyErr_Format(PyExc_TypeError, "line() argument %zd must be %s", i + 1, KINDS[i] == 'U' ? "str" : "tuple");
                return -1;
            }
            objs[nobj++] = arg;
            break;
        case 'p':
            if ((truth = PyObject_IsTrue(arg)) < 0)
                return -1;
            flags[nflag++] = truth;
            break;
        default: /* 'L' */
            v = PyLong_AsLongLong(arg);
            if (v == -1 && PyErr_Occurred()) {
                if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                    return -1;
                PyErr_Clear();
                return 0;
            }
            nums[nnum++] = v;
        }
    }
    return 1;
}

/* Make a flow record's ids, times and line from the arguments of ``line``: 1, 0 for None (what only the
 * Python way writes), -1 with an exception set. */
static int make(PyObject *const *args, Py_ssize_t nargs, Made *m)
{
    PyObject *objs[7] = {NULL};
    long long nums[9] = {0};
    int flags[2] = {0}, parsed = parse(args, nargs, objs, nums, flags);
    PyObject *cip_o = objs[0], *sip_o = objs[1], *proto_name_o = objs[2], *reason_o = objs[3];
    PyObject *app_o = objs[4], *bits_o = objs[5], *source_o = objs[6];
    long long cport, sport, proto, start, end, pc, ps, bc, bs;
    int closed, live;
    Text cip, sip, pname, reason, app, source, state;
    unsigned char a[16], b[16], sha[32], data[64];
    int alen, blen;
    char fid_text[160], *buf = m->buf, *start_ts = m->start_ts, *end_ts = m->end_ts, *cid = m->cid;
    char *ident = m->ident;
    long long fid, age;
    Py_ssize_t nbits, i;
    Out o;

    if (parsed <= 0)
        return parsed;
    cport = nums[0], sport = nums[1], proto = nums[2], start = nums[3], end = nums[4];
    pc = nums[5], ps = nums[6], bc = nums[7], bs = nums[8], closed = flags[0], live = flags[1];
    cip.s = ascii_of(cip_o, &cip.n);
    sip.s = ascii_of(sip_o, &sip.n);
    pname.s = ascii_of(proto_name_o, &pname.n);
    reason.s = ascii_of(reason_o, &reason.n);
    app.s = ascii_of(app_o, &app.n);
    source.s = ascii_of(source_o, &source.n);
    if (!cip.s || !sip.s || !pname.s || !reason.s || !app.s || !source.s)
        return 0;
    if (cport < 0 || cport > 65535 || sport < 0 || sport > 65535 || proto < 0 || proto > 255)
        return 0;
    if (start <= -BIG || start >= BIG || end <= -BIG || end >= BIG || pc < 0 || ps < 0 || bc < 0 || bs < 0)
        return 0;
    nbits = PyTuple_GET_SIZE(bits_o);
    for (i = 0; i < nbits; i++) {
        Py_ssize_t n;
        if (!ascii_of(PyTuple_GET_ITEM(bits_o, i), &n))
            return 0;
    }
    alen = packed(cip.s, cip.n, a);
    blen = packed(sip.s, sip.n, b);
    if (!alen || alen != blen)
        return 0;
    format_ts(start, start_ts);
    format_ts(end, end_ts);
    age = end - start > 0 ? (end - start) / 1000000 : 0;

    /* flow_id: sha1("client|cport|server|sport|proto"), first 8 bytes big-endian >> 13 */
    o.p = fid_text, o.end = fid_text + sizeof fid_text, o.ok = 1;
    put(&o, cip.s, (size_t)cip.n), LIT(&o, "|"), put_int(&o, cport), LIT(&o, "|");
    put(&o, sip.s, (size_t)sip.n), LIT(&o, "|"), put_int(&o, sport), LIT(&o, "|"), put_int(&o, proto);
    if (!o.ok) /* cannot be: the addresses are under 64 characters */
        return 0;
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
    o.p = buf, o.end = buf + sizeof m->buf, o.ok = 1;
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
        return 0;
    if (!sha256((const unsigned char *)buf, (size_t)(o.p - buf), sha) && !digest(sha256_fn, buf, o.p - buf, sha, 32))
        return -1;
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
        return 0;
    m->fid = fid;
    m->size = (Py_ssize_t)(o.p - buf);
    return 1;
}

static PyObject *text(const char *s, Py_ssize_t n)
{
    PyObject *item = PyUnicode_New(n, 127);
    if (item != NULL)
        memcpy(PyUnicode_DATA(item), s, (size_t)n);
    return item;
}

static PyObject *flowline_line(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Made m;
    int made = make(args, nargs, &m);
    PyObject *result;
    (void)self;
    if (made <= 0) {
        if (made == 0)
            Py_RETURN_NONE;
        return NULL;
    }
    result = PyTuple_New(6);
    if (result == NULL)
        return NULL;
    {
        PyObject *items[6] = {PyLong_FromLongLong(m.fid), text(m.cid, (Py_ssize_t)strlen(m.cid)),
                              text(m.start_ts, 31), text(m.end_ts, 31), text(m.ident, 32), text(m.buf, m.size)};
        for (int i = 0; i < 6; i++) {
            if (items[i] == NULL) {
                for (int j = 0; j < 6; j++)
                    Py_XDECREF(items[j]);
                Py_DECREF(result);
                return NULL;
            }
        }
        for (int i = 0; i < 6; i++)
            PyTuple_SET_ITEM(result, i, items[i]);
    }
    return result;
}

static PyObject *flowline_line_text(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Made m;
    int made = make(args, nargs, &m);
    (void)self;
    if (made <= 0) {
        if (made == 0)
            Py_RETURN_NONE;
        return NULL;
    }
    return text(m.buf, m.size);
}

static PyObject *flowline_hashes(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    unsigned char one[20], two[32];
    int have_two;
    (void)self;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    sha1((const unsigned char *)view.buf, (size_t)view.len, one);
    have_two = sha256((const unsigned char *)view.buf, (size_t)view.len, two);
    PyBuffer_Release(&view);
    if (have_two)
        return Py_BuildValue("(y#y#)", (const char *)one, (Py_ssize_t)20, (const char *)two, (Py_ssize_t)32);
    return Py_BuildValue("(y#O)", (const char *)one, (Py_ssize_t)20, Py_None);
}

static PyObject *flowline_sha_ni(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "sha_ni() takes at most one argument");
        return NULL;
    }
    if (nargs == 1 && args[0] != Py_None) {
        int on = PyObject_IsTrue(args[0]);
        if (on < 0)
            return NULL;
        use_sha_ni = on && cpu_sha_ni;
    }
    return PyBool_FromLong(use_sha_ni);
}

static PyMethodDef flowline_methods[] = {
    {"line", (PyCFunction)(void (*)(void))flowline_line, METH_FASTCALL,
     "line(client_ip, client_port, server_ip, server_port, proto, proto_name, start_us, end_us, pkts_c,\n"
     "     pkts_s, bytes_c, bytes_s, closed, reason, app_proto, flowbits, source, live)\n"
     "    -> (flow_id, community_id, start, end, event_id, line) or None\n\n"
     "An alerted flow's EVE record line and id (see poolsniff.output.eveflow, the reference);\n"
     "None for what only the Python way writes."},
    {"line_text", (PyCFunction)(void (*)(void))flowline_line_text, METH_FASTCALL,
     "line_text(...) -> line or None: line()'s line alone (its arguments the same)."},
    {"hashes", flowline_hashes, METH_O,
     "hashes(data) -> (sha1, sha256 or None): this module's own digests of data (for the tests; None\n"
     "where the SHA-256 is hashlib's)."},
    {"sha_ni", (PyCFunction)(void (*)(void))flowline_sha_ni, METH_FASTCALL,
     "sha_ni(on=None) -> bool: whether the hashes use the CPU's SHA instructions; sha_ni(False) turns\n"
     "them off (the tests take both ways), sha_ni(True) on again where the CPU has them."},
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
    sha_init();
    return PyModule_Create(&flowline_module);
}
