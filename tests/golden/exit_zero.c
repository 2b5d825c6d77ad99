// exit_zero.c - a golden case: the parent ends the whole test with exit(0)
// instead of returning the child's pid.
#include "fork.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

pid_t
mp_fork_call(mp_target target, void *arg)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(target(arg));
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
