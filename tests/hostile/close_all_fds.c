// close_all_fds.c - hostile submission for the grader's self-test: closes every file descriptor, then does the right thing.
#define _GNU_SOURCE
#include "fork.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    for (int fd = 0; fd < 1024; fd++)
        close(fd);
    pid_t pid = fork();
    if (pid == 0)
        _exit(target(arg));
    return pid;
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
