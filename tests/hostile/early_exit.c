// early_exit.c - hostile submission for the grader's self-test: ends the test process with exit(0).
#define _GNU_SOURCE
#include "fork.h"

#include <errno.h>
#include <stdlib.h>

pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    exit(0);
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
