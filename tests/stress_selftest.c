// stress_selftest.c - the stress library's own tests (make stress-selftest).
//
// Each API of tests/stress.h is tried on tests/stress_target.c, an object
// wrapped as a lesson's is: a fault walk that finds a cleanup bug and one
// that finds none, short reads and EINTR, a storm around a finite and an
// infinite wait, clock jumps, and counters shared by threads.
#define _GNU_SOURCE
#include "harness.h"
#include "stress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// In stress_target.c, which is wrapped.
int st_spawn_echo(int leaky);
int st_wait_readable(int fd, int timeout_ms);
int st_wait_readable_restarting(int fd, int timeout_ms);
long long st_wall_clock_gettime(void);
long long st_wall_time(void);
long long st_wall_gettimeofday(void);
long long st_mono_s(void);
ssize_t st_read_full(int fd, char *buf, size_t len);
int st_unlock(pthread_mutex_t *m);
int st_connect(int fd, const struct sockaddr *addr, socklen_t len);
int st_unlink(const char *path);
ssize_t st_sendmsg(int fd, const void *buf, size_t len);
int st_lock(int fd);
long long st_mono_ns(void);
char *st_map(size_t len);
int st_unmap(char *p, size_t len);
long st_cpus(void);
int st_pidfd_open(pid_t pid);
int st_futex_bitset(unsigned val, unsigned bitset);
int st_mask_and_action(int init);
int st_poll_events(int init);
int st_cond_after_destroy(int again);
int st_close_never_set(int init);

/* ---------------------------------------------------------- fault walks */

// Walk the calls of fn in careful code: every failure is reported with
// err, nothing leaks, and the last run (no failure) succeeds.
static void
walk_careful(const char *fn, int err, int want_runs)
{
    int runs = 0;
    FL_FAULT_WALK (fn, err, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        int r = st_spawn_echo(0);
        runs++;
        if (fl_fault_fired(fn))
            fl_expect_int(r, -err, fn, "the failure must be reported");
        else
            fl_expect_int(r, 0, fn, "the clean run must succeed");
        fl_expect_no_leak(&s, fn);
    }
    fl_expect_int(runs, want_runs, "runs of the walk", fn);
}

FL_TEST(test_fault_walk_finds_nothing_in_careful_code)
{
    walk_careful("malloc", ENOMEM, 2);
    walk_careful("pipe", EMFILE, 2);
    walk_careful("fork", EAGAIN, 2);
}

FL_TEST(test_fault_walk_finds_the_leak_in_leaky_code)
{
    int leaks = 0;
    char msg[2048] = "";
    FL_FAULT_WALK ("fork", EAGAIN, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        int r = st_spawn_echo(1);
        if (fl_fault_fired("fork")) {
            fl_expect_int(r, -EAGAIN, "st_spawn_echo, fork failing", "");
            leaks += fl_snapshot_diff(&s, msg, sizeof msg);
        }
        fl_snapshot_restore(&s);
    }
    // Two descriptors and one heap block.
    ck_assert_msg(leaks == 3, "expected 3 leaks, got %d: %s", leaks, msg);
    ck_assert_msg(strstr(msg, "pipe:") && strstr(msg, "heap block"),
                  "the message names what leaked: %s", msg);
}

FL_TEST(test_fault_fail_from_fails_every_later_call)
{
    fl_fault_reset();
    fl_fault_fail_from("malloc", 2, ENOMEM);
    fl_expect_int(st_spawn_echo(0), 0, "1st call", "");
    fl_expect_int(st_spawn_echo(0), -ENOMEM, "2nd call", "");
    fl_expect_int(st_spawn_echo(0), -ENOMEM, "3rd call", "");
    fl_expect_int(fl_fault_calls("malloc"), 3, "calls of malloc", "");
    fl_expect_int(fl_fault_fired("malloc"), 2, "failed mallocs", "");
    fl_fault_reset();
    fl_expect_int(fl_fault_calls("malloc"), 0, "after the reset", "");
}

