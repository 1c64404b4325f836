/* The collector's span hot path in C: vLLM `llm_request` spans read straight from their protobuf
 * encoding (collector.traces), and span observations aggregated into histogram buckets
 * (collector.store).
 *
 * Why C: per span, the Python path cost about ten times the protobuf decode itself (building a
 * dozen attribute values and an SLI dict, then a bisect, a Counter entry and an addition per SLI).
 *
 * It decides nothing the Python path (`collector.spans.observe_span`, `Store._flush_python`)
 * would decide differently. `Reader.read_many` reads a span only when its encoding is plain: each
 * singular field at most once, every attribute a well-formed KeyValue whose AnyValue holds at
 * most one field, each SLI attribute (either spelling) at most once, every SLI value a finite
 * non-negative number (an integer where tokens are counted), and the name `llm_request`.
 * Anything else (another span name, a value observe_span would reject, a repeated field whose
 * merge rules matter) is handed back as the span's bytes for the Python path, which stays the
 * reference. On what it reads, it builds exactly what observe_span builds: the same types (int
 * stays int), the same dict insertion order, TPOT by the same Python arithmetic.
 *
 * The bytes were already accepted by the full protobuf decode (collector.receiver), so malformed
 * input never reaches here; the walker still bounds-checks every length and bails out.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#define MAX_GROUPS 64

typedef struct {
    const char *key;
    Py_ssize_t key_len;
    PyObject *sli_keys; /* tuple of str */
    int whole;
    int group;
} Attribute;

typedef struct {
    const char *key;
    Py_ssize_t key_len;
    int is_model;
    int is_tenant;
} Label;

typedef struct {
    PyObject_HEAD
    Py_ssize_t nattrs;
    Attribute *attrs;
    Py_ssize_t nlabels;
    Label *labels;
    Py_ssize_t nvalues;        /* SLI keys a span can give, TPOT included: the dict's presize */
    PyObject *tpot;            /* tuple of (sli key, numerator key, count key) */
    PyObject *default_model;   /* str */
    PyObject *default_tenant;  /* str */
    PyObject *observation;     /* the RequestObservation class (a tuple subclass) */
    PyObject *owned;           /* the config tuples the key pointers point into */
} Reader;

/* -- protobuf wire format ---------------------------------------------------------------------- */

/* 0 and the value, or -1 past the end / over 10 bytes. */
static int
varint(const unsigned char **at, const unsigned char *end, uint64_t *out)
{
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*at >= end) {
            return -1;
        }
        unsigned char byte = *(*at)++;
        result |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) {
            *out = result;
            return 0;
        }
    }
    return -1;
}

/* Skip one field's payload by its wire type; -1 when it does not fit or is a group. */
static int
skip(const unsigned char **at, const unsigned char *end, int wire)
{
    uint64_t n;
    switch (wire) {
    case 0:
        return varint(at, end, &n);
    case 1:
        if (end - *at < 8) {
            return -1;
        }
        *at += 8;
        return 0;
    case 2:
        if (varint(at, end, &n) < 0 || n > (uint64_t)(end - *at)) {
            return -1;
        }
        *at += n;
        return 0;
    case 5:
        if (end - *at < 4) {
            return -1;
        }
        *at += 4;
        return 0;
    default:
        return -1;
    }
}

/* A length-delimited payload: [*start, *start + *len). */
static int
delimited(const unsigned char **at, const unsigned char *end, const unsigned char **start, Py_ssize_t *len)
{
    uint64_t n;
    if (varint(at, end, &n) < 0 || n > (uint64_t)(end - *at)) {
        return -1;
    }
    *start = *at;
    *len = (Py_ssize_t)n;
    *at += n;
    return 0;
}

