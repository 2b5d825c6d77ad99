// class.c - grade a whole class: every submission, in parallel, into a
// gradebook.
//
// Why it is built this way: each submission is graded by a separate run of
// this same grader (so each is contained exactly as `make grade` is, with
// its own sandbox uid when root), at most `jobs` at once.  One broken or
// hostile submission can only spoil its own row: its grader's failure is
// recorded and the others go on.  The class run is a subreaper too, so
// nothing a dead grader started outlives the class.  The gradebook is built
// from the scores.tsv each grader writes, never from their terminal output.
#define _GNU_SOURCE
#include "grader.h"
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_STUDENTS 4096
#define MAX_COLUMNS 64
#define MAX_FAILS 1024
#define TOP_FAILS 10

typedef struct {
    char name[256];
    pid_t pid;
    int status; // the grader's wait status
    int got[MAX_COLUMNS], max[MAX_COLUMNS];
    int graded; // 1 when its scores.tsv was read
} student;

static char lessons[MAX_COLUMNS][64];
#define MAX_SKIPPED 64
static char skipped[MAX_SKIPPED][300]; // "NAME: why", for the summary
static int nskipped;
static int nlessons;
struct fail {
    char test[200]; // "lesson: test"
    int failed, ran;
};
static struct fail fails[MAX_FAILS];
static int nfails;

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(((const student *)a)->name, ((const student *)b)->name);
}

static void
skip(const char *name, const char *why)
{
    if (nskipped == MAX_SKIPPED)
        return;
    snprintf(skipped[nskipped], sizeof skipped[0], "%.200s: %s", name, why);
    gr_clean(skipped[nskipped++]); // a name can hold any byte but '/'
}

// Every directory in dir is one student's submission; anything else is
// listed in the summary as skipped, never followed.
static int
list_students(const char *dir, student *st)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < MAX_STUDENTS) {
        struct stat sb;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (e->d_name[0] == '.') {
            skip(e->d_name, "its name begins with a dot");
            continue;
        }
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISDIR(sb.st_mode)) {
            skip(e->d_name, S_ISLNK(sb.st_mode) ? "a symbolic link, not "
                                                  "followed"
                                                : "not a directory");
            continue;
        }
        memset(&st[n], 0, sizeof st[n]);
        snprintf(st[n].name, sizeof st[n].name, "%s", e->d_name);
        n++;
    }
    closedir(d);
    qsort(st, (size_t)n, sizeof *st, name_cmp);
    return n;
}

// The grader's own arguments for one student: ours without --class,
// --jobs and --out, plus --submission and --out for that student.
static char **
student_argv(char **argv, const char *sub, const char *out)
{
    int n = 0;
    while (argv[n] != NULL)
        n++;
    char **a = calloc((size_t)n + 8, sizeof *a);
    int k = 0;
    a[k++] = "/proc/self/exe";
    for (int i = 1; i < n; i++) {
        if ((strcmp(argv[i], "--class") == 0 ||
             strcmp(argv[i], "--jobs") == 0 || strcmp(argv[i], "--out") == 0) &&
            i + 1 < n) {
            i++;
            continue;
        }
        a[k++] = argv[i];
    }
    a[k++] = "--submission";
    a[k++] = (char *)sub;
    a[k++] = "--out";
    a[k++] = (char *)out;
    return a;
}

static pid_t
start_student(student *s, const char *dir, const char *out, char **argv)
{
    char sub[PATH_MAX], sout[PATH_MAX], report[PATH_MAX + 16];
    snprintf(sub, sizeof sub, "%s/%s", dir, s->name);
    snprintf(sout, sizeof sout, "%s/%s", out, s->name);
    mkdir(sout, 0700);
    snprintf(report, sizeof report, "%s/report.txt", sout);
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM); // a dead class run ends its graders,
                                      // which clean up on SIGTERM
    int fd = open(report, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                  0600);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        _exit(127);
    setpgid(0, 0);
    char **a = student_argv(argv, sub, sout);
    execv(a[0], a);
    _exit(127);
}

static int
column(const char *lesson)
{
    for (int i = 0; i < nlessons; i++)
        if (strcmp(lessons[i], lesson) == 0)
            return i;
    if (nlessons == MAX_COLUMNS)
        return -1;
    snprintf(lessons[nlessons], sizeof lessons[0], "%s", lesson);
    return nlessons++;
}

static void
count_test(const char *lesson, const char *test, int passed)
{
    char key[200];
    snprintf(key, sizeof key, "%s: %s", lesson, test);
    int i = 0;
    while (i < nfails && strcmp(fails[i].test, key) != 0)
        i++;
    if (i == nfails) {
        if (nfails == MAX_FAILS)
            return;
        snprintf(fails[nfails++].test, sizeof fails[0].test, "%s", key);
    }
    fails[i].ran++;
    fails[i].failed += !passed;
}

