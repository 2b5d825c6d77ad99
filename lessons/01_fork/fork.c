// fork.c - lesson 01: start a child with fork() and wait for it.
//
// Your task: make the three functions below work as fork.h describes.
// Read lessons/01_fork/README.md first; `make check L=01` tests your code,
// `make hint L=01` gives one more hint each time you run it.
#include "fork.h"

#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t
mp_fork_call(mp_target target, void *arg)
{
    // TODO(01): reject a NULL target with -EINVAL.
    // TODO(01): flush every stdio stream (fflush(NULL)) before fork():
    // whatever is still buffered would be copied into the child and
    // printed twice.
    // TODO(01): call fork().  It returns twice: -1 on failure (return
    // -errno), 0 in the child, the child's pid in the parent.
    // TODO(01): in the child, run target(arg), flush what it printed,
    // and end with _exit(status).  Never return, never call exit():
    // the parent's atexit handlers must not run twice.
    // TODO(01): in the parent, return the child's pid.
    (void)target;
    (void)arg;
    return -ENOSYS;
}

int
mp_exitcode(int wstatus)
{
    // TODO(01): decode with WIFEXITED/WEXITSTATUS and
    // WIFSIGNALED/WTERMSIG; a signal gives minus its number.
    (void)wstatus;
    return -ENOSYS;
}

int
mp_waitpid(pid_t pid)
{
    // TODO(01): reject pid <= 0 with -EINVAL: to waitpid(), 0 and -1 mean
    // "any child" (of the group), which would reap someone else's child.
    // TODO(01): waitpid(pid, &status, 0) until it succeeds: when a signal
    // interrupts it, it fails with EINTR and must be called again.  Any
    // other failure is returned as -errno.
    (void)pid;
    return -ENOSYS;
}
