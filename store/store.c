/*  store.c -- see store.h. LevelDB through its C API.

    Key scheme (format version 1). Every key starts with one prefix byte,
    so each kind of record is one contiguous range of LevelDB's sorted key
    space and the log can be scanned in order with one iterator:

        key                             value
        ------------------------------  ------------------------------------
        'v'                  (1 byte)   format version, ASCII "1" (1 byte)
        'h'                  (1 byte)   hard state, msgpack [term: uint,
                                        vote: uint] (3 to 19 bytes)
        'a'                  (1 byte)   applied index and its term, uint64
                                        big-endian each (16 bytes; 8: an
                                        older database, term unknown)
        'l' index            (9 bytes)  log entry at index (index: uint64
                                        big-endian), msg_entry_encode bytes
                                        (msg/msg_raft.h)
        'k' key bytes   (1 + n bytes)   the KV value, raw bytes, in
                                        generation 0
        'K' gen key     (9 + n bytes)   the same in generation gen > 0
                                        (uint64 big-endian)
        'g'                  (1 byte)   the KV data's generation, uint64
                                        big-endian (absent: 0). A snapshot
                                        received from a leader is staged in
                                        generation g + 1 and becomes the
                                        data by one write of 'g' (with the
                                        applied index and the base), so a
                                        crash leaves the old state or the
                                        new; older generations are deleted
                                        afterwards
        'c'                  (1 byte)   the configuration in effect at the
                                        applied index: a CONF entry
        'b'                  (1 byte)   the log's base after compaction:
                                        a CONF entry (msg_entry_encode) at
                                        the base's index and term holding
                                        the configuration there; absent:
                                        the log starts at index 1

        0x00, 0xff           (1 byte)   never present: store_compact_all
                                        puts and deletes both in one batch,
                                        so that the table LevelDB flushes
                                        spans every key (see there)

    Indexes are big-endian so that LevelDB's bytewise order is numeric
    order: iterating from "l" visits the log in index order. KV keys are
    arbitrary bytes (NUL included): the prefix is the only framing needed
    because the key is the rest of the LevelDB key.

    'v' exists exactly when the database was initialised by store_create;
    a database without it must be empty (anything else is not ours).
*/
#include "store.h"
#include "msg_raft.h"

#include <errno.h>
#include <leveldb/c.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <sodium.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/statvfs.h>

/* planted node bugs (Makefile NODE_BUGS): 5 no_paranoid, below */
#ifndef NSXD_PLANTED_BUG
#define NSXD_PLANTED_BUG 0
#endif

#define S_FORMAT_VERSION "1"
#define S_KEY_VERSION 'v'
#define S_KEY_HS 'h'
#define S_KEY_APPLIED 'a'
#define S_KEY_LOG 'l'
#define S_KEY_KV 'k'
#define S_KEY_BASE 'b'
#define S_KEY_KV_GEN 'K'
#define S_KEY_GEN 'g'
#define S_KEY_CONF 'c'
#define S_KEY_COMPACT_LO 0x00
#define S_KEY_COMPACT_HI 0xff

/* The memtable: LevelDB buffers this much of the write-ahead log in memory
   before writing a level-0 table (and holds up to twice this while one is
   flushed). The log is append-mostly and small entries arrive in bursts;
   2 MiB absorbs a burst without stalling on a flush and keeps the node's
   peak RSS low: 8 MiB here and for the cache cost about 12 MiB more per
   node under make bench's write load, for no measurable throughput. */
#define S_WRITE_BUFFER (2u * 1024 * 1024)
/* The block cache: uncompressed data blocks shared by reads. Reads are
   KV gets (the hot keys should stay in memory) and the boot scan; an
   explicit LRU cache bounds the node's memory instead of relying on
   LevelDB's internal default; the OS page cache holds the rest. */
#define S_BLOCK_CACHE (2u * 1024 * 1024)

struct store {
    leveldb_t *db;
    leveldb_options_t *options;
    leveldb_cache_t *cache;
    leveldb_readoptions_t *read;   /* gets: verify checksums */
    leveldb_readoptions_t *scan;   /* boot scan: also skip the cache */
    leveldb_writeoptions_t *write; /* no sync */
    leveldb_writeoptions_t *write_sync;
    char *keybuf; /* scratch for 'k' keys */
    char *path;   /* the database directory */
    uint64_t gen; /* the KV data's generation */
    size_t keycap;
    /* store_read_kv runs in other threads (the HTTP workers): it holds
       this for reading while it looks gen up, store_set_gen for writing,
       so no read sees a generation that is being switched away from and
       then deleted. */
    pthread_rwlock_t gen_lock;
    /* the damaged files a read found (s_name_corrupt_once), under the
       lock: reads come from several threads */
    pthread_mutex_t corrupt_lock;
    char *corrupt_note;
};

