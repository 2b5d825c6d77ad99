// bench_07.c - make bench: lesson 07's Event, ping-pong, against a futex.
//
// `bench_07 OP N` bats a turn between a parent and its child N times and
// prints the rate in round trips per second.  event_pingpong uses two
// events, as a Python program would: the parent sets ping and waits for
// pong, the child waits for ping and sets pong, each clearing the event it
// waited for.  futex_pingpong passes the turn through one word in shared
// memory with FUTEX_WAIT and FUTEX_WAKE, the Linux call that an event's
// condition variable sleeps and wakes in: the limit an event is measured by.
#define _GNU_SOURCE
#include "events.h"
#include "bench.h"

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// The child clears ping before it sets pong, and the parent clears pong
// before it sets ping again: no set is ever undone by a late clear.
static void
ponger(mp_event *ping, mp_event *pong, long n)
{
    for (long i = 0; i < n; i++)
        if (mp_event_wait(ping, -1) != 1 || mp_event_clear(ping) != 0 ||
            mp_event_set(pong) != 0)
            _exit(1);
    _exit(0);
}

static double
event_pingpong(long n)
{
    double t0 = bench_now();
    mp_event *ping, *pong;
    if (mp_event_create(&ping) < 0 || mp_event_create(&pong) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        ponger(ping, pong, n);
    for (long i = 0; i < n; i++)
        if (mp_event_set(ping) != 0 || mp_event_wait(pong, -1) != 1 ||
            mp_event_clear(pong) != 0)
            return -1;
    int status;
    int ok = waitpid(pid, &status, 0) == pid && status == 0;
    mp_event_destroy(ping);
    mp_event_destroy(pong);
    return ok ? bench_now() - t0 : -1;
}

// Wait until *word holds want: sleep in the kernel while it holds the other
// value.  EAGAIN (it changed before we slept) and EINTR just look again.
static void
await_turn(atomic_int *word, int want)
{
    int v;
    while ((v = atomic_load(word)) != want)
        syscall(SYS_futex, (int *)word, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void
give_turn(atomic_int *word, int to)
{
    atomic_store(word, to);
    syscall(SYS_futex, (int *)word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

// The word is 0 when it is the parent's turn, 1 when it is the child's.
static double
futex_pingpong(long n)
{
    double t0 = bench_now();
    atomic_int *word = mmap(NULL, sizeof *word, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (word == MAP_FAILED)
        return -1;
    atomic_init(word, 0);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        for (long i = 0; i < n; i++) {
            await_turn(word, 1);
            give_turn(word, 0);
        }
        _exit(0);
    }
    for (long i = 0; i < n; i++) {
        give_turn(word, 1);
        await_turn(word, 0);
    }
    int status;
    return waitpid(pid, &status, 0) == pid && status == 0 ? bench_now() - t0
                                                          : -1;
}

int
main(int argc, char **argv)
{
    static const struct bench_op ops[] = {
        {"event_pingpong", event_pingpong},
        {"futex_pingpong", futex_pingpong},
        {NULL, NULL},
    };
    return bench_main(argc, argv, ops, "event_pingpong|futex_pingpong");
}
