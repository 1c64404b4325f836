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
#define EXACT (1LL << 53) /* ints up to here are doubles exactly */
#define NAMES 256          /* entries of a Reader's name cache (a power of two) */
#define NAME_MAX_LEN 256   /* longer names are decoded every time, not cached */

typedef struct {
    const char *key;
    Py_ssize_t key_len;
    int nslots;
    uint8_t slots[4]; /* the Values slot of each SLI key it gives */
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
    const char *key;
    Py_ssize_t key_len;
    int attr;  /* index in Reader.attrs, or -1 */
    int label; /* index in Reader.labels, or -1 */
    int next;  /* the next entry with the same signature, or -1 */
} KeyEntry;

#define KEYS 256 /* signature buckets (a power of two) */

/* A cheap spread of attribute keys over KEYS buckets: the length and three bytes (vLLM's keys
 * share long prefixes, so bytes from the end). Only a filter: a match is still compared whole. */
static inline unsigned
signature(const unsigned char *key, Py_ssize_t len)
{
    unsigned sig = (unsigned)len * 31u;
    if (len > 0) {
        sig += key[len - 1] * 7u + key[len / 2] * 131u;
    }
    if (len > 2) {
        sig += key[len - 3];
    }
    return sig & (KEYS - 1);
}

typedef struct {
    PyObject_HEAD
    Py_ssize_t nattrs;
    Attribute *attrs;
    Py_ssize_t nlabels;
    Label *labels;
    PyObject *slot_keys;       /* tuple of str: every SLI key a span can give, by slot */
    Py_ssize_t ntpot;
    uint8_t tpot[8][3];        /* (slot, numerator slot, count slot) of x / (n - 1) */
    PyObject *default_model;   /* str */
    PyObject *default_tenant;  /* str */
    PyObject *observation;     /* the RequestObservation class (a tuple subclass) */
    PyObject *owned;           /* the config tuples the key pointers point into */
    PyObject *names[NAMES];    /* model and tenant names seen, by hash: one str object per name */
    int ready;                 /* __init__ finished: the only state in which it may read */
    int heads[KEYS];           /* the keys read (attributes and labels), chained by signature */
    KeyEntry *entries;
} Reader;

/* -- protobuf wire format ---------------------------------------------------------------------- */

/* 0 and the value, or -1 past the end / over 10 bytes. */
static inline __attribute__((always_inline)) int
varint(const unsigned char **at, const unsigned char *end, uint64_t *out)
{
    if (*at < end && **at < 0x80) { /* one byte: tags and short lengths, nearly every varint here */
        *out = *(*at)++;
        return 0;
    }
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*at >= end) {
            return -1;
        }
        unsigned char byte = *(*at)++;
        if (shift == 63 && byte > 1) {
            return -1; /* bits past the 64th: upb drops them; leave such a span to Python */
        }
        result |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) {
            *out = result;
            return 0;
        }
    }
    return -1;
}

/* Skip one field's payload by its wire type; -1 when it does not fit or is a group. */
static inline __attribute__((always_inline)) int
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
static inline __attribute__((always_inline)) int
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

static inline __attribute__((always_inline)) int
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

/* -- Values: a span's SLI values ---------------------------------------------------------------- */

/* What observe_span gives as a dict, held as numbers in slots: building a dict of a dozen float
 * objects per span was most of this module's time, and adding them up meant as many lookups.
 * It reads as a Mapping (collections.abc.Mapping.register in collector.speedups): [], get, in,
 * len, iteration in observe_span's insertion order, keys/values/items, ==, and repr as a dict's.
 * A slot holds an int (a token count, as observe_span keeps it) or a float. */

#define MAX_SLOTS 16 /* vLLM's catalog gives 11; small enough for Python's small-object allocator */

typedef struct {
    PyObject_HEAD
    PyObject *keys;  /* tuple of str: the SLI key of each slot, shared by every Values of a Reader */
    uint16_t present;
    uint16_t is_int; /* an int slot holds a count of at most 2**53, so its double is exact */
    uint8_t n;
    uint8_t order[MAX_SLOTS];
    double number[MAX_SLOTS];
} Values;

static PyTypeObject ValuesType;

static int
slot_of(PyObject *keys, PyObject *key)
{
    Py_ssize_t n = PyTuple_GET_SIZE(keys);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyTuple_GET_ITEM(keys, i) == key) {
            return (int)i;
        }
    }
    if (!PyUnicode_Check(key)) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyUnicode_Compare(PyTuple_GET_ITEM(keys, i), key) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static PyObject *
slot_value(Values *v, int slot)
{
    if (v->is_int & ((uint32_t)1 << slot)) {
        return PyLong_FromLongLong((long long)v->number[slot]);
    }
    return PyFloat_FromDouble(v->number[slot]);
}

