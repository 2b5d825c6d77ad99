// check_errors.c - tests for lesson 12: errors, SIGCHLD, SIGINT/SIGTERM.
//
// Each function is judged alone where it can be: mp_run_worker's record
// is read raw from the pipe; mp_collect meets raw children that write raw
// records, crash or flood the pipe; the SIGCHLD handler is judged by /proc
// (is the child still a zombie?).  Signal tests are made deterministic:
// SIGCHLD is blocked while children end, so that one signal stands for
// all of them, and is unblocked at a chosen line; SIGTERM is sent only
// once the child has said it is ready.  Check's own SIGINT and SIGTERM
// handlers are inherited by forked children, so every test that sends
// those signals first sets them back to the default action.
#define _GNU_SOURCE
#include "errors.h"
#include "harness.h"
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEED_MSG "An error occurred in worker"

/* ------------------------------------------------------------- helpers */

static void
nap_ms(int ms)
{
    poll(NULL, 0, ms); // a poll of /proc state between looks, never a sync
}

// How a raw status ended, in words, for a message.
static const char *
ended(int st)
{
    static char buf[2][96];
    static int next;
    char *b = buf[next++ % 2];
    if (st == -1)
        snprintf(b, sizeof buf[0], "could not be waited for");
    else if (WIFEXITED(st))
        snprintf(b, sizeof buf[0], "exited with status %d", WEXITSTATUS(st));
    else
        snprintf(b, sizeof buf[0], "was killed by %s",
                 fl_signame(WTERMSIG(st)));
    return b;
}

static const char *
code_str(int code)
{
    static char buf[4][32];
    static int next;
    char *b = buf[next++ % 4];
    if (code == MP_EXITCODE_NONE)
        snprintf(b, sizeof buf[0], "MP_EXITCODE_NONE");
    else
        snprintf(b, sizeof buf[0], "%d", code);
    return b;
}

// Whether pid is asleep reading a pipe: state S, and a wait channel that
// names the pipe code (pipe_read, anon_pipe_read, pipe_wait) when the
// kernel shows one.
static int
asleep_in_pipe_read(pid_t pid)
{
    if (fl_proc_state(pid) != 'S')
        return 0;
    char path[64], wchan[128] = "";
    snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1; // no wait channel to read: the state must do
    ssize_t n = read(fd, wchan, sizeof wchan - 1);
    close(fd);
    wchan[n > 0 ? n : 0] = '\0';
    return n <= 0 || strcmp(wchan, "0") == 0 || strstr(wchan, "pipe_");
}

// Poll /proc until pid is a zombie (ended, not reaped); 1 if it became one
// within ms.
static int
until_zombie(pid_t pid, int ms)
{
    long end = fl_now_ms() + ms;
    while (!fl_zombie(pid)) {
        if (fl_now_ms() > end)
            return 0;
        nap_ms(1);
    }
    return 1;
}

// Poll /proc until every one of n pids is a zombie; how many became one
// within ms.
static int
until_zombies(const pid_t *pids, int n, int ms)
{
    long end = fl_now_ms() + ms;
    int z = 0;
    for (int i = 0; i < n; i++) {
        while (!fl_zombie(pids[i]) && fl_now_ms() <= end)
            nap_ms(1);
        z += fl_zombie(pids[i]);
    }
    return z;
}

// Whether pid is gone: ended AND reaped.
static int
gone(pid_t pid)
{
    return !fl_alive(pid) && !fl_zombie(pid);
}

// Poll /proc until pid is gone; 1 if it went within ms.
static int
until_gone(pid_t pid, int ms)
{
    long end = fl_now_ms() + ms;
    while (!gone(pid)) {
        if (fl_now_ms() > end)
            return 0;
        nap_ms(1);
    }
    return 1;
}

// Wait up to ms for pid to end, then reap it (killing it first if it is
// still running).  Returns 1 if it ended in time, 0 if it had to be killed.
static int
wait_bounded(pid_t pid, int ms, int *st)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    int ready = 0;
    if (fd >= 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long end = fl_now_ms() + ms;
        int n;
        while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
            ms = end > fl_now_ms() ? (int)(end - fl_now_ms()) : 0;
        ready = n == 1;
        close(fd);
    }
    if (!ready)
        kill(pid, SIGKILL);
    *st = fl_reap(pid);
    return ready;
}

// A record in the format errors.h describes, built by the test; its size.
static size_t
make_record(unsigned char *rec, uint32_t len, int index, const char *msg)
{
    fl_put_be32(rec, len);
    fl_put_be32(rec + 4, (uint32_t)index);
    size_t n = strlen(msg);
    memcpy(rec + MP_ERR_HEADER, msg, n);
    return MP_ERR_HEADER + n;
}

static void
pipe_or_fail(int fds[2])
{
    ck_assert_msg(pipe(fds) == 0, "pipe failed: %s", strerror(errno));
}

// The gate the children of a test wait at; how long they wait at most.
static fl_gate gate;
#define GATE_LIMIT_MS 4000

// A child that waits at the gate, then exits with *arg.
static int
wait_at_gate(void *arg)
{
    fl_gate_wait(&gate);
    return arg != NULL ? *(int *)arg : 0;
}

static int
return_code(void *arg)
{
    return *(int *)arg;
}

// Put SIGINT and SIGTERM back to their default actions: Check's handlers,
// inherited by every child, would signal the whole test instead.
static void
default_stop_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

// Block SIGCHLD; the old mask goes into old.
static void
block_sigchld(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, old);
}

// Whether SIGCHLD is blocked now.
static int
sigchld_blocked(void)
{
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, SIGCHLD);
}

static void
install_or_fail(void)
{
    int r = mp_reaper_install();
    ck_assert_msg(r == 0, "mp_reaper_install returned %s, expected 0",
                  fl_ret(r));
}

/* ----------------------------------------------------- mp_run_worker */

// A task that fails with "ARG INDEX." when arg is given, else succeeds.
static int
fail_with(int index, void *arg, char *msg, size_t cap)
{
    if (arg == NULL)
        return 0;
    snprintf(msg, cap, "%s %d.", (const char *)arg, index);
    return -1;
}

static pid_t
start_worker(mp_task fn, int index, void *arg, int fd)
{
    pid_t me = getpid();
    pid_t pid = mp_run_worker(fn, index, arg, fd);
    if (getpid() != me) // a child came back: exit() tells the harness
        exit(FL_EXIT_STRAY);
    ck_assert_msg(pid > 0, "mp_run_worker returned %s, expected a pid",
                  fl_ret(pid));
    return pid;
}

// A task that fails with 1, a positive value, and "ARG INDEX.", unless
// msg did not come as "" with cap MP_ERR_MAX: then it says so.
static int
fail_with_1(int index, void *arg, char *msg, size_t cap)
{
    if (msg[0] != '\0' || cap != MP_ERR_MAX) {
        char first[8];
        snprintf(first, sizeof first, "%s", msg);
        snprintf(msg, cap, "msg came as \"%s...\", cap %zu", first, cap);
    } else {
        snprintf(msg, cap, "%s %d.", (const char *)arg, index);
    }
    return 1;
}

// A task that writes a message yet succeeds (returns 0), and one that
// fails (returns -1) saying nothing: the return value alone tells failure
// from success, as in Python a `raise ValueError()` without a message.
static int
says_but_succeeds(int index, void *arg, char *msg, size_t cap)
{
    (void)index;
    (void)arg;
    snprintf(msg, cap, "only a note, no failure");
    return 0;
}

static int
fails_silently(int index, void *arg, char *msg, size_t cap)
{
    (void)index;
    (void)arg;
    (void)msg;
    (void)cap;
    return -1;
}

// Fill the stack below the caller with junk, so that a buffer a later call
// forgets to initialise shows it.
static void __attribute__((noinline)) dirty_stack(void)
{
    volatile char junk[16384];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 'x';
}

// An index with four different bytes, none 0: a byte put in the wrong
// place of the header, or read from the wrong place, shows.
#define BIG_INDEX 0x12345678

FL_TEST(test_mp_run_worker_sends_the_error_record)
{
    int fds[2];
    pipe_or_fail(fds);
    dirty_stack();
    pid_t pid =
        start_worker(fail_with_1, BIG_INDEX, "disk full in worker", fds[1]);
    close(fds[1]);
    unsigned char got[1024];
    size_t n = fl_read_all(fds[0], got, sizeof got);
    close(fds[0]);
    fl_reap(pid);
    const char *want = "disk full in worker 305419896.";
    size_t len = strlen(want);
    ck_assert_msg(n > 0,
                  "nothing came through the pipe from a worker whose task "
                  "failed (it returned 1: any value but 0 is a failure): "
                  "the child must send its error record to err_fd (the "
                  "exit code alone says that it failed, never why)");
    ck_assert_msg(n == MP_ERR_HEADER + len && fl_get_be32(got) == len &&
                      fl_get_be32(got + 4) == BIG_INDEX &&
                      memcmp(got + MP_ERR_HEADER, want, len) == 0,
                  "the worker sent %zu bytes: length %u, index %u, message "
                  "\"%.*s\"; expected %zu bytes: length %zu, index %u, then "
                  "\"%s\" without its NUL (see the format in errors.h; "
                  "the task gets msg holding \"\", MP_ERR_MAX bytes)",
                  n, n >= 4 ? (unsigned)fl_get_be32(got) : 0,
                  n >= 8 ? (unsigned)fl_get_be32(got + 4) : 0,
                  n > MP_ERR_HEADER ? (int)(n - MP_ERR_HEADER) : 0,
                  got + MP_ERR_HEADER, MP_ERR_HEADER + len, len,
                  (unsigned)BIG_INDEX, want);

    // A failure with an empty message is still a failure: a record with
    // length 0, and exit status 1.
    pipe_or_fail(fds);
    pid = start_worker(fails_silently, 3, NULL, fds[1]);
    close(fds[1]);
    n = fl_read_all(fds[0], got, sizeof got);
    close(fds[0]);
    int st = fl_reap(pid);
    ck_assert_msg(n == MP_ERR_HEADER && fl_get_be32(got) == 0 &&
                      fl_get_be32(got + 4) == 3 && st != -1 && WIFEXITED(st) &&
                      WEXITSTATUS(st) == 1,
                  "a worker whose task returned -1 and left msg empty sent "
                  "%zu bytes and %s; expected a record of %d bytes (length "
                  "0, index 3) and exit status 1: the return value alone "
                  "says the task failed, an empty message is still a record",
                  n, ended(st), MP_ERR_HEADER);
}

FL_TEST(test_mp_run_worker_sends_the_record_despite_eintr)
{
    static const char *const how_first[] = {
        "failed with EINTR (a signal handler ran: write again)",
        "wrote 3 bytes only (a write may take fewer bytes than asked: "
        "write the rest)",
        "wrote all but the last byte (write until no byte is left: "
        "while len > 0)"};
    const char *want = "interrupted in worker 2.";
    size_t len = strlen(want);
    for (int i = 0; i < 3; i++) {
        int fds[2];
        pipe_or_fail(fds);
        fl_fault_reset(); // the worker, a fork, inherits what is armed here
        if (i == 0)
            fl_fault_eintr("write", 1);
        else
            fl_fault_short("write", 1, i == 1 ? 3 : MP_ERR_HEADER + len - 1);
        pid_t pid = start_worker(fail_with, 2, "interrupted in worker", fds[1]);
        fl_fault_reset();
        close(fds[1]);
        unsigned char got[1024];
        size_t n = fl_read_all(fds[0], got, sizeof got);
        close(fds[0]);
        int st = fl_reap(pid);
        ck_assert_msg(n == MP_ERR_HEADER + len && fl_get_be32(got) == len &&
                          memcmp(got + MP_ERR_HEADER, want, len) == 0,
                      "a worker whose first write() %s sent %zu bytes; "
                      "expected the whole record, %zu bytes",
                      how_first[i], n, MP_ERR_HEADER + len);
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
                      "the worker whose first write() %s %s; expected exit "
                      "status 1",
                      how_first[i], ended(st));
    }
}

FL_TEST(test_mp_run_worker_exits_with_1_when_the_task_fails)
{
    // Nobody reads: the record cannot be sent (EPIPE), the code still can.
    signal(SIGPIPE, SIG_IGN);
    int fds[2];
    pipe_or_fail(fds);
    close(fds[0]);
    pid_t pid = start_worker(fail_with, 0, "bad input in worker", fds[1]);
    close(fds[1]);
    int st = fl_reap(pid);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
                  "the worker whose task returned -1 %s; expected exit "
                  "status 1, Python's exit code after an uncaught "
                  "exception: _exit(1), whatever the task returned, and "
                  "whether or not the record could be sent",
                  ended(st));
}

FL_TEST(test_mp_run_worker_sends_nothing_when_the_task_succeeds)
{
    int fds[2];
    pipe_or_fail(fds);
    pid_t pid = start_worker(fail_with, 1, NULL, fds[1]);
    close(fds[1]);
    unsigned char got[1024];
    size_t n = fl_read_all(fds[0], got, sizeof got);
    close(fds[0]);
    int st = fl_reap(pid);
    ck_assert_msg(n == 0 && st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "a worker whose task returned 0 sent %zu bytes and %s; "
                  "expected no record and exit status 0",
                  n, ended(st));

    // A task that returns 0 succeeded, whatever it wrote into msg.
    pipe_or_fail(fds);
    pid = start_worker(says_but_succeeds, 1, NULL, fds[1]);
    close(fds[1]);
    n = fl_read_all(fds[0], got, sizeof got);
    close(fds[0]);
    st = fl_reap(pid);
    ck_assert_msg(n == 0 && st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "a worker whose task wrote a message but returned 0 sent "
                  "%zu bytes and %s; expected no record and exit status 0: "
                  "the return value alone says the task failed, not msg",
                  n, ended(st));
}

FL_TEST(test_mp_run_worker_writes_each_record_in_one_write)
{
    // A SOCK_SEQPACKET socket keeps each write() apart: one read() gets
    // exactly what one write() sent.
    int sv[2];
    ck_assert_msg(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0,
                  "socketpair failed: %s", strerror(errno));
    pid_t pid = start_worker(fail_with, 7, "no more room in worker", sv[1]);
    close(sv[1]);
    unsigned char got[1024];
    ssize_t n;
    while ((n = read(sv[0], got, sizeof got)) < 0 && errno == EINTR)
        ;
    unsigned char sink[1024];
    fl_read_all(sv[0], sink, sizeof sink);
    close(sv[0]);
    fl_reap(pid);
    size_t want = MP_ERR_HEADER + strlen("no more room in worker 7.");
    ck_assert_msg(n > 0,
                  "no record arrived from a worker whose task failed: send "
                  "it to err_fd");
    ck_assert_msg(n == (ssize_t)want,
                  "the first write() of the record carried %zd bytes; "
                  "expected the whole %zu-byte record. Build header and "
                  "message in one buffer and write it at once: a write of "
                  "up to PIPE_BUF bytes is never mixed with another's, two "
                  "writes let another worker's record in between",
                  n, want);
}

static int
no_task(int index, void *arg, char *msg, size_t cap)
{
    (void)index;
    (void)arg;
    (void)msg;
    (void)cap;
    return 0;
}

