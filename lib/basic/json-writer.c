/* Streams JSON into a buffer, laid out byte for byte as json-c prints a tree (pretty, spaced, "/" bare). */
#include "json-writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Deeper than any document vfioctl writes; a bound keeps the container stack fixed-size. */
#define JSON_WRITER_DEPTH_MAX 32

struct json_writer {
        char *buf;
        size_t len, alloc;
        int error;
        unsigned depth;
        bool started;   /* the top-level value has begun */
        bool key_given; /* inside an object: a key waits for its value */
        struct {
                bool object;
                bool had_children;
        } stack[JSON_WRITER_DEPTH_MAX];
};

int json_writer_new(json_writer **ret)
{
        json_writer *w = calloc(1, sizeof(*w));

        if (!w)
                return -ENOMEM;
        *ret = w;
        return 0;
}

json_writer *json_writer_free(json_writer *w)
{
        if (w)
                free(w->buf);
        free(w);
        return NULL;
}

static bool grow(json_writer *w, size_t n)
{
        size_t want;
        char *b;

        if (w->error)
                return false;
        want = w->alloc ? w->alloc : 4096;
        while (want < w->len + n + 1) {
                if (want > SIZE_MAX / 2) {
                        w->error = -ENOMEM;
                        return false;
                }
                want *= 2;
        }
        b = realloc(w->buf, want);
        if (!b) {
                w->error = -ENOMEM;
                return false;
        }
        w->buf = b;
        w->alloc = want;
        return true;
}

/* Room for n more bytes and the final NUL; the buffer is only NUL-terminated by json_writer_finish(). */
static inline bool reserve(json_writer *w, size_t n)
{
        if (!w->error && w->len + n + 1 <= w->alloc)
                return true;
        return grow(w, n);
}

static inline void put(json_writer *w, const char *s, size_t n)
{
        if (!reserve(w, n))
                return;
        memcpy(w->buf + w->len, s, n);
        w->len += n;
}

#define PUT_LITERAL(w, s) put(w, s, sizeof(s) - 1)

static void indent(json_writer *w, unsigned level)
{
        /* json-c indents by two spaces per level (JSON_C_TO_STRING_PRETTY without _PRETTY_TAB). */
        if (!reserve(w, 2 * (size_t)level))
                return;
        memset(w->buf + w->len, ' ', 2 * (size_t)level);
        w->len += 2 * (size_t)level;
}

/* json-c's escaping: the two-character forms of \b \n \r \t \f " \\, \u00xx (lower-case hex) for other
 * bytes below 0x20, everything else (DEL, UTF-8, invalid bytes) as it is. */
/*
 * The first byte in [p, end) that needs an escape, or end. Eight bytes at a time while they are all plain
 * (a listing's strings mostly are): a byte below 0x20, '"' or '\\' sets the high bit of its lane in the
 * test below ("determine if a word has a byte less than n", Hacker's Delight 6-1; bytes from 0x80 up never
 * need an escape and never set it). Whole words are read only before end.
 */
static const unsigned char *skip_plain(const unsigned char *p, const unsigned char *end)
{
        const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);

        while (end - p >= 8) {
                uint64_t v, q, b;

                memcpy(&v, p, 8);
                q = v ^ (ones * '"');
                b = v ^ (ones * '\\');
                if (((v - ones * 0x20) | (q - ones) | (b - ones)) & ~v & highs)
                        break;
                p += 8;
        }
        while (p < end && *p >= 0x20 && *p != '"' && *p != '\\')
                p++;
        return p;
}

/* json-c's escaping: the two-character forms of \b \n \r \t \f " \\, \u00xx (lower-case hex) for other
 * bytes below 0x20, everything else (DEL, UTF-8, invalid bytes) as it is. */
static void put_escaped(json_writer *w, const char *s)
{
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);

        PUT_LITERAL(w, "\"");
        for (;;) {
                const unsigned char *run = p;
                char esc[6];
                size_t n = 2;

                p = skip_plain(p, end);
                put(w, (const char *)run, (size_t)(p - run));
                if (p == end)
                        break;
                esc[0] = '\\';
                switch (*p) {
                case '\b':
                        esc[1] = 'b';
                        break;
                case '\n':
                        esc[1] = 'n';
                        break;
                case '\r':
                        esc[1] = 'r';
                        break;
                case '\t':
                        esc[1] = 't';
                        break;
                case '\f':
                        esc[1] = 'f';
                        break;
                case '"':
                case '\\':
                        esc[1] = (char)*p;
                        break;
                default:
                        memcpy(esc + 1, "u00", 3);
                        esc[4] = hex[*p >> 4];
                        esc[5] = hex[*p & 0xf];
                        n = 6;
                }
                put(w, esc, n);
                p++;
        }
        PUT_LITERAL(w, "\"");
}