FL_TEST(test_fault_short_and_eintr_make_real_partial_reads)
{
    int p[2];
    char buf[8] = "";
    ck_assert(pipe(p) == 0);
    ck_assert(write(p[1], "hello", 5) == 5);
    fl_fault_reset();
    fl_fault_short("read", 1, 2);
    fl_expect_int(st_read_full(p[0], buf, 5), 5, "bytes read", "");
    fl_expect_int(fl_fault_calls("read"), 2, "reads for 2 + 3 bytes", "");
    ck_assert_str_eq(buf, "hello");
    ck_assert(write(p[1], "again", 5) == 5);
    fl_fault_reset();
    fl_fault_eintr("read", 1);
    fl_expect_int(st_read_full(p[0], buf, 5), 5, "bytes read", "");
    fl_expect_int(fl_fault_calls("read"), 2, "reads: EINTR, then 5", "");
    ck_assert(write(p[1], "third", 5) == 5);
    fl_fault_reset();
    fl_fault_eintr_run("read", 1, 3);
    fl_expect_int(st_read_full(p[0], buf, 5), 5, "bytes read", "");
    fl_expect_int(fl_fault_calls("read"), 4, "reads: 3 EINTR, then 5", "");
    fl_expect_int(fl_fault_fired("read"), 3, "reads that failed", "");
    fl_fault_reset();
    close(p[0]);
    close(p[1]);
}

static volatile sig_atomic_t unread_at_signal = -1;
static int signal_pipe[2];

static void
note_unread(int sig)
{
    (void)sig;
    int n = -1;
    ioctl(signal_pipe[0], FIONREAD, &n);
    unread_at_signal = n;
}

FL_TEST(test_fault_signal_before_comes_just_before_the_call)
{
    char buf[8] = "";
    ck_assert(pipe(signal_pipe) == 0);
    ck_assert(write(signal_pipe[1], "hello", 5) == 5);
    signal(SIGUSR1, note_unread);
    fl_fault_reset();
    fl_fault_signal_before("read", 1, SIGUSR1);
    ssize_t n = st_read_full(signal_pipe[0], buf, 5);
    long fired = fl_fault_fired("read");
    fl_fault_reset();
    signal(SIGUSR1, SIG_DFL);
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    fl_expect_int(unread_at_signal, 5, "bytes in the pipe when the handler ran",
                  "the signal comes before the read");
    fl_expect_int(n, 5, "bytes read", "the read itself runs as usual");
    fl_expect_int(fired, 1, "signals raised", "");
}

static void *
read_clock_1000(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        st_wall_time();
    return NULL;
}

FL_TEST(test_fault_counters_are_exact_across_threads)
{
    pthread_t t[4];
    fl_fault_reset();
    for (int i = 0; i < 4; i++)
        ck_assert(pthread_create(&t[i], NULL, read_clock_1000, NULL) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    fl_expect_int(fl_fault_calls("time"), 4000, "calls of time", "");
    fl_expect_int(fl_clock_reads(), 4000, "wall clock reads", "");
}

// Every name in tests/wrap.syms has its wrapper (an unknown one aborts).
FL_TEST(test_every_wrapped_name_is_known)
{
    FILE *f = fopen("tests/wrap.syms", "re");
    ck_assert_msg(f != NULL, "run from the course's top directory");
    char from[64], to[80];
    int n = 0;
    while (fscanf(f, "%63s %79s", from, to) == 2) {
        char want[80];
        snprintf(want, sizeof want, "fl_wrap_%s", from);
        ck_assert_str_eq(to, want);
        fl_fault_calls(from);
        n++;
    }
    fclose(f);
    ck_assert_msg(n >= 40, "only %d names in tests/wrap.syms", n);
}

// A child locks a shared mutex and unlocks it with the stop armed: it
// stops with the mutex free, and goes on to exit 0 once continued.
FL_TEST(test_fault_stop_after_stops_the_process_after_its_unlock)
{
    pthread_mutex_t *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(m != MAP_FAILED);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    ck_assert(pthread_mutex_init(m, &a) == 0);
    pthread_mutexattr_destroy(&a);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        pthread_mutex_lock(m);
        fl_fault_reset();
        fl_fault_stop_after("pthread_mutex_unlock", 1);
        int r = st_unlock(m);
        _exit(r == 0 && fl_fault_fired("pthread_mutex_unlock") == 1 ? 0 : 1);
    }
    char s;
    while ((s = fl_proc_state(pid)) != 'T' && s != 'Z' && s != 0)
        sched_yield();
    int taken = s == 'T' ? pthread_mutex_trylock(m) : -1;
    if (taken == 0)
        pthread_mutex_unlock(m);
    kill(pid, SIGCONT);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ;
    munmap(m, sizeof *m);
    fl_expect_int(s, 'T', "the child's state after its unlock", "");
    fl_expect_int(taken, 0, "a trylock while it was stopped", "");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the child did not go on once continued (status 0x%x)", st);
}

