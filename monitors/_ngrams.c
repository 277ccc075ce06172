/* Language log-likelihoods in one call: the compiled twin of monitors/ngram_profiles.py's numpy
 * path.
 *
 * build_index(codes) -> bytes: an open-addressing hash table (linear probing) from an n-gram's
 * code to its row (codes[i] is row i's; the sentinel 2**64 - 1 is left out).
 *
 * log_likelihood(spaced, index, log_probs) -> list[float] | None sums, for each language, the
 * rows of log_probs of the 1-, 2- and 3-grams starting at each character of `spaced`
 * (langdetect's n-grams of a cleaned sample, as monitors.ngram_profiles._spaced builds it), or
 * None when no n-gram is in a profile.
 *
 * It computes exactly what _window_codes + _found_rows + the row sum compute, without a numpy
 * call per step (right after a page's extraction, each numpy call costs 10-35 us of cold code:
 * a one-off measurement; bench/stages.py measures the whole stage).
 * Exactly: every float32 value is a multiple of 2**-23 between -10 and -1, so the double sums
 * of count * value here and of value there are both exact, hence equal.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    int64_t slots; /* a power of two */
    int64_t rows;  /* 1 + the highest row indexed */
} Header;

/* A slot of the hash table: an n-gram's code (EMPTY for a free slot) and its row. */
typedef struct {
    uint64_t code;
    uint64_t row;
} Slot;

#define EMPTY UINT64_MAX