struct store_batch {
    uint64_t gen; /* generation its KV operations go to */
    leveldb_writebatch_t *wb;
    size_t n;
    char *keybuf;
    size_t keycap;
};

/*  ---------------------------------------------------------------------
    Helpers                                                              */

static void s_set_err (char **err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_set_err (char **err, const char *fmt, ...)
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

/* Turn a LevelDB error into ours (LevelDB's must go to leveldb_free). */
static int
s_ldb_err (char **err, const char *what, char *ldb_err)
{
    s_set_err (err, "%s: %s", what, ldb_err ? ldb_err : "unknown error");
    leveldb_free (ldb_err);
    return -1;
}

/* LevelDB itself terminates on allocation failure; a batch that silently
   lost an operation would be worse than stopping, so do the same. */
static char *
s_key (char **buf, size_t *cap, char prefix, const void *key, size_t len)
{
    if (*cap < len + 1) {
        char *nb = realloc (*buf, len + 1);
        if (!nb) {
            fprintf (stderr, "store: out of memory for a %zu-byte key\n", len);
            abort ();
        }
        *buf = nb;
        *cap = len + 1;
    }
    (*buf)[0] = prefix;
    if (len && key)
        memcpy (*buf + 1, key, len);
    return *buf;
}

static void
s_put_be64 (char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (char)(v & 0xff);
}

/* The LevelDB key of KV key in generation gen; *out_len its length. */
static char *
s_kv_key (char **buf, size_t *cap, uint64_t gen, const void *key, size_t len,
          size_t *out_len)
{
    if (gen == 0) {
        *out_len = len + 1;
        return s_key (buf, cap, S_KEY_KV, key, len);
    }
    char *k = s_key (buf, cap, S_KEY_KV_GEN, NULL, len + 8);
    s_put_be64 (k + 1, gen);
    if (len)
        memcpy (k + 9, key, len);
    *out_len = len + 9;
    return k;
}

/* The prefix of every key of generation gen: 1 or 9 bytes. */
static size_t
s_gen_prefix (char p[9], uint64_t gen)
{
    if (gen == 0) {
        p[0] = S_KEY_KV;
        return 1;
    }
    p[0] = S_KEY_KV_GEN;
    s_put_be64 (p + 1, gen);
    return 9;
}

static uint64_t
s_get_be64 (const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (uint8_t)p[i];
    return v;
}

static void
s_log_key (char key[9], raft_index_t index)
{
    key[0] = S_KEY_LOG;
    s_put_be64 (key + 1, index);
}

/* One msgpack positive integer at *pos. The hard state is parsed by hand:
   it is two integers, and handing bytes read from disk to msgpack-c would
   need the same hostile-size guard as network input. */
static bool
s_read_uint (const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    if (*pos >= len)
        return false;
    uint8_t b = p[(*pos)++];
    size_t n;
    if (b <= 0x7f) {
        *v = b;
        return true;
    }
    switch (b) {
    case 0xcc: n = 1; break;
    case 0xcd: n = 2; break;
    case 0xce: n = 4; break;
    case 0xcf: n = 8; break;
    default: return false;
    }
    if (len - *pos < n)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | p[(*pos)++];
    *v = x;
    return true;
}

static bool
s_decode_hs (const char *data, size_t len, raft_hard_state_t *hs)
{
    const uint8_t *p = (const uint8_t *)data;
    size_t pos = 1;
    return len > 0 && p[0] == 0x92 && /* fixarray of 2 */
           s_read_uint (p, len, &pos, &hs->term) &&
           s_read_uint (p, len, &pos, &hs->vote) && pos == len;
}

/* Read one fixed key; 1 found (*value malloc'ed by LevelDB), 0, -1. */
static int
s_get (store_t *self, const char *key, size_t key_len, char **value,
       size_t *value_len, char **err)
{
    char *ldb_err = NULL;
    *value =
        leveldb_get (self->db, self->read, key, key_len, value_len, &ldb_err);
    if (ldb_err)
        return s_ldb_err (err, "read", ldb_err);
    return *value ? 1 : 0;
}

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
        s_set_err (err, "cannot chmod 0700 %s: %s", path, strerror (errno));
        return -1;
    }
    DIR *d = opendir (path);
    if (!d) {
        s_set_err (err, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir (d)) && rc == 0) {
        struct stat st;
        if (fstatat (dirfd (d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG (st.st_mode) && (st.st_mode & 077) &&
            fchmodat (dirfd (d), e->d_name, 0600, 0) != 0) {
            s_set_err (err, "cannot chmod 0600 %s/%s: %s", path, e->d_name,
                       strerror (errno));
            rc = -1;
        }
    }
    closedir (d);
    return rc;
}

/* The table numbers that LevelDB's RepairDB reports as corrupted in the
   info log at log_path ("Table #8: ... Corruption: ..."), as file names,
   appended to out. */
static void
s_bad_tables_from_log (const char *log_path, const char *dir, char *out,
                       size_t out_len)
{
    FILE *f = fopen (log_path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets (line, sizeof line, f)) {
        const char *t = strstr (line, "Table #");
        unsigned long long n;
        if (!t || !strstr (line, "Corruption") ||
            sscanf (t, "Table #%llu", &n) != 1)
            continue;
        char name[64];
        snprintf (name, sizeof name, "%06llu.ldb", n);
        if (strstr (out, name))
            continue;
        size_t used = strlen (out);
        snprintf (out + used, out_len - used, "%s%s/%s", used ? ", " : "", dir,
                  name);
    }
    fclose (f);
}

/* Remove dir and what is in it: files and, depth times over,
   directories (RepairDB moves what it cannot use into lost/). */
static void
s_rm_dir (const char *dir, int depth)
{
    DIR *d = opendir (dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir (d))) {
            if (!strcmp (e->d_name, ".") || !strcmp (e->d_name, ".."))
                continue;
            if (unlinkat (dirfd (d), e->d_name, 0) == 0 || depth == 0)
                continue;
            char *sub = NULL;
            if (asprintf (&sub, "%s/%s", dir, e->d_name) >= 0)
                s_rm_dir (sub, depth - 1);
            free (sub);
        }
        closedir (d);
    }
    rmdir (dir);
}

