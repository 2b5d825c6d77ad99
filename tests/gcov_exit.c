// gcov_exit.c - coverage builds only: dump gcov counters before _exit.
//
// A child that ends with _exit() skips the exit handlers that write its
// coverage counters.  Coverage builds link with -Wl,--wrap=_exit, so every
// call to _exit comes here first.
void __gcov_dump(void);
void __real__exit(int status) __attribute__((noreturn));

void __wrap__exit(int status) __attribute__((noreturn));

void
__wrap__exit(int status)
{
    __gcov_dump();
    __real__exit(status);
}
