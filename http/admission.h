/*  admission.h -- how many request bodies may be in the middle of arriving
    at once, per client address and in all.

    civetweb gives each connection a worker thread of a fixed pool while it
    reads the request, so clients that send their bodies slowly ("one byte a
    second") can hold every worker and starve everyone else -- /health
    included. A worker takes a slot here before it reads a body and gives
    it back once the body is in (or the request deadline cut it off); a
    client that would exceed either cap is refused at once (503 busy,
    connection closed) instead of being given a worker for the whole
    deadline. A body that arrived with its headers is read from civetweb's
    buffer in microseconds, so ordinary clients hold a slot only briefly.

    Thread-safe (one mutex; a few dozen entries at most).
*/
#ifndef HTTP_ADMISSION_H_INCLUDED
#define HTTP_ADMISSION_H_INCLUDED

typedef struct http_admission_t http_admission_t;

/* Caps: at most total slots in use, at most per_addr by one address.
   REQUIRES: 1 <= per_addr <= total. */
http_admission_t *http_admission_new (int total, int per_addr);
void http_admission_destroy (http_admission_t **self_p);

typedef enum {
    HTTP_ADMIT_OK = 0,
    HTTP_ADMIT_ADDR_FULL, /* this address holds per_addr slots already */
    HTTP_ADMIT_FULL,      /* all slots are taken */
} http_admit_t;

/* Take a slot for a body from addr (a printable address, compared as a
   string). On HTTP_ADMIT_OK the caller must call http_admission_leave with
   the same addr. */
http_admit_t http_admission_enter (http_admission_t *self, const char *addr);
void http_admission_leave (http_admission_t *self, const char *addr);

/* Slots in use now (for tests and /health). */
int http_admission_in_use (http_admission_t *self);

#endif
