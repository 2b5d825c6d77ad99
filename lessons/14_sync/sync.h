// sync.h - lesson 14: Semaphore, Condition and Barrier across processes.
#ifndef FORKLINGS_SYNC_H
#define FORKLINGS_SYNC_H

#include <pthread.h>
#include <semaphore.h>

/**
 * @file sync.h
 * @brief Lesson 14: the rest of Python's synchronisation primitives, for
 *        processes forked after their creation: a (bounded) semaphore, a
 *        condition variable with its lock, and a reusable barrier, each
 *        in anonymous shared memory.
 *
 * Python equivalent:
 * @code{.py}
 * s = multiprocessing.BoundedSemaphore(2)
 * s.acquire(timeout=0.1)            # True, or False after 100 ms
 * s.release()                       # ValueError past the bound
 * c = multiprocessing.Condition()
 * with c:
 *     c.wait_for(lambda: ready.value, timeout=0.2)
 *     c.notify_all()
 * b = multiprocessing.Barrier(3)
 * i = b.wait(timeout=1)             # 0, 1 or 2; BrokenBarrierError
 * b.abort(); b.reset(); b.broken
 * @endcode
 *
 * True and False become 1 and 0 (or 0 and an error); Python's exceptions
 * become negative errno values.  Timeouts are in milliseconds: -1 waits
 * for ever, 0 only looks.
 *
 * The structs are shown so that the tests can look inside, as a debugger
 * would, and make a race happen on purpose (hold a lock across a window,
 * kill a process that holds it).  Your code reaches them only through the
 * functions below; callers treat the pointers as opaque handles.
 */

/* ------------------------------------------------------------ semaphore */

/**
 * @brief A semaphore, as it lies in shared memory.
 *
 * The count is the POSIX semaphore's.  Releases of a bounded semaphore
 * take `release_lock`, so that the check against the bound and the post
 * are one step for every other releaser.
 */
typedef struct mp_sem {
    sem_t sem;                    ///< the count; sem_init with pshared 1
    pthread_mutex_t release_lock; ///< serialises releases; process-shared
    int bound;                    ///< the highest value, or -1: no bound
} mp_sem;

/**
 * @brief Create a semaphore in anonymous shared memory.
 *
 * Like `Semaphore(value)`, or `BoundedSemaphore(value)` when bounded is
 * non-zero: then value is also the highest value release may reach.
 *
 * @param sp      where to store the new semaphore; must not be NULL.
 * @param value   the initial count, 0 or more.
 * @param bounded non-zero for a bounded semaphore.
 * @return 0, with *sp set.
 * @retval -EINVAL sp is NULL or value is negative.
 * @retval -ENOMEM no memory for the semaphore.
 * @retval -EAGAIN (or another error number) pthread_mutex_init() failed:
 *                 minus what it returned; nothing is left mapped.
 * @note Create it before fork(): a child reaches only the semaphores that
 *       existed when it was forked.
 */
int mp_sem_create(mp_sem **sp, int value, int bounded);

/**
 * @brief Take one from the count, waiting up to timeout_ms for it to be
 *        above zero.
 *
 * Like `acquire(block, timeout)`.  The deadline is on CLOCK_MONOTONIC,
 * fixed when the call starts: setting the system clock changes nothing,
 * and signals neither end the wait nor make it longer.
 *
 * @param s          the semaphore.
 * @param timeout_ms -1 for ever, 0 only looks (`acquire(False)`).
 * @return 0 once one was taken (Python: True).
 * @retval -EAGAIN    the count was 0 and timeout_ms is 0 (Python: False).
 * @retval -ETIMEDOUT the count stayed 0 for timeout_ms (Python: False).
 * @retval -EINVAL    s is NULL or timeout_ms is below -1.
 * @note A signal handler that runs during the wait does not end it: the
 *       call goes on waiting until the same deadline.
 */
int mp_sem_acquire(mp_sem *s, int timeout_ms);

/**
 * @brief Add one to the count, waking one waiter if any.
 *
 * Like `release()`.  A bounded semaphore refuses to go past its bound,
 * as Python's BoundedSemaphore raises ValueError.
 *
 * @param s the semaphore.
 * @return 0.
 * @retval -EOVERFLOW the semaphore is bounded and already at its bound
 *                    (Python: ValueError), or at SEM_VALUE_MAX.
 * @retval -EINVAL    s is NULL.
 */
int mp_sem_release(mp_sem *s);

/**
 * @brief The count, like `get_value()`.
 * @param s the semaphore.
 * @return the count, >= 0; out of date as soon as another process moves it.
 * @retval -EINVAL s is NULL.
 */
int mp_sem_value(mp_sem *s);

