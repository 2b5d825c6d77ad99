// check_fork.c - tests for lesson 01: mp_fork_call, mp_exitcode, mp_waitpid.
//
// Tests of mp_fork_call reap with the raw waitpid, and tests of mp_waitpid
// start children with the raw fork, so that each function is judged alone.
#define _GNU_SOURCE
#include "fork.h"
#include "harness.h"
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

// What a failed raw waitpid means here.
static const char raw_wait_hint[] =
    "mp_fork_call must return the pid of a child of the caller";

static int
return_zero(void *arg)
{
    (void)arg;
    return 0;
}

// A raw child that lives for n ticks (at least n ms) and exits with code.
static pid_t
ticking_child(int n, int code)
{
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed: %s", strerror(errno));
    if (pid == 0) {
        char c;
        close(fl_ticks_write_fd()); // so that the clock's EOF can reach us
        for (int got = 0; got < n;) {
            ssize_t r = read(fl_ticks_fd(), &c, 1);
            if (r == 0)
                break; // the test is over and closed the clock
            got += r == 1;
        }
        _exit(code);
    }
    return pid;
}

/* -------------------------------------------------------- mp_fork_call */

// mp_fork_call, failing the test unless it gave a pid.
static pid_t
start(mp_target target, void *arg)
{
    pid_t pid = mp_fork_call(target, arg);
    ck_assert_msg(pid > 0,
                  "mp_fork_call returned %s, expected the child's pid (> 0) "
                  "in the parent. 0 is what fork() gives the child, which "
                  "must never return; a negative value is -errno.",
                  fl_ret(pid));
    return pid;
}

struct ids {
    pid_t self, parent;
};

static int
report_ids(void *arg)
{
    int fd = *(int *)arg;
    struct ids me = {getpid(), getppid()};
    return write(fd, &me, sizeof me) == (ssize_t)sizeof me ? 0 : 1;
}

// Run report_ids in a child through mp_fork_call; return what it saw.
static struct ids
child_ids(pid_t *pid)
{
    int p[2];
    ck_assert_msg(pipe(p) == 0, "pipe failed");
    *pid = start(report_ids, &p[1]);
    close(p[1]);
    struct ids seen = {0, 0};
    ssize_t n = read(p[0], &seen, sizeof seen);
    close(p[0]);
    fl_raw_wait(*pid, raw_wait_hint);
    ck_assert_msg(n == (ssize_t)sizeof seen,
                  "the child never ran its target (read %zd bytes): does "
                  "the child call target(arg)?",
                  n);
    return seen;
}

FL_TEST(test_mp_fork_call_returns_the_childs_pid)
{
    pid_t pid;
    struct ids seen = child_ids(&pid);
    ck_assert_msg(seen.self == pid,
                  "the child's getpid() is %d but mp_fork_call returned %d: "
                  "in the parent, return the value fork() gave it",
                  (int)seen.self, (int)pid);
}

FL_TEST(test_mp_fork_call_child_parent_is_the_caller)
{
    pid_t pid;
    struct ids seen = child_ids(&pid);
    ck_assert_msg(seen.parent == getpid(),
                  "the child's getppid() is %d, expected the caller's pid "
                  "%d: the child must be forked by the caller itself",
                  (int)seen.parent, (int)getpid());
}

static int counter = 1;

static int
write_counter(void *arg)
{
    (void)arg;
    counter = 42;
    return counter;
}

FL_TEST(test_mp_fork_call_child_writes_stay_in_the_child)
{
    pid_t pid = start(write_counter, NULL);
    int st = fl_raw_wait(pid, raw_wait_hint);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 42,
                  "the child should exit with its target's return value 42 "
                  "(raw status 0x%x): end the child with _exit(target(arg))",
                  st);
    fl_expect_int(counter, 1, "the parent's counter after the child set it",
                  "a forked child has its own copy of memory; did you use "
                  "vfork() or a thread instead of fork()?");
}

static int
exit_three(void *arg)
{
    (void)arg;
    return 3;
}

static int
return_value(void *arg)
{
    return *(int *)arg;
}