FL_TEST(test_mp_run_worker_rejects_bad_arguments)
{
    int fds[2];
    pipe_or_fail(fds);
    int closed = fds[0];
    close(fds[0]); // a descriptor number that is not open
    int no_fn = mp_run_worker(NULL, 0, NULL, fds[1]);
    int neg = mp_run_worker(no_task, -1, NULL, fds[1]);
    int bad_fd = mp_run_worker(no_task, 0, NULL, -1);
    int shut = mp_run_worker(no_task, 0, NULL, closed);
    close(fds[1]);
    int forked = waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD;
    if (forked)
        fl_kill_children();
    ck_assert_msg(no_fn == -EINVAL && neg == -EINVAL && bad_fd == -EBADF &&
                      shut == -EBADF && !forked,
                  "mp_run_worker gave %s for a NULL task, %s for index -1, "
                  "%s for err_fd -1 and %s for a closed err_fd%s; expected "
                  "-EINVAL, -EINVAL, -EBADF, -EBADF and no child: check "
                  "before forking (fcntl(fd, F_GETFD) tells an open fd)",
                  fl_ret(no_fn), fl_ret(neg), fl_ret(bad_fd), fl_ret(shut),
                  forked ? ", and a child was started" : "");
}

// Descriptor 0 free, as in a program started without stdin: the pipe's
// writing end, then its reading end, is 0, a descriptor like any other.
FL_TEST(test_mp_run_worker_and_mp_collect_take_descriptor_0)
{
    int stdin_copy = fcntl(0, F_DUPFD_CLOEXEC, 3); // -1: no stdin
    if (stdin_copy < 0)
        open("/dev/null", O_RDONLY); // holds 0, so the pipe goes above
    int fds[2];
    pipe_or_fail(fds);
    dup2(fds[1], 0);
    close(fds[1]);
    pid_t me = getpid();
    pid_t pid = mp_run_worker(fail_with, 7, "zero", 0);
    if (getpid() != me)
        exit(FL_EXIT_STRAY);
    dup2(fds[0], 0); // the last writing end in the parent goes: EOF comes
    close(fds[0]);
    int code = 12345, n = -1;
    mp_error err;
    memset(&err, 0, sizeof err);
    if (pid > 0)
        n = mp_collect(0, &pid, 1, &code, &err, 1);
    if (stdin_copy >= 0) {
        dup2(stdin_copy, 0);
        close(stdin_copy);
    } else {
        close(0);
    }
    if (pid > 0 && n < 0)
        fl_kill_children();
    ck_assert_msg(pid > 0 && n == 1,
                  "with the error pipe on descriptor 0, mp_run_worker gave "
                  "%s and mp_collect %s; expected a pid and 1 record: "
                  "descriptor 0 is a descriptor like any other (test for "
                  "none with < 0, never <= 0)",
                  fl_ret(pid), fl_ret(n));
    ck_assert_msg(code == 1 && err.index == 7 &&
                      strcmp(err.message, "zero 7.") == 0,
                  "through descriptor 0, the worker's exit code was %s and "
                  "its record said %d: \"%.40s\"; expected 1 and 7: "
                  "\"zero 7.\"",
                  code_str(code), err.index, err.message);
}

/* -------------------------------------------------------- mp_collect */

static int
seed_worker(int index, void *arg, char *msg, size_t cap)
{
    (void)arg;
    if (index != 2)
        return 0;
    snprintf(msg, cap, SEED_MSG " %d.", index);
    return -1;
}

FL_TEST(test_mp_collect_brings_the_classic_error_to_the_parent)
{
    enum { N = 5 };
    int fds[2];
    pipe_or_fail(fds);
    pid_t pids[N];
    for (int i = 0; i < N; i++)
        pids[i] = start_worker(seed_worker, i, NULL, fds[1]);
    close(fds[1]); // or EOF never comes
    int codes[N];
    mp_error errs[N];
    memset(errs, 0, sizeof errs);
    int n = mp_collect(fds[0], pids, N, codes, errs, N);
    int kept = fcntl(fds[0], F_GETFD) >= 0;
    if (kept)
        close(fds[0]);
    if (n < 0)
        fl_kill_children();
    ck_assert_msg(kept,
                  "after mp_collect, err_fd is closed: mp_collect closed "
                  "it. The descriptor is the caller's, who closes it (and "
                  "a second close could shut a descriptor opened since, "
                  "under the same number): read it to EOF, never close it");
    fl_expect_int(n, 1, "records collected from 5 workers, worker 2 failing",
                  n == 0 ? "No record arrived: a worker whose task fails "
                           "must send one to err_fd; its exit code 1 says "
                           "only THAT it failed."
                         : "Read records until EOF, then reap every worker.");
    char line[MP_ERR_MAX + 32];
    snprintf(line, sizeof line, "Error in %d: %s", errs[0].index,
             errs[0].message);
    ck_assert_msg(strcmp(line, "Error in 2: " SEED_MSG " 2.") == 0,
                  "the parent printed \"%s\"; expected \"Error in 2: " SEED_MSG
                  " 2.\": the record carries the worker's index and its "
                  "message",
                  line);
    int want[N] = {0, 0, 1, 0, 0};
    for (int i = 0; i < N; i++)
        ck_assert_msg(codes[i] == want[i],
                      "worker %d's exit code is %s, expected %d (1: its "
                      "task failed)",
                      i, code_str(codes[i]), want[i]);
}

// Children that die of a real segfault, or of abort(), and leave no core.
static int
segfault(void *arg)
{
    (void)arg;
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    volatile int *volatile bad = NULL; // or the compiler drops the store
    *bad = 1;
    return 0;
}

static int
aborts(void *arg)
{
    (void)arg;
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    signal(SIGABRT, SIG_DFL);
    abort();
}

// Start fn in a raw child that holds the write end of a new pipe, and
// collect it: the exit code, and mp_collect's value in *r.
static int
collect_one(int (*fn)(void *), void *arg, int *r)
{
    int fds[2];
    pipe_or_fail(fds);
    pid_t pid = fl_raw_start(fn, arg);
    close(fds[1]);
    int code = 12345;
    *r = mp_collect(fds[0], &pid, 1, &code, NULL, 0);
    close(fds[0]);
    if (fl_zombie(pid) || fl_alive(pid))
        fl_kill_children();
    return code;
}

FL_TEST(test_mp_collect_gives_minus_11_for_a_segfault)
{
    int r, code = collect_one(segfault, NULL, &r);
    fl_expect_int(r, 0, "mp_collect of a worker that segfaulted (records)",
                  "It sent no record: 0 records.");
    ck_assert_msg(code == -SIGSEGV,
                  "the exit code of a worker that segfaulted is %s, "
                  "expected -11: WIFSIGNALED, then minus WTERMSIG. "
                  "WEXITSTATUS alone reads a crash as a success.",
                  code_str(code));
}

FL_TEST(test_mp_collect_gives_minus_6_for_an_abort)
{
    int r, code = collect_one(aborts, NULL, &r);
    fl_expect_int(r, 0, "mp_collect of a worker that called abort() (records)",
                  "It sent no record: 0 records.");
    ck_assert_msg(code == -SIGABRT,
                  "the exit code of a worker that called abort() is %s, "
                  "expected -6 (SIGABRT): WIFSIGNALED, then minus WTERMSIG",
                  code_str(code));
}

// A raw worker: sends the record in *arg (test-built) and exits with 1.
struct raw_record {
    int fd; // the write end
    unsigned char buf[512];
    size_t len;
};

static int
send_raw(void *arg)
{
    struct raw_record *r = arg;
    return fl_write_full(r->fd, r->buf, r->len) == 0 ? 1 : 2;
}

FL_TEST(test_mp_collect_reads_every_record)
{
    static const char *msgs[3] = {"zero", "four", "seven"};
    static const int idx[3] = {0, 4, 7};
    int fds[2];
    pipe_or_fail(fds);
    pid_t pids[3];
    for (int i = 0; i < 3; i++) {
        struct raw_record rec = {.fd = fds[1]};
        rec.len =
            make_record(rec.buf, (uint32_t)strlen(msgs[i]), idx[i], msgs[i]);
        pids[i] = fl_raw_start(send_raw, &rec);
    }
    close(fds[1]);
    int codes[3];
    mp_error errs[8];
    memset(errs, 0, sizeof errs);
    int n = mp_collect(fds[0], pids, 3, codes, errs, 8);
    close(fds[0]);
    fl_kill_children();
    fl_expect_int(n, 3, "records collected from three failed workers",
                  "Read records in a loop until EOF (recv_record gives 0), "
                  "not just the first.");
    // With no pid to reap, pids and codes may be NULL: records only.  And
    // a read may come up short: read 1 (the header) gets 3 of its 8
    // bytes, or read 2 (the message) 1 of its 5.
    static const struct {
        int nth;
        size_t max;
        const char *what;
    } shorts[] = {{0, 0, ""},
                  {1, 3, ", the header coming in two reads (3 bytes, then 5)"},
                  {2, 1, ", the message coming one byte a read"}};
    for (size_t k = 0; k < sizeof shorts / sizeof shorts[0]; k++) {
        pipe_or_fail(fds);
        unsigned char one[64];
        size_t len = make_record(one, 5, BIG_INDEX, "one!!");
        ck_assert_msg(fl_write_full(fds[1], one, len) == 0, "write failed");
        close(fds[1]);
        mp_error only = {12345, "untouched"};
        fl_fault_reset();
        if (shorts[k].nth > 0)
            fl_fault_short("read", shorts[k].nth, shorts[k].max);
        int r = mp_collect(fds[0], NULL, 0, NULL, &only, 1);
        fl_fault_reset();
        close(fds[0]);
        char what[160];
        snprintf(what, sizeof what,
                 "mp_collect(fd, NULL, 0, NULL, errs, 1) of one record%s",
                 shorts[k].what);
        fl_expect_int(r, 1, what,
                      k == 0 ? "pids and codes may be NULL when n is 0 "
                               "(errors.h): reject them only when n > 0"
                             : "A read may return fewer bytes than asked: "
                               "read again for the rest, into buf + the "
                               "count so far");
        ck_assert_msg(
            only.index == BIG_INDEX && strcmp(only.message, "one!!") == 0,
            "%s gave the record (index %d, \"%s\"), expected (index %d, "
            "\"one!!\")%s",
            what, only.index, only.message, BIG_INDEX,
            k == 0 ? ""
                   : ": a read that comes up short must be "
                     "followed by one into buf + the count so "
                     "far, not into buf again");
    }
    // A record with an empty message (a task that failed saying nothing),
    // then another: both count, the first with message "".
    pipe_or_fail(fds);
    unsigned char two[64];
    size_t len2 = make_record(two, 0, 9, "");
    len2 += make_record(two + len2, 4, 5, "tail");
    ck_assert_msg(fl_write_full(fds[1], two, len2) == 0, "write failed");
    close(fds[1]);
    mp_error pair[2] = {{12345, "untouched"}, {12345, "untouched"}};
    int r2 = mp_collect(fds[0], NULL, 0, NULL, pair, 2);
    close(fds[0]);
    fl_expect_int(r2, 2,
                  "mp_collect of a record with an empty message (length 0), "
                  "then one saying \"tail\"",
                  "A length of 0 is a whole record: the read of its "
                  "message gives 0 bytes, all that was announced. Only a "
                  "header read that gives 0 bytes is EOF.");
    ck_assert_msg(
        pair[0].index == 9 && pair[0].message[0] == '\0' &&
            pair[1].index == 5 && strcmp(pair[1].message, "tail") == 0,
        "the records read were (%d, \"%s\") and (%d, \"%s\"); "
        "expected (9, \"\") and (5, \"tail\")",
        pair[0].index, pair[0].message, pair[1].index, pair[1].message);
    int seen = 0;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 3; i++)
            if (errs[k].index == idx[i] &&
                strcmp(errs[k].message, msgs[i]) == 0)
                seen |= 1 << i;
    ck_assert_msg(seen == 7,
                  "the records read were (%d, \"%s\"), (%d, \"%s\"), (%d, "
                  "\"%s\"); expected (0, \"zero\"), (4, \"four\") and (7, "
                  "\"seven\") in any order, each message NUL-terminated",
                  errs[0].index, errs[0].message, errs[1].index,
                  errs[1].message, errs[2].index, errs[2].message);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(codes[i] == 1, "worker %d's exit code is %s, expected 1",
                      i, code_str(codes[i]));
}

// A worker with more to say than a pipe holds: 400 records of 200 bytes
// (80 KiB; a pipe holds 64 KiB).  It gives up, with exit status 3, when
// the pipe stays full for 2 s: nobody is reading.
enum { FLOOD_RECORDS = 400, FLOOD_MSG = 200 };

static int
flood(void *arg)
{
    int fd = *(int *)arg;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    unsigned char rec[MP_ERR_HEADER + FLOOD_MSG];
    char msg[FLOOD_MSG + 1];
    memset(msg, 'x', FLOOD_MSG);
    msg[FLOOD_MSG] = '\0';
    size_t len = make_record(rec, FLOOD_MSG, 0, msg);
    for (int i = 0; i < FLOOD_RECORDS; i++) {
        fl_put_be32(rec + 4, (uint32_t)i);
        long end = fl_now_ms() + 2000;
        while (write(fd, rec, len) != (ssize_t)len) { // all or nothing
            if (fl_now_ms() > end)
                return 3;
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, 100);
        }
    }
    return 0;
}

// A worker that outlives its pipe: it closes its end (mp_collect reads
// EOF), then waits until the test is about to call waitpid (the handler
// armed with fl_fault_signal_before writes a byte to outlive_next) and is
// asleep in it, and only then exits with 7.  A waitpid with WNOHANG finds
// it still running, every time.
static int outlive_next[2] = {-1, -1};

static void
waitpid_is_next(int sig)
{
    (void)sig;
    int saved = errno;
    ssize_t n = write(outlive_next[1], "w", 1);
    (void)n;
    errno = saved;
}

static int
outlive_the_pipe(void *arg)
{
    int *fds = arg;
    pid_t test = getppid();
    close(fds[0]);
    close(fds[1]); // EOF, once the test has closed its copy
    close(outlive_next[1]);
    // Told that waitpid is next, exit once the test is asleep.  Code that
    // waits some other way (waitid, wait4) is never told: then exit once
    // the test has been asleep for 100 ms.
    int told = 0;
    long since = -1, end = fl_now_ms() + 5000;
    for (char c;;) {
        if (!told && fl_readable_within(outlive_next[0], 0))
            told = read(outlive_next[0], &c, 1) == 1;
        char st = fl_proc_state(test);
        long now = fl_now_ms();
        since = st != 'S' ? -1 : since < 0 ? now : since;
        if (st == 'S' && (told || now - since >= 100))
            return 7;
        if (now > end)
            return 3; // the test never slept
        sched_yield();
    }
}