static void
Values_dealloc(Values *self)
{
    Py_XDECREF(self->keys);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t
Values_length(Values *self)
{
    return self->n;
}

static PyObject *
Values_subscript(Values *self, PyObject *key)
{
    int slot = slot_of(self->keys, key);
    if (slot < 0 || !(self->present & ((uint32_t)1 << slot))) {
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    return slot_value(self, slot);
}

static int
Values_contains(Values *self, PyObject *key)
{
    int slot = slot_of(self->keys, key);
    return slot >= 0 && (self->present & ((uint32_t)1 << slot)) != 0;
}

/* kind 0: keys, 1: values, 2: (key, value) pairs; in insertion order */
static PyObject *
Values_list(Values *self, int kind)
{
    PyObject *out = PyList_New(self->n);
    for (int i = 0; out != NULL && i < self->n; i++) {
        int slot = self->order[i];
        PyObject *key = PyTuple_GET_ITEM(self->keys, slot), *item;
        if (kind == 0) {
            Py_INCREF(key);
            item = key;
        }
        else {
            PyObject *value = slot_value(self, slot);
            item = kind == 1 || value == NULL ? value : PyTuple_Pack(2, key, value);
            if (kind == 2) {
                Py_XDECREF(value);
            }
        }
        if (item == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, item);
    }
    return out;
}

static PyObject *
Values_dict(Values *self, PyObject *unused)
{
    (void)unused;
    PyObject *out = PyDict_New();
    for (int i = 0; out != NULL && i < self->n; i++) {
        int slot = self->order[i];
        PyObject *value = slot_value(self, slot);
        if (value == NULL || PyDict_SetItem(out, PyTuple_GET_ITEM(self->keys, slot), value) < 0) {
            Py_XDECREF(value);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(value);
    }
    return out;
}

static PyObject *
Values_iter(Values *self)
{
    PyObject *keys = Values_list(self, 0);
    if (keys == NULL) {
        return NULL;
    }
    PyObject *it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return it;
}

static PyObject *
Values_get(Values *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get() takes a key and an optional default");
        return NULL;
    }
    int slot = slot_of(self->keys, args[0]);
    if (slot >= 0 && (self->present & ((uint32_t)1 << slot))) {
        return slot_value(self, slot);
    }
    PyObject *fallback = nargs == 2 ? args[1] : Py_None;
    Py_INCREF(fallback);
    return fallback;
}

static PyObject *
Values_keys(Values *self, PyObject *unused)
{
    (void)unused;
    return Values_list(self, 0);
}

static PyObject *
Values_values(Values *self, PyObject *unused)
{
    (void)unused;
    return Values_list(self, 1);
}

static PyObject *
Values_items(Values *self, PyObject *unused)
{
    (void)unused;
    return Values_list(self, 2);
}

static PyObject *
Values_richcompare(PyObject *self, PyObject *other, int op)
{
    if ((op != Py_EQ && op != Py_NE) || !(PyDict_Check(other) || Py_TYPE(other) == &ValuesType)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *a = Values_dict((Values *)self, NULL);
    PyObject *b = PyDict_Check(other) ? (Py_INCREF(other), other) : Values_dict((Values *)other, NULL);
    PyObject *result = a == NULL || b == NULL ? NULL : PyObject_RichCompare(a, b, op);
    Py_XDECREF(a);
    Py_XDECREF(b);
    return result;
}

static PyObject *
Values_repr(Values *self)
{
    PyObject *d = Values_dict(self, NULL);
    if (d == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_Repr(d);
    Py_DECREF(d);
    return r;
}

static PyMappingMethods Values_mapping = {
    .mp_length = (lenfunc)Values_length,
    .mp_subscript = (binaryfunc)Values_subscript,
};

static PySequenceMethods Values_sequence = {
    .sq_contains = (objobjproc)Values_contains,
};

static PyMethodDef Values_methods[] = {
    {"get", (PyCFunction)(void (*)(void))Values_get, METH_FASTCALL, "get(key, default=None)"},
    {"keys", (PyCFunction)Values_keys, METH_NOARGS, "the SLI keys, in observe_span's order (a list)"},
    {"values", (PyCFunction)Values_values, METH_NOARGS, "the values, in that order (a list)"},
    {"items", (PyCFunction)Values_items, METH_NOARGS, "(key, value) pairs, in that order (a list)"},
    {"to_dict", (PyCFunction)Values_dict, METH_NOARGS, "the dict observe_span would have built"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ValuesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "collector._spanscan.Values",
    .tp_doc = PyDoc_STR("A span's SLI values, read-only; made by Reader.read_many."),
    .tp_basicsize = sizeof(Values),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_MAPPING,
    .tp_dealloc = (destructor)Values_dealloc,
    .tp_as_mapping = &Values_mapping,
    .tp_as_sequence = &Values_sequence,
    .tp_iter = (getiterfunc)Values_iter,
    .tp_methods = Values_methods,
    .tp_richcompare = Values_richcompare,
    .tp_repr = (reprfunc)Values_repr,
    .tp_hash = PyObject_HashNotImplemented,
};

/* -- Reader ------------------------------------------------------------------------------------- */

/* The slot of an SLI key, added when new; -1 with an error set. */
static int
add_slot(PyObject *slot_keys, PyObject *key)
{
    if (!PyUnicode_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "SLI keys must be str");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(slot_keys);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyUnicode_Compare(PyList_GET_ITEM(slot_keys, i), key) == 0) {
            return (int)i;
        }
    }
    if (n >= MAX_SLOTS) {
        PyErr_Format(PyExc_ValueError, "more than %d SLI keys", MAX_SLOTS);
        return -1;
    }
    Py_INCREF(key);
    PyUnicode_InternInPlace(&key);
    int rc = PyList_Append(slot_keys, key);
    Py_DECREF(key);
    return rc < 0 ? -1 : (int)n;
}

static void
Reader_dealloc(Reader *self)
{
    PyMem_Free(self->attrs);
    PyMem_Free(self->labels);
    PyMem_Free(self->entries);
    Py_XDECREF(self->slot_keys);
    Py_XDECREF(self->default_model);
    Py_XDECREF(self->default_tenant);
    Py_XDECREF(self->observation);
    Py_XDECREF(self->owned);
    for (int i = 0; i < NAMES; i++) {
        Py_XDECREF(self->names[i]);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A model or tenant name as str, the same object for the same text while it stays cached: a
 * span's labels repeat across spans, and decoding and hashing them anew was measurable. */
static PyObject *
name_of(Reader *self, const unsigned char *text, Py_ssize_t len)
{
    if (len > NAME_MAX_LEN) {
        return PyUnicode_DecodeUTF8((const char *)text, len, NULL);
    }
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (Py_ssize_t i = 0; i < len; i++) {
        hash = (hash ^ text[i]) * 16777619u;
    }
    PyObject **entry = &self->names[hash & (NAMES - 1)];
    if (*entry != NULL) {
        Py_ssize_t cached_len;
        const char *cached = PyUnicode_AsUTF8AndSize(*entry, &cached_len);
        if (cached == NULL) {
            PyErr_Clear(); /* cannot happen for a str we decoded; then just replace the entry */
        }
        else if (cached_len == len && memcmp(cached, text, (size_t)len) == 0) {
            Py_INCREF(*entry);
            return *entry;
        }
    }
    PyObject *name = PyUnicode_DecodeUTF8((const char *)text, len, NULL);
    if (name != NULL) {
        Py_INCREF(name);
        Py_XSETREF(*entry, name);
    }
    return name;
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
        PyErr_SetString(PyExc_TypeError, "Reader is immutable (and __init__ runs once)");
        return -1;
    }
    if (!PyType_IsSubtype((PyTypeObject *)observation, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "observation must be a tuple subclass");
        return -1;
    }
    /* held from the start: the key pointers below point into these tuples */
    self->owned = PyTuple_Pack(2, attrs, labels);
    if (self->owned == NULL) {
        return -1;
    }
    PyObject *slot_keys = PyList_New(0); /* SLI keys in first-seen order: attributes, then TPOT */
    if (slot_keys == NULL) {
        return -1;
    }
    Py_ssize_t na = PyTuple_GET_SIZE(attrs), nl = PyTuple_GET_SIZE(labels);
    self->attrs = PyMem_Calloc((size_t)na + 1, sizeof(Attribute));
    self->labels = PyMem_Calloc((size_t)nl + 1, sizeof(Label));
    if (self->attrs == NULL || self->labels == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < na; i++) {
        PyObject *item = PyTuple_GET_ITEM(attrs, i);
        PyObject *key, *keys;
        int whole, group;
        if (!PyArg_ParseTuple(item, "SO!pi:attribute", &key, &PyTuple_Type, &keys, &whole, &group)) {
            goto fail;
        }
        if (group < 0 || group >= MAX_GROUPS) {
            PyErr_Format(PyExc_ValueError, "attribute group %d outside 0..%d", group, MAX_GROUPS - 1);
            goto fail;
        }
        if (PyTuple_GET_SIZE(keys) > 4) {
            PyErr_SetString(PyExc_ValueError, "an attribute gives at most 4 SLI keys");
            goto fail;
        }
        Attribute *attr = &self->attrs[i];
        *attr = (Attribute){PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key), 0, {0}, whole, group};
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keys); k++) {
            int slot = add_slot(slot_keys, PyTuple_GET_ITEM(keys, k));
            if (slot < 0) {
                goto fail;
            }
            attr->slots[attr->nslots++] = (uint8_t)slot;
        }
    }
    for (Py_ssize_t i = 0; i < nl; i++) {
        PyObject *key;
        int is_model, is_tenant;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(labels, i), "Spp:label", &key, &is_model, &is_tenant)) {
            goto fail;
        }
        self->labels[i] = (Label){PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key), is_model, is_tenant};
    }
    if (PyTuple_GET_SIZE(tpot) > 8) {
        PyErr_SetString(PyExc_ValueError, "at most 8 formulas");
        goto fail;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tpot); i++) {
        PyObject *t = PyTuple_GET_ITEM(tpot, i);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 3) {
            PyErr_SetString(PyExc_TypeError, "tpot entries must be (sli key, numerator key, count key)");
            goto fail;
        }
        for (int k = 0; k < 3; k++) {
            int slot = add_slot(slot_keys, PyTuple_GET_ITEM(t, k));
            if (slot < 0) {
                goto fail;
            }
            self->tpot[i][k] = (uint8_t)slot;
        }
    }
    self->ntpot = PyTuple_GET_SIZE(tpot);
    self->nattrs = na;
    self->nlabels = nl;
    self->slot_keys = PyList_AsTuple(slot_keys);
    Py_DECREF(slot_keys);
    if (self->slot_keys == NULL) {
        return -1;
    }
    Py_INCREF(model);
    self->default_model = model;
    Py_INCREF(tenant);
    self->default_tenant = tenant;
    Py_INCREF(observation);
    self->observation = observation;
    self->entries = PyMem_Calloc((size_t)(na + nl) + 1, sizeof(KeyEntry));
    if (self->entries == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (int b = 0; b < KEYS; b++) {
        self->heads[b] = -1;
    }
    for (Py_ssize_t i = 0; i < na + nl; i++) {
        KeyEntry *entry = &self->entries[i];
        entry->attr = i < na ? (int)i : -1;
        entry->label = i < na ? -1 : (int)(i - na);
        entry->key = i < na ? self->attrs[i].key : self->labels[i - na].key;
        entry->key_len = i < na ? self->attrs[i].key_len : self->labels[i - na].key_len;
        for (Py_ssize_t j = 0; j < i; j++) {
            if (self->entries[j].key_len == entry->key_len
                && memcmp(self->entries[j].key, entry->key, (size_t)entry->key_len) == 0) {
                PyErr_SetString(PyExc_ValueError, "a key is given twice (an SLI attribute cannot be a label too)");
                return -1;
            }
        }
        unsigned b = signature((const unsigned char *)entry->key, entry->key_len);
        entry->next = self->heads[b];
        self->heads[b] = (int)i;
    }
    self->ready = 1;
    return 0;
fail:
    Py_DECREF(slot_keys);
    return -1;
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
    Values *values = PyObject_New(Values, &ValuesType);
    if (values == NULL) {
        return NULL;
    }
    Py_INCREF(self->slot_keys);
    values->keys = self->slot_keys;
    values->present = values->is_int = 0;
    values->n = 0;
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
            Label *label = NULL;
            for (int e = self->heads[signature(key, key_len)]; e >= 0; e = self->entries[e].next) {
                KeyEntry *entry = &self->entries[e];
                if (entry->key_len == key_len && memcmp(entry->key, key, (size_t)key_len) == 0) {
                    attr = entry->attr >= 0 ? &self->attrs[entry->attr] : NULL;
                    label = entry->label >= 0 ? &self->labels[entry->label] : NULL;
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
                int integral;
                if (any.kind == 4) {
                    if (!(any.number >= 0 && any.number != Py_HUGE_VAL)) {
                        goto out; /* observe_span rejects it, with its message */
                    }
                    if (attr->whole && any.number != floor(any.number)) {
                        goto out;
                    }
                    integral = 0;
                }
                else if (any.kind == 3) {
                    if (any.integer < 0 || any.integer > EXACT) {
                        goto out; /* rejected; or too large for a double to hold exactly: Python's ints */
                    }
                    integral = 1;
                }
                else {
                    goto out; /* not a number, or not plainly one */
                }
                for (int k = 0; k < attr->nslots; k++) {
                    uint32_t bit = (uint32_t)1 << attr->slots[k];
                    if (values->present & bit) {
                        goto out;
                    }
                    values->present |= bit;
                    values->order[values->n++] = attr->slots[k];
                    if (integral) {
                        values->is_int |= bit;
                        values->number[attr->slots[k]] = (double)any.integer;
                    }
                    else {
                        values->number[attr->slots[k]] = any.number;
                    }
                }
                continue;
            }
            if (label != NULL) {
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
            }
        }
        else if (skip(&at, end, wire) < 0) {
            goto out;
        }
    }
    if (!seen_name || name_len != 11 || memcmp(name, "llm_request", 11) != 0) {
        goto out; /* another span (ignored), or no name: Python says which */
    }
    if (values->n == 0) {
        goto out; /* observe_span rejects it, with its message */
    }
    /* TPOT: x / (n - 1) where n >= 2. Every int here is at most 2**53, so Python's arithmetic (int
     * - 1 exact, then a correctly rounded true division) is exactly this double arithmetic. */
    for (Py_ssize_t i = 0; i < self->ntpot; i++) {
        int out_slot = self->tpot[i][0], x = self->tpot[i][1], n = self->tpot[i][2];
        uint32_t need = ((uint32_t)1 << x) | ((uint32_t)1 << n);
        if ((values->present & need) != need || !(values->number[n] >= 2)) {
            continue;
        }
        uint32_t bit = (uint32_t)1 << out_slot;
        if (values->present & bit) {
            goto out;
        }
        values->present |= bit;
        values->order[values->n++] = (uint8_t)out_slot;
        values->number[out_slot] = values->number[x] / (values->number[n] - 1.0);
    }
    *bail = 0;
    PyObject *model_obj, *tenant_obj;
    if (model != NULL) {
        model_obj = name_of(self, model, model_len);
    }
    else {
        model_obj = PyUnicode_GET_LENGTH(resource_model) ? resource_model : self->default_model;
        Py_INCREF(model_obj);
    }
    if (model_obj == NULL) {
        tenant_obj = NULL; /* keep the model's error */
    }
    else if (tenant != NULL) {
        tenant_obj = name_of(self, tenant, tenant_len);
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
     * bytes, int and Values (which refer to nothing but a tuple of str), so it can be in no
     * reference cycle: it is untracked at once, as the collector's first pass would untrack a
     * tuple of such, instead of making every 700th span pay for a collection. */
    PyTypeObject *type = (PyTypeObject *)self->observation;
    result = type->tp_alloc(type, 6);
    if (result != NULL) {
        PyObject *items[6] = {model_obj, tenant_obj, (PyObject *)values, trace_obj, span_obj, end_obj};
        for (int i = 0; i < 6; i++) {
            Py_INCREF(items[i]);
            PyTuple_SET_ITEM(result, i, items[i]);
        }
        PyObject_GC_UnTrack(result);
    }
done:
    Py_XDECREF(model_obj);
    Py_XDECREF(tenant_obj);
    Py_XDECREF(trace_obj);
    Py_XDECREF(span_obj);
    Py_XDECREF(end_obj);
    Py_DECREF((PyObject *)values);
    return result;
out:
    Py_DECREF((PyObject *)values);
    return NULL;
}

