"""Pool core (acquire/release bookkeeping) and BasePool, against both twins.

Behaviour tests use fake clients, so that every rule can be checked exactly
and counted: the fake pool counts the clients it made and the ones still open.
tests/test_pool.py covers Pool against a real redis-server; the fork test at
the end uses one too.  Nothing here asserts a duration except as a generous
bound on waiting behaviour; "must not block" is checked with events, barriers
and futures that fail after ``WAIT`` seconds instead of hanging.
"""
import dis
import inspect
import os
import select
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from pyredis.exceptions import PyRedisError
from pyredis.pool import _core_py

WAIT = 10  # seconds: a bound on anything that should happen "soon"
# An acquire timeout no waiter should reach: one that has to be woken waits
# this long in a thread whose result is awaited for WAIT seconds only, so a
# lost wake-up fails the test instead of passing late.
LONG = 3 * WAIT


class FakeClient:
    """What a pool needs of a client; records what the pool does to it."""

    def __init__(self, pool, number):
        self.pool = pool
        self.number = number
        self.closed = False
        self.close_calls = 0
        self.holders = 0

    def close(self):
        self.close_calls += 1
        if not self.closed:
            self.closed = True
            self.pool.client_closed()

    def execute(self, *args, **kwargs):
        self.pool.hold(self)
        try:
            if args[:1] == ("FAIL",):
                raise RuntimeError("command failed")
            if args[:1] == ("BREAK",):  # the connection broke: the client closes itself
                self.close()
                raise RuntimeError("connection broke")
            return (self.number, args, kwargs)
        finally:
            self.pool.unhold(self)

    def __repr__(self):
        return "<FakeClient %d>" % self.number


def make_pool(core, pool_size=4, lock=None, close_on_err=False, before_connect=None, **kwargs):
    """A PoolCore subclass (as BasePool is) whose ``_connect`` makes FakeClients.

    ``before_connect()`` runs at the start of every ``_connect`` (to block or
    fail it).  ``live`` counts clients made and not yet closed, ``most_live``
    its peak; ``violations`` counts moments a client had two holders.
    """

    class FakePool(core.PoolCore):
        _close_on_err = close_on_err

        def __init__(self):
            super().__init__(pool_size, lock, **kwargs)
            self.made = []
            self.guard = threading.Lock()
            self.live = self.most_live = self.violations = 0

        def _connect(self):
            if before_connect is not None:
                before_connect()
            with self.guard:
                client = FakeClient(self, len(self.made))
                self.made.append(client)
                self.live += 1
                self.most_live = max(self.most_live, self.live)
            return client

        def client_closed(self):
            with self.guard:
                self.live -= 1

        def hold(self, client):
            with self.guard:
                client.holders += 1
                if client.holders != 1:
                    self.violations += 1

        def unhold(self, client):
            with self.guard:
                client.holders -= 1

    return FakePool()


@pytest.fixture
def core(twin):
    return twin.load("pyredis.pool._core")


@pytest.fixture
def executor():
    """Threads whose results are awaited with a deadline (a hang becomes a failure)."""
    with ThreadPoolExecutor(4) as pool:
        yield pool


class Gate:
    """A ``before_connect`` that stops the connects it is armed for until opened."""

    def __init__(self, fail=False):
        self.armed = False
        self.fail = fail
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self):
        if self.armed:
            self.armed = False
            self.entered.set()
            assert self.opened.wait(WAIT)
            if self.fail:
                raise OSError("cannot connect")


# -- acquire ------------------------------------------------------------------------------------
def test_acquire_makes_clients_then_reuses_the_last_released(core):
    pool = make_pool(core)
    a, b, c = pool.acquire(), pool.acquire(), pool.acquire()
    assert [x.number for x in (a, b, c)] == [0, 1, 2]
    assert pool._pool_used == {a, b, c} and pool._pool_free == set()
    for client in (b, a, c):
        pool.release(client)
    assert pool._pool_free == {a, b, c} and pool._pool_used == set()
    assert [pool.acquire() for _ in range(3)] == [c, a, b]  # LIFO: the warmest first
    assert len(pool.made) == 3


@pytest.mark.parametrize("settings, timeout", [({}, None), ({}, 0), ({"pool_timeout": 0}, None),
                                               ({"pool_timeout": 30}, 0)])
def test_an_exhausted_pool_raises_at_once_by_default(core, settings, timeout):
    pool = make_pool(core, pool_size=2, **settings)
    first = pool.acquire()
    pool.acquire()
    # Were acquire() to wait, it would get ``first`` back from this timer.
    late = threading.Timer(3, pool.release, (first,))
    late.start()
    try:
        with pytest.raises(PyRedisError, match=r"^Max connections 2 exhausted$"):
            pool.acquire(timeout=timeout)
    finally:
        late.cancel()
    assert len(pool.made) == 2 and first in pool._pool_used


@pytest.mark.parametrize("settings, timeout", [({}, LONG), ({"pool_timeout": LONG}, None),
                                               ({"pool_timeout": 0}, LONG)],
                         ids=["argument", "pool_timeout", "argument-over-pool_timeout"])
def test_a_waiting_acquire_gets_a_released_client(core, executor, settings, timeout):
    pool = make_pool(core, pool_size=1, **settings)
    held = pool.acquire()
    threading.Timer(0.2, pool.release, (held,)).start()
    assert executor.submit(pool.acquire, timeout).result(WAIT) is held
    assert len(pool.made) == 1


@pytest.mark.parametrize("settings, timeout", [({}, 0.3), ({"pool_timeout": 0.3}, None),
                                               ({"pool_timeout": 3 * WAIT}, 0.3)],
                         ids=["argument", "pool_timeout", "argument-over-pool_timeout"])
