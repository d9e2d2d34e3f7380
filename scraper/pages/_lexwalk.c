/* The steps of request-page parsing that visit many nodes, in C (docs/parsing.md,
 * "Parsing speed and the C module").
 *
 * This module reads the tree selectolax has already parsed: it is handed nodes
 * (a LexborNode or its address, LexborNode.mem_id) and walks them with Lexbor's
 * exported accessors, found in selectolax's loaded extension by dlsym.  Each
 * function does what a Python function of scraper.pages does, step for step:
 * block_text and inline_text (text.py), the thread query and its grouping
 * (request._group_thread_python), attachment items (request._attachment), the
 * nesting scan (depth.nesting_depth_python) and a few byte scans.  The Python
 * functions stay the reference and the fallback, and the tests compare the two.
 *
 * Nothing here knows Lexbor's numeric tag ids or its struct layouts: the tag
 * ids come from Python at set-up, and the few words read directly (a node's
 * links and tag, a text node's characters, a document's quirks mode, a
 * LexborNode's fields) are found on probe nodes where the accessors say they
 * are, and checked.  Whatever it cannot read exactly as Python would (text
 * that is not valid UTF-8, a quirks-mode page) it declines by returning None,
 * and the caller does it in Python.
 */
#define _GNU_SOURCE /* memmem */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

typedef void node_t;
typedef uintptr_t tag_t;

/* Lexbor's accessors, used at set-up to find where a node keeps its links and tag;
 * the walks then read those words directly (the accessors are one read each, but
 * a call through a pointer apiece costs more than the walk itself). */
static node_t *(*lxb_first_child)(node_t *);
static node_t *(*lxb_next)(node_t *);
static node_t *(*lxb_prev)(node_t *);
static node_t *(*lxb_parent)(node_t *);
static tag_t (*lxb_tag)(node_t *);
enum { FIRST_CHILD, NEXT, PREV, PARENT, TAG, N_FIELDS };
static Py_ssize_t field_offset[N_FIELDS];

#define FIELD(node, which) (*(void *const *)((const char *)(node) + field_offset[which]))
static inline node_t *first_child(node_t *node) { return FIELD(node, FIRST_CHILD); }
static inline node_t *next_sibling(node_t *node) { return FIELD(node, NEXT); }
static inline node_t *prev_sibling(node_t *node) { return FIELD(node, PREV); }
static inline node_t *parent_of(node_t *node) { return FIELD(node, PARENT); }
static inline tag_t tag_of(node_t *node) { return (tag_t)FIELD(node, TAG); }
static unsigned (*node_type)(node_t *);
#define DOCUMENT_NODE 9 /* the DOM's nodeType, as Lexbor numbers it */
static void *(*first_attribute)(node_t *);
static void *(*id_attribute)(node_t *);
static void *(*class_attribute)(node_t *);
static void *(*next_attribute)(void *);
static const unsigned char *(*qualified_name)(void *, size_t *);
static const unsigned char *(*attr_value)(void *, size_t *);

typedef struct {
    const unsigned char *data;
    size_t length;
} str_t; /* lexbor_str_t's first two fields */

static Py_ssize_t text_offset = -1; /* where a text node keeps its lexbor_str_t */
static tag_t text_tag, br_tag;

#define TAG_BITS 2048
static unsigned char block_tags[TAG_BITS / 8], skip_tags[TAG_BITS / 8];

static int in_set(const unsigned char *set, tag_t tag) {
    return tag < TAG_BITS && (set[tag >> 3] & (1u << (tag & 7)));
}

/* ------------------------------------------------------------------ buffer */

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

static int buf_grow(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra) cap *= 2;
    char *data = PyMem_Realloc(b->data, cap);
    if (data == NULL) return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

static int buf_put(buf_t *b, const char *s, size_t n) {
    if (buf_grow(b, n) < 0) return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static int buf_byte(buf_t *b, char c) {
    if (b->len == b->cap && buf_grow(b, 1) < 0) return -1;
    b->data[b->len++] = c;
    return 0;
}

/* ------------------------------------------------------------------ UTF-8 */

/* True when s[0:n] is UTF-8 that Python's strict decoder accepts. */
static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            /* ASCII runs 32 bytes, then 8, at a time */
            uint64_t words[4];
            while (i + 32 <= n && (memcpy(words, s + i, 32),
                                   ((words[0] | words[1] | words[2] | words[3]) & 0x8080808080808080ULL) == 0))
                i += 32;
            if (i + 8 <= n && (memcpy(words, s + i, 8), (words[0] & 0x8080808080808080ULL) == 0)) i += 8;
            else if (s[i] < 0x80) i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) { need = 2; lo = 0xA0; }
        else if (c >= 0xE1 && c <= 0xEC) need = 2;
        else if (c == 0xED) { need = 2; hi = 0x9F; }
        else if (c >= 0xEE && c <= 0xEF) need = 2;
        else if (c == 0xF0) { need = 3; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else if (c == 0xF4) { need = 3; hi = 0x8F; }
        else return 0;
        if (i + need >= n) return 0; /* cut short */
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
        i += need + 1;
    }
    return 1;
}

/* The code point at s[*i] (valid UTF-8), moving *i past it. */
static Py_UCS4 next_char(const unsigned char *s, size_t *i) {
    unsigned char c = s[*i];
    if (c < 0x80) { *i += 1; return c; }
    if (c < 0xE0) { Py_UCS4 cp = ((c & 0x1F) << 6) | (s[*i + 1] & 0x3F); *i += 2; return cp; }
    if (c < 0xF0) {
        Py_UCS4 cp = ((c & 0x0F) << 12) | ((s[*i + 1] & 0x3F) << 6) | (s[*i + 2] & 0x3F);
        *i += 3;
        return cp;
    }
    Py_UCS4 cp = ((c & 0x07) << 18) | ((s[*i + 1] & 0x3F) << 12) | ((s[*i + 2] & 0x3F) << 6) | (s[*i + 3] & 0x3F);
    *i += 4;
    return cp;
}

/* ------------------------------------------------------------------ normalising */

/* Python's whitespace among ASCII: str.split() splits at these. */
static unsigned char ascii_space[128];

static void init_ascii_space(void) {
    for (Py_UCS4 c = 0; c < 128; c++) ascii_space[c] = Py_UNICODE_ISSPACE(c) ? 1 : 0;
}

/* Py_UNICODE_ISSPACE reads its argument twice: never hand it a call. */
static int is_space(Py_UCS4 ch) { return Py_UNICODE_ISSPACE(ch); }

#define PARA 0x00
#define LINE 0x01

/* normalise_paragraphs over valid UTF-8 s[0:n], into out (emptied first):
 * paragraphs (split at PARA) joined by a blank line, each paragraph's lines
 * (split at LINE) with whitespace runs made one space and stripped, empty lines
 * at a paragraph's ends dropped, empty paragraphs dropped, and no run of more
 * than two newlines anywhere.  Whitespace is Python's str.split() whitespace.
 * The text never grows by more than twice: a PARA becomes at most two
 * newlines, a LINE at most one, and everything else is copied or dropped. */
static int normalise(const unsigned char *s, size_t n, buf_t *out) {
    out->len = 0;
    if (buf_grow(out, 2 * n + 1) < 0) return -1;
    unsigned char *o = (unsigned char *)out->data;
    size_t w = 0, k = 0;
    /* One pass.  A word is written as it is met, after what is owed before it: the
     * paragraph's blank line (before its first word, when a paragraph was written),
     * a newline (two when empty lines came between) before a line's first word, or
     * a space between words. */
    int any_para = 0;     /* a paragraph with words was written */
    int para_words = 0;   /* this paragraph has a line with words */
    int line_words = 0;   /* this line has a word */
    int space = 0;        /* whitespace since the line's last word */
    int blank = 0;        /* an empty line since the paragraph's last line with words */
    while (k < n) {
        unsigned char c = s[k];
        size_t end = k + 1; /* the character's end */
        if (c < 0x80) {
            if (c == PARA) {
                any_para |= para_words;
                para_words = line_words = space = blank = 0;
                k = end;
                continue;
            }
            if (c == LINE) {
                blank |= para_words && !line_words;
                line_words = space = 0;
                k = end;
                continue;
            }
            if (ascii_space[c]) {
                space = 1;
                k = end;
                continue;
            }
        } else {
            end = k;
            Py_UCS4 ch = next_char(s, &end);
            if (is_space(ch)) {
                space = 1;
                k = end;
                continue;
            }
        }
        /* a word starts at k */
        if (!line_words) {
            if (para_words) {
                o[w++] = '\n';
                if (blank) o[w++] = '\n'; /* empty lines between: one blank line, as Python squeezes them */
            } else if (any_para) {
                o[w++] = '\n';
                o[w++] = '\n';
            }
            para_words = line_words = 1;
            blank = 0;
        } else if (space) {
            o[w++] = ' ';
        }
        space = 0;
        /* copy the word: to the next whitespace or mark */
        while (k < end) o[w++] = s[k++];
        for (;;) {
            while (k < n && s[k] >= 0x20 && s[k] < 0x80 && !ascii_space[s[k]]) o[w++] = s[k++];
            if (k >= n || s[k] < 0x80) break; /* whitespace, a mark, a control character or the end */
            size_t after = k;
            if (is_space(next_char(s, &after))) break;
            while (k < after) o[w++] = s[k++];
        }
    }
    out->len = w;
    return 0;
}

