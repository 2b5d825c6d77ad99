// check_wait.c - tests for lesson 15: mp_wait and mp_wait_any_exit.
//
// Every object a test waits on is made by the test: pipes (with data, at
// EOF, with an error pending, or empty with the writer still open) and
// children started with the raw fork.  A child that must end while the
// code under test is asleep is a "held" child: it waits for a byte on a
// pipe of its own (a gate), and a helper thread writes that byte once the
// test's main thread is asleep (its state in /proc is S).  A child that
// must have ended before the call is made a zombie first: the test blocks
// on its pidfd until it has ended (fl_until_ended), without reaping it.
// Nothing sleeps to synchronise.
//
// A held child gives up waiting after 3 s, so that a test that fails half
// way leaves nothing running for long; every test ends well before.  Waits
// that a wrong answer could make endless (a timeout restarted by each of a
// storm's signals) run in a child of the test with a bound.
#define _GNU_SOURCE
#include "harness.h"
#include "stress.h"
#include "wait.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

#define HELD_LIMIT_MS 3000 // a held child gives up waiting after this long

// A child that has ended and not been reaped: a zombie, exit status code.
static pid_t
zombie(int code)
{
    pid_t pid = fl_raw_child(code, 0);
    fl_until_ended(pid);
    return pid;
}

// Reap pid with the raw waitpid; its wait status.
static int
reap(pid_t pid)
{
    return fl_raw_wait(pid, "the test's own child");
}

// 1 if pid is a child not yet reaped (running or a zombie).
static int
unreaped(pid_t pid)
{
    siginfo_t si;
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

// Reap a zombie of the test's unless the code under test did; 1 if it
// had (the tests that care say so).
static int
reap_left(pid_t pid)
{
    if (!unreaped(pid))
        return 1;
    reap(pid);
    return 0;
}

#define STOLEN                                                                 \
    "mp_wait reaped the child: its exit code is lost to the caller, who "      \
    "calls waitpid (or join) next. Ask with waitid(..., WNOWAIT), or just "    \
    "poll its pidfd: neither reaps."

/* A held child: it waits for a byte on its gate, then exits with code.
 * Not the harness's fl_gate, which lets its children go by closing the
 * write end: with several gates, each child inherits the write ends of
 * the gates made before it, and an EOF would never come.  A byte lets
 * one child go, whatever copies the others hold. */
struct held {
    pid_t pid;
    int gate[2]; // the child reads gate[0]; the test writes gate[1]
    int code;
};

static int
held_child(void *arg)
{
    struct held *h = arg;
    struct pollfd pfd = {.fd = h->gate[0], .events = POLLIN};
    long end = fl_now_ms() + HELD_LIMIT_MS;
    int left = HELD_LIMIT_MS;
    while (poll(&pfd, 1, left) < 0) // EINTR: wait for the time left
        left = end > fl_now_ms() ? (int)(end - fl_now_ms()) : 0;
    return h->code;
}

static void
held_start(struct held *h, int code)
{
    ck_assert_msg(pipe(h->gate) == 0, "pipe failed: %s", strerror(errno));
    h->code = code;
    h->pid = fl_raw_start(held_child, h);
    close(h->gate[0]);
    h->gate[0] = -1;
}

// Let the held child end (a byte, not EOF: its siblings hold copies of
// the gate's write end).
static void
held_release(struct held *h)
{
    if (write(h->gate[1], "x", 1) != 1)
        ck_abort_msg("the test could not write to a gate: %s", strerror(errno));
}

// Release the child and reap it, unless the code under test has.
static void
held_end(struct held *h)
{
    ssize_t n = write(h->gate[1], "x", 1); // EPIPE if it has ended: fine
    (void)n;
    close(h->gate[1]);
    reap_left(h->pid);
}

// A pipe for the tests: p[0] to wait on, p[1] to write or close.
static void
make_pipe(int p[2])
{
    ck_assert_msg(pipe(p) == 0, "pipe failed: %s", strerror(errno));
}

static void
close_pipe(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0)
            close(p[i]);
}

static void
put_byte(int fd)
{
    ck_assert_msg(write(fd, "x", 1) == 1, "the test could not write: %s",
                  strerror(errno));
}

static mp_waitable
fd_obj(int fd)
{
    return (mp_waitable){.kind = MP_WAIT_FD, .fd = fd};
}

static mp_waitable
pid_obj(pid_t pid)
{
    return (mp_waitable){.kind = MP_WAIT_PROCESS, .pid = pid};
}

// The flags as a string, "{0, 1, 1}", for messages.
static const char *
flags(const int *ready, int n)
{
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof buf[0] - 16; i++)
        len += (size_t)snprintf(b + len, sizeof buf[0] - len, "%s%d",
                                i ? ", " : "{", ready[i]);
    snprintf(b + len, sizeof buf[0] - len, "}");
    return b;
}

// Fail unless ready[0..n-1] equals want, naming the call.
static void
expect_flags(const int *ready, const int *want, int n, const char *call,
             const char *hint)
{
    ck_assert_msg(memcmp(ready, want, (size_t)n * sizeof *ready) == 0,
                  "%s: expected ready = %s, got %s. %s", call, flags(want, n),
                  flags(ready, n), hint);
}

/* Something done by a helper thread once the main thread is asleep. */
struct later {
    pthread_t thread;
    pid_t main_tid;
    void (*fn)(void *);
    void *arg;
    char state; // the main thread's state when fn ran
};

static void *
later_run(void *arg)
{
    struct later *l = arg;
    long long end = fl_now_us() + HELD_LIMIT_MS * 1000LL / 2;
    while ((l->state = fl_proc_state(l->main_tid)) != 'S' && fl_now_us() < end)
        sched_yield();
    l->fn(l->arg);
    return NULL;
}

// Run fn(arg) in a helper thread once this thread sleeps (at most 1.5 s
// later: then regardless).
static void
later_start(struct later *l, void (*fn)(void *), void *arg)
{
    *l = (struct later){.main_tid = getpid(), .fn = fn, .arg = arg};
    int r = pthread_create(&l->thread, NULL, later_run, l);
    ck_assert_msg(r == 0, "pthread_create failed: %s", strerror(r));
}

static void
later_join(struct later *l)
{
    pthread_join(l->thread, NULL);
}

static void
release_held(void *arg)
{
    held_release(arg);
}

static double
ms_since(long long t0_us)
{
    return (fl_now_us() - t0_us) / 1000.0;
}

#define EOF_HINT                                                               \
    "A pipe whose writers have all closed gives POLLHUP, without POLLIN: "     \
    "count POLLHUP (and POLLERR) as ready too, or a reader never sees its "    \
    "EOF."

#define ZOMBIE_HINT                                                            \
    "A pidfd turns readable (POLLIN) when its process ends; POLLHUP comes "    \
    "only once it has been reaped, which a zombie has not."

/* ----------------------------------------------------- mp_wait: pipes */

FL_TEST(test_mp_wait_reports_a_pipe_with_data_as_ready)
{
    int p[2];
    make_pipe(p);
    put_byte(p[1]);
    mp_waitable objs[] = {fd_obj(p[0])};
    int ready[1] = {0};
    long long t0 = fl_now_us();
    int r = mp_wait(objs, 1, 2000, ready);
    double took = ms_since(t0);
    close_pipe(p);
    fl_expect_int(r, 1, "mp_wait on a pipe holding a byte",
                  "poll the descriptors for POLLIN and count those ready");
    ck_assert_msg(ready[0] == 1 && took < 1000,
                  "mp_wait on a pipe holding a byte returned 1 after %.0f "
                  "ms with ready[0] = %d; expected ready[0] = 1 at once",
                  took, ready[0]);
}

