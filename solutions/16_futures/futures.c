// futures.c - lesson 16: futures on a pool of worker processes.
//
// Your task: make the functions of futures.h work.  Read
// lessons/16_futures/README.md first; `make check L=16` tests your code,
// `make hint L=16` gives one more hint each time you run it.
//
// How this executor works.  Each worker is a forked child with a
// socketpair of its own, and runs one call at a time: the executor sends
// it a request (the function and its argument) only when it is idle, and
// the worker answers with a reply (the code and the value).  So the
// executor always knows which future each worker holds, and a worker
// whose end reaches EOF without a reply has died holding it.  Calls that
// find no idle worker wait in the executor's own queue, where cancelling
// one is a local decision: no worker has seen it.  There is no thread:
// everything moves inside pump(), which every wait calls.
//
// The structs, the wire helpers and the queue are written for you.  Start
// with the worker's side, then the executor's, then the waits.
#define _DEFAULT_SOURCE // _SC_NPROCESSORS_ONLN, ESHUTDOWN: not POSIX
#include "futures.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ the wire */

// A call, executor to worker.
struct request {
    mp_fn fn;
    long arg;
};

// Its outcome, worker to executor.
struct reply {
    int code; // what fn returned: 0, or its positive code
    long value;
};

/* ----------------------------------------------------------- the state */

enum state { PENDING, RUNNING, FINISHED, CANCELLED };

struct mp_future {
    mp_executor *ex;
    mp_fn fn;
    long arg;
    enum state state;
    int outcome;       // once done: 0, the call's code, or -errno
    long value;        // once FINISHED with outcome 0
    unsigned long seq; // once done: its place in the order of endings
    int orphan;        // mp_future_free while running: free it at the end
    mp_future *next;   // in the queue, while PENDING
};

struct worker {
    pid_t pid;
    int fd;          // the executor's end; -1 once the worker is gone
    mp_future *call; // what it runs, or NULL when idle
};

struct mp_executor {
    int nworkers;
    struct worker w[MP_EXECUTOR_MAX_WORKERS];
    mp_future *head, *tail; // the pending calls, oldest first
    int running;            // calls on workers
    unsigned long ended;    // futures done so far: the next seq
    int shut;               // shutdown called: no more submits
    int broken;             // a worker died: every call failed
    int stopped;            // the workers are gone
};

/* ------------------------------------------- helpers (written for you) */

// Nanoseconds on CLOCK_MONOTONIC, a clock nobody can set.
static long long
now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

// Receive len bytes unless EOF comes first.  The count received (short
// only at EOF), or -errno.
static ssize_t
recv_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, (char *)buf + got, len - got, 0);
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

// Send len bytes.  MSG_NOSIGNAL: a peer that is gone gives -EPIPE, not a
// SIGPIPE that kills the caller.  0, or -errno.
static int
send_full(int fd, const void *buf, size_t len)
{
    size_t sent = 0;
    while (sent < len) {
        ssize_t n =
            send(fd, (const char *)buf + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        sent += (size_t)n;
    }
    return 0;
}

// Put f at the tail of the pending queue.
static void
enqueue(mp_executor *ex, mp_future *f)
{
    f->next = NULL;
    if (ex->tail != NULL)
        ex->tail->next = f;
    else
        ex->head = f;
    ex->tail = f;
}

// Take f out of the pending queue, wherever it is.
static void
unqueue(mp_executor *ex, mp_future *f)
{
    mp_future **p = &ex->head, *prev = NULL;
    while (*p != NULL && *p != f) {
        prev = *p;
        p = &(*p)->next;
    }
    if (*p == NULL)
        return;
    *p = f->next;
    if (ex->tail == f)
        ex->tail = prev;
    f->next = NULL;
}

// 1 if f is done: finished, failed or cancelled.
static int
is_done(const mp_future *f)
{
    return f->state == FINISHED || f->state == CANCELLED;
}

/* ---------------------------------------------------------- the worker */

// A worker's life: a request, the call, the reply; until EOF.
static void
worker_main(int fd)
{
    // TODO(16): loop: recv_full a struct request; anything short of a
    // whole one is EOF (the executor closed its end, or died): stop.
    // Call rq.fn(rq.arg, &value) and send_full a struct reply with its
    // code and value; a failed send also stops.  Then fflush(NULL) and
    // _exit(0): never return into the caller's code, whose stack this
    // process holds a copy of.
    struct request rq;
    while (recv_full(fd, &rq, sizeof rq) == (ssize_t)sizeof rq) {
        struct reply rp = {0, 0};
        rp.code = rq.fn(rq.arg, &rp.value);
        if (send_full(fd, &rp, sizeof rp) < 0)
            break;
    }
    fflush(NULL);
    _exit(0);
}

// Start worker i.  0, or -errno with nothing left open or running.
static int
start_worker(mp_executor *ex, int i)
{
    // TODO(16): socketpair(AF_UNIX, SOCK_STREAM, 0, sv): sv[0] is the
    // executor's end, sv[1] the worker's.  fflush(NULL), then fork.  On
    // failure close what is open and return -errno (saved first: close
    // may change errno).
    // TODO(16): in the child: close sv[0] and the executor's end of every
    // worker started before this one (fork copied them: a worker that
    // keeps another's end keeps that one from seeing EOF when the caller
    // dies), then worker_main(sv[1]).
    // TODO(16): in the parent: close sv[1] (or this worker's death never
    // shows as EOF), and fill ex->w[i].
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return -errno;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(sv[0]);
        close(sv[1]);
        return -err;
    }
    if (pid == 0) {
        close(sv[0]);
        for (int j = 0; j < i; j++)
            close(ex->w[j].fd);
        worker_main(sv[1]);
    }
    close(sv[1]);
    ex->w[i] = (struct worker){.pid = pid, .fd = sv[0], .call = NULL};
    return 0;
}