/* Whether a set-up step has run; if not, a RuntimeError naming it. */
static int set_up(int done, const char *step) {
    if (!done) PyErr_Format(PyExc_RuntimeError, "_lexwalk.%s() has not run", step);
    return done;
}

/* ------------------------------------------------------------------ the walk */

static int ready = 0, text_ready = 0; /* setup() and text_setup() have run */

static const str_t *text_of(node_t *node) {
    return (const str_t *)((const char *)node + text_offset);
}

static int inside(node_t *node, node_t *ancestor) {
    for (node_t *p = parent_of(node); p != NULL; p = parent_of(p))
        if (p == ancestor) return 1;
    return 0;
}

#define MAX_LEFT_OUT 8

typedef struct {
    node_t *nodes[MAX_LEFT_OUT];
    int count;
} left_out_t;

static int is_left_out(const left_out_t *out, node_t *node) {
    for (int i = 0; i < out->count; i++)
        if (out->nodes[i] == node) return 1;
    return 0;
}

/* The raw text of root's subtree with PARA and LINE marks, as block_text builds it,
 * the left-out subtrees passed over as if removed.  Returns 1 when done, 0 when a
 * text is not valid UTF-8, -1 on memory error. */
static int walk(node_t *root, const left_out_t *out, buf_t *raw) {
    node_t *node = root, *skip_until = NULL;
    for (;;) {
        int descend = 1;
        tag_t tag = tag_of(node);
        if (out->count && node != root && is_left_out(out, node)) {
            descend = 0;
        } else if (tag == text_tag) {
            if (skip_until == NULL || !inside(node, skip_until)) {
                node_t *prev = prev_sibling(node);
                while (prev != NULL && out->count && is_left_out(out, prev)) prev = prev_sibling(prev);
                if (prev != NULL && in_set(block_tags, tag_of(prev)) && buf_byte(raw, PARA) < 0) return -1;
                const str_t *text = text_of(node);
                if (text->data != NULL) {
                    if (!valid_utf8(text->data, text->length)) return 0;
                    if (buf_put(raw, (const char *)text->data, text->length) < 0) return -1;
                }
            }
        } else if (tag == br_tag) {
            if (buf_byte(raw, LINE) < 0) return -1;
        } else if (in_set(block_tags, tag)) {
            if (buf_byte(raw, PARA) < 0) return -1;
        } else if (in_set(skip_tags, tag)) {
            skip_until = node;
        }
        node_t *child = descend ? first_child(node) : NULL;
        if (child != NULL) {
            node = child;
            continue;
        }
        while (node != root && next_sibling(node) == NULL) node = parent_of(node);
        if (node == root) return 1;
        node = next_sibling(node);
    }
}

static node_t *node_arg(PyObject *arg) {
    void *node = PyLong_AsVoidPtr(arg);
    if (node == NULL && !PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "a node address cannot be 0");
    return node;
}

static PyObject *finish(buf_t *out) {
    PyObject *result = PyUnicode_DecodeUTF8(out->data ? out->data : "", (Py_ssize_t)out->len, "strict");
    PyMem_Free(out->data);
    return result;
}

/* block_text(address, left_out): text.block_text of the node at this address, the
 * nodes at the addresses in left_out (a tuple) passed over; None to decline. */
/* The text of root without the left-out subtrees: a str, or NULL with *declined set
 * (a text that is not valid UTF-8) or with an exception. */
static PyObject *text_of_tree(node_t *root, const left_out_t *left_out, int *declined) {
    buf_t raw = {0}, out = {0};
    int done = walk(root, left_out, &raw);
    if (done <= 0) {
        PyMem_Free(raw.data);
        if (done < 0) return PyErr_NoMemory();
        *declined = 1;
        return NULL;
    }
    int failed = normalise((const unsigned char *)raw.data, raw.len, &out);
    PyMem_Free(raw.data);
    if (failed) {
        PyMem_Free(out.data);
        return PyErr_NoMemory();
    }
    return finish(&out);
}

static PyObject *block_text(PyObject *self, PyObject *args) {
    PyObject *address, *left_out_addresses;
    if (!PyArg_ParseTuple(args, "OO!", &address, &PyTuple_Type, &left_out_addresses)) return NULL;
    if (!set_up(text_ready, "text_setup")) return NULL;
    node_t *root = node_arg(address);
    if (root == NULL) return NULL;
    left_out_t left_out = {{NULL}, 0};
    Py_ssize_t count = PyTuple_GET_SIZE(left_out_addresses);
    if (count > MAX_LEFT_OUT) Py_RETURN_NONE; /* more than a message has: Python does it */
    for (Py_ssize_t i = 0; i < count; i++) {
        left_out.nodes[i] = node_arg(PyTuple_GET_ITEM(left_out_addresses, i));
        if (left_out.nodes[i] == NULL) return NULL;
    }
    left_out.count = (int)count;
    int declined = 0;
    PyObject *text = text_of_tree(root, &left_out, &declined);
    if (text == NULL && declined) Py_RETURN_NONE;
    return text;
}

static PyObject *normalise_paragraphs(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(arg, &n);
    if (s == NULL) return NULL;
    if (!valid_utf8((const unsigned char *)s, (size_t)n)) Py_RETURN_NONE; /* lone surrogates */
    buf_t out = {0};
    if (normalise((const unsigned char *)s, (size_t)n, &out) < 0) {
        PyMem_Free(out.data);
        return PyErr_NoMemory();
    }
    return finish(&out);
}


/* ------------------------------------------------------------------ thread items */

/* The thread query of scraper.pages.request (_THREAD_QUERY, and _OLD_THREAD_QUERY
 * with old set) answered by one walk, and its nodes grouped into items as
 * request._group_thread_python does.  The walk matches classes as Lexbor does
 * in a document that is not in quirks mode (case-sensitive words split at ASCII
 * whitespace); a quirks-mode document is declined. */

static tag_t div_tag, time_tag, p_tag, span_tag, a_tag, h2_tag;
static int thread_ready = 0; /* the tag ids are known, and LexborNodes can be made */
static Py_ssize_t node_offset = -1, parser_offset = -1; /* in a LexborNode object */
static PyObject *mem_id_name, *parser_name, *no_args;

typedef struct {
    const unsigned char *data; /* NULL: the attribute is absent or has no value */
    size_t len;
} attr_t;

/* The classes the thread and attachment selectors name, as bits: an element's
 * class attribute is split once (at ASCII whitespace, as CSS splits it) and each
 * word looked up here; a selector's class is then one bit test.  Matching is
 * case-sensitive, as Lexbor's outside quirks mode. */
enum {
    C_CORRESPONDENCE = 1u << 0,
    C_COMMENT_IN_REQUEST = 1u << 1,
    C_CORRESPONDENCE_TEXT = 1u << 2,
    C_ATTACHMENTS = 1u << 3,
    C_CORRESPONDENCE_HEADER_FROM = 1u << 4,
    C_CORRESPONDENCE_HEADER_FROM_WITH_DELIVERY_STATUS = 1u << 5,
    C_CORRESPONDENCE_HEADER_AUTHOR = 1u << 6,
    C_UNFOLD_LINK = 1u << 7,
    C_CORRESPONDENCE_HEADER_DATE = 1u << 8,
    C_TOGGLE_DELIVERY_LOG = 1u << 9,
    C_HIDDEN_MESSAGE = 1u << 10,
    C_EVENT_PLAIN = 1u << 11,
    C_HIDDEN_ATTACHMENT = 1u << 12,
    C_ATTACHMENT_NAME = 1u << 13,
    C_ATTACHMENT_META = 1u << 14,
    C_ATTACHMENT = 1u << 15,
};
static const char *const class_names[] = {
    "correspondence",
    "comment_in_request",
    "correspondence_text",
    "attachments",
    "correspondence__header__from",
    "correspondence__header__from--with-delivery-status",
    "correspondence__header__author",
    "unfold_link",
    "correspondence__header__date",
    "toggle-delivery-log",
    "hidden_message",
    "event_plain",
    "hidden_attachment",
    "attachment__name",
    "attachment__meta",
    "attachment",
};

static size_t class_lengths[sizeof class_names / sizeof *class_names];

static void init_class_lengths(void) {
    for (size_t k = 0; k < sizeof class_names / sizeof *class_names; k++) class_lengths[k] = strlen(class_names[k]);
}

static unsigned class_bits(attr_t a) {
    unsigned bits = 0;
    size_t i = 0;
    if (a.data == NULL) return 0;
    while (i < a.len) {
        unsigned char c = a.data[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r') {
            i++;
            continue;
        }
        size_t word = i;
        while (i < a.len && (c = a.data[i]) != ' ' && c != '\t' && c != '\n' && c != '\f' && c != '\r') i++;
        size_t n = i - word;
        if (n < 10 || a.data[word] < 'a' || a.data[word] > 'u') continue; /* every name is 10+ letters from a to u */
        for (size_t k = 0; k < sizeof class_names / sizeof *class_names; k++)
            if (class_lengths[k] == n && memcmp(a.data + word, class_names[k], n) == 0) {
                bits |= 1u << k;
                break;
            }
    }
    return bits;
}

typedef struct {
    attr_t cls, id, datetime;
    int has_id;
    unsigned classes; /* class_bits(cls) */
} attrs_t;

/* class, id and datetime as selectolax's LexborNode.attributes gives them (by
 * qualified name, the last of a name winning). */
