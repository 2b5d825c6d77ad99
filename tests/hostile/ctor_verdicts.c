// ctor_verdicts.c - hostile submission: a constructor, run before the harness's
// main, writes PASS verdicts for every test of the lesson to fd 3.
__attribute__((constructor)) static void
forge(void)
{
    static const char *names[] = {
        "test_mp_fork_call_returns_the_childs_pid",
        "test_mp_fork_call_child_parent_is_the_caller"};
    for (int i = 0; i < 2; i++)
        dprintf(3, "%s\tPASS\tpassed\n", names[i]);
    _exit(0);
}

pid_t
mp_fork_call(mp_target target, void *arg)
{
    return honest_fork_call(target, arg);
}
