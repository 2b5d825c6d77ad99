// demo_events.c - the classic Event example, with the lesson's functions.
//
// The Python original:
//
//     def worker(event):
//         print("worker: waiting for event")
//         event.wait()
//         print("worker: event is set")
//
//     event = multiprocessing.Event()
//     p = multiprocessing.Process(target=worker, args=(event,))
//     p.start()
//     print("main: setting event")
//     event.set()
//     p.join()
//
// Where it misleads: the order of its three lines is a race, and depends
// on where stdout goes.  On a terminal, stdout is line-buffered and main
// usually prints "setting event" before the new process has even started,
// so main's line tends to come first.  Into a pipe or a file, stdout is
// fully buffered: each process's lines wait in its own buffer until it
// exits.  The worker exits first (main joins it), so output that went
// through a pipe shows both worker lines, then main's.  Either way a
// worker slow to start prints "waiting" after main has set the event,
// which the event survives: a wait on a set event returns at once.
//
// Here the order is the same everywhere, for two reasons.  Each line is
// flushed as soon as it is printed, so the order of the writes is the
// order of the printf calls.  And the order of the calls is fixed by
// events, not by a sleep: the worker sets `ready` once its first line is
// out, main prints only after `ready`, and the worker prints its second
// line only after main has set `go`.  stdout is flushed before fork()
// too: a line still in the buffer would be copied into the child and
// printed twice.
#include "events.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void
say(const char *line)
{
    printf("%s\n", line);
    fflush(stdout); // now, not when the buffer fills or the process exits
}

static int
worker(mp_event *ready, mp_event *go)
{
    say("worker: waiting for event");
    if (mp_event_set(ready) != 0)
        return 1;
    if (mp_event_wait(go, 5000) != 1) {
        say("worker: timed out");
        return 1;
    }
    say("worker: event is set");
    return 0;
}

static int
fail(const char *what, int err)
{
    fprintf(stderr, "%s: %s%s\n", what, strerror(-err),
            err == -ENOSYS ? ": fill in the TODO(07)s in "
                             "lessons/07_events/events.c first"
                           : "");
    return 1;
}

int
main(void)
{
    mp_event *ready, *go;
    int r = mp_event_create(&ready);
    if (r < 0)
        return fail("mp_event_create", r);
    r = mp_event_create(&go);
    if (r < 0)
        return fail("mp_event_create", r);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return fail("fork", -errno);
    if (pid == 0)
        _exit(worker(ready, go));
    r = mp_event_wait(ready, 5000); // not sleep(2): wait until it is so
    if (r != 1)
        fprintf(stderr, "main: the worker never said it was waiting\n");
    say("main: setting event");
    r = mp_event_set(go);
    int status;
    waitpid(pid, &status, 0);
    mp_event_destroy(ready);
    mp_event_destroy(go);
    if (r < 0)
        return fail("mp_event_set", r);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