FL_TEST(test_mp_wait_counts_eof_as_ready)
{
    int p[2], s[2];
    make_pipe(p);
    close(p[1]); // every writer gone: EOF
    p[1] = -1;
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
    close(s[1]); // the peer hung up
    s[1] = -1;
    mp_waitable objs[] = {fd_obj(p[0]), fd_obj(s[0])};
    int ready[2] = {0, 0}, want[2] = {1, 1};
    long long t0 = fl_now_us();
    int r = mp_wait(objs, 2, 2000, ready);
    double took = ms_since(t0);
    close_pipe(p);
    close_pipe(s);
    fl_expect_int(r, 2,
                  "mp_wait on a pipe and a socket, each at EOF (a read "
                  "would return 0 at once)",
                  EOF_HINT);
    expect_flags(ready, want, 2, "mp_wait on a pipe and a socket at EOF",
                 EOF_HINT);
    ck_assert_msg(took < 1000, "mp_wait at EOF took %.0f ms: expected at once",
                  took);
}

FL_TEST(test_mp_wait_counts_a_pending_error_as_ready)
{
    int p[2];
    make_pipe(p);
    close(p[0]); // a write end with no reader left: POLLERR
    p[0] = -1;
    mp_waitable objs[] = {fd_obj(p[1])};
    int ready[1] = {0};
    int r = mp_wait(objs, 1, 2000, ready);
    close_pipe(p);
    fl_expect_int(r, 1,
                  "mp_wait on a pipe's write end whose reader has gone "
                  "(poll reports POLLERR)",
                  "An error pending is ready too: the next call on the "
                  "descriptor reports it. Count POLLERR as ready.");
    fl_expect_int(ready[0], 1, "ready[0] for a descriptor with POLLERR", "");
}

// An empty pipe and an idle socket: nothing to read in either, though the
// socket could be written to at once (POLLOUT), which is no reason to wake.
FL_TEST(test_mp_wait_times_out_when_nothing_is_ready)
{
    int p[2], s[2];
    make_pipe(p); // the test keeps the write end: no data, no EOF
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
    mp_waitable objs[] = {fd_obj(p[0]), fd_obj(s[0])};
    int ready[2] = {7, 7};
    long long t0 = fl_now_us();
    int r = mp_wait(objs, 2, 100, ready);
    double took = ms_since(t0);
    close_pipe(p);
    close_pipe(s);
    ck_assert_msg(r == 0 && took >= 95 && took < 600,
                  "mp_wait(empty pipe, idle socket, timeout 100 ms) returned "
                  "%s after %.0f ms; expected 0 (Python: []) after about "
                  "100 ms. %s",
                  fl_ret(r), took,
                  took < 95 ? "It gave up early: poll for POLLIN only (a "
                              "socket can be written to at once: POLLOUT "
                              "would wake poll though nothing is ready), "
                              "give poll the timeout, and wait again for "
                              "the time left after EINTR."
                            : "");
    fl_expect_int(ready[0] | ready[1], 0, "ready[0] | ready[1] after a timeout",
                  "clear the flags first: nothing was ready");
}

FL_TEST(test_mp_wait_with_timeout_0_only_looks)
{
    int p[2];
    struct held h;
    make_pipe(p);
    held_start(&h, 0);
    mp_waitable objs[] = {fd_obj(p[0]), pid_obj(h.pid)};
    int ready[2] = {0, 0};
    long long t0 = fl_now_us();
    int r = mp_wait(objs, 2, 0, ready);
    double took = ms_since(t0);
    put_byte(p[1]);
    int r2 = mp_wait(objs, 2, 0, ready);
    int data = ready[0], proc = ready[1];
    held_end(&h);
    close_pipe(p);
    ck_assert_msg(r == 0 && took < 50,
                  "mp_wait(empty pipe, running child, timeout 0) returned "
                  "%s after %.0f ms; expected 0 at once: 0 means look, do "
                  "not wait",
                  fl_ret(r), took);
    ck_assert_msg(r2 == 1 && data == 1 && proc == 0,
                  "mp_wait(pipe with a byte, running child, timeout 0) "
                  "returned %s with ready = {%d, %d}; expected 1 with {1, 0}",
                  fl_ret(r2), data, proc);
}

FL_TEST(test_mp_wait_clears_the_flags_of_objects_not_ready)
{
    int p[3][2];
    for (int i = 0; i < 3; i++)
        make_pipe(p[i]);
    put_byte(p[1][1]);
    mp_waitable objs[] = {fd_obj(p[0][0]), fd_obj(p[1][0]), fd_obj(p[2][0])};
    int ready[3] = {7, 7, 7}, want[3] = {0, 1, 0};
    int r = mp_wait(objs, 3, 1000, ready);
    for (int i = 0; i < 3; i++)
        close_pipe(p[i]);
    fl_expect_int(r, 1,
                  "mp_wait on three pipes, the middle one holding a "
                  "byte",
                  "");
    expect_flags(ready, want, 3,
                 "mp_wait on three pipes, only the middle one holding a "
                 "byte, with ready = {7, 7, 7} before the call",
                 "Set every flag, 0 as well as 1: the caller's array holds "
                 "whatever its last call left there.");
}

FL_TEST(test_mp_wait_reports_exactly_the_ready_ones_among_many)
{
    enum { N = 6 };
    int p[N][2], want[N] = {0, 1, 0, 0, 1, 1}, ready[N];
    mp_waitable objs[N];
    for (int i = 0; i < N; i++) {
        make_pipe(p[i]);
        objs[i] = fd_obj(p[i][0]);
    }
    put_byte(p[1][1]);
    put_byte(p[4][1]);
    close(p[5][1]); // the last one at EOF
    p[5][1] = -1;
    int r = mp_wait(objs, N, 1000, ready);
    for (int i = 0; i < N; i++)
        close_pipe(p[i]);
    fl_expect_int(r, 3,
                  "mp_wait on 6 pipes: bytes in 1 and 4, EOF in 5 (the "
                  "last)",
                  "count every entry from 0 to n - 1, the last one too");
    expect_flags(ready, want, N, "mp_wait on 6 pipes",
                 "ready[i] belongs to objs[i]: look at every entry.");
}

/* ------------------------------------------------- mp_wait: processes */

FL_TEST(test_mp_wait_sees_a_child_that_has_already_ended)
{
    pid_t pid = zombie(3);
    mp_waitable objs[] = {pid_obj(pid)};
    int ready[1] = {0};
    long long t0 = fl_now_us();
    int r = mp_wait(objs, 1, 2000, ready);
    double took = ms_since(t0);
    int r0 = mp_wait(objs, 1, 0, ready);
    // With descriptor 0 free, the pidfd takes number 0: a descriptor like
    // any other, and closed again before the call returns.
    int saved = fcntl(0, F_DUPFD_CLOEXEC, 3); // -1 if 0 is closed
    close(0);
    errno = ENOENT; // as an earlier failure elsewhere would leave it
    int rz = mp_wait(objs, 1, 0, ready);
    int zero_left = fcntl(0, F_GETFD) >= 0;
    if (saved >= 0) {
        dup2(saved, 0);
        close(saved);
    } else if (zero_left) {
        close(0);
    }
    int stolen = reap_left(pid);
    ck_assert_msg(!stolen, STOLEN);
    ck_assert_msg(r == 1 && took < 1000,
                  "mp_wait(a child that ended before the call and was not "
                  "reaped yet, timeout 2000) returned %s after %.0f ms; "
                  "expected 1 at once. %s",
                  fl_ret(r), took, r == 0 ? ZOMBIE_HINT : "");
    fl_expect_int(r0, 1, "mp_wait(the same zombie, timeout 0)", ZOMBIE_HINT);
    fl_expect_int(rz, 1,
                  "mp_wait(the same zombie, timeout 0) with descriptor 0 "
                  "free, so that its pidfd is number 0",
                  "pidfd_open failed only if it returned -1: 0 is a "
                  "descriptor like any other. Test fd < 0, not fd <= 0.");
    ck_assert_msg(!zero_left,
                  "mp_wait(a zombie, timeout 0) with descriptor 0 free left "
                  "descriptor 0 open: its pidfd, number 0, was never "
                  "closed. Test fd < 0 for a failed pidfd_open, not "
                  "fd <= 0.");
}