// What a child's exit status, got, says about how the target's value v
// reached _exit (want is v & 0xff).
static const char *
exit_value_hint(int v, int got)
{
    if (got == 255 && v > 255)
        return "The value was clamped to 255, yet only its low 8 bits "
               "survive by themselves: pass it to _exit as it is.";
    if (got == (v & 0x7f))
        return "Only its low 7 bits survived: an exit status goes up to "
               "255, and _exit keeps the low 8 bits by itself.";
    if (v < 0 && got == (-v & 0xff))
        return "The negative value was made positive: _exit(-1) exits "
               "with 255, as os._exit(-1) does. Pass it as it is.";
    return "The child must end with _exit(target(arg)), the value as it is: "
           "only its low 8 bits survive (os._exit(456) gives exit code "
           "200), neither clamped to 255 nor turned into 0 or 1.";
}

FL_TEST(test_mp_fork_call_child_exits_with_the_targets_value)
{
    // 456 & 0xff is 200 (456 & 0x7f is 72, 456 clamped 255); -1 is 255.
    static int values[] = {3, 456, -1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        int v = values[i];
        pid_t pid = start(return_value, &values[i]);
        int st = fl_raw_wait(pid, raw_wait_hint);
        ck_assert_msg(WIFEXITED(st), "the child was killed by %s",
                      fl_signame(WTERMSIG(st)));
        char what[80];
        snprintf(what, sizeof what,
                 "the child's exit status, its target having returned %d", v);
        fl_expect_int(WEXITSTATUS(st), v & 0xff, what,
                      exit_value_hint(v, WEXITSTATUS(st)));
    }
}

// Prints around a fork while stdout is a pipe, so fully buffered.
static int
print_child(void *arg)
{
    (void)arg;
    printf("child|");
    return 0;
}

static int
print_around_fork(void *arg)
{
    (void)arg;
    printf("before|");
    pid_t pid = mp_fork_call(print_child, NULL);
    if (pid > 0)
        fl_raw_wait(pid, raw_wait_hint);
    printf("parent|");
    return pid > 0 ? 0 : 1;
}

FL_TEST(test_mp_fork_call_prints_buffered_output_once)
{
    fl_child r;
    fl_run_in_child(print_around_fork, NULL, 3000, 1, &r);
    ck_assert_msg(r.returned && r.value == 0,
                  "mp_fork_call failed in a process whose stdout is a pipe");
    ck_assert_msg(fl_count_of(r.out, "before|") == 1,
                  "printf(\"before|\") ran once before the fork, yet the "
                  "output was \"%s\": stdio's buffer was copied into the "
                  "child and flushed twice. Call fflush(NULL) before fork().",
                  r.out);
}

FL_TEST(test_mp_fork_call_keeps_the_childs_output)
{
    fl_child r;
    fl_run_in_child(print_around_fork, NULL, 3000, 1, &r);
    ck_assert_msg(r.returned && r.value == 0,
                  "mp_fork_call failed in a process whose stdout is a pipe");
    ck_assert_msg(fl_count_of(r.out, "child|") == 1,
                  "the child printed \"child|\" once, but the output was "
                  "\"%s\": _exit() does not flush stdio, so the child must "
                  "fflush() what it printed before calling _exit().",
                  r.out);
}

static void
say_atexit(void)
{
    printf("atexit|");
}

static int
fork_with_atexit(void *arg)
{
    (void)arg;
    atexit(say_atexit);
    pid_t pid = mp_fork_call(return_zero, NULL);
    if (pid > 0)
        fl_raw_wait(pid, raw_wait_hint);
    fflush(NULL);
    return pid > 0 ? 0 : 1;
}

FL_TEST(test_mp_fork_call_child_skips_atexit_handlers)
{
    fl_child r;
    fl_run_in_child(fork_with_atexit, NULL, 3000, 1, &r);
    ck_assert_msg(r.returned && r.value == 0, "mp_fork_call failed");
    ck_assert_msg(fl_count_of(r.out, "atexit|") == 0,
                  "the parent's atexit handler ran in the child (output "
                  "\"%s\"): the child must end with _exit(), which skips "
                  "atexit handlers, not exit().",
                  r.out);
}

