// grader.c - grade a submission's lessons with the course's pristine tests.
//
// Why it exists: `make grade` must give the same, honest score to any tree
// of student code, hostile or broken, and always come back.  So the grader
// never links student code and never trusts what it prints:
//
//   - the tests, headers and points come from the course tree; from the
//     submission it takes only each lesson's exercise file
//     (lessons/NN_topic/topic.c), compiled alone against the pristine
//     header and linked with the prebuilt test objects;
//   - the list of tests comes from the points file, so a test that never
//     reports scores zero; each test runs as its own contained program
//     (sandbox.c) and passes only when that program exits 0 and reported
//     PASS for that very test on fd 3, a channel the test process closes
//     before student code runs;
//   - a lesson that does not compile scores zero with the compiler's
//     message, and the others are graded anyway.
//
// Exit status: 0 when grading completed, whatever the score; 2 for bad
// usage; 1 when the grader itself failed.
#define _GNU_SOURCE
#include "grader.h"
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef FL_CSTD
#define FL_CSTD "-std=c11 -D_POSIX_C_SOURCE=200809L"
#endif
#ifndef FL_CHECK_LIBS
#define FL_CHECK_LIBS "-pthread -lcheck -lrt -lm -lsubunit"
#endif
#ifndef FL_CHECK_CFLAGS
#define FL_CHECK_CFLAGS "-pthread"
#endif

#define TEST_WALL_MS 20000    // a test's Check timeout is far shorter
#define BUILD_WALL_MS 60000
#define OUT_CAP 65536
#define MAX_LESSONS 64

static struct {
    char course[PATH_MAX], submission[PATH_MAX], objdir[PATH_MAX];
    char out[PATH_MAX], lesson[64], cc[64], test[128], only[128];
    char hidden[PATH_MAX], class[PATH_MAX];
    int verbose, quiet, jobs, watch, summary, list, strict, fail_fast;
} opt = {.cc = "cc"};

static char *workdir; // binaries, removed at exit
static char *rundir;  // the current test's cwd and TMPDIR
static int runs;      // numbers each run's IPC prefix

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
cleanup(void)
{
    if (rundir != NULL)
        sb_rmtree(rundir);
    if (workdir != NULL)
        sb_rmtree(workdir);
    rundir = workdir = NULL;
    sb_finish();
}

static void
on_signal(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ----------------------------------------------------------- the lesson */

// The topic of a lesson: 03_start_methods -> start_methods.
static const char *
topic_of(const char *lesson)
{
    const char *u = strchr(lesson, '_');
    return u != NULL ? u + 1 : lesson;
}

// Read DIR/NAME/points: "test_name points where-to-read" per line; the
// tests are added to the lesson's.
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
        if (l->ntests == cap) {
            cap = cap ? 2 * cap : 16;
            gr_test *grown = realloc(l->tests, cap * sizeof *grown);
            if (grown == NULL)
                break;
            l->tests = grown;
        }
        l->tests[l->ntests++] = t;
        l->nhidden += hidden;
    }
    fclose(f);
    return l->ntests > 0 ? 0 : -1;
}

static void
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

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t size = 0;
    FILE *m = open_memstream(&buf, &size);
    char chunk[8192];
    size_t n;
    while (m != NULL && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    if (m != NULL)
        fclose(m);
    *len = size;
    return buf;
}

