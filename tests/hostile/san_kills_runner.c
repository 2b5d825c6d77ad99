// san_kills_runner.c - hostile submission: right in the plain pass, and in
// the sanitizer pass's build it kills the program that runs it (its whole
// process group), hoping that a pass that cannot finish leaves the plain
// pass's verdict standing.  A runner that dies fails its tests: score 0.
pid_t
mp_fork_call(mp_target target, void *arg)
{
#ifdef __SANITIZE_ADDRESS__
    kill(0, SIGKILL);
#endif
    return honest_fork_call(target, arg);
}
