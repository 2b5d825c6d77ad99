// grader.h - what the grader knows about each lesson and test.
#ifndef FORKLINGS_GRADER_H
#define FORKLINGS_GRADER_H

#include <stddef.h>

/// One test, as the lesson's points file declares it, and its verdict.
typedef struct {
    char name[128];
    int points;
    char ref[256];   ///< where to read: "README.md#section" or "hints.md"
    int passed;
    int hidden;      ///< an instructor's hidden test (--hidden DIR)
    char *message;   ///< what happened (for a failure), malloc'd
    double seconds;
} gr_test;

/// One lesson and its tests.
typedef struct {
    char name[64];   ///< "01_fork"
    char title[128]; ///< from the lesson README's first heading
    gr_test *tests;
    size_t ntests;
    char *problem;   ///< a build problem (compile errors), or NULL
    int nhidden;     ///< how many of tests are hidden ones
} gr_lesson;

/// Build a lesson's tests with the submission's file and run them all.
void grade_lesson(gr_lesson *l);

/// Forget a lesson's results, to grade it again.
void lesson_clear(gr_lesson *l);

/// `--watch`: grade, then re-grade the current lesson on every save.
int watch_lessons(gr_lesson *ls, size_t n, const char *submission);

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