static int
check_ready(Reader *self)
{
    if (!self->ready) {
        PyErr_SetString(PyExc_TypeError, "Reader was not initialised");
        return -1;
    }
    return 0;
}

/* A span as read_many and read_request answer it: its observation, or its encoding where the
 * Python path must decide (`raw` when the caller has it as bytes already; `*left` counts those).
 * A new reference, or NULL on a Python error. */
static PyObject *
span_item(Reader *self, PyObject *raw, const unsigned char *span, Py_ssize_t len, PyObject *model, PyObject *tenant,
          Py_ssize_t *left)
{
    int bail = 0;
    PyObject *item = read_span(self, span, span + len, model, tenant, &bail);
    if (item != NULL || !bail) {
        return item;
    }
    ++*left;
    if (raw != NULL) {
        Py_INCREF(raw);
        return raw;
    }
    return PyBytes_FromStringAndSize((const char *)span, len);
}

/* The next length-delimited field `number` in bytes an earlier pass already walked (so nothing
 * here can fail): 1 with its payload, or 0 at the end. */
static int
next_field(const unsigned char **at, const unsigned char *end, int number, const unsigned char **start,
           Py_ssize_t *len)
{
    while (*at < end) {
        uint64_t tag = 0;
        varint(at, end, &tag);
        if ((int)(tag >> 3) == number) {
            *start = *at;
            *len = 0;
            delimited(at, end, start, len);
            return 1;
        }
        skip(at, end, (int)(tag & 7));
    }
    return 0;
}