static int
copy_file(const char *from, const char *to, mode_t mode)
{
    size_t len;
    char *buf = slurp(from, &len);
    if (buf == NULL)
        return -1;
    FILE *f = fopen(to, "we");
    int ok = f != NULL && fwrite(buf, 1, len, f) == len;
    if (f != NULL && fclose(f) != 0)
        ok = 0;
    free(buf);
    return ok && chmod(to, mode) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ building */

static char *environ_trusted[] = {"PATH=/usr/local/bin:/usr/bin:/bin",
                                  "LC_ALL=C", NULL};

// Run a trusted command (the compiler) in dir; its output into *log.
static int
run_build(char **argv, const char *dir, char **log)
{
    sb_spec s = {.argv = argv, .envp = environ_trusted, .cwd = dir,
                 .wall_ms = BUILD_WALL_MS, .out_cap = OUT_CAP};
    sb_result r;
    if (sb_run(&s, &r) < 0)
        return -1;
    int ok = r.exited && r.status == 0;
    if (!ok) {
        *log = r.out;
        r.out = NULL;
        if (r.timed_out) {
            free(*log);
            *log = strdup("the compiler ran out of time: is a file "
                          "included that never ends (/dev/zero)?");
        }
    }
    sb_free(&r);
    return ok ? 0 : -1;
}

// Split a flags string ("-pthread -lcheck ...") into argv slots.
static int
add_words(char **argv, int n, int max, char *words)
{
    for (char *w = strtok(words, " "); w != NULL && n < max - 1;
         w = strtok(NULL, " "))
        argv[n++] = w;
    return n;
}

// Compile the student's file in dir into topic.o; NULL or the errors.
static char *
compile_student(gr_lesson *l, const char *dir)
{
    const char *t = topic_of(l->name);
    char src[PATH_MAX], obj[PATH_MAX], cstd[] = FL_CSTD;
    char *log = NULL;
    snprintf(src, sizeof src, "lessons/%s/%s.c", l->name, t);
    snprintf(obj, sizeof obj, "%s.o", t);
    char *cc[32] = {opt.cc};
    int n = add_words(cc, 1, 32, cstd);
    char *rest[] = {"-Wall", "-Wextra", "-O1", "-g", "-c", src, "-o", obj};
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
        cc[n++] = rest[i];
    cc[n] = NULL;
    if (run_build(cc, dir, &log) < 0)
        return log ? log : strdup("the compiler could not be run");
    return NULL;
}

// Link (or compile and link) the sources in srcs with the student's object
// and the harness into dir/bin; NULL or the errors.
static char *
link_tests(gr_lesson *l, const char *dir, char **srcs, const char *bin)
{
    char obj[PATH_MAX], hobj[PATH_MAX], inc1[PATH_MAX + 8], inc2[PATH_MAX + 8];
    char cstd[] = FL_CSTD, cflags[] = FL_CHECK_CFLAGS, libs[] = FL_CHECK_LIBS;
    char *log = NULL, *ld[96] = {opt.cc};
    snprintf(obj, sizeof obj, "%s.o", topic_of(l->name));
    snprintf(hobj, sizeof hobj, "%s/tests/harness.o", opt.objdir);
    snprintf(inc1, sizeof inc1, "-I%s/lessons/%s", opt.course, l->name);
    snprintf(inc2, sizeof inc2, "-I%s/tests", opt.course);
    int n = add_words(ld, 1, 96, cstd);
    n = add_words(ld, n, 96, cflags);
    ld[n++] = inc1;
    ld[n++] = inc2;
    for (int i = 0; srcs[i] != NULL && n < 80; i++)
        ld[n++] = srcs[i];
    ld[n++] = obj;
    ld[n++] = hobj;
    ld[n++] = "-o";
    ld[n++] = (char *)bin;
    ld[add_words(ld, n, 96, libs)] = NULL;
    if (run_build(ld, dir, &log) < 0)
        return log ? log : strdup("the linker could not be run");
    return NULL;
}

// The hidden tests' sources: every .c file in the hidden dir's lesson dir.
static int
hidden_sources(gr_lesson *l, char **srcs, int max)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", opt.hidden, l->name);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL && n < max - 1) {
        size_t len = strlen(e->d_name);
        if (len > 2 && strcmp(e->d_name + len - 2, ".c") == 0 &&
            asprintf(&srcs[n], "%s/%s", dir, e->d_name) > 0)
            n++;
    }
    if (d != NULL)
        closedir(d);
    srcs[n] = NULL;
    return n;
}

static char *
compile_and_link(gr_lesson *l, const char *dir)
{
    const char *t = topic_of(l->name);
    char tobj[PATH_MAX], bin[PATH_MAX], *srcs[16] = {tobj, NULL};
    char *problem = compile_student(l, dir);
    if (problem != NULL)
        return problem;
    snprintf(tobj, sizeof tobj, "%s/tests/%s/check_%s.o", opt.objdir,
             l->name, t);
    snprintf(bin, sizeof bin, "check_%s", t);
    if ((problem = link_tests(l, dir, srcs, bin)) != NULL || !l->nhidden)
        return problem;
    // An instructor's hidden tests: their own program, built the same way.
    if (hidden_sources(l, srcs, 16) == 0)
        return strdup("the hidden tests have a points file but no .c file");
    problem = link_tests(l, dir, srcs, "check_hidden");
    for (int i = 0; srcs[i] != NULL; i++)
        free(srcs[i]);
    return problem;
}

