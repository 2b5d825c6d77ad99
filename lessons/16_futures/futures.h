// futures.h - lesson 16: futures on a pool of worker processes.
#ifndef FORKLINGS_FUTURES_H
#define FORKLINGS_FUTURES_H

/**
 * @file futures.h
 * @brief Lesson 16: an executor that runs calls in worker processes and
 *        hands back a future for each, like Python's
 *        `concurrent.futures.ProcessPoolExecutor`.
 *
 * Python equivalent:
 * @code{.py}
 * from concurrent.futures import (ProcessPoolExecutor, as_completed, wait,
 *                                 FIRST_COMPLETED)
 *
 * with ProcessPoolExecutor(max_workers=4) as ex:  # shutdown(wait=True)
 *     f = ex.submit(fn, 7)                   # a Future, at once
 *     f.result(timeout=1)                    # the value, or raises
 *     f.cancel(); f.done(); f.running(); f.cancelled()
 *     fs = [ex.submit(fn, x) for x in range(10)]
 *     for f in as_completed(fs, timeout=5):  # in the order they finish
 *         print(f.result())
 *     done, not_done = wait(fs, 1, return_when=FIRST_COMPLETED)
 *     print(list(ex.map(fn, range(10))))     # in input order
 * @endcode
 *
 * A call is a function pointer and a `long`: the workers are forked from
 * the caller (Python's "fork" start method), so a pointer to a function
 * means the same function in every worker (lesson 03 says why "spawn"
 * would need names instead).  Python's exceptions become numbers: a call
 * that fails returns a positive code of its own choosing, and
 * mp_future_result() returns that code.  The executor's own outcomes are
 * negative errno values, so the two never mix:
 *
 * | Python                       | here                               |
 * |------------------------------|------------------------------------|
 * | `f.result()` returns `v`     | 0, `*value = v`                    |
 * | the call raised              | the call's positive code           |
 * | `TimeoutError`               | `-ETIMEDOUT` (the call goes on)    |
 * | `CancelledError`             | `-ECANCELED`                       |
 * | `BrokenProcessPool`          | `-EPIPE`                           |
 * | `RuntimeError` after shutdown| `-ESHUTDOWN` from submit           |
 *
 * The executor has no thread of its own.  What Python's manager thread
 * does (hand a pending call to an idle worker, read results, notice a
 * worker that died) happens inside this lesson's functions, in the
 * caller's thread, whenever one of them looks or waits.  The calls
 * themselves run in the workers, in the background.  One thread at a
 * time may use an executor and its futures.
 */

/// The most workers an executor may have.
#define MP_EXECUTOR_MAX_WORKERS 16

/// The most futures one mp_as_completed_begin() takes.
#define MP_AS_COMPLETED_MAX 64

/// An executor: worker processes and the calls waiting for them.  Opaque.
typedef struct mp_executor mp_executor;

/// The outcome, to come, of one call: Python's `Future`.  Opaque.
typedef struct mp_future mp_future;

/**
 * @brief A call the executor runs in a worker.
 * @param arg    its argument.
 * @param result where to store its value.
 * @return 0 on success; a positive code of your choosing (EDOM, say) if
 *         the call failed: Python's exception.  mp_future_result() hands
 *         it back as it is.  Do not return a negative value: those are
 *         the executor's own.
 * @note It runs in a worker process: what it changes in memory stays
 *       there; only *result and the return value come back.
 */
typedef int (*mp_fn)(long arg, long *result);

/// When mp_futures_wait() returns: Python's `return_when`.
enum mp_return_when {
    MP_FIRST_COMPLETED = 1, ///< once any future is done
    MP_FIRST_EXCEPTION = 2, ///< once any is done with an error, or all done
    MP_ALL_COMPLETED = 3,   ///< once every future is done
};

/**
 * @brief Start an executor: `ProcessPoolExecutor(max_workers)`.
 *
 * Every worker is forked at once, each with a socketpair of its own to the
 * executor, and waits there for a call.  A worker exits when its end
 * reaches EOF: once the executor is shut down, or if the caller dies.
 *
 * @param ex          receives the executor.
 * @param max_workers how many workers: 1 to #MP_EXECUTOR_MAX_WORKERS; 0
 *                    for one per online CPU (at most the maximum), as
 *                    Python's `max_workers=None`.
 * @return 0, with *ex set.  On failure nothing is left running or open.
 * @retval -EINVAL ex is NULL, or max_workers is negative or above
 *                 #MP_EXECUTOR_MAX_WORKERS (Python: ValueError).
 * @retval -ENOMEM no memory for the executor.
 * @retval -EAGAIN fork() failed.
 * @retval -EMFILE socketpair() failed: no descriptor free (or -ENFILE).
 * @note stdio buffers are flushed before each fork, so that a worker
 *       does not print the caller's buffered output again.
 */
