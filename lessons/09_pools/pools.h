// pools.h - lesson 09: a pool of worker processes: map, apply_async, join.
#ifndef FORKLINGS_POOLS_H
#define FORKLINGS_POOLS_H

#include <stddef.h>
#include <sys/types.h>

/**
 * @file pools.h
 * @brief Lesson 09: a pool of worker processes, fed chunks of work over
 *        one socketpair each, the way Python's `multiprocessing.Pool` is.
 *
 * Python equivalent:
 * @code{.py}
 * from multiprocessing import Pool
 *
 * def square(x):
 *     return x * x
 *
 * def minus(a, b):
 *     return a - b
 *
 * if __name__ == "__main__":
 *     with Pool(4) as pool:                        # 4 worker processes
 *         print(pool.map(square, [1, 2, 3, 4]))    # [1, 4, 9, 16]
 *         print(pool.starmap(minus, [(5, 1), (9, 2)]))  # [4, 7]
 *         r = pool.apply_async(square, (7,), callback=print,
 *                              error_callback=print)
 *         r.get(timeout=1)                         # 49, or TimeoutError
 *         m = pool.map_async(square, range(10), callback=print)
 *         m.get(timeout=1)                         # the whole list
 *         for y in pool.imap(square, range(10)):
 *             ...                                  # in input order
 *         for y in pool.imap_unordered(square, range(10)):
 *             ...                                  # in completion order
 *         pool.close()                             # no more tasks
 *         pool.join()                              # wait for the workers
 * @endcode
 *
 * A task is a function pointer and a `long`: the workers are forked from
 * the pool's process (Python's "fork" start method), so they hold the same
 * program at the same addresses, and a pointer to a function means the same
 * function in every one of them.  (Under "spawn" it would not: lesson 03.)
 *
 * The pool has no thread of its own.  Everything it does in the caller's
 * process (handing queued tasks to idle workers, reading results, calling
 * callbacks, replacing a worker that died) happens inside the pool's
 * functions, in the caller's thread: during mp_pool_map(),
 * mp_pool_starmap(), mp_pool_imap(), mp_pool_imap_unordered(),
 * mp_pool_apply(), mp_pool_apply_async(), mp_pool_map_async(),
 * mp_result_get(), mp_pool_join() and mp_pool_terminate().  The tasks
 * themselves run in the workers, in the background.  One thread at a time
 * may use a pool.
 */

/// A pool of worker processes: an opaque handle.
typedef struct mp_pool mp_pool;

/// The result of mp_pool_apply_async() or mp_pool_map_async(), to be
/// collected later: Python's `AsyncResult`.  An opaque handle.
typedef struct mp_result mp_result;

/**
 * @brief A task: the function a worker runs on one item.
 * @param arg    the item.
 * @param result where to store the item's result.
 * @return 0 (or any value >= 0) on success; a negative errno value, such
 *         as -EDOM, to report that this item failed.  The pool carries the
 *         error back to the caller with the item's index.
 * @note It runs in a worker process: what it changes in memory stays in
 *       that worker; only *result (and the error) come back.
 */
typedef int (*mp_task)(long arg, long *result);

/**
 * @brief A task of two arguments, for mp_pool_starmap(): Python's
 *        `def f(a, b)`, called as `f(*pair)`.
 * @param a      the pair's first member.
 * @param b      its second.
 * @param result where to store the pair's result.
 * @return as mp_task: 0 (or more) on success, a negative errno value to
 *         report that this item failed.
 * @note It runs in a worker process, as mp_task does.
 */
typedef int (*mp_task2)(long a, long b, long *result);

/// One item of mp_pool_starmap(): the tuple `(a, b)` of Python's
/// `pool.starmap(f, [(a, b), ...])`.
struct mp_pair {
    long a; ///< the task's first argument
    long b; ///< its second argument
};

/**
 * @brief Called with a task's result: apply_async's and map_async's
 *        `callback`.
 * @param value what the task stored in *result; for mp_pool_map_async(),
 *              the number of results, which are in its out array.
 * @param ctx   the pointer given to mp_pool_apply_async() or
 *              mp_pool_map_async().
 * @note Runs in the caller's process, inside a pool function (see the
 *       file's description).  It must return quickly and must not call
 *       the pool's functions.
 */
typedef void (*mp_callback)(long value, void *ctx);

/**
 * @brief Called with a task's error: apply_async's and map_async's
 *        `error_callback`.
 * @param err the task's negative errno value (a map's: that of its lowest
 *            failing item); -EPIPE if its worker died while running it;
 *            -ECANCELED if mp_pool_terminate() ended it.
 * @param ctx the pointer given to mp_pool_apply_async() or
 *            mp_pool_map_async().
 * @note Runs in the caller's process, as mp_callback does.
 */
