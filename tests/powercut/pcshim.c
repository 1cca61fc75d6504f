/*  pcshim.c -- power-cut shim: an LD_PRELOAD library that records what a
    process made durable, so that after the process is killed (SIGKILL: a
    "cut") pc_rollback can leave on disk exactly what a power cut could
    have left. Used by tests/powercut/pc.sh; see tests/powercut/README.md.

    Environment:
      PC_ROOT     directory whose files are tracked (e.g. a node's LevelDB
                  directory); nothing outside it is touched or recorded
      PC_JOURNAL  the journal file (outside PC_ROOT), appended to
      PC_CUT_NEWLOG=K, PC_CUT_DELAY_US=D  (optional, a chosen moment)
                  SIGKILL ourselves D microseconds after the K-th write-
                  ahead log file (*.log) is created under PC_ROOT: right
                  after a LevelDB memtable switch, while the old log's
                  unsynced tail is at risk
      PC_CUT_SYNC=N  (optional) SIGKILL ourselves right after the N-th
                  fsync/fdatasync under PC_ROOT has returned
      PC_SLOW_TABLE_US=D  (optional) sleep D us before each sync of a
                  LevelDB table (*.ldb): a slow disk, so that the moments
                  after a memtable switch while the old log's content is
                  durable nowhere yet (until its table and the manifest
                  are synced) last long enough for a cut to land in them
      PC_ARM=FILE (optional) at each new *.log, if FILE exists: read a
                  delay D (microseconds) from it, delete it, and SIGKILL
                  ourselves D us later: arms a running process (pc.sh arm)

    The model (what a power cut may leave):
    - Content, per file: a file keeps exactly the bytes it had at its
      last successful fsync or fdatasync (its size then); everything
      written after is lost. Files that were in PC_ROOT when the process
      started count as durable as they are (they are what the previous
      cut and rollback left). A file created during the run and never
      synced is left empty. This is the harshest outcome a real cut can
      give for each file independently, and exactly the one that breaks
      "a later synced write makes an earlier unsynced one durable" across
      two files (LevelDB's memtable switch, PLATFORM-NOTES.md).
      pc_rollback can also keep a random part of each file's unsynced
      tail (PC_KEEP_SEED): dirty pages the kernel wrote back before the
      cut, which is how a later unsynced write can survive an earlier
      one.
    - Files are append-only: content is modelled by a durable length,
      which is right for LevelDB (it appends to its log, table and
      manifest files and never overwrites them; CURRENT is written whole
      to a temporary file, synced, then renamed). A write or pwrite below
      a file's durable length would break the model: it is recorded as a
      violation and pc_rollback refuses the run (exit 2) instead of
      pretending. ftruncate and O_TRUNC shrink the durable length.
    - Names (create, rename, unlink) are durable at once: rename carries
      the durable length to the new name, unlink forgets it. On ext4
      (journalled), XFS and btrfs these are journalled in order and
      committed by the next fsync of any file, and LevelDB fsyncs its
      directory with every manifest write (SyncDirIfManifest) and the new
      file right after a rename of CURRENT; modelling a lost rename or a
      resurrected file would need copies of every unlinked file, for
      failure modes our code does not have (nsxd itself creates, renames
      and deletes nothing in its LevelDB directory). This is the model's
      known gap: it cannot catch a bug that needs a lost directory entry.
    - Written through mmap, writev, or a second path to the same file
      (hard link): not modelled (LevelDB 1.23 writes with write(2) only).

    Journal (text, one line per event, each appended with one write(2) on
    an O_APPEND descriptor, so a SIGKILL leaves whole lines; a syncs is
    recorded only after it returned, so a cut during it counts as lost):
      B <size> <path>   at start: path is durable with size bytes
      S <size> <path>   fsync/fdatasync returned: size bytes (the size
                        before the call) are durable
      T <size> <path>   truncated to size (ftruncate, open with O_TRUNC)
      R <from>\t<to>    renamed
      U <path>          unlinked
      X <what>          a violation of the model (see above)
*/

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_FILES 4096 /* tracked paths (LevelDB keeps tens) */
#define S_MAX_FD 65536

static char s_root[PATH_MAX];
static size_t s_root_len;
static int s_jfd = -1;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
/* durable length per path (in memory, to check writes) */
static struct {
    char *path;
    off_t durable;
} s_files[S_MAX_FILES];
static size_t s_n_files;
/* per descriptor: 0 unknown, 1 not ours, 2 ours */
static unsigned char s_fd_kind[S_MAX_FD];
static long s_cut_newlog, s_cut_sync;
static long s_cut_delay_us;
static char s_arm[PATH_MAX];
static long s_slow_table_us;
static atomic_long s_newlogs, s_syncs;

