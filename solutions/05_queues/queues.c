// queues.c - lesson 05: a bounded queue of byte messages in shared memory.
//
// Your task: make the functions below work as queues.h describes.
// Read lessons/05_queues/README.md first; `make check L=05` tests your code,
// `make hint L=05` gives one more hint each time you run it.
//
// The queue is one block of MAP_SHARED memory: the struct below, then a
// ring of bytes holding the messages, each a size_t length followed by
// its bytes.  Either part of a message may wrap around the ring's end.
#define _DEFAULT_SOURCE // MAP_ANONYMOUS is not in POSIX.1-2008
#include "queues.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define HDR sizeof(size_t) // each message starts with its length

struct mp_queue {
    pthread_mutex_t lock;     // guards every field below, and the ring
    pthread_cond_t not_empty; // getters wait here for a message
    pthread_cond_t not_full;  // putters wait here for room
    pthread_cond_t all_done;  // joiners wait here for unfinished == 0
    unsigned getters;         // how many wait on not_empty
    unsigned putters;         // how many wait on not_full
    unsigned joiners;         // how many wait on all_done
    size_t maxsize;           // capacity, in messages
    size_t max_msg;           // the largest message, in bytes
    size_t count;             // messages in the ring
    size_t unfinished;        // messages put and not yet task_done
    size_t head;              // where the next get reads, in ring
    size_t tail;              // where the next put writes, in ring
    size_t ring_size;         // bytes in ring
    size_t map_size;          // bytes mapped, for munmap
    unsigned char ring[];     // the messages
};

/* ------------------------------------------------------------ creation */

// TODO(05): you may write helpers here for mp_queue_create's last step,
// such as `static int init_lock(mp_queue *q)` and `static int
// init_conds(mp_queue *q)`, each returning 0 or minus the pthread error.

// The lock, shared by every process that maps the queue.
static int
init_lock(mp_queue *q)
{
    pthread_mutexattr_t ma;
    int rc = pthread_mutexattr_init(&ma);
    if (rc != 0)
        return -rc;
    rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutex_init(&q->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    return -rc;
}

// The three conditions, shared too, their timeouts measured on CLOCK_MONOTONIC.
static int
init_conds(mp_queue *q)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc != 0)
        return -rc;
    rc = pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&q->not_empty, &ca);
    if (rc == 0 && (rc = pthread_cond_init(&q->not_full, &ca)) != 0)
        pthread_cond_destroy(&q->not_empty);
    if (rc == 0 && (rc = pthread_cond_init(&q->all_done, &ca)) != 0) {
        pthread_cond_destroy(&q->not_full);
        pthread_cond_destroy(&q->not_empty);
    }
    pthread_condattr_destroy(&ca);
    return -rc;
}

int
mp_queue_create(mp_queue **qp, size_t maxsize, size_t max_msg)
{
    // TODO(05): reject a NULL qp, a maxsize of 0 or a max_msg of 0 with
    // -EINVAL.
    if (qp == NULL || maxsize == 0 || max_msg == 0)
        return -EINVAL;
    // TODO(05): size the ring so that maxsize messages of max_msg bytes
    // fit, each after its HDR-byte length.  Check before you multiply:
    // if the size would overflow a size_t, return -ENOMEM (an overflowed
    // size is a small one, and a queue that writes past its end).
    size_t slot = HDR + max_msg;
    if (slot < max_msg || slot > (SIZE_MAX - sizeof(mp_queue)) / maxsize)
        return -ENOMEM;
    size_t map_size = sizeof(mp_queue) + slot * maxsize;
    // TODO(05): map the struct and the ring with mmap(NULL, size,
    // PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0).
    // MAP_SHARED, not MAP_PRIVATE: a child forked later must see the very
    // same pages, not a copy-on-write copy.  On failure return -errno.
    mp_queue *q = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED)
        return -errno;
    // TODO(05): fill in the fields (the memory is already zero), then
    // initialise the mutex with pthread_mutexattr_setpshared and the three
    // condition variables with pthread_condattr_setpshared and
    // pthread_condattr_setclock(CLOCK_MONOTONIC).  Without
    // PTHREAD_PROCESS_SHARED, glibc's futex wake-ups never cross into
    // another process.  On failure munmap and return the error.
    q->maxsize = maxsize;
    q->max_msg = max_msg;
    q->ring_size = slot * maxsize;
    q->map_size = map_size;
    int rc = init_lock(q);
    if (rc == 0 && (rc = init_conds(q)) < 0)
        pthread_mutex_destroy(&q->lock);
    if (rc < 0) {
        munmap(q, map_size);
        return rc;
    }
    *qp = q;
    return 0;
}