typedef void (*mp_error_callback)(int err, void *ctx);

/**
 * @brief Called by mp_pool_imap_unordered() for each item that succeeded,
 *        as its chunk comes back; by mp_pool_imap() in input order.
 * @param index the item's index in the input array.
 * @param value its result.
 * @param ctx   the pointer given to mp_pool_imap_unordered() or
 *              mp_pool_imap().
 * @note Runs in the caller's process, as mp_callback does.
 */
typedef void (*mp_item_callback)(size_t index, long value, void *ctx);

/**
 * @brief Start a pool of worker processes: Python's `Pool(nworkers)`.
 *
 * Each worker is forked at once and waits for chunks of work on its own
 * socketpair with the pool.  A worker exits when its channel reaches EOF:
 * when the pool is joined, and also when the pool's process dies.
 *
 * @param pool     receives the pool.
 * @param nworkers how many workers; 0 for one per online CPU, as Python's
 *                 `Pool()` does.
 * @return 0, with *pool set; on failure nothing is left running or open.
 * @retval -EINVAL  pool is NULL or nworkers is negative.
 * @retval -ENOMEM  no memory for the pool.
 * @retval -EAGAIN  fork() failed: too many processes.
 * @retval -EMFILE  too many descriptors open (one per worker is needed).
 * @note The caller's stdio buffers are flushed before each fork.  Forking
 *       a program that runs other threads copies only the calling thread:
 *       create pools before starting threads (lesson 03).
 */
int mp_pool_create(mp_pool **pool, int nworkers);

/**
 * @brief Apply fn to every item, in parallel, results in input order:
 *        Python's `pool.map(fn, items, chunksize)`.
 *
 * The items are cut into chunks of `chunksize` consecutive items; each
 * chunk goes to an idle worker as one message and comes back as one
 * message.  out[i] receives fn's result for in[i], whatever the order in
 * which the chunks finish.  Blocks until every chunk is back.
 *
 * @param pool      a pool that is not closed.
 * @param fn        the task.
 * @param in        count items.
 * @param out       room for count results; may be the same array as in.
 * @param count     how many items; 0 returns 0 at once.
 * @param chunksize items per chunk; 0 for Python's rule: count divided by
 *                  four times the number of workers, rounded up.
 * @param failed    if not NULL and an item fails, receives its index.
 * @return 0 once every item has succeeded.
 * @return the error of the failing item with the lowest index: the task's
 *         own negative value, or -EPIPE if the worker running that item
 *         died.  Every chunk is still run; out is unspecified for the
 *         failing item and the rest of its chunk, which is not run.
 * @retval -EINVAL pool or fn is NULL, in or out is NULL with count > 0,
 *                 or the pool is closed.
 * @retval -EAGAIN every worker died and none could be started again: the
 *                 pool is terminated.
 * @note A dead worker is noticed at once (its end of the socketpair reaches
 *       EOF), reaped and replaced: the pool stays usable.
 */
int mp_pool_map(mp_pool *pool, mp_task fn, const long *in, long *out,
                size_t count, size_t chunksize, size_t *failed);

/**
 * @brief Apply a task of two arguments to every pair, in parallel, results
 *        in input order: Python's `pool.starmap(fn, pairs, chunksize)`.
 *
 * out[i] receives fn(in[i].a, in[i].b); otherwise as mp_pool_map(), the
 * chunksize rule included.
 *
 * @param pool      a pool that is not closed.
 * @param fn        the task, called with each pair's members in order.
 * @param in        count pairs.
 * @param out       room for count results.
 * @param count     how many pairs; 0 returns 0 at once.
 * @param chunksize pairs per chunk; 0 for Python's rule, as mp_pool_map().
 * @param failed    if not NULL and a pair fails, receives its index.
 * @return as mp_pool_map().
 * @retval -EINVAL pool or fn is NULL, in or out is NULL with count > 0,
 *                 or the pool is closed.
 * @retval -EAGAIN as mp_pool_map().
 */
int mp_pool_starmap(mp_pool *pool, mp_task2 fn, const struct mp_pair *in,
                    long *out, size_t count, size_t chunksize, size_t *failed);

