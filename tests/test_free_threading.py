"""Threads sharing pyredis objects: a Pool (made to be shared) and, as misuse,
one Reader, one CommandBuffer (each is per-thread) and one asyncio
CommandProtocol (per event loop).

The misuse tests hold the line the modules' docstrings draw: sharing a
per-thread object may give exceptions or mixed-up results, never a crash or
a hang; the compiled twins keep each step whole (their critical sections).
On a free-threaded build these run with the GIL off (the test workflow sets
PYTHON_GIL=0 for them); with the GIL they switch threads as often as it lets
them.  Names carry "stress" or "sixteen_threads": the workflow selects them so.
"""
import asyncio
import sys
import threading

import pytest

from pyredis import Pool

WAIT = 30  # seconds: a thread still running after this is a hang


@pytest.fixture
def often():
    """Switch threads as often as the GIL allows: more interleavings."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)


def run_threads(count, target):
    """Start ``count`` threads at once on ``target(n)``; the exceptions they raised."""
    start = threading.Barrier(count, timeout=WAIT)
    errors = []

    def body(n):
        start.wait()
        try:
            target(n)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return errors


def test_sixteen_threads_share_one_pool_and_get_their_own_replies(redis, often):
    threads, rounds = 16, 60
    pool = Pool(host=redis.host, port=redis.port, pool_size=6, pool_timeout=WAIT)
    wrong = []

    def worker(n):
        for i in range(rounds):
            key = "ft:%d:%d" % (n, i)
            # Now and then a value too big for one receive: its reply spans reads.
            value = (("%d-%d." % (n, i)) * (3000 if i % 20 == 0 else 3)).encode()
            pool.set(key, value)
            got = pool.get(key)
            if got != value:
                wrong.append((key, got[:40] if isinstance(got, bytes) else got))
            pool.incr("ft:counter")
            if i % 10 == 0:
                if pool.mget(key, "ft:%d:missing" % n) != [value, None]:
                    wrong.append((key, "mget"))

    try:
        errors = run_threads(threads, worker)
        assert errors == [] and wrong == []
        assert pool.get("ft:counter") == str(threads * rounds).encode()
        assert len(pool._pool_used) == 0 and 0 < len(pool._pool_free) <= 6
    finally:
        pool.close()


REPLY = b"*3\r\n$5\r\nhello\r\n:42\r\n%1\r\n+k\r\n_\r\n"
EXPECTED = [b"hello", 42, {b"k": None}]


def test_stress_two_threads_feed_and_parse_one_reader(twin, often):
    reader_module = twin.load("pyredis.protocol._reader")
    none = object()
    reader = reader_module.Reader(notEnoughData=none)
    rounds = 3000
    replies = []
    refused = []  # gets() that came while the other thread's was parsing

    def worker(n):
        for i in range(rounds):
            if i % 3 == 0:
                reader.feed(REPLY)
            elif i % 3 == 1:
                reader.feed(bytearray(b"xx" + REPLY), 2)
            else:
                reader.feed(memoryview(REPLY + b"yy"), 0, len(REPLY))
            for _ in range(2):
                try:
                    reply = reader.gets()
                except RuntimeError as exc:
                    refused.append(exc)
                    continue
                if reply is not none:
                    replies.append(reply)
            if i % 100 == n:
                reader.setmaxbuf(64 if n else None)
                reader.has_data()
                reader.len()

    errors = run_threads(2, worker)
    if not twin.compiled:
        return  # the pure twin: finishing is all it promises
    # Compiled: each feed() and gets() is whole, so nothing is lost or torn;
    # the one error allowed is a gets() that came while another was parsing.
    assert errors == [] and all("inside gets()" in str(exc) for exc in refused)
    while True:
        reply = reader.gets()
        if reply is none:
            break
        replies.append(reply)
    assert len(replies) == 2 * rounds and all(reply == EXPECTED for reply in replies)
    assert not reader.has_data()


def test_stress_two_threads_add_to_one_command_buffer(twin, often):
    writer = twin.load("pyredis.protocol._writer")
    reader_module = twin.load("pyredis.protocol._reader")
    rounds = 3000
    taken = []
    buffer = writer.CommandBuffer(7, 1 << 16, lambda: taken.append(buffer.take()))

    def worker(n):
        for i in range(rounds):
            buffer.add("SET", "key:%d:%d" % (n, i), b"v" * (i % 50))
            if i % 500 == 0:
                len(buffer)

    errors = run_threads(2, worker)
    assert errors == []
    taken.append(buffer.take())
    none = object()
    parser = reader_module.Reader(notEnoughData=none)
    parser.feed(b"".join(taken))
    commands = []
    while True:  # whatever was taken is whole commands
        command = parser.gets()
        if command is none:
            break
        commands.append(command)
    assert commands and all(len(c) == 3 and c[0] == b"SET" for c in commands)
    if twin.compiled:  # each add() lands whole in one batch or the next, once
        keys = {c[1] for c in commands}
        assert len(commands) == len(keys) == 2 * rounds
    # (the pure twin may lose or repeat a command added during a take())


class _Transport:
    """Takes every write; the stress test below needs nothing else of it."""

    def write(self, data):
        pass

    def abort(self):
        pass

    close = pause_reading = resume_reading = abort


def test_stress_two_threads_drive_one_command_protocol(twin, often):
    module = twin.load("pyredis.connection._protocol")
    loop = asyncio.new_event_loop()  # never run: futures and call_soon only queue
    loop.set_exception_handler(lambda loop, context: None)  # failed futures nobody awaits
    proto = module.CommandProtocol(None, lambda push: None, lambda: None)
    rounds = 2000

    def reopen():
        proto.__init__(None, lambda push: None, lambda: None)
        proto.prepare(loop, None)
        proto.connection_made(_Transport())
        proto.set_ready()

    def replies(i):  # the loop's thread: replies, timer and flush callbacks, reconnects
        for n in range(i % 3 + 1):
            proto.data_received(b"+OK\r\n" if n % 2 else b">2\r\n+m\r\n:1\r\n$2\r\nhi\r\n")
        if i % 7 == 0:
            proto._on_timer()
            proto._flush()
        if i % 50 == 0:
            proto.transport = _Transport()
            if proto.lost is not None:
                reopen()

    def requests(i):  # another thread misusing the same object
        if proto.lost is not None:
            reopen()
        proto.request(("GET", "k%d" % i))
        if i % 5 == 0:
            proto.send_many(b"*1\r\n$4\r\nPING\r\n", 1, [])
        if i % 11 == 0:
            proto.request_many(b"", 0, None)
            proto.when_idle()
            proto.drain_waiter()
        if i % 97 == 0:
            proto.abort(RuntimeError("misuse"))
            proto.forget()

    done = []

    def worker(n):
        step = (replies, requests)[n]
        for i in range(rounds):
            try:
                step(i)
            except Exception:
                pass  # misuse may raise (connection given up, a reply out of step)
        done.append(n)

    try:
        reopen()
        assert run_threads(2, worker) == [] and sorted(done) == [0, 1]
        # Whatever the threads left, the object still works as one connection.
        reopen()
        future = proto.request(("GET", "k"))
        proto.data_received(b"$1\r\nv\r\n")
        assert future.result() == b"v" and not proto.waiters and proto.lost is None
    finally:
        loop.close()
