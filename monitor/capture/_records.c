/* Find the records of a classic pcap stream in a buffer: the one per-packet loop of
 * reading, in C. Mirrors PcapStreamReader._scan/_build in pcapfile.py (its fallback
 * and test oracle): same stops, same fields, same floating-point timestamps.
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

static PyMethodDef methods[] = {
    {"scan_pcap", scan_pcap, METH_VARARGS, scan_pcap_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_records",
    .m_doc = "C speedup: walk classic pcap records (see pcapfile.PcapStreamReader).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__records(void)
{
    return PyModule_Create(&module);
}
