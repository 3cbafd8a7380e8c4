"""Waiting with real threads: every wait times out naming the laggard, close() frees all,
and removing a departed worker lets BSP and SSP carry on."""
import threading
import time

import pytest

from minidl.ps import BSP, SSP, ClockTable, ParameterServer, ServerClosed, StragglerTimeout


def start(fn, *args):
    errors = []
    def body():
        try:
            fn(*args)
        except BaseException as e:  # noqa: BLE001, inspected by the test
            errors.append(e)
    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t, errors


def test_a_timeout_names_the_waiting_worker_and_the_one_that_lags():
    table = ClockTable(3)
    table.tick(0)
    table.tick(2)
    with pytest.raises(StragglerTimeout, match=r"worker 0 waited 0.05 s to start iteration 1 under BSP\(\), "
                                               r"but worker 1 lags at clock 0.*remove_worker\(1\)") as e:
        table.wait_until(0, 1, BSP(), timeout=0.05)
    assert (e.value.worker, e.value.lagging, e.value.lagging_clock) == (0, 1, 0)
    assert isinstance(e.value, TimeoutError)


def test_a_tick_of_the_laggard_releases_the_waiter():
    table = ClockTable(2)
    table.tick(0)
    waiter, errors = start(table.wait_until, 0, 1, BSP(), 5.0)
    time.sleep(0.02)
    assert waiter.is_alive()
    table.tick(1)
    waiter.join(timeout=5)
    assert not waiter.is_alive() and not errors


def test_close_releases_every_waiter_with_server_closed():
    ps = ParameterServer(1, policy=BSP(), n_workers=4, timeout=10.0)
    for w in range(3):
        ps.tick(w)
    waiters = [start(ps.pull, w) for w in range(3)]  # all three wait for worker 3
    time.sleep(0.02)
    assert all(t.is_alive() for t, _ in waiters)
    ps.close()
    for t, errors in waiters:
        t.join(timeout=5)
        assert not t.is_alive()
        assert len(errors) == 1 and isinstance(errors[0], ServerClosed)
    with pytest.raises(ServerClosed, match="closed"):
        ps.push(3, 0, [1.0])


def test_removing_a_departed_worker_unblocks_bsp_and_the_others_carry_on():
    ps = ParameterServer(1, policy=BSP(), n_workers=3, timeout=10.0)
    ps.tick(0)
    ps.tick(1)  # worker 2 never comes back
    waiter, errors = start(ps.pull, 0)
    time.sleep(0.02)
    assert waiter.is_alive()
    ps.remove_worker(2)
    waiter.join(timeout=5)
    assert not waiter.is_alive() and not errors
    ps.push(0, 0, [1.0])
    ps.tick(0)
    ps.push(1, 0, [1.0])
    ps.tick(1)
    ps.pull(1, timeout=0.1)  # BSP now waits only for workers 0 and 1


def test_ssp_lets_a_worker_run_s_clocks_ahead_then_waits():
    ps = ParameterServer(1, policy=SSP(2), n_workers=2, timeout=0.05)
    for clock in range(3):
        ps.pull(0, clock=clock)  # clocks 0, 1, 2 are within 2 of worker 1's clock 0
        ps.tick(0)
    with pytest.raises(StragglerTimeout, match="worker 1 lags at clock 0"):
        ps.pull(0)


def test_a_removed_worker_may_not_use_the_server():
    ps = ParameterServer(1, n_workers=2)
    ps.remove_worker(1)
    with pytest.raises(RuntimeError, match="worker 1 was removed"):
        ps.push(1, 0, [1.0])


def test_unknown_workers_are_refused():
    with pytest.raises(ValueError, match="worker 5 is not one of 0 .. 1"):
        ParameterServer(1, n_workers=2).pull(5)


def test_timed_threads_runs_every_call_and_reports_errors_and_stragglers():
    from minidl.ps.worker import timed_threads
    calls = []
    lock = threading.Lock()

    def op(i):
        with lock:
            calls.append(i)
    seconds = timed_threads(3, op, ops=4)
    assert sorted(calls) == [0] * 4 + [1] * 4 + [2] * 4 and seconds >= 0
    # the clock starts when the barrier releases the threads, so it counts their 0.2 s sleep; the
    # 0.1 s margin allows for the main thread reading the clock late after the release
    before = time.perf_counter()
    seconds = timed_threads(2, lambda i: time.sleep(0.2), ops=1)
    assert 0.1 <= seconds <= time.perf_counter() - before

    def fail(i):
        raise KeyError(f"thread {i}")
    with pytest.raises(KeyError):
        timed_threads(2, fail, ops=1)
    with pytest.raises(TimeoutError, match="still running"):
        timed_threads(1, lambda i: time.sleep(2.0), ops=1, timeout=0.2)
    with pytest.raises(ValueError, match="n_threads"):
        timed_threads(0, op, ops=1)


