// check_locks.c - tests for lesson 06: mp_lock_create, _acquire, _release.
//
// Every question "is the lock held?" is asked by another process, forked
// for the purpose (other_acquire, other_release), because a lock's owner
// is the one process that cannot tell: its own second acquire of a Lock
// waits, of an RLock succeeds.  Mutual exclusion is tested on purpose, not
// by luck: one test watches a second process block in the kernel while the
// first holds the lock; another widens the critical section with a
// sched_yield() between a read and a write, so that a missing lock lets
// another process in at once, every run.
#define _GNU_SOURCE
#include "locks.h"
#include "harness.h"
#include "stress.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

// Zeroed memory that forked children share with the test.
static void *
shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(p != MAP_FAILED, "mmap failed: %s", strerror(errno));
    return p;
}

// A new lock (recursive: an RLock), or the test fails saying why.
static mp_lock *
new_lock(int recursive)
{
    mp_lock *lock = NULL;
    int got = mp_lock_create(&lock, recursive);
    ck_assert_msg(got == 0 && lock != NULL,
                  "mp_lock_create(&lock, %d) returned %s%s, expected 0 and "
                  "a lock",
                  recursive, fl_ret(got),
                  got == 0 ? " but left the lock NULL" : "");
    return lock;
}

// Acquire in the test process, failing the test unless it worked.
static void
take(mp_lock *lock, const char *what)
{
    int got = mp_lock_acquire(lock, -1);
    ck_assert_msg(got == 0,
                  "%s: mp_lock_acquire(lock, -1) of a free lock returned "
                  "%s, expected 0",
                  what, fl_ret(got));
}

// The state letter of a process in /proc/PID/stat: 'R' running, 'S'
// sleeping (blocked in the kernel), 'Z' ended; '?' if it is gone.
static char
state_of(pid_t pid)
{
    char path[64], buf[512], state = '?';
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return '?';
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return '?';
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); // the command name may hold ") "
    if (p == NULL || sscanf(p + 1, " %c", &state) != 1)
        return '?';
    return state;
}

// Wait for pid until deadline (fl_now_ms() time), killing it if it is still
// running then; reap it.  Return its wait status; *hung says if killed.
static int
reap_by(pid_t pid, long deadline, int *hung)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd >= 0) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        int n;
        do {
            long left = deadline - fl_now_ms();
            n = poll(&p, 1, left > 0 ? (int)left : 0);
        } while (n < 0 && errno == EINTR);
        close(pfd);
        if (n == 0) {
            kill(pid, SIGKILL);
            *hung = 1;
        }
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

/* ------------------------------------------- another process asks */

// What another process did with the lock: run by other_acquire() and
// other_release() through fl_run_in_child, in shared memory.
struct probe {
    mp_lock *lock;
    int timeout_ms; // for mp_lock_acquire
    int release;    // 1: release after an acquire that succeeded
    int rc;         // what mp_lock_acquire (or mp_lock_release) returned
    int rc_release; // what the release after it returned
    int rc_again;   // probe_acquire_twice: what the second acquire returned
    long took_ms;   // how long mp_lock_acquire took
    int timed_out;  // 1: the process was still waiting at the bound
};

static int
probe_acquire(void *arg)
{
    struct probe *p = arg;
    long t0 = fl_now_ms();
    p->rc = mp_lock_acquire(p->lock, p->timeout_ms);
    p->took_ms = fl_now_ms() - t0;
    if (p->rc >= 0 && p->release)
        p->rc_release = mp_lock_release(p->lock);
    return 0;
}

// Acquire, then poll the lock this process now holds.
static int
probe_acquire_twice(void *arg)
{
    struct probe *p = arg;
    p->rc = mp_lock_acquire(p->lock, -1);
    if (p->rc == 0)
        p->rc_again = mp_lock_acquire(p->lock, 0);
    return 0;
}

static int
probe_release(void *arg)
{
    struct probe *p = arg;
    p->rc = mp_lock_release(p->lock);
    return 0;
}

// Run fn in another process, killed after bound_ms; return what it saw.
static struct probe
other(int (*fn)(void *), mp_lock *lock, int timeout_ms, int release,
      int bound_ms)
{
    struct probe *p = shared(sizeof *p);
    *p = (struct probe){lock, timeout_ms, release, -ENOSYS, 0, 0, 0, 0};
    fl_child r;
    fl_run_in_child(fn, p, bound_ms, 0, &r);
    ck_assert_msg(r.timed_out || r.returned,
                  "the process that called mp_lock_%s ended %s %d instead "
                  "of returning: the lock functions must not exit or crash",
                  fn == probe_release ? "release" : "acquire",
                  r.exited ? "with exit status" : "killed by signal", r.status);
    struct probe got = *p;
    got.timed_out = r.timed_out;
    munmap(p, sizeof *p);
    return got;
}

// Another process's mp_lock_acquire(lock, timeout_ms), released at once
// if it succeeds; it may wait up to bound_ms.
static struct probe
other_acquire(mp_lock *lock, int timeout_ms, int bound_ms)
{
    return other(probe_acquire, lock, timeout_ms, 1, bound_ms);
}

// Another process's poll: -EAGAIN if the lock is held, 0 if it was free.
static int
other_poll(mp_lock *lock)
{
    struct probe p = other_acquire(lock, 0, 3000);
    ck_assert_msg(!p.timed_out,
                  "mp_lock_acquire(lock, 0) in another process was still "
                  "waiting after 3 s: timeout 0 is a poll, it never waits "
                  "(pthread_mutex_trylock)");
    ck_assert_msg(p.rc < 0 || p.rc_release == 0,
                  "another process acquired the lock, then its "
                  "mp_lock_release returned %s, expected 0",
                  fl_ret(p.rc_release));
    return p.rc;
}

// Another process's mp_lock_release(lock).
static int
other_release(mp_lock *lock)
{
    struct probe p = other(probe_release, lock, 0, 0, 3000);
    ck_assert_msg(!p.timed_out, "mp_lock_release in another process was "
                                "still running after 3 s: release never "
                                "waits");
    return p.rc;
}

/* ------------------------------------------------ an owner that dies */

// Start a child that acquires the lock `times` times and then holds it;
// once it has said so, kill it (SIGKILL) and reap it: the owner died
// holding the lock.  Its acquires give up after 2 s, so that a lock that
// does not recurse cannot hang the test.
static void
owner_killed(mp_lock *lock, int times)
{
    int ready[2];
    ck_assert_msg(pipe(ready) == 0, "pipe failed");
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed: %s", strerror(errno));
    if (pid == 0) {
        close(ready[0]);
        int rc = 0;
        for (int i = 0; i < times && rc == 0; i++)
            rc = mp_lock_acquire(lock, 2000);
        if (write(ready[1], &rc, sizeof rc) != (ssize_t)sizeof rc)
            _exit(1);
        for (;;)
            pause(); // holding the lock until killed
    }
    close(ready[1]);
    int rc = -EIO;
    ssize_t n = read(ready[0], &rc, sizeof rc);
    close(ready[0]);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    ck_assert_msg(n == (ssize_t)sizeof rc && rc == 0,
                  "a process acquired a free %s %d time(s), to die holding "
                  "it; its last mp_lock_acquire(lock, 2000) returned %s, "
                  "expected 0",
                  times > 1 ? "RLock" : "lock", times,
                  n == (ssize_t)sizeof rc ? fl_ret(rc) : "nothing");
}

/* ----------------------------------------------------- mp_lock_create */

FL_TEST(test_mp_lock_create_rejects_a_null_pointer)
{
    int got = mp_lock_create(NULL, 0);
    fl_expect_int(got, -EINVAL, "mp_lock_create(NULL, 0)",
                  "check lockp before mapping anything");
}

