// include_hidden.c - hostile submission: compiles an instructor's hidden
// tests into its own file, to read them in the compiler's errors (their
// source, by its path in the course) or to carry them out in its object
// (their compiled object, beside the build directory).  A run in
// namespaces cannot see the course; the hidden objects are root's alone
// while the student's file compiles.
#if __has_include("@HIDDEN_SRC@")
#include "@HIDDEN_SRC@"
#endif
__asm__(".section .rodata\n.incbin \"../hidden/hidden-0.o\"\n.text\n");

pid_t
mp_fork_call(mp_target target, void *arg)
{
    return honest_fork_call(target, arg);
}