static PyObject *
Reader_read_many(Reader *self, PyObject *args)
{
    if (check_ready(self) < 0) {
        return NULL;
    }
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
        PyObject *item = span_item(self, raw, (const unsigned char *)PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw),
                                   resource_model, resource_tenant, &left);
        if (item == NULL) {
            goto fail;
        }
        PyList_SET_ITEM(out, i, item);
    }
    Py_DECREF(seq);
    return Py_BuildValue("(Nn)", out, left);
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

/* One ResourceSpans message: (labels, items, left), or NULL with *bail set when its layout is not
 * plain (a field with an unexpected wire type), or NULL alone on a Python error. */
static PyObject *
read_resource(Reader *self, const unsigned char *start, const unsigned char *end, PyObject *labels_of, int *bail)
{
    *bail = 1;
    PyObject *attrs = PyList_New(0);
    if (attrs == NULL) {
        *bail = 0;
        return NULL;
    }
    /* pass 1: the resource's attributes, from every `resource` field in order (protobuf merges
     * repeated message fields, which for a repeated field inside is concatenation) */
    const unsigned char *at = start;
    while (at < end) {
        uint64_t tag;
        if (varint(&at, end, &tag) < 0) {
            goto out;
        }
        int number = (int)(tag >> 3), wire = (int)(tag & 7);
        if (number == 1) {
            const unsigned char *r, *r_end;
            Py_ssize_t len;
            if (wire != 2 || delimited(&at, end, &r, &len) < 0) {
                goto out;
            }
            r_end = r + len;
            while (r < r_end) {
                uint64_t r_tag;
                if (varint(&r, r_end, &r_tag) < 0) {
                    goto out;
                }
                if ((r_tag >> 3) == 1) {
                    const unsigned char *kv;
                    Py_ssize_t kv_len;
                    if ((r_tag & 7) != 2 || delimited(&r, r_end, &kv, &kv_len) < 0) {
                        goto out;
                    }
                    PyObject *item = PyBytes_FromStringAndSize((const char *)kv, kv_len);
                    if (item == NULL || PyList_Append(attrs, item) < 0) {
                        Py_XDECREF(item);
                        *bail = 0;
                        goto out;
                    }
                    Py_DECREF(item);
                }
                else if (skip(&r, r_end, (int)(r_tag & 7)) < 0) {
                    goto out;
                }
            }
        }
        else if ((number == 2 && wire != 2) || skip(&at, end, wire) < 0) {
            goto out; /* scope_spans not length-delimited: not a layout to guess at */
        }
    }
    *bail = 0;
    PyObject *labels = PyObject_CallOneArg(labels_of, attrs);
    Py_CLEAR(attrs);
    if (labels == NULL) {
        return NULL;
    }
    if (!PyTuple_Check(labels) || PyTuple_GET_SIZE(labels) < 2 || !PyUnicode_Check(PyTuple_GET_ITEM(labels, 0))
        || !PyUnicode_Check(PyTuple_GET_ITEM(labels, 1))) {
        PyErr_SetString(PyExc_TypeError, "labels_of must return a tuple starting (model, tenant)");
        Py_DECREF(labels);
        return NULL;
    }
    PyObject *model = PyTuple_GET_ITEM(labels, 0), *tenant = PyTuple_GET_ITEM(labels, 1);
    PyObject *items = PyList_New(0);
    Py_ssize_t left = 0;
    if (items == NULL) {
        Py_DECREF(labels);
        return NULL;
    }
    /* pass 2: the spans of every scope, in order */
    at = start;
    const unsigned char *scope;
    Py_ssize_t len;
    while (next_field(&at, end, 2, &scope, &len)) {
        const unsigned char *scope_end = scope + len;
        while (scope < scope_end) {
            uint64_t s_tag;
            if (varint(&scope, scope_end, &s_tag) < 0) {
                goto bad;
            }
            if ((s_tag >> 3) != 2) {
                if (skip(&scope, scope_end, (int)(s_tag & 7)) < 0) {
                    goto bad;
                }
                continue;
            }
            const unsigned char *span;
            Py_ssize_t span_len;
            if ((s_tag & 7) != 2 || delimited(&scope, scope_end, &span, &span_len) < 0) {
                goto bad;
            }
            PyObject *item = span_item(self, NULL, span, span_len, model, tenant, &left);
            int rc = item == NULL ? -1 : PyList_Append(items, item);
            Py_XDECREF(item);
            if (rc < 0) {
                goto error;
            }
        }
    }
    return Py_BuildValue("(NNn)", labels, items, left);
bad:
    *bail = 1;
error:
    Py_DECREF(labels);
    Py_DECREF(items);
    return NULL;
out:
    Py_XDECREF(attrs);
    return NULL;
}

