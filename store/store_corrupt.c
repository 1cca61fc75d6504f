/*  store_corrupt.c -- naming the damaged files in a corruption error
    (store_int.h).

    LevelDB's C API reports "checksum mismatch" or "block checksum
    mismatch" without saying where; an operator needs the file, and the
    recovery (README, "Recovering a corrupted node"). Only on error paths.
*/
#include "store_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
   s_find_bad_tables finds -- and where the recovery is written up
   (store_int.h). */
void
store_corrupt_name_at_start (const char *dir, char **err)
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
    *err = NULL; /* store_err_set frees *err */
    store_err_set (
        err,
        "%s: the database in %s is corrupted (%s): this node must not "
        "serve from it; README, \"Recovering a corrupted node\": "
        "remove the member, wipe the directory, start it empty and "
        "join",
        was, dir, *files ? files : "file not identified");
    free (was);
}

void
store_corrupt_name (store_t *self, char **err)
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
    store_err_set (
        err,
        "%s: the database in %s is corrupted (%s): this node must not "
        "serve from it; README, \"Recovering a corrupted node\"",
        was, self->path,
        self->corrupt_note ? self->corrupt_note : "out of memory");
    free (was);
    pthread_mutex_unlock (&self->corrupt_lock);
}
