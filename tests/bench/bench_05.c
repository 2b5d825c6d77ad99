// bench_05.c - make bench: lesson 05's queue against a raw pipe.
//
// `bench_05 OP N` sends N messages of 8 bytes (a long each) from a child to
// its parent and prints the rate in messages per second.  queue_stream goes
// through mp_queue_put and mp_queue_get, 1024 places, as Python's
// Queue(1024) does; raw_pipe writes and reads each message through a plain
// pipe, one write(2) and one read(2) apiece: the OS's way to pass the same
// messages, which the lesson's shared-memory queue is measured by.
#define _GNU_SOURCE
#include "queues.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long n;

// The child puts 0, 1, 2, ...; the parent checks that each arrives in turn.
static int
queue_stream(void)
{
    mp_queue *q;
    if (mp_queue_create(&q, 1024, sizeof(long)) < 0)
        return 1;
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        for (long i = 0; i < n; i++)
            if (mp_queue_put(q, &i, sizeof i, -1) != 0)
                _exit(1);
        _exit(0);
    }
    long got;
    for (long i = 0; i < n; i++)
        if (mp_queue_get(q, &got, sizeof got, -1) != sizeof got || got != i)
            return 1;
    int status;
    int ok = waitpid(pid, &status, 0) == pid && status == 0;
    mp_queue_destroy(q); // after the child: it may still wait on a condition
    return ok ? 0 : 1;
}

// A write of 8 bytes to a pipe is atomic (under PIPE_BUF), and a read of 8
// bytes returns all 8 once they are there: no partial message to handle.
static int
raw_pipe(void)
{
    int p[2];
    if (pipe(p) < 0)
        return 1;
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        close(p[0]);
        for (long i = 0; i < n; i++)
            if (write(p[1], &i, sizeof i) != sizeof i)
                _exit(1);
        _exit(0);
    }
    close(p[1]); // so that a child that dies early means EOF, not a hang
    long got;
    for (long i = 0; i < n; i++)
        if (read(p[0], &got, sizeof got) != sizeof got || got != i)
            return 1;
    close(p[0]);
    int status;
    return waitpid(pid, &status, 0) == pid && status == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    n = atol(argv[2]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int bad = strcmp(argv[1], "queue_stream") == 0 ? queue_stream()
              : strcmp(argv[1], "raw_pipe") == 0   ? raw_pipe()
                                                   : 2;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (bad)
        return bad;
    printf("%.0f\n",
           n / (t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9));
    return 0;
}