// The headers every lesson may use (lessons/mp_ipc.h), pristine, into
// DIR/lessons/, where a lesson's header finds them as "../name.h".
static void
copy_shared_headers(const char *dir)
{
    char from[PATH_MAX], to[PATH_MAX * 2], src[PATH_MAX];
    snprintf(src, sizeof src, "%s/lessons", opt.course);
    DIR *d = opendir(src);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".h") != 0)
            continue;
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        snprintf(to, sizeof to, "%s/lessons/%s", dir, e->d_name);
        copy_file(from, to, 0644);
    }
    if (d != NULL)
        closedir(d);
}

// Build the lesson's test program in workdir/NAME; NULL or a problem.
static char *
build_lesson(gr_lesson *l, char *bin, size_t size)
{
    const char *t = topic_of(l->name);
    char dir[PATH_MAX], sub[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", workdir, l->name);
    snprintf(sub, sizeof sub, "%s/lessons", dir);
    mkdir(dir, 0755);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/lessons/%s", dir, l->name);
    mkdir(sub, 0755);
    snprintf(from, sizeof from, "%s/lessons/%s/%s.c", opt.submission,
             l->name, t);
    snprintf(to, sizeof to, "%s/%s.c", sub, t);
    if (copy_file(from, to, 0644) < 0) {
        char *msg;
        if (asprintf(&msg, "lessons/%s/%s.c is missing from the "
                           "submission (%s).", l->name, t, strerror(errno)) < 0)
            msg = NULL;
        return msg;
    }
    // The pristine header, next to the student's file, wins over theirs.
    snprintf(from, sizeof from, "%s/lessons/%s/%s.h", opt.course, l->name, t);
    snprintf(to, sizeof to, "%s/%s.h", sub, t);
    if (copy_file(from, to, 0644) < 0)
        return strdup("the course's header is missing: is --course right?");
    copy_shared_headers(dir);
    char *problem = compile_and_link(l, dir);
    snprintf(bin, size, "%s/check_%s", dir, t);
    return problem;
}

/* ------------------------------------------------------------- testing */

// Find this test's verdict line, "NAME\tPASS|FAIL\tMESSAGE".
static int
parse_verdict(const char *verdicts, const char *name, char **message)
{
    size_t len = strlen(name);
    for (const char *p = verdicts; p && *p; p = strchr(p, '\n'), p += !!p) {
        if (strncmp(p, name, len) != 0 || p[len] != '\t')
            continue;
        const char *v = p + len + 1, *m = strchr(v, '\t');
        const char *end = strchr(v, '\n');
        if (m == NULL || end == NULL || m > end)
            return -1;
        *message = strndup(m + 1, (size_t)(end - m - 1));
        return strncmp(v, "PASS\t", 5) == 0;
    }
    return -1;
}

static char *
no_verdict(const sb_result *r)
{
    char *msg = NULL;
    const char *tail = r->out_len > 600 ? r->out + r->out_len - 600 : r->out;
    int n;
    if (r->timed_out)
        n = asprintf(&msg, "The test program did not finish in time and "
                           "was killed, with everything it started.");
    else if (!r->exited)
        n = asprintf(&msg, "The test program was killed by %s before it "
                           "could report: did the code kill its parent, its "
                           "process group, or every process (kill(-1))?",
                     strsignal(r->status));
    else
        n = asprintf(&msg, "The test program ended (status %d) without a "
                           "verdict: did the code close or take over file "
                           "descriptors it did not open? Its last output:\n%s",
                     r->status, tail);
    return n < 0 ? NULL : msg;
}

static void
run_test(gr_test *t, const char *bin)
{
    char prefix[64], pe[96], home[PATH_MAX + 8], tmp[PATH_MAX + 8];
    snprintf(prefix, sizeof prefix, "fl.%d.%d.", (int)getpid(), ++runs);
    rundir = sb_mkdtemp("run", 1);
    if (rundir == NULL) {
        t->message = strdup("grader: cannot make a run directory in /tmp");
        return;
    }
    snprintf(pe, sizeof pe, "FORKLINGS_PREFIX=%s", prefix);
    snprintf(home, sizeof home, "HOME=%s", rundir);
    snprintf(tmp, sizeof tmp, "TMPDIR=%s", rundir);
    // CK_TIMEOUT_MULTIPLIER scales every Check timeout (slow machines,
    // valgrind); the grader's own wall clock follows it.
    const char *mult = getenv("CK_TIMEOUT_MULTIPLIER");
    double scale = mult != NULL && atof(mult) > 0 ? atof(mult) : 1.0;
    char km[64];
    snprintf(km, sizeof km, "CK_TIMEOUT_MULTIPLIER=%g", scale);
    char *env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", pe, home, tmp,
                   "FL_RESULT_FD=3", km, NULL};
    int wall = (int)(TEST_WALL_MS * scale);
    char *argv[] = {(char *)bin, t->name, NULL};
    sb_spec s = {.argv = argv, .envp = env, .cwd = rundir,
                 .wall_ms = wall < 3000 ? 3000 : wall, .untrusted = 1,
                 .prefix = prefix,
                 .out_cap = OUT_CAP};
    sb_result r;
    double start = now_s();
    if (sb_run(&s, &r) < 0) {
        t->message = strdup("grader: could not start the test program");
    } else {
        int v = parse_verdict(r.verdicts, t->name, &t->message);
        t->passed = v == 1 && r.exited && r.status == 0;
        if (v < 0) {
            free(t->message);
            t->message = no_verdict(&r);
        }
        sb_free(&r);
    }
    t->seconds = now_s() - start;
    sb_rmtree(rundir);
    free(rundir);
    rundir = NULL;
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

void
grade_lesson(gr_lesson *l)
{
    char bin[PATH_MAX], hidden[PATH_MAX + 16];
    read_title(l);
    l->problem = build_lesson(l, bin, sizeof bin);
    if (l->problem != NULL) {
        for (size_t i = 0; i < l->ntests; i++)
            l->tests[i].message = strdup("the lesson does not build");
        return;
    }
    snprintf(hidden, sizeof hidden, "%s/%s/check_hidden", workdir, l->name);
    size_t i = 0;
    for (; i < l->ntests; i++) {
        run_test(&l->tests[i], l->tests[i].hidden ? hidden : bin);
        if (opt.fail_fast && !l->tests[i].passed)
            break;
    }
    // With --fail-fast, the tests after the first failure score nothing.
    for (i = i < l->ntests ? i + 1 : i; i < l->ntests; i++)
        l->tests[i].message = strdup("not run: --fail-fast stopped this "
                                     "lesson at its first failing test");
}

/* ---------------------------------------------------------------- main */

// Who this run's tests ran as and their IPC prefix, for whoever checks
// that nothing was left behind (make test does).
static void
write_run_info(void)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/run.txt", opt.out);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return;
    fprintf(f, "uid %u\nprefix fl.%d.\n", (unsigned)sb_uid(), (int)getpid());
    fclose(f);
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

// Every tests/NN_topic with a points file, in order.
static size_t
find_lessons(gr_lesson *ls)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/tests", opt.course);
    DIR *d = opendir(path);
    size_t n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL && n < MAX_LESSONS) {
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

static void
usage(void)
{
    fprintf(stderr,
            "usage: grader --course DIR --objdir DIR --out DIR\n"
            "              [--submission DIR | --class DIR [--jobs N]]\n"
            "              [--lesson NN] [--test TEXT] [--hidden DIR]\n"
            "              [--cc CC] [--verbose | --quiet | --summary]\n"
            "              [--watch | --list] [--only TEST] [--strict]\n"
            "              [--fail-fast]\n"
            "Grades DIR/lessons/NN_topic/topic.c with the course's tests;\n"
            "--test keeps only the tests whose names contain TEXT;\n"
            "--hidden adds an instructor's tests from DIR/NN_topic/;\n"
            "--class grades every submission in DIR into a gradebook;\n"
            "--summary prints a line per lesson and the progress bar;\n"
            "--watch re-grades the current lesson each time it is saved;\n"
            "--list lists the lessons without grading;\n"
            "--only keeps the one test named TEST;\n"
            "--strict exits 1 unless every test graded passed;\n"
            "--fail-fast stops a lesson at its first failing test.\n");
    exit(2);
}

static void
set_path(char *dst, const char *src)
{
    if (realpath(src, dst) == NULL) {
        fprintf(stderr, "grader: %s: %s\n", src, strerror(errno));
        exit(2);
    }
}

static void
parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *flag = strcmp(a, "--verbose") == 0   ? &opt.verbose
                    : strcmp(a, "--quiet") == 0   ? &opt.quiet
                    : strcmp(a, "--watch") == 0   ? &opt.watch
                    : strcmp(a, "--summary") == 0 ? &opt.summary
                    : strcmp(a, "--list") == 0    ? &opt.list
                    : strcmp(a, "--strict") == 0  ? &opt.strict
                    : strcmp(a, "--fail-fast") == 0 ? &opt.fail_fast
                                                    : NULL;
        if (flag != NULL) {
            *flag = 1;
            continue;
        }
        if (v == NULL)
            usage();
        if (strcmp(a, "--course") == 0)
            set_path(opt.course, v);
        else if (strcmp(a, "--submission") == 0)
            set_path(opt.submission, v);
        else if (strcmp(a, "--objdir") == 0)
            set_path(opt.objdir, v);
        else if (strcmp(a, "--out") == 0)
            snprintf(opt.out, sizeof opt.out, "%s", v);
        else if (strcmp(a, "--hidden") == 0)
            set_path(opt.hidden, v);
        else if (strcmp(a, "--class") == 0)
            set_path(opt.class, v);
        else if (strcmp(a, "--jobs") == 0)
            opt.jobs = atoi(v);
        else if (strcmp(a, "--only") == 0)
            snprintf(opt.only, sizeof opt.only, "%s", v);
        else if (strcmp(a, "--test") == 0)
            snprintf(opt.test, sizeof opt.test, "%s", v);
        else if (strcmp(a, "--cc") == 0)
            snprintf(opt.cc, sizeof opt.cc, "%s", v);
        else if (strcmp(a, "--lesson") == 0)
            snprintf(opt.lesson, sizeof opt.lesson, "%s", v);
        else
            usage();
        i++;
    }
    if (!opt.course[0] || (!opt.list && (!opt.objdir[0] || !opt.out[0])))
        usage();
    if (!opt.submission[0])
        snprintf(opt.submission, sizeof opt.submission, "%s", opt.course);
}