FL_TEST(test_mp_fork_call_returns_only_in_the_parent)
{
    pid_t pid = start(return_zero, NULL);
    int st = fl_raw_wait(pid, raw_wait_hint);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the child ended with raw status 0x%x instead of exiting "
                  "with its target's value 0: did the child return from "
                  "mp_fork_call and run the caller's code?",
                  st);
}

/* --------------------------------------------------------- mp_exitcode */

FL_TEST(test_mp_exitcode_decodes_normal_exits)
{
    static const int codes[] = {0, 3, 255};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        int st = fl_raw_wait(fl_raw_child(codes[i], 0), raw_wait_hint);
        int got = mp_exitcode(st);
        ck_assert_msg(got == codes[i],
                      "child exited with %d (raw status 0x%x) but "
                      "mp_exitcode gave %s: use WIFEXITED and WEXITSTATUS",
                      codes[i], st, fl_ret(got));
    }
}

FL_TEST(test_mp_exitcode_gives_minus_the_signal)
{
    static const int sigs[] = {SIGTERM, SIGKILL, SIGSEGV};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        int st = fl_raw_wait(fl_raw_child(0, sigs[i]), raw_wait_hint);
        int got = mp_exitcode(st);
        ck_assert_msg(got == -sigs[i],
                      "child killed by %s (raw status 0x%x): expected %d, "
                      "got %s. Python's exitcode is minus the signal: use "
                      "WIFSIGNALED and WTERMSIG",
                      fl_signame(sigs[i]), st, -sigs[i], fl_ret(got));
    }
}

/* ---------------------------------------------------------- mp_waitpid */

#define EINTR_HINT                                                             \
    "waitpid failed with EINTR because a signal handler ran (this test "       \
    "keeps a timer ticking): call it again"

// The likely mistake behind a wrong result: EINTR has one of its own.
static const char *
wait_hint(int got, const char *otherwise)
{
    return got == -EINTR ? EINTR_HINT : otherwise;
}

FL_TEST(test_mp_waitpid_returns_the_exit_code)
{
    int got = mp_waitpid(fl_raw_child(3, 0));
    fl_expect_int(got, 3, "mp_waitpid of a child that exited with 3",
                  "return mp_exitcode() of the status waitpid filled in");
    got = mp_waitpid(fl_raw_child(0, SIGKILL));
    fl_expect_int(got, -SIGKILL, "mp_waitpid of a child killed by SIGKILL",
                  "a signal gives minus its number");
}

FL_TEST(test_mp_waitpid_waits_until_the_child_ends)
{
    fl_ticks_start();
    pid_t pid = ticking_child(100, 5); // alive for at least 100 ms
    int got = mp_waitpid(pid);
    int alive = fl_alive(pid);
    fl_ticks_stop();
    ck_assert_msg(!alive && got == 5,
                  "mp_waitpid returned %s while the child was %s; expected "
                  "5 once it had ended. %s",
                  fl_ret(got), alive ? "still running" : "gone",
                  wait_hint(got, "waitpid without WNOHANG blocks until the "
                                 "child ends."));
    ck_assert_msg(!fl_zombie(pid), "the child is a zombie: it was not reaped");
}

FL_TEST(test_mp_waitpid_retries_when_a_signal_interrupts)
{
    fl_ticks_start(); // SIGALRM every ms while the child lives
    pid_t pid = ticking_child(50, 7);
    int got = mp_waitpid(pid);
    fl_ticks_stop();
    if (got != 7)
        fl_raw_wait(pid, raw_wait_hint);
    fl_expect_int(got, 7, "mp_waitpid while signals keep arriving",
                  wait_hint(got, ""));
}

FL_TEST(test_mp_waitpid_waits_for_that_child_only)
{
    fl_ticks_start();
    pid_t slow = ticking_child(100, 1);
    pid_t quick = fl_raw_child(2, 0);
    while (!fl_zombie(quick)) // until the quick one has ended, unreaped
        sched_yield();
    int got = mp_waitpid(slow);
    fl_ticks_stop();
    fl_expect_int(got, 1, "mp_waitpid(slow) while another child had ended",
                  wait_hint(got, "wait() reaps whichever child ends first; "
                                 "waitpid(pid, ...) waits for that child"));
    // Judged first: a wrong wait() has reaped it already.
    fl_raw_wait(quick, raw_wait_hint);
}

