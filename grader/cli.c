// cli.c - the grader's command line: grade a submission's lessons with the
// course's pristine tests.
//
// Why it exists: `make grade` must give the same, honest score to any tree
// of student code, hostile or broken, and always come back.  So the grader
// never links student code and never trusts what it prints: the tests,
// headers and points come from the course tree (lessons.c); from the
// submission it takes only each lesson's exercise file, through the
// sandbox (build.c); each test runs as its own contained program (run.c,
// sandbox.c) and is judged from what the grader saw; a lesson that does
// not compile scores zero with the compiler's message, and the others are
// graded anyway.
//
// Exit status: 0 when grading completed, whatever the score; 2 for bad
// usage; 1 when the grader itself failed.
#define _GNU_SOURCE
#include "grader.h"
#include "sandbox.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LESSONS 64

gr_options opt = {.cc = "cc", .sanitize = 1};
char *gr_workdir; // builds, removed at exit
const char *gr_notice;

// At exit or on a signal: end every run, let the sandbox remove what it
// owns (a build interrupted midway), then remove the rest, root's own.
static void
cleanup(void)
{
    sb_kill_all();
    if (gr_workdir != NULL) {
        sb_rmtree(gr_workdir, 1);
        sb_rmtree(gr_workdir, 0);
    }
    gr_workdir = NULL;
    sb_finish();
}

static void
on_signal(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

// Who this run's tests ran as and in which mode, for whoever checks that
// nothing was left behind (make test does).
static void
write_run_info(void)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/run.txt", opt.out);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return;
    fprintf(f, "uid %u\nmode %s\nprefix %s\npid %d\n", (unsigned)sb_uid(),
            sb_mode_name(), run_prefix(), (int)getpid());
    fclose(f);
}

// The submission's path in our command line would show in /proc/PID/
// cmdline to every process on the machine: blank it once it is read.
static void
hide_argv(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        memset(argv[i], 0, strlen(argv[i]));
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
            "              [--fail-fast] [--loose] [--no-sanitize] [--all]\n"
            "              [--cache DIR] [--quick-build]\n"
            "Grades DIR/lessons/NN_topic/topic.c with the course's tests;\n"
            "--test keeps only the tests whose names contain TEXT;\n"
            "--hidden adds an instructor's tests from DIR/NN_topic/;\n"
            "--class grades every submission in DIR into a gradebook;\n"
            "--summary prints a line per lesson and the progress bar;\n"
            "--watch re-grades the current lesson each time it is saved;\n"
            "--list lists the lessons without grading;\n"
            "--only keeps the one test named TEST;\n"
            "--strict exits 1 unless every test graded passed;\n"
            "--fail-fast stops a lesson at its first failing test;\n"
            "--loose also takes topic.c from DIR's top (uploaded files);\n"
            "Each test that passes runs again built with AddressSanitizer\n"
            "and UBSan, where a memory error fails it; --no-sanitize skips\n"
            "that second run (make check, watch and progress do);\n"
            "--all reports every failure of every lesson (else: a line per\n"
            "  lesson, and the first lesson that fails in detail);\n"
            "--cache DIR reuses a lesson's results while its file and the\n"
            "  course's tests are unchanged;\n"
            "--quick-build compiles with -Og, not the course's -O level,\n"
            "  and skips the object's inspection: for make test's mutants\n"
            "  only (the course's own code).\n");
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
        int *flag = strcmp(a, "--verbose") == 0       ? &opt.verbose
                    : strcmp(a, "--quiet") == 0       ? &opt.quiet
                    : strcmp(a, "--watch") == 0       ? &opt.watch
                    : strcmp(a, "--summary") == 0     ? &opt.summary
                    : strcmp(a, "--list") == 0        ? &opt.list
                    : strcmp(a, "--strict") == 0      ? &opt.strict
                    : strcmp(a, "--fail-fast") == 0   ? &opt.fail_fast
                    : strcmp(a, "--loose") == 0       ? &opt.loose
                    : strcmp(a, "--sanitize") == 0    ? &opt.sanitize
                    : strcmp(a, "--all") == 0         ? &opt.all
                    : strcmp(a, "--quick-build") == 0 ? &opt.quick_build
                                                      : NULL;
        if (flag != NULL) {
            *flag = 1;
            continue;
        }
        if (strcmp(a, "--no-sanitize") == 0) {
            opt.sanitize = 0;
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
        else if (strcmp(a, "--cache") == 0)
            snprintf(opt.cache, sizeof opt.cache, "%s", v);
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
    hide_argv(argc, argv);
    double start = now_s();
    size_t n = find_lessons(ls, MAX_LESSONS);
    if (n == 0 && opt.only[0]) {
        fprintf(stderr,
                "grader: no test is named %s%s%s: make grade%s%s names "
                "each test in its report\n",
                opt.only, opt.lesson[0] ? " in lesson " : "", opt.lesson,
                opt.lesson[0] ? " L=" : "", opt.lesson);
        return 2;
    }
    if (n == 0) {
        fprintf(stderr, "grader: no lesson %s under %s/tests\n", opt.lesson,
                opt.course);
        return 2;
    }
    if (opt.list) {
        report_list(ls, n);
        return 0;
    }
    mkdir(opt.out, 0755);
    if (sb_init() < 0 || (gr_workdir = sb_workdir()) == NULL) {
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
        grade_lesson_cached(&ls[i]);
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
