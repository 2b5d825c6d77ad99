// lessons.c - the course's lessons, their tests and their points.
//
// A lesson is a directory tests/NN_topic with a points file: one line per
// test, "test_name points where-to-read".  The points file, not the test
// program, is the list of tests a lesson has, so a test that never reports
// scores zero.  An instructor's hidden tests add lines from HIDDEN/NN_topic.
#define _GNU_SOURCE
#include "grader.h"

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
    snprintf(path, sizeof path, "%s/lessons/%s/README.md", opt.course,
             l->name);
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
    }
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
        n++;
    }
    if (d != NULL)
        closedir(d);
    qsort(ls, n, sizeof *ls, lesson_cmp);
    return n;
}