// End every worker that is left: shut its end down, so it reads EOF and
// exits, then reap it.  With kill_first, SIGKILL it first.
static void
stop_workers(mp_executor *ex, int kill_first)
{
    // TODO(16): for each worker whose fd is not -1: kill(pid, SIGKILL) if
    // kill_first; shutdown(fd, SHUT_WR), then close(fd), fd = -1.  A
    // close alone sends no EOF while a copy of the end lives on (in the
    // workers of an executor made later, say); shutdown sends it anyway.
    // End them ALL before reaping any: a worker exits once it sees EOF.
    // Then waitpid each pid above 0 (never -1: that reaps any child),
    // retried on EINTR, and set it to 0: a worker not reaped is a zombie.
    // Set ex->stopped.
    for (int i = 0; i < ex->nworkers; i++) {
        if (ex->w[i].fd < 0)
            continue;
        if (kill_first)
            kill(ex->w[i].pid, SIGKILL);
        shutdown(ex->w[i].fd, SHUT_WR);
        close(ex->w[i].fd);
        ex->w[i].fd = -1;
    }
    for (int i = 0; i < ex->nworkers; i++) {
        if (ex->w[i].pid <= 0)
            continue;
        while (waitpid(ex->w[i].pid, NULL, 0) < 0 && errno == EINTR)
            ;
        ex->w[i].pid = 0;
    }
    ex->stopped = 1;
}

/* --------------------------------------------------- ending the futures */

// f is done with this outcome: note when, and free it if its owner gave
// it up while it ran.
static void
settle(mp_executor *ex, mp_future *f, int outcome, long value)
{
    // TODO(16): state CANCELLED if outcome is -ECANCELED, else FINISHED;
    // keep outcome and value; seq = ++ex->ended, which as_completed
    // orders by.  If f->orphan, free(f): nobody else will.
    f->state = outcome == -ECANCELED ? CANCELLED : FINISHED;
    f->outcome = outcome;
    f->value = value;
    f->seq = ++ex->ended;
    if (f->orphan)
        free(f);
}

// A worker died, or could not be reached: the executor is broken.
static void
break_executor(mp_executor *ex)
{
    // TODO(16): as Python does: set ex->broken; fail every running call
    // (each worker's call) and every pending one with -EPIPE (settle),
    // and empty the queue; then stop_workers(ex, 1): the workers still
    // alive are killed and reaped, not left as zombies.
    ex->broken = 1;
    for (int i = 0; i < ex->nworkers; i++) {
        if (ex->w[i].call != NULL)
            settle(ex, ex->w[i].call, -EPIPE, 0);
        ex->w[i].call = NULL;
    }
    ex->running = 0;
    while (ex->head != NULL) {
        mp_future *f = ex->head;
        unqueue(ex, f);
        settle(ex, f, -EPIPE, 0);
    }
    stop_workers(ex, 1);
}

// Cancel the pending call f.
static void
cancel_pending(mp_executor *ex, mp_future *f)
{
    unqueue(ex, f);
    settle(ex, f, -ECANCELED, 0);
}

