// hides_misuse.c - hostile submission: passes a signal set it never
// emptied, then takes back the misuse the harness's wrapper recorded
// (fl_misuse_take), so that the test would not fail for it.
#include <signal.h>
int fl_misuse_take(char *buf, size_t size);

pid_t
mp_fork_call(mp_target target, void *arg)
{
    sigset_t set;
    char why[256];
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    fl_misuse_take(why, sizeof why);
    pid_t pid = fork();
    if (pid == 0)
        _exit(target(arg));
    return pid;
}
