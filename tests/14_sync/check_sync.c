// check_sync.c - tests for lesson 14: semaphores, conditions, barriers.
//
// The layouts are public (sync.h), so each function is judged alone: the
// tests of everything but the create functions work on objects the test
// builds itself (raw_sem, raw_cond, raw_barrier: the same primitives, set
// up by hand), and play the other side with raw POSIX calls.
//
// Races are made to happen, not hoped for.  A test that needs a process
// asleep in a wait reads /proc until it is; one that needs a wake-up to
// land between a look and a sleep holds the lock across that window; one
// that needs a process to die holding a lock kills it while it does.
// Nothing sleeps to synchronise.  Every process a test starts reports
// through its own pipe, and is waited for with a bound: a wait that never
// ends shows as a process still waiting, then killed.
#define _GNU_SOURCE
#include "sync.h"
#include "harness.h"
#include "stress.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

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

static void *
page(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(p != MAP_FAILED, "mmap failed: %s", strerror(errno));
    memset(p, 0, size);
    return p;
}

static void
init_mutex(pthread_mutex_t *m, int type, int robust)
{
    pthread_mutexattr_t a;
    int r = pthread_mutexattr_init(&a) || pthread_mutexattr_settype(&a, type) ||
            pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) ||
            (robust && pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) ||
            pthread_mutex_init(m, &a);
    ck_assert_msg(r == 0, "the test could not set up its own mutex");
    pthread_mutexattr_destroy(&a);
}

static void
init_condvar(pthread_cond_t *c)
{
    pthread_condattr_t a;
    int r = pthread_condattr_init(&a) ||
            pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED) ||
            pthread_condattr_setclock(&a, CLOCK_MONOTONIC) ||
            pthread_cond_init(c, &a);
    ck_assert_msg(r == 0, "the test could not set up its own condition");
    pthread_condattr_destroy(&a);
}

// Objects made by the test, as the create functions should make them.
static mp_sem *
raw_sem(int value, int bound)
{
    mp_sem *s = page(sizeof *s);
    ck_assert(sem_init(&s->sem, 1, (unsigned)value) == 0);
    init_mutex(&s->release_lock, PTHREAD_MUTEX_NORMAL, 0);
    s->bound = bound;
    return s;
}

static mp_cond *
raw_cond(void)
{
    mp_cond *c = page(sizeof *c);
    init_mutex(&c->lock, PTHREAD_MUTEX_ERRORCHECK, 0);
    init_condvar(&c->cond);
    return c;
}

static mp_barrier *
raw_barrier(int parties)
{
    mp_barrier *b = page(sizeof *b);
    init_mutex(&b->lock, PTHREAD_MUTEX_NORMAL, 1);
    init_condvar(&b->cond);
    b->parties = parties;
    b->reset_from = (unsigned)-1;
    return b;
}

static void
forget(void *p, size_t size)
{
    munmap(p, size);
}

static void
raw_lock(pthread_mutex_t *m)
{
    int r = pthread_mutex_lock(m);
    ck_assert_msg(r == 0, "the test could not take a lock: %s", strerror(r));
}

/* A kid: a child that runs one function and reports what it returned, and
 * how long it took, through its own pipe. */
struct report {
    int value;
    int extra;
    long long us;
};

struct kid {
    pid_t pid;
    int fd;
    int reported;
    struct report rep;
};

typedef int (*kid_fn)(void *obj, int arg);

static int kid_extra;
static long long kid_t0_us;

static void
kid_start(struct kid *k, kid_fn fn, void *obj, int arg)
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
        rep.value = fn(obj, arg);
        rep.us = fl_now_us() - kid_t0_us;
        rep.extra = kid_extra;
        _exit(write(p[1], &rep, sizeof rep) == (ssize_t)sizeof rep ? 0 : 1);
    }
    close(p[1]);
    *k = (struct kid){.pid = pid, .fd = p[0]};
}

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

// Wait until `want` of the n kids (at most 8) have reported, whichever
// they are, or until limit_ms have passed.  How many have reported.
static int
kids_wait(struct kid *k, int n, int want, int limit_ms)
{
    long long end = fl_now_us() + limit_ms * 1000LL;
    int gone[8] = {0}; // ended without a report
    for (;;) {
        struct pollfd p[8];
        int who[8], m = 0, reported = 0;
        for (int i = 0; i < n; i++)
            if (k[i].reported)
                reported++;
            else if (!gone[i])
                p[m] = (struct pollfd){.fd = k[i].fd, .events = POLLIN},
                who[m++] = i;
        long long left = end - fl_now_us();
        if (reported >= want || m == 0 || left <= 0)
            return reported;
        if (poll(p, (nfds_t)m, (int)((left + 999) / 1000)) < 0 &&
            errno != EINTR)
            return reported;
        for (int j = 0; j < m; j++)
            if (p[j].revents != 0 && !kid_wait(&k[who[j]], 0))
                gone[who[j]] = 1;
    }
}

static double
ms(long long us)
{
    return us / 1000.0;
}

// "returned -110 (-ETIMEDOUT) after 12.3 ms", or "was still waiting".
static const char *
said(const struct kid *k, int limit_ms)
{
    static char buf[4][128];
    static int next;
    char *b = buf[next++ % 4];
    if (k->reported)
        snprintf(b, sizeof buf[0], "returned %s after %.1f ms",
                 fl_ret(k->rep.value), ms(k->rep.us));
    else
        snprintf(b, sizeof buf[0], "was still waiting after %d ms", limit_ms);
    return b;
}

// Start a kid and wait until it sleeps; fail if it returned instead.
static void
kid_asleep(struct kid *k, kid_fn fn, void *obj, int arg, const char *call)
{
    kid_start(k, fn, obj, arg);
    char s = fl_proc_settles(k->pid);
    if (s == 'S' && !kid_wait(k, 0))
        return;
    int got = kid_wait(k, 1000);
    kid_end(k);
    ck_assert_msg(0,
                  "%s %s, instead of sleeping until another process let "
                  "it go. %s",
                  call, got ? said(k, 0) : "kept running, awake",
                  got && k->rep.value == 0 ? "-1 means for ever, and "
                                             "nobody had let it go yet."
                  : got                    ? ""
                        : "Sleep in the wait, never in a busy loop.");
}

// kid_asleep for a wait with a finite timeout: the kid calls fn with
// timeout_ms.  On a loaded host this process may not run again before the
// kid has slept its whole timeout out and returned timeout_ret; that kid
// did nothing wrong, and is tried again with four times the timeout (at
// most twice).  The timeout the sleeping kid was given; the call for the
// messages is fmt with that timeout.
static int
kid_asleep_within(struct kid *k, kid_fn fn, void *obj, int timeout_ms,
                  int timeout_ret, const char *fmt)
{
    for (int t = timeout_ms;; t *= 4) {
        kid_start(k, fn, obj, t);
        char s = fl_proc_settles(k->pid);
        if (s == 'S' && !kid_wait(k, 0))
            return t;
        int got = kid_wait(k, 1000);
        kid_end(k);
        int whole =
            got && k->rep.value == timeout_ret && k->rep.us >= t * 1000LL;
        if (whole && t < timeout_ms * 16)
            continue;
        char call[96];
        snprintf(call, sizeof call, fmt, t);
        ck_assert_msg(0,
                      "%s %s, instead of sleeping until another process "
                      "let it go. %s",
                      call, got ? said(k, 0) : "kept running, awake",
                      !got || whole ? "It was never seen asleep: sleep in "
                                      "the wait, never in a busy loop."
                                    : "");
    }
}

#define CLOCK_HINT                                                             \
    "Take the deadline from CLOCK_MONOTONIC, once, as now + timeout, and "     \
    "wait on that clock (sem_clockwait, a condition with "                     \
    "pthread_condattr_setclock): CLOCK_REALTIME is the clock anyone may set."

#define STORM_US 300 // a signal every 300 us during the storm tests
#define HOLD_MS 30   // how long a wait for ever must last under the storm
#define JUMP_MS 30   // the timeout of a wait while the wall clock jumps

// Fail unless a create refused its arguments (r, -EINVAL) and left no
// page mapped: its mmap and munmap calls, counted since fl_fault_reset
// (made just before the call), must match.
static void
expect_refused(int r, const char *call, const char *hint)
{
    long maps = fl_fault_calls("mmap"), unmaps = fl_fault_calls("munmap");
    fl_expect_int(r, -EINVAL, call, hint);
    ck_assert_msg(maps == unmaps,
                  "%s returned -EINVAL, but it mapped %ld page(s) and "
                  "unmapped %ld: the page is lost for good. Check the "
                  "arguments before mmap.",
                  call, maps, unmaps);
}

/* ------------------------------------------------------- mp_sem_create */

FL_TEST(test_mp_sem_create_rejects_bad_arguments)
{
    mp_sem *s = NULL;
    fl_fault_reset();
    expect_refused(mp_sem_create(NULL, 1, 0), "mp_sem_create(NULL, 1, 0)",
                   "check sp first");
    fl_fault_reset();
    expect_refused(mp_sem_create(&s, -1, 0), "mp_sem_create(&s, -1, 0)",
                   "a count below 0 means nothing (Python: ValueError)");
    ck_assert_msg(s == NULL, "mp_sem_create failed but set *sp");
}

FL_TEST(test_mp_sem_create_starts_at_the_value_and_bound_given)
{
    mp_sem *s = NULL, *bs = NULL;
    // bounded is a flag: any non-zero value, -1 say, asks for a bound.
    // A barrier first: its robust mutex is then the last one initialised,
    // unless the semaphore initialises its release_lock.
    mp_barrier *b = NULL;
    if (mp_barrier_create(&b, 2) == 0 && b != NULL)
        forget(b, sizeof *b);
    int r1 = mp_sem_create(&s, 3, 0), pshared = -1, robust = -1;
    fl_mutex_attrs_seen(&pshared, &robust);
    int r2 = mp_sem_create(&bs, 2, -1);
    ck_assert_msg(r1 == 0 && r2 == 0 && s && bs,
                  "mp_sem_create(&s, 3, 0) returned %s, (&s, 2, -1) %s; "
                  "expected 0 and 0 with s set (bounded is a flag: any "
                  "non-zero value asks for a bound, -1 too)",
                  fl_ret(r1), fl_ret(r2));
    int v1 = -1, v2 = -1;
    sem_getvalue(&s->sem, &v1);
    sem_getvalue(&bs->sem, &v2);
    int b1 = s->bound, b2 = bs->bound;
    forget(s, sizeof *s);
    forget(bs, sizeof *bs);
    ck_assert_msg(v1 == 3 && b1 == -1,
                  "Semaphore(3): the count is %d and the bound %d; expected "
                  "3 and -1 (no bound)",
                  v1, b1);
    ck_assert_msg(v2 == 2 && b2 == 2,
                  "mp_sem_create(&s, 2, -1), a BoundedSemaphore(2): the "
                  "count is %d and the bound %d; expected 2 and 2: the bound "
                  "is the initial value (not bounded), and bounded is a "
                  "flag, any non-zero value (test it as a truth value, not "
                  "== 1 or > 0)",
                  v2, b2);
    ck_assert_msg(
        pshared == PTHREAD_PROCESS_SHARED && robust == PTHREAD_MUTEX_STALLED,
        "mp_sem_create(&s, 3, 0) %s: init_lock() its release_lock "
        "whatever the value, process-shared and not robust",
        robust == PTHREAD_MUTEX_ROBUST ? "initialised no mutex"
                                       : "initialised release_lock private");
}

