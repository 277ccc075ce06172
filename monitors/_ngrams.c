/* Language log-likelihoods in one call: the compiled twin of monitors/language.py's numpy path.
 *
 * build_index(codes, log_probs, absent) -> bytes packs langdetect's profiles for lookups: an
 * open-addressing hash table (linear probing) from an n-gram's code to its row, and each row
 * kept sparse, as the (language, value) pairs that differ from `absent` (the smoothed value of
 * a zero probability: 96% of the matrix, about 2 pairs a row). 19 MB become under 4 MB. Rows
 * stay in the order of their codes, where the n-grams of one script sit together: the table
 * holds row numbers only, so that all but one read of a lookup keep that locality.
 *
 * log_likelihood(spaced, index) -> list[float] | None sums, for each language, the rows of the
 * 1-, 2- and 3-grams starting at each character of `spaced` (langdetect's n-grams of a cleaned
 * sample, as monitors.language._spaced builds it), or None when no n-gram is in a profile.
 *
 * It computes exactly what _window_codes + _found_rows + the row sum compute, without a numpy
 * call per step (right after a page's extraction each numpy call costs 10-35 us of cold code).
 * Exactly: every float32 value is a multiple of 2**-23 between -10 and -1, so the double sums
 * found * absent + sum(value - absent) and the numpy path's sum(value) are both exact, equal.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    int64_t slots; /* a power of two */
    int64_t rows;
    int64_t languages;
    int64_t pairs;
    double absent;
} Header;

/* A slot of the hash table: an n-gram's code (EMPTY for a free slot: no code has 64 bits) and
 * its row's pairs, pairs[first:last]. */
typedef struct {
    uint64_t code;
    uint32_t first, last;
} Slot;

typedef struct {
    float value;
    uint32_t language;
} Pair;

#define EMPTY UINT64_MAX

/* An index is a Header, then Slot table[slots], then Pair pairs[pairs]. */
static Py_ssize_t
index_size(const Header *head)
{
    return (Py_ssize_t)(sizeof(Header) + head->slots * sizeof(Slot) + head->pairs * sizeof(Pair));
}

/* langdetect's n-grams hold BMP characters only: a character beyond stands for one code unit
 * that no profile holds, upper case (U+2C00) or not (U+FFFF), as in _window_codes. */
static inline uint64_t
code_unit(Py_UCS4 ch)
{
    if (ch <= 0xFFFF)
        return ch;
    return Py_UNICODE_ISUPPER(ch) ? 0x2C00 : 0xFFFF;
}