FL_TEST(test_mp_waitpid_rejects_a_non_child)
{
    int got = mp_waitpid(getppid());
    fl_expect_int(got, -ECHILD, "mp_waitpid of the caller's own parent",
                  "when waitpid fails, return -errno (here -ECHILD)");
    // 1 is a real pid (init), and never a child of ours.
    got = mp_waitpid(1);
    fl_expect_int(got, -ECHILD, "mp_waitpid(1), init: not the caller's child",
                  "only pids <= 0 are invalid (they mean any child); pid 1 "
                  "is a process like any other: let waitpid say ECHILD");
    // errno still says ECHILD: a wait that succeeds must not look at it.
    got = mp_waitpid(fl_raw_child(3, 0));
    fl_expect_int(got, 3,
                  "mp_waitpid of a child that exited with 3, right after a "
                  "wait that failed with ECHILD",
                  "errno is only meaningful when waitpid returned -1: it "
                  "keeps the last failure's value after a success. Test "
                  "what waitpid returned, then errno.");
}

FL_TEST(test_mp_waitpid_rejects_pids_that_mean_any_child)
{
    pid_t child = fl_raw_child(4, 0);
    while (!fl_zombie(child)) // it has ended: a wrong wait would reap it
        sched_yield();
    int any = mp_waitpid(-1), group = mp_waitpid(0);
    // Below -1, -pgid: any child in process group pgid, the child's here.
    int pgid = (int)getpgrp();
    int named = mp_waitpid(-pgid);
    int reaped = !fl_zombie(child);
    if (!reaped)
        fl_raw_wait(child, raw_wait_hint);
    ck_assert_msg(any == -EINVAL && group == -EINVAL && named == -EINVAL &&
                      !reaped,
                  "mp_waitpid(-1) gave %s, mp_waitpid(0) gave %s and "
                  "mp_waitpid(-%d) gave %s, expected -EINVAL for all "
                  "three%s. To waitpid(), -1 means any child, 0 any child "
                  "in the caller's group and -pgid any child in group "
                  "pgid: check pid > 0, not only 0 and -1.",
                  fl_ret(any), fl_ret(group), pgid, fl_ret(named),
                  reaped ? ", and another child was reaped" : "");
}

FL_TEST(test_mp_fork_call_rejects_a_null_target)
{
    pid_t pid = mp_fork_call(NULL, NULL);
    if (pid > 0)
        fl_raw_wait(pid, raw_wait_hint);
    fl_expect_int(pid, -EINVAL, "mp_fork_call(NULL, NULL)",
                  "check the target before forking: a child that calls a "
                  "NULL function dies of SIGSEGV");
    int x = 0; // the target alone decides: arg may be anything
    pid = mp_fork_call(NULL, &x);
    if (pid > 0)
        fl_raw_wait(pid, raw_wait_hint);
    fl_expect_int(pid, -EINVAL, "mp_fork_call(NULL, &x), a NULL target",
                  "a NULL target is refused whatever arg is: test target "
                  "alone, not target and arg together");
}

FL_TEST(test_mp_exitcode_rejects_a_stopped_status)
{
    pid_t pid = fl_raw_child(0, SIGSTOP);
    int st;
    while (waitpid(pid, &st, WUNTRACED) < 0 && errno == EINTR)
        ;
    kill(pid, SIGKILL);
    fl_raw_wait(pid, raw_wait_hint);
    int got = mp_exitcode(st);
    fl_expect_int(got, -EINVAL, "mp_exitcode of a stopped child's status",
                  "a stopped child has neither exited nor been killed: "
                  "when neither WIFEXITED nor WIFSIGNALED holds, return "
                  "-EINVAL");
}

/* ------------------------------------------------------- under stress */

// A stream of our own on a pipe: fully buffered, as a file or a pipe is,
// and not stdout, so that fflush(stdout) does not reach it.
static FILE *stream;

// Open stream on a new pipe; *rd receives the reading end.
static void
stream_open(int *rd)
{
    int p[2];
    ck_assert_msg(pipe(p) == 0, "pipe failed: %s", strerror(errno));
    stream = fdopen(p[1], "w");
    ck_assert_msg(stream != NULL, "fdopen failed: %s", strerror(errno));
    *rd = p[0];
}

