// close_all_fds.c - hostile submission for the grader's self-test: closes every
// file descriptor, then does the right thing.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    for (int fd = 0; fd < 1024; fd++)
        close(fd);
    return honest_fork_call(target, arg);
}
