// pools.c - lesson 09: a pool of worker processes fed over socketpairs.
//
// Your task: make the functions below work as pools.h describes.  Read
// lessons/09_pools/README.md first; `make check L=09` tests your code,
// `make hint L=09` gives one more hint each time you run it.
//
// How this pool works.  Each worker is a forked child with a socketpair of
// its own to the pool.  The pool sends it a chunk as ONE message (a header
// naming the function and the count, then the items) and the worker answers
// with ONE message (a header with the error, then the results).  A worker is
// handed a chunk only when it is idle, so the pool always knows which chunk
// each worker holds: when a worker's end of the socketpair reaches EOF, the
// worker has died, and the pool knows whom to blame.  There is no thread:
// the pool moves on (hands out chunks, reads answers, calls callbacks) only
// inside its own functions, all through pump().
//
// The structs, the three I/O helpers (lesson 04's), the job queue and two
// small helpers (item_longs, chunk_out) are written for you.  Start with
// default_chunksize and the worker's side, then start_worker and
// mp_pool_create, then the pool's side.
#define _DEFAULT_SOURCE // MAP_ANONYMOUS, _SC_NPROCESSORS_ONLN: not POSIX
#include "pools.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ the wire */

// A chunk, pool to worker: this header, then `count` items: a long each
// for fn, a pair of longs each for starmap's fn2 (the other one is NULL).
// The function pointer means the same function in the worker: it is a
// fork of the pool's process, the same program at the same addresses.
struct task_msg {
    mp_task fn;
    mp_task2 fn2;
    size_t count;
};

// starmap's pairs travel as they lie in the caller's array: two longs each.
_Static_assert(sizeof(struct mp_pair) == 2 * sizeof(long), "a pair, 2 longs");

// How many longs make one item: two for starmap's task, else one.
static size_t
item_longs(mp_task2 fn2)
{
    return fn2 != NULL ? 2 : 1;
}

// A chunk's answer, worker to pool: this header, then, if err is 0, one
// result per item.  If err < 0, item `at` of the chunk failed with err and
// nothing follows: the items after it were not run.
struct result_msg {
    int err;
    size_t at;
};

/* ----------------------------------------------------------- the state */

// Where a worker notes the item it is on, in memory shared with the pool.
// A worker that dies cannot send a word, but what it wrote here survives
// it.  One cache line each, so that workers do not slow each other down.
struct slot {
    volatile size_t item; // the offset, in its chunk, of the item it runs
    char pad[64 - sizeof(size_t)];
};

// What the pool knows about one worker.
struct worker {
    pid_t pid;      // 0: no worker in this slot
    int fd;         // the pool's end of the worker's socketpair
    mp_result *job; // whose chunk it is running; NULL when idle
    size_t start;   // the chunk: items [start, start + count) of job
    size_t count;
};

// A job: one call of map, starmap, imap, imap_unordered, map_async,
// apply or apply_async.
struct mp_result {
    mp_pool *pool;
    mp_result *next; // the next job in the pool's queue
    mp_task fn;
    mp_task2 fn2;          // starmap's task, instead of fn
    const long *in;        // the items (starmap: two longs each)
    long *out;             // their results; NULL: hand each one to `each`
    mp_item_callback each; // imap's callback; with out, in input order
    size_t delivered;      // ordered imap: items handed to `each` so far
    size_t count;          // how many items
    size_t chunksize;      // items per chunk
    size_t sent;           // items handed to workers so far
    size_t running;        // chunks handed out and not back yet
    int done;              // every chunk is back (or cancelled)
    int err;               // 0, or the error of the lowest failing item
    size_t err_at;         // that item's index
    long arg, value;       // apply's one item, and its result
    mp_callback callback;
    mp_error_callback error_callback;
    void *ctx;  // for the callbacks
    int orphan; // nobody holds a handle: free it once done
};

struct mp_pool {
    int n;                  // worker slots
    struct worker *w;       // n of them
    struct pollfd *pfd;     // n of them, for pump()
    struct slot *slots;     // n of them, in shared memory
    mp_result *head, *tail; // jobs with chunks not yet handed out, in order
    size_t pending;         // jobs submitted and not done
    int closed;             // no new jobs
    int stopped;            // the workers are gone: joined or terminated
};