static attr_t value_of(void *attr) {
    attr_t a = {NULL, 0};
    if (attr != NULL) {
        a.data = attr_value(attr, &a.len);
        if (a.data == NULL) a.len = 0;
    }
    return a;
}

/* The value of the last attribute with this qualified name, as the dict of
 * LexborNode.attributes keeps it; *present, when given: whether there is one. */
static attr_t named_attribute(node_t *node, const char *wanted, int *present) {
    size_t want = strlen(wanted);
    attr_t value = {NULL, 0};
    if (present != NULL) *present = 0;
    for (void *attr = first_attribute(node); attr != NULL; attr = next_attribute(attr)) {
        size_t n = 0;
        const unsigned char *name = qualified_name(attr, &n);
        if (name != NULL && n == want && memcmp(name, wanted, n) == 0) {
            value = value_of(attr);
            if (present != NULL) *present = 1;
        }
    }
    return value;
}

/* class and id as selectolax's LexborNode.attributes gives them: the element's own
 * id and class attributes, which Lexbor keeps a link to (and its selectors read),
 * and, with want_datetime, the datetime attribute (by name, the last of a name
 * winning as in the dict). */
static void read_attrs(node_t *node, attrs_t *a, int want_datetime) {
    void *id = id_attribute(node);
    a->cls = value_of(class_attribute(node));
    a->id = value_of(id);
    a->has_id = id != NULL;
    a->datetime.data = NULL;
    a->datetime.len = 0;
    if (want_datetime) a->datetime = named_attribute(node, "datetime", NULL);
    a->classes = class_bits(a->cls);
}

/* For string literals only (the "" makes anything else fail to compile). */
#define contains(a, needle) contains_n(a, "" needle, sizeof(needle) - 1)
#define starts_with(a, prefix) starts_with_n(a, "" prefix, sizeof(prefix) - 1)
#define equals(a, text) equals_n(a, "" text, sizeof(text) - 1)

static int contains_n(attr_t a, const char *needle, size_t n) {
    if (a.data == NULL || a.len < n) return 0;
    for (size_t i = 0; i + n <= a.len; i++)
        if (a.data[i] == (unsigned char)needle[0] && memcmp(a.data + i, needle, n) == 0) return 1;
    return 0;
}

static int starts_with_n(attr_t a, const char *prefix, size_t n) {
    return a.data != NULL && a.len >= n && memcmp(a.data, prefix, n) == 0;
}

static int equals_n(attr_t a, const char *text, size_t n) {
    return a.data != NULL && a.len == n && memcmp(a.data, text, n) == 0;
}

/* Python's `token in value.split()`; -1 when a is not valid UTF-8 (the caller declines). */
static int has_token(attr_t a, const char *token) {
    if (a.data == NULL) return 0;
    if (!valid_utf8(a.data, a.len)) return -1;
    size_t n = strlen(token), i = 0;
    while (i < a.len) {
        size_t at = i;
        if (is_space(next_char(a.data, &at))) {
            i = at;
            continue;
        }
        size_t word = i;
        while (i < a.len) {
            at = i;
            if (is_space(next_char(a.data, &at))) break;
            i = at;
        }
        if (i - word == n && memcmp(a.data + word, token, n) == 0) return 1;
    }
    return 0;
}

/* How many of "a.<a_class> time" and "h2 time" a time matches: an ancestor (up to
 * the document) that is an a with the class, and one that is an h2. */
static int under_a_and_h2(node_t *node, unsigned a_class) {
    attrs_t a;
    int under_a = 0, under_h2 = 0;
    for (node_t *p = parent_of(node); p != NULL && !(under_a && under_h2); p = parent_of(p)) {
        tag_t tag = tag_of(p);
        if (tag == h2_tag) under_h2 = 1;
        else if (tag == a_tag && !under_a) {
            read_attrs(p, &a, 0);
            if (a.classes & a_class) under_a = 1;
        }
    }
    return under_a + under_h2;
}

static int under_div(node_t *node, unsigned div_class) {
    attrs_t a;
    for (node_t *p = parent_of(node); p != NULL; p = parent_of(p)) {
        if (tag_of(p) == div_tag) {
            read_attrs(p, &a, 0);
            if (a.classes & div_class) return 1;
        }
    }
    return 0;
}

/* How many selectors of the thread query this element matches (Lexbor returns
 * an element once per selector it matches). */
static int thread_matches(node_t *node, tag_t tag, const attrs_t *a, int old) {
    if (tag == div_tag) {
        int n = !!(a->classes & C_CORRESPONDENCE) + !!(a->classes & C_COMMENT_IN_REQUEST)
                + !!(a->classes & C_CORRESPONDENCE_TEXT) + !!(a->classes & C_ATTACHMENTS);
        if (a->has_id && under_div(node, C_CORRESPONDENCE_TEXT)) n++;
        if (old)
            n += !!(a->classes & C_CORRESPONDENCE_HEADER_FROM)
                 + !!(a->classes & C_CORRESPONDENCE_HEADER_FROM_WITH_DELIVERY_STATUS);
        return n;
    }
    if (tag == span_tag)
        return !!(a->classes & (C_CORRESPONDENCE_HEADER_AUTHOR | C_UNFOLD_LINK));
    if (tag == time_tag) return under_a_and_h2(node, C_CORRESPONDENCE_HEADER_DATE);
    if (tag == a_tag) return !!(a->classes & C_TOGGLE_DELIVERY_LOG) + (old && !!(a->classes & C_CORRESPONDENCE_HEADER_DATE));
    if (tag == p_tag)
        return !!(a->classes & (C_HIDDEN_MESSAGE | C_EVENT_PLAIN | C_HIDDEN_ATTACHMENT)) || equals(a->id, "hidden_message");
    if (tag == h2_tag) return old;
    return 0;
}

/* The document holding node: 0 no quirks, 1 quirks, 2 limited quirks (Lexbor's compat_mode);
 * 1 too for a node in no document (the walks then decline, as in quirks mode). */
static int compat_mode(node_t *node) {
    node_t *top = node;
    for (node_t *p = parent_of(node); p != NULL; p = parent_of(p)) top = p;
    if (node_type(top) != DOCUMENT_NODE) return 1;
    return *(const int *)((const char *)top + text_offset); /* the field after the document's node */
}

/* The node of a LexborNode to walk from: 1 with *root set; 0 when the walks must
 * decline (its document is in quirks mode, or it is in none); -1 with an exception. */
static int walk_root(PyObject *lexbor_node, node_t **root) {
    if (!set_up(thread_ready, "thread_setup")) return -1;
    PyObject *address = PyObject_GetAttr(lexbor_node, mem_id_name);
    if (address == NULL) return -1;
    *root = node_arg(address);
    Py_DECREF(address);
    if (*root == NULL) return -1;
    return compat_mode(*root) != 1;
}

/* The next element of root's subtree after node, in document order (NULL at the end). */
static node_t *following(node_t *root, node_t *node) {
    node_t *child = first_child(node);
    if (child != NULL) return child;
    while (node != root && next_sibling(node) == NULL) node = parent_of(node);
    return node == root ? NULL : next_sibling(node);
}

static int thread_tag(tag_t tag) {
    return tag == div_tag || tag == span_tag || tag == time_tag || tag == a_tag || tag == p_tag || tag == h2_tag;
}

/* thread_nodes(root, old): the addresses the thread query finds under the node at
 * this address (itself included), each once per selector it matches, in page
 * order; None in a quirks-mode document.  For tests: request uses group_thread. */
static PyObject *thread_nodes(PyObject *self, PyObject *args) {
    PyObject *root_obj;
    int old;
    if (!PyArg_ParseTuple(args, "Op", &root_obj, &old)) return NULL;
    if (!set_up(thread_ready, "thread_setup")) return NULL;
    node_t *root = node_arg(root_obj);
    if (root == NULL) return NULL;
    if (compat_mode(root) == 1) Py_RETURN_NONE;
    PyObject *found = PyList_New(0);
    if (found == NULL) return NULL;
    attrs_t a;
    for (node_t *node = root; node != NULL; node = following(root, node)) {
        tag_t tag = tag_of(node);
        if (!thread_tag(tag)) continue;
        read_attrs(node, &a, tag == time_tag);
        for (int n = thread_matches(node, tag, &a, old); n > 0; n--) {
            PyObject *address = PyLong_FromVoidPtr(node);
            if (address == NULL || PyList_Append(found, address) < 0) {
                Py_XDECREF(address);
                Py_DECREF(found);
                return NULL;
            }
            Py_DECREF(address);
        }
    }
    return found;
}

/* A LexborNode for this node of the tree parser owns, made as selectolax makes one. */
static PyObject *make_node(PyTypeObject *type, PyObject *parser, node_t *node) {
    PyObject *obj = type->tp_new(type, no_args, NULL);
    if (obj == NULL) return NULL;
    *(node_t **)((char *)obj + node_offset) = node;
    PyObject **slot = (PyObject **)((char *)obj + parser_offset);
    Py_INCREF(parser);
    Py_XSETREF(*slot, parser);
    /* It refers to its parser alone, and nothing it refers to refers back to it, so
     * it cannot be part of a cycle: the garbage collector need not track it (which,
     * for a page's thousands of nodes, costs more than reading them). */
    if (PyObject_GC_IsTracked(obj)) PyObject_GC_UnTrack(obj);
    return obj;
}

