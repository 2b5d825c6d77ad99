// sync.c - lesson 14: Semaphore, Condition and Barrier across processes.
//
// Your task: make the functions of sync.h work.  Read
// lessons/14_sync/README.md first; `make check L=14` tests your code,
// `make hint L=14` gives one more hint each time you run it.
//
// Each object lives in a page of anonymous shared memory, so that every
// process forked after it was made works on the same one.  The semaphore
// is a POSIX unnamed semaphore (sem_init with pshared 1); the condition
// and the barrier are a process-shared mutex and condition variable, timed
// on CLOCK_MONOTONIC, as in lesson 07.  The barrier's mutex is robust too:
// a process that dies holding it breaks the barrier instead of hanging
// every other party.
#define _GNU_SOURCE // MAP_ANONYMOUS, sem_clockwait, pthread_mutex_clocklock
#include "sync.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <time.h>

/* ----------------------------------------------------- shared helpers */

// A page of shared anonymous memory for an object of size bytes, or NULL
// with errno set.
static void *
shared_page(size_t size)
{
    // TODO(14): mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED |
    // MAP_ANONYMOUS, -1, 0).  MAP_PRIVATE would give every child a copy of
    // its own.  mmap fails with MAP_FAILED, not NULL: turn that into NULL.
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

// Initialise a process-shared mutex of the given type, robust or not.
// 0 or an errno value, as the pthread functions return.
static int
init_lock(pthread_mutex_t *lock, int type, int robust)
{
    // TODO(14): pthread_mutexattr_init, then settype(type),
    // setpshared(PTHREAD_PROCESS_SHARED) and, if robust,
    // setrobust(PTHREAD_MUTEX_ROBUST), each checked; pthread_mutex_init;
    // destroy the attr either way.  Without PROCESS_SHARED a process that
    // finds the lock taken sleeps for ever; without ROBUST it does so
    // when the holder dies.
    pthread_mutexattr_t attr;
    int r = pthread_mutexattr_init(&attr);
    if (r != 0)
        return r;
    r = pthread_mutexattr_settype(&attr, type);
    if (r == 0)
        r = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (r == 0 && robust)
        r = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (r == 0)
        r = pthread_mutex_init(lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return r;
}

// Initialise a process-shared condition variable timed on CLOCK_MONOTONIC.
// 0 or an errno value.
static int
init_cond(pthread_cond_t *cond)
{
    // TODO(14): as in lesson 07: pthread_condattr_init, setpshared
    // (PTHREAD_PROCESS_SHARED) and setclock (CLOCK_MONOTONIC), each
    // checked, pthread_cond_init, destroy the attr.
    pthread_condattr_t attr;
    int r = pthread_condattr_init(&attr);
    if (r != 0)
        return r;
    r = pthread_condattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (r == 0)
        r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (r == 0)
        r = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return r;
}

// The moment timeout_ms from now on CLOCK_MONOTONIC, as an absolute time.
static struct timespec
deadline_after(int timeout_ms)
{
    // TODO(14): clock_gettime(CLOCK_MONOTONIC), add the seconds and the
    // nanoseconds of timeout_ms (in long: timeout_ms * 1000000 overflows
    // an int), and carry tv_nsec over a billion into tv_sec.
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* ---------------------------------------------------------- semaphore */

int
mp_sem_create(mp_sem **sp, int value, int bounded)
{
    // TODO(14): reject a NULL sp or a negative value with -EINVAL.  Then
    // shared_page (NULL: -errno); sem_init(&s->sem, 1, value): the 1
    // (pshared) makes the kernel wake sleepers in any process, 0 only in
    // this one.  init_lock the
    // release_lock (PTHREAD_MUTEX_NORMAL, not robust).  bound: value if
    // bounded, else -1.  On failure munmap and return minus the error;
    // set *sp only on success.
    if (sp == NULL || value < 0)
        return -EINVAL;
    mp_sem *s = shared_page(sizeof *s);
    if (s == NULL)
        return -errno;
    int r = sem_init(&s->sem, 1, (unsigned)value) < 0 ? errno : 0;
    if (r == 0)
        r = init_lock(&s->release_lock, PTHREAD_MUTEX_NORMAL, 0);
    if (r != 0) {
        munmap(s, sizeof *s);
        return -r;
    }
    s->bound = bounded ? value : -1;
    *sp = s;
    return 0;
}

int
mp_sem_acquire(mp_sem *s, int timeout_ms)
{
    // TODO(14): reject a NULL s or a timeout_ms below -1 with -EINVAL.
    // 0: sem_trywait (EAGAIN: -EAGAIN).  -1: sem_wait.  Otherwise take a
    // deadline ONCE and sem_clockwait(&s->sem, CLOCK_MONOTONIC, &deadline)
    // (sem_timedwait reads CLOCK_REALTIME, which anyone may set).  Each of
    // them fails with EINTR when a signal handler runs: call it again,
    // with the SAME deadline (a new one each time would restart the
    // timeout with every signal).  Any other failure: -errno
    // (-ETIMEDOUT at the deadline).
    if (s == NULL || timeout_ms < -1)
        return -EINVAL;
    struct timespec deadline = deadline_after(timeout_ms < 0 ? 0 : timeout_ms);
    int r;
    do
        r = timeout_ms == 0 ? sem_trywait(&s->sem)
            : timeout_ms == -1
                ? sem_wait(&s->sem)
                : sem_clockwait(&s->sem, CLOCK_MONOTONIC, &deadline);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

int
mp_sem_release(mp_sem *s)
{
    // TODO(14): reject a NULL s with -EINVAL.  Lock release_lock; if
    // bounded, sem_getvalue and refuse with -EOVERFLOW when the value has
    // reached the bound; sem_post (it fails with EOVERFLOW at
    // SEM_VALUE_MAX); unlock.  Why the lock: acquires only lower the
    // value, so under it the value cannot rise between the check and the
    // post.  Without it two releasers can both see bound - 1 and both
    // post (Python's BoundedSemaphore has that race).
    if (s == NULL)
        return -EINVAL;
    int r = pthread_mutex_lock(&s->release_lock);
    if (r != 0)
        return -r;
    int value = 0;
    if (s->bound >= 0 && sem_getvalue(&s->sem, &value) == 0 &&
        value >= s->bound)
        r = EOVERFLOW;
    else if (sem_post(&s->sem) < 0)
        r = errno;
    pthread_mutex_unlock(&s->release_lock);
    return -r;
}

int
mp_sem_value(mp_sem *s)
{
    // TODO(14): reject a NULL s with -EINVAL; sem_getvalue.
    if (s == NULL)
        return -EINVAL;
    int value;
    if (sem_getvalue(&s->sem, &value) < 0)
        return -errno;
    return value;
}

int
mp_sem_destroy(mp_sem *s)
{
    // TODO(14): NULL: 0.  Otherwise munmap; failure: -errno.  (sem_destroy
    // is not needed: an unnamed semaphore holds nothing in the kernel.)
    if (s == NULL)
        return 0;
    return munmap(s, sizeof *s) < 0 ? -errno : 0;
}

/* ---------------------------------------------------------- condition */

int
mp_cond_create(mp_cond **cp)
{
    // TODO(14): reject a NULL cp with -EINVAL; shared_page; init_lock
    // (PTHREAD_MUTEX_ERRORCHECK, not robust: an error-checking mutex says
    // EPERM to a thread that unlocks or waits without holding it, and
    // EDEADLK to one that locks it twice); init_cond.  On failure munmap
    // and return minus the error; set *cp only on success.
    if (cp == NULL)
        return -EINVAL;
    mp_cond *c = shared_page(sizeof *c);
    if (c == NULL)
        return -errno;
    int r = init_lock(&c->lock, PTHREAD_MUTEX_ERRORCHECK, 0);
    if (r == 0)
        r = init_cond(&c->cond);
    if (r != 0) {
        munmap(c, sizeof *c);
        return -r;
    }
    *cp = c;
    return 0;
}

int
mp_cond_acquire(mp_cond *c, int timeout_ms)
{
    // TODO(14): reject a NULL c or a timeout_ms below -1 with -EINVAL.
    // -1: pthread_mutex_lock; 0: pthread_mutex_trylock (EBUSY: -EAGAIN);
    // otherwise pthread_mutex_clocklock(&c->lock, CLOCK_MONOTONIC,
    // &deadline).  Return minus what they return.
    if (c == NULL || timeout_ms < -1)
        return -EINVAL;
    if (timeout_ms == -1)
        return -pthread_mutex_lock(&c->lock);
    if (timeout_ms == 0) {
        int r = pthread_mutex_trylock(&c->lock);
        return r == EBUSY ? -EAGAIN : -r;
    }
    struct timespec deadline = deadline_after(timeout_ms);
    return -pthread_mutex_clocklock(&c->lock, CLOCK_MONOTONIC, &deadline);
}

int
mp_cond_release(mp_cond *c)
{
    // TODO(14): reject a NULL c with -EINVAL; pthread_mutex_unlock, and
    // minus what it returns (EPERM when the caller does not hold it).
    if (c == NULL)
        return -EINVAL;
    return -pthread_mutex_unlock(&c->lock);
}

// One sleep on the condition until the deadline (timeout_ms -1: no
// deadline).  0, ETIMEDOUT or another errno value.
static int
sleep_once(mp_cond *c, int timeout_ms, const struct timespec *deadline)
{
    // TODO(14): pthread_cond_wait for -1, else pthread_cond_timedwait
    // with the deadline: it lets go of the lock only once asleep, and
    // takes it back before returning.
    return timeout_ms < 0
               ? pthread_cond_wait(&c->cond, &c->lock)
               : pthread_cond_timedwait(&c->cond, &c->lock, deadline);
}

int
mp_cond_wait(mp_cond *c, int timeout_ms)
{
    // TODO(14): reject a NULL c or a timeout_ms below -1 with -EINVAL.
    // sleep_once until deadline_after(timeout_ms): 0 gives 1 (woken),
    // ETIMEDOUT gives 0, anything else minus it (EPERM: the caller does
    // not hold the lock; the error-checking mutex says so).
    if (c == NULL || timeout_ms < -1)
        return -EINVAL;
    struct timespec deadline = deadline_after(timeout_ms < 0 ? 0 : timeout_ms);
    int r = sleep_once(c, timeout_ms, &deadline);
    return r == 0 ? 1 : r == ETIMEDOUT ? 0 : -r;
}

int
mp_cond_wait_for(mp_cond *c, int (*pred)(void *arg), void *arg, int timeout_ms)
{
    // TODO(14): reject a NULL c or pred, or a timeout_ms below -1, with
    // -EINVAL.  Take the deadline ONCE.  Then WHILE pred(arg) is zero:
    // sleep_once; stop on any result but 0.  Test pred BEFORE the first
    // sleep (a notify sent before this call is not lost: the state it
    // announced is already there), and again after EVERY wake-up (a
    // wake-up may be spurious, or another process may have undone the
    // state first): while, not if, and not do-while.  After the loop: pred
    // true gives 1 (even after ETIMEDOUT: it came true as the deadline
    // passed), ETIMEDOUT gives 0, anything else minus it.
    if (c == NULL || pred == NULL || timeout_ms < -1)
        return -EINVAL;
    struct timespec deadline = deadline_after(timeout_ms < 0 ? 0 : timeout_ms);
    int r = 0;
    int ok;
    while (!(ok = pred(arg)) && r == 0)
        r = sleep_once(c, timeout_ms, &deadline);
    if (ok)
        return 1;
    return r == ETIMEDOUT ? 0 : -r;
}

int
mp_cond_notify(mp_cond *c, int n)
{
    // TODO(14): reject a NULL c or a negative n with -EINVAL; then
    // pthread_cond_signal n times (each wakes one waiter, if any).
    if (c == NULL || n < 0)
        return -EINVAL;
    for (int i = 0; i < n; i++) {
        int r = pthread_cond_signal(&c->cond);
        if (r != 0)
            return -r;
    }
    return 0;
}

int
mp_cond_notify_all(mp_cond *c)
{
    // TODO(14): reject a NULL c with -EINVAL; pthread_cond_broadcast,
    // which wakes every waiter (signal wakes one).
    if (c == NULL)
        return -EINVAL;
    return -pthread_cond_broadcast(&c->cond);
}

int
mp_cond_destroy(mp_cond *c)
{
    // TODO(14): NULL: 0.  Otherwise munmap; failure: -errno.  No
    // pthread_cond_destroy (lesson 07: it hangs after a killed waiter).
    if (c == NULL)
        return 0;
    return munmap(c, sizeof *c) < 0 ? -errno : 0;
}

/* ------------------------------------------------------------ barrier */

int
mp_barrier_create(mp_barrier **bp, int parties)
{
    // TODO(14): reject a NULL bp or parties below 1 with -EINVAL;
    // shared_page; init_lock (PTHREAD_MUTEX_NORMAL, robust); init_cond;
    // parties, and zero for the rest.  On failure munmap and return minus
    // the error; set *bp only on success.
    if (bp == NULL || parties < 1)
        return -EINVAL;
    mp_barrier *b = shared_page(sizeof *b);
    if (b == NULL)
        return -errno;
    int r = init_lock(&b->lock, PTHREAD_MUTEX_NORMAL, 1);
    if (r == 0)
        r = init_cond(&b->cond);
    if (r != 0) {
        munmap(b, sizeof *b);
        return -r;
    }
    b->parties = parties;
    b->count = 0;
    b->generation = 0;
    b->reset_from = (unsigned)-1;
    b->broken = 0;
    *bp = b;
    return 0;
}

// Mark the barrier broken and wake every waiter.  Called with the lock.
static void
break_barrier(mp_barrier *b)
{
    // TODO(14): broken = 1, then pthread_cond_broadcast: every waiter must
    // wake and find out.
    b->broken = 1;
    pthread_cond_broadcast(&b->cond);
}

// Make a lock result usable: EOWNERDEAD means the caller now holds the
// lock of a process that died holding it, in the middle of an update
// perhaps.  0 or an errno value.
static int
after_lock(mp_barrier *b, int r)
{
    // TODO(14): on EOWNERDEAD, pthread_mutex_consistent (or the lock is
    // unusable once unlocked), then break_barrier: the dead party will
    // never arrive, and the state it left may be half-updated.  Then the
    // caller holds a good lock: return 0.  Any other result: return it.
    if (r != EOWNERDEAD)
        return r;
    pthread_mutex_consistent(&b->lock);
    break_barrier(b);
    return 0;
}

// Lock the barrier, breaking it if the last holder died.  0 or errno.
static int
lock_barrier(mp_barrier *b)
{
    return after_lock(b, pthread_mutex_lock(&b->lock));
}

// The last party: start the next generation and let everyone go.
static void
trip(mp_barrier *b)
{
    // TODO(14): count back to 0 (the barrier is reusable: the next
    // parties callers make the next generation), generation + 1, and
    // wake EVERY waiter: broadcast, not signal.
    b->count = 0;
    b->generation++;
    pthread_cond_broadcast(&b->cond);
}

// Sleep until generation gen ends or the barrier breaks.  With the lock.
// The party's index, -EPIPE, -ETIMEDOUT or another negative errno.
static int
wait_for_the_others(mp_barrier *b, unsigned gen, int index, int timeout_ms)
{
    // TODO(14): a deadline ONCE; WHILE the generation is still gen and
    // the barrier is not broken: pthread_cond_wait (timeout -1) or
    // pthread_cond_timedwait, each result through after_lock (the lock
    // comes back from a dead holder as EOWNERDEAD there too); stop on any
    // result but 0.  Then, in this order: generation changed and this
    // generation was not ended by a reset (reset_from != gen): passed,
    // return index.  Broken or reset: -EPIPE.  ETIMEDOUT: this party gives
    // up and breaks the barrier for the others (break_barrier), -ETIMEDOUT.
    // Anything else: minus it.
    struct timespec deadline = deadline_after(timeout_ms < 0 ? 0 : timeout_ms);
    int r = 0;
    while (b->generation == gen && !b->broken && r == 0)
        r = after_lock(b, timeout_ms < 0 ? pthread_cond_wait(&b->cond, &b->lock)
                                         : pthread_cond_timedwait(
                                               &b->cond, &b->lock, &deadline));
    if (b->generation != gen && b->reset_from != gen)
        return index;
    if (b->broken || b->generation != gen)
        return -EPIPE;
    if (r == ETIMEDOUT) {
        break_barrier(b);
        return -ETIMEDOUT;
    }
    return -r;
}

int
mp_barrier_wait(mp_barrier *b, int timeout_ms)
{
    // TODO(14): reject a NULL b or a timeout_ms below -1 with -EINVAL.
    // lock_barrier.  Broken: unlock, -EPIPE.  This party's index is count
    // (0 for the first to arrive); count + 1.  The last (index parties -
    // 1): trip.  The others: wait_for_the_others(b, generation, index,
    // timeout_ms).  Unlock on every way out.  Every change to count,
    // generation and broken happens under the lock: a waiter holds it
    // from its look at the generation until it sleeps, so a trip cannot
    // slip in between and be missed.
    if (b == NULL || timeout_ms < -1)
        return -EINVAL;
    int r = lock_barrier(b);
    if (r != 0)
        return -r;
    if (b->broken) {
        pthread_mutex_unlock(&b->lock);
        return -EPIPE;
    }
    int index = b->count++;
    if (index == b->parties - 1)
        trip(b);
    else
        index = wait_for_the_others(b, b->generation, index, timeout_ms);
    pthread_mutex_unlock(&b->lock);
    return index;
}

int
mp_barrier_abort(mp_barrier *b)
{
    // TODO(14): reject a NULL b with -EINVAL; lock_barrier,
    // break_barrier, unlock.
    if (b == NULL)
        return -EINVAL;
    int r = lock_barrier(b);
    if (r != 0)
        return -r;
    break_barrier(b);
    pthread_mutex_unlock(&b->lock);
    return 0;
}

int
mp_barrier_reset(mp_barrier *b)
{
    // TODO(14): reject a NULL b with -EINVAL; lock_barrier.  If parties
    // are waiting (count > 0), or the barrier is broken, end their
    // generation: reset_from = generation, generation + 1, broadcast (they
    // wake, see reset_from and return -EPIPE).  Then count 0, broken 0.
    // Unlock.
    if (b == NULL)
        return -EINVAL;
    int r = lock_barrier(b);
    if (r != 0)
        return -r;
    if (b->count > 0 || b->broken) {
        b->reset_from = b->generation++;
        pthread_cond_broadcast(&b->cond);
    }
    b->count = 0;
    b->broken = 0;
    pthread_mutex_unlock(&b->lock);
    return 0;
}

int
mp_barrier_broken(mp_barrier *b)
{
    // TODO(14): reject a NULL b with -EINVAL; read broken under the lock
    // (lock_barrier: a dead holder breaks it) and return 1 or 0.
    if (b == NULL)
        return -EINVAL;
    int r = lock_barrier(b);
    if (r != 0)
        return -r;
    int broken = b->broken;
    pthread_mutex_unlock(&b->lock);
    return broken ? 1 : 0;
}

int
mp_barrier_destroy(mp_barrier *b)
{
    // TODO(14): NULL: 0.  Otherwise munmap; failure: -errno.
    if (b == NULL)
        return 0;
    return munmap(b, sizeof *b) < 0 ? -errno : 0;
}
