/* Find the records of a capture stream in a buffer: the one per-packet loop of
 * reading, in C.
 *
 * scan_pcap mirrors PcapStreamReader._scan/_build in pcapfile.py (its fallback and
 * test oracle): same stops, same fields, same floating-point timestamps.
 * scan_pcapng walks the runs of Enhanced and Simple Packet Blocks of a pcapng section,
 * as PcapngStreamReader._scan/_next_block/_block in pcapng.py do; it stops at every
 * other block and at anything doubtful, which the Python code then handles.
 */
#include "../native/buffers.h"

#define RECORD_HEADER_LEN 16
enum { LENGTHS_NORMAL = 0, LENGTHS_SWAPPED = 1, LENGTHS_MAYBE_SWAPPED = 2 };

static inline uint32_t
u32_at(const unsigned char *p, int big_endian)
{
    if (big_endian)
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

PyDoc_STRVAR(scan_pcap_doc,
"scan_pcap(buf, pos, batch_size, limit, mode, big_endian, nano, out) -> (n, pos, need, bad)\n\n"
"Walk complete records of ``buf`` from ``pos``, at most ``batch_size``. ``out`` is a\n"
"tuple of arrays (offset int64, caplen int64, wirelen int64, ts float64) filled for\n"
"the ``n`` records found. ``pos`` is where reading stopped; ``need`` how many bytes\n"
"the record there needs; ``bad`` its claimed length when it is damage (over\n"
"``limit``), else -1.");

static PyObject *
scan_pcap(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    Py_ssize_t pos, batch_size;
    long long limit;
    int mode, big_endian, nano;
    PyObject *out;
    if (!PyArg_ParseTuple(args, "y*nnLippO", &buf, &pos, &batch_size, &limit, &mode,
                          &big_endian, &nano, &out))
        return NULL;
    if (pos < 0 || pos > buf.len || batch_size < 0) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "scan_pcap: pos or batch_size out of range");
        return NULL;
    }
    Py_buffer views[4];
    static const Py_ssize_t sizes[4] = {8, 8, 8, 8};
    if (borrow_all(out, views, sizes, 4, batch_size, 1, "scan_pcap out") != 0) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    int64_t *offset = views[0].buf, *caplen = views[1].buf, *wirelen = views[2].buf;
    double *ts = views[3].buf;
    const unsigned char *data = buf.buf;
    Py_ssize_t end = buf.len, p = pos, n = 0, need = RECORD_HEADER_LEN;
    long long bad = -1;
    double scale = nano ? 1e-9 : 1e-6;
    int len_at = mode == LENGTHS_SWAPPED ? 12 : 8;

    Py_BEGIN_ALLOW_THREADS
    while (n < batch_size) {
        if (end - p < RECORD_HEADER_LEN) {
            need = RECORD_HEADER_LEN;
            break;
        }
        const unsigned char *h = data + p;
        uint32_t first = u32_at(h + 8, big_endian), second = u32_at(h + 12, big_endian);
        uint32_t incl;
        if (mode == LENGTHS_MAYBE_SWAPPED)
            incl = first < second ? first : second;
        else
            incl = len_at == 12 ? second : first;
        if ((long long)incl > limit) {
            bad = incl;
            break;
        }
        if (end - p < RECORD_HEADER_LEN + (Py_ssize_t)incl) {
            need = RECORD_HEADER_LEN + (Py_ssize_t)incl;
            break;
        }
        uint32_t wire;
        if (mode == LENGTHS_NORMAL)
            wire = second;
        else if (mode == LENGTHS_SWAPPED)
            wire = first;
        else
            wire = first > second ? first : second;
        offset[n] = p + RECORD_HEADER_LEN;
        caplen[n] = incl;
        wirelen[n] = wire;
        ts[n] = (double)u32_at(h, big_endian) + (double)u32_at(h + 4, big_endian) * scale;
        n++;
        p += RECORD_HEADER_LEN + (Py_ssize_t)incl;
    }
    Py_END_ALLOW_THREADS

    release_all(views, 4);
    PyBuffer_Release(&buf);
    return Py_BuildValue("nnnL", n, p, need, bad);
}

#define BT_SPB 3
#define BT_EPB 6
#define MAX_BLOCK_LEN (16u * 1024 * 1024 + 4096) /* pcapng.MAX_BLOCK_LEN */