// A child connects to the test's listening socket with the stop armed:
// it stops with the connection made (waiting in the accept queue), and
// goes on to exit 0 once continued.
FL_TEST(test_fault_stop_after_stops_the_process_after_its_connect)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    ck_assert(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(lfd, (struct sockaddr *)&a, &alen) == 0 &&
              listen(lfd, 1) == 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        fl_fault_reset();
        fl_fault_stop_after("connect", 1);
        int r = st_connect(fd, (struct sockaddr *)&a, sizeof a);
        _exit(r == 0 && fl_fault_fired("connect") == 1 ? 0 : 1);
    }
    char s;
    while ((s = fl_proc_state(pid)) != 'T' && s != 'Z' && s != 0)
        sched_yield();
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    int fd = s == 'T' && poll(&p, 1, 3000) == 1 ? accept(lfd, NULL, NULL) : -1;
    kill(pid, SIGCONT);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ;
    if (fd >= 0)
        close(fd);
    close(lfd);
    fl_expect_int(s, 'T', "the child's state after its connect", "");
    ck_assert_msg(fd >= 0, "no connection to accept while it was stopped");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the child did not go on once continued (status 0x%x)", st);
}

// A child sends a byte on a socketpair with the stop armed: it stops with
// the byte there to read, and goes on to exit 0 once continued.
FL_TEST(test_fault_stop_after_stops_the_process_after_its_sendmsg)
{
    int sv[2];
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        fl_fault_reset();
        fl_fault_stop_after("sendmsg", 1);
        ssize_t r = st_sendmsg(sv[1], "x", 1);
        _exit(r == 1 && fl_fault_fired("sendmsg") == 1 ? 0 : 1);
    }
    char s;
    while ((s = fl_proc_state(pid)) != 'T' && s != 'Z' && s != 0)
        sched_yield();
    struct pollfd p = {.fd = sv[0], .events = POLLIN};
    char c = 0;
    ssize_t got = s == 'T' && poll(&p, 1, 0) == 1 ? read(sv[0], &c, 1) : -1;
    kill(pid, SIGCONT);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ;
    close(sv[0]);
    close(sv[1]);
    fl_expect_int(s, 'T', "the child's state after its sendmsg", "");
    ck_assert_msg(got == 1 && c == 'x', "no byte to read while it was stopped");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the child did not go on once continued (status 0x%x)", st);
}

// A child removes a file with the stop armed: it stops with the file
// gone, and goes on to exit 0 once continued.
FL_TEST(test_fault_stop_after_stops_the_process_after_its_unlink)
{
    char path[] = "/tmp/fl-stop-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    close(fd);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        fl_fault_reset();
        fl_fault_stop_after("unlink", 1);
        int r = st_unlink(path);
        _exit(r == 0 && fl_fault_fired("unlink") == 1 ? 0 : 1);
    }
    char s;
    while ((s = fl_proc_state(pid)) != 'T' && s != 'Z' && s != 0)
        sched_yield();
    int gone = s == 'T' && access(path, F_OK) < 0 && errno == ENOENT;
    kill(pid, SIGCONT);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ;
    unlink(path);
    fl_expect_int(s, 'T', "the child's state after its unlink", "");
    ck_assert_msg(gone, "the file was still there while it was stopped");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the child did not go on once continued (status 0x%x)", st);
}

// A child locks a file with the stop armed: it stops holding the lock
// (F_GETLK names it), and goes on to exit 0 once continued.
FL_TEST(test_fault_stop_after_stops_the_process_after_its_fcntl)
{
    char path[] = "/tmp/fl-stop-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        fl_fault_reset();
        fl_fault_stop_after("fcntl", 1);
        int r = st_lock(fd);
        _exit(r == 0 && fl_fault_fired("fcntl") == 1 ? 0 : 1);
    }
    char s;
    while ((s = fl_proc_state(pid)) != 'T' && s != 'Z' && s != 0)
        sched_yield();
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int held = s == 'T' && fcntl(fd, F_GETLK, &lk) == 0 && lk.l_pid == pid;
    kill(pid, SIGCONT);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ;
    close(fd);
    unlink(path);
    fl_expect_int(s, 'T', "the child's state after its fcntl", "");
    ck_assert_msg(held, "the child did not hold the lock while it was stopped");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the child did not go on once continued (status 0x%x)", st);
}

