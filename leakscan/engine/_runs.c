/* The decoders' run trigger (database.py's ``_run_trigger``) in C.
 *
 * run_ends(data, max_decoded) -> list[int]: for each maximal run of base64 characters
 * ([A-Za-z0-9+/]) that is followed by another byte and is 32 characters or longer, or 20 or
 * longer with a digit, ``+`` or ``/`` in it: the offset of the byte after it, ascending. That
 * is where the Hyperscan pattern reports the run (its end offset less one). Left out: a run
 * that decoders.encoded_runs would turn down without decoding, as base64 (``_may_be_text``
 * of its last ``max_decoded`` characters) and as hex (no run of 32+ hex digits that
 * ``hex_run`` would decode): nine runs in ten of the bench image's text, and random base64
 * or hex. In Hyperscan the pattern, a
 * wide character class without a literal, was ~0.8 s over the 439 MB of the bench image's
 * text; here the bytes are classified 16 at a time (SSE2, where the compiler has it) into
 * bit masks of 64 bytes, and the runs are found from the masks.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* 0: not base64; 1: a letter; 2: a digit, '+' or '/' */
static unsigned char kind[256];
/* a 4-character base64 group starting with one of these can decode to text (A-Z, a-f:
 * decoders._TEXT_GROUP_START); a hex digit; a hex digit that can be the high nibble of a
 * text byte (0, 2-7) */
static unsigned char text_group[256], hex_digit[256], text_nibble[256];

static void
init_kinds(void)
{
    for (const char *c = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"; *c; c++)
        text_group[(unsigned char)*c] = 1;
    for (const char *c = "0123456789abcdefABCDEF"; *c; c++)
        hex_digit[(unsigned char)*c] = 1;
    for (const char *c = "0234567"; *c; c++)
        text_nibble[(unsigned char)*c] = 1;
    for (int c = 'A'; c <= 'Z'; c++)
        kind[c] = 1;
    for (int c = 'a'; c <= 'z'; c++)
        kind[c] = 1;
    for (int c = '0'; c <= '9'; c++)
        kind[c] = 2;
    kind['+'] = 2;
    kind['/'] = 2;
}

/* Bit j of *b64: data[j] is a base64 character; of *oth: a digit, '+' or '/' (count <= 64). */
static void
classify(const unsigned char *data, Py_ssize_t count, uint64_t *b64, uint64_t *oth)
{
    uint64_t b = 0, o = 0;
    Py_ssize_t j = 0;
#ifdef __SSE2__
    /* 16 bytes a step: signed compares leave bytes over 0x7f out of every range */
    const __m128i upper_lo = _mm_set1_epi8('A' - 1), upper_hi = _mm_set1_epi8('Z' + 1);
    const __m128i lower_lo = _mm_set1_epi8('a' - 1), lower_hi = _mm_set1_epi8('z' + 1);
    const __m128i digit_lo = _mm_set1_epi8('0' - 1), digit_hi = _mm_set1_epi8('9' + 1);
    const __m128i plus = _mm_set1_epi8('+'), slash = _mm_set1_epi8('/');
    for (; j + 16 <= count; j += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(data + j));
        __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, upper_lo), _mm_cmplt_epi8(v, upper_hi));
        __m128i lower = _mm_and_si128(_mm_cmpgt_epi8(v, lower_lo), _mm_cmplt_epi8(v, lower_hi));
        __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, digit_lo), _mm_cmplt_epi8(v, digit_hi));
        __m128i other =
            _mm_or_si128(digit, _mm_or_si128(_mm_cmpeq_epi8(v, plus), _mm_cmpeq_epi8(v, slash)));
        __m128i any = _mm_or_si128(other, _mm_or_si128(upper, lower));
        b |= (uint64_t)(unsigned)_mm_movemask_epi8(any) << j;
        o |= (uint64_t)(unsigned)_mm_movemask_epi8(other) << j;
    }
#endif
    for (; j < count; j++) {
        unsigned char k = kind[data[j]];
        b |= (uint64_t)(k != 0) << j;
        o |= (uint64_t)(k >> 1) << j;
    }
    *b64 = b;
    *oth = o;
}

static int
qualifies(Py_ssize_t length, int other)
{
    return length >= 32 || (length >= 20 && other);
}

/* How far back decoders._run_start looks for a hex run: its first window (256 bytes,
 * growing 16-fold) that reaches max_decoded. */
static Py_ssize_t
hex_window(Py_ssize_t max_decoded)
{
    Py_ssize_t size = 256;
    while (size < max_decoded)
        size *= 16;
    return size;
}

