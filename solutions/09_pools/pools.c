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
    size_t parts = (size_t)nworkers * 4;
    size_t size = count / parts;
    if (count % parts != 0)
        size++;
    return size;
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
    for (size_t i = 0; i < t->count; i++) {
        *item = i;
        long v = 0;
        int r = t->fn2 != NULL ? t->fn2(buf[2 * i], buf[2 * i + 1], &v)
                               : t->fn(buf[i], &v);
        if (r < 0)
            return (struct result_msg){.err = r, .at = i};
        buf[i] = v;
    }
    return (struct result_msg){.err = 0, .at = t->count};
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
    long *buf = NULL;
    size_t cap = 0;
    struct task_msg t;
    while (read_full(fd, &t, sizeof t) == (ssize_t)sizeof t) {
        size_t longs = t.count * item_longs(t.fn2);
        if (longs > cap) {
            long *bigger = realloc(buf, longs * sizeof *buf);
            if (bigger == NULL)
                break;
            buf = bigger;
            cap = longs;
        }
        size_t len = longs * sizeof *buf;
        if (read_full(fd, buf, len) != (ssize_t)len)
            break;
        struct result_msg r = run_chunk(&t, buf, item);
        size_t back = r.err == 0 ? t.count * sizeof *buf : 0;
        struct iovec iov[2] = {{&r, sizeof r}, {buf, back}};
        if (send_all(fd, iov, 2) < 0)
            break;
    }
    free(buf);
    fflush(NULL);
    _exit(0);
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
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return -errno;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int err = -errno;
        close(sv[0]);
        close(sv[1]);
        return err;
    }
    if (pid == 0) {
        close(sv[0]);
        for (int j = 0; j < p->n; j++)
            if (p->w[j].pid != 0)
                close(p->w[j].fd);
        worker_main(sv[1], &p->slots[i].item);
    }
    close(sv[1]);
    p->w[i] = (struct worker){.pid = pid, .fd = sv[0]};
    return 0;
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
    struct worker *w = &p->w[i];
    shutdown(w->fd, SHUT_WR);
    close(w->fd);
    while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    w->pid = 0;
    w->fd = -1;
}

/* ---------------------------------------------------------------- jobs */

// Keep err as the job's error if item `at` comes before the one it has.
static void
note_error(mp_result *job, int err, size_t at)
{
    // TODO(09): keep the error of the LOWEST failing index, not the first
    // to arrive: chunks finish in any order, and map must give the same
    // answer every time.
    if (job->err == 0 || at < job->err_at) {
        job->err = err;
        job->err_at = at;
    }
}