/**
 * @brief Apply fn to every item, in parallel, and hand each result to a
 *        callback as soon as its chunk is back: Python's
 *        `pool.imap_unordered(fn, items, chunksize)`.
 *
 * Results come in completion order, not input order; the index says which
 * item each is.  Blocks until every chunk is back.
 *
 * @param pool      a pool that is not closed.
 * @param fn        the task.
 * @param in        count items.
 * @param count     how many items; 0 returns 0 at once.
 * @param chunksize items per chunk; 0 means 1, Python's default here.
 * @param each      called once for each item that succeeded.
 * @param ctx       passed to each.
 * @param failed    if not NULL and an item fails, receives its index.
 * @return 0 once every item has succeeded; else as mp_pool_map().
 * @retval -EINVAL pool, fn or each is NULL, in is NULL with count > 0, or
 *                 the pool is closed.
 */
int mp_pool_imap_unordered(mp_pool *pool, mp_task fn, const long *in,
                           size_t count, size_t chunksize,
                           mp_item_callback each, void *ctx, size_t *failed);

/**
 * @brief Apply fn to every item, in parallel, and hand the results to a
 *        callback in input order, each as soon as it and every one before
 *        it are back: Python's `pool.imap(fn, items, chunksize)`.
 *
 * A result that comes back before an earlier item's waits in the pool
 * until that one is in; then both are handed over, in order.  Blocks until
 * every chunk is back.
 *
 * @param pool      a pool that is not closed.
 * @param fn        the task.
 * @param in        count items.
 * @param count     how many items; 0 returns 0 at once.
 * @param chunksize items per chunk; 0 means 1, Python's default here.
 * @param each      called once for each item, in index order, up to the
 *                  chunk of the first failing item.
 * @param ctx       passed to each.
 * @param failed    if not NULL and an item fails, receives its index.
 * @return 0 once every item has succeeded.
 * @return else as mp_pool_map(): each has then been called for every item
 *         of the chunks before the failing item's, and for no other
 *         (Python's imap raises at that chunk).
 * @retval -EINVAL pool, fn or each is NULL, in is NULL with count > 0, or
 *                 the pool is closed.
 * @retval -ENOMEM no memory to hold the results that come back early.
 */
int mp_pool_imap(mp_pool *pool, mp_task fn, const long *in, size_t count,
                 size_t chunksize, mp_item_callback each, void *ctx,
                 size_t *failed);

/**
 * @brief Run one task in a worker and wait for it: Python's `apply`.
 *
 * It blocks: apply runs ONE task in ONE worker while the caller waits, so
 * it gains nothing over calling fn directly.  mp_pool_apply_async() is the
 * call that gets work done in parallel.
 *
 * @param pool  a pool that is not closed.
 * @param fn    the task.
 * @param arg   its argument.
 * @param value receives the task's result (may be NULL).
 * @return 0 on success.
 * @return the task's negative error, or -EPIPE if its worker died.
 * @retval -EINVAL pool or fn is NULL, or the pool is closed.
 */
int mp_pool_apply(mp_pool *pool, mp_task fn, long arg, long *value);

/**
 * @brief Submit one task and return at once: Python's `apply_async`, the
 *        analogue of `concurrent.futures.Executor.submit`.
 *
 * The task starts at once if a worker is idle; otherwise it waits in the
 * pool's queue until a pool function runs and a worker is free.  When it
 * ends, exactly one of callback and error_callback is called, once, in
 * the caller's process.
 *
 * @param pool           a pool that is not closed.
 * @param fn             the task.
 * @param arg            its argument.
 * @param callback       called with the result on success; may be NULL.
 * @param error_callback called with the error on failure; may be NULL.
 * @param ctx            passed to both callbacks.
 * @param res            receives a handle to collect the result with
 *                       mp_result_get() and free with mp_result_free();
 *                       NULL for none (the pool frees the task's record
 *                       itself once its callback has run).
 * @return 0 once the task is submitted.
 * @retval -EINVAL pool or fn is NULL, or the pool is closed (Python's
 *                 "ValueError: Pool not running").
 * @retval -ENOMEM no memory for the task's record.
 */
int mp_pool_apply_async(mp_pool *pool, mp_task fn, long arg,
                        mp_callback callback, mp_error_callback error_callback,
                        void *ctx, mp_result **res);