FL_TEST(test_mp_collect_reads_the_pipe_before_waiting)
{
    // First: EOF says the pipe is done, not that the worker has ended.
    // mp_collect must then wait for it to end (no WNOHANG).
    ck_assert(pipe(outlive_next) == 0);
    int ofds[2];
    pipe_or_fail(ofds);
    struct sigaction sa = {.sa_handler = waitpid_is_next}, old_usr2;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, &old_usr2);
    pid_t late = fl_raw_start(outlive_the_pipe, ofds);
    close(ofds[1]);
    close(outlive_next[0]);
    int late_code = 12345;
    fl_fault_reset();
    fl_fault_signal_before("waitpid", 1, SIGUSR2);
    int late_n = mp_collect(ofds[0], &late, 1, &late_code, NULL, 0);
    fl_fault_reset();
    close(ofds[0]);
    int alive = fl_alive(late) || fl_zombie(late);
    if (alive)
        fl_reap_code(late);
    close(outlive_next[1]);
    sigaction(SIGUSR2, &old_usr2, NULL);
    fl_expect_int(late_n, 0,
                  "mp_collect of a worker that closed its pipe and then "
                  "went on running",
                  "it sent no record: 0 records");
    ck_assert_msg(late_code == 7 && !alive,
                  "a worker closed its end of the pipe, then went on "
                  "running until mp_collect was waiting for it, and exited "
                  "with 7; mp_collect gave its exit code as %s and %s. EOF "
                  "on the pipe does not mean the worker has ended: "
                  "waitpid(pid, &status, 0) waits until it has, WNOHANG "
                  "returns 0 at once while it runs (with status never "
                  "written)",
                  code_str(late_code),
                  alive ? "returned before the worker had ended: it was "
                          "reaped only afterwards"
                        : "reaped it");

    int fds[2];
    pipe_or_fail(fds);
    pid_t pid = fl_raw_start(flood, &fds[1]);
    close(fds[1]);
    int code = 12345;
    int n = mp_collect(fds[0], &pid, 1, &code, NULL, 0);
    close(fds[0]);
    if (fl_zombie(pid) || fl_alive(pid))
        fl_kill_children();
    ck_assert_msg(code != 3,
                  "the worker could not write its %d records (80 KiB) for "
                  "2 s, and gave up: mp_collect waited for it before "
                  "reading the pipe. A worker blocked on a full pipe "
                  "(64 KiB) never exits: read to EOF first, then reap.",
                  FLOOD_RECORDS);
    fl_expect_int(n, FLOOD_RECORDS, "records collected from a chatty worker",
                  "Count every record, even those with no room in errs.");
    ck_assert_msg(code == 0, "the worker's exit code is %s, expected 0",
                  code_str(code));
}

// A worker that lives for 50 ticks (at least 50 ms), then sends a record.
static int
late_record(void *arg)
{
    struct raw_record *r = arg;
    char c;
    close(fl_ticks_write_fd()); // so that the clock's EOF can reach us
    for (int got = 0; got < 50;) {
        ssize_t n = read(fl_ticks_fd(), &c, 1);
        if (n == 0)
            break; // the test is over and closed the clock
        got += n == 1;
    }
    return send_raw(r) == 1 ? 0 : 2;
}

FL_TEST(test_mp_collect_retries_when_a_signal_interrupts)
{
    int fds[2];
    pipe_or_fail(fds);
    fl_ticks_start();
    struct raw_record rec = {.fd = fds[1]};
    rec.len = make_record(rec.buf, 4, 1, "late");
    pid_t pid = fl_raw_start(late_record, &rec);
    close(fds[1]);
    int code = 12345;
    mp_error e = {0, ""};
    int n = mp_collect(fds[0], &pid, 1, &code, &e, 1);
    fl_ticks_stop();
    close(fds[0]);
    if (fl_zombie(pid) || fl_alive(pid))
        fl_kill_children();
    fl_expect_int(n, 1, "mp_collect while signals keep arriving",
                  n == -EINTR ? "read or waitpid failed with EINTR because a "
                                "signal handler ran (this test keeps a timer "
                                "ticking): call it again."
                              : "");
    ck_assert_msg(code == 0 && e.index == 1 && strcmp(e.message, "late") == 0,
                  "after the ticks, the record was (%d, \"%s\") and the exit "
                  "code %s; expected (1, \"late\") and 0",
                  e.index, e.message, code_str(code));
}

static int
collect_raw(const unsigned char *buf, size_t len, int *code)
{
    int fds[2];
    pipe_or_fail(fds);
    struct raw_record rec = {.fd = fds[1], .len = len};
    memcpy(rec.buf, buf, len);
    pid_t pid = fl_raw_start(send_raw, &rec);
    close(fds[1]);
    *code = 12345;
    int n = mp_collect(fds[0], &pid, 1, code, NULL, 0);
    close(fds[0]);
    if (fl_zombie(pid) || fl_alive(pid))
        fl_kill_children();
    return n;
}

FL_TEST(test_mp_collect_reports_a_broken_record)
{
    unsigned char rec[512];
    make_record(rec, 50, 0, "only ten b"); // 50 announced, 10 sent
    int c1, cut = collect_raw(rec, MP_ERR_HEADER + 10, &c1);
    // A whole record first, then the same cut record: the count of one
    // good record does not hide the broken one.
    size_t good = make_record(rec, 4, 1, "good");
    make_record(rec + good, 50, 0, "only ten b");
    int c6, cut_after_good = collect_raw(rec, good + MP_ERR_HEADER + 10, &c6);
    make_record(rec, 5000, 0, "too long"); // longer than MP_ERR_MAX - 1
    int c2, huge = collect_raw(rec, MP_ERR_HEADER + 8, &c2);
    // EOF right after a whole header announcing 50 bytes: no message.
    make_record(rec, 50, 0, "");
    int c7, bare = collect_raw(rec, MP_ERR_HEADER, &c7);
    // EOF inside the header, after a whole length of 0: six bytes; after
    // one byte, and after seven.
    make_record(rec, 0, 0, "");
    int c3, head = collect_raw(rec, 6, &c3);
    int c8, head1 = collect_raw(rec, 1, &c8);
    int c9, head7 = collect_raw(rec, MP_ERR_HEADER - 1, &c9);
    // Exactly MP_ERR_MAX bytes announced and sent: one too many for the
    // message and its NUL.
    fl_put_be32(rec, MP_ERR_MAX);
    memset(rec + MP_ERR_HEADER, 'm', MP_ERR_MAX);
    int c4, one_over = collect_raw(rec, MP_ERR_HEADER + MP_ERR_MAX, &c4);
    // Lengths with the top bit set, and 300 bytes after them: an int
    // holding either is negative, and passes a check "len > MP_ERR_MAX - 1".
    static const uint32_t tops[2] = {UINT32_MAX, UINT32_C(1) << 31};
    int top[2], ctop[2];
    memset(rec + MP_ERR_HEADER, 't', 300);
    for (int k = 0; k < 2; k++) {
        fl_put_be32(rec, tops[k]);
        top[k] = collect_raw(rec, MP_ERR_HEADER + 300, &ctop[k]);
    }
    ck_assert_msg(cut == -EPROTO && huge == -EPROTO,
                  "mp_collect gave %s for a message cut short and %s for a "
                  "record announcing 5000 bytes; expected -EPROTO for "
                  "each: EOF inside a record, or a length over "
                  "MP_ERR_MAX - 1, is no record",
                  fl_ret(cut), fl_ret(huge));
    ck_assert_msg(cut_after_good == -EPROTO && c6 == 1,
                  "mp_collect gave %s (exit code %s) for a whole record "
                  "followed by one cut short; expected -EPROTO and 1: a "
                  "broken record is the answer even after good ones",
                  fl_ret(cut_after_good), code_str(c6));
    ck_assert_msg(bare == -EPROTO,
                  "mp_collect gave %s for a whole header announcing 50 "
                  "bytes, then EOF before any byte of the message; "
                  "expected -EPROTO. A read of the message that gives 0 "
                  "bytes where 50 were announced is EOF inside the record "
                  "(fewer than len), not the clean EOF between records",
                  fl_ret(bare));
    ck_assert_msg(head == -EPROTO && head1 == -EPROTO && head7 == -EPROTO,
                  "mp_collect gave %s, %s and %s for a header cut short "
                  "after 6, 1 and 7 of its %d bytes, then EOF; expected "
                  "-EPROTO each. When read_full gives some bytes of the "
                  "header (1 or more) but fewer than MP_ERR_HEADER, EOF "
                  "came inside the record: no record, and no length to "
                  "trust; only 0 bytes is the clean EOF",
                  fl_ret(head), fl_ret(head1), fl_ret(head7), MP_ERR_HEADER);
    ck_assert_msg(one_over == -EPROTO,
                  "mp_collect gave %s for a whole record announcing "
                  "MP_ERR_MAX (%d) bytes; expected -EPROTO: the message "
                  "and its NUL would need %d bytes, and message[] has %d. "
                  "Refuse len > MP_ERR_MAX - 1, not len > MP_ERR_MAX "
                  "(which writes the NUL past the end)",
                  fl_ret(one_over), MP_ERR_MAX, MP_ERR_MAX + 1, MP_ERR_MAX);
    ck_assert_msg(top[0] == -EPROTO && top[1] == -EPROTO,
                  "mp_collect gave %s for a record announcing 0xffffffff "
                  "bytes and %s for one announcing 0x80000000; expected "
                  "-EPROTO for both. The length is an unsigned 32-bit "
                  "number: held in an int it turns negative and slips past "
                  "a check against MP_ERR_MAX - 1 (keep it unsigned long, "
                  "as get32 gives it)",
                  fl_ret(top[0]), fl_ret(top[1]));
    ck_assert_msg(c1 == 1 && c2 == 1 && c3 == 1 && c4 == 1 && ctop[0] == 1 &&
                      ctop[1] == 1 && c7 == 1 && c8 == 1 && c9 == 1,
                  "after the broken records the exit codes were %s, %s, %s, "
                  "%s, %s, %s, %s, %s and %s, expected 1 each: reap every "
                  "worker, even after an error",
                  code_str(c1), code_str(c2), code_str(c3), code_str(c4),
                  code_str(ctop[0]), code_str(ctop[1]), code_str(c7),
                  code_str(c8), code_str(c9));
    // A read that fails is not a broken record: its errno is the answer.
    int failed[2], c5;
    make_record(rec, 4, 0, "four");
    for (int nth = 1; nth <= 2; nth++) {
        fl_fault_reset();
        fl_fault_fail("read", nth, EIO);
        failed[nth - 1] = collect_raw(rec, MP_ERR_HEADER + 4, &c5);
        fl_fault_reset();
    }
    ck_assert_msg(failed[0] == -EIO && failed[1] == -EIO,
                  "mp_collect gave %s when the read of a record's header "
                  "failed with EIO, and %s when the read of its message "
                  "did; expected -5 (-EIO) for both: pass on the errno of "
                  "a read that failed, -EPROTO is for EOF inside a record",
                  fl_ret(failed[0]), fl_ret(failed[1]));
}

FL_TEST(test_mp_collect_takes_the_code_the_reaper_recorded)
{
    install_or_fail();
    int fds[2];
    pipe_or_fail(fds);
    static int seven = 7;
    pid_t pid = fl_raw_start(return_code, &seven);
    close(fds[1]);
    ck_assert_msg(until_gone(pid, 3000),
                  "the SIGCHLD handler of mp_reaper_install did not reap a "
                  "child within 3 s: this test needs it working first");
    int code = 12345;
    int n = mp_collect(fds[0], &pid, 1, &code, NULL, 0);
    close(fds[0]);
    fl_expect_int(n, 0, "mp_collect of a child the SIGCHLD handler reaped",
                  n == -ECHILD ? "waitpid fails with ECHILD: the handler "
                                 "reaped it first. Look the pid up with "
                                 "mp_reaper_lookup."
                               : "");
    ck_assert_msg(code == 7,
                  "the exit code is %s, expected 7, which the handler "
                  "recorded",
                  code_str(code));
}

FL_TEST(test_mp_collect_reaps_every_pid_whatever_fails)
{
    static int three = 3, five = 5;
    int fds[2];
    pipe_or_fail(fds);
    pid_t gone_pid = fl_raw_start(return_code, &three);
    fl_reap(gone_pid); // reaped elsewhere: waitpid will say ECHILD
    pid_t pids[2] = {gone_pid, fl_raw_start(return_code, &five)};
    close(fds[1]);
    int codes[2] = {12345, 12345};
    int lost = mp_collect(fds[0], pids, 2, codes, NULL, 0);
    int reaped = !fl_zombie(pids[1]) && !fl_alive(pids[1]);
    // Pid 1 is valid (positive), and never our child.
    int eof[2], init_code = 12345;
    pipe_or_fail(eof);
    close(eof[1]);
    pid_t init = 1;
    int not_ours = mp_collect(eof[0], &init, 1, &init_code, NULL, 0);
    close(eof[0]);
    // Now a read that fails: a descriptor that is not open.
    pid_t other = fl_raw_start(return_code, &three);
    int shut = fds[0];
    close(fds[0]);
    int code = 12345;
    int unread = mp_collect(shut, &other, 1, &code, NULL, 0);
    // Both at once: a record cut short and a pid reaped elsewhere.
    pid_t also_gone = fl_raw_start(return_code, &three);
    fl_reap(also_gone);
    pid_t both[2] = {also_gone, fl_raw_start(return_code, &five)};
    int cut[2], both_codes[2] = {12345, 12345};
    pipe_or_fail(cut);
    unsigned char rec[64];
    make_record(rec, 50, 0, "only ten b"); // 50 announced, 10 sent
    ck_assert_msg(fl_write_full(cut[1], rec, MP_ERR_HEADER + 10) == 0,
                  "test setup: write failed");
    close(cut[1]);
    int broken = mp_collect(cut[0], both, 2, both_codes, NULL, 0);
    close(cut[0]);
    fl_kill_children();
    ck_assert_msg(lost == -ECHILD && codes[0] == MP_EXITCODE_NONE &&
                      codes[1] == 5 && reaped,
                  "mp_collect of a pid reaped elsewhere and of a live "
                  "child returned %s with exit codes %s and %s; expected "
                  "-ECHILD, MP_EXITCODE_NONE and 5: report the pid it "
                  "cannot wait for, and still reap the others",
                  fl_ret(lost), code_str(codes[0]), code_str(codes[1]));
    ck_assert_msg(not_ours == -ECHILD && init_code == MP_EXITCODE_NONE,
                  "mp_collect of pid 1 returned %s with exit code %s; "
                  "expected -ECHILD and MP_EXITCODE_NONE: pid 1 is a valid "
                  "pid (only <= 0 is -EINVAL), just not a child",
                  fl_ret(not_ours), code_str(init_code));
    ck_assert_msg(unread == -EBADF && code == 3,
                  "mp_collect of a descriptor that is not open returned %s "
                  "and exit code %s; expected -EBADF (read's error) and 3: "
                  "a failed read must not leave the worker a zombie",
                  fl_ret(unread), code_str(code));
    ck_assert_msg(broken == -EPROTO && both_codes[0] == MP_EXITCODE_NONE &&
                      both_codes[1] == 5,
                  "mp_collect of a record cut short, a pid reaped elsewhere "
                  "and a live child returned %s with exit codes %s and %s; "
                  "expected -EPROTO, MP_EXITCODE_NONE and 5: when both go "
                  "wrong, the broken record's error is the answer "
                  "(errors.h), the first reap error only when every record "
                  "was whole",
                  fl_ret(broken), code_str(both_codes[0]),
                  code_str(both_codes[1]));
}

FL_TEST(test_mp_collect_rejects_bad_arguments)
{
    static int four = 4;
    int fds[2];
    pipe_or_fail(fds);
    pid_t pid = fl_raw_start(return_code, &four);
    until_zombie(pid, 3000); // ended: a wrong wait would reap it
    close(fds[1]);           // a read, had there been one, would see EOF
    pid_t zero[2] = {pid, 0}, first[2] = {0, pid};
    int codes[2];
    mp_error e;
    int r[8] = {
        mp_collect(fds[0], first, 2, codes, &e, 1),
        mp_collect(-1, &pid, 1, codes, NULL, 0),
        mp_collect(fds[0], &pid, -1, codes, NULL, 0),
        mp_collect(fds[0], NULL, 1, codes, NULL, 0),
        mp_collect(fds[0], &pid, 1, NULL, NULL, 0),
        mp_collect(fds[0], &pid, 1, codes, NULL, 1),
        mp_collect(fds[0], zero, 2, codes, &e, 1),
        mp_collect(fds[0], &pid, 1, codes, &e, -1),
    };
    int reaped = !fl_zombie(pid);
    close(fds[0]);
    if (!reaped)
        fl_reap(pid);
    for (int i = 0; i < 8; i++)
        ck_assert_msg(r[i] == -EINVAL,
                      "bad call %d of mp_collect (a pid of 0 first, a "
                      "negative fd, a negative n, NULL pids, NULL codes, "
                      "NULL errs with room, a pid of 0 second, a negative "
                      "max_errs) returned %s, expected -EINVAL: check every "
                      "pid, from pids[0]",
                      i + 1, fl_ret(r[i]));
    ck_assert_msg(!reaped,
                  "a call with bad arguments reaped a child: check every "
                  "argument before reading or waiting (to waitpid, 0 means "
                  "any child in the group)");
}

