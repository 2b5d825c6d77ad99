// demo_process.c - the three classic Process examples, with the lesson's code.
//
// The Python originals are three separate scripts:
//
//     def hello():                               # 1
//         print("Hello from process", current_process().name)
//     p = Process(target=hello); p.start(); p.join()
//
//     def worker(num):                           # 2
//         print("Worker:", num)
//     jobs = [Process(target=worker, args=(i,)) for i in range(5)]
//     for p in jobs: p.start()
//     for p in jobs: p.join()
//
//     class MyProcess(Process):                  # 3
//         def run(self):
//             print("called run method in process: %s" % self.name)
//     for i in range(5):
//         p = MyProcess(); p.start(); p.join()
//
// Where they mislead:
//  - Script 2 starts all five workers, then joins them: they run at the
//    same time, and "Worker: 0" .. "Worker: 4" in order is the scheduler's
//    habit, not a promise (give each worker real work and the order
//    shuffles).  Joining does not order output; it only waits.  This demo
//    joins each worker before it starts the next, which makes the order
//    certain and the work serial.  Parallel work with results in order is
//    what a pool's map does (lesson 09).
//  - Each script prints Process-1 or MyProcess-1 because each is a new
//    program.  The counter belongs to the process that creates Process
//    objects and is shared by every class: in one program, the MyProcess
//    objects made after six Process objects are MyProcess-7 .. -11.  So
//    each section below runs in a fresh copy of this program (a fork made
//    before it creates any process object), like a script of its own.
//  - In Python, an exception in a child is printed by the child; the
//    parent learns only exitcode 1.  Here the parent reports exit codes.
#include "process.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

// Start p and join it; say on stderr what went wrong, if anything.
static int
start_and_join(mp_process *p)
{
    int r = mp_process_start(p);
    if (r < 0) {
        fprintf(stderr, "mp_process_start: %s\n", strerror(-r));
        return -1;
    }
    r = mp_process_join(p, -1);
    if (r < 0) {
        fprintf(stderr, "mp_process_join: %s\n", strerror(-r));
        return -1;
    }
    return 0;
}

static int
init_failed(int r)
{
    fprintf(stderr, "mp_process_init: %s%s\n", strerror(-r),
            r == -ENOSYS ? ": fill in the TODO(02)s in "
                           "lessons/02_process/process.c first"
                         : "");
    return 1;
}

/* ---------------------------------------------- 1: hello from a process */

static int
hello(void *arg)
{
    (void)arg;
    printf("Hello from process %s\n", mp_process_name(mp_current_process()));
    return 0;
}

static int
section_hello(void)
{
    mp_process p;
    int r = mp_process_init(&p, hello, NULL, NULL);
    if (r < 0)
        return init_failed(r);
    if (start_and_join(&p) < 0)
        return 1;
    fprintf(stderr, "(%s ended with exit code %d)\n", mp_process_name(&p),
            mp_process_exitcode(&p));
    return 0;
}

/* ---------------------------------------------------- 2: five workers */

static int
worker(void *arg)
{
    printf("Worker: %d\n", *(int *)arg);
    return 0;
}

static int
section_workers(void)
{
    int nums[5];
    for (int i = 0; i < 5; i++) {
        mp_process p;
        nums[i] = i;
        int r = mp_process_init(&p, worker, &nums[i], NULL);
        if (r < 0)
            return init_failed(r);
        if (start_and_join(&p) < 0) // joined before the next one starts
            return 1;
    }
    fprintf(stderr, "(each worker was joined before the next started: "
                    "the order is certain)\n");
    return 0;
}

/* ------------------------------------------- 3: a "subclass" with run */

struct my_process {
    mp_process base; // first, so that a pointer to it points to the whole
};

static int
my_run(mp_process *self)
{
    printf("called run method in process: %s\n", mp_process_name(self));
    return 0;
}

static int
section_subclass(void)
{
    for (int i = 0; i < 5; i++) {
        struct my_process p;
        int r = mp_process_init_subclass(&p.base, "MyProcess", my_run, NULL);
        if (r < 0)
            return init_failed(r);
        if (start_and_join(&p.base) < 0)
            return 1;
    }
    fprintf(stderr, "(each section ran as a program of its own: its "
                    "counter started at 1)\n");
    return 0;
}

/* ---------------------------------------------------------------- main */

// Run one section in a fresh copy of this program: its own counter.
static int
as_a_script(int (*section)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0)
        _exit(section());
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int
main(void)
{
    if (as_a_script(section_hello) != 0 || as_a_script(section_workers) != 0 ||
        as_a_script(section_subclass) != 0)
        return 1; // the first failure says why, on stderr
    return 0;
}
