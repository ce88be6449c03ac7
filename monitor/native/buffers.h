/* Shared helpers of the C speedups: borrow numpy arrays through the buffer protocol.
 *
 * Each speedup mirrors a numpy implementation kept beside it (the fallback and the
 * test oracle); they take already-allocated, C-contiguous arrays and fill them, so no
 * numpy headers are needed to build.
 */
#ifndef CCTV_BUFFERS_H
#define CCTV_BUFFERS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Borrow `obj` as a C-contiguous array of `count` items of `itemsize` bytes.
 * Returns 0 on success; on failure sets a Python error naming `what`. */
static int
borrow(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, Py_ssize_t count,
       int writable, const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) != 0)
        return -1;
    /* count * itemsize must not overflow: a huge count would pass the length check. */
    if (view->itemsize != itemsize || itemsize <= 0 ||
        (count >= 0 && count > view->len / itemsize)) {
        PyErr_Format(PyExc_ValueError,
                     "%s: need %zd items of %zd bytes, got %zd bytes of itemsize %zd",
                     what, count, itemsize, view->len, view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* Borrow every item of a tuple of arrays; `specs` gives each one's itemsize.
 * On failure every view already taken is released. */
static int
borrow_all(PyObject *tuple, Py_buffer *views, const Py_ssize_t *itemsizes,
           Py_ssize_t nviews, Py_ssize_t count, int writable, const char *what)
{
    if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) != nviews) {
        PyErr_Format(PyExc_TypeError, "%s: need a tuple of %zd arrays", what, nviews);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nviews; i++) {
        if (borrow(PyTuple_GET_ITEM(tuple, i), &views[i], itemsizes[i], count, writable,
                   what) != 0) {
            while (i-- > 0)
                PyBuffer_Release(&views[i]);
            return -1;
        }
    }
    return 0;
}

static void
release_all(Py_buffer *views, Py_ssize_t nviews)
{
    for (Py_ssize_t i = 0; i < nviews; i++)
        PyBuffer_Release(&views[i]);
}

#endif