static ssize_t (*s_write) (int, const void *, size_t);
static ssize_t (*s_pwrite) (int, const void *, size_t, off_t);
static int (*s_fsync) (int);
static int (*s_fdatasync) (int);
static int (*s_close) (int);
static int (*s_rename) (const char *, const char *);
static int (*s_unlink) (const char *);
static int (*s_ftruncate) (int, off_t);
static int (*s_open) (const char *, int, ...);
static int (*s_openat) (int, const char *, int, ...);

static void
s_resolve (void)
{
    s_write = dlsym (RTLD_NEXT, "write");
    s_pwrite = dlsym (RTLD_NEXT, "pwrite");
    s_fsync = dlsym (RTLD_NEXT, "fsync");
    s_fdatasync = dlsym (RTLD_NEXT, "fdatasync");
    s_close = dlsym (RTLD_NEXT, "close");
    s_rename = dlsym (RTLD_NEXT, "rename");
    s_unlink = dlsym (RTLD_NEXT, "unlink");
    s_ftruncate = dlsym (RTLD_NEXT, "ftruncate");
    s_open = dlsym (RTLD_NEXT, "open");
    s_openat = dlsym (RTLD_NEXT, "openat");
}

static void
s_journal (const char *fmt, ...)
{
    if (s_jfd < 0)
        return;
    char line[2 * PATH_MAX + 64];
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (line, sizeof line - 1, fmt, ap);
    va_end (ap);
    if (n < 0 || (size_t)n >= sizeof line - 1)
        return;
    line[n++] = '\n';
    /* one write(2): a cut leaves whole lines */
    if (syscall (SYS_write, s_jfd, line, (size_t)n) != n)
        abort (); /* a journal we cannot trust is worse than none */
}

/* The absolute path of name (relative to the working directory), with
   its directory resolved; false if it is not under the root. */
static bool
s_ours (const char *name, char out[PATH_MAX])
{
    if (!s_root_len || !name)
        return false;
    char dir[PATH_MAX], tmp[PATH_MAX];
    const char *slash = strrchr (name, '/');
    const char *base = slash ? slash + 1 : name;
    if (slash) {
        size_t dl = slash == name ? 1 : (size_t)(slash - name);
        if (dl >= sizeof tmp)
            return false;
        memcpy (tmp, name, dl);
        tmp[dl] = 0;
    } else
        strcpy (tmp, ".");
    if (!realpath (tmp, dir))
        return false;
    if ((size_t)snprintf (out, PATH_MAX, "%s/%s", dir, base) >= PATH_MAX)
        return false;
    return strncmp (out, s_root, s_root_len) == 0 &&
           (out[s_root_len] == '/' || out[s_root_len] == 0);
}

static bool
s_fd_path (int fd, char out[PATH_MAX])
{
    char link[64];
    snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink (link, out, PATH_MAX - 1);
    if (n < 0)
        return false;
    out[n] = 0;
    return strncmp (out, s_root, s_root_len) == 0 && out[s_root_len] == '/';
}

/* Is fd a file under the root? Cached per descriptor. */
static bool
s_fd_ours (int fd, char path[PATH_MAX])
{
    if (!s_root_len || fd < 0)
        return false;
    if (fd < S_MAX_FD && s_fd_kind[fd] == 1)
        return false;
    bool ours = s_fd_path (fd, path);
    if (fd < S_MAX_FD)
        s_fd_kind[fd] = ours ? 2 : 1;
    return ours;
}

/* REQUIRES: s_lock held */
static ssize_t
s_find (const char *path, bool add)
{
    for (size_t i = 0; i < s_n_files; i++)
        if (strcmp (s_files[i].path, path) == 0)
            return (ssize_t)i;
    if (!add || s_n_files == S_MAX_FILES)
        return -1;
    s_files[s_n_files].path = strdup (path);
    s_files[s_n_files].durable = 0;
    return (ssize_t)s_n_files++;
}

static void
s_forget (const char *path)
{
    ssize_t i = s_find (path, false);
    if (i < 0)
        return;
    free (s_files[i].path);
    s_files[i] = s_files[--s_n_files];
}