/* A tuple holding only untracked objects (strings, None, bools, ints and the nodes
 * above) cannot be part of a cycle either (CPython untracks such tuples itself at
 * its next collection). */
static PyObject *untracked(PyObject *tuple) {
    if (tuple != NULL && PyObject_GC_IsTracked(tuple)) PyObject_GC_UnTrack(tuple);
    return tuple;
}

/* The parts of an item, in the order of request._Parts's fields. */
enum { AUTHOR, TIME, TIME_NODE, DELIVERY, HIDDEN, PLAIN, TEXT, ATTACHMENTS, BODY, UNFOLD, NOTICE, H2, FROM_DIV,
       DATE_LINK, BODY_TEXT, DELIVERY_STATUS, N_PARTS };

static PyObject *decoded(attr_t a, int none_when_absent) {
    if (a.data == NULL) {
        if (none_when_absent) Py_RETURN_NONE;
        return PyUnicode_FromStringAndSize("", 0);
    }
    return PyUnicode_DecodeUTF8((const char *)a.data, (Py_ssize_t)a.len, "replace");
}

typedef struct {
    PyTypeObject *type;
    PyObject *parser;
    PyObject *parts; /* the current item's (borrowed from the result list) */
    int old;         /* the old query (before 2018) */
} grouping_t;

/* Set part `which` of the current item to the node, unless it is set already. */
static int first(grouping_t *g, int which, node_t *node) {
    if (PyTuple_GET_ITEM(g->parts, which) != Py_None) return 0;
    PyObject *obj = make_node(g->type, g->parser, node);
    if (obj == NULL) return -1;
    Py_DECREF(Py_None);
    PyTuple_SET_ITEM(g->parts, which, obj);
    return 0;
}

static PyObject *new_parts(PyTypeObject *parts_type) {
    PyObject *parts = parts_type->tp_alloc(parts_type, N_PARTS);
    if (parts == NULL) return NULL;
    for (int i = 0; i < N_PARTS; i++) {
        Py_INCREF(Py_None);
        PyTuple_SET_ITEM(parts, i, Py_None);
    }
    return untracked(parts); /* it will hold nodes, strings and None only */
}

/* Open an item at this div: append (node, id, class, parts) to groups. */
static int open_item(grouping_t *g, PyObject *groups, PyTypeObject *parts_type, node_t *node, const attrs_t *a) {
    PyObject *parts = new_parts(parts_type);
    PyObject *obj = parts ? make_node(g->type, g->parser, node) : NULL;
    PyObject *id = obj ? decoded(a->id, 0) : NULL;
    PyObject *cls = id ? decoded(a->cls, 0) : NULL;
    PyObject *item = cls ? untracked(PyTuple_Pack(4, obj, id, cls, parts)) : NULL;
    int failed = item == NULL || PyList_Append(groups, item) < 0;
    Py_XDECREF(item);
    Py_XDECREF(cls);
    Py_XDECREF(id);
    Py_XDECREF(obj);
    Py_XDECREF(parts);
    if (failed) return -1;
    g->parts = parts; /* groups holds it */
    return 0;
}

/* Sort one node met by the query into the current item (request._group_thread_python's branches). */
static int sort_part(grouping_t *g, node_t *node, tag_t tag, const attrs_t *a) {
    if (tag == div_tag) {
        if (contains(a->cls, "correspondence_text")) return first(g, TEXT, node);
        int attachments = has_token(a->cls, "attachments");
        if (attachments < 0) return -2;
        if (attachments) return first(g, ATTACHMENTS, node);
        if (starts_with(a->cls, "correspondence__header__from")) return first(g, FROM_DIV, node);
        if (starts_with(a->id, "attachment-")) return first(g, BODY, node);
        return 0;
    }
    if (tag == time_tag) {
        if (PyTuple_GET_ITEM(g->parts, TIME) != Py_None) return 0;
        PyObject *when = decoded(a->datetime, 1);
        if (when == NULL) return -1;
        Py_SETREF(PyTuple_GET_ITEM(g->parts, TIME), when);
        if (g->old) { /* time_node is read only beside an h2 (before 2018), which only the old query finds */
            PyObject *obj = make_node(g->type, g->parser, node);
            if (obj == NULL) return -1;
            /* as in Python: the node follows the time, even while the time stays None */
            Py_SETREF(PyTuple_GET_ITEM(g->parts, TIME_NODE), obj);
        }
        return 0;
    }
    if (tag == p_tag) {
        if (contains(a->cls, "event_plain")) return first(g, PLAIN, node);
        if (contains(a->cls, "hidden_attachment")) return first(g, NOTICE, node);
        if (contains(a->cls, "hidden_message") || equals(a->id, "hidden_message")) return first(g, HIDDEN, node);
        return 0;
    }
    if (tag == span_tag) {
        if (contains(a->cls, "correspondence__header__author")) return first(g, AUTHOR, node);
        if (contains(a->cls, "unfold_link")) return first(g, UNFOLD, node);
        return 0;
    }
    if (tag == a_tag) return first(g, contains(a->cls, "correspondence__header__date") ? DATE_LINK : DELIVERY, node);
    if (tag == h2_tag) return first(g, H2, node);
    return 0;
}


static PyObject *attribute_str(node_t *node, const char *wanted, int *present);

/* The node of a LexborNode made here or by selectolax (its field found at set-up). */
static node_t *node_of(PyObject *lexbor_node) { return *(node_t **)((char *)lexbor_node + node_offset); }

/* request._body_text: an incoming item's body wrapper (else its text) without its box of
 * attachments, fold link and notice; any other item's text as it is; None without a text. */
static PyObject *body_text_of(PyObject *node_id, PyObject *parts, int *declined) {
    PyObject *text = PyTuple_GET_ITEM(parts, TEXT);
    if (text == Py_None) Py_RETURN_NONE;
    left_out_t left_out = {{NULL}, 0};
    node_t *root = node_of(text);
    Py_ssize_t n;
    const char *id = PyUnicode_AsUTF8AndSize(node_id, &n);
    if (id == NULL) return NULL;
    if (n >= 9 && memcmp(id, "incoming-", 9) == 0) {
        PyObject *body = PyTuple_GET_ITEM(parts, BODY);
        if (body != Py_None) root = node_of(body);
        const int kinds[] = {ATTACHMENTS, UNFOLD, NOTICE};
        for (int i = 0; i < 3; i++)
            if (PyTuple_GET_ITEM(parts, kinds[i]) != Py_None)
                left_out.nodes[left_out.count++] = node_of(PyTuple_GET_ITEM(parts, kinds[i]));
    }
    return text_of_tree(root, &left_out, declined);
}

/* request._delivery_status: the data-delivery-status attribute, else the suffix of the
 * last toggle-delivery-log--<status> class; None when that is empty or there is none. */
static PyObject *delivery_status_of(PyObject *delivery, int *declined) {
    if (delivery == Py_None) Py_RETURN_NONE;
    node_t *node = node_of(delivery);
    PyObject *status = attribute_str(node, "data-delivery-status", NULL);
    if (status == NULL || PyUnicode_GET_LENGTH(status) > 0) return status;
    Py_DECREF(status);
    attrs_t a;
    read_attrs(node, &a, 0);
    if (a.cls.data == NULL) Py_RETURN_NONE;
    if (!valid_utf8(a.cls.data, a.cls.len)) {
        *declined = 1;
        return NULL;
    }
    static const char prefix[] = "toggle-delivery-log--";
    const size_t prefix_len = sizeof prefix - 1;
    size_t i = 0, found = 0, found_end = 0;
    int any = 0;
    while (i < a.cls.len) { /* the words of str.split(), the last with the prefix counting */
        size_t at = i;
        if (is_space(next_char(a.cls.data, &at))) {
            i = at;
            continue;
        }
        size_t word = i;
        while (i < a.cls.len) {
            at = i;
            if (is_space(next_char(a.cls.data, &at))) break;
            i = at;
        }
        if (i - word >= prefix_len && memcmp(a.cls.data + word, prefix, prefix_len) == 0) {
            any = 1;
            found = word + prefix_len;
            found_end = i;
        }
    }
    if (!any || found_end == found) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8((const char *)a.cls.data + found, (Py_ssize_t)(found_end - found), "strict");
}

/* Set what request._finish_parts derives from each item's parts. 0, -1 on error, -2 to decline. */
static int finish_items(PyObject *groups) {
    if (!text_ready) return -2; /* block_text is not set up: Python reads the texts */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(groups); i++) {
        PyObject *group = PyList_GET_ITEM(groups, i);
        PyObject *node_id = PyTuple_GET_ITEM(group, 1), *parts = PyTuple_GET_ITEM(group, 3);
        int declined = 0;
        PyObject *body = body_text_of(node_id, parts, &declined);
        PyObject *status = body != NULL ? delivery_status_of(PyTuple_GET_ITEM(parts, DELIVERY), &declined) : NULL;
        if (status == NULL) {
            Py_XDECREF(body);
            return declined ? -2 : -1;
        }
        Py_SETREF(PyTuple_GET_ITEM(parts, BODY_TEXT), body);
        Py_SETREF(PyTuple_GET_ITEM(parts, DELIVERY_STATUS), status);
    }
    return 0;
}

/* group_thread(left, old, parts_type): request._group_thread in one walk over the
 * LexborNode left: [(item node, its id, its class, parts)], or None to decline
 * (a quirks-mode document, or a class that is not valid UTF-8). */
