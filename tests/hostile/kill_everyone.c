// kill_everyone.c - hostile submission for the grader's self-test:
// kill(-1, SIGKILL), every process it may signal.  Run only as root.
#define _GNU_SOURCE
#include "fork.h"

#include <errno.h>
#include <signal.h>

pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    kill(-1, SIGKILL);
    return -EINTR;
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
