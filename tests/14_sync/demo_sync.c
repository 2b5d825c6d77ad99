// demo_sync.c - the classic Barrier example, with the lesson's functions.
//
// The Python original (after superfastpython.com's Barrier tutorial):
//
//     def task(barrier, number):
//         value = random() * 10
//         sleep(value)
//         print(f'Process {number} done, got: {value}', flush=True)
//         barrier.wait()
//
//     barrier = Barrier(5 + 1)
//     for i in range(5):
//         Process(target=task, args=(barrier, i)).start()
//     print('Main process waiting on all results...')
//     barrier.wait()
//     print('All processes have their result')
//
// Where it misleads: the random sleeps make the workers' order look
// meaningful, and it is only luck; "waiting on all results" may come after
// some of them.  Here a Condition gives the workers their turns (each
// waits for turn == its number, prints, moves the turn on and notifies
// everyone), so the order is the same on every run, and main prints its
// first line before it starts any worker.  The Barrier is the tutorial's:
// six parties, five workers and main, and main's last line comes only
// after every worker has arrived.
#define _DEFAULT_SOURCE // MAP_ANONYMOUS
#include "sync.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 5

struct turn {
    int *now;   // whose turn it is, in shared memory
    int number; // this worker's
};

static int
my_turn(void *arg)
{
    struct turn *t = arg;
    return *t->now == t->number;
}

static int
task(mp_barrier *barrier, mp_cond *c, int *now, int number)
{
    struct turn t = {now, number};
    if (mp_cond_acquire(c, 5000) != 0)
        return 1;
    if (mp_cond_wait_for(c, my_turn, &t, 5000) != 1) {
        mp_cond_release(c);
        return 1;
    }
    printf("Process %d done, got: %.1f\n", number, (number + 1) * 1.5);
    fflush(stdout); // now: the next worker prints as soon as it is told
    (*now)++;
    mp_cond_notify_all(c);
    mp_cond_release(c);
    return mp_barrier_wait(barrier, 5000) >= 0 ? 0 : 1;
}

static int
fail(const char *what, int err)
{
    fprintf(stderr, "%s: %s%s\n", what, strerror(-err),
            err == -ENOSYS ? ": fill in the TODO(14)s in "
                             "lessons/14_sync/sync.c first"
                           : "");
    return 1;
}

int
main(void)
{
    mp_barrier *barrier;
    mp_cond *c;
    int r = mp_barrier_create(&barrier, WORKERS + 1);
    if (r < 0)
        return fail("mp_barrier_create", r);
    r = mp_cond_create(&c);
    if (r < 0)
        return fail("mp_cond_create", r);
    int *turn = mmap(NULL, sizeof *turn, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (turn == MAP_FAILED)
        return fail("mmap", -errno);
    *turn = 0;
    printf("Main process waiting on all results...\n");
    fflush(stdout); // before fork: a buffered line would be printed twice
    pid_t pids[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        pids[i] = fork();
        if (pids[i] < 0)
            return fail("fork", -errno);
        if (pids[i] == 0)
            _exit(task(barrier, c, turn, i));
    }
    r = mp_barrier_wait(barrier, 10000);
    if (r >= 0)
        printf("All processes have their result\n");
    int ok = r >= 0;
    for (int i = 0; i < WORKERS; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    mp_barrier_destroy(barrier);
    mp_cond_destroy(c);
    munmap(turn, sizeof *turn);
    if (r < 0)
        return fail("mp_barrier_wait", r);
    return ok ? 0 : 1;
}