FL_TEST(test_mp_wait_wakes_when_a_child_ends)
{
    int p[2];
    struct held h;
    make_pipe(p); // stays empty
    held_start(&h, 4);
    mp_waitable objs[] = {fd_obj(p[0]), pid_obj(h.pid)};
    int ready[2] = {0, 0}, want[2] = {0, 1};
    struct later l;
    later_start(&l, release_held, &h); // once asleep: let the child end
    long long t0 = fl_now_us();
    int r = mp_wait(objs, 2, 2500, ready);
    double took = ms_since(t0);
    later_join(&l);
    int st = reap(h.pid);
    close(h.gate[1]);
    close_pipe(p);
    ck_assert_msg(r == 1 && took < 2000,
                  "mp_wait(an empty pipe and a running child, 2500 ms): the "
                  "child ended while the call slept; it returned %s after "
                  "%.0f ms, expected 1 soon after the child ended. %s",
                  fl_ret(r), took,
                  r == 0 ? "Poll a pidfd for each process "
                           "(pidfd_open), in the same poll as the pipes."
                         : "");
    expect_flags(ready, want, 2, "mp_wait(empty pipe, child that ended)", "");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 4,
                  "the child did not end as it should (status %#x)", st);
}

FL_TEST(test_mp_wait_leaves_the_child_for_waitpid)
{
    pid_t pid = zombie(7);
    mp_waitable objs[] = {pid_obj(pid)};
    int ready[1];
    int r = mp_wait(objs, 1, 1000, ready);
    int still = unreaped(pid);
    int st = still ? reap(pid) : 0;
    fl_expect_int(r, 1, "mp_wait on a child that had ended", ZOMBIE_HINT);
    ck_assert_msg(still, STOLEN);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 7,
                  "the child's exit status after mp_wait: expected 7, got "
                  "wait status %#x",
                  st);
}

// The last case puts the parent behind a pipe and a child of the caller's
// own: every process entry is checked, not only the first, and a pipe
// before it ends nothing.
FL_TEST(test_mp_wait_rejects_a_pid_that_is_not_a_child)
{
    pid_t gone = zombie(0), mine = zombie(0);
    reap(gone);
    int p[2];
    make_pipe(p);
    mp_waitable objs[4][3] = {
        {pid_obj(getppid())},
        {pid_obj(gone)},
        {fd_obj(p[0]), pid_obj(mine), pid_obj(getppid())},
        {pid_obj(1)},
    };
    const int n[4] = {1, 1, 3, 1};
    const char *what[4] = {"mp_wait on the caller's parent (timeout 0)",
                           "mp_wait on a child already reaped (timeout 0)",
                           ("mp_wait on a pipe, a child of the caller's and "
                            "then the caller's parent (timeout 0)"),
                           "mp_wait on pid 1, init (timeout 0)"};
    int got[4], flags_left[4];
    for (int i = 0; i < 4; i++) {
        int ready[3] = {7, 7, 7};
        got[i] = mp_wait(objs[i], n[i], 0, ready);
        flags_left[i] = 0;
        for (int k = 0; k < n[i]; k++)
            flags_left[i] |= ready[k];
    }
    reap_left(mine);
    close_pipe(p);
    for (int i = 0; i < 4; i++) {
        fl_expect_int(got[i], -ECHILD, what[i],
                      i == 3   ? "1 is a pid like any other: refuse only "
                                 "pid < 1 (-EINVAL), and let waitid say "
                                 "that init is not your child."
                      : i == 2 ? "check EVERY process entry with waitid: "
                                 "skip the descriptors (continue), do not stop "
                                 "at the first one (break), nor at the first "
                                 "child that passes."
                               : "pidfd_open opens any process that exists, "
                                 "and a pid reaped may already name another: "
                                 "ask waitid(P_PID, pid, ..., WEXITED | "
                                 "WNOHANG | WNOWAIT) first, which fails with "
                                 "ECHILD for a pid that is not your child.");
        fl_expect_int(flags_left[i], 0, "ready[] after the failure",
                      "clear the flags before anything can fail");
    }
}

/* ---------------------------------------------------- mp_wait: errors */

// mp_wait(fd 0, poll) with a pipe holding a byte put at number 0 for the
// call, and whatever was there put back.
static int
wait_on_fd_0(void)
{
    int saved = fcntl(0, F_DUPFD_CLOEXEC, 3); // -1 if 0 is closed
    int p[2];
    make_pipe(p);
    put_byte(p[1]);
    if (p[0] != 0)
        ck_assert_msg(dup2(p[0], 0) == 0, "dup2 failed: %s", strerror(errno));
    mp_waitable objs[] = {fd_obj(0)};
    int ready[1] = {0};
    int r = mp_wait(objs, 1, 0, ready);
    if (p[0] != 0)
        close(0);
    close_pipe(p);
    if (saved >= 0) {
        dup2(saved, 0);
        close(saved);
    }
    return r;
}

FL_TEST(test_mp_wait_rejects_bad_arguments)
{
    int p[2];
    make_pipe(p);
    pid_t pid = zombie(0);
    mp_waitable ok[] = {fd_obj(p[0])};
    mp_waitable neg_fd[] = {fd_obj(-1)};
    mp_waitable zero_pid[] = {pid_obj(0)};
    mp_waitable minus_pid[] = {pid_obj(-1)};
    mp_waitable bad_kind[] = {{.kind = 0, .fd = p[0], .pid = pid}};
    mp_waitable odd_kind[] = {{.kind = 99, .fd = p[0], .pid = pid}};
    mp_waitable ok_then_neg[] = {fd_obj(p[0]), fd_obj(-1)};
    mp_waitable ok_then_zero[] = {fd_obj(p[0]), pid_obj(pid), pid_obj(0)};
    int ready[3];
    struct {
        const char *what;
        int got;
    } c[] = {
        {"mp_wait(NULL, 1, 0, ready)", mp_wait(NULL, 1, 0, ready)},
        {"mp_wait(objs, 1, 0, NULL)", mp_wait(ok, 1, 0, NULL)},
        {"mp_wait(objs, 0, 0, ready)", mp_wait(ok, 0, 0, ready)},
        {"mp_wait(objs, -1, 0, ready)", mp_wait(ok, -1, 0, ready)},
        {"mp_wait(objs, 1, -2, ready)", mp_wait(ok, 1, -2, ready)},
        {"mp_wait on an fd of -1", mp_wait(neg_fd, 1, 0, ready)},
        {"mp_wait on a pid of 0", mp_wait(zero_pid, 1, 0, ready)},
        {"mp_wait on a pid of -1", mp_wait(minus_pid, 1, 0, ready)},
        {"mp_wait on an entry of kind 0", mp_wait(bad_kind, 1, 0, ready)},
        {"mp_wait on an entry of kind 99", mp_wait(odd_kind, 1, 0, ready)},
        {"mp_wait on a pipe, then an fd of -1 (objs[1])",
         mp_wait(ok_then_neg, 2, 0, ready)},
        {"mp_wait on a pipe, a child, then a pid of 0 (objs[2])",
         mp_wait(ok_then_zero, 3, 0, ready)},
    };
    reap_left(pid);
    close_pipe(p);
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        fl_expect_int(c[i].got, -EINVAL, c[i].what,
                      "check every argument and every entry (objs[i], not "
                      "only objs[0]) before waiting: poll skips a negative "
                      "fd, and waitpid reads 0 and -1 as groups of "
                      "processes");
    int r = wait_on_fd_0();
    fl_expect_int(r, 1, "mp_wait on fd 0, a pipe holding a byte",
                  "the limit is fd < 0: descriptor 0 (standard input, or "
                  "any pipe that got number 0) is a descriptor like any "
                  "other. Refuse fd < 0, not fd <= 0.");
    // Only the field an entry's kind names is read: -1 in the other one
    // (a caller's "none") is no reason to refuse it.
    int b[2];
    make_pipe(b);
    put_byte(b[1]);
    pid_t z = zombie(0);
    mp_waitable other[] = {{.kind = MP_WAIT_FD, .fd = b[0], .pid = -1},
                           {.kind = MP_WAIT_PROCESS, .fd = -1, .pid = z}};
    int both[2] = {7, 7};
    r = mp_wait(other, 2, 0, both);
    reap_left(z);
    close_pipe(b);
    fl_expect_int(r, 2,
                  "mp_wait on a pipe holding a byte, its entry's pid -1, "
                  "and a zombie, its entry's fd -1",
                  "check only the field an entry's kind names: fd for "
                  "MP_WAIT_FD, pid for MP_WAIT_PROCESS; the other one may "
                  "hold anything");
}