def test_a_waiting_acquire_times_out(core, executor, settings, timeout):
    pool = make_pool(core, pool_size=1, **settings)
    held = pool.acquire()
    started = time.monotonic()
    with pytest.raises(PyRedisError, match=r"^Max connections 1 exhausted$"):
        pool.acquire(timeout=timeout)
    assert 0.25 <= time.monotonic() - started < WAIT
    # The waiter that gave up left no trace that could swallow the next wake-up.
    threading.Timer(0.2, pool.release, (held,)).start()
    assert executor.submit(pool.acquire, LONG).result(WAIT) is held


def test_a_waiter_gets_the_slot_of_a_client_that_came_back_closed(core, executor):
    pool = make_pool(core, pool_size=1)
    held = pool.acquire()
    held.close()
    threading.Timer(0.2, pool.release, (held,)).start()
    fresh = executor.submit(pool.acquire, LONG).result(WAIT)
    assert fresh.number == 1 and pool.live == 1


def test_growing_the_pool_wakes_a_waiter(core, executor):
    pool = make_pool(core, pool_size=1)
    held = pool.acquire()
    waiting = executor.submit(pool.acquire, LONG)
    time.sleep(0.2)  # lets it park (the test holds either way)
    pool.pool_size = 2
    assert waiting.result(WAIT).number == 1 and held in pool._pool_used


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no setitimer")
def test_an_interrupted_wait_leaves_the_pool_consistent(core, executor):
    class Interrupt(Exception):
        pass

    def interrupt(signum, frame):
        raise Interrupt

    pool = make_pool(core, pool_size=1)
    held = pool.acquire()
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Interrupt):
            pool.acquire(timeout=WAIT)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    threading.Timer(0.2, pool.release, (held,)).start()
    assert executor.submit(pool.acquire, LONG).result(WAIT) is held


# -- exceptions that arrive at any moment (KeyboardInterrupt from a signal) ----------------------
class Interrupt(BaseException):
    """Stands for KeyboardInterrupt raised by a signal handler."""


