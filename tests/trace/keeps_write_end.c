// keeps_write_end.c - a reader that waits for EOF forever, for
// tests/trace_check.sh: the child forgets to close its copy of the write
// end, so the parent's read never sees EOF.  trace must say who holds it.
#include <stdio.h>
#include <unistd.h>

int
main(void)
{
    int p[2]; // p[0] read end, p[1] write end
    if (pipe(p) < 0) {
        perror("pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(p[0]);
        pause(); // the mistake: p[1] stays open here until we are killed
        _exit(0);
    }
    close(p[1]);
    char c;
    while (read(p[0], &c, 1) > 0) // EOF needs every write end closed
        ;
    return 0;
}
