// fork_bomb.c - hostile submission for the grader's self-test: forks until the
// process limit stops it.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    for (;;)
        fork();
}
