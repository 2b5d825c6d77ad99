// check_futures.c - tests for lesson 16: futures on worker processes.
//
// The calls the tests submit decide when they end, so that nothing
// sleeps to synchronise:
//  - gated(k) waits for a byte on gate k, a pipe the test writes to.  The
//    gates are made before the executor, so every worker inherits them;
//    a byte (not EOF: every worker holds a copy of each write end) lets
//    exactly one call through.  A gated call gives up after 3 s, so a
//    test that fails half way leaves nothing running for long;
//  - after_sleep(x) returns x once the test's process has been seen
//    asleep for 15 ms (fl_proc_idles from the worker, whose parent the
//    test is): the call ends only while the caller blocks in a wait;
//  - mark(x) writes the byte x to a pipe the test reads afterwards, so
//    the test knows which calls ran, and in what order.
// Waits that a wrong answer could make endless run in a child of the
// test with a bound (fl_run_in_child).
#define _GNU_SOURCE
#include "futures.h"
#include "harness.h"
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

#define GATES 4
#define GATE_LIMIT_MS 3000

// A zeroed mapping the test and its children share, for what a child
// reports back.
static void *
shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(p != MAP_FAILED, "the test could not map a shared page");
    return p;
}

static int gate[GATES][2]; // calls read gate[k][0]; the test writes [k][1]
static int marks[2];       // mark() writes marks[1]; the test reads [0]

// Make the gates and the marks pipe: before the executor, which forks.
static void
pipes_make(void)
{
    for (int k = 0; k < GATES; k++)
        ck_assert_msg(pipe(gate[k]) == 0, "pipe: %s", strerror(errno));
    ck_assert_msg(pipe(marks) == 0, "pipe: %s", strerror(errno));
}

static void
pipes_close(void)
{
    for (int k = 0; k < GATES; k++) {
        close(gate[k][0]);
        close(gate[k][1]);
    }
    close(marks[0]);
    close(marks[1]);
}

static void
gate_open(int k)
{
    ck_assert_msg(write(gate[k][1], "g", 1) == 1, "write: %s", strerror(errno));
}

// The bytes mark() wrote so far, as a string (no wait).
static const char *
marks_read(void)
{
    static char buf[64];
    size_t n = 0;
    while (n < sizeof buf - 1 && fl_readable_within(marks[0], 0) &&
           read(marks[0], &buf[n], 1) == 1)
        n++;
    buf[n] = 0;
    return buf;
}

static int
gated(long k, long *result)
{
    char c;
    if (!fl_readable_within(gate[k][0], GATE_LIMIT_MS) ||
        read(gate[k][0], &c, 1) != 1)
        return 99;
    *result = 100 + k;
    return 0;
}

static int
after_sleep(long x, long *result)
{
    fl_proc_idles(getppid(), 15);
    *result = x;
    return 0;
}

// 3 ends only once the caller sleeps (after_sleep); the others at once.
static int
three_last(long x, long *result)
{
    if (x == 3)
        return after_sleep(x, result);
    *result = x;
    return 0;
}

static int
mark(long x, long *result)
{
    char c = (char)x;
    if (write(marks[1], &c, 1) != 1)
        return 98;
    *result = x;
    return 0;
}

static int
twice(long x, long *result)
{
    *result = 2 * x;
    return 0;
}

// x < 0 fails with code -x; else x squared.
static int
square_or_fail(long x, long *result)
{
    if (x < 0)
        return (int)-x;
    *result = x * x;
    return 0;
}

static int
my_pid(long x, long *result)
{
    (void)x;
    *result = getpid();
    return 0;
}

static int
die(long x, long *result)
{
    (void)x;
    (void)result;
    kill(getpid(), SIGKILL);
    return 0;
}

static mp_executor *
executor(int n)
{
    mp_executor *ex = NULL;
    int r = mp_executor_create(&ex, n);
    fl_expect_int(r, 0, "mp_executor_create", "");
    return ex;
}

static mp_future *
submit(mp_executor *ex, mp_fn fn, long arg)
{
    mp_future *f = NULL;
    int r = mp_executor_submit(ex, fn, arg, &f);
    fl_expect_int(r, 0, "mp_executor_submit on a working executor", "");
    return f;
}

static int
children(void)
{
    pid_t kids[64];
    return fl_children_of(getpid(), kids, 64);
}

static double
ms_since(long long t0_us)
{
    return (fl_now_us() - t0_us) / 1000.0;
}

#define EPIPE_HINT                                                             \
    "A worker that dies closes its end of the socketpair: poll every "         \
    "worker's end, and read EOF (a short reply) as a death. Then fail "        \
    "every running and pending call with -EPIPE, as Python's "                 \
    "BrokenProcessPool."

/* ------------------------------------------------------- submit, result */

FL_TEST(test_mp_executor_submit_runs_the_call_in_a_worker)
{
    mp_executor *ex = executor(2);
    mp_future *f = submit(ex, my_pid, 0);
    long pid = 0;
    int r = mp_future_result(f, 2000, &pid);
    pid_t parent = fl_ppid_of((pid_t)pid);
    mp_future_free(f);
    mp_executor_free(ex);
    fl_expect_int(r, 0, "mp_future_result of a call returning its pid", "");
    ck_assert_msg(pid != getpid() && parent == getpid(),
                  "the call ran in process %ld, whose parent is %d; "
                  "expected a worker, a child of the caller (%d)",
                  pid, (int)parent, (int)getpid());
}

FL_TEST(test_mp_future_result_gives_the_calls_error_code)
{
    mp_executor *ex = executor(1);
    mp_future *f = submit(ex, square_or_fail, -7);
    long v = 12345;
    int r = mp_future_result(f, 2000, &v);
    mp_future *g = submit(ex, square_or_fail, 9);
    long w = 0;
    int r2 = mp_future_result(g, 2000, &w);
    mp_future_free(f);
    mp_future_free(g);
    mp_executor_free(ex);
    fl_expect_int(r, 7, "mp_future_result of a call that returned 7",
                  "a call's error code comes back as it is: Python "
                  "re-raises the call's exception");
    fl_expect_int(v, 12345, "*value after a failed call",
                  "set *value only on success");
    fl_expect_int(r2, 0, "the next call, after a call failed",
                  "a failing call does not break the executor");
    fl_expect_int(w, 81, "its value", "");
}

FL_TEST(test_mp_future_result_times_out_and_the_call_goes_on)
{
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *f = submit(ex, gated, 0);
    long long t0 = fl_now_us();
    int r = mp_future_result(f, 100, NULL);
    double took = ms_since(t0);
    int done = mp_future_done(f), running = mp_future_running(f);
    long long t1 = fl_now_us();
    int r1 = mp_future_result(f, 1, NULL);
    double took1 = ms_since(t1);
    gate_open(0);
    long v = 0;
    fl_fault_reset();
    int r2 = mp_future_result(f, 3000, &v); // (it ends at once)
    long longest = fl_poll_longest();
    mp_future_free(f);
    mp_executor_free(ex);
    pipes_close();
    ck_assert_msg(r == -ETIMEDOUT && took >= 95 && took < 600,
                  "mp_future_result(a call that waits, 100 ms) returned %s "
                  "after %.0f ms; expected -ETIMEDOUT after about 100 ms",
                  fl_ret(r), took);
    ck_assert_msg(done == 0 && running == 1,
                  "after the timeout: done %d, running %d; expected 0 and "
                  "1: a timeout does not end the call (Python's "
                  "TimeoutError leaves the future as it was)",
                  done, running);
    ck_assert_msg(r1 == -ETIMEDOUT && took1 >= 1.0,
                  "mp_future_result(a call that waits, 1 ms) returned %s "
                  "after %.3f ms; expected -ETIMEDOUT after 1 ms or more. "
                  "Round the time left UP to a whole ms: rounded down, "
                  "less than 1 ms left becomes 0, and the wait ends early",
                  fl_ret(r1), took1);
    fl_expect_int(r2, 0, "mp_future_result once the call could end", "");
    fl_expect_int(v, 100, "its value", "");
    ck_assert_msg(longest <= 3000,
                  "mp_future_result(f, 3000) gave poll a timeout of %ld "
                  "ms%s; "
                  "expected 3000 ms at most, the time left. Clamp the time "
                  "left IN MS to INT_MAX (not the ns, which pass INT_MAX "
                  "2.1 s before the deadline): a timeout over 2.1 s then "
                  "waits for ever when nothing happens",
                  longest == LONG_MAX ? -1 : longest,
                  longest == LONG_MAX ? " (for ever)" : "");
}

FL_TEST(test_mp_future_result_with_timeout_0_only_looks)
{
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *f = submit(ex, gated, 0);
    long long t0 = fl_now_us();
    int r = mp_future_result(f, 0, NULL);
    double took = ms_since(t0);
    gate_open(0);
    pid_t kid;
    fl_children_of(getpid(), &kid, 1);
    fl_proc_idles(kid, 20); // it has replied, and waits for the next
    long v = 0;
    int r2 = mp_future_result(f, 0, &v);
    mp_future_free(f);
    mp_executor_free(ex);
    pipes_close();
    ck_assert_msg(r == -ETIMEDOUT && took < 250,
                  "mp_future_result(a call that waits, 0) returned %s "
                  "after %.0f ms; expected -ETIMEDOUT at once",
                  fl_ret(r), took);
    fl_expect_int(r2, 0,
                  "mp_future_result(0) once the worker had sent its "
                  "reply",
                  "timeout 0 still looks once (poll with 0) before it "
                  "gives up");
    fl_expect_int(v, 100, "its value", "");
}

/* ---------------------------------------------- result under stress */

struct storm_run {
    int timeout_ms;
    int ret;
    fl_storm_result res;
};

static mp_future *storm_future;

static int
storm_result(void *arg)
{
    struct storm_run *s = arg;
    return mp_future_result(storm_future, s->timeout_ms, NULL);
}

// In a child of the test: an executor, a gated call, and a result()
// under a storm; the gate opened afterwards.
static int
storm_in_child(void *arg)
{
    struct storm_run *s = arg;
    mp_executor *ex;
    if (mp_executor_create(&ex, 1) < 0)
        return 1;
    if (mp_executor_submit(ex, gated, 0, &storm_future) < 0)
        return 1;
    fl_clock_mono_just_past_a_second(); // a clock in whole s shows
    fl_storm_call(storm_result, s, 500, &s->res);
    fl_fault_reset();
    gate_open(0);
    mp_future_free(storm_future);
    mp_executor_free(ex);
    return 0;
}

FL_TEST(test_mp_future_result_keeps_its_deadline_under_signals)
{
    pipes_make();
    struct storm_run *s = shared(sizeof *s);
    *s = (struct storm_run){.timeout_ms = 100};
    fl_child c;
    fl_run_in_child(storm_in_child, s, 2000, 0, &c);
    fl_storm_result res = s->res;
    munmap(s, sizeof *s);
    pipes_close();
    ck_assert_msg(!c.timed_out,
                  "mp_future_result(a call that waits, 100 ms) with a "
                  "signal every 0.5 ms was still waiting after 2 s. Each "
                  "EINTR started the 100 ms again: take the deadline once, "
                  "and wait for the time LEFT.");
    ck_assert_msg(res.ret == -ETIMEDOUT && res.elapsed_ms >= 95 &&
                      res.elapsed_ms < 600,
                  "mp_future_result(a call that waits, 100 ms) under a "
                  "storm of %ld signals returned %s after %ld ms; expected "
                  "-ETIMEDOUT after about 100 ms. %s",
                  res.signals, fl_ret(res.ret), res.elapsed_ms,
                  res.ret == -EINTR ? "poll failed with EINTR: a signal "
                                      "is no reason to stop waiting."
                                    : "");
}

struct hold {
    mp_future *f;
    int timeout_ms;
    long value;
};

static int
hold_result(void *arg)
{
    struct hold *h = arg;
    return mp_future_result(h->f, h->timeout_ms, &h->value);
}

static void
hold_release(void *arg)
{
    (void)arg;
    gate_open(0);
}

FL_TEST(test_mp_future_result_for_ever_stays_for_ever_under_signals)
{
    static const int timeouts[] = {-1, INT_MAX};
    pipes_make();
    mp_executor *ex = executor(1);
    for (int i = 0; i < 2; i++) {
        struct hold h = {submit(ex, gated, 0), timeouts[i], 0};
        fl_storm_result res;
        fl_storm_hold(hold_result, hold_release, &h, 500, 100, &res);
        mp_future_free(h.f);
        ck_assert_msg(!res.early && res.ret == 0 && h.value == 100,
                      "mp_future_result(a call that waits, %d) under a "
                      "storm of %ld signals returned %s after %ld ms, %s; "
                      "expected 0 once the call could end, 100 ms in. %s",
                      h.timeout_ms, res.signals, fl_ret(res.ret),
                      res.elapsed_ms, res.early ? "too early" : "",
                      h.timeout_ms < 0
                          ? "-1 means for ever: no deadline, and no time "
                            "left worked out from it after EINTR."
                          : "A long timeout gave up: work the deadline "
                            "out in 64 bits (1000000LL).");
    }
    mp_executor_free(ex);
    pipes_close();
}