// Every chunk of job is back: it is done.  Call its callback, once.
static void
finish(mp_pool *p, mp_result *job)
{
    // TODO(09): mark it done; one job fewer pending.  Then call exactly
    // one of callback(value) (no error) or error_callback(err), if set.
    // Nowhere else calls them: mp_result_get only reads what is stored.
    // Last, free an orphan (a job nobody holds a handle to).
    job->done = 1;
    p->pending--;
    if (job->err == 0 && job->callback != NULL)
        job->callback(job->value, job->ctx);
    if (job->err < 0 && job->error_callback != NULL)
        job->error_callback(job->err, job->ctx);
    if (job->orphan)
        free(job);
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
    while (job->delivered < job->sent && !chunk_out(p, job, job->delivered)) {
        size_t end = job->delivered + job->chunksize;
        if (end > job->count)
            end = job->count;
        if (job->err < 0 && job->err_at < end)
            return;
        for (; job->delivered < end; job->delivered++)
            job->each(job->delivered, job->out[job->delivered], job->ctx);
    }
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
    job->running--;
    if (err < 0)
        note_error(job, err, at);
    if (job->out != NULL && job->each != NULL)
        deliver_in_order(p, job);
    if (job->sent == job->count && job->running == 0)
        finish(p, job);
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
    struct worker *w = &p->w[i];
    mp_result *job = w->job;
    size_t at = w->start + p->slots[i].item;
    kill(w->pid, SIGKILL);
    reap_worker(p, i);
    w->job = NULL;
    if (job != NULL)
        chunk_back(p, job, -EPIPE, at);
    if (!p->stopped)
        start_worker(p, i); // if it fails, the slot stays empty
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
    for (int i = 0; i < p->n && p->head != NULL; i++) {
        struct worker *w = &p->w[i];
        if (w->pid == 0 || w->job != NULL)
            continue;
        mp_result *job = p->head;
        size_t count = job->count - job->sent;
        if (count > job->chunksize)
            count = job->chunksize;
        p->slots[i].item = 0;
        struct task_msg t = {job->fn, job->fn2, count};
        size_t longs = item_longs(job->fn2);
        struct iovec iov[2] = {{&t, sizeof t},
                               {(void *)(job->in + job->sent * longs),
                                count * longs * sizeof *job->in}};
        if (send_all(w->fd, iov, 2) < 0) {
            lose_worker(p, i--); // then this slot again, with the new one
            continue;
        }
        w->job = job;
        w->start = job->sent;
        w->count = count;
        job->sent += count;
        job->running++;
        if (job->sent == job->count) { // all handed out: off the queue
            p->head = job->next;
            if (p->head == NULL)
                p->tail = NULL;
        }
    }
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
    struct worker *w = &p->w[i];
    mp_result *job = w->job;
    if (job->out != NULL) {
        size_t len = w->count * sizeof *job->out;
        ssize_t n = read_full(w->fd, job->out + w->start, len);
        return n == (ssize_t)len ? 0 : -EPIPE;
    }
    long part[512];
    for (size_t done = 0; done < w->count;) {
        size_t k = w->count - done < 512 ? w->count - done : 512;
        ssize_t n = read_full(w->fd, part, k * sizeof *part);
        if (n != (ssize_t)(k * sizeof *part))
            return -EPIPE;
        for (size_t j = 0; j < k; j++)
            job->each(w->start + done + j, part[j], job->ctx);
        done += k;
    }
    return 0;
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
    struct worker *w = &p->w[i];
    mp_result *job = w->job;
    struct result_msg r;
    if (job == NULL || read_full(w->fd, &r, sizeof r) != (ssize_t)sizeof r ||
        (r.err < 0 && r.at >= w->count) ||
        (r.err == 0 && receive_results(p, i) < 0)) {
        lose_worker(p, i);
        return;
    }
    w->job = NULL;
    chunk_back(p, job, r.err, w->start + r.at);
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
    dispatch(p);
    int live = 0;
    for (int i = 0; i < p->n; i++) {
        int fd = p->w[i].pid != 0 ? p->w[i].fd : -1;
        p->pfd[i] = (struct pollfd){.fd = fd, .events = POLLIN};
        live += fd >= 0;
    }
    if (live == 0)
        return -EAGAIN;
    if (poll(p->pfd, (nfds_t)p->n, timeout_ms) < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < p->n; i++)
        if (p->pfd[i].revents != 0)
            collect(p, i);
    return 0;
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
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        if (is_done(p, job))
            return 0;
        int left = timeout_ms;
        if (timeout_ms > 0) {
            long long l = deadline - now_ms();
            left = l > 0 ? (int)l : 0;
        }
        int r = pump(p, left);
        if (r < 0) {
            mp_pool_terminate(p);
            return r;
        }
        if (left == 0 && !is_done(p, job))
            return -ETIMEDOUT;
    }
}

