// kill_group.c - hostile submission for the grader's self-test: kills its own
// process group.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    kill(0, SIGKILL);
    return -EINTR;
}
