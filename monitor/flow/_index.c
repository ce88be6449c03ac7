/* The light flows' index from flow key to slot: an open-addressing hash table, in C.
 *
 * Twin of SortedKeyIndex (key_index.py), which stays as the fallback and the test
 * oracle. The table is two arrays the Python side owns and sizes (a power of two, never
 * more than half full, removed entries included): keys (uint64) and slots (int64; -1
 * an empty cell, -2 a removed entry). Linear probing from a multiplicative hash of the
 * key; flow keys are already keyed by the run's secret seed, the hash spreads them.
 */
#include "../native/buffers.h"

#define EMPTY (-1)
#define GONE (-2)

static inline size_t
home(uint64_t key, size_t mask)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 29) & mask;
}

/* Borrow the table (keys, slots) and check its size is a power of two. */
static int
borrow_table(PyObject *tkeys, PyObject *tslots, Py_buffer *kv, Py_buffer *sv, size_t *mask)
{
    if (borrow(tkeys, kv, 8, -1, 1, "table keys") != 0)
        return -1;
    Py_ssize_t cells = kv->len / 8;
    if (borrow(tslots, sv, 8, cells, 1, "table slots") != 0) {
        PyBuffer_Release(kv);
        return -1;
    }
    if (cells < 2 || (cells & (cells - 1)) != 0 || sv->len / 8 != cells) {
        PyErr_SetString(PyExc_ValueError, "the table needs a power-of-two number of cells");
        PyBuffer_Release(sv);
        PyBuffer_Release(kv);
        return -1;
    }
    *mask = (size_t)cells - 1;
    return 0;
}

/* One call's arrays: the table, the keys and, for lookup and insert, an int64 per key. */
typedef struct {
    Py_buffer tkeys, tslots, keys, per_key;
    int has_per_key;
    size_t mask;
    Py_ssize_t n;
} Call;

/* Borrow a call's arguments (table keys, table slots, keys[, per_key]): `per_key` names
 * the fourth array, NULL when the call has none. On failure nothing stays borrowed. */
static int
borrow_call(PyObject *args, Call *c, const char *per_key, int writable)
{
    PyObject *tk, *ts, *k, *p = NULL;
    if (!PyArg_ParseTuple(args, per_key ? "OOOO" : "OOO", &tk, &ts, &k, &p))
        return -1;
    if (borrow_table(tk, ts, &c->tkeys, &c->tslots, &c->mask) != 0)
        return -1;
    if (borrow(k, &c->keys, 8, -1, 0, "keys") != 0)
        goto fail_table;
    c->n = c->keys.len / 8;
    c->has_per_key = per_key != NULL;
    if (per_key && borrow(p, &c->per_key, 8, c->n, writable, per_key) != 0) {
        PyBuffer_Release(&c->keys);
        goto fail_table;
    }
    return 0;
fail_table:
    PyBuffer_Release(&c->tslots);
    PyBuffer_Release(&c->tkeys);
    return -1;
}

static void
release_call(Call *c)
{
    if (c->has_per_key)
        PyBuffer_Release(&c->per_key);
    PyBuffer_Release(&c->keys);
    PyBuffer_Release(&c->tslots);
    PyBuffer_Release(&c->tkeys);
}

/* The cell that holds `key`, SIZE_MAX for none (bounded: a table with no empty cell
 * is probed once round, never forever). */
static inline size_t
find(const uint64_t *tkeys, const int64_t *tslots, size_t mask, uint64_t key)
{
    size_t at = home(key, mask);
    for (size_t probes = 0; probes <= mask; probes++) {
        int64_t c = tslots[at];
        if (c == EMPTY)
            break;
        if (c != GONE && tkeys[at] == key)
            return at;
        at = (at + 1) & mask;
    }
    return SIZE_MAX;
}

PyDoc_STRVAR(lookup_doc,
"lookup(table_keys, table_slots, keys, out) -> None\n\n"
"``out[i]``: the slot of ``keys[i]``, -1 where the table has none.");

