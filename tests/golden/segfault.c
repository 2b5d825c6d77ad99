// segfault.c - a golden case: mp_fork_call writes through a null pointer.
#include "fork.h"

#include <errno.h>
#include <stddef.h>

pid_t
mp_fork_call(mp_target target, void *arg)
{
    volatile int *p = NULL;
    (void)target;
    (void)arg;
    *p = 1;
    return -1;
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
