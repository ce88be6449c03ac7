/* Flow keys and per-batch flow grouping, in C.
 *
 * Twins of flow_keys (key.py) and the numpy grouping of table.py, which stay as the
 * fallback and the test oracle. Groups come out in order of each flow's first frame;
 * ``members`` lists every group's frames, in frame order, group after group.
 */
#include "../native/buffers.h"

#define TCP_SYN 0x02
#define TCP_ACK 0x10

static inline uint64_t
mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDULL;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ULL;
    return x ^ (x >> 33);
}

enum { I_IP, I_SRC, I_DST, I_SPORT, I_DPORT, I_PROTO, I_WIRELEN, I_FLAGS, I_TS, I_COUNT };
static const Py_ssize_t in_sizes[I_COUNT] = {1, 8, 8, 8, 8, 8, 8, 8, 8};
enum { F_KEY, F_LOW, F_GROUP, F_MEMBERS, F_COUNT };
static const Py_ssize_t frame_sizes[F_COUNT] = {8, 1, 8, 8};
enum {
    G_KEY, G_REP, G_COUNT, G_START, G_LOW_PKTS, G_LOW_BYTES, G_HIGH_BYTES, G_FIRST_TS,
    G_LAST_TS, G_LOW_FLAGS, G_HIGH_FLAGS, G_LOW_SYN, G_HIGH_SYN, G_LOW_SYNACK, G_N
};
static const Py_ssize_t group_sizes[G_N] = {8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 1, 1, 1};

PyDoc_STRVAR(group_doc,
"group(columns, frame_out, group_out, seed) -> number of groups\n\n"
"``columns``: (ip, src_key, dst_key, sport, dport, proto, wirelen, tcp_flags, ts).\n"
"``frame_out``: (key, src_low, group, members), per frame; ``group`` is -1 for\n"
"frames that are not IP. ``group_out``: (key, rep, count, start, low_pkts,\n"
"low_bytes, high_bytes, first_ts, last_ts, low_flags, high_flags, low_syn,\n"
"high_syn, low_synack), per group. Keys are computed for every frame, keyed by the\n"
"64-bit ``seed`` (the process's, see key.py) so that collisions cannot be precomputed.");

