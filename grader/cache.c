// cache.c - keep each lesson's results while nothing they depend on changed.
//
// Why it exists: `make progress` (and `make watch`'s first look) grade
// every lesson, 5-40 s on two cores, although a student changes one file
// at a time.  A lesson's results depend on the student's file, the
// course's compiled tests (test object, harness, wrappers), its points and
// headers, the grader itself and the options that change a verdict; so a
// result is kept under a key that hashes all of them, and is reused only
// when the key matches exactly.  What it trades: a test that failed by
// bad luck (a loaded machine missing a deadline) stays failed until the
// file is saved again; `make grade` and `make check` never use the cache.
//
// The file is read as the grader, not through the sandbox as build.c does:
// only a regular file that is not a link is hashed, and anything else
// simply grades as usual.  Hidden tests and --loose are never cached.
#define _GNU_SOURCE
#include "grader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define MAX_FILE (1 << 20) // build.c refuses larger files anyway
#define CACHE_MAGIC "forklings-cache 1"

static unsigned long long
hash_bytes(const void *p, size_t n, unsigned long long h)
{
    for (const unsigned char *c = p; n-- > 0; c++)
        h = (h ^ *c) * FNV_PRIME;
    return h;
}

static unsigned long long
hash_str(const char *s, unsigned long long h)
{
    return hash_bytes(s, strlen(s) + 1, h);
}

unsigned long long
hash_file(const char *path, unsigned long long h)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return hash_str("(absent)", h);
    }
    char buf[65536];
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0)
        h = hash_bytes(buf, (size_t)got, h);
    close(fd);
    return hash_bytes(&got, sizeof got, h); // a failed read differs
}

// Every header of the lesson, in a stable order.
static unsigned long long
hash_headers(const char *lesson, unsigned long long h)
{
    char dir[PATH_MAX], path[PATH_MAX + 300];
    struct dirent **names;
    snprintf(dir, sizeof dir, "%s/lessons/%s", opt.course, lesson);
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]->d_name);
        if (len > 2 && strcmp(names[i]->d_name + len - 2, ".h") == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            h = hash_file(path, hash_str(names[i]->d_name, h));
        }
        free(names[i]);
    }
    if (n >= 0)
        free(names);
    return h;
}

// The key of a lesson's results: 0 when they must not be cached.
static unsigned long long
lesson_key(const gr_lesson *l)
{
    static const char *shared[] = {"harness.o", "stress.o", "sanitize.o",
                                   "libc.names", "check.names"};
    char path[PATH_MAX * 2];
    const char *t = topic_of(l->name);
    if (!opt.cache[0] || opt.hidden[0] || opt.loose)
        return 0;
    snprintf(path, sizeof path, "%s/lessons/%s/%s.c", opt.submission, l->name,
             t);
    unsigned long long h = hash_file(path, FNV_OFFSET);
    snprintf(path, sizeof path, "%s/tests/%s/check_%s.o", opt.objdir, l->name,
             t);
    h = hash_file(path, h);
    snprintf(path, sizeof path, "%s/tests/%s/check_%s.san.o", opt.objdir,
             l->name, t);
    h = hash_file(path, h);
    for (size_t i = 0; i < sizeof shared / sizeof *shared; i++) {
        snprintf(path, sizeof path, "%s/tests/%s", opt.objdir, shared[i]);
        h = hash_file(path, h);
    }
    snprintf(path, sizeof path, "%s/tests/%s/points", opt.course, l->name);
    h = hash_file(path, h);
    snprintf(path, sizeof path, "%s/tests/wrap.syms", opt.course);
    h = hash_file(path, h);
    h = hash_file("/proc/self/exe", hash_headers(l->name, h));
    char opts[512];
    snprintf(opts, sizeof opts, "cc=%s san=%d ff=%d test=%s only=%s qb=%d",
             opt.cc, opt.sanitize, opt.fail_fast, opt.test, opt.only,
             opt.quick_build);
    h = hash_str(opts, h);
    return h ? h : 1;
}

// Newlines, tabs and backslashes escaped, so that a record is one line.
static void
put_escaped(FILE *f, const char *s)
{
    for (; s != NULL && *s; s++)
        if (*s == '\n' || *s == '\t' || *s == '\\')
            fprintf(f, "\\%c", *s == '\n' ? 'n' : *s == '\t' ? 't' : '\\');
        else
            fputc(*s, f);
}

static char *
unescape(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    for (; out != NULL && *s && *s != '\n'; s++) {
        if (*s == '\\' && s[1] != '\0') {
            s++;
            *o++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
        } else {
            *o++ = *s;
        }
    }
    if (out != NULL)
        *o = '\0';
    return out;
}

static void
cache_path(char *path, size_t size, const gr_lesson *l)
{
    snprintf(path, size, "%s/%s", opt.cache, l->name);
}

static void
store(const gr_lesson *l, unsigned long long key)
{
    char path[PATH_MAX + 80], tmp[PATH_MAX + 100];
    mkdir(opt.cache, 0755); // its parent is make's output directory
    cache_path(path, sizeof path, l);
    snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return;
    fprintf(f, "%s %016llx\n", CACHE_MAGIC, key);
    if (l->problem != NULL) {
        fputs("P\t", f);
        put_escaped(f, l->problem);
        fputc('\n', f);
    }
    for (size_t i = 0; i < l->ntests; i++) {
        fprintf(f, "T\t%s\t%d\t", l->tests[i].name, l->tests[i].passed);
        put_escaped(f, l->tests[i].message);
        fputc('\n', f);
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        unlink(tmp);
}

// Fill a record's verdict in; -1 when it names no test of the lesson.
static int
load_test(gr_lesson *l, char *line)
{
    char *name = line + 2, *passed = strchr(name, '\t');
    char *msg = passed != NULL ? strchr(passed + 1, '\t') : NULL;
    if (msg == NULL)
        return -1;
    *passed++ = '\0';
    for (size_t i = 0; i < l->ntests; i++)
        if (strcmp(l->tests[i].name, name) == 0 &&
            l->tests[i].message == NULL) {
            l->tests[i].passed = *passed == '1';
            l->tests[i].message = unescape(msg + 1);
            return 0;
        }
    return -1;
}

// Results for key, or -1 (the lesson left cleared) when there are none.
static int
load(gr_lesson *l, unsigned long long key)
{
    char path[PATH_MAX + 80], head[64], want[64];
    cache_path(path, sizeof path, l);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    snprintf(want, sizeof want, "%s %016llx\n", CACHE_MAGIC, key);
    int bad = fgets(head, sizeof head, f) == NULL || strcmp(head, want) != 0;
    size_t found = 0, cap = 0;
    char *line = NULL;
    while (!bad && getline(&line, &cap, f) > 0) {
        if (strncmp(line, "P\t", 2) == 0 && l->problem == NULL)
            bad = (l->problem = unescape(line + 2)) == NULL;
        else
            bad = strncmp(line, "T\t", 2) != 0 || load_test(l, line) < 0 ||
                  ++found > l->ntests;
    }
    free(line);
    fclose(f);
    if (bad || found != l->ntests) {
        lesson_clear(l);
        return -1;
    }
    read_title(l);
    return 0;
}

void
grade_lesson_cached(gr_lesson *l)
{
    unsigned long long key = lesson_key(l);
    if (key != 0 && load(l, key) == 0)
        return;
    grade_lesson(l);
    // A save while it was graded: these results may be the old file's.
    if (key != 0 && lesson_key(l) == key)
        store(l, key);
}