def wait_until(predicate):
    """Poll ``predicate`` until it holds; fail after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, "not reached within %s s" % WAIT
        time.sleep(0.001)


class InterruptibleLock:
    """A caller's lock (acquire/release only) whose ``acquire()`` can be made to
    raise Interrupt without taking the lock, as a blocking acquire interrupted
    by a signal does; a release by a thread that does not hold it is counted."""

    def __init__(self):
        self.inner = threading.Lock()
        self.holder = None
        self.interrupt = set()  # thread idents whose next acquire() raises
        self.releases = {}  # thread ident -> releases done
        self.bad_releases = 0

    def acquire(self):
        me = threading.get_ident()
        if me in self.interrupt:
            self.interrupt.discard(me)
            raise Interrupt
        self.inner.acquire()
        self.holder = me
        return True

    def release(self):
        me = threading.get_ident()
        if self.holder != me:
            self.bad_releases += 1
            raise RuntimeError("released by a thread that does not hold it")
        self.holder = None
        self.releases[me] = self.releases.get(me, 0) + 1
        self.inner.release()


def start_waiting(executor, pool, lock, timeout=LONG):
    """A thread's ``pool.acquire(timeout)``, once it is queued: its future and
    thread ident.  A waiter takes ``lock`` twice before it parks (the quick
    look of acquire(), then the round that queues it), releasing it each time."""
    idents = []

    def acquire():
        idents.append(threading.get_ident())
        return pool.acquire(timeout)

    future = executor.submit(acquire)
    wait_until(lambda: future.done() or (idents and lock.releases.get(idents[0], 0) >= 2))
    return future, idents[0]


def test_a_waiter_interrupted_after_its_wake_up_passes_it_on(core, executor):
    lock = InterruptibleLock()
    pool = make_pool(core, pool_size=1, lock=lock)
    held = pool.acquire()
    first, first_ident = start_waiting(executor, pool, lock)
    second, _ = start_waiting(executor, pool, lock)
    third, _ = start_waiting(executor, pool, lock)
    fourth, _ = start_waiting(executor, pool, lock)
    lock.interrupt.add(first_ident)  # woken first, it is interrupted taking the lock again
    pool.release(held)
    with pytest.raises(Interrupt):
        first.result(WAIT)
    # The wake-up it got goes to the next waiter, which would otherwise sleep
    # to its timeout with the client idle; to that one only.
    assert second.result(WAIT) is held
    assert lock.bad_releases == 0 and lock.holder is None
    assert_served_in_turn(pool, held, third, fourth)


def assert_served_in_turn(pool, client, waiting, last):
    """``waiting`` and then ``last`` wait for a client: releasing ``client``
    serves ``waiting``.  A waiter woken by mistake earlier would have queued
    again behind ``last`` and lost its turn."""
    time.sleep(0.2)  # such a waiter queues again meanwhile
    pool.release(client)
    assert waiting.result(WAIT) is client
    assert not last.done()
    pool.close()
    with pytest.raises(PyRedisError, match="Pool is closed"):
        last.result(WAIT)


def test_a_client_that_comes_back_closed_wakes_one_waiter(core, executor):
    lock = InterruptibleLock()
    pool = make_pool(core, pool_size=1, lock=lock)
    held = pool.acquire()
    first, _ = start_waiting(executor, pool, lock)
    second, _ = start_waiting(executor, pool, lock)
    third, _ = start_waiting(executor, pool, lock)
    held.close()
    pool.release(held)  # its slot is free: the first waiter connects a new client
    fresh = first.result(WAIT)
    assert fresh.number == 1
    assert_served_in_turn(pool, fresh, second, third)


def test_waiters_are_served_in_turn_and_one_that_times_out_wakes_nobody(core, executor):
    lock = InterruptibleLock()
    pool = make_pool(core, pool_size=1, lock=lock)
    held = pool.acquire()
    impatient, _ = start_waiting(executor, pool, lock, timeout=0.3)
    second, _ = start_waiting(executor, pool, lock)
    third, _ = start_waiting(executor, pool, lock)
    with pytest.raises(PyRedisError, match="exhausted"):
        impatient.result(WAIT)
    assert_served_in_turn(pool, held, second, third)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no setitimer")
def test_a_waiter_interrupted_while_queued_wakes_nobody(core, executor):
    # Queue: a thread, this (main) thread, a thread started while this one
    # waits.  This one is interrupted while queued: it leaves the queue, and
    # the first must keep its turn (woken by mistake, it would queue again
    # behind the third).
    def interrupt(signum, frame):
        raise Interrupt

    lock = InterruptibleLock()
    pool = make_pool(core, pool_size=1, lock=lock)
    held = pool.acquire()
    first, _ = start_waiting(executor, pool, lock)
    third = []
    starter = threading.Timer(0.1, lambda: third.append(start_waiting(executor, pool, lock)))
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        starter.start()
        signal.setitimer(signal.ITIMER_REAL, 0.6)
        with pytest.raises(Interrupt):
            pool.acquire(timeout=LONG)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    starter.join(WAIT)
    assert_served_in_turn(pool, held, first, third[0][0])


def test_a_caller_lock_that_raises_is_never_released_unheld(core):
    # Each acquire() of the lock that one pool.acquire() makes (the look, the
    # stale client's slot given back, the next look, the new client's
    # registration) raises once, in turn: the pool must never release the
    # lock without holding it, nor keep it.
    for nth in range(1, 6):
        lock = InterruptibleLock()
        pool = make_pool(core, pool_size=2, lock=lock, max_idle_time=0.05)
        stale, busy = pool.acquire(), pool.acquire()
        pool.release(stale)
        time.sleep(0.1)  # stale: the next acquire closes it outside the lock
        calls = [0]
        plain_acquire = lock.acquire

        def interrupted_acquire():
            calls[0] += 1
            if calls[0] == nth:
                raise Interrupt
            return plain_acquire()

        lock.acquire = interrupted_acquire
        with pytest.raises(Interrupt):
            pool.acquire()
        lock.acquire = plain_acquire
        assert calls[0] == nth and stale.closed is (nth >= 3)
        assert lock.bad_releases == 0 and lock.holder is None, nth
        pool.release(busy)
        assert pool.acquire() is busy

# The points of a pure-Python function where CPython may run a signal handler
# (and so raise KeyboardInterrupt): on entry, after a call returns, at a
# backward jump.  Opcode names of CPython 3.9 to 3.13.
_SIGNAL_POINTS = {"CALL", "CALL_FUNCTION", "CALL_METHOD", "CALL_FUNCTION_KW", "CALL_FUNCTION_EX",
                  "CALL_KW", "JUMP_BACKWARD", "JUMP_ABSOLUTE"}


class Interrupter:
    """A ``sys.settrace`` hook that raises Interrupt at the ``at``-th point of
    the pure pool core's own bytecode where a signal handler could run (None:
    never; ``seen`` counts the points), once, and only after ``armed`` is set."""

    def __init__(self, core, at=None, armed=None):
        self.filename = core.__file__
        self.at = at
        self.armed = armed
        self.seen = 0
        self.last = {}  # frame -> opcode name of the instruction it last ran
        self.opnames = {}  # code -> {offset: opcode name}

    def __call__(self, frame, event, arg):
        if frame.f_code.co_filename != self.filename:
            return None
        frame.f_trace_opcodes = True
        return self.local

    def local(self, frame, event, arg):
        if event != "opcode":
            return self.local
        code = frame.f_code
        names = self.opnames.get(code)
        if names is None:
            names = self.opnames[code] = {i.offset: i.opname for i in dis.get_instructions(code)}
        previous = self.last.get(frame, "CALL")  # the first instruction: on entry
        self.last[frame] = names.get(frame.f_lasti)
        if previous in _SIGNAL_POINTS and (self.armed is None or self.armed.is_set()):
            self.seen += 1
            if self.seen == self.at:
                raise Interrupt
        return self.local


def run_traced(tracer, action):
    """``action()`` under ``tracer`` in this thread; True if it was interrupted."""
    sys.settrace(tracer)
    try:
        action()
    except Interrupt:
        return True
    finally:
        sys.settrace(None)
    return False


def _stale_pool(core, **kwargs):
    pool = make_pool(core, max_idle_time=0.001, **kwargs)
    pool.release(pool.acquire())
    time.sleep(0.01)
    return pool, pool.acquire


def _lease_that_fails(core, **kwargs):
    pool = make_pool(core, **kwargs)

    def action():
        try:
            with pool.lease():
                raise KeyError("the body failed")
        except KeyError:
            pass

    return pool, action


def _with_clients(core, idle=0, busy=0, **kwargs):
    pool = make_pool(core, **kwargs)
    clients = [pool.acquire() for _ in range(idle + busy)]
    for client in clients[:idle]:
        pool.release(client)
    return pool, clients


def _scenario(name, core, **kwargs):
    """A fresh pool and the one operation to interrupt."""
    if name == "acquire-idle":
        pool, _ = _with_clients(core, idle=1, **kwargs)
        return pool, pool.acquire
    if name == "acquire-new":
        pool = make_pool(core, **kwargs)
        return pool, pool.acquire
    if name == "acquire-stale":
        return _stale_pool(core, **kwargs)
    if name == "release":
        pool, (client,) = _with_clients(core, busy=1, **kwargs)
        return pool, lambda: pool.release(client)
    if name == "release-closed-close_on_err":
        pool, (idle, busy, broken) = _with_clients(core, idle=1, busy=2, close_on_err=True,
                                                   **kwargs)
        broken.close()
        return pool, lambda: pool.release(broken)
    if name == "release-over-size":
        pool, (a, b) = _with_clients(core, busy=2, **kwargs)
        pool.pool_size = 1
        return pool, lambda: pool.release(a)
    if name == "release-unknown":
        pool = make_pool(core, **kwargs)
        return pool, lambda: pool.release(FakeClient(make_pool(core), 99))
    if name == "shrink":
        pool, _ = _with_clients(core, idle=3, **kwargs)
        return pool, lambda: setattr(pool, "pool_size", 1)
    if name == "close":
        pool, _ = _with_clients(core, idle=2, busy=1, **kwargs)
        return pool, pool.close
    if name == "lease-fails":
        return _lease_that_fails(core, **kwargs)
    raise AssertionError(name)


SCENARIOS = ["acquire-idle", "acquire-new", "acquire-stale", "release",
             "release-closed-close_on_err", "release-over-size", "release-unknown", "shrink",
             "close", "lease-fails"]


@pytest.mark.parametrize("user_lock", [False, True], ids=["own-lock", "threading-lock"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_an_interrupt_at_any_point_leaves_the_lock_free(scenario, user_lock):
    # Pure twin only: the compiled one runs no bytecode of its own between
    # taking its lock and the code that releases it (see _core.pyx).
    core = _core_py
    settings = {"pool_size": 3, "lock": threading.Lock() if user_lock else None}
    pool, action = _scenario(scenario, core, **settings)
    dry = Interrupter(core)
    assert not run_traced(dry, action)
    assert dry.seen > 0
    for at in range(1, dry.seen + 1):
        pool, action = _scenario(scenario, core, **settings)
        assert run_traced(Interrupter(core, at), action), at
        assert pool._lock.acquire(False), "the lock stays held after an interrupt at point %d" % at
        pool._lock.release()
        assert not pool._waiters


def test_a_waiter_interrupted_at_any_point_after_its_wake_up_passes_it_on(executor):
    # Pure twin only (see above).  Two threads wait for the one client; the
    # first is woken and interrupted on its way back, at each point in turn.
    core = _core_py

    def run(at):
        pool = make_pool(core, pool_size=1)
        held = pool.acquire()
        woken = threading.Event()
        tracer = Interrupter(core, at, armed=woken)
        first = executor.submit(run_traced, tracer, lambda: pool.acquire(timeout=3 * WAIT))
        wait_until(lambda: len(pool._waiters) == 1)
        second = executor.submit(pool.acquire, 3 * WAIT)
        wait_until(lambda: len(pool._waiters) == 2)
        woken.set()
        pool.release(held)  # wakes the first
        interrupted = first.result(WAIT)
        with pool._lock:  # a client idle while a thread sleeps: a lost wake-up
            lost = bool(pool._free) and bool(pool._waiters)
        assert not lost, "wake-up lost after an interrupt at point %d" % at
        if not interrupted:
            pool.release(held)
        pool.close()  # the second gets the client, or "Pool is closed" if the first kept it
        try:
            assert second.result(WAIT) is held
        except PyRedisError:
            pass
        return tracer.seen, interrupted

    points, interrupted = run(None)
    assert points > 0 and not interrupted
    for at in range(1, points + 1):
        assert run(at)[1], at


# -- _connect runs outside the lock ---------------------------------------------------------------
def test_a_slow_connect_does_not_block_other_threads(core, executor):
    gate = Gate()
    pool = make_pool(core, pool_size=3, before_connect=gate)
    warm = pool.acquire()
    gate.armed = True
    connecting = executor.submit(pool.acquire)  # nothing idle: it connects
    assert gate.entered.wait(WAIT)

    def release_then_acquire():
        pool.release(warm)
        return pool.acquire()

    try:  # with _connect under the lock this would block until the gate opens
        assert executor.submit(release_then_acquire).result(WAIT) is warm
    finally:
        gate.opened.set()
    assert connecting.result(WAIT).number == 1


def test_connects_run_in_parallel(core, executor):
    # Each _connect waits for the other: under the lock both would fail.
    barrier = threading.Barrier(2, timeout=WAIT)
    pool = make_pool(core, before_connect=barrier.wait)
    leases = [executor.submit(pool.acquire) for _ in range(2)]
    assert sorted(f.result(2 * WAIT).number for f in leases) == [0, 1]


def test_a_failed_connect_frees_its_slot_and_wakes_a_waiter(core, executor):
    gate = Gate(fail=True)
    pool = make_pool(core, pool_size=1, before_connect=gate)
    gate.armed = True
    failing = executor.submit(pool.acquire)
    assert gate.entered.wait(WAIT)
    waiting = executor.submit(pool.acquire, LONG)  # the only slot is reserved
    time.sleep(0.2)
    gate.opened.set()
    with pytest.raises(OSError, match="cannot connect"):
        failing.result(WAIT)
    assert waiting.result(WAIT).number == 0 and pool.live == 1


def test_a_failed_connect_gives_its_slot_back(core):
    failures = [3]

    def flaky():
        if failures[0]:
            failures[0] -= 1
            raise OSError("cannot connect")

    pool = make_pool(core, pool_size=1, before_connect=flaky)
    for _ in range(3):  # would be "exhausted" from the second on if the slot leaked
        with pytest.raises(OSError, match="cannot connect"):
            pool.acquire()
    assert pool.acquire().number == 0 and pool._pool_used == {pool.made[0]}


def test_closing_the_pool_while_a_client_connects(core, executor):
    gate = Gate()
    pool = make_pool(core, before_connect=gate)
    gate.armed = True
    connecting = executor.submit(pool.acquire)
    assert gate.entered.wait(WAIT)
    pool.close()
    gate.opened.set()
    with pytest.raises(PyRedisError, match="Pool is closed"):
        connecting.result(WAIT)
    assert pool.made[0].closed and pool.live == 0


# -- release rules --------------------------------------------------------------------------------
def test_releasing_an_unknown_client_closes_it_and_nothing_else(core):
    pool = make_pool(core, pool_size=1)
    mine = pool.acquire()
    stranger = FakeClient(make_pool(core), 99)
    pool.release(stranger)
    assert stranger.closed and stranger not in pool._pool_free | pool._pool_used
    assert pool._pool_used == {mine} and not mine.closed
    pool.release(mine)
    assert pool.acquire() is mine


def test_releasing_a_closed_client_drops_it(core):
    pool = make_pool(core, pool_size=2)
    a, b = pool.acquire(), pool.acquire()
    pool.release(b)
    a.close()
    pool.release(a)
    assert pool._pool_free == {b} and pool._pool_used == set()
    assert a.close_calls == 1 and not b.closed  # the pool did not touch the others
    assert pool.acquire() is b and pool.acquire().number == 2  # a's slot is free again


def test_close_on_err_closes_the_idle_and_retires_the_busy(core):
    pool = make_pool(core, pool_size=3, close_on_err=True)
    assert pool.close_on_err is True
    a, b, c = pool.acquire(), pool.acquire(), pool.acquire()
    pool.release(c)
    a.close()
    pool.release(a)
    assert c.closed and pool._pool_free == set()  # idle ones closed at once
    assert not b.closed and pool._pool_used == {b}  # busy ones retired, still counted
    fresh = [pool.acquire(), pool.acquire()]
    with pytest.raises(PyRedisError, match="exhausted"):
        pool.acquire()  # b still holds its slot
    pool.release(b)  # comes back after the reset: closed, not reused
    assert b.closed and b not in pool._pool_free and b not in pool._pool_used
    fresh.append(pool.acquire())
    assert [f.number for f in fresh] == [3, 4, 5] and pool.live == 3


def test_a_closed_client_without_close_on_err_leaves_the_others(core):
    pool = make_pool(core, pool_size=3)
    assert pool.close_on_err is False
    a, b, c = pool.acquire(), pool.acquire(), pool.acquire()
    pool.release(c)
    a.close()
    pool.release(a)
    pool.release(b)
    assert pool._pool_free == {b, c} and not (b.closed or c.closed)


def test_clients_over_the_size_are_closed_on_release(core):
    pool = make_pool(core, pool_size=3)
    clients = [pool.acquire() for _ in range(3)]
    pool.pool_size = 1
    for client in clients:
        pool.release(client)
    assert [c.closed for c in clients] == [True, True, False]
    assert pool._pool_free == {clients[2]} and pool.live == 1


# -- settings -------------------------------------------------------------------------------------
def test_shrinking_the_pool_closes_the_coldest_idle_clients(core):
    pool = make_pool(core, pool_size=4)
    clients = [pool.acquire() for _ in range(4)]
    for client in clients:
        pool.release(client)
    pool.pool_size = 2
    assert pool.pool_size == 2
    assert [c.closed for c in clients] == [True, True, False, False]
    assert pool._pool_free == set(clients[2:]) and pool.live == 2


def test_shrinking_below_the_busy_count_trims_on_release(core):
    pool = make_pool(core, pool_size=4)
    busy = [pool.acquire() for _ in range(3)]
    idle = pool.acquire()
    pool.release(idle)
    pool.pool_size = 1
    assert idle.closed and not any(c.closed for c in busy)
    with pytest.raises(PyRedisError, match="Max connections 1 exhausted"):
        pool.acquire()
    for client in busy:
        pool.release(client)
    assert pool.live == 1 and len(pool._pool_free) == 1

def test_shrinking_the_pool_keeps_max_idle_time_in_step(core):
    # The release times must leave with the clients they belong to: the
    # survivors here are fresh and must not be taken for stale ones.
    pool = make_pool(core, pool_size=4, max_idle_time=0.5)
    old = [pool.acquire(), pool.acquire()]
    fresh = [pool.acquire(), pool.acquire()]
    for client in old:
        pool.release(client)
    time.sleep(0.8)
    for client in fresh:
        pool.release(client)
    pool.pool_size = 2  # the two coldest go: the stale ones
    assert [c.closed for c in old + fresh] == [True, True, False, False]
    assert [pool.acquire(), pool.acquire()] == fresh[::-1]
    assert not any(c.closed for c in fresh) and pool.live == 2


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                        ("2", TypeError), (None, TypeError)])
def test_pool_size_is_validated(core, bad, error):
    pool = make_pool(core)
    with pytest.raises(error):
        pool.pool_size = bad
    assert pool.pool_size == 4
    with pytest.raises(error):
        make_pool(core, pool_size=bad)


@pytest.mark.parametrize("name", ["pool_timeout", "max_idle_time"])
def test_seconds_settings(core, name):
    assert getattr(make_pool(core), name) is None
    assert getattr(make_pool(core, **{name: 2}), name) == 2
    for bad in (-1, float("nan"), "x"):
        with pytest.raises((ValueError, TypeError)):
            make_pool(core, **{name: bad})
    with pytest.raises(AttributeError):
        setattr(make_pool(core), name, 1)


def test_an_idle_client_older_than_max_idle_time_is_replaced(core):
    pool = make_pool(core, max_idle_time=0.5)
    old = pool.acquire()
    pool.release(old)
    assert pool.acquire() is old  # still fresh
    pool.release(old)
    time.sleep(0.8)
    fresh = pool.acquire()
    assert fresh is not old and old.closed
    assert pool.live == 1 and pool._pool_used == {fresh}


def test_only_the_stale_idle_clients_are_replaced(core):
    pool = make_pool(core, max_idle_time=0.5)
    old, young = pool.acquire(), pool.acquire()
    pool.release(old)
    time.sleep(0.8)
    pool.release(young)
    assert pool.acquire() is young
    assert old.closed and pool._pool_free == set() and pool.live == 1


def test_an_idle_client_exactly_max_idle_time_old_is_kept(monkeypatch):
    # Pure twin only: its clock can be replaced (the compiled one reads C's).
    now = [1000.0]
    monkeypatch.setattr(_core_py, "monotonic", lambda: now[0])
    pool = make_pool(_core_py, max_idle_time=5)
    client = pool.acquire()
    pool.release(client)
    now[0] += 5
    assert pool.acquire() is client and not client.closed  # not older than 5 s
    pool.release(client)
    now[0] += 5.5
    assert pool.acquire() is not client and client.closed


# -- a caller-supplied lock -----------------------------------------------------------------------
class CountingLock:
    def __init__(self):
        self.inner = threading.Lock()
        self.acquires = self.releases = 0

    def acquire(self, *args):
        got = self.inner.acquire(*args)
        self.acquires += 1
        return got

    def release(self):
        self.releases += 1
        self.inner.release()


def test_a_caller_supplied_lock_guards_every_operation(core, executor):
    lock = CountingLock()
    pool = make_pool(core, lock=lock)
    pool.release(pool.acquire())  # the first lease also connects
    lock.acquires = lock.releases = 0
    client = pool.acquire()
    pool.release(client)
    assert (lock.acquires, lock.releases) == (2, 2)  # once per acquire, once per release
    assert pool.execute("PING")[0] == 0
    assert (lock.acquires, lock.releases) == (4, 4)
    with pool.lease():
        pass
    assert (lock.acquires, lock.releases) == (6, 6) and not lock.inner.locked()

    lock.inner.acquire()  # while the caller holds it, the pool waits for it
    try:
        leasing = executor.submit(pool.acquire)
        time.sleep(0.2)
        assert not leasing.done()
    finally:
        lock.inner.release()
    assert leasing.result(WAIT) is client


# -- execute, lease, close ------------------------------------------------------------------------
def test_execute_passes_the_arguments_and_releases(core):
    pool = make_pool(core)
    assert pool.execute("GET", "k", shard_key="k") == (0, ("GET", "k"), {"shard_key": "k"})
    assert pool.execute("GET", "k") == (0, ("GET", "k"), {})
    assert len(pool._pool_free) == 1 and pool._pool_used == set()


def test_execute_releases_when_the_command_fails(core):
    pool = make_pool(core)
    with pytest.raises(RuntimeError, match="command failed"):
        pool.execute("FAIL")
    assert len(pool._pool_free) == 1 and pool._pool_used == set()
    with pytest.raises(RuntimeError, match="connection broke"):
        pool.execute("BREAK")  # closed by the error: dropped, not reused
    assert pool._pool_free == set() and pool._pool_used == set() and pool.live == 0
    assert pool.execute("PING")[0] == 1


def test_execute_on_an_exhausted_pool(core):
    pool = make_pool(core, pool_size=1)
    held = pool.acquire()
    with pytest.raises(PyRedisError, match="Max connections 1 exhausted"):
        pool.execute("PING")
    assert pool._pool_used == {held} and pool._pool_free == set()


def test_lease(core, executor):
    pool = make_pool(core, pool_size=1)
    with pool.lease() as client:
        assert pool._pool_used == {client}
    assert pool._pool_free == {client}
    with pytest.raises(KeyError):
        with pool.lease() as again:
            raise KeyError("boom")
    # The body failed: the client may be mid-transaction or in bulk mode, so it
    # is closed, not handed to the next caller; its slot is free.
    assert again is client and again.closed
    assert pool._pool_free == set() and pool._pool_used == set()
    held = pool.acquire()
    assert held is not client
    threading.Timer(0.2, pool.release, (held,)).start()

    def lease_after_a_wait():
        with pool.lease(timeout=LONG) as waited:
            return waited

    assert executor.submit(lease_after_a_wait).result(WAIT) is held
    with pytest.raises(PyRedisError, match="exhausted"):
        with pool.lease():
            with pool.lease():
                pass
    assert pool._pool_used == set()


def test_a_failed_lease_body_does_not_reset_a_close_on_err_pool(core):
    pool = make_pool(core, pool_size=3, close_on_err=True)
    idle, other = pool.acquire(), pool.acquire()
    pool.release(idle)
    with pytest.raises(KeyError):
        with pool.lease() as leased:
            raise KeyError("boom")
    assert leased is idle and leased.closed
    assert not other.closed and pool._pool_used == {other}  # no failover reset
    pool.release(other)
    assert pool.acquire() is other


def test_close_and_the_context_manager(core):
    with make_pool(core) as pool:
        busy, idle = pool.acquire(), pool.acquire()
        pool.release(idle)
    assert idle.closed and not busy.closed
    with pytest.raises(PyRedisError, match="Pool is closed"):
        pool.acquire()
    with pytest.raises(PyRedisError, match="Pool is closed"):
        pool.execute("PING")
    pool.release(busy)  # released after close(): closed
    assert busy.closed and pool.live == 0
    pool.close()  # idempotent
    assert idle.close_calls == 1


def test_close_wakes_the_waiters(core, executor):
    pool = make_pool(core, pool_size=1)
    pool.acquire()
    waiting = executor.submit(pool.acquire, 3 * WAIT)
    time.sleep(0.2)
    pool.close()
    with pytest.raises(PyRedisError, match="Pool is closed"):
        waiting.result(WAIT)

def fail_close(client, message):
    """Make ``client.close()`` close it, then raise RuntimeError(message)."""
    def close():
        FakeClient.close(client)
        raise RuntimeError(message)

    client.close = close


def test_close_closes_every_idle_client_then_raises_the_first_error(core):
    pool = make_pool(core, pool_size=3)
    clients = [pool.acquire() for _ in range(3)]
    for client in clients:
        pool.release(client)
    fail_close(clients[0], "first")  # the coldest: closed first
    fail_close(clients[1], "second")
    with pytest.raises(RuntimeError, match="^first$"):
        pool.close()
    assert [c.close_calls for c in clients] == [1, 1, 1] and pool.live == 0
    assert pool._pool_free == set()
    pool.close()  # nothing left to close
    assert [c.close_calls for c in clients] == [1, 1, 1]


def test_a_failed_close_while_shrinking_still_frees_the_slots(core):
    pool = make_pool(core, pool_size=3)
    clients = [pool.acquire() for _ in range(3)]
    for client in clients:
        pool.release(client)
    fail_close(clients[1], "second")
    with pytest.raises(RuntimeError, match="^second$"):
        pool.pool_size = 1
    assert [c.closed for c in clients] == [True, True, False]
    pool.pool_size = 3
    leases = [pool.acquire() for _ in range(3)]  # both slots came back
    assert leases[0] is clients[2] and [c.number for c in leases[1:]] == [3, 4]


def test_a_failed_close_of_a_stale_client_is_raised_and_frees_its_slot(core):
    pool = make_pool(core, pool_size=1, max_idle_time=0.2)
    stale = pool.acquire()
    pool.release(stale)
    fail_close(stale, "stale")
    time.sleep(0.4)
    with pytest.raises(RuntimeError, match="^stale$"):
        pool.acquire()
    assert stale.closed and pool.acquire().number == 1


def test_the_pool_views_are_snapshots(core):
    pool = make_pool(core)
    client = pool.acquire()
    used = pool._pool_used
    pool.release(client)
    assert used == {client} and pool._pool_used == set() and pool._pool_free == {client}
    for view in (pool._pool_free, pool._pool_used):
        assert isinstance(view, frozenset)
    with pytest.raises(AttributeError):
        pool._pool_free = set()


# -- threads --------------------------------------------------------------------------------------
@pytest.mark.parametrize("user_lock", [False, True], ids=["own-lock", "user-lock"])
def test_sixteen_threads_count_every_client(core, user_lock):
    size, threads, rounds = 5, 16, 300
    pool = make_pool(core, pool_size=size, lock=threading.Lock() if user_lock else None,
                     pool_timeout=6 * WAIT)
    start = threading.Barrier(threads, timeout=WAIT)
    leases = []
    errors = []

    def worker(seed):
        done = 0
        try:
            start.wait()
            for i in range(seed, seed + rounds):
                if i % 53 == 0:
                    with pytest.raises(RuntimeError):
                        pool.execute("BREAK")
                elif i % 7 == 0:
                    pool.execute("PING")
                else:
                    client = pool.acquire()
                    pool.hold(client)
                    if i % 5 == 0:
                        time.sleep(0)  # let others run while it is held
                    pool.unhold(client)
                    if i % 41 == 0:
                        client.close()  # it broke while held: dropped, replaced
                    pool.release(client)
                done += 1
        except BaseException as exc:  # reported below, with the count
            errors.append(exc)
        leases.append(done)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often: more interleavings
    try:
        workers = [threading.Thread(target=worker, args=(n * rounds,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(6 * WAIT)
    finally:
        sys.setswitchinterval(interval)
    assert not any(w.is_alive() for w in workers)
    assert errors == [] and sum(leases) == threads * rounds
    assert pool.violations == 0  # never two holders of one client
    assert pool.most_live <= size  # never more than pool_size open
    assert len(pool.made) > size  # the broken ones were replaced
    # Nothing leaked: every client still open is idle in the pool, and vice versa.
    assert pool._pool_used == set()
    assert pool._pool_free == {c for c in pool.made if not c.closed}
    assert len(pool._pool_free) == pool.live <= size


# -- BasePool: the documented class ---------------------------------------------------------------
def test_basepool_signature():
    from pyredis.pool import BasePool

    params = list(inspect.signature(BasePool.__init__).parameters.values())[1:]
    positional = [(p.name, p.default) for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == [("database", 0), ("password", None), ("encoding", None),
                          ("conn_timeout", 2), ("read_timeout", 2), ("pool_size", 16),
                          ("lock", None), ("username", None)]
    keyword_only = [(p.name, p.default) for p in params if p.kind is p.KEYWORD_ONLY]
    assert keyword_only == [("pool_timeout", None), ("max_idle_time", None),
                            ("push_handler", None)]
    assert len(params) == 11


def test_basepool_properties_are_read_only():
    from pyredis.pool import BasePool

    pool = BasePool(3, "pw", "utf-8", 5, 6, 7, None, "me", pool_timeout=1.5, max_idle_time=60)
    assert (pool.database, pool.password, pool.encoding, pool.conn_timeout, pool.read_timeout,
            pool.pool_size, pool.username) == (3, "pw", "utf-8", 5, 6, 7, "me")
    assert (pool.pool_timeout, pool.max_idle_time, pool.close_on_err) == (1.5, 60, False)
    for name in ("database", "password", "encoding", "conn_timeout", "read_timeout",
                 "username", "close_on_err", "pool_timeout", "max_idle_time"):
        with pytest.raises(AttributeError):
            setattr(pool, name, 1)
    pool.pool_size = 3  # the one setting that can change
    assert pool.pool_size == 3
    defaults = BasePool()
    assert (defaults.database, defaults.pool_size, defaults.conn_timeout) == (0, 16, 2)


def test_basepool_subclasses_supply_connect_and_close_on_err():
    from pyredis.pool import BasePool

    with pytest.raises(NotImplementedError):
        BasePool(pool_size=1).acquire()

    class Sentinelish(BasePool):
        _close_on_err = True

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.live = 0
            self.made = []

        def _connect(self):
            self.made.append(FakeClient(self, len(self.made)))
            self.live += 1
            return self.made[-1]

        def client_closed(self):
            self.live -= 1

        def hold(self, client):
            pass

        unhold = hold

    pool = Sentinelish(pool_size=1, password="pw")
    assert pool.close_on_err is True and pool.password == "pw"
    assert pool.execute("GET", "k") == (0, ("GET", "k"), {})
    with pytest.raises(RuntimeError):
        pool.execute("BREAK")
    with pool.lease() as client:
        assert client.number == 1
    pool.close()
    assert pool.live == 0


def test_the_core_alone_has_upstreams_defaults(core):
    assert core.__all__ == ["PoolCore"]
    pool = core.PoolCore()
    assert (pool.pool_size, pool.pool_timeout, pool.max_idle_time) == (16, None, None)
    assert pool.close_on_err is False
    small = core.PoolCore(pool_size=1)
    for _ in range(2):  # not "exhausted" the second time: the slot was given back
        with pytest.raises(NotImplementedError, match="_connect"):
            small.acquire()


def test_a_subclass_without_close_on_err_keeps_the_others(core):
    class Plain(core.PoolCore):
        def _connect(self):
            return FakeClient(self, 0)

        def client_closed(self):
            pass

    pool = Plain(pool_size=2)
    broken, idle = pool.acquire(), pool.acquire()
    pool.release(idle)
    broken.close()
    pool.release(broken)
    assert pool._pool_free == {idle} and not idle.closed


def test_basepool_uses_the_active_twin():
    import pyredis
    from pyredis.pool import BasePool

    module = BasePool.__mro__[1].__module__
    assert module == ("pyredis.pool._core" if pyredis.COMPILED else "pyredis.pool._core_py")


# -- fork -----------------------------------------------------------------------------------------
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork")
# Python 3.12+ warns when a process with threads forks; these tests do it on purpose.
forking_with_threads = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _in_child(check):
    """Run ``check()`` in a forked child; return the repr of its result (or error).

    A child that does not answer within WAIT seconds (a deadlock) is killed
    and the test fails.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: never return into pytest
        try:
            os.close(read_end)
            try:
                result = repr(check())
            except BaseException as exc:
                result = "error: %r" % (exc,)
            os.write(write_end, result.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    try:
        deadline = time.monotonic() + WAIT
        while True:
            ready, _, _ = select.select([read_end], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                pytest.fail("the forked child did not answer within %s s" % WAIT)
            chunk = os.read(read_end, 65536)
            if not chunk:
                return b"".join(chunks).decode()
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)


@needs_fork
def test_a_child_forgets_the_parents_clients(core):
    pool = make_pool(core, pool_size=2)
    busy, idle = pool.acquire(), pool.acquire()
    pool.release(idle)

    def check():
        forgotten = pool._pool_free == set() and pool._pool_used == set()
        leases = [pool.acquire(), pool.acquire()]  # its own two: both slots are free
        pool.release(busy)  # unknown to the child's pool: closed there, never reused
        return (forgotten, [c.number for c in leases], idle.close_calls, busy.close_calls)

    # Nothing of the parent's was closed by the fork itself (close_calls 0 and 1).
    assert _in_child(check) == repr((True, [2, 3], 0, 1))
    assert pool._pool_free == {idle} and pool._pool_used == {busy}  # the parent's: untouched
    assert not (idle.closed or busy.closed)
    pool.release(busy)
    assert pool.acquire() is busy


@needs_fork
def test_a_child_keeps_using_the_callers_lock(core):
    # The pool's own lock is replaced in the child; a caller's lock is not
    # the pool's to replace (it may guard other things too).
    lock = CountingLock()
    pool = make_pool(core, pool_size=2, lock=lock)
    pool.release(pool.acquire())

    def check():
        before = lock.acquires
        pool.release(pool.acquire())
        return lock.acquires > before and lock.acquires == lock.releases

    assert _in_child(check) == "True"


@needs_fork
def test_a_lease_that_fails_in_a_child_closes_the_client_there_only(core):
    pool = make_pool(core, pool_size=1)
    lease = pool.lease()
    client = lease.__enter__()

    def check():  # the body fails in the child, whose pool never knew the client
        lease.__exit__(KeyError, KeyError("boom"), None)
        return (client.close_calls, pool.acquire().number)

    assert _in_child(check) == repr((1, 1))
    assert client.close_calls == 0 and pool._pool_used == {client}
    lease.__exit__(None, None, None)
    assert pool._pool_free == {client}


class _StuckHash:
    """Blocks inside ``hash()`` - that is, inside the pool's lock - until ``go``."""

    closed = False

    def __init__(self):
        self.inside = threading.Event()
        self.go = threading.Event()

    def __hash__(self):
        self.inside.set()
        self.go.wait(WAIT)
        return 0

    def close(self):
        self.closed = True


@needs_fork
@forking_with_threads
def test_a_fork_while_another_thread_holds_the_pool_lock(core, executor):
    # The child must not inherit a lock that no thread of its own will release.
    pool = make_pool(core, pool_size=2)
    stuck = _StuckHash()
    releasing = executor.submit(pool.release, stuck)  # hashes it under the lock
    assert stuck.inside.wait(WAIT)
    try:
        result = _in_child(lambda: [pool.acquire().number, pool.acquire().number])
    finally:
        stuck.go.set()
    assert result == "[0, 1]"
    releasing.result(WAIT)
    assert stuck.closed  # unknown to the parent's pool too
    assert pool.made == [] and pool.acquire().number == 0


@needs_fork
def test_fork_with_a_real_server(redis):
    from pyredis import Pool

    pool = Pool(host=redis.host, port=redis.port, pool_size=3)
    pool.set("who", "parent")
    idle, busy = pool.acquire(), pool.acquire()  # busy: in use while the process forks
    idle_id, busy_id = idle.execute("CLIENT", "ID"), busy.execute("CLIENT", "ID")
    pool.release(idle)
    del idle  # the pool's reference only: the child's pool drops it

    def check():
        ids = {pool.execute("CLIENT", "ID") for _ in range(3)}
        pool.set("who", "child")
        return (ids.isdisjoint({idle_id, busy_id}), pool.get("who"), busy.closed)

    # The child: its own connection (a new client id), and the parent's are not its to use.
    assert _in_child(check) == repr((True, b"child", True))
    # The parent: both connections still open, with the ids they had.
    assert busy.execute("CLIENT", "ID") == busy_id
    pool.release(busy)
    with pool.lease() as first, pool.lease() as second:
        assert {first.execute("CLIENT", "ID"), second.execute("CLIENT", "ID")} == {idle_id, busy_id}
    assert pool.get("who") == b"child"
    pool.close()
