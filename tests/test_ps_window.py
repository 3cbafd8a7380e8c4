"""The sliding window of valid iterations: O(1) checks, O(length) memory, clear rejections."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.ps import SlidingWindow, WindowError


def test_the_window_opens_length_iterations_from_zero():
    window = SlidingWindow(3, n_workers=2)
    for clock in range(3):
        window.check(0, clock)
    with pytest.raises(WindowError):
        window.check(0, 3)


def test_a_push_too_far_ahead_is_rejected_naming_worker_clock_bounds_and_fix():
    window = SlidingWindow(3, n_workers=2)
    with pytest.raises(WindowError, match=r"worker 1 at clock 4 is outside the sliding window \[0, 3\).*SSP") as e:
        window.check(1, 4)
    assert (e.value.worker, e.value.clock, e.value.low, e.value.high) == (1, 4, 0, 3)


def test_the_window_slides_only_when_every_worker_finished_its_lowest_iteration():
    window = SlidingWindow(2, n_workers=2)
    window.finish(0, 0)
    window.finish(0, 1)
    assert window.low == 0  # worker 1 has not finished iteration 0
    window.finish(1, 0)
    assert window.low == 1
    window.finish(1, 1)
    assert window.low == 2 and window.high == 4


def test_a_late_push_below_the_window_is_rejected_as_closed():
    window = SlidingWindow(2, n_workers=1)
    window.finish(0, 0)
    with pytest.raises(WindowError, match="iteration 0 is closed"):
        window.check(0, 0)


def test_removing_a_worker_forgets_its_finished_iterations_and_slides():
    window = SlidingWindow(4, n_workers=3)
    window.finish(2, 0)
    window.finish(2, 1)  # worker 2 ran ahead, then leaves at clock 2
    window.finish(0, 0)
    window.remove_worker(clock=2)
    assert window.low == 0 and window.done[0] == 1  # only worker 0 finished iteration 0
    window.finish(1, 0)
    assert window.low == 1


def test_memory_is_the_window_length_whatever_the_number_of_workers():
    assert SlidingWindow(5, n_workers=10_000).done.shape == (5,)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.lists(st.integers(0, 3), min_size=1, max_size=80))
def test_the_window_low_is_always_the_slowest_workers_clock(n, order):
    length = 3
    window, clocks = SlidingWindow(length, n), [0] * n
    for pick in order:
        w = pick % n
        if clocks[w] >= window.high:  # this worker would be rejected: it must wait
            with pytest.raises(WindowError):
                window.finish(w, clocks[w])
            continue
        window.finish(w, clocks[w])
        clocks[w] += 1
        assert window.low == min(clocks)
        assert np.all(window.done >= 0)


@pytest.mark.parametrize("length", [0, -2, 1.5])
def test_the_length_must_be_a_positive_integer(length):
    with pytest.raises(ValueError, match="length"):
        SlidingWindow(length, 2)