/* Which table files of dir are corrupted: LevelDB's C API reports
   "block checksum mismatch" without the file, so each table is checked by
   LevelDB's own RepairDB, with paranoid checks, on hard links of the
   tables in a scratch directory inside dir (the originals are not
   touched: RepairDB writes new files and renames them over the links).
   Only on the error path. */
static void
s_find_bad_tables (const char *dir, char *out, size_t out_len)
{
    char *tmp = NULL;
    if (asprintf (&tmp, "%s/verify.XXXXXX", dir) < 0)
        return;
    if (!mkdtemp (tmp)) {
        free (tmp);
        return;
    }
    DIR *d = opendir (dir);
    size_t n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir (d))) {
            size_t l = strlen (e->d_name);
            if (l > 4 && (strcmp (e->d_name + l - 4, ".ldb") == 0 ||
                          strcmp (e->d_name + l - 4, ".sst") == 0)) {
                char *from = NULL, *to = NULL;
                if (asprintf (&from, "%s/%s", dir, e->d_name) >= 0 &&
                    asprintf (&to, "%s/%s", tmp, e->d_name) >= 0 &&
                    link (from, to) == 0)
                    n++;
                free (from);
                free (to);
            }
        }
        closedir (d);
    }
    if (n) {
        leveldb_options_t *o = leveldb_options_create ();
        leveldb_options_set_paranoid_checks (o, 1);
        char *ldb_err = NULL;
        leveldb_repair_db (o, tmp, &ldb_err);
        leveldb_free (ldb_err);
        leveldb_options_destroy (o);
        char *log = NULL;
        if (asprintf (&log, "%s/LOG", tmp) >= 0)
            s_bad_tables_from_log (log, dir, out, out_len);
        free (log);
    }
    s_rm_dir (tmp, 2);
    free (tmp);
}

/* LevelDB's corruption errors do not name the file ("checksum mismatch",
   "block checksum mismatch"): for one, add the files at fault -- a
   write-ahead log or manifest named by LevelDB's own LOG in the
   directory ("<file>: dropping N bytes; Corruption: ..."), and the tables
   s_find_bad_tables finds -- and where the recovery is written up. */
static void
s_name_corrupt_file (const char *dir, char **err)
{
    if (!err || !*err || !strstr (*err, "Corruption"))
        return;
    char files[1024] = "";
    char *log = NULL;
    FILE *f = asprintf (&log, "%s/LOG", dir) >= 0 ? fopen (log, "r") : NULL;
    free (log);
    char line[1024];
    while (f && fgets (line, sizeof line, f)) {
        /* "<date> <thread> <path>: dropping N bytes; Corruption: ..." */
        char *drop = strstr (line, ": dropping ");
        if (!drop || !strstr (drop, "Corruption"))
            continue;
        *drop = 0;
        char *path = strrchr (line, ' ');
        path = path ? path + 1 : line;
        size_t used = strlen (files);
        if (!strstr (files, path) && used + strlen (path) + 3 < sizeof files)
            snprintf (files + used, sizeof files - used, "%s%.512s",
                      used ? ", " : "", path);
    }
    if (f)
        fclose (f);
    s_find_bad_tables (dir, files, sizeof files);
    char *was = *err;
    *err = NULL; /* s_set_err frees *err */
    s_set_err (err,
               "%s: the database in %s is corrupted (%s): this node must not "
               "serve from it; README, \"Recovering a corrupted node\": "
               "remove the member, wipe the directory, start it empty and "
               "join",
               was, dir, *files ? files : "file not identified");
    free (was);
}