// A pipe holding a byte comes first, twice, then a zombie: their flags are
// set before the closed descriptor is met, and must all be cleared again
// when the call fails (each flag an int, not a byte), and the zombie's
// pidfd closed.  Then the closed descriptor behind an empty pipe.
FL_TEST(test_mp_wait_rejects_a_closed_descriptor)
{
    int q[2];
    make_pipe(q);
    put_byte(q[1]);
    // A number that names nothing, high enough that the pidfd, which takes
    // the lowest free number, cannot take it.
    int fd = fcntl(q[1], F_DUPFD_CLOEXEC, 100);
    ck_assert_msg(fd >= 100, "fcntl(F_DUPFD) failed: %s", strerror(errno));
    close(fd);
    pid_t pid = zombie(0);
    mp_waitable objs[] = {fd_obj(q[0]), fd_obj(q[0]), pid_obj(pid), fd_obj(fd)};
    int ready[4] = {7, 7, 7, 7};
    fl_snapshot s;
    fl_snapshot_take(&s);
    int r = mp_wait(objs, 4, 0, ready);
    char left[2048];
    int leaked = fl_snapshot_diff(&s, left, sizeof left);
    fl_snapshot_restore(&s);
    // The closed descriptor behind an empty pipe: no flag set before it,
    // so a check of the wrong entry's revents never meets the POLLNVAL.
    int e[2];
    make_pipe(e);
    mp_waitable after_empty[] = {fd_obj(e[0]), fd_obj(fd)};
    int ready2[2] = {7, 7};
    int r2 = mp_wait(after_empty, 2, 0, ready2);
    close_pipe(e);
    close_pipe(q);
    reap_left(pid);
    fl_expect_int(r, -EBADF,
                  "mp_wait on a pipe holding a byte, a zombie and a "
                  "descriptor that was closed",
                  "poll reports POLLNVAL for it: return -EBADF (Python "
                  "counts it ready, and the read then fails)");
    expect_flags(ready, (int[]){0, 0, 0, 0}, 4, "mp_wait that returned -EBADF",
                 "A call that fails leaves every flag 0 (wait.h): the "
                 "pipe's and the zombie's flags were set before the closed "
                 "descriptor was met; clear ready again on the way out of a "
                 "failure, all n flags: n * sizeof *ready bytes, not n.");
    ck_assert_msg(leaked == 0,
                  "mp_wait that returned -EBADF, after a POLLNVAL: %s", left);
    fl_expect_int(r2, -EBADF,
                  "mp_wait on an empty pipe, then a descriptor that was "
                  "closed",
                  "look for POLLNVAL in pfd[i].revents of every entry i, "
                  "whether or not the entries before it were ready");
    expect_flags(ready2, (int[]){0, 0}, 2,
                 "mp_wait(empty pipe, closed descriptor)", "");
}

// n = 63, 64 and 65: entries alternate between a pipe holding a byte and
// a zombie, all ready.
FL_TEST(test_mp_wait_takes_up_to_64_objects)
{
    int p[2];
    make_pipe(p);
    put_byte(p[1]);
    pid_t pid = zombie(0);
    mp_waitable objs[MP_WAIT_MAX + 1];
    int ready[MP_WAIT_MAX + 1];
    for (int i = 0; i < MP_WAIT_MAX + 1; i++)
        objs[i] = i % 2 ? pid_obj(pid) : fd_obj(p[0]);
    int got[3];
    for (int n = MP_WAIT_MAX - 1; n <= MP_WAIT_MAX + 1; n++) {
        for (int i = 0; i <= MP_WAIT_MAX; i++)
            ready[i] = 7;
        got[n - (MP_WAIT_MAX - 1)] = mp_wait(objs, n, 0, ready);
    }
    int last = ready[MP_WAIT_MAX];
    reap_left(pid);
    close_pipe(p);
    fl_expect_int(got[0], MP_WAIT_MAX - 1,
                  "mp_wait on 63 ready objects (pipes and zombies)", "");
    fl_expect_int(got[1], MP_WAIT_MAX,
                  "mp_wait on 64 ready objects, MP_WAIT_MAX",
                  "MP_WAIT_MAX objects are allowed: refuse only n > "
                  "MP_WAIT_MAX");
    fl_expect_int(got[2], -EINVAL, "mp_wait on 65 objects, MP_WAIT_MAX + 1",
                  "refuse n > MP_WAIT_MAX before filling an array of "
                  "MP_WAIT_MAX entries");
    fl_expect_int(last, 7, "ready[64] after mp_wait refused 65 objects",
                  "a call that refuses n writes nothing");
}

/* ---------------------------------------------- mp_wait under stress */

// The wait a storm interrupts, in a child of the test (so that a wait
// that never ends is killed); its result goes to shared memory.
struct storm_run {
    int fd; // an empty pipe
    int timeout_ms;
    long long early_us; // storm_rounds: the most a wait ended early
    fl_storm_result res;
};

static int
storm_wait(void *arg)
{
    struct storm_run *s = arg;
    mp_waitable objs[] = {fd_obj(s->fd)};
    int ready[1];
    return mp_wait(objs, 1, s->timeout_ms, ready);
}

static int
storm_in_child(void *arg)
{
    fl_clock_mono_just_past_a_second(); // a clock in whole s shows
    fl_storm_call(storm_wait, arg, 500, &((struct storm_run *)arg)->res);
    fl_fault_reset();
    return 0;
}

// Five waits of timeout_ms under one storm, each timed to the microsecond:
// how much the earliest ended before its timeout (<= 0 if none did).
// poll never wakes before its own timeout, so only a time left rounded
// down (0.4 ms left becomes poll(0)) ends one early; five rounds make
// sure a signal lands in some wait's last millisecond.
static int
storm_rounds(void *arg)
{
    struct storm_run *s = arg;
    mp_waitable objs[] = {fd_obj(s->fd)};
    int ready[1];
    s->early_us = -1000000;
    fl_storm_start(500);
    for (int i = 0; i < 5; i++) {
        long long t0 = fl_now_us();
        mp_wait(objs, 1, s->timeout_ms, ready);
        long long early = s->timeout_ms * 1000LL - (fl_now_us() - t0);
        if (early > s->early_us)
            s->early_us = early;
    }
    fl_storm_stop();
    return 0;
}

