/*
 * poolsniff.dissect._httphead: an HTTP/1.x head parsed in C (pipeline stage: flows/dissectors).
 *
 * source -> decode -> flows / **dissectors** -> detectors -> enrichment -> sinks
 *
 * ``parse_head(buf)`` does exactly what ``poolsniff.dissect.http.parse_head`` does in Python (which
 * stays the reference, and the fallback where this module is not built): it returns an ``HttpHead``
 * (the class given to ``setup``), ``NEED_MORE`` (the marker given to ``setup``) or None, with the
 * same start-line rules as the Python's regular expressions, the same line splitting (CRLF or bare
 * LF), the same white space (``str.strip`` and the regular expressions' ``\s`` over Latin-1 text)
 * and the same header dictionary (names in lower case, the last value kept, obsolete folding).
 * Both halves of a split scan read every HTTP head of the traffic (the front to skip bodies, the
 * back to dissect them); a getwork miner sends and receives one per poll.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_HEAD_BYTES 16384

static PyTypeObject *head_type; /* poolsniff.dissect.http.HttpHead, a NamedTuple of 8 fields */
static PyObject *need_more;     /* poolsniff.dissect.interface.NEED_MORE */
static PyObject *empty;         /* "" */
static const char *PREFIXES[] = {"GET ", "POST ", "PUT ", "HEAD ", "OPTIONS ", "DELETE ", "PATCH ", "CONNECT ",
                                 "HTTP/1."};

/* str.isspace() of a Latin-1 character (what str.strip() strips and the regular expressions' \s). */
static int is_space(unsigned char c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0;
}

