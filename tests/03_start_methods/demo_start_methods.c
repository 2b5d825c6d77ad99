// demo_start_methods.c - one child per start method, side by side, timed.
//
// The classic example, from Python's "Contexts and start methods":
//
//     import multiprocessing as mp
//
//     def foo(q):
//         q.put('hello')
//
//     if __name__ == '__main__':
//         mp.set_start_method('spawn')
//         q = mp.Queue()
//         p = mp.Process(target=foo, args=(q,))
//         p.start()
//         print(q.get())
//         p.join()
//
// It prints "hello" whatever the method, so it shows nothing of what the
// method changes.  And tutorials explain the `__main__` guard as a Windows
// quirk: it matters wherever spawn or forkserver is used (spawn is the
// default on macOS, forkserver on Linux from Python 3.14).  Here the
// mp_spawn_main() call plays the guard: every process runs what is above
// it, only the parent what is below.  Each child says who started it and
// whether it sees a global the parent set; then each method is timed.
#include "start_methods.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STARTS 200 // per method, in ROUNDS rounds that take turns
#define ROUNDS 5

static int global; // 0 in a fresh program; the parent sets it to 1

static const char *const label[] = {"fork:", "spawn:", "forkserver:"};

// arg is "LABEL PARENT": print who we are, who started us, what we see.
static int
report(const char *arg)
{
    char what[16] = "?";
    int parent = 0;
    sscanf(arg, "%15s %d", what, &parent);
    pid_t by = getppid();
    printf("%-11s child %d, started by %d (%s), sees global = %d\n", what,
           (int)getpid(), (int)by,
           by == parent ? "the parent" : "the fork server", global);
    return 3;
}

static int
quick(const char *arg)
{
    (void)arg;
    return 0;
}

static double
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

// Start and join one child; its exit code, or -errno (-1000 and below).
static int
run(enum mp_method m, const char *name, const char *arg)
{
    pid_t pid = mp_start(m, name, arg, NULL, 0);
    if (pid < 0) {
        fprintf(stderr, "mp_start(%s): %s\n", label[m], strerror(-pid));
        return -1000;
    }
    int code = mp_join(m, pid, -1);
    if (code < -64) {
        fprintf(stderr, "mp_join(%s): %s\n", label[m], strerror(-code));
        return -1000;
    }
    return code;
}

// Time STARTS starts of each method, taking turns so that each method
// sees the same machine; fill us[] with microseconds per start.
static int
time_starts(double us[3])
{
    us[0] = us[1] = us[2] = 0;
    for (int r = 0; r < ROUNDS; r++)
        for (int m = 0; m < 3; m++) {
            double t0 = now_us();
            for (int i = 0; i < STARTS / ROUNDS; i++)
                if (run((enum mp_method)m, "quick", NULL) != 0)
                    return -1;
            us[m] += (now_us() - t0) / STARTS;
        }
    return 0;
}

int
main(int argc, char **argv)
{
    mp_register("report", report);
    mp_register("quick", quick);
    mp_spawn_main(argc, argv); // a spawned child or the server ends here
    // Only the parent gets here: C's `if __name__ == "__main__":`.
    global = 1;
    printf("parent %d sets global = 1, then starts one child per method\n",
           (int)getpid());
    for (int m = 0; m < 3; m++) {
        char arg[64];
        snprintf(arg, sizeof arg, "%s %d", label[m], (int)getpid());
        int code = run((enum mp_method)m, "report", arg);
        if (code == -1000)
            return 1;
        printf("%-11s exit code %d\n", label[m], code);
    }
    double us[3];
    if (time_starts(us) < 0)
        return 1;
    printf("%d starts per method, each joined before the next:\n", STARTS);
    printf("%-11s %7.0f us a start\n", label[0], us[0]);
    for (int m = 1; m < 3; m++)
        printf("%-11s %7.0f us a start, %.1fx fork\n", label[m], us[m],
               us[m] / us[0]);
    mp_forkserver_stop();
    return 0;
}