/* ------------------------------------------------------------ the pump */

// Hand pending calls to idle workers, oldest first.
static void
dispatch(mp_executor *ex)
{
    // TODO(16): while the queue is not empty and some worker is idle
    // (fd >= 0, no call): take the HEAD of the queue (first in, first
    // out), send_full it a struct request; if the send fails, the worker
    // is as good as dead: break_executor and stop.  Else the future is
    // RUNNING on that worker, and ex->running counts it.
    for (int i = 0; i < ex->nworkers && ex->head != NULL; i++) {
        struct worker *w = &ex->w[i];
        if (w->fd < 0 || w->call != NULL)
            continue;
        mp_future *f = ex->head;
        struct request rq = {f->fn, f->arg};
        if (send_full(w->fd, &rq, sizeof rq) < 0) {
            break_executor(ex);
            return;
        }
        unqueue(ex, f);
        f->state = RUNNING;
        w->call = f;
        ex->running++;
    }
}

// Worker i has something to read: a reply, or EOF if it died.
static void
collect(mp_executor *ex, int i)
{
    // TODO(16): recv_full a struct reply.  Anything short (EOF: the
    // worker died, idle or running) breaks the executor, as in Python.
    // A whole reply settles the worker's call with its code and value,
    // and the worker is idle again.
    struct worker *w = &ex->w[i];
    struct reply rp;
    if (recv_full(w->fd, &rp, sizeof rp) != (ssize_t)sizeof rp ||
        w->call == NULL) {
        break_executor(ex);
        return;
    }
    mp_future *f = w->call;
    w->call = NULL;
    ex->running--;
    settle(ex, f, rp.code, rp.value);
}

// 1 if nothing is pending or running.
static int
idle(const mp_executor *ex)
{
    return ex->head == NULL && ex->running == 0;
}

// Wait up to timeout_ms (-1: for ever) for news from the workers, and
// act on it.  0 (also when a signal cut the wait short), or -errno.
static int
pump(mp_executor *ex, int timeout_ms)
{
    // TODO(16): one poll over the fd of every worker still there
    // (POLLIN: a reply, or EOF).  No worker left: return -EPIPE.  poll
    // failing with EINTR is no error: return 0, and the caller works out
    // the time left.  Another failure: -errno.
    // TODO(16): collect each worker whose revents is not 0 (POLLHUP
    // alone is EOF too); stop if the executor broke.  Then dispatch.
    // Once shut down and idle, stop_workers(ex, 0): Python's manager
    // thread ends the workers when the last call is done.
    struct pollfd pfd[MP_EXECUTOR_MAX_WORKERS];
    int who[MP_EXECUTOR_MAX_WORKERS], n = 0;
    for (int i = 0; i < ex->nworkers; i++) {
        if (ex->w[i].fd < 0)
            continue;
        pfd[n] = (struct pollfd){.fd = ex->w[i].fd, .events = POLLIN};
        who[n++] = i;
    }
    if (n == 0)
        return -EPIPE;
    if (poll(pfd, (nfds_t)n, timeout_ms) < 0)
        return errno == EINTR ? 0 : -errno;
    for (int k = 0; k < n && !ex->broken; k++)
        if (pfd[k].revents != 0)
            collect(ex, who[k]);
    if (!ex->broken)
        dispatch(ex);
    if (ex->shut && idle(ex) && !ex->stopped)
        stop_workers(ex, 0);
    return 0;
}

/* ----------------------------------------------------------- the waits */

// The deadline timeout_ms from now, or -1 for none.
static long long
deadline_after(int timeout_ms)
{
    // TODO(16): -1 stays -1 (no deadline).  Otherwise now_ns() plus the
    // timeout in nanoseconds, multiplied in 64 bits (1000000LL).
    if (timeout_ms < 0)
        return -1;
    return now_ns() + timeout_ms * 1000000LL;
}

