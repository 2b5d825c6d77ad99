// demo_queues.c - the classic Queue examples, with the lesson's functions.
//
// The Python originals: a producer and a consumer that ends at a sentinel,
//
//     def producer(q):
//         for i in range(5):
//             q.put(i)
//         q.put(None)
//
//     def consumer(q):
//         while (item := q.get()) is not None:
//             print(f"Consumed {item}")
//
// and a worker that squares numbers for its parent,
//
//     def square(numbers, q):
//         for n in numbers:
//             q.put(n * n)
//
//     p = Process(target=square, args=([1, 2, 3, 4, 5], q))
//     p.start()
//     p.join()                  # before reading the queue
//     while not q.empty():      # "no more results"
//         print(q.get())
//
// which prints 1, 4, 9, 16 and 25, one per line, as here.  The squares example
// misleads twice.  p.join() before the gets works only because five small
// numbers fit in the pipe under Python's queue: with more data than the
// pipe holds (64 KiB) the worker never ends, and join waits for ever.  And
// q.empty() is a snapshot: right after a put it may still say True (the
// feeder thread has not flushed yet), and with several producers "empty
// now" never means "done".  This version reads as many results as it
// expects before joining, and the consumer stops at a sentinel.
//
// Last, the JoinableQueue pattern: two workers that call task_done after
// each item, and a parent that puts ten and waits in join,
//
//     for item in range(1, 11):
//         q.put(item)
//     q.join()                  # every task_done has come
//     print(f"All 10 tasks done, sum {total.value}")
//
// where the sum, added up by the workers in shared memory, is complete
// when join returns: 55, whichever worker did which item.
//
// On stderr it then shows the kernel's own queue, a POSIX message queue,
// with its default limits, and measures this queue's speed.
#define _DEFAULT_SOURCE // MAP_ANONYMOUS is not in POSIX.1-2008
#include "../mp_ipc.h"  // mp_ipc_name(): the mq's name, with the run's prefix
#include "queues.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SPEED_MSGS 2000000L

static void
die(const char *what, long rc)
{
    fprintf(stderr, "%s: %s\n", what, strerror((int)-rc));
    exit(1);
}

// Fork a child that runs fn(q) and ends with its value.
static pid_t
run(int (*fn)(mp_queue *), mp_queue *q)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", -errno);
    if (pid == 0) {
        int code = fn(q);
        fflush(NULL); // _exit does not flush what the child printed
        _exit(code);
    }
    return pid;
}