static PyObject *
lookup(PyObject *self, PyObject *args)
{
    Call c;
    if (borrow_call(args, &c, "out", 1) != 0)
        return NULL;
    const uint64_t *tkeys = c.tkeys.buf, *keys = c.keys.buf;
    const int64_t *tslots = c.tslots.buf;
    int64_t *out = c.per_key.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < c.n; i++) {
        size_t at = find(tkeys, tslots, c.mask, keys[i]);
        out[i] = at == SIZE_MAX ? EMPTY : tslots[at];
    }
    Py_END_ALLOW_THREADS
    release_call(&c);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(insert_doc,
"insert(table_keys, table_slots, keys, slots) -> (added, filled)\n\n"
"Map ``keys[i]`` to ``slots[i]`` (a key already there gets the new slot). ``added``:\n"
"keys that were not there; ``filled``: empty cells taken (the rest reused removed\n"
"entries). The caller keeps the table at most half full.");

static PyObject *
insert(PyObject *self, PyObject *args)
{
    Call c;
    if (borrow_call(args, &c, "slots", 0) != 0)
        return NULL;
    uint64_t *tkeys = c.tkeys.buf;
    int64_t *tslots = c.tslots.buf;
    const uint64_t *keys = c.keys.buf;
    const int64_t *slots = c.per_key.buf;
    size_t mask = c.mask;
    Py_ssize_t added = 0, filled = 0, full = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < c.n; i++) {
        uint64_t key = keys[i];
        /* find()'s probe, also noting the first removed entry on the way (reused) */
        size_t at = home(key, mask), reuse = SIZE_MAX, probes = 0;
        for (;; probes++) {
            if (probes > mask) {  /* no empty cell and the key is not there */
                at = SIZE_MAX;
                break;
            }
            int64_t cell = tslots[at];
            if (cell == EMPTY)
                break;
            if (cell == GONE) {
                if (reuse == SIZE_MAX)
                    reuse = at;
            } else if (tkeys[at] == key) {
                break;
            }
            at = (at + 1) & mask;
        }
        if (at == SIZE_MAX && reuse == SIZE_MAX) {
            full = 1;
            break;
        }
        if (at != SIZE_MAX && tslots[at] >= 0) {  /* there already: a new slot for it */
            tslots[at] = slots[i];
            continue;
        }
        added++;
        if (reuse != SIZE_MAX) {
            at = reuse;
        } else {
            filled++;
        }
        tkeys[at] = key;
        tslots[at] = slots[i];
    }
    Py_END_ALLOW_THREADS
    release_call(&c);
    if (full) {
        PyErr_SetString(PyExc_RuntimeError, "the index table is full");
        return NULL;
    }
    return Py_BuildValue("nn", added, filled);
}

PyDoc_STRVAR(remove_doc,
"remove(table_keys, table_slots, keys) -> removed\n\n"
"Forget ``keys`` (a key the table does not hold is passed over); how many it held.");

static PyObject *
remove_keys(PyObject *self, PyObject *args)
{
    Call c;
    if (borrow_call(args, &c, NULL, 0) != 0)
        return NULL;
    const uint64_t *tkeys = c.tkeys.buf, *keys = c.keys.buf;
    int64_t *tslots = c.tslots.buf;
    Py_ssize_t removed = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < c.n; i++) {
        size_t at = find(tkeys, tslots, c.mask, keys[i]);
        if (at != SIZE_MAX) {
            tslots[at] = GONE;
            removed++;
        }
    }
    Py_END_ALLOW_THREADS
    release_call(&c);
    return PyLong_FromSsize_t(removed);
}

static PyMethodDef methods[] = {
    {"lookup", lookup, METH_VARARGS, lookup_doc},
    {"insert", insert, METH_VARARGS, insert_doc},
    {"remove", remove_keys, METH_VARARGS, remove_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_index",
    .m_doc = "C speedup: the key-to-slot hash index of light flows and labels (see key_index.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__index(void)
{
    return PyModule_Create(&module);
}
