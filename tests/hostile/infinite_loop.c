// infinite_loop.c - hostile submission for the grader's self-test: spins for ever.
#define _GNU_SOURCE
#include "fork.h"

#include <errno.h>

pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    for (volatile int i = 0;; i++)
        ;
}

int
mp_exitcode(int wstatus)
{
    (void)wstatus;
    return -ENOSYS;
}

int
mp_waitpid(pid_t pid)
{
    (void)pid;
    return -ENOSYS;
}
