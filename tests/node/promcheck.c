/*  promcheck.c -- strict checker of Prometheus text format (promcheck.h).
*/
#include "promcheck.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME_MAX 256
#define S_LABELS_MAX 1024

typedef enum {
    T_NONE,
    T_COUNTER,
    T_GAUGE,
    T_HISTOGRAM,
    T_SUMMARY,
    T_UNTYPED
} s_type_t;

typedef struct {
    char name[S_NAME_MAX];
    s_type_t type;
    bool help, has_samples, closed;
} s_family_t;

/* One histogram series: its labels without le. */
typedef struct {
    char labels[S_LABELS_MAX];
    double last_le, last_count, inf_count, count;
    bool any_bucket, has_inf, has_sum, has_count;
    int line;
} s_hseries_t;

typedef struct {
    s_family_t *fam;
    size_t n_fam, cap_fam;
    char **series; /* every "name{labels}" seen, for duplicates */
    size_t n_series, cap_series;
    s_hseries_t *hs; /* of the current histogram family */
    size_t n_hs, cap_hs;
    int line;
    char *err;
    size_t err_len;
    int cur; /* index of the family whose samples are being read, or -1 */
} s_ctx_t;

static int
s_fail (s_ctx_t *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    snprintf (c->err, c->err_len, "line %d: %s", c->line, msg);
    return -1;
}

static bool
s_name_ok (const char *s, size_t n, bool label)
{
    if (n == 0 || n >= S_NAME_MAX)
        return false;
    if (label && n >= 2 && s[0] == '_' && s[1] == '_')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = isalpha ((unsigned char)ch) || ch == '_' ||
                  (!label && ch == ':') ||
                  (i > 0 && isdigit ((unsigned char)ch));
        if (!ok || (unsigned char)ch >= 0x80)
            return false;
    }
    return true;
}

/* Go's strconv.ParseFloat as Prometheus accepts it, minus hex and '_'. */
static bool
s_float (const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy (buf, s, n);
    buf[n] = 0;
    if (!strcmp (buf, "+Inf") || !strcmp (buf, "Inf")) {
        *out = INFINITY;
        return true;
    }
    if (!strcmp (buf, "-Inf")) {
        *out = -INFINITY;
        return true;
    }
    if (!strcmp (buf, "NaN")) {
        *out = NAN;
        return true;
    }
    size_t i = 0;
    if (buf[i] == '+' || buf[i] == '-')
        i++;
    size_t digits = 0;
    while (isdigit ((unsigned char)buf[i]))
        i++, digits++;
    if (buf[i] == '.') {
        i++;
        while (isdigit ((unsigned char)buf[i]))
            i++, digits++;
    }
    if (!digits)
        return false;
    if (buf[i] == 'e' || buf[i] == 'E') {
        i++;
        if (buf[i] == '+' || buf[i] == '-')
            i++;
        if (!isdigit ((unsigned char)buf[i]))
            return false;
        while (isdigit ((unsigned char)buf[i]))
            i++;
    }
    if (buf[i])
        return false;
    *out = strtod (buf, NULL);
    return true;
}

static s_family_t *
s_family (s_ctx_t *c, const char *name, size_t n, bool create)
{
    for (size_t i = 0; i < c->n_fam; i++)
        if (strlen (c->fam[i].name) == n && !memcmp (c->fam[i].name, name, n))
            return &c->fam[i];
    if (!create)
        return NULL;
    if (c->n_fam == c->cap_fam) {
        c->cap_fam = c->cap_fam ? 2 * c->cap_fam : 32;
        c->fam = realloc (c->fam, c->cap_fam * sizeof *c->fam);
        if (!c->fam)
            abort ();
    }
    s_family_t *f = &c->fam[c->n_fam++];
    memset (f, 0, sizeof *f);
    memcpy (f->name, name, n);
    return f;
}

/* Finish the histogram family being read: check every series. */
static int
s_close_histogram (s_ctx_t *c)
{
    for (size_t i = 0; i < c->n_hs; i++) {
        s_hseries_t *h = &c->hs[i];
        int line = c->line;
        c->line = h->line;
        if (!h->has_inf)
            return s_fail (c, "histogram series {%s} has no +Inf bucket",
                           h->labels);
        if (!h->has_count || !h->has_sum)
            return s_fail (c, "histogram series {%s} lacks _count or _sum",
                           h->labels);
        if (h->count != h->inf_count)
            return s_fail (c,
                           "histogram series {%s}: _count %g != +Inf bucket %g",
                           h->labels, h->count, h->inf_count);
        c->line = line;
    }
    c->n_hs = 0;
    return 0;
}

