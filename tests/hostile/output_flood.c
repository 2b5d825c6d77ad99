// output_flood.c - hostile submission for the grader's self-test: writes to
// stdout without end.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    char buf[65536];
    memset(buf, 'x', sizeof buf);
    for (;;)
        if (write(1, buf, sizeof buf) < 0 && errno != EINTR && errno != EAGAIN)
            return -errno;
}