static double
read_double(const unsigned char *p)
{
    uint64_t bits = 0;
    for (int i = 7; i >= 0; i--) {
        bits = (bits << 8) | p[i];
    }
    double value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* An AnyValue with at most one field. kind: 0 unset, 1 string, 3 int, 4 double, -1 anything else
 * (another kind, or several fields: protobuf's merge rules would matter). */
typedef struct {
    int kind;
    const unsigned char *text;
    Py_ssize_t text_len;
    int64_t integer;
    double number;
} Any;

static int
any_value(const unsigned char *at, const unsigned char *end, Any *out)
{
    out->kind = 0;
    if (at == end) {
        return 0;
    }
    uint64_t tag, raw;
    if (varint(&at, end, &tag) < 0) {
        return -1;
    }
    int number = (int)(tag >> 3), wire = (int)(tag & 7);
    if (number == 1 && wire == 2) {
        if (delimited(&at, end, &out->text, &out->text_len) < 0) {
            return -1;
        }
        out->kind = 1;
    }
    else if (number == 3 && wire == 0) {
        if (varint(&at, end, &raw) < 0) {
            return -1;
        }
        out->integer = (int64_t)raw;
        out->kind = 3;
    }
    else if (number == 4 && wire == 1) {
        if (end - at < 8) {
            return -1;
        }
        out->number = read_double(at);
        at += 8;
        out->kind = 4;
    }
    else {
        out->kind = -1;
        return 0;
    }
    if (at != end) {
        out->kind = -1; /* a second field */
    }
    return 0;
}

/* -- Reader ------------------------------------------------------------------------------------- */

static void
Reader_dealloc(Reader *self)
{
    PyMem_Free(self->attrs);
    PyMem_Free(self->labels);
    Py_XDECREF(self->tpot);
    Py_XDECREF(self->default_model);
    Py_XDECREF(self->default_tenant);
    Py_XDECREF(self->observation);
    Py_XDECREF(self->owned);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
Reader_init(Reader *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"attributes", "labels", "tpot", "default_model", "default_tenant", "observation", NULL};
    PyObject *attrs, *labels, *tpot, *model, *tenant, *observation;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!UUO!:Reader", keywords, &PyTuple_Type, &attrs,
                                     &PyTuple_Type, &labels, &PyTuple_Type, &tpot, &model, &tenant,
                                     &PyType_Type, &observation)) {
        return -1;
    }
    if (self->owned != NULL) {
        PyErr_SetString(PyExc_TypeError, "Reader is immutable");
        return -1;
    }
    if (!PyType_IsSubtype((PyTypeObject *)observation, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "observation must be a tuple subclass");
        return -1;
    }
    Py_ssize_t na = PyTuple_GET_SIZE(attrs), nl = PyTuple_GET_SIZE(labels);
    self->attrs = PyMem_Calloc((size_t)na + 1, sizeof(Attribute));
    self->labels = PyMem_Calloc((size_t)nl + 1, sizeof(Label));
    if (self->attrs == NULL || self->labels == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < na; i++) {
        PyObject *item = PyTuple_GET_ITEM(attrs, i);
        PyObject *key, *keys;
        int whole, group;
        if (!PyArg_ParseTuple(item, "SO!pi:attribute", &key, &PyTuple_Type, &keys, &whole, &group)) {
            return -1;
        }
        if (group < 0 || group >= MAX_GROUPS) {
            PyErr_Format(PyExc_ValueError, "attribute group %d outside 0..%d", group, MAX_GROUPS - 1);
            return -1;
        }
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keys); k++) {
            if (!PyUnicode_Check(PyTuple_GET_ITEM(keys, k))) {
                PyErr_SetString(PyExc_TypeError, "SLI keys must be str");
                return -1;
            }
        }
        self->attrs[i] = (Attribute){PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key), keys, whole, group};
    }
    for (Py_ssize_t i = 0; i < nl; i++) {
        PyObject *key;
        int is_model, is_tenant;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(labels, i), "Spp:label", &key, &is_model, &is_tenant)) {
            return -1;
        }
        self->labels[i] = (Label){PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key), is_model, is_tenant};
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tpot); i++) {
        PyObject *t = PyTuple_GET_ITEM(tpot, i);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 3) {
            PyErr_SetString(PyExc_TypeError, "tpot entries must be (sli key, numerator key, count key)");
            return -1;
        }
    }
    self->nattrs = na;
    self->nlabels = nl;
    self->nvalues = PyTuple_GET_SIZE(tpot);
    for (Py_ssize_t i = 0; i < na; i++) {
        self->nvalues += PyTuple_GET_SIZE(self->attrs[i].sli_keys);
    }
    Py_INCREF(tpot);
    self->tpot = tpot;
    Py_INCREF(model);
    self->default_model = model;
    Py_INCREF(tenant);
    self->default_tenant = tenant;
    Py_INCREF(observation);
    self->observation = observation;
    self->owned = PyTuple_Pack(2, attrs, labels);
    return self->owned == NULL ? -1 : 0;
}

/* Status of reading one span: a new RequestObservation, or NULL with `*bail` set (hand the span to
 * the Python path), or NULL without it (a Python error). */
