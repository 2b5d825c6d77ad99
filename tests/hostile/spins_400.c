// spins_400.c - hostile submission: 400 processes that spin, to starve the
// other submissions graded at the same time.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    for (int i = 0; i < 400; i++)
        if (fork() == 0)
            for (;;)
                ;
    return honest_fork_call(target, arg);
}
