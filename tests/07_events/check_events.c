// check_events.c - tests for lesson 07: mp_event, a flag processes wait for.
//
// The event's layout is public (events.h), so the tests can judge each
// function alone: the tests of set, clear, is_set, wait and destroy work
// on an event that the test makes itself (raw_event: the same mutex,
// condition variable and flag, set up by hand), and play the other side
// with raw pthread calls.  Only the tests of mp_event_create, and the few
// that tell Python's whole story, use mp_event_create.
//
// Races are made to happen, not hoped for.  A test that needs a process
// to be asleep in a wait looks at /proc until it is (state S); one that
// needs a process to have woken up and gone back to sleep watches its
// count of voluntary context switches; a test that needs a set to land
// between a waiter's look at the flag and its sleep holds the event's
// lock itself across that window.  Nothing sleeps to synchronise.
//
// Every process a test starts reports through its own pipe, and a test
// waits for it with a bound: a wait that never ends is shown as a
// process still waiting, then killed.  A waiter killed in its wait leaves
// the condition variable unusable (glibc keeps count of its waiters in
// it), so after a kill a test only unmaps the event.
#define _GNU_SOURCE
#include "events.h"
#include "harness.h"
#include "stress.h"

#include <errno.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

// The moment ms from now on CLOCK_MONOTONIC, for pthread_cond_timedwait.
static struct timespec
mono_after(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

// An event made by the test, not by mp_event_create: shared memory, a
// process-shared mutex, a process-shared condition variable on
// CLOCK_MONOTONIC, a clear flag.  The tests of the other functions use it,
// so that a broken create cannot cost them their points.
static mp_event *
raw_event(void)
{
    mp_event *ev = mmap(NULL, sizeof *ev, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(ev != MAP_FAILED, "mmap failed: %s", strerror(errno));
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    int r = pthread_mutexattr_init(&ma) ||
            pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) ||
            pthread_mutex_init(&ev->lock, &ma) || pthread_condattr_init(&ca) ||
            pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED) ||
            pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
            pthread_cond_init(&ev->cond, &ca);
    ck_assert_msg(r == 0, "the test could not set up its own event");
    pthread_mutexattr_destroy(&ma);
    pthread_condattr_destroy(&ca);
    ev->flag = 0;
    return ev;
}

// mp_event_create, failing the test unless it made an event.
static mp_event *
made_event(void)
{
    mp_event *ev = NULL;
    int r = mp_event_create(&ev);
    ck_assert_msg(r == 0 && ev != NULL,
                  "mp_event_create(&ev) returned %s%s, expected 0 with ev "
                  "set",
                  fl_ret(r), r == 0 ? " but left ev NULL" : "");
    return ev;
}

// Unmap an event without mp_event_destroy: the tests of the other
// functions do not rely on it, and it is safe after a waiter was killed.
static void
forget(mp_event *ev)
{
    munmap(ev, sizeof *ev);
}

// Whether ev->lock is free now (taken and given back at once): a call
// that returned must have let go of it on every way out.
static int
lock_left_free(mp_event *ev)
{
    int r = pthread_mutex_trylock(&ev->lock);
    if (r == 0)
        pthread_mutex_unlock(&ev->lock);
    return r == 0;
}

static void
raw_lock(mp_event *ev)
{
    int r = pthread_mutex_lock(&ev->lock);
    ck_assert_msg(r == 0, "the test could not lock ev->lock: %s", strerror(r));
}

static void
raw_unlock(mp_event *ev)
{
    pthread_mutex_unlock(&ev->lock);
}

// What a correct set does, done by the test: flag, then broadcast.
static void
raw_set(mp_event *ev)
{
    raw_lock(ev);
    ev->flag = 1;
    pthread_cond_broadcast(&ev->cond);
    raw_unlock(ev);
}

// A wake-up with nothing to wake up for: the flag stays as it is.
static void
raw_broadcast(mp_event *ev)
{
    raw_lock(ev);
    pthread_cond_broadcast(&ev->cond);
    raw_unlock(ev);
}

