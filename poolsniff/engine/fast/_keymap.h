/*
 * KeyMap: the flow table's ``fast`` map in C, for the prefilter's walk (pipeline stage: prefilter).
 *
 * source -> **prefilter** (its map of known flow directions) -> decode -> flows/dissectors -> ...
 *
 * ``FlowTable.fast`` maps the raw bytes of a direction's addresses and ports to its entry. The walk
 * looks up every TCP packet there; with a dict it has to make a bytes object of the packet's key
 * first (an allocation, a copy and a free per packet) and the dict compares keys through their
 * type. A KeyMap is looked up with the key where it sits in the frame: ``keymap_find`` hashes the
 * bytes in place and compares them with ``memcmp``. From Python it is a mapping of bytes to any
 * object (``m[k]``, ``m[k] = v``, ``del m[k]``, ``k in m``, ``len``, ``get``, ``pop``, and iteration,
 * ``keys``, ``values`` and ``items`` over what it holds when asked); a plain dict stays accepted by the
 * walk and stays the pure-Python path's map (``dissect.flow.new_fast_map``).
 *
 * The hash is CPython's own hash of the bytes (SipHash, keyed per process), so a key made by Python
 * keeps the hash it cached, and a capture cannot choose keys that collide any more than it can in a
 * dict. Open addressing with linear probing, deleted slots marked and dropped at the next resize
 * (the table is at most two-thirds filled, counting them). Included by ``_walk.c`` only.
 */

#if PY_VERSION_HEX >= 0x030E0000
#define KEYMAP_HASH(p, n) Py_HashBuffer((p), (n))
#else
#define KEYMAP_HASH(p, n) _Py_HashBytes((p), (n))
#endif

typedef struct {
    Py_hash_t hash;
    PyObject *key; /* NULL: never used; KEYMAP_GONE: deleted */
    PyObject *value;
} keymap_slot;

typedef struct {
    PyObject_HEAD
    Py_ssize_t used;   /* live keys */
    Py_ssize_t filled; /* live and deleted slots */
    size_t mask;       /* slots - 1, slots a power of two */
    keymap_slot *slots;
} KeyMap;

static char keymap_gone_mark; /* only its address is used: never a reference */
#define KEYMAP_GONE ((PyObject *)&keymap_gone_mark)
#define KEYMAP_MIN 8

static PyTypeObject KeyMapType;

/* The slot holding the key ``k[0:n]`` of hash ``h``, or NULL. */
static inline keymap_slot *keymap_lookup(const KeyMap *m, const void *k, Py_ssize_t n, Py_hash_t h)
{
    size_t i = (size_t)h & m->mask;

    for (;;) {
        keymap_slot *s = &m->slots[i];

        if (s->key == NULL)
            return NULL;
        if (s->hash == h && s->key != KEYMAP_GONE && PyBytes_GET_SIZE(s->key) == n &&
            memcmp(PyBytes_AS_STRING(s->key), k, (size_t)n) == 0)
            return s;
        i = (i + 1) & m->mask;
    }
}

/* The entry of the key ``k[0:n]`` (borrowed), or NULL: the walk's lookup, no object made. */
static inline PyObject *keymap_find(const KeyMap *m, const unsigned char *k, Py_ssize_t n)
{
    keymap_slot *s = m->slots == NULL ? NULL : keymap_lookup(m, k, n, KEYMAP_HASH(k, n));

    return s == NULL ? NULL : s->value;
}

/* ``key``'s hash if it is bytes; -1 with TypeError set (``quiet``: without) if it is not. */
static Py_hash_t keymap_key_hash(PyObject *key, int quiet)
{
    if (!PyBytes_CheckExact(key)) {
        if (!quiet)
            PyErr_Format(PyExc_TypeError, "KeyMap keys are bytes, not %.100s", Py_TYPE(key)->tp_name);
        return -1;
    }
    return PyObject_Hash(key); /* cached in the object; equal to KEYMAP_HASH of its bytes */
}

static keymap_slot *keymap_slot_of(const KeyMap *m, PyObject *key, Py_hash_t h)
{
    return keymap_lookup(m, PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key), h);
}

/* Put every live slot of ``m`` into a new array of ``size`` slots (a power of two); -1 on no memory. */
static int keymap_resize(KeyMap *m, size_t size)
{
    keymap_slot *old = m->slots, *slots = PyMem_Calloc(size, sizeof(keymap_slot));
    size_t i, count = m->mask + 1;

    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; old != NULL && i < count; i++) {
        if (old[i].key != NULL && old[i].key != KEYMAP_GONE) {
            size_t j = (size_t)old[i].hash & (size - 1);

            while (slots[j].key != NULL)
                j = (j + 1) & (size - 1);
            slots[j] = old[i];
        }
    }
    PyMem_Free(old);
    m->slots = slots;
    m->mask = size - 1;
    m->filled = m->used;
    return 0;
}