/* The same for a read while the node runs (any thread): the tables are
   searched the first time only, and later errors name the same files, so
   a client retrying a damaged key does not rescan the database. */
static void
s_name_corrupt_once (store_t *self, char **err)
{
    if (!err || !*err || !strstr (*err, "Corruption"))
        return;
    pthread_mutex_lock (&self->corrupt_lock);
    if (!self->corrupt_note) {
        /* a running node reads tables only: its log is in the memtable */
        char files[1024] = "";
        s_find_bad_tables (self->path, files, sizeof files);
        self->corrupt_note = strdup (*files ? files : "file not identified");
    }
    char *was = *err;
    *err = NULL;
    s_set_err (err,
               "%s: the database in %s is corrupted (%s): this node must not "
               "serve from it; README, \"Recovering a corrupted node\"",
               was, self->path,
               self->corrupt_note ? self->corrupt_note : "out of memory");
    free (was);
    pthread_mutex_unlock (&self->corrupt_lock);
}

/*  ---------------------------------------------------------------------
    Open and close                                                       */

store_t *
store_open (const char *path, char **err)
{
    if (!path || !*path) {
        s_set_err (err, "no data directory");
        return NULL;
    }
    if (s_mkdir_p (path) != 0) {
        s_set_err (err, "cannot create %s: %s", path, strerror (errno));
        return NULL;
    }
    store_t *self = calloc (1, sizeof *self);
    if (!self) {
        s_set_err (err, "out of memory");
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
                                         NSXD_PLANTED_BUG == 5 ? 0 : 1);

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
        s_ldb_err (err, "open", ldb_err);
        s_name_corrupt_file (path, err);
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
    static const char lo = S_KEY_COMPACT_LO, hi = (char)S_KEY_COMPACT_HI;
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

/*  ---------------------------------------------------------------------
    Boot state                                                           */

/* Is the database empty? 1 yes, 0 no, -1 error. */
static int
s_empty (store_t *self, char **err)
{
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->scan);
    leveldb_iter_seek_to_first (it);
    int empty = !leveldb_iter_valid (it);
    char *ldb_err = NULL;
    leveldb_iter_get_error (it, &ldb_err);
    leveldb_iter_destroy (it);
    if (ldb_err)
        return s_ldb_err (err, "scan", ldb_err);
    return empty;
}

static int
s_load_log (store_t *self, store_state_t *st, char **err)
{
    size_t cap = 0;
    int rc = 0;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->scan);
    const char prefix = S_KEY_LOG;
    for (leveldb_iter_seek (it, &prefix, 1); rc == 0 && leveldb_iter_valid (it);
         leveldb_iter_next (it)) {
        size_t klen, vlen;
        const char *key = leveldb_iter_key (it, &klen);
        if (klen == 0 || key[0] != S_KEY_LOG)
            break;
        const char *val = leveldb_iter_value (it, &vlen);
        raft_index_t index = klen == 9 ? s_get_be64 (key + 1) : 0;
        if (st->n_entries == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            raft_entry_t *ne = realloc (st->entries, ncap * sizeof *ne);
            if (!ne) {
                s_set_err (err, "out of memory loading the log");
                rc = -1;
                break;
            }
            st->entries = ne;
            cap = ncap;
        }
        raft_entry_t *e = &st->entries[st->n_entries];
        if (klen != 9 || index == 0) {
            s_set_err (err, "log: malformed key of %zu bytes", klen);
            rc = -1;
        } else if (msg_entry_decode (val, vlen, e) != 0) {
            s_set_err (err, "log: entry %llu is malformed",
                       (unsigned long long)index);
            rc = -1;
        } else if (e->index != index ||
                   (st->n_entries &&
                    index != st->entries[st->n_entries - 1].index + 1)) {
            s_set_err (err,
                       "log: entry %llu stored under index %llu "
                       "(log not contiguous)",
                       (unsigned long long)e->index, (unsigned long long)index);
            raft_buf_unref (e->data);
            rc = -1;
        } else {
            st->n_entries++;
        }
    }
    char *ldb_err = NULL;
    leveldb_iter_get_error (it, &ldb_err);
    leveldb_iter_destroy (it);
    if (ldb_err) {
        s_ldb_err (err, "log scan", ldb_err);
        rc = -1;
    }
    return rc;
}

/* Read every record once, checking every block's checksum: corruption
   anywhere (a KV value no one has read yet included) stops the start
   instead of surfacing later, or never. Skips the block cache. */
static int
s_verify_all (store_t *self, char **err)
{
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->scan);
    for (leveldb_iter_seek_to_first (it); leveldb_iter_valid (it);
         leveldb_iter_next (it))
        ;
    char *ldb_err = NULL;
    leveldb_iter_get_error (it, &ldb_err);
    leveldb_iter_destroy (it);
    return ldb_err ? s_ldb_err (err, "verify", ldb_err) : 0;
}

static int s_load (store_t *self, store_state_t *st, char **err);

