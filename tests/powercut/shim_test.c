/*  shim_test.c -- the process tests/powercut/shim_test.sh cuts: run under
    pcshim.so with PC_ROOT=DIR, it writes, syncs, writes more and kills
    itself (SIGKILL, as a power cut would stop it). After pc_rollback,
    the files must hold exactly their synced part:

      a    "AAAA" synced, then "BBBB"              -> "AAAA"
      b    "CC", never synced (a new file)         -> ""
      d    "DD" synced as c, renamed to d, "EE"    -> "DD"
      e    "ZZ" before the run (durable), "YY"     -> "ZZ"
      f    "FFFF" synced, ftruncate 2, "GG"         -> "FF"
      g    "HH" fdatasync'ed through pwrite, "II"  -> "HH"
      h    "JJ" synced, then unlinked              -> (absent)

    shim_test DIR        the run above (e must exist with "ZZ")
    shim_test DIR break  also overwrite a's synced bytes (pwrite at 0):
                         pc_rollback must refuse the run (exit 2)
*/
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
s_open (const char *dir, const char *name, int flags)
{
    char p[4096];
    snprintf (p, sizeof p, "%s/%s", dir, name);
    int fd = open (p, flags, 0644);
    if (fd < 0)
        perror (p);
    return fd;
}

static void
s_put (int fd, const char *s)
{
    if (write (fd, s, strlen (s)) != (ssize_t)strlen (s))
        perror ("write");
}

int
main (int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *dir = argv[1];
    int w = O_WRONLY | O_CREAT | O_TRUNC;
    int a = s_open (dir, "a", w);
    s_put (a, "AAAA");
    fsync (a);
    s_put (a, "BBBB");
    int b = s_open (dir, "b", w);
    s_put (b, "CC");
    int c = s_open (dir, "c", w);
    s_put (c, "DD");
    fsync (c);
    char from[4096], to[4096];
    snprintf (from, sizeof from, "%s/c", dir);
    snprintf (to, sizeof to, "%s/d", dir);
    rename (from, to);
    s_put (c, "EE");
    int e = s_open (dir, "e", O_WRONLY | O_APPEND);
    s_put (e, "YY");
    int f = s_open (dir, "f", w);
    s_put (f, "FFFF");
    fsync (f);
    if (ftruncate (f, 2) != 0)
        perror ("ftruncate");
    lseek (f, 2, SEEK_SET);
    s_put (f, "GG");
    int g = s_open (dir, "g", w);
    if (pwrite (g, "HH", 2, 0) != 2)
        perror ("pwrite");
    fdatasync (g);
    if (pwrite (g, "II", 2, 2) != 2)
        perror ("pwrite");
    int h = s_open (dir, "h", w);
    s_put (h, "JJ");
    fsync (h);
    snprintf (from, sizeof from, "%s/h", dir);
    unlink (from);
    if (argc > 2 && strcmp (argv[2], "break") == 0 &&
        pwrite (a, "XX", 2, 0) != 2)
        perror ("pwrite");
    kill (getpid (), SIGKILL);
    return 1; /* not reached */
}