/* Set ``key`` (bytes, hash ``h``) to ``value``; -1 on error. */
static int keymap_set(KeyMap *m, PyObject *key, Py_hash_t h, PyObject *value)
{
    keymap_slot *s = keymap_slot_of(m, key, h);
    size_t i;

    if (s != NULL) {
        PyObject *was = s->value;

        Py_INCREF(value);
        s->value = value;
        Py_DECREF(was);
        return 0;
    }
    if ((size_t)(m->filled + 1) * 3 >= (m->mask + 1) * 2) {
        size_t size = KEYMAP_MIN;

        while (size < (size_t)(m->used + 1) * 3) /* at most a third full after the move */
            size <<= 1;
        if (keymap_resize(m, size) < 0)
            return -1;
    }
    i = (size_t)h & m->mask;
    while (m->slots[i].key != NULL && m->slots[i].key != KEYMAP_GONE)
        i = (i + 1) & m->mask;
    if (m->slots[i].key == NULL)
        m->filled++;
    Py_INCREF(key);
    Py_INCREF(value);
    m->slots[i].hash = h;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->used++;
    return 0;
}

/* Take ``s`` out of ``m``; returns its value (a new reference). */
static PyObject *keymap_take(KeyMap *m, keymap_slot *s)
{
    PyObject *value = s->value;

    Py_DECREF(s->key);
    s->key = KEYMAP_GONE;
    s->value = NULL;
    m->used--;
    return value;
}

static void keymap_empty(KeyMap *m)
{
    keymap_slot *slots = m->slots;
    size_t i, count = m->mask + 1;

    m->slots = NULL;
    m->mask = 0;
    m->used = m->filled = 0;
    for (i = 0; slots != NULL && i < count; i++) {
        if (slots[i].key != NULL && slots[i].key != KEYMAP_GONE) {
            Py_DECREF(slots[i].key);
            Py_DECREF(slots[i].value);
        }
    }
    PyMem_Free(slots);
}