static PyObject *
read_span(Reader *self, const unsigned char *at, const unsigned char *end, PyObject *resource_model,
          PyObject *resource_tenant, int *bail)
{
    const unsigned char *trace = NULL, *span = NULL, *name = NULL;
    Py_ssize_t trace_len = 0, span_len = 0, name_len = 0;
    uint64_t end_ns = 0;
    int seen_trace = 0, seen_span = 0, seen_name = 0, seen_end = 0;
    uint64_t groups = 0;
    const unsigned char *model = NULL, *tenant = NULL;
    Py_ssize_t model_len = 0, tenant_len = 0;
    PyObject *values = _PyDict_NewPresized(self->nvalues);
    if (values == NULL) {
        return NULL;
    }
    *bail = 1;
    while (at < end) {
        uint64_t tag;
        if (varint(&at, end, &tag) < 0) {
            goto out;
        }
        int number = (int)(tag >> 3), wire = (int)(tag & 7);
        if (number == 1 || number == 2 || number == 5) {
            const unsigned char *start;
            Py_ssize_t len;
            if (wire != 2 || delimited(&at, end, &start, &len) < 0) {
                goto out;
            }
            int *seen = number == 1 ? &seen_trace : number == 2 ? &seen_span : &seen_name;
            if ((*seen)++) {
                goto out; /* a singular field twice: the last one wins in protobuf; Python decides */
            }
            if (number == 1) {
                trace = start, trace_len = len;
            }
            else if (number == 2) {
                span = start, span_len = len;
            }
            else {
                name = start, name_len = len;
            }
        }
        else if (number == 8) {
            if (wire != 1 || end - at < 8 || seen_end++) {
                goto out;
            }
            for (int i = 7; i >= 0; i--) {
                end_ns = (end_ns << 8) | at[i];
            }
            at += 8;
        }
        else if (number == 9) {
            const unsigned char *kv, *kv_end;
            Py_ssize_t kv_len;
            if (wire != 2 || delimited(&at, end, &kv, &kv_len) < 0) {
                goto out;
            }
            kv_end = kv + kv_len;
            const unsigned char *key = NULL, *value = NULL;
            Py_ssize_t key_len = 0, value_len = 0;
            int seen_key = 0, seen_value = 0;
            while (kv < kv_end) {
                uint64_t kv_tag;
                if (varint(&kv, kv_end, &kv_tag) < 0) {
                    goto out;
                }
                int kv_number = (int)(kv_tag >> 3), kv_wire = (int)(kv_tag & 7);
                if (kv_number == 1 && kv_wire == 2) {
                    if (seen_key++ || delimited(&kv, kv_end, &key, &key_len) < 0) {
                        goto out;
                    }
                }
                else if (kv_number == 2 && kv_wire == 2) {
                    if (seen_value++ || delimited(&kv, kv_end, &value, &value_len) < 0) {
                        goto out; /* twice: the encodings merge; Python decides */
                    }
                }
                else if (skip(&kv, kv_end, kv_wire) < 0) {
                    goto out;
                }
            }
            if (key == NULL) {
                key = kv_end; /* the empty key */
            }
            if (value == NULL) {
                value = kv_end;
            }
            Attribute *attr = NULL;
            for (Py_ssize_t i = 0; i < self->nattrs; i++) {
                if (self->attrs[i].key_len == key_len && memcmp(self->attrs[i].key, key, (size_t)key_len) == 0) {
                    attr = &self->attrs[i];
                    break;
                }
            }
            Any any;
            if (attr != NULL) {
                uint64_t bit = (uint64_t)1 << attr->group;
                if (groups & bit) {
                    goto out; /* twice, or in both spellings: observe_span's precedence rules */
                }
                groups |= bit;
                if (any_value(value, value + value_len, &any) < 0) {
                    goto out;
                }
                PyObject *number_obj;
                if (any.kind == 4) {
                    double v = any.number;
                    if (!(v >= 0 && v != Py_HUGE_VAL)) {
                        goto out; /* observe_span rejects it, with its message */
                    }
                    if (attr->whole && v != floor(v)) {
                        goto out;
                    }
                    number_obj = PyFloat_FromDouble(v);
                }
                else if (any.kind == 3) {
                    if (any.integer < 0) {
                        goto out;
                    }
                    number_obj = PyLong_FromLongLong(any.integer);
                }
                else {
                    goto out; /* not a number, or not plainly one */
                }
                if (number_obj == NULL) {
                    *bail = 0;
                    goto out;
                }
                PyObject *keys = attr->sli_keys;
                for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keys); k++) {
                    if (PyDict_SetItem(values, PyTuple_GET_ITEM(keys, k), number_obj) < 0) {
                        Py_DECREF(number_obj);
                        *bail = 0;
                        goto out;
                    }
                }
                Py_DECREF(number_obj);
                continue;
            }
            for (Py_ssize_t i = 0; i < self->nlabels; i++) {
                Label *label = &self->labels[i];
                if (label->key_len != key_len || memcmp(label->key, key, (size_t)key_len) != 0) {
                    continue;
                }
                if (any_value(value, value + value_len, &any) < 0 || any.kind == -1) {
                    goto out;
                }
                if (any.kind == 1 && any.text_len > 0) { /* the first non-empty string wins */
                    if (label->is_model && model == NULL) {
                        model = any.text, model_len = any.text_len;
                    }
                    if (label->is_tenant && tenant == NULL) {
                        tenant = any.text, tenant_len = any.text_len;
                    }
                }
                break;
            }
        }
        else if (skip(&at, end, wire) < 0) {
            goto out;
        }
    }
    if (!seen_name || name_len != 11 || memcmp(name, "llm_request", 11) != 0) {
        goto out; /* another span (ignored), or no name: Python says which */
    }
    if (PyDict_GET_SIZE(values) == 0) {
        goto out; /* observe_span rejects it, with its message */
    }
    /* TPOT: x / (n - 1) where n >= 2, with Python's own arithmetic (int stays exact) */
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->tpot); i++) {
        PyObject *t = PyTuple_GET_ITEM(self->tpot, i);
        PyObject *x = PyDict_GetItemWithError(values, PyTuple_GET_ITEM(t, 1));
        PyObject *n = x == NULL ? NULL : PyDict_GetItemWithError(values, PyTuple_GET_ITEM(t, 2));
        if (n == NULL) {
            if (PyErr_Occurred()) {
                *bail = 0;
                goto out;
            }
            continue;
        }
        double n_value = PyFloat_Check(n) ? PyFloat_AS_DOUBLE(n) : (double)PyLong_AsLongLong(n);
        if (n_value == -1.0 && PyErr_Occurred()) {
            *bail = 0;
            goto out;
        }
        if (!(n_value >= 2)) {
            continue;
        }
        PyObject *one = PyLong_FromLong(1);
        PyObject *denominator = one == NULL ? NULL : PyNumber_Subtract(n, one);
        Py_XDECREF(one);
        PyObject *tpot = denominator == NULL ? NULL : PyNumber_TrueDivide(x, denominator);
        Py_XDECREF(denominator);
        if (tpot == NULL || PyDict_SetItem(values, PyTuple_GET_ITEM(t, 0), tpot) < 0) {
            Py_XDECREF(tpot);
            *bail = 0;
            goto out;
        }
        Py_DECREF(tpot);
    }
    *bail = 0;
    PyObject *model_obj, *tenant_obj;
    if (model != NULL) {
        model_obj = PyUnicode_DecodeUTF8((const char *)model, model_len, NULL);
    }
    else {
        model_obj = PyUnicode_GET_LENGTH(resource_model) ? resource_model : self->default_model;
        Py_INCREF(model_obj);
    }
    if (tenant != NULL) {
        tenant_obj = PyUnicode_DecodeUTF8((const char *)tenant, tenant_len, NULL);
    }
    else {
        tenant_obj = PyUnicode_GET_LENGTH(resource_tenant) ? resource_tenant : self->default_tenant;
        Py_INCREF(tenant_obj);
    }
    PyObject *result = NULL, *trace_obj = NULL, *span_obj = NULL, *end_obj = NULL;
    if (model_obj == NULL || tenant_obj == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            PyErr_Clear();
            *bail = 1; /* not UTF-8 (the full decode makes this unreachable): Python decides */
        }
        goto done;
    }
    trace_obj = PyBytes_FromStringAndSize((const char *)trace, trace_len);
    span_obj = PyBytes_FromStringAndSize((const char *)span, span_len);
    end_obj = PyLong_FromUnsignedLongLong((unsigned long long)end_ns);
    if (trace_obj == NULL || span_obj == NULL || end_obj == NULL) {
        goto done;
    }
    /* The NamedTuple, as tuple.__new__(RequestObservation, fields) makes it. Its fields are str,
     * bytes, int and a dict of numbers (which CPython leaves untracked), so it can be in no
     * reference cycle: it is untracked at once, as the collector's first pass would untrack it,
     * instead of making every 700th span pay for a collection. */
    PyTypeObject *type = (PyTypeObject *)self->observation;
    result = type->tp_alloc(type, 6);
    if (result != NULL) {
        PyObject *items[6] = {model_obj, tenant_obj, values, trace_obj, span_obj, end_obj};
        for (int i = 0; i < 6; i++) {
            Py_INCREF(items[i]);
            PyTuple_SET_ITEM(result, i, items[i]);
        }
        if (!PyObject_GC_IsTracked(values)) {
            PyObject_GC_UnTrack(result);
        }
    }