/* -------------------------------------------------------------- storms */

static int storm_fds[2];

static int
wait_200(void *arg)
{
    (void)arg;
    return st_wait_readable(storm_fds[0], 200);
}

FL_TEST(test_storm_interrupts_a_finite_wait_that_keeps_its_deadline)
{
    ck_assert(pipe(storm_fds) == 0);
    fl_storm_result r;
    fl_storm_call(wait_200, NULL, 1000, &r);
    close(storm_fds[0]);
    close(storm_fds[1]);
    fl_expect_int(r.ret, 0, "a wait of 200 ms on an empty pipe", "");
    ck_assert_msg(r.elapsed_ms >= 195 && r.elapsed_ms < 1000, "took %ld ms",
                  r.elapsed_ms);
    ck_assert_msg(r.signals >= 5, "only %ld signals", r.signals);
    fl_expect_int(fl_fault_calls("poll") > 5, 1, "polls retried", "");
    fl_expect_int(fl_poll_longest(), 200, "the longest poll timeout", "");
    fl_fault_reset();
    fl_expect_int(fl_poll_longest(), -1, "after the reset", "");
}

static int
restarting_wait(void *arg)
{
    (void)arg;
    int p[2];
    if (pipe(p) < 0)
        return -1;
    fl_storm_start(1000);
    return st_wait_readable_restarting(p[0], 200);
}

FL_TEST(test_storm_catches_a_wait_that_restarts_its_timeout)
{
    fl_child c;
    fl_run_in_child(restarting_wait, NULL, 1000, 0, &c);
    ck_assert_msg(c.timed_out, "a 200 ms wait restarted at every signal "
                               "should never end under a 1 ms storm");
}

static int
wait_forever(void *arg)
{
    (void)arg;
    return st_wait_readable(storm_fds[0], -1);
}

static void
release(void *arg)
{
    (void)arg;
    ck_assert(write(storm_fds[1], "x", 1) == 1);
}

FL_TEST(test_storm_hold_sees_an_infinite_wait_stay_infinite)
{
    ck_assert(pipe(storm_fds) == 0);
    fl_storm_result r;
    fl_storm_hold(wait_forever, release, NULL, 1000, 150, &r);
    close(storm_fds[0]);
    close(storm_fds[1]);
    fl_expect_int(r.early, 0, "returned before the release", "");
    fl_expect_int(r.ret, 1, "the wait's result", "");
    ck_assert_msg(r.elapsed_ms >= 145, "took %ld ms", r.elapsed_ms);
    ck_assert_msg(r.signals >= 5, "only %ld signals", r.signals);
}

/* --------------------------------------------------------------- clocks */

FL_TEST(test_clock_jump_moves_the_wall_clock_only)
{
    fl_fault_reset();
    long long now = (long long)time(NULL), mono = st_mono_s();
    fl_clock_jump(-3600);
    ck_assert_msg(llabs(st_wall_clock_gettime() - (now - 3600)) <= 2 &&
                      llabs(st_wall_time() - (now - 3600)) <= 2 &&
                      llabs(st_wall_gettimeofday() - (now - 3600)) <= 2,
                  "all three wall clocks go back an hour");
    ck_assert_msg(llabs(st_mono_s() - mono) <= 2, "CLOCK_MONOTONIC stays");
    ck_assert_msg(llabs((long long)time(NULL) - now) <= 2,
                  "the test's own clock stays");
    fl_expect_int(fl_clock_reads(), 3, "wall clock reads", "");
    fl_fault_reset();
    fl_clock_jump_at(2, 100);
    long long a = st_wall_time(), b = st_wall_time(), c = st_wall_time();
    ck_assert_msg(llabs(b - a) <= 1 && llabs(c - b - 100) <= 1,
                  "reads 1 and 2 unmoved, read 3 jumps: %lld %lld %lld", a, b,
                  c);
    fl_fault_reset();
}