static void
s_baseline (const char *dir)
{
    DIR *d = opendir (dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (!strcmp (e->d_name, ".") || !strcmp (e->d_name, ".."))
            continue;
        char p[PATH_MAX];
        if ((size_t)snprintf (p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p)
            continue;
        struct stat st;
        if (lstat (p, &st) != 0)
            continue;
        if (S_ISDIR (st.st_mode))
            s_baseline (p);
        else if (S_ISREG (st.st_mode)) {
            ssize_t i = s_find (p, true);
            if (i >= 0)
                s_files[i].durable = st.st_size;
            s_journal ("B %lld %s", (long long)st.st_size, p);
        }
    }
    closedir (d);
}

__attribute__ ((constructor)) static void
s_init (void)
{
    s_resolve ();
    const char *root = getenv ("PC_ROOT"), *journal = getenv ("PC_JOURNAL");
    if (!root || !journal)
        return;
    /* the root may not exist yet (a new node): create it to resolve it */
    mkdir (root, 0755);
    if (!realpath (root, s_root)) {
        fprintf (stderr, "pcshim: PC_ROOT %s: %s\n", root, strerror (errno));
        abort ();
    }
    s_root_len = strlen (s_root);
    s_jfd = s_open (journal, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (s_jfd < 0) {
        fprintf (stderr, "pcshim: PC_JOURNAL %s: %s\n", journal,
                 strerror (errno));
        abort ();
    }
    const char *v;
    if ((v = getenv ("PC_CUT_NEWLOG")))
        s_cut_newlog = atol (v);
    if ((v = getenv ("PC_CUT_DELAY_US")))
        s_cut_delay_us = atol (v);
    if ((v = getenv ("PC_CUT_SYNC")))
        s_cut_sync = atol (v);
    if ((v = getenv ("PC_SLOW_TABLE_US")))
        s_slow_table_us = atol (v);
    if ((v = getenv ("PC_ARM")))
        snprintf (s_arm, sizeof s_arm, "%s", v);
    pthread_mutex_lock (&s_lock);
    s_baseline (s_root);
    pthread_mutex_unlock (&s_lock);
}

static void *
s_cutter (void *arg)
{
    long us = (long)(intptr_t)arg;
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep (&ts, NULL);
    kill (getpid (), SIGKILL);
    return NULL;
}

/* A descriptor was opened on name with flags. */
static int
s_opened (int fd, const char *name, int flags)
{
    if (fd < 0 || !s_root_len)
        return fd;
    if (fd < S_MAX_FD)
        s_fd_kind[fd] = 0;
    char path[PATH_MAX];
    if (!(flags & (O_WRONLY | O_RDWR)) || !s_ours (name, path))
        return fd;
    pthread_mutex_lock (&s_lock);
    ssize_t i = s_find (path, true);
    if (i >= 0 && (flags & O_TRUNC) && s_files[i].durable > 0) {
        s_files[i].durable = 0;
        s_journal ("T 0 %s", path);
    }
    pthread_mutex_unlock (&s_lock);
    size_t pl = strlen (path);
    if (!(flags & O_CREAT) || pl <= 4 || strcmp (path + pl - 4, ".log") != 0)
        return fd;
    long delay = -1;
    if (s_cut_newlog > 0 &&
        atomic_fetch_add (&s_newlogs, 1) + 1 == s_cut_newlog)
        delay = s_cut_delay_us;
    int afd = s_arm[0] ? s_open (s_arm, O_RDONLY | O_CLOEXEC) : -1;
    if (afd >= 0) {
        char buf[32] = "";
        ssize_t n = read (afd, buf, sizeof buf - 1);
        s_close (afd);
        s_unlink (s_arm);
        delay = n > 0 ? atol (buf) : 0;
    }
    if (delay >= 0) {
        pthread_t t;
        if (pthread_create (&t, NULL, s_cutter, (void *)(intptr_t)delay) == 0)
            pthread_detach (t);
    }
    return fd;
}

int
open (const char *name, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start (ap, flags);
        mode = va_arg (ap, mode_t);
        va_end (ap);
    }
    if (!s_open)
        s_resolve ();
    return s_opened (s_open (name, flags, mode), name, flags);
}

int open64 (const char *name, int flags, ...) __attribute__ ((alias ("open")));

int
openat (int dirfd, const char *name, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start (ap, flags);
        mode = va_arg (ap, mode_t);
        va_end (ap);
    }
    if (!s_openat)
        s_resolve ();
    int fd = s_openat (dirfd, name, flags, mode);
    /* relative to another directory: only absolute names are tracked */
    if (dirfd == AT_FDCWD || name[0] == '/')
        return s_opened (fd, name, flags);
    if (fd >= 0 && fd < S_MAX_FD)
        s_fd_kind[fd] = 0;
    return fd;
}

/* A write at offset off (-1: the descriptor's own offset) must not touch
   durable bytes. */
