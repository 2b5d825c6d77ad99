// locks.c - lesson 06: Lock and RLock on a robust, process-shared mutex.
//
// Your task: make the four functions of locks.h work.  Read
// lessons/06_locks/README.md first; `make check L=06` tests your code,
// `make hint L=06` gives one more hint each time you run it.
//
// The lock is a pthread mutex in a page of anonymous shared memory, so
// that every process forked after mp_lock_create() works on the same
// mutex.  Two attributes make it fit for processes: PTHREAD_PROCESS_SHARED
// (other processes use it too) and PTHREAD_MUTEX_ROBUST (when its owner
// dies, the next locker is told, instead of waiting for ever).  An RLock
// adds an owner and a count on top.
#define _GNU_SOURCE // pthread_mutex_clocklock (glibc 2.30) and gettid
#include "locks.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

// The lock, as it lies in shared memory.  The owner is atomic because a
// process that does not hold the mutex reads it (is it mine?) while the
// owner may write it; an atomic int works across processes as it does
// across threads.
struct mp_lock {
    pthread_mutex_t mutex; // process-shared and robust
    int recursive;         // 1 for an RLock
    _Atomic pid_t owner;   // RLock: the owning thread's id (gettid), or 0
    int count;             // RLock: the owner's acquires not yet released
};

/* ------------------------------------------------------------- create */