FL_TEST(test_clock_mono_whole_ms_rounds_down_to_the_millisecond)
{
    fl_fault_reset();
    fl_clock_mono_whole_ms(1);
    for (int i = 0; i < 5; i++) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long long mine = t.tv_sec * 1000000000LL + t.tv_nsec;
        long long seen = st_mono_ns();
        ck_assert_msg(seen % 1000000 == 0, "read %lld is no whole ms", seen);
        ck_assert_msg(seen > mine - 1000000 && seen <= mine + 1000000,
                      "read %lld is more than 1 ms from %lld", seen, mine);
    }
    fl_fault_reset();
    int whole = 0;
    for (int i = 0; i < 5; i++)
        whole += st_mono_ns() % 1000000 == 0;
    ck_assert_msg(whole < 5, "fl_fault_reset did not stop the rounding");
}

FL_TEST(test_cpus_fake_changes_what_sysconf_says)
{
    fl_fault_reset();
    long real = sysconf(_SC_NPROCESSORS_ONLN);
    fl_cpus_fake(real + 37);
    long faked = st_cpus(), mine = sysconf(_SC_NPROCESSORS_ONLN);
    fl_fault_fail("sysconf", 2, EINVAL); // calls since the reset
    long failed = st_cpus(), after = st_cpus();
    fl_fault_reset();
    fl_expect_int(faked, real + 37, "the code's CPU count, faked", "");
    fl_expect_int(mine, real, "the test's own CPU count", "not wrapped");
    fl_expect_int(failed, -1, "sysconf failed once", "");
    fl_expect_int(after, real + 37, "the next call", "faked still");
    fl_expect_int(st_cpus(), real, "after fl_fault_reset", "the truth");
}

// syscall is variadic: the wrapper passes its arguments on untouched,
// and fails the nth call when told to.
FL_TEST(test_syscall_is_wrapped_with_its_arguments)
{
    fl_fault_reset();
    fl_fault_fail("syscall", 2, ENFILE);
    int a = st_pidfd_open(getpid());
    int b = st_pidfd_open(getpid());
    int eb = errno;
    int c = st_pidfd_open(-1); // EINVAL from the kernel: pid reached it
    int ec = errno;
    fl_fault_reset();
    if (a >= 0)
        close(a);
    ck_assert_msg(a >= 0, "pidfd_open(getpid()) through the wrapper failed: %s",
                  strerror(errno));
    ck_assert_msg(b == -1 && eb == ENFILE,
                  "the second syscall, armed to fail, returned %d (%s)", b,
                  strerror(eb));
    ck_assert_msg(c == -1 && ec == EINVAL,
                  "pidfd_open(-1) returned %d (%s), expected EINVAL", c,
                  strerror(ec));
}

// A call with six arguments (a student's futex) reaches the kernel whole,
// armed or not: the sixth, on the stack on x86-64, is not lost.
FL_TEST(test_syscall_passes_on_a_sixth_argument)
{
    for (int armed = 0; armed < 2; armed++) {
        fl_fault_reset();
        if (armed)
            fl_fault_fail("syscall", 100, ENFILE); // the slow path, no fault
        int any = st_futex_bitset(0, ~0u);
        int eany = errno;
        int none = st_futex_bitset(0, 0);
        int enone = errno;
        fl_fault_reset();
        ck_assert_msg(any == -1 && eany == EAGAIN && none == -1 &&
                          enone == EINVAL,
                      "%s: futex(WAIT_BITSET) with bitset ~0 gave %d (%s), "
                      "expected EAGAIN; with bitset 0 %d (%s), expected "
                      "EINVAL: the sixth argument did not reach the kernel",
                      armed ? "armed" : "unarmed", any, strerror(eany), none,
                      strerror(enone));
    }
}

