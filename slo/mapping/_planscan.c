/* The compiled scrape plan's per-scrape match, in C (slo.mapping.compiled, `_Plan.match` and the
 * number conversion of `_Plan.values`).
 *
 * Why C: a sidecar runs this once a second with cold CPU caches, and the Python version builds a
 * string per line, a slice per value and several tuples, touching far more memory than the body
 * itself. Here one pass over the body's UTF-8 bytes compares the fixed text and converts the
 * kept values; the only objects made are the result's floats.
 *
 * It decides nothing the Python plan would decide differently: it accepts a strict subset of what
 * `_Plan.match` + `float()` accept (a value must be 1-63 characters of [0-9A-Za-z+-.], which
 * also rules out everything `_Plan.values` rejects before converting), and on that subset its
 * numbers are float()'s, because float() ends in the same PyOS_string_to_double call. Anything
 * else answers None, and the caller takes the Python way, which is the reference.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

enum { FIXED = 0, KEPT = 1, SKIPPED = 2 };

typedef struct {
    PyObject_HEAD
    Py_ssize_t nlines;
    Py_ssize_t nkept;
    unsigned char *kinds;
    const char **texts;
    Py_ssize_t *lengths;
    PyObject *owned; /* tuple of the bytes objects `texts` point into */
} Matcher;

static unsigned char value_char[256];

static void
Matcher_dealloc(Matcher *self)
{
    PyMem_Free(self->kinds);
    PyMem_Free(self->texts);
    PyMem_Free(self->lengths);
    Py_XDECREF(self->owned);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
Matcher_init(Matcher *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"kinds", "texts", NULL};
    const char *kinds;
    Py_ssize_t nkinds;
    PyObject *texts;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y#O!:Matcher", keywords, &kinds, &nkinds, &PyTuple_Type, &texts)) {
        return -1;
    }
    if (self->owned != NULL || self->kinds != NULL) {
        PyErr_SetString(PyExc_TypeError, "Matcher is immutable (and __init__ runs once)");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(texts);
    if (n != nkinds || n == 0) {
        PyErr_SetString(PyExc_ValueError, "kinds and texts must have the same, non-zero length");
        return -1;
    }
    self->kinds = PyMem_Malloc((size_t)n);
    self->texts = PyMem_Malloc(sizeof(char *) * (size_t)n);
    self->lengths = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)n);
    if (self->kinds == NULL || self->texts == NULL || self->lengths == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->nkept = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *text = PyTuple_GET_ITEM(texts, i);
        if (!PyBytes_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "texts must be bytes");
            return -1;
        }
        if (kinds[i] != FIXED && kinds[i] != KEPT && kinds[i] != SKIPPED) {
            PyErr_Format(PyExc_ValueError, "line %zd: unknown kind %d", i, (int)kinds[i]);
            return -1;
        }
        if (memchr(PyBytes_AS_STRING(text), '\n', (size_t)PyBytes_GET_SIZE(text)) != NULL) {
            PyErr_Format(PyExc_ValueError, "line %zd: text holds a newline", i);
            return -1;
        }
        self->kinds[i] = (unsigned char)kinds[i];
        self->texts[i] = PyBytes_AS_STRING(text);
        self->lengths[i] = PyBytes_GET_SIZE(text);
        if (kinds[i] == KEPT) {
            self->nkept++;
        }
    }
    self->nlines = n;
    Py_INCREF(texts);
    self->owned = texts;
    return 0;
}

/* The value at [start, start + length) as float() reads it, or -1 when it is not plainly a number
 * float() would read the same way (the caller answers None). */
static int
convert(const char *start, Py_ssize_t length, double *out)
{
    char buffer[64];
    if (length <= 0 || length >= (Py_ssize_t)sizeof(buffer)) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < length; i++) {
        if (!value_char[(unsigned char)start[i]]) {
            return -1;
        }
    }
    memcpy(buffer, start, (size_t)length);
    buffer[length] = '\0';
    char *end = NULL;
    double value = PyOS_string_to_double(buffer, &end, NULL);
    if (value == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    if (end != buffer + length) {
        return -1;
    }
    *out = value;
    return 0;
}

