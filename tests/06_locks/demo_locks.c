// demo_locks.c - the classic "Counter: 5" Lock example, with the lesson's lock.
//
// The Python original:
//
//     def increment(counter, lock):
//         with lock:
//             counter.value += 1
//
//     if __name__ == "__main__":
//         counter = Value("i", 0)
//         lock = Lock()
//         ps = [Process(target=increment, args=(counter, lock))
//               for _ in range(5)]
//         for p in ps: p.start()
//         for p in ps: p.join()
//         print("Counter:", counter.value)
//
// It misleads: five increments, one per process, almost never collide, so
// it prints 5 without the lock too; it proves nothing about the lock.
// After the classic line, this demo (on stderr) runs the same five
// processes with many increments each, without the lock and then with it,
// and says how many increments were lost.  Each increment yields the CPU
// between its read and its write, so another process runs in the window
// every time (on one core or many): the race shows in every run, not
// only on a lucky one.
#define _DEFAULT_SOURCE // MAP_ANONYMOUS: shared memory for the counter
#include "locks.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROCS 5
#define MANY 1000

// What the children share: the counter, and a start line.
struct shared {
    long counter;
    atomic_int ready; // children at the start line
};

// Start PROCS children that each add 1 to the counter `times` times,
// under the lock unless it is NULL, all starting together; wait for them.
// Return 0 or -1.
static int
run(mp_lock *lock, struct shared *sh, int times)
{
    volatile long *counter = &sh->counter;
    *counter = 0;
    atomic_store(&sh->ready, 0);
    fflush(NULL);
    int bad = 0;
    for (int i = 0; i < PROCS && !bad; i++) {
        pid_t pid = fork();
        bad = pid < 0; // then wait for those started, and give up
        if (pid == 0) {
            atomic_fetch_add(&sh->ready, 1);
            while (atomic_load(&sh->ready) < PROCS)
                sched_yield();
            for (int k = 0; k < times; k++) {
                if (lock != NULL && mp_lock_acquire(lock, -1) < 0)
                    _exit(1);
                long seen = *counter; // a read,
                sched_yield();        // others run in the window,
                *counter = seen + 1;  // then a write
                if (lock != NULL && mp_lock_release(lock) != 0)
                    _exit(1);
            }
            _exit(0);
        }
    }
    int st;
    while (wait(&st) > 0)
        bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    return bad ? -1 : 0;
}

int
main(void)
{
    mp_lock *lock;
    int err = mp_lock_create(&lock, 0);
    if (err < 0) {
        fprintf(stderr, "mp_lock_create: %s%s\n", strerror(-err),
                err == -ENOSYS ? ": fill in the TODO(06)s in "
                                 "lessons/06_locks/locks.c first"
                               : "");
        return 1;
    }
    struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED || run(lock, sh, 1) < 0) {
        fprintf(stderr, "the demo failed: %s\n", strerror(errno));
        return 1;
    }
    printf("Counter: %ld\n", sh->counter);
    fflush(stdout);
    run(NULL, sh, MANY);
    long unlocked = sh->counter;
    run(lock, sh, MANY);
    fprintf(stderr,
            "(%d processes x %d increments: %ld without the lock, "
            "%ld lost; %ld with it)\n",
            PROCS, MANY, unlocked, (long)PROCS * MANY - unlocked, sh->counter);
    munmap(sh, sizeof *sh);
    mp_lock_destroy(lock);
    return 0;
}