FL_TEST(test_wrappers_see_what_was_never_set)
{
    char why[512];
    ck_assert_int_eq(st_mask_and_action(1), 0);
    ck_assert_msg(!fl_misuse_take(why, sizeof why),
                  "a set made with sigemptyset and an action with sa_flags "
                  "set were called a misuse: %s",
                  why);
    // The target is built as student code is: what it never sets holds
    // 0xfe bytes, so the set holds signal 32 and sa_flags bits of no flag.
    ck_assert_int_eq(st_mask_and_action(0), 0);
    ck_assert_msg(fl_misuse_take(why, sizeof why) &&
                      strstr(why, "never initialised") != NULL,
                  "a set never emptied was passed to sigprocmask and no "
                  "misuse was recorded");
    ck_assert_int_eq(st_poll_events(1), 0);
    ck_assert_msg(!fl_misuse_take(why, sizeof why),
                  "a pollfd with events POLLIN was called a misuse: %s", why);
    ck_assert_int_eq(st_poll_events(0), 0);
    ck_assert_msg(fl_misuse_take(why, sizeof why) &&
                      strstr(why, "never set") != NULL,
                  "a pollfd whose events was never set was passed to poll "
                  "and no misuse was recorded");
    ck_assert_int_eq(st_cond_after_destroy(1), 0);
    ck_assert_msg(!fl_misuse_take(why, sizeof why),
                  "a condition destroyed, initialised again and signalled "
                  "was called a misuse: %s",
                  why);
    ck_assert_int_eq(st_cond_after_destroy(0), 0);
    ck_assert_msg(fl_misuse_take(why, sizeof why) &&
                      strstr(why, "already destroyed") != NULL,
                  "a condition signalled after its destroy was not called a "
                  "misuse");
    ck_assert_int_eq(st_close_never_set(1), -EBADF);
    ck_assert_msg(!fl_misuse_take(why, sizeof why),
                  "close(-1) was called a misuse: %s", why);
    ck_assert_int_eq(st_close_never_set(0), -EBADF);
    ck_assert_msg(fl_misuse_take(why, sizeof why) &&
                      strstr(why, "never set") != NULL,
                  "a descriptor never set was passed to close and no "
                  "misuse was recorded");
}

FL_TEST(test_clock_mono_just_past_a_second_puts_reads_there)
{
    fl_fault_reset();
    fl_clock_mono_just_past_a_second();
    long long frac_ms = st_mono_ns() % 1000000000 / 1000000;
    fl_fault_reset();
    ck_assert_msg(frac_ms >= 10 && frac_ms < 200,
                  "the code's first read is %lld ms past its second; "
                  "expected 10 (a little more on a busy machine)",
                  frac_ms);
}

FL_TEST(test_clock_mono_later_at_moves_reads_after_the_nth)
{
    fl_fault_reset();
    fl_clock_mono_later_at(1, 2500);
    long long a = st_mono_ns(), b = st_mono_ns(), c = st_mono_ns();
    fl_fault_reset();
    long long d = st_mono_ns();
    long long ms = 1000000;
    ck_assert_msg(b - a >= 2500 * ms && b - a < 2600 * ms,
                  "read 1 unmoved, read 2 2500 ms later: %lld %lld", a, b);
    ck_assert_msg(c >= b && c - b < 100 * ms, "read 3 moved as 2: %lld %lld", b,
                  c);
    ck_assert_msg(d < b, "fl_fault_reset did not put the clock back: %lld %lld",
                  b, d);
    // Earlier: 1999 ms back, so that tv_nsec nearly always goes below 0
    // and must be borrowed from tv_sec (st_mono_ns gives -1 if not).
    fl_clock_mono_later_at(0, -1999);
    long long e = st_mono_ns();
    fl_fault_reset();
    long long f = st_mono_ns();
    ck_assert_msg(e >= 0 && f - e >= 1999 * ms && f - e < 2100 * ms,
                  "a read 1999 ms earlier: %lld, then the real clock %lld", e,
                  f);
}

// In a child: touch the byte at arg (a read), which may fault.
static int
touch(void *arg)
{
    return *(volatile char *)arg;
}

FL_TEST(test_mmap_guard_faults_a_touch_past_the_mapping)
{
    long page = sysconf(_SC_PAGESIZE);
    fl_fault_reset();
    fl_mmap_guard(1);
    char *p = st_map(100);
    fl_fault_reset(); // guards off: the unmap below still removes it
    ck_assert_msg(p != NULL, "st_map failed");
    p[page - 1] = 7;
    fl_child in, past;
    fl_run_in_child(touch, p + page - 1, 2000, 0, &in);
    fl_run_in_child(touch, p + page, 2000, 0, &past);
    ck_assert_msg(in.returned && in.value == 7,
                  "the mapping's last byte could not be read");
    ck_assert_msg(!past.returned && !past.exited && past.status == SIGSEGV,
                  "a read of the byte past the mapping did not fault");
    unsigned char v;
    int guard_left = mincore(p + page, 1, &v) == 0;
    ck_assert_msg(st_unmap(p, 100) == 0, "st_unmap failed");
    ck_assert_msg(guard_left, "no guard page while mapped");
    ck_assert_msg(mincore(p + page, 1, &v) < 0 && errno == ENOMEM,
                  "the guard page outlived its mapping's munmap");
}