int mp_executor_create(mp_executor **ex, int max_workers);

/**
 * @brief Submit a call and return at once: `ex.submit(fn, arg)`.
 *
 * The call goes to an idle worker at once (the future is then running),
 * or waits in the executor's queue, first in first out, until a worker is
 * free (the future is pending, and may still be cancelled).
 *
 * @param ex  the executor.
 * @param fn  the call.
 * @param arg its argument.
 * @param fut receives the future; free it with mp_future_free().
 * @return 0, with *fut set.
 * @retval -EINVAL    ex, fn or fut is NULL.
 * @retval -ESHUTDOWN the executor was shut down (Python: RuntimeError).
 * @retval -EPIPE     the executor is broken: a worker died (Python:
 *                    BrokenProcessPool).
 * @retval -ENOMEM    no memory for the future.
 */
int mp_executor_submit(mp_executor *ex, mp_fn fn, long arg, mp_future **fut);

/**
 * @brief Run fn on every item, results in input order: `list(ex.map(fn,
 *        items, timeout=...))`.
 *
 * Every item is submitted first; then the results are collected in input
 * order, within one deadline for them all.  On the first item (in input
 * order) that fails or is late, the items not yet started are cancelled
 * and that item's outcome is returned; out[] holds the results of the
 * items before it.
 *
 * @param ex         the executor.
 * @param fn         the call.
 * @param in         n arguments.
 * @param out        room for n results.
 * @param n          how many items; 0 returns 0 at once.
 * @param timeout_ms for all of them together: -1 for ever.
 * @return 0 once every item succeeded.
 * @return the first failing item's outcome, as mp_future_result() gives.
 * @retval -EINVAL in or out is NULL with n > 0, ex or fn is NULL, n is
 *                 negative, or timeout_ms is below -1.
 */
int mp_executor_map(mp_executor *ex, mp_fn fn, const long *in, long *out, int n,
                    int timeout_ms);

/**
 * @brief Shut the executor down: `ex.shutdown(wait, cancel_futures)`.
 *
 * From then on, submit fails with -ESHUTDOWN.  With cancel_futures, every
 * pending call is cancelled; running ones go on.  With wait, the call
 * returns once every call submitted has ended and every worker has exited
 * and been reaped.  Without wait it returns at once: the workers are
 * ended and reaped later, by whichever call of this lesson sees the last
 * call end, or at the latest by mp_executor_free().  Calling it again is
 * allowed.
 *
 * @param ex             the executor.
 * @param wait           1 to wait, 0 not to.
 * @param cancel_futures 1 to cancel the pending calls.
 * @return 0.
 * @retval -EINVAL ex is NULL.
 * @retval -ENOMEM poll() failed while waiting (or another -errno of
 *                 poll's): the executor stays shut down; call again.
 */
int mp_executor_shutdown(mp_executor *ex, int wait, int cancel_futures);

/**
 * @brief Shut down, wait, and free the executor: leaving Python's `with`.
 *
 * Futures stay valid (every one is done by then); free them with
 * mp_future_free().
 *
 * @param ex the executor; NULL does nothing.
 * @return 0.
 */
int mp_executor_free(mp_executor *ex);

/**
 * @brief Wait for a call's outcome: `f.result(timeout)`.
 *
 * While it waits, the executor works: it reads results, hands pending
 * calls to idle workers and notices workers that die.  The timeout is a
 * deadline on CLOCK_MONOTONIC, taken once: signals that interrupt the
 * wait neither end it early nor make it longer.
 *
 * @param fut        the future.
 * @param timeout_ms -1 for ever, 0 only looks.
 * @param value      receives the value on success (may be NULL).
 * @return 0 on success; the call's positive code if it failed.
 * @retval -ETIMEDOUT not done after timeout_ms: the call goes on, and a
 *                    later call may collect it (Python: TimeoutError).
 * @retval -ECANCELED the call was cancelled (Python: CancelledError).
 * @retval -EPIPE     a worker died: the executor is broken, and every call
 *                    pending or running then fails so.
 * @retval -EINVAL    fut is NULL or timeout_ms is below -1.
 * @retval -ENOMEM    poll() failed (or another -errno of poll's): the
 *                    future is unchanged.
 */
int mp_future_result(mp_future *fut, int timeout_ms, long *value);

