// include_secret.c - hostile submission: compiles a file it should not read
// into its error messages (/etc/shadow is root's; selftest.sh adds more).
#include "/etc/shadow"

pid_t
mp_fork_call(mp_target target, void *arg)
{
    return honest_fork_call(target, arg);
}
