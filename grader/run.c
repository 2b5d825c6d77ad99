// run.c - run a lesson's tests, one contained program per test, and judge
// each from what the grader itself saw.
//
// A test passes only when its program (the harness's runner, which runs no
// student code) exits with FL_RUNNER_PASSED and wrote FL_VERDICT_PASS for
// that very test on FL_RESULT_FD.  A test that reports nothing scores
// zero, with a message that says what the grader saw instead.
#define _GNU_SOURCE
#include "grader.h"
#include "sandbox.h"

#include "contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define TEST_WALL_MS 20000 // a test's Check timeout is far shorter
#define OUT_CAP 65536

double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

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
        return strncmp(v, FL_VERDICT_PASS "\t", sizeof FL_VERDICT_PASS) == 0;
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
        n = asprintf(&msg,
                     "The test program was killed by %s before it "
                     "could report: did the code kill its parent, its "
                     "process group, or every process (kill(-1))? Or "
                     "did the submission use up its memory?",
                     strsignal(r->status));
    else
        n = asprintf(&msg,
                     "The test program ended (status %d) without a "
                     "verdict: did the code close or take over file "
                     "descriptors it did not open? Its last output:\n%s",
                     r->status, tail);
    return n < 0 ? NULL : msg;
}

const char *
run_prefix(void)
{
    static char base[32];
    unsigned r = 0;
    if (base[0] != '\0')
        return base;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (unsigned)time(NULL) ^ (unsigned)getpid();
    snprintf(base, sizeof base, FL_PREFIX_HEAD "%08x.", r);
    return base;
}

// A prefix nobody can guess: others cannot plant names with it.
static void
make_prefix(char *prefix, size_t size)
{
    static unsigned run;
    snprintf(prefix, size, "%s%u.", run_prefix(), ++run);
}

// Run one test's program once: passed, and what happened in *message.
static int
run_once(gr_test *t, const char *bin, int san, char **message)
{
    char prefix[64], pe[96], km[64], fd[32];
    make_prefix(prefix, sizeof prefix);
    snprintf(pe, sizeof pe, FL_PREFIX_ENV "=%s", prefix);
    snprintf(fd, sizeof fd, FL_RESULT_FD_ENV "=%d", FL_RESULT_FD);
    // CK_TIMEOUT_MULTIPLIER scales every Check timeout (slow machines,
    // valgrind, the sanitizers); the grader's own wall clock follows it.
    const char *mult = getenv("CK_TIMEOUT_MULTIPLIER");
    double scale = mult != NULL && atof(mult) > 0 ? atof(mult) : 1.0;
    if (san)
        scale *= 2; // the sanitizers' checks slow the code down
    snprintf(km, sizeof km, "CK_TIMEOUT_MULTIPLIER=%g", scale);
    char *env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", pe, fd, km, NULL};
    int wall = (int)(TEST_WALL_MS * scale);
    char *argv[] = {(char *)bin, t->name, NULL};
    char run[PATH_MAX];
    snprintf(run, sizeof run, "%.*s", (int)(strrchr(bin, '/') - bin), bin);
    sb_spec s = {.argv = argv,
                 .envp = env,
                 .kind = SB_TEST,
                 .bind = run,
                 .wall_ms = wall < 3000 ? 3000 : wall,
                 .verdicts = 1,
                 .sanitized = san,
                 .prefix = prefix,
                 .out_cap = OUT_CAP};
    sb_result r;
    *message = NULL;
    if (sb_run(&s, &r) < 0) {
        *message = strdup("grader: could not start the test program");
        return 0;
    }
    int v = parse_verdict(r.verdicts, t->name, message);
    int passed = v == 1 && r.exited && r.status == FL_RUNNER_PASSED;
    if (v < 0) {
        free(*message);
        *message = no_verdict(&r);
    }
    sb_free(&r);
    return passed;
}

/* ------------------------------------------------------ a short trace */

#define TRACES_PER_LESSON 2

// Whether a failure is about processes or descriptors, which a trace of
// the test shows (the harness's words: tests/harness.c).
static int
about_processes(const char *m)
{
    static const char *words[] = {
        "zombie", "still running", "File descriptor", "descriptor", "stray",
        "EOF",    "reaped",        "never waited",    NULL};
    for (int i = 0; m != NULL && words[i] != NULL; i++)
        if (strstr(m, words[i]) != NULL)
            return 1;
    return 0;
}