static void
late_rescue(void)
{
    if (write(gate[0][1], "g", 1) < 0)
        return;
}

FL_TEST(test_mp_future_result_times_out_when_a_handler_outlasts_it)
{
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *f = submit(ex, gated, 0);
    fl_late_signal(20, 60, late_rescue, 300);
    long t0 = fl_now_ms();
    int r = mp_future_result(f, 50, NULL);
    long took = fl_now_ms() - t0;
    fl_late_signal_off();
    gate_open(0); // (a second byte does no harm)
    mp_future_result(f, 2000, NULL);
    mp_future_free(f);
    mp_executor_free(ex);
    pipes_close();
    ck_assert_msg(r == -ETIMEDOUT,
                  "mp_future_result(50 ms), interrupted at 20 ms by a "
                  "handler that ran for 60 ms: expected -ETIMEDOUT once "
                  "the handler returned, got %s after %ld ms. %s",
                  fl_ret(r), took,
                  r == 0 ? "It went on waiting until the call ended 300 "
                           "ms later: after the deadline the time left is "
                           "negative, and poll takes a negative timeout "
                           "as for ever. Clamp it to 0."
                         : "");
}

FL_TEST(test_mp_future_result_keeps_its_deadline_when_the_clock_jumps)
{
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *f = submit(ex, gated, 0);
    fl_fault_reset();
    fl_fault_eintr("poll", 1); // so that the time left is worked out
    fl_clock_jump_at(1, 3600);
    long long t0 = fl_now_us();
    int r = mp_future_result(f, 100, NULL);
    double took = ms_since(t0);
    long reads = fl_clock_reads();
    fl_fault_reset();
    gate_open(0);
    mp_future_result(f, 2000, NULL);
    mp_future_free(f);
    mp_executor_free(ex);
    pipes_close();
    ck_assert_msg(
        r == -ETIMEDOUT && took >= 95 &&
                took<600,
                     "mp_future_result(100 ms), its poll interrupted once "
                     "while the wall clock moved an hour on: expected "
                     "-ETIMEDOUT after about 100 ms, got %s after %.0f ms. %s",
                     fl_ret(r), took, reads> 0
            ? "It read the wall clock (CLOCK_REALTIME), "
              "which anyone may set: use CLOCK_MONOTONIC."
        : r == -EINTR ? "EINTR is no reason to stop: wait for "
                        "the time left."
                      : "");
}

FL_TEST(test_mp_future_result_fails_cleanly_when_poll_fails)
{
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *f = submit(ex, gated, 0);
    fl_fault_reset();
    fl_fault_fail("poll", 1, ENOMEM);
    long rv = 55; // what failed calls must leave as it was: 55, 7, 7
    int r = mp_future_result(f, -1, &rv);
    fl_fault_reset();
    fl_fault_fail("poll", 1, ENOMEM);
    int d = mp_future_done(f);
    fl_fault_reset();
    fl_fault_fail("poll", 1, ENOMEM);
    int run = mp_future_running(f);
    fl_fault_reset();
    struct mp_as_completed it;
    int index = 7, rn = mp_as_completed_begin(&it, &f, 1, -1);
    fl_fault_fail("poll", 1, ENOMEM);
    if (rn == 0)
        rn = mp_as_completed_next(&it, &index);
    fl_fault_reset();
    int dn = 7;
    fl_fault_fail("poll", 1, ENOMEM);
    int rw = mp_futures_wait(&f, 1, -1, MP_ALL_COMPLETED, &dn);
    fl_fault_reset();
    long in = 4, out = 77; // queued behind the gated call: not done
    fl_fault_fail("poll", 1, ENOMEM);
    int rm = mp_executor_map(ex, twice, &in, &out, 1, -1);
    fl_fault_reset();
    gate_open(0);
    long v = 0;
    int r2 = mp_future_result(f, 2000, &v);
    mp_future_free(f);
    mp_executor_free(ex);
    pipes_close();
    fl_expect_int(r, -ENOMEM, "mp_future_result with poll failing (ENOMEM)",
                  "return -errno when poll fails with anything but EINTR");
    fl_expect_int(rv, 55, "*value after mp_future_result failed",
                  "a failed wait leaves *value untouched: set it only on "
                  "success");
    fl_expect_int(d, -ENOMEM,
                  "mp_future_done of a running call with poll failing",
                  "done() looks for news (pump): when that fails, return "
                  "its error, not a 0 that a loop on done() takes for "
                  "\"not yet\" for ever");
    fl_expect_int(run, -ENOMEM,
                  "mp_future_running of a running call with poll failing",
                  "running() looks for news too: return the error");
    fl_expect_int(rn, -ENOMEM,
                  "mp_as_completed_next of a running call with poll failing",
                  "a failed wait is the answer, whatever its error, not "
                  "only -ETIMEDOUT");
    fl_expect_int(index, 7, "*index after mp_as_completed_next failed",
                  "a failed wait leaves *index untouched: set it only "
                  "when a future is given (return 1)");
    fl_expect_int(rw, -ENOMEM,
                  "mp_futures_wait of a running call with poll failing",
                  "a timeout is no error here, but a failed poll is: "
                  "return it");
    fl_expect_int(dn, 7, "done[0] after mp_futures_wait failed",
                  "a failed wait leaves done[] untouched: fill it in only "
                  "when the wait succeeds (or times out)");
    ck_assert_msg(rm == -ENOMEM && out == 77,
                  "mp_executor_map of a queued call with poll failing "
                  "returned %s with out[0] = %ld; expected -ENOMEM with "
                  "out[0] untouched: a failed wait is the item's outcome, "
                  "as mp_future_result() gives it",
                  fl_ret(rm), out);
    fl_expect_int(r2, 0, "mp_future_result afterwards", "");
    fl_expect_int(v, 100, "its value", "");
}

/* ------------------------------------------------------- the queue */

FL_TEST(test_mp_executor_submit_queues_calls_first_in_first_out)
{
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *g = submit(ex, gated, 0), *f[7];
    for (int i = 0; i < 5; i++)
        f[i] = submit(ex, mark, 'a' + i);
    // One cancelled from the middle of the queue, then one more at its
    // tail: the calls behind the cancelled one stay queued before it.
    // Then that new tail cancelled, and a 7th added: the tail moves back
    // to the call before the one taken out, which then leads to the 7th.
    int c = mp_future_cancel(f[2]);
    f[5] = submit(ex, mark, 'f');
    int c5 = mp_future_cancel(f[5]);
    f[6] = submit(ex, mark, 'g');
    gate_open(0);
    // One worker runs them in turn: once the last is done, all are.
    long v = 0;
    int bad = mp_future_result(f[6], 2000, &v) != 0 || v != 'g';
    for (int i = 0; i < 5; i++) {
        v = 0;
        if (i != 2)
            bad |= mp_future_result(f[i], 0, &v) != 0 || v != 'a' + i;
    }
    for (int i = 0; i < 7; i++)
        mp_future_free(f[i]);
    mp_future_result(g, 2000, NULL);
    mp_future_free(g);
    const char *ran = marks_read();
    mp_executor_free(ex);
    pipes_close();
    fl_expect_int(c, 1, "mp_future_cancel of the 3rd of 5 queued calls", "");
    fl_expect_int(c5, 1, "mp_future_cancel of the last queued call", "");
    ck_assert_msg(!bad && strcmp(ran, "abdeg") == 0,
                  "five calls queued behind a busy worker, the 3rd "
                  "cancelled, a 6th added and cancelled (the tail), a 7th "
                  "added: they ran in the order \"%s\"%s; expected "
                  "\"abdeg\": first in, first out (take the head of the "
                  "queue, append at the tail; taking one out of the middle "
                  "leaves the tail where it is, taking the tail out moves "
                  "it back to the call before it)",
                  ran, bad ? ", and some result was wrong" : "");
}

FL_TEST(test_mp_executor_submit_takes_more_calls_than_workers)
{
    mp_executor *ex = executor(2);
    mp_future *f[7];
    for (int i = 0; i < 7; i++)
        f[i] = submit(ex, twice, i);
    for (int i = 0; i < 7; i++) {
        long v = -1;
        int r = mp_future_result(f[i], 2000, &v);
        char what[64];
        snprintf(what, sizeof what, "call %d of 7 on 2 workers", i);
        fl_expect_int(r, 0, what,
                      "a call that finds no idle worker waits in the "
                      "queue; each reply frees a worker for the next");
        fl_expect_int(v, 2 * i, what, "");
        mp_future_free(f[i]);
    }
    mp_executor_free(ex);

    // Two replies read by one poll free two workers at once: both take a
    // pending call then, not one now and one only after the next news.
    pipes_make();
    ex = executor(2);
    pid_t kids[2];
    int nk = fl_children_of(getpid(), kids, 2);
    mp_future *a = submit(ex, twice, 1), *b = submit(ex, twice, 2);
    mp_future *g = submit(ex, gated, 0), *h = submit(ex, twice, 3);
    // Both workers have replied once they sleep again, waiting for a
    // request: the next poll sees both replies.
    int quiet =
        nk == 2 && fl_proc_idles(kids[0], 15) && fl_proc_idles(kids[1], 15);
    long v = 0;
    int r = mp_future_result(h, 1000, &v);
    gate_open(0);
    mp_future_result(g, 2000, NULL);
    mp_future_free(a);
    mp_future_free(b);
    mp_future_free(g);
    mp_future_free(h);
    mp_executor_free(ex);
    pipes_close();
    ck_assert_msg(quiet, "the 2 workers did not go back to sleep after "
                         "their calls; expected them waiting for the next "
                         "request");
    fl_expect_int(r, 0,
                  "mp_future_result of the 2nd of 2 calls queued while "
                  "both workers were busy, both replies read by one poll "
                  "and the 1st call blocked",
                  "dispatch hands a pending call to EVERY idle worker, "
                  "not to one per pump: the other idle worker waits "
                  "otherwise until news comes from a busy one");
    fl_expect_int(v, 6, "its value", "");
}

/* ----------------------------------------------------- cancel, states */

FL_TEST(test_mp_future_cancel_refuses_a_running_call)
{
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *f = submit(ex, gated, 0);
    int c = mp_future_cancel(f);
    int cancelled = mp_future_cancelled(f), running = mp_future_running(f);
    // done() and running() look without waiting: 300 of each on a call
    // that goes on take far less than the 300 ms one each would take.
    long long t0 = fl_now_us();
    int looks = 0;
    for (int i = 0; i < 300; i++)
        looks += mp_future_done(f) == 0 && mp_future_running(f) == 1;
    double took = ms_since(t0);
    gate_open(0);
    long v = 0;
    int r = mp_future_result(f, 2000, &v);
    int c2 = mp_future_cancel(f);
    mp_future_free(f);
    mp_executor_free(ex);
    pipes_close();
    fl_expect_int(c, 0, "mp_future_cancel of a call a worker is running",
                  "only a pending call can be cancelled: once a worker "
                  "has it, it runs (Python's cancel() returns False)");
    ck_assert_msg(cancelled == 0 && running == 1,
                  "after the refused cancel: cancelled %d, running %d; "
                  "expected 0 and 1",
                  cancelled, running);
    ck_assert_msg(looks == 300 && took < 300,
                  "300 mp_future_done() and 300 mp_future_running() of a "
                  "running call: %d pairs said 0 and 1 (expected 300), in "
                  "%.0f ms. They look once and never wait: pump with a "
                  "timeout of 0",
                  looks, took);
    fl_expect_int(r, 0, "mp_future_result of the call cancel refused", "");
    fl_expect_int(v, 100, "its value", "");
    fl_expect_int(c2, 0, "mp_future_cancel of a finished call", "");
}

FL_TEST(test_mp_future_cancel_cancels_a_pending_call)
{
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *g = submit(ex, gated, 0);
    mp_future *f = submit(ex, mark, 'b');
    int c = mp_future_cancel(f), c2 = mp_future_cancel(f);
    int cancelled = mp_future_cancelled(f), done = mp_future_done(f);
    int running = mp_future_running(f);
    int r = mp_future_result(f, 0, NULL);
    gate_open(0);
    mp_future_result(g, 2000, NULL);
    mp_future *h = submit(ex, mark, 'c');
    mp_future_result(h, 2000, NULL);
    const char *ran = marks_read();
    mp_future_free(f);
    mp_future_free(g);
    mp_future_free(h);
    mp_executor_free(ex);
    pipes_close();
    fl_expect_int(c, 1, "mp_future_cancel of a call waiting in the queue",
                  "a pending call is the executor's own: take it out of "
                  "the queue, and it is cancelled");
    fl_expect_int(c2, 1, "mp_future_cancel again", "a cancelled call is");
    ck_assert_msg(cancelled == 1 && done == 1 && running == 0,
                  "after cancel: cancelled %d, done %d, running %d; "
                  "expected 1, 1, 0",
                  cancelled, done, running);
    fl_expect_int(r, -ECANCELED, "mp_future_result of a cancelled call", "");
    ck_assert_msg(strcmp(ran, "c") == 0,
                  "the calls that ran wrote \"%s\"; expected \"c\": the "
                  "cancelled call ran anyway. Unlink it from the queue.",
                  ran);
}

