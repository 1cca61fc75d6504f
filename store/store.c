/*  store.c -- see store.h: the handle, open and close, what the database
    costs on disk, full compaction. LevelDB through its C API.

    The format on disk: store_format.h. The rest of store/ by concern:
    store_int.h.
*/
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* The memtable: LevelDB buffers this much of the write-ahead log in memory
   before writing a level-0 table (and holds up to twice this while one is
   flushed). The log is append-mostly and small entries arrive in bursts;
   1 MiB absorbs a burst without stalling on a flush and keeps the node's
   peak RSS low: 8 MiB here and for the cache cost about 12 MiB more per
   node under make bench's write load, for no measurable throughput; 2 MiB
   and 2 MiB cost about 2 MiB more than 1 and 1 (README, "Performance",
   items 6 and 13). */
#define S_WRITE_BUFFER (1u * 1024 * 1024)
/* The block cache: uncompressed data blocks shared by reads. Reads are
   KV gets (the hot keys should stay in memory) and the boot scan; an
   explicit LRU cache bounds the node's memory instead of relying on
   LevelDB's internal default; the OS page cache holds the rest. */
#define S_BLOCK_CACHE (1u * 1024 * 1024)

/*  ---------------------------------------------------------------------
    Helpers shared by store/ (store_int.h)                               */

void
store_err_set (char **err, const char *fmt, ...)
{
    if (!err)
        return;
    free (*err);
    *err = NULL;
    va_list ap;
    va_start (ap, fmt);
    if (vasprintf (err, fmt, ap) < 0)
        *err = NULL;
    va_end (ap);
}

int
store_err_ldb (char **err, const char *what, char *ldb_err)
{
    store_err_set (err, "%s: %s", what, ldb_err ? ldb_err : "unknown error");
    leveldb_free (ldb_err);
    return -1;
}

int
store_get_raw (store_t *self, const char *key, size_t key_len, char **value,
               size_t *value_len, char **err)
{
    char *ldb_err = NULL;
    *value =
        leveldb_get (self->db, self->read, key, key_len, value_len, &ldb_err);
    if (ldb_err)
        return store_err_ldb (err, "read", ldb_err);
    return *value ? 1 : 0;
}

/*  ---------------------------------------------------------------------
    Open and close                                                       */

static int
s_mkdir_p (const char *path)
{
    char *p = strdup (path);
    if (!p)
        return -1;
    int rc = 0;
    for (char *c = p + 1; rc == 0; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        char saved = *c;
        *c = '\0';
        if (mkdir (p, 0700) != 0 && errno != EEXIST)
            rc = -1;
        *c = saved;
        if (saved == '\0')
            break;
    }
    free (p);
    return rc;
}

