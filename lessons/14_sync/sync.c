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
    (void)size;
    errno = ENOSYS;
    return NULL;
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
    (void)lock;
    (void)type;
    (void)robust;
    return ENOSYS;
}

// Initialise a process-shared condition variable timed on CLOCK_MONOTONIC.
// 0 or an errno value.
static int
init_cond(pthread_cond_t *cond)
{
    // TODO(14): as in lesson 07: pthread_condattr_init, setpshared
    // (PTHREAD_PROCESS_SHARED) and setclock (CLOCK_MONOTONIC), each
    // checked, pthread_cond_init, destroy the attr.
    (void)cond;
    return ENOSYS;
}

// The moment timeout_ms from now on CLOCK_MONOTONIC, as an absolute time.
static struct timespec
deadline_after(int timeout_ms)
{
    // TODO(14): clock_gettime(CLOCK_MONOTONIC), add the seconds and the
    // nanoseconds of timeout_ms (in long: timeout_ms * 1000000 overflows
    // an int), and carry tv_nsec over a billion into tv_sec.
    struct timespec t = {0, 0};
    (void)timeout_ms;
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
    (void)sp;
    (void)value;
    (void)bounded;
    return -ENOSYS;
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
    (void)s;
    (void)timeout_ms;
    (void)deadline_after; // use these helpers, then delete these lines
    (void)shared_page;
    (void)init_lock;
    (void)init_cond;
    return -ENOSYS;
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
    (void)s;
    return -ENOSYS;
}

int
mp_sem_value(mp_sem *s)
{
    // TODO(14): reject a NULL s with -EINVAL; sem_getvalue.
    (void)s;
    return -ENOSYS;
}

int
mp_sem_destroy(mp_sem *s)
{
    // TODO(14): NULL: 0.  Otherwise munmap; failure: -errno.  (sem_destroy
    // is not needed: an unnamed semaphore holds nothing in the kernel.)
    (void)s;
    return -ENOSYS;
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
    (void)cp;
    return -ENOSYS;
}

int
mp_cond_acquire(mp_cond *c, int timeout_ms)
{
    // TODO(14): reject a NULL c or a timeout_ms below -1 with -EINVAL.
    // -1: pthread_mutex_lock; 0: pthread_mutex_trylock (EBUSY: -EAGAIN);
    // otherwise pthread_mutex_clocklock(&c->lock, CLOCK_MONOTONIC,
    // &deadline).  Return minus what they return.
    (void)c;
    (void)timeout_ms;
    return -ENOSYS;
}

int
mp_cond_release(mp_cond *c)
{
    // TODO(14): reject a NULL c with -EINVAL; pthread_mutex_unlock, and
    // minus what it returns (EPERM when the caller does not hold it).
    (void)c;
    return -ENOSYS;
}

// One sleep on the condition until the deadline (timeout_ms -1: no
// deadline).  0, ETIMEDOUT or another errno value.
static int
sleep_once(mp_cond *c, int timeout_ms, const struct timespec *deadline)
{
    // TODO(14): pthread_cond_wait for -1, else pthread_cond_timedwait
    // with the deadline: it lets go of the lock only once asleep, and
    // takes it back before returning.
    (void)c;
    (void)timeout_ms;
    (void)deadline;
    return ENOSYS;
}

int
mp_cond_wait(mp_cond *c, int timeout_ms)
{
    // TODO(14): reject a NULL c or a timeout_ms below -1 with -EINVAL.
    // sleep_once until deadline_after(timeout_ms): 0 gives 1 (woken),
    // ETIMEDOUT gives 0, anything else minus it (EPERM: the caller does
    // not hold the lock; the error-checking mutex says so).
    (void)c;
    (void)timeout_ms;
    (void)sleep_once; // use this helper, then delete this line
    return -ENOSYS;
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
    (void)c;
    (void)pred;
    (void)arg;
    (void)timeout_ms;
    return -ENOSYS;
}

int
mp_cond_notify(mp_cond *c, int n)
{
    // TODO(14): reject a NULL c or a negative n with -EINVAL; then
    // pthread_cond_signal n times (each wakes one waiter, if any).
    (void)c;
    (void)n;
    return -ENOSYS;
}

int
mp_cond_notify_all(mp_cond *c)
{
    // TODO(14): reject a NULL c with -EINVAL; pthread_cond_broadcast,
    // which wakes every waiter (signal wakes one).
    (void)c;
    return -ENOSYS;
}

int
mp_cond_destroy(mp_cond *c)
{
    // TODO(14): NULL: 0.  Otherwise munmap; failure: -errno.  No
    // pthread_cond_destroy (lesson 07: it hangs after a killed waiter).
    (void)c;
    return -ENOSYS;
}

/* ------------------------------------------------------------ barrier */

int
mp_barrier_create(mp_barrier **bp, int parties)
{
    // TODO(14): reject a NULL bp or parties below 1 with -EINVAL;
    // shared_page; init_lock (PTHREAD_MUTEX_NORMAL, robust); init_cond;
    // parties, and zero for the rest.  On failure munmap and return minus
    // the error; set *bp only on success.
    (void)bp;
    (void)parties;
    return -ENOSYS;
}

// Mark the barrier broken and wake every waiter.  Called with the lock.
static void
break_barrier(mp_barrier *b)
{
    // TODO(14): broken = 1, then pthread_cond_broadcast: every waiter must
    // wake and find out.
    (void)b;
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
    (void)b;
    return r;
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
    (void)b;
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
    (void)b;
    (void)gen;
    (void)index;
    (void)timeout_ms;
    return -ENOSYS;
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
    (void)b;
    (void)timeout_ms;
    (void)lock_barrier; // use these helpers, then delete these lines
    (void)trip;
    (void)wait_for_the_others;
    return -ENOSYS;
}

int
mp_barrier_abort(mp_barrier *b)
{
    // TODO(14): reject a NULL b with -EINVAL; lock_barrier,
    // break_barrier, unlock.
    (void)b;
    (void)break_barrier; // use this helper, then delete this line
    return -ENOSYS;
}

int
mp_barrier_reset(mp_barrier *b)
{
    // TODO(14): reject a NULL b with -EINVAL; lock_barrier.  If parties
    // are waiting (count > 0), or the barrier is broken, end their
    // generation: reset_from = generation, generation + 1, broadcast (they
    // wake, see reset_from and return -EPIPE).  Then count 0, broken 0.
    // Unlock.
    (void)b;
    return -ENOSYS;
}

int
mp_barrier_broken(mp_barrier *b)
{
    // TODO(14): reject a NULL b with -EINVAL; read broken under the lock
    // (lock_barrier: a dead holder breaks it) and return 1 or 0.
    (void)b;
    return -ENOSYS;
}

int
mp_barrier_destroy(mp_barrier *b)
{
    // TODO(14): NULL: 0.  Otherwise munmap; failure: -errno.
    (void)b;
    return -ENOSYS;
}
