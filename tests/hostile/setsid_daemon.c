// setsid_daemon.c - hostile submission for the grader's self-test: leaves a
// setsid daemon behind, then does the right thing.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    pid_t d = fork();
    if (d == 0) {
        setsid();
        if (fork() == 0)
            for (;;)
                pause(); // the daemon: holds every inherited fd open
        _exit(0);
    }
    return honest_fork_call(target, arg);
}
