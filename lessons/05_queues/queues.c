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

int
mp_queue_create(mp_queue **qp, size_t maxsize, size_t max_msg)
{
    // TODO(05): reject a NULL qp, a maxsize of 0 or a max_msg of 0 with
    // -EINVAL.
    // TODO(05): size the ring so that maxsize messages of max_msg bytes
    // fit, each after its HDR-byte length.  Check before you multiply:
    // if the size would overflow a size_t, return -ENOMEM (an overflowed
    // size is a small one, and a queue that writes past its end).
    // TODO(05): map the struct and the ring with mmap(NULL, size,
    // PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0).
    // MAP_SHARED, not MAP_PRIVATE: a child forked later must see the very
    // same pages, not a copy-on-write copy.  On failure return -errno.
    // TODO(05): fill in the fields (the memory is already zero), then
    // initialise the mutex with pthread_mutexattr_setpshared and the three
    // condition variables with pthread_condattr_setpshared and
    // pthread_condattr_setclock(CLOCK_MONOTONIC).  Without
    // PTHREAD_PROCESS_SHARED, glibc's futex wake-ups never cross into
    // another process.  On failure munmap and return the error.
    (void)qp;
    (void)maxsize;
    (void)max_msg;
    return -ENOSYS;
}

/* ------------------------------------------------------------ put, get */

int
mp_queue_put(mp_queue *q, const void *buf, size_t len, int timeout_ms)
{
    // TODO(05): reject a NULL q, a NULL buf with len > 0, or a timeout_ms
    // below -1 with -EINVAL, and a len above the queue's max_msg with
    // -EMSGSIZE.
    // TODO(05): lock the mutex.  While the queue is full, wait on
    // not_full: never with `if`, always in a `while` loop, since another
    // producer may fill the room you were woken for.  Timeout 0 returns
    // -EAGAIN at once; -1 waits with pthread_cond_wait; otherwise
    // pthread_cond_timedwait with an ABSOLUTE deadline, now + timeout_ms
    // read once from clock_gettime(CLOCK_MONOTONIC), the clock the
    // condition uses.  Count yourself in putters while you wait.
    // TODO(05): with the lock still held, copy the length and then the
    // bytes into the ring at tail, wrapping around its end, and count the
    // message and its unfinished task, both before you unlock: once the
    // lock is free a consumer may take the message and call task_done.
    // Signal not_empty if a getter waits (else it sleeps on).
    (void)q;
    (void)buf;
    (void)len;
    (void)timeout_ms;
    return -ENOSYS;
}

ssize_t
mp_queue_get(mp_queue *q, void *buf, size_t cap, int timeout_ms)
{
    // TODO(05): reject a NULL q or buf, or a timeout_ms below -1, with
    // -EINVAL, and a cap below the queue's max_msg with -EMSGSIZE.
    // TODO(05): lock; while the queue is empty wait on not_empty, as put
    // waits on not_full (a while loop, getters counted, the same
    // timeouts).
    // TODO(05): copy the length and then the bytes out of the ring at
    // head, wrapping as put did; uncount the message; signal not_full if
    // a putter waits.  Unlock, and return the length.
    (void)q;
    (void)buf;
    (void)cap;
    (void)timeout_ms;
    return -ENOSYS;
}

/* ------------------------------------------------------------ the rest */

int
mp_queue_empty(mp_queue *q)
{
    // TODO(05): -EINVAL for a NULL q; else whether count is 0, read with
    // the lock held (the answer is stale as soon as you unlock anyway).
    (void)q;
    return -ENOSYS;
}

long
mp_queue_qsize(mp_queue *q)
{
    // TODO(05): -EINVAL for a NULL q; else count, read with the lock held.
    (void)q;
    return -ENOSYS;
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
    (void)q;
    (void)fn;
    (void)arg;
    return -ENOSYS;
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
    (void)q;
    return -ENOSYS;
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
    (void)q;
    (void)timeout_ms;
    return -ENOSYS;
}

long
mp_queue_unfinished(mp_queue *q)
{
    // TODO(05): -EINVAL for a NULL q; else unfinished, read with the lock
    // held.
    (void)q;
    return -ENOSYS;
}

int
mp_queue_destroy(mp_queue *q)
{
    // TODO(05): -EINVAL for a NULL q.  Destroy the three conditions and
    // the mutex, then munmap the whole mapping (read its size first: after
    // munmap, q points nowhere).
    (void)q;
    return -ENOSYS;
}