static PyObject *
group(PyObject *self, PyObject *args)
{
    PyObject *in, *fo, *go;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OOOK", &in, &fo, &go, &seed))
        return NULL;
    const uint64_t golden = 0x9E3779B97F4A7C15ULL ^ (uint64_t)seed;
    Py_buffer iv[I_COUNT], fv[F_COUNT], gv[G_N];
    if (borrow_all(in, iv, in_sizes, I_COUNT, -1, 0, "group columns") != 0)
        return NULL;
    Py_ssize_t n = iv[I_IP].len;
    for (int k = 1; k < I_COUNT; k++) {
        if (iv[k].len / 8 != n) {
            PyErr_SetString(PyExc_ValueError, "group: columns differ in length");
            release_all(iv, I_COUNT);
            return NULL;
        }
    }
    if (borrow_all(fo, fv, frame_sizes, F_COUNT, n, 1, "group frame_out") != 0) {
        release_all(iv, I_COUNT);
        return NULL;
    }
    if (borrow_all(go, gv, group_sizes, G_N, n, 1, "group group_out") != 0) {
        release_all(fv, F_COUNT);
        release_all(iv, I_COUNT);
        return NULL;
    }
    size_t cap = 16;
    while (cap < (size_t)n * 2)
        cap <<= 1;
    int32_t *slots = PyMem_Malloc(cap * sizeof(int32_t));
    if (slots == NULL) {
        release_all(gv, G_N);
        release_all(fv, F_COUNT);
        release_all(iv, I_COUNT);
        return PyErr_NoMemory();
    }
    memset(slots, 0xFF, cap * sizeof(int32_t));

    const unsigned char *ip = iv[I_IP].buf;
    const uint64_t *src = iv[I_SRC].buf, *dst = iv[I_DST].buf;
    const int64_t *sport = iv[I_SPORT].buf, *dport = iv[I_DPORT].buf, *proto = iv[I_PROTO].buf;
    const int64_t *wirelen = iv[I_WIRELEN].buf, *flags = iv[I_FLAGS].buf;
    const double *ts = iv[I_TS].buf;
    uint64_t *fkey = fv[F_KEY].buf;
    unsigned char *flow_low = fv[F_LOW].buf;
    int64_t *fgroup = fv[F_GROUP].buf, *members = fv[F_MEMBERS].buf;
    uint64_t *gkey = gv[G_KEY].buf;
    int64_t *rep = gv[G_REP].buf, *count = gv[G_COUNT].buf, *start = gv[G_START].buf;
    int64_t *low_pkts = gv[G_LOW_PKTS].buf, *low_bytes = gv[G_LOW_BYTES].buf;
    int64_t *high_bytes = gv[G_HIGH_BYTES].buf;
    double *first_ts = gv[G_FIRST_TS].buf, *last_ts = gv[G_LAST_TS].buf;
    int64_t *low_flags = gv[G_LOW_FLAGS].buf, *high_flags = gv[G_HIGH_FLAGS].buf;
    unsigned char *low_syn = gv[G_LOW_SYN].buf, *high_syn = gv[G_HIGH_SYN].buf;
    unsigned char *low_synack = gv[G_LOW_SYNACK].buf;
    Py_ssize_t groups = 0;

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t s = src[i], d = dst[i], sp = (uint64_t)sport[i], dp = (uint64_t)dport[i];
        int low = s < d || (s == d && sp <= dp);
        uint64_t lo = low ? s : d, hi = low ? d : s;
        uint64_t ports = low ? (sp << 16) | dp : (dp << 16) | sp;
        uint64_t key = mix(lo ^ mix(hi + golden));
        key = mix(key ^ (ports << 8) ^ (uint64_t)proto[i]);
        fkey[i] = key;
        flow_low[i] = (unsigned char)low;
        if (!ip[i]) {
            fgroup[i] = -1;
            continue;
        }
        size_t at = (size_t)key & (cap - 1);
        int32_t g;
        while ((g = slots[at]) >= 0 && gkey[g] != key)
            at = (at + 1) & (cap - 1);
        if (g < 0) {
            g = (int32_t)groups++;
            slots[at] = g;
            gkey[g] = key;
            rep[g] = i;
            count[g] = low_pkts[g] = low_bytes[g] = high_bytes[g] = 0;
            low_flags[g] = high_flags[g] = 0;
            low_syn[g] = high_syn[g] = low_synack[g] = 0;
            first_ts[g] = last_ts[g] = ts[i];
        }
        fgroup[i] = g;
        int64_t fl = flags[i];
        int syn_only = (fl & (TCP_SYN | TCP_ACK)) == TCP_SYN;
        count[g] += 1;
        if (low) {
            low_pkts[g] += 1;
            low_bytes[g] += wirelen[i];
            low_flags[g] |= fl;
            low_syn[g] |= syn_only;
            low_synack[g] |= (fl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
        } else {
            high_bytes[g] += wirelen[i];
            high_flags[g] |= fl;
            high_syn[g] |= syn_only;
        }
        if (ts[i] < first_ts[g])
            first_ts[g] = ts[i];
        if (ts[i] > last_ts[g])
            last_ts[g] = ts[i];
    }
    int64_t next = 0;
    for (Py_ssize_t g = 0; g < groups; g++) {
        start[g] = next;
        next += count[g];
    }
    /* members: a counting sort of the frames by group (start[] doubles as cursor) */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (fgroup[i] >= 0)
            members[start[fgroup[i]]++] = i;
    }
    for (Py_ssize_t g = 0; g < groups; g++)
        start[g] -= count[g];
    Py_END_ALLOW_THREADS

    PyMem_Free(slots);
    release_all(gv, G_N);
    release_all(fv, F_COUNT);
    release_all(iv, I_COUNT);
    return PyLong_FromSsize_t(groups);
}

static PyMethodDef methods[] = {
    {"group", group, METH_VARARGS, group_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_groups",
    .m_doc = "C speedup: flow keys and per-batch grouping (see key.flow_keys, table.group_batch).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__groups(void)
{
    return PyModule_Create(&module);
}
