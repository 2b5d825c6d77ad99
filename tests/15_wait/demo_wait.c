// demo_wait.c - the classic connection.wait example, with the lesson's
// functions.
//
// The Python original, from the documentation of
// multiprocessing.connection.wait:
//
//     def foo(w):
//         for i in range(10):
//             w.send((i, current_process().name))
//         w.close()
//
//     readers = []
//     for i in range(4):
//         r, w = Pipe(duplex=False)
//         readers.append(r)
//         p = Process(target=foo, args=(w,))
//         p.start()
//         # We close the writable end of the pipe now to be sure that
//         # p is the only process which owns a handle for it.  This
//         # ensures that when p closes its handle for the writable end,
//         # wait() will promptly report the readable end as being ready.
//         w.close()
//
//     while readers:
//         for r in wait(readers):
//             try:
//                 msg = r.recv()
//             except EOFError:
//                 readers.remove(r)
//             else:
//                 print(msg)
//
// It prints its 40 messages in the order they arrive, which changes from
// run to run: Process-3's may all come before Process-1's, or between
// them.  Here each message is taken as it arrives, exactly as above, but
// the lines are printed once every pipe is at EOF, sorted as Python's
// `print(*sorted(msgs), sep="\n")` would sort the tuples: by number, then
// by name.  The example never joins its processes; here they are joined
// too, whichever ends first (mp_wait_any_exit), as a program must.
//
// A message is one write of a small struct: writes of up to PIPE_BUF
// bytes to a pipe are atomic, so a read of that size gets exactly one.
#include "wait.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKERS 4
#define MESSAGES 10

struct msg {
    int i;      // the message's number, 0 to 9
    int worker; // the worker's number: Process-1 is 1
};

static int
fail(const char *what, int err)
{
    fprintf(stderr, "%s: %s%s\n", what, strerror(-err),
            err == -ENOSYS ? ": fill in the TODO(15)s in "
                             "lessons/15_wait/wait.c first"
                           : "");
    return 1;
}

static void
foo(int w, int worker)
{
    for (int i = 0; i < MESSAGES; i++) {
        struct msg m = {i, worker};
        if (write(w, &m, sizeof m) != (ssize_t)sizeof m)
            _exit(1);
    }
    close(w);
    _exit(0);
}

static int
by_number_then_name(const void *a, const void *b)
{
    const struct msg *x = a, *y = b;
    if (x->i != y->i)
        return x->i < y->i ? -1 : 1;
    return (x->worker > y->worker) - (x->worker < y->worker);
}

// Take every message as it arrives, until each pipe is at EOF.  The
// messages go to msgs; how many, or a negative errno value.
static int
receive_all(int readers[], int nreaders, struct msg *msgs)
{
    int got = 0;
    while (nreaders > 0) {
        mp_waitable objs[WORKERS];
        int ready[WORKERS];
        for (int k = 0; k < nreaders; k++)
            objs[k] = (mp_waitable){.kind = MP_WAIT_FD, .fd = readers[k]};
        int r = mp_wait(objs, nreaders, 5000, ready);
        if (r <= 0)
            return r == 0 ? -ETIMEDOUT : r;
        for (int k = nreaders - 1; k >= 0; k--) { // from the end: removals
            if (!ready[k])
                continue;
            struct msg m;
            ssize_t n = read(readers[k], &m, sizeof m);
            if (n == (ssize_t)sizeof m && got < WORKERS * MESSAGES) {
                msgs[got++] = m;
            } else if (n == 0) { // EOF: readers.remove(r)
                close(readers[k]);
                readers[k] = readers[--nreaders];
            } else {
                return n < 0 ? -errno : -EPROTO;
            }
        }
    }
    return got;
}

// Join the workers, whichever ends first; 0 if all exited with 0.
static int
join_all(pid_t pids[], int n)
{
    int bad = 0;
    while (n > 0) {
        int code;
        int i = mp_wait_any_exit(pids, n, 5000, &code);
        if (i < 0)
            return fail("mp_wait_any_exit", i);
        bad |= code != 0;
        pids[i] = pids[--n];
    }
    return bad;
}

int
main(void)
{
    int readers[WORKERS];
    pid_t pids[WORKERS];
    for (int k = 0; k < WORKERS; k++) {
        int p[2];
        if (pipe(p) < 0)
            return fail("pipe", -errno);
        fflush(stdout);
        pids[k] = fork();
        if (pids[k] < 0)
            return fail("fork", -errno);
        if (pids[k] == 0) {
            close(p[0]);
            for (int j = 0; j < k; j++) // the readers made before this one
                close(readers[j]);
            foo(p[1], k + 1);
        }
        close(p[1]); // w.close(): or EOF never comes
        readers[k] = p[0];
    }
    struct msg msgs[WORKERS * MESSAGES];
    int got = receive_all(readers, WORKERS, msgs);
    int bad = join_all(pids, WORKERS);
    if (got < 0)
        return fail("mp_wait", got);
    qsort(msgs, (size_t)got, sizeof msgs[0], by_number_then_name);
    for (int k = 0; k < got; k++)
        printf("(%d, 'Process-%d')\n", msgs[k].i, msgs[k].worker);
    return bad || got != WORKERS * MESSAGES;
}