int
store_load (store_t *self, store_state_t *st, char **err)
{
    memset (st, 0, sizeof *st);
    if ((NSXD_PLANTED_BUG != 5 && s_verify_all (self, err) != 0) ||
        s_load (self, st, err) != 0) {
        s_name_corrupt_file (self->path, err);
        return -1;
    }
    return 0;
}

static int
s_load (store_t *self, store_state_t *st, char **err)
{
    memset (st, 0, sizeof *st);
    char *val = NULL;
    size_t len = 0;
    const char kv = S_KEY_VERSION, kh = S_KEY_HS, ka = S_KEY_APPLIED;

    int found = s_get (self, &kv, 1, &val, &len, err);
    if (found < 0)
        return -1;
    if (!found) {
        int empty = s_empty (self, err);
        if (empty < 0)
            return -1;
        if (!empty) {
            s_set_err (err, "not an nsxd database: no format version, but "
                            "not empty");
            return -1;
        }
        st->fresh = true;
        return 0;
    }
    bool ok = len == strlen (S_FORMAT_VERSION) &&
              memcmp (val, S_FORMAT_VERSION, len) == 0;
    leveldb_free (val);
    if (!ok) {
        s_set_err (err, "unknown storage format version (expected %s)",
                   S_FORMAT_VERSION);
        return -1;
    }

    found = s_get (self, &kh, 1, &val, &len, err);
    if (found < 0)
        return -1;
    if (found) {
        ok = s_decode_hs (val, len, &st->hs);
        leveldb_free (val);
        if (!ok) {
            s_set_err (err, "hard state is malformed");
            return -1;
        }
    }

    found = s_get (self, &ka, 1, &val, &len, err);
    if (found < 0)
        return -1;
    if (found) {
        ok = len == 8 || len == 16;
        if (ok)
            st->applied = s_get_be64 (val);
        if (len == 16)
            st->applied_term = s_get_be64 (val + 8);
        leveldb_free (val);
        if (!ok) {
            s_set_err (err, "applied index is malformed");
            return -1;
        }
    }

    const char kg = S_KEY_GEN, kc = S_KEY_CONF;
    found = s_get (self, &kg, 1, &val, &len, err);
    if (found < 0)
        return -1;
    if (found) {
        ok = len == 8;
        if (ok)
            self->gen = s_get_be64 (val);
        leveldb_free (val);
        if (!ok) {
            s_set_err (err, "KV generation is malformed");
            return -1;
        }
    }
    st->gen = self->gen;
    found = s_get (self, &kc, 1, &val, &len, err);
    if (found < 0)
        return -1;
    if (found) {
        ok = msg_entry_decode (val, len, &st->applied_conf) == 0 &&
             st->applied_conf.type == RAFT_ENTRY_CONF &&
             raft_entry_conf (&st->applied_conf);
        leveldb_free (val);
        if (!ok) {
            store_state_clear (st);
            s_set_err (err, "applied configuration is malformed");
            return -1;
        }
    }

    const char kb = S_KEY_BASE;
    found = s_get (self, &kb, 1, &val, &len, err);
    if (found < 0)
        return -1;
    if (found) {
        ok = msg_entry_decode (val, len, &st->base) == 0 &&
             st->base.type == RAFT_ENTRY_CONF && st->base.index > 0 &&
             raft_entry_conf (&st->base);
        leveldb_free (val);
        if (!ok) {
            store_state_clear (st);
            s_set_err (err, "log base is malformed");
            return -1;
        }
    }

    if (s_load_log (self, st, err) != 0) {
        store_state_clear (st);
        return -1;
    }
    /* The log follows its base; everything applied is in the base or the
       log. */
    raft_index_t last =
        st->n_entries ? st->entries[st->n_entries - 1].index : st->base.index;
    if (st->n_entries && st->entries[0].index != st->base.index + 1) {
        s_set_err (err, "log starts at %llu after base %llu",
                   (unsigned long long)st->entries[0].index,
                   (unsigned long long)st->base.index);
        store_state_clear (st);
        return -1;
    }
    if (st->applied < st->base.index) {
        s_set_err (err, "applied index %llu is before the log's base %llu",
                   (unsigned long long)st->applied,
                   (unsigned long long)st->base.index);
        store_state_clear (st);
        return -1;
    }
    if (st->applied > last) {
        s_set_err (err, "applied index %llu is beyond the log's end %llu",
                   (unsigned long long)st->applied, (unsigned long long)last);
        store_state_clear (st);
        return -1;
    }
    return 0;
}

void
store_state_clear (store_state_t *st)
{
    for (size_t i = 0; i < st->n_entries; i++)
        raft_buf_unref (st->entries[i].data);
    free (st->entries);
    raft_buf_unref (st->base.data);
    raft_buf_unref (st->applied_conf.data);
    memset (st, 0, sizeof *st);
}