FL_TEST(test_mp_wait_keeps_its_deadline_when_signals_interrupt_it)
{
    int p[2];
    make_pipe(p);
    struct storm_run *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(s != MAP_FAILED);
    *s = (struct storm_run){.fd = p[0], .timeout_ms = 100};
    fl_child c;
    fl_run_in_child(storm_in_child, s, 2000, 0, &c);
    fl_storm_result res = s->res;
    long long early_us = 0;
    if (c.returned && res.ret == 0) { // else the checks below say why
        s->timeout_ms = 10;
        fl_child c2;
        fl_run_in_child(storm_rounds, s, 2000, 0, &c2);
        early_us = c2.returned ? s->early_us : 0;
    }
    // The same, exact, five times: the first poll fails with EINTR as
    // if 9 ms of a 10-ms wait had passed, so a little under 1 ms is left.
    // Rounded up, the next poll sleeps 1 ms, and the wait lasts at least
    // 1 ms of real time; rounded down, poll(0) returns at once.  Only a
    // wait descheduled for 1 ms in every round hides the mistake.
    long long least_us = LLONG_MAX;
    if (c.returned && res.ret == 0) {
        mp_waitable objs[] = {fd_obj(p[0])};
        int ready[1];
        for (int i = 0; i < 5; i++) {
            fl_fault_reset();
            fl_fault_eintr_late("poll", 1, 9);
            long long t0 = fl_now_us();
            mp_wait(objs, 1, 10, ready);
            long long took = fl_now_us() - t0;
            if (took < least_us)
                least_us = took;
        }
        fl_fault_reset();
    }
    munmap(s, sizeof *s);
    close_pipe(p);
    ck_assert_msg(!c.timed_out,
                  "mp_wait(empty pipe, 100 ms) with a signal every 0.5 ms "
                  "was still waiting after 2 s. Each EINTR started the "
                  "100 ms again: take the deadline once, before the first "
                  "poll, and poll again for the time LEFT.");
    ck_assert_msg(c.returned, "mp_wait under a storm of signals ended the "
                              "process");
    ck_assert_msg(res.ret == 0 && res.elapsed_ms >= 95 && res.elapsed_ms < 600,
                  "mp_wait(empty pipe, 100 ms) under a storm of %ld "
                  "signals returned %s after %ld ms; expected 0 after "
                  "about 100 ms. %s",
                  res.signals, fl_ret(res.ret), res.elapsed_ms,
                  res.ret == -EINTR ? "poll failed with EINTR because a "
                                      "signal handler ran: poll again."
                  : res.elapsed_ms < 95
                      ? "It gave up early: after EINTR, wait for the time "
                        "left until the deadline."
                      : "");
    ck_assert_msg(early_us <= 0,
                  "mp_wait(empty pipe, 10 ms) under a storm of signals "
                  "returned %lld us before its deadline. After EINTR, round "
                  "the time left UP to a whole ms: rounded down, 0.4 ms "
                  "left becomes poll(..., 0), which returns at once.",
                  early_us);
    ck_assert_msg(least_us >= 1000,
                  "mp_wait(empty pipe, 10 ms), its first poll interrupted by "
                  "a signal 9 ms in (under 1 ms left), returned after %lld "
                  "us of real time. After EINTR, round the time left UP to "
                  "a whole ms: rounded down, it becomes poll(..., 0), which "
                  "returns before the deadline.",
                  least_us);
}

// A long wait (for ever, or a timeout far beyond the hold), and the byte
// that ends it.
struct long_wait {
    int p[2];
    int timeout_ms;
};

static int
forever_wait(void *arg)
{
    struct long_wait *w = arg;
    mp_waitable objs[] = {fd_obj(w->p[0])};
    int ready[1];
    return mp_wait(objs, 1, w->timeout_ms, ready);
}

static void
forever_release(void *arg)
{
    put_byte(((struct long_wait *)arg)->p[1]);
}

FL_TEST(test_mp_wait_for_ever_stays_for_ever_under_signals)
{
    // -1 is for ever.  2148 ms is the first timeout whose nanoseconds
    // (and INT_MAX's) overflow an int: as good as for ever for 100 ms.
    static const int timeouts[] = {-1, 2148, INT_MAX};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        struct long_wait w = {.timeout_ms = timeouts[i]};
        make_pipe(w.p);
        fl_storm_result res;
        fl_storm_hold(forever_wait, forever_release, &w, 500, 100, &res);
        close_pipe(w.p);
        ck_assert_msg(
            !res.early && res.ret == 1,
            "mp_wait(empty pipe, %d) under a storm of %ld signals returned "
            "%s after %ld ms, %s; expected 1 once the test wrote a byte, "
            "100 ms in. %s",
            w.timeout_ms, res.signals, fl_ret(res.ret), res.elapsed_ms,
            res.early ? "before the byte came" : "after the byte",
            res.ret == -EINTR ? "poll failed with EINTR: poll again."
            : w.timeout_ms > 0 && (res.early || res.ret == 0)
                ? "A long timeout gave up at once: timeout_ms * 1000000 "
                  "overflowed an int. Multiply in 64 bits (1000000LL)."
            : res.early || res.ret == 0 // (for ever timed out)
                ? "-1 means for ever: after EINTR, poll again with -1, "
                  "not with a time left worked out from it."
                : "");
    }
}

// A SIGALRM whose handler outlasts a wait's deadline (fl_late_signal);
// the next writes a byte, so that a wait that went on waiting ends.
static int late_fd;

static void
late_rescue(void)
{
    if (write(late_fd, "x", 1) < 0)
        late_fd = -1;
}

FL_TEST(test_mp_wait_times_out_when_a_handler_outlasts_the_deadline)
{
    int p[2];
    make_pipe(p);
    late_fd = p[1];
    mp_waitable objs[] = {fd_obj(p[0])};
    int ready[1];
    fl_late_signal(20, 60, late_rescue, 300); // inside the wait
    long t0 = fl_now_ms();
    int r = mp_wait(objs, 1, 50, ready);
    long took = fl_now_ms() - t0;
    fl_late_signal_off();
    // The same, exact: the first poll fails with EINTR as if it had
    // blocked for 100 s (every later read of CLOCK_MONOTONIC is 100 s
    // on).  The deadline was taken before that poll, so it has passed: 0
    // at once.  One first taken after the EINTR (or taken again) waits
    // the whole 300 ms.
    fl_fault_reset();
    fl_fault_eintr_late("poll", 1, 100000);
    t0 = fl_now_ms();
    int r2 = mp_wait(objs, 1, 300, ready);
    long took2 = fl_now_ms() - t0;
    // And a signal 290 ms into a 300 ms wait: 10 ms are left.  A wait
    // that polls again with the whole 300 ms, even if it checks the
    // deadline after each EINTR, takes 300 ms more.
    fl_fault_reset();
    fl_fault_eintr_late("poll", 1, 290);
    t0 = fl_now_ms();
    int r3 = mp_wait(objs, 1, 300, ready);
    long took3 = fl_now_ms() - t0;
    fl_fault_reset();
    close_pipe(p);
    ck_assert_msg(r == 0,
                  "mp_wait(empty pipe, 50 ms), interrupted at 20 ms by a "
                  "signal whose handler ran for 60 ms: expected 0 (timed "
                  "out) once the handler returned, got %s after %ld ms. %s",
                  fl_ret(r), took,
                  r == 1 ? "It went on waiting until a byte came, 300 ms "
                           "later: when EINTR comes after the deadline, the "
                           "time left is negative, and poll takes a "
                           "negative timeout as no limit. Clamp it to 0."
                         : "");
    ck_assert_msg(r2 == 0 && took2 < 150,
                  "mp_wait(empty pipe, 300 ms), its first poll interrupted "
                  "by a signal whose handler ran past the deadline (the "
                  "monotonic clock 100 s on): expected 0 at once, got %s "
                  "after %ld ms. Take the deadline ONCE, before the first "
                  "poll: a deadline first taken (or taken again) after the "
                  "EINTR makes a signal late in the wait stretch it",
                  fl_ret(r2), took2);
    ck_assert_msg(r3 == 0 && took3 < 200,
                  "mp_wait(empty pipe, 300 ms), its first poll interrupted "
                  "by a signal 290 ms in (the monotonic clock 290 ms on): "
                  "expected 0 once the 10 ms left had passed, got %s after "
                  "%ld ms. After EINTR, poll again for the time LEFT until "
                  "the deadline, not for the whole timeout again: a signal "
                  "late in the wait must not stretch it",
                  fl_ret(r3), took3);
}

FL_TEST(test_mp_wait_retries_poll_after_eintr)
{
    int p[2];
    make_pipe(p);
    put_byte(p[1]);
    pid_t pid = zombie(0);
    mp_waitable objs[] = {fd_obj(p[0]), pid_obj(pid)};
    int got = 0, fired = 0;
    FL_FAULT_WALK ("poll", EINTR, k) {
        int ready[2] = {0, 0};
        got = mp_wait(objs, 2, -1, ready);
        fired = (int)fl_fault_fired("poll");
        if (got != 2)
            break;
    }
    fl_fault_reset();
    reap_left(pid);
    close_pipe(p);
    fl_expect_int(got, 2,
                  fired ? "mp_wait(a pipe with a byte, a zombie, -1) whose "
                          "poll failed once with EINTR"
                        : "mp_wait(a pipe with a byte, a zombie, -1)",
                  "EINTR only says a signal handler ran: poll again");
}