// Submit a job the caller waits for, wait, and give its outcome.
static int
run_job(mp_pool *p, mp_result *job, size_t *failed)
{
    // TODO(09): enqueue, wait_for it with no limit, then return its error
    // (0 if none), with the failing index in *failed when there is one
    // and failed is not NULL.
    enqueue(p, job);
    int r = wait_for(p, job, -1);
    if (r < 0)
        return r;
    if (job->err < 0 && failed != NULL)
        *failed = job->err_at;
    return job->err;
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
    if (p->closed)
        return -EINVAL;
    if (job->count == 0)
        return 0;
    if (job->chunksize == 0 && job->each != NULL)
        job->chunksize = 1;
    if (job->chunksize == 0)
        job->chunksize = default_chunksize(job->count, p->n);
    return run_job(p, job, failed);
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
    job->callback = callback;
    job->error_callback = error_callback;
    job->ctx = ctx;
    job->orphan = res == NULL;
    if (res != NULL)
        *res = job;
    if (job->count == 0) {
        job->pool = p;
        p->pending++;
        finish(p, job);
        return;
    }
    enqueue(p, job);
    dispatch(p);
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
    if (pool == NULL || nworkers < 0)
        return -EINVAL;
    if (nworkers == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        nworkers = cpus > 0 ? (int)cpus : 1;
    }
    int err = -ENOMEM;
    mp_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    p->w = calloc((size_t)nworkers, sizeof *p->w);
    p->pfd = calloc((size_t)nworkers, sizeof *p->pfd);
    if (p->w == NULL || p->pfd == NULL)
        goto fail; // p->n is still 0: destroy looks at no worker
    p->n = nworkers;
    p->slots = mmap(NULL, (size_t)p->n * sizeof *p->slots,
                    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p->slots == MAP_FAILED) {
        err = -errno;
        p->slots = NULL;
        goto fail;
    }
    for (int i = 0; i < p->n; i++)
        if ((err = start_worker(p, i)) < 0)
            goto fail;
    *pool = p;
    return 0;
fail:
    mp_pool_destroy(p);
    return err;
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
    if (pool == NULL || fn == NULL || (count > 0 && (!in || !out)))
        return -EINVAL;
    mp_result job = {.fn = fn, .in = in, .out = out, .count = count};
    job.chunksize = chunksize;
    return run_map(pool, &job, failed);
}

int
mp_pool_starmap(mp_pool *pool, mp_task2 fn, const struct mp_pair *in, long *out,
                size_t count, size_t chunksize, size_t *failed)
{
    // TODO(09): as map, with fn2 instead of fn, and the pairs as the
    // items: in as (const long *) (item_longs says two longs each).
    if (pool == NULL || fn == NULL || (count > 0 && (!in || !out)))
        return -EINVAL;
    mp_result job = {.fn2 = fn, .in = (const long *)in, .out = out};
    job.count = count;
    job.chunksize = chunksize;
    return run_map(pool, &job, failed);
}

int
mp_pool_imap_unordered(mp_pool *pool, mp_task fn, const long *in, size_t count,
                       size_t chunksize, mp_item_callback each, void *ctx,
                       size_t *failed)
{
    // TODO(09): as map, with each and ctx instead of out (and each
    // required).
    if (pool == NULL || fn == NULL || each == NULL || (count > 0 && !in))
        return -EINVAL;
    mp_result job = {.fn = fn, .in = in, .each = each, .ctx = ctx};
    job.count = count;
    job.chunksize = chunksize;
    return run_map(pool, &job, failed);
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
    if (pool == NULL || fn == NULL || each == NULL || (count > 0 && !in))
        return -EINVAL;
    long *held = malloc(count * sizeof *held);
    if (held == NULL && count > 0)
        return -ENOMEM;
    mp_result job = {.fn = fn, .in = in, .out = held, .each = each};
    job.ctx = ctx;
    job.count = count;
    job.chunksize = chunksize;
    int r = run_map(pool, &job, failed);
    free(held);
    return r;
}

int
mp_pool_apply(mp_pool *pool, mp_task fn, long arg, long *value)
{
    // TODO(09): -EINVAL as map.  A job of one item on the stack: its in
    // is &job.arg and its out &job.value.  run_job, then hand back the
    // value on success.
    if (pool == NULL || fn == NULL || pool->closed)
        return -EINVAL;
    mp_result job = {.fn = fn, .count = 1, .chunksize = 1, .arg = arg};
    job.in = &job.arg;
    job.out = &job.value;
    int r = run_job(pool, &job, NULL);
    if (r == 0 && value != NULL)
        *value = job.value;
    return r;
}

int
mp_pool_apply_async(mp_pool *pool, mp_task fn, long arg, mp_callback callback,
                    mp_error_callback error_callback, void *ctx,
                    mp_result **res)
{
    // TODO(09): -EINVAL as apply: a closed pool takes no new task.
    // TODO(09): the job outlives this call: calloc it (-ENOMEM).  One item
    // (in &job->arg, out &job->value); then submit it, with the callbacks.
    if (pool == NULL || fn == NULL || pool->closed)
        return -EINVAL;
    mp_result *job = calloc(1, sizeof *job);
    if (job == NULL)
        return -ENOMEM;
    job->fn = fn;
    job->count = job->chunksize = 1;
    job->arg = arg;
    job->in = &job->arg;
    job->out = &job->value;
    submit(pool, job, callback, error_callback, ctx, res);
    return 0;
}