// Whether a child's write to the event's memory reaches this process.
static int
shared_with_children(mp_event *ev)
{
    int was = ev->flag;
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed: %s", strerror(errno));
    if (pid == 0) {
        ev->flag = 42;
        _exit(0);
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    int shared = ev->flag == 42;
    ev->flag = was;
    return shared;
}

#define NOT_SHARED                                                             \
    "The event is not in shared memory, so the child used a copy of its "      \
    "own: map it MAP_SHARED | MAP_ANONYMOUS."

/* A kid: a child process that runs one function on an event and reports
 * what it returned, and how long it took, through its own pipe. */
struct report {
    int value;    // what the function returned
    int extra;    // whatever the function put in kid_extra
    long long us; // how long the call took
};

struct kid {
    pid_t pid;
    int fd;            // the read end of the kid's pipe
    int reported;      // 1 once the report is in
    struct report rep; // the report
};

typedef int (*kid_fn)(mp_event *ev, int arg);

static int kid_extra;       // set by a kid's function, in the kid
static long long kid_t0_us; // when the call began: a function may move it

static void
kid_start(struct kid *k, kid_fn fn, mp_event *ev, int arg)
{
    int p[2];
    ck_assert_msg(pipe(p) == 0, "pipe failed: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed: %s", strerror(errno));
    if (pid == 0) {
        close(p[0]);
        struct report rep = {0, 0, 0};
        kid_t0_us = fl_now_us();
        rep.value = fn(ev, arg);
        rep.us = fl_now_us() - kid_t0_us;
        rep.extra = kid_extra;
        _exit(write(p[1], &rep, sizeof rep) == (ssize_t)sizeof rep ? 0 : 1);
    }
    close(p[1]);
    *k = (struct kid){.pid = pid, .fd = p[0]};
}

// Whether the kid has reported, waiting up to limit_ms for it.
static int
kid_wait(struct kid *k, int limit_ms)
{
    if (k->reported)
        return 1;
    struct pollfd p = {.fd = k->fd, .events = POLLIN};
    long long end = fl_now_us() + limit_ms * 1000LL;
    int n;
    while ((n = poll(&p, 1, limit_ms)) < 0 && errno == EINTR)
        limit_ms = end > fl_now_us() ? (int)((end - fl_now_us()) / 1000) : 0;
    if (n == 1 && read(k->fd, &k->rep, sizeof k->rep) == sizeof k->rep)
        k->reported = 1;
    return k->reported;
}

// Reap the kid, killing it first if it never reported; 1 if killed.
static int
kid_end(struct kid *k)
{
    int killed = !k->reported;
    if (killed)
        kill(k->pid, SIGKILL);
    while (waitpid(k->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(k->fd);
    return killed;
}

// The kids' functions.
static int
kid_wait_for(mp_event *ev, int timeout_ms)
{
    return mp_event_wait(ev, timeout_ms);
}

static int
kid_set(mp_event *ev, int arg)
{
    (void)arg;
    return mp_event_set(ev);
}

static int
kid_clear(mp_event *ev, int arg)
{
    (void)arg;
    return mp_event_clear(ev);
}

// A correct waiter, written with raw pthread calls.
static int
kid_raw_wait(mp_event *ev, int arg)
{
    (void)arg;
    if (pthread_mutex_lock(&ev->lock) != 0)
        return -1;
    while (!ev->flag)
        pthread_cond_wait(&ev->cond, &ev->lock);
    pthread_mutex_unlock(&ev->lock);
    return 1;
}

static double
ms(long long us)
{
    return us / 1000.0;
}

// What a kid's wait did, for a message: "returned 0 after 12.3 ms", or
// "was still waiting after 3000 ms" when it never reported.
static const char *
said(const struct kid *k, int limit_ms)
{
    static char buf[4][96];
    static int next;
    char *b = buf[next++ % 4];
    if (k->reported)
        snprintf(b, sizeof buf[0], "returned %s after %.1f ms",
                 fl_ret(k->rep.value), ms(k->rep.us));
    else
        snprintf(b, sizeof buf[0], "was still waiting after %d ms", limit_ms);
    return b;
}

#define CLOCK_HINT                                                             \
    "The condition variable must read CLOCK_MONOTONIC "                        \
    "(pthread_condattr_setclock), the deadline must come from "                \
    "CLOCK_MONOTONIC too, and it must be absolute: now + timeout, not the "    \
    "timeout alone."

#define NSEC_HINT                                                              \
    "pthread_cond_timedwait refused the deadline (EINVAL): its tv_nsec must "  \
    "lie in 0 to 999999999. Did tv_nsec reach one billion? Carry it into "     \
    "tv_sec once it reaches a billion (>=, not >). Or did it go negative? "    \
    "Past 2147 ms, timeout_ms * 1000000 overflows an int: compute the "        \
    "nanoseconds in long."

// The likely mistake behind a timed wait on a clear event that went
// wrong (timeout_ms: what it was given), or `otherwise`.
static const char *
timing_hint(const struct kid *k, int timeout_ms, const char *otherwise)
{
    if (!k->reported)
        return "Its deadline lies far ahead. " CLOCK_HINT;
    if (k->rep.value == -EINVAL)
        return NSEC_HINT;
    if (k->rep.value == 0 && k->rep.us < timeout_ms * 1000LL)
        return "It gave up before its time. " CLOCK_HINT;
    return otherwise;
}

// Fail the test unless the kid, waiting on a clear event, fell asleep
// (state s) instead of returning at once.
static void
expect_asleep(struct kid *k, char s, mp_event *ev, const char *call)
{
    if (s == 'S')
        return;
    int got = kid_wait(k, 1000);
    kid_end(k);
    forget(ev);
    char did[96];
    if (got)
        snprintf(did, sizeof did, "returned %s after %.1f ms, awake",
                 fl_ret(k->rep.value), k->rep.us / 1000.0);
    else
        snprintf(did, sizeof did, "%s",
                 s == 0 || s == 'Z'
                     ? "ended without returning"
                     : "never settled asleep (busy, or polling the flag "
                       "in naps)");
    int at_once = got && k->rep.us < 50000;
    ck_assert_msg(0,
                  "%s on a clear event %s, instead of sleeping until the "
                  "event was set. %s",
                  call, did,
                  got && k->rep.value == -EINVAL ? NSEC_HINT
                  : at_once && k->rep.value == 0
                      ? "It gave up at once. " CLOCK_HINT
                  : at_once ? ""
                            : "Sleep in pthread_cond_timedwait, never in a "
                              "busy loop nor polling with naps.");
}

/* Stopped right after an unlock.  A kid arms fl_fault_stop_after on its
 * first pthread_mutex_unlock, then calls the function under test: it
 * stops itself the moment that unlock returns.  The test, looking under
 * the lock, sees what the call did before its unlock, and nothing of what
 * it does after it. */

// In a kid: stop after the first unlock, then mp_event_set.
static int
kid_set_then_stop(mp_event *ev, int arg)
{
    (void)arg;
    fl_fault_reset();
    fl_fault_stop_after("pthread_mutex_unlock", 1);
    return mp_event_set(ev);
}

// In a kid: stop after the first unlock, then mp_event_clear.
static int
kid_clear_then_stop(mp_event *ev, int arg)
{
    (void)arg;
    fl_fault_reset();
    fl_fault_stop_after("pthread_mutex_unlock", 1);
    return mp_event_clear(ev);
}

// In a kid: stop after the first unlock, then mp_event_wait.
static int
kid_wait_then_stop(mp_event *ev, int timeout_ms)
{
    fl_fault_reset();
    fl_fault_stop_after("pthread_mutex_unlock", 1);
    return mp_event_wait(ev, timeout_ms);
}

// 1 once pid has stopped itself, 0 if it ended first (or ran 3 s).
static int
until_stopped(pid_t pid)
{
    long long end = fl_now_us() + 3000000;
    for (;;) {
        char s = fl_proc_state(pid);
        if (s == 'T')
            return 1;
        if (s == 'Z' || s == 0 || fl_now_us() > end)
            return 0;
        sched_yield();
    }
}

/* ------------------------------------------------------ mp_event_create */

FL_TEST(test_mp_event_create_starts_clear)
{
    mp_event *ev = made_event();
    int flag = ev->flag;
    forget(ev);
    fl_expect_int(flag, 0, "ev->flag of a new event",
                  "an event starts clear, as Python's Event() does");
}

FL_TEST(test_mp_event_create_rejects_a_null_pointer)
{
    fl_fault_reset();
    int r = mp_event_create(NULL);
    long maps = fl_fault_calls("mmap"), unmaps = fl_fault_calls("munmap");
    fl_expect_int(r, -EINVAL, "mp_event_create(NULL)",
                  "there is nowhere to put the event: check evp first");
    ck_assert_msg(maps == unmaps,
                  "mp_event_create(NULL) returned -EINVAL, but it mapped "
                  "%ld page(s) and unmapped %ld: the page is lost for good. "
                  "Check evp before mmap.",
                  maps, unmaps);
}

// In a child: mp_event_create with no address space left.  0 if it
// gives -ENOMEM and leaves ev alone; else what went wrong.
static int
create_without_memory(void *arg)
{
    (void)arg;
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f == NULL || fscanf(f, "%ld", &pages) != 1)
        return 100;
    fclose(f);
    struct rlimit lim;
    getrlimit(RLIMIT_AS, &lim);
    lim.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
    setrlimit(RLIMIT_AS, &lim); // no new mapping fits any more
    mp_event *ev = NULL;
    int r = mp_event_create(&ev);
    if (r != -ENOMEM)
        return r == 0 ? 101 : r;
    return ev == NULL ? 0 : 102;
}

FL_TEST(test_mp_event_create_gives_enomem_when_memory_runs_out)
{
    fl_child res;
    fl_run_in_child(create_without_memory, NULL, 3000, 0, &res);
    ck_assert_msg(res.returned,
                  "mp_event_create with no address space left ended the "
                  "process (%s)",
                  res.exited ? "it exited" : fl_signame(res.status));
    ck_assert_msg(res.value != 102,
                  "mp_event_create failed but set ev: set it only once the "
                  "event is made");
    ck_assert_msg(res.value != 101,
                  "mp_event_create with no address space left (RLIMIT_AS) "
                  "returned 0: where did the memory come from?");
    fl_expect_int(res.value, 0,
                  "mp_event_create with no address space left (RLIMIT_AS)",
                  "when mmap fails (MAP_FAILED, not NULL), return -errno, "
                  "here -ENOMEM");
}

static int
kid_raw_raise(mp_event *ev, int arg)
{
    (void)arg;
    if (pthread_mutex_lock(&ev->lock) != 0)
        return -1;
    ev->flag = 1;
    pthread_mutex_unlock(&ev->lock);
    return 0;
}

FL_TEST(test_mp_event_create_shares_the_event_with_children)
{
    mp_event *ev = made_event();
    struct kid k;
    kid_start(&k, kid_raw_raise, ev, 0);
    int done = kid_wait(&k, 3000);
    kid_end(&k);
    int flag = ev->flag;
    forget(ev);
    ck_assert_msg(done, "a child that locked ev->lock to set the flag never "
                        "finished");
    ck_assert_msg(flag == 1,
                  "a child forked after mp_event_create set ev->flag to 1; "
                  "the parent still reads %d: the child wrote to a copy of "
                  "its own. Map the event with MAP_SHARED | MAP_ANONYMOUS "
                  "(not MAP_PRIVATE, not malloc), so that every process "
                  "forked later works on the same memory.",
                  flag);
}

FL_TEST(test_mp_event_create_makes_a_lock_other_processes_can_wait_for)
{
    mp_event *ev = made_event();
    raw_lock(ev);
    struct kid k;
    kid_start(&k, kid_raw_raise, ev, 0); // it locks ev->lock too
    char s = fl_proc_settles(k.pid);     // blocked: the test holds it
    raw_unlock(ev);
    int done = kid_wait(&k, 2000);
    kid_end(&k);
    int shared = shared_with_children(ev);
    forget(ev);
    ck_assert_msg(shared || (s == 'S' && done), NOT_SHARED);
    ck_assert_msg(s == 'S' && done,
                  "a child blocked on ev->lock while the test held it, and "
                  "%s. The mutex is not shared by processes: without "
                  "pthread_mutexattr_setpshared(&attr, "
                  "PTHREAD_PROCESS_SHARED), glibc wakes only waiters of "
                  "the process that unlocks.",
                  s != 'S' ? "did not even wait for it"
                           : "still slept 2 s after the test unlocked it");
}

FL_TEST(test_mp_event_create_makes_a_condition_other_processes_can_wake)
{
    mp_event *ev = made_event();
    struct kid k;
    kid_start(&k, kid_raw_wait, ev, 0);
    fl_proc_settles(k.pid); // asleep on ev->cond
    raw_lock(ev);
    ev->flag = 1;
    raw_unlock(ev);
    pthread_cond_broadcast(&ev->cond); // after the unlock: the lock is free
    int woke = kid_wait(&k, 2000);
    kid_end(&k);
    int shared = shared_with_children(ev);
    forget(ev);
    ck_assert_msg(woke || shared, NOT_SHARED);
    ck_assert_msg(woke,
                  "a child slept on ev->cond; the test set the flag and "
                  "broadcast, and the child slept on for 2 s. The condition "
                  "variable is not shared by processes: "
                  "pthread_condattr_setpshared(&attr, "
                  "PTHREAD_PROCESS_SHARED) before pthread_cond_init.");
}

FL_TEST(test_mp_event_create_times_the_condition_on_the_monotonic_clock)
{
    mp_event *ev = made_event();
    raw_lock(ev);
    struct timespec d = mono_after(30);
    long long t0 = fl_now_us();
    int r;
    while ((r = pthread_cond_timedwait(&ev->cond, &ev->lock, &d)) == 0)
        ; // a spurious wake-up: nobody else is here
    long long took = fl_now_us() - t0;
    raw_unlock(ev);
    forget(ev);
    ck_assert_msg(r == ETIMEDOUT && took >= 30000,
                  "pthread_cond_timedwait on ev->cond with a deadline 30 ms "
                  "ahead on CLOCK_MONOTONIC returned %s after %.1f ms; "
                  "expected ETIMEDOUT after 30 ms. The condition variable "
                  "reads CLOCK_REALTIME, where that deadline (seconds since "
                  "boot) is decades past: pthread_condattr_setclock(&attr, "
                  "CLOCK_MONOTONIC).",
                  r == ETIMEDOUT ? "ETIMEDOUT" : strerror(r), ms(took));
}

/* -------------------------------------------------------- mp_event_set */

FL_TEST(test_mp_event_set_raises_the_flag)
{
    mp_event *ev = raw_event();
    int r1 = mp_event_set(ev);
    int f1 = ev->flag, free1 = lock_left_free(ev);
    int r2 = mp_event_set(ev);
    int f2 = ev->flag, free2 = lock_left_free(ev);
    forget(ev);
    ck_assert_msg(r1 == 0 && f1 == 1,
                  "mp_event_set returned %s and left ev->flag at %d; "
                  "expected 0 and a flag of 1",
                  fl_ret(r1), f1);
    ck_assert_msg(r2 == 0 && f2 == 1,
                  "mp_event_set on an event already set returned %s and "
                  "left ev->flag at %d; expected 0 and 1: setting it again "
                  "changes nothing",
                  fl_ret(r2), f2);
    ck_assert_msg(free1 && free2,
                  "mp_event_set on an event %s returned with ev->lock still "
                  "held: every later call waits for it for ever. Unlock on "
                  "every way out, the early return for an event already "
                  "set as well.",
                  free1 ? "already set" : "clear");
}

#define WAITERS 8

FL_TEST(test_mp_event_set_wakes_all_8_waiting_processes)
{
    mp_event *ev = raw_event();
    struct kid k[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        kid_start(&k[i], kid_raw_wait, ev, 0);
    for (int i = 0; i < WAITERS; i++)
        // Seen asleep once is enough: one that had not begun its raw wait
        // finds the flag set and counts as woken, the others still catch
        // a set that wakes one.
        fl_proc_sleeps_again(k[i].pid, -1, 3000); // all 8 asleep on ev->cond
    int r = mp_event_set(ev);
    long long end = fl_now_us() + (r == 0 ? 3000000 : 0);
    int woke = 0;
    for (int i = 0; i < WAITERS; i++) {
        long long left = end - fl_now_us();
        woke += kid_wait(&k[i], left > 0 ? (int)(left / 1000) : 0);
    }
    if (woke < WAITERS) // let the others go, as a correct set would
        raw_set(ev);
    for (int i = 0; i < WAITERS; i++) {
        kid_wait(&k[i], 2000);
        kid_end(&k[i]);
    }
    forget(ev);
    ck_assert_msg(woke == WAITERS,
                  "%d processes slept on ev->cond; one mp_event_set "
                  "(returned %s) woke %d of them within 3 s. %s",
                  WAITERS, fl_ret(r), woke,
                  woke == 1   ? "pthread_cond_signal wakes ONE waiter: "
                                "pthread_cond_broadcast wakes them all. "
                                "And broadcast after raising the flag: "
                                "woken before, a waiter finds it clear "
                                "and sleeps again."
                  : woke == 0 ? "Set the flag, under the lock, then "
                                "pthread_cond_broadcast."
                              : "Use pthread_cond_broadcast, once, after "
                                "raising the flag.");
}

// The test plays a waiter that has looked at the flag (clear) and is
// about to sleep: it holds the lock across that window while a child
// calls mp_event_set.  A set that waits for the lock lands after the test
// is asleep and wakes it; one that does not is lost.
FL_TEST(test_mp_event_set_changes_the_flag_under_the_lock)
{
    mp_event *ev = raw_event();
    raw_lock(ev); // the test looks: the flag is clear
    struct kid k;
    kid_start(&k, kid_set, ev, 0);
    fl_proc_settles(k.pid); // blocked on the lock, or done without it
    struct timespec d = mono_after(1000);
    long long t0 = fl_now_us();
    int r;
    do // sleep without looking again: the look was before the set began
        r = pthread_cond_timedwait(&ev->cond, &ev->lock, &d);
    while (r == 0 && !ev->flag);
    long long took = fl_now_us() - t0;
    raw_unlock(ev);
    int done = kid_wait(&k, 2000);
    kid_end(&k);
    forget(ev);
    ck_assert_msg(done && k.rep.value == 0, "mp_event_set returned %s",
                  done ? fl_ret(k.rep.value)
                       : "nothing: it never "
                         "returned");
    ck_assert_msg(r == 0,
                  "the test held ev->lock, had seen the flag clear and was "
                  "about to sleep on ev->cond, as a waiter does; meanwhile "
                  "a child called mp_event_set. The set did not wait for "
                  "the lock: it raised the flag and broadcast while nobody "
                  "slept yet, and the test slept through to its timeout "
                  "(%.0f ms): a lost wake-up. Change the flag only while "
                  "holding ev->lock.",
                  ms(took));
}

// What a kid's call (fn, which stops right after its unlock) left in the
// flag, read under the lock while the kid is stopped; then the kid goes
// on and its return value is collected.
struct after_unlock {
    int stopped, flag, done, value;
};

static struct after_unlock
flag_after_unlock(mp_event *ev, kid_fn fn)
{
    struct after_unlock a;
    struct kid k;
    kid_start(&k, fn, ev, 0);
    a.stopped = until_stopped(k.pid);
    raw_lock(ev);
    a.flag = ev->flag;
    raw_unlock(ev);
    kill(k.pid, SIGCONT);
    a.done = kid_wait(&k, 3000);
    a.value = k.rep.value;
    kid_end(&k);
    return a;
}

// The set stops as soon as it has let go of the lock: by then the flag
// must be up, for a waiter may take the lock and look at once.
FL_TEST(test_mp_event_set_raises_the_flag_before_it_unlocks)
{
    mp_event *ev = raw_event();
    struct after_unlock a = flag_after_unlock(ev, kid_set_then_stop);
    int flag = a.flag;
    forget(ev);
    ck_assert_msg(a.done && a.value == 0, "mp_event_set returned %s",
                  a.done ? fl_ret(a.value) : "nothing");
    ck_assert_msg(!a.stopped || flag == 1,
                  "mp_event_set had let go of ev->lock, and the flag was "
                  "still %d: it raised the flag after its unlock. A waiter "
                  "that takes the lock then sees the flag clear, and the "
                  "set can fall between its look and its sleep: a lost "
                  "wake-up. Raise the flag under the lock: lock, flag = 1, "
                  "unlock, broadcast.",
                  flag);
}

/* ------------------------------------------------------ mp_event_clear */

FL_TEST(test_mp_event_clear_lowers_the_flag)
{
    mp_event *ev = raw_event();
    ev->flag = 1;
    int r1 = mp_event_clear(ev);
    int f1 = ev->flag, free1 = lock_left_free(ev);
    int r2 = mp_event_clear(ev);
    int f2 = ev->flag, free2 = lock_left_free(ev);
    // A clear in a kid that stops as soon as it has let go of the lock:
    // the flag must be down by then, or a set made between its unlock and
    // its late write would be undone.
    ev->flag = 1;
    struct after_unlock a = flag_after_unlock(ev, kid_clear_then_stop);
    int f3 = a.flag;
    forget(ev);
    ck_assert_msg(r1 == 0 && f1 == 0,
                  "mp_event_clear on a set event returned %s and left "
                  "ev->flag at %d; expected 0 and a flag of 0",
                  fl_ret(r1), f1);
    ck_assert_msg(r2 == 0 && f2 == 0,
                  "mp_event_clear on a clear event returned %s and left "
                  "ev->flag at %d; expected 0 and 0",
                  fl_ret(r2), f2);
    ck_assert_msg(free1 && free2,
                  "mp_event_clear on a %s event returned with ev->lock "
                  "still held: every later call waits for it for ever. "
                  "Unlock on every way out, the early return for an event "
                  "already clear as well.",
                  free1 ? "clear" : "set");
    ck_assert_msg(a.done && a.value == 0, "mp_event_clear returned %s",
                  a.done ? fl_ret(a.value) : "nothing");
    ck_assert_msg(!a.stopped || f3 == 0,
                  "mp_event_clear had let go of ev->lock, and the flag was "
                  "still %d: it lowered the flag after its unlock. A set "
                  "that takes the lock in between is then undone by the "
                  "late write, and its waiters sleep on. Lower the flag "
                  "under the lock: lock, flag = 0, unlock.",
                  f3);
}

FL_TEST(test_mp_event_clear_makes_wait_time_out_again)
{
    mp_event *ev = made_event();
    struct kid before, after;
    int s = mp_event_set(ev);
    kid_start(&before, kid_wait_for, ev, 0);
    int got1 = kid_wait(&before, 2000);
    kid_end(&before);
    int c = mp_event_clear(ev);
    kid_start(&after, kid_wait_for, ev, 30);
    int got2 = kid_wait(&after, 3000);
    kid_end(&after);
    forget(ev);
    ck_assert_msg(s == 0 && got1 && before.rep.value == 1,
                  "after mp_event_set (returned %s), mp_event_wait(ev, 0) "
                  "returned %s; expected 1",
                  fl_ret(s), got1 ? fl_ret(before.rep.value) : "nothing");
    ck_assert_msg(c == 0 && got2 && after.rep.value == 0 &&
                      after.rep.us >= 30000,
                  "after mp_event_set then mp_event_clear (returned %s), "
                  "mp_event_wait(ev, 30) %s; expected 0 after 30 ms. %s",
                  fl_ret(c), said(&after, 3000),
                  timing_hint(&after, 30,
                              "Clear must lower the flag, so that waits "
                              "block again."));
}

/* ----------------------------------------------------- mp_event_is_set */

FL_TEST(test_mp_event_is_set_reports_the_flag)
{
    mp_event *ev = raw_event();
    int clear = mp_event_is_set(ev);
    ev->flag = 1;
    int set = mp_event_is_set(ev);
    ev->flag = 0;
    int again = mp_event_is_set(ev);
    forget(ev);
    ck_assert_msg(clear == 0 && set == 1 && again == 0,
                  "with ev->flag 0, then 1, then 0, mp_event_is_set "
                  "returned %s, %s, %s; expected 0, 1, 0",
                  fl_ret(clear), fl_ret(set), fl_ret(again));
}

FL_TEST(test_mp_event_is_set_sees_a_set_and_a_clear_made_by_a_child)
{
    mp_event *ev = made_event();
    struct kid k;
    kid_start(&k, kid_set, ev, 0);
    kid_wait(&k, 2000);
    kid_end(&k);
    int after_set = mp_event_is_set(ev);
    kid_start(&k, kid_clear, ev, 0);
    kid_wait(&k, 2000);
    kid_end(&k);
    int after_clear = mp_event_is_set(ev);
    forget(ev);
    ck_assert_msg(after_set == 1 && after_clear == 0,
                  "a child called mp_event_set, then another "
                  "mp_event_clear; in the parent, mp_event_is_set returned "
                  "%s after the set and %s after the clear, expected 1 then "
                  "0. %s",
                  fl_ret(after_set), fl_ret(after_clear),
                  after_set == 0 ? "The children's changes do not reach the "
                                   "parent: is the event in MAP_SHARED "
                                   "memory?"
                  : after_clear == 1 ? "mp_event_clear must lower the flag."
                                     : "");
}

static int
kid_is_set(mp_event *ev, int arg)
{
    (void)arg;
    return mp_event_is_set(ev);
}

// The test holds ev->lock, the flag up: a clear, an is_set, a set and a
// wait(0) called meanwhile must each block on the lock, as a set on a
// clear event does, until the test lets go.  None may look at the flag
// first: not even a set that would change nothing, or a wait that would
// return at once.
FL_TEST(test_mp_event_calls_touch_the_flag_only_under_the_lock)
{
    mp_event *ev = raw_event();
    ev->flag = 1;
    raw_lock(ev);
    enum { CALLS = 4 };
    struct kid k[CALLS];
    kid_start(&k[0], kid_clear, ev, 0);
    kid_start(&k[1], kid_is_set, ev, 0);
    kid_start(&k[2], kid_set, ev, 0);
    kid_start(&k[3], kid_wait_for, ev, 0);
    int early[CALLS];
    for (int i = 0; i < CALLS; i++) {
        fl_proc_settles(k[i].pid); // blocked on the lock, or done
        early[i] = kid_wait(&k[i], 0);
    }
    raw_unlock(ev);
    for (int i = 0; i < CALLS; i++) {
        kid_wait(&k[i], 2000);
        kid_end(&k[i]);
    }
    forget(ev);
    const char *names[] = {"mp_event_clear", "mp_event_is_set", "mp_event_set",
                           "mp_event_wait(ev, 0)"};
    for (int i = 0; i < CALLS; i++)
        ck_assert_msg(!early[i],
                      "the test held ev->lock, the event set; %s, called "
                      "meanwhile in a child, returned %s without waiting "
                      "for the lock. The flag is read and written only "
                      "under ev->lock (events.h), even for a look that "
                      "would return at once: take the lock first, or the "
                      "look races with a set or a clear in another "
                      "process.",
                      names[i], fl_ret(k[i].rep.value));
}

/* ------------------------------------------------------- mp_event_wait */

FL_TEST(test_mp_event_wait_returns_1_at_once_when_already_set)
{
    mp_event *ev = raw_event();
    ev->flag = 1;
    struct kid timed, ever;
    kid_start(&timed, kid_wait_for, ev, 5000);
    kid_start(&ever, kid_wait_for, ev, -1);
    int got1 = kid_wait(&timed, 2000), got2 = kid_wait(&ever, 2000);
    kid_end(&timed);
    kid_end(&ever);
    forget(ev);
    ck_assert_msg(got1 && timed.rep.value == 1 && timed.rep.us < 1000000,
                  "on a set event, mp_event_wait(ev, 5000) %s; expected 1 "
                  "at once: look at the flag before waiting",
                  said(&timed, 2000));
    ck_assert_msg(got2 && ever.rep.value == 1,
                  "on a set event, mp_event_wait(ev, -1) %s; expected 1 at "
                  "once",
                  said(&ever, 2000));
}

FL_TEST(test_mp_event_wait_times_out_after_the_timeout)
{
    mp_event *ev = raw_event();
    struct kid k;
    kid_start(&k, kid_wait_for, ev, 200);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    forget(ev);
    ck_assert_msg(
        got && k.rep.value == 0 && k.rep.us >= 200000 && k.rep.us <= 700000,
        "mp_event_wait(ev, 200) on a clear event %s; expected 0 "
        "after 200 ms (never before it, at most 500 ms after). %s",
        said(&k, 3000),
        timing_hint(&k, 200,
                    k.rep.value == 1 ? "Nobody set it: return the flag, not "
                                       "whether the wait was woken."
                                     : ""));
}

// In the kid: a timeout whose deadline crosses a second boundary, so that
// its tv_nsec overflows unless carried.  The timeout goes in kid_extra.
// It is long (1.1 to 2 s), so that the test has time to see the kid
// asleep and set the event: a correct wait then returns 1 at once, and
// the test takes milliseconds, not the length of the timeout.
static int
kid_wait_across_a_second(mp_event *ev, int arg)
{
    (void)arg;
    long phase;
    do { // between 60 and 950 ms into a second: a spin of at most 110 ms
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        phase = t.tv_nsec / 1000000;
    } while (phase < 60 || phase >= 950);
    kid_extra = (int)(2050 - phase); // 1100..1990 ms; phase + 50..990 >= 1 s
    kid_t0_us = fl_now_us();
    return mp_event_wait(ev, kid_extra);
}

// In the kid: mp_event_wait(ev, 999) from 60 to 950 ms into a second.
// Its deadline lies in the next second, less than a second away: a carry
// that takes a billion off tv_nsec but forgets to add a second to tv_sec
// puts it in the past, and the wait gives up at once.
static int
kid_wait_999_across_a_second(mp_event *ev, int arg)
{
    (void)arg;
    long phase;
    do { // a spin of at most 110 ms, as above
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        phase = t.tv_nsec / 1000000;
    } while (phase < 60 || phase >= 950);
    kid_t0_us = fl_now_us();
    return mp_event_wait(ev, 999);
}

// In the kid: a wait whose deadline falls exactly on a second.  The code
// reads CLOCK_MONOTONIC in whole milliseconds (fl_clock_mono_whole_ms);
// the kid, 60 to 950 ms into a second and early in its millisecond, waits
// 2 s less that phase: now + timeout has tv_nsec of exactly a billion,
// which must be carried too (>=, not >).  The timeout goes in kid_extra.
static int
kid_wait_to_a_whole_second(mp_event *ev, int arg)
{
    (void)arg;
    kid_extra = fl_clock_mono_to_a_whole_second(); // 1051..1940 ms
    kid_t0_us = fl_now_us();
    return mp_event_wait(ev, kid_extra);
}

// Start fn's kid on ev and see it asleep; fail, naming the lost second
// of a carry, if it gave up at once.
static void
start_asleep_across_a_second(struct kid *k, kid_fn fn, mp_event *ev,
                             const char *call)
{
    kid_start(k, fn, ev, 0);
    // Asleep for 20 ms, not once: a deadline already past puts the wait
    // to sleep too, until the next timer tick (4 ms on a machine with
    // coarse timers), and a set in that window would wake it with 1.
    char s = fl_proc_settles(k->pid);
    if (s != 'S' && kid_wait(k, 1000) && k->rep.value == 0 &&
        k->rep.us < 500000) {
        kid_end(k);
        forget(ev);
        ck_abort_msg("%s on a clear event returned 0 after %.1f ms: its "
                     "deadline was already past. When tv_nsec reaches a "
                     "billion, take a billion off it AND add one second to "
                     "tv_sec; dropping the carried second puts the "
                     "deadline a second early",
                     call, k->rep.us / 1000.0);
    }
    expect_asleep(k, s, ev, call);
}

FL_TEST(test_mp_event_wait_carries_nanoseconds_into_seconds)
{
    static const struct {
        kid_fn fn;
        const char *call;
    } waits[] = {
        {kid_wait_999_across_a_second,
         "mp_event_wait(ev, 999), from 60 to 950 ms into a second,"},
        {kid_wait_across_a_second,
         "mp_event_wait(ev, t), with now + t in the next second "
         "(t of 1100 to 1990 ms),"},
        {kid_wait_to_a_whole_second,
         "mp_event_wait(ev, t), with now + t exactly on a second "
         "(tv_nsec 1000000000 before the carry),"},
    };
    for (int i = 0; i < 3; i++) {
        mp_event *ev = raw_event();
        struct kid k;
        start_asleep_across_a_second(&k, waits[i].fn, ev, waits[i].call);
        raw_set(ev); // lock, flag = 1, broadcast, unlock
        int got = kid_wait(&k, 3000);
        kid_end(&k);
        forget(ev);
        ck_assert_msg(got && k.rep.value == 1,
                      "%s slept; the test set the flag and broadcast; the "
                      "wait then %s, expected 1 soon after the set. %s",
                      waits[i].call, said(&k, 3000),
                      timing_hint(&k, i == 0 ? 999 : k.rep.extra, ""));
    }
}

FL_TEST(test_mp_event_wait_with_timeout_0_only_looks)
{
    mp_event *ev = raw_event();
    struct kid clear, set;
    kid_start(&clear, kid_wait_for, ev, 0);
    int got1 = kid_wait(&clear, 2000);
    kid_end(&clear);
    if (!got1) { // it was killed in its wait: start again, clean
        forget(ev);
        ev = raw_event();
    }
    ev->flag = 1;
    kid_start(&set, kid_wait_for, ev, 0);
    int got2 = kid_wait(&set, 2000);
    kid_end(&set);
    forget(ev);
    ck_assert_msg(got1 && clear.rep.value == 0 && clear.rep.us < 500000,
                  "mp_event_wait(ev, 0) on a clear event %s; expected 0 at "
                  "once: 0 means look, do not wait (-1 is for ever)",
                  said(&clear, 2000));
    ck_assert_msg(got2 && set.rep.value == 1,
                  "mp_event_wait(ev, 0) on a set event %s; expected 1",
                  said(&set, 2000));
}

FL_TEST(test_mp_event_wait_returns_1_when_another_process_sets_it)
{
    mp_event *ev = raw_event();
    struct kid k;
    kid_start(&k, kid_wait_for, ev, -1);
    expect_asleep(&k, fl_proc_settles(k.pid), ev, "mp_event_wait(ev, -1)");
    raw_set(ev); // lock, flag = 1, broadcast, unlock
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    forget(ev);
    ck_assert_msg(got && k.rep.value == 1,
                  "a child slept in mp_event_wait(ev, -1); the test set "
                  "the flag and broadcast on ev->cond; the wait then %s, "
                  "expected 1 soon after the set. With -1, sleep with "
                  "pthread_cond_wait on ev->cond, so that a broadcast wakes "
                  "you, and return 1 once the flag is set.",
                  said(&k, 3000));
}

// A wake-up with the flag still clear, as a spurious wake-up (or a set
// undone by a clear before the waiter ran) gives.  The test then waits
// until the waiter has either returned or gone back to sleep.
FL_TEST(test_mp_event_wait_sleeps_again_after_a_spurious_wake_up)
{
    mp_event *ev = raw_event();
    struct kid k;
    kid_start(&k, kid_wait_for, ev, 5000);
    expect_asleep(&k, fl_proc_settles(k.pid), ev, "mp_event_wait(ev, 5000)");
    long slept = fl_proc_sleeps(k.pid);
    raw_broadcast(ev); // wake it, flag still clear
    char s = fl_proc_sleeps_again(k.pid, slept, 3000);
    int early = kid_wait(&k, 0);
    if (!early && s == 'S')
        raw_set(ev); // now for real
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    forget(ev);
    ck_assert_msg(!early,
                  "the test woke mp_event_wait(ev, 5000) with a broadcast "
                  "on ev->cond, leaving the flag clear, and the wait "
                  "returned %s after %.1f ms. A waiter can wake with the "
                  "flag still clear (a spurious wake-up, or a set undone by "
                  "a clear before it ran): look at the flag again after "
                  "every wake-up and wait again while it is clear. while "
                  "(!flag), not if (!flag).",
                  fl_ret(k.rep.value), ms(k.rep.us));
    ck_assert_msg(got && k.rep.value == 1,
                  "after a spurious wake-up the wait went back to sleep, "
                  "but when the test then set the event it %s, expected 1",
                  said(&k, 3000));
}

// A thread of this process waiting in mp_event_wait.
struct waiter {
    mp_event *ev;
    int timeout_ms;
    _Atomic pid_t tid; // set when it starts
    int value;         // what the wait returned
};

static void *
waiter_thread(void *arg)
{
    struct waiter *w = arg;
    w->tid = gettid();
    w->value = mp_event_wait(w->ev, w->timeout_ms);
    return NULL;
}

// Two threads of one process wait at once, as Python's Event allows: the
// deadline of the second, over at once, must not become the first's.  The
// first, woken with the flag clear, must go back to sleep.
FL_TEST(test_mp_event_wait_keeps_each_threads_own_deadline)
{
    mp_event *ev = raw_event();
    struct waiter w = {.ev = ev, .timeout_ms = 60000};
    pthread_t t;
    ck_assert_msg(pthread_create(&t, NULL, waiter_thread, &w) == 0,
                  "the test could not start a thread");
    while (w.tid == 0)
        sched_yield();
    int asleep = fl_proc_idles(w.tid, 20);
    int mine = asleep ? mp_event_wait(ev, 1) : -1; // (over in 1 ms)
    raw_broadcast(ev); // wake the thread, flag still clear
    int again = asleep && fl_proc_idles(w.tid, 20);
    raw_set(ev);
    pthread_join(t, NULL);
    forget(ev);
    ck_assert_msg(asleep, "mp_event_wait(ev, 60000) in a thread did not "
                          "settle asleep on a clear event");
    fl_expect_int(mine, 0,
                  "mp_event_wait(ev, 1) on a clear event while another "
                  "thread waits",
                  "");
    ck_assert_msg(again && w.value == 1,
                  "a thread waited in mp_event_wait(ev, 60000); another "
                  "called mp_event_wait(ev, 1); the test then woke the first "
                  "with the flag still clear, and it %s (then the test set "
                  "the event; it returned %s, expected 1).%s",
                  again ? "went back to sleep" : "did not go back to sleep",
                  fl_ret(w.value),
                  again ? ""
                        : " Its deadline became the other call's: keep the "
                          "deadline in a local variable, never a static, "
                          "which every thread of the process shares.");
}

// A stream of wake-ups, none with the flag set, must not stretch the
// timeout: the deadline is fixed when the wait begins.
FL_TEST(test_mp_event_wait_keeps_its_deadline_through_spurious_wake_ups)
{
    mp_event *ev = raw_event();
    struct kid k;
    kid_start(&k, kid_wait_for, ev, 200);
    expect_asleep(&k, fl_proc_settles(k.pid), ev, "mp_event_wait(ev, 200)");
    struct timespec tick = {0, 1000000};
    long long end = fl_now_us() + 1200000; // 1 s past the deadline
    long wakes = 0;
    while (!kid_wait(&k, 0) && fl_now_us() < end) {
        raw_broadcast(ev);
        wakes++;
        nanosleep(&tick, NULL); // (pacing: a wake-up a ms, cheap)
    }
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    forget(ev);
    int early = got && k.rep.us < 200000;
    ck_assert_msg(got && k.rep.value == 0 && !early && k.rep.us < 1000000,
                  "the test woke mp_event_wait(ev, 200) again and again "
                  "(%ld broadcast%s, the flag always clear) for as long as it "
                  "waited, up to 1.2 s; the wait %s, expected 0 after 200 ms. "
                  "%s",
                  wakes, wakes == 1 ? "" : "s", said(&k, 5000),
                  early ? "A wake-up with the flag clear is no reason to "
                          "return: wait again, while (!flag), not if."
                        : "Take the deadline once, before the loop: "
                          "computed again after each wake-up, a stream of "
                          "wake-ups keeps pushing it away.");
}

// The wait times out while the test holds the lock; by the time the
// waiter has the lock back, the test has set the flag.  The event is set:
// the answer is 1, as Python's wait returns the flag.
FL_TEST(test_mp_event_wait_returns_1_when_set_as_the_deadline_passes)
{
    mp_event *ev = raw_event();
    struct kid k;
    int timeout = 100;
    char s;
    // Under load the test may look only after a correct wait has timed
    // out, having slept all along: then it tries again, four times longer.
    for (int tries = 1;; tries++) {
        kid_start(&k, kid_wait_for, ev, timeout);
        s = fl_proc_settles(k.pid);
        if (s == 'S' || tries == 3 || !kid_wait(&k, 1000) || k.rep.value != 0 ||
            k.rep.us < timeout * 1000LL)
            break;
        kid_end(&k);
        timeout *= 4;
    }
    char call[40];
    snprintf(call, sizeof call, "mp_event_wait(ev, %d)", timeout);
    expect_asleep(&k, s, ev, call);
    long slept = fl_proc_sleeps(k.pid);
    raw_lock(ev);
    fl_proc_sleeps_again(k.pid, slept,
                         3000); // timed out, now waiting for the lock
    ev->flag = 1;
    raw_unlock(ev);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    forget(ev);
    ck_assert_msg(got && k.rep.value == 1,
                  "%s timed out, and before it had the lock back the test "
                  "set the flag; the wait %s, expected 1. After the wait "
                  "ends, for whatever reason, the flag is the answer: "
                  "ETIMEDOUT with the flag set is still 1.",
                  call, said(&k, 3000));
}

// The waiter starts while the test holds the lock, and the test keeps it
// longer than the timeout: the deadline, taken when the call began, has
// passed once the waiter has the lock, so it looks at the flag and
// returns 0 at once.  A deadline taken after the lock adds a whole timeout.
FL_TEST(test_mp_event_wait_counts_the_time_spent_waiting_for_the_lock)
{
    enum { TIMEOUT = 250, HOLD = 270, LATE = 150 };
    mp_event *ev = raw_event();
    raw_lock(ev);
    struct kid k;
    kid_start(&k, kid_wait_for, ev, TIMEOUT);
    char s = fl_proc_settles(k.pid); // blocked on the lock the test holds
    long long held = fl_now_us();
    struct timespec nap = {0, HOLD * 1000000L};
    while (nanosleep(&nap, &nap) < 0 && errno == EINTR)
        ; // time that must pass, not a synchronisation
    long long t0 = fl_now_us();
    held = t0 - held;
    raw_unlock(ev);
    int got = kid_wait(&k, 3000);
    long long after = fl_now_us() - t0;
    kid_end(&k);
    forget(ev);
    ck_assert_msg(s == 'S',
                  "mp_event_wait(ev, %d) did not block on the lock "
                  "the test held (state %c)",
                  TIMEOUT, s ? s : '?');
    // (A kid that slept for another reason before its call, and so began
    // it late, may wait out its own timeout after the unlock: it then
    // took no more than about one timeout in all.)
    ck_assert_msg(
        got && k.rep.value == 0 &&
            (after < LATE * 1000LL || k.rep.us < (TIMEOUT + LATE) * 1000LL),
        "mp_event_wait(ev, %d) on a clear event waited %.0f ms for "
        "the lock the test held; once the test let go, it %s, "
        "%.1f ms later; expected 0 at once. The deadline is fixed "
        "when the call starts: take it before the lock, so that "
        "the time spent waiting for the lock counts.",
        TIMEOUT, ms(held), said(&k, 3000), ms(after));
}

// The waiter starts while the test holds the lock; the test sets the flag
// before letting go.  A waiter that looked at the flag without the lock
// saw it clear, and sleeps through the set.
FL_TEST(test_mp_event_wait_checks_the_flag_under_the_lock)
{
    mp_event *ev = raw_event();
    raw_lock(ev);
    struct kid k;
    kid_start(&k, kid_wait_for, ev, 2000);
    fl_proc_settles(k.pid); // blocked on the lock the test holds
    ev->flag = 1;
    pthread_cond_broadcast(&ev->cond);
    raw_unlock(ev);
    int got = kid_wait(&k, 4000);
    kid_end(&k);
    forget(ev);
    ck_assert_msg(!got || k.rep.value >= 0,
                  "mp_event_wait(ev, 2000) returned %s; expected 1",
                  fl_ret(k.rep.value));
    ck_assert_msg(got && k.rep.value == 1 && k.rep.us < 1000000,
                  "mp_event_wait(ev, 2000) began while the test held "
                  "ev->lock; the test set the flag and broadcast before "
                  "unlocking. The wait %s; expected 1 at once. It looked "
                  "at the flag before it had the lock, saw it clear, then "
                  "slept through the set: a lost wake-up. Lock first, then "
                  "look, then sleep: pthread_cond_timedwait lets go of the "
                  "lock only once you are asleep.",
                  said(&k, 4000));
}

// The wait finds the flag up and stops as soon as it has let go of the
// lock; the test clears the event then.  The wait was answered when it
// looked, under the lock: 1.
FL_TEST(test_mp_event_wait_reads_the_flag_before_it_unlocks)
{
    mp_event *ev = raw_event();
    ev->flag = 1;
    struct kid k;
    kid_start(&k, kid_wait_then_stop, ev, -1);
    until_stopped(k.pid);
    raw_lock(ev); // a clear, the moment the wait let go of the lock
    ev->flag = 0;
    raw_unlock(ev);
    kill(k.pid, SIGCONT);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    forget(ev);
    ck_assert_msg(got && k.rep.value == 1,
                  "mp_event_wait(ev, -1) on a set event let go of the lock; "
                  "a clear came right after, and the wait %s; expected 1. "
                  "It read the flag after its unlock, when the clear had "
                  "come: read the flag under the lock, unlock, then return "
                  "what you read.",
                  said(&k, 3000));
}

static int
kid_bad_timeout(mp_event *ev, int arg)
{
    (void)arg;
    return mp_event_wait(ev, -2);
}

FL_TEST(test_mp_event_wait_rejects_a_bad_timeout)
{
    mp_event *ev = raw_event();
    struct kid k;
    kid_start(&k, kid_bad_timeout, ev, 0);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    int busy = pthread_mutex_trylock(&ev->lock); // the kid has ended
    if (busy == 0)
        raw_unlock(ev);
    forget(ev);
    ck_assert_msg(got && k.rep.value == -EINVAL,
                  "mp_event_wait(ev, -2) %s; expected -EINVAL at once: "
                  "-1 means for ever, and below that is no timeout",
                  said(&k, 2000));
    ck_assert_msg(busy == 0,
                  "mp_event_wait(ev, -2) returned -EINVAL but left ev->lock "
                  "held: every other process now waits for it for ever. "
                  "Check the arguments before you take the lock, or unlock "
                  "on every way out.");
}

FL_TEST(test_mp_event_calls_reject_a_null_event)
{
    const char *names[] = {"set(NULL)", "clear(NULL)", "is_set(NULL)",
                           "wait(NULL, 0)"};
    int got[] = {mp_event_set(NULL), mp_event_clear(NULL),
                 mp_event_is_set(NULL), mp_event_wait(NULL, 0)};
    for (size_t i = 0; i < sizeof got / sizeof got[0]; i++)
        ck_assert_msg(got[i] == -EINVAL,
                      "mp_event_%s returned %s, expected -22 (-EINVAL): "
                      "check ev before using it",
                      names[i], fl_ret(got[i]));
}

// Each call with its pthread_mutex_lock failing (two error numbers: minus
// what it returned, not a constant): the error, the flag as it was, and
// no unlock of a mutex it never took (another process may hold it).
FL_TEST(test_mp_event_calls_give_the_error_of_a_failed_lock)
{
    static const char *const names[] = {"set(ev)", "clear(ev)", "is_set(ev)",
                                        "wait(ev, 0)"};
    static const int errs[] = {EINVAL, EAGAIN};
    mp_event *ev = raw_event();
    for (int e = 0; e < 2; e++)
        for (int i = 0; i < 4; i++) {
            int before = i == 1 || i == 2; // clear and is_set find it set
            ev->flag = before;
            fl_fault_reset();
            fl_fault_fail("pthread_mutex_lock", 1, errs[e]);
            int r = i == 0   ? mp_event_set(ev)
                    : i == 1 ? mp_event_clear(ev)
                    : i == 2 ? mp_event_is_set(ev)
                             : mp_event_wait(ev, 0);
            long unlocks = fl_fault_calls("pthread_mutex_unlock");
            fl_fault_reset();
            int after = ev->flag, free_now = pthread_mutex_trylock(&ev->lock);
            if (free_now == 0)
                raw_unlock(ev);
            char what[96];
            snprintf(what, sizeof what,
                     "mp_event_%s with its pthread_mutex_lock failing (%s)",
                     names[i], strerrorname_np(errs[e]));
            fl_expect_int(r, -errs[e], what,
                          "pthread_mutex_lock RETURNS its error number: "
                          "return minus it at once, whatever it is");
            ck_assert_msg(after == before && unlocks == 0 && free_now == 0,
                          "%s: the flag went from %d to %d, and it called "
                          "pthread_mutex_unlock %ld time(s)%s. A lock that "
                          "failed is not held: touch neither the flag nor "
                          "the mutex, and return at once",
                          what, before, after, unlocks,
                          free_now == 0 ? "" : ", leaving the mutex locked");
        }
    forget(ev);
}

/* ---------------------------------------------------- speed: ping-pong */

#define PP_ROUNDS 2000 // round trips per timed run
#define PP_RUNS 5      // timed runs of each kind, alternating
#define PP_LIMIT 10    // events may take at most 10 times a pipe's time

// One timed run of PP_ROUNDS round trips between this process and a
// child: over two events (each process waits on one, clears it, sets the
// other), or over two pipes, a byte each way.  The time in us; a run
// that passes `budget` stops early and returns an estimate of its whole
// time.  -1 if the run went wrong.
static long long
ping_pong(int events, long long budget)
{
    mp_event *ping = events ? made_event() : NULL;
    mp_event *pong = events ? made_event() : NULL;
    int p1[2] = {-1, -1}, p2[2] = {-1, -1};
    ck_assert(events || (pipe(p1) == 0 && pipe(p2) == 0));
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed");
    if (pid == 0) {
        char c;
        for (int i = 0; i < PP_ROUNDS; i++)
            if (events
                    ? mp_event_wait(ping, 2000) != 1 ||
                          mp_event_clear(ping) != 0 || mp_event_set(pong) != 0
                    : read(p1[0], &c, 1) != 1 || write(p2[1], &c, 1) != 1)
                _exit(1);
        _exit(0);
    }
    int done = 0, ok = 1;
    long long t0 = fl_now_us(), t = 0;
    while (done < PP_ROUNDS && ok && t <= budget) {
        char c = 'x';
        ok = events
                 ? mp_event_set(ping) == 0 && mp_event_wait(pong, 2000) == 1 &&
                       mp_event_clear(pong) == 0
                 : write(p1[1], &c, 1) == 1 && read(p2[0], &c, 1) == 1;
        done += ok;
        t = fl_now_us() - t0;
    }
    if (done < PP_ROUNDS)
        kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (events) {
        forget(ping);
        forget(pong);
    } else {
        close(p1[0]);
        close(p1[1]);
        close(p2[0]);
        close(p2[1]);
    }
    if (!ok)
        return -1;
    return t * PP_ROUNDS / (done ? done : 1);
}

// Pipe and event runs alternate, and each event run is compared with the
// pipe run just before it: a machine that is busy for a while slows both.
// The runs stop once most of PP_RUNS are on one side of the limit: the
// median is known then, and a slow (polling) wait on a loaded host is not
// timed five times over.
FL_TEST(test_mp_event_wait_wakes_about_as_fast_as_a_pipe)
{
    fl_stay_on_this_cpu();
    double pipe_us[PP_RUNS], event_us[PP_RUNS], ratio[PP_RUNS];
    int runs = 0, over = 0;
    for (int i = 0;
         i < PP_RUNS && over <= PP_RUNS / 2 && runs - over <= PP_RUNS / 2;
         i++) {
        long long p = ping_pong(0, 60000000);
        ck_assert_msg(p > 0, "the pipe ping-pong failed");
        long long e = ping_pong(1, PP_LIMIT * p + 50000);
        ck_assert_msg(e > 0,
                      "%d round trips between two processes, each waiting "
                      "on one event, clearing it and setting the other, "
                      "went wrong: an mp_event call failed or a wait timed "
                      "out (events made by mp_event_create: its own tests "
                      "say more)",
                      PP_ROUNDS);
        pipe_us[i] = (double)p / PP_ROUNDS;
        event_us[i] = (double)e / PP_ROUNDS;
        ratio[i] = (double)e / p;
        over += ratio[i] > PP_LIMIT;
        runs++;
    }
    double r = fl_median(ratio, runs), ev_us = fl_median(event_us, runs);
    ck_assert_msg(r <= PP_LIMIT,
                  "a round trip between two processes took %.1f us over two "
                  "events (set, wait, clear) and %.1f us over two pipes "
                  "(medians of %d alternating runs): %.1f times a pipe's, "
                  "expected at most %d. %s",
                  ev_us, fl_median(pipe_us, runs), runs, r, PP_LIMIT,
                  ev_us > 500000
                      ? "Each wait ran to its 2 s timeout: a set in one "
                        "process never woke the other. Is the condition "
                        "variable shared by processes?"
                      : "Sleep on the condition variable and let the "
                        "broadcast wake you: polling the flag with sleeps, "
                        "or spinning, is far slower.");
}

/* ---------------------------------------------------- mp_event_destroy */

FL_TEST(test_mp_event_destroy_unmaps_the_event)
{
    mp_event *ev = raw_event();
    long page = sysconf(_SC_PAGESIZE);
    void *start = (void *)((unsigned long)ev & ~(unsigned long)(page - 1));
    int r = mp_event_destroy(ev);
    unsigned char v;
    int mapped = mincore(start, 1, &v) == 0;
    if (mapped)
        forget(ev);
    int null = mp_event_destroy(NULL);
    ck_assert_msg(r == 0 && !mapped,
                  "mp_event_destroy returned %s and the event's page is "
                  "%s; expected 0 and unmapped: munmap it",
                  fl_ret(r), mapped ? "still mapped" : "gone");
    fl_expect_int(null, 0, "mp_event_destroy(NULL)",
                  "like free(NULL), destroying nothing does nothing");
}

static int
destroy_misaligned(void *arg)
{
    return mp_event_destroy((mp_event *)((char *)arg + 8));
}

FL_TEST(test_mp_event_destroy_rejects_a_pointer_it_did_not_make)
{
    mp_event *ev = raw_event();
    fl_child res;
    fl_run_in_child(destroy_misaligned, ev, 2000, 0, &res);
    forget(ev);
    ck_assert_msg(res.returned, "mp_event_destroy(ev + 8 bytes) %s",
                  res.timed_out ? "was still running 2 s later"
                  : res.exited  ? "exited"
                                : fl_signame(res.status));
    fl_expect_int(res.value, -EINVAL,
                  "mp_event_destroy of a pointer 8 bytes into an event",
                  "munmap fails with EINVAL on an address that does not "
                  "start a page: return -errno");
}

static int
destroy_in_child(void *arg)
{
    return mp_event_destroy(arg);
}

FL_TEST(test_mp_event_destroy_returns_after_a_waiter_was_killed)
{
    mp_event *ev = raw_event();
    struct kid k;
    kid_start(&k, kid_raw_wait, ev, 0);
    fl_proc_settles(k.pid); // asleep on ev->cond
    kid_end(&k);            // never reported: killed in its wait
    fl_child res;
    fl_run_in_child(destroy_in_child, ev, 2000, 0, &res);
    forget(ev); // the child unmapped its own copy of the mapping only
    ck_assert_msg(!res.timed_out,
                  "a process was killed while it waited on ev->cond (as "
                  "terminate() does to a worker), then mp_event_destroy "
                  "was still running 2 s later. glibc's "
                  "pthread_cond_destroy waits for every waiter to leave, "
                  "and a killed one never does: do not call it. Unmapping "
                  "the page is all the cleanup there is.");
    ck_assert_msg(res.returned && res.value == 0,
                  "mp_event_destroy after a waiter was killed %s %s, "
                  "expected 0",
                  res.returned ? "returned" : "ended the process:",
                  res.returned ? fl_ret(res.value)
                  : res.exited ? "it exited"
                               : fl_signame(res.status));
}

/* ------------------------------------------------------- under stress */

// mp_event_create with every call of fn failing in turn: each failure is
// -err, leaves *evp alone, and leaves nothing behind, every mapping it
// made unmapped (the wrappers count mmap and munmap).
static void
walk_create(const char *fn, int err, const char *hint)
{
    FL_FAULT_WALK (fn, err, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_event mine; // what the caller had in ev: a failure keeps it
        mp_event *ev = &mine;
        long pages = fl_vm_pages();
        int r = mp_event_create(&ev);
        long kept = fl_vm_pages() - pages;
        long maps = fl_fault_calls("mmap") - fl_fault_fired("mmap");
        long unmaps = fl_fault_calls("munmap");
        char what[128];
        snprintf(what, sizeof what,
                 "mp_event_create(&ev) with its call %d of %s() failing "
                 "with %s",
                 k, fn, strerrorname_np(err));
        if (fl_fault_fired(fn) > 0) {
            fl_expect_int(r, -err, what, hint);
            ck_assert_msg(ev == &mine,
                          "%s: it failed but set *evp (to %s): leave the "
                          "caller's pointer as it was, set it only on "
                          "success",
                          what,
                          ev == NULL         ? "NULL"
                          : ev == MAP_FAILED ? "MAP_FAILED"
                                             : "a new address");
            ck_assert_msg(unmaps == maps,
                          "%s: it mapped %ld time(s) and unmapped %ld. When "
                          "init_lock or init_cond fails, munmap the event.",
                          what, maps, unmaps);
            ck_assert_msg(kept == 0,
                          "%s: it failed with %ld page(s) still mapped: "
                          "munmap the event with the address and the size "
                          "it was mapped with (the munmap failed)",
                          what, kept);
        } else {
            fl_expect_int(r, 0, "mp_event_create(&ev)", "");
            mp_event_destroy(ev);
        }
        fl_expect_no_leak(&s, what);
    }
}

FL_TEST(test_mp_event_create_fails_cleanly_when_any_call_it_makes_fails)
{
    // Two error numbers for each call: minus errno, not a constant.
    static const char mmap_hint[] =
        "mmap reports failure with MAP_FAILED, not NULL: compare with "
        "MAP_FAILED and return -errno, whatever it is (a shared mapping "
        "needs a file of the kernel's: ENFILE)";
    walk_create("mmap", ENOMEM, mmap_hint);
    walk_create("mmap", ENFILE, mmap_hint);
    static const char pthread_hint[] =
        "a pthread_*_init returns its error number (it does not set "
        "errno): return minus it, whatever it is";
    walk_create("pthread_mutex_init", EAGAIN, pthread_hint);
    walk_create("pthread_mutex_init", ENOMEM, pthread_hint);
    walk_create("pthread_cond_init", EAGAIN, pthread_hint);
    walk_create("pthread_cond_init", ENOMEM, pthread_hint);
}

FL_TEST(test_mp_event_wait_keeps_its_timeout_when_the_wall_clock_jumps)
{
    mp_event *ev = made_event();
    struct kid k;
    fl_fault_reset();
    fl_clock_jump(-3600); // the kid inherits it: its wall clock is 1 h back
    kid_start(&k, kid_wait_for, ev, 150);
    fl_fault_reset();
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    forget(ev);
    ck_assert_msg(got && k.rep.value == 0 && k.rep.us >= 145000,
                  "with the wall clock set back an hour, mp_event_wait(ev, "
                  "150) on a clear event %s; expected 0 after 150 ms. Its "
                  "deadline was read from CLOCK_REALTIME, the clock anyone "
                  "may set: read CLOCK_MONOTONIC, and make the condition "
                  "wait on it (pthread_condattr_setclock)",
                  said(&k, 3000));
}

// Long timeouts, up to INT_MAX ms (24 days), are waits like short ones.
FL_TEST(test_mp_event_wait_waits_out_long_timeouts)
{
    static const int timeouts[] = {2500, INT_MAX};
    mp_event *ev = raw_event();
    for (int i = 0; i < 2; i++) {
        struct kid k;
        char call[64];
        snprintf(call, sizeof call, "mp_event_wait(ev, %d)", timeouts[i]);
        kid_start(&k, kid_wait_for, ev, timeouts[i]);
        expect_asleep(&k, fl_proc_settles(k.pid), ev, call);
        raw_set(ev);
        int got = kid_wait(&k, 3000);
        kid_end(&k);
        ck_assert_msg(got && k.rep.value == 1,
                      "%s slept; the test set the event; the wait then %s, "
                      "expected 1",
                      call, said(&k, 3000));
        ev->flag = 0;
    }
    forget(ev);
}

// In the kid: mp_event_wait(ev, timeout_ms) with the code's CLOCK_MONOTONIC
// read timeout_ms - 80 ms behind: a deadline of exactly now + timeout_ms
// is then 80 ms away for the kernel, and one a second off either way
// shows at once as a wait of 0 or of a second more.
static int
kid_wait_shifted(mp_event *ev, int timeout_ms)
{
    fl_fault_reset();
    fl_clock_mono_later_at(0, -(timeout_ms - 80LL));
    return mp_event_wait(ev, timeout_ms);
}

// The deadline is now + timeout_ms to the millisecond, whatever the
// timeout: its seconds (timeout_ms / 1000) and its milliseconds
// (timeout_ms % 1000) each counted once.  The code's clock is moved back
// by all but 80 ms of the timeout, so each wait takes 80 ms, not seconds.
FL_TEST(test_mp_event_wait_turns_each_timeout_into_its_exact_deadline)
{
    static const int timeouts[] = {999, 1000, 2500};
    mp_event *ev = raw_event();
    for (int i = 0; i < 3; i++) {
        struct kid k;
        kid_start(&k, kid_wait_shifted, ev, timeouts[i]);
        int got = kid_wait(&k, 3000);
        if (kid_end(&k)) { // killed in its wait: start again, clean
            forget(ev);
            ev = raw_event();
        }
        ck_assert_msg(
            got && k.rep.value == 0 && k.rep.us >= 75000 && k.rep.us < 900000,
            "mp_event_wait(ev, %d) on a clear event, with the code's "
            "CLOCK_MONOTONIC moved %d ms back, %s; expected 0 after 80 ms "
            "(a deadline of now + %d ms, to the millisecond). %s",
            timeouts[i], timeouts[i] - 80, said(&k, 3000), timeouts[i],
            got && k.rep.value == -EINVAL
                ? NSEC_HINT
                : "The deadline is off by a second or more: add "
                  "timeout_ms / 1000 to tv_sec and (timeout_ms % 1000) "
                  "* 1000000 to tv_nsec, then carry.");
    }
    forget(ev);
}

// In the kid: a wait whose pthread_cond_timedwait fails with EINVAL, then
// a set, which needs the lock; the set's result goes in kid_extra.
static int
kid_wait_fails_then_set(mp_event *ev, int arg)
{
    (void)arg;
    fl_fault_reset();
    fl_fault_fail("pthread_cond_timedwait", 1, EINVAL);
    int r = mp_event_wait(ev, 100);
    fl_fault_reset();
    kid_extra = mp_event_set(ev);
    return r;
}

FL_TEST(test_mp_event_wait_unlocks_when_the_timed_wait_fails)
{
    mp_event *ev = raw_event();
    struct kid k;
    kid_start(&k, kid_wait_fails_then_set, ev, 0);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    forget(ev);
    ck_assert_msg(got,
                  "mp_event_wait(ev, 100) with pthread_cond_timedwait "
                  "failing (EINVAL), then mp_event_set in the same "
                  "process: the set was still waiting after 3 s for the "
                  "lock. Every way out of mp_event_wait unlocks the mutex, "
                  "the error's too");
    fl_expect_int(k.rep.value, -EINVAL,
                  "mp_event_wait with pthread_cond_timedwait failing with "
                  "EINVAL",
                  "a wait that fails returns minus its error");
    fl_expect_int(k.rep.extra, 0, "mp_event_set after the failed wait", "");
}

static const fl_case cases[] = {
    FL_CASE(test_mp_event_create_starts_clear, 5),
    FL_CASE(test_mp_event_create_rejects_a_null_pointer, 5),
    FL_CASE(test_mp_event_create_gives_enomem_when_memory_runs_out, 5),
    FL_CASE(test_mp_event_create_shares_the_event_with_children, 5),
    FL_CASE(test_mp_event_create_makes_a_lock_other_processes_can_wait_for, 10),
    FL_CASE(test_mp_event_create_makes_a_condition_other_processes_can_wake,
            10),
    FL_CASE(test_mp_event_create_times_the_condition_on_the_monotonic_clock, 5),
    FL_CASE(test_mp_event_set_raises_the_flag, 5),
    FL_CASE(test_mp_event_set_wakes_all_8_waiting_processes, 15),
    FL_CASE(test_mp_event_set_changes_the_flag_under_the_lock, 10),
    FL_CASE(test_mp_event_set_raises_the_flag_before_it_unlocks, 10),
    FL_CASE(test_mp_event_clear_lowers_the_flag, 5),
    FL_CASE(test_mp_event_clear_makes_wait_time_out_again, 10),
    FL_CASE(test_mp_event_is_set_reports_the_flag, 5),
    FL_CASE(test_mp_event_is_set_sees_a_set_and_a_clear_made_by_a_child, 10),
    FL_CASE(test_mp_event_calls_touch_the_flag_only_under_the_lock, 10),
    FL_CASE(test_mp_event_wait_returns_1_at_once_when_already_set, 10),
    FL_CASE(test_mp_event_wait_times_out_after_the_timeout, 10),
    FL_CASE(test_mp_event_wait_carries_nanoseconds_into_seconds, 10),
    FL_CASE(test_mp_event_wait_with_timeout_0_only_looks, 10),
    FL_CASE(test_mp_event_wait_returns_1_when_another_process_sets_it, 10),
    FL_CASE(test_mp_event_wait_sleeps_again_after_a_spurious_wake_up, 10),
    FL_CASE(test_mp_event_wait_keeps_each_threads_own_deadline, 5),
    FL_CASE(test_mp_event_wait_keeps_its_deadline_through_spurious_wake_ups,
            10),
    FL_CASE(test_mp_event_wait_returns_1_when_set_as_the_deadline_passes, 10),
    FL_CASE(test_mp_event_wait_checks_the_flag_under_the_lock, 10),
    FL_CASE(test_mp_event_wait_counts_the_time_spent_waiting_for_the_lock, 5),
    FL_CASE(test_mp_event_wait_reads_the_flag_before_it_unlocks, 10),
    FL_CASE(test_mp_event_wait_rejects_a_bad_timeout, 5),
    FL_CASE(test_mp_event_calls_reject_a_null_event, 5),
    FL_CASE(test_mp_event_calls_give_the_error_of_a_failed_lock, 5),
    FL_CASE(test_mp_event_wait_wakes_about_as_fast_as_a_pipe, 20),
    FL_CASE(test_mp_event_destroy_unmaps_the_event, 5),
    FL_CASE(test_mp_event_destroy_rejects_a_pointer_it_did_not_make, 5),
    FL_CASE(test_mp_event_destroy_returns_after_a_waiter_was_killed, 10),
    FL_CASE(test_mp_event_create_fails_cleanly_when_any_call_it_makes_fails, 5),
    FL_CASE(test_mp_event_wait_keeps_its_timeout_when_the_wall_clock_jumps, 5),
    FL_CASE(test_mp_event_wait_waits_out_long_timeouts, 10),
    FL_CASE(test_mp_event_wait_turns_each_timeout_into_its_exact_deadline, 5),
    FL_CASE(test_mp_event_wait_unlocks_when_the_timed_wait_fails, 5),
};

FL_MAIN("07_events", cases)