/* ------------------------------------------------------------ reaper */

static int codes50[50];

FL_TEST(test_mp_reaper_install_reaps_every_child_of_one_signal)
{
    enum { N = 50 };
    install_or_fail();
    fl_gate_new(&gate, 0, GATE_LIMIT_MS);
    sigset_t old;
    block_sigchld(&old); // the children's SIGCHLDs merge into one
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        codes50[i] = i;
        kids[i] = fl_raw_start(wait_at_gate, &codes50[i]);
    }
    fl_gate_free(&gate); // they all end at once
    int zombies = until_zombies(kids, N, 5000);
    sigprocmask(SIG_SETMASK, &old, NULL); // ONE SIGCHLD is delivered here
    int left = 0;
    for (int i = 0; i < N; i++)
        left += !gone(kids[i]);
    int count = mp_reaper_count();
    if (left)
        fl_kill_children();
    ck_assert_msg(zombies == N, "only %d of %d children ended in 5 s", zombies,
                  N);
    ck_assert_msg(left == 0,
                  "%d children ended together and ONE SIGCHLD was delivered "
                  "for all of them; after the handler ran, %d were still "
                  "zombies (mp_reaper_count says %d). Signals are not "
                  "queued: loop on waitpid(-1, &status, WNOHANG) until it "
                  "returns 0 or fails",
                  N, left, count);
}

FL_TEST(test_mp_reaper_install_handler_keeps_errno)
{
    install_or_fail();
    sigset_t old;
    block_sigchld(&old);
    static int zero = 0;
    pid_t pid = fl_raw_start(return_code, &zero);
    until_zombie(pid, 3000); // its SIGCHLD is pending, blocked
    errno = 0;
    int fd = open("/nonexistent/forklings", O_RDONLY);
    sigprocmask(SIG_SETMASK, &old, NULL); // the handler runs here...
    int e = errno;                        // ...before this line
    if (fd >= 0)
        close(fd);
    int reaped = until_gone(pid, 3000);
    if (!reaped)
        fl_kill_children();
    ck_assert_msg(reaped, "the SIGCHLD handler did not reap the child");
    ck_assert_msg(e == ENOENT,
                  "open() failed with ENOENT, then the SIGCHLD handler ran "
                  "before errno was read: errno is now %s. The handler's "
                  "last waitpid sets errno (ECHILD): save errno on entry "
                  "and put it back before returning",
                  fl_ret(-e));
}

static int nine = 9;

FL_TEST(test_mp_reaper_install_handler_never_blocks_while_children_run)
{
    install_or_fail();
    fl_gate_new(&gate, 0, 2000);
    pid_t slow = fl_raw_start(wait_at_gate, &nine); // runs until released
    static int three = 3;
    long t0 = fl_now_ms();
    pid_t quick = fl_raw_start(return_code, &three);
    int reaped = until_gone(quick, 6000);
    long took = fl_now_ms() - t0;
    int slow_running = fl_alive(slow);
    fl_gate_open(&gate);
    until_gone(slow, 6000);
    fl_gate_free(&gate);
    fl_kill_children();
    ck_assert_msg(reaped, "the SIGCHLD handler did not reap a child that "
                          "ended");
    ck_assert_msg(slow_running,
                  "while one child still ran, another ended; the handler "
                  "reaped the ended one only %ld ms later, and the running "
                  "one had ended too (it gives up after 2 s): the handler "
                  "blocked in waitpid until the running child ended. Use "
                  "WNOHANG: 0 means \"none has ended\", stop there",
                  took);
}

// A child that leaves the test's process group, then exits with *arg.
static int
own_group_code(void *arg)
{
    setpgid(0, 0);
    return *(int *)arg;
}

FL_TEST(test_mp_reaper_install_keeps_reaping_after_the_first_signal)
{
    install_or_fail();
    static int one = 1, two = 2, three = 3;
    pid_t first = fl_raw_start(return_code, &one);
    int r1 = until_gone(first, 3000);
    pid_t second = fl_raw_start(return_code, &two);
    int r2 = until_gone(second, 3000);
    pid_t third = fl_raw_start(own_group_code, &three);
    int r3 = until_gone(third, 3000);
    fl_kill_children();
    ck_assert_msg(r1, "the SIGCHLD handler did not reap the first child");
    ck_assert_msg(r2, "the handler reaped the first child, but the second one "
                      "stayed a zombie: the handler did not stay installed. "
                      "Use sigaction without SA_RESETHAND (nor signal() with "
                      "System V semantics, which resets the action)");
    ck_assert_msg(r3, "a child that moved to a process group of its own "
                      "(setpgid, as a daemon or a shell's job does) stayed "
                      "a zombie: waitpid(0, ...) waits only for children "
                      "in the caller's group. Reap with waitpid(-1, "
                      "&status, WNOHANG): any child");
}

struct restart {
    pid_t test; // the test process, blocked in read()
    pid_t a;    // the child whose end interrupts the read
    int fd;     // the pipe's write end
};

// Child A: ends once the test is asleep in read().
static int
end_during_read(void *arg)
{
    struct restart *r = arg;
    long end = fl_now_ms() + 3000;
    while (!asleep_in_pipe_read(r->test) && fl_now_ms() < end)
        nap_ms(1);
    return 0;
}

// Child B: once A has been reaped (so the handler has run), sends a byte.
static int
write_after_a(void *arg)
{
    struct restart *r = arg;
    long end = fl_now_ms() + 3000;
    while (!gone(r->a) && fl_now_ms() < end)
        nap_ms(1);
    return fl_write_full(r->fd, "x", 1) == 0 ? 0 : 1;
}

FL_TEST(test_mp_reaper_install_lets_interrupted_reads_go_on)
{
    install_or_fail();
    int fds[2];
    pipe_or_fail(fds);
    struct restart r = {.test = getpid(), .fd = fds[1]};
    r.a = fl_raw_start(end_during_read, &r);
    pid_t b = fl_raw_start(write_after_a, &r);
    close(fds[1]);
    char c;
    ssize_t n = read(fds[0], &c, 1); // no retry: that is the handler's job
    int e = errno;
    close(fds[0]);
    until_gone(r.a, 3000);
    until_gone(b, 3000);
    fl_kill_children();
    ck_assert_msg(n == 1,
                  "a read() in the main flow was interrupted by SIGCHLD "
                  "and returned %zd (%s); expected it to go on and read the "
                  "byte that came later: install the handler with "
                  "SA_RESTART",
                  n, n < 0 ? fl_ret(-e) : "EOF");
    struct sigaction now;
    sigaction(SIGCHLD, NULL, &now);
    ck_assert_msg(now.sa_flags & SA_NOCLDSTOP,
                  "mp_reaper_install installed its SIGCHLD handler without "
                  "SA_NOCLDSTOP: then a child that is stopped (Ctrl-Z, a "
                  "debugger) or continued sends SIGCHLD too, which reaps "
                  "nothing and interrupts the main flow's poll() or sleep "
                  "(SA_RESTART does not restart those) for nothing. Use "
                  "SA_RESTART | SA_NOCLDSTOP");
}

// Whether SIGCHLD was blocked when SIGUSR1 came: -1 before it came.
static volatile sig_atomic_t chld_blocked_at_usr1 = -1;

static void
note_sigchld_blocked(int sig)
{
    (void)sig;
    sigset_t now; // the mask of the code the signal interrupted, and more
    sigprocmask(SIG_BLOCK, NULL, &now);
    chld_blocked_at_usr1 = sigismember(&now, SIGCHLD);
}

FL_TEST(test_mp_reaper_install_reaps_children_that_ended_before)
{
    static int four = 4;
    // A child stopped (Ctrl-Z), not ended: the reaping must pass it by.
    fl_gate_new(&gate, 0, GATE_LIMIT_MS);
    pid_t stopped = fl_raw_start(wait_at_gate, NULL);
    kill(stopped, SIGSTOP);
    long end = fl_now_ms() + 3000;
    while (fl_proc_state(stopped) != 'T' && fl_now_ms() < end)
        nap_ms(1);
    pid_t pid = fl_raw_start(return_code, &four);
    until_zombie(pid, 3000); // its SIGCHLD came and went, uncaught
    // SIGUSR1 comes just before install's first waitpid, the reaping of
    // the children that ended before: SIGCHLD must be blocked there.
    struct sigaction usr = {.sa_handler = note_sigchld_blocked}, old_usr;
    sigemptyset(&usr.sa_mask);
    sigaction(SIGUSR1, &usr, &old_usr);
    chld_blocked_at_usr1 = -1;
    fl_fault_reset();
    fl_fault_signal_before("waitpid", 1, SIGUSR1);
    install_or_fail();
    fl_fault_reset();
    sigaction(SIGUSR1, &old_usr, NULL);
    int reaped = gone(pid);
    int code = 12345, found = mp_reaper_lookup(pid, &code);
    int scode = 12345, sfound = mp_reaper_lookup(stopped, &scode);
    int count = mp_reaper_count();
    kill(stopped, SIGKILL);
    until_gone(stopped, 3000);
    fl_gate_free(&gate);
    if (!reaped)
        fl_reap(pid);
    fl_kill_children();
    ck_assert_msg(sfound == 0 && count <= 1,
                  "a child stopped by SIGSTOP (alive, state T) was recorded "
                  "as ended by mp_reaper_install, with exit code %s, and "
                  "mp_reaper_count gave %d; expected no record of it and a "
                  "count of 1 (the child that ended). Reap with WNOHANG "
                  "alone: WUNTRACED reports a stopped child too, whose "
                  "status is no exit code, and leaves it unreaped",
                  code_str(scode), count);
    ck_assert_msg(reaped,
                  "a child that ended before mp_reaper_install was still a "
                  "zombie after it: its SIGCHLD came when nobody caught it, "
                  "and none will come again. Reap once right after "
                  "installing the handler");
    ck_assert_msg(found == 1 && code == 4,
                  "mp_reaper_lookup of that child gave %s with exit code "
                  "%s; expected 1 and 4: record it like any other",
                  fl_ret(found), code_str(code));
    ck_assert_msg(chld_blocked_at_usr1 != 0,
                  "mp_reaper_install reaped the children that ended before "
                  "with SIGCHLD unblocked: the handler could run halfway "
                  "through and record into the same slot of the table. "
                  "Reap with SIGCHLD blocked (block_sigchld: sigemptyset, "
                  "sigaddset SIGCHLD, SIG_BLOCK), and restore the mask "
                  "only after the reaping");
}

// A child that ends with code as soon as it starts: vfork lends it our
// memory until it exits, so no pages are copied (cheap for a thousand
// children).  _Exit, not _exit, which coverage builds wrap with a dump of
// the counters, in our memory.
static pid_t __attribute__((noinline)) ended_child(int code)
{
    pid_t pid = vfork();
    if (pid == 0)
        _Exit(code);
    ck_assert_msg(pid > 0, "vfork failed: %s", strerror(errno));
    return pid;
}

// Pid 1 of a new pid namespace: two children are given pid 100 in turn,
// exiting with 10 then 11, and the reaper records both.  Returns 0 if the
// lookup gives the latest record, 1 if not, 77 if the pids cannot be
// chosen here.
static int
reuse_in_new_ns(void)
{
    if (mp_reaper_install() != 0)
        return 2;
    for (int k = 0; k < 2; k++) {
        if (fl_set_last_pid(99) < 0)
            return 77;
        pid_t c = fork();
        if (c == 0)
            _exit(10 + k);
        if (c != 100)
            return 77;
        long end = fl_now_ms() + 3000;
        while (mp_reaper_count() < k + 1 && fl_now_ms() < end)
            nap_ms(1);
        if (mp_reaper_count() != k + 1)
            return 2;
    }
    int code = 12345;
    return mp_reaper_lookup(100, &code) == 1 && code == 11 ? 0 : 1;
}

// In a child: a pid namespace of its own (in a user namespace of its own
// unless privileged), where pids can be chosen, and reuse_in_new_ns() in
// its first process.  Its result, or 77
// where namespaces are not allowed.
static int
reuse_a_pid(void *arg)
{
    (void)arg;
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGCHLD, &dfl, NULL);
    if (unshare(CLONE_NEWPID) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0)
        return 77;
    pid_t init = fork();
    if (init < 0)
        return 77;
    if (init == 0)
        _exit(reuse_in_new_ns());
    int status;
    while (waitpid(init, &status, 0) < 0)
        if (errno != EINTR)
            return 3;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

