// ifunc_resolver.c - hostile submission: a static indirect function whose
// resolver runs while the program is loaded, before main.
typedef pid_t (*fork_call_fn)(mp_target, void *);

static pid_t
real_fork_call(mp_target target, void *arg)
{
    return honest_fork_call(target, arg);
}

static fork_call_fn
resolve(void)
{
    dprintf(3, "test_mp_fork_call_returns_the_childs_pid\tPASS\tpassed\n");
    return real_fork_call;
}

static pid_t indirect(mp_target target, void *arg)
    __attribute__((ifunc("resolve")));

pid_t
mp_fork_call(mp_target target, void *arg)
{
    return indirect(target, arg);
}