FL_TEST(test_mp_future_done_makes_progress_in_a_loop)
{
    mp_executor *ex = executor(1);
    mp_future *f = submit(ex, twice, 4);
    long end = fl_now_ms() + 300;
    int d = 0;
    while ((d = mp_future_done(f)) == 0 && fl_now_ms() < end)
        continue; // a spin, as Python's `while not f.done(): pass`
    long v = 0;
    int r = mp_future_result(f, 0, &v);
    mp_future *g = submit(ex, twice, 5);
    int running = 0;
    for (end = fl_now_ms() + 300;
         (running = mp_future_running(g)) == 1 && fl_now_ms() < end;)
        continue; // `while f.running(): pass`
    int dg = mp_future_done(g);
    mp_future_free(f);
    mp_future_free(g);
    mp_executor_free(ex);
    fl_expect_int(running, 0,
                  "mp_future_running in a loop, for 300 ms, on a call "
                  "that ends at once",
                  "running() looks for news first (a poll with timeout "
                  "0), as done() does, or a loop on it never ends");
    fl_expect_int(dg, 1, "mp_future_done after running() said 0", "");
    fl_expect_int(d, 1,
                  "mp_future_done in a loop, for 300 ms, on a call that "
                  "ends at once",
                  "with no thread to read results, done() must look for "
                  "them itself (a poll with timeout 0)");
    fl_expect_int(r, 0, "mp_future_result after done() said 1", "");
    fl_expect_int(v, 8, "its value", "");
}

/* ------------------------------------------------------- as_completed */

FL_TEST(test_mp_as_completed_gives_futures_in_the_order_they_end)
{
    pipes_make();
    mp_executor *ex = executor(4);
    mp_future *f[4];
    for (int i = 0; i < 4; i++)
        f[i] = submit(ex, gated, i);
    struct mp_as_completed it;
    memset(&it, 0xff, sizeof it); // begin sets every field itself
    int r = mp_as_completed_begin(&it, f, 4, 1000);
    fl_expect_int(r, 0, "mp_as_completed_begin of 4 futures", "");
    int got[5] = {-1, -1, -1, -1, -1}, rs[5];
    gate_open(3);
    rs[0] = mp_as_completed_next(&it, &got[0]);
    gate_open(1); // 1 then 0 end before the next call
    mp_future_result(f[1], 2000, NULL);
    gate_open(0);
    mp_future_result(f[0], 2000, NULL);
    rs[1] = mp_as_completed_next(&it, &got[1]);
    rs[2] = mp_as_completed_next(&it, &got[2]);
    gate_open(2);
    rs[3] = mp_as_completed_next(&it, &got[3]);
    rs[4] = mp_as_completed_next(&it, &got[4]);
    for (int i = 0; i < 4; i++)
        mp_future_free(f[i]);
    mp_executor_free(ex);
    pipes_close();
    ck_assert_msg(rs[0] == 1 && rs[1] == 1 && rs[2] == 1 && rs[3] == 1 &&
                      got[0] == 3 && got[1] == 1 && got[2] == 0 && got[3] == 2,
                  "futures 0 to 3 ended in the order 3, 1, 0, 2; "
                  "as_completed gave %d, %d, %d, %d (returns %s, %s, %s, "
                  "%s). %s",
                  got[0], got[1], got[2], got[3], fl_ret(rs[0]), fl_ret(rs[1]),
                  fl_ret(rs[2]), fl_ret(rs[3]),
                  rs[1] == -ETIMEDOUT && rs[2] == -ETIMEDOUT
                      ? "Three had ended, yet next timed out. The state "
                        "was filled with 0xff bytes before begin: begin "
                        "must set every field (out[] all zeros: nothing "
                        "handed out yet), whatever the memory held."
                  : got[0] != 3 ? "Wait for whichever ends first, not for "
                                  "futs[0]: the order they end, not the "
                                  "order in futs."
                  : got[1] != 1 ? "1 and 0 had both ended: give the one "
                                  "that ended first (its seq), not the "
                                  "lowest index."
                                : "");
    fl_expect_int(rs[4], 0, "mp_as_completed_next after all four",
                  "once every future is given, return 0 (StopIteration)");

    // A cancelled future ends when it is cancelled: after one that ended
    // before.  One worker: g[1] ends, g[0] is cancelled in the queue.
    pipes_make();
    ex = executor(1);
    mp_future *g[3] = {NULL, submit(ex, gated, 0), NULL};
    g[2] = submit(ex, gated, 1); // pending, then running once g[1] ends
    g[0] = submit(ex, twice, 2); // pending behind g[2]
    gate_open(0);
    mp_future_result(g[1], 2000, NULL);
    int cancelled = mp_future_cancel(g[0]);
    int first = -1, r1 = mp_as_completed_begin(&it, g, 3, 1000);
    if (r1 == 0)
        r1 = mp_as_completed_next(&it, &first);
    gate_open(1);
    for (int i = 0; i < 3; i++)
        mp_future_free(g[i]);
    mp_executor_free(ex);
    pipes_close();
    fl_expect_int(cancelled, 1, "mp_future_cancel of a pending call", "");
    ck_assert_msg(r1 == 1 && first == 1,
                  "futs[1] ended, then the pending futs[0] was cancelled; "
                  "as_completed gave %d first (returned %s). %s",
                  first, fl_ret(r1),
                  first == 0 ? "A cancelled future ends when it is "
                               "cancelled: give it its seq then too, or it "
                               "comes before futures that ended earlier."
                             : "");

    // futs[0] ended before futs[1], both before the loop: 0 comes first.
    ex = executor(1);
    mp_future *h[2] = {submit(ex, twice, 1), submit(ex, twice, 2)};
    mp_future_result(h[1], 2000, NULL); // one worker: h[0] ended first
    int order[2] = {-1, -1}, ro = mp_as_completed_begin(&it, h, 2, 1000);
    for (int i = 0; i < 2 && ro == 0; i++)
        ro = mp_as_completed_next(&it, &order[i]) == 1 ? 0 : -1;
    for (int i = 0; i < 2; i++)
        mp_future_free(h[i]);
    mp_executor_free(ex);
    ck_assert_msg(ro == 0 && order[0] == 0 && order[1] == 1,
                  "futs[0] ended, then futs[1], both before the loop: "
                  "as_completed gave %d, %d; expected 0, 1. Among the "
                  "futures done, give the lowest seq: a candidate at index "
                  "0 is one too (no candidate yet is best < 0, not < 1)",
                  order[0], order[1]);
}

FL_TEST(test_mp_as_completed_of_no_futures_ends_at_once)
{
    struct mp_as_completed it;
    int r = mp_as_completed_begin(&it, NULL, 0, -1);
    int index = -1;
    int r2 = r == 0 ? mp_as_completed_next(&it, &index) : r;
    fl_expect_int(r, 0, "mp_as_completed_begin(NULL, 0, -1)",
                  "0 futures is allowed: Python's as_completed([]) "
                  "yields nothing");
    fl_expect_int(r2, 0, "mp_as_completed_next over 0 futures",
                  "nothing to give: 0 at once, never a wait");
}

FL_TEST(test_mp_as_completed_keeps_one_deadline_for_the_loop)
{
    pipes_make();
    mp_executor *ex = executor(2);
    mp_future *f[2] = {submit(ex, twice, 1), submit(ex, gated, 0)};
    mp_future_result(f[0], 2000, NULL);
    long long t0 = fl_now_us();
    struct mp_as_completed it;
    mp_as_completed_begin(&it, f, 2, 100);
    int index = -1;
    int r1 = mp_as_completed_next(&it, &index);
    int rw = mp_future_result(f[1], 150, NULL); // past the loop's deadline
    long long t1 = fl_now_us();
    int r2 = mp_as_completed_next(&it, &index);
    double last = ms_since(t1), all = ms_since(t0);
    // A timeout of 0: what is done comes out, then the deadline (now).
    // h ends only once the caller sleeps, as a wait for ever would.
    mp_future *h[2] = {f[0], submit(ex, after_sleep, 3)};
    struct mp_as_completed it0;
    int z0 = mp_as_completed_begin(&it0, h, 2, 0), i0 = -1, i1 = -1;
    long long t2 = fl_now_us();
    int z1 = z0 == 0 ? mp_as_completed_next(&it0, &i0) : z0;
    int z2 = z0 == 0 ? mp_as_completed_next(&it0, &i1) : z0;
    double zero = ms_since(t2);
    // -1: no deadline; next waits for h[1], which ends once it sleeps.
    struct mp_as_completed itf;
    int f0 = mp_as_completed_begin(&itf, h, 2, -1), j0 = -1, j1 = -1;
    int f1 = f0 == 0 ? mp_as_completed_next(&itf, &j0) : f0;
    int f2 = f0 == 0 ? mp_as_completed_next(&itf, &j1) : f0;
    gate_open(0);
    mp_future_result(f[1], 2000, NULL);
    mp_future_result(h[1], 2000, NULL);
    mp_future_free(h[1]);
    mp_future_free(f[0]);
    mp_future_free(f[1]);
    mp_executor_free(ex);
    pipes_close();
    fl_expect_int(r1, 1, "mp_as_completed_next with one future done", "");
    fl_expect_int(rw, -ETIMEDOUT, "mp_future_result(a waiting call, 150)", "");
    ck_assert_msg(r2 == -ETIMEDOUT && last < 60,
                  "as_completed(100 ms): 150 ms after begin, the next "
                  "call returned %s after %.0f ms more (%.0f ms in all); "
                  "expected -ETIMEDOUT at once. The timeout is for the "
                  "whole loop: take the deadline in begin, once, not in "
                  "each next.",
                  fl_ret(r2), last, all);
    ck_assert_msg(z1 == 1 && i0 == 0 && z2 == -ETIMEDOUT && zero < 60,
                  "as_completed(timeout 0) over a finished and a running "
                  "call: next gave %s (index %d), then %s after %.0f ms; "
                  "expected 1 (index 0), then -ETIMEDOUT at once. A "
                  "timeout of 0 is a deadline of now, not no deadline: "
                  "only -1 waits for ever.",
                  fl_ret(z1), i0, fl_ret(z2), zero);
    ck_assert_msg(f1 == 1 && j0 == 0 && f2 == 1 && j1 == 1,
                  "as_completed(timeout -1) over a finished and a running "
                  "call: next gave %s (index %d), then %s (index %d); "
                  "expected 1 (index 0), then 1 (index 1) once the call "
                  "ended: -1 is no deadline at all (begin's deadline comes "
                  "from its timeout_ms, -1 staying -1)",
                  fl_ret(f1), j0, fl_ret(f2), j1);
}

FL_TEST(test_mp_as_completed_takes_up_to_64_futures)
{
    enum { N = MP_AS_COMPLETED_MAX + 1 };
    mp_executor *ex = executor(2);
    mp_future *f[N];
    for (int i = 0; i < N; i++)
        f[i] = submit(ex, twice, i);
    for (int i = 0; i < N; i++)
        mp_future_result(f[i], 2000, NULL);
    int rs[3], counts[3] = {0, 0, 0}, dup = 0;
    for (int n = N - 2; n <= N; n++) {
        struct mp_as_completed it;
        int r = mp_as_completed_begin(&it, f, n, 1000);
        int seen[N] = {0}, index, k = n - (N - 2);
        while (r == 0 || r == 1) {
            if ((r = mp_as_completed_next(&it, &index)) != 1)
                break;
            dup |= index < 0 || index >= n || seen[index]++;
            counts[k]++;
        }
        rs[k] = r;
    }
    for (int i = 0; i < N; i++)
        mp_future_free(f[i]);
    mp_executor_free(ex);
    ck_assert_msg(rs[0] == 0 && counts[0] == N - 2 && rs[1] == 0 &&
                      counts[1] == N - 1 && !dup,
                  "as_completed over 63 and 64 finished futures gave %d "
                  "and %d (last return %s, %s)%s; expected each future "
                  "once, then 0",
                  counts[0], counts[1], fl_ret(rs[0]), fl_ret(rs[1]),
                  dup ? ", some index twice or out of range" : "");
    fl_expect_int(rs[2], -EINVAL, "mp_as_completed_begin of 65 futures",
                  "MP_AS_COMPLETED_MAX is the size of the out[] array: "
                  "refuse n > MP_AS_COMPLETED_MAX");
}