FL_TEST(test_mp_wait_keeps_its_deadline_when_the_wall_clock_jumps)
{
    int p[2];
    make_pipe(p);
    mp_waitable objs[] = {fd_obj(p[0])};
    int ready[1];
    fl_fault_reset();
    fl_fault_eintr("poll", 1); // a signal, so the time left is worked out
    fl_clock_jump_at(1, 3600); // an hour on, after the first reading
    long long t0 = fl_now_us();
    int r = mp_wait(objs, 1, 100, ready);
    double took = ms_since(t0);
    long reads = fl_clock_reads();
    fl_fault_reset();
    close_pipe(p);
    ck_assert_msg(
        r == 0 && took >= 95 &&
                took<600,
                     "mp_wait(empty pipe, 100 ms), its first poll interrupted "
                     "by a signal while the wall clock moved an hour on: "
                     "expected 0 after about 100 ms, got %s after %.0f ms. %s",
                     fl_ret(r), took, reads> 0
            ? "It measured its deadline on the wall clock "
              "(CLOCK_REALTIME, time, gettimeofday), which "
              "anyone may set: use CLOCK_MONOTONIC."
            : "");
}

// CPU time of this thread, in ms.
static double
cpu_ms(const struct rusage *u)
{
    return (u->ru_utime.tv_sec + u->ru_stime.tv_sec) * 1000.0 +
           (u->ru_utime.tv_usec + u->ru_stime.tv_usec) / 1000.0;
}

FL_TEST(test_mp_wait_sleeps_instead_of_polling_in_a_loop)
{
    int p[2];
    make_pipe(p);
    struct held h;
    held_start(&h, 0);
    mp_waitable objs[] = {fd_obj(p[0]), pid_obj(h.pid)};
    int ready[2];
    struct rusage a, b;
    getrusage(RUSAGE_THREAD, &a);
    int r = mp_wait(objs, 2, 150, ready);
    getrusage(RUSAGE_THREAD, &b);
    held_end(&h);
    close_pipe(p);
    long sleeps = b.ru_nvcsw - a.ru_nvcsw;
    double cpu = cpu_ms(&b) - cpu_ms(&a);
    fl_expect_int(r, 0, "mp_wait(empty pipe, running child, 150 ms)", "");
    ck_assert_msg(sleeps <= 10 && cpu < 50,
                  "mp_wait(empty pipe, running child, 150 ms) went to sleep "
                  "%ld times and used %.1f ms of CPU; one poll sleeps once "
                  "and uses almost none. Looking again and again (poll with "
                  "0, then a short sleep, like calling is_alive() in a "
                  "loop) wastes CPU and answers late: give poll the whole "
                  "time left, and let the kernel wake you.",
                  sleeps, cpu);
}

/* Another thread's mp_wait, made while the main thread sleeps in its own:
 * a look at a pipe that has data, then the held child let go. */
struct second_call {
    pid_t main_pid;
    int fd;         // the pipe with data, the second call's one entry
    struct held *h; // let go after the second call
    int r;          // what the second call returned
    int ready;      // and its flag
};

static void *
second_call_run(void *arg)
{
    struct second_call *c = arg;
    fl_proc_idles(c->main_pid, 20); // the main thread sleeps in its poll
    mp_waitable obj = fd_obj(c->fd);
    c->r = mp_wait(&obj, 1, 0, &c->ready);
    held_release(c->h);
    return NULL;
}

FL_TEST(test_mp_wait_calls_from_two_threads_keep_apart)
{
    fl_snapshot s;
    fl_snapshot_take(&s);
    int p[2];
    make_pipe(p);
    put_byte(p[1]);
    struct held h;
    held_start(&h, 0);
    struct second_call c = {.main_pid = getpid(), .fd = p[0], .h = &h};
    pthread_t t;
    int e = pthread_create(&t, NULL, second_call_run, &c);
    ck_assert_msg(e == 0, "pthread_create failed: %s", strerror(e));
    mp_waitable obj = pid_obj(h.pid);
    int ready = 7;
    int r = mp_wait(&obj, 1, 2500, &ready);
    pthread_join(t, NULL);
    int open = fcntl(p[0], F_GETFD) != -1;
    held_end(&h);
    if (open)
        close_pipe(p);
    else
        close(p[1]);
    char left[256] = "";
    int leaked = fl_snapshot_diff(&s, left, sizeof left);
    fl_snapshot_restore(&s);
    fl_expect_int(c.r, 1, "mp_wait(a pipe with data, 0) in a second thread",
                  "");
    fl_expect_int(r, 1,
                  "mp_wait(a running child, 2500) in the main thread, the "
                  "child let go after the second thread's call",
                  "");
    ck_assert_msg(open && !leaked,
                  "mp_wait(a running child, 2500) in one thread while "
                  "another thread's mp_wait(a pipe, 0) came and went: the "
                  "first call %s%s. A static table of pollfds is shared by "
                  "every thread: the second call wrote its pipe over the "
                  "first call's pidfd. Keep the table on the stack, one for "
                  "each call, as Python's connection.wait keeps its "
                  "selector.",
                  open ? ""
                       : "closed the second call's pipe (its caller's "
                         "descriptor) ",
                  leaked ? left : "");
}

FL_TEST(test_mp_wait_fails_cleanly_when_poll_fails)
{
    int p[2];
    make_pipe(p);
    pid_t a = zombie(0), b = zombie(0);
    mp_waitable objs[] = {pid_obj(a), fd_obj(p[0]), pid_obj(b)};
    FL_FAULT_WALK ("poll", ENOMEM, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        int ready[3] = {7, 7, 7}, none[3] = {0, 0, 0}, want[3] = {1, 0, 1};
        int r = mp_wait(objs, 3, 0, ready);
        if (fl_fault_fired("poll") > 0) {
            fl_expect_int(r, -ENOMEM, "mp_wait with poll failing (ENOMEM)",
                          "return -errno when poll fails with anything but "
                          "EINTR");
            expect_flags(ready, none, 3, "mp_wait with poll failing",
                         "a call that fails reports nothing ready");
        } else {
            fl_expect_int(r, 2, "mp_wait(zombie, empty pipe, zombie, 0)", "");
            expect_flags(ready, want, 3, "mp_wait(zombie, pipe, zombie)", "");
        }
        fl_expect_no_leak(&s, "mp_wait with poll failing (ENOMEM): close "
                              "every pidfd on the way out, the error's too");
    }
    // Another errno (EINVAL: more descriptors than RLIMIT_NOFILE allows)
    // is passed on as it came.
    fl_fault_reset();
    fl_fault_fail("poll", 1, EINVAL);
    int ready[3] = {7, 7, 7};
    int r = mp_wait(objs, 3, 0, ready);
    fl_fault_reset();
    fl_expect_int(r, -EINVAL, "mp_wait with poll failing with EINVAL",
                  "return minus the errno poll set, not always -ENOMEM");
    reap_left(a);
    reap_left(b);
    close_pipe(p);
}

// The lowest limit on descriptor numbers that leaves exactly nfree
// numbers free below it.
static rlim_t
limit_leaving(int nfree)
{
    int fd = 0;
    for (int left = nfree;; fd++) {
        int open_now = fcntl(fd, F_GETFD) >= 0;
        if (!open_now && left-- == 0)
            return (rlim_t)fd;
    }
}