/*
 * The separator and indentation before an array element or object member: "," if it is not the first,
 * then a newline and two spaces per level, as json-c prints them; then `tail` (tail_len bytes, may be 0).
 * One reservation for all of it: a listing writes this some thirty times per record.
 */
static void put_item_start(json_writer *w, const char *tail, size_t tail_len)
{
        size_t level = w->depth, n = 2 + 2 * level + tail_len;
        bool comma = w->stack[w->depth - 1].had_children;
        char *b;

        if (!reserve(w, n))
                return;
        b = w->buf + w->len;
        if (comma)
                *b++ = ',';
        *b++ = '\n';
        memset(b, ' ', 2 * level);
        b += 2 * level;
        if (tail_len)
                memcpy(b, tail, tail_len);
        w->len = (size_t)(b + tail_len - w->buf);
        w->stack[w->depth - 1].had_children = true;
}

/* What precedes any value: its separator and indentation in an array, nothing after an object's key. */
static bool value_prefix(json_writer *w)
{
        if (w->error)
                return false;
        if (w->depth == 0) {
                if (w->started) {
                        w->error = -EINVAL; /* a second top-level value */
                        return false;
                }
                w->started = true;
                return true;
        }
        if (w->stack[w->depth - 1].object) {
                if (!w->key_given) {
                        w->error = -EINVAL; /* a member without a key */
                        return false;
                }
                w->key_given = false;
                return true;
        }
        put_item_start(w, NULL, 0);
        return !w->error;
}

void json_writer_key(json_writer *w, const char *key)
{
        if (w->error)
                return;
        if (w->depth == 0 || !w->stack[w->depth - 1].object || w->key_given || !key) {
                w->error = -EINVAL;
                return;
        }
        {
                /* A key without escapes (vfioctl's all are) goes out with its separator in one copy. */
                size_t len = strlen(key);
                char quoted[64];

                if (len + 4 <= sizeof(quoted) &&
                    skip_plain((const unsigned char *)key, (const unsigned char *)key + len) ==
                            (const unsigned char *)key + len) {
                        quoted[0] = '"';
                        memcpy(quoted + 1, key, len);
                        memcpy(quoted + 1 + len, "\": ", 3);
                        put_item_start(w, quoted, len + 4);
                } else {
                        put_item_start(w, NULL, 0);
                        put_escaped(w, key);
                        PUT_LITERAL(w, ": ");
                }
        }
        w->key_given = true;
}

static void begin(json_writer *w, bool object)
{
        if (!value_prefix(w))
                return;
        if (w->depth >= JSON_WRITER_DEPTH_MAX) {
                w->error = -E2BIG;
                return;
        }
        w->stack[w->depth].object = object;
        w->stack[w->depth].had_children = false;
        w->depth++;
        if (object)
                PUT_LITERAL(w, "{");
        else
                PUT_LITERAL(w, "[");
}

static void end(json_writer *w, bool object)
{
        if (w->error)
                return;
        if (w->depth == 0 || w->stack[w->depth - 1].object != object || w->key_given) {
                w->error = -EINVAL;
                return;
        }
        w->depth--;
        /* json-c closes every container on a line of its own, empty ones too ("[\n  ]"). */
        PUT_LITERAL(w, "\n");
        indent(w, w->depth);
        if (object)
                PUT_LITERAL(w, "}");
        else
                PUT_LITERAL(w, "]");
}

void json_writer_object_begin(json_writer *w)
{
        begin(w, true);
}

void json_writer_object_end(json_writer *w)
{
        end(w, true);
}

void json_writer_array_begin(json_writer *w)
{
        begin(w, false);
}

void json_writer_array_end(json_writer *w)
{
        end(w, false);
}

void json_writer_string(json_writer *w, const char *s)
{
        if (!value_prefix(w))
                return;
        if (s)
                put_escaped(w, s);
        else
                PUT_LITERAL(w, "null");
}

void json_writer_int(json_writer *w, int64_t v)
{
        char buf[24], *p = buf + sizeof(buf);
        /* The magnitude as unsigned: -INT64_MIN does not fit in int64_t. */
        uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

        if (!value_prefix(w))
                return;
        do
                *--p = (char)('0' + u % 10);
        while (u /= 10);
        if (v < 0)
                *--p = '-';
        put(w, p, (size_t)(buf + sizeof(buf) - p));
}

void json_writer_bool(json_writer *w, bool v)
{
        if (!value_prefix(w))
                return;
        if (v)
                PUT_LITERAL(w, "true");
        else
                PUT_LITERAL(w, "false");
}

void json_writer_null(json_writer *w)
{
        if (!value_prefix(w))
                return;
        PUT_LITERAL(w, "null");
}

int json_writer_finish(json_writer *w, const char **ret, size_t *ret_len)
{
        if (w->error)
                return w->error;
        if (!w->started || w->depth > 0)
                return -EINVAL;
        w->buf[w->len] = 0; /* put() always left room for it */
        *ret = w->buf;
        if (ret_len)
                *ret_len = w->len;
        return 0;
}