static void
read_scores(student *s, const char *out)
{
    char path[PATH_MAX], line[512], a[128], b[200];
    snprintf(path, sizeof path, "%s/%s/scores.tsv", out, s->name);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    int x, y;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "L\t%127s\t%d\t%d", a, &x, &y) == 3) {
            int c = column(a);
            if (c >= 0) {
                s->got[c] = x;
                s->max[c] = y;
            }
        } else if (sscanf(line, "T\t%127s\t%199s\t%d", a, b, &x) == 3) {
            count_test(a, b, x);
        }
    }
    fclose(f);
    s->graded = WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0;
}

// A quoted cell.  A spreadsheet runs a cell that begins with = + - @ (or
// a tab or carriage return) as a formula: such a cell gets a leading '.
static void
csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    if (strchr("=+-@\t\r", *s) != NULL && *s != '\0')
        fputc('\'', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
    }
    fputc('"', f);
}

static int
write_gradebook(const char *path, const student *st, int n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "student");
    for (int c = 0; c < nlessons; c++)
        fprintf(f, ",%s", lessons[c]);
    fprintf(f, ",total,max,status\n");
    for (int i = 0; i < n; i++) {
        int got = 0, max = 0;
        csv_field(f, st[i].name);
        for (int c = 0; c < nlessons; c++) {
            fprintf(f, ",%d", st[i].got[c]);
            got += st[i].got[c];
            max += st[i].max[c];
        }
        fprintf(f, ",%d,%d,%s\n", got, max,
                st[i].graded ? "graded" : "grader failed: see report.txt");
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int
most_failed_first(const void *a, const void *b)
{
    const struct fail *x = a, *y = b;
    return y->failed - x->failed;
}

// The summary: per-lesson means, then the tests most often failed.
static void
write_summary(FILE *f, const student *st, int n)
{
    fprintf(f, "# Class summary: %d submissions\n\n", n);
    fprintf(f, "| lesson | mean | max | mean %% |\n|---|---|---|---|\n");
    for (int c = 0; c < nlessons; c++) {
        double sum = 0;
        int max = 0, graded = 0;
        for (int i = 0; i < n; i++) {
            if (!st[i].graded)
                continue;
            sum += st[i].got[c];
            max = st[i].max[c] > max ? st[i].max[c] : max;
            graded++;
        }
        double mean = graded ? sum / graded : 0;
        fprintf(f, "| %s | %.1f | %d | %.0f%% |\n", lessons[c], mean, max,
                max ? 100 * mean / max : 0);
    }
    qsort(fails, (size_t)nfails, sizeof fails[0], most_failed_first);
    if (nskipped > 0) {
        fprintf(f, "\nSkipped (not graded):\n\n");
        for (int i = 0; i < nskipped; i++)
            fprintf(f, "- %s\n", skipped[i]);
    }
    fprintf(f, "\nTests most often failed:\n\n");
    for (int i = 0; i < nfails && i < TOP_FAILS && fails[i].failed; i++)
        fprintf(f, "- %s: failed by %d of %d\n", fails[i].test, fails[i].failed,
                fails[i].ran);
}

// Start up to jobs graders at once; reap them as they end.
static void
run_all(student *st, int n, int jobs, const char *dir, const char *out,
        char **argv)
{
    int next = 0, running = 0;
    while (next < n || running > 0) {
        while (running < jobs && next < n) {
            st[next].pid = start_student(&st[next], dir, out, argv);
            running += st[next].pid > 0;
            next++;
        }
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0 && errno == ECHILD)
            break;
        for (int i = 0; i < next; i++)
            if (pid > 0 && st[i].pid == pid) {
                st[i].status = status;
                st[i].pid = 0;
                running--;
            }
    }
}

int
grade_class(const char *dir, const char *out, int jobs, char **argv)
{
    static student st[MAX_STUDENTS];
    int n = list_students(dir, st);
    if (n <= 0) {
        fprintf(stderr, "grader: no submissions (directories) in %s\n", dir);
        return 2;
    }
    if (jobs <= 0)
        jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (jobs > SB_UID_SLOTS) { // each grader holds a sandbox uid as root
        fprintf(stderr,
                "grader: --jobs %d is more than the %d graders that "
                "can run at once; running %d\n",
                jobs, SB_UID_SLOTS, SB_UID_SLOTS);
        jobs = SB_UID_SLOTS;
    }
    // Students' reports and results are for the instructor only.
    if ((mkdir(out, 0700) < 0 && errno != EEXIST) || chmod(out, 0700) < 0) {
        fprintf(stderr, "grader: cannot make %s: %s\n", out, strerror(errno));
        return 1;
    }
    // Orphans of a grader that died come to us, and are ended below.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    run_all(st, n, jobs > 0 ? jobs : 1, dir, out, argv);
    sb_finish();
    int failed = 0;
    for (int i = 0; i < n; i++) {
        read_scores(&st[i], out);
        failed += !st[i].graded;
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/gradebook.csv", out);
    if (write_gradebook(path, st, n) < 0)
        return 1;
    snprintf(path, sizeof path, "%s/summary.md", out);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return 1;
    write_summary(f, st, n);
    fclose(f);
    write_summary(stdout, st, n);
    printf("\nGradebook: %s/gradebook.csv\n", out);
    printf("%d graded, %d failed\n", n - failed, failed);
    return 0;
}