static Py_ssize_t
index_size(const Header *head)
{
    return (Py_ssize_t)(sizeof(Header) + head->slots * sizeof(Slot));
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
build_index(PyObject *Py_UNUSED(module), PyObject *arg)
{
    Py_buffer codes_buf;
    if (PyObject_GetBuffer(arg, &codes_buf, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) < 0)
        return NULL;
    PyObject *index = NULL;
    const size_t format_len = codes_buf.format ? strlen(codes_buf.format) : 0;
    const char kind = format_len ? codes_buf.format[format_len - 1] : 'B'; /* 'Q' or 'L': uint64 */
    if (codes_buf.ndim != 1 || codes_buf.itemsize != 8 || (kind != 'Q' && kind != 'L')) {
        PyErr_SetString(PyExc_ValueError, "codes must be a C-contiguous uint64 array");
        goto done;
    }
    const uint64_t *codes = (const uint64_t *)codes_buf.buf;
    const int64_t n = codes_buf.shape[0];
    Header head = {16, 0};
    while (head.slots < 2 * n) /* a load factor of at most 1/2 */
        head.slots *= 2;
    const uint64_t mask = (uint64_t)head.slots - 1;
    index = PyBytes_FromStringAndSize(NULL, index_size(&head));
    if (index == NULL)
        goto done;
    Slot *table = (Slot *)(PyBytes_AS_STRING(index) + sizeof(Header));
    for (int64_t s = 0; s < head.slots; s++)
        table[s] = (Slot){EMPTY, 0};
    for (int64_t row = 0; row < n; row++) {
        if (codes[row] == EMPTY)
            continue;
        uint64_t s = slot_of(codes[row], mask);
        while (table[s].code != EMPTY && table[s].code != codes[row])
            s = (s + 1) & mask;
        if (table[s].code == EMPTY) { /* a repeated code keeps its first row, as a search would */
            table[s] = (Slot){codes[row], (uint64_t)row};
            head.rows = row + 1;
        }
    }
    memcpy(PyBytes_AS_STRING(index), &head, sizeof(Header));
done:
    PyBuffer_Release(&codes_buf);
    return index;
}

static PyObject *
log_likelihood(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "log_likelihood(spaced: str, index, log_probs) takes 3 arguments");
        return NULL;
    }
    PyObject *text = args[0];
    Py_buffer index_buf, probs_buf;
    if (PyObject_GetBuffer(args[1], &index_buf, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[2], &probs_buf, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) < 0) {
        PyBuffer_Release(&index_buf);
        return NULL;
    }
    PyObject *result = NULL;
    uint64_t *codes = NULL;
    uint32_t *counts = NULL;
    int32_t *local = NULL;
    uint64_t *rows = NULL;
    double *sums = NULL;
    Header head = {0, 0};
    if (index_buf.len >= (Py_ssize_t)sizeof(Header))
        memcpy(&head, index_buf.buf, sizeof(Header));
    if (index_buf.len < (Py_ssize_t)sizeof(Header) || index_buf.len != index_size(&head)
        || ((uintptr_t)index_buf.buf % sizeof(uint64_t)) != 0) {
        PyErr_SetString(PyExc_ValueError, "index is not (an aligned copy of) what build_index returned");
        goto done;
    }
    if (probs_buf.ndim != 2 || probs_buf.itemsize != 4 || probs_buf.format == NULL
        || strcmp(probs_buf.format, "f") != 0 || probs_buf.shape[0] < head.rows) {
        PyErr_SetString(PyExc_ValueError, "log_probs must be C-contiguous float32, a row per indexed code");
        goto done;
    }
    const Slot *table = (const Slot *)((const char *)index_buf.buf + sizeof(Header));
    const uint64_t mask = (uint64_t)head.slots - 1;
    const float *probs = (const float *)probs_buf.buf;
    const Py_ssize_t languages = probs_buf.shape[1];

    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (n > (INT32_MAX - 1) / 3) { /* n-gram numbers are int32 */
        PyErr_SetString(PyExc_ValueError, "spaced is too long: cut the sample first");
        goto done;
    }
    /* The sample's distinct n-grams (codes[d], seen counts[d] times: a common one such as "e"
     * or " d" comes back dozens of times), found through a local hash table of their numbers
     * (-1: free); then the rows of those in a profile. */
    const Py_ssize_t most = 3 * n + 1;
    Py_ssize_t local_slots = 16;
    while (local_slots < 2 * most)
        local_slots *= 2;
    const uint64_t local_mask = (uint64_t)local_slots - 1;
    codes = PyMem_Malloc((size_t)most * sizeof(uint64_t));
    counts = PyMem_Malloc((size_t)most * sizeof(uint32_t));
    local = PyMem_Malloc((size_t)local_slots * sizeof(int32_t));
    rows = PyMem_Malloc((size_t)most * sizeof(uint64_t));
    sums = PyMem_Calloc((size_t)(languages ? languages : 1), sizeof(double));
    if (codes == NULL || counts == NULL || local == NULL || rows == NULL || sums == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memset(local, 0xFF, (size_t)local_slots * sizeof(int32_t));

    /* The lookups are independent: issue them all before waiting on any (right after a page's
     * extraction, the table is out of the caches and each read costs a trip to memory). First
     * the n-grams ending at each character, shortest first, as langdetect's NGram emits them,
     * as codes (UTF-16 code units, the first lowest), each new one's slot fetched ahead. */
    Py_ssize_t distinct = 0;
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
            uint64_t s = slot_of(ending[k], local_mask);
            while (local[s] >= 0 && codes[local[s]] != ending[k])
                s = (s + 1) & local_mask;
            if (local[s] >= 0) {
                counts[local[s]]++;
                continue;
            }
            local[s] = (int32_t)distinct;
            codes[distinct] = ending[k];
            counts[distinct++] = 1;
            __builtin_prefetch(&table[slot_of(ending[k], mask)]);
        }
    }
    /* then their rows, each fetched ahead */
    Py_ssize_t hits = 0;
    for (Py_ssize_t d = 0; d < distinct; d++) {
        uint64_t s = slot_of(codes[d], mask);
        while (table[s].code != codes[d] && table[s].code != EMPTY)
            s = (s + 1) & mask;
        if (table[s].code != EMPTY) {
            const float *row = probs + table[s].row * (uint64_t)languages;
            for (Py_ssize_t j = 0; j < languages; j += 16)
                __builtin_prefetch(row + j);
            counts[hits] = counts[d]; /* hits <= d: an entry already read */
            rows[hits++] = table[s].row;
        }
    }
    if (!hits) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    for (Py_ssize_t h = 0; h < hits; h++) {
        const double times = (double)counts[h];
        const float *row = probs + rows[h] * (uint64_t)languages;
        for (Py_ssize_t j = 0; j < languages; j++)
            sums[j] += times * (double)row[j];
    }
    result = PyList_New(languages);
    if (result == NULL)
        goto done;
    for (Py_ssize_t j = 0; j < languages; j++) {
        PyObject *value = PyFloat_FromDouble(sums[j]);
        if (value == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, j, value);
    }
done:
    PyMem_Free(sums);
    PyMem_Free(rows);
    PyMem_Free(local);
    PyMem_Free(counts);
    PyMem_Free(codes);
    PyBuffer_Release(&probs_buf);
    PyBuffer_Release(&index_buf);
    return result;
}

static PyMethodDef methods[] = {
    {"build_index", build_index, METH_O,
     "build_index(codes) -> bytes: a hash table from each code to its position (row) in codes,\n"
     "for log_likelihood (the sentinel 2**64 - 1 is left out)."},
    {"log_likelihood", (PyCFunction)(void (*)(void))log_likelihood, METH_FASTCALL,
     "log_likelihood(spaced, index, log_probs) -> list[float] | None: per-language sums of the\n"
     "rows of log_probs of the 1-3-grams of a spaced sample (None when none is in a profile)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "monitors._ngrams",
    .m_doc = "Compiled n-gram sums for monitors.ngram_profiles (optional: its numpy path gives the same"
             " results).",
    .m_size = 0, /* no state: nothing to keep per interpreter */
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__ngrams(void)
{
    return PyModule_Create(&module);
}