FL_TEST(test_fault_eintr_late_moves_the_clock_when_it_fires)
{
    int p[2];
    ck_assert(pipe(p) == 0);
    fl_fault_reset();
    fl_fault_eintr_late("poll", 2, 10000);
    long long a = st_mono_ns();
    long long t0 = fl_now_ms();
    int r = st_wait_readable(p[0], 0); // poll 1 returns 0: clock unmoved
    long long b = st_mono_ns();
    int r2 = st_wait_readable(p[0], 300); // poll 2: EINTR, 10 s "later"
    long long took = fl_now_ms() - t0, c = st_mono_ns();
    long fired = fl_fault_fired("poll"), polls = fl_fault_calls("poll");
    fl_fault_reset();
    long long d = st_mono_ns();
    close(p[0]);
    close(p[1]);
    long long ms = 1000000;
    ck_assert_msg(r == 0 && r2 == 0 && fired == 1 && polls == 3,
                  "two waits of 300 ms, the second's poll interrupted: "
                  "%d %d, %ld fired of %ld polls",
                  r, r2, fired, polls);
    ck_assert_msg(b - a < 1000 * ms, "the clock moved before the EINTR");
    ck_assert_msg(c - b >= 10000 * ms && c - b < 11000 * ms,
                  "reads after the EINTR not 10 s later: %lld %lld", b, c);
    ck_assert_msg(took < 250,
                  "the second wait took the time left after the clock "
                  "moved (0), not 300 ms: %lld ms",
                  took);
    ck_assert_msg(d < c, "fl_fault_reset did not put the clock back");
}

static const fl_case cases[] = {
    FL_CASE(test_fault_walk_finds_nothing_in_careful_code, 20),
    FL_CASE(test_wrappers_see_what_was_never_set, 10),
    FL_CASE(test_fault_walk_finds_the_leak_in_leaky_code, 20),
    FL_CASE(test_fault_fail_from_fails_every_later_call, 10),
    FL_CASE(test_fault_short_and_eintr_make_real_partial_reads, 10),
    FL_CASE(test_fault_counters_are_exact_across_threads, 10),
    FL_CASE(test_every_wrapped_name_is_known, 10),
    FL_CASE(test_fault_stop_after_stops_the_process_after_its_unlock, 5),
    FL_CASE(test_fault_stop_after_stops_the_process_after_its_connect, 5),
    FL_CASE(test_fault_stop_after_stops_the_process_after_its_sendmsg, 5),
    FL_CASE(test_fault_stop_after_stops_the_process_after_its_unlink, 5),
    FL_CASE(test_fault_stop_after_stops_the_process_after_its_fcntl, 5),
    FL_CASE(test_fault_signal_before_comes_just_before_the_call, 5),
    FL_CASE(test_storm_interrupts_a_finite_wait_that_keeps_its_deadline, 10),
    FL_CASE(test_storm_catches_a_wait_that_restarts_its_timeout, 10),
    FL_CASE(test_storm_hold_sees_an_infinite_wait_stay_infinite, 10),
    FL_CASE(test_clock_jump_moves_the_wall_clock_only, 10),
    FL_CASE(test_clock_mono_whole_ms_rounds_down_to_the_millisecond, 5),
    FL_CASE(test_clock_mono_later_at_moves_reads_after_the_nth, 5),
    FL_CASE(test_mmap_guard_faults_a_touch_past_the_mapping, 5),
    FL_CASE(test_clock_mono_just_past_a_second_puts_reads_there, 5),
    FL_CASE(test_cpus_fake_changes_what_sysconf_says, 5),
    FL_CASE(test_syscall_is_wrapped_with_its_arguments, 5),
    FL_CASE(test_syscall_passes_on_a_sixth_argument, 5),
    FL_CASE(test_fault_eintr_late_moves_the_clock_when_it_fires, 5),
};

FL_MAIN("stress", cases)