/* ------------------------------------------- helpers (written for you) */

// Milliseconds on a clock that never jumps.
static long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

// Read len bytes from fd into buf, unless EOF comes first (lesson 04).
// Returns how many were read (fewer than len only at EOF), or -errno.
static ssize_t
read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

// Send every byte that iov[0..cnt) describes on the socket fd (lesson 04).
// MSG_NOSIGNAL: a peer that is gone gives -EPIPE, not a SIGPIPE.
// Returns 0, or -errno.  May change iov.
static int
send_all(int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
        ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        for (; cnt > 0 && (size_t)n >= iov->iov_len; iov++, cnt--)
            n -= (ssize_t)iov->iov_len;
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

// Add job to the pool's queue of jobs with chunks to hand out.
static void
enqueue(mp_pool *p, mp_result *job)
{
    job->pool = p;
    job->next = NULL;
    if (p->tail != NULL)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    p->pending++;
}

/* -------------------------------------------------------------- chunks */

// Python's default chunksize for map over count items with n workers.
static size_t
default_chunksize(size_t count, int nworkers)
{
    // TODO(09): Python's rule: chunksize, extra = divmod(count, n * 4);
    // if extra: chunksize += 1.  About four chunks per worker: few enough
    // that each message carries many items, enough that a worker that
    // finishes early finds more work.  Keep the "+1 if extra": without it
    // the last chunk is a leftover, and 5 items for 2 workers make chunks
    // of 0 items, which never end.
    (void)count;
    (void)nworkers;
    return 0;
}

/* ---------------------------------------------------------- the worker */

// Run the chunk t on its items in buf, storing item i's result in buf[i]
// (for pairs too: pair i, at buf[2i], is read by then).  Stops at the
// first item that fails.
static struct result_msg
run_chunk(const struct task_msg *t, long *buf, volatile size_t *item)
{
    // TODO(09): for each item: note its offset in *item first (the pool
    // reads it if this worker dies during the call), then call fn on
    // buf[i], or fn2 on the pair buf[2i], buf[2i + 1], in that order.  A
    // negative return is that item's error: return it with the item's
    // offset at once, as Python does with an exception.  Otherwise the
    // result goes to buf[i].  All done: err 0.
    (void)t;
    (void)buf;
    (void)item;
    return (struct result_msg){.err = -ENOSYS, .at = 0};
}

// A worker's life: receive a chunk, run it, answer; until EOF.
static void
worker_main(int fd, volatile size_t *item)
{
    // TODO(09): loop: read_full a task_msg; anything short of a whole
    // header is EOF: the pool closed its end (join), or died.  Make room
    // for the items, item_longs(fn2) longs each (realloc a buffer that
    // only grows), read_full them, run_chunk, and send the result_msg and
    // the results, one long per item, with ONE send_all of two iovecs (no
    // results when it failed).  Any failure ends the loop: the pool sees
    // the worker's EOF and copes.  Then free the buffer, flush stdio, and
    // _exit(0): never return into the caller's code.
    (void)fd;
    (void)item;
    (void)run_chunk; // use these helpers, then delete these lines
    (void)item_longs;
    _exit(1);
}

/* ------------------------------------------ starting and ending workers */

// Start a worker in slot i, which is empty.
static int
start_worker(mp_pool *p, int i)
{
    // TODO(09): socketpair(AF_UNIX, SOCK_STREAM, 0, sv): sv[0] is the
    // pool's end, sv[1] the worker's.  fflush(NULL), fork.  On failure
    // close both ends and return -errno.
    // TODO(09): in the child: close sv[0], and the pool's end of every
    // other worker that exists (fork copied them all): they are not this
    // worker's business, and each copy is one more descriptor held for
    // the worker's whole life.  Then worker_main(sv[1],
    // &p->slots[i].item), which never returns.
    // TODO(09): in the pool: close sv[1], or the pool holds the worker's
    // end itself and never sees EOF when the worker dies.  Fill in
    // p->w[i]: its pid and sv[0], idle.
    (void)p;
    (void)i;
    (void)worker_main; // use this helper, then delete this line
    return -ENOSYS;
}

// Close the pool's end of worker i's channel and reap the worker.
static void
reap_worker(mp_pool *p, int i)
{
    // TODO(09): shutdown(fd, SHUT_WR) first: the worker reads EOF and
    // exits.  close() alone is not enough: it drops ONE descriptor, and
    // EOF comes only when every copy is closed; a worker of a pool made
    // later, or any child the caller forked, holds a copy.  shutdown
    // ends the stream itself, for every copy.  Then close, and
    // waitpid(pid), again on EINTR, or the worker stays a zombie.  Mark
    // the slot empty (pid 0).
    (void)p;
    (void)i;
}

/* ---------------------------------------------------------------- jobs */

// Keep err as the job's error if item `at` comes before the one it has.
static void
note_error(mp_result *job, int err, size_t at)
{
    // TODO(09): keep the error of the LOWEST failing index, not the first
    // to arrive: chunks finish in any order, and map must give the same
    // answer every time.
    (void)job;
    (void)err;
    (void)at;
}

// Every chunk of job is back: it is done.  Call its callback, once.
static void
finish(mp_pool *p, mp_result *job)
{
    // TODO(09): mark it done; one job fewer pending.  Then call exactly
    // one of callback(value) (no error) or error_callback(err), if set.
    // Nowhere else calls them: mp_result_get only reads what is stored.
    // Last, free an orphan (a job nobody holds a handle to).
    (void)p;
    (void)job;
}

// Whether the chunk of job that starts at item `start` is still out: a
// worker holds it.  Chunks are handed out in input order, so a chunk that
// starts before job->sent and that no worker holds is back.
static int
chunk_out(mp_pool *p, mp_result *job, size_t start)
{
    for (int i = 0; i < p->n; i++)
        if (p->w[i].job == job && p->w[i].start == start)
            return 1;
    return 0;
}

// Ordered imap: hand `each` every result that is in and whose items before
// it are all in, in input order; the others wait in job->out.
static void
deliver_in_order(mp_pool *p, mp_result *job)
{
    // TODO(09): while the chunk at job->delivered was handed out (it
    // starts before job->sent) and is back (chunk_out says no worker
    // holds it): it ends chunksize items on, but not past count.  If the
    // job's error lies before that end, stop: nothing from the failing
    // chunk on is handed over (Python's imap raises there).  Else call
    // each(index, out[index], ctx) for each of its items, in order, and
    // move delivered to its end.
    (void)p;
    (void)job;
    (void)chunk_out; // use this helper, then delete this line
}

// One chunk of job is back: err 0, or item `at` failed with err.
static void
chunk_back(mp_pool *p, mp_result *job, int err, size_t at)
{
    // TODO(09): one chunk fewer running; note the error if there is one.
    // An ordered imap (a job with both out and each) hands over what is
    // now in order: deliver_in_order.  When every item was handed out and
    // no chunk is running, finish it.  (job may be freed then: do not
    // touch it afterwards.)
    (void)p;
    (void)job;
    (void)err;
    (void)at;
    (void)note_error; // use these helpers, then delete these lines
    (void)deliver_in_order;
    (void)finish;
}

// Worker i's channel broke: the worker died mid-task (or broke the
// protocol).  Blame the item it was on, reap it, start another.
static void
lose_worker(mp_pool *p, int i)
{
    // TODO(09): read the item it was on from its slot before anything
    // else: the index is w->start plus that offset.  kill(pid, SIGKILL)
    // (harmless if it is dead already; needed if a task merely closed
    // the socket, or waitpid would wait for ever), then reap it.  If it
    // held a chunk, that chunk is back with -EPIPE at that index.  Unless
    // the pool is stopped, start a new worker in the same slot: a pool
    // that loses a worker per crash soon has none.
    (void)p;
    (void)i;
    (void)reap_worker; // use these helpers, then delete these lines
    (void)chunk_back;
    (void)start_worker;
}

/* ------------------------------------------------------ the pool moves */

// Hand the next chunk of the first queued job to each idle worker.
static void
dispatch(mp_pool *p)
{
    // TODO(09): for each worker that exists and is idle, while the queue
    // is not empty: cut the next chunk of the head job (chunksize items
    // from job->sent, fewer at the end), set the worker's slot item to 0,
    // and send the task_msg and the items with ONE send_all of two
    // iovecs, straight from the caller's array (item_longs longs per
    // item, for the offset and the length).  If the send fails, the
    // worker died while idle: lose_worker, and offer the same chunk to
    // the new worker in that slot (it never started, so it must not
    // fail; and nothing would wake the pool for it later).  Once it is
    // sent, note the chunk in the worker (job, start, count) and in the
    // job (sent, running), and take the job off the queue once all its
    // items are handed out.
    (void)p;
    (void)send_all; // use these helpers, then delete these lines
    (void)lose_worker;
}

// Read the results of worker i's chunk: 0, or -EPIPE if they end early.
static int
receive_results(mp_pool *p, int i)
{
    // TODO(09): with an out array, read_full the results straight into
    // it, at the chunk's own place: job->out + w->start.  Not where the
    // previous answer ended: answers come back in completion order, and
    // map's results must be in input order.  Without one (imap), read
    // them in pieces into a buffer on the stack and call each(index,
    // value, ctx) for every item.
    (void)p;
    (void)i;
    (void)read_full; // use this helper, then delete this line
    return -ENOSYS;
}

// Worker i's channel is readable: take in its answer, or its death.
static void
collect(mp_pool *p, int i)
{
    // TODO(09): an idle worker has nothing to say: readable means EOF, it
    // died.  Else read_full the result_msg; short means it died.  A
    // failure's offset must lie inside the chunk.  Read the results (if
    // err is 0); then the worker is idle again and the chunk is back, its
    // failing index being w->start + at.  Every "it died" is lose_worker.
    (void)p;
    (void)i;
    (void)receive_results; // use this helper, then delete this line
}

// Move the pool on: hand out chunks, wait up to timeout_ms (-1: no limit)
// for any answer or death, and take in every one that is there.
static int
pump(mp_pool *p, int timeout_ms)
{
    // TODO(09): dispatch.  Poll the channel of EVERY worker, idle ones
    // too (an idle worker that dies shows as EOF), for POLLIN; an empty
    // slot's entry gets fd -1, which poll skips.  No worker at all:
    // -EAGAIN (none could be started), or poll would wait for ever.
    // poll failing with EINTR is no error: return 0, the caller works out
    // the time left.  Then collect every worker whose revents is set.
    (void)p;
    (void)timeout_ms;
    (void)dispatch; // use these helpers, then delete these lines
    (void)collect;
    return -ENOSYS;
}

// Whether job is done; with job NULL, whether every job is.
static int
is_done(mp_pool *p, mp_result *job)
{
    return job != NULL ? job->done : p->pending == 0;
}

// Pump until job is done (NULL: every job), for at most timeout_ms.
static int
wait_for(mp_pool *p, mp_result *job, int timeout_ms)
{
    // TODO(09): take a deadline from now_ms() first.  Loop: done? return
    // 0.  Pump for the time LEFT (-1 stays -1: no limit), never the whole
    // timeout again.  If the time was up and it is still not done,
    // -ETIMEDOUT.  If pump fails, the pool has no worker left: terminate
    // it (every job ends, cancelled) and return the error.
    (void)p;
    (void)job;
    (void)timeout_ms;
    (void)now_ms; // use these helpers, then delete these lines
    (void)is_done;
    (void)pump;
    return -ENOSYS;
}

// Submit a job the caller waits for, wait, and give its outcome.
static int
run_job(mp_pool *p, mp_result *job, size_t *failed)
{
    // TODO(09): enqueue, wait_for it with no limit, then return its error
    // (0 if none), with the failing index in *failed when there is one
    // and failed is not NULL.
    (void)p;
    (void)job;
    (void)failed;
    (void)enqueue; // use these helpers, then delete these lines
    (void)wait_for;
    return -ENOSYS;
}

// Run the job of a map of any kind (map, starmap, imap, imap_unordered)
// for the caller, with the chunksize given or Python's default for it.
static int
run_map(mp_pool *p, mp_result *job, size_t *failed)
{
    // TODO(09): -EINVAL if the pool is closed.  No items: return 0 at
    // once.  A chunksize of 0 means Python's default: chunks of 1 for
    // the imaps (the jobs with an `each`), default_chunksize for the
    // others.  Then run_job.
    (void)p;
    (void)job;
    (void)failed;
    (void)default_chunksize; // use these helpers, then delete these lines
    (void)run_job;
    return -ENOSYS;
}

// Submit a job that outlives the call (apply_async, map_async): its
// callbacks run when it ends; the caller collects it through *res, or
// nobody does.
static void
submit(mp_pool *p, mp_result *job, mp_callback callback,
       mp_error_callback error_callback, void *ctx, mp_result **res)
{
    // TODO(09): set the callbacks and ctx, and orphan when res is NULL
    // (else hand the job out through *res).  A job of no items (a
    // map_async of none) has nothing to hand out: count it pending, as
    // enqueue does, and finish it at once.  Otherwise enqueue it and
    // dispatch at once, so that it starts now if a worker is idle.
    // Return without waiting.
    (void)p;
    (void)job;
    (void)callback;
    (void)error_callback;
    (void)ctx;
    (void)res;
}

/* ------------------------------------------------------------- the API */

int
mp_pool_create(mp_pool **pool, int nworkers)
{
    // TODO(09): reject a NULL pool or a negative count with -EINVAL.  0
    // workers means one per CPU: sysconf(_SC_NPROCESSORS_ONLN).
    // TODO(09): calloc the pool, its workers and pollfds (-ENOMEM), and
    // mmap the slots: MAP_SHARED | MAP_ANONYMOUS, so that the workers,
    // forked after, write to the same pages the pool reads.  Then
    // start_worker for each slot.  Any failure: mp_pool_destroy what was
    // made (it copes with a half-made pool) and return the error.
    (void)pool;
    (void)nworkers;
    return -ENOSYS;
}

int
mp_pool_map(mp_pool *pool, mp_task fn, const long *in, long *out, size_t count,
            size_t chunksize, size_t *failed)
{
    // TODO(09): -EINVAL for a NULL pool or fn, or a NULL in or out with
    // count > 0.
    // TODO(09): a job on the stack (run_job waits until it is done, so
    // the pool never holds it longer) with fn, in, out, count and
    // chunksize; run_map.
    (void)pool;
    (void)fn;
    (void)in;
    (void)out;
    (void)count;
    (void)chunksize;
    (void)failed;
    (void)run_map; // use this helper, then delete this line
    return -ENOSYS;
}

int
mp_pool_starmap(mp_pool *pool, mp_task2 fn, const struct mp_pair *in, long *out,
                size_t count, size_t chunksize, size_t *failed)
{
    // TODO(09): as map, with fn2 instead of fn, and the pairs as the
    // items: in as (const long *) (item_longs says two longs each).
    (void)pool;
    (void)fn;
    (void)in;
    (void)out;
    (void)count;
    (void)chunksize;
    (void)failed;
    return -ENOSYS;
}

int
mp_pool_imap_unordered(mp_pool *pool, mp_task fn, const long *in, size_t count,
                       size_t chunksize, mp_item_callback each, void *ctx,
                       size_t *failed)
{
    // TODO(09): as map, with each and ctx instead of out (and each
    // required).
    (void)pool;
    (void)fn;
    (void)in;
    (void)count;
    (void)chunksize;
    (void)each;
    (void)ctx;
    (void)failed;
    return -ENOSYS;
}

int
mp_pool_imap(mp_pool *pool, mp_task fn, const long *in, size_t count,
             size_t chunksize, mp_item_callback each, void *ctx, size_t *failed)
{
    // TODO(09): -EINVAL as imap_unordered.
    // TODO(09): results may come back before those of earlier items, and
    // wait there: malloc room for count results (-ENOMEM; but malloc(0)
    // may give NULL, which is no failure) as the job's out, where they
    // are read as map's are.  With out and each set, chunk_back hands
    // them to each in order.  The job as imap_unordered's otherwise;
    // run_map, then free the room.
    (void)pool;
    (void)fn;
    (void)in;
    (void)count;
    (void)chunksize;
    (void)each;
    (void)ctx;
    (void)failed;
    return -ENOSYS;
}

int
mp_pool_apply(mp_pool *pool, mp_task fn, long arg, long *value)
{
    // TODO(09): -EINVAL as map.  A job of one item on the stack: its in
    // is &job.arg and its out &job.value.  run_job, then hand back the
    // value on success.
    (void)pool;
    (void)fn;
    (void)arg;
    (void)value;
    return -ENOSYS;
}

int
mp_pool_apply_async(mp_pool *pool, mp_task fn, long arg, mp_callback callback,
                    mp_error_callback error_callback, void *ctx,
                    mp_result **res)
{
    // TODO(09): -EINVAL as apply: a closed pool takes no new task.
    // TODO(09): the job outlives this call: calloc it (-ENOMEM).  One item
    // (in &job->arg, out &job->value); then submit it, with the callbacks.
    (void)pool;
    (void)fn;
    (void)arg;
    (void)callback;
    (void)error_callback;
    (void)ctx;
    (void)res;
    (void)submit; // use this helper, then delete this line
    return -ENOSYS;
}

int
mp_pool_map_async(mp_pool *pool, mp_task fn, const long *in, long *out,
                  size_t count, size_t chunksize, mp_callback callback,
                  mp_error_callback error_callback, void *ctx, mp_result **res)
{
    // TODO(09): -EINVAL as map.  Then as apply_async, with map's job (in,
    // out, count, the chunksize by map's rule when 0), whose value, what
    // get and the callback give, is count: the results are in out.
    (void)pool;
    (void)fn;
    (void)in;
    (void)out;
    (void)count;
    (void)chunksize;
    (void)callback;
    (void)error_callback;
    (void)ctx;
    (void)res;
    return -ENOSYS;
}

int
mp_result_get(mp_result *res, int timeout_ms, long *value)
{
    // TODO(09): -EINVAL for NULL or a timeout below -1.  Not done yet:
    // wait_for it with the timeout (-ETIMEDOUT leaves it running).  Done
    // jobs keep their outcome: return it (and the value, on success)
    // without touching the pool, which may be gone.  Call no callback
    // here: finish() called it, once.
    (void)res;
    (void)timeout_ms;
    (void)value;
    return -ENOSYS;
}

int
mp_result_free(mp_result *res)
{
    // TODO(09): NULL: 0.  Not done: -EBUSY, since the pool still points
    // at it.  Else free it.
    (void)res;
    return -ENOSYS;
}

int
mp_pool_close(mp_pool *pool)
{
    // TODO(09): remember that the pool is closed; every way to submit
    // checks it.  Nothing else changes: queued tasks still run.
    (void)pool;
    return -ENOSYS;
}

int
mp_pool_join(mp_pool *pool)
{
    // TODO(09): -EINVAL unless closed (terminate closes too).  Stopped
    // already (terminated, or joined before): 0.
    // TODO(09): wait_for every job (NULL), with no limit: queued tasks
    // are handed out and their callbacks run.  Then mark the pool stopped
    // and reap_worker each one: closing its end is how a worker learns
    // to stop, and reaping leaves no zombie.
    (void)pool;
    return -ENOSYS;
}

int
mp_pool_terminate(mp_pool *pool)
{
    // TODO(09): close the pool; if it is stopped already, that is all.
    // Mark it stopped.  SIGKILL EVERY worker first, busy or idle, then
    // reap each one: killing and reaping one at a time lets the others
    // run on meanwhile.
    // TODO(09): every job still running ends now.  Each chunk a worker
    // held is back with -ECANCELED (the worker's job is NULL after).
    // Each job still queued: note -ECANCELED at its next item, count all
    // its items as handed out, and finish it if no chunk of it runs.
    (void)pool;
    return -ENOSYS;
}

int
mp_pool_destroy(mp_pool *pool)
{
    // TODO(09): NULL: 0.  Terminate (nothing happens if joined), then
    // free what create made: munmap the slots (if mapped), free the
    // arrays and the pool.  Result handles stay: their jobs are done.
    (void)pool;
    return -ENOSYS;
}