// Close stream (writing what it holds) and read the pipe until EOF.
static void
stream_drain(int rd, char *buf, size_t size)
{
    fclose(stream);
    stream = NULL;
    fl_read_text(rd, buf, size);
    close(rd);
}

static int
print_to_stream(void *arg)
{
    (void)arg;
    fputs("child|", stream);
    return 0;
}

FL_TEST(test_mp_fork_call_flushes_every_stream_before_fork)
{
    int rd;
    char out[64];
    stream_open(&rd);
    fputs("before|", stream); // buffered in this process, not written
    pid_t pid = start(return_zero, NULL);
    fl_raw_wait(pid, raw_wait_hint);
    stream_drain(rd, out, sizeof out);
    ck_assert_msg(fl_count_of(out, "before|") == 1,
                  "\"before|\" was put once in a stream of the caller (a "
                  "pipe opened with fdopen, not stdout) before the fork, "
                  "yet the pipe got \"%s\": the child flushed its copy of "
                  "the buffer too. fflush(stdout) flushes stdout only; "
                  "fflush(NULL) flushes every stream.",
                  out);
}

FL_TEST(test_mp_fork_call_child_flushes_every_stream)
{
    int rd;
    char out[64];
    stream_open(&rd);
    pid_t pid = start(print_to_stream, NULL);
    fl_raw_wait(pid, raw_wait_hint);
    stream_drain(rd, out, sizeof out);
    ck_assert_msg(fl_count_of(out, "child|") == 1,
                  "the child's target put \"child|\" in a stream of its "
                  "own (a pipe opened with fdopen, not stdout), yet the "
                  "pipe got \"%s\": _exit() throws away what stdio holds. "
                  "The child must fflush(NULL), not only fflush(stdout), "
                  "before _exit().",
                  out);
}

// mp_fork_call with fork() failing with err, in a child whose output is
// captured: its value is what mp_fork_call returned.
static int
fork_failing(void *arg)
{
    fl_fault_reset();
    fl_fault_fail("fork", 1, *(int *)arg);
    pid_t pid = mp_fork_call(return_zero, NULL);
    fflush(NULL);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return (int)pid;
}

FL_TEST(test_mp_fork_call_reports_a_failed_fork_as_minus_errno)
{
    static int errs[] = {EAGAIN, ENOMEM};
    for (int i = 0; i < 2; i++) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        fl_fault_reset();
        fl_fault_fail("fork", 1, errs[i]);
        pid_t pid = mp_fork_call(return_zero, NULL);
        int fired = fl_fault_fired("fork") > 0;
        fl_fault_reset();
        char what[96];
        snprintf(what, sizeof what, "mp_fork_call with fork() failing with %s",
                 strerrorname_np(errs[i]));
        ck_assert_msg(fired, "%s: mp_fork_call never called fork()", what);
        fl_expect_int(pid, -errs[i], what,
                      "fork() returns -1 and sets errno: return -errno, "
                      "the reason the caller needs (not -1, which reads as "
                      "-EPERM, nor always -EAGAIN)");
        fl_expect_no_leak(&s, what);
        fl_child r;
        fl_run_in_child(fork_failing, &errs[i], 3000, 1, &r);
        ck_assert_msg(r.returned && r.value == -errs[i] && r.out_len == 0,
                      "%s printed \"%s\": a lesson function reports an "
                      "error by its return value only, and never prints "
                      "(no perror)",
                      what, r.out);
    }
}

// In a child: with a stream whose buffer cannot be written (a pipe with
// no reader, SIGPIPE ignored), so that fflush(NULL) fails with EPIPE,
// mp_fork_call must still start a child.  Its exit code, or 100 + what
// went wrong.
static int
fork_with_a_failing_stream(void *arg)
{
    (void)arg;
    int p[2];
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || pipe(p) != 0)
        return 101;
    close(p[0]);
    FILE *f = fdopen(p[1], "w");
    if (f == NULL || fputs("lost|", f) == EOF)
        return 102;
    pid_t pid = mp_fork_call(exit_three, NULL);
    if (pid <= 0)
        return pid == 0 ? 103 : -pid;
    int st = fl_raw_wait(pid, raw_wait_hint);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 104;
}

