// fork_bomb.c - hostile submission for the grader's self-test: forks until the process limit stops it.
#define _GNU_SOURCE
#include "fork.h"

#include <errno.h>
#include <unistd.h>

pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    for (;;)
        fork();
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
