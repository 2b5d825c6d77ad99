// run.c - run a lesson's tests, one contained program per test, and judge
// each from what the grader itself saw.
//
// A test passes only when its program (the harness's runner, which runs no
// student code) exits with FL_RUNNER_PASSED and wrote FL_VERDICT_PASS for
// that very test on FL_RESULT_FD.  A test that reports nothing scores
// zero, with a message that says what the grader saw instead.
//
// The sanitizer pass (--sanitize) runs the tests that passed once more,
// built with ASan and UBSan, many to a program: it can only take points
// away, so it needs no proof that a verdict is a test's own, and a
// sanitized program's start costs more than most tests.
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

// The last sentence the sanitizer hook wrote before any test began
// (tests/sanitize.c), its length in san_len; NULL if none.
static int san_len;
static const char *
san_line(const sb_result *r)
{
    const char *at = NULL, *p = r->out, *end = r->out + r->out_len;
    size_t k = strlen(FL_SAN_LINE);
    while (p != NULL && p < end) {
        if ((size_t)(end - p) > k && memcmp(p, FL_SAN_LINE, k) == 0 &&
            (p == r->out || p[-1] == '\n'))
            at = p + k;
        p = memchr(p, '\n', (size_t)(end - p));
        if (p != NULL)
            p++;
    }
    if (at == NULL)
        return NULL;
    const char *eol = memchr(at, '\n', (size_t)(end - at));
    san_len = (int)((eol != NULL ? eol : end) - at);
    if (san_len > 600)
        san_len = 600;
    return at;
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
    else if (r->status == FL_SAN_EXIT && san_line(r) != NULL)
        n = asprintf(&msg,
                     "The test program stopped before its first test: the "
                     "lesson's own setup "
                     "calls your code, and %.*s",
                     san_len, san_line(r));
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

// Run a test's program once, the pass that decides: each test alone in a
// sandbox of its own, so that no test's verdict can come from another's
// code.
static void
run_test(gr_test *t, const char *bin)
{
    double start = now_s();
    t->passed = run_once(t, bin, 0, &t->message);
    gr_clean(t->message);
    t->seconds = now_s() - start;
}

// Fail t for what the sanitized run said of it (msg, or no verdict).
static void
san_failed(gr_test *t, const char *msg)
{
    t->passed = 0;
    t->sanitizer_failed = 1;
    free(t->message);
    if (asprintf(&t->message,
                 "Built with AddressSanitizer and UBSan (make grade's "
                 "second pass), this test fails: %s",
                 msg != NULL ? msg : "(no verdict)") < 0)
        t->message = NULL;
    gr_clean(t->message);
}

// The second pass (--sanitize): the tests in ts, all passed, run again
// built with the sanitizers, as many as one program takes, in one
// sandbox.  One program for many saves a sanitized program's start (some
// 40 ms, a third of the pass) for each test.  This pass can only take
// points away: a test stays passed if its own verdict line says PASS, and
// one without a verdict (the program died in it) fails with what the
// grader saw, and the tests after it run again without it.
static void
run_sanitized(gr_test **ts, size_t n, const char *bin)
{
    for (size_t from = 0; from < n;) {
        char prefix[64], pe[96], km[64], fd[32];
        make_prefix(prefix, sizeof prefix);
        snprintf(pe, sizeof pe, FL_PREFIX_ENV "=%s", prefix);
        snprintf(fd, sizeof fd, FL_RESULT_FD_ENV "=%d", FL_RESULT_FD);
        const char *mult = getenv("CK_TIMEOUT_MULTIPLIER");
        double scale = 2 * (mult != NULL && atof(mult) > 0 ? atof(mult) : 1.0);
        snprintf(km, sizeof km, "CK_TIMEOUT_MULTIPLIER=%g", scale);
        char *env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", pe, fd, km, NULL};
        size_t count = n - from;
        char **argv = calloc(count + 2, sizeof *argv);
        if (argv == NULL) {
            for (; from < n; from++)
                san_failed(ts[from], "the grader ran out of memory");
            return;
        }
        argv[0] = (char *)bin;
        for (size_t i = 0; i < count; i++)
            argv[i + 1] = ts[from + i]->name;
        int wall = (int)(TEST_WALL_MS * scale);
        wall = wall < 3000 ? 3000 : wall;
        char run[PATH_MAX];
        snprintf(run, sizeof run, "%.*s", (int)(strrchr(bin, '/') - bin), bin);
        sb_spec s = {.argv = argv,
                     .envp = env,
                     .kind = SB_TEST,
                     .bind = run,
                     .wall_ms = (long)wall * (long)count,
                     .verdicts = 1,
                     .sanitized = 1,
                     .prefix = prefix,
                     .out_cap = OUT_CAP};
        sb_result r;
        double start = now_s();
        int started = sb_run(&s, &r) == 0;
        free(argv);
        if (!started) {
            for (; from < n; from++)
                san_failed(ts[from], "grader: could not start the test "
                                     "program");
            return;
        }
        double each = (now_s() - start) / (double)count;
        size_t i = from;
        for (; i < n; i++) {
            char *msg = NULL;
            int v = parse_verdict(r.verdicts, ts[i]->name, &msg);
            if (v < 0) { // the program died in this test: it fails
                free(msg);
                msg = no_verdict(&r);
                san_failed(ts[i], msg);
                free(msg);
                ts[i]->seconds += each;
                i++;
                break;
            }
            if (v == 0)
                san_failed(ts[i], msg);
            free(msg);
            ts[i]->seconds += each;
        }
        sb_free(&r);
        from = i;
    }
}

// A trace for the first failures about processes (not for hidden tests,
// whose workings stay hidden); the count of traces so far, updated.
static int
trace_failure(gr_test *t, const char *bin, const char *lesson, int traces)
{
    if (t->passed || t->hidden || traces >= TRACES_PER_LESSON ||
        !about_processes(t->message))
        return traces;
    add_trace(t, bin, lesson);
    gr_clean(t->message);
    return traces + 1;
}

#define SAN_BATCH 64 // tests a sanitized program runs at most

// The sanitizer pass over the first `ran` tests of l: those that passed
// run again, the course's and the hidden ones each in their programs.
static void
sanitize_pass(gr_lesson *l, size_t ran, const char *bin, const char *hidden)
{
    char san[PATH_MAX + 8];
    gr_test *ts[SAN_BATCH];
    for (int h = 0; h < 2; h++) {
        snprintf(san, sizeof san, "%s.san", h ? hidden : bin);
        size_t n = 0;
        for (size_t i = 0; i <= ran; i++) {
            if (i < ran && l->tests[i].passed && l->tests[i].hidden == h)
                ts[n++] = &l->tests[i];
            if (n == 0 || (n < SAN_BATCH && i < ran))
                continue;
            run_sanitized(ts, n, san);
            n = 0;
        }
    }
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
        // With --fail-fast, each test's sanitized run follows it at once,
        // so that a failure there stops the lesson before the next test.
        if (opt.fail_fast && opt.sanitize && t->passed) {
            char san[PATH_MAX + 8];
            snprintf(san, sizeof san, "%s.san", t->hidden ? hidden : bin);
            run_sanitized(&t, 1, san);
        }
        if (opt.fail_fast && !t->passed)
            break;
        traces = trace_failure(t, bin, l->name, traces);
    }
    size_t ran = i < l->ntests ? i + 1 : i; // how many the first pass ran
    if (opt.sanitize && !opt.fail_fast) {
        sanitize_pass(l, ran, bin, hidden);
        for (i = 0; i < ran; i++)
            if (l->tests[i].sanitizer_failed)
                traces = trace_failure(&l->tests[i], bin, l->name, traces);
    }
    // With --fail-fast, the tests after the first failure score nothing.
    for (i = ran; i < l->ntests; i++)
        l->tests[i].message = strdup("not run: --fail-fast stopped this "
                                     "lesson at its first failing test");
    sb_rmtree(dir, 0);
}