static PyObject *
Reader_read_request(Reader *self, PyObject *args)
{
    if (check_ready(self) < 0) {
        return NULL;
    }
    const unsigned char *body;
    Py_ssize_t size;
    PyObject *labels_of;
    if (!PyArg_ParseTuple(args, "y#O:read_request", &body, &size, &labels_of)) {
        return NULL;
    }
    const unsigned char *at = body, *end = body + size;
    /* pass 1: the request's layout is plain (every resource_spans field length-delimited) */
    while (at < end) {
        uint64_t tag;
        if (varint(&at, end, &tag) < 0 || ((tag >> 3) == 1 && (tag & 7) != 2) || skip(&at, end, (int)(tag & 7)) < 0) {
            Py_RETURN_NONE;
        }
    }
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    at = body;
    const unsigned char *rs;
    Py_ssize_t len;
    while (next_field(&at, end, 1, &rs, &len)) {
        int bail = 0;
        PyObject *resource = read_resource(self, rs, rs + len, labels_of, &bail);
        if (resource == NULL) {
            Py_DECREF(out);
            if (bail && !PyErr_Occurred()) {
                Py_RETURN_NONE;
            }
            return NULL;
        }
        int rc = PyList_Append(out, resource);
        Py_DECREF(resource);
        if (rc < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

static PyMethodDef Reader_methods[] = {
    {"read_request", (PyCFunction)Reader_read_request, METH_VARARGS,
     "read_request(body, labels_of) -> [(labels, items, left)] per ResourceSpans, or None when the "
     "request's layout is not plain (then read it the Python way). labels_of(resource attribute "
     "KeyValue encodings) gives a tuple starting (model, tenant) for its spans; items are as "
     "read_many's."},
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

/* accumulate_many(batch, specs) -> one answer per spec (key, bounds, counts, exemplars, total):
 * (total, n), or None (nothing changed) when a value of that key is not a float or an int a
 * double holds exactly: Python decides that key.
 *
 * For the observations in `batch` that carry `key`: add each value to `total` in order (float
 * additions, as `reduce(add, values, total)` does from a float), and when `bounds` is a tuple,
 * count each in bucket `bisect_left(bounds, value)` of the list `counts` and set item `bucket`
 * of the list `exemplars` to (value, observation) of the bucket's last one (both updated in
 * place). One pass over the batch gathers every key's values: a series' flush adds up a dozen
 * SLIs over the same batch. An exception part way (for the collector's own specs, only a
 * MemoryError) can leave the specs before it applied: not atomic. */

typedef struct {
    PyObject *key, *bounds, *counts, *exemplars;
    double total;
    int declined;
    int slot; /* in the key tuple of the Values last seen */
    Py_ssize_t carried;
    double *xs;
    Py_ssize_t *at;
} Spec;

static int
plain_number(PyObject *v, double *out)
{
    if (PyFloat_CheckExact(v)) {
        *out = PyFloat_AS_DOUBLE(v);
        return 1;
    }
    if (PyLong_CheckExact(v)) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (!overflow && x >= -EXACT && x <= EXACT) {
            *out = (double)x;
            return 1;
        }
        PyErr_Clear();
    }
    return 0;
}

/* Pass 1: every spec's values, in batch order. -1 on a Python error. */
static int
gather(PyObject *batch, Spec *specs, Py_ssize_t nspecs)
{
    PyObject *keys = NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(batch);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *obs = PyTuple_GET_ITEM(batch, i);
        if (!PyTuple_Check(obs) || PyTuple_GET_SIZE(obs) < 3) {
            PyErr_SetString(PyExc_TypeError, "batch must hold RequestObservations");
            return -1;
        }
        PyObject *mapping = PyTuple_GET_ITEM(obs, 2);
        if (Py_TYPE(mapping) == &ValuesType) {
            Values *values = (Values *)mapping;
            if (values->keys != keys) {
                keys = values->keys;
                for (Py_ssize_t j = 0; j < nspecs; j++) {
                    specs[j].slot = slot_of(keys, specs[j].key);
                }
            }
            for (Py_ssize_t j = 0; j < nspecs; j++) {
                Spec *spec = &specs[j];
                if (spec->slot >= 0 && (values->present & ((uint32_t)1 << spec->slot))) {
                    spec->xs[spec->carried] = values->number[spec->slot]; /* exact: ints are <= 2**53 */
                    spec->at[spec->carried++] = i;
                }
            }
            continue;
        }
        for (Py_ssize_t j = 0; j < nspecs; j++) {
            Spec *spec = &specs[j];
            if (spec->declined) {
                continue;
            }
            if (!PyDict_Check(mapping)) {
                spec->declined = 1;
                continue;
            }
            PyObject *v = PyDict_GetItemWithError(mapping, spec->key);
            if (v == NULL) {
                if (PyErr_Occurred()) {
                    return -1;
                }
                continue;
            }
            double x;
            if (plain_number(v, &x)) {
                spec->xs[spec->carried] = x;
                spec->at[spec->carried++] = i;
            }
            else {
                spec->declined = 1;
            }
        }
    }
    return 0;
}

/* Pass 2 for one spec: sums, buckets, exemplars. A new reference, or NULL on a Python error. */
static PyObject *
apply(PyObject *batch, Spec *spec)
{
    if (spec->declined) {
        Py_RETURN_NONE;
    }
    double total = spec->total;
    if (spec->bounds == Py_None) {
        for (Py_ssize_t j = 0; j < spec->carried; j++) {
            total += spec->xs[j];
        }
        return Py_BuildValue("(dn)", total, spec->carried);
    }
    PyObject *bounds = spec->bounds, *counts = spec->counts, *exemplars = spec->exemplars;
    if (!PyTuple_Check(bounds) || !PyList_Check(counts) || PyList_GET_SIZE(counts) != PyTuple_GET_SIZE(bounds) + 1
        || !PyList_Check(exemplars) || PyList_GET_SIZE(exemplars) != PyList_GET_SIZE(counts)) {
        PyErr_SetString(PyExc_TypeError, "bounds must be a tuple, counts and exemplars lists one longer");
        return NULL;
    }
    Py_ssize_t nb = PyTuple_GET_SIZE(bounds);
    double *edges = PyMem_Malloc(sizeof(double) * ((size_t)nb + 1));
    Py_ssize_t *last = PyMem_Malloc(sizeof(Py_ssize_t) * ((size_t)nb + 1));
    Py_ssize_t *added = PyMem_Calloc((size_t)nb + 1, sizeof(Py_ssize_t));
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
    for (Py_ssize_t j = 0; j < spec->carried; j++) {
        double x = spec->xs[j];
        total += x;
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
        last[lo] = spec->at[j];
    }
    for (Py_ssize_t b = 0; b <= nb; b++) {
        if (last[b] < 0) {
            continue;
        }
        PyObject *old = PyList_GET_ITEM(counts, b);
        if (!PyLong_CheckExact(old)) {
            PyErr_SetString(PyExc_TypeError, "counts must hold ints");
            goto fail;
        }
        PyObject *inc = PyLong_FromSsize_t(added[b]);
        PyObject *sum = inc == NULL ? NULL : PyNumber_Add(old, inc);
        Py_XDECREF(inc);
        if (sum == NULL || PyList_SetItem(counts, b, sum) < 0) { /* steals sum, drops old */
            goto fail;
        }
        PyObject *obs = PyTuple_GET_ITEM(batch, last[b]);
        PyObject *value = PyObject_GetItem(PyTuple_GET_ITEM(obs, 2), spec->key); /* the int or float itself */
        PyObject *entry = value == NULL ? NULL : PyTuple_Pack(2, value, obs);
        Py_XDECREF(value);
        if (entry == NULL) {
            goto fail;
        }
        if (PyList_SetItem(exemplars, b, entry) < 0) { /* steals entry, drops the old exemplar */
            goto fail;
        }
    }
    PyMem_Free(edges);
    PyMem_Free(last);
    PyMem_Free(added);
    return Py_BuildValue("(dn)", total, spec->carried);
fail:
    PyMem_Free(edges);
    PyMem_Free(last);
    PyMem_Free(added);
    return NULL;
}

static PyObject *
accumulate_many(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *list, *spec_list, *out = NULL;
    if (!PyArg_ParseTuple(args, "O!O!:accumulate_many", &PyList_Type, &list, &PyList_Type, &spec_list)) {
        return NULL;
    }
    /* Snapshots: what a key's __hash__ or a count's __add__ might do to the lists cannot pull
     * items out from under the loops (the collector's own keys and counts run no Python code). */
    PyObject *batch = PyList_AsTuple(list), *spec_items = PyList_AsTuple(spec_list);
    Py_ssize_t nspecs = spec_items == NULL ? 0 : PyTuple_GET_SIZE(spec_items);
    Py_ssize_t n = batch == NULL ? 0 : PyTuple_GET_SIZE(batch);
    Spec *specs = batch == NULL || spec_items == NULL ? NULL : PyMem_Calloc((size_t)nspecs + 1, sizeof(Spec));
    if (specs == NULL) {
        Py_XDECREF(batch);
        Py_XDECREF(spec_items);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    for (Py_ssize_t j = 0; j < nspecs; j++) {
        Spec *spec = &specs[j];
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(spec_items, j), "UOOOd:spec", &spec->key, &spec->bounds, &spec->counts,
                              &spec->exemplars, &spec->total)) {
            goto done;
        }
        spec->slot = -1;
        spec->xs = PyMem_Malloc(sizeof(double) * ((size_t)n + 1));
        spec->at = PyMem_Malloc(sizeof(Py_ssize_t) * ((size_t)n + 1));
        if (spec->xs == NULL || spec->at == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    if (gather(batch, specs, nspecs) < 0) {
        goto done;
    }
    out = PyList_New(nspecs);
    for (Py_ssize_t j = 0; out != NULL && j < nspecs; j++) {
        PyObject *result = apply(batch, &specs[j]);
        if (result == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, j, result);
    }
done:
    for (Py_ssize_t j = 0; j < nspecs; j++) {
        PyMem_Free(specs[j].xs);
        PyMem_Free(specs[j].at);
    }
    PyMem_Free(specs);
    Py_DECREF(batch);
    Py_DECREF(spec_items);
    return out;
}

/* group_by_labels(observations) -> [(model, tenant, [observation, ...]), ...], groups in order of
 * first appearance and each group's members in arrival order. */
static PyObject *
group_by_labels(PyObject *module, PyObject *observations)
{
    (void)module;
    if (!PyList_Check(observations)) {
        PyErr_SetString(PyExc_TypeError, "group_by_labels() takes a list of RequestObservations");
        return NULL;
    }
    /* a snapshot: hashing a label (a str subclass could run Python code) cannot change the list */
    PyObject *items = PyList_AsTuple(observations);
    PyObject *index = PyDict_New(); /* (model, tenant) -> members list */
    PyObject *out = PyList_New(0);
    if (items == NULL || index == NULL || out == NULL) {
        goto fail;
    }
    PyObject *last_model = NULL, *last_tenant = NULL, *last_members = NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(items); i++) {
        PyObject *obs = PyTuple_GET_ITEM(items, i);
        if (!PyTuple_Check(obs) || PyTuple_GET_SIZE(obs) < 2) {
            PyErr_SetString(PyExc_TypeError, "group_by_labels() takes a list of RequestObservations");
            goto fail;
        }
        PyObject *model = PyTuple_GET_ITEM(obs, 0), *tenant = PyTuple_GET_ITEM(obs, 1);
        PyObject *members;
        if (model == last_model && tenant == last_tenant) {
            members = last_members; /* the same str objects as the previous span: a run */
        }
        else {
            PyObject *key = PyTuple_Pack(2, model, tenant);
            if (key == NULL) {
                goto fail;
            }
            members = PyDict_GetItemWithError(index, key);
            if (members == NULL) {
                if (PyErr_Occurred()) {
                    Py_DECREF(key);
                    goto fail;
                }
                members = PyList_New(0);
                PyObject *group = members == NULL ? NULL : PyTuple_Pack(3, model, tenant, members);
                int failed = group == NULL || PyDict_SetItem(index, key, members) < 0 || PyList_Append(out, group) < 0;
                Py_XDECREF(group);
                Py_XDECREF(members); /* the index holds it */
                if (failed) {
                    Py_DECREF(key);
                    goto fail;
                }
            }
            Py_DECREF(key);
            last_model = model, last_tenant = tenant, last_members = members;
        }
        if (PyList_Append(members, obs) < 0) {
            goto fail;
        }
    }
    Py_DECREF(items);
    Py_DECREF(index);
    return out;
fail:
    Py_XDECREF(items);
    Py_XDECREF(index);
    Py_XDECREF(out);
    return NULL;
}

static PyMethodDef module_methods[] = {
    {"accumulate_many", accumulate_many, METH_VARARGS,
     "accumulate_many(batch, [(key, bounds, counts, exemplars, total), ...]) -> per spec (total, n) or None"},
    {"group_by_labels", group_by_labels, METH_O,
     "group_by_labels(observations) -> [(model, tenant, [observation, ...])], in order of first appearance"},
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
    if (PyType_Ready(&ValuesType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    Py_INCREF(&ValuesType);
    if (PyModule_AddObject(module, "Values", (PyObject *)&ValuesType) < 0) {
        Py_DECREF(&ValuesType);
        Py_DECREF(module);
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