FL_TEST(test_mp_reaper_lookup_gives_each_childs_exit_code)
{
    install_or_fail();
    fl_gate_new(&gate, 0, GATE_LIMIT_MS);
    static int zero = 0, five = 5;
    pid_t kids[3] = {fl_raw_start(return_code, &zero),
                     fl_raw_start(return_code, &five),
                     fl_raw_start(wait_at_gate, NULL)};
    kill(kids[2], SIGKILL);
    int all = 1;
    for (int i = 0; i < 3; i++)
        all &= until_gone(kids[i], 3000);
    fl_gate_free(&gate);
    fl_kill_children();
    ck_assert_msg(all, "the SIGCHLD handler did not reap three children");
    int want[3] = {0, 5, -SIGKILL};
    for (int i = 0; i < 3; i++) {
        int code = 12345, found = mp_reaper_lookup(kids[i], &code);
        ck_assert_msg(found == 1 && code == want[i],
                      "mp_reaper_lookup of child %d gave %s and exit code "
                      "%s; expected 1 and %d%s",
                      i, fl_ret(found), code_str(code), want[i],
                      want[i] < 0 ? " (killed by SIGKILL: minus the signal)"
                                  : "");
    }
    fl_expect_int(mp_reaper_count(), 3, "mp_reaper_count after three children",
                  "One record per child reaped.");
    ck_assert_msg(!sigchld_blocked(),
                  "after mp_reaper_lookup found a child, SIGCHLD was still "
                  "blocked, so the handler can never run again: put the "
                  "old mask back on every way out (no return from inside "
                  "the search loop)");
    install_or_fail();
    int code = 12345, after = mp_reaper_count(), found = 0;
    for (int i = 0; i < 3; i++) // the stale records stay behind the count
        found += mp_reaper_lookup(kids[i], &code) != 0;
    ck_assert_msg(after == 0 && found == 0,
                  "after mp_reaper_install was called again, mp_reaper_count "
                  "gave %d and lookups found %d of the 3 children reaped "
                  "before; expected 0 and none: installing again empties "
                  "the table (set the count back to 0, with SIGCHLD "
                  "blocked), and a lookup searches only the records below "
                  "the count, from nreaped - 1 down to 0",
                  after, found);
    // The table's edge: MP_REAPER_MAX + 1 children end, one after the
    // other, and the handler reaps each.  Not always in that order: vfork
    // returns once the child has let go of our memory, a moment before it
    // is a zombie.
    static pid_t many[MP_REAPER_MAX + 1];
    for (int i = 0; i <= MP_REAPER_MAX; i++)
        many[i] = ended_child(i % 100);
    int reaped = 0;
    for (int i = 0; i <= MP_REAPER_MAX; i++)
        reaped += until_gone(many[i], 3000);
    int full = mp_reaper_count(), in_table = 0, wrong = -1, wrong_code = 0;
    for (int i = 0; i <= MP_REAPER_MAX; i++) {
        int code = 12345;
        if (mp_reaper_lookup(many[i], &code) == 1) {
            in_table++;
            if (code != i % 100 && wrong < 0) {
                wrong = i;
                wrong_code = code;
            }
        }
    }
    if (reaped <= MP_REAPER_MAX)
        fl_kill_children();
    ck_assert_msg(full == MP_REAPER_MAX && in_table == MP_REAPER_MAX &&
                      reaped == MP_REAPER_MAX + 1,
                  "after %d children ended, mp_reaper_count gave %d, "
                  "lookups in_table %d of them, and the handler had reaped "
                  "%d; expected %d, %d and all of them: the table holds "
                  "MP_REAPER_MAX records, so record while i < "
                  "MP_REAPER_MAX and count only what is recorded; the one "
                  "left over is reaped all the same",
                  MP_REAPER_MAX + 1, full, in_table, reaped, MP_REAPER_MAX,
                  MP_REAPER_MAX);
    ck_assert_msg(wrong < 0,
                  "with the table full, the lookup of child %d gave exit "
                  "code %s, expected %d",
                  wrong, code_str(wrong_code), wrong % 100);
    // The table is full; two more children end behind one SIGCHLD.
    sigset_t old;
    block_sigchld(&old);
    pid_t late[2] = {ended_child(1), ended_child(2)};
    until_zombies(late, 2, 3000);
    sigprocmask(SIG_SETMASK, &old, NULL);
    int late_gone = until_gone(late[0], 3000) + until_gone(late[1], 3000);
    fl_kill_children();
    ck_assert_msg(late_gone == 2,
                  "with the table full, two children ended behind one "
                  "SIGCHLD and %d of them stayed a zombie: a full table "
                  "stops the recording, never the reaping. Go on with "
                  "waitpid until it gives 0 or -1",
                  2 - late_gone);
    // A pid used again by a later child: the latest record counts.  Where
    // a pid namespace of our own lets us choose pids (else no check).
    mp_reaper_uninstall();
    pid_t reuser = fl_raw_start(reuse_a_pid, NULL);
    int status = 0, got = reuser > 0 ? waitpid(reuser, &status, 0) : -1;
    int result = got > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 77;
    ck_assert_msg(result == 0 || result == 77,
                  "two children were given the same pid one after the "
                  "other, exiting with 10 then 11, and mp_reaper_lookup of "
                  "that pid %s; expected 1 and exit code 11: pids are "
                  "reused, so search the table from the newest record back",
                  result == 1 ? "did not give 1 and 11"
                              : "could not be checked: the reaper failed");
}

FL_TEST(test_mp_reaper_lookup_rejects_bad_arguments)
{
    install_or_fail();
    int code = 12345;
    int zero = mp_reaper_lookup(0, &code);
    int neg = mp_reaper_lookup(-1, &code);
    int null = mp_reaper_lookup(getpid(), NULL);
    int none = mp_reaper_lookup(getpid(), &code);
    int init = mp_reaper_lookup(1, &code); // positive: valid, never reaped
    ck_assert_msg(zero == -EINVAL && neg == -EINVAL && null == -EINVAL &&
                      none == 0 && init == 0 && code == 12345,
                  "mp_reaper_lookup gave %s for pid 0, %s for pid -1, %s "
                  "for a NULL exitcode, %s for a pid never reaped and %s "
                  "for pid 1, and *exitcode went from 12345 to %d; "
                  "expected -EINVAL, -EINVAL, -EINVAL, 0 and 0 (only a pid "
                  "<= 0 is invalid), and *exitcode left alone when nothing "
                  "is found (write it only for a pid found)",
                  fl_ret(zero), fl_ret(neg), fl_ret(null), fl_ret(none),
                  fl_ret(init), code);
}

static void
on_chld_before(int sig)
{
    (void)sig;
}

FL_TEST(test_mp_reaper_uninstall_restores_the_previous_action)
{
    struct sigaction mine = {.sa_handler = on_chld_before}, now;
    sigemptyset(&mine.sa_mask);
    sigaction(SIGCHLD, &mine, NULL);
    install_or_fail();
    install_or_fail(); // the second must not save the reaper as "before"
    sigaction(SIGCHLD, NULL, &now);
    int ours = now.sa_handler != on_chld_before;
    static int six = 6;
    pid_t kid = fl_raw_start(return_code, &six);
    int kid_gone = until_gone(kid, 3000);
    int r = mp_reaper_uninstall();
    sigaction(SIGCHLD, NULL, &now);
    int again = mp_reaper_uninstall();
    int code = 12345, found = mp_reaper_lookup(kid, &code);
    int count = mp_reaper_count();
    fl_kill_children();
    ck_assert_msg(ours, "mp_reaper_install left SIGCHLD's handler as it was");
    ck_assert_msg(r == 0 && now.sa_handler == on_chld_before &&
                      again == -EINVAL,
                  "mp_reaper_uninstall returned %s and SIGCHLD's handler is "
                  "%s the one set before install (installed twice); a "
                  "second uninstall returned %s. Expected 0, the old "
                  "handler back (keep what sigaction gave you the first "
                  "time: a second install must not save its own handler "
                  "over it), and -EINVAL",
                  fl_ret(r), now.sa_handler == on_chld_before ? "" : "not",
                  fl_ret(again));
    ck_assert_msg(!kid_gone || (found == 1 && code == 6 && count == 1),
                  "after mp_reaper_uninstall, the lookup of a child the "
                  "handler had reaped gave %s with exit code %s, and "
                  "mp_reaper_count %d; expected 1, 6 and 1: uninstalling "
                  "keeps the table (errors.h), only installing empties it",
                  fl_ret(found), code_str(code), count);
}

/* ------------------------------------------------- cleanup on signals */

// Exit statuses of the children below, when they do not die by a signal.
enum {
    CHILD_NO_REGISTER = 20, // mp_cleanup_on_signal failed
    CHILD_NO_FD = 21,       // mp_signal_fd failed
    CHILD_RETURNED = 22,    // mp_signal_check returned after the signal
    CHILD_NO_SIGNAL = 23,   // no signal seen in 6 s
    CHILD_BYTE_FIRST = 24,  // a check as the byte went found no signal
};

// What a child's end says, for messages.
static const char *
child_said(int st)
{
    if (st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
        return "hung until the test killed it (does a read or a write on "
               "the self-pipe block? is the signal blocked?)";
    if (st == -1 || !WIFEXITED(st))
        return ended(st);
    switch (WEXITSTATUS(st)) {
    case CHILD_NO_REGISTER:
        return "exited: mp_cleanup_on_signal failed";
    case CHILD_NO_FD:
        return "exited: mp_signal_fd failed";
    case CHILD_RETURNED:
        return "lived on: mp_signal_check returned after the signal";
    case CHILD_NO_SIGNAL:
        return "exited: mp_signal_check saw no signal in 6 s";
    case CHILD_BYTE_FIRST:
        return "lived on: mp_signal_check, run as the handler was about to "
               "write its byte, found no signal recorded";
    default:
        return ended(st);
    }
}

static char shm_name[MP_SHM_NAME_MAX];

// Make a shared memory object named after base; its name is in shm_name.
static void
make_shm(const char *base)
{
    char b[64];
    snprintf(b, sizeof b, "%s-%d", base, (int)getpid());
    ck_assert_msg(mp_ipc_name(shm_name, sizeof shm_name, b) > 0,
                  "mp_ipc_name failed");
    int fd = shm_open(shm_name, O_CREAT | O_RDWR, 0600);
    ck_assert_msg(fd >= 0, "shm_open(%s) failed: %s", shm_name,
                  strerror(errno));
    close(fd);
}

// Whether the object is still there; removes it if so (the test's job).
static int
shm_left(void)
{
    int fd = shm_open(shm_name, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    close(fd);
    shm_unlink(shm_name);
    return 1;
}

// The main flow of a worker: poll the self-pipe, look at the flag, twice.
static void
stop_loop(int fd)
{
    for (int i = 0; i < 2; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, 3000); // EINTR is fine: the check comes next
        if (mp_signal_check() != 0)
            _exit(CHILD_RETURNED);
    }
    _exit(CHILD_NO_SIGNAL);
}

// The child: registers shm_name (when *register_it), says it is ready on
// ready[1], then waits for a signal in stop_loop.
struct stopper {
    int ready[2];
    int register_it;
};

static int
stoppable(void *arg)
{
    struct stopper *s = arg;
    close(s->ready[0]);
    if (s->register_it && mp_cleanup_on_signal(shm_name) != 0)
        return CHILD_NO_REGISTER;
    int fd = mp_signal_fd();
    if (fd < 0)
        return CHILD_NO_FD;
    if (fl_write_full(s->ready[1], "r", 1) != 0)
        return 1;
    close(s->ready[1]);
    stop_loop(fd);
    return 0;
}

// Start a stoppable child, send it sig once it is ready, and reap it:
// its raw status.  *left says whether shm_name was left behind.
static int
stop_child_with(int (*fn)(void *), int sig, int register_it, int *left)
{
    struct stopper s = {.register_it = register_it};
    pipe_or_fail(s.ready);
    fl_stray_hint("Here the worker waits for a stop signal: did "
                  "mp_signal_check call exit() after its cleanup, instead "
                  "of restoring SIG_DFL and raising the signal again? "
                  "exit() hides the signal from the parent, which must see "
                  "the worker killed by it.");
    pid_t pid = fl_raw_start(fn, &s);
    close(s.ready[1]);
    char c;
    ssize_t n;
    while ((n = read(s.ready[0], &c, 1)) < 0 && errno == EINTR)
        ;
    close(s.ready[0]);
    if (n == 1)
        kill(pid, sig);
    int st;
    wait_bounded(pid, 8000, &st);
    *left = shm_left();
    return st;
}

static int
stop_child(int sig, int register_it, int *left)
{
    return stop_child_with(stoppable, sig, register_it, left);
}

static char cancelled_first[MP_SHM_NAME_MAX], cancelled_name[MP_SHM_NAME_MAX];

// The child of the cancel test: registers cancelled_first (longer than the
// name registered after) and cancelled_name, the second in the table, and
// cancels both before it goes on as stoppable.  A cancel that keeps a name
// in the table removes cancelled_first; a check that walks one past the
// names it has removes cancelled_name, still in the slot after the last.
static int
cancel_then_stop(void *arg)
{
    if (mp_cleanup_on_signal(cancelled_first) != 0 ||
        mp_cleanup_on_signal(cancelled_name) != 0 || mp_cleanup_cancel() != 0)
        return CHILD_NO_REGISTER;
    return stoppable(arg);
}

static int
killed_by(int st, int sig)
{
    return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == sig;
}

// The likely mistake, from how a child sent sig ended.
static const char *
stop_hint(int st, int sig)
{
    if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == CHILD_RETURNED)
        return "raise() with on_stop still installed only calls on_stop "
               "again: restore SIG_DFL first";
    if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return "calling exit() hides the signal from the parent: restore "
               "SIG_DFL and raise() the signal again";
    if (st != -1 && WIFSIGNALED(st) && WTERMSIG(st) != sig &&
        WTERMSIG(st) != SIGKILL)
        return "raise the signal that came (stop_signal), not another";
    return "the cleanup runs in mp_signal_check, which then restores "
           "SIG_DFL and raises the same signal";
}

static char first_name[MP_SHM_NAME_MAX];

// stoppable, with first_name registered before shm_name: both must go.
static int
two_names_then_stop(void *arg)
{
    if (mp_cleanup_on_signal(first_name) != 0)
        return CHILD_NO_REGISTER;
    return stoppable(arg);
}

FL_TEST(test_mp_signal_check_removes_the_name_on_sigterm)
{
    default_stop_signals();
    // The first name is the longest that fits: MP_SHM_NAME_MAX - 1 bytes.
    make_shm("errors-term-first");
    shm_unlink(shm_name);
    size_t k = strlen(shm_name);
    memcpy(first_name, shm_name, k);
    memset(first_name + k, 'x', sizeof first_name - 1 - k);
    first_name[sizeof first_name - 1] = '\0';
    int made = shm_open(first_name, O_CREAT | O_RDWR, 0600);
    ck_assert_msg(made >= 0, "shm_open of a name of %d bytes failed: %s",
                  MP_SHM_NAME_MAX - 1, strerror(errno));
    close(made);
    make_shm("errors-term");
    int left, st = stop_child_with(two_names_then_stop, SIGTERM, 1, &left);
    int fd = shm_open(first_name, O_RDONLY, 0);
    int first_left = fd >= 0;
    if (fd >= 0) {
        close(fd);
        shm_unlink(first_name);
    }
    ck_assert_msg(!WIFEXITED(st) || WEXITSTATUS(st) != CHILD_NO_REGISTER,
                  "a worker registering a name of %d bytes, "
                  "MP_SHM_NAME_MAX - 1, %s; expected 0: the longest name "
                  "that fits with its NUL (-ENAMETOOLONG only from "
                  "MP_SHM_NAME_MAX bytes on)",
                  MP_SHM_NAME_MAX - 1, child_said(st));
    ck_assert_msg(left || !first_left,
                  "a worker that registered a name of %d bytes "
                  "(MP_SHM_NAME_MAX - 1), then another, was sent SIGTERM "
                  "and %s; the second name was removed, the long one left "
                  "in /dev/shm: keep the whole name, which fits with its "
                  "NUL in MP_SHM_NAME_MAX bytes",
                  MP_SHM_NAME_MAX - 1, child_said(st));
    ck_assert_msg(!left || first_left,
                  "a worker that registered two names was sent SIGTERM "
                  "and %s; the first name was removed, the second (%s) "
                  "left in /dev/shm: unlink every name this process "
                  "registered, not only the first",
                  child_said(st), shm_name);
    ck_assert_msg(!left && !first_left,
                  "a worker holding %s was sent SIGTERM and %s, and the "
                  "name was left in /dev/shm: install the handler for "
                  "SIGTERM as well as SIGINT, and shm_unlink in "
                  "mp_signal_check",
                  shm_name, child_said(st));
}

// A stoppable child that blocks SIGINT and SIGTERM once the signal has
// come, before it calls mp_signal_check (a critical section of its own,
// say).
static int
stoppable_then_blocked(void *arg)
{
    struct stopper *s = arg;
    close(s->ready[0]);
    if (mp_cleanup_on_signal(shm_name) != 0)
        return CHILD_NO_REGISTER;
    int fd = mp_signal_fd();
    if (fd < 0)
        return CHILD_NO_FD;
    if (fl_write_full(s->ready[1], "r", 1) != 0)
        return 1;
    close(s->ready[1]);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, 3000); // EINTR is fine: the check comes next
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (mp_signal_check() != 0)
        _exit(CHILD_RETURNED);
    _exit(CHILD_NO_SIGNAL);
}

