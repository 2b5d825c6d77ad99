"""bench.py - make bench: the Python multiprocessing side.

`python3 bench.py OP N` runs OP N times and prints the rate in operations
per second, as the C benchmarks do, for the same work; `OP N OP N ...`
runs each in turn, a rate a line (make test's smoke run: one start of
Python for them all).  Each OP returns the
seconds its work took: a Pool is started before the clock starts and
joined after it stops, as the C side does, so that what is timed is the
work, not the start-up of the workers.
"""
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def timed(work, *args):
    t0 = time.perf_counter()
    work(*args)
    return time.perf_counter() - t0


def noop():
    pass


def start_join(n):
    def work():
        for _ in range(n):
            p = mp.Process(target=noop)
            p.start()
            p.join()

    return timed(work)


MIB = 1 << 20


def sender(conn, n):
    msg = b"x" * MIB
    for _ in range(n):
        conn.send_bytes(msg)


def pipe_stream(n):
    def work():
        a, b = mp.Pipe(duplex=False)
        p = mp.Process(target=sender, args=(b, n))
        p.start()
        b.close()
        for _ in range(n):
            a.recv_bytes()
        p.join()

    return timed(work)


# ---------------------------------------------------------------- lesson 05


def producer(q, n):
    for i in range(n):
        q.put(i)


def queue_stream(n):
    def work():
        q = mp.Queue(1024)  # bounded, as lesson 05's queue is
        p = mp.Process(target=producer, args=(q, n))
        p.start()
        for i in range(n):
            if q.get() != i:
                raise SystemExit("queue_stream: out of order")
        p.join()

    return timed(work)


# ---------------------------------------------------------------- lesson 06


def lock(n):
    lk = mp.Lock()

    def work():
        for _ in range(n):
            lk.acquire()
            lk.release()

    return timed(work)


# ---------------------------------------------------------------- lesson 07


def ponger(ping, pong, n):
    for _ in range(n):
        ping.wait()
        ping.clear()
        pong.set()


def event_pingpong(n):
    ping, pong = mp.Event(), mp.Event()

    def work():
        p = mp.Process(target=ponger, args=(ping, pong, n))
        p.start()
        for _ in range(n):
            ping.set()
            pong.wait()
            pong.clear()
        p.join()

    return timed(work)


# ---------------------------------------------------------------- lesson 08