FL_TEST(test_mp_as_completed_rejects_bad_arguments)
{
    pipes_make();
    mp_executor *a = executor(1), *b = executor(1);
    mp_future *fa = submit(a, gated, 0), *fb = submit(b, gated, 1);
    // hole: its entry 1 is NULL, and the one past n = 2 is not.
    mp_future *two[2] = {fa, fb}, *hole[3] = {fa, NULL, fa};
    struct mp_as_completed it, it1;
    int index, dn[2];
    // A good iterator, for a next with a NULL index (timeout 0: a next
    // that does not check index gives up at once, and does not hang).
    int began = mp_as_completed_begin(&it1, two, 1, 0);
    struct {
        const char *what;
        int got;
    } c[] = {
        {"begin(NULL, ...)", mp_as_completed_begin(NULL, two, 1, -1)},
        {"begin(it, NULL, 1, -1)", mp_as_completed_begin(&it, NULL, 1, -1)},
        {"begin(it, futs, -1, -1)", mp_as_completed_begin(&it, two, -1, -1)},
        {"begin(it, futs, 1, -2)", mp_as_completed_begin(&it, two, 1, -2)},
        {"begin with a NULL entry", mp_as_completed_begin(&it, hole, 2, -1)},
        {"wait with a NULL entry",
         mp_futures_wait(hole, 2, 0, MP_ALL_COMPLETED, dn)},
        {"begin with futures of two executors",
         mp_as_completed_begin(&it, two, 2, -1)},
        {"wait(futures of two executors, 2, 0, ALL, done)",
         mp_futures_wait(two, 2, 0, MP_ALL_COMPLETED, dn)},
        {"next(NULL, &index)", mp_as_completed_next(NULL, &index)},
        {"next(it, NULL)",
         began == 0 ? mp_as_completed_next(&it1, NULL) : -EINVAL},
    };
    gate_open(0);
    gate_open(1);
    mp_future_free(fa);
    mp_future_free(fb);
    mp_executor_free(a);
    mp_executor_free(b);
    pipes_close();
    fl_expect_int(began, 0, "mp_as_completed_begin(&it, futs, 1, 0)", "");
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        fl_expect_int(c[i].got, -EINVAL, c[i].what,
                      "check the arguments first; futures not done must "
                      "share one executor: one poll serves one executor");
}

/* --------------------------------------------------------------- wait */

FL_TEST(test_mp_futures_wait_returns_at_the_first_completed)
{
    pipes_make();
    mp_executor *ex = executor(2);
    mp_future *f[2] = {submit(ex, gated, 0), submit(ex, after_sleep, 5)};
    int done[2] = {7, 7};
    long long t0 = fl_now_us();
    int r = mp_futures_wait(f, 2, 2000, MP_FIRST_COMPLETED, done);
    double took = ms_since(t0);
    // h ends only once the caller sleeps, as a wait for ever would.
    mp_future *h[2] = {f[1], submit(ex, after_sleep, 6)};
    int now[2] = {7, 7};
    long long t1 = fl_now_us();
    int r0 = mp_futures_wait(h, 2, 0, MP_ALL_COMPLETED, now);
    double took0 = ms_since(t1);
    mp_future_result(h[1], 2000, NULL);
    mp_future_free(h[1]);
    gate_open(0);
    int all[2] = {7, 7};
    int r2 = mp_futures_wait(f, 2, 2000, MP_ALL_COMPLETED, all);
    // One future: FIRST_COMPLETED waits for it (only n = 0 returns at
    // once); it ends once the caller sleeps.
    mp_future *one = submit(ex, after_sleep, 7);
    int d1 = 7;
    int r1 = mp_futures_wait(&one, 1, 2000, MP_FIRST_COMPLETED, &d1);
    mp_future_result(one, 2000, NULL);
    mp_future_free(one);
    mp_future_free(f[0]);
    mp_future_free(f[1]);
    mp_executor_free(ex);
    pipes_close();
    ck_assert_msg(r == 1 && done[0] == 0 && done[1] == 1 && took < 1500,
                  "wait(FIRST_COMPLETED) with the second call ending "
                  "first returned %s with done = {%d, %d} after %.0f ms; "
                  "expected 1 with {0, 1}, as soon as it ended",
                  fl_ret(r), done[0], done[1], took);
    ck_assert_msg(
        r0 == 1 && now[0] == 1 && now[1] == 0 && took0 < 600,
        "wait(ALL_COMPLETED, timeout 0) of a finished and a "
        "running call returned %s with done = {%d, %d} after "
        "%.0f ms; expected 1 with {1, 0} at once. A timeout of 0 is a "
        "deadline of now, not no deadline: only -1 waits for "
        "ever.",
        fl_ret(r0), now[0], now[1], took0);
    ck_assert_msg(r2 == 2 && all[0] == 1 && all[1] == 1,
                  "wait(ALL_COMPLETED) returned %s with {%d, %d}; "
                  "expected 2 with {1, 1}",
                  fl_ret(r2), all[0], all[1]);
    ck_assert_msg(r1 == 1 && d1 == 1,
                  "wait(FIRST_COMPLETED) of 1 running call returned %s "
                  "with done = {%d}; expected 1 with {1}: it waits until "
                  "one is done; only a list of 0 futures returns at once",
                  fl_ret(r1), d1);
}

FL_TEST(test_mp_futures_wait_first_exception_skips_cancelled_calls)
{
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *f[2] = {submit(ex, gated, 0), submit(ex, twice, 1)};
    mp_future_cancel(f[1]);
    int done[2] = {7, 7};
    long long t0 = fl_now_us();
    int r = mp_futures_wait(f, 2, 100, MP_FIRST_EXCEPTION, done);
    double took = ms_since(t0);
    mp_future *g = submit(ex, square_or_fail, -3);
    mp_future *e[2] = {f[0], g};
    gate_open(0); // the error comes first: the worker is busy till here
    int r2 = mp_futures_wait(e, 2, 2000, MP_FIRST_EXCEPTION, done);
    // A call's own positive code is an exception: the wait ends there,
    // while the other call is held at its gate (-1: no timeout to hide it).
    mp_executor *two = executor(2);
    mp_future *c[2] = {submit(two, gated, 2), submit(two, square_or_fail, -5)};
    int dc[2] = {7, 7};
    int rc = mp_futures_wait(c, 2, -1, MP_FIRST_EXCEPTION, dc);
    gate_open(2);
    mp_future_result(c[0], 2000, NULL);
    mp_future_free(c[0]);
    mp_future_free(c[1]);
    // A failed call first in the list, one that succeeded after it, and
    // one that ends only once the caller sleeps: the failure is enough,
    // whatever the futures after it did, and the wait never sleeps.
    mp_future *m[3] = {submit(two, square_or_fail, -4), submit(two, twice, 2)};
    mp_future_result(m[0], 2000, NULL);
    mp_future_result(m[1], 2000, NULL);
    m[2] = submit(two, after_sleep, 3);
    int dm[3] = {7, 7, 7};
    int rm = mp_futures_wait(m, 3, -1, MP_FIRST_EXCEPTION, dm);
    // ALL_COMPLETED waits for the third, failure or not.
    int da[3] = {7, 7, 7};
    int ra = mp_futures_wait(m, 3, 3000, MP_ALL_COMPLETED, da);
    for (int i = 0; i < 3; i++)
        mp_future_free(m[i]);
    mp_executor_free(two);
    // A call failed by a broken executor (another one) is an exception too.
    mp_executor *b = executor(1);
    mp_future *dead = submit(b, die, 0);
    int rd = mp_future_result(dead, 2000, NULL);
    mp_future *x[2] = {submit(ex, gated, 1), dead};
    int dx[2] = {7, 7};
    long long t3 = fl_now_us();
    int r3 = mp_futures_wait(x, 2, 300, MP_FIRST_EXCEPTION, dx);
    double took3 = ms_since(t3);
    gate_open(1);
    mp_future_result(x[0], 2000, NULL);
    mp_future_free(x[0]);
    mp_future_free(dead);
    mp_executor_free(b);
    mp_future_free(f[0]);
    mp_future_free(f[1]);
    mp_future_free(g);
    mp_executor_free(ex);
    pipes_close();
    ck_assert_msg(r == 1 && took >= 95 && took < 600,
                  "wait(FIRST_EXCEPTION, 100 ms) on a running call and a "
                  "cancelled one returned %s after %.0f ms; expected 1 "
                  "after the timeout: a cancelled call raised nothing",
                  fl_ret(r), took);
    ck_assert_msg(r2 >= 1 && done[1] == 1,
                  "wait(FIRST_EXCEPTION) with a failed call returned %s, "
                  "its flag %d; expected it done",
                  fl_ret(r2), done[1]);
    ck_assert_msg(rc == 1 && dc[0] == 0 && dc[1] == 1,
                  "wait(FIRST_EXCEPTION, -1) on a call held at its gate and "
                  "a call that returned its code 5 returned %s with "
                  "{%d, %d}; expected 1 with {0, 1} as soon as the code came "
                  "back: a positive code is the call's exception. Count "
                  "every outcome but 0 and -ECANCELED as failed",
                  fl_ret(rc), dc[0], dc[1]);
    ck_assert_msg(rm == 2 && dm[0] == 1 && dm[1] == 1 && dm[2] == 0,
                  "wait(FIRST_EXCEPTION, -1) on {a call that returned 4, "
                  "a call that succeeded, a call still running} returned "
                  "%s with {%d, %d, %d}; expected 2 with {1, 1, 0} at "
                  "once: one failure is enough, whatever the futures after "
                  "it did. Keep a failure once seen (failed |= ...), not "
                  "only the last future's",
                  fl_ret(rm), dm[0], dm[1], dm[2]);
    ck_assert_msg(ra == 3 && da[0] == 1 && da[1] == 1 && da[2] == 1,
                  "wait(ALL_COMPLETED, 3000 ms) on the same three returned "
                  "%s with {%d, %d, %d}; expected 3 with {1, 1, 1} once the "
                  "third ended: a failure ends only a FIRST_EXCEPTION "
                  "wait; ALL_COMPLETED waits for every future",
                  fl_ret(ra), da[0], da[1], da[2]);
    fl_expect_int(rd, -EPIPE, "the call that killed its worker", "");
    ck_assert_msg(r3 == 1 && dx[0] == 0 && dx[1] == 1 && took3 < 290,
                  "wait(FIRST_EXCEPTION, 300 ms) on a running call and a "
                  "call failed by a broken executor (-EPIPE) returned %s "
                  "with {%d, %d} after %.0f ms; expected 1 with {0, 1} at "
                  "once: BrokenProcessPool is an exception too. Count "
                  "every outcome but 0 and -ECANCELED as failed",
                  fl_ret(r3), dx[0], dx[1], took3);
}

/* ----------------------------------------------------------------- map */

FL_TEST(test_mp_executor_map_keeps_input_order)
{
    mp_executor *ex = executor(2);
    long in[4] = {3, 1, 2, 5}, out[4] = {0, 0, 0, 0};
    int r = mp_executor_map(ex, three_last, in, out, 4, 2000);
    long in2[4] = {1, -6, -9, 4}, out2[4] = {0, 77, 0, 0};
    int r2 = mp_executor_map(ex, square_or_fail, in2, out2, 4, 2000);
    int r0 = mp_executor_map(ex, twice, NULL, NULL, 0, -1);
    mp_executor_free(ex);
    fl_expect_int(r, 0, "mp_executor_map of 4 items", "");
    ck_assert_msg(out[0] == 3 && out[1] == 1 && out[2] == 2 && out[3] == 5,
                  "map gave {%ld, %ld, %ld, %ld}; expected {3, 1, 2, 5}, "
                  "in input order, though item 0 ended last",
                  out[0], out[1], out[2], out[3]);
    fl_expect_int(r2, 6, "map over {1, -6, -9, 4}: items 1 and 2 fail",
                  "the first failing item IN INPUT ORDER is the answer");
    fl_expect_int(out2[0], 1, "the result before the failing item", "");
    fl_expect_int(out2[1], 77, "out[1], the failing item's slot (77 before)",
                  "a call that failed has no result: write out[i] only "
                  "when item i succeeded");
    fl_expect_int(r0, 0, "mp_executor_map of 0 items", "");
}

// While map waits, each time its caller has slept 15 ms: move the code's
// monotonic clock 200 ms further on, then let one more call on gate 0
// through.  Each call then ends 200 ms (of the code's clock) after it
// began, well within a 1000 ms timeout; the eight of them do not.
struct ticker {
    atomic_int map_returned;
    atomic_int opened;
};

static void *
tick_and_open(void *p)
{
    struct ticker *t = p;
    while (t->opened < 8 && !atomic_load(&t->map_returned)) {
        if (!fl_proc_idles(getpid(), 15))
            continue; // (busy now: map is between two calls)
        fl_clock_mono_later_at(0, 200LL * (t->opened + 1));
        gate_open(0);
        t->opened++;
    }
    return NULL;
}