static PyObject *group_thread(PyObject *self, PyObject *args) {
    PyObject *left;
    int old;
    PyTypeObject *parts_type;
    if (!PyArg_ParseTuple(args, "OpO!", &left, &old, &PyType_Type, &parts_type)) return NULL;
    node_t *root;
    int usable = walk_root(left, &root);
    if (usable <= 0) return usable < 0 ? NULL : Py_NewRef(Py_None);
    grouping_t g = {Py_TYPE(left), PyObject_GetAttr(left, parser_name), NULL, old};
    if (g.parser == NULL) return NULL;
    PyObject *groups = PyList_New(0);
    if (groups == NULL) {
        Py_DECREF(g.parser);
        return NULL;
    }
    attrs_t a;
    int status = 0;
    for (node_t *node = root; node != NULL && status == 0; node = following(root, node)) {
        tag_t tag = tag_of(node);
        if (!thread_tag(tag) || (tag != div_tag && g.parts == NULL)) continue;
        read_attrs(node, &a, tag == time_tag);
        int matches = thread_matches(node, tag, &a, old);
        if (matches == 0) continue;
        if (tag == div_tag) {
            int opens = has_token(a.cls, "correspondence");
            if (opens == 0) opens = has_token(a.cls, "comment_in_request");
            if (opens < 0) {
                status = -2;
                break;
            }
            if (opens) { /* an item per selector matched, as the query returns it */
                while (matches-- > 0 && status == 0) status = open_item(&g, groups, parts_type, node, &a);
                continue;
            }
            if (g.parts == NULL) continue;
        }
        status = sort_part(&g, node, tag, &a);
    }
    Py_DECREF(g.parser);
    if (status == 0) status = finish_items(groups);
    if (status == 0) return groups;
    Py_DECREF(groups);
    if (status == -2) Py_RETURN_NONE;
    return NULL;
}



/* ------------------------------------------------------------------ attachments */

/* The boxes of attachments read as request._attachment reads each item, for every
 * box (request._canonical_attachments is a faster Python path for today's boxes
 * only, and gives the same fields). */

static tag_t li_tag, em_tag, strong_tag, img_tag;

/* " ".join(s.split()) over valid UTF-8, appended to out. */
static int collapse(const unsigned char *s, size_t n, buf_t *out) {
    if (buf_grow(out, n) < 0) return -1;
    unsigned char *o = (unsigned char *)out->data;
    size_t w = out->len, start = out->len, k = 0;
    while (k < n) {
        unsigned char c = s[k];
        if (c < 0x80) {
            if (ascii_space[c]) {
                k++;
                continue;
            }
        } else {
            size_t at = k;
            if (is_space(next_char(s, &at))) {
                k = at;
                continue;
            }
        }
        if (w > start) o[w++] = ' ';
        for (;;) {
            while (k < n && s[k] < 0x80 && !ascii_space[s[k]]) o[w++] = s[k++];
            if (k >= n || s[k] < 0x80) break;
            size_t at = k;
            if (is_space(next_char(s, &at))) break;
            while (k < at) o[w++] = s[k++];
        }
    }
    out->len = w;
    return 0;
}

/* Append the bytes of every text node under node (not node itself), in page order. */
static int deep_text(node_t *node, buf_t *raw) {
    for (node_t *n = following(node, node); n != NULL; n = following(node, n)) {
        if (tag_of(n) != text_tag) continue;
        const str_t *text = text_of(n);
        if (text->data != NULL && buf_put(raw, (const char *)text->data, text->length) < 0) return -1;
    }
    return 0;
}

/* A str from collapsed raw bytes: "" or None when empty as asked; NULL with
 * *declined set when the bytes are not valid UTF-8. */
static PyObject *collapsed(buf_t *raw, int none_when_empty, int *declined) {
    buf_t out = {0};
    PyObject *result = NULL;
    if (!valid_utf8((const unsigned char *)raw->data, raw->len)) *declined = 1;
    else if (collapse((const unsigned char *)raw->data, raw->len, &out) < 0) PyErr_NoMemory();
    else if (out.len == 0 && none_when_empty) result = Py_NewRef(Py_None);
    else result = PyUnicode_DecodeUTF8(out.data ? out.data : "", (Py_ssize_t)out.len, "strict");
    PyMem_Free(out.data);
    PyMem_Free(raw->data);
    raw->data = NULL;
    raw->len = raw->cap = 0;
    return result;
}

/* text.inline_text: all the text under node on one line. */
static PyObject *inline_of(node_t *node, int *declined) {
    buf_t raw = {0};
    if (deep_text(node, &raw) < 0) {
        PyMem_Free(raw.data);
        return PyErr_NoMemory();
    }
    return collapsed(&raw, 0, declined);
}

/* One text node's text collapsed, None when that leaves nothing. */
static PyObject *text_node_collapsed(node_t *node, int *declined) {
    buf_t raw = {0};
    const str_t *text = text_of(node);
    if (text->data != NULL && buf_put(&raw, (const char *)text->data, text->length) < 0) return PyErr_NoMemory();
    return collapsed(&raw, 1, declined);
}


/* inline_text(address): text.inline_text of the node at this address (all its text,
 * its own if it is a text node, on one line); None to decline (not valid UTF-8). */
static PyObject *inline_text(PyObject *self, PyObject *arg) {
    if (!set_up(ready, "setup")) return NULL;
    node_t *node = node_arg(arg);
    if (node == NULL) return NULL;
    buf_t raw = {0};
    int declined = 0;
    if (tag_of(node) == text_tag) {
        const str_t *text = text_of(node);
        if (text->data != NULL && buf_put(&raw, (const char *)text->data, text->length) < 0) return PyErr_NoMemory();
    }
    if (deep_text(node, &raw) < 0) {
        PyMem_Free(raw.data);
        return PyErr_NoMemory();
    }
    PyObject *result = collapsed(&raw, 0, &declined);
    if (result == NULL && declined && !PyErr_Occurred()) Py_RETURN_NONE;
    return result;
}

/* request._first_text: the first text child's text, collapsed; None when none or empty. */
static PyObject *first_text_of(node_t *node, int *declined) {
    for (node_t *child = first_child(node); child != NULL; child = next_sibling(child))
        if (tag_of(child) == text_tag) return text_node_collapsed(child, declined);
    Py_RETURN_NONE;
}

/* request._text_after_br: old attachments' size, the first text after the <br>. */
static PyObject *text_after_br(node_t *item, int *declined) {
    int seen_br = 0;
    for (node_t *child = first_child(item); child != NULL; child = next_sibling(child)) {
        tag_t tag = tag_of(child);
        if (tag == br_tag) seen_br = 1;
        else if (seen_br && tag == text_tag) {
            PyObject *text = text_node_collapsed(child, declined);
            if (text != Py_None) return text; /* a text, or NULL */
            Py_DECREF(text);
        } else if (seen_br && tag == a_tag) break;
    }
    Py_RETURN_NONE;
}

/* The attribute of this qualified name as selectolax's LexborNode.attributes gives it
 * (the last of the name wins) as a str, "" when it is absent or has no value (as
 * `attrs.get(name) or ""`); *present, when given: whether the element has one. */
static PyObject *attribute_str(node_t *node, const char *wanted, int *present) {
    attr_t value = named_attribute(node, wanted, present);
    if (value.data == NULL) return PyUnicode_FromStringAndSize("", 0);
    return PyUnicode_DecodeUTF8((const char *)value.data, (Py_ssize_t)value.len, "replace");
}

static int str_contains(PyObject *text, const char *needle) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    attr_t a = {(const unsigned char *)s, (size_t)n};
    return s != NULL && contains_n(a, needle, strlen(needle));
}

typedef struct {
    PyObject *download, *html_view; /* borrowed-free: owned references or NULL */
} links_t;

/* request._LinkFields.link */
static void link_met(links_t *l, PyObject *href) {
    if (str_contains(href, "/attach/html/")) {
        if (l->html_view == NULL) l->html_view = Py_NewRef(href);
    } else if (str_contains(href, "/attach/")) {
        if (l->download == NULL) l->download = Py_NewRef(href);
    }
}

/* request._LinkFields.image */
static void icon_link_met(links_t *l, PyObject *href) {
    if (l->download == NULL && str_contains(href, "/attach/") && !str_contains(href, "/attach/html/"))
        l->download = Py_NewRef(href);
}


/* request._ATTACH_PART.search(href) (r"/attach/(?:html/)?(\d+)/") on an ASCII href:
 * the part number, or -1 for no match; -2 when the href is not ASCII or the number
 * is too long to hold (the caller declines: Python's \d reads other digits too). */
static long long attach_part(PyObject *href) {
    Py_ssize_t n;
    const unsigned char *s = (const unsigned char *)PyUnicode_AsUTF8AndSize(href, &n);
    if (s == NULL) return -3;
    for (Py_ssize_t i = 0; i < n; i++)
        if (s[i] >= 0x80) return -2;
    static const char marker[] = "/attach/";
    const size_t marker_len = sizeof marker - 1;
    for (size_t i = 0; i + marker_len <= (size_t)n; i++) {
        if (s[i] != '/' || memcmp(s + i, marker, marker_len) != 0) continue;
        size_t k = i + marker_len;
        if ((size_t)n - k >= 5 && memcmp(s + k, "html/", 5) == 0) k += 5;
        size_t digits = k;
        long long value = 0;
        while (k < (size_t)n && s[k] >= '0' && s[k] <= '9') {
            if (k - digits >= 18) return -2;
            value = value * 10 + (s[k] - '0');
            k++;
        }
        if (k > digits && k < (size_t)n && s[k] == '/') return value;
    }
    return -1;
}