/**
 * @brief Cancel a call: `f.cancel()`.
 *
 * Only a pending call can be cancelled: one that no worker has taken.
 * A cancelled future is done, and its result is -ECANCELED.
 *
 * @param fut the future.
 * @return 1 if it is cancelled (now or before); 0 if it is running or
 *         has finished, and goes on as it was.
 * @retval -EINVAL fut is NULL.
 */
int mp_future_cancel(mp_future *fut);

/**
 * @brief Whether the call is done: finished, failed or cancelled:
 *        `f.done()`.
 *
 * Looks once (without waiting) for results and dead workers first, so a
 * loop on it makes progress, as Python's does.
 *
 * @param fut the future.
 * @return 1 or 0.
 * @retval -EINVAL fut is NULL.
 * @retval -ENOMEM poll() failed (or another -errno of poll's).
 */
int mp_future_done(mp_future *fut);

/**
 * @brief Whether a worker is running the call now: `f.running()`.
 *
 * Looks once for news first, as mp_future_done() does.
 *
 * @param fut the future.
 * @return 1 or 0.
 * @retval -EINVAL fut is NULL.
 * @retval -ENOMEM poll() failed (or another -errno of poll's).
 */
int mp_future_running(mp_future *fut);

/**
 * @brief Whether the call was cancelled: `f.cancelled()`.
 * @param fut the future.
 * @return 1 or 0.
 * @retval -EINVAL fut is NULL.
 */
int mp_future_cancelled(mp_future *fut);

/**
 * @brief Give a future up.
 *
 * A pending call is cancelled first.  A running one is left to finish:
 * the executor frees the future when its result comes (Python's garbage
 * collector does this for a Future nobody holds).
 *
 * @param fut the future; NULL does nothing.  Do not use it afterwards.
 * @return 0.
 */
int mp_future_free(mp_future *fut);

/// The state of one `for f in as_completed(fs, timeout)`: fill it with
/// mp_as_completed_begin(), then call mp_as_completed_next().  Its fields
/// are the lesson's business, not the caller's.
struct mp_as_completed {
    mp_future *const *futs;                 ///< the futures
    int n;                                  ///< how many
    int given;                              ///< how many handed out
    long long deadline_ns;                  ///< CLOCK_MONOTONIC, -1: none
    mp_executor *ex;                        ///< theirs
    unsigned char out[MP_AS_COMPLETED_MAX]; ///< 1 once futs[i] is handed out
};

/**
 * @brief Begin `as_completed(futs, timeout)`.
 *
 * The deadline (timeout_ms from now) covers every later
 * mp_as_completed_next().
 *
 * @param it         the state, filled in.
 * @param futs       the futures; every one that is not done must come
 *                   from the same executor.
 * @param n          how many: 0 to #MP_AS_COMPLETED_MAX.
 * @param timeout_ms -1 for ever.
 * @return 0.
 * @retval -EINVAL it is NULL, futs or an entry is NULL, n is out of range,
 *                 timeout_ms is below -1, or futures not done come from
 *                 two executors.
 */
int mp_as_completed_begin(struct mp_as_completed *it, mp_future *const *futs,
                          int n, int timeout_ms);

/**
 * @brief The next future to finish: one step of `for f in
 *        as_completed(...)`.
 *
 * Futures come in the order they finished (cancelled ones count as
 * finished when cancelled), those done before the call too, each once.
 * It waits, working the executor, until one not yet given is done.
 *
 * @param it    the state from mp_as_completed_begin().
 * @param index receives the index in futs of the future.
 * @return 1 with *index set; 0 once every future has been given (Python's
 *         StopIteration).
 * @retval -ETIMEDOUT the deadline passed first (Python: TimeoutError).
 * @retval -EINVAL    it or index is NULL.
 * @retval -ENOMEM    poll() failed (or another -errno of poll's).
 */
int mp_as_completed_next(struct mp_as_completed *it, int *index);

/**
 * @brief Wait until futures are done: `wait(futs, timeout, return_when)`.
 *
 * @param futs        the futures, as mp_as_completed_begin() takes them.
 * @param n           how many, 0 or more.
 * @param timeout_ms  -1 for ever.
 * @param return_when an mp_return_when value.  MP_FIRST_EXCEPTION counts
 *                    a call that failed or a broken executor, not a
 *                    cancelled call.
 * @param done        n flags: done[i] = 1 if futs[i] is done, else 0.
 * @return how many are done (Python's `len(done)`), when the condition is
 *         met or the timeout has passed, which is not an error here.
 * @retval -EINVAL an argument is NULL or out of range.
 * @retval -ENOMEM poll() failed (or another -errno of poll's).
 */
int mp_futures_wait(mp_future *const *futs, int n, int timeout_ms,
                    int return_when, int *done);

#endif