FL_TEST(test_mp_executor_map_times_out_and_leaks_nothing)
{
    fl_snapshot s;
    fl_snapshot_take(&s);
    pipes_make();
    mp_executor *ex = executor(1);
    long in[3] = {0, 1, 2}, out[3];
    long long t0 = fl_now_us();
    int r = mp_executor_map(ex, gated, in, out, 3, 100);
    double took = ms_since(t0);
    gate_open(0);
    // The call ends only once the caller sleeps, as a wait for ever would.
    long long t2 = fl_now_us();
    int r0 = mp_executor_map(ex, after_sleep, in, out, 1, 0);
    double took0 = ms_since(t2);
    // Eight calls, each ending 200 ms after it began by the code's clock
    // (tick_and_open): each is in time, all of them are not.
    long in8[8] = {0}, out8[8];
    struct ticker t = {0};
    pthread_t tid;
    ck_assert_int_eq(pthread_create(&tid, NULL, tick_and_open, &t), 0);
    int r8 = mp_executor_map(ex, gated, in8, out8, 8, 1000);
    int ticks = atomic_load(&t.opened); // (not one the ticker adds late)
    atomic_store(&t.map_returned, 1);
    pthread_join(tid, NULL);
    fl_fault_reset(); // the clock back
    for (int k = atomic_load(&t.opened); k < 8; k++)
        gate_open(0); // the calls still queued end at once
    mp_executor_free(ex);
    pipes_close();
    ck_assert_msg(r == -ETIMEDOUT && took >= 95 && took < 600,
                  "map(a call that waits, 100 ms) returned %s after %.0f "
                  "ms; expected -ETIMEDOUT after about 100 ms",
                  fl_ret(r), took);
    ck_assert_msg(r0 == -ETIMEDOUT && took0 < 600,
                  "map(a running call, timeout 0) returned %s after "
                  "%.0f ms; expected -ETIMEDOUT at once. A timeout of 0 "
                  "is a deadline of now, not no deadline: only -1 waits "
                  "for ever.",
                  fl_ret(r0), took0);
    ck_assert_msg(r8 == -ETIMEDOUT && ticks <= 6,
                  "map(8 calls on 1 worker, timeout 1000 ms), each call "
                  "ending 200 ms after it began, returned %s after %d "
                  "calls ended; expected -ETIMEDOUT once 1000 ms had passed "
                  "(after 5 or 6 calls). The timeout is for the whole map: "
                  "take the deadline once, before the first item, not for "
                  "each item",
                  fl_ret(r8), ticks);
    fl_expect_no_leak(&s, "mp_executor_map that timed out, then "
                          "mp_executor_free: the running call's future "
                          "must be freed when it ends (settle an orphan)");
}

FL_TEST(test_mp_executor_map_fails_cleanly_without_memory)
{
    FL_FAULT_WALK ("calloc", ENOMEM, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_executor *ex = NULL;
        long in[3] = {1, 2, 3}, out[3] = {0, 0, 0};
        int r = mp_executor_create(&ex, 1);
        if (r == 0)
            r = mp_executor_map(ex, twice, in, out, 3, 2000);
        mp_executor_free(ex); // (NULL if create failed)
        if (fl_fault_fired("calloc"))
            fl_expect_int(r, -ENOMEM, "create and map with calloc failing",
                          "return -ENOMEM");
        else
            ck_assert_msg(r == 0 && out[0] == 2 && out[1] == 4 && out[2] == 6,
                          "map(twice, {1, 2, 3}) returned %s with {%ld, "
                          "%ld, %ld}; expected 0 with {2, 4, 6}",
                          fl_ret(r), out[0], out[1], out[2]);
        fl_expect_no_leak(&s, "mp_executor_map with calloc failing in a "
                              "submit: on every way out, free each future "
                              "made and the array that holds them");
    }
}

/* ------------------------------------------------------------ shutdown */

FL_TEST(test_mp_executor_shutdown_waits_for_running_calls)
{
    mp_executor *ex = executor(1);
    mp_future *f = submit(ex, after_sleep, 7);
    int r = mp_executor_shutdown(ex, 1, 0);
    int left = children();
    long v = 0;
    int rf = mp_future_result(f, 0, &v);
    int rs = mp_executor_submit(ex, twice, 1, &(mp_future *){NULL});
    mp_future_free(f);
    mp_executor_free(ex);
    // shutdown(wait=0) with a call running, then free: free still waits
    // for it and reaps the worker, though the executor is shut down.
    ex = executor(1);
    mp_future *g = submit(ex, after_sleep, 8);
    int r0 = mp_executor_shutdown(ex, 0, 0);
    mp_executor_free(ex);
    int left2 = children();
    long w = 0;
    // (Only then: a free that did not wait left g pointing at freed memory.)
    int rg = left2 == 0 ? mp_future_result(g, 0, &w) : 1;
    mp_future_free(g);
    fl_expect_int(r, 0, "mp_executor_shutdown(wait 1)", "");
    ck_assert_msg(rf == 0 && v == 7,
                  "after shutdown(wait=1) the running call's result(0) "
                  "gave %s, value %ld; expected 0 and 7: shutdown returned "
                  "before the call ended",
                  fl_ret(rf), v);
    fl_expect_int(left, 0, "workers left after shutdown(wait=1)",
                  "close each worker's end, then waitpid each: a worker "
                  "not reaped is a zombie");
    fl_expect_int(rs, -ESHUTDOWN, "mp_executor_submit after shutdown",
                  "Python raises RuntimeError: refuse with -ESHUTDOWN");
    fl_expect_int(r0, 0, "mp_executor_shutdown(wait 0)", "");
    ck_assert_msg(left2 == 0 && rg == 0 && w == 8,
                  "shutdown(wait=0) with a call running, then "
                  "mp_executor_free: %d worker%s left, the call's result(0) "
                  "%s; expected none left and 0. Free waits for the calls "
                  "and reaps the workers even when shutdown was called "
                  "before: a second shutdown is allowed and does its work "
                  "again (wait, stop the workers), it does not return at "
                  "once because the executor is shut down already.",
                  left2, left2 == 1 ? "" : "s",
                  left2 == 0 ? fl_ret(rg) : "not asked");
}

FL_TEST(test_mp_executor_shutdown_cancel_futures_drops_pending_calls)
{
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *a = submit(ex, after_sleep, 1);
    mp_future *b = submit(ex, mark, 'b'), *c = submit(ex, mark, 'c');
    int r = mp_executor_shutdown(ex, 1, 1);
    int ra = mp_future_result(a, 0, NULL);
    int rb = mp_future_result(b, 0, NULL), rc = mp_future_result(c, 0, NULL);
    const char *ran = marks_read();
    mp_future_free(a);
    mp_future_free(b);
    mp_future_free(c);
    mp_executor_free(ex);
    pipes_close();
    fl_expect_int(r, 0, "mp_executor_shutdown(wait 1, cancel_futures 1)", "");
    fl_expect_int(ra, 0, "the running call", "running calls go on");
    ck_assert_msg(rb == -ECANCELED && rc == -ECANCELED && ran[0] == 0,
                  "after shutdown(cancel_futures=1), the pending calls "
                  "gave %s and %s, and the calls that ran wrote \"%s\"; "
                  "expected -ECANCELED twice and nothing run",
                  fl_ret(rb), fl_ret(rc), ran);
}

FL_TEST(test_mp_executor_shutdown_without_wait_returns_at_once)
{
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *a = submit(ex, gated, 0), *b = submit(ex, mark, 'b');
    long long t0 = fl_now_us();
    int r = mp_executor_shutdown(ex, 0, 0);
    double took = ms_since(t0);
    mp_future *x = NULL;
    int rs = mp_executor_submit(ex, twice, 1, &x);
    gate_open(0);
    int rb = mp_future_result(b, 2000, NULL);
    int left = children();
    mp_future_free(a);
    mp_future_free(b);
    mp_future_free(rs == 0 ? x : NULL);
    mp_executor_free(ex);
    pipes_close();
    ck_assert_msg(r == 0 && took < 250,
                  "shutdown(wait=0) with a call running returned %s after "
                  "%.0f ms; expected 0 at once",
                  fl_ret(r), took);
    fl_expect_int(rs, -ESHUTDOWN, "mp_executor_submit after shutdown(0)",
                  "shut down is shut down, waiting or not");
    fl_expect_int(rb, 0, "the pending call, after shutdown(wait=0)",
                  "without cancel_futures, pending calls still run");
    fl_expect_int(left, 0, "workers left once the last call ended",
                  "after shutdown, the pump ends and reaps the workers "
                  "once nothing is pending or running");
}

/* ------------------------------------------------------- a worker dies */

// What the death scenario saw, in memory shared with the test.
struct death {
    int r[4];    // the four calls' results
    double took; // ms the first result took
    int submit;  // submit on the broken executor
    int left;    // workers left then
    int shut;    // shutdown(wait 1) of the broken executor
    int submit2; // submit after that
};

// In a child (a wrong executor may never end): two workers, a waiting
// call on one, a call that kills the other, and two pending calls.
static int
death_in_child(void *arg)
{
    struct death *d = arg;
    mp_executor *ex;
    if (mp_executor_create(&ex, 2) < 0)
        return 1;
    mp_future *f[4], *g = NULL;
    mp_fn fn[4] = {gated, die, twice, twice};
    for (int i = 0; i < 4; i++)
        if (mp_executor_submit(ex, fn[i], 0, &f[i]) < 0)
            return 1;
    long long t0 = fl_now_us();
    d->r[0] = mp_future_result(f[0], 1000, NULL);
    d->took = ms_since(t0);
    for (int i = 1; i < 4; i++)
        d->r[i] = mp_future_result(f[i], 0, NULL);
    d->submit = mp_executor_submit(ex, twice, 1, &g);
    d->left = children();
    d->shut = mp_executor_shutdown(ex, 1, 0);
    mp_future *g2 = NULL;
    d->submit2 = mp_executor_submit(ex, twice, 1, &g2);
    gate_open(0);
    mp_future_free(d->submit2 == 0 ? g2 : NULL);
    mp_future_free(d->submit == 0 ? g : NULL);
    for (int i = 0; i < 4; i++)
        mp_future_free(f[i]);
    mp_executor_free(ex);
    return 0;
}

FL_TEST(test_mp_future_result_gives_epipe_when_a_worker_dies)
{
    pipes_make();
    struct death *d = shared(sizeof *d);
    *d = (struct death){{1, 1, 1, 1}, 0, 1, -1, 1, 1};
    fl_child c;
    fl_run_in_child(death_in_child, d, 2500, 0, &c);
    struct death got = *d;
    munmap(d, sizeof *d);
    pipes_close();
    ck_assert_msg(got.r[0] == -EPIPE && got.took < 800,
                  "a worker died while another ran a call that waits: "
                  "that call's result(1000 ms) gave %s after %.0f ms; "
                  "expected -EPIPE at once. %s",
                  fl_ret(got.r[0]), got.took, EPIPE_HINT);
    ck_assert_msg(got.r[1] == -EPIPE && got.r[2] == -EPIPE &&
                      got.r[3] == -EPIPE,
                  "the dead worker's call and two pending ones gave %s, "
                  "%s, %s; expected -EPIPE for each: every running and "
                  "pending call fails",
                  fl_ret(got.r[1]), fl_ret(got.r[2]), fl_ret(got.r[3]));
    fl_expect_int(got.submit, -EPIPE, "mp_executor_submit on a broken executor",
                  "Python's BrokenProcessPool: refuse new calls");
    fl_expect_int(got.left, 0, "workers left once the executor broke",
                  "kill the workers still alive (SIGKILL) and reap every "
                  "one, the dead one too");
    fl_expect_int(got.shut, 0,
                  "mp_executor_shutdown(wait 1) of the broken executor",
                  "every call ended when it broke (-EPIPE): nothing "
                  "is pending or running, not even in ex->running, and "
                  "shutdown has nothing to wait for");
    fl_expect_int(got.submit2, -EPIPE,
                  "mp_executor_submit on a broken executor, shut down",
                  "as Python's submit: look for a broken executor before "
                  "looking for a shut one");
    ck_assert_msg(!c.timed_out && c.returned && c.value == 0,
                  "the broken executor's free %s",
                  c.timed_out ? "never returned" : "failed");
}

struct dead_idle {
    int rf;    // submit, then result
    int left;  // workers left
    int rh;    // a call whose worker died half way through its reply
    int re;    // a call whose worker died, a poll before cut by a signal
    int stage; // the part the child got to: 1 to 3
};

// In a worker: send the first 4 bytes of a reply (code 0) on its end of
// the executor's socketpair, its only socket, and die.
static int
half_reply(long x, long *result)
{
    (void)x;
    (void)result;
    for (int fd = 3; fd < 1024; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
            (void)!send(fd, "\0\0\0\0", 4, MSG_NOSIGNAL);
    }
    _exit(0);
}

// In a child, with SIGPIPE's default action (death) back, as in a program
// that never touched it (the harness ignores it): the only worker is
// killed, then a submit sends to its closed end.
static int
dead_idle_in_child(void *arg)
{
    struct dead_idle *d = arg;
    signal(SIGPIPE, SIG_DFL);
    mp_executor *ex = NULL;
    if (mp_executor_create(&ex, 1) < 0)
        return 1;
    pid_t kid = 0;
    fl_children_of(getpid(), &kid, 1);
    kill(kid, SIGKILL);
    fl_until_ended(kid);
    mp_future *f = NULL;
    d->stage = 1;
    int r = mp_executor_submit(ex, twice, 1, &f);
    d->rf = r == 0 ? mp_future_result(f, 1000, NULL) : r;
    d->left = children();
    mp_future_free(r == 0 ? f : NULL);
    mp_executor_free(ex);
    if (mp_executor_create(&ex, 1) < 0)
        return 1;
    d->stage = 2;
    r = mp_executor_submit(ex, half_reply, 0, &f);
    d->rh = r == 0 ? mp_future_result(f, 1000, NULL) : r;
    mp_future_free(r == 0 ? f : NULL);
    mp_executor_free(ex);
    // The first poll cut short by a signal: errno still says EINTR when
    // the dead worker's EOF is read next, and recv's 0 leaves it alone.
    if (mp_executor_create(&ex, 1) < 0)
        return 1;
    d->stage = 3;
    r = mp_executor_submit(ex, die, 0, &f);
    fl_fault_reset();
    fl_fault_eintr("poll", 1);
    d->re = r == 0 ? mp_future_result(f, 1000, NULL) : r;
    fl_fault_reset();
    mp_future_free(r == 0 ? f : NULL);
    mp_executor_free(ex);
    return 0;
}

