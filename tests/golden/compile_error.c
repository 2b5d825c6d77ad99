// compile_error.c - a golden case: lesson 01's file with a typo.
#include "fork.h"

pid_t
mp_fork_call(mp_target target, void *arg)
{
    return fork()
}