FL_TEST(test_mp_fork_call_forks_even_when_a_stream_cannot_be_flushed)
{
    fl_child r;
    fl_run_in_child(fork_with_a_failing_stream, NULL, 3000, 1, &r);
    ck_assert_msg(r.returned && r.value < 100,
                  "the test could not set up a stream that fails (%d)",
                  r.value);
    ck_assert_msg(r.value == 3,
                  "with a stream that cannot be flushed (a pipe nobody "
                  "reads: fflush(NULL) fails with EPIPE), mp_fork_call "
                  "gave %s instead of starting a child that exits with "
                  "3. The flush before fork() only keeps buffers from "
                  "being copied: a stream that fails to flush is the "
                  "stream's problem, not a reason to refuse the fork. Do "
                  "not return what fflush says.",
                  r.value == 0 ? "0" : fl_ret(-r.value));
}

// Stop, then, once continued, wait to be killed: a child that exited
// right after SIGCONT could be reaped by the WCONTINUED wait, which then
// reports the exit instead (seen once in 16 gradings under load).
static int
stop_then_wait(void *arg)
{
    (void)arg;
    raise(SIGSTOP);
    pause(); // until the test's SIGKILL
    return 0;
}

FL_TEST(test_mp_exitcode_rejects_a_continued_status)
{
    pid_t pid = fl_raw_start(stop_then_wait, NULL);
    int st;
    while (waitpid(pid, &st, WUNTRACED) < 0 && errno == EINTR)
        ;
    kill(pid, SIGCONT);
    while (waitpid(pid, &st, WCONTINUED) < 0 && errno == EINTR)
        ;
    kill(pid, SIGKILL);
    int end;
    while (waitpid(pid, &end, 0) < 0 && errno == EINTR)
        ;
    ck_assert_msg(WIFCONTINUED(st), "the test's child was not continued");
    int got = mp_exitcode(st);
    fl_expect_int(got, -EINVAL,
                  "mp_exitcode of a continued child's status (0xffff)",
                  "a continued child has neither exited nor been killed: "
                  "test WIFEXITED, then WIFSIGNALED, and return -EINVAL "
                  "for anything else (rejecting WIFSTOPPED alone and taking "
                  "the rest as a signal misreads it)");
}

FL_TEST(test_mp_exitcode_ignores_the_core_dump_flag)
{
    // The kernel sets WCOREFLAG (0x80) in a signal's status when it wrote
    // a core file; the sandbox writes none, so the flag is added to the
    // status of a real death by each signal.
    static const int sigs[] = {SIGSEGV, SIGABRT, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        int st = fl_raw_wait(fl_raw_child(0, sigs[i]), raw_wait_hint);
        st |= WCOREFLAG;
        ck_assert_msg(WIFSIGNALED(st) && WCOREDUMP(st),
                      "the test's status 0x%x is no core dump", st);
        int got = mp_exitcode(st);
        ck_assert_msg(got == -sigs[i],
                      "a child killed by %s that dumped core (raw status "
                      "0x%x, WCOREDUMP set): expected %d, got %s. The low 7 "
                      "bits are the signal and bit 0x80 says a core file "
                      "was written: use WTERMSIG, not status & 0xff.",
                      fl_signame(sigs[i]), st, -sigs[i], fl_ret(got));
    }
}

// What a watcher child sees of the test process (its parent): 1 once it
// has slept for 20 ms on end, as a process blocked in a wait does, 0 if
// it spins instead (fl_proc_idles: at once when it has burnt 300 ms of
// CPU, else within 3 s).
static int
parent_sleeps(void)
{
    return fl_proc_idles(getppid(), 20);
}

// Stop, then, once continued, wait for EOF on the pipe *arg and exit 6.
static int
stop_then_exit_6(void *arg)
{
    int *p = arg;
    char c;
    close(p[1]);
    raise(SIGSTOP);
    while (read(p[0], &c, 1) < 0 && errno == EINTR)
        ;
    return 6;
}

struct stopped {
    pid_t pid; // the stopped child
    int p[2];  // its pipe: the watcher holds the only write end
};

