/* Count one batch's groups into their FlowStates: the flow table's per-group loop, in C.
 *
 * Twin of account_groups_python (accounting.py), which stays as the fallback and the test
 * oracle. For each group row i: find the live flow of its key in `flows` (a dict of int
 * key -> FlowState), or ask `flow_for(key, i)` for one when there is none, it idled out
 * or a SYN may restart it; add the group's packets, bytes and flags on the flow's
 * originator/responder sides; move last_ts on; take the flow's head frames. The FlowState
 * attributes are read and written through Python's attribute protocol, as the twin does.
 */
#include "../native/buffers.h"

enum { KEYS, FIRST, LAST, LOW_SYN, HIGH_SYN, LOW_PKTS, HIGH_PKTS, LOW_BYTES, HIGH_BYTES,
       LOW_FLAGS, HIGH_FLAGS, STARTS, COUNTS, NCOLS };
static const Py_ssize_t ITEMSIZES[NCOLS] = {8, 8, 8, 1, 1, 8, 8, 8, 8, 8, 8, 8, 8};

static PyObject *s_last_ts, *s_settled, *s_orig_is_low, *s_head_seen, *s_orig_pkts,
    *s_orig_bytes, *s_resp_pkts, *s_resp_bytes, *s_orig_flags, *s_resp_flags;

