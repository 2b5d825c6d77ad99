// lessons.c - the course's lessons, their tests and their points.
//
// A lesson is a directory tests/NN_topic with a points file: one line per
// test, "test_name points where-to-read".  The points file, not the test
// program, is the list of tests a lesson has, so a test that never reports
// scores zero.  An instructor's hidden tests add lines from HIDDEN/NN_topic.
#define _GNU_SOURCE
#include "grader.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
topic_of(const char *lesson)
{
    const char *u = strchr(lesson, '_');
    return u != NULL ? u + 1 : lesson;
}

static int
add_test(gr_lesson *l, const gr_test *t, size_t *cap)
{
    if (l->ntests == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        gr_test *grown = realloc(l->tests, *cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        l->tests = grown;
    }
    l->tests[l->ntests++] = *t;
    return 0;
}

// Read DIR/NAME/points; the tests are added to the lesson's.
static int
read_points(gr_lesson *l, const char *dir, int hidden)
{
    char path[PATH_MAX], line[512];
    snprintf(path, sizeof path, "%s/%s/points", dir, l->name);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t cap = l->ntests;
    while (fgets(line, sizeof line, f) != NULL) {
        gr_test t = {.ref = "README.md", .hidden = hidden};
        if (line[0] == '#' ||
            sscanf(line, "%127s %d %255s", t.name, &t.points, t.ref) < 2 ||
            (opt.test[0] && strstr(t.name, opt.test) == NULL) ||
            (opt.only[0] && strcmp(t.name, opt.only) != 0))
            continue;
        if (add_test(l, &t, &cap) < 0)
            break;
        l->nhidden += hidden;
    }
    fclose(f);
    return l->ntests > 0 ? 0 : -1;
}

void
read_title(gr_lesson *l)
{
    char path[PATH_MAX], line[256];
    snprintf(path, sizeof path, "%s/lessons/%s/README.md", opt.course, l->name);
    FILE *f = fopen(path, "re");
    snprintf(l->title, sizeof l->title, "%s", topic_of(l->name));
    if (f == NULL)
        return;
    if (fgets(line, sizeof line, f) != NULL && line[0] == '#') {
        char *t = line + strspn(line, "# ");
        t[strcspn(t, "\n")] = '\0';
        snprintf(l->title, sizeof l->title, "%s", t);
    }
    fclose(f);
}

void
lesson_clear(gr_lesson *l)
{
    free(l->problem);
    l->problem = NULL;
    for (size_t i = 0; i < l->ntests; i++) {
        free(l->tests[i].message);
        l->tests[i].message = NULL;
        l->tests[i].passed = 0;
        l->tests[i].sanitizer_failed = 0;
        l->tests[i].seconds = 0;
    }
}

// Add the mp_ functions a lesson header declares (or names, "mp_x(") to
// the lesson's list, " mp_a mp_b ", for failure_cause.
static void
read_header_functions(gr_lesson *l, const char *path)
{
    FILE *f = fopen(path, "re");
    char line[512];
    size_t used = strlen(l->functions);
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        for (char *p = strstr(line, "mp_"); p != NULL; p = strstr(p, "mp_")) {
            size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
            int starts =
                p == line || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
            char word[80];
            snprintf(word, sizeof word, " %.*s ", (int)len, p);
            if (starts && p[len] == '(' && len < 70 &&
                used + len + 2 < sizeof l->functions &&
                strstr(l->functions, word) == NULL)
                used += (size_t)snprintf(l->functions + used,
                                         sizeof l->functions - used, "%s",
                                         word + (used > 0));
            p += len;
        }
    }
    if (f != NULL)
        fclose(f);
}

static void
read_functions(gr_lesson *l)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lessons/%s", opt.course, l->name);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char file[PATH_MAX + 256];
        if (n < 3 || strcmp(e->d_name + n - 2, ".h") != 0)
            continue;
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        read_header_functions(l, file);
    }
    if (d != NULL)
        closedir(d);
}

// The lesson function a test is about: the longest one whose name follows
// "test_" (test_mp_process_init_subclass_... is about
// mp_process_init_subclass, not mp_process_init).  Its length, or 0.
static size_t
function_of(const gr_lesson *l, const char *test)
{
    size_t best = 0;
    if (strncmp(test, "test_", 5) != 0)
        return 0;
    test += 5;
    for (const char *p = l->functions; *p;) {
        p += strspn(p, " ");
        size_t len = strcspn(p, " ");
        if (len > best && strncmp(test, p, len) == 0 && test[len] == '_')
            best = len;
        p += len;
    }
    return best;
}

long
failure_cause(const gr_lesson *l, size_t j)
{
    const gr_test *t = &l->tests[j];
    size_t len = function_of(l, t->name);
    if (t->passed || l->problem != NULL || len == 0)
        return -1;
    for (size_t i = 0; i < j; i++)
        if (!l->tests[i].passed && (t->hidden || !l->tests[i].hidden) &&
            function_of(l, l->tests[i].name) == len &&
            strncmp(l->tests[i].name, t->name, len + 5) == 0)
            return (long)i;
    return -1;
}

static int
lesson_cmp(const void *a, const void *b)
{
    return strcmp(((const gr_lesson *)a)->name, ((const gr_lesson *)b)->name);
}

static int
wanted(const char *name)
{
    size_t n = strlen(opt.lesson);
    return n == 0 || strcmp(name, opt.lesson) == 0 ||
           (strncmp(name, opt.lesson, n) == 0 && name[n] == '_');
}

size_t
find_lessons(gr_lesson *ls, size_t max)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/tests", opt.course);
    DIR *d = opendir(path);
    size_t n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL && n < max) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || !wanted(e->d_name))
            continue;
        memset(&ls[n], 0, sizeof ls[n]);
        snprintf(ls[n].name, sizeof ls[n].name, "%s", e->d_name);
        if (read_points(&ls[n], path, 0) < 0)
            continue;
        if (opt.hidden[0])
            read_points(&ls[n], opt.hidden, 1);
        read_functions(&ls[n]);
        n++;
    }
    if (d != NULL)
        closedir(d);
    qsort(ls, n, sizeof *ls, lesson_cmp);
    return n;
}