/* ---------------------------------------------------------------- ring */

// Copy n bytes into the ring at its tail, wrapping around its end.
static void
ring_write(mp_queue *q, const void *src, size_t n)
{
    if (n == 0)
        return;
    size_t first = q->ring_size - q->tail;
    if (first > n)
        first = n;
    memcpy(q->ring + q->tail, src, first);
    memcpy(q->ring, (const unsigned char *)src + first, n - first);
    q->tail = (q->tail + n) % q->ring_size;
}

// Copy n bytes out of the ring from its head, wrapping around its end.
static void
ring_read(mp_queue *q, void *dst, size_t n)
{
    if (n == 0)
        return;
    size_t first = q->ring_size - q->head;
    if (first > n)
        first = n;
    memcpy(dst, q->ring + q->head, first);
    memcpy((unsigned char *)dst + first, q->ring, n - first);
    q->head = (q->head + n) % q->ring_size;
}

/* ------------------------------------------------------------- waiting */

static int
is_full(const mp_queue *q)
{
    return q->count >= q->maxsize;
}

static int
is_empty(const mp_queue *q)
{
    return q->count == 0;
}

static int
has_unfinished(const mp_queue *q)
{
    return q->unfinished > 0;
}

// The absolute time timeout_ms from now, on CLOCK_MONOTONIC.
static struct timespec
deadline_after(int timeout_ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

// With q locked, wait on cond for as long as blocked(q), counted in
// *waiters so that the other side signals only when someone waits.
// 0 once blocked(q) is false; -EAGAIN or -ETIMEDOUT if it never was.
static int
wait_while(mp_queue *q, int (*blocked)(const mp_queue *), pthread_cond_t *cond,
           unsigned *waiters, int timeout_ms)
{
    if (!blocked(q))
        return 0;
    if (timeout_ms == 0)
        return -EAGAIN;
    struct timespec until = deadline_after(timeout_ms > 0 ? timeout_ms : 0);
    int rc = 0;
    (*waiters)++;
    // A wake-up is a hint, not a promise: another process may have
    // taken the message (or the room) first, or the wake-up was spurious.
    while (blocked(q) && rc == 0)
        rc = timeout_ms < 0 ? pthread_cond_wait(cond, &q->lock)
                            : pthread_cond_timedwait(cond, &q->lock, &until);
    (*waiters)--;
    return blocked(q) ? -rc : 0;
}

/* ------------------------------------------------------------ put, get */

int
mp_queue_put(mp_queue *q, const void *buf, size_t len, int timeout_ms)
{
    // TODO(05): reject a NULL q, a NULL buf with len > 0, or a timeout_ms
    // below -1 with -EINVAL, and a len above the queue's max_msg with
    // -EMSGSIZE.
    if (q == NULL || (buf == NULL && len > 0) || timeout_ms < -1)
        return -EINVAL;
    if (len > q->max_msg)
        return -EMSGSIZE;
    // TODO(05): lock the mutex.  While the queue is full, wait on
    // not_full: never with `if`, always in a `while` loop, since another
    // producer may fill the room you were woken for.  Timeout 0 returns
    // -EAGAIN at once; -1 waits with pthread_cond_wait; otherwise
    // pthread_cond_timedwait with an ABSOLUTE deadline, now + timeout_ms
    // read once from clock_gettime(CLOCK_MONOTONIC), the clock the
    // condition uses.  Count yourself in putters while you wait.
    pthread_mutex_lock(&q->lock);
    int rc = wait_while(q, is_full, &q->not_full, &q->putters, timeout_ms);
    // TODO(05): with the lock still held, copy the length and then the
    // bytes into the ring at tail, wrapping around its end, and count the
    // message and its unfinished task, both before you unlock: once the
    // lock is free a consumer may take the message and call task_done.
    // Signal not_empty if a getter waits (else it sleeps on).
    if (rc == 0) {
        ring_write(q, &len, HDR);
        ring_write(q, buf, len);
        q->count++;
        q->unfinished++;
        if (q->getters > 0)
            pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

ssize_t
mp_queue_get(mp_queue *q, void *buf, size_t cap, int timeout_ms)
{
    // TODO(05): reject a NULL q or buf, or a timeout_ms below -1, with
    // -EINVAL, and a cap below the queue's max_msg with -EMSGSIZE.
    if (q == NULL || buf == NULL || timeout_ms < -1)
        return -EINVAL;
    if (cap < q->max_msg)
        return -EMSGSIZE;
    // TODO(05): lock; while the queue is empty wait on not_empty, as put
    // waits on not_full (a while loop, getters counted, the same
    // timeouts).
    pthread_mutex_lock(&q->lock);
    int rc = wait_while(q, is_empty, &q->not_empty, &q->getters, timeout_ms);
    // TODO(05): copy the length and then the bytes out of the ring at
    // head, wrapping as put did; uncount the message; signal not_full if
    // a putter waits.  Unlock, and return the length.
    size_t len = 0;
    if (rc == 0) {
        ring_read(q, &len, HDR);
        ring_read(q, buf, len);
        q->count--;
        if (q->putters > 0)
            pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return rc < 0 ? rc : (ssize_t)len;
}

/* ------------------------------------------------------------ the rest */

int
mp_queue_empty(mp_queue *q)
{
    // TODO(05): -EINVAL for a NULL q; else whether count is 0, read with
    // the lock held (the answer is stale as soon as you unlock anyway).
    if (q == NULL)
        return -EINVAL;
    pthread_mutex_lock(&q->lock);
    int empty = q->count == 0;
    pthread_mutex_unlock(&q->lock);
    return empty;
}

long
mp_queue_qsize(mp_queue *q)
{
    // TODO(05): -EINVAL for a NULL q; else count, read with the lock held.
    if (q == NULL)
        return -EINVAL;
    pthread_mutex_lock(&q->lock);
    long n = (long)q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

long
mp_queue_consume(mp_queue *q, mp_consumer fn, void *arg)
{
    // TODO(05): -EINVAL for a NULL q or fn.  malloc a buffer of max_msg
    // bytes (-ENOMEM), then mp_queue_get with timeout -1 in a loop,
    // passing each message to fn, until an empty message (the sentinel)
    // arrives: take that one, but not the next.  Do not stop when the
    // queue is merely empty: the producers may not have started yet.
    // Free the buffer; return how many messages fn saw, or the error of
    // a failed get.
    if (q == NULL || fn == NULL)
        return -EINVAL;
    unsigned char *buf = malloc(q->max_msg);
    if (buf == NULL)
        return -ENOMEM;
    long n = 0;
    ssize_t len;
    while ((len = mp_queue_get(q, buf, q->max_msg, -1)) > 0) {
        fn(buf, (size_t)len, arg);
        n++;
    }
    free(buf);
    return len < 0 ? (long)len : n;
}

/* ---------------------------------------------------- task_done, join */

int
mp_queue_task_done(mp_queue *q)
{
    // TODO(05): -EINVAL for a NULL q.  Lock; if no task is unfinished,
    // unlock and return -EINVAL, leaving the count at 0 (it is a size_t:
    // one more decrement wraps it round to 2^64 - 1).  Else take one task
    // off; if that was the last and a joiner waits, wake them ALL with
    // pthread_cond_broadcast: pthread_cond_signal wakes one joiner, and
    // the others, in other processes, sleep on for ever.
    if (q == NULL)
        return -EINVAL;
    pthread_mutex_lock(&q->lock);
    int rc = 0;
    if (q->unfinished == 0)
        rc = -EINVAL;
    else if (--q->unfinished == 0 && q->joiners > 0)
        pthread_cond_broadcast(&q->all_done);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int
mp_queue_join(mp_queue *q, int timeout_ms)
{
    // TODO(05): -EINVAL for a NULL q or a timeout_ms below -1.  Lock;
    // while tasks are unfinished wait on all_done, as get waits on
    // not_empty (a while loop, joiners counted, -EAGAIN for timeout 0, an
    // absolute deadline on CLOCK_MONOTONIC).  Wait for the count of
    // unfinished tasks, not for an empty queue: a consumer that took the
    // last message may still be working on it.
    if (q == NULL || timeout_ms < -1)
        return -EINVAL;
    pthread_mutex_lock(&q->lock);
    int rc =
        wait_while(q, has_unfinished, &q->all_done, &q->joiners, timeout_ms);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

long
mp_queue_unfinished(mp_queue *q)
{
    // TODO(05): -EINVAL for a NULL q; else unfinished, read with the lock
    // held.
    if (q == NULL)
        return -EINVAL;
    pthread_mutex_lock(&q->lock);
    long n = (long)q->unfinished;
    pthread_mutex_unlock(&q->lock);
    return n;
}

int
mp_queue_destroy(mp_queue *q)
{
    // TODO(05): -EINVAL for a NULL q.  Destroy the three conditions and
    // the mutex, then munmap the whole mapping (read its size first: after
    // munmap, q points nowhere).
    if (q == NULL)
        return -EINVAL;
    pthread_cond_destroy(&q->all_done);
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    if (munmap(q, q->map_size) != 0)
        return -errno;
    return 0;
}