/**
 * @brief Unmap the semaphore.
 * @param s the semaphore, or NULL (nothing is done).  Unusable afterwards.
 * @return 0.
 * @retval -EINVAL s does not start a page (munmap refuses it).
 * @note Call it once, after every other process that used it has ended.
 */
int mp_sem_destroy(mp_sem *s);

/* ------------------------------------------------------------ condition */

/**
 * @brief A condition variable and the lock it goes with, in shared memory.
 */
typedef struct mp_cond {
    pthread_mutex_t lock; ///< process-shared, error-checking
    pthread_cond_t cond;  ///< process-shared, timed on CLOCK_MONOTONIC
} mp_cond;

/**
 * @brief Create a condition with its own lock, in anonymous shared memory.
 *
 * Like `Condition()`, whose lock is not recursive here: acquiring it
 * twice is an error, not a count.
 *
 * @param cp where to store the new condition; must not be NULL.
 * @return 0, with *cp set.
 * @retval -EINVAL cp is NULL.
 * @retval -ENOMEM no memory for the condition.
 * @retval -EAGAIN (or another error number) pthread_mutex_init() or
 *                 pthread_cond_init() failed: minus what it returned;
 *                 nothing is left mapped.
 * @note Create it before fork().
 */
int mp_cond_create(mp_cond **cp);

/**
 * @brief Take the condition's lock, like `acquire(timeout)` or `with c:`.
 * @param c          the condition.
 * @param timeout_ms -1 for ever, 0 only tries.
 * @return 0 once the caller holds the lock.
 * @retval -EAGAIN    the lock is held and timeout_ms is 0.
 * @retval -ETIMEDOUT the lock was still held after timeout_ms.
 * @retval -EDEADLK   the calling thread holds it already.
 * @retval -EINVAL    c is NULL or timeout_ms is below -1.
 */
int mp_cond_acquire(mp_cond *c, int timeout_ms);

/**
 * @brief Let go of the condition's lock.
 * @param c the condition.
 * @return 0.
 * @retval -EPERM  the calling thread does not hold the lock.
 * @retval -EINVAL c is NULL.
 */
int mp_cond_release(mp_cond *c);

/**
 * @brief Let go of the lock, sleep until notified or until timeout_ms,
 *        take the lock back: `wait(timeout)`.
 *
 * The caller must hold the lock, and holds it again when the call
 * returns, whatever it returns (but -EPERM).  A return of 1 proves
 * nothing about the state the caller waits for: wake-ups may be spurious.
 * Test the state again, or use mp_cond_wait_for().
 *
 * @param c          the condition.
 * @param timeout_ms -1 for ever, 0 only lets go of the lock and takes it
 *                   back.
 * @return 1 if woken (Python: True), 0 if the timeout expired (False).
 * @retval -EPERM  the calling thread does not hold the lock.
 * @retval -EINVAL c is NULL or timeout_ms is below -1.
 * @note Signals do not interrupt the wait.
 */
int mp_cond_wait(mp_cond *c, int timeout_ms);

/**
 * @brief Wait until pred(arg) is non-zero, or until timeout_ms have
 *        passed: `wait_for(predicate, timeout)`.
 *
 * The caller must hold the lock.  pred is called with the lock held:
 * first before any wait (a notify sent before this call is not lost),
 * then after every wake-up, and once more when the deadline passes.  The
 * deadline is on CLOCK_MONOTONIC and fixed when the call starts, so
 * wake-ups that find pred still false neither end the wait nor make it
 * longer.
 *
 * @param c          the condition.
 * @param pred       the predicate; reads state that the lock guards.
 * @param arg        passed to pred.
 * @param timeout_ms -1 for ever, 0 only tests pred.
 * @return 1 if pred returned non-zero, 0 if it was still zero at the
 *         deadline (Python returns the predicate's last value).
 * @retval -EPERM  the calling thread does not hold the lock (reported only
 *                 when the call has to wait).
 * @retval -EINVAL c or pred is NULL, or timeout_ms is below -1.
 */
int mp_cond_wait_for(mp_cond *c, int (*pred)(void *arg), void *arg,
                     int timeout_ms);

/**
 * @brief Wake up to n processes waiting on the condition: `notify(n)`.
 *
 * @param c the condition.
 * @param n how many to wake, at most; 0 wakes none.
 * @return 0.
 * @retval -EINVAL c is NULL or n is negative.
 * @note Call it while holding the lock, after changing the state the
 *       waiters test: Python checks that you hold it, this function does
 *       not.
 */
int mp_cond_notify(mp_cond *c, int n);

/**
 * @brief Wake every process waiting on the condition: `notify_all()`.
 * @param c the condition.
 * @return 0.
 * @retval -EINVAL c is NULL.
 * @note Call it while holding the lock, as mp_cond_notify().
 */
