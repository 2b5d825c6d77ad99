// leaked_shm.c - hostile submission for the grader's self-test: creates shared memory, with and without the run's prefix, and never unlinks it.
#define _GNU_SOURCE
#include "fork.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    char name[128];
    const char *prefix = getenv("FORKLINGS_PREFIX");
    snprintf(name, sizeof name, "/%sleak", prefix ? prefix : "");
    int a = shm_open(name, O_CREAT | O_RDWR, 0600);
    int b = shm_open("/forklings-hostile-leak", O_CREAT | O_RDWR, 0600);
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
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
