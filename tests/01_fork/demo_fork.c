// demo_fork.c - the classic os.fork() example, with the lesson's functions.
//
// The Python original:
//
//     pid = os.fork()
//     if pid > 0:
//         print("PID of Parent process is : ", os.getpid())
//     else:
//         print("PID of Child process is : ", os.getpid())
//
// It never waits, so the child may print after the shell's prompt and is a
// zombie until the parent ends.  This version waits, and reports how the
// child ended in Python's terms.
#include "fork.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
child(void *arg)
{
    (void)arg;
    printf("PID of Child process is : %d\n", (int)getpid());
    return 0;
}

int
main(void)
{
    printf("PID of Parent process is : %d\n", (int)getpid());
    pid_t pid = mp_fork_call(child, NULL);
    if (pid < 0) {
        fprintf(stderr, "mp_fork_call: %s%s\n", strerror((int)-pid),
                pid == -ENOSYS ? ": fill in the TODO(01)s in "
                                 "lessons/01_fork/fork.c first"
                               : "");
        return 1;
    }
    int code = mp_waitpid(pid);
    if (code < -64) { // not minus a signal: -errno
        fprintf(stderr, "mp_waitpid: %s\n", strerror(-code));
        return 1;
    }
    fprintf(stderr, "(child %d ended with exit code %d)\n", (int)pid, code);
    return 0;
}
