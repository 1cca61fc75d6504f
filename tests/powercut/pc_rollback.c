/*  pc_rollback.c -- the second half of a power cut: once the process that
    ran under pcshim.so is dead, leave in ROOT exactly what the shim's
    model says a power cut could have left (the model: pcshim.c's header).

      pc_rollback ROOT JOURNAL

    Replays JOURNAL into a durable length per path, then for every regular
    file under ROOT: a tracked file is truncated to its durable length; a
    file the journal does not know (created during the run and never
    synced) is truncated to 0. JOURNAL is then renamed JOURNAL.prev, so
    that the next run starts from a new baseline.
    With PC_KEEP_SEED=N in the environment, each file instead keeps a
    random part of its unsynced tail (seeded by N), as when the kernel
    wrote some dirty pages back before the cut: per file, any prefix
    between its durable length and its current size. The default (keep
    nothing unsynced) is the harshest outcome; this one is also possible,
    and is what defeats "a later unsynced write never reaches the disk
    before an earlier one" (a torn record is LevelDB's to drop).
    Exit: 0 done; 1 usage or I/O error; 2 the run broke the model (a write
    below a durable length, a file shorter than its durable length): the
    files are still rolled back, but the run proves nothing.
*/
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *path;
    long long durable;
} s_file_t;

static s_file_t *s_files;
static size_t s_n, s_cap;
static int s_broken;
static unsigned s_truncated, s_emptied, s_kept, s_partial;
static int s_keep_random;

static s_file_t *
s_find (const char *path, int add)
{
    for (size_t i = 0; i < s_n; i++)
        if (strcmp (s_files[i].path, path) == 0)
            return &s_files[i];
    if (!add)
        return NULL;
    if (s_n == s_cap) {
        s_cap = s_cap ? 2 * s_cap : 64;
        s_files = realloc (s_files, s_cap * sizeof *s_files);
        if (!s_files) {
            perror ("pc_rollback");
            exit (1);
        }
    }
    s_files[s_n] = (s_file_t){strdup (path), 0};
    return &s_files[s_n++];
}

static void
s_forget (const char *path)
{
    s_file_t *f = s_find (path, 0);
    if (!f)
        return;
    free (f->path);
    *f = s_files[--s_n];
}

static void
s_replay (FILE *j)
{
    char line[2 * PATH_MAX + 64];
    while (fgets (line, sizeof line, j)) {
        size_t len = strlen (line);
        if (!len || line[len - 1] != '\n')
            continue; /* cannot happen: lines are written whole */
        line[len - 1] = 0;
        char *rest = line + 2;
        long long size;
        int used = 0;
        switch (line[0]) {
        case 'B':
        case 'S':
            if (sscanf (rest, "%lld %n", &size, &used) == 1 && used)
                s_find (rest + used, 1)->durable = size;
            break;
        case 'T':
            if (sscanf (rest, "%lld %n", &size, &used) == 1 && used) {
                s_file_t *f = s_find (rest + used, 0);
                if (f && size < f->durable)
                    f->durable = size;
            }
            break;
        case 'R': {
            char *tab = strchr (rest, '\t');
            if (!tab)
                break;
            *tab = 0;
            const char *from = rest, *to = tab + 1;
            s_file_t *f = s_find (from, 0);
            long long d = f ? f->durable : -1;
            s_forget (from);
            s_forget (to);
            if (d >= 0 && strcmp (to, "-") != 0)
                s_find (to, 1)->durable = d;
            break;
        }
        case 'U': s_forget (rest); break;
        case 'X':
            fprintf (stderr, "pc_rollback: model broken: %s\n", rest);
            s_broken = 1;
            break;
        default: break;
        }
    }
}

static int
s_walk (const char *dir)
{
    DIR *d = opendir (dir);
    if (!d) {
        fprintf (stderr, "pc_rollback: %s: %s\n", dir, strerror (errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir (d))) {
        if (!strcmp (e->d_name, ".") || !strcmp (e->d_name, ".."))
            continue;
        char p[PATH_MAX];
        if ((size_t)snprintf (p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p)
            continue;
        struct stat st;
        if (lstat (p, &st) != 0)
            continue;
        if (S_ISDIR (st.st_mode)) {
            rc |= s_walk (p);
            continue;
        }
        if (!S_ISREG (st.st_mode))
            continue;
        s_file_t *f = s_find (p, 0);
        long long keep = f ? f->durable : 0;
        if (st.st_size < keep) {
            fprintf (stderr,
                     "pc_rollback: %s has %lld bytes, fewer than its "
                     "durable %lld\n",
                     p, (long long)st.st_size, keep);
            s_broken = 1;
            continue;
        }
        if (s_keep_random && st.st_size > keep) {
            long long extra = random () % (st.st_size - keep + 1);
            keep += extra;
            if (extra && keep < st.st_size)
                s_partial++;
        }
        if (st.st_size == keep) {
            s_kept++;
            continue;
        }
        if (truncate (p, keep) != 0) {
            fprintf (stderr, "pc_rollback: truncate %s: %s\n", p,
                     strerror (errno));
            rc = -1;
            continue;
        }
        if (keep)
            s_truncated++;
        else
            s_emptied++;
    }
    closedir (d);
    return rc;
}

int
main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: pc_rollback ROOT JOURNAL\n");
        return 1;
    }
    char root[PATH_MAX];
    if (!realpath (argv[1], root)) {
        fprintf (stderr, "pc_rollback: %s: %s\n", argv[1], strerror (errno));
        return 1;
    }
    FILE *j = fopen (argv[2], "r");
    if (!j) {
        fprintf (stderr, "pc_rollback: journal %s: %s\n", argv[2],
                 strerror (errno));
        return 1;
    }
    const char *seed = getenv ("PC_KEEP_SEED");
    if (seed && *seed) {
        s_keep_random = 1;
        srandom ((unsigned)strtoul (seed, NULL, 10));
    }
    s_replay (j);
    fclose (j);
    if (s_walk (root) != 0)
        return 1;
    char prev[PATH_MAX];
    snprintf (prev, sizeof prev, "%s.prev", argv[2]);
    if (rename (argv[2], prev) != 0) {
        fprintf (stderr, "pc_rollback: rename %s: %s\n", argv[2],
                 strerror (errno));
        return 1;
    }
    printf ("pc_rollback: %s: %u files cut short (%u keeping part of their "
            "unsynced tail), %u emptied, %u intact\n",
            root, s_truncated, s_partial, s_emptied, s_kept);
    return s_broken ? 2 : 0;
}
