// locks.h - lesson 06: Lock and RLock, a robust mutex shared by processes.
#ifndef FORKLINGS_LOCKS_H
#define FORKLINGS_LOCKS_H

/**
 * @file locks.h
 * @brief Lesson 06: a lock that processes forked after its creation share,
 *        like Python's multiprocessing.Lock and RLock, built on a robust,
 *        process-shared pthread mutex in shared memory.
 *
 * Python equivalent:
 * @code{.py}
 * lock = multiprocessing.Lock()       # RLock() for a recursive one
 * lock.acquire()                      # block=True, timeout=None
 * if lock.acquire(timeout=0.2):       # False when the timeout expired
 *     lock.release()
 * lock.acquire(block=False)           # a poll: True or False at once
 * with lock:                          # acquire(), then release() on exit
 *     counter.value += 1
 * @endcode
 *
 * Python's False becomes an error value: `-EAGAIN` from a poll (timeout 0)
 * and `-ETIMEDOUT` when a timeout expires.  Unlike Python's Lock, which is
 * a semaphore that any process may release, this lock has an owner: only
 * the thread that acquired it can release it.  That owner is what lets the
 * next process recover the lock when its owner dies holding it.
 */

/// A lock in shared memory; its layout is private to locks.c.
typedef struct mp_lock mp_lock;

/// What mp_lock_acquire() returns when it took the lock from an owner that
/// had died holding it: the lock is yours, but the data it guards may have
/// been left half-updated.
#define MP_LOCK_RECOVERED 1

/**
 * @brief Create a lock, free, in anonymous shared memory.
 *
 * Processes forked after this call share the lock; unrelated processes
 * cannot reach it, and there is no name to remove afterwards.
 *
 * @param lockp     where to store the new lock; must not be NULL.
 * @param recursive 0 for a Lock, anything else for an RLock, which its
 *                  owner may acquire again and must release as many times.
 * @return 0, with *lockp set.
 * @retval -EINVAL lockp is NULL.
 * @retval -ENOMEM no memory for the lock.
 * @retval -EAGAIN (or another error number) pthread_mutex_init() failed:
 *                 minus what it returned; nothing is left mapped.
 * @note Create the lock before fork(): a child reaches only the locks that
 *       existed when it was forked.
 */
int mp_lock_create(mp_lock **lockp, int recursive);

/**
 * @brief Acquire the lock, waiting up to timeout_ms for it.
 *
 * The timeout runs on CLOCK_MONOTONIC: setting the system clock neither
 * shortens nor stretches it.  The owner of an RLock acquires it again at
 * once; the owner of a Lock that acquires it again waits like anyone else
 * (for ever, with -1), as in Python.
 *
 * @param lock       the lock.
 * @param timeout_ms how long to wait: -1 for ever, 0 not at all (a poll).
 * @return 0 once the caller holds the lock.
 * @retval MP_LOCK_RECOVERED the caller holds the lock, taken from an owner
 *                    that died holding it: check or repair the data it
 *                    guards.  The lock itself is usable again.
 * @retval -EAGAIN    the lock is held and timeout_ms is 0 (Python: False).
 * @retval -ETIMEDOUT the lock was still held when timeout_ms had passed
 *                    (Python: False).
 * @retval -EINVAL    lock is NULL or timeout_ms is below -1.
 * @note A child forked while its parent holds the lock does not hold it:
 *       the owner is the parent's thread.
 */
int mp_lock_acquire(mp_lock *lock, int timeout_ms);

/**
 * @brief Release the lock: once for each acquire, for an RLock.
 *
 * @param lock the lock, held by the calling thread.
 * @return 0.  An RLock acquired n times is free after the n-th release.
 * @retval -EPERM  the calling thread does not hold the lock: it is free,
 *                 or another thread or process holds it (Python raises
 *                 ValueError for an unheld Lock, AssertionError for an
 *                 RLock it does not own).
 * @retval -EINVAL lock is NULL.
 */
int mp_lock_release(mp_lock *lock);

/**
 * @brief Destroy the lock and unmap its memory.
 *
 * @param lock the lock; unusable afterwards.
 * @return 0.
 * @retval -EINVAL lock is NULL.
 * @note Call it once, in the process that created the lock, after every
 *       other process that used it has ended.  A child that used the lock
 *       just ends; its mapping goes with it.
 */
int mp_lock_destroy(mp_lock *lock);

#endif
