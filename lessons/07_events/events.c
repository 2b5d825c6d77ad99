// events.c - lesson 07: Event, a flag that processes can wait for.
//
// Your task: make the six functions of events.h work.  Read
// lessons/07_events/README.md first; `make check L=07` tests your code,
// `make hint L=07` gives one more hint each time you run it.
//
// The event is a struct mp_event (events.h) in a page of anonymous shared
// memory: a flag, the mutex that guards it, and a condition variable that
// waiters sleep on.  Every process forked after mp_event_create() works on
// the same three.  Two attributes make the mutex and the condition
// variable fit for processes (PTHREAD_PROCESS_SHARED), and one makes
// timed waits read a clock that never jumps (CLOCK_MONOTONIC).
#define _DEFAULT_SOURCE // MAP_ANONYMOUS is not in POSIX.1-2008
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

/* ------------------------------------------------------------- create */

// Initialise a mutex that other processes can lock too.  Returns 0 or an
// errno value, as the pthread functions do.
static int
init_lock(pthread_mutex_t *lock)
{
    // TODO(07): pthread_mutexattr_init, then
    // pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), then
    // pthread_mutex_init with that attr; destroy the attr either way.
    // Without the attribute, glibc wakes only waiters of the same process:
    // a process that finds the lock taken by another sleeps for ever.
    (void)lock;
    return ENOSYS;
}

// Initialise a condition variable that other processes can wait on and
// wake, and whose timed waits read CLOCK_MONOTONIC.  0 or an errno value.
static int
init_cond(pthread_cond_t *cond)
{
    // TODO(07): pthread_condattr_init, then two attributes, each checked:
    // pthread_condattr_setpshared (PTHREAD_PROCESS_SHARED: a set in one
    // process must wake waiters in others) and pthread_condattr_setclock
    // (CLOCK_MONOTONIC: the default, CLOCK_REALTIME, would read the
    // deadlines that mp_event_wait takes from CLOCK_MONOTONIC as long
    // past).  Then pthread_cond_init; destroy the attr either way.
    (void)cond;
    return ENOSYS;
}

int
mp_event_create(mp_event **evp)
{
    // TODO(07): reject a NULL evp with -EINVAL.
    // TODO(07): mmap sizeof(mp_event) bytes, PROT_READ | PROT_WRITE,
    // MAP_SHARED | MAP_ANONYMOUS, fd -1: memory that children forked later
    // share.  MAP_PRIVATE would give each child its own copy, and a set in
    // one process would never reach another.  MAP_FAILED: return -errno.
    // TODO(07): init_lock, init_cond, and a clear flag.  If either
    // fails, munmap the memory and return minus its errno value (there is
    // nothing else to undo: a mutex holds nothing in the kernel).  Set
    // *evp only on success.
    (void)evp;
    (void)init_lock; // use these helpers, then delete these two lines
    (void)init_cond;
    return -ENOSYS;
}

/* ------------------------------------------------ set, clear, is_set */

int
mp_event_set(mp_event *ev)
{
    // TODO(07): reject a NULL ev with -EINVAL.
    // TODO(07): lock, flag = 1, unlock, then pthread_cond_broadcast.  The
    // flag changes only under the lock: a waiter holds it from its look at
    // the flag until it sleeps, so no set can slip in between and be
    // missed (a lost wake-up).  Broadcast, not signal: signal wakes ONE
    // waiter, and every waiter must wake.  Broadcasting after the unlock
    // is safe (the flag is already set) and faster: the waiters woken do
    // not run straight into a lock that is still held.
    (void)ev;
    return -ENOSYS;
}

int
mp_event_clear(mp_event *ev)
{
    // TODO(07): reject a NULL ev with -EINVAL; then flag = 0, under the
    // lock.  No broadcast: nobody waits for an event to become clear.
    (void)ev;
    return -ENOSYS;
}

int
mp_event_is_set(mp_event *ev)
{
    // TODO(07): reject a NULL ev with -EINVAL; then read the flag under
    // the lock and return 1 or 0.
    (void)ev;
    return -ENOSYS;
}

/* --------------------------------------------------------------- wait */

// The moment timeout_ms from now on CLOCK_MONOTONIC, as the absolute
// time that pthread_cond_timedwait wants.
static struct timespec
deadline_after(int timeout_ms)
{
    // TODO(07): clock_gettime(CLOCK_MONOTONIC), then add the seconds and
    // the nanoseconds of timeout_ms.  tv_nsec must stay below one billion:
    // carry the overflow into tv_sec, or the wait fails with EINVAL.
    (void)timeout_ms;
    return (struct timespec){0, 0};
}

int
mp_event_wait(mp_event *ev, int timeout_ms)
{
    // TODO(07): reject a NULL ev, or a timeout_ms below -1, with -EINVAL.
    // TODO(07): take the deadline ONCE, before waiting: computed again
    // after each wake-up, a stream of wake-ups would stretch the wait for
    // ever.  (A timeout of 0 gives a deadline that has already passed:
    // pthread_cond_timedwait then returns ETIMEDOUT at once, a poll.)
    // TODO(07): lock, then WHILE the flag is clear: pthread_cond_wait
    // (timeout -1) or pthread_cond_timedwait until the deadline; stop on
    // any result but 0.  A while, not an if: a waiter may wake with the
    // flag still clear (a spurious wake-up, or a set undone by a clear
    // before it ran), and must then wait again.
    // TODO(07): after the loop, read the flag before unlocking.  Set: 1,
    // even if the wait had just timed out (a set came as the deadline
    // passed).  Clear after ETIMEDOUT: 0.  Any other result: minus it.
    (void)ev;
    (void)timeout_ms;
    (void)deadline_after; // use this helper, then delete this line
    return -ENOSYS;
}

/* ------------------------------------------------------------ destroy */

int
mp_event_destroy(mp_event *ev)
{
    // TODO(07): NULL: return 0.  Otherwise munmap the event's memory;
    // failure: -errno.  Do NOT call pthread_cond_destroy first: glibc's
    // waits until every waiter has left the condition variable, and a
    // process killed while it waited never leaves, so the destroy would
    // hang for ever.  The mutex and the condition variable hold nothing in
    // the kernel: unmapping the page is all the cleanup there is.
    (void)ev;
    return -ENOSYS;
}