FL_TEST(test_mp_executor_submit_to_a_dead_idle_worker_gives_epipe)
{
    struct dead_idle *d = shared(sizeof *d);
    *d = (struct dead_idle){1, -1, 1, 1, 0};
    fl_child c;
    fl_run_in_child(dead_idle_in_child, d, 2500, 0, &c);
    struct dead_idle got = *d;
    munmap(d, sizeof *d);
    ck_assert_msg(c.exited || c.status != SIGPIPE,
                  "a submit to an executor whose only worker was killed "
                  "killed the caller with SIGPIPE (its default action, as "
                  "in a program that never touched it); expected -EPIPE. "
                  "Send with MSG_NOSIGNAL: a send to a closed peer then "
                  "fails with EPIPE, and SIGPIPE's disposition, which is "
                  "the caller's, stays as it was");
    ck_assert_msg(c.returned || got.stage != 3,
                  "a call killed its worker, and the first poll of "
                  "result(1000 ms) was cut short by a signal (EINTR): the "
                  "child %s. recv returns 0 at EOF and leaves errno as it "
                  "was, EINTR here: retry only when recv returned -1 with "
                  "errno EINTR; 0 is the end",
                  c.timed_out ? "hung past 2.5 s" : "did not return");
    ck_assert_msg(c.returned,
                  "submit and result after the only worker was "
                  "killed: the child %s",
                  c.timed_out ? "hung" : "did not return");
    fl_expect_int(got.rf, -EPIPE,
                  "submit and result after the only worker was killed",
                  "send to a dead worker fails with EPIPE (send with "
                  "MSG_NOSIGNAL, or SIGPIPE kills the caller): the "
                  "executor is broken");
    fl_expect_int(got.left, 0, "workers left", "reap the dead worker");
    fl_expect_int(got.rh, -EPIPE,
                  "result of a call whose worker died after 4 bytes of its "
                  "reply",
                  "anything short of a whole reply is a worker that died: "
                  "compare what recv_full got with sizeof the reply, not "
                  "with 0, and break the executor");
    fl_expect_int(got.re, -EPIPE,
                  "result(1000 ms) of a call that killed its worker, its "
                  "first poll cut short by a signal",
                  "a signal is no error: poll again, read the EOF, and "
                  "break the executor");
}

/* ------------------------------------------------- create, free, faults */

FL_TEST(test_mp_executor_create_takes_1_to_16_workers)
{
    static const int ns[] = {1, MP_EXECUTOR_MAX_WORKERS - 1,
                             MP_EXECUTOR_MAX_WORKERS, 0};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        mp_executor *ex = NULL;
        int r = mp_executor_create(&ex, ns[i]);
        int kids = children();
        mp_future *f = NULL;
        long v = 0;
        if (r == 0 && mp_executor_submit(ex, twice, 21, &f) == 0)
            mp_future_result(f, 2000, &v);
        mp_future_free(f);
        // A worker of the full w[] dies: breaking looks at each of them,
        // and no further (a loop to <= nworkers reads past w[]).
        int broke = -EPIPE;
        if (r == 0 && ns[i] == MP_EXECUTOR_MAX_WORKERS &&
            mp_executor_submit(ex, die, 0, &f) == 0) {
            broke = mp_future_result(f, 2000, NULL);
            mp_future_free(f);
        }
        mp_executor_free(ex);
        char what[64];
        snprintf(what, sizeof what, "mp_executor_create(&ex, %d)", ns[i]);
        fl_expect_int(r, 0, what, "");
        if (ns[i] > 0)
            fl_expect_int(kids, ns[i], "workers started", "");
        else
            ck_assert_msg(kids >= 1 && kids <= MP_EXECUTOR_MAX_WORKERS,
                          "max_workers 0 started %d workers; expected one "
                          "per CPU, from 1 to 16",
                          kids);
        fl_expect_int(v, 42, "a call on it", "");
        fl_expect_int(broke, -EPIPE, "a call that killed one of the 16 workers",
                      EPIPE_HINT);
    }
    // max_workers 0 on machines of 1, 16 and 17 CPUs, and where sysconf
    // fails (-1): one worker per CPU, from 1 to the 16 w[] holds.
    static const long cpus[][2] = {{1, 1}, {16, 16}, {17, 16}, {-1, 1}};
    for (size_t i = 0; i < sizeof cpus / sizeof cpus[0]; i++) {
        mp_executor *ex = NULL;
        if (cpus[i][0] > 0)
            fl_cpus_fake(cpus[i][0]);
        else
            fl_fault_fail("sysconf", 1, EINVAL);
        int r = mp_executor_create(&ex, 0), kids = children();
        long asked = fl_fault_calls("sysconf");
        fl_fault_reset();
        // (Checked before the free: past 16 workers, the struct is
        // already overwritten.)
        ck_assert_msg(r == 0 && kids == cpus[i][1],
                      "mp_executor_create(&ex, 0) where sysconf(_SC_"
                      "NPROCESSORS_ONLN) gives %ld returned %d and started %d "
                      "workers; expected 0 and %ld: one per CPU online, at "
                      "least 1 "
                      "(sysconf fails with -1) and at most "
                      "MP_EXECUTOR_MAX_WORKERS%s",
                      cpus[i][0], r, kids, cpus[i][1],
                      asked ? "" : ". (Your code never asked sysconf.)");
        mp_executor_free(ex);
    }
    mp_executor *ex = NULL;
    int c[3] = {mp_executor_create(&ex, MP_EXECUTOR_MAX_WORKERS + 1),
                mp_executor_create(&ex, -1), mp_executor_create(NULL, 1)};
    fl_expect_int(c[0], -EINVAL, "mp_executor_create(&ex, 17)",
                  "w[] holds MP_EXECUTOR_MAX_WORKERS: refuse more");
    fl_expect_int(c[1], -EINVAL, "mp_executor_create(&ex, -1)", "");
    fl_expect_int(c[2], -EINVAL, "mp_executor_create(NULL, 1)", "");
}

FL_TEST(test_mp_executor_create_cleans_up_when_fork_fails)
{
    FL_FAULT_WALK ("fork", EAGAIN, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_executor *ex = NULL;
        int r = mp_executor_create(&ex, 3);
        if (fl_fault_fired("fork"))
            fl_expect_int(r, -EAGAIN, "mp_executor_create with fork failing",
                          "return fork's -errno");
        else
            fl_expect_int(r, 0, "mp_executor_create(&ex, 3)", "");
        ck_assert_msg(r == 0 || ex == NULL,
                      "mp_executor_create failed (%s), yet set *ex to %p, "
                      "an executor it freed: set *ex only on success",
                      fl_ret(r), (void *)ex);
        mp_executor_free(r == 0 ? ex : NULL);
        fl_expect_no_leak(&s, "mp_executor_create with fork failing: close "
                              "the socketpair, and stop and reap the "
                              "workers started before");
    }
}

FL_TEST(test_mp_executor_create_cleans_up_when_socketpair_fails)
{
    FL_FAULT_WALK ("socketpair", EMFILE, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_executor *ex = NULL;
        int r = mp_executor_create(&ex, 3);
        if (fl_fault_fired("socketpair"))
            fl_expect_int(r, -EMFILE,
                          "mp_executor_create with socketpair "
                          "failing (EMFILE)",
                          "return socketpair's -errno");
        else
            fl_expect_int(r, 0, "mp_executor_create(&ex, 3)", "");
        ck_assert_msg(r == 0 || ex == NULL,
                      "mp_executor_create failed (%s), yet set *ex to %p, "
                      "an executor it freed: set *ex only on success",
                      fl_ret(r), (void *)ex);
        mp_executor_free(r == 0 ? ex : NULL);
        fl_expect_no_leak(&s, "mp_executor_create with socketpair failing");
    }
}

FL_TEST(test_mp_executor_submit_fails_cleanly_without_memory)
{
    FL_FAULT_WALK ("calloc", ENOMEM, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_executor *ex = NULL;
        mp_future *f = NULL;
        int r = mp_executor_create(&ex, 1);
        int r2 = r == 0 ? mp_executor_submit(ex, twice, 3, &f) : r;
        long v = 0;
        int r3 = r2 == 0 ? mp_future_result(f, 2000, &v) : r2;
        mp_future_free(r2 == 0 ? f : NULL);
        ck_assert_msg(r == 0 || ex == NULL,
                      "mp_executor_create failed (%s), yet set *ex to %p, "
                      "an executor it freed: set *ex only on success",
                      fl_ret(r), (void *)ex);
        mp_executor_free(r == 0 ? ex : NULL);
        if (fl_fault_fired("calloc"))
            fl_expect_int(r3, -ENOMEM,
                          "create, submit and result with calloc failing",
                          "return -ENOMEM");
        else
            fl_expect_int(v, 6, "a call's value", "");
        fl_expect_no_leak(&s, "create, submit, result, free with calloc "
                              "failing");
    }
}

FL_TEST(test_mp_executor_breaks_cleanly_when_a_send_fails)
{
    fl_snapshot s;
    fl_snapshot_take(&s);
    mp_executor *ex = executor(2);
    // Only a send that fails breaks it.  A send or a recv that a signal
    // interrupts (EINTR), or that moves fewer bytes than asked, is carried
    // on: the same request and reply must get through.
    for (int cut = 0; cut < 2; cut++) {
        fl_fault_reset();
        if (cut) {
            fl_fault_short("send", 1, 3);
            fl_fault_short("recv", 1, 3);
        } else {
            fl_fault_eintr("send", 1);
            fl_fault_eintr("recv", 1);
        }
        mp_future *g = NULL;
        long v = 0;
        int rg = mp_executor_submit(ex, twice, 21, &g);
        if (rg == 0)
            rg = mp_future_result(g, 2000, &v);
        long fired = fl_fault_fired("send") + fl_fault_fired("recv");
        fl_fault_reset();
        mp_future_free(g);
        ck_assert_msg(rg == 0 && v == 42 && fired == 2,
                      "the executor's first send and first recv %s; then "
                      "submit and result of twice(21) gave %s and %ld "
                      "(faults fired: %ld of 2); expected 0 and 42. A send "
                      "or recv cut short by a signal (EINTR) is tried again, "
                      "one that moved part of the bytes goes on with the "
                      "rest; neither is a dead worker",
                      cut ? "moved at most 3 bytes"
                          : "were interrupted by a signal (EINTR)",
                      fl_ret(rg), v, fired);
    }
    fl_fault_reset();
    fl_fault_fail("send", 1, ENOBUFS);
    mp_future *f = NULL;
    int r = mp_executor_submit(ex, twice, 1, &f);
    fl_fault_reset();
    // Failed, so done; not cancelled (Python: cancelled() is False for a
    // BrokenProcessPool), and too late to cancel.  (A submit that said
    // -EPIPE itself made no future: rf checks that.)
    int d = r == 0 ? mp_future_done(f) : 1;
    int cd = r == 0 ? mp_future_cancelled(f) : 0;
    int c = r == 0 ? mp_future_cancel(f) : 0;
    int rf = r == 0 ? mp_future_result(f, 1000, NULL) : r;
    mp_future_free(r == 0 ? f : NULL);
    mp_executor_free(ex);
    ck_assert_msg(d == 1 && cd == 0 && c == 0,
                  "a call whose request could not be sent: done() %s, "
                  "cancelled() %s, cancel() %s; expected 1, 0, 0. %s",
                  fl_ret(d), fl_ret(cd), fl_ret(c),
                  d != 1 ? "Take the call off the queue only once its "
                           "request is sent: a call taken off before a send "
                           "that fails is neither pending nor running, and "
                           "breaking the executor never fails it."
                         : "The broken executor failed it with -EPIPE: it "
                           "is done, and failed is not cancelled (only "
                           "-ECANCELED is), nor can it be cancelled now.");
    fl_expect_int(rf, -EPIPE, "a call whose request could not be sent",
                  "a worker that cannot be reached is as good as dead: "
                  "break the executor");
    fl_expect_no_leak(&s, "an executor broken by a failed send, then freed");
}