/* ---------------------------------------------------- mp_lock_acquire */

FL_TEST(test_mp_lock_acquire_takes_a_free_lock_at_once)
{
    mp_lock *lock = new_lock(0);
    static const int timeouts[] = {0, -1, 200};
    for (int i = 0; i < 3; i++) {
        int got = mp_lock_acquire(lock, timeouts[i]);
        int rel = got >= 0 ? mp_lock_release(lock) : 0;
        ck_assert_msg(got == 0 && rel == 0,
                      "mp_lock_acquire(lock, %d) of a free lock returned %s "
                      "(expected 0), then mp_lock_release %s (expected 0)",
                      timeouts[i], fl_ret(got), fl_ret(rel));
    }
    mp_lock_destroy(lock);
}

// The second process of the test below, and what the first sees of it.
struct door {
    atomic_int trying;  // set just before its mp_lock_acquire
    atomic_int entered; // set just after it returned
};

FL_TEST(test_mp_lock_acquire_waits_while_another_process_holds_it)
{
    mp_lock *lock = new_lock(0);
    take(lock, "the first process");
    struct door *d = shared(sizeof *d);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed");
    if (pid == 0) {
        atomic_store(&d->trying, 1);
        int rc = mp_lock_acquire(lock, -1);
        atomic_store(&d->entered, 1);
        if (rc >= 0)
            mp_lock_release(lock);
        _exit(rc == 0 ? 0 : 1);
    }
    // Until the second process is inside, or asleep in the kernel after
    // it started to acquire: asleep is blocked on the lock, by design.
    // Asleep 20 ms in a row, not seen 'S' once: a process reads 'S' for a
    // moment on its way in (a page fault, a preemption), and one that got
    // in a moment later would not be seen intruding.
    long deadline = fl_now_ms() + 3000;
    int asleep = 0;
    while (!atomic_load(&d->entered) && !asleep && fl_now_ms() < deadline) {
        asleep = atomic_load(&d->trying) && state_of(pid) == 'S' &&
                 fl_proc_idles(pid, 20) && !atomic_load(&d->entered);
        sched_yield();
    }
    int intruded = !asleep && atomic_load(&d->entered);
    int rel = mp_lock_release(lock);
    int hung = 0;
    int st = reap_by(pid, fl_now_ms() + 3000, &hung);
    mp_lock_destroy(lock);
    munmap(d, sizeof *d);
    ck_assert_msg(!intruded,
                  "a second process acquired the lock while the first held "
                  "it. Is the mutex in memory that both processes share "
                  "(mmap with MAP_SHARED | MAP_ANONYMOUS, not malloc or "
                  "MAP_PRIVATE), and does mp_lock_acquire lock it?");
    fl_expect_int(rel, 0, "mp_lock_release by the owner", "");
    ck_assert_msg(!hung,
                  "the second process waited for the lock and never got it, "
                  "though the first released it: it was still waiting 3 s "
                  "later. Does release unlock the mutex? Does each process "
                  "have its own copy of a locked lock (malloc, MAP_PRIVATE)?");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the second process's mp_lock_acquire(lock, -1) failed "
                  "once the lock was released (raw status 0x%x)",
                  st);
}

// The critical section of the next test, in shared memory.
struct window {
    atomic_int ready;  // processes at the start line
    atomic_int inside; // processes inside the section now
    atomic_int most;   // the most ever inside at once
    atomic_int failed; // acquires or releases that returned an error
    long value;        // read, yield, write: only safe under the lock
};

#define WINDOW_PROCS 4
#define WINDOW_ROUNDS 200

static void
note_most(struct window *w, int n)
{
    int m = atomic_load(&w->most);
    while (n > m && !atomic_compare_exchange_weak(&w->most, &m, n))
        ;
}

// One process's rounds: each reads the value, gives the CPU away with
// sched_yield() while inside, then writes value + 1.  Without mutual
// exclusion another process runs inside the window that opens.
static void
window_rounds(mp_lock *lock, struct window *w)
{
    atomic_fetch_add(&w->ready, 1);
    while (atomic_load(&w->ready) < WINDOW_PROCS) // all start together
        sched_yield();
    for (int i = 0; i < WINDOW_ROUNDS; i++) {
        if (mp_lock_acquire(lock, -1) < 0) {
            atomic_fetch_add(&w->failed, 1);
            continue;
        }
        note_most(w, atomic_fetch_add(&w->inside, 1) + 1);
        long v = *(volatile long *)&w->value;
        sched_yield(); // the window, opened on purpose
        *(volatile long *)&w->value = v + 1;
        atomic_fetch_sub(&w->inside, 1);
        if (mp_lock_release(lock) != 0)
            atomic_fetch_add(&w->failed, 1);
    }
}

FL_TEST(test_mp_lock_acquire_keeps_two_processes_out_of_the_section)
{
    // glibc's robust mutexes happen to work across processes without
    // PTHREAD_PROCESS_SHARED, so no run shows the attribute missing: the
    // test asks pthread_mutex_init's wrapper what the attr said.
    for (int recursive = 0; recursive <= 1; recursive++) {
        int pshared = -1, robust = -1;
        mp_lock_destroy(new_lock(recursive));
        fl_mutex_attrs_seen(&pshared, &robust);
        ck_assert_msg(pshared == PTHREAD_PROCESS_SHARED,
                      "mp_lock_create(&lock, %d) initialised its mutex "
                      "%s. Processes share this one: "
                      "pthread_mutexattr_setpshared(&attr, "
                      "PTHREAD_PROCESS_SHARED) before pthread_mutex_init "
                      "(POSIX leaves a private mutex used by two processes "
                      "undefined; it works here only by luck)",
                      recursive,
                      pshared < 0 ? "without pthread_mutex_init (or with "
                                    "an attr that cannot be read)"
                                  : "as private to the process (the "
                                    "default)");
    }
    mp_lock *lock = new_lock(0);
    struct window *w = shared(sizeof *w);
    pid_t pids[WINDOW_PROCS];
    fflush(NULL);
    for (int i = 0; i < WINDOW_PROCS; i++) {
        pids[i] = fork();
        ck_assert_msg(pids[i] >= 0, "fork failed");
        if (pids[i] == 0) {
            window_rounds(lock, w);
            _exit(0);
        }
    }
    long deadline = fl_now_ms() + 8000;
    int hung = 0;
    for (int i = 0; i < WINDOW_PROCS; i++)
        reap_by(pids[i], deadline, &hung);
    struct window seen = *w;
    mp_lock_destroy(lock);
    munmap(w, sizeof *w);
    ck_assert_msg(!hung, "the processes were still at it after 8 s: a lock "
                         "that is never released? A wake-up lost?");
    ck_assert_msg(seen.failed == 0,
                  "%d of %d acquires and releases returned an error",
                  seen.failed, 2 * WINDOW_PROCS * WINDOW_ROUNDS);
    ck_assert_msg(seen.most == 1 && seen.value == WINDOW_PROCS * WINDOW_ROUNDS,
                  "%d processes each did %d rounds of acquire, read, "
                  "sched_yield(), write, release. Up to %d were inside at "
                  "once (expected 1) and %ld of %d increments were lost. "
                  "Each process must use the same mutex: in memory from "
                  "mmap(MAP_SHARED | MAP_ANONYMOUS), created before fork(), "
                  "and really locked by mp_lock_acquire",
                  WINDOW_PROCS, WINDOW_ROUNDS, seen.most,
                  WINDOW_PROCS * WINDOW_ROUNDS - seen.value,
                  WINDOW_PROCS * WINDOW_ROUNDS);
}

#define COUNT_PROCS 8
#define COUNT_ROUNDS 5000

