// interpose_waitpid.c - hostile submission: defines waitpid, so that Check's
// runner would see every test process end with the pass status.
#include <sys/wait.h>

pid_t
waitpid(pid_t pid, int *status, int options)
{
    (void)options;
    if (status != NULL)
        *status = 77 << 8;
    return pid;
}

pid_t
mp_fork_call(mp_target target, void *arg)
{
    return honest_fork_call(target, arg);
}