/* Switch the current family to f (NULL: none); a family whose samples
   were interrupted is closed for good. */
static int
s_switch (s_ctx_t *c, s_family_t *f)
{
    int idx = f ? (int)(f - c->fam) : -1;
    if (idx == c->cur)
        return 0;
    if (c->cur >= 0) {
        /* Left for good: no more lines of it may follow. */
        s_family_t *old = &c->fam[c->cur];
        old->closed = true;
        if (old->type == T_HISTOGRAM && s_close_histogram (c))
            return -1;
    }
    c->cur = idx;
    return 0;
}

static int
s_comment (s_ctx_t *c, const char *s, size_t n)
{
    bool help = n >= 7 && !memcmp (s, "# HELP ", 7);
    bool type = n >= 7 && !memcmp (s, "# TYPE ", 7);
    if (!help && !type)
        return 0; /* a plain comment */
    const char *name = s + 7, *end = s + n;
    const char *sp = memchr (name, ' ', (size_t)(end - name));
    if (!sp)
        return s_fail (c, "%s without text", help ? "HELP" : "TYPE");
    size_t nlen = (size_t)(sp - name);
    if (!s_name_ok (name, nlen, false))
        return s_fail (c, "bad metric name in %s", help ? "HELP" : "TYPE");
    s_family_t *f = s_family (c, name, nlen, true);
    if (f->closed)
        return s_fail (c, "%s for %s, whose lines are not contiguous",
                       help ? "HELP" : "TYPE", f->name);
    if (f->has_samples)
        return s_fail (c, "%s for %s after its samples", help ? "HELP" : "TYPE",
                       f->name);
    if (s_switch (c, f))
        return -1;
    const char *text = sp + 1;
    size_t tlen = (size_t)(end - text);
    if (help) {
        if (f->help)
            return s_fail (c, "second HELP for %s", f->name);
        f->help = true;
        for (size_t i = 0; i < tlen; i++)
            if (text[i] == '\\' &&
                (i + 1 == tlen || (text[i + 1] != '\\' && text[i + 1] != 'n')))
                return s_fail (c, "bad escape in HELP of %s", f->name);
            else if (text[i] == '\\')
                i++;
        return 0;
    }
    if (f->type != T_NONE)
        return s_fail (c, "second TYPE for %s", f->name);
    static const char *names[] = {"",          "counter", "gauge",
                                  "histogram", "summary", "untyped"};
    for (int t = T_COUNTER; t <= T_UNTYPED; t++)
        if (strlen (names[t]) == tlen && !memcmp (text, names[t], tlen))
            f->type = (s_type_t)t;
    if (f->type == T_NONE)
        return s_fail (c, "unknown type '%.*s'", (int)tlen, text);
    if (f->type == T_COUNTER &&
        (nlen < 6 || memcmp (name + nlen - 6, "_total", 6)))
        return s_fail (c, "counter %s does not end in _total", f->name);
    return 0;
}

/* Parse {a="x",b="y"} at *p; canonical form (without le) into out, and
   the le value into *le (if any). */