FL_TEST(test_mp_lock_acquire_makes_8_processes_count_exactly)
{
    mp_lock *lock = new_lock(0);
    struct window *w = shared(sizeof *w);
    pid_t pids[COUNT_PROCS];
    fflush(NULL);
    for (int i = 0; i < COUNT_PROCS; i++) {
        pids[i] = fork();
        ck_assert_msg(pids[i] >= 0, "fork failed");
        if (pids[i] == 0) {
            int bad = 0;
            for (int k = 0; k < COUNT_ROUNDS; k++) {
                bad += mp_lock_acquire(lock, -1) != 0;
                (*(volatile long *)&w->value)++; // a read, then a write
                bad += mp_lock_release(lock) != 0;
            }
            _exit(bad != 0);
        }
    }
    long deadline = fl_now_ms() + 8000;
    int hung = 0, failed = 0;
    for (int i = 0; i < COUNT_PROCS; i++) {
        int st = reap_by(pids[i], deadline, &hung);
        failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    long value = w->value;
    mp_lock_destroy(lock);
    munmap(w, sizeof *w);
    ck_assert_msg(!hung, "the processes were still counting after 8 s: a "
                         "lock that is never released? A wake-up lost?");
    ck_assert_msg(failed == 0,
                  "%d of %d processes saw mp_lock_acquire or "
                  "mp_lock_release return an error",
                  failed, COUNT_PROCS);
    ck_assert_msg(value == COUNT_PROCS * COUNT_ROUNDS,
                  "%d processes each added 1, %d times, under the lock: "
                  "expected %d, got %ld. Updates were lost, so two "
                  "processes were inside at once: do they all use one "
                  "mutex, in shared memory?",
                  COUNT_PROCS, COUNT_ROUNDS, COUNT_PROCS * COUNT_ROUNDS, value);
}

FL_TEST(test_mp_lock_acquire_times_out_on_a_held_lock)
{
    mp_lock *lock = new_lock(0);
    take(lock, "the test");
    struct probe p = other(probe_acquire, lock, 300, 1, 3000);
    mp_lock_release(lock);
    mp_lock_destroy(lock);
    ck_assert_msg(!p.timed_out,
                  "mp_lock_acquire(lock, 300) of a held lock was still "
                  "waiting after 3 s. Is the deadline on the clock the call "
                  "uses (a CLOCK_REALTIME date given to "
                  "pthread_mutex_clocklock with CLOCK_MONOTONIC is decades "
                  "away), and in the right unit (1 ms is 1000000 ns)?");
    fl_expect_int(p.rc, -ETIMEDOUT,
                  "mp_lock_acquire(lock, 300) while another process holds "
                  "the lock",
                  p.rc == -EAGAIN ? "-EAGAIN is for a poll (timeout 0); a "
                                    "timeout that expires is -ETIMEDOUT"
                                  : "");
    ck_assert_msg(p.took_ms >= 270,
                  "mp_lock_acquire(lock, 300) gave up after %ld ms, before "
                  "its timeout. The deadline is absolute: now + 300 ms, on "
                  "the clock the call uses. A relative time (0 s 300 ms) is "
                  "a date in 1970, long past; so is a CLOCK_MONOTONIC time "
                  "given to pthread_mutex_timedlock, which reads "
                  "CLOCK_REALTIME",
                  p.took_ms);
    // The code's CLOCK_MONOTONIC 9 s behind (fl_clock_mono_later_at): a
    // timeout of 9100 ms, now + 9100 ms on that clock, ends 100 ms from
    // the real now; a deadline that adds the timeout's seconds twice lies
    // 9 s later.
    lock = new_lock(0);
    take(lock, "the test");
    fl_fault_reset();
    fl_clock_mono_later_at(0, -9000); // the probe inherits it
    p = other(probe_acquire, lock, 9100, 1, 1000);
    fl_fault_reset();
    mp_lock_release(lock);
    mp_lock_destroy(lock);
    ck_assert_msg(!p.timed_out && p.rc == -ETIMEDOUT,
                  "mp_lock_acquire(lock, 9100) of a held lock, its "
                  "CLOCK_MONOTONIC read 9000 ms early, should time out "
                  "100 ms later; it %s%s. The deadline is now + timeout_ms, "
                  "once: timeout_ms / 1000 seconds plus (timeout_ms %% "
                  "1000) milliseconds; adding all of timeout_ms as "
                  "nanoseconds on top of the seconds counts them twice. (Or "
                  "it polls: trylock, a nap and the clock read again, "
                  "instead of waiting in pthread_mutex_clocklock until that "
                  "deadline.)",
                  p.timed_out ? "was still waiting after 1 s" : "returned ",
                  p.timed_out ? "" : fl_ret(p.rc));
    // The clock read that the deadline needs fails (EINVAL): the acquire
    // fails with it and leaves the lock alone.  lock_mutex returns errno
    // values, as the pthread calls do; a -errno there comes out of
    // mp_lock_acquire positive, success to a caller testing < 0.
    lock = new_lock(0);
    fl_fault_reset();
    fl_fault_fail("clock_gettime", 1, EINVAL);
    int rc = mp_lock_acquire(lock, 300);
    long fired = fl_fault_fired("clock_gettime");
    fl_fault_reset();
    if (rc >= 0)
        mp_lock_release(lock);
    mp_lock_destroy(lock);
    if (fired > 0)
        fl_expect_int(rc, -EINVAL,
                      "mp_lock_acquire(lock, 300) of a free lock with "
                      "clock_gettime() failing with EINVAL",
                      rc == EINVAL ? "lock_mutex returns an errno value, "
                                     "positive, as the pthread calls do "
                                     "(return errno, not -errno): "
                                     "mp_lock_acquire negates it once"
                                   : "without the time now there is no "
                                     "deadline: return clock_gettime's "
                                     "errno, untouched");
}

FL_TEST(test_mp_lock_acquire_polls_a_held_lock_without_waiting)
{
    static const char *kind[] = {"Lock", "RLock"};
    for (int recursive = 0; recursive < 2; recursive++) {
        mp_lock *lock = new_lock(recursive);
        take(lock, "the test");
        struct probe p = other_acquire(lock, 0, 3000);
        mp_lock_release(lock);
        mp_lock_destroy(lock);
        ck_assert_msg(!p.timed_out,
                      "mp_lock_acquire(lock, 0) of a held %s was still "
                      "waiting after 3 s: timeout 0 is a poll, it never "
                      "waits. Is 0 taken for \"for ever\" (timeout_ms <= 0)?",
                      kind[recursive]);
        fl_expect_int(p.rc, -EAGAIN,
                      recursive ? "mp_lock_acquire(rlock, 0) in a process "
                                  "that does not hold the RLock"
                                : "mp_lock_acquire(lock, 0) while another "
                                  "process holds the lock",
                      p.rc == -ETIMEDOUT
                          ? "a poll that finds the lock held is -EAGAIN "
                            "(pthread_mutex_trylock's EBUSY), not a timeout"
                      : p.rc >= 0 && recursive
                          ? "the process took an RLock that another holds, "
                            "as if it were the owner. pthread_self() is the "
                            "same in a forked child, and so is a cached "
                            "thread id that no pthread_atfork() handler "
                            "forgets: use gettid(), cached with care (read "
                            "README.md#rlock-an-owner-and-a-count)"
                      : p.rc >= 0 ? "the process took a lock that another "
                                    "holds"
                                  : "");
        ck_assert_msg(p.took_ms < 1500,
                      "mp_lock_acquire(lock, 0) took %ld ms: a poll "
                      "returns at once",
                      p.took_ms);
    }
}

FL_TEST(test_mp_lock_acquire_rejects_invalid_arguments)
{
    int got = mp_lock_acquire(NULL, -1);
    fl_expect_int(got, -EINVAL, "mp_lock_acquire(NULL, -1)", "");
    mp_lock *lock = new_lock(0);
    got = mp_lock_acquire(lock, -2);
    int poll = got == -EINVAL ? other_poll(lock) : 0;
    if (got >= 0)
        mp_lock_release(lock);
    mp_lock_destroy(lock);
    fl_expect_int(got, -EINVAL, "mp_lock_acquire(lock, -2)",
                  "-1 means for ever; anything below is an error");
    fl_expect_int(poll, 0, "a poll of the lock after the rejected call",
                  "a rejected call must leave the lock free");
    // The owner of an RLock takes the recursion path, which must check
    // its arguments as well: a bad timeout is refused, and not counted.
    mp_lock *rlock = new_lock(1);
    take(rlock, "the test");
    int again = mp_lock_acquire(rlock, -2);
    int rel = mp_lock_release(rlock);
    int after = other_poll(rlock);
    if (after == -EAGAIN)
        mp_lock_release(rlock); // the refused call was counted
    mp_lock_destroy(rlock);
    ck_assert_msg(again == -EINVAL && rel == 0 && after == 0,
                  "the owner of an RLock called mp_lock_acquire(rlock, -2) "
                  "and got %s; its one release then returned %s and another "
                  "process's poll %s. Expected -EINVAL, 0 and 0: check the "
                  "arguments first, before the owner's recursion check, so "
                  "that the owner's bad call is refused and not counted",
                  fl_ret(again), fl_ret(rel), fl_ret(after));
}

/* --------------------------------------------- when the owner dies */

FL_TEST(test_mp_lock_acquire_recovers_when_the_owner_is_killed)
{
    mp_lock *lock = new_lock(0);
    owner_killed(lock, 1);
    struct probe p = other(probe_acquire, lock, -1, 0, 3000);
    mp_lock_destroy(lock);
    ck_assert_msg(!p.timed_out,
                  "the lock's owner was killed (SIGKILL) while it held the "
                  "lock, and mp_lock_acquire(lock, -1) in another process "
                  "was still waiting 3 s later: the test's timeout caught a "
                  "hang. A mutex that is not robust stays locked for ever "
                  "when its owner dies: set PTHREAD_MUTEX_ROBUST with "
                  "pthread_mutexattr_setrobust()");
    ck_assert_msg(p.rc == MP_LOCK_RECOVERED,
                  "after the owner was killed holding the lock, "
                  "mp_lock_acquire returned %s; expected MP_LOCK_RECOVERED "
                  "(%d). %s",
                  fl_ret(p.rc), MP_LOCK_RECOVERED,
                  p.rc == 0 ? "The caller holds the lock but was not told "
                              "that the data it guards may be half-updated: "
                              "turn EOWNERDEAD into MP_LOCK_RECOVERED. (Or "
                              "the process that died held a copy of its own: "
                              "is the lock in shared memory?)"
                  : p.rc == -EOWNERDEAD
                      ? "EOWNERDEAD is not a failure: the caller holds the "
                        "mutex. Call pthread_mutex_consistent() and return "
                        "MP_LOCK_RECOVERED"
                      : "");
}

FL_TEST(test_mp_lock_acquire_after_a_recovery_finds_the_lock_usable)
{
    mp_lock *lock = new_lock(0);
    owner_killed(lock, 1);
    int got = mp_lock_acquire(lock, 1000);
    int rel = got >= 0 ? mp_lock_release(lock) : 0;
    int poll = got >= 0 ? other_poll(lock) : 0;
    int again = got >= 0 ? mp_lock_acquire(lock, 0) : 0;
    if (again >= 0 && got >= 0)
        mp_lock_release(lock);
    mp_lock_destroy(lock);
    ck_assert_msg(got == MP_LOCK_RECOVERED,
                  "mp_lock_acquire(lock, 1000) after the owner was killed "
                  "returned %s, expected MP_LOCK_RECOVERED%s",
                  fl_ret(got),
                  got == -ETIMEDOUT ? ": it waited for a dead owner. Is the "
                                      "mutex robust?"
                                    : "");
    fl_expect_int(rel, 0, "mp_lock_release after the recovery", "");
    fl_expect_int(poll, 0,
                  "another process's poll of the lock, recovered and then "
                  "released",
                  poll == -ENOTRECOVERABLE
                      ? "the lock is unusable for good: a robust mutex "
                        "taken with EOWNERDEAD and unlocked without "
                        "pthread_mutex_consistent() becomes ENOTRECOVERABLE"
                      : "");
    fl_expect_int(again, 0, "a second acquire after the recovery",
                  again == MP_LOCK_RECOVERED
                      ? "only the first acquire after the death recovers"
                      : "");
}

FL_TEST(test_mp_lock_acquire_recovers_an_rlock_for_its_new_owner)
{
    mp_lock *lock = new_lock(1);
    owner_killed(lock, 2); // it acquired twice, then died
    int got = mp_lock_acquire(lock, 1000);
    int rel = got >= 0 ? mp_lock_release(lock) : 0;
    int poll = got >= 0 && rel == 0 ? other_poll(lock) : 0;
    for (int i = 0; got >= 0 && rel != 0 && i < 3; i++) // free it
        mp_lock_release(lock);
    mp_lock_destroy(lock);
    ck_assert_msg(got == MP_LOCK_RECOVERED,
                  "mp_lock_acquire(rlock, 1000) after its owner was killed "
                  "holding it twice returned %s, expected "
                  "MP_LOCK_RECOVERED%s",
                  fl_ret(got),
                  got == 0 ? ". Did the caller take itself for the dead "
                             "owner (an id that is not its own: "
                             "pthread_self(), a cache copied by fork())?"
                  : got == -ETIMEDOUT ? ": it waited for a dead owner. Is "
                                        "the mutex robust?"
                                      : "");
    fl_expect_int(rel, 0, "one mp_lock_release by the new owner",
                  "after a recovery the caller is the owner (its thread "
                  "id), with a count of 1: set both on that path too");
    fl_expect_int(poll, 0,
                  "another process's poll after the new owner's one "
                  "release",
                  poll == -ENOTRECOVERABLE
                      ? "the lock is unusable for good: a robust mutex "
                        "taken with EOWNERDEAD and unlocked without "
                        "pthread_mutex_consistent() becomes ENOTRECOVERABLE"
                      : "the new owner acquired once, so one release frees "
                        "it: the dead owner's count must not survive it");
    // Two children of a parent that has used an RLock (its fork watch is
    // set): the one that recovers must not take the dead one for itself.
    // A fork that leaves every child the same id (a cache reset to
    // anything but 0, say) makes them all one owner.
    lock = new_lock(1);
    take(lock, "the test");
    mp_lock_release(lock);
    owner_killed(lock, 1);
    struct probe p = other_acquire(lock, 1000, 3000);
    mp_lock_destroy(lock);
    ck_assert_msg(!p.timed_out && p.rc == MP_LOCK_RECOVERED &&
                      p.rc_release == 0,
                  "the RLock's owner, a child, was killed holding it; "
                  "another child's mp_lock_acquire(rlock, 1000) returned "
                  "%s%s (expected MP_LOCK_RECOVERED), then its release %s "
                  "(expected 0). Each child has its own thread id: after "
                  "fork(), forget the cached id (0), so that my_tid asks "
                  "gettid() again",
                  p.timed_out ? "nothing in 3 s" : fl_ret(p.rc),
                  p.rc == 0 ? ": it took the dead child for itself" : "",
                  fl_ret(p.rc_release));
}

/* ---------------------------------------------------- mp_lock_release */

FL_TEST(test_mp_lock_release_rejects_a_null_lock)
{
    fl_expect_int(mp_lock_release(NULL), -EINVAL, "mp_lock_release(NULL)", "");
}

FL_TEST(test_mp_lock_release_of_an_unheld_lock_fails)
{
    static const char *kind[] = {"Lock", "RLock"};
    for (int recursive = 0; recursive < 2; recursive++) {
        mp_lock *lock = new_lock(recursive);
        int got = mp_lock_release(lock);
        int poll = other_poll(lock);
        mp_lock_destroy(lock);
        ck_assert_msg(got == -EPERM,
                      "mp_lock_release of a free %s returned %s, expected "
                      "%s: nobody holds it. Python raises ValueError here. "
                      "pthread_mutex_unlock of a robust mutex the caller "
                      "does not hold fails with EPERM: return that. (A "
                      "mutex that is not robust does not check.)",
                      kind[recursive], fl_ret(got), fl_ret(-EPERM));
        fl_expect_int(poll, 0, "a poll of the lock after that release",
                      "a rejected release must leave the lock free");
    }
}

FL_TEST(test_mp_lock_release_by_another_process_fails)
{
    mp_lock *lock = new_lock(0);
    take(lock, "the test");
    int got = other_release(lock);
    int poll = other_poll(lock);
    int rel = mp_lock_release(lock);
    mp_lock_destroy(lock);
    fl_expect_int(got, -EPERM,
                  "mp_lock_release in a process that does not hold the lock",
                  "only the owner may release this lock: a robust mutex "
                  "knows its owner and pthread_mutex_unlock says EPERM. "
                  "Pass that error on (and make the mutex robust: a plain "
                  "one does not check)");
    fl_expect_int(poll, -EAGAIN, "a poll after that release",
                  "the lock must still be held by its owner");
    fl_expect_int(rel, 0, "the owner's own release", "");
}

/* -------------------------------------------------------------- RLock */

FL_TEST(test_mp_lock_acquire_of_a_lock_by_its_owner_does_not_recurse)
{
    mp_lock *lock = new_lock(0);
    struct probe p = other(probe_acquire_twice, lock, 0, 0, 3000);
    mp_lock_destroy(lock);
    ck_assert_msg(!p.timed_out,
                  "a process that holds a Lock polled it (timeout 0) and was "
                  "still waiting 3 s later: a poll never waits");
    fl_expect_int(p.rc, 0, "mp_lock_acquire(lock, -1) of a free Lock", "");
    fl_expect_int(p.rc_again, -EAGAIN, "the owner's poll of the Lock it holds",
                  "a Lock is not an RLock: its owner's second acquire waits "
                  "like anyone else's (Python's Lock deadlocks there). Only "
                  "a recursive lock counts acquires");
}

// recursive is a flag: any value but 0 makes an RLock.  Create one with
// -1, as a caller passing a mask or ~0 would; the tests of lesson 06 use 1
// everywhere else.
FL_TEST(test_mp_lock_acquire_of_an_rlock_by_its_owner_succeeds_again)
{
    mp_lock *lock = NULL;
    int made = mp_lock_create(&lock, -1);
    ck_assert_msg(made == 0 && lock != NULL,
                  "mp_lock_create(&lock, -1) returned %s, expected 0 and an "
                  "RLock: recursive is a flag, anything but 0 makes an "
                  "RLock (recursive != 0)",
                  fl_ret(made));
    take(lock, "the test");
    int second = mp_lock_acquire(lock, 0);
    int third = mp_lock_acquire(lock, 1000);
    int held = 1 + (second >= 0) + (third >= 0);
    for (int i = 0; i < held; i++)
        mp_lock_release(lock);
    mp_lock_destroy(lock);
    fl_expect_int(second, 0,
                  "the owner's second acquire of its RLock (a "
                  "poll)",
                  "an RLock's owner acquires it again at once: is the "
                  "recursive flag kept (made with -1: anything but 0 is an "
                  "RLock, recursive != 0), and the owner compared with "
                  "gettid()?");
    fl_expect_int(third, 0, "the owner's third acquire (timeout 1000 ms)", "");
}

FL_TEST(test_mp_lock_release_of_an_rlock_must_match_each_acquire)
{
    mp_lock *lock = new_lock(1);
    take(lock, "the test");
    int second = mp_lock_acquire(lock, 0);
    ck_assert_msg(second == 0,
                  "the owner's second acquire of its RLock "
                  "returned %s, expected 0",
                  fl_ret(second));
    int rel1 = mp_lock_release(lock);
    int poll1 = other_poll(lock);
    int rel2 = poll1 == 0 ? 0 : mp_lock_release(lock);
    int poll2 = other_poll(lock);
    int rel3 = mp_lock_release(lock);
    mp_lock_destroy(lock);
    fl_expect_int(rel1, 0, "the first of two releases", "");
    fl_expect_int(poll1, -EAGAIN,
                  "another process's poll after one of two releases",
                  "the RLock was freed by the first release: count each "
                  "acquire, and unlock only when the count drops to 0. (Or "
                  "the other process took it for its own: is the owner "
                  "compared with the caller's own thread id?)");
    fl_expect_int(rel2, 0, "the second of two releases", "");
    fl_expect_int(poll2, 0, "another process's poll after both releases",
                  "the last release must unlock the mutex");
    fl_expect_int(rel3, -EPERM, "a third release of an RLock acquired twice",
                  "the RLock is free: nobody may release it");
}

FL_TEST(test_mp_lock_acquire_of_an_rlock_after_its_last_release_locks_it)
{
    mp_lock *lock = new_lock(1);
    take(lock, "the test");
    int rel = mp_lock_release(lock);
    int again = mp_lock_acquire(lock, -1);
    int poll = other_poll(lock);
    for (int i = 0; i < 3 && mp_lock_release(lock) == 0; i++)
        ;
    mp_lock_destroy(lock);
    fl_expect_int(rel, 0, "the release of an RLock acquired once", "");
    fl_expect_int(again, 0, "the same process's next acquire", "");
    fl_expect_int(poll, -EAGAIN,
                  "another process's poll while the RLock is held again",
                  "the RLock was acquired, released, and acquired again, "
                  "yet another process took it: did the last release leave "
                  "the owner set, so that the next acquire only counted "
                  "instead of locking the mutex? (Or did the other process "
                  "take it for its own: whose thread id does it compare?)");
}

FL_TEST(test_mp_lock_release_of_an_rlock_by_another_process_fails)
{
    mp_lock *lock = new_lock(1);
    take(lock, "the test");
    int second = mp_lock_acquire(lock, 0);
    int got = other_release(lock);
    int poll = other_poll(lock);
    int rel1 = mp_lock_release(lock), rel2 = mp_lock_release(lock);
    mp_lock_destroy(lock);
    fl_expect_int(second, 0, "the owner's second acquire of its RLock", "");
    fl_expect_int(got, -EPERM,
                  "mp_lock_release of an RLock in a process that does not "
                  "own it",
                  "compare the owner with the caller's thread id before "
                  "touching the count. The id must be the child's own: "
                  "pthread_self(), or a cached gettid() that fork() copied, "
                  "is the parent's. Python raises AssertionError here");
    fl_expect_int(poll, -EAGAIN, "a poll after that release",
                  "the RLock must still be held by its owner");
    ck_assert_msg(rel1 == 0 && rel2 == 0,
                  "the owner's two releases returned %s and %s, expected 0 "
                  "and 0 for an RLock acquired twice. Did the other "
                  "process's release change the count? Was the second "
                  "acquire counted?",
                  fl_ret(rel1), fl_ret(rel2));
}

// The test below hands an RLock from a giver to a taker that waits for
// it.  Between pthread_mutex_unlock and the return of mp_lock_release
// there are a few instructions, and the taker needs microseconds to wake
// up: a release that clears the owner after its unlock would lose that
// race once in a great many runs.  So the test traces the giver (ptrace)
// and stops it at the end of the futex() call inside its unlock, the
// wake-up of the taker, until the taker holds the lock: whatever the
// release does after its unlock, it does after the next owner's acquire,
// every run.  Where ptrace is refused (a sandbox, a debugger already
// attached), the test runs all the same, unwidened: a correct release
// still passes, and the mistake goes unseen there.

// What the giver and the taker saw, in shared memory.
struct handoff_seen {
    atomic_int trying; // the taker is about to acquire
    int rc_take;       // the giver's acquire of the free RLock
    int rc_give;       // the giver's release, the taker waiting
    int rc_acquire;    // the taker's acquire
    int rc_again;      // the taker's poll of the RLock it then held
    int rc_release;    // the taker's first release that failed, or 0
};

// What each process has of the test: its own descriptors of the gates.
struct handoff {
    mp_lock *lock;
    fl_gate held;     // the giver opens it once it holds the lock
    fl_gate taken;    // the taker opens it once its acquire returned
    fl_gate released; // the giver opens it once its release returned
    struct handoff_seen *seen;
};

static int
give(void *arg)
{
    struct handoff *h = arg;
    struct handoff_seen *s = h->seen;
    fl_gate_free(&h->taken); // the test waits there, not the giver
    int traced = ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0;
    s->rc_take = mp_lock_acquire(h->lock, -1);
    fl_gate_open(&h->held);
    if (traced)
        raise(SIGSTOP); // the test lets it go once the taker waits
    s->rc_give = s->rc_take == 0 ? mp_lock_release(h->lock) : -ENOSYS;
    fl_gate_open(&h->released);
    return 0;
}

static int
take_given(void *arg)
{
    struct handoff *h = arg;
    struct handoff_seen *s = h->seen;
    fl_gate_wait(&h->held);
    atomic_store(&s->trying, 1);
    s->rc_acquire = mp_lock_acquire(h->lock, 3000);
    fl_gate_open(&h->taken);
    fl_gate_wait(&h->released);
    if (s->rc_acquire != 0)
        return 0;
    s->rc_again = mp_lock_acquire(h->lock, 0);
    for (int held = 1 + (s->rc_again == 0); held > 0; held--) {
        int rc = mp_lock_release(h->lock);
        if (s->rc_release == 0)
            s->rc_release = rc;
    }
    return 0;
}

// Wait until the traced pid stops (1), ends (0: reaped, *ended set) or
// deadline passes (-1).
static int
next_stop(pid_t pid, long deadline, int *st, int *ended)
{
    pid_t w;
    while ((w = waitpid(pid, st, WNOHANG)) == 0 && fl_now_ms() < deadline)
        sched_yield();
    *ended = w == pid && !WIFSTOPPED(*st);
    return w == pid && WIFSTOPPED(*st) ? 1 : *ended ? 0 : -1;
}

// Run the stopped giver to the end of its next futex() call, the wake-up
// in its unlock, and hold it there until the taker has the lock (the gate
// taken opens); then let it go on, untraced.
static void
hold_after_unlock(pid_t giver, fl_gate *taken, long deadline, int *ended)
{
    long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL, nr = -1;
    int st, sig = 0;
    ptrace(PTRACE_SETOPTIONS, giver, NULL, (void *)opts);
    for (;;) {
        if (ptrace(PTRACE_SYSCALL, giver, NULL, (void *)(long)sig) < 0 ||
            next_stop(giver, deadline, &st, ended) < 1)
            return;
        sig = WSTOPSIG(st) == (SIGTRAP | 0x80) ? 0 : WSTOPSIG(st);
        struct __ptrace_syscall_info in;
        if (sig != 0 ||
            ptrace(PTRACE_GET_SYSCALL_INFO, giver, (void *)sizeof in, &in) <= 0)
            continue;
        if (in.op == PTRACE_SYSCALL_INFO_ENTRY)
            nr = (long)in.entry.nr;
        else if (in.op == PTRACE_SYSCALL_INFO_EXIT && nr == SYS_futex)
            break;
    }
    fl_gate_wait(taken);
    ptrace(PTRACE_DETACH, giver, NULL, NULL);
}

FL_TEST(test_mp_lock_release_of_an_rlock_clears_the_owner_before_unlocking)
{
    struct handoff_seen *seen = shared(sizeof *seen);
    *seen = (struct handoff_seen){0, -ENOSYS, -ENOSYS, -ENOSYS, -ENOSYS, 0};
    struct handoff h = {.lock = new_lock(1), .seen = seen};
    fl_gate_new(&h.held, 0, 3000);
    fl_gate_new(&h.taken, 0, 3000);
    fl_gate_new(&h.released, 0, 3000);
    pid_t taker = fl_raw_start(take_given, &h);
    pid_t giver = fl_raw_start(give, &h);
    fl_gate_free(&h.held); // only the giver opens them now
    fl_gate_free(&h.released);
    long deadline = fl_now_ms() + 8000;
    int st, ended = 0, hung = 0;
    if (next_stop(giver, deadline, &st, &ended) == 1) { // it holds the lock
        long end = fl_now_ms() + 3000;
        // until the taker sleeps, waiting for the lock: 20 ms in a row, as
        // one 'S' read can come before it reached the lock
        while (!(atomic_load(&seen->trying) && fl_proc_state(taker) == 'S' &&
                 fl_proc_idles(taker, 20)) &&
               fl_now_ms() < end)
            sched_yield();
        hold_after_unlock(giver, &h.taken, deadline, &ended);
    }
    fl_gate_free(&h.taken);
    if (!ended)
        reap_by(giver, deadline, &hung);
    reap_by(taker, deadline, &hung);
    mp_lock_destroy(h.lock);
    struct handoff_seen s = *seen;
    munmap(seen, sizeof *seen);
    ck_assert_msg(!hung, "a process that released an RLock to another, or "
                         "the one that waited for it, was still running "
                         "after 8 s");
    fl_expect_int(s.rc_take, 0, "mp_lock_acquire(rlock, -1) of a free RLock",
                  "");
    fl_expect_int(s.rc_give, 0,
                  "mp_lock_release of an RLock acquired once, while another "
                  "process waited for it",
                  "");
    fl_expect_int(s.rc_acquire, 0,
                  "the waiting process's mp_lock_acquire(rlock, 3000), once "
                  "the owner had released the RLock",
                  s.rc_acquire == -ETIMEDOUT
                      ? "the lock was released well within the 3000 ms: is "
                        "the deadline now + timeout_ms, its whole seconds "
                        "added to tv_sec?"
                      : "");
    ck_assert_msg(s.rc_again == 0 && s.rc_release == 0,
                  "one process released an RLock that another waited for; "
                  "the other acquired it, then, as its owner, polled it "
                  "(mp_lock_acquire(rlock, 0)) and got %s, and released it "
                  "and got %s; expected 0 and 0. It was no longer the "
                  "owner. Does mp_lock_release clear the owner after "
                  "pthread_mutex_unlock? Once the mutex is unlocked, the "
                  "waiter takes it and records itself as the owner, and a "
                  "late clear erases it. Clear the owner before unlocking",
                  fl_ret(s.rc_again), fl_ret(s.rc_release));
}

/* ---------------------------------------------------- mp_lock_destroy */

FL_TEST(test_mp_lock_destroy_unmaps_the_lock)
{
    fl_expect_int(mp_lock_destroy(NULL), -EINVAL, "mp_lock_destroy(NULL)", "");
    mp_lock *lock = new_lock(0);
    long page = sysconf(_SC_PAGESIZE);
    void *base = (void *)((uintptr_t)lock & ~(uintptr_t)(page - 1));
    int got = mp_lock_destroy(lock);
    int mapped = msync(base, (size_t)page, MS_ASYNC) == 0;
    fl_expect_int(got, 0, "mp_lock_destroy of a free lock", "");
    ck_assert_msg(!mapped,
                  "the lock's page is still mapped after mp_lock_destroy: "
                  "munmap() what mp_lock_create() mapped");
    // A munmap that fails must be reported (the page, still mapped, is
    // unmapped here by hand).
    lock = new_lock(0);
    base = (void *)((uintptr_t)lock & ~(uintptr_t)(page - 1));
    fl_fault_reset();
    fl_fault_fail("munmap", 1, EINVAL);
    got = mp_lock_destroy(lock);
    long fired = fl_fault_fired("munmap");
    fl_fault_reset();
    if (fired > 0)
        munmap(base, (size_t)page);
    fl_expect_int(got, -EINVAL,
                  "mp_lock_destroy with munmap() failing with EINVAL",
                  "munmap's failure reaches the caller: check its -1 and "
                  "return -errno");
}

/* ------------------------------------------------------- under stress */

// mp_lock_create with every call of fn failing in turn: each failure is
// -err, leaves *lockp alone, and leaves nothing behind, every mapping it
// made unmapped (the wrappers count mmap and munmap).
static void
walk_create(const char *fn, int err, const char *hint)
{
    FL_FAULT_WALK (fn, err, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_lock *lock = NULL;
        int rc = mp_lock_create(&lock, 0);
        long maps = fl_fault_calls("mmap") - fl_fault_fired("mmap");
        long unmaps = fl_fault_calls("munmap");
        char what[128];
        snprintf(what, sizeof what,
                 "mp_lock_create(&lock, 0) with its call %d of %s() failing "
                 "with %s",
                 k, fn, strerrorname_np(err));
        if (fl_fault_fired(fn) > 0) {
            fl_expect_int(rc, -err, what, hint);
            ck_assert_msg(lock == NULL,
                          "%s: it failed but set *lockp: set "
                          "it only on success",
                          what);
            ck_assert_msg(unmaps == maps,
                          "%s: it mapped %ld time(s) and unmapped %ld. When "
                          "init_mutex fails, munmap the lock's page.",
                          what, maps, unmaps);
        } else {
            fl_expect_int(rc, 0, "mp_lock_create(&lock, 0)", "");
            mp_lock_destroy(lock);
        }
        fl_expect_no_leak(&s, what);
    }
}

FL_TEST(test_mp_lock_create_fails_cleanly_when_any_call_it_makes_fails)
{
    walk_create("mmap", ENOMEM,
                "mmap reports failure with MAP_FAILED, not NULL: compare "
                "with MAP_FAILED and return -errno");
    // Not only for want of memory: with mlockall(MCL_FUTURE), a mapping
    // past RLIMIT_MEMLOCK fails with EAGAIN, and the caller is told so.
    walk_create("mmap", EAGAIN,
                "return -errno, whatever mmap's errno is: not -ENOMEM "
                "for every failure");
    walk_create("pthread_mutex_init", EAGAIN,
                "pthread_mutex_init returns its error number (it does not "
                "set errno): return minus it");
}

FL_TEST(test_mp_lock_acquire_keeps_its_timeout_when_the_wall_clock_jumps)
{
    mp_lock *lock = new_lock(0);
    take(lock, "the test");
    fl_fault_reset();
    fl_clock_jump(-3600); // the probe inherits it: its wall clock is 1 h back
    struct probe p = other(probe_acquire, lock, 200, 1, 3000);
    fl_fault_reset();
    mp_lock_release(lock);
    mp_lock_destroy(lock);
    ck_assert_msg(!p.timed_out, "mp_lock_acquire(lock, 200) was still "
                                "waiting after 3 s");
    fl_expect_int(p.rc, -ETIMEDOUT,
                  "mp_lock_acquire(lock, 200) of a held lock, the wall clock "
                  "set back an hour",
                  "");
    ck_assert_msg(p.took_ms >= 190,
                  "with the wall clock set back an hour, mp_lock_acquire"
                  "(lock, 200) gave up after %ld ms. Its deadline was read "
                  "from CLOCK_REALTIME, the clock anyone may set (and "
                  "pthread_mutex_timedlock reads it too): read "
                  "CLOCK_MONOTONIC and wait with pthread_mutex_clocklock("
                  "..., CLOCK_MONOTONIC, ...)",
                  p.took_ms);
}

// Not a timeout but a request: the timeout that puts the deadline exactly
// on a second, now + timeout with tv_nsec of a billion before the carry.
#define TO_A_WHOLE_SECOND (-1000)

// A child's timed acquire of the lock the test holds, released once the
// child sleeps: *rc is what the acquire returned.
static int
acquire_when_released(mp_lock *lock, int timeout_ms, int *rc)
{
    int *out = shared(sizeof *out);
    *out = -ENOSYS;
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed");
    if (pid == 0) {
        if (timeout_ms == TO_A_WHOLE_SECOND)
            timeout_ms = fl_clock_mono_to_a_whole_second();
        *out = mp_lock_acquire(lock, timeout_ms);
        _exit(*out == 0 && mp_lock_release(lock) != 0);
    }
    long end = fl_now_ms() + 3000;
    char st;
    while ((st = state_of(pid)) != 'S' && st != 'Z' && fl_now_ms() < end)
        sched_yield();
    // Asleep for 20 ms, not once: a deadline already past puts the lock
    // call to sleep too, until the next timer tick (4 ms on a machine with
    // coarse timers), and a release in that window would hand it the lock.
    if (st == 'S' && !fl_proc_idles(pid, 20))
        st = state_of(pid);
    int release = mp_lock_release(lock);
    int hung = 0;
    reap_by(pid, fl_now_ms() + 3000, &hung);
    *rc = *out;
    munmap(out, sizeof *out);
    ck_assert_msg(release == 0 && !hung,
                  "mp_lock_acquire(lock, %d) in a child %s", timeout_ms,
                  hung ? "was still waiting 3 s after the lock was released"
                       : "broke the test's own release");
    return st;
}

// Long timeouts, up to INT_MAX ms (24 days), wait like short ones.
FL_TEST(test_mp_lock_acquire_waits_out_long_timeouts)
{
    // 1000 and 2000 are whole seconds: a deadline that drops them is now.
    static const int timeouts[] = {
        999, 1000, 2000, 2500, 999, INT_MAX, TO_A_WHOLE_SECOND};
    mp_lock *lock = new_lock(0);
    for (size_t i = 0; i < sizeof timeouts / sizeof *timeouts; i++) {
        take(lock, "the test");
        int rc;
        char st = acquire_when_released(lock, timeouts[i], &rc);
        char call[96];
        if (timeouts[i] == TO_A_WHOLE_SECOND)
            snprintf(call, sizeof call,
                     "mp_lock_acquire(lock, t), now + t exactly on a "
                     "second,");
        else
            snprintf(call, sizeof call, "mp_lock_acquire(lock, %d)",
                     timeouts[i]);
        ck_assert_msg(rc == 0 && st == 'S',
                      "%s of a lock released soon after returned %s%s; "
                      "expected it to wait and get the lock (0). %s",
                      call, fl_ret(rc), st == 'Z' ? " at once" : "",
                      rc == -EINVAL
                          ? "tv_nsec must stay below 1000000000: carry the "
                            "seconds into tv_sec, when tv_nsec is 1000000000 "
                            "too (>=, not >)"
                      : rc == -ETIMEDOUT && timeouts[i] % 1000 == 0
                          ? "It gave up at once: did the deadline keep only "
                            "timeout_ms % 1000 and drop the whole seconds? "
                            "Add timeout_ms / 1000 to tv_sec"
                          : "Compute the deadline in long arithmetic: "
                            "timeout_ms * 1000000 in int overflows past "
                            "2147 ms (undefined behaviour, in practice a "
                            "deadline in the past)");
    }
    mp_lock_destroy(lock);
}

struct thread_probe {
    mp_lock *lock;
    int rc_poll, rc_release;
};

static void *
other_thread(void *arg)
{
    struct thread_probe *t = arg;
    t->rc_poll = mp_lock_acquire(t->lock, 0);
    t->rc_release = mp_lock_release(t->lock);
    return NULL;
}

FL_TEST(test_mp_lock_acquire_of_an_rlock_held_by_another_thread_fails)
{
    mp_lock *lock = new_lock(1);
    take(lock, "the test's main thread");
    struct thread_probe t = {lock, -ENOSYS, -ENOSYS};
    pthread_t th;
    ck_assert(pthread_create(&th, NULL, other_thread, &t) == 0);
    pthread_join(th, NULL);
    int mine = mp_lock_release(lock);
    mp_lock_destroy(lock);
    ck_assert_msg(t.rc_poll == -EAGAIN && t.rc_release == -EPERM,
                  "the main thread holds an RLock; another thread of the "
                  "same process polled it (mp_lock_acquire(lock, 0)) and "
                  "got %s, then released it and got %s; expected -EAGAIN "
                  "and -EPERM. An RLock's owner is a thread: gettid(), "
                  "cached per thread (_Thread_local), not getpid() nor a "
                  "cache all threads share",
                  fl_ret(t.rc_poll), fl_ret(t.rc_release));
    fl_expect_int(mine, 0, "the main thread's release", "");
}

struct thread_owner {
    mp_lock *lock;
    pthread_barrier_t held, checked; // the thread holds it; main has looked
    int first, again, rel1, rel2;
};

static void *
owning_thread(void *arg)
{
    struct thread_owner *t = arg;
    t->first = mp_lock_acquire(t->lock, 0);
    t->again = t->first == 0 ? mp_lock_acquire(t->lock, 0) : t->first;
    pthread_barrier_wait(&t->held);
    pthread_barrier_wait(&t->checked);
    t->rel1 = mp_lock_release(t->lock);
    t->rel2 = mp_lock_release(t->lock);
    return NULL;
}

// An RLock belongs to the thread that acquired it, whichever thread that
// is: a thread other than the main one acquires it again at once, and the
// main thread, whose thread id is the process id, finds it held.
FL_TEST(test_mp_lock_acquire_of_an_rlock_by_a_second_thread_recurses)
{
    mp_lock *lock = new_lock(1);
    struct thread_owner t = {.lock = lock};
    ck_assert(pthread_barrier_init(&t.held, NULL, 2) == 0);
    ck_assert(pthread_barrier_init(&t.checked, NULL, 2) == 0);
    pthread_t th;
    ck_assert(pthread_create(&th, NULL, owning_thread, &t) == 0);
    pthread_barrier_wait(&t.held);
    int main_poll = mp_lock_acquire(lock, 0);
    if (main_poll == 0)
        mp_lock_release(lock);
    pthread_barrier_wait(&t.checked);
    pthread_join(th, NULL);
    int after = mp_lock_acquire(lock, 0);
    if (after >= 0)
        mp_lock_release(lock);
    pthread_barrier_destroy(&t.held);
    pthread_barrier_destroy(&t.checked);
    mp_lock_destroy(lock);
    ck_assert_msg(t.first == 0 && t.again == 0 && main_poll == -EAGAIN,
                  "a thread other than the main one acquired an RLock (%s) "
                  "and acquired it again (%s); the main thread's poll then "
                  "got %s; expected 0, 0 and -EAGAIN. The owner recorded "
                  "must be the acquiring thread's own id, my_tid(), the "
                  "very id the recursion check compares with: getpid() is "
                  "the main thread's id, in every thread",
                  fl_ret(t.first), fl_ret(t.again), fl_ret(main_poll));
    ck_assert_msg(t.rel1 == 0 && t.rel2 == 0 && after == 0,
                  "the thread's two releases returned %s and %s, and a poll "
                  "after them %s; expected 0, 0 and 0",
                  fl_ret(t.rel1), fl_ret(t.rel2), fl_ret(after));
}

FL_TEST(test_mp_lock_acquire_recovers_with_a_poll_or_a_timeout)
{
    static const int timeouts[] = {0, 200};
    for (int i = 0; i < 2; i++) {
        mp_lock *lock = new_lock(0);
        owner_killed(lock, 1);
        int rc = mp_lock_acquire(lock, timeouts[i]);
        int rel = rc >= 0 ? mp_lock_release(lock) : 0;
        mp_lock_destroy(lock);
        ck_assert_msg(rc == MP_LOCK_RECOVERED && rel == 0,
                      "the lock's owner was killed holding it; "
                      "mp_lock_acquire(lock, %d) returned %s (release: %s); "
                      "expected MP_LOCK_RECOVERED (1) and 0. A poll and a "
                      "timed acquire meet EOWNERDEAD too "
                      "(pthread_mutex_trylock and _clocklock return it): "
                      "only EBUSY means held",
                      timeouts[i], fl_ret(rc), fl_ret(rel));
    }
}

static const fl_case cases[] = {
    FL_CASE(test_mp_lock_create_rejects_a_null_pointer, 5),
    FL_CASE(test_mp_lock_acquire_takes_a_free_lock_at_once, 5),
    FL_CASE(test_mp_lock_acquire_waits_while_another_process_holds_it, 10),
    FL_CASE(test_mp_lock_acquire_keeps_two_processes_out_of_the_section, 12),
    FL_CASE(test_mp_lock_acquire_makes_8_processes_count_exactly, 12),
    FL_CASE(test_mp_lock_acquire_times_out_on_a_held_lock, 8),
    FL_CASE(test_mp_lock_acquire_polls_a_held_lock_without_waiting, 10),
    FL_CASE(test_mp_lock_acquire_rejects_invalid_arguments, 8),
    FL_CASE(test_mp_lock_acquire_recovers_when_the_owner_is_killed, 8),
    FL_CASE(test_mp_lock_acquire_after_a_recovery_finds_the_lock_usable, 8),
    FL_CASE(test_mp_lock_acquire_recovers_an_rlock_for_its_new_owner, 8),
    FL_CASE(test_mp_lock_release_rejects_a_null_lock, 5),
    FL_CASE(test_mp_lock_release_of_an_unheld_lock_fails, 8),
    FL_CASE(test_mp_lock_release_by_another_process_fails, 8),
    FL_CASE(test_mp_lock_acquire_of_a_lock_by_its_owner_does_not_recurse, 5),
    FL_CASE(test_mp_lock_acquire_of_an_rlock_by_its_owner_succeeds_again, 5),
    FL_CASE(test_mp_lock_release_of_an_rlock_must_match_each_acquire, 8),
    FL_CASE(test_mp_lock_acquire_of_an_rlock_after_its_last_release_locks_it,
            8),
    FL_CASE(test_mp_lock_release_of_an_rlock_by_another_process_fails, 8),
    FL_CASE(test_mp_lock_release_of_an_rlock_clears_the_owner_before_unlocking,
            10),
    FL_CASE(test_mp_lock_destroy_unmaps_the_lock, 5),
    FL_CASE(test_mp_lock_create_fails_cleanly_when_any_call_it_makes_fails, 5),
    FL_CASE(test_mp_lock_acquire_keeps_its_timeout_when_the_wall_clock_jumps,
            5),
    FL_CASE(test_mp_lock_acquire_waits_out_long_timeouts, 10),
    FL_CASE(test_mp_lock_acquire_of_an_rlock_held_by_another_thread_fails, 5),
    FL_CASE(test_mp_lock_acquire_of_an_rlock_by_a_second_thread_recurses, 5),
    FL_CASE(test_mp_lock_acquire_recovers_with_a_poll_or_a_timeout, 5),
};

FL_MAIN("06_locks", cases)