FL_TEST(test_mp_future_free_of_a_running_call_is_safe)
{
    fl_snapshot s;
    fl_snapshot_take(&s);
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *f = submit(ex, gated, 0);
    int rf = mp_future_free(f); // it runs on
    gate_open(0);
    mp_future *g = submit(ex, twice, 5);
    long v = 0;
    int r = mp_future_result(g, 2000, &v);
    mp_future_free(g);
    mp_executor_free(ex);
    pipes_close();
    fl_expect_int(rf, 0, "mp_future_free of a running call",
                  "it is given up, not freed yet: that is no error");
    fl_expect_int(r, 0, "a call after a running future was freed", "");
    fl_expect_int(v, 10, "its value", "");
    fl_expect_no_leak(&s, "a running future freed, then its call ended: "
                          "the executor frees it then");
}

// In a child: two executors, the first freed first (a wrong free hangs).
// Then one more, freed with SIGCHLD ignored, as a daemon may have it: the
// kernel reaps the workers itself, and waitpid fails with ECHILD once
// each has ended.  *stage (shared) says how far it got.
static int
create_free(void *arg)
{
    int *stage = arg;
    mp_executor *a, *b;
    if (mp_executor_create(&a, 2) < 0)
        return 1;
    if (mp_executor_create(&b, 2) < 0)
        return 1;
    mp_executor_free(a);
    mp_executor_free(b);
    *stage = 1;
    signal(SIGCHLD, SIG_IGN);
    mp_future *f;
    if (mp_executor_create(&a, 2) < 0 ||
        mp_executor_submit(a, twice, 1, &f) < 0 ||
        mp_future_result(f, 2000, NULL) != 0)
        return 2;
    mp_future_free(f);
    mp_executor_free(a);
    *stage = 2;
    return children() == 0 ? 0 : 3;
}

FL_TEST(test_mp_executor_free_ends_workers_whose_end_was_inherited)
{
    int *stage = shared(sizeof *stage);
    fl_child c;
    fl_run_in_child(create_free, stage, 1500, 0, &c);
    int got = *stage;
    munmap(stage, sizeof *stage);
    ck_assert_msg(got != 1 || !c.timed_out,
                  "mp_executor_free with SIGCHLD ignored (SIG_IGN) was "
                  "still waiting after 1.5 s. The kernel reaps the workers "
                  "then, and waitpid fails with ECHILD once each has ended: "
                  "retry waitpid only on EINTR, any other error ends the "
                  "wait for that worker");
    ck_assert_msg(!c.timed_out,
                  "two executors, the first freed first: free was still "
                  "waiting after 1.5 s. The second executor's workers "
                  "hold copies of the first's ends (fork copied them), so "
                  "close() alone sends no EOF: shutdown(fd, SHUT_WR) "
                  "first, which does.");
    ck_assert_msg(c.returned && c.value == 0,
                  "create and free in a child: it %s",
                  c.returned ? "failed" : "did not return");
}

struct fd0 {
    int end0; // 1 if the first worker's end is descriptor 0
    int rh;   // result(1000) of a call submitted behind a gated one
    int rg;   // the gated call's result, its gate open
    int left; // workers left after free
    int freed;
};

// In a child whose descriptor 0 is closed: an executor of 2, so that the
// first worker's end is descriptor 0, a valid one.
static int
fd0_in_child(void *arg)
{
    struct fd0 *d = arg;
    close(0);
    mp_executor *ex;
    if (mp_executor_create(&ex, 2) < 0)
        return 1;
    d->end0 = fcntl(0, F_GETFD) >= 0;
    mp_future *g = NULL, *h = NULL;
    if (mp_executor_submit(ex, gated, 0, &g) < 0 ||
        mp_executor_submit(ex, twice, 3, &h) < 0)
        return 1;
    d->rh = mp_future_result(h, 1000, NULL);
    gate_open(0);
    d->rg = mp_future_result(g, 2000, NULL);
    mp_future_free(g);
    mp_future_free(h);
    mp_executor_free(ex);
    d->freed = 1;
    d->left = children();
    return 0;
}

FL_TEST(test_mp_executor_works_when_an_end_is_descriptor_0)
{
    pipes_make();
    struct fd0 *d = shared(sizeof *d);
    *d = (struct fd0){0, 1, 1, -1, 0};
    fl_child c;
    fl_run_in_child(fd0_in_child, d, 2500, 0, &c);
    struct fd0 got = *d;
    munmap(d, sizeof *d);
    pipes_close();
    ck_assert_msg(!c.returned || (c.value == 0 && got.end0),
                  "create and submit in a child whose descriptor 0 was "
                  "closed: %s",
                  c.value != 0 ? "it failed" : "no end was descriptor 0");
    ck_assert_msg(got.rh == 0 && got.rg == 0,
                  "2 workers, the first one's end descriptor 0 (the caller "
                  "had closed its stdin): a gated call and a quick one "
                  "behind it gave %s and %s; expected 0 and 0. Descriptor "
                  "0 is a valid end: -1 is the only \"no end\" (fd < 0, "
                  "not fd <= 0), when dispatching, polling and stopping",
                  fl_ret(got.rg), fl_ret(got.rh));
    ck_assert_msg(got.freed && got.left == 0,
                  "mp_executor_free of 2 workers, the first one's end "
                  "descriptor 0: %s. Descriptor 0 is a valid end: shut it "
                  "down (fd < 0 is the only \"no end\", not fd <= 0), or "
                  "that worker never sees EOF",
                  got.freed ? "a worker was left" : "it never returned");
}

// In a child: an executor of 3 whose last worker runs a gated call; the
// child ends without freeing it.  The workers' pids go to arg.
static int
create_and_die(void *arg)
{
    mp_executor *ex;
    mp_future *f;
    if (mp_executor_create(&ex, 3) < 0)
        return 1;
    for (int i = 0; i < 3; i++) // twice to workers 0 and 1, gated to 2
        if (mp_executor_submit(ex, i < 2 ? twice : gated, 2, &f) < 0)
            return 1;
    pid_t *kids = arg;
    fl_children_of(getpid(), kids, 3);
    return 0;
}

FL_TEST(test_mp_executor_workers_exit_when_the_caller_dies)
{
    pipes_make();
    pid_t *kids = shared(3 * sizeof *kids);
    fl_child c;
    fl_run_in_child(create_and_die, kids, 1500, 0, &c);
    // The workers are the test's now (it is a subreaper).  The idle ones
    // must end at once (within 500 ms); the busy one when its gate opens.
    struct pollfd p[3];
    int fd[3];
    for (int i = 0; i < 3; i++) {
        fd[i] = kids[i] > 0 ? (int)syscall(SYS_pidfd_open, kids[i], 0) : -1;
        p[i] = (struct pollfd){.fd = fd[i], .events = POLLIN};
    }
    int ended = 0;
    for (long end = fl_now_ms() + 500, left = 500; ended < 2 && left > 0;
         left = end - fl_now_ms()) {
        if (poll(p, 3, (int)left) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 3; i++)
            if (p[i].fd >= 0 && (p[i].revents & POLLIN) != 0) {
                p[i].fd = -1; // poll skips it from now on
                ended++;
            }
    }
    int stuck = 3 - ended;
    gate_open(2);
    for (int i = 0; i < 3; i++) {
        if (fd[i] >= 0 && !fl_readable_within(fd[i], 2000))
            kill(kids[i], SIGKILL);
        if (fd[i] >= 0)
            close(fd[i]);
        if (kids[i] > 0)
            fl_reap(kids[i]);
    }
    munmap(kids, 3 * sizeof *kids);
    pipes_close();
    ck_assert_msg(c.returned && c.value == 0, "create in a child failed");
    fl_expect_int(stuck, 1,
                  "workers still running 0.5 s after their caller died "
                  "(one was busy)",
                  "an idle worker must end as soon as the caller is gone. "
                  "A worker must hold only its own end: close, in the "
                  "child, the executor's ends of the workers started "
                  "before it, or the busy one keeps the others from "
                  "seeing EOF");
}

/* ------------------------------------------- limits, arguments, stdio */

// In a child (a wrong wait may wait for ever, or pump no executor):
// wait on 0 futures for each return_when; 0, or 1 + the first that failed.
static int
wait_for_none(void *arg)
{
    const int *whens = arg;
    for (int i = 0; i < 3; i++)
        if (mp_futures_wait(NULL, 0, -1, whens[i], NULL) != 0)
            return 1 + i;
    return 0;
}

FL_TEST(test_mp_futures_wait_of_no_futures_returns_at_once)
{
    static const int whens[] = {MP_FIRST_COMPLETED, MP_FIRST_EXCEPTION,
                                MP_ALL_COMPLETED};
    fl_child c;
    fl_run_in_child(wait_for_none, (void *)whens, 1000, 0, &c);
    int bad = c.returned ? c.value - 1 : -1;
    ck_assert_msg(c.returned && c.value == 0,
                  "mp_futures_wait(NULL, 0, -1, %s, NULL) %s; expected 0 "
                  "at once. Python's wait([]) returns two empty sets at "
                  "once, whatever return_when says: with no future the "
                  "condition holds (FIRST_COMPLETED too), and there is no "
                  "executor to wait on",
                  bad == 0   ? "MP_FIRST_COMPLETED"
                  : bad == 1 ? "MP_FIRST_EXCEPTION"
                  : bad == 2 ? "MP_ALL_COMPLETED"
                             : "MP_FIRST_COMPLETED (or another)",
                  c.timed_out   ? "was still waiting after 1 s"
                  : !c.returned ? "crashed"
                                : "did not return 0");
}

FL_TEST(test_mp_futures_functions_reject_bad_arguments)
{
    mp_executor *ex = executor(1);
    mp_future *f = submit(ex, twice, 2), *none = NULL;
    long v = 0, in[1] = {1}, out[1];
    mp_future_result(f, 2000, &v); // done: a check missed cannot wait
    mp_future *fs[1] = {f};
    int done[1];
    struct {
        const char *what;
        int got;
    } c[] = {
        {"submit(NULL, fn, 0, &f)", mp_executor_submit(NULL, twice, 0, &none)},
        {"submit(ex, NULL, 0, &f)", mp_executor_submit(ex, NULL, 0, &none)},
        {"submit(ex, fn, 0, NULL)", mp_executor_submit(ex, twice, 0, NULL)},
        {"result(NULL, 0, &v)", mp_future_result(NULL, 0, &v)},
        {"result(f, -2, &v)", mp_future_result(f, -2, &v)},
        {"cancel(NULL)", mp_future_cancel(NULL)},
        {"done(NULL)", mp_future_done(NULL)},
        {"running(NULL)", mp_future_running(NULL)},
        {"cancelled(NULL)", mp_future_cancelled(NULL)},
        {"map(NULL, fn, in, out, 1, -1)",
         mp_executor_map(NULL, twice, in, out, 1, -1)},
        {"map(ex, NULL, in, out, 1, -1)",
         mp_executor_map(ex, NULL, in, out, 1, -1)},
        {"map(ex, fn, NULL, out, 1, -1)",
         mp_executor_map(ex, twice, NULL, out, 1, -1)},
        {"map(ex, fn, in, NULL, 1, -1)",
         mp_executor_map(ex, twice, in, NULL, 1, -1)},
        {"map(ex, fn, in, out, -1, -1)",
         mp_executor_map(ex, twice, in, out, -1, -1)},
        {"map(ex, fn, in, out, 1, -2)",
         mp_executor_map(ex, twice, in, out, 1, -2)},
        {"map(NULL, fn, NULL, NULL, 0, -1)",
         mp_executor_map(NULL, twice, NULL, NULL, 0, -1)},
        {"map(ex, fn, NULL, NULL, 0, -2)",
         mp_executor_map(ex, twice, NULL, NULL, 0, -2)},
        {"wait(NULL, 1, -1, ALL, done)",
         mp_futures_wait(NULL, 1, -1, MP_ALL_COMPLETED, done)},
        {"wait(fs, 1, -1, ALL, NULL)",
         mp_futures_wait(fs, 1, -1, MP_ALL_COMPLETED, NULL)},
        {"wait(fs, -1, -1, ALL, done)",
         mp_futures_wait(fs, -1, -1, MP_ALL_COMPLETED, done)},
        {"wait(fs, 1, -2, ALL, done)",
         mp_futures_wait(fs, 1, -2, MP_ALL_COMPLETED, done)},
        {"wait(fs, 1, -1, 0, done)", mp_futures_wait(fs, 1, -1, 0, done)},
        {"wait(fs, 1, -1, 4, done)", mp_futures_wait(fs, 1, -1, 4, done)},
        {"shutdown(NULL, 1, 0)", mp_executor_shutdown(NULL, 1, 0)},
    };
    // The frees return 0, and do nothing with NULL (as free(NULL)).
    int frees[4] = {mp_future_free(f), mp_executor_free(ex),
                    mp_future_free(NULL), mp_executor_free(NULL)};
    ck_assert_msg(
        frees[0] == 0 && frees[1] == 0 && frees[2] == 0 && frees[3] == 0,
        "mp_future_free(f), mp_executor_free(ex), "
        "mp_future_free(NULL), mp_executor_free(NULL) returned "
        "%s, %s, %s, %s; expected 0 each: NULL does nothing, as "
        "free(NULL), and is no error",
        fl_ret(frees[0]), fl_ret(frees[1]), fl_ret(frees[2]), fl_ret(frees[3]));
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        fl_expect_int(c[i].got, -EINVAL, c[i].what,
                      "check every argument first, as futures.h lists "
                      "them, before n == 0 returns 0: a timeout below -1 "
                      "is no timeout at all (-2 is not -1, for ever)");
}