int
store_create (store_t *self, const raft_hard_state_t *hs,
              const raft_entry_t *entries, size_t n_entries, char **err)
{
    store_batch_t *b = store_batch_new ();
    const char kv = S_KEY_VERSION;
    leveldb_writebatch_put (b->wb, &kv, 1, S_FORMAT_VERSION,
                            strlen (S_FORMAT_VERSION));
    store_batch_put_hs (b, hs);
    int rc = 0;
    for (size_t i = 0; i < n_entries && rc == 0; i++)
        if (store_batch_put_entry (b, &entries[i]) != 0) {
            s_set_err (err, "entry %llu cannot be encoded",
                       (unsigned long long)entries[i].index);
            rc = -1;
        }
    if (rc == 0)
        rc = store_write (self, b, true, err);
    store_batch_destroy (&b);
    return rc;
}

/*  ---------------------------------------------------------------------
    KV reads                                                             */

/* Look k up; on 1 (found), *value (if value is not NULL) gets a copy. */
static int
s_get_kv_at (store_t *self, const char *k, size_t klen, raft_buf_t **value,
             char **err)
{
    char *val = NULL;
    size_t len = 0;
    int found = s_get (self, k, klen, &val, &len, err);
    if (found <= 0)
        return found;
    int rc = 1;
    if (value) {
        *value = raft_buf_new (val, len);
        if (!*value) {
            s_set_err (err, "out of memory for a %zu-byte value", len);
            rc = -1;
        }
    }
    leveldb_free (val);
    return rc;
}

int
store_get_kv (store_t *self, const void *key, size_t key_len,
              raft_buf_t **value, char **err)
{
    size_t klen;
    char *k =
        s_kv_key (&self->keybuf, &self->keycap, self->gen, key, key_len, &klen);
    int rc = s_get_kv_at (self, k, klen, value, err);
    if (rc < 0)
        s_name_corrupt_once (self, err);
    return rc;
}

int
store_read_kv (store_t *self, const void *key, size_t key_len,
               raft_buf_t **value, char **err)
{
    /* Not self->keybuf: that belongs to the owner's thread. */
    char *buf = NULL;
    size_t cap = 0, klen;
    pthread_rwlock_rdlock (&self->gen_lock);
    char *k = s_kv_key (&buf, &cap, self->gen, key, key_len, &klen);
    int rc = s_get_kv_at (self, k, klen, value, err);
    pthread_rwlock_unlock (&self->gen_lock);
    free (buf);
    if (rc < 0)
        s_name_corrupt_once (self, err);
    return rc;
}

/*  ---------------------------------------------------------------------
    Batches                                                              */

store_batch_t *
store_batch_new (void)
{
    store_batch_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->wb = leveldb_writebatch_create ();
    return self;
}

void
store_batch_destroy (store_batch_t **self_p)
{
    store_batch_t *self = *self_p;
    if (!self)
        return;
    leveldb_writebatch_destroy (self->wb);
    free (self->keybuf);
    free (self);
    *self_p = NULL;
}

void
store_batch_clear (store_batch_t *self)
{
    leveldb_writebatch_clear (self->wb);
    self->n = 0;
}

void
store_batch_append (store_batch_t *dst, const store_batch_t *src)
{
    leveldb_writebatch_append (dst->wb, src->wb);
    dst->n += src->n;
}

size_t
store_batch_size (const store_batch_t *self)
{
    return self->n;
}

void
store_batch_put_hs (store_batch_t *self, const raft_hard_state_t *hs)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_uint64 (&pk, hs->term);
    msgpack_pack_uint64 (&pk, hs->vote);
    const char k = S_KEY_HS;
    leveldb_writebatch_put (self->wb, &k, 1, buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    self->n++;
}

void
store_batch_put_applied (store_batch_t *self, raft_index_t applied,
                         raft_term_t term)
{
    const char k = S_KEY_APPLIED;
    char v[16];
    s_put_be64 (v, applied);
    s_put_be64 (v + 8, term);
    leveldb_writebatch_put (self->wb, &k, 1, v, sizeof v);
    self->n++;
}

/* Put e, encoded as a log entry (msg_entry_encode), under key. */
static int
s_put_encoded (store_batch_t *self, const char *key, size_t key_len,
               const raft_entry_t *e)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    int rc = msg_entry_encode (&buf, e);
    if (rc == 0) {
        leveldb_writebatch_put (self->wb, key, key_len, buf.data, buf.size);
        self->n++;
    }
    msgpack_sbuffer_destroy (&buf);
    return rc;
}

int
store_batch_put_entry (store_batch_t *self, const raft_entry_t *e)
{
    char key[9];
    s_log_key (key, e->index);
    return s_put_encoded (self, key, sizeof key, e);
}

int
store_batch_put_base (store_batch_t *self, const raft_entry_t *base)
{
    if (base->type != RAFT_ENTRY_CONF || base->index == 0)
        return -1;
    const char k = S_KEY_BASE;
    return s_put_encoded (self, &k, 1, base);
}