FL_TEST(test_mp_signal_check_ends_the_process_by_sigterm)
{
    default_stop_signals();
    make_shm("errors-term-end");
    int left, st = stop_child(SIGTERM, 1, &left);
    ck_assert_msg(killed_by(st, SIGTERM),
                  "a worker sent SIGTERM %s; expected it killed by SIGTERM "
                  "(exit code -15) after its cleanup: %s",
                  child_said(st), stop_hint(st, SIGTERM));
    make_shm("errors-term-blocked");
    st = stop_child_with(stoppable_then_blocked, SIGTERM, 1, &left);
    ck_assert_msg(killed_by(st, SIGTERM),
                  "a worker sent SIGTERM, which then blocked SIGTERM before "
                  "calling mp_signal_check, %s; expected it killed by "
                  "SIGTERM (exit code -15). %s",
                  child_said(st),
                  st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == CHILD_RETURNED
                      ? "A signal raised while blocked only waits, pending: "
                        "after raise(), unblock it (sigprocmask "
                        "SIG_UNBLOCK), and it is delivered at once"
                      : stop_hint(st, SIGTERM));
}

// A do-nothing handler: the program's own, before it registers a name.
static void
own_handler(int sig)
{
    (void)sig;
}

// A stoppable child whose program had its own SIGINT handler before it
// registered: mp_cleanup_on_signal replaces it, and mp_signal_check must
// end the process by SIGINT all the same, with SIG_DFL, not the old one.
static int
stoppable_after_own_handler(void *arg)
{
    struct sigaction sa = {.sa_handler = own_handler};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    return stoppable(arg);
}

FL_TEST(test_mp_signal_check_removes_the_name_and_ends_by_sigint)
{
    default_stop_signals();
    make_shm("errors-int");
    int left, st = stop_child(SIGINT, 1, &left);
    ck_assert_msg(!left && killed_by(st, SIGINT),
                  "a worker sent SIGINT (Ctrl-C) %s, and its name was %s; "
                  "expected the name removed and the worker killed by "
                  "SIGINT (exit code -2): %s",
                  child_said(st), left ? "left in /dev/shm" : "removed",
                  left ? "install on_stop for SIGINT too, and shm_unlink "
                         "in mp_signal_check"
                       : stop_hint(st, SIGINT));
    make_shm("errors-int-blocked");
    st = stop_child_with(stoppable_then_blocked, SIGINT, 1, &left);
    ck_assert_msg(killed_by(st, SIGINT),
                  "a worker sent SIGINT, which then blocked SIGINT and "
                  "SIGTERM before calling mp_signal_check, %s; expected it "
                  "killed by SIGINT (exit code -2). %s",
                  child_said(st),
                  st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == CHILD_RETURNED
                      ? "Unblock the signal that came (sig), not always "
                        "SIGTERM: raised while blocked, it only waits"
                      : stop_hint(st, SIGINT));
    make_shm("errors-int-own");
    st = stop_child_with(stoppable_after_own_handler, SIGINT, 1, &left);
    ck_assert_msg(!left && killed_by(st, SIGINT),
                  "a worker with a SIGINT handler of its own, installed "
                  "before it registered its name, was sent SIGINT and %s, "
                  "and its name was %s; expected the name removed and the "
                  "worker killed by SIGINT (exit code -2). %s",
                  child_said(st), left ? "left in /dev/shm" : "removed",
                  st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == CHILD_RETURNED
                      ? "Before raising the signal again, install SIG_DFL, "
                        "not the action that was there before (old_int): "
                        "that one is a handler that returns, or SIG_IGN, "
                        "and the process lives on"
                      : stop_hint(st, SIGINT));
}

// In the child below, SIGUSR1 comes as on_stop is about to write its
// byte, and its handler calls mp_signal_check: what a thread polling
// mp_signal_fd() does once the byte lands, while the handler still runs
// in another thread.  The flag must already say which signal came.
static void
check_as_the_byte_goes(int sig)
{
    (void)sig;
    mp_signal_check(); // ends the process by SIGTERM when the flag is set
    _exit(CHILD_BYTE_FIRST);
}

static int
term_as_the_byte_goes(void *arg)
{
    (void)arg;
    if (mp_cleanup_on_signal("/fl-never-made") != 0)
        return CHILD_NO_REGISTER;
    struct sigaction sa = {.sa_handler = check_as_the_byte_goes};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    fl_fault_reset();
    fl_fault_signal_before("write", 1, SIGUSR1);
    raise(SIGTERM);
    mp_signal_check(); // (no write() in on_stop: the check comes here)
    return CHILD_RETURNED;
}

FL_TEST(test_mp_signal_fd_wakes_a_poll_for_a_signal_that_came_first)
{
    default_stop_signals();
    int r = mp_cleanup_on_signal("/fl-never-made");
    int fd = mp_signal_fd();
    struct sigaction now;
    sigaction(SIGTERM, NULL, &now);
    int caught = now.sa_handler != SIG_DFL && now.sa_handler != SIG_IGN;
    if (r != 0 || fd < 0 || !caught)
        mp_cleanup_cancel();
    ck_assert_msg(r == 0 && fd >= 0 && caught,
                  "mp_cleanup_on_signal returned %s and mp_signal_fd %s, "
                  "and SIGTERM has %s handler; expected 0, a descriptor, "
                  "and on_stop installed for SIGTERM",
                  fl_ret(r), fl_ret(fd), caught ? "a" : "no");
    raise(SIGTERM); // the handler runs here, before the poll starts
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, 0);
    mp_cleanup_cancel(); // forgets the signal: this test lives on
    ck_assert_msg(n == 1,
                  "SIGTERM arrived just before a poll of mp_signal_fd(), "
                  "and the poll found nothing to read: it would have waited "
                  "for ever. The handler must write a byte to the "
                  "self-pipe: a flag alone is missed by a poll that starts "
                  "after the signal");
    int st;
    wait_bounded(fl_raw_start(term_as_the_byte_goes, NULL), 3000, &st);
    ck_assert_msg(killed_by(st, SIGTERM),
                  "a worker got SIGTERM, and as on_stop was about to write "
                  "its byte to the self-pipe, mp_signal_check ran (as a "
                  "thread polling mp_signal_fd() does the moment the byte "
                  "lands, while the handler still runs in another thread); "
                  "the worker %s; expected it killed by SIGTERM. Record "
                  "the signal in stop_signal first, then write the byte: "
                  "a check woken by the byte that finds no signal empties "
                  "the pipe, returns 0, and the signal is lost.",
                  child_said(st));
}

FL_TEST(test_mp_cleanup_on_signal_gives_emfile_when_out_of_descriptors)
{
    default_stop_signals();
    int lowest = open("/dev/null", O_RDONLY); // the lowest free number
    close(lowest);
    struct rlimit old, lim;
    getrlimit(RLIMIT_NOFILE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)lowest; // every number below it is in use
    setrlimit(RLIMIT_NOFILE, &lim);
    int r = mp_cleanup_on_signal("/fl-never-made");
    setrlimit(RLIMIT_NOFILE, &old);
    struct sigaction now;
    sigaction(SIGTERM, NULL, &now);
    int fd = mp_signal_fd();
    mp_cleanup_cancel();
    fl_expect_int(r, -EMFILE,
                  "mp_cleanup_on_signal with no descriptor left for the "
                  "self-pipe (RLIMIT_NOFILE)",
                  "pipe() fails: return -errno.");
    ck_assert_msg(now.sa_handler == SIG_DFL && fd == -EBADF,
                  "after the failed registration, SIGTERM %s and "
                  "mp_signal_fd gives %s; expected nothing installed and "
                  "-EBADF: make the pipe first, then install the handlers",
                  now.sa_handler == SIG_DFL ? "is as it was" : "has a handler",
                  fl_ret(fd));
    // Descriptor 0 free, as in a program started without stdin: the
    // self-pipe's reading end is 0, a descriptor like any other.
    int stdin_copy = dup(0);
    close(0);
    int first = mp_cleanup_on_signal("/fl-never-made");
    int zero = mp_signal_fd();
    int free_before = open("/dev/null", O_RDONLY);
    close(free_before);
    int second = mp_cleanup_on_signal("/fl-never-made-either");
    int free_after = open("/dev/null", O_RDONLY);
    close(free_after);
    mp_cleanup_cancel();
    sigaction(SIGINT, NULL, &now);
    dup2(stdin_copy, 0);
    close(stdin_copy);
    ck_assert_msg(first == 0 && second == 0 && zero == 0,
                  "with descriptor 0 free, mp_cleanup_on_signal gave %s and "
                  "%s, and mp_signal_fd %s; expected 0, 0 and 0: the "
                  "self-pipe's reading end is 0, and 0 is a descriptor "
                  "(test for none with < 0, never <= 0)",
                  fl_ret(first), fl_ret(second), fl_ret(zero));
    ck_assert_msg(
        free_after == free_before && now.sa_handler == SIG_DFL,
        "with the self-pipe on descriptor 0, a second "
        "registration %s, and after the cancel SIGINT %s: make "
        "the pipe and install the handlers once, while there is "
        "no pipe yet: test self_pipe[0] < 0, since 0 is a "
        "descriptor like any other",
        free_after != free_before ? "made another pipe" : "made no new pipe",
        now.sa_handler == SIG_DFL ? "was as before" : "still had a handler");
}

// A child that takes more SIGTERMs than its self-pipe holds.
static int
flood_of_signals(void *arg)
{
    (void)arg;
    if (mp_cleanup_on_signal(shm_name) != 0)
        return CHILD_NO_REGISTER;
    int fd = mp_signal_fd();
    if (fd < 0)
        return CHILD_NO_FD;
    fcntl(fd, F_SETPIPE_SZ, 4096); // one page: quicker to fill
    int size = fcntl(fd, F_GETPIPE_SZ);
    int count = (size > 0 ? size : 65536) + 64;
    for (int i = 0; i < count; i++)
        raise(SIGTERM);
    mp_signal_check();
    return CHILD_RETURNED;
}

// Register the cleanup on SIGTERM and SIGINT (their handlers the
// default first) and return the self-pipe's reading end; fails the test,
// the registration undone, if either step fails.
static int
registered_self_pipe(void)
{
    default_stop_signals();
    int r = mp_cleanup_on_signal("/fl-never-made");
    int fd = mp_signal_fd();
    if (r != 0 || fd < 0)
        mp_cleanup_cancel();
    ck_assert_msg(r == 0 && fd >= 0,
                  "mp_cleanup_on_signal returned %s and mp_signal_fd %s; "
                  "expected 0 and a descriptor",
                  fl_ret(r), fl_ret(fd));
    return fd;
}

// The self-pipe is filled first, so that the handler's write fails with
// EAGAIN: the errno the interrupted code had must still be there.
FL_TEST(test_mp_cleanup_on_signal_handler_keeps_errno)
{
    int fd = registered_self_pipe();
    fcntl(fd, F_SETPIPE_SZ, 4096); // one page: quicker to fill
    int size = fcntl(fd, F_GETPIPE_SZ);
    int count = (size > 0 ? size : 65536) + 1;
    for (int i = 0; i < count; i++)
        raise(SIGTERM);
    errno = ERANGE;
    raise(SIGTERM); // the handler's write into the full pipe fails
    int seen = errno;
    mp_cleanup_cancel(); // the signals are forgotten, not acted on
    ck_assert_msg(seen == ERANGE,
                  "errno was ERANGE (%d) when SIGTERM came, and %d (%s) "
                  "after its handler ran (the self-pipe was full, so the "
                  "handler's write failed). A handler must leave errno as "
                  "it found it: save errno on entry, restore it on the way "
                  "out.",
                  ERANGE, seen, strerror(seen));
}

FL_TEST(test_mp_cleanup_on_signal_survives_a_flood_of_signals)
{
    default_stop_signals();
    make_shm("errors-flood");
    pid_t pid = fl_raw_start(flood_of_signals, NULL);
    int st;
    int done = wait_bounded(pid, 4000, &st);
    shm_left();
    ck_assert_msg(done,
                  "a worker that got more SIGTERMs than its self-pipe "
                  "holds (a pipe of one page, 4 KiB) hung for 4 s: the "
                  "handler blocked writing to the full pipe, and a handler "
                  "that blocks never returns. Make both ends O_NONBLOCK "
                  "(fcntl F_SETFL): when the pipe is full, the byte is not "
                  "needed");
    ck_assert_msg(killed_by(st, SIGTERM),
                  "after a flood of SIGTERMs the worker %s; expected it "
                  "killed by SIGTERM: %s",
                  child_said(st), stop_hint(st, SIGTERM));
}

FL_TEST(test_mp_signal_check_leaves_the_parents_names_alone)
{
    default_stop_signals();
    make_shm("errors-parent");
    int r = mp_cleanup_on_signal(shm_name); // the test owns it
    if (r != 0)
        shm_left();
    ck_assert_msg(r == 0, "mp_cleanup_on_signal returned %s, expected 0",
                  fl_ret(r));
    int left, st = stop_child(SIGTERM, 0, &left); // inherits the handler
    // A child that registers the same name itself owns it as well.
    make_shm("errors-parent");
    int mine, st2 = stop_child(SIGTERM, 1, &mine);
    mp_cleanup_cancel();
    ck_assert_msg(!mine && killed_by(st2, SIGTERM),
                  "a forked child registered %s itself (its parent had "
                  "too), got SIGTERM and %s, and the name was %s; expected "
                  "it removed: the parent's entry is not the child's own. "
                  "Look for a name this process registered (same owner "
                  "pid) before taking it as registered already",
                  shm_name, child_said(st2), mine ? "left" : "removed");
    ck_assert_msg(left,
                  "a forked child got SIGTERM and removed %s, which its "
                  "parent registered and still uses: keep the pid that "
                  "registered each name (getpid()), and unlink only the "
                  "names this process owns",
                  shm_name);
    ck_assert_msg(killed_by(st, SIGTERM),
                  "the child that inherited the handler %s; expected it "
                  "killed by SIGTERM anyway: %s",
                  child_said(st), stop_hint(st, SIGTERM));
}

// A forked child that shares the self-pipe: SIGTERM runs the inherited
// handler in it, which writes a byte each time, until the pipe is full
// (its size is in *arg); then it ends without a check.
static int
term_self_until_full(void *arg)
{
    for (int i = 0; i <= *(int *)arg; i++)
        raise(SIGTERM);
    return 0;
}

// A child that registers a name, then gets SIGTERM at the worst moment:
// as mp_signal_check starts emptying the self-pipe, before its first
// read.  That read takes the signal's byte.
static int
term_while_emptying(void *arg)
{
    (void)arg;
    if (mp_cleanup_on_signal("/fl-never-made") != 0)
        return CHILD_NO_REGISTER;
    fl_fault_reset();
    fl_fault_signal_before("read", 1, SIGTERM);
    mp_signal_check();
    return CHILD_RETURNED;
}