static void
s_check_write (int fd, off_t off, size_t n)
{
    char path[PATH_MAX];
    if (n == 0 || !s_fd_ours (fd, path))
        return;
    if (off < 0) {
        int fl = fcntl (fd, F_GETFL);
        if (fl >= 0 && (fl & O_APPEND))
            return;
        off = lseek (fd, 0, SEEK_CUR);
        if (off < 0)
            return;
    }
    pthread_mutex_lock (&s_lock);
    ssize_t i = s_find (path, false);
    if (i >= 0 && off < s_files[i].durable)
        s_journal ("X write at %lld below the durable size %lld of %s",
                   (long long)off, (long long)s_files[i].durable, path);
    pthread_mutex_unlock (&s_lock);
}

ssize_t
write (int fd, const void *buf, size_t n)
{
    if (!s_write)
        s_resolve ();
    if (s_root_len)
        s_check_write (fd, -1, n);
    return s_write (fd, buf, n);
}

ssize_t
pwrite (int fd, const void *buf, size_t n, off_t off)
{
    if (!s_pwrite)
        s_resolve ();
    if (s_root_len)
        s_check_write (fd, off, n);
    return s_pwrite (fd, buf, n, off);
}

ssize_t pwrite64 (int fd, const void *buf, size_t n, off_t off)
    __attribute__ ((alias ("pwrite")));

static int
s_sync (int fd, int (*real) (int))
{
    char path[PATH_MAX];
    struct stat st;
    bool ours = s_root_len && s_fd_ours (fd, path) && fstat (fd, &st) == 0 &&
                S_ISREG (st.st_mode);
    size_t pl = ours ? strlen (path) : 0;
    if (s_slow_table_us > 0 && pl > 4 && strcmp (path + pl - 4, ".ldb") == 0) {
        struct timespec ts = {s_slow_table_us / 1000000,
                              (s_slow_table_us % 1000000) * 1000};
        nanosleep (&ts, NULL);
    }
    int rc = real (fd);
    if (rc != 0 || !ours)
        return rc;
    pthread_mutex_lock (&s_lock);
    ssize_t i = s_find (path, true);
    if (i >= 0)
        s_files[i].durable = st.st_size;
    s_journal ("S %lld %s", (long long)st.st_size, path);
    pthread_mutex_unlock (&s_lock);
    if (s_cut_sync > 0 && atomic_fetch_add (&s_syncs, 1) + 1 == s_cut_sync)
        kill (getpid (), SIGKILL);
    return rc;
}

int
fsync (int fd)
{
    if (!s_fsync)
        s_resolve ();
    return s_sync (fd, s_fsync);
}

int
fdatasync (int fd)
{
    if (!s_fdatasync)
        s_resolve ();
    return s_sync (fd, s_fdatasync);
}

int
ftruncate (int fd, off_t len)
{
    if (!s_ftruncate)
        s_resolve ();
    char path[PATH_MAX];
    bool ours = s_root_len && s_fd_ours (fd, path);
    int rc = s_ftruncate (fd, len);
    if (rc == 0 && ours) {
        pthread_mutex_lock (&s_lock);
        ssize_t i = s_find (path, false);
        if (i >= 0 && len < s_files[i].durable) {
            s_files[i].durable = len;
            s_journal ("T %lld %s", (long long)len, path);
        }
        pthread_mutex_unlock (&s_lock);
    }
    return rc;
}

int ftruncate64 (int fd, off_t len) __attribute__ ((alias ("ftruncate")));

int
close (int fd)
{
    if (!s_close)
        s_resolve ();
    if (fd >= 0 && fd < S_MAX_FD)
        s_fd_kind[fd] = 0;
    return s_close (fd);
}

int
rename (const char *from, const char *to)
{
    if (!s_rename)
        s_resolve ();
    char pf[PATH_MAX], pt[PATH_MAX];
    bool of = s_ours (from, pf), ot = s_ours (to, pt);
    int rc = s_rename (from, to);
    if (rc == 0 && (of || ot)) {
        pthread_mutex_lock (&s_lock);
        ssize_t i = of ? s_find (pf, false) : -1;
        off_t d = i >= 0 ? s_files[i].durable : 0;
        s_forget (pf);
        s_forget (pt);
        if (ot && i >= 0) {
            ssize_t j = s_find (pt, true);
            if (j >= 0)
                s_files[j].durable = d;
        }
        s_journal ("R %s\t%s", of ? pf : "-", ot ? pt : "-");
        pthread_mutex_unlock (&s_lock);
    }
    return rc;
}

int
unlink (const char *name)
{
    if (!s_unlink)
        s_resolve ();
    char p[PATH_MAX];
    bool ours = s_ours (name, p);
    int rc = s_unlink (name);
    if (rc == 0 && ours) {
        pthread_mutex_lock (&s_lock);
        s_forget (p);
        s_journal ("U %s", p);
        pthread_mutex_unlock (&s_lock);
    }
    return rc;
}
