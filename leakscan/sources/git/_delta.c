/* What of a blob to scan, given the version it replaced: delta.py's ``_delta_py`` in C.
 *
 * delta.py holds the specification (its docstrings) and the pure-Python version, which is
 * used where this module is not built; tests check that both give the same answer. Per
 * edited blob the Python version makes a bytes object and a set entry per line, about
 * 40 us for the bench history's mean blob of 8.5 KB; here it is a few microseconds.
 *
 * part(old, new, old_multiline, context, context_bytes, markers) -> (data, lines) | None
 * None: ``new`` holds a multi-line marker where it must be searched (the blob is scanned
 * whole); data: the changed lines and their context, the rest blanked; lines: the 1-based
 * numbers of the changed lines (a frozenset).
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Length of the common prefix of a and b (n: the shorter length). */
static Py_ssize_t
common_prefix(const char *a, const char *b, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    while (i + 256 <= n && memcmp(a + i, b + i, 256) == 0) /* libc's vector compare */
        i += 256;
    while (i + 8 <= n) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            break;
        i += 8;
    }
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* Length of the common suffix of a and b, at most limit. */
static Py_ssize_t
common_suffix(const char *a, Py_ssize_t la, const char *b, Py_ssize_t lb, Py_ssize_t limit)
{
    Py_ssize_t i = 0;
    while (i + 256 <= limit && memcmp(a + la - i - 256, b + lb - i - 256, 256) == 0)
        i += 256;
    while (i + 8 <= limit) {
        uint64_t x, y;
        memcpy(&x, a + la - i - 8, 8);
        memcpy(&y, b + lb - i - 8, 8);
        if (x != y)
            break;
        i += 8;
    }
    while (i < limit && a[la - 1 - i] == b[lb - 1 - i])
        i++;
    return i;
}

/* Python's data.rfind(b"\n", 0, stop): the last newline before stop, or -1. */
static Py_ssize_t
rfind_nl(const char *data, Py_ssize_t stop)
{
    if (stop <= 0)
        return -1;
    const char *at = memrchr(data, '\n', (size_t)stop);
    return at == NULL ? -1 : at - data;
}

static Py_ssize_t
count_nl(const char *data, Py_ssize_t from, Py_ssize_t to)
{
    Py_ssize_t n = 0;
    for (Py_ssize_t i = from; i < to; i++) /* vectorised by the compiler */
        n += data[i] == '\n';
    return n;
}

/* Whether data[from:to] holds one of the markers. */
static int
has_marker(const char *data, Py_ssize_t from, Py_ssize_t to, PyObject *markers)
{
    Py_ssize_t count = PyTuple_GET_SIZE(markers);
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *m = PyTuple_GET_ITEM(markers, k);
        Py_ssize_t ml = PyBytes_GET_SIZE(m);
        if (ml <= to - from && memmem(data + from, (size_t)(to - from), PyBytes_AS_STRING(m),
                                      (size_t)ml) != NULL)
            return 1;
    }
    return 0;
}

/* delta.py's _context_start */
static Py_ssize_t
context_start(const char *data, Py_ssize_t start, Py_ssize_t context, Py_ssize_t context_bytes)
{
    Py_ssize_t floor = start - context_bytes > 0 ? start - context_bytes : 0;
    Py_ssize_t above = floor > 0 ? rfind_nl(data, floor) + 1 : 0;
    Py_ssize_t lines_up = start;
    for (Py_ssize_t k = 0; k < context && lines_up > 0; k++)
        lines_up = rfind_nl(data, lines_up - 1) + 1;
    return above < lines_up ? above : lines_up;
}

/* A set of lines (pointer and length), open addressing. */
typedef struct {
    const char *ptr;
    Py_ssize_t len;
    uint64_t hash;
} Line;

static uint64_t
hash_line(const char *p, Py_ssize_t n)
{
    /* eight bytes a step; any spread will do (lines are compared when hashes are equal) */
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, (size_t)(n - i));
    h = (h ^ w) * 0x94D049BB133111EBULL;
    h ^= h >> 31;
    return h | 1; /* 0 marks an empty slot */
}

typedef struct {
    Line *slots;
    size_t mask;
} LineSet;