FL_TEST(test_mp_wait_gives_emfile_when_no_descriptor_is_free)
{
    pid_t pid[3] = {zombie(0), zombie(0), zombie(0)};
    // The caller's pipe comes first: a cleanup that closes every pfd
    // before the one that failed would close it too.
    int p[2];
    make_pipe(p);
    mp_waitable objs[] = {fd_obj(p[0]), pid_obj(pid[0]), pid_obj(pid[1]),
                          pid_obj(pid[2])};
    for (int nfree = 0; nfree <= 3; nfree++) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        struct rlimit old, lim;
        getrlimit(RLIMIT_NOFILE, &old);
        lim = old;
        lim.rlim_cur = limit_leaving(nfree);
        setrlimit(RLIMIT_NOFILE, &lim);
        int ready[4] = {7, 7, 7, 7};
        int r = mp_wait(objs, 4, 0, ready);
        setrlimit(RLIMIT_NOFILE, &old);
        char what[96];
        snprintf(what, sizeof what,
                 "mp_wait on a pipe and 3 zombies with %d descriptor number%s "
                 "free",
                 nfree, nfree == 1 ? "" : "s");
        ck_assert_msg(fcntl(p[0], F_GETFD) >= 0,
                      "%s: the caller's pipe (objs[0], fd %d) was closed by "
                      "the call. On a failure close only the pidfds opened "
                      "before it (close_pidfds skips MP_WAIT_FD entries), "
                      "never the caller's descriptors",
                      what, p[0]);
        if (nfree < 3) {
            fl_expect_int(r, -EMFILE, what,
                          r >= 0 ? "pidfd_open failed with EMFILE and "
                                   "returned -1, which poll skips: check "
                                   "its result and return -errno."
                                 : "return pidfd_open's -errno");
            ck_assert_msg(!ready[0] && !ready[1] && !ready[2] && !ready[3],
                          "%s: ready = %s after -EMFILE; expected all 0", what,
                          flags(ready, 4));
        } else {
            fl_expect_int(r, 3, what, "");
        }
        char leak[160];
        snprintf(leak, sizeof leak,
                 "%s: when a pidfd_open fails, close the pidfds opened "
                 "before it",
                 what);
        fl_expect_no_leak(&s, leak);
    }
    // The other errors pidfd_open gives (the system's file table full,
    // no kernel memory), made by the harness on the second pidfd_open:
    // each is passed on as it came, not turned into -EMFILE.
    static const int errs[] = {ENFILE, ENOMEM};
    for (int e = 0; e < 2; e++) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        int ready[4] = {7, 7, 7, 7};
        fl_fault_reset();
        fl_fault_fail("syscall", 2, errs[e]);
        int r = mp_wait(objs, 4, 0, ready);
        fl_fault_reset();
        char what[96];
        snprintf(what, sizeof what,
                 "mp_wait on a pipe and 3 zombies, the second pidfd_open "
                 "failing with %s",
                 strerrorname_np(errs[e]));
        fl_expect_int(r, -errs[e], what,
                      "return minus the errno pidfd_open set: it is not "
                      "always EMFILE (ENFILE: the system's table is full, "
                      "ENOMEM: no kernel memory)");
        ck_assert_msg(!ready[0] && !ready[1] && !ready[2] && !ready[3],
                      "%s: ready = %s after the failure; expected all 0", what,
                      flags(ready, 4));
        fl_expect_no_leak(&s, what);
    }
    close_pipe(p);
    for (int i = 0; i < 3; i++)
        reap_left(pid[i]);
}

/* ---------------------------------------------------- mp_wait_any_exit */

// Three held children, exiting with 10, 11 and 12.
static void
three_held(struct held h[3], pid_t pids[3])
{
    for (int i = 0; i < 3; i++) {
        held_start(&h[i], 10 + i);
        pids[i] = h[i].pid;
    }
}

FL_TEST(test_mp_wait_any_exit_returns_the_index_of_the_child_that_ended)
{
    struct held h[3];
    pid_t pids[3];
    three_held(h, pids);
    held_release(&h[2]);
    fl_until_ended(pids[2]);
    int code = 12345;
    int r = mp_wait_any_exit(pids, 3, 2000, &code);
    for (int i = 0; i < 3; i++)
        held_end(&h[i]);
    fl_expect_int(r, 2,
                  "mp_wait_any_exit(3 children, 2000 ms) when the third "
                  "(index 2) had ended",
                  r == (int)pids[2] ? "return its index in pids, not its pid"
                  : r == 1 ? "return the index of the child reaped, not how "
                             "many mp_wait found ready"
                           : "return the index of the child reaped");
    fl_expect_int(code, 12, "its exit code", "");
}

FL_TEST(test_mp_wait_any_exit_joins_whichever_ends_first)
{
    struct held h[3];
    pid_t pids[3];
    three_held(h, pids);
    struct later l;
    later_start(&l, release_held, &h[1]); // the middle one ends first
    int code = 12345;
    long long t0 = fl_now_us();
    int r = mp_wait_any_exit(pids, 3, -1, &code);
    double took = ms_since(t0);
    later_join(&l);
    for (int i = 0; i < 3; i++)
        held_end(&h[i]);
    ck_assert_msg(r == 1 && took < 1500,
                  "mp_wait_any_exit(3 running children, -1): the one at "
                  "index 1 ended while it slept; it returned %s after %.0f "
                  "ms, expected 1 at once. %s",
                  fl_ret(r), took,
                  took >= 1500 ? "It waited for another child first: "
                                 "wait on all of them at once (mp_wait), "
                                 "not one after the other in list order."
                               : "");
    fl_expect_int(code, 11, "the exit code of the child at index 1", "");
}

FL_TEST(test_mp_wait_any_exit_reaps_that_child_and_no_other)
{
    pid_t other = zombie(9); // not in the list, ended before them all
    pid_t pids[3] = {0, zombie(21), zombie(22)};
    struct held h0;
    held_start(&h0, 20);
    pids[0] = h0.pid;
    int code = 12345;
    int r = mp_wait_any_exit(pids, 3, 1000, &code);
    int left1 = unreaped(pids[1]), left2 = unreaped(pids[2]);
    int left_other = unreaped(other);
    held_end(&h0);
    if (left1)
        reap(pids[1]);
    if (left2)
        reap(pids[2]);
    if (left_other)
        reap(other);
    ck_assert_msg(left_other,
                  "mp_wait_any_exit reaped a child that was not in its "
                  "list. waitpid(-1, ...) takes any child; someone else "
                  "may be waiting for that one. waitpid(pids[i], ...).");
    fl_expect_int(r, 1,
                  "mp_wait_any_exit(running, ended, ended): index 1 and 2 "
                  "had both ended",
                  "reap the lowest index of those ready");
    ck_assert_msg(!left1 && left2,
                  "after mp_wait_any_exit returned 1, the child at index "
                  "1 is %s and the one at index 2 %s; expected only index "
                  "1 reaped (the next call takes index 2)",
                  left1 ? "still there" : "reaped",
                  left2 ? "still there" : "reaped too");
    fl_expect_int(code, 21, "its exit code", "");
}

FL_TEST(test_mp_wait_any_exit_gives_exit_codes_as_python_does)
{
    static const struct {
        int how;  // exit status, or the signal when negative
        int want; // Python's exitcode
    } cases[] = {{0, 0}, {3, 3}, {-SIGTERM, -15}, {-SIGKILL, -9}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pid_t pid = cases[i].how >= 0 ? fl_raw_child(cases[i].how, 0)
                                      : fl_raw_child(0, -cases[i].how);
        fl_until_ended(pid);
        int code = 12345;
        int r = mp_wait_any_exit(&pid, 1, 1000, &code);
        reap_left(pid);
        char what[96];
        snprintf(what, sizeof what, "the exit code of a child that %s %d",
                 cases[i].how < 0 ? "was killed by signal" : "exited with",
                 cases[i].how < 0 ? -cases[i].how : cases[i].how);
        fl_expect_int(r, 0, "mp_wait_any_exit of one child that had ended", "");
        fl_expect_int(code, cases[i].want, what,
                      "Python's exitcode: WEXITSTATUS if WIFEXITED, minus "
                      "WTERMSIG if WIFSIGNALED (-15 after terminate(), -9 "
                      "after kill())");
    }
}