/* ``KeyMap([mapping])``: empty, or holding a copy of a dict of bytes keys. */
static PyObject *keymap_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *from = NULL, *key, *value;
    Py_ssize_t pos = 0;
    KeyMap *m;

    if (!PyArg_ParseTuple(args, "|O!:KeyMap", &PyDict_Type, &from) || (kwargs != NULL && PyDict_GET_SIZE(kwargs))) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "KeyMap takes no keyword arguments");
        return NULL;
    }
    m = (KeyMap *)type->tp_alloc(type, 0);
    if (m == NULL)
        return NULL;
    if (keymap_resize(m, KEYMAP_MIN) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    while (from != NULL && PyDict_Next(from, &pos, &key, &value)) {
        Py_hash_t h = keymap_key_hash(key, 0);

        if (h == -1 || keymap_set(m, key, h, value) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    }
    return (PyObject *)m;
}

static int keymap_traverse(KeyMap *m, visitproc visit, void *arg)
{
    size_t i, count = m->mask + 1;

    for (i = 0; m->slots != NULL && i < count; i++)
        if (m->slots[i].key != NULL && m->slots[i].key != KEYMAP_GONE)
            Py_VISIT(m->slots[i].value);
    return 0;
}

static int keymap_clear(KeyMap *m)
{
    keymap_empty(m);
    return 0;
}

static void keymap_dealloc(KeyMap *m)
{
    PyObject_GC_UnTrack(m);
    keymap_empty(m);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static Py_ssize_t keymap_length(KeyMap *m) { return m->used; }

static PyObject *keymap_subscript(KeyMap *m, PyObject *key)
{
    Py_hash_t h = keymap_key_hash(key, 0);
    keymap_slot *s;

    if (h == -1)
        return NULL;
    s = m->slots == NULL ? NULL : keymap_slot_of(m, key, h);
    if (s == NULL) {
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    Py_INCREF(s->value);
    return s->value;
}

static int keymap_ass_subscript(KeyMap *m, PyObject *key, PyObject *value)
{
    Py_hash_t h = keymap_key_hash(key, 0);
    keymap_slot *s;

    if (h == -1)
        return -1;
    if (m->slots == NULL && keymap_resize(m, KEYMAP_MIN) < 0) /* emptied by the collector */
        return -1;
    if (value != NULL)
        return keymap_set(m, key, h, value);
    s = keymap_slot_of(m, key, h);
    if (s == NULL) {
        PyErr_SetObject(PyExc_KeyError, key);
        return -1;
    }
    Py_DECREF(keymap_take(m, s));
    return 0;
}

static int keymap_contains(KeyMap *m, PyObject *key)
{
    Py_hash_t h = keymap_key_hash(key, 1);

    if (h == -1)
        return PyErr_Occurred() ? -1 : 0;
    return m->slots != NULL && keymap_slot_of(m, key, h) != NULL;
}

/* ``get(key, default=None)`` and ``pop(key[, default])``: ``take`` says which. */
static PyObject *keymap_get_or_pop(KeyMap *m, PyObject *const *args, Py_ssize_t nargs, int take)
{
    PyObject *fallback = nargs > 1 ? args[1] : (take ? NULL : Py_None);
    Py_hash_t h;
    keymap_slot *s;

    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "%s expected 1 or 2 arguments, got %zd", take ? "pop" : "get", nargs);
        return NULL;
    }
    h = keymap_key_hash(args[0], 1); /* a key that is not bytes is in no map */
    if (h == -1 && PyErr_Occurred())
        return NULL;
    s = h == -1 || m->slots == NULL ? NULL : keymap_slot_of(m, args[0], h);
    if (s != NULL) {
        if (take)
            return keymap_take(m, s);
        Py_INCREF(s->value);
        return s->value;
    }
    if (fallback == NULL) {
        PyErr_SetObject(PyExc_KeyError, args[0]);
        return NULL;
    }
    Py_INCREF(fallback);
    return fallback;
}

static PyObject *keymap_get(KeyMap *m, PyObject *const *args, Py_ssize_t nargs)
{
    return keymap_get_or_pop(m, args, nargs, 0);
}

static PyObject *keymap_pop(KeyMap *m, PyObject *const *args, Py_ssize_t nargs)
{
    return keymap_get_or_pop(m, args, nargs, 1);
}

/* A list of the keys (``what`` 0), the values (1) or the (key, value) pairs (2) as they are now. */
static PyObject *keymap_list(KeyMap *m, int what)
{
    PyObject *out = PyList_New(0);
    size_t i, count = m->mask + 1;

    for (i = 0; out != NULL && m->slots != NULL && i < count; i++) {
        keymap_slot *s = &m->slots[i];
        PyObject *item;
        int rc;

        if (s->key == NULL || s->key == KEYMAP_GONE)
            continue;
        item = what == 2 ? PyTuple_Pack(2, s->key, s->value) : Py_NewRef(what ? s->value : s->key);
        rc = item == NULL ? -1 : PyList_Append(out, item);
        Py_XDECREF(item);
        if (rc < 0)
            Py_CLEAR(out);
    }
    return out;
}

static PyObject *keymap_keys(KeyMap *m, PyObject *unused)
{
    (void)unused;
    return keymap_list(m, 0);
}

static PyObject *keymap_values(KeyMap *m, PyObject *unused)
{
    (void)unused;
    return keymap_list(m, 1);
}

static PyObject *keymap_items(KeyMap *m, PyObject *unused)
{
    (void)unused;
    return keymap_list(m, 2);
}

/* ``iter(m)``: over the keys as they are now. */
static PyObject *keymap_iter(KeyMap *m)
{
    PyObject *keys = keymap_list(m, 0), *it;

    if (keys == NULL)
        return NULL;
    it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return it;
}

static PyMappingMethods keymap_as_mapping = {
    (lenfunc)keymap_length, (binaryfunc)keymap_subscript, (objobjargproc)keymap_ass_subscript};

static PySequenceMethods keymap_as_sequence = {.sq_contains = (objobjproc)keymap_contains};

static PyMethodDef keymap_methods[] = {
    {"get", (PyCFunction)(void (*)(void))keymap_get, METH_FASTCALL,
     "get(key, default=None): the entry of key, or default."},
    {"pop", (PyCFunction)(void (*)(void))keymap_pop, METH_FASTCALL,
     "pop(key[, default]): take the entry of key out; default (or KeyError) if there is none."},
    {"keys", (PyCFunction)keymap_keys, METH_NOARGS, "keys(): a list of the keys as they are now."},
    {"values", (PyCFunction)keymap_values, METH_NOARGS, "values(): a list of the entries as they are now."},
    {"items", (PyCFunction)keymap_items, METH_NOARGS, "items(): a list of (key, entry) pairs as they are now."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject KeyMapType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "poolsniff.engine.fast._walk.KeyMap",
    .tp_basicsize = sizeof(KeyMap),
    .tp_dealloc = (destructor)keymap_dealloc,
    .tp_as_sequence = &keymap_as_sequence,
    .tp_as_mapping = &keymap_as_mapping,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "KeyMap([dict]): the flow table's map of raw direction keys (bytes) to entries, "
              "looked up by the walk without making a key object.",
    .tp_traverse = (traverseproc)keymap_traverse,
    .tp_clear = (inquiry)keymap_clear,
    .tp_iter = (getiterfunc)keymap_iter,
    .tp_methods = keymap_methods,
    .tp_new = keymap_new,
};