// TODO(06): write `static int init_mutex(pthread_mutex_t *mutex)`:
// initialise a mutex that processes share and that survives its owner's
// death; return 0 or an errno value, as the pthread functions do.
// pthread_mutexattr_init(), then two attributes, each checked:
// PTHREAD_PROCESS_SHARED (pthread_mutexattr_setpshared) and
// PTHREAD_MUTEX_ROBUST (pthread_mutexattr_setrobust), then
// pthread_mutex_init(), and pthread_mutexattr_destroy() whatever
// happened.  The trap: without ROBUST, a process that dies holding the
// lock keeps it for ever, and every process that waits for it hangs.
static int
init_mutex(pthread_mutex_t *mutex)
{
    pthread_mutexattr_t attr;
    int err = pthread_mutexattr_init(&attr);
    if (err != 0)
        return err;
    err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (err == 0)
        err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (err == 0)
        err = pthread_mutex_init(mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    return err;
}

int
mp_lock_create(mp_lock **lockp, int recursive)
{
    // TODO(06): reject a NULL lockp with -EINVAL.
    if (lockp == NULL)
        return -EINVAL;
    // TODO(06): map the lock with mmap(NULL, sizeof **lockp, PROT_READ |
    // PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0); MAP_FAILED means
    // -errno.  The trap: malloc() or MAP_PRIVATE gives each process its
    // own copy of the lock after fork(), and a lock nobody else sees
    // excludes nobody.  The memory comes zeroed.
    mp_lock *lock = mmap(NULL, sizeof *lock, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (lock == MAP_FAILED)
        return -errno;
    // TODO(06): init_mutex() the mutex (unmap and return -err if it
    // fails), note whether the lock is recursive, and store it in *lockp.
    int err = init_mutex(&lock->mutex);
    if (err != 0) {
        munmap(lock, sizeof *lock);
        return -err;
    }
    lock->recursive = recursive != 0;
    *lockp = lock;
    return 0;
}

/* ------------------------------------------------------ who is calling */

// Only an RLock asks who is calling: write the Lock's acquire and release
// first, then come back here.

// TODO(06): cache the calling thread's id in `static _Thread_local pid_t
// cached_tid` (each thread has its own copy), and declare `static
// pthread_once_t fork_watch = PTHREAD_ONCE_INIT` for my_tid below.
// gettid() is a system call, about 100 ns: three times a whole uncontended
// acquire and release, and an RLock asks who is calling twice a round.
static _Thread_local pid_t cached_tid;
static pthread_once_t fork_watch = PTHREAD_ONCE_INIT;

// TODO(06): write `static void forget_tid(void)`: set cached_tid to 0.
// Run in every child that fork() makes (see watch_forks), it makes the
// child ask for its own id: fork() copies the parent's memory, caches
// included, and the child's thread has a new id.
static void
forget_tid(void)
{
    cached_tid = 0;
}

// TODO(06): write `static void watch_forks(void)`:
// pthread_atfork(NULL, NULL, forget_tid), so that forget_tid runs in the
// child of every later fork().
static void
watch_forks(void)
{
    pthread_atfork(NULL, NULL, forget_tid); // fails only for want of memory
}

// TODO(06): write `static pid_t my_tid(void)`: the calling thread's id.
// While cached_tid is 0, call pthread_once(&fork_watch, watch_forks) (it
// runs watch_forks once per process), then fill cached_tid in with
// gettid().  Return cached_tid.  The trap: a cache that survives fork()
// makes a child believe it is its parent, and take its parent's RLock for
// its own.  (pthread_self() has the same trap, built in: a forked child's
// is its parent's.)
static pid_t
my_tid(void)
{
    if (cached_tid == 0) {
        pthread_once(&fork_watch, watch_forks);
        cached_tid = gettid();
    }
    return cached_tid;
}

/* ------------------------------------------------------------ acquire */

// TODO(06): write `static int lock_mutex(pthread_mutex_t *mutex, int
// timeout_ms)`: lock the mutex, waiting up to timeout_ms; return 0,
// EOWNERDEAD (locked, from an owner that died), EAGAIN (a poll found it
// held), ETIMEDOUT, or another errno value, as the pthread calls do.
//  - -1 waits for ever: pthread_mutex_lock().
//  - 0 is a poll: pthread_mutex_trylock(), whose EBUSY is EAGAIN here.
//  - Otherwise wait until an absolute deadline: the time now on
//    CLOCK_MONOTONIC (clock_gettime) plus timeout_ms, with tv_nsec kept
//    below 1000000000, given to pthread_mutex_clocklock(mutex,
//    CLOCK_MONOTONIC, &deadline).  The traps: a relative time ("200 ms")
//    read as a date is in 1970, long past, so the call returns at once;
//    and the deadline must be on the clock the call uses.
//    pthread_mutex_timedlock() takes CLOCK_REALTIME, the clock that
//    jumps when someone sets the time.
static int
lock_mutex(pthread_mutex_t *mutex, int timeout_ms)
{
    if (timeout_ms < 0)
        return pthread_mutex_lock(mutex);
    if (timeout_ms == 0) {
        int err = pthread_mutex_trylock(mutex);
        return err == EBUSY ? EAGAIN : err;
    }
    struct timespec deadline;
    if (clock_gettime(CLOCK_MONOTONIC, &deadline) < 0)
        return errno;
    long nsec = deadline.tv_nsec + (long)(timeout_ms % 1000) * 1000000L;
    deadline.tv_sec += timeout_ms / 1000 + nsec / 1000000000L;
    deadline.tv_nsec = nsec % 1000000000L;
    return pthread_mutex_clocklock(mutex, CLOCK_MONOTONIC, &deadline);
}

int
mp_lock_acquire(mp_lock *lock, int timeout_ms)
{
    // TODO(06): reject a NULL lock and a timeout_ms below -1 with -EINVAL.
    if (lock == NULL || timeout_ms < -1)
        return -EINVAL;
    // TODO(06): an RLock already held by the caller is acquired again at
    // once: if its owner (atomic_load()) is this thread (my_tid()), count
    // one more and return 0.
    pid_t me = 0;
    if (lock->recursive) {
        me = my_tid();
        if (atomic_load(&lock->owner) == me) {
            lock->count++;
            return 0;
        }
    }
    // TODO(06): lock_mutex().  EOWNERDEAD means the caller holds the
    // mutex, but its owner died holding it: call
    // pthread_mutex_consistent() (or the next unlock leaves it
    // ENOTRECOVERABLE, unusable for good) and return MP_LOCK_RECOVERED
    // once the bookkeeping below is done, so that the caller knows the
    // data may be half-updated.  Any other error: return -err.
    int err = lock_mutex(&lock->mutex, timeout_ms);
    int ret = 0;
    if (err == EOWNERDEAD) {
        err = pthread_mutex_consistent(&lock->mutex);
        ret = MP_LOCK_RECOVERED;
    }
    if (err != 0)
        return -err;
    // TODO(06): an RLock now has a new owner: this thread (atomic_store()),
    // with a count of 1, whatever a dead owner left there.
    if (lock->recursive) {
        atomic_store(&lock->owner, me);
        lock->count = 1;
    }
    return ret;
}

/* ------------------------------------------------------------ release */

int
mp_lock_release(mp_lock *lock)
{
    // TODO(06): reject a NULL lock with -EINVAL.
    if (lock == NULL)
        return -EINVAL;
    // TODO(06): an RLock: -EPERM unless its owner is this thread (check
    // before touching the count: a caller that does not hold the lock must
    // change nothing).  Count one release; while acquires remain, return
    // 0.  At the last one, clear the owner (0), then unlock below.
    if (lock->recursive) {
        if (atomic_load(&lock->owner) != my_tid())
            return -EPERM;
        if (--lock->count > 0)
            return 0;
        atomic_store(&lock->owner, 0);
    }
    // TODO(06): pthread_mutex_unlock() and return -err.  A robust mutex
    // knows its owner: unlocking one that the caller does not hold fails
    // with EPERM, and that must reach the caller.
    return -pthread_mutex_unlock(&lock->mutex);
}

/* ------------------------------------------------------------ destroy */

int
mp_lock_destroy(mp_lock *lock)
{
    // TODO(06): reject a NULL lock with -EINVAL, then
    // pthread_mutex_destroy() and munmap() what mp_lock_create() mapped.
    if (lock == NULL)
        return -EINVAL;
    int err = pthread_mutex_destroy(&lock->mutex);
    if (munmap(lock, sizeof *lock) < 0)
        return -errno;
    return -err;
}