int mp_cond_notify_all(mp_cond *c);

/**
 * @brief Unmap the condition.
 * @param c the condition, or NULL (nothing is done).
 * @return 0.
 * @retval -EINVAL c does not start a page (munmap refuses it).
 * @note Do not call pthread_cond_destroy: it waits for every waiter to
 *       leave, and one killed in its wait never does (lesson 07).
 */
int mp_cond_destroy(mp_cond *c);

/* -------------------------------------------------------------- barrier */

/**
 * @brief A reusable barrier, as it lies in shared memory.
 *
 * `count` parties of generation `generation` have arrived.  The last one
 * starts the next generation and wakes the others.  `broken` stays set
 * until mp_barrier_reset().  `reset_from` is the generation that the
 * last reset ended, so that its waiters know they did not pass.
 */
typedef struct mp_barrier {
    pthread_mutex_t lock; ///< guards the rest; process-shared and robust
    pthread_cond_t cond;  ///< waiters sleep here; shared, CLOCK_MONOTONIC
    int parties;          ///< how many must arrive for all to pass
    int count;            ///< how many of this generation have arrived
    unsigned generation;  ///< one more each time the barrier trips or resets
    unsigned reset_from;  ///< the generation the last reset ended
    int broken;           ///< 1 once broken, until mp_barrier_reset
} mp_barrier;

/**
 * @brief Create a barrier for parties processes: `Barrier(parties)`.
 * @param bp      where to store the new barrier; must not be NULL.
 * @param parties how many must call mp_barrier_wait() for all to pass;
 *                at least 1.
 * @return 0, with *bp set.
 * @retval -EINVAL bp is NULL or parties is below 1.
 * @retval -ENOMEM no memory for the barrier.
 * @retval -EAGAIN (or another error number) pthread_mutex_init() or
 *                 pthread_cond_init() failed: minus what it returned;
 *                 nothing is left mapped.
 * @note Create it before fork().
 */
int mp_barrier_create(mp_barrier **bp, int parties);

/**
 * @brief Wait until parties processes have called this, then all pass:
 *        `wait(timeout)`.
 *
 * The barrier can be used again at once: the next parties callers make the
 * next generation.  A party whose timeout passes breaks the barrier, as in
 * Python, and so does abort, a reset while parties wait, and a process that
 * died holding the barrier's lock (the robust mutex reports EOWNERDEAD to
 * the next process that takes it).
 *
 * @param b          the barrier.
 * @param timeout_ms -1 for ever, 0 only passes if this is the last party.
 * @return this party's index, 0 to parties - 1, in order of arrival: the
 *         last to arrive gets parties - 1.
 * @retval -EPIPE     the barrier is broken, or broke or was reset while
 *                    this party waited (Python: BrokenBarrierError).
 * @retval -ETIMEDOUT timeout_ms passed before the others arrived; the
 *                    barrier is now broken (Python: BrokenBarrierError).
 * @retval -EINVAL    b is NULL or timeout_ms is below -1.
 * @note Signals do not interrupt the wait.  A party killed while it sleeps
 *       here leaves the condition variable unusable (lesson 07): do not go
 *       on using a barrier after one of its parties was killed in it.
 */
int mp_barrier_wait(mp_barrier *b, int timeout_ms);

/**
 * @brief Break the barrier: every party waiting, and every later one,
 *        gets -EPIPE until mp_barrier_reset(): `abort()`.
 * @param b the barrier.
 * @return 0.
 * @retval -EINVAL b is NULL.
 */
int mp_barrier_abort(mp_barrier *b);

/**
 * @brief Make the barrier empty and unbroken again: `reset()`.
 *
 * Parties waiting when it is called return -EPIPE, as in Python.
 *
 * @param b the barrier.
 * @return 0.
 * @retval -EINVAL b is NULL.
 * @note A party still asleep here through a reset, a whole generation
 *       and a second reset would be told it passed: reset only when you
 *       know where the parties are, as Python's documentation says.
 */
int mp_barrier_reset(mp_barrier *b);

/**
 * @brief Whether the barrier is broken: `broken`.
 * @param b the barrier.
 * @return 1 if broken, 0 if not.
 * @retval -EINVAL b is NULL.
 */
int mp_barrier_broken(mp_barrier *b);

/**
 * @brief Unmap the barrier.
 * @param b the barrier, or NULL (nothing is done).
 * @return 0.
 * @retval -EINVAL b does not start a page (munmap refuses it).
 * @note Call it once, after every other process that used it has ended.
 */
int mp_barrier_destroy(mp_barrier *b);

#endif
