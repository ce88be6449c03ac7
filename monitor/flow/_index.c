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

PyDoc_STRVAR(lookup_doc,
"lookup(table_keys, table_slots, keys, out) -> None\n\n"
"``out[i]``: the slot of ``keys[i]``, -1 where the table has none.");

static PyObject *
lookup(PyObject *self, PyObject *args)
{
    PyObject *tk, *ts, *k, *o;
    if (!PyArg_ParseTuple(args, "OOOO", &tk, &ts, &k, &o))
        return NULL;
    Py_buffer kv, sv, keys_v, out_v;
    size_t mask;
    if (borrow_table(tk, ts, &kv, &sv, &mask) != 0)
        return NULL;
    if (borrow(k, &keys_v, 8, -1, 0, "keys") != 0)
        goto fail_table;
    Py_ssize_t n = keys_v.len / 8;
    if (borrow(o, &out_v, 8, n, 1, "out") != 0) {
        PyBuffer_Release(&keys_v);
        goto fail_table;
    }
    const uint64_t *tkeys = kv.buf, *keys = keys_v.buf;
    const int64_t *tslots = sv.buf;
    int64_t *out = out_v.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t key = keys[i];
        size_t at = home(key, mask);
        int64_t found = EMPTY;
        for (size_t probes = 0; probes <= mask; probes++) {  /* bounded: never spins */
            int64_t s = tslots[at];
            if (s == EMPTY)
                break;
            if (s != GONE && tkeys[at] == key) {
                found = s;
                break;
            }
            at = (at + 1) & mask;
        }
        out[i] = found;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out_v);
    PyBuffer_Release(&keys_v);
    PyBuffer_Release(&sv);
    PyBuffer_Release(&kv);
    Py_RETURN_NONE;
fail_table:
    PyBuffer_Release(&sv);
    PyBuffer_Release(&kv);
    return NULL;
}

PyDoc_STRVAR(insert_doc,
"insert(table_keys, table_slots, keys, slots) -> (added, filled)\n\n"
"Map ``keys[i]`` to ``slots[i]`` (a key already there gets the new slot). ``added``:\n"
"keys that were not there; ``filled``: empty cells taken (the rest reused removed\n"
"entries). The caller keeps the table at most half full.");

static PyObject *
insert(PyObject *self, PyObject *args)
{
    PyObject *tk, *ts, *k, *s;
    if (!PyArg_ParseTuple(args, "OOOO", &tk, &ts, &k, &s))
        return NULL;
    Py_buffer kv, sv, keys_v, slots_v;
    size_t mask;
    if (borrow_table(tk, ts, &kv, &sv, &mask) != 0)
        return NULL;
    if (borrow(k, &keys_v, 8, -1, 0, "keys") != 0)
        goto fail_table;
    Py_ssize_t n = keys_v.len / 8;
    if (borrow(s, &slots_v, 8, n, 0, "slots") != 0) {
        PyBuffer_Release(&keys_v);
        goto fail_table;
    }
    uint64_t *tkeys = kv.buf;
    int64_t *tslots = sv.buf;
    const uint64_t *keys = keys_v.buf;
    const int64_t *slots = slots_v.buf;
    Py_ssize_t added = 0, filled = 0, full = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t key = keys[i];
        size_t at = home(key, mask), reuse = SIZE_MAX, probes = 0;
        for (;; probes++) {
            if (probes > mask) {  /* no empty cell and the key is not there */
                at = SIZE_MAX;
                break;
            }
            int64_t c = tslots[at];
            if (c == EMPTY)
                break;
            if (c == GONE) {
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
    PyBuffer_Release(&slots_v);
    PyBuffer_Release(&keys_v);
    PyBuffer_Release(&sv);
    PyBuffer_Release(&kv);
    if (full) {
        PyErr_SetString(PyExc_RuntimeError, "the index table is full");
        return NULL;
    }
    return Py_BuildValue("nn", added, filled);
fail_table:
    PyBuffer_Release(&sv);
    PyBuffer_Release(&kv);
    return NULL;
}

PyDoc_STRVAR(remove_doc,
"remove(table_keys, table_slots, keys) -> removed\n\n"
"Forget ``keys`` (a key the table does not hold is passed over); how many it held.");

static PyObject *
remove_keys(PyObject *self, PyObject *args)
{
    PyObject *tk, *ts, *k;
    if (!PyArg_ParseTuple(args, "OOO", &tk, &ts, &k))
        return NULL;
    Py_buffer kv, sv, keys_v;
    size_t mask;
    if (borrow_table(tk, ts, &kv, &sv, &mask) != 0)
        return NULL;
    if (borrow(k, &keys_v, 8, -1, 0, "keys") != 0) {
        PyBuffer_Release(&sv);
        PyBuffer_Release(&kv);
        return NULL;
    }
    const uint64_t *tkeys = kv.buf, *keys = keys_v.buf;
    int64_t *tslots = sv.buf;
    Py_ssize_t n = keys_v.len / 8, removed = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t key = keys[i];
        size_t at = home(key, mask);
        for (size_t probes = 0; probes <= mask; probes++) {
            int64_t c = tslots[at];
            if (c == EMPTY)
                break;
            if (c != GONE && tkeys[at] == key) {
                tslots[at] = GONE;
                removed++;
                break;
            }
            at = (at + 1) & mask;
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&keys_v);
    PyBuffer_Release(&sv);
    PyBuffer_Release(&kv);
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
    .m_doc = "C speedup: the light flows' key-to-slot hash index (see key_index.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__index(void)
{
    return PyModule_Create(&module);
}