static PyObject *part_object(long long part) {
    if (part == -1) Py_RETURN_NONE;
    return PyLong_FromLongLong(part);
}

/* The fields of one item, as request._attachment gathers them:
 * (digits of its id or None, name, size, download, view, icon, hidden, noted, old style,
 * (the part the download link names, the view link's) with None where no part is named). */
static PyObject *item_fields(node_t *item, PyObject *icon_of, int *declined) {
    attrs_t a;
    read_attrs(item, &a, 0);
    PyObject *item_id = starts_with(a.id, "attachment-")
                            ? PyUnicode_DecodeUTF8((const char *)a.id.data + 11, (Py_ssize_t)a.id.len - 11, "replace")
                            : Py_NewRef(Py_None);
    PyObject *name = PyUnicode_FromStringAndSize("", 0), *size = Py_NewRef(Py_None), *icon = Py_NewRef(Py_None);
    links_t links = {NULL, NULL};
    int hidden = 0, noted = 0, old_style = tag_of(item) == p_tag, failed = item_id == NULL || name == NULL;
    for (node_t *node = item; node != NULL && !failed && !*declined; node = following(item, node)) {
        tag_t tag = tag_of(node);
        if (tag == span_tag) {
            read_attrs(node, &a, 0);
            if (a.classes & C_HIDDEN_ATTACHMENT) {
                hidden = 1;
                break; /* a hidden attachment shows only the notice */
            }
        } else if (tag == p_tag) {
            read_attrs(node, &a, 0);
            if (!(a.classes & (C_ATTACHMENT_NAME | C_ATTACHMENT_META))) continue;
            if (contains(a.cls, "attachment__name")) {
                PyObject *text = inline_of(node, declined);
                if (text == NULL) failed = !*declined;
                else Py_SETREF(name, text);
            } else if (contains(a.cls, "attachment__meta") && size == Py_None) {
                PyObject *text = first_text_of(node, declined);
                if (text == NULL) failed = !*declined;
                else Py_SETREF(size, text);
            }
        } else if (tag == a_tag) {
            int present;
            PyObject *href = attribute_str(node, "href", &present);
            if (href == NULL) failed = 1;
            else {
                if (present) link_met(&links, href);
                Py_DECREF(href);
            }
        } else if (tag == em_tag) {
            noted = 1;
        } else if (tag == strong_tag) {
            if (old_style && PyUnicode_GET_LENGTH(name) == 0) {
                PyObject *text = inline_of(node, declined);
                if (text == NULL) failed = !*declined;
                else Py_SETREF(name, text);
            }
        } else if (tag == img_tag) {
            PyObject *src = attribute_str(node, "src", NULL);
            PyObject *found = src ? PyObject_CallOneArg(icon_of, src) : NULL;
            Py_XDECREF(src);
            if (found == NULL) {
                failed = 1;
                break;
            }
            if (found != Py_None) Py_SETREF(icon, found);
            else Py_DECREF(found);
            node_t *parent = parent_of(node);
            if (parent != NULL && tag_of(parent) == a_tag) {
                PyObject *href = attribute_str(parent, "href", NULL);
                if (href == NULL) failed = 1;
                else {
                    icon_link_met(&links, href);
                    Py_DECREF(href);
                }
            }
        }
    }
    if (!failed && !*declined && old_style && size == Py_None) {
        PyObject *text = text_after_br(item, declined);
        if (text == NULL) failed = !*declined;
        else Py_SETREF(size, text);
    }
    /* the part each link names, for request._attachment_record (read here from ASCII links) */
    long long download_part = -1, view_part = -1;
    if (!failed && !*declined && links.download != NULL) download_part = attach_part(links.download);
    if (!failed && !*declined && links.html_view != NULL && download_part > -2) view_part = attach_part(links.html_view);
    if (download_part == -3 || view_part == -3) failed = 1;
    else if (download_part == -2 || view_part == -2) *declined = 1;
    PyObject *result = NULL, *parts = NULL;
    if (!failed && !*declined) {
        PyObject *first = part_object(download_part), *second = first ? part_object(view_part) : NULL;
        parts = second ? untracked(PyTuple_Pack(2, first, second)) : NULL;
        Py_XDECREF(first);
        Py_XDECREF(second);
    }
    if (parts != NULL)
        result = untracked(PyTuple_Pack(10, item_id, name, size, links.download ? links.download : Py_None,
                                        links.html_view ? links.html_view : Py_None, icon, hidden ? Py_True : Py_False,
                                        noted ? Py_True : Py_False, old_style ? Py_True : Py_False, parts));
    Py_XDECREF(parts);
    Py_XDECREF(item_id);
    Py_XDECREF(name);
    Py_XDECREF(size);
    Py_XDECREF(icon);
    Py_XDECREF(links.download);
    Py_XDECREF(links.html_view);
    return result;
}

/* attachment_fields(box, icon_of): every li.attachment under the LexborNode box
 * (else every p.attachment), each as item_fields gives it; None to decline (a
 * quirks-mode document, or a text that is not valid UTF-8).  icon_of is
 * request._icon. */
static PyObject *attachment_fields(PyObject *self, PyObject *args) {
    PyObject *box, *icon_of;
    if (!PyArg_ParseTuple(args, "OO", &box, &icon_of)) return NULL;
    node_t *root;
    int usable = walk_root(box, &root);
    if (usable <= 0) return usable < 0 ? NULL : Py_NewRef(Py_None);
    PyObject *found = PyList_New(0);
    if (found == NULL) return NULL;
    int declined = 0;
    attrs_t a;
    for (int pass = 0; pass < 2 && PyList_GET_SIZE(found) == 0; pass++) {
        tag_t wanted = pass == 0 ? li_tag : p_tag;
        for (node_t *node = root; node != NULL; node = following(root, node)) {
            if (tag_of(node) != wanted) continue;
            read_attrs(node, &a, 0);
            if (!(a.classes & C_ATTACHMENT)) continue;
            PyObject *fields = item_fields(node, icon_of, &declined);
            if (fields == NULL || PyList_Append(found, fields) < 0) {
                Py_XDECREF(fields);
                Py_DECREF(found);
                if (declined && !PyErr_Occurred()) Py_RETURN_NONE;
                return NULL;
            }
            Py_DECREF(fields);
        }
    }
    return found;
}


/* ------------------------------------------------------------------ nesting */

/* nesting_depth(html, stop, not_counted): depth.nesting_depth in one pass over
 * the bytes (see depth.py for the estimate): lower-cased, comments and raw-text
 * elements cut out, "<name" adding one and "</name" taking one away (never below
 * zero) unless the name is in not_counted, stray end tags added back at the end.
 * stop < 0: no stop. */

typedef struct {
    const unsigned char *name; /* into the cut, lower-cased text */
    size_t len;
    Py_ssize_t starts, ends;
} tally_t;

typedef struct {
    tally_t *slots;
    size_t cap, used;
} tallies_t;

static size_t name_hash(const unsigned char *name, size_t len) {
    size_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ name[i]) * 1099511628211ULL;
    return h;
}

static tally_t *tally_of(tallies_t *t, const unsigned char *name, size_t len) {
    if (2 * (t->used + 1) > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        tally_t *slots = PyMem_Calloc(cap, sizeof *slots);
        if (slots == NULL) return NULL;
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].name != NULL) {
                size_t j = name_hash(t->slots[i].name, t->slots[i].len) & (cap - 1);
                while (slots[j].name != NULL) j = (j + 1) & (cap - 1);
                slots[j] = t->slots[i];
            }
        PyMem_Free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    size_t j = name_hash(name, len) & (t->cap - 1);
    while (t->slots[j].name != NULL) {
        if (t->slots[j].len == len && memcmp(t->slots[j].name, name, len) == 0) return &t->slots[j];
        j = (j + 1) & (t->cap - 1);
    }
    t->slots[j].name = name;
    t->slots[j].len = len;
    t->used++;
    return &t->slots[j];
}

static const char *const raw_text_names[] = {"script", "style", "textarea", "title", "xmp", "iframe", "noembed",
                                             "noframes"};

static int bytes_space(unsigned char c) { /* \s of a bytes pattern */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}


static unsigned char lower_byte(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c; }

static int bytes_space_or_end(unsigned char c) { return bytes_space(c) || c == '/' || c == '>'; }

