// grader.h - what the grader knows about each lesson and test.
#ifndef FORKLINGS_GRADER_H
#define FORKLINGS_GRADER_H

#include <limits.h>
#include <stddef.h>

/// The grader's options (cli.c reads them from the command line).
typedef struct {
    char course[PATH_MAX], submission[PATH_MAX], objdir[PATH_MAX];
    char out[PATH_MAX], lesson[64], cc[64], test[128], only[128];
    char hidden[PATH_MAX], class[PATH_MAX];
    int verbose, quiet, jobs, watch, summary, list, strict, fail_fast;
    int loose;            ///< also take topic.c from the submission's top
    int sanitize;         ///< also run each test built with ASan and UBSan
    int all;              ///< the report lists every failure of every lesson
    int quick_build;      ///< compile at -Og (make test's mutants)
    char cache[PATH_MAX]; ///< results kept per lesson (--cache DIR), or ""
} gr_options;

extern gr_options opt;

/// The grader's private directory for builds (cli.c makes it).
extern char *gr_workdir;

/// A sentence every report shows (a pass that was skipped), or NULL.
extern const char *gr_notice;

/// One test, as the lesson's points file declares it, and its verdict.
typedef struct {
    char name[128];
    int points;
    char ref[256]; ///< where to read: "README.md#section" or "hints.md"
    int passed;
    int hidden;           ///< an instructor's hidden test (--hidden DIR)
    int sanitizer_failed; ///< passed, then failed the sanitizer pass
    char *message;        ///< what happened (for a failure), malloc'd
    double seconds;
} gr_test;

/// One lesson and its tests.
typedef struct {
    char name[64];   ///< "01_fork"
    char title[128]; ///< from the lesson README's first heading
    gr_test *tests;
    size_t ntests;
    char *problem;        ///< a build problem (compile errors), or NULL
    int nhidden;          ///< how many of tests are hidden ones
    char functions[2048]; ///< " mp_a mp_b ": what its headers declare
} gr_lesson;

/* text.c: text from a submission, made safe to show */

/// Turn control characters (but newline and tab), C1 controls and bytes
/// that are not UTF-8 into '?', in place; returns s.
char *gr_clean(char *s);

/* lessons.c: the lessons, their tests and points */

/// The topic of a lesson: 03_start_methods -> start_methods.
const char *topic_of(const char *lesson);

/// Every lesson of the course (or opt.lesson's) with its tests, in order.
size_t find_lessons(gr_lesson *ls, size_t max);

/// Read the lesson's title from its README.
void read_title(gr_lesson *l);

/// Forget a lesson's results, to grade it again.
void lesson_clear(gr_lesson *l);

/// The index of the earlier failed test of the same function
/// (test_<function>_...) that failed test j probably follows from, or -1.
long failure_cause(const gr_lesson *l, size_t j);

/* build.c: the submission's file, compiled and linked with the tests */

/// Build the lesson's test programs into dir/run: check_TOPIC, and
/// check_hidden when it has hidden tests.  NULL, or a problem to report
/// (malloc'd): a missing, unreadable or refused file, compiler errors.
char *build_lesson(gr_lesson *l, const char *dir);

/// Copy a program of the course (the trace tool) to `to`, root's and
/// runnable by the sandbox; 0 or -1.
int install_trusted(const char *from, const char *to);

/* run.c: the tests */

/// Seconds on the monotonic clock, for how long something took.
double now_s(void);

/// Build a lesson's tests with the submission's file and run them all.
void grade_lesson(gr_lesson *l);

/// The start of every IPC prefix this grader gives its runs ("fl.1f2e3d4c."),
/// drawn at random so that no one else can plant names with it.
const char *run_prefix(void);

/// `--watch`: grade, then re-grade the current lesson on every save.
int watch_lessons(gr_lesson *ls, size_t n, const char *submission);

/// `--list`: a line per lesson, and where to read it.
void report_list(gr_lesson *ls, size_t n);

/* cache.c: results kept for files that have not changed */

/// A 64-bit hash of a regular file's bytes (FNV-1a), mixed into h; a file
/// that cannot be read (or is not a regular file) mixes in its absence.
unsigned long long hash_file(const char *path, unsigned long long h);

/// Grade a lesson, or take its results from opt.cache when the
/// submission's file and the course's test objects are the ones graded
/// last time; fresh results are kept for next time.
void grade_lesson_cached(gr_lesson *l);

/// Print the progress bar; with table, a line per lesson before it.
void report_progress(const gr_lesson *ls, size_t n, int table);

/// Print the terminal report; verbose lists passing tests too.
void report_terminal(const gr_lesson *ls, size_t n, int verbose, int color);

/// Write Gradescope's results.json; returns 0 or -1.
int report_json(const char *path, const gr_lesson *ls, size_t n,
                double seconds);

/// Write scores.tsv, what `--class` aggregates: "L lesson got max" and
/// "T lesson test passed" lines.  Returns 0 or -1.
int report_tsv(const char *path, const gr_lesson *ls, size_t n);

/// Grade every submission under dir in parallel (`--class`): argv is the
/// grader's own command line, reused for each student.  Returns the exit
/// status for main.
int grade_class(const char *dir, const char *out, int jobs, char **argv);

#endif