static FILE *printed; // a fully buffered stream on the captured stdout

static int
print_call(long x, long *result)
{
    fprintf(printed, "the call printed %ld\n", x); // left in the buffer
    *result = x;
    return 0;
}

// In a child whose output is captured: a line buffered before the
// executor forks its workers, and a call that prints without flushing.
static int
print_around_forks(void *arg)
{
    (void)arg;
    printed = fdopen(dup(STDOUT_FILENO), "w");
    if (printed == NULL || setvbuf(printed, NULL, _IOFBF, 4096) != 0)
        return 2;
    fputs("the caller printed this\n", printed);
    mp_executor *ex;
    mp_future *f;
    if (mp_executor_create(&ex, 2) < 0)
        return 3;
    if (mp_executor_submit(ex, print_call, 7, &f) < 0 ||
        mp_future_result(f, 2000, NULL) != 0)
        return 4;
    mp_future_free(f);
    mp_executor_free(ex);
    // Freed while its call runs: free waits, reads the reply, and then
    // ends the idle workers, by EOF: a SIGKILL drops the call's buffer.
    if (mp_executor_create(&ex, 1) < 0)
        return 5;
    if (mp_executor_submit(ex, print_call, 8, &f) < 0)
        return 6;
    mp_future_free(f);
    mp_executor_free(ex);
    fclose(printed);
    return 0;
}

static int
times_in(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
        n++;
    return n;
}

FL_TEST(test_mp_executor_flushes_stdio_around_its_forks)
{
    fl_child c;
    fl_run_in_child(print_around_forks, NULL, 3000, 1, &c);
    ck_assert_msg(c.returned && c.value == 0,
                  "create, a call that prints, and free in a child: it %s",
                  c.returned ? "failed" : "did not return");
    int caller = times_in(c.out, "the caller printed this");
    int call = times_in(c.out, "the call printed 7");
    int freed = times_in(c.out, "the call printed 8");
    ck_assert_msg(caller == 1,
                  "a line the caller left in a stdio buffer before "
                  "mp_executor_create (2 workers) came out %d times; "
                  "expected once. fork() copies the unwritten buffer into "
                  "each worker, which writes it again when it flushes: "
                  "fflush(NULL) before each fork.",
                  caller);
    ck_assert_msg(call == 1,
                  "a line a call left in a stdio buffer, in its worker, "
                  "came out %d times; expected once, when the worker "
                  "ends. _exit() does not flush stdio: fflush(NULL) "
                  "before it.",
                  call);
    ck_assert_msg(freed == 1,
                  "a line a call left in a stdio buffer, its executor "
                  "freed while it ran, came out %d times; expected once. "
                  "Once the last call has ended, end the idle workers by "
                  "EOF (shutdown, close), not SIGKILL: a killed worker "
                  "never flushes",
                  freed);
}

FL_TEST(test_mp_executor_free_reaps_only_its_own_workers)
{
    pid_t other = fl_raw_child(3, 0); // the caller's own, ended already
    fl_until_ended(other);
    mp_executor *ex = executor(2);
    mp_future *f = submit(ex, twice, 1);
    mp_future_result(f, 2000, NULL);
    fl_fault_reset();
    fl_fault_eintr("waitpid", 1); // a signal while free reaps
    mp_executor_free(ex);
    fl_fault_reset();
    mp_future_free(f);
    pid_t kids[8];
    int n = fl_children_of(getpid(), kids, 8), left = 0;
    for (int i = 0; i < n; i++)
        left += kids[i] != other;
    int code = fl_reap_code(other);
    for (int i = 0; i < n; i++)
        if (kids[i] != other) // (a wrong free's workers)
            kill(kids[i], SIGKILL), fl_reap(kids[i]);
    ck_assert_msg(code == 3,
                  "a child the caller made before the executor, ended with "
                  "status 3, %s after mp_executor_free. waitpid each "
                  "worker's own pid, never -1: -1 reaps any child of the "
                  "caller, one it means to wait for itself",
                  code < 0 ? "could no longer be waited for (the executor "
                             "reaped it)"
                           : "gave another status");
    fl_expect_int(left, 0,
                  "workers left after mp_executor_free, its first waitpid "
                  "interrupted by a signal (EINTR)",
                  "retry waitpid on EINTR, or that worker stays a zombie");
}

FL_TEST(test_mp_executor_free_cleans_up_when_poll_fails)
{
    fl_snapshot s;
    fl_snapshot_take(&s);
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future *f = submit(ex, gated, 0);
    fl_fault_reset();
    fl_fault_fail("poll", 1, ENOMEM); // while free waits for the call
    int r = mp_executor_free(ex);
    fl_fault_reset();
    int left = children();
    // (A wrong free left the call running, its future not done, and the
    // executor freed: result() would read freed memory.)
    int rf = left == 0 ? mp_future_result(f, 0, NULL) : 1;
    gate_open(0);
    mp_future_free(f);
    pipes_close();
    char leak[2048];
    int leaked = fl_snapshot_diff(&s, leak, sizeof leak);
    fl_snapshot_restore(&s);
    fl_expect_int(r, 0, "mp_executor_free with poll failing", "");
    fl_expect_int(left, 0,
                  "workers left after mp_executor_free, its wait for a "
                  "running call cut short by poll failing (ENOMEM)",
                  "free must leave nothing behind: when its shutdown "
                  "fails, break the executor (the calls fail with -EPIPE, "
                  "the workers are killed and reaped)");
    fl_expect_int(rf, -EPIPE, "the running call's result after that", "");
    ck_assert_msg(leaked == 0, "mp_executor_free with poll failing: %s", leak);
}

// What the futures said after their executor was freed.
struct after_free {
    mp_future *f[3];
    int d[3], run[3], r[3], c0, cc;
    long v[3];
};

// In a child (a wrong look reads the freed executor, and may crash).
static int
look_after_free(void *arg)
{
    struct after_free *a = arg;
    for (int i = 0; i < 3; i++) { // each looks for news: none to look for
        a->d[i] = mp_future_done(a->f[i]);
        a->run[i] = mp_future_running(a->f[i]);
        a->r[i] = mp_future_result(a->f[i], i == 1 ? 0 : -1, &a->v[i]);
    }
    a->c0 = mp_future_cancel(a->f[0]);
    a->cc = mp_future_cancelled(a->f[2]);
    return 0;
}

FL_TEST(test_mp_future_stays_valid_after_its_executor_is_freed)
{
    struct after_free *a = shared(sizeof *a);
    pipes_make();
    mp_executor *ex = executor(1);
    mp_future **f = a->f;
    f[0] = submit(ex, twice, 21);
    f[1] = submit(ex, gated, 0);
    f[2] = submit(ex, twice, 1);
    int c = mp_future_cancel(f[2]);
    gate_open(0);
    mp_executor_free(ex); // waits for f[0] and f[1]
    fl_child ch;
    fl_run_in_child(look_after_free, a, 1000, 0, &ch);
    for (int i = 0; i < 3; i++)
        mp_future_free(f[i]);
    pipes_close();
    struct after_free got = *a;
    munmap(a, sizeof *a);
    fl_expect_int(c, 1, "mp_future_cancel of a pending call", "");
    ck_assert_msg(ch.returned && ch.value == 0,
                  "done(), running() and result() of futures whose "
                  "executor was freed %s. A future that is done needs no "
                  "executor: do not look for news (pump) for it, its "
                  "executor is gone (freed memory)",
                  ch.timed_out ? "never returned" : "crashed");
    ck_assert_msg(got.d[0] == 1 && got.d[1] == 1 && got.d[2] == 1 &&
                      got.run[0] == 0 && got.run[1] == 0 && got.run[2] == 0,
                  "after mp_executor_free: done() %d, %d, %d, running() "
                  "%d, %d, %d; expected 1s and 0s. A future that is done "
                  "needs no executor: do not look for news (pump) for it, "
                  "its executor is gone (freed memory)",
                  got.d[0], got.d[1], got.d[2], got.run[0], got.run[1],
                  got.run[2]);
    ck_assert_msg(got.r[0] == 0 && got.v[0] == 42 && got.r[1] == 0 &&
                      got.v[1] == 100 && got.r[2] == -ECANCELED,
                  "after mp_executor_free, the results were %s (%ld), %s "
                  "(%ld), %s; expected 0 (42), 0 (100), -ECANCELED",
                  fl_ret(got.r[0]), got.v[0], fl_ret(got.r[1]), got.v[1],
                  fl_ret(got.r[2]));
    ck_assert_msg(got.c0 == 0 && got.cc == 1,
                  "after mp_executor_free, cancel() of a finished call "
                  "gave %s, cancelled() of a cancelled one %s; expected 0 "
                  "and 1",
                  fl_ret(got.c0), fl_ret(got.cc));
}

static const fl_case cases[] = {
    FL_CASE(test_mp_executor_submit_runs_the_call_in_a_worker, 5),
    FL_CASE(test_mp_future_result_gives_the_calls_error_code, 5),
    FL_CASE(test_mp_future_result_times_out_and_the_call_goes_on, 5),
    FL_CASE(test_mp_future_result_with_timeout_0_only_looks, 5),
    FL_CASE(test_mp_future_result_keeps_its_deadline_under_signals, 5),
    FL_CASE(test_mp_future_result_for_ever_stays_for_ever_under_signals, 5),
    FL_CASE(test_mp_future_result_times_out_when_a_handler_outlasts_it, 5),
    FL_CASE(test_mp_future_result_keeps_its_deadline_when_the_clock_jumps, 5),
    FL_CASE(test_mp_future_result_fails_cleanly_when_poll_fails, 5),
    FL_CASE(test_mp_executor_submit_queues_calls_first_in_first_out, 5),
    FL_CASE(test_mp_executor_submit_takes_more_calls_than_workers, 5),
    FL_CASE(test_mp_executor_free_ends_workers_whose_end_was_inherited, 5),
    FL_CASE(test_mp_executor_workers_exit_when_the_caller_dies, 5),
    FL_CASE(test_mp_executor_works_when_an_end_is_descriptor_0, 5),
    FL_CASE(test_mp_future_cancel_refuses_a_running_call, 5),
    FL_CASE(test_mp_future_cancel_cancels_a_pending_call, 5),
    FL_CASE(test_mp_future_done_makes_progress_in_a_loop, 5),
    FL_CASE(test_mp_as_completed_gives_futures_in_the_order_they_end, 5),
    FL_CASE(test_mp_as_completed_of_no_futures_ends_at_once, 5),
    FL_CASE(test_mp_as_completed_keeps_one_deadline_for_the_loop, 5),
    FL_CASE(test_mp_as_completed_takes_up_to_64_futures, 5),
    FL_CASE(test_mp_as_completed_rejects_bad_arguments, 5),
    FL_CASE(test_mp_futures_wait_returns_at_the_first_completed, 5),
    FL_CASE(test_mp_futures_wait_first_exception_skips_cancelled_calls, 5),
    FL_CASE(test_mp_executor_map_keeps_input_order, 5),
    FL_CASE(test_mp_executor_map_times_out_and_leaks_nothing, 5),
    FL_CASE(test_mp_executor_map_fails_cleanly_without_memory, 5),
    FL_CASE(test_mp_executor_shutdown_waits_for_running_calls, 5),
    FL_CASE(test_mp_executor_shutdown_cancel_futures_drops_pending_calls, 5),
    FL_CASE(test_mp_executor_shutdown_without_wait_returns_at_once, 5),
    FL_CASE(test_mp_future_result_gives_epipe_when_a_worker_dies, 5),
    FL_CASE(test_mp_executor_submit_to_a_dead_idle_worker_gives_epipe, 5),
    FL_CASE(test_mp_executor_create_takes_1_to_16_workers, 5),
    FL_CASE(test_mp_executor_create_cleans_up_when_fork_fails, 5),
    FL_CASE(test_mp_executor_create_cleans_up_when_socketpair_fails, 5),
    FL_CASE(test_mp_executor_submit_fails_cleanly_without_memory, 5),
    FL_CASE(test_mp_executor_breaks_cleanly_when_a_send_fails, 5),
    FL_CASE(test_mp_future_free_of_a_running_call_is_safe, 5),
    FL_CASE(test_mp_futures_wait_of_no_futures_returns_at_once, 5),
    FL_CASE(test_mp_futures_functions_reject_bad_arguments, 5),
    FL_CASE(test_mp_executor_flushes_stdio_around_its_forks, 5),
    FL_CASE(test_mp_executor_free_reaps_only_its_own_workers, 5),
    FL_CASE(test_mp_executor_free_cleans_up_when_poll_fails, 5),
    FL_CASE(test_mp_future_stays_valid_after_its_executor_is_freed, 5),
};

FL_MAIN("16_futures", cases)