FL_TEST(test_mp_wait_any_exit_times_out_when_none_ends)
{
    struct held h;
    held_start(&h, 0);
    int code = 12345;
    long long t0 = fl_now_us();
    int r = mp_wait_any_exit(&h.pid, 1, 60, &code);
    double took = ms_since(t0);
    int r0 = mp_wait_any_exit(&h.pid, 1, 0, &code);
    int alive = fl_alive(h.pid);
    held_end(&h);
    ck_assert_msg(r == -ETIMEDOUT && took >= 55 && took < 600,
                  "mp_wait_any_exit(a running child, 60 ms) returned %s "
                  "after %.0f ms; expected -ETIMEDOUT after about 60 ms",
                  fl_ret(r), took);
    fl_expect_int(r0, -ETIMEDOUT, "mp_wait_any_exit(a running child, 0)",
                  "0 ready means nobody ended: -ETIMEDOUT");
    fl_expect_int(code, 12345, "*exitcode after the timeouts",
                  "set it only when a child was reaped");
    ck_assert_msg(alive, "the child was no longer running after the "
                         "timeouts: was it killed or reaped?");
}

FL_TEST(test_mp_wait_any_exit_takes_up_to_64_children)
{
    // 63 and 64 entries (the same zombie each time, in an array of just
    // that size, so that the sanitizer sees a read past its end).
    for (int n = MP_WAIT_MAX - 1; n <= MP_WAIT_MAX; n++) {
        pid_t pid = zombie(n);
        pid_t *pids = malloc((size_t)n * sizeof *pids);
        ck_assert(pids != NULL);
        for (int i = 0; i < n; i++)
            pids[i] = pid;
        int code = 12345;
        int r = mp_wait_any_exit(pids, n, 0, &code);
        free(pids);
        int still = unreaped(pid);
        if (still)
            reap(pid);
        char what[64];
        snprintf(what, sizeof what, "mp_wait_any_exit of %d children", n);
        fl_expect_int(r, 0, what,
                      "n may be anything from 1 to MP_WAIT_MAX, both "
                      "included: refuse only n > MP_WAIT_MAX. (Each entry "
                      "here is the same zombie: the lowest index, 0, is "
                      "the one reaped.)");
        fl_expect_int(code, n, what, "the exit code of the child reaped");
        ck_assert_msg(!still, "%s returned 0 but left the child unreaped",
                      what);
    }
}

FL_TEST(test_mp_wait_any_exit_rejects_bad_arguments)
{
    pid_t pid = zombie(0);
    pid_t many[MP_WAIT_MAX + 1];
    for (int i = 0; i <= MP_WAIT_MAX; i++)
        many[i] = pid;
    pid_t zero = 0, parent = getppid();
    int code = 12345;
    struct {
        const char *what;
        int got, want;
    } c[] = {
        {"mp_wait_any_exit(NULL, 1, 0, &code)",
         mp_wait_any_exit(NULL, 1, 0, &code), -EINVAL},
        {"mp_wait_any_exit(pids, 1, 0, NULL)",
         mp_wait_any_exit(&pid, 1, 0, NULL), -EINVAL},
        {"mp_wait_any_exit(pids, 0, 0, &code)",
         mp_wait_any_exit(&pid, 0, 0, &code), -EINVAL},
        {"mp_wait_any_exit(pids, 65, 0, &code)",
         mp_wait_any_exit(many, MP_WAIT_MAX + 1, 0, &code), -EINVAL},
        {"mp_wait_any_exit(pids, 1, -2, &code)",
         mp_wait_any_exit(&pid, 1, -2, &code), -EINVAL},
        {"mp_wait_any_exit of pid 0", mp_wait_any_exit(&zero, 1, 0, &code),
         -EINVAL},
        {"mp_wait_any_exit of the caller's parent",
         mp_wait_any_exit(&parent, 1, 0, &code), -ECHILD},
    };
    int still = unreaped(pid);
    if (still)
        reap(pid);
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        fl_expect_int(c[i].got, c[i].want, c[i].what,
                      "check the arguments before waiting or reaping");
    ck_assert_msg(still, "a call that was refused reaped the child");
}

FL_TEST(test_mp_wait_any_exit_retries_waitpid_after_eintr)
{
    FL_FAULT_WALK ("waitpid", EINTR, k) {
        pid_t pid = zombie(5);
        int code = 12345;
        int r = mp_wait_any_exit(&pid, 1, 1000, &code);
        long fired = fl_fault_fired("waitpid");
        int left = unreaped(pid);
        if (left)
            reap(pid);
        fl_expect_int(r, 0,
                      fired ? "mp_wait_any_exit with waitpid failing once "
                              "with EINTR"
                            : "mp_wait_any_exit of a child that had ended",
                      "EINTR only says a signal handler ran: call waitpid "
                      "again");
        fl_expect_int(code, 5, "its exit code", "");
        ck_assert_msg(!left, "mp_wait_any_exit returned 0 but left the "
                             "child unreaped: waitpid it");
    }
    // Any other failure is the caller's to see: ECHILD when, say, a
    // SIGCHLD handler reaped the child between the wait and the waitpid.
    pid_t pid = zombie(5);
    int code = 12345;
    fl_fault_reset();
    fl_fault_fail("waitpid", 1, ECHILD);
    int r = mp_wait_any_exit(&pid, 1, 1000, &code);
    fl_fault_reset();
    reap_left(pid);
    fl_expect_int(r, -ECHILD,
                  "mp_wait_any_exit with waitpid failing with ECHILD",
                  "a waitpid that fails for another reason than EINTR "
                  "ends the call: return -errno, negative");
    fl_expect_int(code, 12345, "*exitcode after waitpid failed",
                  "set it only when a child was reaped");
}

static const fl_case cases[] = {
    FL_CASE(test_mp_wait_reports_a_pipe_with_data_as_ready, 5),
    FL_CASE(test_mp_wait_counts_eof_as_ready, 5),
    FL_CASE(test_mp_wait_counts_a_pending_error_as_ready, 5),
    FL_CASE(test_mp_wait_times_out_when_nothing_is_ready, 5),
    FL_CASE(test_mp_wait_with_timeout_0_only_looks, 5),
    FL_CASE(test_mp_wait_clears_the_flags_of_objects_not_ready, 5),
    FL_CASE(test_mp_wait_reports_exactly_the_ready_ones_among_many, 5),
    FL_CASE(test_mp_wait_sees_a_child_that_has_already_ended, 5),
    FL_CASE(test_mp_wait_wakes_when_a_child_ends, 5),
    FL_CASE(test_mp_wait_leaves_the_child_for_waitpid, 5),
    FL_CASE(test_mp_wait_rejects_a_pid_that_is_not_a_child, 5),
    FL_CASE(test_mp_wait_rejects_bad_arguments, 5),
    FL_CASE(test_mp_wait_rejects_a_closed_descriptor, 5),
    FL_CASE(test_mp_wait_takes_up_to_64_objects, 5),
    FL_CASE(test_mp_wait_keeps_its_deadline_when_signals_interrupt_it, 5),
    FL_CASE(test_mp_wait_for_ever_stays_for_ever_under_signals, 5),
    FL_CASE(test_mp_wait_times_out_when_a_handler_outlasts_the_deadline, 5),
    FL_CASE(test_mp_wait_retries_poll_after_eintr, 5),
    FL_CASE(test_mp_wait_keeps_its_deadline_when_the_wall_clock_jumps, 5),
    FL_CASE(test_mp_wait_sleeps_instead_of_polling_in_a_loop, 5),
    FL_CASE(test_mp_wait_calls_from_two_threads_keep_apart, 5),
    FL_CASE(test_mp_wait_fails_cleanly_when_poll_fails, 5),
    FL_CASE(test_mp_wait_gives_emfile_when_no_descriptor_is_free, 5),
    FL_CASE(test_mp_wait_any_exit_returns_the_index_of_the_child_that_ended, 5),
    FL_CASE(test_mp_wait_any_exit_joins_whichever_ends_first, 5),
    FL_CASE(test_mp_wait_any_exit_reaps_that_child_and_no_other, 5),
    FL_CASE(test_mp_wait_any_exit_gives_exit_codes_as_python_does, 5),
    FL_CASE(test_mp_wait_any_exit_times_out_when_none_ends, 5),
    FL_CASE(test_mp_wait_any_exit_takes_up_to_64_children, 5),
    FL_CASE(test_mp_wait_any_exit_rejects_bad_arguments, 5),
    FL_CASE(test_mp_wait_any_exit_retries_waitpid_after_eintr, 5),
};

FL_MAIN("15_wait", cases)
