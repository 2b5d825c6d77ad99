// incbin_secret.c - hostile submission: pulls a file it should not read into
// its object with the assembler's .incbin.
__asm__(".section .rodata\n.incbin \"/etc/shadow\"\n.text\n");

pid_t
mp_fork_call(mp_target target, void *arg)
{
    return honest_fork_call(target, arg);
}
