// capstone.h - lesson 13: parallel work over processes and threads, measured.
#ifndef FORKLINGS_CAPSTONE_H
#define FORKLINGS_CAPSTONE_H

#include <stddef.h>

/**
 * @file capstone.h
 * @brief Lesson 13: share work out between worker processes (and threads)
 *        through a counter in shared memory, for CPU-bound work and for
 *        I/O-bound work, and measure what it gains.
 *
 * Python equivalent:
 * @code{.py}
 * from multiprocessing import Pool
 * from concurrent.futures import ThreadPoolExecutor
 * import urllib.request
 *
 * def fetch(url):
 *     with urllib.request.urlopen(url) as r:
 *         return r.status, len(r.read())
 *
 * if __name__ == "__main__":
 *     with Pool(4) as pool:                            # mp_par_map
 *         counts = pool.map(primes_in_block, range(1000), chunksize=1)
 *     with ThreadPoolExecutor(4) as ex:                # mp_thread_map
 *         counts = list(ex.map(primes_in_block, range(1000)))
 *     with Pool(8) as pool:                            # mp_fetch_all
 *         pages = pool.map(fetch, urls, chunksize=1)
 * @endcode
 *
 * There is no pool object here: each call forks its workers (or starts its
 * threads), lets them take chunks of items from one shared counter until
 * none is left, and reaps them before it returns.  The kernel runs in the
 * workers: what it changes in memory stays there, only its result comes
 * back.
 */

/// Numbers in one block of mp_primes_in_block(): block b holds the whole
/// numbers from `b * MP_BLOCK` up to, not including, `(b + 1) * MP_BLOCK`.
#define MP_BLOCK 1000

/**
 * @brief A kernel: the work done on one item, the same in every worker.
 * @param item the item's value, `in[i]`.
 * @return the item's result, stored at `out[i]`.
 * @note Under mp_par_map() it runs in a worker process: its writes to
 *       memory are lost when the worker ends.  Under mp_thread_map() it runs
 *       in a thread of the caller's process: it must be thread-safe.
 */
typedef long (*mp_kernel)(long item);

/**
 * @brief The lesson's CPU-bound kernel: count the primes in one block.
 *
 * Trial division, on purpose slow and uneven: a block of large numbers
 * costs more than a block of small ones, as `sqrt` of its numbers.  Written
 * for you; the serial result is the sum over blocks 0..k-1, the number of
 * primes below `k * MP_BLOCK` (78498 below one million).
 *
 * @param block the block's number (a negative block holds no prime).
 * @return how many primes the block holds.
 */
long mp_primes_in_block(long block);

/**
 * @brief Apply fn to every item in worker processes, results in item order:
 *        Python's `Pool(nworkers).map(fn, items, chunksize)`.
 *
 * Forks the workers; each one takes the next `chunk` items from a counter
 * that all of them share (dynamic scheduling: a worker that drew cheap
 * items simply takes more), runs fn on each, and stores `fn(in[i])` at
 * index i of a result array in shared memory.  When every worker has been
 * reaped, the results are copied to out.
 *
 * @param nworkers how many worker processes, at least 1; no more are forked
 *                 than there are chunks.
 * @param fn       the kernel.
 * @param in       n items; the workers read them from their copy of the
 *                 caller's memory.
 * @param out      room for n results; out[i] receives fn(in[i]).
 * @param n        how many items; 0 returns 0 at once, forking nothing.
 * @param chunk    items a worker takes at a time; 0 for Python's rule: n
 *                 divided by four times nworkers, rounded up.
 * @return 0 once every item is done and every worker reaped.
 * @retval -EINVAL nworkers is below 1, fn is NULL, or in or out is NULL
 *                 with n > 0.
 * @retval -EPIPE  a worker died (a signal killed it, or it exited with a
 *                 status other than 0): the items it held were not done,
 *                 and their out entries are unspecified.  The other workers
 *                 went on, and every worker was reaped.
 * @retval -ENOMEM no memory for the shared results (mmap failed).
 * @retval -EAGAIN fork() failed (or fork's other -errno, -ENOMEM): every
 *                 worker already started was reaped first.  The fork's
 *                 error wins over -EPIPE if one of those workers died too.
 * @note Flushes stdio before forking, and never leaves a zombie.
 */
int mp_par_map(int nworkers, mp_kernel fn, const long *in, long *out, size_t n,
               size_t chunk);

/**
 * @brief Apply fn to every item in threads of the calling process, results
 *        in item order: `ThreadPoolExecutor(nworkers).map(fn, items)`.
 *
 * The same sharing-out as mp_par_map(), with threads instead of processes:
 * the counter and out are the caller's own memory, so nothing is mapped
 * or copied.
 *
 * @param nworkers how many threads, at least 1; no more are started than
 *                 there are chunks.
 * @param fn       the kernel; it must be thread-safe.
 * @param in       n items.
 * @param out      room for n results; out[i] receives fn(in[i]).
 * @param n        how many items; 0 returns 0 at once.
 * @param chunk    items a thread takes at a time; 0 for the rule of
 *                 mp_par_map().
 * @return 0 once every item is done and every thread joined.
 * @retval -EINVAL as mp_par_map().
 * @retval -EAGAIN a thread could not be started: the threads already
 *                 started were joined first.
 * @note A kernel that crashes takes the whole process with it, the caller
 *       included: threads share one address space, so there is no worker
 *       to lose alone.
 * @note Each call keeps its state on its own stack: two threads may call
 *       it at once, as two ThreadPoolExecutors would run apart.
 */
int mp_thread_map(int nworkers, mp_kernel fn, const long *in, long *out,
                  size_t n, size_t chunk);

/// What one fetch by mp_fetch_all() brought back.
typedef struct {
    int status; ///< the HTTP status (200, 404, ...), or -errno if it failed
    long bytes; ///< bytes in the response's body; 0 if the fetch failed
} mp_fetch_result;

/**
 * @brief Fetch every URL with HTTP/1.0 GET from worker processes: the
 *        classic "parallel web scraping" with `Pool(nworkers).map`.
 *
 * Forks the workers; each takes the next URL from a shared counter,
 * connects, sends `GET path HTTP/1.0` with a Host header, reads the answer
 * until the server closes the connection, and stores its status and the
 * length of its body at the URL's index.  A worker waiting for a slow
 * server uses no CPU, so more workers than cores still go faster.
 *
 * @param urls     n URLs of the form `http://A.B.C.D[:PORT]/path`: a
 *                 numeric IPv4 address, port 80 by default, no https.
 * @param n        how many URLs; 0 returns 0 at once.
 * @param nworkers how many worker processes, at least 1; never capped at
 *                 the number of cores, only at n.
 * @param res      room for n results, in the order of urls.
 * @return how many fetches failed (those whose status is negative); a
 *         server's answer, 404 included, is not a failure.
 * @retval -EINVAL nworkers is below 1, or urls or res is NULL with n > 0.
 * @retval -EPIPE  a worker died: the URL it held has no result.
 * @retval -ENOMEM no memory for the shared results (mmap failed).
 * @retval -EAGAIN fork() failed (or its other -errno): every worker
 *                 already started was reaped; it wins over -EPIPE.
 * @note The per-URL errors, in res[i].status: -EINVAL for a URL this
 *       function cannot fetch, -ECONNREFUSED (and other -errno values) from
 *       connect() or read(), -EPROTO for an answer that is not HTTP or ends
 *       before its header does.
 */
int mp_fetch_all(const char *const *urls, size_t n, int nworkers,
                 mp_fetch_result *res);

#endif