/* chmod the directory 0700 and its regular files 0600. */
static int
s_make_private (const char *path, char **err)
{
    if (chmod (path, 0700) != 0) {
        store_err_set (err, "cannot chmod 0700 %s: %s", path, strerror (errno));
        return -1;
    }
    DIR *d = opendir (path);
    if (!d) {
        store_err_set (err, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir (d)) && rc == 0) {
        struct stat st;
        if (fstatat (dirfd (d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG (st.st_mode) && (st.st_mode & 077) &&
            fchmodat (dirfd (d), e->d_name, 0600, 0) != 0) {
            store_err_set (err, "cannot chmod 0600 %s/%s: %s", path, e->d_name,
                           strerror (errno));
            rc = -1;
        }
    }
    closedir (d);
    return rc;
}

store_t *
store_open (const char *path, char **err)
{
    if (!path || !*path) {
        store_err_set (err, "no data directory");
        return NULL;
    }
    if (s_mkdir_p (path) != 0) {
        store_err_set (err, "cannot create %s: %s", path, strerror (errno));
        return NULL;
    }
    store_t *self = calloc (1, sizeof *self);
    if (!self) {
        store_err_set (err, "out of memory");
        return NULL;
    }
    self->path = strdup (path);
    pthread_rwlock_init (&self->gen_lock, NULL);
    pthread_mutex_init (&self->corrupt_lock, NULL);
    self->options = leveldb_options_create ();
    self->cache = leveldb_cache_create_lru (S_BLOCK_CACHE);
    leveldb_options_set_create_if_missing (self->options, 1);
    leveldb_options_set_write_buffer_size (self->options, S_WRITE_BUFFER);
    leveldb_options_set_cache (self->options, self->cache);
    /* paranoid_checks: a corrupted record in the write-ahead log or the
       manifest stops the open instead of being dropped silently (LevelDB
       1.23 skips and logs it without), and a corrupted block met by a
       compaction stops writes instead of being lost from the merged
       table. A crash in the middle of a write does not trip it: a record
       cut short at the end of the log is treated as the end
       (log::Reader, kEof), only a complete record with a bad checksum is
       corruption. Reads verify block checksums too (below). Cost:
       README, "Identity, permissions, corruption". */
    /* -DNSXD_PLANTED_BUG=5 (no_paranoid, make identity-teeth and
       tests/perf/paranoid_measure.sh's build without): LevelDB's default,
       and no checksum scan at start */
    leveldb_options_set_paranoid_checks (self->options,
                                         STORE_BUG_NO_PARANOID ? 0 : 1);

    self->read = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (self->read, 1);
    self->scan = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (self->scan, 1);
    /* a full scan of the log at start would evict the hot KV blocks */
    leveldb_readoptions_set_fill_cache (self->scan, 0);
    self->write = leveldb_writeoptions_create ();
    self->write_sync = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (self->write_sync, 1);

    /* 0700 and 0600 even for a directory made by an older nsxd (new
       files get 0600 from nsxd's umask). */
    if (s_make_private (path, err) != 0) {
        store_close (&self);
        return NULL;
    }
    char *ldb_err = NULL;
    self->db = leveldb_open (self->options, path, &ldb_err);
    if (!self->db || ldb_err) {
        store_err_ldb (err, "open", ldb_err);
        store_corrupt_name_at_start (path, err);
        store_close (&self);
        return NULL;
    }
    return self;
}

void
store_close (store_t **self_p)
{
    store_t *self = *self_p;
    if (!self)
        return;
    if (self->db)
        leveldb_close (self->db);
    pthread_rwlock_destroy (&self->gen_lock);
    pthread_mutex_destroy (&self->corrupt_lock);
    free (self->corrupt_note);
    leveldb_options_destroy (self->options);
    leveldb_cache_destroy (self->cache);
    leveldb_readoptions_destroy (self->read);
    leveldb_readoptions_destroy (self->scan);
    leveldb_writeoptions_destroy (self->write);
    leveldb_writeoptions_destroy (self->write_sync);
    free (self->keybuf);
    free (self->path);
    free (self);
    *self_p = NULL;
}

uint64_t
store_disk_bytes (store_t *self)
{
    DIR *d = self && self->path ? opendir (self->path) : NULL;
    if (!d)
        return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        struct stat st;
        /* LevelDB's files sit directly in the directory (no subdirectories);
           a file deleted by a compaction meanwhile is simply not counted. */
        if (fstatat (dirfd (d), e->d_name, &st, 0) == 0 && S_ISREG (st.st_mode))
            total += (uint64_t)st.st_size;
    }
    closedir (d);
    return total;
}

uint64_t
store_fs_free (store_t *self)
{
    struct statvfs vfs;
    if (!self || !self->path || statvfs (self->path, &vfs) != 0)
        return UINT64_MAX;
    return (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
}

void
store_compact_all (store_t *self)
{
    /* leveldb_compact_range compacts each level into the next down to the
       deepest level holding data, which it never rewrites by itself: what
       reached it while a snapshot pinned it (a copy for InstallSnapshot)
       would stay there. A table that spans every key makes each step
       take every file of the level below, the last one included. */
    static const char lo = STORE_KEY_COMPACT_LO,
                      hi = (char)STORE_KEY_COMPACT_HI;
    leveldb_writebatch_t *wb = leveldb_writebatch_create ();
    leveldb_writebatch_put (wb, &lo, 1, "", 0);
    leveldb_writebatch_put (wb, &hi, 1, "", 0);
    leveldb_writebatch_delete (wb, &lo, 1);
    leveldb_writebatch_delete (wb, &hi, 1);
    char *ldb_err = NULL;
    leveldb_write (self->db, self->write, wb, &ldb_err);
    leveldb_writebatch_destroy (wb);
    /* a failed write (a full disk) is the owner's to see at its next
       write; the compaction just does less */
    leveldb_free (ldb_err);
    leveldb_compact_range (self->db, NULL, 0, NULL, 0);
}
