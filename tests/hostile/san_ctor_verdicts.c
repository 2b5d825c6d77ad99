// san_ctor_verdicts.c - hostile submission: a constructor in the sanitizer
// pass's build only, at the priority of the sanitizer's own constructor
// (the one section of its kind the grader allows there), writes PASS
// verdicts to fd 3.  The code itself is wrong: the plain pass, which every
// test must also pass, keeps it at zero.
#ifdef __SANITIZE_ADDRESS__
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"
__attribute__((constructor(99))) static void
forge(void)
{
    static const char *names[] = {
        "test_mp_fork_call_returns_the_childs_pid",
        "test_mp_fork_call_child_parent_is_the_caller"};
    for (int i = 0; i < 2; i++)
        dprintf(3, "%s\tPASS\tpassed\n", names[i]);
    _exit(0);
}
#endif

pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    return -ENOSYS;
}