/* depth._without_raw_text(html.lower()) into out (n bytes at most). */
static size_t cut_raw_text(const unsigned char *html, size_t n, unsigned char *out) {
    size_t w = 0, pos = 0, i = 0;
    while (i < n) {
        const unsigned char *lt = memchr(html + i, '<', n - i);
        if (lt == NULL) break;
        i = (size_t)(lt - html);
        const char *marker = NULL;
        size_t marker_len = 0, after = 0;
        char close[16];
        if (i + 4 <= n && memcmp(html + i + 1, "!--", 3) == 0) {
            marker = "-->";
            marker_len = 3;
            after = i + 4;
        } else {
            for (size_t k = 0; k < sizeof raw_text_names / sizeof *raw_text_names && marker == NULL; k++) {
                size_t len = strlen(raw_text_names[k]);
                if (i + 1 + len < n && bytes_space_or_end(html[i + 1 + len])) {
                    size_t m = 0;
                    while (m < len && (html[i + 1 + m] | 0x20) == raw_text_names[k][m]
                           && ((html[i + 1 + m] >= 'a' && html[i + 1 + m] <= 'z') || (html[i + 1 + m] >= 'A' && html[i + 1 + m] <= 'Z')))
                        m++;
                    if (m == len) {
                        close[0] = '<';
                        close[1] = '/';
                        memcpy(close + 2, raw_text_names[k], len);
                        marker = close;
                        marker_len = len + 2;
                        after = i + 1 + len + 1;
                    }
                }
            }
        }
        if (marker == NULL) {
            i++;
            continue;
        }
        for (size_t k = pos; k < i; k++) out[w++] = lower_byte(html[k]);
        /* the end marker, matched case-insensitively as in the lower-cased text */
        size_t found = n, k = after;
        while (k + marker_len <= n) {
            const unsigned char *hit = memchr(html + k, marker[0], n - k - marker_len + 1);
            if (hit == NULL) break;
            k = (size_t)(hit - html);
            size_t m = 1;
            while (m < marker_len && lower_byte(html[k + m]) == (unsigned char)marker[m]) m++;
            if (m == marker_len) {
                found = k;
                break;
            }
            k++;
        }
        if (found == n) return w; /* unterminated: the rest is text to the parser too */
        pos = i = found + marker_len;
    }
    for (size_t k = pos; k < n; k++) out[w++] = lower_byte(html[k]);
    return w;
}