static PyObject *
Matcher_numbers(Matcher *self, PyObject *text)
{
    if (self->owned == NULL) {
        PyErr_SetString(PyExc_TypeError, "Matcher was not initialised");
        return NULL;
    }
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "numbers() takes a str, not %.100s", Py_TYPE(text)->tp_name);
        return NULL;
    }
    Py_ssize_t size;
    const char *body = PyUnicode_AsUTF8AndSize(text, &size);
    if (body == NULL) { /* lone surrogates: not a body the plan was built from */
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *out = PyList_New(self->nkept);
    if (out == NULL) {
        return NULL;
    }
    const char *at = body;
    const char *stop = body + size;
    Py_ssize_t kept = 0;
    for (Py_ssize_t line = 0; line < self->nlines; line++) {
        const char *newline = memchr(at, '\n', (size_t)(stop - at));
        if ((line < self->nlines - 1) != (newline != NULL)) {
            goto mismatch; /* fewer or more lines than the plan's */
        }
        Py_ssize_t length = (newline != NULL ? newline : stop) - at;
        Py_ssize_t want = self->lengths[line];
        unsigned char kind = self->kinds[line];
        if (kind == FIXED ? length != want : length < want) {
            goto mismatch;
        }
        if (memcmp(at, self->texts[line], (size_t)want) != 0) {
            goto mismatch;
        }
        if (kind == KEPT) {
            double value;
            if (convert(at + want, length - want, &value) < 0) {
                goto mismatch;
            }
            PyObject *number = PyFloat_FromDouble(value);
            if (number == NULL) {
                Py_DECREF(out);
                return NULL;
            }
            PyList_SET_ITEM(out, kept, number);
            kept++;
        }
        at = newline != NULL ? newline + 1 : stop;
    }
    return out;
mismatch:
    Py_DECREF(out); /* unfilled slots are NULL, which list dealloc skips */
    Py_RETURN_NONE;
}

static PyMethodDef Matcher_methods[] = {
    {"numbers", (PyCFunction)Matcher_numbers, METH_O,
     "The kept values of `text` as floats, in line order, if `text` has exactly the plan's lines "
     "outside them and every value is plainly a number; else None."},
    {NULL, NULL, 0, NULL},
};

static PyObject *
Matcher_get_lines(Matcher *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->nlines);
}

static PyObject *
Matcher_get_kept(Matcher *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->nkept);
}

static PyGetSetDef Matcher_getset[] = {
    {"lines", (getter)Matcher_get_lines, NULL, "lines the body must have", NULL},
    {"kept", (getter)Matcher_get_kept, NULL, "values returned", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MatcherType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "slo.mapping._planscan.Matcher",
    .tp_doc = PyDoc_STR("Matcher(kinds, texts): per line of a body, its kind (0: the whole line is "
                        "texts[i]; 1: it starts with texts[i] and the rest is a value; 2: it starts "
                        "with texts[i]) and that text, as UTF-8 bytes."),
    .tp_basicsize = sizeof(Matcher),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Matcher_init,
    .tp_dealloc = (destructor)Matcher_dealloc,
    .tp_methods = Matcher_methods,
    .tp_getset = Matcher_getset,
};

static struct PyModuleDef planscan_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "slo.mapping._planscan",
    .m_doc = "The compiled scrape plan's per-scrape match in C; see slo.mapping.compiled.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__planscan(void)
{
    const char *allowed = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-.";
    for (const char *c = allowed; *c; c++) {
        value_char[(unsigned char)*c] = 1;
    }
    if (PyType_Ready(&MatcherType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&planscan_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&MatcherType);
    if (PyModule_AddObject(module, "Matcher", (PyObject *)&MatcherType) < 0) {
        Py_DECREF(&MatcherType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