FL_TEST(test_mp_signal_check_empties_the_self_pipe)
{
    // Descriptor 0 free: the self-pipe's reading end is 0, to be emptied
    // like any other.
    int stdin_copy = dup(0);
    close(0);
    int fd = registered_self_pipe();
    // Two pages of bytes: more than one read of any sink up to 4 KiB.
    fcntl(fd, F_SETPIPE_SZ, 8192);
    int size = fcntl(fd, F_GETPIPE_SZ);
    if (size <= 0 || size > 65536)
        size = 65536;
    fl_reap(fl_raw_start(term_self_until_full, &size));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int before = poll(&p, 1, 0);
    int got = mp_signal_check(); // no signal came to this process
    p.revents = 0;
    int after = poll(&p, 1, 0);
    mp_cleanup_cancel();
    dup2(stdin_copy, 0);
    close(stdin_copy);
    ck_assert_msg(before == 1,
                  "a forked child that shares the self-pipe got SIGTERM, "
                  "yet mp_signal_fd() was not readable: the handler must "
                  "write a byte to the self-pipe");
    fl_expect_int(got, 0,
                  "mp_signal_check in the parent, after only its child got "
                  "SIGTERM",
                  "no signal came to this process: return 0");
    ck_assert_msg(after == 0,
                  "after mp_signal_check returned 0, mp_signal_fd() was "
                  "still readable (a child's signals had filled it with "
                  "%d bytes): a caller that polls it would wake again at "
                  "once, for ever (a busy loop). mp_signal_check must "
                  "empty the self-pipe (read in a loop until it fails "
                  "with EAGAIN; one read of a small buffer is not enough) "
                  "before it looks at the flag. Here the self-pipe's "
                  "reading end was descriptor %d: a descriptor like any "
                  "other (test for none with < 0, never <= 0).",
                  size, fd);
    int st;
    wait_bounded(fl_raw_start(term_while_emptying, NULL), 3000, &st);
    ck_assert_msg(killed_by(st, SIGTERM),
                  "a worker got SIGTERM just as mp_signal_check began to "
                  "empty the self-pipe, before its first read, and %s; "
                  "expected it killed by SIGTERM. Empty the self-pipe "
                  "first, then look at the flag: a flag looked at first "
                  "is still 0, and the emptying then swallows the "
                  "signal's byte, so no poll wakes for it again.",
                  child_said(st));
}

FL_TEST(test_mp_signal_check_returns_0_when_no_signal_came)
{
    default_stop_signals();
    make_shm("errors-quiet");
    int r = mp_cleanup_on_signal(shm_name);
    int fd = mp_signal_fd();
    int check = mp_signal_check();
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int readable = fd >= 0 && poll(&p, 1, 0) == 1;
    mp_cleanup_cancel();
    int left = shm_left();
    ck_assert_msg(r == 0 && fd >= 0,
                  "mp_cleanup_on_signal returned %s and mp_signal_fd %s; "
                  "expected 0 and a descriptor",
                  fl_ret(r), fl_ret(fd));
    ck_assert_msg(check == 0 && !readable && left,
                  "with no signal, mp_signal_check returned %s, the "
                  "self-pipe was %s and the name was %s; expected 0, empty "
                  "and still there",
                  fl_ret(check), readable ? "readable" : "empty",
                  left ? "still there" : "removed");
}

FL_TEST(test_mp_cleanup_on_signal_rejects_bad_names)
{
    default_stop_signals();
    char longest[MP_SHM_NAME_MAX + 1];
    memset(longest, 'a', sizeof longest - 1);
    longest[0] = '/';
    longest[sizeof longest - 1] = '\0';
    int null = mp_cleanup_on_signal(NULL);
    int slash = mp_cleanup_on_signal("no-slash");
    int lng = mp_cleanup_on_signal(longest);
    int r[MP_CLEANUP_MAX + 1];
    char name[32];
    int twice = mp_cleanup_on_signal("/fl-never-made-0");
    for (int i = 0; i <= MP_CLEANUP_MAX; i++) {
        snprintf(name, sizeof name, "/fl-never-made-%d", i);
        r[i] = mp_cleanup_on_signal(name);
    }
    int again_full = mp_cleanup_on_signal("/fl-never-made-0");
    mp_cleanup_cancel();
    ck_assert_msg(null == -EINVAL && slash == -EINVAL && lng == -ENAMETOOLONG,
                  "mp_cleanup_on_signal gave %s for NULL, %s for a name "
                  "without '/' and %s for one of %d bytes; expected "
                  "-EINVAL, -EINVAL and -ENAMETOOLONG",
                  fl_ret(null), fl_ret(slash), fl_ret(lng), MP_SHM_NAME_MAX);
    ck_assert_msg(twice == 0 && r[0] == 0 && r[MP_CLEANUP_MAX - 1] == 0 &&
                      r[MP_CLEANUP_MAX] == -ENOSPC,
                  "registering a name twice gave %s then %s, the %dth "
                  "name %s and the one after %s; expected 0, 0, 0 (a name "
                  "registered again takes no room) and -ENOSPC",
                  fl_ret(twice), fl_ret(r[0]), MP_CLEANUP_MAX,
                  fl_ret(r[MP_CLEANUP_MAX - 1]), fl_ret(r[MP_CLEANUP_MAX]));
    ck_assert_msg(again_full == 0,
                  "with %d names registered, registering one of them again "
                  "gave %s; expected 0: it is registered already and takes "
                  "no room. Look for the name before testing for room.",
                  MP_CLEANUP_MAX, fl_ret(again_full));
}

static void
on_term_before(int sig)
{
    (void)sig;
}

FL_TEST(test_mp_cleanup_cancel_restores_the_old_actions)
{
    struct sigaction term = {.sa_handler = on_term_before}, now_t, now_i;
    sigemptyset(&term.sa_mask);
    sigaction(SIGTERM, &term, NULL);
    signal(SIGINT, SIG_IGN);
    int r = mp_cleanup_on_signal("/fl-never-made");
    int c = mp_cleanup_cancel();
    sigaction(SIGTERM, NULL, &now_t);
    sigaction(SIGINT, NULL, &now_i);
    int fd = mp_signal_fd();
    signal(SIGTERM, SIG_IGN); // the caller's own choice, after the cancel
    int again = mp_cleanup_cancel();
    struct sigaction later;
    sigaction(SIGTERM, NULL, &later);
    ck_assert_msg(r == 0 && c == 0 && again == 0,
                  "mp_cleanup_on_signal returned %s, mp_cleanup_cancel %s "
                  "and %s the second time; expected 0 each time",
                  fl_ret(r), fl_ret(c), fl_ret(again));
    ck_assert_msg(now_t.sa_handler == on_term_before &&
                      now_i.sa_handler == SIG_IGN && fd == -EBADF,
                  "after mp_cleanup_cancel, SIGTERM's handler is %s the one "
                  "set before, SIGINT is %s, and mp_signal_fd gives %s; "
                  "expected both actions back as they were (keep what "
                  "sigaction gave you) and -EBADF (the self-pipe closed)",
                  now_t.sa_handler == on_term_before ? "" : "not",
                  now_i.sa_handler == SIG_IGN ? "ignored again" : "not ignored",
                  fl_ret(fd));
    ck_assert_msg(later.sa_handler == SIG_IGN,
                  "the test set SIGTERM to SIG_IGN after mp_cleanup_cancel, "
                  "called mp_cleanup_cancel again, and SIGTERM's action "
                  "changed; expected it left alone: with nothing registered "
                  "there is nothing to put back (return 0 first)");
}

/* ------------------------- error paths, EINTR and limits (issue 13) */

// A worker registers one name, cancels, registers a second and gets
// SIGTERM: only the second may go.
FL_TEST(test_mp_cleanup_cancel_forgets_the_names)
{
    default_stop_signals();
    // The cancelled name is the longer: a copy of the second one without
    // its NUL would keep the first one's tail.
    make_shm("errors-cancelled-first-and-kept");
    snprintf(cancelled_first, sizeof cancelled_first, "%s", shm_name);
    make_shm("errors-cancelled-and-kept");
    snprintf(cancelled_name, sizeof cancelled_name, "%s", shm_name);
    make_shm("errors-after-cancel");
    int left, st = stop_child_with(cancel_then_stop, SIGTERM, 1, &left);
    int kept[2];
    const char *cancelled[2] = {cancelled_first, cancelled_name};
    for (int i = 0; i < 2; i++) {
        int fd = shm_open(cancelled[i], O_RDONLY, 0);
        kept[i] = fd >= 0;
        if (fd >= 0) {
            close(fd);
            shm_unlink(cancelled[i]);
        }
    }
    ck_assert_msg(kept[0] && kept[1],
                  "a worker registered %s and %s, called mp_cleanup_cancel, "
                  "registered another name and was sent SIGTERM (it %s): "
                  "the cancelled name %s was removed too. "
                  "mp_cleanup_cancel forgets every name (nnames = 0), and "
                  "mp_signal_check unlinks only the names below the count: "
                  "a cancelled name is the caller's again, to keep or to "
                  "unlink.",
                  cancelled_first, cancelled_name, child_said(st),
                  kept[0] ? "second" : "first");
    ck_assert_msg(!left && killed_by(st, SIGTERM),
                  "a worker that registered %s after a cancel was sent "
                  "SIGTERM and %s; the name was %s. Expected it removed and "
                  "the worker killed by SIGTERM: %s%s",
                  shm_name, child_said(st), left ? "left" : "removed",
                  stop_hint(st, SIGTERM),
                  left && killed_by(st, SIGTERM)
                      ? " (the name before it was longer: copy the new "
                        "name with its NUL, or the table keeps the old "
                        "name's tail)"
                      : "");
}

// The child of the test below: SIGTERM comes while a name is registered
// and is never looked at; the program cancels, registers another name and
// checks.  Exits 0 when that check finds nothing.
static int
signal_then_cancel(void *arg)
{
    (void)arg;
    if (mp_cleanup_on_signal("/fl-never-made-before") != 0)
        return CHILD_NO_REGISTER;
    raise(SIGTERM); // on_stop records it, at once: nothing else runs
    if (mp_cleanup_cancel() != 0 ||
        mp_cleanup_on_signal("/fl-never-made-after") != 0)
        return CHILD_NO_REGISTER;
    int r = mp_signal_check();
    mp_cleanup_cancel();
    return r == 0 ? 0 : CHILD_RETURNED;
}

FL_TEST(test_mp_cleanup_cancel_forgets_a_signal_that_came_before)
{
    default_stop_signals();
    pid_t pid = fl_raw_start(signal_then_cancel, NULL);
    int st;
    wait_bounded(pid, 4000, &st);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "a worker got SIGTERM while a name was registered, called "
                  "mp_cleanup_cancel, registered another name, and its next "
                  "mp_signal_check %s; expected it to return 0 and the "
                  "worker to go on. The signal came before the cancel, "
                  "which forgets it with the names: clear stop_signal in "
                  "mp_cleanup_cancel too.",
                  st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM
                      ? "killed it by the old SIGTERM"
                      : child_said(st));
}

// The header: no SA_RESTART, so that a slow call in the main flow fails
// with EINTR and the program gets to look at the flag.
FL_TEST(test_mp_cleanup_on_signal_installs_handlers_without_sa_restart)
{
    default_stop_signals();
    struct sigaction t, i;
    int r = mp_cleanup_on_signal("/fl-never-made");
    sigaction(SIGTERM, NULL, &t);
    sigaction(SIGINT, NULL, &i);
    mp_cleanup_cancel();
    ck_assert_msg(r == 0, "mp_cleanup_on_signal returned %s, expected 0",
                  fl_ret(r));
    ck_assert_msg(t.sa_handler != SIG_DFL && i.sa_handler != SIG_DFL,
                  "after mp_cleanup_on_signal, SIGTERM's handler is %s and "
                  "SIGINT's %s; expected both caught",
                  t.sa_handler == SIG_DFL ? "SIG_DFL" : "set",
                  i.sa_handler == SIG_DFL ? "SIG_DFL" : "set");
    ck_assert_msg(!(t.sa_flags & SA_RESTART) && !(i.sa_flags & SA_RESTART),
                  "the SIGTERM handler was installed %s SA_RESTART and the "
                  "SIGINT one %s; expected neither: with SA_RESTART a read "
                  "or wait in the main flow goes on after the signal, and "
                  "the program never gets to call mp_signal_check.",
                  t.sa_flags & SA_RESTART ? "with" : "without",
                  i.sa_flags & SA_RESTART ? "with" : "without");
}

FL_TEST(test_mp_collect_reaps_every_worker_despite_eintr)
{
    int fds[2];
    pipe_or_fail(fds);
    int want[3] = {0, 3, 5};
    pid_t pids[3];
    for (int i = 0; i < 3; i++)
        pids[i] = fl_raw_start(return_code, &want[i]);
    close(fds[1]);
    for (int i = 0; i < 3; i++)
        until_zombie(pids[i], 2000);
    fl_fault_reset();
    fl_fault_eintr("read", 1);
    fl_fault_eintr("waitpid", 2);
    int codes[3] = {12345, 12345, 12345};
    int n = mp_collect(fds[0], pids, 3, codes, NULL, 0);
    fl_fault_reset();
    close(fds[0]);
    int zombies = 0;
    for (int i = 0; i < 3; i++)
        zombies += fl_zombie(pids[i]);
    if (zombies > 0)
        fl_kill_children();
    fl_expect_int(n, 0,
                  "mp_collect of three workers, its first read and second "
                  "waitpid interrupted by a signal (EINTR)",
                  "EINTR means 'a handler ran': call read or waitpid again, "
                  "in every loop, not only in one");
    ck_assert_msg(
        zombies == 0 && codes[0] == 0 && codes[1] == 3 && codes[2] == 5,
        "after one interrupted waitpid, %d worker(s) were left "
        "zombies and the codes were %s, %s, %s (expected 0, 3, "
        "5): reap_one must call waitpid again after EINTR",
        zombies, code_str(codes[0]), code_str(codes[1]), code_str(codes[2]));
}

// A task whose message is as long as its index says: 0: 254 bytes;
// 1: 255 (MP_ERR_MAX - 1, the longest); 2: the whole buffer, no NUL.
static int
long_message(int index, void *arg, char *msg, size_t cap)
{
    (void)arg;
    if (index == 2) {
        memset(msg, 'c', cap);
        return -1;
    }
    size_t len = index == 0 ? MP_ERR_MAX - 2 : MP_ERR_MAX - 1;
    memset(msg, index == 0 ? 'a' : 'b', len);
    msg[len] = '\0';
    return -1;
}

FL_TEST(test_mp_collect_takes_messages_up_to_mp_err_max_minus_1_bytes)
{
    int fds[2];
    pipe_or_fail(fds);
    pid_t pids[3];
    for (int i = 0; i < 3; i++)
        pids[i] = start_worker(long_message, i, NULL, fds[1]);
    close(fds[1]);
    int codes[3];
    mp_error errs[3];
    memset(errs, 0, sizeof errs);
    int n = mp_collect(fds[0], pids, 3, codes, errs, 3);
    close(fds[0]);
    size_t len[3] = {0, 0, 0};
    for (int i = 0; i < n && i < 3; i++)
        if (errs[i].index >= 0 && errs[i].index < 3)
            len[errs[i].index] = strnlen(errs[i].message, MP_ERR_MAX);
    fl_expect_int(n, 3,
                  "records from tasks whose messages are 254 bytes, 255 "
                  "bytes and the whole 256-byte buffer without a NUL",
                  n == -EPROTO
                      ? "a record was refused: the longest message is "
                        "MP_ERR_MAX - 1 (255) bytes, so the reader allows "
                        "len <= 255 (refuses > 255, not >= 255), and the "
                        "worker cuts what it sends with strnlen(msg, "
                        "MP_ERR_MAX - 1)"
                      : "");
    ck_assert_msg(len[0] == MP_ERR_MAX - 2 && len[1] == MP_ERR_MAX - 1 &&
                      len[2] == MP_ERR_MAX - 1,
                  "the messages came back %zu, %zu and %zu bytes long; "
                  "expected 254, 255 and 255 (the full buffer cut to "
                  "MP_ERR_MAX - 1)",
                  len[0], len[1], len[2]);
}

// In a child whose stdout is a pipe (so fully buffered): print a line
// without flushing, run a worker whose task prints a line too, collect.
// The same again on side, a second stream on stdout's pipe: fflush(NULL)
// flushes every stream, fflush(stdout) only one.
static FILE *side;

static int
print_run_print(int index, void *arg, char *msg, size_t cap)
{
    (void)index, (void)arg, (void)msg, (void)cap;
    printf("from the task\n");
    fprintf(side, "task, on the side\n");
    return 0;
}