static int
kid_raw_sem_wait(void *obj, int arg)
{
    (void)arg;
    mp_sem *s = obj;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += 5;
    while (sem_timedwait(&s->sem, &t) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

static int
kid_raw_lock_unlock(void *obj, int arg)
{
    (void)arg;
    pthread_mutex_t *m = obj;
    int r = pthread_mutex_lock(m);
    if (r == 0)
        pthread_mutex_unlock(m);
    return r;
}

FL_TEST(test_mp_sem_create_makes_a_semaphore_other_processes_can_wake)
{
    mp_sem *s = NULL;
    int r = mp_sem_create(&s, 0, 0);
    ck_assert_msg(r == 0 && s != NULL, "mp_sem_create(&s, 0, 0) returned %s",
                  fl_ret(r));
    struct kid k;
    kid_start(&k, kid_raw_sem_wait, s, 0);
    fl_proc_settles(k.pid);
    sem_post(&s->sem);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    forget(s, sizeof *s);
    ck_assert_msg(got && k.rep.value == 0,
                  "a child slept in sem_wait on a semaphore made by "
                  "mp_sem_create; the test posted it, and the child %s. "
                  "Map the semaphore MAP_SHARED | MAP_ANONYMOUS and give "
                  "sem_init a pshared of 1: with 0, a post wakes only "
                  "sleepers of its own process.",
                  said(&k, 2000));
    // Its release_lock too: a child blocked on it while the test holds it
    // must wake when the test lets go.
    s = NULL;
    r = mp_sem_create(&s, 0, 1);
    ck_assert_msg(r == 0 && s != NULL, "mp_sem_create(&s, 0, 1) returned %s",
                  fl_ret(r));
    raw_lock(&s->release_lock);
    kid_start(&k, kid_raw_lock_unlock, &s->release_lock, 0);
    char st = fl_proc_settles(k.pid); // blocked: the test holds it
    pthread_mutex_unlock(&s->release_lock);
    int done = kid_wait(&k, 2000);
    kid_end(&k);
    forget(s, sizeof *s);
    ck_assert_msg(st == 'S' && done && k.rep.value == 0,
                  "a child blocked on the release_lock of a semaphore made "
                  "by mp_sem_create while the test held it, and %s. That "
                  "mutex is not shared by processes: init it as the other "
                  "locks are (init_lock: PTHREAD_PROCESS_SHARED), not with "
                  "pthread_mutex_init(&lock, NULL).",
                  st != 'S' ? "did not even wait for it"
                            : "still slept 2 s after the test unlocked it");
}

/* ------------------------------------------------------ mp_sem_acquire */

FL_TEST(test_mp_sem_acquire_takes_3_of_3_then_says_eagain)
{
    mp_sem *s = raw_sem(3, -1);
    int r[4], v[4];
    for (int i = 0; i < 4; i++) {
        r[i] = mp_sem_acquire(s, 0);
        sem_getvalue(&s->sem, &v[i]);
    }
    forget(s, sizeof *s);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(r[i] == 0 && v[i] == 2 - i,
                      "acquire %d of a Semaphore(3), with timeout 0, "
                      "returned %s and left the count at %d; expected 0 and "
                      "%d",
                      i + 1, fl_ret(r[i]), v[i], 2 - i);
    ck_assert_msg(r[3] == -EAGAIN && v[3] == 0,
                  "a 4th acquire of a Semaphore(3), timeout 0, returned %s "
                  "with the count at %d; expected -EAGAIN (-11) and 0: 0 "
                  "only looks (sem_trywait)",
                  fl_ret(r[3]), v[3]);
}

static int
kid_acquire(void *obj, int timeout_ms)
{
    return mp_sem_acquire(obj, timeout_ms);
}

// In the kid: mp_sem_acquire(obj, timeout_ms) with the code's
// CLOCK_MONOTONIC read timeout_ms - 80 ms behind: a deadline of exactly
// now + timeout_ms is then 80 ms away for the kernel, and one a second
// off either way shows at once as a wait of 0 or of a second more.
static int
kid_acquire_shifted(void *obj, int timeout_ms)
{
    fl_fault_reset();
    fl_clock_mono_later_at(0, -(timeout_ms - 80LL));
    return mp_sem_acquire(obj, timeout_ms);
}

FL_TEST(test_mp_sem_acquire_times_out_after_the_timeout)
{
    mp_sem *s = raw_sem(0, -1);
    struct kid k;
    kid_start(&k, kid_acquire, s, 50);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    ck_assert_msg(got && k.rep.value == -ETIMEDOUT && k.rep.us >= 50000 &&
                      k.rep.us < 600000,
                  "mp_sem_acquire(s, 50) with the count at 0 %s; expected "
                  "-ETIMEDOUT (-110) after 50 ms. %s",
                  said(&k, 3000), CLOCK_HINT);
    // Then timeouts at and past a second, to the millisecond: the code's
    // clock moved back by all but 80 ms of each, each takes 80 ms.
    static const int timeouts[] = {999, 1000, 2500};
    for (int i = 0; i < 3; i++) {
        kid_start(&k, kid_acquire_shifted, s, timeouts[i]);
        got = kid_wait(&k, 3000);
        kid_end(&k);
        ck_assert_msg(
            got && k.rep.value == -ETIMEDOUT && k.rep.us >= 75000 &&
                k.rep.us < 900000,
            "mp_sem_acquire(s, %d) with the count at 0, the code's "
            "CLOCK_MONOTONIC moved %d ms back, %s; expected -ETIMEDOUT "
            "after 80 ms (a deadline of now + %d ms, to the millisecond). "
            "The deadline is off: add timeout_ms / 1000 to tv_sec and "
            "(timeout_ms %% 1000) * 1000000 to tv_nsec, then carry.",
            timeouts[i], timeouts[i] - 80, said(&k, 3000), timeouts[i]);
    }
    forget(s, sizeof *s);
}

// In the kid: an acquire whose deadline falls exactly on a second.  The
// code reads CLOCK_MONOTONIC in whole milliseconds
// (fl_clock_mono_whole_ms); the kid, 60 to 950 ms into a second and early
// in its millisecond, waits 2 s less that phase: now + timeout has
// tv_nsec of exactly a billion, to be carried too (>=, not >).
static int
kid_acquire_to_a_whole_second(void *obj, int arg)
{
    (void)arg;
    kid_extra = fl_clock_mono_to_a_whole_second(); // 1051..1940 ms
    kid_t0_us = fl_now_us();
    return mp_sem_acquire(obj, kid_extra);
}

FL_TEST(test_mp_sem_acquire_wakes_when_another_process_releases)
{
    mp_sem *s = raw_sem(0, -1);
    struct kid k;
    kid_asleep(&k, kid_acquire, s, -1, "mp_sem_acquire(s, -1) at count 0");
    sem_post(&s->sem);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    // Then with 999 ms: the deadline's tv_nsec gets 999000000 added, and
    // must carry into tv_sec nearly every time.
    struct kid t;
    kid_start(&t, kid_acquire, s, 999);
    fl_proc_settles(t.pid);
    sem_post(&s->sem);
    int timed = kid_wait(&t, 3000);
    kid_end(&t);
    // And with a deadline of exactly tv_nsec 1000000000 before the carry.
    struct kid w;
    kid_start(&w, kid_acquire_to_a_whole_second, s, 0);
    fl_proc_settles(w.pid);
    sem_post(&s->sem);
    int whole = kid_wait(&w, 3000);
    kid_end(&w);
    forget(s, sizeof *s);
    ck_assert_msg(got && k.rep.value == 0,
                  "mp_sem_acquire(s, -1) slept; the test posted the "
                  "semaphore; the acquire then %s, expected 0",
                  said(&k, 2000));
    ck_assert_msg(timed && t.rep.value == 0,
                  "mp_sem_acquire(s, 999) at count 0, posted by the test "
                  "while it slept, %s; expected 0. %s",
                  said(&t, 3000),
                  timed && t.rep.value == -EINVAL
                      ? "sem_clockwait refused the deadline: its tv_nsec "
                        "must stay below 1000000000. Carry whole seconds "
                        "into tv_sec after adding the milliseconds."
                      : "");
    ck_assert_msg(whole && w.rep.value == 0,
                  "mp_sem_acquire(s, %d), its deadline exactly on a second "
                  "(tv_nsec 1000000000 before the carry), posted by the "
                  "test while it slept, %s; expected 0. %s",
                  w.rep.extra, said(&w, 3000),
                  whole && w.rep.value == -EINVAL
                      ? "sem_clockwait refused the deadline: tv_nsec of "
                        "exactly a billion must be carried too, >= "
                        "1000000000, not >."
                      : "");
}

// In the kid: an acquire under a signal storm; elapsed ms in kid_extra.
static int
storm_acquire(void *arg)
{
    return mp_sem_acquire(arg, 50);
}

static int
kid_storm_acquire(void *obj, int arg)
{
    (void)arg;
    fl_storm_result res;
    fl_storm_call(storm_acquire, obj, STORM_US, &res);
    kid_extra = (int)res.signals;
    return res.ret;
}

FL_TEST(test_mp_sem_acquire_keeps_its_deadline_under_a_signal_storm)
{
    mp_sem *s = raw_sem(0, -1);
    struct kid k;
    kid_start(&k, kid_storm_acquire, s, 0);
    int got = kid_wait(&k, 1500);
    kid_end(&k);
    forget(s, sizeof *s);
    ck_assert_msg(got && k.rep.value == -ETIMEDOUT && k.rep.us >= 45000 &&
                      k.rep.us < 400000,
                  "mp_sem_acquire(s, 50) at count 0, while a signal "
                  "arrived every %d us: it %s; expected -ETIMEDOUT after "
                  "50 ms. %s",
                  STORM_US, said(&k, 1500),
                  !got || (k.rep.value == -ETIMEDOUT && k.rep.us >= 400000)
                      ? "Each signal started the 50 ms again: after EINTR, "
                        "wait again until the SAME deadline, taken once "
                        "before the loop."
                  : k.rep.value == -EINTR
                      ? "sem_clockwait failed with EINTR because a signal "
                        "handler ran: call it again."
                      : CLOCK_HINT);
}

static int
hold_acquire(void *arg)
{
    return mp_sem_acquire(arg, -1);
}

static void
post_it(void *arg)
{
    sem_post(&((mp_sem *)arg)->sem);
}

static int
kid_storm_hold(void *obj, int arg)
{
    (void)arg;
    fl_storm_result res;
    fl_storm_hold(hold_acquire, post_it, obj, STORM_US, HOLD_MS, &res);
    kid_extra = res.early;
    return res.ret;
}

FL_TEST(test_mp_sem_acquire_waits_for_ever_under_a_signal_storm)
{
    mp_sem *s = raw_sem(0, -1);
    struct kid k;
    kid_start(&k, kid_storm_hold, s, 0);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    forget(s, sizeof *s);
    ck_assert_msg(got && k.rep.value == 0 && !k.rep.extra,
                  "mp_sem_acquire(s, -1) at count 0, while a signal arrived "
                  "every %d us, and a post after %d ms: it %s%s; expected 0 "
                  "after the post. %s",
                  STORM_US, HOLD_MS, said(&k, 3000),
                  got && k.rep.extra ? " BEFORE the post" : "",
                  got && k.rep.value == -EINTR
                      ? "sem_wait failed with EINTR because a signal handler "
                        "ran: call it again."
                      : "-1 means for ever: sem_wait, retried after EINTR.");
}

static int
kid_jumped_acquire(void *obj, int arg)
{
    fl_fault_reset();
    fl_clock_jump(-3600);
    kid_t0_us = fl_now_us();
    return mp_sem_acquire(obj, arg);
}

FL_TEST(test_mp_sem_acquire_keeps_its_timeout_when_the_wall_clock_jumps)
{
    mp_sem *s = raw_sem(0, -1);
    struct kid k;
    kid_start(&k, kid_jumped_acquire, s, JUMP_MS);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    forget(s, sizeof *s);
    ck_assert_msg(got && k.rep.value == -ETIMEDOUT &&
                      k.rep.us >= JUMP_MS * 1000 && k.rep.us < 1000000,
                  "with the wall clock set back an hour, mp_sem_acquire(s, "
                  "%d) at count 0 %s; expected -ETIMEDOUT after %d ms. "
                  "sem_timedwait reads CLOCK_REALTIME: use sem_clockwait "
                  "with CLOCK_MONOTONIC, and a deadline from that clock.",
                  JUMP_MS, said(&k, 3000), JUMP_MS);
}

/* ------------------------------------------------------ mp_sem_release */

FL_TEST(test_mp_sem_release_raises_the_value_past_the_start)
{
    mp_sem *s = raw_sem(1, -1);
    int r1 = mp_sem_release(s), r2 = mp_sem_release(s), v = -1;
    sem_getvalue(&s->sem, &v);
    forget(s, sizeof *s);
    ck_assert_msg(r1 == 0 && r2 == 0 && v == 3,
                  "two releases of a Semaphore(1) returned %s and %s and "
                  "left the count at %d; expected 0, 0 and 3: only a "
                  "bounded semaphore stops at its start",
                  fl_ret(r1), fl_ret(r2), v);
}

FL_TEST(test_mp_sem_release_stops_a_bounded_semaphore_at_its_bound)
{
    mp_sem *s = raw_sem(0, 2);
    int r[3], v[3];
    for (int i = 0; i < 3; i++) {
        r[i] = mp_sem_release(s);
        sem_getvalue(&s->sem, &v[i]);
    }
    int held = pthread_mutex_trylock(&s->release_lock);
    if (held == 0)
        pthread_mutex_unlock(&s->release_lock);
    forget(s, sizeof *s);
    ck_assert_msg(r[0] == 0 && v[0] == 1 && r[1] == 0 && v[1] == 2,
                  "releases of a bounded semaphore at 0 of 2 returned %s "
                  "(count %d), then %s (count %d); expected 0 (1), 0 (2): "
                  "below the bound a release goes through",
                  fl_ret(r[0]), v[0], fl_ret(r[1]), v[1]);
    ck_assert_msg(r[2] == -EOVERFLOW && v[2] == 2,
                  "a release of a bounded semaphore at its bound, 2, "
                  "returned %s and left the count at %d; expected "
                  "-EOVERFLOW (-75) and 2 (Python: ValueError). %s",
                  fl_ret(r[2]), v[2],
                  r[2] == 0 ? "Check the count against the bound "
                              "(sem_getvalue) before sem_post, under "
                              "release_lock."
                            : "");
    ck_assert_msg(held == 0,
                  "after a release returned -EOVERFLOW, release_lock was "
                  "still held (trylock said %s): every later release would "
                  "wait for ever. Unlock it on every way out, the "
                  "-EOVERFLOW one too.",
                  fl_ret(-held));
    // The bound at its lowest: BoundedSemaphore(0) is full from the start.
    s = raw_sem(0, 0);
    int r0 = mp_sem_release(s), v0 = -1;
    sem_getvalue(&s->sem, &v0);
    forget(s, sizeof *s);
    ck_assert_msg(r0 == -EOVERFLOW && v0 == 0,
                  "a release of a bounded semaphore made with value 0 (its "
                  "bound, 0) returned %s and left the count at %d; "
                  "expected -EOVERFLOW and 0, as Python's "
                  "BoundedSemaphore(0).release() raises ValueError. A "
                  "bound of 0 is a bound: only -1 means none (bound >= 0, "
                  "not bound > 0).",
                  fl_ret(r0), v0);
}

// sem_post fails with EOVERFLOW at SEM_VALUE_MAX: the release says so.
FL_TEST(test_mp_sem_release_reports_a_failed_sem_post)
{
    mp_sem *s = raw_sem(0, -1);
    fl_fault_reset();
    fl_fault_fail("sem_post", 1, EOVERFLOW);
    int r = mp_sem_release(s);
    fl_fault_fail("sem_post", 2, EINVAL); // a second errno: not a constant
    int r2 = mp_sem_release(s);
    fl_fault_reset();
    int v = -1;
    sem_getvalue(&s->sem, &v);
    forget(s, sizeof *s);
    ck_assert_msg(r == -EOVERFLOW && r2 == -EINVAL,
                  "sem_post failed with EOVERFLOW (as it does at "
                  "SEM_VALUE_MAX), then with EINVAL, and mp_sem_release "
                  "returned %s, then %s (the count %d); expected -EOVERFLOW "
                  "(-75), then -EINVAL (-22): sem_post returns -1 and sets "
                  "errno, so look at what it returns and give -errno",
                  fl_ret(r), fl_ret(r2), v);
}

static int
kid_release(void *obj, int arg)
{
    (void)arg;
    return mp_sem_release(obj);
}

// In a kid: stop after the first unlock, then mp_sem_release.
static int
kid_release_then_stop(void *obj, int arg)
{
    (void)arg;
    fl_fault_reset();
    fl_fault_stop_after("pthread_mutex_unlock", 1);
    return mp_sem_release(obj);
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

// The kid's release waits for release_lock, which the test holds; the test
// then posts the last unit below the bound itself, as a second releaser
// would, and lets go.  The release must look at the count only now.
FL_TEST(test_mp_sem_release_checks_the_bound_under_the_lock)
{
    mp_sem *s = raw_sem(0, 1);
    raw_lock(&s->release_lock);
    struct kid k;
    kid_start(&k, kid_release, s, 0);
    fl_proc_settles(k.pid);
    sem_post(&s->sem);
    pthread_mutex_unlock(&s->release_lock);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    int v = -1;
    sem_getvalue(&s->sem, &v);
    forget(s, sizeof *s);
    ck_assert_msg(got && k.rep.value == -EOVERFLOW && v == 1,
                  "a release of a bounded semaphore (0 of 1) waited for "
                  "release_lock; meanwhile another releaser brought the "
                  "count to the bound; the release then %s and left the "
                  "count at %d; expected -EOVERFLOW (-75) and 1. Read the "
                  "count and compare it with the bound after taking "
                  "release_lock, not before: checked outside the lock, two "
                  "releasers both see room and both post.",
                  said(&k, 2000), v);
    // The other half: the post itself is under the lock.  A kid stops
    // itself right after its first unlock; by then its release must have
    // posted.  Posted after the unlock, a second releaser could look
    // between the two, see room, and post too.
    s = raw_sem(0, 1);
    kid_start(&k, kid_release_then_stop, s, 0);
    int stopped = until_stopped(k.pid);
    v = -1;
    sem_getvalue(&s->sem, &v);
    kill(k.pid, SIGCONT);
    got = kid_wait(&k, 2000);
    kid_end(&k);
    forget(s, sizeof *s);
    ck_assert_msg(stopped && v == 1 && got && k.rep.value == 0,
                  "a release of a bounded semaphore (0 of 1) was stopped "
                  "right after it let go of release_lock; the count was "
                  "then %d (%s); then the release %s; expected 1 and 0. "
                  "Post before the unlock: the look at the bound and the "
                  "post are one step under release_lock, or two releasers "
                  "both see room and both post.",
                  v, stopped ? "stopped" : "it never stopped", said(&k, 2000));
}

FL_TEST(test_mp_sem_value_reports_the_count)
{
    mp_sem *s = raw_sem(5, -1);
    int a = mp_sem_value(s);
    sem_wait(&s->sem);
    int b = mp_sem_value(s);
    forget(s, sizeof *s);
    ck_assert_msg(a == 5 && b == 4,
                  "mp_sem_value gave %s, then %s after a sem_wait; expected "
                  "5 then 4",
                  fl_ret(a), fl_ret(b));
}

FL_TEST(test_mp_sem_calls_reject_a_null_semaphore)
{
    const char *names[] = {"acquire(NULL, 0)", "release(NULL)", "value(NULL)"};
    int got[] = {mp_sem_acquire(NULL, 0), mp_sem_release(NULL),
                 mp_sem_value(NULL)};
    for (int i = 0; i < 3; i++)
        ck_assert_msg(got[i] == -EINVAL,
                      "mp_sem_%s returned %s, expected -22 (-EINVAL)", names[i],
                      fl_ret(got[i]));
    mp_sem *s = raw_sem(0, -1);
    int bad = mp_sem_acquire(s, -2);
    forget(s, sizeof *s);
    fl_expect_int(bad, -EINVAL, "mp_sem_acquire(s, -2)",
                  "-1 means for ever, and below that is no timeout");
}

/* ------------------------------------------------------ mp_cond_create */

static mp_cond *
made_cond(void)
{
    mp_cond *c = NULL;
    int r = mp_cond_create(&c);
    ck_assert_msg(r == 0 && c != NULL, "mp_cond_create(&c) returned %s",
                  fl_ret(r));
    return c;
}

// A condition made by the code, its lock, and a flag in shared memory.
struct timed {
    pthread_mutex_t *lock;
    pthread_cond_t *cond;
    int *flag;
};

#define TIMED_MS 3000 // the wait's deadline: only a broken condition meets it

// In the kid: wait on t->cond until TIMED_MS from now on CLOCK_MONOTONIC,
// and until the flag is set; minus what the wait returned, and kid_extra
// 1 if it said ETIMEDOUT before that deadline.
static int
kid_timed_wait(void *obj, int arg)
{
    (void)arg;
    struct timed *t = obj;
    int r = pthread_mutex_lock(t->lock);
    if (r != 0 && r != EOWNERDEAD)
        return -r;
    struct timespec d = mono_after(TIMED_MS), now;
    kid_t0_us = fl_now_us();
    do // the flag is not set yet: the test sets it once this kid sleeps
        r = pthread_cond_timedwait(t->cond, t->lock, &d);
    while (r == 0 && !*(volatile int *)t->flag);
    clock_gettime(CLOCK_MONOTONIC, &now);
    kid_extra =
        r == ETIMEDOUT && (now.tv_sec < d.tv_sec ||
                           (now.tv_sec == d.tv_sec && now.tv_nsec < d.tv_nsec));
    pthread_mutex_unlock(t->lock);
    return -r;
}

// A kid waits on t->cond until TIMED_MS from now on CLOCK_MONOTONIC, and
// the test wakes it once it sleeps.  No time bound decides the verdict,
// so no load can change it.  A condition timed on CLOCK_REALTIME reads a
// deadline taken from CLOCK_MONOTONIC (seconds since boot) as a moment in
// 1970: its wait says ETIMEDOUT at once, before that deadline as
// CLOCK_MONOTONIC counts it, and never sleeps, so the test never wakes
// it.  (A wake-up sent without looking can reach such a wait between the
// moment it lets go of the mutex and its timeout, and be taken instead.)
// One timed on CLOCK_MONOTONIC sleeps until the test's broadcast, sent
// again while it still sleeps should one be lost.  A clock jump cannot
// show this mistake: the code reads no wall clock for fl_clock_jump to
// move, and the kernel times the wait on its real one.  Whether the kid
// reported; k->rep says how.
static int
timed_wait_in_a_kid(struct timed *t, struct kid *k)
{
    kid_start(k, kid_timed_wait, t, 0);
    long long end = fl_now_us() + (TIMED_MS + 2000) * 1000LL;
    while (fl_proc_sleeps_again(k->pid, -1, 3000) == 'S' && !kid_wait(k, 0) &&
           fl_now_us() < end) {
        raw_lock(t->lock);
        *t->flag = 1;
        pthread_cond_broadcast(t->cond);
        pthread_mutex_unlock(t->lock);
        kid_wait(k, 200);
    }
    long long left = end - fl_now_us();
    int got = kid_wait(k, left > 0 ? (int)(left / 1000) : 0);
    kid_end(k);
    return got;
}

#define SETCLOCK_HINT                                                          \
    "pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) before "                \
    "pthread_cond_init: the default, CLOCK_REALTIME, is the clock anyone "     \
    "may set, and a deadline taken from CLOCK_MONOTONIC means 1970 to it."

// What the kid's wait on a condition made by `what` said, explained.
static void
expect_timed_on_monotonic(const char *what, const struct kid *k, int got)
{
    ck_assert_msg(!got || !k->rep.extra,
                  "a child waited on the condition %s made, until %d ms "
                  "from now on CLOCK_MONOTONIC; pthread_cond_timedwait said "
                  "ETIMEDOUT after %.1f ms, before that deadline: the "
                  "condition is not timed on CLOCK_MONOTONIC. %s",
                  what, TIMED_MS, ms(k->rep.us), SETCLOCK_HINT);
    ck_assert_msg(got && k->rep.value == 0,
                  "a child waited on the condition %s made, until %d ms "
                  "from now on CLOCK_MONOTONIC, and once it slept the test "
                  "set the state and broadcast; pthread_cond_timedwait %s, "
                  "expected 0 at once. Make the condition "
                  "PTHREAD_PROCESS_SHARED and timed on CLOCK_MONOTONIC.",
                  what, TIMED_MS, said(k, TIMED_MS + 2000));
}

FL_TEST(test_mp_cond_create_makes_a_condition_timed_on_clock_monotonic)
{
    mp_cond *c = made_cond();
    struct timed t = {&c->lock, &c->cond, page(sizeof(int))};
    struct kid k;
    int got = timed_wait_in_a_kid(&t, &k);
    forget(c, sizeof *c);
    forget(t.flag, sizeof(int));
    expect_timed_on_monotonic("mp_cond_create", &k, got);
}

// A condition and the state it guards, both shared.
struct cstate {
    mp_cond *c;
    int *flag;
};

static int
flag_set(void *arg)
{
    return *(volatile int *)arg != 0;
}

// A correct waiter, with raw calls: sleeps until the flag is set.
static int
kid_raw_cond_wait(void *obj, int arg)
{
    (void)arg;
    struct cstate *st = obj;
    if (pthread_mutex_lock(&st->c->lock) != 0)
        return -1;
    struct timespec d = mono_after(5000);
    int r = 0;
    while (!*st->flag && r == 0)
        r = pthread_cond_timedwait(&st->c->cond, &st->c->lock, &d);
    pthread_mutex_unlock(&st->c->lock);
    return *st->flag ? 1 : -r;
}

static void
set_flag_and_broadcast(struct cstate *st)
{
    raw_lock(&st->c->lock);
    *st->flag = 1;
    pthread_cond_broadcast(&st->c->cond);
    pthread_mutex_unlock(&st->c->lock);
}

FL_TEST(test_mp_cond_create_makes_a_condition_other_processes_can_wake)
{
    struct cstate st = {made_cond(), page(sizeof(int))};
    struct kid k;
    kid_start(&k, kid_raw_cond_wait, &st, 0);
    fl_proc_settles(k.pid);
    set_flag_and_broadcast(&st);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    forget(st.c, sizeof *st.c);
    forget(st.flag, sizeof(int));
    ck_assert_msg(got && k.rep.value == 1,
                  "a child slept on c->cond; the test set the state and "
                  "broadcast, and the child %s. The condition variable and "
                  "its mutex must be PTHREAD_PROCESS_SHARED, in MAP_SHARED "
                  "memory, and the condition timed on CLOCK_MONOTONIC.",
                  said(&k, 2000));
}

FL_TEST(test_mp_cond_create_makes_a_lock_other_processes_can_wait_for)
{
    mp_cond *c = made_cond();
    raw_lock(&c->lock);
    struct kid k;
    kid_start(&k, kid_raw_lock_unlock, &c->lock, 0);
    char s = fl_proc_settles(k.pid); // blocked: the test holds it
    pthread_mutex_unlock(&c->lock);
    int done = kid_wait(&k, 2000);
    kid_end(&k);
    forget(c, sizeof *c);
    ck_assert_msg(s == 'S' && done && k.rep.value == 0,
                  "a child blocked on c->lock while the test held it, and "
                  "%s. The mutex is not shared by processes: "
                  "pthread_mutexattr_setpshared(&attr, "
                  "PTHREAD_PROCESS_SHARED), in MAP_SHARED memory.",
                  s != 'S' ? "did not even wait for it"
                           : "still slept 2 s after the test unlocked it");
}

FL_TEST(test_mp_cond_create_makes_an_error_checking_lock)
{
    mp_cond *c = made_cond();
    int unheld = pthread_mutex_unlock(&c->lock);
    // Locked twice by its holder: EDEADLK, where a recursive mutex counts
    // (0) and a normal one would hang (the deadline, now, ends that).
    int first = pthread_mutex_lock(&c->lock);
    struct timespec now = mono_after(0);
    int twice = first == 0
                    ? pthread_mutex_clocklock(&c->lock, CLOCK_MONOTONIC, &now)
                    : -1;
    if (first == 0)
        pthread_mutex_unlock(&c->lock);
    if (twice == 0)
        pthread_mutex_unlock(&c->lock);
    forget(c, sizeof *c);
    ck_assert_msg(unheld != EPERM || twice == EDEADLK,
                  "pthread_mutex_lock on c->lock, already held by the "
                  "caller, returned %d (%s); expected EDEADLK. %s",
                  twice, twice == 0 ? "taken again" : strerror(twice),
                  twice == 0 ? "A recursive mutex counts: Python's "
                               "Condition() defaults to an RLock, but "
                               "mp_cond's lock is error-checking "
                               "(PTHREAD_MUTEX_ERRORCHECK), and a second "
                               "acquire is an error, not a count."
                             : "Make the mutex PTHREAD_MUTEX_ERRORCHECK.");
    ck_assert_msg(unheld == EPERM,
                  "pthread_mutex_unlock on c->lock, not held, returned %d; "
                  "expected EPERM: make the mutex PTHREAD_MUTEX_ERRORCHECK "
                  "(pthread_mutexattr_settype), so that a release or a "
                  "wait without the lock is an error, as in Python",
                  unheld);
}

/* ----------------------------------------------------- acquire, release */

static int
kid_cond_acquire_twice(void *obj, int arg)
{
    (void)arg;
    mp_cond *c = obj;
    kid_extra = mp_cond_acquire(c, 0);
    kid_t0_us = fl_now_us();
    return mp_cond_acquire(c, 30);
}

FL_TEST(test_mp_cond_acquire_gives_up_on_a_lock_held_elsewhere)
{
    mp_cond *c = raw_cond();
    raw_lock(&c->lock);
    struct kid k;
    kid_start(&k, kid_cond_acquire_twice, c, 0);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    pthread_mutex_unlock(&c->lock);
    forget(c, sizeof *c);
    ck_assert_msg(got && k.rep.extra == -EAGAIN,
                  "with the lock held by the test, mp_cond_acquire(c, 0) in "
                  "a child returned %s; expected -EAGAIN (-11): "
                  "pthread_mutex_trylock, EBUSY",
                  got ? fl_ret(k.rep.extra) : "nothing");
    ck_assert_msg(k.rep.value == -ETIMEDOUT && k.rep.us >= 30000,
                  "with the lock held by the test, mp_cond_acquire(c, 30) "
                  "%s; expected -ETIMEDOUT after 30 ms: "
                  "pthread_mutex_clocklock with CLOCK_MONOTONIC",
                  said(&k, 3000));
}

// The holder asks again: its error-checking lock says EDEADLK, returned
// negative, for ever and timed alike (timeout 0: trylock, EBUSY).
FL_TEST(test_mp_cond_acquire_refuses_the_holder_with_edeadlk)
{
    mp_cond *c = raw_cond();
    int first = mp_cond_acquire(c, -1);
    int again = mp_cond_acquire(c, -1), timed = mp_cond_acquire(c, 30),
        now = mp_cond_acquire(c, 0);
    if (first == 0)
        pthread_mutex_unlock(&c->lock);
    forget(c, sizeof *c);
    fl_expect_int(first, 0, "mp_cond_acquire(c, -1) of a free lock", "");
    ck_assert_msg(again == -EDEADLK && timed == -EDEADLK && now == -EAGAIN,
                  "the holder of c's lock called mp_cond_acquire again: "
                  "with -1 it returned %s, with 30 %s and with 0 %s; "
                  "expected -EDEADLK (-35), -EDEADLK and -EAGAIN (-11). "
                  "pthread_mutex_lock and pthread_mutex_clocklock RETURN "
                  "the error number (EDEADLK from an error-checking "
                  "mutex): return minus it, never it as it is.",
                  fl_ret(again), fl_ret(timed), fl_ret(now));
}

static int
kid_cond_acquire(void *obj, int arg)
{
    int r = mp_cond_acquire(obj, arg);
    if (r == 0)
        pthread_mutex_unlock(&((mp_cond *)obj)->lock);
    return r;
}

FL_TEST(test_mp_cond_acquire_for_ever_waits_for_the_release)
{
    mp_cond *c = raw_cond();
    raw_lock(&c->lock);
    struct kid k;
    kid_asleep(&k, kid_cond_acquire, c, -1, "mp_cond_acquire(c, -1)");
    pthread_mutex_unlock(&c->lock);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    forget(c, sizeof *c);
    ck_assert_msg(got && k.rep.value == 0,
                  "mp_cond_acquire(c, -1) slept while the test held the "
                  "lock; the test let go; the acquire then %s, expected 0",
                  said(&k, 2000));
}

static int
kid_jumped_cond_acquire(void *obj, int arg)
{
    fl_fault_reset();
    fl_clock_jump(-3600);
    kid_t0_us = fl_now_us();
    return mp_cond_acquire(obj, arg);
}

FL_TEST(test_mp_cond_acquire_keeps_its_timeout_when_the_wall_clock_jumps)
{
    mp_cond *c = raw_cond();
    raw_lock(&c->lock);
    struct kid k;
    kid_start(&k, kid_jumped_cond_acquire, c, JUMP_MS);
    int got = kid_wait(&k, 1000);
    kid_end(&k);
    pthread_mutex_unlock(&c->lock);
    forget(c, sizeof *c);
    ck_assert_msg(got && k.rep.value == -ETIMEDOUT &&
                      k.rep.us >= JUMP_MS * 1000 && k.rep.us < 1000000,
                  "with the wall clock set back an hour and the lock held "
                  "by the test, mp_cond_acquire(c, %d) %s; expected "
                  "-ETIMEDOUT after %d ms. pthread_mutex_timedlock reads "
                  "CLOCK_REALTIME: use pthread_mutex_clocklock with "
                  "CLOCK_MONOTONIC, and a deadline from that clock.",
                  JUMP_MS, said(&k, 1000), JUMP_MS);
}

FL_TEST(test_mp_cond_release_lets_go_and_refuses_a_caller_without_it)
{
    mp_cond *c = raw_cond();
    raw_lock(&c->lock);
    int r1 = mp_cond_release(c);
    int r2 = mp_cond_release(c);
    int free_now = pthread_mutex_trylock(&c->lock);
    if (free_now == 0)
        pthread_mutex_unlock(&c->lock);
    forget(c, sizeof *c);
    ck_assert_msg(r1 == 0 && free_now == 0,
                  "mp_cond_release with the lock held returned %s; expected "
                  "0 and the lock free",
                  fl_ret(r1));
    fl_expect_int(r2, -EPERM, "mp_cond_release without the lock",
                  "return minus what pthread_mutex_unlock returns");
}

/* ------------------------------------------------------- mp_cond_wait */

static int
kid_wait_unheld(void *obj, int arg)
{
    return mp_cond_wait(obj, arg);
}

// wait_for with a predicate that stays false: it has to wait, so it must
// report the missing lock too.
static int
kid_wait_for_unheld(void *obj, int arg)
{
    static int never;
    return mp_cond_wait_for(obj, flag_set, &never, arg);
}

FL_TEST(test_mp_cond_wait_refuses_a_caller_without_the_lock)
{
    mp_cond *c = raw_cond();
    struct kid k, f;
    kid_start(&k, kid_wait_unheld, c, 100);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    kid_start(&f, kid_wait_for_unheld, c, 100);
    int got_for = kid_wait(&f, 2000);
    kid_end(&f);
    struct kid z; // timeout 0 still lets go of the lock, or tries to
    kid_start(&z, kid_wait_unheld, c, 0);
    int got_0 = kid_wait(&z, 2000);
    kid_end(&z);
    forget(c, sizeof *c);
    ck_assert_msg(got && k.rep.value == -EPERM,
                  "mp_cond_wait(c, 100) without holding the lock %s; "
                  "expected -EPERM (-1) at once (Python: 'must acquire() "
                  "condition before using wait()'). The error-checking "
                  "mutex makes pthread_cond_timedwait say EPERM: pass it on.",
                  said(&k, 2000));
    ck_assert_msg(got_for && f.rep.value == -EPERM,
                  "mp_cond_wait_for(c, false, 100) without holding the lock "
                  "%s; expected -EPERM (-1): the predicate is false, so it "
                  "has to wait, and the wait said EPERM. Return 0 only for "
                  "ETIMEDOUT; pass any other error on.",
                  said(&f, 2000));
    ck_assert_msg(got_0 && z.rep.value == -EPERM,
                  "mp_cond_wait(c, 0) without holding the lock %s; expected "
                  "-EPERM (-1). A timeout of 0 is a deadline of now: it "
                  "still lets go of the lock and takes it back "
                  "(pthread_cond_timedwait), which says EPERM here; do not "
                  "return 0 before waiting.",
                  said(&z, 2000));
}

// In the kid: lock, wait, and whether the lock was held after (kid_extra
// 0 when the unlock that follows succeeds).
static int
kid_cond_wait(void *obj, int arg)
{
    mp_cond *c = obj;
    if (pthread_mutex_lock(&c->lock) != 0)
        return -1000;
    kid_t0_us = fl_now_us();
    int r = mp_cond_wait(c, arg);
    kid_extra = pthread_mutex_unlock(&c->lock);
    return r;
}

FL_TEST(test_mp_cond_wait_times_out_holding_the_lock_again)
{
    mp_cond *c = raw_cond();
    struct kid k;
    kid_start(&k, kid_cond_wait, c, 30);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    struct kid z;
    kid_start(&z, kid_cond_wait, c, 0);
    int now = kid_wait(&z, 2000);
    kid_end(&z);
    forget(c, sizeof *c);
    ck_assert_msg(got && k.rep.value == 0 && k.rep.us >= 30000 &&
                      k.rep.us < 600000,
                  "mp_cond_wait(c, 30), never notified, %s; expected 0 "
                  "after 30 ms (Python: False). %s",
                  said(&k, 3000), CLOCK_HINT);
    ck_assert_msg(k.rep.extra == 0,
                  "after mp_cond_wait timed out, the caller did not hold "
                  "the lock (unlock said %d): the wait takes it back",
                  k.rep.extra);
    ck_assert_msg(now && z.rep.value == 0 && z.rep.extra == 0,
                  "mp_cond_wait(c, 0), never notified, %s; expected 0 at "
                  "once, holding the lock again. A timeout of 0 only lets "
                  "go of the lock and takes it back (a deadline of now); "
                  "only -1 waits without a deadline.",
                  said(&z, 2000));
}

FL_TEST(test_mp_cond_wait_returns_1_when_notified)
{
    mp_cond *c = raw_cond();
    struct kid k;
    kid_asleep(&k, kid_cond_wait, c, -1, "mp_cond_wait(c, -1)");
    raw_lock(&c->lock);
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    forget(c, sizeof *c);
    ck_assert_msg(got && k.rep.value == 1 && k.rep.extra == 0,
                  "mp_cond_wait(c, -1) slept; the test signalled c->cond; "
                  "the wait %s (unlock afterwards said %d); expected 1, "
                  "with the lock held again",
                  said(&k, 2000), k.rep.extra);
}

/* --------------------------------------------------- notify, notify_all */

#define WAITERS 10 // (not 8: a notify_all written as notify(c, 8) must fail)

FL_TEST(test_mp_cond_notify_all_wakes_all_10_waiters)
{
    struct cstate st = {raw_cond(), page(sizeof(int))};
    struct kid k[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        kid_start(&k[i], kid_raw_cond_wait, &st, 0);
    // Seen asleep once is enough: one that had not begun its raw wait finds
    // the flag set and counts as woken; the others still catch a notify
    // that wakes one.
    for (int i = 0; i < WAITERS; i++)
        fl_proc_sleeps_again(k[i].pid, -1, 3000);
    raw_lock(&st.c->lock);
    *st.flag = 1;
    int r = mp_cond_notify_all(st.c);
    pthread_mutex_unlock(&st.c->lock);
    int woke = 0;
    long long end = fl_now_us() + (r == 0 ? 2000000 : 0);
    for (int i = 0; i < WAITERS; i++) {
        long long left = end - fl_now_us();
        woke += kid_wait(&k[i], left > 0 ? (int)(left / 1000) : 0);
    }
    if (woke < WAITERS)
        set_flag_and_broadcast(&st);
    for (int i = 0; i < WAITERS; i++) {
        kid_wait(&k[i], 2000);
        kid_end(&k[i]);
    }
    forget(st.c, sizeof *st.c);
    forget(st.flag, sizeof(int));
    ck_assert_msg(woke == WAITERS,
                  "%d processes slept on c->cond; mp_cond_notify_all "
                  "(returned %s) woke %d of them. %s",
                  WAITERS, fl_ret(r), woke,
                  woke == 1 ? "pthread_cond_signal wakes ONE waiter: "
                              "pthread_cond_broadcast wakes them all."
                            : "Use pthread_cond_broadcast.");
}

// A waiter that wakes once and leaves, flag or not.
static int
kid_wait_once(void *obj, int arg)
{
    (void)arg;
    mp_cond *c = obj;
    pthread_mutex_lock(&c->lock);
    struct timespec d = mono_after(5000);
    int r = pthread_cond_timedwait(&c->cond, &c->lock, &d);
    pthread_mutex_unlock(&c->lock);
    return r == 0 ? 1 : -r;
}

FL_TEST(test_mp_cond_notify_wakes_3_of_4_waiters)
{
    mp_cond *c = raw_cond();
    struct kid k[4];
    long slept[4];
    for (int i = 0; i < 4; i++) { // one at a time: each sleeps in the wait
        kid_start(&k[i], kid_wait_once, c, 0);
        char s = 'R';
        for (int tries = 0; tries < 3 && s != 'S' && s != 'Z' && s != 0;
             tries++) // 3 s each, under load
            s = fl_proc_settles(k[i].pid);
        slept[i] = fl_proc_sleeps(k[i].pid);
    }
    raw_lock(&c->lock);
    int r = mp_cond_notify(c, 3);
    // A waiter the notify woke is runnable before the notify returns (the
    // kernel's futex wake), or asleep once more, on the lock the test
    // holds; one still asleep, and not once more, was not woken.  Those
    // woken must then return, 2 s for them: no short time window decides.
    int awake[4];
    for (int i = 0; i < 4; i++)
        awake[i] = fl_proc_state(k[i].pid) != 'S' ||
                   fl_proc_sleeps(k[i].pid) != slept[i];
    pthread_mutex_unlock(&c->lock);
    int woke = 0;
    long long end = fl_now_us() + 2000000;
    for (int i = 0; i < 4; i++) {
        long long left = end - fl_now_us();
        woke += awake[i] && kid_wait(&k[i], left > 0 ? (int)(left / 1000) : 0);
    }
    raw_lock(&c->lock);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    for (int i = 0; i < 4; i++) {
        kid_wait(&k[i], 2000);
        kid_end(&k[i]);
    }
    forget(c, sizeof *c);
    ck_assert_msg(r == 0 && woke == 3,
                  "4 processes slept on c->cond; mp_cond_notify(c, 3) "
                  "returned %s and woke %d of them; expected 0 and 3: "
                  "pthread_cond_signal once for each of the n to wake, "
                  "all n times (return early only when one fails)%s",
                  fl_ret(r), woke, woke == 4 ? ", not a broadcast" : "");
}

/* ---------------------------------------------------- mp_cond_wait_for */

static int
kid_wait_for(void *obj, int timeout_ms)
{
    struct cstate *st = obj;
    if (pthread_mutex_lock(&st->c->lock) != 0)
        return -1000;
    kid_t0_us = fl_now_us();
    int r = mp_cond_wait_for(st->c, flag_set, st->flag, timeout_ms);
    kid_extra = pthread_mutex_unlock(&st->c->lock);
    return r;
}

static struct cstate
new_state(void)
{
    return (struct cstate){raw_cond(), page(sizeof(int))};
}

static void
end_state(struct cstate *st)
{
    forget(st->c, sizeof *st->c);
    forget(st->flag, sizeof(int));
}

// The state came true, and its notify went out, before the wait began.
static int
seven(void *arg)
{
    (void)arg;
    return 7; // true, and not 1
}

FL_TEST(test_mp_cond_wait_for_loses_no_wake_up_sent_before_it)
{
    // In this process: a predicate true at once, whose value is 7.
    mp_cond *c = raw_cond();
    pthread_mutex_lock(&c->lock);
    int r7 = mp_cond_wait_for(c, seven, NULL, 0);
    pthread_mutex_unlock(&c->lock);
    forget(c, sizeof *c);
    fl_expect_int(r7, 1,
                  "mp_cond_wait_for(c, pred, arg, 0) with a pred "
                  "that returns 7",
                  "any non-zero value of pred is true, and wait_for then "
                  "returns 1, as sync.h says, not pred's value");
    struct cstate st = new_state();
    set_flag_and_broadcast(&st); // nobody waits yet: the wake-up is gone
    struct kid k;
    kid_start(&k, kid_wait_for, &st, -1);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    end_state(&st);
    ck_assert_msg(got && k.rep.value == 1,
                  "the state was already true, and its notify already "
                  "sent, when mp_cond_wait_for(c, pred, arg, -1) began; it "
                  "%s; expected 1 at once. Test the predicate BEFORE the "
                  "first sleep: while (!pred(arg)) wait, not do ... while.",
                  said(&k, 2000));
}

FL_TEST(test_mp_cond_wait_for_sleeps_again_after_a_spurious_wake_up)
{
    struct cstate st = new_state();
    struct kid k;
    kid_asleep(&k, kid_wait_for, &st, 5000, "mp_cond_wait_for(..., 5000)");
    long slept = fl_proc_sleeps(k.pid);
    raw_lock(&st.c->lock);
    pthread_cond_broadcast(&st.c->cond); // a wake-up, the state still false
    pthread_mutex_unlock(&st.c->lock);
    char s = fl_proc_sleeps_again(k.pid, slept, 3000);
    int early = kid_wait(&k, 0);
    if (!early && s == 'S')
        set_flag_and_broadcast(&st);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    end_state(&st);
    ck_assert_msg(!early,
                  "the test woke mp_cond_wait_for(..., 5000) with a "
                  "broadcast and the predicate still false; it returned %s "
                  "after %.1f ms. A wake-up proves nothing: test the "
                  "predicate after every wake-up and sleep again while it "
                  "is false. while, not if.",
                  fl_ret(k.rep.value), ms(k.rep.us));
    ck_assert_msg(got && k.rep.value == 1,
                  "after a spurious wake-up the wait slept again, but when "
                  "the state came true it %s, expected 1",
                  said(&k, 3000));
}

FL_TEST(test_mp_cond_wait_for_keeps_its_deadline_through_wake_ups)
{
    struct cstate st = new_state();
    struct kid k;
    int t = kid_asleep_within(&k, kid_wait_for, &st, 200, 0,
                              "mp_cond_wait_for(..., %d)");
    struct timespec tick = {0, 1000000};
    long long end = fl_now_us() + t * 1000LL + 1000000; // 1 s past it
    long wakes = 0;
    while (!kid_wait(&k, 0) && fl_now_us() < end) {
        raw_lock(&st.c->lock);
        pthread_cond_broadcast(&st.c->cond);
        pthread_mutex_unlock(&st.c->lock);
        wakes++;
        nanosleep(&tick, NULL); // (pacing: a wake-up a ms, cheap)
    }
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    end_state(&st);
    int early = got && k.rep.us < t * 1000LL;
    ck_assert_msg(got && k.rep.value == 0 && !early &&
                      k.rep.us < t * 1000LL + 800000,
                  "the test woke mp_cond_wait_for(..., %d) %ld times, the "
                  "predicate always false; the wait %s, expected 0 after "
                  "%d ms. %s",
                  t, wakes, said(&k, 3000), t,
                  early ? "Sleep again after a wake-up: while, not if."
                        : "Take the deadline once, before the loop: taken "
                          "again after each wake-up, it keeps moving away.");
}

FL_TEST(
    test_mp_cond_wait_for_returns_1_when_the_state_comes_true_at_the_deadline)
{
    struct cstate st = new_state();
    struct kid k;
    int t = kid_asleep_within(&k, kid_wait_for, &st, 100, 0,
                              "mp_cond_wait_for(..., %d)");
    long slept = fl_proc_sleeps(k.pid);
    raw_lock(&st.c->lock);
    fl_proc_sleeps_again(k.pid, slept,
                         3000); // timed out, now waiting for the lock
    *st.flag = 1;
    pthread_mutex_unlock(&st.c->lock);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    end_state(&st);
    ck_assert_msg(got && k.rep.value == 1,
                  "mp_cond_wait_for(..., %d) timed out, and before it had "
                  "the lock back the state came true; it %s, expected 1. "
                  "After the last wait, test the predicate once more: its "
                  "value is the answer (Python returns it).",
                  t, said(&k, 3000));
}

static int
hold_wait_for(void *arg)
{
    struct cstate *st = arg;
    return mp_cond_wait_for(st->c, flag_set, st->flag, -1);
}

// From the storm's helper thread: the state made true.  A wait that
// returned at once still holds the lock in the other thread, so the lock
// is tried for a while only.
static void
release_state(void *arg)
{
    struct cstate *st = arg;
    struct timespec d = mono_after(200);
    int r = pthread_mutex_clocklock(&st->c->lock, CLOCK_MONOTONIC, &d);
    *st->flag = 1;
    pthread_cond_broadcast(&st->c->cond);
    if (r == 0)
        pthread_mutex_unlock(&st->c->lock);
}

static int
kid_hold_wait_for(void *obj, int arg)
{
    (void)arg;
    struct cstate *st = obj;
    pthread_mutex_lock(&st->c->lock);
    fl_storm_result res;
    fl_storm_hold(hold_wait_for, release_state, st, STORM_US, HOLD_MS, &res);
    pthread_mutex_unlock(&st->c->lock);
    kid_extra = res.early;
    return res.ret;
}

FL_TEST(test_mp_cond_wait_for_waits_for_ever_under_a_signal_storm)
{
    struct cstate st = new_state();
    struct kid k;
    kid_start(&k, kid_hold_wait_for, &st, 0);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    end_state(&st);
    ck_assert_msg(got && k.rep.value == 1 && !k.rep.extra,
                  "mp_cond_wait_for(..., -1), under a storm of signals, "
                  "with the state made true after %d ms: it %s%s; "
                  "expected 1 after %d ms. -1 means for ever: "
                  "pthread_cond_wait, no deadline.",
                  HOLD_MS, said(&k, 3000),
                  got && k.rep.extra ? " before the state was true" : "",
                  HOLD_MS);
}

static int
kid_jumped_wait_for(void *obj, int arg)
{
    fl_fault_reset();
    fl_clock_jump(-3600);
    return kid_wait_for(obj, arg);
}

FL_TEST(test_mp_cond_wait_for_keeps_its_timeout_when_the_wall_clock_jumps)
{
    struct cstate st = new_state();
    struct kid k;
    kid_start(&k, kid_jumped_wait_for, &st, JUMP_MS);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    end_state(&st);
    ck_assert_msg(got && k.rep.value == 0 && k.rep.us >= JUMP_MS * 1000 &&
                      k.rep.us < 1000000,
                  "with the wall clock set back an hour, "
                  "mp_cond_wait_for(..., %d) on a false predicate %s; "
                  "expected 0 after %d ms. %s",
                  JUMP_MS, said(&k, 3000), JUMP_MS, CLOCK_HINT);
}

// In a child: mp_cond_create(NULL), or 1000 if it left a page mapped.
static int
cond_create_null(void *arg)
{
    (void)arg;
    fl_fault_reset();
    int r = mp_cond_create(NULL);
    return fl_fault_calls("mmap") == fl_fault_calls("munmap") ? r : 1000;
}

FL_TEST(test_mp_cond_calls_reject_bad_arguments)
{
    int flag = 0, up = 1; // up: a pred already true, so -2 cannot hang
    mp_cond *c = raw_cond();
    const char *names[] = {
        "acquire(NULL, 0)",     "release(NULL)",
        "wait(NULL, 0)",        "wait_for(NULL, pred, 0)",
        "wait_for(c, NULL, 0)", "notify(NULL, 1)",
        "notify(c, -1)",        "notify_all(NULL)",
        "wait(c, -2)",          "wait_for(c, pred, -2) with pred true"};
    int got[] = {mp_cond_acquire(NULL, 0),
                 mp_cond_release(NULL),
                 mp_cond_wait(NULL, 0),
                 mp_cond_wait_for(NULL, flag_set, &flag, 0),
                 mp_cond_wait_for(c, NULL, &flag, 0),
                 mp_cond_notify(NULL, 1),
                 mp_cond_notify(c, -1),
                 mp_cond_notify_all(NULL),
                 mp_cond_wait(c, -2),
                 mp_cond_wait_for(c, flag_set, &up, -2)};
    int none = mp_cond_notify(c, 0);
    int bad = mp_cond_acquire(c, -2);
    forget(c, sizeof *c);
    fl_expect_int(bad, -EINVAL, "mp_cond_acquire(c, -2)",
                  "-1 means for ever, and below that is no timeout");
    fl_child res; // in a child: a create that writes through NULL crashes
    fl_run_in_child(cond_create_null, NULL, 2000, 0, &res);
    ck_assert_msg(res.returned,
                  "mp_cond_create(NULL) ended the process (%s): there is "
                  "nowhere to put the condition, so check cp first and "
                  "return -EINVAL",
                  res.exited ? "it exited" : fl_signame(res.status));
    ck_assert_msg(res.value != 1000,
                  "mp_cond_create(NULL) mapped a page and left it mapped: "
                  "check cp before mmap");
    fl_expect_int(res.value, -EINVAL, "mp_cond_create(NULL)", "check cp first");
    for (size_t i = 0; i < sizeof got / sizeof got[0]; i++)
        ck_assert_msg(got[i] == -EINVAL,
                      "mp_cond_%s returned %s, expected -22 (-EINVAL)",
                      names[i], fl_ret(got[i]));
    fl_expect_int(none, 0, "mp_cond_notify(c, 0)",
                  "n = 0 is a count, not an error: it wakes none. Refuse "
                  "only n < 0.");
}

/* ---------------------------------------------------- mp_barrier_create */

FL_TEST(test_mp_barrier_create_rejects_bad_arguments)
{
    mp_barrier *b = NULL;
    fl_fault_reset();
    expect_refused(mp_barrier_create(NULL, 2), "mp_barrier_create(NULL, 2)",
                   "check bp first");
    fl_fault_reset();
    expect_refused(mp_barrier_create(&b, 0), "mp_barrier_create(&b, 0)",
                   "a barrier needs at least 1 party");
    fl_fault_reset();
    expect_refused(mp_barrier_create(&b, -1), "mp_barrier_create(&b, -1)", "");
    ck_assert_msg(b == NULL, "mp_barrier_create failed but set *bp");
    // The limit itself: 1 party is the smallest barrier, not a bad one.
    int r = mp_barrier_create(&b, 1);
    int parties = r == 0 && b != NULL ? b->parties : -1;
    if (r == 0 && b != NULL)
        forget(b, sizeof *b);
    ck_assert_msg(r == 0 && parties == 1,
                  "mp_barrier_create(&b, 1) returned %s (parties %d); "
                  "expected 0 and 1: a Barrier(1) is valid (its one party "
                  "passes at once), refuse only parties below 1",
                  fl_ret(r), parties);
}

static int
kid_lock_and_die(void *obj, int arg)
{
    (void)arg;
    pthread_mutex_lock(obj);
    _exit(0); // dies holding it: the kernel marks it owner-dead
}

static int
lock_in_child(void *arg)
{
    int r = pthread_mutex_lock(arg);
    if (r == EOWNERDEAD)
        pthread_mutex_consistent(arg);
    return r;
}

FL_TEST(test_mp_barrier_create_makes_a_robust_shared_lock)
{
    mp_barrier *b = NULL;
    int r = mp_barrier_create(&b, 3);
    ck_assert_msg(r == 0 && b != NULL, "mp_barrier_create(&b, 3) returned %s",
                  fl_ret(r));
    // glibc's robust mutexes wake other processes even when private, so
    // no run shows PTHREAD_PROCESS_SHARED missing: ask what the attr said.
    int pshared = -1, robust = -1;
    fl_mutex_attrs_seen(&pshared, &robust);
    int fields = b->parties == 3 && b->count == 0 && b->broken == 0;
    struct kid k;
    kid_start(&k, kid_lock_and_die, &b->lock, 0);
    while (waitpid(k.pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(k.fd);
    fl_child res;
    fl_run_in_child(lock_in_child, &b->lock, 1000, 0, &res);
    forget(b, sizeof *b);
    ck_assert_msg(fields, "a new Barrier(3) must have parties 3, count 0 and "
                          "broken 0");
    ck_assert_msg(res.returned && res.value == EOWNERDEAD,
                  "a process took b->lock and died holding it; then "
                  "pthread_mutex_lock %s. %s",
                  res.timed_out ? "hung for 1 s" : "returned",
                  res.timed_out
                      ? "The mutex is not robust: "
                        "pthread_mutexattr_setrobust(PTHREAD_MUTEX_ROBUST), "
                        "so that the kernel hands it on with EOWNERDEAD. (Or "
                        "not shared: PTHREAD_PROCESS_SHARED, MAP_SHARED.)"
                      : "Expected EOWNERDEAD: make the mutex robust.");
    ck_assert_msg(pshared == PTHREAD_PROCESS_SHARED,
                  "mp_barrier_create initialised b->lock %s: processes "
                  "share it, so pthread_mutexattr_setpshared(&attr, "
                  "PTHREAD_PROCESS_SHARED), robust or not (POSIX leaves a "
                  "private mutex used by two processes undefined)",
                  pshared == -1 ? "with an attr that could not be read"
                                : "private");
}

FL_TEST(test_mp_barrier_create_makes_a_condition_timed_on_clock_monotonic)
{
    mp_barrier *b = NULL;
    int rc = mp_barrier_create(&b, 2);
    ck_assert_msg(rc == 0 && b != NULL, "mp_barrier_create(&b, 2) returned %s",
                  fl_ret(rc));
    struct timed t = {&b->lock, &b->cond, page(sizeof(int))};
    struct kid k;
    int got = timed_wait_in_a_kid(&t, &k);
    forget(b, sizeof *b);
    forget(t.flag, sizeof(int));
    expect_timed_on_monotonic("mp_barrier_create", &k, got);
}

/* ------------------------------------------------------ mp_barrier_wait */

static int
kid_barrier_wait(void *obj, int timeout_ms)
{
    return mp_barrier_wait(obj, timeout_ms);
}

FL_TEST(test_mp_barrier_wait_with_1_party_passes_at_once)
{
    mp_barrier *b = raw_barrier(1);
    struct kid k;
    kid_start(&k, kid_barrier_wait, b, 1000);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    int gen = (int)b->generation;
    forget(b, sizeof *b);
    ck_assert_msg(got && k.rep.value == 0 && k.rep.us < 500000,
                  "mp_barrier_wait(b, 1000) on a Barrier(1) %s; expected 0 "
                  "at once: the caller is the last party (index parties - "
                  "1 = 0)",
                  said(&k, 2000));
    fl_expect_int(gen, 1, "b->generation after one trip", "");
}

// Alone at a Barrier(2) with a timeout of 0: this party is not the last,
// so its deadline is now; it times out at once and breaks the barrier.
FL_TEST(test_mp_barrier_wait_with_timeout_0_gives_up_at_once)
{
    mp_barrier *b = raw_barrier(2);
    struct kid k;
    kid_start(&k, kid_barrier_wait, b, 0);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    int broken = b->broken;
    forget(b, sizeof *b);
    ck_assert_msg(got && k.rep.value == -ETIMEDOUT && broken,
                  "mp_barrier_wait(b, 0) alone on a Barrier(2) %s, broken "
                  "%d; expected -ETIMEDOUT at once and a broken barrier. A "
                  "timeout of 0 passes only the last party: it is a "
                  "deadline of now; only -1 waits without a deadline.",
                  said(&k, 2000), broken);
    // The last party with a timeout of 0 has nobody to wait for: it trips.
    b = raw_barrier(2);
    struct kid w, l;
    kid_asleep(&w, kid_barrier_wait, b, -1, "mp_barrier_wait(b, -1)");
    kid_start(&l, kid_barrier_wait, b, 0);
    int got_last = kid_wait(&l, 2000);
    kid_end(&l);
    int got_first = kid_wait(&w, 2000);
    kid_end(&w);
    forget(b, sizeof *b);
    ck_assert_msg(got_last && l.rep.value == 1,
                  "mp_barrier_wait(b, 0) as the second party of a "
                  "Barrier(2), the first one waiting, %s; expected 1 at "
                  "once: the last party trips the barrier whatever its "
                  "timeout (0 gives up only when it would have to wait).",
                  said(&l, 2000));
    ck_assert_msg(got_first && w.rep.value == 0,
                  "the first party of a Barrier(2), waiting with -1, %s "
                  "once the second came with timeout 0; expected 0",
                  said(&w, 2000));
}

// Collect n kids' results, sorted; a kid that never reports gives -999.
static void
collect(struct kid *k, int n, int *out, int limit_ms)
{
    long long end = fl_now_us() + limit_ms * 1000LL;
    for (int i = 0; i < n; i++) {
        long long left = end - fl_now_us();
        out[i] = kid_wait(&k[i], left > 0 ? (int)(left / 1000) : 0)
                     ? k[i].rep.value
                     : -999;
    }
    for (int i = 0; i < n; i++)
        kid_end(&k[i]);
    for (int i = 1; i < n; i++) // insertion sort
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
}

FL_TEST(test_mp_barrier_wait_gives_3_parties_the_indices_0_1_2)
{
    mp_barrier *b = raw_barrier(3);
    struct kid k[3];
    int got[3];
    for (int i = 0; i < 3; i++)
        kid_start(&k[i], kid_barrier_wait, b, 3000);
    collect(k, 3, got, 4000);
    forget(b, sizeof *b);
    ck_assert_msg(got[0] == 0 && got[1] == 1 && got[2] == 2,
                  "3 processes called mp_barrier_wait on a Barrier(3); they "
                  "got %s, %s, %s (sorted; -999: never returned); expected 0, "
                  "1, 2. %s",
                  fl_ret(got[0]), fl_ret(got[1]), fl_ret(got[2]),
                  got[2] == 3 ? "The index is count before the increment: "
                                "the first to arrive gets 0."
                  : got[0] == -999
                      ? "The last to arrive (index parties - 1) must wake "
                        "the others: broadcast."
                      : "");
}

// Two parties at a Barrier(2) that mp_barrier_create made (the other
// barrier tests make theirs by hand): indices 0 and 1.
FL_TEST(test_mp_barrier_create_makes_a_barrier_two_parties_pass)
{
    mp_barrier *b = NULL;
    int r = mp_barrier_create(&b, 2);
    fl_expect_int(r, 0, "mp_barrier_create(&b, 2)", "");
    struct kid k[2];
    int got[2];
    kid_start(&k[0], kid_barrier_wait, b, 2000);
    kid_start(&k[1], kid_barrier_wait, b, 2000);
    collect(k, 2, got, 3000);
    forget(b, sizeof *b);
    ck_assert_msg(got[0] == 0 && got[1] == 1,
                  "2 processes called mp_barrier_wait(b, 2000) on the "
                  "Barrier(2) that mp_barrier_create made; they got %s and "
                  "%s, expected 0 and 1. Start every field as the struct "
                  "says: count 0, generation 0, not broken, and reset_from "
                  "a generation that is not the first ((unsigned)-1): no "
                  "reset has ended generation 0.",
                  fl_ret(got[0]), fl_ret(got[1]));
}

FL_TEST(test_mp_barrier_wait_holds_2_of_3_parties_until_the_timeout)
{
    // One party waits for ever, the other 30 ms: the one that gives up
    // breaks the barrier and must wake the other, or it sleeps for ever.
    mp_barrier *b = raw_barrier(3);
    struct kid k[2];
    int got[2];
    long long t0 = fl_now_us(); // before the first wait can begin
    kid_start(&k[0], kid_barrier_wait, b, -1);
    kid_start(&k[1], kid_barrier_wait, b, 30);
    collect(k, 2, got, 1000); // (30 ms, then a wake-up)
    long long took = fl_now_us() - t0;
    int broken = b->broken;
    forget(b, sizeof *b); // (got sorted: -999, still asleep, first)
    ck_assert_msg(got[0] == -ETIMEDOUT && got[1] == -EPIPE && broken &&
                      took >= 30000,
                  "2 processes called mp_barrier_wait on a Barrier(3), one "
                  "with timeout -1, one with 30; they got %s and %s (-999: "
                  "still asleep) after %.0f ms, broken %d; expected "
                  "-ETIMEDOUT for the one that gives up, -EPIPE for the "
                  "other (the barrier it broke), after 30 ms, and a broken "
                  "barrier. %s",
                  fl_ret(got[0]), fl_ret(got[1]), ms(took), broken,
                  got[1] >= 0 ? "Only parties callers make it trip."
                  : got[0] == -999 && broken
                      ? "The party that gives up must wake the others as "
                        "it breaks the barrier (break_barrier: broken = 1, "
                        "then broadcast), or they sleep on."
                      : "A party that times out breaks the barrier; one "
                        "that wakes to find it broken says -EPIPE.");
}

// A wake-up that ends nothing (POSIX allows them; here the test
// broadcasts on the barrier's condition every ms, the generation
// unchanged) must not move the deadline: it is taken once, before the
// loop.
FL_TEST(test_mp_barrier_wait_keeps_its_deadline_through_wake_ups)
{
    mp_barrier *b = raw_barrier(2);
    struct kid k;
    int t = kid_asleep_within(&k, kid_barrier_wait, b, 150, -ETIMEDOUT,
                              "mp_barrier_wait(b, %d)");
    struct timespec tick = {0, 1000000};
    long long end = fl_now_us() + t * 1000LL + 600000; // 600 ms past it
    long wakes = 0;
    while (!kid_wait(&k, 0) && fl_now_us() < end) {
        raw_lock(&b->lock);
        pthread_cond_broadcast(&b->cond);
        pthread_mutex_unlock(&b->lock);
        wakes++;
        nanosleep(&tick, NULL); // (pacing: a wake-up a ms, cheap)
    }
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    forget(b, sizeof *b);
    int early = got && k.rep.us < t * 1000LL;
    ck_assert_msg(got && k.rep.value == -ETIMEDOUT && !early &&
                      k.rep.us < t * 1000LL + 450000,
                  "the test woke a party in mp_barrier_wait(b, %d) %ld "
                  "times on a Barrier(2), the generation unchanged; the "
                  "wait %s, expected -ETIMEDOUT after %d ms. %s",
                  t, wakes, said(&k, 2000), t,
                  early ? "Sleep again after a wake-up that ends nothing: "
                          "while, not if."
                        : "Take the deadline once, before the loop: taken "
                          "again after each wake-up, it keeps moving away.");
}

// Break the barrier as abort does, with raw calls.
static void
raw_abort(mp_barrier *b)
{
    raw_lock(&b->lock);
    b->broken = 1;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

FL_TEST(test_mp_barrier_wait_lets_3_of_4_parties_pass)
{
    mp_barrier *b = raw_barrier(3);
    struct kid k[4];
    for (int i = 0; i < 4; i++)
        kid_start(&k[i], kid_barrier_wait, b, -1);
    int passed = kids_wait(k, 4, 3, 3000), idx[3] = {-1, -1, -1}, n = 0;
    int fourth = -1;
    for (int i = 0; i < 4; i++)
        if (!k[i].reported)
            fourth = i;
        else if (n < 3)
            idx[n++] = k[i].rep.value;
    char s = fourth >= 0 ? fl_proc_settles(k[fourth].pid) : 0;
    raw_abort(b);
    int leftover =
        fourth >= 0 && kid_wait(&k[fourth], 2000) ? k[fourth].rep.value : -999;
    for (int i = 0; i < 4; i++)
        kid_end(&k[i]);
    forget(b, sizeof *b);
    int sum = idx[0] + idx[1] + idx[2];
    int ok = passed == 3 && sum == 3 && idx[0] != idx[1] && idx[1] != idx[2] &&
             idx[0] != idx[2] && idx[0] >= 0 && idx[1] >= 0 && idx[2] >= 0;
    char shown[96] = "";
    for (int i = 0; i < n; i++)
        snprintf(shown + strlen(shown), sizeof shown - strlen(shown), "%s%s",
                 i ? ", " : "", fl_ret(idx[i]));
    ck_assert_msg(ok && fourth >= 0 && s == 'S',
                  "4 processes called mp_barrier_wait(b, -1) on a "
                  "Barrier(3): %d returned (%s%s) and the 4th %s; "
                  "expected 3 to pass with 0, 1, 2 and the 4th to sleep, "
                  "the first of the next generation%s",
                  passed, n ? "indices " : "none", shown,
                  fourth < 0 ? "returned too" : "stayed",
                  passed < 3 && fourth >= 0
                      ? ". Parties the 3rd arrival should have released "
                        "slept on: did the last party to arrive wake only "
                        "one waiter (pthread_cond_signal) instead of all of "
                        "them (pthread_cond_broadcast)? Or does a woken "
                        "party miss that its generation ended?"
                      : "");
    ck_assert_msg(leftover == -EPIPE,
                  "the 4th party slept; the test broke the barrier (broken "
                  "= 1, broadcast); it then returned %s, expected -EPIPE",
                  fl_ret(leftover));
}

static int
kid_rounds(void *obj, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        int r = mp_barrier_wait(obj, 2000);
        if (r < 0) {
            kid_extra = i;
            return r;
        }
    }
    kid_extra = rounds;
    return 0;
}

FL_TEST(test_mp_barrier_wait_can_be_used_again_and_again)
{
    mp_barrier *b = raw_barrier(2);
    struct kid k[2];
    for (int i = 0; i < 2; i++)
        kid_start(&k[i], kid_rounds, b, 5);
    int got[2];
    collect(k, 2, got, 4000);
    unsigned gen = b->generation;
    forget(b, sizeof *b);
    ck_assert_msg(got[0] == 0 && got[1] == 0 && gen == 5,
                  "2 processes each called mp_barrier_wait 5 times on a "
                  "Barrier(2); one finished with %s, the other %s (after "
                  "%d and %d rounds), generation %u; expected both 0 after "
                  "5 rounds, generation 5. The last party of a generation "
                  "sets count back to 0 and starts the next generation: "
                  "waiters wait for the generation to change, not for a "
                  "count.",
                  fl_ret(got[0]), fl_ret(got[1]), k[0].rep.extra,
                  k[1].rep.extra, gen);
}

FL_TEST(test_mp_barrier_wait_timeout_breaks_the_barrier_for_later_parties)
{
    mp_barrier *b = raw_barrier(2);
    struct kid k;
    kid_start(&k, kid_barrier_wait, b, 30);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    int broken = b->broken;
    struct kid later;
    kid_start(&later, kid_barrier_wait, b, 1000);
    int got2 = kid_wait(&later, 2000);
    kid_end(&later);
    int held = pthread_mutex_trylock(&b->lock); // 0: free; EOWNERDEAD: kept
    forget(b, sizeof *b);
    ck_assert_msg(got && k.rep.value == -ETIMEDOUT && k.rep.us >= 30000 &&
                      broken,
                  "mp_barrier_wait(b, 30), alone at a Barrier(2), %s, and "
                  "left broken = %d; expected -ETIMEDOUT after 30 ms and a "
                  "broken barrier (Python: BrokenBarrierError). %s",
                  said(&k, 2000), broken, CLOCK_HINT);
    ck_assert_msg(got2 && later.rep.value == -EPIPE && later.rep.us < 500000,
                  "after a party timed out, mp_barrier_wait(b, 1000) %s; "
                  "expected -EPIPE at once: a broken barrier stays broken "
                  "until reset",
                  said(&later, 2000));
    ck_assert_msg(held == 0,
                  "mp_barrier_wait returned -EPIPE on a broken barrier and "
                  "its process ended still holding b->lock (the test's "
                  "pthread_mutex_trylock said %s, expected 0): every later "
                  "call on the barrier finds a dead owner or waits for ever. "
                  "Unlock on every way out of mp_barrier_wait, the early "
                  "-EPIPE one too.",
                  fl_ret(-held));
    // A timeout and a break at the same instant: the party's timed wait
    // ends with ETIMEDOUT on a barrier that broke meanwhile.  The test
    // breaks it under the lock while the party sleeps, waking nobody, as
    // an abort landing at the deadline would; the party can only look
    // once it has the lock back.  If the party was not in its wait yet,
    // or timed out first (it broke the barrier itself), again with a
    // longer timeout.
    b = raw_barrier(2);
    int t = 50, raced = 1;
    for (; raced && t <= 3200; t *= 2) {
        kid_start(&k, kid_barrier_wait, b, t);
        fl_proc_sleeps_again(k.pid, -1, 3000);
        raw_lock(&b->lock);
        raced = b->broken || b->count != 1;
        b->broken = 1;
        pthread_mutex_unlock(&b->lock);
        got = kid_wait(&k, t + 2000);
        kid_end(&k);
        b->count = 0;
        b->broken = 0;
    }
    forget(b, sizeof *b);
    ck_assert_msg(raced || (got && k.rep.value == -EPIPE),
                  "mp_barrier_wait(b, %d) alone at a Barrier(2), whose wait "
                  "timed out on a barrier that broke meanwhile (the test set "
                  "broken under the lock while it slept, as an abort at the "
                  "deadline would), %s; expected -EPIPE. Once the wait "
                  "ends, look at broken before ETIMEDOUT: every party of a "
                  "broken barrier gets -EPIPE, and a timeout breaks only a "
                  "barrier not broken yet",
                  t / 2, said(&k, t / 2 + 2000));
}

static int
kid_jumped_barrier(void *obj, int arg)
{
    fl_fault_reset();
    fl_clock_jump(-3600);
    kid_t0_us = fl_now_us();
    return mp_barrier_wait(obj, arg);
}

FL_TEST(test_mp_barrier_wait_keeps_its_timeout_when_the_wall_clock_jumps)
{
    mp_barrier *b = raw_barrier(2);
    struct kid k;
    kid_start(&k, kid_jumped_barrier, b, JUMP_MS);
    int got = kid_wait(&k, 3000);
    kid_end(&k);
    forget(b, sizeof *b);
    ck_assert_msg(got && k.rep.value == -ETIMEDOUT &&
                      k.rep.us >= JUMP_MS * 1000 && k.rep.us < 1000000,
                  "with the wall clock set back an hour, mp_barrier_wait(b, "
                  "%d) alone at a Barrier(2) %s; expected -ETIMEDOUT after "
                  "%d ms. %s",
                  JUMP_MS, said(&k, 3000), JUMP_MS, CLOCK_HINT);
}

// The test plays the first party: it has arrived (count 1) and holds the
// lock, about to sleep.  The last party must wait for the lock, so its
// trip lands after the test sleeps.
FL_TEST(test_mp_barrier_wait_trips_under_the_lock)
{
    mp_barrier *b = raw_barrier(2);
    raw_lock(&b->lock);
    b->count = 1;
    struct kid k;
    kid_start(&k, kid_barrier_wait, b, 2000);
    fl_proc_settles(k.pid); // blocked on the lock, or done without it
    struct timespec d = mono_after(1000);
    int r = 0;
    if (kid_wait(&k, 0) && k.rep.value < 0) // it failed: nothing to wait for
        r = EINVAL;
    while (b->generation == 0 && r == 0) // no look before the first sleep
        r = pthread_cond_timedwait(&b->cond, &b->lock, &d);
    pthread_mutex_unlock(&b->lock);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    forget(b, sizeof *b);
    ck_assert_msg(got && k.rep.value == 1,
                  "the last party's mp_barrier_wait %s; expected 1",
                  said(&k, 2000));
    ck_assert_msg(r != ETIMEDOUT,
                  "the test held b->lock as a first party about to sleep; "
                  "the last party tripped the barrier without waiting for "
                  "the lock, and its broadcast came before anyone slept: "
                  "a lost wake-up. Change count and generation, and "
                  "broadcast, only while holding b->lock.");
    // Then the barrier moves on while a party waits for the lock: a
    // party arrives (count 1), so that the waiting one is the last (it
    // trips: 1); or a generation ends (generation 1, count 0), so that it
    // is the first of the next (it waits, and times out).  What it saw
    // before taking the lock is out of date.
    static const struct {
        int count, want;
        unsigned gen;
    } moves[2] = {{1, 1, 0}, {0, -ETIMEDOUT, 1}};
    for (int i = 0; i < 2; i++) {
        b = raw_barrier(2);
        raw_lock(&b->lock);
        kid_start(&k, kid_barrier_wait, b, 100);
        fl_proc_settles(k.pid); // blocked on the lock
        b->count = moves[i].count;
        b->generation = moves[i].gen;
        pthread_mutex_unlock(&b->lock);
        got = kid_wait(&k, 2000);
        kid_end(&k);
        forget(b, sizeof *b);
        ck_assert_msg(got && k.rep.value == moves[i].want,
                      "mp_barrier_wait(b, 100) of a 2-party barrier waited "
                      "for b->lock while %s; it then %s; expected %s. Look "
                      "at count and generation once you hold the lock: what "
                      "you read before it is out of date.",
                      i == 0 ? "a party arrived (count 0 to 1): it was the "
                               "last"
                             : "a generation ended (generation 0 to 1, count "
                               "0): it was the first of the next",
                      said(&k, 2000), fl_ret(moves[i].want));
    }
}

FL_TEST(test_mp_barrier_wait_is_broken_by_a_party_that_died_holding_the_lock)
{
    mp_barrier *b = raw_barrier(3);
    struct kid dead;
    kid_start(&dead, kid_lock_and_die, &b->lock, 0);
    while (waitpid(dead.pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(dead.fd);
    struct kid k;
    kid_start(&k, kid_barrier_wait, b, 1000);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    int broken = b->broken;
    int usable = got ? pthread_mutex_trylock(&b->lock) : 0;
    if (usable == 0 && got)
        pthread_mutex_unlock(&b->lock);
    forget(b, sizeof *b);
    ck_assert_msg(got && k.rep.value == -EPIPE && k.rep.us < 500000 && broken,
                  "a party died holding b->lock; then mp_barrier_wait(b, "
                  "1000) %s and left broken = %d; expected -EPIPE at once "
                  "and a broken barrier. %s",
                  said(&k, 2000), broken,
                  !got ? "It hung on the lock."
                  : k.rep.value == -EOWNERDEAD
                      ? "EOWNERDEAD means you now hold the lock of a party "
                        "that died: pthread_mutex_consistent, break the "
                        "barrier, carry on."
                      : "The party that died will never arrive: break the "
                        "barrier when the lock says EOWNERDEAD.");
    ck_assert_msg(usable == 0,
                  "a party died holding b->lock; the next mp_barrier_wait "
                  "got it with EOWNERDEAD, broke the barrier and let go; "
                  "then pthread_mutex_trylock on b->lock said %s, expected "
                  "0. Call pthread_mutex_consistent before unlocking a lock "
                  "that came back EOWNERDEAD: unlocked without it, the lock "
                  "is unusable for ever (ENOTRECOVERABLE), and so is the "
                  "barrier, even after a reset.",
                  fl_ret(-usable));
    // Then the party that died was the first of two: the next one is the
    // last, and the lock it takes has just broken the barrier.
    b = raw_barrier(2);
    b->count = 1;
    kid_start(&dead, kid_lock_and_die, &b->lock, 0);
    while (waitpid(dead.pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(dead.fd);
    kid_start(&k, kid_barrier_wait, b, 1000);
    got = kid_wait(&k, 2000);
    kid_end(&k);
    unsigned gen = b->generation;
    forget(b, sizeof *b);
    ck_assert_msg(got && k.rep.value == -EPIPE && gen == 0,
                  "the first party of a 2-party barrier arrived, then died "
                  "holding b->lock; the last party's mp_barrier_wait(b, "
                  "1000) %s and left the generation at %u; expected -EPIPE "
                  "and 0. Look at broken after taking the lock: the "
                  "EOWNERDEAD it came back with has just broken the "
                  "barrier, which must not trip.",
                  said(&k, 2000), gen);
}

FL_TEST(test_mp_barrier_wait_wakes_the_sleepers_when_a_party_died)
{
    mp_barrier *b = raw_barrier(3);
    struct kid sleeper, dead, next;
    kid_asleep(&sleeper, kid_barrier_wait, b, -1, "mp_barrier_wait(b, -1)");
    kid_start(&dead, kid_lock_and_die, &b->lock, 0);
    while (waitpid(dead.pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(dead.fd);
    kid_start(&next, kid_barrier_wait, b, 1000);
    int got_next = kid_wait(&next, 2000);
    int got = kid_wait(&sleeper, 2000);
    kid_end(&next);
    kid_end(&sleeper);
    forget(b, sizeof *b);
    ck_assert_msg(got_next && next.rep.value == -EPIPE,
                  "after a party died holding b->lock, the next "
                  "mp_barrier_wait(b, 1000) %s; expected -EPIPE",
                  said(&next, 2000));
    ck_assert_msg(got && sleeper.rep.value == -EPIPE,
                  "a party slept in mp_barrier_wait(b, -1) when another "
                  "died holding the lock; the next party found it dead; "
                  "the sleeper %s, expected -EPIPE: breaking the barrier "
                  "broadcasts, so that every waiter finds out",
                  said(&sleeper, 2000));
}

static int
kid_broadcast_and_die(void *obj, int arg)
{
    (void)arg;
    mp_barrier *b = obj;
    pthread_mutex_lock(&b->lock);
    pthread_cond_broadcast(&b->cond);
    _exit(0); // the sleepers it woke get the lock back EOWNERDEAD
}

// The sleeper is woken while another process holds the lock, which then
// dies: pthread_cond_wait takes the lock back with EOWNERDEAD.
FL_TEST(test_mp_barrier_wait_is_broken_when_its_wait_returns_eownerdead)
{
    mp_barrier *b = raw_barrier(3);
    struct kid sleeper, dead;
    kid_asleep(&sleeper, kid_barrier_wait, b, -1, "mp_barrier_wait(b, -1)");
    kid_start(&dead, kid_broadcast_and_die, b, 0);
    while (waitpid(dead.pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(dead.fd);
    int got = kid_wait(&sleeper, 2000);
    kid_end(&sleeper);
    int broken = b->broken;
    int usable = got ? pthread_mutex_trylock(&b->lock) : 0;
    forget(b, sizeof *b);
    ck_assert_msg(got && sleeper.rep.value == -EPIPE && broken && usable == 0,
                  "a party slept in mp_barrier_wait(b, -1); another process "
                  "took b->lock, broadcast and died holding it, so the "
                  "sleeper's pthread_cond_wait took the lock back with "
                  "EOWNERDEAD. The sleeper %s, left broken = %d and the "
                  "lock %s; expected -EPIPE, a broken barrier and a usable "
                  "lock. The result of pthread_cond_wait and "
                  "pthread_cond_timedwait needs the same EOWNERDEAD check "
                  "as pthread_mutex_lock's: pthread_mutex_consistent, then "
                  "break the barrier.",
                  said(&sleeper, 2000), broken,
                  usable == 0 ? "usable" : fl_ret(-usable));
}

/* ------------------------------------------ abort, reset, broken, null */

FL_TEST(test_mp_barrier_abort_wakes_every_waiter_with_epipe)
{
    mp_barrier *b = raw_barrier(3);
    struct kid k[2];
    kid_asleep(&k[0], kid_barrier_wait, b, -1, "mp_barrier_wait(b, -1)");
    kid_asleep(&k[1], kid_barrier_wait, b, -1, "mp_barrier_wait(b, -1)");
    int r = mp_barrier_abort(b);
    int got[2];
    collect(k, 2, got, 2000);
    int broken = b->broken;
    forget(b, sizeof *b);
    ck_assert_msg(r == 0 && got[0] == -EPIPE && got[1] == -EPIPE && broken,
                  "2 parties slept at a Barrier(3); mp_barrier_abort "
                  "returned %s; the parties got %s and %s (-999: still "
                  "asleep), broken = %d; expected 0, -EPIPE twice, and "
                  "broken: set broken under the lock, then broadcast",
                  fl_ret(r), fl_ret(got[0]), fl_ret(got[1]), broken);
}

FL_TEST(test_mp_barrier_reset_makes_a_broken_barrier_usable)
{
    mp_barrier *b = raw_barrier(2);
    b->broken = 1;
    b->count = 1; // a party that left when it broke
    int r = mp_barrier_reset(b);
    int broken = b->broken, count = b->count;
    struct kid k[2];
    int got[2];
    kid_start(&k[0], kid_barrier_wait, b, 2000);
    kid_start(&k[1], kid_barrier_wait, b, 2000);
    collect(k, 2, got, 3000);
    forget(b, sizeof *b);
    ck_assert_msg(r == 0 && broken == 0 && count == 0,
                  "mp_barrier_reset of a broken barrier returned %s and "
                  "left broken = %d, count = %d; expected 0, 0, 0",
                  fl_ret(r), broken, count);
    ck_assert_msg(got[0] == 0 && got[1] == 1,
                  "after the reset, 2 parties at the Barrier(2) got %s and "
                  "%s; expected 0 and 1",
                  fl_ret(got[0]), fl_ret(got[1]));
}

FL_TEST(test_mp_barrier_reset_sends_waiting_parties_away_with_epipe)
{
    mp_barrier *b = raw_barrier(3);
    struct kid k[2];
    kid_asleep(&k[0], kid_barrier_wait, b, -1, "mp_barrier_wait(b, -1)");
    kid_asleep(&k[1], kid_barrier_wait, b, -1, "mp_barrier_wait(b, -1)");
    int r = mp_barrier_reset(b);
    int got[2];
    collect(k, 2, got, 1000); // (both were woken: each is a ms away)
    int broken = b->broken, count = b->count;
    forget(b, sizeof *b);
    ck_assert_msg(r == 0 && got[0] == -EPIPE && got[1] == -EPIPE,
                  "2 parties slept at a Barrier(3); mp_barrier_reset "
                  "returned %s; the parties got %s and %s (-999: still "
                  "asleep); expected 0 and -EPIPE for each (Python: "
                  "BrokenBarrierError): end their generation "
                  "(reset_from = generation++), then broadcast: signal "
                  "wakes one of them",
                  fl_ret(r), fl_ret(got[0]), fl_ret(got[1]));
    ck_assert_msg(broken == 0 && count == 0,
                  "after the reset, broken = %d and count = %d; expected "
                  "0 and 0: the barrier is empty and usable",
                  broken, count);
}

static int
kid_abort(void *obj, int arg)
{
    (void)arg;
    return mp_barrier_abort(obj);
}

static int
kid_reset(void *obj, int arg)
{
    (void)arg;
    return mp_barrier_reset(obj);
}

static int
kid_broken(void *obj, int arg)
{
    (void)arg;
    return mp_barrier_broken(obj);
}

// In a kid: stop right after the first unlock, in an abort (arg 0) or a
// reset (arg 1).
static int
kid_abort_or_reset_then_stop(void *obj, int arg)
{
    fl_fault_reset();
    fl_fault_stop_after("pthread_mutex_unlock", 1);
    return arg == 0 ? mp_barrier_abort(obj) : mp_barrier_reset(obj);
}

// The test holds b->lock, as a party that has looked at the barrier and
// is about to sleep: an abort, a reset or a look at broken called
// meanwhile must each block on the lock until the test lets go.  One that
// does not can fall between that look and that sleep, and be lost.
FL_TEST(test_mp_barrier_abort_reset_and_broken_wait_for_the_lock)
{
    mp_barrier *b = raw_barrier(2);
    static const kid_fn fns[] = {kid_abort, kid_reset, kid_broken};
    static const char *const names[] = {"mp_barrier_abort", "mp_barrier_reset",
                                        "mp_barrier_broken"};
    int early[3];
    for (int i = 0; i < 3; i++) {
        raw_lock(&b->lock);
        struct kid k;
        kid_start(&k, fns[i], b, 0);
        fl_proc_settles(k.pid); // blocked on the lock, or done
        early[i] = kid_wait(&k, 0);
        pthread_mutex_unlock(&b->lock);
        kid_wait(&k, 2000);
        kid_end(&k);
        if (early[i]) {
            forget(b, sizeof *b);
            ck_abort_msg("the test held b->lock, as a party that has "
                         "looked at the barrier and is about to sleep; %s, "
                         "called meanwhile in a child, returned %s without "
                         "waiting for the lock. Change or read the "
                         "barrier only under b->lock (lock_barrier), or a "
                         "break made between a party's look and its sleep "
                         "is lost.",
                         names[i], fl_ret(k.rep.value));
        }
    }
    forget(b, sizeof *b);
    // A party arrives while a reset waits for the lock: the reset, once
    // in, must see it waiting and end its generation.  A look at count
    // taken before the lock saw nobody.
    b = raw_barrier(2);
    raw_lock(&b->lock);
    struct kid rk;
    kid_start(&rk, kid_reset, b, 0);
    fl_proc_settles(rk.pid); // blocked on the lock
    b->count = 1;            // the test, a party about to sleep
    pthread_mutex_unlock(&b->lock);
    int rgot = kid_wait(&rk, 2000);
    kid_end(&rk);
    int left = b->count;
    unsigned rgen = b->generation, from = b->reset_from;
    forget(b, sizeof *b);
    ck_assert_msg(rgot && rk.rep.value == 0 && rgen == 1 && from == 0 &&
                      left == 0,
                  "a party arrived (count 1) while mp_barrier_reset waited "
                  "for b->lock; the reset %s and left generation %u, "
                  "reset_from %u, count %d; expected 0, then 1, 0 and 0. "
                  "Look at count and broken after taking the lock: a look "
                  "before it is out of date once the lock is yours.",
                  said(&rk, 2000), rgen, from, left);
    // The other half: what they change, they change before letting go.
    // A kid stops itself right after its first unlock; by then the abort
    // must have broken the barrier, and the reset (one party waiting)
    // ended its generation and emptied it.  Written after the unlock, the
    // change can fall between a party's look and its sleep.
    for (int i = 0; i < 2; i++) {
        b = raw_barrier(2);
        b->count = 1; // one party waits in generation 0
        struct kid k;
        kid_start(&k, kid_abort_or_reset_then_stop, b, i);
        int stopped = until_stopped(k.pid);
        int broken = b->broken, count = b->count;
        unsigned gen = b->generation;
        kill(k.pid, SIGCONT);
        int got = kid_wait(&k, 2000);
        kid_end(&k);
        forget(b, sizeof *b);
        int ok = i == 0 ? broken == 1 : count == 0 && gen == 1;
        ck_assert_msg(stopped && ok && got && k.rep.value == 0,
                      "%s was stopped right after it let go of b->lock "
                      "(%s); then broken was %d, count %d, generation %u; "
                      "expected %s. Change the barrier before the unlock, "
                      "never after: a change made after it can fall between "
                      "a party's look and its sleep, and be lost.",
                      names[i], stopped ? "stopped" : "it never stopped",
                      broken, count, gen,
                      i == 0 ? "broken 1" : "count 0 and generation 1");
    }
    // A party died holding the lock: abort and reset take it back
    // (EOWNERDEAD is a lock held, not an error), and let it go again.
    for (int i = 0; i < 2; i++) {
        b = raw_barrier(2);
        struct kid dead;
        kid_start(&dead, kid_lock_and_die, &b->lock, 0);
        while (waitpid(dead.pid, NULL, 0) < 0 && errno == EINTR)
            ;
        close(dead.fd);
        int r = i == 0 ? mp_barrier_abort(b) : mp_barrier_reset(b);
        int broken = b->broken;
        int busy = pthread_mutex_trylock(&b->lock);
        if (busy == 0)
            pthread_mutex_unlock(&b->lock);
        forget(b, sizeof *b);
        ck_assert_msg(r == 0 && busy == 0 && broken == (i == 0),
                      "a party died holding b->lock; then %s returned %s, "
                      "left broken = %d and the lock %s; expected 0, "
                      "broken %d and the lock free. Take the lock with "
                      "lock_barrier: EOWNERDEAD means the caller holds it "
                      "(pthread_mutex_consistent, break the barrier), then "
                      "go on and unlock; returned as an error, the lock is "
                      "held for ever.",
                      names[i], fl_ret(r), broken,
                      busy == 0 ? "free" : "still held", i == 0);
    }
}

FL_TEST(test_mp_barrier_broken_reports_the_state)
{
    mp_barrier *b = raw_barrier(2);
    int a = mp_barrier_broken(b);
    b->broken = 1;
    int c = mp_barrier_broken(b);
    forget(b, sizeof *b);
    ck_assert_msg(a == 0 && c == 1,
                  "mp_barrier_broken gave %s with broken 0, %s with broken "
                  "1; expected 0 and 1",
                  fl_ret(a), fl_ret(c));
    // A party died holding the lock: the barrier is broken, though no
    // one has taken the lock since to mark it.
    b = raw_barrier(2);
    struct kid dead;
    kid_start(&dead, kid_lock_and_die, &b->lock, 0);
    while (waitpid(dead.pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(dead.fd);
    int d = mp_barrier_broken(b);
    forget(b, sizeof *b);
    ck_assert_msg(d == 1,
                  "a party died holding b->lock; then mp_barrier_broken "
                  "gave %s, expected 1. Read broken under the lock "
                  "(lock_barrier): the lock comes back EOWNERDEAD, and "
                  "that breaks the barrier; a look without the lock "
                  "misses it.",
                  fl_ret(d));
}

// The last party trips the barrier while the first is stopped; before
// the first wakes, a party of the next generation gives up and breaks
// the barrier.  The first party passed all the same: its index, not
// -EPIPE.
FL_TEST(test_mp_barrier_wait_gives_its_index_to_a_party_that_passed)
{
    mp_barrier *b = raw_barrier(2);
    struct kid k;
    kid_asleep(&k, kid_barrier_wait, b, -1, "mp_barrier_wait(b, -1)");
    kill(k.pid, SIGSTOP); // it cannot look before the break
    while (fl_proc_state(k.pid) != 'T')
        sched_yield();
    int last = mp_barrier_wait(b, -1); // the trip
    raw_lock(&b->lock); // a party of the next generation arrives, and
    b->count = 1;       // gives up: what its timeout does
    b->broken = 1;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    kill(k.pid, SIGCONT);
    int got = kid_wait(&k, 2000);
    kid_end(&k);
    forget(b, sizeof *b);
    ck_assert_msg(last == 1, "the last party's mp_barrier_wait returned %s",
                  fl_ret(last));
    ck_assert_msg(got && k.rep.value == 0,
                  "a party waited at a Barrier(2); the last one came and "
                  "tripped it, then a party of the next generation gave "
                  "up and broke the barrier before the first had woken. "
                  "The first party's wait %s; expected 0, its index: its "
                  "generation passed. Look at the generation first "
                  "(changed, and not by a reset: passed), and only then "
                  "at broken.",
                  said(&k, 2000));
}

// Call i of the calls that take a lock first, on s, c or b.
static int
call_taking_a_lock(int i, mp_sem *s, mp_cond *c, mp_barrier *b)
{
    switch (i) {
    case 0:
        return mp_sem_release(s);
    case 1:
        return mp_cond_acquire(c, -1);
    case 2:
        return mp_barrier_wait(b, 0);
    case 3:
        return mp_barrier_abort(b);
    case 4:
        return mp_barrier_reset(b);
    default:
        return mp_barrier_broken(b);
    }
}

// A pthread_mutex_lock that fails (ENOTRECOVERABLE: a robust mutex whose
// dead owner's state was never made consistent; EINVAL) is not a lock
// held: the call returns minus the error at once, touching nothing.  A
// barrier wait whose condition wait fails returns minus its error too.
FL_TEST(test_mp_sync_calls_pass_on_a_failed_lock_or_wait)
{
    static const char *const names[] = {
        "mp_sem_release(s)",     "mp_cond_acquire(c, -1)",
        "mp_barrier_wait(b, 0)", "mp_barrier_abort(b)",
        "mp_barrier_reset(b)",   "mp_barrier_broken(b)"};
    static const int errs[] = {ENOTRECOVERABLE, EINVAL};
    mp_sem *s = raw_sem(1, 2);
    mp_cond *c = raw_cond();
    mp_barrier *b = raw_barrier(2);
    for (int e = 0; e < 2; e++)
        for (int i = 0; i < 6; i++) {
            b->count = 1; // a party waits (in the test's story)
            b->broken = i == 4;
            unsigned gen = b->generation;
            fl_fault_reset();
            fl_fault_fail("pthread_mutex_lock", 1, errs[e]);
            int r = call_taking_a_lock(i, s, c, b);
            long unlocks = fl_fault_calls("pthread_mutex_unlock");
            fl_fault_reset();
            int value = 0;
            sem_getvalue(&s->sem, &value);
            int touched = value != 1 || b->count != 1 ||
                          b->broken != (i == 4) || b->generation != gen;
            pthread_mutex_t *m = i == 0   ? &s->release_lock
                                 : i == 1 ? &c->lock
                                          : &b->lock;
            int free_now = pthread_mutex_trylock(m);
            if (free_now == 0)
                pthread_mutex_unlock(m);
            char what[96];
            snprintf(what, sizeof what,
                     "%s with its pthread_mutex_lock failing (%s)", names[i],
                     strerrorname_np(errs[e]));
            fl_expect_int(r, -errs[e], what,
                          "pthread_mutex_lock RETURNS its error number: "
                          "return minus it at once, whatever it is");
            ck_assert_msg(
                !touched && unlocks == 0 && free_now == 0,
                "%s: it %s, and called pthread_mutex_unlock %ld "
                "time(s)%s. A lock that failed is not held: touch "
                "neither the state nor the mutex, and return at "
                "once",
                what, touched ? "changed the state" : "left the state", unlocks,
                free_now == 0 ? "" : ", leaving the mutex locked");
        }
    // And a barrier wait whose pthread_cond_timedwait fails (EINVAL: a
    // deadline it refuses) returns minus that error, not an index, and
    // lets go of the lock.
    b->count = 0;
    b->broken = 0;
    fl_fault_reset();
    fl_fault_fail("pthread_cond_timedwait", 1, EINVAL);
    int r = mp_barrier_wait(b, 100);
    fl_fault_reset();
    int free_now = pthread_mutex_trylock(&b->lock);
    if (free_now == 0)
        pthread_mutex_unlock(&b->lock);
    forget(s, sizeof *s);
    forget(c, sizeof *c);
    forget(b, sizeof *b);
    fl_expect_int(r, -EINVAL,
                  "mp_barrier_wait(b, 100) of Barrier(2) with its "
                  "pthread_cond_timedwait failing (EINVAL)",
                  "a wait that fails with anything but ETIMEDOUT returns "
                  "minus that error: a positive number reads as an index");
    ck_assert_msg(free_now == 0,
                  "mp_barrier_wait(b, 100) with its pthread_cond_timedwait "
                  "failing left the barrier's lock held: unlock on every "
                  "way out");
}

FL_TEST(test_mp_barrier_calls_reject_bad_arguments)
{
    mp_barrier *b = raw_barrier(2);
    const char *names[] = {"wait(NULL, 0)", "abort(NULL)", "reset(NULL)",
                           "broken(NULL)", "wait(b, -2)"};
    int got[] = {mp_barrier_wait(NULL, 0), mp_barrier_abort(NULL),
                 mp_barrier_reset(NULL), mp_barrier_broken(NULL),
                 mp_barrier_wait(b, -2)};
    int count = b->count;
    forget(b, sizeof *b);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(got[i] == -EINVAL,
                      "mp_barrier_%s returned %s, expected -22 (-EINVAL)",
                      names[i], fl_ret(got[i]));
    fl_expect_int(count, 0, "b->count after a rejected wait",
                  "check the arguments before arriving");
}

/* --------------------------------------------- destroy, under failures */

FL_TEST(test_mp_destroy_functions_unmap_and_accept_null)
{
    mp_sem *s = raw_sem(0, -1);
    mp_cond *c = raw_cond();
    mp_barrier *b = raw_barrier(2);
    // A pointer inside the page, not at its start: munmap refuses it
    // (EINVAL), and so must the destroy, rather than say 0.
    int bad[3] = {mp_sem_destroy((mp_sem *)((char *)s + 1)),
                  mp_cond_destroy((mp_cond *)((char *)c + 1)),
                  mp_barrier_destroy((mp_barrier *)((char *)b + 1))};
    int r[3] = {mp_sem_destroy(s), mp_cond_destroy(c), mp_barrier_destroy(b)};
    void *p[3] = {s, c, b};
    const char *names[] = {"mp_sem_destroy", "mp_cond_destroy",
                           "mp_barrier_destroy"};
    int n[3] = {mp_sem_destroy(NULL), mp_cond_destroy(NULL),
                mp_barrier_destroy(NULL)};
    for (int i = 0; i < 3; i++) {
        unsigned char v;
        int mapped = mincore(p[i], 1, &v) == 0;
        if (mapped)
            munmap(p[i], 1);
        ck_assert_msg(r[i] == 0 && !mapped && n[i] == 0,
                      "%s returned %s and left the page %s, and of NULL "
                      "%s; expected 0, unmapped, and 0",
                      names[i], fl_ret(r[i]), mapped ? "mapped" : "unmapped",
                      fl_ret(n[i]));
        ck_assert_msg(bad[i] == -EINVAL,
                      "%s of a pointer 1 byte into the object's page "
                      "returned %s; expected -EINVAL: munmap refuses an "
                      "address that does not start a page, and the error "
                      "must reach the caller (return -errno when munmap "
                      "fails, not 0)",
                      names[i], fl_ret(bad[i]));
    }
}

static int
create_one(int which)
{
    mp_sem *s = NULL;
    mp_cond *c = NULL;
    mp_barrier *b = NULL;
    int r = which == 0   ? mp_sem_create(&s, 1, 1)
            : which == 1 ? mp_cond_create(&c)
                         : mp_barrier_create(&b, 2);
    int set = s != NULL || c != NULL || b != NULL;
    if (r == 0) {
        mp_sem_destroy(s);
        mp_cond_destroy(c);
        mp_barrier_destroy(b);
    }
    return r < 0 && set ? 1000 : r;
}

static int
kid_wait_to_be_killed(void *obj, int arg)
{
    (void)arg;
    mp_cond *c = obj;
    pthread_mutex_lock(&c->lock);
    return pthread_cond_wait(&c->cond, &c->lock);
}

static int
kid_cond_destroy(void *obj, int arg)
{
    (void)arg;
    return mp_cond_destroy(obj);
}

// A waiter killed in pthread_cond_wait never leaves it: pthread_cond_destroy
// would wait for it for ever.  The destroy runs in a kid, watched: asleep
// and silent means it hangs.
FL_TEST(test_mp_cond_destroy_returns_after_a_waiter_was_killed)
{
    mp_cond *c = raw_cond();
    struct kid w, k;
    kid_start(&w, kid_wait_to_be_killed, c, 0);
    fl_proc_settles(w.pid);
    kid_end(&w); // killed in its wait
    kid_start(&k, kid_cond_destroy, c, 0);
    char st = fl_proc_sleeps_again(k.pid, -1, 3000);
    int got = kid_wait(&k, st == 'S' ? 200 : 2000);
    kid_end(&k);
    forget(c, sizeof *c);
    ck_assert_msg(got && k.rep.value == 0,
                  "a process was killed while it waited on the condition; "
                  "then mp_cond_destroy(c) %s; expected 0 at once. Do not "
                  "call pthread_cond_destroy (nor pthread_mutex_destroy): "
                  "it waits for every waiter to leave the condition, and a "
                  "killed one never does. munmap is all it takes.",
                  got ? said(&k, 0) : "was still asleep, hanging");
}

// The create functions with every call of fn failing in turn: each
// failure is -err, leaves the pointer alone, and leaves nothing behind,
// every mapping unmapped (the wrappers count mmap and munmap).
static void
walk_create(const char *fn, int err, const char *hint)
{
    const char *names[] = {"mp_sem_create", "mp_cond_create",
                           "mp_barrier_create"};
    for (int which = 0; which < 3; which++) {
        FL_FAULT_WALK (fn, err, k) {
            fl_snapshot s;
            fl_snapshot_take(&s);
            int r = create_one(which);
            long maps = fl_fault_calls("mmap") - fl_fault_fired("mmap");
            long unmaps = fl_fault_calls("munmap");
            char what[128];
            snprintf(what, sizeof what,
                     "%s with its call %d of %s() failing "
                     "with %s",
                     names[which], k, fn, strerrorname_np(err));
            if (fl_fault_fired(fn) > 0) {
                ck_assert_msg(r != 1000,
                              "%s: it failed but set the pointer "
                              "(to MAP_FAILED?): set it only on "
                              "success",
                              what);
                fl_expect_int(r, -err, what, hint);
                ck_assert_msg(unmaps == maps,
                              "%s: it mapped %ld time(s) and unmapped %ld. "
                              "When an init fails, munmap the page.",
                              what, maps, unmaps);
            } else {
                fl_expect_int(r, 0, names[which], "");
            }
            fl_expect_no_leak(&s, what);
        }
    }
}

FL_TEST(test_mp_create_functions_fail_cleanly_when_any_call_they_make_fails)
{
    walk_create("mmap", ENOMEM,
                "mmap fails with MAP_FAILED, not NULL: compare with "
                "MAP_FAILED and return -errno");
    static const char pthread_hint[] =
        "a pthread_*_init returns its error number (it does not set "
        "errno): return minus it";
    walk_create("pthread_mutex_init", EAGAIN, pthread_hint);
    walk_create("pthread_cond_init", EAGAIN, pthread_hint);
    walk_create("sem_init", EINVAL,
                "sem_init returns -1 and sets errno, unlike the "
                "pthread_*_init functions: return -errno");
}

static const fl_case cases[] = {
    FL_CASE(test_mp_sem_create_rejects_bad_arguments, 5),
    FL_CASE(test_mp_sem_create_starts_at_the_value_and_bound_given, 5),
    FL_CASE(test_mp_sem_create_makes_a_semaphore_other_processes_can_wake, 10),
    FL_CASE(test_mp_sem_acquire_takes_3_of_3_then_says_eagain, 5),
    FL_CASE(test_mp_sem_acquire_times_out_after_the_timeout, 10),
    FL_CASE(test_mp_sem_acquire_wakes_when_another_process_releases, 10),
    FL_CASE(test_mp_sem_acquire_keeps_its_deadline_under_a_signal_storm, 10),
    FL_CASE(test_mp_sem_acquire_waits_for_ever_under_a_signal_storm, 10),
    FL_CASE(test_mp_sem_acquire_keeps_its_timeout_when_the_wall_clock_jumps,
            10),
    FL_CASE(test_mp_sem_release_raises_the_value_past_the_start, 5),
    FL_CASE(test_mp_sem_release_stops_a_bounded_semaphore_at_its_bound, 5),
    FL_CASE(test_mp_sem_release_reports_a_failed_sem_post, 5),
    FL_CASE(test_mp_sem_release_checks_the_bound_under_the_lock, 10),
    FL_CASE(test_mp_sem_value_reports_the_count, 5),
    FL_CASE(test_mp_sem_calls_reject_a_null_semaphore, 5),
    FL_CASE(test_mp_cond_create_makes_a_condition_timed_on_clock_monotonic, 10),
    FL_CASE(test_mp_cond_create_makes_a_condition_other_processes_can_wake, 10),
    FL_CASE(test_mp_cond_create_makes_a_lock_other_processes_can_wait_for, 10),
    FL_CASE(test_mp_cond_create_makes_an_error_checking_lock, 5),
    FL_CASE(test_mp_cond_acquire_gives_up_on_a_lock_held_elsewhere, 10),
    FL_CASE(test_mp_cond_acquire_for_ever_waits_for_the_release, 10),
    FL_CASE(test_mp_cond_acquire_refuses_the_holder_with_edeadlk, 5),
    FL_CASE(test_mp_cond_acquire_keeps_its_timeout_when_the_wall_clock_jumps,
            10),
    FL_CASE(test_mp_cond_release_lets_go_and_refuses_a_caller_without_it, 5),
    FL_CASE(test_mp_cond_wait_refuses_a_caller_without_the_lock, 10),
    FL_CASE(test_mp_cond_wait_times_out_holding_the_lock_again, 10),
    FL_CASE(test_mp_cond_wait_returns_1_when_notified, 10),
    FL_CASE(test_mp_cond_notify_all_wakes_all_10_waiters, 15),
    FL_CASE(test_mp_cond_notify_wakes_3_of_4_waiters, 15),
    FL_CASE(test_mp_cond_wait_for_loses_no_wake_up_sent_before_it, 10),
    FL_CASE(test_mp_cond_wait_for_sleeps_again_after_a_spurious_wake_up, 10),
    FL_CASE(test_mp_cond_wait_for_keeps_its_deadline_through_wake_ups, 10),
    FL_CASE(
        test_mp_cond_wait_for_returns_1_when_the_state_comes_true_at_the_deadline,
        10),
    FL_CASE(test_mp_cond_wait_for_waits_for_ever_under_a_signal_storm, 10),
    FL_CASE(test_mp_cond_wait_for_keeps_its_timeout_when_the_wall_clock_jumps,
            10),
    FL_CASE(test_mp_cond_calls_reject_bad_arguments, 5),
    FL_CASE(test_mp_barrier_create_rejects_bad_arguments, 5),
    FL_CASE(test_mp_barrier_create_makes_a_barrier_two_parties_pass, 10),
    FL_CASE(test_mp_barrier_create_makes_a_robust_shared_lock, 10),
    FL_CASE(test_mp_barrier_create_makes_a_condition_timed_on_clock_monotonic,
            10),
    FL_CASE(test_mp_barrier_wait_with_1_party_passes_at_once, 10),
    FL_CASE(test_mp_barrier_wait_with_timeout_0_gives_up_at_once, 10),
    FL_CASE(test_mp_barrier_wait_gives_3_parties_the_indices_0_1_2, 10),
    FL_CASE(test_mp_barrier_wait_holds_2_of_3_parties_until_the_timeout, 10),
    FL_CASE(test_mp_barrier_wait_keeps_its_deadline_through_wake_ups, 10),
    FL_CASE(test_mp_barrier_wait_lets_3_of_4_parties_pass, 10),
    FL_CASE(test_mp_barrier_wait_can_be_used_again_and_again, 10),
    FL_CASE(test_mp_barrier_wait_timeout_breaks_the_barrier_for_later_parties,
            10),
    FL_CASE(test_mp_barrier_wait_keeps_its_timeout_when_the_wall_clock_jumps,
            10),
    FL_CASE(test_mp_barrier_wait_trips_under_the_lock, 10),
    FL_CASE(
        test_mp_barrier_wait_is_broken_by_a_party_that_died_holding_the_lock,
        10),
    FL_CASE(test_mp_barrier_wait_wakes_the_sleepers_when_a_party_died, 10),
    FL_CASE(test_mp_barrier_wait_is_broken_when_its_wait_returns_eownerdead,
            10),
    FL_CASE(test_mp_barrier_abort_wakes_every_waiter_with_epipe, 10),
    FL_CASE(test_mp_barrier_reset_makes_a_broken_barrier_usable, 10),
    FL_CASE(test_mp_barrier_reset_sends_waiting_parties_away_with_epipe, 10),
    FL_CASE(test_mp_barrier_broken_reports_the_state, 5),
    FL_CASE(test_mp_barrier_abort_reset_and_broken_wait_for_the_lock, 10),
    FL_CASE(test_mp_barrier_wait_gives_its_index_to_a_party_that_passed, 5),
    FL_CASE(test_mp_sync_calls_pass_on_a_failed_lock_or_wait, 5),
    FL_CASE(test_mp_barrier_calls_reject_bad_arguments, 5),
    FL_CASE(test_mp_destroy_functions_unmap_and_accept_null, 5),
    FL_CASE(test_mp_cond_destroy_returns_after_a_waiter_was_killed, 10),
    FL_CASE(test_mp_create_functions_fail_cleanly_when_any_call_they_make_fails,
            10),
};

FL_MAIN("14_sync", cases)
