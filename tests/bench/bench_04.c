// bench_04.c - make bench: lesson 04's framed messages against a raw pipe.
//
// `bench_04 OP N` streams N messages of 1 MiB from a child to its parent
// and prints the rate in MiB per second.  pipe_stream goes through
// mp_send_bytes and mp_recv_bytes; raw_pipe writes and reads the same
// bytes through a plain pipe: the limit the lesson's code is measured by.
#define _GNU_SOURCE
#include "pipes.h"
#include "bench.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1 << 20)

static char buf[MIB];

// The child's side of pipe_stream: arg points to n, the messages to send.
static int
sender(mp_conn *conn, void *arg)
{
    long n = *(const long *)arg;
    for (long i = 0; i < n; i++)
        if (mp_send_bytes(conn, buf, MIB) < 0)
            return 1;
    return 0;
}

static double
pipe_stream(long n)
{
    memset(buf, 'x', sizeof buf);
    double t0 = bench_now();
    mp_conn *a, *b;
    if (mp_pipe(0, &a, &b) < 0)
        return -1;
    pid_t pid = mp_conn_fork(a, b, sender, &n);
    for (long i = 0; i < n; i++)
        if (mp_recv_bytes(a, buf, MIB) != MIB)
            return -1;
    mp_conn_close(a);
    return pid > 0 && waitpid(pid, NULL, 0) == pid ? bench_now() - t0 : -1;
}

static double
raw_pipe(long n)
{
    memset(buf, 'x', sizeof buf);
    double t0 = bench_now();
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        for (long left = n * MIB; left > 0;) {
            ssize_t w = write(p[1], buf, left < MIB ? left : MIB);
            if (w < 0)
                _exit(1);
            left -= w;
        }
        _exit(0);
    }
    close(p[1]);
    for (long left = n * MIB; left > 0;) {
        ssize_t r = read(p[0], buf, MIB);
        if (r <= 0)
            return -1;
        left -= r;
    }
    close(p[0]);
    return pid > 0 && waitpid(pid, NULL, 0) == pid ? bench_now() - t0 : -1;
}

int
main(int argc, char **argv)
{
    static const struct bench_op ops[] = {
        {"pipe_stream", pipe_stream},
        {"raw_pipe", raw_pipe},
        {NULL, NULL},
    };
    return bench_main(argc, argv, ops, "pipe_stream|raw_pipe");
}
