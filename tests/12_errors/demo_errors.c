// demo_errors.c - the classic "error in a worker" example, with the lesson's
// functions, plus how crashes and SIGTERM look to the parent.
//
// The Python original, in its usual shape:
//
//     def worker(num):
//         try:
//             if num == 2:
//                 raise ValueError(f"An error occurred in worker {num}.")
//         except Exception as e:
//             print(f"Error in {num}: {e}")
//
//     for i in range(5): Process(target=worker, args=(i,)).start() ...
//
// Where it misleads: the try/except runs in the CHILD.  The line is
// printed by worker 2 itself, and the parent learns nothing; without the
// try/except, the parent would see only exitcode == 1, and the traceback
// would go to the child's stderr.  Here worker 2 sends an error record
// over a pipe, and the PARENT prints the line: the error has crossed the
// process boundary, as a pool's re-raised exception does.
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

enum { WORKERS = 5 };

static int
seed_worker(int index, void *arg, char *msg, size_t cap)
{
    (void)arg;
    if (index != 2)
        return 0;
    snprintf(msg, cap, "An error occurred in worker %d.", index);
    return -1;
}

static void
no_core(void)
{
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
}

static int
segfaults(int index, void *arg, char *msg, size_t cap)
{
    (void)index;
    (void)arg;
    (void)msg;
    (void)cap;
    no_core();
    volatile int *volatile bad = NULL; // or the compiler drops the store
    *bad = 1;
    return 0;
}

static int
aborts(int index, void *arg, char *msg, size_t cap)
{
    (void)index;
    (void)arg;
    (void)msg;
    (void)cap;
    no_core();
    abort();
}

// A shared memory object, and a pipe on which its holder says "ready".
struct holder {
    char name[MP_SHM_NAME_MAX];
    int ready[2];
};

// A worker that holds a shared memory object until SIGTERM: it registers
// the name, says it is ready, and waits.
static int
holds_shm(int index, void *arg, char *msg, size_t cap)
{
    (void)index;
    struct holder *h = arg;
    close(h->ready[0]);
    int fd = shm_open(h->name, O_CREAT | O_RDWR, 0600);
    if (fd < 0 || mp_cleanup_on_signal(h->name) != 0) {
        snprintf(msg, cap, "cannot hold %s", h->name);
        return -1;
    }
    close(fd);
    if (write(h->ready[1], "r", 1) != 1)
        return -1;
    struct pollfd p = {.fd = mp_signal_fd(), .events = POLLIN};
    for (;;) {
        poll(&p, 1, -1);
        mp_signal_check(); // the cleanup, then death by the same signal
    }
}

// Run one worker with its own error pipe and collect it; its exit code.
// With a ready pipe, send the worker sig once it has said it is ready.
static int
run_one(mp_task fn, void *arg, int *ready, int sig)
{
    int fds[2], code = MP_EXITCODE_NONE;
    if (pipe(fds) < 0)
        return code;
    pid_t pid = mp_run_worker(fn, 0, arg, fds[1]);
    close(fds[1]);
    if (ready != NULL) {
        char c;
        close(ready[1]); // or a worker that failed would leave us waiting
        if (pid > 0 && read(ready[0], &c, 1) == 1) // it holds the object
            kill(pid, sig);
        close(ready[0]);
    }
    if (pid > 0)
        mp_collect(fds[0], &pid, 1, &code, NULL, 0);
    close(fds[0]);
    return code;
}

static int
seed(void)
{
    int fds[2];
    pid_t pids[WORKERS];
    int codes[WORKERS];
    mp_error errs[WORKERS];
    if (pipe(fds) < 0)
        return -errno;
    for (int i = 0; i < WORKERS; i++) {
        pids[i] = mp_run_worker(seed_worker, i, NULL, fds[1]);
        if (pids[i] < 0)
            return (int)pids[i]; // the stub: nothing was started
    }
    close(fds[1]); // or EOF never comes
    int n = mp_collect(fds[0], pids, WORKERS, codes, errs, WORKERS);
    close(fds[0]);
    if (n < 0)
        return n;
    for (int k = 0; k < n; k++)
        printf("Error in %d: %s\n", errs[k].index, errs[k].message);
    printf("Exit codes of workers 0-4:");
    for (int i = 0; i < WORKERS; i++)
        printf(" %d", codes[i]);
    printf("\n");
    return 0;
}

int
main(void)
{
    int r = seed();
    if (r < 0) {
        fprintf(stderr, "demo: %s%s\n", strerror(-r),
                r == -ENOSYS ? ": fill in the TODO(12)s in "
                               "lessons/12_errors/errors.c first"
                             : "");
        return 1;
    }
    printf("A worker that segfaults: exit code %d\n",
           run_one(segfaults, NULL, NULL, 0));
    printf("A worker that calls abort(): exit code %d\n",
           run_one(aborts, NULL, NULL, 0));

    struct holder h;
    if (mp_ipc_name(h.name, sizeof h.name, "demo-errors") < 0 ||
        pipe(h.ready) < 0)
        return 1;
    // The worker is ended from outside, as `kill PID` or Python's
    // terminate() would: it must still clean up, and still say SIGTERM.
    signal(SIGTERM, SIG_DFL);
    int code = run_one(holds_shm, &h, h.ready, SIGTERM);
    int fd = shm_open(h.name, O_RDONLY, 0);
    if (fd >= 0) {
        close(fd);
        shm_unlink(h.name);
    }
    printf("A worker stopped by SIGTERM: exit code %d, its shared memory %s\n",
           code, fd >= 0 ? "left behind" : "removed");
    return 0;
}
