// queues.h - lesson 05: a bounded queue of byte messages between processes.
#ifndef FORKLINGS_QUEUES_H
#define FORKLINGS_QUEUES_H

#include <stddef.h>
#include <sys/types.h>

/**
 * @file queues.h
 * @brief Lesson 05: a bounded multi-producer, multi-consumer queue of byte
 *        messages in shared memory, for processes forked after it was
 *        created, like Python's multiprocessing.Queue.
 *
 * Python equivalent:
 * @code{.py}
 * q = multiprocessing.Queue(maxsize=8)     # before starting the processes
 * q.put(b"hello", block=True, timeout=0.5) # raises queue.Full on timeout
 * item = q.get(timeout=0.5)                # raises queue.Empty on timeout
 * q.put(None)                              # a sentinel: "no more items"
 * q.empty(), q.qsize()                     # snapshots, stale at once
 * @endcode
 *
 * Every queue is also a JoinableQueue: each put counts an unfinished task,
 * mp_queue_task_done() finishes one, and mp_queue_join() waits until none
 * is left.
 * @code{.py}
 * q = multiprocessing.JoinableQueue()
 * item = q.get(); work(item); q.task_done()  # in each consumer
 * q.join()                                   # every item put is done
 * @endcode
 *
 * Python's exceptions become return values: queue.Full is `-EAGAIN` from a
 * poll (timeout 0) of mp_queue_put() or `-ETIMEDOUT` when its timeout
 * expires, and queue.Empty is the same pair from mp_queue_get(), as with
 * mq_send(3) and mq_timedsend(3).  An empty message (length 0) plays the
 * part of Python's None sentinel.
 */

/// A queue in shared memory; its layout is private to queues.c.
typedef struct mp_queue mp_queue;

/**
 * @brief Create a queue for up to maxsize messages of up to max_msg bytes.
 *
 * The queue lives in anonymous shared memory: processes forked after this
 * call share it, unrelated processes cannot reach it, and there is no name
 * to remove afterwards.
 *
 * @param qp      where to store the new queue; must not be NULL.
 * @param maxsize how many messages it holds before put blocks (> 0;
 *                Python's maxsize, except that 0 does not mean unbounded).
 * @param max_msg the largest message, in bytes (> 0).
 * @return 0, with *qp set.
 * @retval -EINVAL qp is NULL, or maxsize or max_msg is 0.
 * @retval -ENOMEM the queue would not fit in memory (or its size in bytes
 *                 overflows a size_t).
 * @retval -EAGAIN (or another error number) pthread_mutex_init() or
 *                 pthread_cond_init() failed: minus what it returned;
 *                 nothing is left mapped.
 * @note Create the queue before fork(): a child reaches only the queues
 *       that existed when it was forked.
 */
int mp_queue_create(mp_queue **qp, size_t maxsize, size_t max_msg);

/**
 * @brief Add one message at the back of the queue, waiting for room.
 *
 * The message is copied in whole under the queue's lock, so messages from
 * several processes never interleave, however long they are.
 *
 * @param q          the queue.
 * @param buf        the message; may be NULL when len is 0.
 * @param len        its length, at most the queue's max_msg; 0 puts an
 *                   empty message, the sentinel mp_queue_consume() stops at.
 * @param timeout_ms how long to wait for room: -1 for ever, 0 not at all.
 * @return 0 once the message is in the queue, counted as an unfinished
 *         task (see mp_queue_join()) before any process can take it.
 * @retval -EAGAIN    the queue is full and timeout_ms is 0 (queue.Full).
 * @retval -ETIMEDOUT the queue was still full when timeout_ms had passed
 *                    (queue.Full).
 * @retval -EMSGSIZE  len is larger than the queue's max_msg.
 * @retval -EINVAL    q is NULL, buf is NULL with len > 0, or timeout_ms is
 *                    below -1.
 * @note A process blocked here holds its data hostage: a parent that joins
 *       it before draining the queue waits for ever.
 */
int mp_queue_put(mp_queue *q, const void *buf, size_t len, int timeout_ms);

/**
 * @brief Take the message at the front of the queue, waiting for one.
 *
 * @param q          the queue.
 * @param buf        where to copy the message.
 * @param cap        the size of buf: at least the queue's max_msg, so that
 *                   any message fits (mq_receive(3) asks the same).
 * @param timeout_ms how long to wait for a message: -1 for ever, 0 not at
 *                   all.
 * @return the message's length (0 for an empty message, the sentinel).
 * @retval -EAGAIN    the queue is empty and timeout_ms is 0 (queue.Empty).
 * @retval -ETIMEDOUT the queue was still empty when timeout_ms had passed
 *                    (queue.Empty).
 * @retval -EMSGSIZE  cap is smaller than the queue's max_msg; nothing was
 *                    taken.
 * @retval -EINVAL    q or buf is NULL, or timeout_ms is below -1.
 */