// What is left until deadline, for poll: -1 for none; else the time
// left in ms, rounded up, at least 0.
static int
time_left(long long deadline)
{
    // TODO(16): -1 for no deadline.  Else the nanoseconds left, rounded
    // UP to a whole ms (rounded down, the wait ends before its time), and
    // 0 once it has passed: poll takes a negative timeout as "for ever".
    // At most INT_MAX.
    if (deadline < 0)
        return -1;
    long long ns = deadline - now_ns();
    if (ns <= 0)
        return 0;
    long long ms = (ns + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

// Work the executor until done(ctx) says 1, or the deadline passes.  0,
// -ETIMEDOUT, or pump's error.
static int
wait_until(mp_executor *ex, long long deadline, int (*done)(void *), void *ctx)
{
    // TODO(16): loop: if done(ctx), return 0 (ask first: what is done
    // needs no executor, which may be gone).  Else the time left; if it
    // is 0 and you have looked once already, -ETIMEDOUT.  Else pump for
    // the time left: a signal ends pump early, and the loop goes on with
    // the time left until the SAME deadline, never the whole timeout
    // again.
    for (int looked = 0;; looked = 1) {
        if (done(ctx))
            return 0;
        int left = time_left(deadline);
        if (left == 0 && looked)
            return -ETIMEDOUT;
        int r = pump(ex, left);
        if (r < 0)
            return r;
    }
}

static int
future_done(void *f)
{
    return is_done(f);
}

static int
executor_idle(void *ex)
{
    return idle(ex);
}

// The executor of the futures not done, in *ex (NULL if all are done).
// 0, or -EINVAL for a NULL entry or two executors.
static int
common_executor(mp_future *const *futs, int n, mp_executor **ex)
{
    *ex = NULL;
    for (int i = 0; i < n; i++) {
        if (futs[i] == NULL)
            return -EINVAL;
        if (is_done(futs[i]))
            continue;
        if (*ex != NULL && futs[i]->ex != *ex)
            return -EINVAL;
        *ex = futs[i]->ex;
    }
    return 0;
}

/* ----------------------------------------------------- the executor */

int
mp_executor_create(mp_executor **ex, int max_workers)
{
    // TODO(16): -EINVAL for a NULL ex or a max_workers below 0 or above
    // MP_EXECUTOR_MAX_WORKERS.  0 means sysconf(_SC_NPROCESSORS_ONLN),
    // kept within 1 and the maximum.
    // TODO(16): calloc the executor (-ENOMEM) and start_worker each
    // worker, counting them in nworkers as they start.  If one fails,
    // stop_workers the ones started, free, and return its error.
    if (ex == NULL || max_workers < 0 || max_workers > MP_EXECUTOR_MAX_WORKERS)
        return -EINVAL;
    if (max_workers == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        max_workers = cpus < 1                         ? 1
                      : cpus > MP_EXECUTOR_MAX_WORKERS ? MP_EXECUTOR_MAX_WORKERS
                                                       : (int)cpus;
    }
    mp_executor *e = calloc(1, sizeof *e);
    if (e == NULL)
        return -ENOMEM;
    for (int i = 0; i < max_workers; i++) {
        int r = start_worker(e, i);
        if (r < 0) {
            stop_workers(e, 0);
            free(e);
            return r;
        }
        e->nworkers++;
    }
    *ex = e;
    return 0;
}

int
mp_executor_submit(mp_executor *ex, mp_fn fn, long arg, mp_future **fut)
{
    // TODO(16): -EINVAL for a NULL argument; -EPIPE once broken;
    // -ESHUTDOWN once shut down.  calloc the future (-ENOMEM), PENDING,
    // enqueue it, dispatch (it starts at once if a worker is idle), and
    // hand it out.
    if (ex == NULL || fn == NULL || fut == NULL)
        return -EINVAL;
    if (ex->broken)
        return -EPIPE;
    if (ex->shut)
        return -ESHUTDOWN;
    mp_future *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -ENOMEM;
    *f = (mp_future){.ex = ex, .fn = fn, .arg = arg, .state = PENDING};
    enqueue(ex, f);
    dispatch(ex);
    *fut = f;
    return 0;
}

int
mp_executor_map(mp_executor *ex, mp_fn fn, const long *in, long *out, int n,
                int timeout_ms)
{
    // TODO(16): check the arguments (-EINVAL).  Take the deadline once,
    // for every item.  calloc an array of n futures (-ENOMEM), submit
    // every item, then in input order wait_until each is done: a timeout
    // or the first failing item (outcome not 0) is the answer; else
    // out[i] is its value.  On every way out, mp_future_free each future
    // made: the pending ones are cancelled, as Python's map does.
    if (ex == NULL || fn == NULL || n < 0 || timeout_ms < -1 ||
        (n > 0 && (in == NULL || out == NULL)))
        return -EINVAL;
    if (n == 0)
        return 0;
    long long deadline = deadline_after(timeout_ms);
    mp_future **fs = calloc((size_t)n, sizeof *fs);
    if (fs == NULL)
        return -ENOMEM;
    int r = 0, made = 0;
    while (made < n && r == 0)
        if ((r = mp_executor_submit(ex, fn, in[made], &fs[made])) == 0)
            made++;
    for (int i = 0; i < made && r == 0; i++) {
        r = wait_until(ex, deadline, future_done, fs[i]);
        if (r == 0 && (r = fs[i]->outcome) == 0)
            out[i] = fs[i]->value;
    }
    for (int i = 0; i < made; i++)
        mp_future_free(fs[i]);
    free(fs);
    return r;
}

int
mp_executor_shutdown(mp_executor *ex, int wait, int cancel_futures)
{
    // TODO(16): -EINVAL for NULL.  Set ex->shut.  With cancel_futures,
    // cancel_pending each queued call.  With wait, wait_until the
    // executor is idle (no deadline).  Once idle, stop_workers(ex, 0)
    // unless they are stopped already (a broken executor's are).
    if (ex == NULL)
        return -EINVAL;
    ex->shut = 1;
    while (cancel_futures && ex->head != NULL)
        cancel_pending(ex, ex->head);
    if (wait) {
        int r = wait_until(ex, -1, executor_idle, ex);
        if (r < 0)
            return r;
    }
    if (idle(ex) && !ex->stopped)
        stop_workers(ex, 0);
    return 0;
}

int
mp_executor_free(mp_executor *ex)
{
    // TODO(16): NULL: 0.  mp_executor_shutdown(ex, 1, 0); if it fails,
    // break_executor (the calls fail, the workers are killed and
    // reaped): freeing must leave nothing behind.  Then free.
    if (ex == NULL)
        return 0;
    if (mp_executor_shutdown(ex, 1, 0) < 0)
        break_executor(ex);
    free(ex);
    return 0;
}

/* -------------------------------------------------------- the futures */

int
mp_future_result(mp_future *fut, int timeout_ms, long *value)
{
    // TODO(16): -EINVAL for a NULL fut or a timeout below -1.
    // wait_until it is done (deadline_after the timeout); a failure is
    // the answer.  Then its outcome, with *value set on success.
    if (fut == NULL || timeout_ms < -1)
        return -EINVAL;
    int r = wait_until(fut->ex, deadline_after(timeout_ms), future_done, fut);
    if (r < 0)
        return r;
    if (fut->outcome == 0 && value != NULL)
        *value = fut->value;
    return fut->outcome;
}

int
mp_future_cancel(mp_future *fut)
{
    // TODO(16): -EINVAL for NULL.  Already CANCELLED: 1.  PENDING:
    // cancel_pending, 1.  RUNNING or FINISHED: 0; a worker has the call,
    // and cancelling it now would report a call as not run that runs.
    if (fut == NULL)
        return -EINVAL;
    if (fut->state == CANCELLED)
        return 1;
    if (fut->state != PENDING)
        return 0;
    cancel_pending(fut->ex, fut);
    return 1;
}

// Look once for news, unless fut is done.  0, or -errno.
static int
look(mp_future *fut)
{
    if (is_done(fut))
        return 0;
    return pump(fut->ex, 0);
}

int
mp_future_done(mp_future *fut)
{
    // TODO(16): -EINVAL for NULL; look, then whether it is done.
    if (fut == NULL)
        return -EINVAL;
    int r = look(fut);
    return r < 0 ? r : is_done(fut);
}

int
mp_future_running(mp_future *fut)
{
    // TODO(16): -EINVAL for NULL; look, then whether it is RUNNING.
    if (fut == NULL)
        return -EINVAL;
    int r = look(fut);
    return r < 0 ? r : fut->state == RUNNING;
}

int
mp_future_cancelled(mp_future *fut)
{
    // TODO(16): -EINVAL for NULL; whether it is CANCELLED.
    if (fut == NULL)
        return -EINVAL;
    return fut->state == CANCELLED;
}

int
mp_future_free(mp_future *fut)
{
    // TODO(16): NULL: 0.  RUNNING: set orphan and keep it: its worker
    // still holds it, and settle frees it when the reply comes (freeing
    // it now would leave the worker's call pointing at freed memory).
    // PENDING: cancel_pending first.  Then free it.
    if (fut == NULL)
        return 0;
    if (fut->state == RUNNING) {
        fut->orphan = 1;
        return 0;
    }
    if (fut->state == PENDING)
        cancel_pending(fut->ex, fut);
    free(fut);
    return 0;
}

/* --------------------------------------------------------- as_completed */

int
mp_as_completed_begin(struct mp_as_completed *it, mp_future *const *futs, int n,
                      int timeout_ms)
{
    // TODO(16): -EINVAL for a NULL it, n outside 0 to
    // MP_AS_COMPLETED_MAX, a NULL futs with n > 0, or timeout_ms below
    // -1; common_executor checks the entries.  Then fill it in: the
    // deadline is taken HERE, once, for the whole loop; no future given.
    if (it == NULL || n < 0 || n > MP_AS_COMPLETED_MAX || timeout_ms < -1 ||
        (n > 0 && futs == NULL))
        return -EINVAL;
    mp_executor *ex;
    int r = common_executor(futs, n, &ex);
    if (r < 0)
        return r;
    *it = (struct mp_as_completed){.futs = futs, .n = n, .ex = ex};
    it->deadline_ns = deadline_after(timeout_ms);
    return 0;
}

// The index of the future done and not yet given that ended first, or -1.
static int
first_ended(const struct mp_as_completed *it)
{
    // TODO(16): among i with it->out[i] == 0 and futs[i] done, the one
    // with the lowest seq: the order they ended in, not their order in
    // futs.
    int best = -1;
    for (int i = 0; i < it->n; i++) {
        if (it->out[i] || !is_done(it->futs[i]))
            continue;
        if (best < 0 || it->futs[i]->seq < it->futs[best]->seq)
            best = i;
    }
    return best;
}

static int
one_ended(void *it)
{
    return first_ended(it) >= 0;
}

int
mp_as_completed_next(struct mp_as_completed *it, int *index)
{
    // TODO(16): -EINVAL for NULL.  Every future given: 0.  Else
    // wait_until one_ended, within it->deadline_ns; a failure is the
    // answer.  Then give first_ended: mark it out, count it, *index, 1.
    if (it == NULL || index == NULL)
        return -EINVAL;
    if (it->given == it->n)
        return 0;
    int r = wait_until(it->ex, it->deadline_ns, one_ended, it);
    if (r < 0)
        return r;
    int i = first_ended(it);
    it->out[i] = 1;
    it->given++;
    *index = i;
    return 1;
}

/* ----------------------------------------------------------------- wait */

struct wait_for {
    mp_future *const *futs;
    int n;
    int return_when;
};

// 1 once the condition of w->return_when holds.
static int
wait_met(void *arg)
{
    // TODO(16): count the futures done, and note whether one of them
    // failed: outcome not 0 and not -ECANCELED (a cancelled call raised
    // nothing).  MP_FIRST_COMPLETED: one done (or n is 0).
    // MP_FIRST_EXCEPTION: one failed, or all done.  MP_ALL_COMPLETED:
    // all done.
    const struct wait_for *w = arg;
    int done = 0, failed = 0;
    for (int i = 0; i < w->n; i++) {
        if (!is_done(w->futs[i]))
            continue;
        done++;
        failed |= w->futs[i]->outcome != 0 && w->futs[i]->outcome != -ECANCELED;
    }
    if (w->return_when == MP_FIRST_COMPLETED)
        return done > 0 || w->n == 0;
    if (w->return_when == MP_FIRST_EXCEPTION && failed)
        return 1;
    return done == w->n;
}

int
mp_futures_wait(mp_future *const *futs, int n, int timeout_ms, int return_when,
                int *done)
{
    // TODO(16): -EINVAL for a NULL futs or done with n > 0, n below 0, a
    // timeout below -1, or an unknown return_when; common_executor.
    // wait_until wait_met: a timeout is no error here (Python returns
    // what is done), another failure is.  Then set every done[i], and
    // return how many are 1.
    if (n < 0 || timeout_ms < -1 || (n > 0 && (futs == NULL || done == NULL)) ||
        return_when < MP_FIRST_COMPLETED || return_when > MP_ALL_COMPLETED)
        return -EINVAL;
    mp_executor *ex;
    int r = common_executor(futs, n, &ex);
    if (r < 0)
        return r;
    struct wait_for w = {futs, n, return_when};
    r = wait_until(ex, deadline_after(timeout_ms), wait_met, &w);
    if (r < 0 && r != -ETIMEDOUT)
        return r;
    int count = 0;
    for (int i = 0; i < n; i++)
        count += done[i] = is_done(futs[i]);
    return count;
}
