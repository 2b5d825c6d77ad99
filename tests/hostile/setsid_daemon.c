// setsid_daemon.c - hostile submission for the grader's self-test: leaves a setsid daemon behind, then does the right thing.
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
    pid_t d = fork();
    if (d == 0) {
        setsid();
        if (fork() == 0)
            for (;;)
                pause(); // the daemon: holds every inherited fd open
        _exit(0);
    }
    fflush(NULL);
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