static inline uint64_t
slot_of(uint64_t code, uint64_t mask)
{
    return ((code * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

static PyObject *
build_index(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    double absent;
    if (nargs != 3 || ((absent = PyFloat_AsDouble(args[2])) == -1.0 && PyErr_Occurred())) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "build_index(codes, log_probs, absent) takes 3 arguments");
        return NULL;
    }
    Py_buffer codes_buf, probs_buf;
    if (PyObject_GetBuffer(args[0], &codes_buf, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &probs_buf, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) < 0) {
        PyBuffer_Release(&codes_buf);
        return NULL;
    }
    PyObject *index = NULL;
    if (codes_buf.ndim != 1 || codes_buf.itemsize != 8 || probs_buf.ndim != 2 || probs_buf.itemsize != 4
        || probs_buf.format == NULL || strcmp(probs_buf.format, "f") != 0
        || probs_buf.shape[0] > codes_buf.shape[0] || probs_buf.shape[0] >= INT32_MAX / 4) {
        PyErr_SetString(PyExc_ValueError,
                        "codes must be C-contiguous uint64, log_probs C-contiguous float32 with a row per code");
        goto done;
    }
    const uint64_t *codes = (const uint64_t *)codes_buf.buf;
    const float *probs = (const float *)probs_buf.buf;
    const float absent32 = (float)absent;
    Header head = {1, probs_buf.shape[0], probs_buf.shape[1], 0, (double)absent32};
    for (int64_t i = 0; i < head.rows * head.languages; i++)
        head.pairs += probs[i] != absent32;
    if (head.pairs >= UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many profile values");
        goto done;
    }
    while (head.slots < 3 * head.rows) /* a load factor of at most 1/3 */
        head.slots *= 2;
    const uint64_t mask = (uint64_t)head.slots - 1;
    index = PyBytes_FromStringAndSize(NULL, index_size(&head));
    if (index == NULL)
        goto done;
    char *base = PyBytes_AS_STRING(index);
    memcpy(base, &head, sizeof(Header));
    Slot *table = (Slot *)(base + sizeof(Header));
    Pair *pairs = (Pair *)(table + head.slots);
    for (int64_t s = 0; s < head.slots; s++)
        table[s] = (Slot){EMPTY, 0, 0};
    uint32_t next = 0;
    for (int64_t row = 0; row < head.rows; row++) {
        if (codes[row] == EMPTY) {
            PyErr_SetString(PyExc_ValueError, "an n-gram code cannot be 2**64 - 1");
            Py_CLEAR(index);
            goto done;
        }
        uint64_t s = slot_of(codes[row], mask);
        while (table[s].code != EMPTY)
            s = (s + 1) & mask;
        table[s].code = codes[row];
        table[s].first = next;
        for (int64_t j = 0; j < head.languages; j++) {
            float value = probs[row * head.languages + j];
            if (value != absent32)
                pairs[next++] = (Pair){value, (uint32_t)j};
        }
        table[s].last = next;
    }
done:
    PyBuffer_Release(&probs_buf);
    PyBuffer_Release(&codes_buf);
    return index;
}

static PyObject *
log_likelihood(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "log_likelihood(spaced: str, index) takes 2 arguments");
        return NULL;
    }
    PyObject *text = args[0];
    Py_buffer index_buf;
    if (PyObject_GetBuffer(args[1], &index_buf, PyBUF_SIMPLE) < 0)
        return NULL;
    Header head;
    if (index_buf.len >= (Py_ssize_t)sizeof(Header))
        memcpy(&head, index_buf.buf, sizeof(Header));
    if (index_buf.len < (Py_ssize_t)sizeof(Header) || index_buf.len != index_size(&head)
        || ((uintptr_t)index_buf.buf % sizeof(uint64_t)) != 0) {
        PyBuffer_Release(&index_buf);
        PyErr_SetString(PyExc_ValueError, "index is not (an aligned copy of) what build_index returned");
        return NULL;
    }
    const Slot *table = (const Slot *)((const char *)index_buf.buf + sizeof(Header));
    const Pair *pairs = (const Pair *)(table + head.slots);
    const uint64_t mask = (uint64_t)head.slots - 1;

    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    /* per n-gram: its code, then where its slot is; per language: the sum */
    uint64_t *grams = PyMem_Malloc((size_t)(3 * n + 1) * sizeof(uint64_t));
    const Slot **found = PyMem_Malloc((size_t)(3 * n + 1) * sizeof(Slot *));
    double *sums = PyMem_Calloc((size_t)(head.languages ? head.languages : 1), sizeof(double));
    PyObject *result = NULL;
    if (grams == NULL || found == NULL || sums == NULL) {
        PyErr_NoMemory();
        goto done;
    }

    /* The lookups are independent: issue them all before waiting on any (right after a page's
     * extraction, the table is out of the caches and each read costs a trip to memory). First
     * the n-grams ending at each character, shortest first, as langdetect's NGram emits them,
     * as codes (UTF-16 code units, the first lowest), each slot's line fetched ahead. */
    Py_ssize_t count = 0;
    uint64_t one = 0, two = 0, three = 0;
    int upper_before = 0;
    for (Py_ssize_t e = 0; e < n; e++) {
        const Py_UCS4 ch = PyUnicode_READ(kind, data, e);
        const uint64_t unit = code_unit(ch);
        three = two | unit << 32;
        two = one | unit << 16;
        one = unit;
        const int upper = Py_UNICODE_ISUPPER(ch);
        /* NGram.add_char: a character that is upper case after an upper-case one ends none */
        const int skip = upper && upper_before;
        upper_before = upper;
        if (skip)
            continue;
        const uint64_t ending[3] = {one, two, three};
        for (Py_ssize_t k = 0; k < 3 && k <= e; k++) {
            grams[count++] = ending[k];
            __builtin_prefetch(&table[slot_of(ending[k], mask)]);
        }
    }
    /* then the slots, each row's pairs fetched ahead */
    Py_ssize_t hits = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t s = slot_of(grams[i], mask);
        while (table[s].code != grams[i] && table[s].code != EMPTY)
            s = (s + 1) & mask;
        if (table[s].code != EMPTY) {
            found[hits++] = &table[s];
            __builtin_prefetch(&pairs[table[s].first]);
        }
    }
    if (!hits) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    for (Py_ssize_t i = 0; i < hits; i++)
        for (uint32_t j = found[i]->first; j < found[i]->last; j++)
            sums[pairs[j].language] += (double)pairs[j].value - head.absent;
    result = PyList_New((Py_ssize_t)head.languages);
    if (result == NULL)
        goto done;
    for (int64_t j = 0; j < head.languages; j++) {
        PyObject *value = PyFloat_FromDouble((double)hits * head.absent + sums[j]);
        if (value == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, j, value);
    }
done:
    PyMem_Free(sums);
    PyMem_Free(found);
    PyMem_Free(grams);
    PyBuffer_Release(&index_buf);
    return result;
}

static PyMethodDef methods[] = {
    {"build_index", (PyCFunction)(void (*)(void))build_index, METH_FASTCALL,
     "build_index(codes, log_probs, absent) -> bytes: the profiles packed for log_likelihood:\n"
     "a hash table over the codes (row i of log_probs is codes[i]'s) and, per row, the values\n"
     "that differ from `absent`."},
    {"log_likelihood", (PyCFunction)(void (*)(void))log_likelihood, METH_FASTCALL,
     "log_likelihood(spaced, index) -> list[float] | None: per-language sums of the profile rows\n"
     "of the 1-3-grams of a spaced sample (None when no n-gram is in a profile)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "monitors._ngrams",
    "Compiled n-gram sums for monitors.language (optional: its numpy path gives the same results).",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__ngrams(void)
{
    return PyModule_Create(&module);
}