static int
s_labels (s_ctx_t *c, const char **p, const char *end, char *out,
          size_t out_len, bool *has_le, double *le)
{
    const char *s = *p;
    size_t o = 0;
    out[0] = 0;
    *has_le = false;
    char seen[16][S_NAME_MAX];
    int n_seen = 0;
    s++; /* '{' */
    if (s < end && *s == '}')
        return s_fail (c, "empty label set");
    while (true) {
        const char *ln = s;
        while (s < end && *s != '=' && *s != '}' && *s != ',')
            s++;
        size_t lnlen = (size_t)(s - ln);
        if (s >= end || *s != '=' || !s_name_ok (ln, lnlen, true))
            return s_fail (c, "bad label name");
        for (int i = 0; i < n_seen; i++)
            if (strlen (seen[i]) == lnlen && !memcmp (seen[i], ln, lnlen))
                return s_fail (c, "duplicate label %.*s", (int)lnlen, ln);
        if (n_seen < 16) {
            memcpy (seen[n_seen], ln, lnlen);
            seen[n_seen++][lnlen] = 0;
        }
        s++;
        if (s >= end || *s != '"')
            return s_fail (c, "label value not quoted");
        s++;
        const char *v = s;
        while (s < end && *s != '"') {
            if (*s == '\\') {
                if (s + 1 >= end ||
                    (s[1] != '\\' && s[1] != '"' && s[1] != 'n'))
                    return s_fail (c, "bad escape in label value");
                s++;
            }
            s++;
        }
        if (s >= end)
            return s_fail (c, "unterminated label value");
        size_t vlen = (size_t)(s - v);
        s++;
        bool is_le = lnlen == 2 && !memcmp (ln, "le", 2);
        if (is_le) {
            *has_le = true;
            if (!s_float (v, vlen, le))
                return s_fail (c, "le is not a float");
        } else {
            int w = snprintf (out + o, out_len - o, "%s%.*s=\"%.*s\"",
                              o ? "," : "", (int)lnlen, ln, (int)vlen, v);
            if (w < 0 || (size_t)w >= out_len - o)
                return s_fail (c, "labels too long");
            o += (size_t)w;
        }
        if (s < end && *s == ',') {
            s++;
            if (s < end && *s == '}')
                return s_fail (c, "trailing comma in labels");
            continue;
        }
        if (s < end && *s == '}') {
            *p = s + 1;
            return 0;
        }
        return s_fail (c, "bad label syntax");
    }
}

static s_hseries_t *
s_hseries (s_ctx_t *c, const char *labels)
{
    for (size_t i = 0; i < c->n_hs; i++)
        if (!strcmp (c->hs[i].labels, labels))
            return &c->hs[i];
    if (c->n_hs == c->cap_hs) {
        c->cap_hs = c->cap_hs ? 2 * c->cap_hs : 16;
        c->hs = realloc (c->hs, c->cap_hs * sizeof *c->hs);
        if (!c->hs)
            abort ();
    }
    s_hseries_t *h = &c->hs[c->n_hs++];
    memset (h, 0, sizeof *h);
    snprintf (h->labels, sizeof h->labels, "%s", labels);
    h->line = c->line;
    h->last_le = -INFINITY;
    return h;
}

static bool
s_suffix (const char *name, size_t n, const char *suf, size_t *base)
{
    size_t k = strlen (suf);
    if (n <= k || memcmp (name + n - k, suf, k))
        return false;
    *base = n - k;
    return true;
}