// Rerun a failed test under the course's trace tool (tools/trace, built
// beside the objects), in the sandbox like the test itself, and add its
// short process tree to the message: who forked whom, who exited how, who
// reaped them, which pipe ends stayed open.  Nothing if there is no tool
// (or strace) or the trace fails.
static void
add_trace(gr_test *t, const char *bin, const char *lesson)
{
    char tool[PATH_MAX], from[PATH_MAX + 16], run[PATH_MAX], prefix[64];
    char pe[96];
    snprintf(run, sizeof run, "%.*s", (int)(strrchr(bin, '/') - bin), bin);
    snprintf(tool, sizeof tool, "%s/trace", run);
    snprintf(from, sizeof from, "%s/../bin/trace", opt.objdir);
    if (access(tool, X_OK) != 0 &&
        (access(from, X_OK) != 0 || install_trusted(from, tool) < 0))
        return;
    make_prefix(prefix, sizeof prefix);
    snprintf(pe, sizeof pe, FL_PREFIX_ENV "=%s", prefix);
    char *env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", pe, NULL};
    char *argv[] = {tool,      "--test",    (char *)bin, t->name, "--short",
                    "--quiet", "--timeout", "10",        NULL};
    sb_spec s = {.argv = argv,
                 .envp = env,
                 .kind = SB_TEST,
                 .bind = run,
                 .wall_ms = 30000,
                 .prefix = prefix,
                 .out_cap = 4096};
    sb_result r;
    if (sb_run(&s, &r) < 0)
        return;
    char *text = r.out != NULL ? strstr(r.out, "trace: ") : NULL, *more;
    if (r.exited && r.status == 0 && text != NULL &&
        asprintf(&more,
                 "%s\nWhat the test's processes did (make trace "
                 "L=%.2s T=%s shows it all):\n%s",
                 t->message != NULL ? t->message : "", lesson, t->name,
                 text) >= 0) {
        free(t->message);
        t->message = more;
        size_t n = strlen(more);
        while (n > 0 && more[n - 1] == '\n')
            more[--n] = '\0';
    }
    sb_free(&r);
}

// Run a test; with --sanitize, a test that passes runs again built with
// the sanitizers, and passes only if that run passes too.
static void
run_test(gr_test *t, const char *bin)
{
    char san[PATH_MAX + 8], *msg = NULL;
    double start = now_s();
    t->passed = run_once(t, bin, 0, &t->message);
    snprintf(san, sizeof san, "%s.san", bin);
    if (t->passed && opt.sanitize && !run_once(t, san, 1, &msg)) {
        t->passed = 0;
        free(t->message);
        if (asprintf(&t->message,
                     "Built with AddressSanitizer and UBSan "
                     "(make grade's second pass), this test fails: %s",
                     msg != NULL ? msg : "(no verdict)") < 0)
            t->message = NULL;
    }
    free(msg);
    gr_clean(t->message);
    t->seconds = now_s() - start;
}

void
grade_lesson(gr_lesson *l)
{
    char dir[PATH_MAX], bin[PATH_MAX + 64], hidden[PATH_MAX + 64];
    read_title(l);
    snprintf(dir, sizeof dir, "%s/%s", gr_workdir, l->name);
    l->problem = build_lesson(l, dir);
    if (l->problem != NULL) {
        for (size_t i = 0; i < l->ntests; i++)
            l->tests[i].message = strdup("the lesson does not build");
        sb_rmtree(dir, 0);
        return;
    }
    snprintf(bin, sizeof bin, "%s/run/check_%s", dir, topic_of(l->name));
    snprintf(hidden, sizeof hidden, "%s/run/check_hidden", dir);
    size_t i = 0;
    int traces = 0;
    for (; i < l->ntests; i++) {
        gr_test *t = &l->tests[i];
        run_test(t, t->hidden ? hidden : bin);
        if (opt.fail_fast && !t->passed)
            break;
        // A trace for the first failures about processes (not for hidden
        // tests, whose workings stay hidden).
        if (!t->passed && !t->hidden && traces < TRACES_PER_LESSON &&
            about_processes(t->message)) {
            add_trace(t, bin, l->name);
            traces++;
            gr_clean(t->message);
        }
    }
    // With --fail-fast, the tests after the first failure score nothing.
    for (i = i < l->ntests ? i + 1 : i; i < l->ntests; i++)
        l->tests[i].message = strdup("not run: --fail-fast stopped this "
                                     "lesson at its first failing test");
    sb_rmtree(dir, 0);
}