int
mp_pool_map_async(mp_pool *pool, mp_task fn, const long *in, long *out,
                  size_t count, size_t chunksize, mp_callback callback,
                  mp_error_callback error_callback, void *ctx, mp_result **res)
{
    // TODO(09): -EINVAL as map.  Then as apply_async, with map's job (in,
    // out, count, the chunksize by map's rule when 0), whose value, what
    // get and the callback give, is count: the results are in out.
    if (pool == NULL || fn == NULL || (count > 0 && (!in || !out)))
        return -EINVAL;
    if (pool->closed)
        return -EINVAL;
    mp_result *job = calloc(1, sizeof *job);
    if (job == NULL)
        return -ENOMEM;
    job->fn = fn;
    job->in = in;
    job->out = out;
    job->count = count;
    job->chunksize = chunksize ? chunksize : default_chunksize(count, pool->n);
    job->value = (long)count;
    submit(pool, job, callback, error_callback, ctx, res);
    return 0;
}

int
mp_result_get(mp_result *res, int timeout_ms, long *value)
{
    // TODO(09): -EINVAL for NULL or a timeout below -1.  Not done yet:
    // wait_for it with the timeout (-ETIMEDOUT leaves it running).  Done
    // jobs keep their outcome: return it (and the value, on success)
    // without touching the pool, which may be gone.  Call no callback
    // here: finish() called it, once.
    if (res == NULL || timeout_ms < -1)
        return -EINVAL;
    if (!res->done) {
        int r = wait_for(res->pool, res, timeout_ms);
        if (r < 0)
            return r;
    }
    if (res->err == 0 && value != NULL)
        *value = res->value;
    return res->err;
}

int
mp_result_free(mp_result *res)
{
    // TODO(09): NULL: 0.  Not done: -EBUSY, since the pool still points
    // at it.  Else free it.
    if (res == NULL)
        return 0;
    if (!res->done)
        return -EBUSY;
    free(res);
    return 0;
}

int
mp_pool_close(mp_pool *pool)
{
    // TODO(09): remember that the pool is closed; every way to submit
    // checks it.  Nothing else changes: queued tasks still run.
    if (pool == NULL)
        return -EINVAL;
    pool->closed = 1;
    return 0;
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
    if (pool == NULL || !pool->closed)
        return -EINVAL;
    if (pool->stopped)
        return 0;
    int r = wait_for(pool, NULL, -1);
    if (r < 0)
        return r;
    pool->stopped = 1;
    for (int i = 0; i < pool->n; i++)
        if (pool->w[i].pid != 0)
            reap_worker(pool, i);
    return 0;
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
    if (pool == NULL)
        return -EINVAL;
    pool->closed = 1;
    if (pool->stopped)
        return 0;
    pool->stopped = 1;
    for (int i = 0; i < pool->n; i++)
        if (pool->w[i].pid != 0)
            kill(pool->w[i].pid, SIGKILL);
    for (int i = 0; i < pool->n; i++) {
        struct worker *w = &pool->w[i];
        mp_result *job = w->job;
        if (w->pid != 0)
            reap_worker(pool, i);
        w->job = NULL;
        if (job != NULL)
            chunk_back(pool, job, -ECANCELED, w->start);
    }
    mp_result *job;
    while ((job = pool->head) != NULL) {
        pool->head = job->next;
        note_error(job, -ECANCELED, job->sent);
        job->sent = job->count;
        if (job->running == 0)
            finish(pool, job);
    }
    pool->tail = NULL;
    return 0;
}

int
mp_pool_destroy(mp_pool *pool)
{
    // TODO(09): NULL: 0.  Terminate (nothing happens if joined), then
    // free what create made: munmap the slots (if mapped), free the
    // arrays and the pool.  Result handles stay: their jobs are done.
    if (pool == NULL)
        return 0;
    mp_pool_terminate(pool);
    if (pool->slots != NULL)
        munmap(pool->slots, (size_t)pool->n * sizeof *pool->slots);
    free(pool->pfd);
    free(pool->w);
    free(pool);
    return 0;
}
