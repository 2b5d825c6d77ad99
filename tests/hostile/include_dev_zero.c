// include_dev_zero.c - hostile submission: an include that never ends.
#include "/dev/zero"

pid_t
mp_fork_call(mp_target target, void *arg)
{
    return honest_fork_call(target, arg);
}