/* Whether decoders.hex_run may decode the hex digits data[start:end]: of them, what its
 * look-back takes (the last ``window``), 32 or more, an even number, and no more than 5%,
 * at even offsets, a high nibble that text has not. */
static int
hex_worth_decoding(const unsigned char *data, Py_ssize_t start, Py_ssize_t end,
                   Py_ssize_t window)
{
    Py_ssize_t from = end - start > window ? end - window : start;
    Py_ssize_t length = end - from, bad = 0;
    if (length < 32 || length % 2)
        return 0;
    for (Py_ssize_t i = from; i < end; i += 2)
        bad += !text_nibble[data[i]];
    return bad * 20 <= length;
}

/* Whether decoders.encoded_runs may get something from the run data[start:stop]: base64
 * text (no more than 30% of its last max_decoded characters' groups start outside
 * text_group), or a run of 32+ hex digits in it that hex_run may decode. */
static int
worth_decoding(const unsigned char *data, Py_ssize_t start, Py_ssize_t stop,
               Py_ssize_t max_decoded)
{
    Py_ssize_t from = stop - start > max_decoded ? stop - max_decoded : start;
    Py_ssize_t groups = 0, bad = 0;
    for (Py_ssize_t i = from; i < stop; i += 4) {
        groups++;
        bad += !text_group[data[i]];
    }
    if (bad * 10 <= groups * 3)
        return 1;
    if (stop - start < 32)
        return 0;
    for (Py_ssize_t i = start; i < stop;) { /* each maximal run of hex digits */
        if (!hex_digit[data[i]]) {
            i++;
            continue;
        }
        Py_ssize_t first = i;
        while (i < stop && hex_digit[data[i]])
            i++;
        if (hex_worth_decoding(data, first, i, hex_window(max_decoded)))
            return 1;
    }
    return 0;
}

static PyObject *
run_ends(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *bytes;
    Py_ssize_t max_decoded;
    if (!PyArg_ParseTuple(args, "Sn", &bytes, &max_decoded))
        return NULL;
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(bytes);
    Py_ssize_t n = PyBytes_GET_SIZE(bytes);
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    int in_run = 0, other = 0;
    Py_ssize_t run_start = 0;
    for (Py_ssize_t base = 0; base < n; base += 64) {
        Py_ssize_t count = n - base < 64 ? n - base : 64;
        uint64_t b64, oth;
        classify(data + base, count, &b64, &oth);
        /* where a run can start that matters: bit i of m20 says bits i..i+19 are all set
         * (a run of 20 or more within the block), and the run reaching the block's end may
         * go on in the next; shorter runs are skipped without a look */
        uint64_t m2 = b64 & (b64 >> 1), m4 = m2 & (m2 >> 2), m8 = m4 & (m4 >> 4);
        uint64_t starts = (m8 & (m8 >> 8)) & (m4 >> 16);
        if (b64 >> 63) {
            int top = ~b64 == 0 ? 64 : __builtin_clzll(~b64); /* ones at the top */
            starts |= (uint64_t)1 << (64 - top);
        }
        int pos = 0;
        while (pos < 64) {
            if (in_run) {
                uint64_t stop = ~b64 >> pos;
                if (stop == 0) { /* the run goes on into the next block */
                    other |= (oth >> pos) != 0;
                    break;
                }
                int k = __builtin_ctzll(stop);
                uint64_t span = k == 0 ? 0 : (oth >> pos) & ((~(uint64_t)0) >> (64 - k));
                other |= span != 0;
                Py_ssize_t end = base + pos + k;
                if (end >= n) /* the data ends the run: no byte after it */
                    return out;
                if (qualifies(end - run_start, other) &&
                    worth_decoding(data, run_start, end, max_decoded)) {
                    PyObject *at = PyLong_FromSsize_t(end);
                    if (at == NULL || PyList_Append(out, at) < 0) {
                        Py_XDECREF(at);
                        Py_DECREF(out);
                        return NULL;
                    }
                    Py_DECREF(at);
                }
                in_run = 0;
                pos += k + 1;
            }
            else {
                uint64_t start = starts >> pos;
                if (start == 0)
                    break;
                pos += __builtin_ctzll(start);
                in_run = 1;
                other = 0;
                run_start = base + pos;
            }
        }
    }
    return out;
}

static PyMethodDef methods[] = {
    {"run_ends", run_ends, METH_VARARGS,
     "run_ends(data, max_decoded) -> offsets of the byte after each base64 run worth decoding"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_runs", "The decoders' run trigger in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__runs(void)
{
    init_kinds();
    return PyModule_Create(&module);
}