def test_wait_until_waits_for_the_clock_asked_not_the_workers_own():
    """Both workers are at clock 1; worker 0 asks to start iteration 2, so BSP makes it wait."""
    table = ClockTable(2)
    table.tick(0)
    table.tick(1)
    assert table.wait_until(0, 1, BSP(), timeout=1.0) >= 0.0
    with pytest.raises(StragglerTimeout, match="start iteration 2 under BSP"):
        table.wait_until(0, 2, BSP(), timeout=0.02)
    assert not table.ready(0, 2, BSP()) and table.ready(0, 1, BSP())


def test_wait_until_returns_the_seconds_it_waited():
    """Bounded by the caller's own measurement: a few microseconds for no wait, at most the
    caller's elapsed time for a wait that a tick releases."""
    table = ClockTable(2)
    t0 = time.perf_counter()
    waited = table.wait_until(0, 0, BSP(), timeout=5.0)
    assert 0.0 <= waited <= time.perf_counter() - t0
    table.tick(0)
    out = []
    waiter, errors = start(lambda: out.append((time.perf_counter(), table.wait_until(0, 1, BSP(), 10.0))))
    time.sleep(0.05)
    table.tick(1)
    waiter.join(timeout=10)
    assert not errors and len(out) == 1
    assert 0.0 <= out[0][1] <= time.perf_counter() - out[0][0]  # out[0][0] is taken before the wait
    before = time.perf_counter()
    with pytest.raises(StragglerTimeout):
        table.wait_until(0, 5, BSP(), timeout=0.05)
    assert time.perf_counter() - before >= 0.05  # a timeout comes only after the full time


def test_errors_name_the_operation_that_a_removed_worker_tried():
    table = ClockTable(3)
    table.remove_worker(2)
    for op, call in (("tick", lambda: table.tick(2)), ("pull", lambda: table.wait_until(2, 0, BSP(), 0.1)),
                     ("remove_worker", lambda: table.remove_worker(2))):
        with pytest.raises(RuntimeError, match=f"^{op}: worker 2 was removed from the server"):
            call()


def test_snapshot_slowest_and_repr_follow_the_active_workers():
    table = ClockTable(3)
    table.tick(0)
    table.tick(0)
    table.tick(2)
    assert table.snapshot() == {0: 2, 1: 0, 2: 1} and table.slowest() == 0
    assert table.remove_worker(1) == 0
    assert table.snapshot() == {0: 2, 2: 1} and table.slowest() == 1 and table.clock(0) == 2
    assert repr(table) == "ClockTable(clocks=[2, 0, 1], active=[0, 2])"
    table.remove_worker(0)
    table.remove_worker(2)
    assert table.slowest() is None and table.snapshot() == {}
    assert table.ready(0, 7, BSP())  # nobody left to wait for


def test_tick_returns_the_new_clock_and_a_closed_table_refuses_ticks():
    table = ClockTable(1)
    assert table.tick(0) == 1 and table.tick(0) == 2
    table.close()
    with pytest.raises(ServerClosed, match="tick: the parameter server is closed"):
        table.tick(0)


@pytest.mark.parametrize("bad", [0, -1, 2.0, "3"])
def test_a_clock_table_needs_at_least_one_worker(bad):
    with pytest.raises(ValueError, match=f"ClockTable: n_workers {bad!r} must be an integer >= 1"):
        ClockTable(bad)


def test_a_timeout_under_ssp_says_which_clock_the_laggard_must_reach():
    table = ClockTable(2)
    for _ in range(3):
        table.tick(0)
    with pytest.raises(StragglerTimeout, match=r"worker 1 lags at clock 0 \(needs >= 2\)") as e:
        table.wait_until(0, 3, SSP(1), timeout=0.02)
    assert (e.value.worker, e.value.clock, e.value.lagging, e.value.lagging_clock) == (0, 3, 1, 0)


def test_the_worker_one_past_the_last_is_unknown_not_removed():
    with pytest.raises(ValueError, match=r"^tick: worker 2 is not one of 0 .. 1$"):
        ClockTable(2).tick(2)


def test_closed_and_removed_messages_say_what_to_do():
    table = ClockTable(2)
    table.remove_worker(1)
    with pytest.raises(RuntimeError) as e:
        table.tick(1)
    assert str(e.value) == "tick: worker 1 was removed from the server and may not push, pull or tick any more"
    table.close()
    with pytest.raises(ServerClosed) as e:
        table.tick(0)
    assert str(e.value) == "tick: the parameter server is closed (worker 0); build a new server to train again"