static int
lineset_init(LineSet *set, Py_ssize_t count)
{
    size_t cap = 16;
    while (cap < (size_t)count * 2 + 1)
        cap <<= 1;
    set->slots = PyMem_Calloc(cap, sizeof(Line));
    set->mask = cap - 1;
    return set->slots == NULL ? -1 : 0;
}

static Line *
lineset_slot(LineSet *set, const char *p, Py_ssize_t n, uint64_t h)
{
    size_t at = (size_t)h & set->mask;
    for (;;) {
        Line *s = &set->slots[at];
        if (s->hash == 0 || (s->hash == h && s->len == n && memcmp(s->ptr, p, (size_t)n) == 0))
            return s;
        at = (at + 1) & set->mask;
    }
}

static void
lineset_add(LineSet *set, const char *p, Py_ssize_t n)
{
    uint64_t h = hash_line(p, n);
    Line *s = lineset_slot(set, p, n, h);
    s->ptr = p;
    s->len = n;
    s->hash = h;
}

static int
lineset_has(LineSet *set, const char *p, Py_ssize_t n)
{
    return lineset_slot(set, p, n, hash_line(p, n))->hash != 0;
}

/* Start offsets of the lines of data[from:to] (split on "\n": count + 1 lines); the entry
 * after the last is to + 1, so line k spans starts[k] .. starts[k + 1] - 1. */
static Py_ssize_t *
line_starts(const char *data, Py_ssize_t from, Py_ssize_t to, Py_ssize_t *count)
{
    Py_ssize_t n = count_nl(data, from, to) + 1;
    Py_ssize_t *starts = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(n + 1));
    if (starts == NULL)
        return NULL;
    Py_ssize_t k = 0;
    starts[k++] = from;
    const char *p = data + from, *end = data + to;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        p++;
        starts[k++] = p - data;
    }
    starts[n] = to + 1;
    *count = n;
    return starts;
}

