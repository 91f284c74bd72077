/* aioami._speedups: the full-parse hot path of aioami.message in C (optional).
 *
 * parse_fast(frames: list[bytes], cls: type) -> list[cls | None]
 *
 * Each frame is "Key: Value" lines joined by CRLF (its terminating CRLF CRLF removed). A frame
 * whose lines all hold ": " with unique keys becomes cls() filled with str keys and values
 * (UTF-8, errors replaced). Anything else -- a line without ": ", a bare LF or CR, a repeated
 * key, the legacy "Response: Follows" -- gives None, and message.py parses that frame with its
 * careful Python path. The result is exactly what the pure-Python parser gives; a property test
 * holds the two to that.
 *
 * Speed comes from scanning each frame once and from a small cache of key objects: AMI header
 * names repeat endlessly, so keys are decoded once, interned, and their hashes reused.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define KEY_SLOTS 1024 /* power of two */
#define KEY_MAX 64

typedef struct {
    PyObject *key; /* an interned str, or NULL */
    Py_ssize_t len;
    char bytes[KEY_MAX];
} KeySlot;

static KeySlot key_cache[KEY_SLOTS];

static const char FOLLOWS[] = "Response: Follows";

static PyObject *
cached_key(const char *p, Py_ssize_t n)
{
    if (n > KEY_MAX) {
        return PyUnicode_DecodeUTF8(p, n, "replace");
    }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (Py_ssize_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    }
    KeySlot *slot = &key_cache[h & (KEY_SLOTS - 1)];
    if (slot->key != NULL && slot->len == n && memcmp(slot->bytes, p, (size_t)n) == 0) {
        Py_INCREF(slot->key);
        return slot->key;
    }
    PyObject *key = PyUnicode_DecodeUTF8(p, n, "replace");
    if (key == NULL) {
        return NULL;
    }
    PyUnicode_InternInPlace(&key);
    Py_XDECREF(slot->key);
    Py_INCREF(key);
    slot->key = key;
    slot->len = n;
    memcpy(slot->bytes, p, (size_t)n);
    return key;
}

/* 1: parsed into msg; 0: needs the careful path; -1: a Python error is set. */
static int
parse_one(const char *data, Py_ssize_t size, PyObject *msg)
{
    if (size >= (Py_ssize_t)(sizeof(FOLLOWS) - 1) &&
        memcmp(data, FOLLOWS, sizeof(FOLLOWS) - 1) == 0) {
        return 0;
    }
    const char *end = data + size;
    const char *line = data;
    for (;;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *stop = end;
        if (nl != NULL) {
            if (nl == line || nl[-1] != '\r') {
                return 0; /* a bare LF */
            }
            stop = nl - 1;
        }
        const char *sep = NULL;
        for (const char *q = line; q + 1 < stop; q++) {
            if (*q == ':' ) {
                if (q[1] == ' ') {
                    sep = q;
                }
                break; /* the key ends at the first colon, as in the Python parser */
            }
            if (*q == '\r') {
                return 0; /* a bare CR inside the line */
            }
        }
        if (sep == NULL || memchr(sep, '\r', (size_t)(stop - sep)) != NULL) {
            return 0;
        }
        PyObject *key = cached_key(line, sep - line);
        if (key == NULL) {
            return -1;
        }
        int seen = PyDict_Contains(msg, key);
        if (seen != 0) {
            Py_DECREF(key);
            return seen < 0 ? -1 : 0; /* a repeated key */
        }
        PyObject *value = PyUnicode_DecodeUTF8(sep + 2, stop - sep - 2, "replace");
        if (value == NULL) {
            Py_DECREF(key);
            return -1;
        }
        int failed = PyDict_SetItem(msg, key, value);
        Py_DECREF(key);
        Py_DECREF(value);
        if (failed) {
            return -1;
        }
        if (nl == NULL) {
            return 1;
        }
        line = nl + 1;
    }
}

static PyObject *
parse_fast(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[0]) || !PyType_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "parse_fast(frames: list[bytes], cls: type)");
        return NULL;
    }
    PyObject *frames = args[0], *cls = args[1];
    Py_ssize_t count = PyList_GET_SIZE(frames);
    PyObject *out = PyList_New(count);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *frame = PyList_GET_ITEM(frames, i);
        if (!PyBytes_Check(frame)) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_TypeError, "frames must be bytes");
            return NULL;
        }
        PyObject *msg = PyObject_CallNoArgs(cls);
        if (msg == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        int ok = parse_one(PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame), msg);
        if (ok < 0) {
            Py_DECREF(msg);
            Py_DECREF(out);
            return NULL;
        }
        if (ok == 0) {
            Py_DECREF(msg);
            Py_INCREF(Py_None);
            msg = Py_None;
        }
        PyList_SET_ITEM(out, i, msg);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"parse_fast", (PyCFunction)(void (*)(void))parse_fast, METH_FASTCALL,
     "parse_fast(frames, cls) -> list of cls or None (None: use the careful parser)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "aioami._speedups", "C speedups for aioami.message.", -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module);
}