def adder(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def counter(n):
    v = mp.Value("i", 0)  # with its lock, an RLock

    def work():
        ps = [mp.Process(target=adder, args=(v, n // 2)) for _ in range(2)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        if v.value != n // 2 * 2:
            raise SystemExit("counter: lost increments")

    return timed(work)


# ---------------------------------------------------------------- lesson 09


def square(x):
    return x * x


MAX_MAP = 1_000_000  # items in one map at most, as in bench_09.c


def maps(pool, fn, n, *chunksize):
    """The seconds that mapping fn over n items takes, in maps of MAX_MAP
    items at most."""
    xs = list(range(min(n, MAX_MAP)))
    t = 0.0
    for done in range(0, n, MAX_MAP):
        t += timed(pool.map, fn, xs[: n - done], *chunksize)
    return t


def map_default(n):
    with mp.Pool() as pool:
        return maps(pool, square, n)


def map_chunk1(n):
    with mp.Pool() as pool:
        return maps(pool, square, n, 1)


def apply_async(n):
    with mp.Pool() as pool:

        def work():
            for i in range(n):
                pool.apply_async(square, (i,)).get()

        return timed(work)


def is_prime(x):
    if x < 2:
        return 0
    if x % 2 == 0:
        return x == 2
    d = 3
    while d * d <= x:
        if x % d == 0:
            return 0
        d += 2
    return 1


def primes_in_block(b):
    """One CPU-bound work item, lesson 13's kernel as bench_09.c and
    bench_13.c run it: count the primes from b * 1000 up to (b + 1) * 1000
    by trial division."""
    return sum(is_prime(x) for x in range(b * 1000, (b + 1) * 1000))


def cpu(k):
    def op(n):
        with mp.Pool(k) as pool:  # chunks of one block, as the C side
            return maps(pool, primes_in_block, n, 1)

    return op


def threads(k):
    """The same map over k threads: the GIL lets one run Python at a time."""

    def op(n):
        with ThreadPoolExecutor(k) as ex:
            return timed(lambda: list(ex.map(primes_in_block, range(n))))

    return op


# ---------------------------------------------------------------- lesson 10


def daemon_start_join(n):
    def work():
        for _ in range(n):
            p = mp.Process(target=noop, daemon=True)
            p.start()
            p.join()

    return timed(work)


# ---------------------------------------------------------------- lesson 11

KEYS = 100  # dict_set's keys, as in bench_11.c
KEY = 7  # dict_incr's key


def dict_set(n):
    with mp.Manager() as manager:
        d = manager.dict()

        def work():
            for i in range(n):
                d[i % KEYS] = i

        t = timed(work)
        if len(d) != min(n, KEYS) or d[(n - 1) % KEYS] != n - 1:
            raise SystemExit("dict_set: wrong contents")
        return t


def dict_incr(n):
    """A proxy has no increment done by the server, as mp_dict_incr is:
    d[k] = d[k] + 1 is two round trips, a get and then a set (and two
    processes doing it at once would lose updates)."""
    with mp.Manager() as manager:
        d = manager.dict({KEY: 0})

        def work():
            for _ in range(n):
                d[KEY] = d[KEY] + 1

        t = timed(work)
        if d[KEY] != n:
            raise SystemExit("dict_incr: lost increments")
        return t


# ---------------------------------------------------------------- lesson 12

MESSAGE = "An error occurred in worker 2."


def failing(conn, num):
    """Raise, catch in the child, send the error to the parent, and end
    with exit code 1, as mp_run_worker's child does.  str(e), not
    traceback.format_exc(): the C record carries the message alone, and
    format_exc would read this file's source lines in every child."""
    try:
        raise ValueError(f"An error occurred in worker {num}.")
    except ValueError as e:
        conn.send((num, str(e)))
    sys.exit(1)


def error_record(n):
    def work():
        for _ in range(n):
            a, b = mp.Pipe(duplex=False)  # one pipe per worker, as in C
            p = mp.Process(target=failing, args=(b, 2))
            p.start()
            b.close()
            record = a.recv()
            p.join()
            a.close()
            if record != (2, MESSAGE) or p.exitcode != 1:
                raise SystemExit("error_record: wrong record or exit code")

    return timed(work)


# ---------------------------------------------------------------- lesson 16


def submit_result(n):
    with ProcessPoolExecutor() as ex:
        ex.submit(square, 0).result()  # the workers started, as in C

        def work():
            for i in range(n):
                ex.submit(square, i).result()

        return timed(work)


OPS = {
    "start_join": start_join,
    "pipe_stream": pipe_stream,
    "queue_stream": queue_stream,
    "lock": lock,
    "event_pingpong": event_pingpong,
    "counter": counter,
    "map_default": map_default,
    "map_chunk1": map_chunk1,
    "apply_async": apply_async,
    "daemon_start_join": daemon_start_join,
    "dict_set": dict_set,
    "dict_incr": dict_incr,
    "error_record": error_record,
    "submit_result": submit_result,
}
OPS.update({f"cpu_w{k}": cpu(k) for k in range(1, 9)})
OPS.update({f"thr_w{k}": threads(k) for k in range(1, 9)})

if __name__ == "__main__":
    mp.set_start_method("fork")  # the method the lessons build first
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit("usage: bench.py OP N [OP N ...]")
    for op, n in zip(args[::2], map(int, args[1::2])):
        print(round(n / OPS[op](n)), flush=True)