static void
join(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

// A get failed: end the child, which may wait for ever in put, then us.
static void
give_up(pid_t pid, const char *what, long rc)
{
    kill(pid, SIGKILL);
    join(pid);
    die(what, rc);
}

/* ------------------------------------------------- producer, consumer */

static int
producer(mp_queue *q)
{
    for (int i = 0; i < 5; i++)
        if (mp_queue_put(q, &i, sizeof i, -1) != 0)
            return 1;
    return mp_queue_put(q, NULL, 0, -1) != 0; // the sentinel, Python's None
}

static void
print_consumed(const void *msg, size_t len, void *arg)
{
    (void)arg;
    int item;
    if (len == sizeof item) {
        memcpy(&item, msg, sizeof item);
        printf("Consumed %d\n", item);
    }
}

static int
consumer(mp_queue *q)
{
    return mp_queue_consume(q, print_consumed, NULL) == 5 ? 0 : 1;
}

/* ------------------------------------------------------------ squares */

static int
square(mp_queue *q)
{
    for (int n = 1; n <= 5; n++) {
        int sq = n * n;
        if (mp_queue_put(q, &sq, sizeof sq, -1) != 0)
            return 1;
    }
    return 0;
}

static void
squares(mp_queue *q)
{
    pid_t pid = run(square, q);
    for (int i = 0; i < 5; i++) { // drain first: five results expected
        int sq;
        ssize_t n = mp_queue_get(q, &sq, sizeof sq, 5000);
        if (n != sizeof sq)
            give_up(pid, "mp_queue_get", n < 0 ? n : -EPROTO);
        printf("%d\n", sq);
    }
    join(pid); // then join: the worker is done putting
}

/* ------------------------------------------------------ task_done, join */

static long *total; // the workers' sum, in memory they share with us

static int
summer(mp_queue *q)
{
    int item;
    ssize_t n;
    while ((n = mp_queue_get(q, &item, sizeof item, -1)) > 0) {
        __atomic_add_fetch(total, item, __ATOMIC_SEQ_CST);
        mp_queue_task_done(q); // after the work, never before
    }
    mp_queue_task_done(q); // the sentinel was put, so it is a task too
    return n < 0;
}

// A new queue: the other one's puts are tasks that nobody marked done.
static void
joinable(void)
{
    mp_queue *q;
    long rc = mp_queue_create(&q, 4, sizeof(int));
    if (rc < 0)
        die("mp_queue_create", rc);
    total = mmap(NULL, sizeof *total, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (total == MAP_FAILED)
        die("mmap", -errno);
    pid_t w[2] = {run(summer, q), run(summer, q)};
    for (int item = 1; item <= 10 && rc == 0; item++)
        rc = mp_queue_put(q, &item, sizeof item, 5000);
    if (rc == 0)
        rc = mp_queue_join(q, 5000); // a worker may die: not for ever
    if (rc < 0) {
        kill(w[1], SIGKILL);
        join(w[1]);
        give_up(w[0], "mp_queue_put or mp_queue_join", rc);
    }
    printf("All 10 tasks done, sum %ld\n", *total);
    for (int i = 0; i < 2; i++)
        mp_queue_put(q, NULL, 0, -1); // a sentinel for each worker
    join(w[0]);
    join(w[1]);
    munmap(total, sizeof *total);
    mp_queue_destroy(q);
}

/* ------------------------------------------- the kernel's queue, speed */

// Fill a POSIX message queue made with the default limits, on stderr.
static void
kernel_queue(void)
{
    fflush(stdout); // the classic output first, even through a pipe
    char name[NAME_MAX + 1];
    if (mp_ipc_name(name, sizeof name, "demo") < 0)
        return;
    mqd_t mq =
        mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0600, NULL);
    if (mq == (mqd_t)-1) {
        fprintf(stderr, "(mq_open: %s)\n", strerror(errno));
        return;
    }
    mq_unlink(name); // the name is not needed once open: nothing is left
    struct mq_attr a;
    mq_getattr(mq, &a);
    long sent = 0;
    while (mq_send(mq, "x", 1, 0) == 0)
        sent++;
    fprintf(stderr,
            "(POSIX message queue: %ld messages of up to %ld bytes "
            "by default; send number %ld failed: %s)\n",
            a.mq_maxmsg, a.mq_msgsize, sent + 1, strerror(errno));
    mq_close(mq);
}

static int
speed_producer(mp_queue *q)
{
    for (long i = 0; i < SPEED_MSGS; i++)
        if (mp_queue_put(q, &i, sizeof i, -1) != 0)
            return 1;
    return 0;
}

// 8-byte messages from one process to another, on stderr.
static void
speed(void)
{
    mp_queue *q;
    long rc = mp_queue_create(&q, 1024, 8);
    if (rc < 0)
        die("mp_queue_create", rc);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = run(speed_producer, q);
    long got;
    for (long i = 0; i < SPEED_MSGS; i++) {
        ssize_t n = mp_queue_get(q, &got, sizeof got, 5000);
        if (n != sizeof got || got != i)
            give_up(pid, "mp_queue_get", n < 0 ? n : -EPROTO);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    join(pid);
    double s = (double)(t1.tv_sec - t0.tv_sec) +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr,
            "(%ld 8-byte messages, one process to another: %.2f "
            "million a second)\n",
            SPEED_MSGS, (double)SPEED_MSGS / s / 1e6);
    mp_queue_destroy(q);
}

int
main(void)
{
    mp_queue *q;
    long rc = mp_queue_create(&q, 8, sizeof(int));
    if (rc < 0)
        die("mp_queue_create", rc);
    pid_t p = run(producer, q), c = run(consumer, q);
    join(p);
    join(c);
    squares(q);
    mp_queue_destroy(q);
    joinable();
    kernel_queue();
    speed();
    return 0;
}