// Continue the stopped child once the test sleeps in its wait, and let it
// exit (EOF on its pipe) once the test sleeps again: a WCONTINUED wait
// then has had time to return, and cannot take the exit for the answer.
static int
continue_when_parent_waits(void *arg)
{
    struct stopped *s = arg;
    close(s->p[0]);
    parent_sleeps();
    int r = kill(s->pid, SIGCONT);
    parent_sleeps();
    return r == 0 ? 0 : 1;
}

FL_TEST(test_mp_waitpid_keeps_waiting_while_the_child_is_stopped)
{
    struct stopped s;
    ck_assert_msg(pipe(s.p) == 0, "pipe failed: %s", strerror(errno));
    s.pid = fl_raw_start(stop_then_exit_6, s.p);
    pid_t pid = s.pid;
    while (fl_proc_state(pid) != 'T') // stopped, not ended
        sched_yield();
    pid_t watcher = fl_raw_start(continue_when_parent_waits, &s);
    close(s.p[0]);
    close(s.p[1]);
    int got = mp_waitpid(pid);
    if (got != 6) {
        kill(pid, SIGKILL);
        fl_reap(pid);
    }
    fl_reap(watcher);
    fl_expect_int(got, 6,
                  "mp_waitpid of a child that was stopped (SIGSTOP), then "
                  "continued, then exited with 6",
                  "A stopped child has not ended: wait with options 0. "
                  "WUNTRACED returns when the child stops and WCONTINUED "
                  "when it is continued, both before it has ended.");
}

// A child that exits with the byte it reads from the pipe *arg.
static int
exit_with_byte(void *arg)
{
    int *p = arg;
    unsigned char c = 2;
    close(p[1]);
    (void)!read(p[0], &c, 1);
    return c;
}

// Where pid sleeps, from its wait channel (/proc/PID/wchan), the kernel
// function it sleeps in: 2 in a timer, hrtimer_nanosleep or do_nanosleep
// (sleep, usleep, nanosleep), where no wait for a child sleeps; 1 in
// poll, select or epoll, with or without a timeout (a blocking poll of a
// pidfd waits there too); 0 elsewhere (waitpid sleeps in do_wait), or
// when the kernel shows no channel ("0"): then timing must do.
static int
where_it_sleeps(pid_t pid)
{
    char path[64], wchan[128] = "";
    snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, wchan, sizeof wchan - 1);
    close(fd);
    wchan[n > 0 ? n : 0] = '\0';
    return strstr(wchan, "nanosleep") != NULL ? 2
           : strstr(wchan, "poll") != NULL || strstr(wchan, "select") != NULL
               ? 1
               : 0;
}

struct watched {
    int p[2];  // the child's pipe: the watcher holds the only write end
    pid_t pid; // the child, which exits with the byte it reads
};

// Watch the test wait for the child on *arg.  Once the test has slept in
// its wait (parent_sleeps), check for 110 ms that nothing wakes it and
// that it does not sleep in a timer (1100 ms if it sleeps in poll or
// select, which may have a timeout), let the child exit with 0, and time
// until it is reaped.  The child exits with 1 if the test never slept; the
// watcher exits with 0, or 2 if the test woke up while the child lived, 3
// if it took over 500 ms to reap it, 4 if it slept in a timer.
static int
watch_parent_wait(void *arg)
{
    struct watched *w = arg;
    unsigned char c = 1;
    close(w->p[0]);
    if (!parent_sleeps())
        return write(w->p[1], &c, 1) == 1 ? 0 : 1;
    long slept = fl_proc_sleeps(getppid());
    // A sleep of 100 ms between waitpid(WNOHANG)s wakes it within 110 ms;
    // a longer one is seen in its timer (where the kernel names it), and
    // a poll() with a timeout of up to a second wakes it within 1100 ms.
    int timer = 0, polls = 0, woke = 0;
    for (long t0 = fl_now_ms();
         !woke && fl_now_ms() - t0 < (polls ? 1100 : 110);) {
        int where = where_it_sleeps(getppid());
        timer |= where == 2;
        polls |= where == 1;
        poll(NULL, 0, 2);
        woke = fl_proc_sleeps(getppid()) != slept;
    }
    c = 0;
    if (write(w->p[1], &c, 1) != 1)
        return 1;
    long t0 = fl_now_ms(); // then look every 2 ms, leaving the CPU to it
    while (fl_proc_state(w->pid) != 0 && fl_now_ms() - t0 < 500)
        poll(NULL, 0, 2);
    return timer ? 4 : woke ? 2 : fl_proc_state(w->pid) != 0 ? 3 : 0;
}