/**
 * @brief Submit a whole map and return at once: Python's
 *        `pool.map_async(fn, items, chunksize, callback, error_callback)`.
 *
 * The map of mp_pool_map(), run as one job that mp_result_get() collects:
 * its chunks go to idle workers at once and whenever a pool function runs
 * later.  When every chunk is back, exactly one of callback and
 * error_callback is called, once: callback(count), the results being in
 * out, or error_callback(err) with the error of the lowest failing index.
 * mp_result_get() then gives count, or that error.
 *
 * @param pool           a pool that is not closed.
 * @param fn             the task.
 * @param in             count items.
 * @param out            room for count results.
 * @param count          how many items; 0 makes a result that is ready at
 *                       once (its callback is called at once too).
 * @param chunksize      items per chunk; 0 for Python's rule, as
 *                       mp_pool_map().
 * @param callback       called with count on success; may be NULL.
 * @param error_callback called with the error on failure; may be NULL.
 * @param ctx            passed to both callbacks.
 * @param res            receives the handle, as mp_pool_apply_async()'s;
 *                       NULL for none.
 * @return 0 once the map is submitted.
 * @retval -EINVAL pool or fn is NULL, in or out is NULL with count > 0,
 *                 or the pool is closed.
 * @retval -ENOMEM no memory for the job's record.
 * @note in and out belong to the pool until the result is ready: the
 *       items are sent straight from in, the results read straight into
 *       out.  Keep both alive and untouched until then.
 */
int mp_pool_map_async(mp_pool *pool, mp_task fn, const long *in, long *out,
                      size_t count, size_t chunksize, mp_callback callback,
                      mp_error_callback error_callback, void *ctx,
                      mp_result **res);

/**
 * @brief Wait for a task's result, or a map's: Python's
 *        `AsyncResult.get(timeout)`.
 *
 * While it waits, the pool works: it hands queued tasks to idle workers
 * and runs the callbacks of every task that ends meanwhile.  Once the task
 * has ended, every call returns the same outcome at once.
 *
 * @param res        a handle from mp_pool_apply_async() or
 *                   mp_pool_map_async().
 * @param timeout_ms how long to wait: -1 until the task ends, 0 only looks.
 * @param value      receives the result on success (may be NULL): the
 *                   task's, or a map's count.
 * @return 0 on success.
 * @return the task's negative error (a map's: its lowest failing item's);
 *         -EPIPE if its worker died while running it; -ECANCELED if
 *         mp_pool_terminate() ended it.
 * @retval -ETIMEDOUT the task has not ended after timeout_ms; it goes on,
 *                    and a later call may collect it.
 * @retval -EINVAL    res is NULL or timeout_ms is below -1.
 * @retval -EAGAIN    every worker died and none could be started again:
 *                    the pool is terminated.
 */
int mp_result_get(mp_result *res, int timeout_ms, long *value);

/**
 * @brief Free a result handle.
 * @param res a handle from mp_pool_apply_async() or mp_pool_map_async();
 *            NULL does nothing.
 * @return 0.
 * @retval -EBUSY the task has not ended yet: nothing is freed (collect it
 *                first, or terminate the pool).
 */
int mp_result_free(mp_result *res);

/**
 * @brief Refuse new tasks: Python's `pool.close()`.
 *
 * Tasks already submitted still run; mp_pool_join() waits for them.
 *
 * @param pool the pool.
 * @return 0.
 * @retval -EINVAL pool is NULL.
 */
int mp_pool_close(mp_pool *pool);

/**
 * @brief Wait for every submitted task, then end and reap the workers:
 *        Python's `pool.join()`.
 *
 * Runs the callbacks of the tasks that end meanwhile.  Each worker is told
 * to stop by `shutdown()` of its channel, which it reads as EOF even if
 * other processes hold copies of the pool's end; then it is reaped: no
 * zombie is left.
 *
 * @param pool a pool that is closed (or terminated).
 * @return 0.
 * @retval -EINVAL pool is NULL, or it was neither closed nor terminated
 *                 (Python raises ValueError).
 * @retval -EAGAIN every worker died and none could be started again: the
 *                 pool is terminated, and the tasks left are not done.
 */
int mp_pool_join(mp_pool *pool);

/**
 * @brief End every worker now, busy or not: Python's `pool.terminate()`.
 *
 * The workers are killed with SIGKILL and reaped.  Every task that has not
 * ended fails with -ECANCELED, and its error_callback is called.  The pool
 * is closed: join is then allowed, and returns at once.
 *
 * @param pool the pool.
 * @return 0.
 * @retval -EINVAL pool is NULL.
 * @note SIGKILL, where Python sends SIGTERM: a worker runs the caller's
 *       code with the caller's signal handlers, which might catch or ignore
 *       SIGTERM; terminate must not depend on them.
 */
int mp_pool_terminate(mp_pool *pool);

/**
 * @brief Free the pool, terminating it first if it was not joined: what
 *        leaving Python's `with Pool() as pool:` block does.
 *
 * Result handles stay valid (their tasks have ended, cancelled if need
 * be): free them with mp_result_free().
 *
 * @param pool the pool; NULL does nothing.
 * @return 0.
 */
int mp_pool_destroy(mp_pool *pool);

#endif