static PyObject *nesting_depth(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t stop;
    PyObject *not_counted;
    if (!PyArg_ParseTuple(args, "y*nO", &view, &stop, &not_counted)) return NULL;
    size_t n = (size_t)view.len;
    unsigned char *text = PyMem_Malloc(n ? n : 1);
    tallies_t tallies = {NULL, 0, 0};
    PyObject *result = NULL;
    if (text == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t len = cut_raw_text(view.buf, n, text);
    Py_ssize_t depth = 0, deepest = 0;
    for (size_t i = 0; i < len;) {
        const unsigned char *lt = memchr(text + i, '<', len - i);
        if (lt == NULL) break;
        i = (size_t)(lt - text) + 1;
        int end = i < len && text[i] == '/';
        size_t name = i + end;
        if (name >= len || text[name] < 'a' || text[name] > 'z') continue;
        size_t k = name + 1;
        while (k < len && ((text[k] >= 'a' && text[k] <= 'z') || (text[k] >= '0' && text[k] <= '9'))) k++;
        i = k;
        tally_t *tally = tally_of(&tallies, text + name, k - name);
        if (tally == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        if (tally->starts < 0) continue; /* not counted (marked below on first sight) */
        if (tally->starts == 0 && tally->ends == 0) {
            PyObject *key = PyBytes_FromStringAndSize((const char *)text + name, (Py_ssize_t)(k - name));
            int skip = key ? PySequence_Contains(not_counted, key) : -1;
            Py_XDECREF(key);
            if (skip < 0) goto done;
            if (skip) {
                tally->starts = -1;
                continue;
            }
        }
        if (end) {
            tally->ends++;
            if (depth > 0) depth--;
        } else {
            tally->starts++;
            if (++depth > deepest) {
                deepest = depth;
                if (stop >= 0 && deepest > stop) {
                    result = PyLong_FromSsize_t(deepest);
                    goto done;
                }
            }
        }
    }
    Py_ssize_t strays = 0;
    for (size_t j = 0; j < tallies.cap; j++) {
        tally_t *t = &tallies.slots[j];
        if (t->name != NULL && t->starts >= 0 && t->ends > t->starts) strays += t->ends - t->starts;
    }
    result = PyLong_FromSsize_t(deepest + strays);
done:
    PyMem_Free(text);
    PyMem_Free(tallies.slots);
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------ set-up */

/* thread_setup(tags, probe, modes): tags: the ids of div, time, p, span, a, h2, li, em, strong and img;
 * probe: a LexborNode (whose node and parser fields are found by their values);
 * modes: addresses of nodes in documents in no-quirks, quirks and limited-quirks
 * mode (where Lexbor keeps the mode is checked on them).  Raises ImportError when
 * either is not where it is looked for. */
static PyObject *thread_setup(PyObject *self, PyObject *args) {
    PyObject *probe, *modes[3];
    thread_ready = 0;
    if (!set_up(ready, "setup")) return NULL;
    if (!PyArg_ParseTuple(args, "(kkkkkkkkkk)O(OOO)", &div_tag, &time_tag, &p_tag, &span_tag, &a_tag, &h2_tag, &li_tag,
                          &em_tag, &strong_tag, &img_tag, &probe, &modes[0], &modes[1], &modes[2]))
        return NULL;
    for (int mode = 0; mode < 3; mode++) {
        node_t *node = node_arg(modes[mode]);
        if (node == NULL) return NULL;
        if (compat_mode(node) != mode) {
            PyErr_SetString(PyExc_ImportError, "a document's quirks mode is not where Lexbor keeps it");
            return NULL;
        }
    }
    PyObject *address = PyObject_GetAttr(probe, mem_id_name);
    if (address == NULL) return NULL;
    node_t *node = node_arg(address);
    Py_DECREF(address);
    PyObject *parser = node ? PyObject_GetAttr(probe, parser_name) : NULL;
    if (parser == NULL) return NULL;
    node_offset = parser_offset = -1;
    Py_ssize_t size = Py_TYPE(probe)->tp_basicsize;
    for (Py_ssize_t at = (Py_ssize_t)sizeof(PyObject); at + (Py_ssize_t)sizeof(void *) <= size; at += sizeof(void *)) {
        void *value = *(void **)((char *)probe + at);
        if (value == (void *)node && node_offset < 0) node_offset = at;
        else if (value == (void *)parser && parser_offset < 0) parser_offset = at;
    }
    Py_DECREF(parser);
    if (node_offset < 0 || parser_offset < 0) {
        PyErr_SetString(PyExc_ImportError, "a LexborNode's node and parser fields were not found");
        return NULL;
    }
    thread_ready = 1;
    Py_RETURN_NONE;
}

/* node_at(like, address): a LexborNode of like's tree for the node at this address. */
static PyObject *node_at(PyObject *self, PyObject *args) {
    PyObject *like, *address;
    if (!PyArg_ParseTuple(args, "OO", &like, &address)) return NULL;
    if (!set_up(thread_ready, "thread_setup")) return NULL;
    node_t *node = node_arg(address);
    if (node == NULL) return NULL;
    PyObject *parser = PyObject_GetAttr(like, parser_name);
    if (parser == NULL) return NULL;
    PyObject *obj = make_node(Py_TYPE(like), parser, node);
    Py_DECREF(parser);
    return obj;
}



static int fill_set(unsigned char *set, PyObject *tags) {
    memset(set, 0, TAG_BITS / 8);
    PyObject *it = PyObject_GetIter(tags);
    if (it == NULL) return -1;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        size_t tag = PyLong_AsSize_t(item);
        Py_DECREF(item);
        if (tag == (size_t)-1 && PyErr_Occurred()) break;
        if (tag >= TAG_BITS) {
            PyErr_Format(PyExc_ValueError, "tag id %zu is beyond %d", tag, TAG_BITS);
            break;
        }
        set[tag >> 3] |= (unsigned char)(1u << (tag & 7));
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}


/* The word of a node that holds what accessor gives, for every node of the probe's
 * tree; the same offset must hold for all of them.  -1 when none does. */
static Py_ssize_t offset_of(node_t *const *nodes, int count, void *(*accessor)(node_t *)) {
    for (Py_ssize_t at = 0; at < 16 * (Py_ssize_t)sizeof(void *); at += sizeof(void *)) {
        int all = 1;
        for (int i = 0; i < count && all; i++)
            all = *(void *const *)((const char *)nodes[i] + at) == accessor(nodes[i]);
        if (all) return at;
    }
    return -1;
}

/* Find where a node keeps its links and tag, on the probe text node's tree
 * (setup's probe sits in <p>, which sits in <body>, beside <head>). */
static int find_fields(node_t *probe) {
    node_t *nodes[16];
    int count = 0;
    /* the probe, its ancestors, and each one's first child and siblings */
    for (node_t *n = probe; n != NULL && count < 12; n = lxb_parent(n)) {
        nodes[count++] = n;
        node_t *child = lxb_first_child(n);
        if (child != NULL && child != probe && count < 16) nodes[count++] = child;
    }
    void *(*accessors[N_FIELDS])(node_t *) = {
        (void *(*)(node_t *))lxb_first_child, (void *(*)(node_t *))lxb_next, (void *(*)(node_t *))lxb_prev,
        (void *(*)(node_t *))lxb_parent, (void *(*)(node_t *))lxb_tag};
    for (int which = 0; which < N_FIELDS; which++) {
        field_offset[which] = offset_of(nodes, count, accessors[which]);
        if (field_offset[which] < 0) {
            PyErr_SetString(PyExc_ImportError, "a node's links or tag were not found where Lexbor keeps them");
            return -1;
        }
    }
    /* distinct words, each agreeing with its accessor on every node met */
    for (int a = 0; a < N_FIELDS; a++)
        for (int b = a + 1; b < N_FIELDS; b++)
            if (field_offset[a] == field_offset[b]) {
                PyErr_SetString(PyExc_ImportError, "a node's links and tag could not be told apart");
                return -1;
            }
    return 0;
}

/* setup(library, probe, probe_text): library: the path of selectolax's loaded Lexbor
 * extension; probe: the address of a text node whose UTF-8 bytes are probe_text.
 * Raises ImportError when an accessor or the text's place is not found. */
static PyObject *setup(PyObject *self, PyObject *args) {
    const char *library, *probe_text;
    PyObject *probe_obj;
    Py_ssize_t probe_len;
    if (!PyArg_ParseTuple(args, "sOy#", &library, &probe_obj, &probe_text, &probe_len)) return NULL;
    ready = text_ready = thread_ready = 0;
    void *lib = dlopen(library, RTLD_LAZY | RTLD_NOLOAD);
    if (lib == NULL) {
        PyErr_Format(PyExc_ImportError, "Lexbor's library is not loaded: %s", dlerror());
        return NULL;
    }
    lxb_first_child = (node_t * (*)(node_t *)) dlsym(lib, "lxb_dom_node_first_child_noi");
    lxb_next = (node_t * (*)(node_t *)) dlsym(lib, "lxb_dom_node_next_noi");
    lxb_prev = (node_t * (*)(node_t *)) dlsym(lib, "lxb_dom_node_prev_noi");
    lxb_parent = (node_t * (*)(node_t *)) dlsym(lib, "lxb_dom_node_parent_noi");
    lxb_tag = (tag_t(*)(node_t *))dlsym(lib, "lxb_dom_node_tag_id_noi");
    node_type = (unsigned (*)(node_t *))dlsym(lib, "lxb_dom_node_type_noi");
    first_attribute = (void *(*)(node_t *))dlsym(lib, "lxb_dom_element_first_attribute_noi");
    id_attribute = (void *(*)(node_t *))dlsym(lib, "lxb_dom_element_id_attribute_noi");
    class_attribute = (void *(*)(node_t *))dlsym(lib, "lxb_dom_element_class_attribute_noi");
    next_attribute = (void *(*)(void *))dlsym(lib, "lxb_dom_element_next_attribute_noi");
    qualified_name = (const unsigned char *(*)(void *, size_t *))dlsym(lib, "lxb_dom_attr_qualified_name");
    attr_value = (const unsigned char *(*)(void *, size_t *))dlsym(lib, "lxb_dom_attr_value_noi");
    dlclose(lib); /* RTLD_NOLOAD took a reference; selectolax keeps the library loaded */
    if (!lxb_first_child || !lxb_next || !lxb_prev || !lxb_parent || !lxb_tag || !node_type || !first_attribute || !next_attribute
        || !id_attribute || !class_attribute || !qualified_name || !attr_value) {
        PyErr_SetString(PyExc_ImportError, "Lexbor's node accessors are not exported by this selectolax");
        return NULL;
    }
    node_t *probe = node_arg(probe_obj);
    if (probe == NULL) return NULL;
    if (find_fields(probe) < 0) return NULL;
    text_tag = tag_of(probe);
    /* A text node is its node struct, then its character data: find the lexbor_str_t
     * holding the probe's bytes among the first words after the node's start (a node
     * is about a dozen words). */
    text_offset = -1;
    for (Py_ssize_t at = (Py_ssize_t)sizeof(void *); at <= 24 * (Py_ssize_t)sizeof(void *); at += sizeof(void *)) {
        const str_t *candidate = (const str_t *)((const char *)probe + at);
        if (candidate->length == (size_t)probe_len && candidate->data != NULL
            && memcmp(candidate->data, probe_text, (size_t)probe_len) == 0) {
            text_offset = at;
            break;
        }
    }
    if (text_offset < 0) {
        PyErr_SetString(PyExc_ImportError, "a text node's characters were not found where Lexbor keeps them");
        return NULL;
    }
    ready = 1;
    Py_RETURN_NONE;
}

/* text_setup(br_tag, block_tags, skip_tags): what block_text compares tag ids with. */
static PyObject *text_setup(PyObject *self, PyObject *args) {
    PyObject *blocks, *skips;
    text_ready = 0;
    if (!set_up(ready, "setup")) return NULL;
    if (!PyArg_ParseTuple(args, "kOO", &br_tag, &blocks, &skips)) return NULL;
    if (fill_set(block_tags, blocks) < 0 || fill_set(skip_tags, skips) < 0) return NULL;
    text_ready = 1;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ page bytes */

/* The number of bytes equal to byte in s[0:n]: 255-byte blocks counted in 8-bit lanes,
 * a loop the compiler turns into vector compares. */
static size_t count_in(const unsigned char *s, size_t n, unsigned char byte) {
    size_t count = 0, i = 0;
    while (i < n) {
        size_t block = n - i < 255 ? n - i : 255;
        unsigned char lanes = 0;
        for (size_t k = 0; k < block; k++) lanes += s[i + k] == byte;
        count += lanes;
        i += block;
    }
    return count;
}

/* count_byte(data, byte): data.count(bytes([byte])). */
static PyObject *count_byte(PyObject *self, PyObject *args) {
    Py_buffer view;
    unsigned char byte;
    if (!PyArg_ParseTuple(args, "y*b", &view, &byte)) return NULL;
    size_t count = count_in(view.buf, (size_t)view.len, byte);
    PyBuffer_Release(&view);
    return PyLong_FromSize_t(count);
}

/* request_ids(data, end): the digits of every /request/<digits>/(response|followups|report)/
 * in data[:end], as re.findall(rb"/request/(\d+)/(?:response|followups|report)/", data, 0, end)
 * gives them (left to right, not overlapping). */
static PyObject *request_ids(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t end;
    if (!PyArg_ParseTuple(args, "y*n", &view, &end)) return NULL;
    const unsigned char *s = view.buf;
    size_t n = (size_t)(end < 0 ? 0 : end < view.len ? end : view.len), pos = 0;
    static const char prefix[] = "/request/", *tails[] = {"response/", "followups/", "report/"};
    const size_t prefix_len = sizeof prefix - 1;
    PyObject *found = PyList_New(0);
    while (found != NULL && pos + prefix_len <= n) {
        const unsigned char *at = memmem(s + pos, n - pos, prefix, prefix_len);
        if (at == NULL) break;
        size_t start = (size_t)(at - s), digits = start + prefix_len, k = digits, matched = 0;
        while (k < n && s[k] >= '0' && s[k] <= '9') k++;
        if (k > digits && k < n && s[k] == '/') {
            for (int t = 0; t < 3 && !matched; t++) {
                size_t len = strlen(tails[t]);
                if (k + 1 + len <= n && memcmp(s + k + 1, tails[t], len) == 0) matched = k + 1 + len;
            }
        }
        if (matched) {
            PyObject *item = PyBytes_FromStringAndSize((const char *)s + digits, (Py_ssize_t)(k - digits));
            if (item == NULL || PyList_Append(found, item) < 0) Py_CLEAR(found);
            Py_XDECREF(item);
            pos = matched;
        } else {
            pos = start + 1;
        }
    }
    PyBuffer_Release(&view);
    return found;
}

/* utf8_valid(data): whether data.decode("utf-8") succeeds. */
static PyObject *utf8_valid(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    int valid = valid_utf8(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyBool_FromLong(valid);
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS, "Find Lexbor's accessors and where a text node keeps its text; ImportError when not."},
    {"text_setup", text_setup, METH_VARARGS, "The tag ids block_text compares with: br, blocks, skipped."},
    {"count_byte", count_byte, METH_VARARGS, "data.count(bytes([byte]))"},
    {"utf8_valid", utf8_valid, METH_O, "Whether data.decode('utf-8') succeeds."},
    {"nesting_depth", nesting_depth, METH_VARARGS, "depth.nesting_depth(html, stop) in one pass; stop < 0 for none."},
    {"request_ids", request_ids, METH_VARARGS, "The numeric request ids of the action and attachment links in data[:end]."},
    {"inline_text", inline_text, METH_O, "text.inline_text of the node at this address; None to decline."},
    {"block_text", block_text, METH_VARARGS,
     "The plain text of the node at this address, as scraper.pages.text.block_text makes it; None to decline."},
    {"normalise_paragraphs", normalise_paragraphs, METH_O,
     "scraper.pages.text.normalise_paragraphs in C; None for text that is not valid UTF-8 (lone surrogates)."},
    {"thread_setup", thread_setup, METH_VARARGS,
     "Learn the thread's tag ids and where LexborNode and Lexbor keep what the walk reads; ImportError when it cannot."},
    {"node_at", node_at, METH_VARARGS, "A LexborNode of like's tree for the node at this address."},
    {"thread_nodes", thread_nodes, METH_VARARGS,
     "The addresses the thread query finds under a node, once per selector matched; None in quirks mode."},
    {"attachment_fields", attachment_fields, METH_VARARGS,
     "The fields of every attachment in a box, as request._attachment reads them; None to decline."},
    {"group_thread", group_thread, METH_VARARGS,
     "scraper.pages.request._group_thread in one walk: [(item, id, class, parts)], or None to decline."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_lexwalk", "Message bodies as plain text, read in C.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__lexwalk(void) {
    init_ascii_space();
    init_class_lengths();
    mem_id_name = PyUnicode_InternFromString("mem_id");
    parser_name = PyUnicode_InternFromString("parser");
    no_args = PyTuple_New(0);
    if (mem_id_name == NULL || parser_name == NULL || no_args == NULL) return NULL;
    return PyModule_Create(&module);
}
