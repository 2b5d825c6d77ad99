// demo_daemons.c - the classic daemon-process example, with the lesson's code.
//
// The Python original:
//
//     def nondaemonProcess():
//         print("starting my Process")
//         time.sleep(8)
//         print("ending my Process")
//
//     def daemonProcess():
//         while True:
//             print("Hello")
//             time.sleep(2)
//
//     if __name__ == "__main__":
//         nondaemonProcess = multiprocessing.Process(target=nondaemonProcess)
//         daemonProcess = multiprocessing.Process(target=daemonProcess)
//         daemonProcess.daemon = True
//         nondaemonProcess.daemon = False
//         daemonProcess.start()
//         nondaemonProcess.start()
//
// Where it misleads:
//  - The tutorial says the daemon runs "as long as the main process runs".
//    It does not.  When the main program's last line has run, Python's exit
//    handler terminates the daemonic children FIRST (SIGTERM), and only then
//    joins the others.  The main process lives on for 8 seconds, waiting
//    for the ordinary child, but the daemon is already gone: "Hello" is
//    printed at most once, and often not at all (the daemon may be killed
//    before its first print, and with stdout on a pipe its buffered "Hello"
//    dies with it).  Here the main program waits for the first "Hello", so
//    that every run prints it once, then ends the way Python's exit
//    handler does: end_children() below.
//  - That exit handler never runs if the main process is killed.
//    mp_start's PR_SET_PDEATHSIG does: the kernel kills a daemonic child
//    when its parent dies, however it dies.
//  - A daemonic process is not a Unix daemon.  The end of this demo
//    starts one with mp_daemonize and stops it with mp_daemon_stop, and
//    says so on stderr.
// The sleeps are a fifth of the original's: a daemon still alive while
// the ordinary child works would say "Hello" three more times.
#include "daemons.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t daemonic_pid, ordinary_pid;

static int
daemon_process(void *arg)
{
    int said = *(int *)arg; // tells main that "Hello" is out, once
    for (;;) {
        printf("Hello\n");
        fflush(stdout);
        if (said >= 0 && write(said, "!", 1) == 1)
            close(said);
        said = -1;
        poll(NULL, 0, 400); // time.sleep(2), scaled
    }
    return 0;
}

static int
nondaemon_process(void *arg)
{
    (void)arg;
    printf("starting my Process\n");
    fflush(stdout);
    poll(NULL, 0, 1600); // time.sleep(8), scaled
    printf("ending my Process\n");
    return 0;
}

// Wait for a child and give its exit code the Python way.
static int
join(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1000;
    return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

// What multiprocessing's exit handler does when the main program has
// finished: terminate the daemonic children, then join the others.
static void
end_children(void)
{
    if (daemonic_pid > 0) {
        kill(daemonic_pid, SIGTERM);
        fprintf(stderr,
                "(the main program has finished: the daemonic "
                "process %d ended with exit code %d)\n",
                (int)daemonic_pid, join(daemonic_pid));
    }
    if (ordinary_pid > 0)
        fprintf(stderr,
                "(the main process waited for process %d: exit "
                "code %d)\n",
                (int)ordinary_pid, join(ordinary_pid));
}

static int
serve(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return 0;
}

// A real Unix daemon, started and stopped; reported on stderr only.
static void
unix_daemon(void)
{
    char pidfile[256];
    mp_ipc_path(pidfile, sizeof pidfile, "demo.pid");
    pid_t d = mp_daemonize(pidfile, NULL, serve, NULL);
    if (d < 0) {
        fprintf(stderr, "mp_daemonize: %s\n", strerror((int)-d));
        return;
    }
    fprintf(stderr, "(a Unix daemon, %d, holds the lock on %s)\n", (int)d,
            pidfile);
    int r = mp_daemon_stop(pidfile, 2000);
    if (r < 0)
        kill(d, SIGKILL);
    fprintf(stderr, "(mp_daemon_stop: %s; the pidfile is %s)\n",
            r == 0 ? "stopped it" : strerror(-r),
            access(pidfile, F_OK) == 0 ? "still there" : "gone");
}

// The classic example, ended as Python ends it.
static int
classic(void)
{
    int hello[2];
    if (pipe(hello) < 0)
        return 1;
    daemonic_pid = mp_start(daemon_process, &hello[1], 1);
    if (daemonic_pid < 0) {
        fprintf(stderr, "mp_start: %s%s\n", strerror((int)-daemonic_pid),
                daemonic_pid == -ENOSYS ? ": fill in the TODO(10)s in "
                                          "lessons/10_daemons/daemons.c "
                                          "first"
                                        : "");
        return 1;
    }
    close(hello[1]);
    char c;
    while (read(hello[0], &c, 1) < 0 && errno == EINTR)
        ;
    close(hello[0]);
    ordinary_pid = mp_start(nondaemon_process, NULL, 0);
    if (ordinary_pid < 0)
        fprintf(stderr, "mp_start: %s\n", strerror((int)-ordinary_pid));
    end_children(); // the main program has finished
    return 0;
}

int
main(void)
{
    if (classic() != 0)
        return 1;
    unix_daemon();
    return 0;
}
