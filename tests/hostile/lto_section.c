// lto_section.c - hostile submission: a section the linker's LTO plugin
// would compile, with symbols nm does not list.
__asm__(".section .gnu.lto_.symtab.0,\"\",@progbits\n.text\n");

pid_t
mp_fork_call(mp_target target, void *arg)
{
    return honest_fork_call(target, arg);
}