static PyObject *
part(PyObject *self, PyObject *args)
{
    PyObject *old_obj, *new_obj, *markers;
    int old_multiline;
    Py_ssize_t context, context_bytes;
    if (!PyArg_ParseTuple(args, "SSpnnO!", &old_obj, &new_obj, &old_multiline, &context,
                          &context_bytes, &PyTuple_Type, &markers))
        return NULL;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(markers); k++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(markers, k))) {
            PyErr_SetString(PyExc_TypeError, "markers must be bytes");
            return NULL;
        }
    const char *old = PyBytes_AS_STRING(old_obj), *new = PyBytes_AS_STRING(new_obj);
    Py_ssize_t lo = PyBytes_GET_SIZE(old_obj), ln = PyBytes_GET_SIZE(new_obj);

    /* changed_span */
    Py_ssize_t shorter = lo < ln ? lo : ln;
    Py_ssize_t prefix = common_prefix(old, new, shorter);
    Py_ssize_t tail = common_suffix(old, lo, new, ln, shorter - prefix);
    Py_ssize_t end = ln - tail;
    Py_ssize_t start = rfind_nl(new, prefix) + 1;
    Py_ssize_t from = end > prefix ? end : prefix;
    const char *nl = from < ln ? memchr(new + from, '\n', (size_t)(ln - from)) : NULL;
    end = nl == NULL ? ln : nl - new;

    int marker = old_multiline ? has_marker(new, 0, ln, markers)
                               : has_marker(new, start, end, markers);
    if (marker)
        Py_RETURN_NONE;

    Py_ssize_t first = count_nl(new, 0, start);
    Py_ssize_t above = context_start(new, start, context, context_bytes);
    Py_ssize_t skip = count_nl(new, above, start);
    Py_ssize_t nlines;
    Py_ssize_t *starts = line_starts(new, above, end, &nlines);
    if (starts == NULL)
        return PyErr_NoMemory();
    char *keep = NULL, *changed = PyMem_Calloc((size_t)nlines, 1);
    PyObject *result = NULL, *numbers = NULL, *data = NULL;
    if (changed == NULL) {
        PyErr_NoMemory();
        goto done;
    }

    /* the lines the old text held between its prefix and suffix */
    Py_ssize_t old_stop = lo - (ln - end);
    Py_ssize_t nchanged = 0, last = -1;
    if (old_stop > start) {
        Py_ssize_t nold;
        Py_ssize_t *old_starts = line_starts(old, start, old_stop, &nold);
        LineSet before;
        if (old_starts == NULL || lineset_init(&before, nold) < 0) {
            PyMem_Free(old_starts);
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t k = 0; k < nold; k++)
            lineset_add(&before, old + old_starts[k], old_starts[k + 1] - 1 - old_starts[k]);
        for (Py_ssize_t i = skip; i < nlines; i++)
            if (!lineset_has(&before, new + starts[i], starts[i + 1] - 1 - starts[i])) {
                changed[i] = 1;
                nchanged++;
                last = i;
            }
        PyMem_Free(before.slots);
        PyMem_Free(old_starts);
    }
    else {
        for (Py_ssize_t i = skip; i < nlines; i++)
            changed[i] = 1;
        nchanged = nlines - skip;
        last = nlines - 1;
    }

    Py_ssize_t lead = first - skip;
    numbers = PyList_New(0);
    if (numbers == NULL)
        goto done;
    for (Py_ssize_t i = skip; i <= last; i++)
        if (changed[i]) {
            PyObject *n = PyLong_FromSsize_t(lead + i + 1);
            if (n == NULL || PyList_Append(numbers, n) < 0) {
                Py_XDECREF(n);
                goto done;
            }
            Py_DECREF(n);
        }

    if (nchanged == nlines - skip) { /* the usual edit: every line of the span is new */
        data = PyBytes_FromStringAndSize(NULL, lead + (end - above));
        if (data == NULL)
            goto done;
        char *out = PyBytes_AS_STRING(data);
        memset(out, '\n', (size_t)lead);
        memcpy(out + lead, new + above, (size_t)(end - above));
    }
    else { /* delta.py's _with_context: changed lines and their context, the rest blank */
        keep = PyMem_Calloc((size_t)nlines, 1);
        if (keep == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t first_ctx = 0, done_to = 0, size = nlines - 1;
        for (Py_ssize_t i = 0; i <= last; i++) {
            if (!changed[i])
                continue;
            if (i == done_to) {
                keep[i] = 1;
                done_to = i + 1;
                continue;
            }
            /* the first line (below i) starting no more than context_bytes above line i */
            Py_ssize_t target = starts[i] - context_bytes, a = 0, b = i;
            while (a < b) {
                Py_ssize_t mid = (a + b) / 2;
                if (starts[mid] < target)
                    a = mid + 1;
                else
                    b = mid;
            }
            Py_ssize_t reach = i - context < a ? i - context : a;
            if (reach > first_ctx)
                first_ctx = reach;
            for (Py_ssize_t k = first_ctx > done_to ? first_ctx : done_to; k <= i; k++)
                keep[k] = 1;
            done_to = i + 1;
        }
        for (Py_ssize_t k = 0; k < nlines; k++)
            if (keep[k])
                size += starts[k + 1] - 1 - starts[k];
        data = PyBytes_FromStringAndSize(NULL, lead + size);
        if (data == NULL)
            goto done;
        char *out = PyBytes_AS_STRING(data);
        memset(out, '\n', (size_t)lead);
        out += lead;
        for (Py_ssize_t k = 0; k < nlines; k++) {
            if (keep[k]) {
                Py_ssize_t n = starts[k + 1] - 1 - starts[k];
                memcpy(out, new + starts[k], (size_t)n);
                out += n;
            }
            if (k + 1 < nlines)
                *out++ = '\n';
        }
    }
    PyObject *lines = PyFrozenSet_New(numbers);
    if (lines == NULL)
        goto done;
    result = Py_BuildValue("(NN)", data, lines);
    data = NULL;
done:
    Py_XDECREF(data);
    Py_XDECREF(numbers);
    PyMem_Free(keep);
    PyMem_Free(changed);
    PyMem_Free(starts);
    return result;
}

static PyMethodDef methods[] = {
    {"part", part, METH_VARARGS,
     "part(old, new, old_multiline, context, context_bytes, markers) -> (data, lines) | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_delta", "delta.py's changed-lines computation in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__delta(void)
{
    return PyModule_Create(&module);
}
