// memory_hog.c - hostile submission for the grader's self-test: takes memory
// until there is none.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    for (;;) {
        char *p = malloc(1 << 20);
        if (p == NULL)
            return -ENOMEM;
        memset(p, 1, 1 << 20);
    }
}
