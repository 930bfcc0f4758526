/*
 * The TLS hellos that end what the split's back reads of a web session (pipeline stage: prefilter).
 *
 * source -> **prefilter** (a forwarded direction's first segment) -> decode -> flows/dissectors -> ...
 *
 * The back's direction reads a client's ClientHello and then nothing more of it; of a web session
 * (its hello offers a web protocol in ALPN) it reads no record shape either, and nothing of the server
 * after its ServerHello. The split's front closes such directions itself at their hellos
 * (``poolsniff.engine.split.recorder``), for which it needs two answers the back's parser would give:
 * ``web_client_hello``, whether a client's first bytes hold such a ClientHello, and
 * ``holds_server_hello``, whether a server's hold its whole ServerHello. Both read only the common case,
 * the hello whole in the first record, and say no where in doubt: a direction left open costs segments
 * sent along, one closed where the back reads on would lose what it reads. ``poolsniff.dissect.hellos``
 * (``web_hello``) and ``poolsniff.dissect.tls`` (``holds_server_hello``) are the references. Included by
 * ``_walk.c`` only.
 */

#define TLS_MAX_RECORD ((1L << 14) + 2048) /* poolsniff.dissect.tls.MAX_RECORD_LEN */
#define TLS_MAX_HELLO (16L * 1024)         /* poolsniff.dissect.tls.MAX_HELLO_BYTES */
#define TLS_EXT_SERVER_NAME 0x0000
#define TLS_EXT_ALPN 0x0010
#define TLS_EXT_SUPPORTED_VERSIONS 0x002B

/* poolsniff.dissect.shape.WEB_ALPNS */
static const char *const web_alpns[] = {"h2", "h3", "http/1.1", "http/1.0", "spdy/3.1", "h2c"};

/*
 * tls._whole_in_first_record: the handshake message of type ``type`` (header included) whole in the first
 * record of ``n`` bytes that start like TLS (``tls.looks_like_tls``); its length, or 0.
 */
static long first_record_hello(const unsigned char *p, Py_ssize_t n, int type)
{
    long record, end;

    if (n < 9 || p[0] != 22 || p[1] != 3 || p[2] > 4 || p[5] != type)
        return 0;
    record = ((long)p[3] << 8) | p[4];
    end = 9 + (((long)p[6] << 16) | ((long)p[7] << 8) | p[8]);
    if (record > TLS_MAX_RECORD || end - 5 > record || end - 5 > TLS_MAX_HELLO || end > n)
        return 0;
    return end - 5;
}

/* tls.holds_server_hello: the bytes start like TLS and hold the whole ServerHello in their first record. */
static int holds_server_hello(const unsigned char *p, Py_ssize_t n) { return first_record_hello(p, n, 2) > 0; }

/* tls._vector: the end of the vector whose ``size``-byte length is at ``*off`` (within ``end``), its start
 * in ``*off``; -1 where it runs past ``end``. */
static long vector_end(const unsigned char *h, long *off, long end, int size)
{
    long start = *off + size, stop;

    if (start > end)
        return -1;
    stop = start + (size == 1 ? h[*off] : ((long)h[*off] << 8) | h[*off + 1]);
    *off = start;
    return stop > end ? -1 : stop;
}

/* tls._list_end: the end of the list whose two-byte length opens ``d[0:n]``; -1 where it runs past. */
static long list_end(const unsigned char *d, long n)
{
    long stop;

    if (n < 2)
        return -1;
    stop = 2 + (((long)d[0] << 8) | d[1]);
    return stop > n ? -1 : stop;
}

/* tls._server_name reads ``d[0:n]`` without raising: its entries, up to the first non-empty host_name. */
static int server_name_ok(const unsigned char *d, long n)
{
    long stop = list_end(d, n), off = 2, start;

    if (stop < 0)
        return 0;
    while (off < stop) {
        start = off + 3;
        if (start > stop)
            return 0;
        off = start + (((long)d[off + 1] << 8) | d[off + 2]);
        if (off > stop)
            return 0;
        if (d[start - 3] == 0 && off > start)
            return 1;
    }
    return 1;
}

/* tls._highest_version reads supported_versions ``d[0:n]`` without raising. */
static int versions_ok(const unsigned char *d, long n) { return n > 0 && 1 + (long)d[0] <= n && d[0] % 2 == 0; }

/* tls._alpns reads ``d[0:n]`` without raising and one of its protocols is a web one: 1; else 0. */
static int web_alpn(const unsigned char *d, long n)
{
    long stop = list_end(d, n), off = 2, start;
    size_t i;
    int web = 0;

    if (stop < 0)
        return 0;
    while (off < stop) {
        start = off + 1;
        off = start + d[off];
        if (off > stop)
            return 0;
        for (i = 0; i < sizeof web_alpns / sizeof web_alpns[0]; i++)
            if ((size_t)(off - start) == strlen(web_alpns[i]) && memcmp(d + start, web_alpns[i], off - start) == 0)
                web = 1;
    }
    return web;
}

/*
 * hellos.web_hello: the bytes hold in their first record a whole ClientHello that the back makes an event
 * of (``hellos.client_hello``: its fields walked by ``tls.hello_fields``, its legacy fields, SNI, versions
 * and ALPN read without error) and that offers a web protocol in ALPN.
 */
static int web_client_hello(const unsigned char *p, Py_ssize_t n)
{
    const unsigned char *h = p + 5, *found[3] = {NULL, NULL, NULL}; /* server_name, supported_versions, ALPN */
    long sizes[3] = {0, 0, 0}, end = first_record_hello(p, n, 1), off, stop, start, ciphers, type;
    int which;

    if (end < 39 || h[38] > 32) /* the fixed fields; check_legacy_fields: the session id's length */
        return 0;
    off = 39 + h[38];
    stop = vector_end(h, &off, end, 2); /* cipher_suites: not empty, of whole suites */
    ciphers = stop - off;
    if (stop < 0 || ciphers == 0 || ciphers % 2)
        return 0;
    off = stop;
    if ((off = vector_end(h, &off, end, 1)) < 0) /* legacy_compression_methods */
        return 0;
    if (off < end) {
        if ((stop = vector_end(h, &off, end, 2)) < 0)
            return 0;
        while (off < stop) { /* every extension walked; the first of a type kept */
            start = off + 4;
            if (start > stop)
                return 0;
            type = ((long)h[off] << 8) | h[off + 1];
            which = type == TLS_EXT_SERVER_NAME ? 0
                    : type == TLS_EXT_SUPPORTED_VERSIONS ? 1
                    : type == TLS_EXT_ALPN ? 2
                    : -1;
            off = start + (((long)h[off + 2] << 8) | h[off + 3]);
            if (off > stop)
                return 0;
            if (which >= 0 && found[which] == NULL) {
                found[which] = h + start;
                sizes[which] = off - start;
            }
        }
    }
    if (found[0] != NULL && !server_name_ok(found[0], sizes[0]))
        return 0;
    if (found[1] != NULL && !versions_ok(found[1], sizes[1]))
        return 0;
    return found[2] != NULL && web_alpn(found[2], sizes[2]);
}
