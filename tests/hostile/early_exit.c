// early_exit.c - hostile submission for the grader's self-test: ends the test
// process with exit(0).
pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    exit(0);
}
