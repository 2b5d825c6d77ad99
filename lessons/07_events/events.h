// events.h - lesson 07: Event, a flag that processes can wait for.
#ifndef FORKLINGS_EVENTS_H
#define FORKLINGS_EVENTS_H

#include <pthread.h>

/**
 * @file events.h
 * @brief Lesson 07: an event that processes forked after its creation
 *        share, like Python's multiprocessing.Event: a flag, the mutex
 *        that guards it, and a condition variable that waiters sleep on,
 *        all in anonymous shared memory.
 *
 * Python equivalent:
 * @code{.py}
 * ev = multiprocessing.Event()        # starts clear
 * p = Process(target=worker, args=(ev,)); p.start()
 * ev.set()                            # wakes every process waiting
 * ev.is_set()                         # True
 * ev.clear()
 * ev.wait(0.2)                        # False: the timeout expired
 * ev.wait()                           # blocks until someone sets it
 * @endcode
 *
 * Python's True and False become 1 and 0; errors are negative errno
 * values.  Timeouts are in milliseconds, not seconds.
 */

/**
 * @brief An event, as it lies in shared memory.
 *
 * mp_event_create() makes one; every process forked afterwards shares it.
 * The fields are shown so that the tests can look inside, as a debugger
 * would, and make a race happen on purpose.  Your code reaches them only
 * through the functions below, and touches `flag` only while it holds
 * `lock`.
 */
typedef struct mp_event {
    pthread_mutex_t lock; ///< guards flag; shared by processes
    pthread_cond_t cond;  ///< waiters sleep here; shared, on CLOCK_MONOTONIC
    int flag;             ///< 1 while the event is set, 0 while it is clear
} mp_event;

/**
 * @brief Create an event, clear, in anonymous shared memory.
 *
 * Processes forked after this call share the event; unrelated processes
 * cannot reach it, and there is no name to remove afterwards.
 *
 * @param evp where to store the new event; must not be NULL.
 * @return 0, with *evp set.
 * @retval -EINVAL evp is NULL.
 * @retval -ENOMEM no memory for the event.
 * @retval -EAGAIN (or another error number) pthread_mutex_init() or
 *                 pthread_cond_init() failed: minus what it returned;
 *                 nothing is left mapped.
 * @note Create the event before fork(): a child reaches only the events
 *       that existed when it was forked.
 */
int mp_event_create(mp_event **evp);

/**
 * @brief Set the event and wake every process waiting for it.
 *
 * Like `Event.set()`.  Setting an event that is already set changes
 * nothing.
 *
 * @param ev the event.
 * @return 0.
 * @retval -EINVAL ev is NULL.
 * @retval -EAGAIN (or another error number) pthread_mutex_lock() failed:
 *                 minus what it returned; nothing changed, nothing unlocked.
 */
int mp_event_set(mp_event *ev);

/**
 * @brief Clear the event: later waits block until it is set again.
 *
 * Like `Event.clear()`.
 *
 * @param ev the event.
 * @return 0.
 * @retval -EINVAL ev is NULL.
 * @retval -EAGAIN (or another error number) pthread_mutex_lock() failed:
 *                 minus what it returned; nothing changed, nothing unlocked.
 */
int mp_event_clear(mp_event *ev);

/**
 * @brief Whether the event is set, like `Event.is_set()`.
 *
 * @param ev the event.
 * @return 1 if it is set, 0 if it is clear.
 * @retval -EINVAL ev is NULL.
 * @retval -EAGAIN (or another error number) pthread_mutex_lock() failed:
 *                 minus what it returned; nothing changed, nothing unlocked.
 * @note The answer may be out of date by the time the caller reads it:
 *       another process may set or clear the event at any moment.
 */
int mp_event_is_set(mp_event *ev);

/**
 * @brief Wait until the event is set, or until timeout_ms have passed.
 *
 * Like `Event.wait(timeout)`.  Returns at once if the event is already
 * set.  The timeout is a deadline on CLOCK_MONOTONIC, fixed when the call
 * starts: wake-ups that find the event still clear (spurious ones, or a
 * set undone by a clear before this waiter ran) neither end the wait
 * early nor make it longer, and setting the system clock changes nothing.
 *
 * @param ev         the event.
 * @param timeout_ms how long to wait: -1 for ever, 0 not at all (a poll).
 * @return 1 if the event is set (on entry, or when the waiter last looked,
 *         even if that was as the deadline passed), 0 if the timeout
 *         expired with the event still clear (Python: False).
 * @retval -EINVAL ev is NULL or timeout_ms is below -1.
 * @retval -EAGAIN (or another error number) pthread_mutex_lock() failed:
 *                 minus what it returned; nothing changed, nothing unlocked.
 * @note Signals do not interrupt the wait: there is no EINTR to handle.
 * @note Threads may wait too, several in one process at once, as with
 *       Python's Event: each wait has its own deadline.
 */
int mp_event_wait(mp_event *ev, int timeout_ms);

/**
 * @brief Unmap the event's memory.
 *
 * @param ev the event, or NULL (nothing is done).  Unusable afterwards.
 * @return 0.
 * @retval -EINVAL ev does not start a page, so it cannot be an event made
 *                 by mp_event_create() (munmap refuses it).
 * @note Call it once, in the process that created the event, after every
 *       other process that used it has ended, even if one was killed while
 *       it waited.  A child that used the event just ends; its mapping
 *       goes with it.
 */
int mp_event_destroy(mp_event *ev);

#endif
