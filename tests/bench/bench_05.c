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
#include "bench.h"

#include <sys/wait.h>
#include <unistd.h>

// The child puts 0, 1, 2, ...; the parent checks that each arrives in turn.
static double
queue_stream(long n)
{
    double t0 = bench_now();
    mp_queue *q;
    if (mp_queue_create(&q, 1024, sizeof(long)) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        for (long i = 0; i < n; i++)
            if (mp_queue_put(q, &i, sizeof i, -1) != 0)
                _exit(1);
        _exit(0);
    }
    long got;
    for (long i = 0; i < n; i++)
        if (mp_queue_get(q, &got, sizeof got, -1) != sizeof got || got != i)
            return -1;
    int status;
    int ok = waitpid(pid, &status, 0) == pid && status == 0;
    mp_queue_destroy(q); // after the child: it may still wait on a condition
    return ok ? bench_now() - t0 : -1;
}

// A write of 8 bytes to a pipe is atomic (under PIPE_BUF), and a read of 8
// bytes returns all 8 once they are there: no partial message to handle.
static double
raw_pipe(long n)
{
    double t0 = bench_now();
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
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
            return -1;
    close(p[0]);
    int status;
    return waitpid(pid, &status, 0) == pid && status == 0 ? bench_now() - t0
                                                          : -1;
}

int
main(int argc, char **argv)
{
    static const struct bench_op ops[] = {
        {"queue_stream", queue_stream},
        {"raw_pipe", raw_pipe},
        {NULL, NULL},
    };
    return bench_main(argc, argv, ops, "queue_stream|raw_pipe");
}