FL_TEST(test_mp_waitpid_sleeps_while_it_waits)
{
    struct watched w;
    ck_assert_msg(pipe(w.p) == 0, "pipe failed: %s", strerror(errno));
    w.pid = fl_raw_start(exit_with_byte, w.p);
    pid_t watcher = fl_raw_start(watch_parent_wait, &w);
    close(w.p[0]);
    close(w.p[1]);
    int got = mp_waitpid(w.pid);
    int seen = fl_reap_code(watcher);
    ck_assert_msg(got == 0, "mp_waitpid gave %s; expected 0. %s", fl_ret(got),
                  got == 1 ? "The caller never slept while it waited: it "
                             "kept the CPU busy, as a loop around "
                             "waitpid(WNOHANG) does. waitpid(pid, &status, "
                             "0) sleeps until the child ends."
                           : "waitpid(pid, &status, 0) until the child ends.");
    ck_assert_msg(seen == 0,
                  "%s: a loop of waitpid(WNOHANG) and a sleep polls, and "
                  "returns up to a whole sleep late. waitpid(pid, &status, "
                  "0) sleeps until the child ends, and returns at once then.",
                  seen == 4   ? "mp_waitpid slept in a timer (sleep, "
                                "usleep or nanosleep) while the child was "
                                "alive, not in waitpid"
                  : seen == 2 ? "mp_waitpid woke up while the child was alive "
                                "and nothing happened"
                  : seen == 3 ? "the child had ended for 500 ms, yet "
                                "mp_waitpid had not reaped it"
                              : "the test's watcher failed");
}

static const fl_case cases[] = {
    FL_CASE(test_mp_fork_call_returns_the_childs_pid, 5),
    FL_CASE(test_mp_fork_call_child_parent_is_the_caller, 5),
    FL_CASE(test_mp_fork_call_child_writes_stay_in_the_child, 5),
    FL_CASE(test_mp_fork_call_child_exits_with_the_targets_value, 5),
    FL_CASE(test_mp_fork_call_prints_buffered_output_once, 5),
    FL_CASE(test_mp_fork_call_keeps_the_childs_output, 5),
    FL_CASE(test_mp_fork_call_child_skips_atexit_handlers, 5),
    FL_CASE(test_mp_fork_call_returns_only_in_the_parent, 5),
    FL_CASE(test_mp_exitcode_decodes_normal_exits, 5),
    FL_CASE(test_mp_exitcode_gives_minus_the_signal, 5),
    FL_CASE(test_mp_waitpid_returns_the_exit_code, 5),
    FL_CASE(test_mp_waitpid_waits_until_the_child_ends, 5),
    FL_CASE(test_mp_waitpid_retries_when_a_signal_interrupts, 5),
    FL_CASE(test_mp_waitpid_waits_for_that_child_only, 5),
    FL_CASE(test_mp_waitpid_rejects_a_non_child, 5),
    FL_CASE(test_mp_waitpid_rejects_pids_that_mean_any_child, 5),
    FL_CASE(test_mp_fork_call_rejects_a_null_target, 5),
    FL_CASE(test_mp_exitcode_rejects_a_stopped_status, 5),
    FL_CASE(test_mp_fork_call_flushes_every_stream_before_fork, 5),
    FL_CASE(test_mp_fork_call_child_flushes_every_stream, 5),
    FL_CASE(test_mp_fork_call_reports_a_failed_fork_as_minus_errno, 5),
    FL_CASE(test_mp_exitcode_rejects_a_continued_status, 5),
    FL_CASE(test_mp_exitcode_ignores_the_core_dump_flag, 5),
    FL_CASE(test_mp_waitpid_keeps_waiting_while_the_child_is_stopped, 10),
    FL_CASE(test_mp_waitpid_sleeps_while_it_waits, 10),
    FL_CASE(test_mp_fork_call_forks_even_when_a_stream_cannot_be_flushed, 5),
};

FL_MAIN("01_fork", cases)
