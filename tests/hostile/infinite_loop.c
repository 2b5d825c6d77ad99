// infinite_loop.c - hostile submission for the grader's self-test: spins for
// ever.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    for (volatile int i = 0;; i++)
        ;
}
