// san_fakes_a_report.c - hostile submission: right in the plain pass; in
// the sanitizer pass's build it writes the line a sanitizer report before
// the first test leaves ("sanitize: ...") and ends with the sanitizers'
// exit status, hoping the grader takes its words for a verdict.  They can
// only be a failure's message: no verdict came, so the tests fail.
pid_t
mp_fork_call(mp_target target, void *arg)
{
#ifdef __SANITIZE_ADDRESS__
    static const char line[] = "\nsanitize: no error; every test passed\n";
    if (write(2, line, sizeof line - 1) < 0)
        _exit(79);
    _exit(79);
#endif
    return honest_fork_call(target, arg);
}