/* A character of an HTTP token (RFC 9110 tchar): the Python's [!#$%&'*+.^_`|~0-9A-Za-z-]. */
static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+.^_`|~-", c) != NULL);
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* "HTTP/<digit>.<digit>" at p, exactly n bytes. */
static int is_version(const unsigned char *p, Py_ssize_t n)
{
    return n == 8 && memcmp(p, "HTTP/", 5) == 0 && is_digit(p[5]) && p[6] == '.' && is_digit(p[7]);
}

static PyObject *latin1(const unsigned char *p, Py_ssize_t n)
{
    return PyUnicode_DecodeLatin1((const char *)p, n, NULL);
}

static int could_become_http(const unsigned char *buf, Py_ssize_t n)
{
    for (size_t i = 0; i < sizeof PREFIXES / sizeof *PREFIXES; i++) {
        Py_ssize_t m = (Py_ssize_t)strlen(PREFIXES[i]), k = n < m ? n : m;
        if (memcmp(buf, PREFIXES[i], (size_t)k) == 0)
            return 1;
    }
    return 0;
}

/* The six start-line items (new references, NULL where one could not be made) into head: 1, or -1
 * if one is missing (the head then holds the others, and its release frees them). */
static int filled(PyObject *head, PyObject *items[6])
{
    int ok = 1;
    for (int k = 0; k < 6; k++) {
        PyTuple_SET_ITEM(head, k, items[k]);
        ok &= items[k] != NULL;
    }
    return ok ? 1 : -1;
}

/* The start line (without its LF, trailing CRs stripped) into head items 0-5; 0 if it is neither a
 * request line nor a status line, -1 on error. */
static int start_line(const unsigned char *p, Py_ssize_t n, PyObject *head)
{
    const unsigned char *sp, *rest;
    Py_ssize_t i, m, j;
    while (n > 0 && p[n - 1] == '\r')
        n--;
    /* request: TOKEN SP \S+ SP HTTP/d.d */
    sp = n > 0 ? memchr(p, ' ', (size_t)n) : NULL;
    if (sp != NULL && sp > p) {
        m = sp - p;
        for (i = 0; i < m && is_tchar(p[i]); i++)
            ;
        if (i == m) {
            rest = sp + 1;
            j = n - m - 1;
            for (i = 0; i < j && !is_space(rest[i]); i++)
                ;
            if (i > 0 && i < j && rest[i] == ' ' && is_version(rest + i + 1, j - i - 1)) {
                PyObject *items[6] = {Py_True, latin1(rest + i + 1, 8), latin1(p, m), latin1(rest, i),
                                      PyLong_FromLong(0), empty};
                Py_INCREF(Py_True), Py_INCREF(empty);
                return filled(head, items);
            }
        }
    }
    /* status: HTTP/d.d SP ddd [SP reason] */
    if (n >= 12 && is_version(p, 8) && p[8] == ' ' && is_digit(p[9]) && is_digit(p[10]) && is_digit(p[11]) &&
        (n == 12 || p[12] == ' ')) {
        long code = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        PyObject *reason = n > 12 ? latin1(p + 13, n - 13) : (Py_INCREF(empty), empty);
        PyObject *items[6] = {Py_False, latin1(p, 8), empty, empty, PyLong_FromLong(code), reason};
        Py_INCREF(Py_False), Py_INCREF(empty), Py_INCREF(empty);
        return filled(head, items);
    }
    return 0;
}

/* Where the empty line that ends the head starts (*blank) and ends (*end); 0 if not in the first
 * MAX_HEAD_BYTES: http.head_end. */
static int head_end(const unsigned char *buf, Py_ssize_t n, Py_ssize_t *blank, Py_ssize_t *end)
{
    Py_ssize_t limit = n < MAX_HEAD_BYTES ? n : MAX_HEAD_BYTES, i, nl = -1;
    for (i = 0; i + 1 < limit; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n') {
            nl = i, *end = i + 2;
            break;
        }
        if (buf[i + 1] == '\r' && i + 2 < limit && buf[i + 2] == '\n') {
            nl = i, *end = i + 3;
            break;
        }
    }
    if (nl < 0)
        return 0;
    *blank = nl && buf[nl - 1] == '\r' ? nl - 1 : nl;
    return 1;
}

/* str.strip() of p[:n] as a new str. */
static PyObject *stripped(const unsigned char *p, Py_ssize_t n)
{
    while (n > 0 && is_space(p[0]))
        p++, n--;
    while (n > 0 && is_space(p[n - 1]))
        n--;
    return latin1(p, n);
}

/* One header line into headers; *last is the lower-case name of the last header set (borrowed from
 * headers' keys by a reference of its own), or NULL. */
static int header(const unsigned char *p, Py_ssize_t n, PyObject *headers, PyObject **last)
{
    const unsigned char *colon;
    Py_ssize_t m, i;
    if (n > 0 && (p[0] == ' ' || p[0] == '\t') && *last != NULL) { /* obsolete line folding */
        PyObject *before = PyDict_GetItemWithError(headers, *last), *more, *joined, *value;
        if (before == NULL)
            return PyErr_Occurred() ? -1 : 0;
        more = stripped(p, n);
        if (more == NULL)
            return -1;
        joined = PyUnicode_FromFormat("%U %U", before, more);
        Py_DECREF(more);
        if (joined == NULL)
            return -1;
        {
            Py_ssize_t len = PyUnicode_GET_LENGTH(joined), a = 0, b = len;
            int kind = PyUnicode_KIND(joined);
            const void *data = PyUnicode_DATA(joined);
            while (a < b && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, a)))
                a++;
            while (b > a && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, b - 1)))
                b--;
            value = PyUnicode_Substring(joined, a, b);
            Py_DECREF(joined);
        }
        if (value == NULL)
            return -1;
        i = PyDict_SetItem(headers, *last, value);
        Py_DECREF(value);
        return (int)i;
    }
    colon = memchr(p, ':', (size_t)n);
    m = colon != NULL ? colon - p : 0;
    for (i = 0; i < m && is_tchar(p[i]); i++)
        ;
    Py_CLEAR(*last);
    if (colon == NULL || m == 0 || i < m)
        return 0;
    {
        char lower[256], *name = m <= (Py_ssize_t)sizeof lower ? lower : PyMem_Malloc((size_t)m);
        PyObject *key, *value;
        if (name == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (i = 0; i < m; i++)
            name[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
        key = PyUnicode_DecodeASCII(name, m, NULL);
        if (name != lower)
            PyMem_Free(name);
        if (key == NULL)
            return -1;
        value = stripped(colon + 1, n - m - 1);
        if (value == NULL || PyDict_SetItem(headers, key, value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(key);
            return -1;
        }
        Py_DECREF(value);
        *last = key;
    }
    return 0;
}

static PyObject *httphead_parse_head(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    const unsigned char *buf, *nl, *line;
    Py_ssize_t n, first, blank, end, pos;
    PyObject *head = NULL, *headers = NULL, *last = NULL, *result = NULL;
    int got;
    (void)self;
    if (head_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_httphead.setup() was not called");
        return NULL;
    }
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    buf = view.buf, n = view.len;
    nl = memchr(buf, '\n', (size_t)(n < MAX_HEAD_BYTES ? n : MAX_HEAD_BYTES));
    if (nl == NULL) {
        result = n < MAX_HEAD_BYTES && could_become_http(buf, n) ? need_more : Py_None;
        Py_INCREF(result);
        goto done;
    }
    first = nl - buf;
    head = head_type->tp_alloc(head_type, 8);
    if (head == NULL)
        goto done;
    got = start_line(buf, first, head);
    if (got <= 0) {
        if (got == 0)
            result = Py_None, Py_INCREF(result);
        goto done;
    }
    if (!head_end(buf, n, &blank, &end)) {
        result = n < MAX_HEAD_BYTES ? need_more : Py_None;
        Py_INCREF(result);
        goto done;
    }
    headers = PyDict_New();
    if (headers == NULL)
        goto done;
    /* the lines of buf[:blank] after the first, split at LF, a CR before each LF dropped */
    for (pos = first + 1; pos <= blank && first < blank;) {
        const unsigned char *stop = memchr(buf + pos, '\n', (size_t)(blank - pos));
        Py_ssize_t len = stop != NULL ? stop - (buf + pos) : blank - pos;
        line = buf + pos;
        if (stop != NULL && len > 0 && line[len - 1] == '\r')
            len--;
        if (header(line, len, headers, &last) < 0)
            goto done;
        if (stop == NULL)
            break;
        pos = (stop - buf) + 1;
    }
    {
        PyObject *length = PyLong_FromSsize_t(end);
        if (length == NULL)
            goto done;
        PyTuple_SET_ITEM(head, 6, headers);
        PyTuple_SET_ITEM(head, 7, length);
        headers = NULL;
        result = head, head = NULL;
    }
done:
    Py_XDECREF(last);
    Py_XDECREF(headers);
    Py_XDECREF(head);
    PyBuffer_Release(&view);
    return result;
}

static PyObject *httphead_setup(PyObject *self, PyObject *args)
{
    PyObject *type, *marker;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!O", &PyType_Type, &type, &marker))
        return NULL;
    if (!PyType_IsSubtype((PyTypeObject *)type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "setup: the head type must be a tuple (a NamedTuple)");
        return NULL;
    }
    Py_INCREF(type), Py_INCREF(marker);
    Py_XSETREF(head_type, (PyTypeObject *)type);
    Py_XSETREF(need_more, marker);
    Py_RETURN_NONE;
}

static PyMethodDef httphead_methods[] = {
    {"parse_head", httphead_parse_head, METH_O,
     "parse_head(buf) -> HttpHead, NEED_MORE or None: poolsniff.dissect.http.parse_head (the reference)."},
    {"setup", httphead_setup, METH_VARARGS,
     "setup(HttpHead, NEED_MORE): the head class (a NamedTuple of 8 fields) and the marker to return."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef httphead_module = {
    PyModuleDef_HEAD_INIT, "poolsniff.dissect._httphead",
    "An HTTP/1.x head parsed in C (see poolsniff.dissect.http.parse_head, its reference).", -1, httphead_methods,
};

PyMODINIT_FUNC PyInit__httphead(void)
{
    empty = PyUnicode_FromString("");
    if (empty == NULL)
        return NULL;
    return PyModule_Create(&httphead_module);
}