int
main(int argc, char **argv)
{
    static gr_lesson ls[MAX_LESSONS];
    parse_args(argc, argv);
    if (opt.class[0])
        return grade_class(opt.class, opt.out, opt.jobs, argv);
    double start = now_s();
    size_t n = find_lessons(ls);
    if (n == 0) {
        fprintf(stderr, "grader: no lesson %s under %s/tests\n", opt.lesson,
                opt.course);
        return 2;
    }
    if (opt.list) {
        for (size_t i = 0; i < n; i++) {
            read_title(&ls[i]);
            printf("  %-10s %-46s lessons/%s/README.md\n", ls[i].name,
                   ls[i].title, ls[i].name);
        }
        return 0;
    }
    mkdir(opt.out, 0755);
    if (sb_init() < 0 || (workdir = sb_mkdtemp("grade", 0)) == NULL ||
        chmod(workdir, 0755) < 0) {
        fprintf(stderr, "grader: cannot set up the sandbox\n");
        return 1;
    }
    atexit(cleanup);
    write_run_info();
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    if (opt.watch)
        return watch_lessons(ls, n, opt.submission);
    for (size_t i = 0; i < n; i++)
        grade_lesson(&ls[i]);
    if (opt.summary)
        report_progress(ls, n, 1);
    else if (!opt.quiet)
        report_terminal(ls, n, opt.verbose, isatty(STDOUT_FILENO));
    char json[PATH_MAX + 16], tsv[PATH_MAX + 16];
    snprintf(json, sizeof json, "%s/results.json", opt.out);
    snprintf(tsv, sizeof tsv, "%s/scores.tsv", opt.out);
    if (report_json(json, ls, n, now_s() - start) < 0 ||
        report_tsv(tsv, ls, n) < 0) {
        fprintf(stderr, "grader: cannot write %s\n", opt.out);
        return 1;
    }
    for (size_t i = 0; opt.strict && i < n; i++)
        for (size_t j = 0; j < ls[i].ntests; j++)
            if (!ls[i].tests[j].passed)
                return 1; // e.g. GitHub Classroom: a test step fails
    return 0;
}
