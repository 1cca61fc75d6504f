/*  promcheck.h -- a strict checker of Prometheus' text exposition format
    (version 0.0.4), for testing what GET /metrics serves.

    Stricter than Prometheus' own parser on purpose; it rejects:
      - a line not ending in '\n', an empty line, a NUL byte;
      - a metric or label name outside [a-zA-Z_:][a-zA-Z0-9_:]* (labels:
        no ':', no leading "__"), a label value with an escape other than
        \\ \" \n, a duplicate label name, a trailing comma, an empty {};
      - a value that is not a Go float (digits, '.', exponent, +Inf, -Inf,
        NaN); a timestamp (nsxd sends none);
      - a sample without a # TYPE line before it, or without # HELP; a
        second # TYPE or # HELP for a family, or one after its samples;
        a type other than counter, gauge, histogram, summary, untyped;
      - a family whose samples are not contiguous; a duplicate series;
      - a counter whose name does not end in _total, or with a negative or
        NaN value;
      - a histogram series (same labels but le) without a +Inf bucket,
        with le not increasing, bucket counts decreasing, _count not equal
        to the +Inf bucket, or no _sum; a histogram sample other than
        _bucket, _sum, _count, or a _bucket without le.
    The first problem found is reported with its line number.
*/
#ifndef PROMCHECK_H_INCLUDED
#define PROMCHECK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

/* 0 if text (len bytes) is a valid exposition; else -1 with a message
   "line N: ..." in err. */
int promcheck (const char *text, size_t len, char *err, size_t err_len);

/* The value of the series written exactly as `series` (e.g.
   `nsxd_http_requests_total{route="/kv/put",code="200"}`), or false if
   there is none. Assumes text passed promcheck. */
bool promcheck_value (const char *text, const char *series, double *value);

#endif
