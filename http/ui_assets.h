/*  ui_assets.h -- the /ui page's files (http/ui/), compiled into nsxd:
    http/ui/embed.sh writes $(B)/gen/ui_assets.c with `xxd -i` (Debian's
    xxd) at build time. Why xxd rather than `ld -r -b binary`: the
    result is plain C, so every build flavour (ASan, the fuzzers' clang,
    planted bugs) compiles it with its own compiler and flags, and the
    sizes are C constants, not linker symbols named after paths.
*/
#ifndef HTTP_UI_ASSETS_H_INCLUDED
#define HTTP_UI_ASSETS_H_INCLUDED

#include <stddef.h>

typedef struct {
    const char *path; /* "/ui/index.html" */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
} http_ui_asset_t;

extern const http_ui_asset_t http_ui_assets[];
extern const size_t http_ui_n_assets;

#endif
