// leaked_shm.c - hostile submission for the grader's self-test: creates shared
// memory, with and without the run's prefix, and never unlinks it.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    char name[128];
    const char *prefix = getenv("FORKLINGS_PREFIX");
    snprintf(name, sizeof name, "/%sleak", prefix ? prefix : "");
    int a = shm_open(name, O_CREAT | O_RDWR, 0600);
    int b = shm_open("/forklings-hostile-leak", O_CREAT | O_RDWR, 0600);
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
    return honest_fork_call(target, arg);
}
