// kill_everyone.c - hostile submission for the grader's self-test:
// kill(-1, SIGKILL), every process it may signal.  Run only as root.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    kill(-1, SIGKILL);
    return -EINTR;
}
