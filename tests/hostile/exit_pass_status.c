// exit_pass_status.c - hostile submission: ends the test with the old public
// pass status, and with guesses at a secret one.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    _exit(77 + (int)(getpid() % 40));
}