ssize_t mp_queue_get(mp_queue *q, void *buf, size_t cap, int timeout_ms);

/**
 * @brief Whether the queue holds no message at this instant.
 *
 * @param q the queue.
 * @return 1 if it is empty, 0 if not.
 * @retval -EINVAL q is NULL.
 * @note A snapshot: another process may put or get the moment after, so
 *       `if (!empty) get` may still block.  Never use it to decide that a
 *       producer is done; use a sentinel.
 */
int mp_queue_empty(mp_queue *q);

/**
 * @brief How many messages the queue holds at this instant.
 *
 * @param q the queue.
 * @return the number of messages, 0 to maxsize.
 * @retval -EINVAL q is NULL.
 * @note A snapshot, like mp_queue_empty().
 */
long mp_queue_qsize(mp_queue *q);

/**
 * @brief What mp_queue_consume() does with each message.
 * @param msg the message's bytes (valid only during the call).
 * @param len its length, > 0.
 * @param arg the pointer given to mp_queue_consume().
 */
typedef void (*mp_consumer)(const void *msg, size_t len, void *arg);

/**
 * @brief Get messages and hand each to fn until a sentinel arrives.
 *
 * Python's consumer loop: `for item in iter(q.get, None): fn(item)`.
 * Waits as long as it takes; stops at the first empty message, which it
 * takes but does not pass to fn, and leaves every message after it in the
 * queue.  With N consumers, put N sentinels: one ends each.
 *
 * @param q   the queue.
 * @param fn  called with each message before the sentinel.
 * @param arg passed to fn unchanged.
 * @return how many messages were passed to fn.
 * @retval -EINVAL q or fn is NULL.
 * @retval -ENOMEM no memory for a buffer of max_msg bytes.
 */
long mp_queue_consume(mp_queue *q, mp_consumer fn, void *arg);

/**
 * @brief Mark one task done: a message put earlier has been dealt with.
 *
 * Python's `JoinableQueue.task_done()`.  Each successful mp_queue_put()
 * adds one unfinished task, the sentinel too; each call here takes one
 * away, and the call that takes the last one wakes every process waiting
 * in mp_queue_join().
 *
 * @param q the queue.
 * @return 0.
 * @retval -EINVAL q is NULL, or no task is unfinished: it was called more
 *                 times than messages were put (Python's ValueError,
 *                 "task_done() called too many times"); the count stays
 *                 at 0.
 * @note It does not say which message is done: a consumer that dies
 *       between mp_queue_get() and this call leaves its task unfinished for
 *       ever.  The parent, once it has reaped that consumer, may call this
 *       for it.
 */
int mp_queue_task_done(mp_queue *q);

/**
 * @brief Wait until every message put has been marked done.
 *
 * Python's `JoinableQueue.join()`, with a timeout Python does not offer:
 * a consumer that dies between mp_queue_get() and mp_queue_task_done()
 * leaves a task that nobody will finish, and a join without a deadline
 * then waits for ever.  A join returns when the count of unfinished tasks
 * is 0, not when the queue is empty: a message taken and not yet marked
 * done still counts.
 *
 * @param q          the queue.
 * @param timeout_ms how long to wait: -1 for ever, 0 not at all.
 * @return 0 once no task is unfinished.
 * @retval -EAGAIN    tasks are unfinished and timeout_ms is 0.
 * @retval -ETIMEDOUT tasks were still unfinished when timeout_ms had
 *                    passed (measured on CLOCK_MONOTONIC).
 * @retval -EINVAL    q is NULL, or timeout_ms is below -1.
 * @note A signal handler that runs during the wait does not end it:
 *       pthread_cond_wait(3) and pthread_cond_timedwait(3) never fail with
 *       EINTR, and the deadline is absolute, so it is kept.
 */
int mp_queue_join(mp_queue *q, int timeout_ms);

/**
 * @brief How many tasks are unfinished at this instant: messages put and
 *        not yet marked done.
 *
 * @param q the queue.
 * @return the count, 0 or more.
 * @retval -EINVAL q is NULL.
 * @note A snapshot, like mp_queue_qsize(); Python has no such call (its
 *       count hides in a semaphore).
 */
long mp_queue_unfinished(mp_queue *q);

/**
 * @brief Destroy the queue's lock and conditions and unmap its memory.
 *
 * @param q the queue; unusable afterwards.
 * @return 0.
 * @retval -EINVAL q is NULL.
 * @note Call it once, in the process that created the queue, after every
 *       process that used it has ended: destroying a condition variable
 *       while a process waits on it is undefined (glibc waits for ever).
 *       A child that used the queue just ends; its mapping goes with it.
 */
int mp_queue_destroy(mp_queue *q);

#endif