/* flow.<name> as a C long long; -1 with an error set on failure. */
static int
get_ll(PyObject *flow, PyObject *name, long long *out)
{
    PyObject *v = PyObject_GetAttr(flow, name);
    if (v == NULL)
        return -1;
    *out = PyLong_AsLongLong(v);
    Py_DECREF(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int
set_ll(PyObject *flow, PyObject *name, long long value)
{
    PyObject *v = PyLong_FromLongLong(value);
    if (v == NULL)
        return -1;
    int rc = PyObject_SetAttr(flow, name, v);
    Py_DECREF(v);
    return rc;
}

/* flow.<name> += add (or |= when `or_`); nothing is written for a zero. */
static int
add_ll(PyObject *flow, PyObject *name, long long add, int or_)
{
    long long cur;
    if (add == 0)
        return 0;
    if (get_ll(flow, name, &cur) != 0)
        return -1;
    return set_ll(flow, name, or_ ? (cur | add) : (cur + add));
}

static int
get_double(PyObject *flow, PyObject *name, double *out)
{
    PyObject *v = PyObject_GetAttr(flow, name);
    if (v == NULL)
        return -1;
    *out = PyFloat_AsDouble(v);
    Py_DECREF(v);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static int
get_truth(PyObject *flow, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(flow, name);
    if (v == NULL)
        return -1;
    int t = PyObject_IsTrue(v);
    Py_DECREF(v);
    return t;
}

/* The counts of group i, on the flow's sides (orig_is_low: the low end is the originator). */
static int
count_group(PyObject *flow, Py_buffer *c, Py_ssize_t i, int orig_is_low)
{
    const int64_t *lp = c[LOW_PKTS].buf, *hp = c[HIGH_PKTS].buf, *lb = c[LOW_BYTES].buf,
                  *hb = c[HIGH_BYTES].buf, *lf = c[LOW_FLAGS].buf, *hf = c[HIGH_FLAGS].buf;
    long long op = orig_is_low ? lp[i] : hp[i], rp = orig_is_low ? hp[i] : lp[i];
    long long ob = orig_is_low ? lb[i] : hb[i], rb = orig_is_low ? hb[i] : lb[i];
    long long of = orig_is_low ? lf[i] : hf[i], rf = orig_is_low ? hf[i] : lf[i];
    if (add_ll(flow, s_orig_pkts, op, 0) || add_ll(flow, s_orig_bytes, ob, 0) ||
        add_ll(flow, s_resp_pkts, rp, 0) || add_ll(flow, s_resp_bytes, rb, 0) ||
        add_ll(flow, s_orig_flags, of, 1) || add_ll(flow, s_resp_flags, rf, 1))
        return -1;
    return 0;
}

/* The live flow for group i (a new reference), appended to `new` when flow_for made it. */
static PyObject *
flow_of_group(PyObject *flows, PyObject *flow_for, PyObject *new_list, Py_buffer *c,
              Py_ssize_t i, double idle)
{
    const uint64_t key = ((const uint64_t *)c[KEYS].buf)[i];
    PyObject *pykey = PyLong_FromUnsignedLongLong(key);
    if (pykey == NULL)
        return NULL;
    PyObject *flow = PyDict_GetItemWithError(flows, pykey); /* borrowed */
    if (flow == NULL && PyErr_Occurred())
        goto fail;
    int restart = flow == NULL || ((const uint8_t *)c[LOW_SYN].buf)[i] ||
                  ((const uint8_t *)c[HIGH_SYN].buf)[i];
    if (!restart) {
        double last;
        if (get_double(flow, s_last_ts, &last) != 0)
            goto fail;
        restart = ((const double *)c[FIRST].buf)[i] - last > idle;
    }
    if (!restart) {
        Py_DECREF(pykey);
        Py_INCREF(flow);
        return flow;
    }
    PyObject *got = PyObject_CallFunction(flow_for, "On", pykey, i);
    Py_DECREF(pykey);
    if (got == NULL)
        return NULL;
    if (!PyTuple_Check(got) || PyTuple_GET_SIZE(got) != 2) {
        PyErr_SetString(PyExc_TypeError, "flow_for must return (flow, is_new)");
        Py_DECREF(got);
        return NULL;
    }
    flow = PyTuple_GET_ITEM(got, 0);
    int is_new = PyObject_IsTrue(PyTuple_GET_ITEM(got, 1));
    if (is_new < 0 || (is_new && PyList_Append(new_list, flow) != 0)) {
        Py_DECREF(got);
        return NULL;
    }
    Py_INCREF(flow);
    Py_DECREF(got);
    return flow;
fail:
    Py_DECREF(pykey);
    return NULL;
}

/* Account group i into its flow; appends to group_flow[i], pending and the head spans. */
static int
account_one(PyObject *flow, Py_buffer *c, Py_ssize_t i, PyObject *pending, long long limit,
            PyObject *starts_out, PyObject *takes_out)
{
    int settled = get_truth(flow, s_settled);
    if (settled < 0 || (!settled && PyList_Append(pending, flow) != 0))
        return -1;
    int orig_is_low = get_truth(flow, s_orig_is_low);
    if (orig_is_low < 0 || count_group(flow, c, i, orig_is_low) != 0)
        return -1;
    double last = ((const double *)c[LAST].buf)[i], flow_last;
    if (get_double(flow, s_last_ts, &flow_last) != 0)
        return -1;
    if (last > flow_last) {
        PyObject *v = PyFloat_FromDouble(last);
        if (v == NULL || PyObject_SetAttr(flow, s_last_ts, v) != 0) {
            Py_XDECREF(v);
            return -1;
        }
        Py_DECREF(v);
    }
    long long seen;
    if (get_ll(flow, s_head_seen, &seen) != 0)
        return -1;
    if (seen < limit) {
        long long count = ((const int64_t *)c[COUNTS].buf)[i];
        long long take = limit - seen < count ? limit - seen : count;
        PyObject *start = PyLong_FromLongLong(((const int64_t *)c[STARTS].buf)[i]);
        PyObject *taken = PyLong_FromLongLong(take);
        int rc = (start == NULL || taken == NULL || PyList_Append(starts_out, start) != 0 ||
                  PyList_Append(takes_out, taken) != 0);
        Py_XDECREF(start);
        Py_XDECREF(taken);
        if (rc || set_ll(flow, s_head_seen, seen + take) != 0)
            return -1;
    }
    return 0;
}

PyDoc_STRVAR(account_doc,
"account(rows, columns, flows, flow_for, group_flow, new, pending, limit, idle,\n"
"        head_starts, head_takes)\n\n"
"Count the groups `rows` (int64) of a batch into their flows; see accounting.py.");

static PyObject *
account(PyObject *self, PyObject *args)
{
    PyObject *rows_obj, *cols, *flows, *flow_for, *group_flow, *new_list, *pending;
    PyObject *starts_out, *takes_out;
    long long limit;
    double idle;
    if (!PyArg_ParseTuple(args, "OOO!OO!O!O!LdO!O!", &rows_obj, &cols, &PyDict_Type, &flows,
                          &flow_for, &PyList_Type, &group_flow, &PyList_Type, &new_list,
                          &PyList_Type, &pending, &limit, &idle, &PyList_Type, &starts_out,
                          &PyList_Type, &takes_out))
        return NULL;
    Py_ssize_t groups = PyList_GET_SIZE(group_flow);
    Py_buffer rows, c[NCOLS];
    if (borrow(rows_obj, &rows, 8, -1, 0, "account rows") != 0)
        return NULL;
    if (borrow_all(cols, c, ITEMSIZES, NCOLS, groups, 0, "account columns") != 0) {
        PyBuffer_Release(&rows);
        return NULL;
    }
    const int64_t *row = rows.buf;
    Py_ssize_t n = rows.len / 8;
    int failed = 0;
    for (Py_ssize_t r = 0; r < n && !failed; r++) {
        Py_ssize_t i = (Py_ssize_t)row[r];
        if (i < 0 || i >= groups) {
            PyErr_Format(PyExc_ValueError, "account: row %zd outside %zd groups", i, groups);
            failed = 1;
            break;
        }
        PyObject *flow = flow_of_group(flows, flow_for, new_list, c, i, idle);
        if (flow == NULL) {
            failed = 1;
            break;
        }
        Py_INCREF(flow); /* PyList_SetItem steals it (and drops it if the list shrank) */
        failed = PyList_SetItem(group_flow, i, flow) != 0 ||
                 account_one(flow, c, i, pending, limit, starts_out, takes_out) != 0;
        Py_DECREF(flow);
    }
    release_all(c, NCOLS);
    PyBuffer_Release(&rows);
    if (failed)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"account", account, METH_VARARGS, account_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_account",
    .m_doc = "C speedup: the flow table's per-group accounting (see accounting.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__account(void)
{
    struct { PyObject **slot; const char *name; } names[] = {
        {&s_last_ts, "last_ts"}, {&s_settled, "settled"}, {&s_orig_is_low, "orig_is_low"},
        {&s_head_seen, "head_seen"}, {&s_orig_pkts, "orig_pkts"},
        {&s_orig_bytes, "orig_bytes"}, {&s_resp_pkts, "resp_pkts"},
        {&s_resp_bytes, "resp_bytes"}, {&s_orig_flags, "orig_flags"},
        {&s_resp_flags, "resp_flags"},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        *names[k].slot = PyUnicode_InternFromString(names[k].name);
        if (*names[k].slot == NULL)
            return NULL;
    }
    return PyModule_Create(&module);
}