void
store_batch_del_entry (store_batch_t *self, raft_index_t index)
{
    char key[9];
    s_log_key (key, index);
    leveldb_writebatch_delete (self->wb, key, sizeof key);
    self->n++;
}

void
store_batch_put_kv (store_batch_t *self, const void *key, size_t key_len,
                    const void *value, size_t value_len)
{
    size_t klen;
    char *k =
        s_kv_key (&self->keybuf, &self->keycap, self->gen, key, key_len, &klen);
    leveldb_writebatch_put (self->wb, k, klen, value, value_len);
    self->n++;
}

void
store_batch_del_kv (store_batch_t *self, const void *key, size_t key_len)
{
    size_t klen;
    char *k =
        s_kv_key (&self->keybuf, &self->keycap, self->gen, key, key_len, &klen);
    leveldb_writebatch_delete (self->wb, k, klen);
    self->n++;
}

void
store_batch_set_gen (store_batch_t *self, uint64_t gen)
{
    self->gen = gen;
}

void
store_batch_put_gen (store_batch_t *self, uint64_t gen)
{
    const char k = S_KEY_GEN;
    char v[8];
    s_put_be64 (v, gen);
    leveldb_writebatch_put (self->wb, &k, 1, v, sizeof v);
    self->n++;
}

int
store_batch_put_conf (store_batch_t *self, const raft_entry_t *conf)
{
    if (conf->type != RAFT_ENTRY_CONF)
        return -1;
    const char k = S_KEY_CONF;
    return s_put_encoded (self, &k, 1, conf);
}

uint64_t
store_gen (const store_t *self)
{
    return self->gen;
}

void
store_set_gen (store_t *self, uint64_t gen)
{
    pthread_rwlock_wrlock (&self->gen_lock);
    self->gen = gen;
    pthread_rwlock_unlock (&self->gen_lock);
}

int64_t
store_delete_gen (store_t *self, uint64_t gen, size_t max, bool sync,
                  char **err)
{
    char prefix[9];
    size_t plen = s_gen_prefix (prefix, gen);
    leveldb_writebatch_t *wb = leveldb_writebatch_create ();
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->scan);
    int64_t n = 0;
    for (leveldb_iter_seek (it, prefix, plen);
         leveldb_iter_valid (it) && (size_t)n < max; leveldb_iter_next (it)) {
        size_t klen;
        const char *key = leveldb_iter_key (it, &klen);
        if (klen < plen || memcmp (key, prefix, plen) != 0)
            break;
        leveldb_writebatch_delete (wb, key, klen);
        n++;
    }
    char *ldb_err = NULL;
    leveldb_iter_get_error (it, &ldb_err);
    leveldb_iter_destroy (it);
    if (!ldb_err && n)
        leveldb_write (self->db, sync ? self->write_sync : self->write, wb,
                       &ldb_err);
    leveldb_writebatch_destroy (wb);
    if (ldb_err)
        return s_ldb_err (err, "deleting an old generation", ldb_err);
    return n;
}

/*  ---------------------------------------------------------------------
    Reading a point-in-time copy (to send as InstallSnapshot)            */

struct store_snap {
    store_t *store;
    const leveldb_snapshot_t *snap;
    leveldb_readoptions_t *read;
    leveldb_iterator_t *it;
    char prefix[9];
    size_t plen;
};

store_snap_t *
store_snap_open (store_t *self, raft_index_t *index, raft_term_t *term,
                 raft_entry_t *conf, char **err)
{
    store_snap_t *sn = calloc (1, sizeof *sn);
    if (!sn) {
        s_set_err (err, "out of memory");
        return NULL;
    }
    sn->store = self;
    sn->snap = leveldb_create_snapshot (self->db);
    sn->read = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (sn->read, 1);
    leveldb_readoptions_set_fill_cache (sn->read, 0);
    leveldb_readoptions_set_snapshot (sn->read, sn->snap);
    /* Everything read below comes from the same instant. */
    uint64_t gen = 0;
    const char kg = S_KEY_GEN, ka = S_KEY_APPLIED, kc = S_KEY_CONF;
    char *ldb_err = NULL, *v;
    size_t len;
    v = leveldb_get (self->db, sn->read, &kg, 1, &len, &ldb_err);
    if (v && len == 8)
        gen = s_get_be64 (v);
    leveldb_free (v);
    v = ldb_err ? NULL
                : leveldb_get (self->db, sn->read, &ka, 1, &len, &ldb_err);
    bool ok = v && len == 16;
    if (ok) {
        *index = s_get_be64 (v);
        *term = s_get_be64 (v + 8);
    }
    leveldb_free (v);
    memset (conf, 0, sizeof *conf);
    v = ok && !ldb_err
            ? leveldb_get (self->db, sn->read, &kc, 1, &len, &ldb_err)
            : NULL;
    ok = ok && v && msg_entry_decode (v, len, conf) == 0 &&
         conf->type == RAFT_ENTRY_CONF && raft_entry_conf (conf);
    leveldb_free (v);
    if (ldb_err || !ok || *index == 0 || *term == 0) {
        if (ldb_err)
            s_ldb_err (err, "snapshot read", ldb_err);
        else
            s_set_err (err, "no applied index, term and configuration to "
                            "snapshot");
        raft_buf_unref (conf->data);
        conf->data = NULL;
        store_snap_close (&sn);
        return NULL;
    }
    sn->plen = s_gen_prefix (sn->prefix, gen);
    sn->it = leveldb_create_iterator (self->db, sn->read);
    leveldb_iter_seek (sn->it, sn->prefix, sn->plen);
    return sn;
}