PyDoc_STRVAR(scan_pcapng_doc,
"scan_pcapng(buf, pos, start, batch_size, kind, linktype, big_endian, linktypes,\n"
"            snaplen, out) -> (n, pos, kind, linktype)\n\n"
"Walk consecutive Enhanced (type 6) and Simple (type 3) Packet Blocks of ``buf`` from\n"
"``pos``, filling rows ``start`` on of ``out``, a tuple of arrays (offset int64, caplen\n"
"int64, wirelen int64, iface int64, ticks uint64; a Simple Packet Block has iface 0 and\n"
"ticks 0), until row ``batch_size``. Blocks join a run of one ``kind`` (block type, 0\n"
"before the first) and one ``linktype``: ``linktypes`` is an int64 array with each\n"
"interface's link type, ``snaplen`` interface 0's snapshot length. Stops before any\n"
"other block, a block that is cut, damaged or unusable, or one that would switch kind\n"
"or link type: ``pos`` is there; ``n`` rows were filled.");

static PyObject *
scan_pcapng(PyObject *self, PyObject *args)
{
    Py_buffer buf, lt_view;
    Py_ssize_t pos, start, batch_size;
    int kind, big_endian;
    long long linktype, snaplen;
    PyObject *linktypes, *out;
    if (!PyArg_ParseTuple(args, "y*nnniLpOLO", &buf, &pos, &start, &batch_size, &kind,
                          &linktype, &big_endian, &linktypes, &snaplen, &out))
        return NULL;
    if (pos < 0 || pos > buf.len || start < 0 || start > batch_size) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "scan_pcapng: pos or start out of range");
        return NULL;
    }
    if (borrow(linktypes, &lt_view, 8, -1, 0, "scan_pcapng linktypes") != 0) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    Py_buffer views[5];
    static const Py_ssize_t sizes[5] = {8, 8, 8, 8, 8};
    if (borrow_all(out, views, sizes, 5, batch_size, 1, "scan_pcapng out") != 0) {
        PyBuffer_Release(&lt_view);
        PyBuffer_Release(&buf);
        return NULL;
    }
    int64_t *offset = views[0].buf, *caplen = views[1].buf, *wirelen = views[2].buf;
    int64_t *iface_out = views[3].buf;
    uint64_t *ticks = views[4].buf;
    const int64_t *lts = lt_view.buf;
    uint32_t n_ifaces = (uint32_t)(lt_view.len / 8);
    const unsigned char *data = buf.buf;
    Py_ssize_t end = buf.len, p = pos, row = start;

    Py_BEGIN_ALLOW_THREADS
    while (row < batch_size && end - p >= 12) {
        const unsigned char *h = data + p;
        uint32_t btype = u32_at(h, big_endian), blen = u32_at(h + 4, big_endian);
        uint32_t min_len = btype == BT_EPB ? 32 : 16;
        if ((btype != BT_EPB && btype != BT_SPB) || blen < min_len || (blen & 3)
            || blen > MAX_BLOCK_LEN || end - p < (Py_ssize_t)blen)
            break;
        uint32_t iface = 0, cap, wire;
        uint64_t tick = 0;
        Py_ssize_t data_at;
        if (btype == BT_EPB) {
            iface = u32_at(h + 8, big_endian);
            cap = u32_at(h + 20, big_endian);
            if (iface >= n_ifaces || (uint64_t)cap + 32 > blen)
                break; /* skipped, with its error, by the Python code */
            tick = ((uint64_t)u32_at(h + 12, big_endian) << 32) | u32_at(h + 16, big_endian);
            wire = u32_at(h + 24, big_endian);
            data_at = 28;
        } else {
            if (n_ifaces == 0)
                break;
            wire = u32_at(h + 8, big_endian);
            /* min(wirelen, blen - 16, snaplen or wirelen) */
            uint64_t c = wire;
            if (blen - 16 < c)
                c = blen - 16;
            if (snaplen > 0 && (uint64_t)snaplen < c)
                c = (uint64_t)snaplen;
            cap = (uint32_t)c;
            data_at = 12;
        }
        if (kind == 0) {
            kind = (int)btype;
            linktype = lts[iface];
        } else if (kind != (int)btype || lts[iface] != linktype) {
            break;
        }
        offset[row] = p + data_at;
        caplen[row] = cap;
        wirelen[row] = wire;
        iface_out[row] = iface;
        ticks[row] = tick;
        row++;
        p += blen;
    }
    Py_END_ALLOW_THREADS

    release_all(views, 5);
    PyBuffer_Release(&lt_view);
    PyBuffer_Release(&buf);
    return Py_BuildValue("nniL", row - start, p, kind, linktype);
}

static PyMethodDef methods[] = {
    {"scan_pcap", scan_pcap, METH_VARARGS, scan_pcap_doc},
    {"scan_pcapng", scan_pcapng, METH_VARARGS, scan_pcapng_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_records",
    .m_doc = "C speedup: walk pcap records and pcapng packet blocks (see pcapfile, pcapng).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__records(void)
{
    return PyModule_Create(&module);
}