done:
    Py_XDECREF(model_obj);
    Py_XDECREF(tenant_obj);
    Py_XDECREF(trace_obj);
    Py_XDECREF(span_obj);
    Py_XDECREF(end_obj);
    Py_DECREF(values);
    return result;
out:
    Py_DECREF(values);
    return NULL;
}

static PyObject *
Reader_read_many(Reader *self, PyObject *args)
{
    PyObject *spans, *resource_model, *resource_tenant;
    if (!PyArg_ParseTuple(args, "OUU:read_many", &spans, &resource_model, &resource_tenant)) {
        return NULL;
    }
    PyObject *seq = PySequence_Fast(spans, "read_many() takes a sequence of encoded spans");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    Py_ssize_t left = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *raw = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyBytes_Check(raw)) {
            PyErr_Format(PyExc_TypeError, "span %zd is a %.100s, not bytes", i, Py_TYPE(raw)->tp_name);
            goto fail;
        }
        const unsigned char *at = (const unsigned char *)PyBytes_AS_STRING(raw);
        int bail = 0;
        PyObject *observation = read_span(self, at, at + PyBytes_GET_SIZE(raw), resource_model, resource_tenant, &bail);
        if (observation == NULL) {
            if (!bail) {
                goto fail;
            }
            Py_INCREF(raw);
            observation = raw;
            left++;
        }
        PyList_SET_ITEM(out, i, observation);
    }
    Py_DECREF(seq);
    return Py_BuildValue("(Nn)", out, left);
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef Reader_methods[] = {
    {"read_many", (PyCFunction)Reader_read_many, METH_VARARGS,
     "read_many(spans, resource_model, resource_tenant) -> (items, left): per encoded span, its "
     "RequestObservation, or the span's bytes where the Python path must decide; `left` counts those."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "collector._spanscan.Reader",
    .tp_doc = PyDoc_STR("Reader(attributes, labels, tpot, default_model, default_tenant, observation): "
                        "the span reading plan, from collector.spans (see collector.cspans)."),
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_methods = Reader_methods,
};

/* -- aggregation -------------------------------------------------------------------------------- */

/* accumulate(batch, key, bounds, counts, total) -> (total, n, touched) or None.
 *
 * For the observations in `batch` that carry `key`: add each value to `total` in order (float
 * additions, as `reduce(add, values, total)` does from a float), and when `bounds` is a tuple,
 * count each in bucket `bisect_left(bounds, value)` of the list `counts` (updated in place) and
 * return, per bucket touched, (bucket, value, observation) of its last one. None (nothing
 * changed) when a value is not a float or an int a double holds exactly: Python decides. */
static PyObject *
accumulate(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *batch, *key, *bounds, *counts;
    double *xs = NULL;
    Py_ssize_t *at = NULL;
    double total;
    if (!PyArg_ParseTuple(args, "O!UOOd:accumulate", &PyList_Type, &batch, &key, &bounds, &counts, &total)) {
        return NULL;
    }
    int histogram = bounds != Py_None;
    Py_ssize_t nb = 0;
    double *edges = NULL;
    Py_ssize_t *last = NULL, *added = NULL;
    if (histogram) {
        if (!PyTuple_Check(bounds) || !PyList_Check(counts) || PyList_GET_SIZE(counts) != PyTuple_GET_SIZE(bounds) + 1) {
            PyErr_SetString(PyExc_TypeError, "bounds must be a tuple and counts a list one longer");
            return NULL;
        }
        nb = PyTuple_GET_SIZE(bounds);
        edges = PyMem_Malloc(sizeof(double) * ((size_t)nb + 1));
        last = PyMem_Malloc(sizeof(Py_ssize_t) * ((size_t)nb + 1));
        added = PyMem_Calloc((size_t)nb + 1, sizeof(Py_ssize_t));
        if (edges == NULL || last == NULL || added == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t i = 0; i < nb; i++) {
            PyObject *b = PyTuple_GET_ITEM(bounds, i);
            if (!PyFloat_Check(b)) {
                PyErr_SetString(PyExc_TypeError, "bounds must be floats");
                goto fail;
            }
            edges[i] = PyFloat_AS_DOUBLE(b);
        }
        for (Py_ssize_t i = 0; i <= nb; i++) {
            last[i] = -1;
        }
    }
    Py_ssize_t n = PyList_GET_SIZE(batch), carried = 0;
    xs = PyMem_Malloc(sizeof(double) * ((size_t)n + 1));
    at = PyMem_Malloc(sizeof(Py_ssize_t) * ((size_t)n + 1));
    if (xs == NULL || at == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    /* first pass: every value, checked plain, so that nothing is changed when Python must decide */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *obs = PyList_GET_ITEM(batch, i);
        if (!PyTuple_Check(obs) || PyTuple_GET_SIZE(obs) < 3 || !PyDict_Check(PyTuple_GET_ITEM(obs, 2))) {
            PyErr_SetString(PyExc_TypeError, "batch must hold RequestObservations");
            goto fail;
        }
        PyObject *v = PyDict_GetItemWithError(PyTuple_GET_ITEM(obs, 2), key);
        if (v == NULL) {
            if (PyErr_Occurred()) {
                goto fail;
            }
            continue;
        }
        if (PyFloat_CheckExact(v)) {
            xs[carried] = PyFloat_AS_DOUBLE(v);
            at[carried++] = i;
            continue;
        }
        if (PyLong_CheckExact(v)) {
            int overflow = 0;
            long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (!overflow && x >= -(1LL << 53) && x <= (1LL << 53)) {
                xs[carried] = (double)x;
                at[carried++] = i;
                continue;
            }
        }
        PyMem_Free(xs);
        PyMem_Free(at);
        PyMem_Free(edges);
        PyMem_Free(last);
        PyMem_Free(added);
        Py_RETURN_NONE;
    }
    for (Py_ssize_t j = 0; j < carried; j++) {
        double x = xs[j];
        Py_ssize_t i = at[j];
        total += x;
        if (histogram) {
            Py_ssize_t lo = 0, hi = nb; /* bisect_left, as Python's: a[mid] < x goes right */
            while (lo < hi) {
                Py_ssize_t mid = (lo + hi) / 2;
                if (edges[mid] < x) {
                    lo = mid + 1;
                }
                else {
                    hi = mid;
                }
            }
            added[lo]++;
            last[lo] = i;
        }
    }
    PyObject *touched = PyList_New(0);
    if (touched == NULL) {
        goto fail;
    }
    for (Py_ssize_t b = 0; histogram && b <= nb; b++) {
        if (last[b] < 0) {
            continue;
        }
        PyObject *old = PyList_GET_ITEM(counts, b);
        PyObject *inc = PyLong_FromSsize_t(added[b]);
        PyObject *sum = inc == NULL ? NULL : PyNumber_Add(old, inc);
        Py_XDECREF(inc);
        if (sum == NULL) {
            Py_DECREF(touched);
            goto fail;
        }
        PyList_SetItem(counts, b, sum); /* steals sum, drops old */
        PyObject *obs = PyList_GET_ITEM(batch, last[b]);
        PyObject *entry = Py_BuildValue("(nOO)", b, PyDict_GetItem(PyTuple_GET_ITEM(obs, 2), key), obs);
        if (entry == NULL || PyList_Append(touched, entry) < 0) {
            Py_XDECREF(entry);
            Py_DECREF(touched);
            goto fail;
        }
        Py_DECREF(entry);
    }
    PyMem_Free(xs);
    PyMem_Free(at);
    PyMem_Free(edges);
    PyMem_Free(last);
    PyMem_Free(added);
    return Py_BuildValue("(dnN)", total, carried, touched);
fail:
    PyMem_Free(xs);
    PyMem_Free(at);
    PyMem_Free(edges);
    PyMem_Free(last);
    PyMem_Free(added);
    return NULL;
}

static PyMethodDef module_methods[] = {
    {"accumulate", accumulate, METH_VARARGS,
     "accumulate(batch, key, bounds, counts, total) -> (total, n, [(bucket, value, observation)]) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef spanscan_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "collector._spanscan",
    .m_doc = "The collector's span hot path in C; see collector.cspans.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__spanscan(void)
{
    if (PyType_Ready(&ReaderType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&spanscan_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&ReaderType);
    if (PyModule_AddObject(module, "Reader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(&ReaderType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