int
store_snap_next (store_snap_t *sn, const char **key, size_t *key_len,
                 const char **value, size_t *value_len)
{
    if (!leveldb_iter_valid (sn->it))
        return 0;
    size_t klen;
    const char *k = leveldb_iter_key (sn->it, &klen);
    if (klen < sn->plen || memcmp (k, sn->prefix, sn->plen) != 0)
        return 0;
    *key = k + sn->plen;
    *key_len = klen - sn->plen;
    *value = leveldb_iter_value (sn->it, value_len);
    return 1;
}

void
store_snap_advance (store_snap_t *sn)
{
    leveldb_iter_next (sn->it);
}

void
store_snap_close (store_snap_t **sn_p)
{
    store_snap_t *sn = *sn_p;
    if (!sn)
        return;
    if (sn->it)
        leveldb_iter_destroy (sn->it);
    leveldb_readoptions_destroy (sn->read);
    leveldb_release_snapshot (sn->store->db, sn->snap);
    free (sn);
    *sn_p = NULL;
}

int
store_digest (store_t *self, raft_index_t *applied, uint64_t *keys,
              uint8_t digest[STORE_DIGEST_BYTES], char **err)
{
    const leveldb_snapshot_t *snap = leveldb_create_snapshot (self->db);
    leveldb_readoptions_t *ro = leveldb_readoptions_create ();
    leveldb_readoptions_set_verify_checksums (ro, 1);
    leveldb_readoptions_set_fill_cache (ro, 0);
    leveldb_readoptions_set_snapshot (ro, snap);
    /* the generation and applied index of the same instant as the pairs */
    const char kg = S_KEY_GEN, ka = S_KEY_APPLIED;
    char *ldb_err = NULL, *v;
    size_t len;
    uint64_t gen = 0;
    *applied = 0;
    *keys = 0;
    v = leveldb_get (self->db, ro, &kg, 1, &len, &ldb_err);
    if (v && len == 8)
        gen = s_get_be64 (v);
    leveldb_free (v);
    v = ldb_err ? NULL : leveldb_get (self->db, ro, &ka, 1, &len, &ldb_err);
    if (v && len >= 8)
        *applied = s_get_be64 (v);
    leveldb_free (v);
    crypto_generichash_state h;
    crypto_generichash_init (&h, NULL, 0, STORE_DIGEST_BYTES);
    char prefix[9];
    size_t plen = s_gen_prefix (prefix, gen);
    leveldb_iterator_t *it =
        ldb_err ? NULL : leveldb_create_iterator (self->db, ro);
    if (it) {
        for (leveldb_iter_seek (it, prefix, plen); leveldb_iter_valid (it);
             leveldb_iter_next (it)) {
            size_t kl, vl;
            const char *k = leveldb_iter_key (it, &kl);
            if (kl < plen || memcmp (k, prefix, plen) != 0)
                break;
            const char *val = leveldb_iter_value (it, &vl);
            char n[8];
            s_put_be64 (n, kl - plen);
            crypto_generichash_update (&h, (const uint8_t *)n, 8);
            crypto_generichash_update (&h, (const uint8_t *)k + plen,
                                       kl - plen);
            s_put_be64 (n, vl);
            crypto_generichash_update (&h, (const uint8_t *)n, 8);
            crypto_generichash_update (&h, (const uint8_t *)val, vl);
            (*keys)++;
        }
        leveldb_iter_get_error (it, &ldb_err);
        leveldb_iter_destroy (it);
    }
    crypto_generichash_final (&h, digest, STORE_DIGEST_BYTES);
    leveldb_readoptions_destroy (ro);
    leveldb_release_snapshot (self->db, snap);
    if (ldb_err)
        return s_ldb_err (err, "digest", ldb_err);
    return 0;
}

int
store_write (store_t *self, store_batch_t *batch, bool sync, char **err)
{
    char *ldb_err = NULL;
    leveldb_write (self->db, sync ? self->write_sync : self->write, batch->wb,
                   &ldb_err);
    if (ldb_err)
        return s_ldb_err (err, "write", ldb_err);
    return 0;
}