static int
print_and_fail(int index, void *arg, char *msg, size_t cap)
{
    (void)index, (void)arg;
    printf("from the failing task\n");
    snprintf(msg, cap, "failed after printing");
    return 1;
}

static int
buffered_then_worker(void *arg)
{
    (void)arg;
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    side = fdopen(dup(STDOUT_FILENO), "w");
    if (side == NULL)
        return -1;
    printf("before the worker\n");
    fprintf(side, "before, on the side\n");
    pid_t pids[2];
    pids[0] = mp_run_worker(print_run_print, 0, NULL, fds[1]);
    pids[1] = mp_run_worker(print_and_fail, 1, NULL, fds[1]);
    close(fds[1]);
    if (pids[0] < 0 || pids[1] < 0)
        return (int)(pids[0] < 0 ? pids[0] : pids[1]);
    int codes[2] = {12345, 12345};
    int n = mp_collect(fds[0], pids, 2, codes, NULL, 0);
    close(fds[0]);
    fclose(side);
    // 0 when the first worker exited with 0 and the second with 1 after
    // sending its record; else what went wrong.
    return n < 0           ? n
           : n != 1        ? 100 + n
           : codes[0] != 0 ? codes[0]
                           : codes[1] - 1;
}

FL_TEST(test_mp_run_worker_prints_buffered_output_once)
{
    fl_child res;
    fl_run_in_child(buffered_then_worker, NULL, 3000, 1, &res);
    int before = fl_count_of(res.out, "before the worker");
    int task = fl_count_of(res.out, "from the task");
    int failing = fl_count_of(res.out, "from the failing task");
    ck_assert_msg(res.returned && res.value == 0,
                  "printing, then running a worker that succeeds and one "
                  "that fails and collecting them, %s (0 expected: exit "
                  "codes 0 and 1, one record)",
                  res.returned ? fl_ret(res.value) : "did not return");
    ck_assert_msg(before == 1,
                  "a line printed (not yet flushed) before mp_run_worker "
                  "came out %d times, expected once: fflush(NULL) before "
                  "fork(), or the worker inherits the buffer and flushes "
                  "it again",
                  before);
    ck_assert_msg(task == 1,
                  "the line the task printed came out %d times, expected "
                  "once: the worker must fflush(NULL) before _exit, which "
                  "does not flush stdio",
                  task);
    ck_assert_msg(failing == 1,
                  "the line printed by a task that then failed came out %d "
                  "times, expected once: the worker must fflush(NULL) on "
                  "the failure path too, before sending the record and "
                  "_exit(1), which does not flush stdio",
                  failing);
    int side_before = fl_count_of(res.out, "before, on the side");
    int side_task = fl_count_of(res.out, "task, on the side");
    ck_assert_msg(side_before == 1 && side_task == 1,
                  "with a second stream open besides stdout (a FILE on "
                  "the same pipe), its line printed before mp_run_worker "
                  "came out %d times and the task's %d times, expected "
                  "once each: fflush(NULL) flushes every stream, "
                  "fflush(stdout) only stdout, before fork() and before "
                  "the worker's _exit alike",
                  side_before, side_task);
}

FL_TEST(test_mp_run_worker_gives_the_errno_of_a_failed_fork)
{
    static const int errs[2] = {EAGAIN, ENOMEM};
    int fds[2];
    pipe_or_fail(fds);
    for (int i = 0; i < 2; i++) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        fl_fault_reset();
        fl_fault_fail("fork", 1, errs[i]);
        pid_t pid = mp_run_worker(fail_with, 0, NULL, fds[1]);
        fl_fault_reset();
        char what[64];
        snprintf(what, sizeof what, "mp_run_worker with fork() failing (%s)",
                 strerror(errs[i]));
        fl_expect_int(pid, -errs[i], what,
                      "fork() returns -1 and sets errno: return -errno, not "
                      "the -1 (which reads as -EPERM)");
        fl_expect_no_leak(&s, what);
    }
    close(fds[0]);
    close(fds[1]);
}

FL_TEST(test_mp_cleanup_on_signal_makes_its_pipe_close_on_exec_and_non_blocking)
{
    default_stop_signals();
    fl_snapshot s;
    fl_snapshot_take(&s);
    int r = mp_cleanup_on_signal("/fl-never-made");
    int n = 0, bad = -1, flags = 0, fdflags = 0;
    for (int fd = 0; fd < FL_SNAP_FDS; fd++) {
        if (s.fds[fd] || (fdflags = fcntl(fd, F_GETFD)) < 0)
            continue;
        n++;
        flags = fcntl(fd, F_GETFL);
        if (bad < 0 && (!(fdflags & FD_CLOEXEC) || !(flags & O_NONBLOCK)))
            bad = fd;
        if (bad == fd)
            break;
    }
    mp_cleanup_cancel();
    fl_expect_int(r, 0, "mp_cleanup_on_signal", "");
    fl_expect_int(n >= 2 || bad >= 0, 1,
                  "new descriptors found after mp_cleanup_on_signal",
                  "the self-pipe: two ends");
    ck_assert_msg(bad < 0,
                  "descriptor %d of the self-pipe is %s and %s; expected "
                  "both ends close-on-exec (FD_CLOEXEC, with F_SETFD: a "
                  "program the process execs must not inherit them) and "
                  "non-blocking (O_NONBLOCK, with F_SETFL)",
                  bad,
                  fdflags & FD_CLOEXEC ? "close-on-exec" : "NOT close-on-exec",
                  flags & O_NONBLOCK ? "non-blocking" : "BLOCKING");
}

// A worker that sends a broken record (a length of 5000), then more than
// a pipe holds: flood()'s 80 KiB.  Exit status 3 if it gave up writing.
static int
broken_then_flood(void *arg)
{
    unsigned char rec[MP_ERR_HEADER];
    fl_put_be32(rec, 5000);
    fl_put_be32(rec + 4, 0);
    if (fl_write_full(*(int *)arg, rec, sizeof rec) < 0)
        return 2;
    return flood(arg);
}

FL_TEST(test_mp_collect_drains_the_pipe_after_a_broken_record)
{
    // The first read after the header's gives 100 bytes, or fails with
    // EINTR: a pipe read may do either at any time, and neither is EOF.
    static const char *const how[2] = {"was cut to 100 bytes",
                                       "failed with EINTR"};
    for (int k = 0; k < 2; k++) {
        int fds[2];
        pipe_or_fail(fds);
        pid_t pid = fl_raw_start(broken_then_flood, &fds[1]);
        close(fds[1]);
        int code = 12345;
        fl_fault_reset();
        if (k == 0)
            fl_fault_short("read", 2, 100);
        else
            fl_fault_eintr("read", 2);
        int n = mp_collect(fds[0], &pid, 1, &code, NULL, 0);
        fl_fault_reset();
        close(fds[0]);
        if (fl_zombie(pid) || fl_alive(pid))
            fl_kill_children();
        fl_expect_int(n, -EPROTO,
                      "mp_collect after a record announcing 5000 "
                      "bytes",
                      "");
        ck_assert_msg(code == 0,
                      "the worker's exit code is %s, expected 0%s%s%s",
                      code_str(code),
                      code == 3 ? ": it could not write for 2 s and gave "
                                  "up. After a broken record, drain the "
                                  "pipe to EOF before reaping: a worker "
                                  "blocked on a full pipe never exits. "
                                  "Here the first read of the drain "
                                : "",
                      code == 3 ? how[k] : "",
                      code == 3 ? ": a short read, or EINTR, is no EOF; "
                                  "only a read of 0 bytes is"
                                : "");
    }
}

static volatile sig_atomic_t usr1_seen;

static void
count_usr1(int sig)
{
    (void)sig;
    usr1_seen++;
}

FL_TEST(test_mp_reaper_install_leaves_sigchld_unblocked_when_it_fails)
{
    static int five = 5;
    // A child that ended before: an install that fails must leave it to
    // the caller's own waitpid, not reap it for a handler never put in.
    pid_t kid = fl_raw_start(return_code, &five);
    until_zombie(kid, 3000);
    fl_fault_reset();
    fl_fault_fail("sigaction", 1, EINVAL);
    int r = mp_reaper_install();
    fl_fault_reset();
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    int blocked = sigismember(&now, SIGCHLD);
    int undo = mp_reaper_uninstall();
    int kid_left = fl_zombie(kid);
    fl_reap(kid);
    ck_assert_msg(kid_left,
                  "a child that had ended (a zombie) was reaped by an "
                  "mp_reaper_install whose sigaction failed: the caller's "
                  "waitpid now fails with ECHILD. Reap the children that "
                  "ended before only once the handler is installed");
    fl_expect_int(r, -EINVAL, "mp_reaper_install with sigaction failing",
                  "return minus sigaction's errno");
    ck_assert_msg(undo == -EINVAL,
                  "mp_reaper_uninstall after an install that failed gave "
                  "%s, expected -EINVAL: the reaper is not installed, and "
                  "an uninstall would put back an action never saved. Mark "
                  "it installed only once sigaction has worked",
                  fl_ret(undo));
    ck_assert_msg(!blocked,
                  "after mp_reaper_install failed, SIGCHLD is still "
                  "blocked: restore the signal mask on the failure path "
                  "too (one exit from the function, after the "
                  "sigprocmask that puts the old mask back)");
    // A caller that blocked SIGCHLD itself finds it still blocked after
    // an install that worked, a count and a lookup; and a SIGUSR1 it
    // blocked, pending, is not let in while SIGCHLD is blocked inside.
    struct sigaction usr = {.sa_handler = count_usr1}, old_usr;
    sigemptyset(&usr.sa_mask);
    sigaction(SIGUSR1, &usr, &old_usr);
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigaddset(&chld, SIGUSR1);
    sigprocmask(SIG_BLOCK, &chld, &old);
    usr1_seen = 0;
    raise(SIGUSR1);
    r = mp_reaper_install();
    int code = 12345;
    mp_reaper_count();
    mp_reaper_lookup(getpid(), &code);
    int usr1_in = usr1_seen;
    sigprocmask(SIG_BLOCK, NULL, &now);
    blocked = sigismember(&now, SIGCHLD);
    if (r == 0)
        mp_reaper_uninstall();
    sigprocmask(SIG_SETMASK, &old, NULL);
    sigaction(SIGUSR1, &old_usr, NULL);
    ck_assert_msg(!usr1_in,
                  "the caller blocked SIGUSR1 and one was pending: a "
                  "handler ran during mp_reaper_install, count or lookup. "
                  "Block SIGCHLD by adding it to the mask (SIG_BLOCK), "
                  "never by setting the mask to SIGCHLD alone "
                  "(SIG_SETMASK lets in what the caller blocked)");
    fl_expect_int(r, 0, "mp_reaper_install with SIGCHLD blocked by the caller",
                  "");
    ck_assert_msg(blocked,
                  "the caller had SIGCHLD blocked, and after "
                  "mp_reaper_install, mp_reaper_count and mp_reaper_lookup "
                  "it was unblocked: put back the mask "
                  "as it was (SIG_SETMASK with the old set sigprocmask "
                  "gave you), do not unblock SIGCHLD");
}

static const fl_case cases[] = {
    FL_CASE(test_mp_run_worker_sends_the_error_record, 5),
    FL_CASE(test_mp_run_worker_sends_the_record_despite_eintr, 5),
    FL_CASE(test_mp_run_worker_exits_with_1_when_the_task_fails, 5),
    FL_CASE(test_mp_run_worker_sends_nothing_when_the_task_succeeds, 5),
    FL_CASE(test_mp_run_worker_writes_each_record_in_one_write, 5),
    FL_CASE(test_mp_run_worker_rejects_bad_arguments, 5),
    FL_CASE(test_mp_run_worker_and_mp_collect_take_descriptor_0, 5),
    FL_CASE(test_mp_collect_brings_the_classic_error_to_the_parent, 5),
    FL_CASE(test_mp_collect_gives_minus_11_for_a_segfault, 5),
    FL_CASE(test_mp_collect_gives_minus_6_for_an_abort, 5),
    FL_CASE(test_mp_collect_reads_every_record, 5),
    FL_CASE(test_mp_collect_reads_the_pipe_before_waiting, 8),
    FL_CASE(test_mp_collect_retries_when_a_signal_interrupts, 5),
    FL_CASE(test_mp_collect_reports_a_broken_record, 5),
    FL_CASE(test_mp_collect_takes_the_code_the_reaper_recorded, 8),
    FL_CASE(test_mp_collect_reaps_every_pid_whatever_fails, 5),
    FL_CASE(test_mp_collect_rejects_bad_arguments, 5),
    FL_CASE(test_mp_reaper_install_reaps_every_child_of_one_signal, 10),
    FL_CASE(test_mp_reaper_install_handler_keeps_errno, 8),
    FL_CASE(test_mp_reaper_install_handler_never_blocks_while_children_run, 15),
    FL_CASE(test_mp_reaper_install_keeps_reaping_after_the_first_signal, 8),
    FL_CASE(test_mp_reaper_install_lets_interrupted_reads_go_on, 10),
    FL_CASE(test_mp_reaper_install_reaps_children_that_ended_before, 5),
    FL_CASE(test_mp_reaper_lookup_gives_each_childs_exit_code, 10),
    FL_CASE(test_mp_reaper_lookup_rejects_bad_arguments, 5),
    FL_CASE(test_mp_reaper_uninstall_restores_the_previous_action, 5),
    FL_CASE(test_mp_signal_check_removes_the_name_on_sigterm, 10),
    FL_CASE(test_mp_signal_check_ends_the_process_by_sigterm, 10),
    FL_CASE(test_mp_signal_check_removes_the_name_and_ends_by_sigint, 10),
    FL_CASE(test_mp_signal_fd_wakes_a_poll_for_a_signal_that_came_first, 5),
    FL_CASE(test_mp_cleanup_on_signal_gives_emfile_when_out_of_descriptors, 5),
    FL_CASE(test_mp_cleanup_on_signal_survives_a_flood_of_signals, 8),
    FL_CASE(test_mp_signal_check_leaves_the_parents_names_alone, 10),
    FL_CASE(test_mp_signal_check_empties_the_self_pipe, 5),
    FL_CASE(test_mp_signal_check_returns_0_when_no_signal_came, 5),
    FL_CASE(test_mp_cleanup_on_signal_rejects_bad_names, 5),
    FL_CASE(test_mp_cleanup_cancel_restores_the_old_actions, 5),
    FL_CASE(test_mp_cleanup_cancel_forgets_the_names, 15),
    FL_CASE(test_mp_cleanup_cancel_forgets_a_signal_that_came_before, 5),
    FL_CASE(test_mp_cleanup_on_signal_handler_keeps_errno, 5),
    FL_CASE(test_mp_cleanup_on_signal_installs_handlers_without_sa_restart, 5),
    FL_CASE(test_mp_collect_reaps_every_worker_despite_eintr, 5),
    FL_CASE(test_mp_collect_takes_messages_up_to_mp_err_max_minus_1_bytes, 5),
    FL_CASE(test_mp_run_worker_prints_buffered_output_once, 5),
    FL_CASE(test_mp_run_worker_gives_the_errno_of_a_failed_fork, 5),
    FL_CASE(
        test_mp_cleanup_on_signal_makes_its_pipe_close_on_exec_and_non_blocking,
        5),
    FL_CASE(test_mp_collect_drains_the_pipe_after_a_broken_record, 8),
    FL_CASE(test_mp_reaper_install_leaves_sigchld_unblocked_when_it_fails, 5),
};

FL_MAIN("12_errors", cases)