static int
s_sample (s_ctx_t *c, const char *s, size_t n)
{
    const char *end = s + n, *p = s;
    while (p < end && *p != '{' && *p != ' ')
        p++;
    size_t nlen = (size_t)(p - s);
    if (!s_name_ok (s, nlen, false))
        return s_fail (c, "bad metric name");
    char labels[S_LABELS_MAX] = "";
    bool has_le = false;
    double le = 0;
    if (p < end && *p == '{' &&
        s_labels (c, &p, end, labels, sizeof labels, &has_le, &le))
        return -1;
    size_t series_len = (size_t)(p - s);
    if (p >= end || *p != ' ')
        return s_fail (c, "no space before the value");
    p++;
    const char *v = p;
    while (p < end && *p != ' ')
        p++;
    double value;
    if (!s_float (v, (size_t)(p - v), &value))
        return s_fail (c, "value '%.*s' is not a float", (int)(p - v), v);
    if (p < end)
        return s_fail (c, "unexpected text after the value (a timestamp?)");

    /* Which family: the name itself, or a histogram's base name. */
    s_family_t *f = s_family (c, s, nlen, false);
    const char *part = "";
    if (!f || f->type == T_NONE) {
        static const char *sufs[] = {"_bucket", "_sum", "_count"};
        for (size_t i = 0; i < 3 && (!f || f->type == T_NONE); i++) {
            size_t base;
            if (s_suffix (s, nlen, sufs[i], &base)) {
                s_family_t *g = s_family (c, s, base, false);
                if (g && (g->type == T_HISTOGRAM || g->type == T_SUMMARY)) {
                    f = g;
                    part = sufs[i];
                }
            }
        }
    }
    if (!f || f->type == T_NONE)
        return s_fail (c, "sample %.*s has no TYPE before it", (int)nlen, s);
    if (!f->help)
        return s_fail (c, "family %s has no HELP", f->name);
    if (f->closed)
        return s_fail (c, "samples of %s are not contiguous", f->name);
    if (s_switch (c, f))
        return -1;
    f->has_samples = true;

    /* Duplicates: the series as written, le included. */
    for (size_t i = 0; i < c->n_series; i++)
        if (strlen (c->series[i]) == series_len &&
            !memcmp (c->series[i], s, series_len))
            return s_fail (c, "duplicate series %.*s", (int)series_len, s);
    if (c->n_series == c->cap_series) {
        c->cap_series = c->cap_series ? 2 * c->cap_series : 256;
        c->series = realloc (c->series, c->cap_series * sizeof *c->series);
        if (!c->series)
            abort ();
    }
    c->series[c->n_series] = strndup (s, series_len);
    if (!c->series[c->n_series++])
        abort ();

    if (f->type == T_COUNTER && (isnan (value) || value < 0))
        return s_fail (c, "counter %s is negative or NaN", f->name);
    if (f->type == T_HISTOGRAM) {
        if (!*part)
            return s_fail (c,
                           "histogram %s: sample %.*s is not _bucket, "
                           "_sum or _count",
                           f->name, (int)nlen, s);
        if (has_le != !strcmp (part, "_bucket"))
            return s_fail (c, "le %s on %.*s", has_le ? "misplaced" : "missing",
                           (int)nlen, s);
        s_hseries_t *h = s_hseries (c, labels);
        if (!strcmp (part, "_bucket")) {
            if (h->has_inf)
                return s_fail (c, "bucket after +Inf");
            if (h->any_bucket && !(le > h->last_le))
                return s_fail (c, "le %g does not increase", le);
            if (h->any_bucket && value < h->last_count)
                return s_fail (c, "bucket count decreases");
            if (isnan (value) || value < 0)
                return s_fail (c, "bucket count negative or NaN");
            h->any_bucket = true;
            h->last_le = le;
            h->last_count = value;
            if (isinf (le) && le > 0) {
                h->has_inf = true;
                h->inf_count = value;
            }
        } else if (!strcmp (part, "_sum")) {
            if (h->has_sum)
                return s_fail (c, "second _sum");
            h->has_sum = true;
        } else {
            if (h->has_count)
                return s_fail (c, "second _count");
            h->has_count = true;
            h->count = value;
        }
    } else if (has_le && f->type != T_SUMMARY) {
        /* "le" is reserved for histogram buckets */
        return s_fail (c, "label le on a %s", f->name);
    }
    return 0;
}

int
promcheck (const char *text, size_t len, char *err, size_t err_len)
{
    s_ctx_t c = {.err = err, .err_len = err_len, .cur = -1};
    int rc = 0;
    size_t i = 0;
    if (len == 0) {
        c.line = 1;
        rc = s_fail (&c, "empty exposition");
    }
    while (rc == 0 && i < len) {
        c.line++;
        const char *nl = memchr (text + i, '\n', len - i);
        if (!nl) {
            rc = s_fail (&c, "last line does not end in a newline");
            break;
        }
        size_t n = (size_t)(nl - (text + i));
        const char *line = text + i;
        i += n + 1;
        if (memchr (line, 0, n)) {
            rc = s_fail (&c, "NUL byte");
        } else if (n == 0) {
            rc = s_fail (&c, "empty line");
        } else if (line[0] == '#') {
            rc = s_comment (&c, line, n);
        } else {
            rc = s_sample (&c, line, n);
        }
    }
    if (rc == 0) {
        c.line++;
        rc = s_switch (&c, NULL);
    }
    for (size_t k = 0; k < c.n_series; k++)
        free (c.series[k]);
    free (c.series);
    free (c.fam);
    free (c.hs);
    return rc;
}

bool
promcheck_value (const char *text, const char *series, double *value)
{
    size_t n = strlen (series);
    const char *p = text;
    while (p && *p) {
        if (!strncmp (p, series, n) && p[n] == ' ') {
            const char *v = p + n + 1;
            const char *e = strchr (v, '\n');
            return s_float (v, e ? (size_t)(e - v) : strlen (v), value);
        }
        p = strchr (p, '\n');
        if (p)
            p++;
    }
    return false;
}
