"""The parameter server: shards by key range, push and pull, byte counts, no lost updates."""
import threading

import numpy as np
import pytest

from minidl.ps import ASP, BSP, SGD, SSP, KeyLayout, ParameterServer, WindowError


def test_shards_split_the_keys_into_contiguous_ranges_of_about_equal_floats():
    ps = ParameterServer(KeyLayout([10, 1, 1, 1, 1, 10, 1, 1]), n_shards=2)
    assert ps.bounds.tolist() == [0, 4, 8]
    assert [s.params.size for s in ps.shards] == [13, 13]
    assert [ps.shard_of(k) for k in (0, 3, 4, 7)] == [0, 0, 1, 1]


def test_every_shard_holds_at_least_one_key_even_when_one_key_is_huge():
    ps = ParameterServer(KeyLayout([1, 1000, 1, 1]), n_shards=4)
    assert ps.bounds.tolist() == [0, 1, 2, 3, 4]


def test_shard_params_are_views_of_one_flat_vector():
    ps = ParameterServer(KeyLayout.uniform(6, 2), np.arange(12.0), n_shards=3)
    assert np.shares_memory(ps.shards[1].params, ps.params)
    assert ps.shards[1].params.tolist() == [4.0, 5.0, 6.0, 7.0]


@pytest.mark.parametrize("n_shards", [1, 2, 3, 5])
def test_push_and_pull_across_shards_equal_the_same_update_on_a_flat_vector(n_shards):
    layout = KeyLayout([3, 1, 4, 1, 5, 9, 2, 6])
    rng = np.random.default_rng(n_shards)
    init = rng.standard_normal(layout.size)
    ps = ParameterServer(layout, init, n_shards=n_shards, rule=SGD(0.5))
    expected = init.copy()
    for keys in (range(2, 7), [7, 0, 4], 5, slice(None, 3), None):
        request = layout.resolve(keys, "push")
        g = rng.standard_normal(layout.count(request))
        ps.push(0, keys, g)
        expected[layout.flat(request)] -= 0.5 * g
        assert np.array_equal(ps.pull(0, keys), expected[layout.flat(request)])
    assert np.array_equal(ps.snapshot(), expected)


def test_a_range_push_touches_only_the_shards_that_own_its_keys_and_counts_their_bytes():
    ps = ParameterServer(KeyLayout.uniform(8, 4), n_shards=4)
    ps.push(0, range(2, 5), np.ones(12))   # keys 2, 3 on shard 1 and key 4 on shard 2
    stats = ps.stats()
    assert stats["pushes"].tolist() == [0, 1, 1, 0]
    assert stats["bytes_in"].tolist() == [0, 8 * 8, 4 * 8, 0]
    ps.pull(0, [7, 0])
    assert ps.stats()["bytes_out"].tolist() == [4 * 8, 0, 0, 4 * 8]


def test_pull_writes_into_a_given_buffer_and_checks_it():
    ps = ParameterServer(KeyLayout.uniform(4, 2), np.arange(8.0), n_shards=2)
    out = np.empty(8)
    assert ps.pull(0, None, out=out) is out and out.tolist() == list(range(8))
    with pytest.raises(ValueError, match=r"buffer of shape \(4,\)"):
        ps.pull(0, range(1, 3), out=np.empty(5))


def test_a_clock_that_is_not_the_workers_own_is_refused_with_the_fix():
    ps = ParameterServer(2, n_workers=2)
    with pytest.raises(ValueError, match="says clock 3 but has finished 0 iterations.*tick"):
        ps.push(0, 0, [1.0], clock=3)


def test_bsp_staleness_is_zero_however_the_pushes_of_an_iteration_are_ordered():
    ps = ParameterServer(3, policy=BSP(), n_workers=3, rule=SGD(1.0))
    for clock in range(3):
        for w in range(3):
            ps.pull(w, clock=clock)
        order = [(clock + k) % 3 for k in range(3)]
        assert [ps.push(w, None, np.ones(3), clock=clock) for w in order] == [0, 0, 0]
        for w in order:
            ps.tick(w)


def test_staleness_counts_the_updates_computed_from_newer_reads():
    ps = ParameterServer(1, n_workers=3, policy=ASP())
    ps.pull(0)                    # worker 0 reads version 0
    for _ in range(3):            # worker 1 reads and pushes three times
        ps.pull(1)
        ps.push(1, 0, [0.0])
    assert ps.push(0, 0, [0.0]) == 2  # the first of worker 1's pushes came from version 0 too
    assert ps.push(2, 0, [0.0]) == 2  # worker 2 never read: version 0, four pushes of which two from 0


def test_a_pull_far_ahead_under_ssp_waits_and_times_out():
    ps = ParameterServer(1, policy=SSP(1), n_workers=2)
    for clock in range(2):
        ps.pull(0, clock=clock)
        ps.push(0, 0, [0.0], clock=clock)
        ps.tick(0)
    assert not ps.ready(0) and ps.ready(1)
    with pytest.raises(TimeoutError, match="worker 1 lags at clock 0"):
        ps.pull(0, timeout=0.05)


def test_the_sliding_window_rejects_a_push_too_far_ahead_of_the_slowest():
    ps = ParameterServer(1, policy=ASP(), n_workers=2, window=2)
    for clock in range(2):
        ps.pull(0, clock=clock)
        ps.push(0, 0, [1.0], clock=clock)
        ps.tick(0)
    ps.pull(0)
    with pytest.raises(WindowError, match=r"worker 0 at clock 2 is outside the sliding window \[0, 2\)"):
        ps.push(0, 0, [1.0])
    assert ps.snapshot()[0] == -0.2  # the rejected push changed nothing


def test_a_window_shorter_than_the_policys_staleness_is_refused():
    with pytest.raises(ValueError, match="window >= 4"):
        ParameterServer(1, policy=SSP(3), n_workers=2, window=3)


def test_no_lost_updates_8_threads_10000_pushes_each_give_the_exact_sum():
    layout = KeyLayout([1, 2, 1, 700, 700])  # small keys (fancy indexing) and large ones
    ps = ParameterServer(layout, n_shards=3, rule=SGD(1.0), n_workers=8)
    requests = [[0, 2], [2, 1, 0], range(0, 3), [4, 3], range(3, 5), None]
    expected, expected_bytes = np.zeros(layout.size), 0
    for w in range(8):
        for i in range(10_000):
            request = layout.resolve(requests[(w + i) % len(requests)], "push")
            expected[layout.flat(request)] += w + 1
            expected_bytes += 8 * layout.count(request)

    def pushes(w):
        values = {id(k): -(w + 1.0) * np.ones(layout.count(layout.resolve(k, "push"))) for k in requests}
        for i in range(10_000):
            keys = requests[(w + i) % len(requests)]
            ps.push(w, keys, values[id(keys)])

    threads = [threading.Thread(target=pushes, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert np.array_equal(ps.snapshot(), expected)  # integers: float64 sums them exactly
    stats = ps.stats()
    assert stats["version"].sum() == stats["pushes"].sum()
    assert stats["bytes_in"].sum() == expected_bytes


def test_init_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="init has 3 floats but the layout holds 4"):
        ParameterServer(KeyLayout.uniform(2, 2), np.zeros(3))


# ---- a push of NaN or inf is refused whole ---------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_push_is_refused_naming_the_worker_and_keys_and_applies_nothing(bad):
    layout = KeyLayout.uniform(6, 2)
    ps = ParameterServer(layout, np.arange(12.0), n_shards=3, n_workers=2, rule=SGD(1.0))
    ps.pull(1)
    before, stats = ps.snapshot(), ps.stats()
    g = np.ones(6)
    g[[3, 4]] = bad  # the keys go [5, 0, 3]: positions 2..3 are key 0, 4..5 key 3
    with pytest.raises(ValueError, match=r"push: worker 1 sent non-finite values .*keys \[0, 3\] of "
                                         r"keys \[5, 0, 3\].*nothing was applied"):
        ps.push(1, [5, 0, 3], g)
    assert np.array_equal(ps.snapshot(), before)  # shard 0 (key 0) and shard 1 (key 3) untouched
    for name, counts in ps.stats().items():
        assert np.array_equal(counts, stats[name]), name
    assert [dict(s.from_version) for s in ps.shards] == [{}, {}, {}]
    assert ps.push(1, [5, 0, 3], np.ones(6)) == 0  # the server goes on as if it never came


def test_a_non_finite_value_in_a_list_or_a_float32_array_is_refused_too():
    ps = ParameterServer(KeyLayout.uniform(4, 3), n_shards=2, n_workers=3)
    with pytest.raises(ValueError, match=r"worker 2 sent non-finite values \(1 NaN\) for keys \[3\] "):
        ps.push(2, range(1, 4), [0.0] * 8 + [float("nan")])
    with pytest.raises(ValueError, match=r"worker 0 sent non-finite values \(2 inf\) for keys \[0, 1\] "):
        ps.push(0, None, np.array([np.inf, 0, 0, -np.inf] + [0] * 8, dtype=np.float32))
    assert np.array_equal(ps.snapshot(), np.zeros(12))
    assert ps.stats()["pushes"].tolist() == [0, 0]


def test_the_largest_finite_gradient_is_still_accepted():
    ps = ParameterServer(2, rule=SGD(1.0))
    ps.push(0, None, [np.finfo(np.float64).max, -np.finfo(np.float64).max])
    assert ps.snapshot().tolist() == [-np.finfo(np.float64).max, np.finfo(np.float64).max]


def test_a_push_non_finite_on_many_keys_lists_the_first_and_counts_them():
    ps = ParameterServer(20)
    with pytest.raises(ValueError, match=r"\(20 NaN\) for keys \[0, 1, 2, 3, 4, 5, 6, 7, \.\.\. \(20 keys\)\] "
                                         r"of all keys"):
        ps.push(0, None, np.full(20, np.nan))


@pytest.mark.parametrize("stale_shard", [0, 1])
def test_a_push_over_several_shards_reports_the_largest_staleness_of_any_shard(stale_shard):
    ps = ParameterServer(KeyLayout.uniform(4, 1), n_shards=2, n_workers=2, policy=ASP())
    keys = [0, 1] if stale_shard == 0 else [2, 3]
    ps.pull(0)                 # worker 0 reads version 0 of both shards
    for _ in range(3):         # worker 1 updates one shard three times, reading before each
        ps.pull(1, keys)
        ps.push(1, keys, np.zeros(2))
    assert ps.push(0, None, np.zeros(4)) == 2  # that shard: 3 updates since, 1 of them from version 0
    assert ps.stats()["version"].tolist() == ([4, 1] if stale_shard == 0 else [1, 4])


@pytest.mark.parametrize("values", [np.ones(3), np.ones(5), np.ones((2, 2)), [1.0, 2.0, 3.0]])
def test_a_push_of_the_wrong_number_of_values_is_refused_and_applies_nothing(values):
    ps = ParameterServer(KeyLayout.uniform(2, 2), np.arange(4.0), n_shards=2, rule=SGD(1.0))
    with pytest.raises(ValueError, match=r"push: keys None hold 4 floats but \d values"):
        ps.push(0, None, values)
    assert ps.snapshot().tolist() == [0.0, 1.0, 2.0, 3.0] and ps.stats()["pushes"].tolist() == [0, 0]


def test_a_float64_push_of_the_right_length_is_applied_as_given():
    ps = ParameterServer(KeyLayout.uniform(3, 1), np.zeros(3), n_shards=3, rule=SGD(0.5))
    ps.push(0, [2, 0], np.array([4.0, -2.0]))
    assert ps.snapshot().tolist() == [1.0, 0.0, -2.0]


def test_wait_returns_the_seconds_waited_and_lets_a_ready_worker_through():
    ps = ParameterServer(1, policy=BSP(), n_workers=2, timeout=10.0)
    import time
    t0 = time.perf_counter()
    waited = ps.wait(0)
    assert 0.0 <= waited <= time.perf_counter() - t0
    ps.tick(0)
    before = time.perf_counter()
    with pytest.raises(TimeoutError, match="worker 1 lags at clock 0"):
        ps.wait(0, timeout=0.05)
    assert time.perf_counter() - before >= 0.05
    quick = ParameterServer(1, policy=BSP(), n_workers=2, timeout=0.03)
    quick.tick(0)
    with pytest.raises(TimeoutError, match="waited 0.03 s"):  # the server's timeout when none is given
        quick.wait(0)


def test_tick_returns_the_new_clock_and_clock_of_reads_it():
    ps = ParameterServer(1, n_workers=2)
    assert ps.tick(1) == 1 and ps.tick(1) == 2
    assert ps.clock_of(1) == 2 and ps.clock_of(0) == 0


def test_pull_returns_values_in_the_order_of_the_keys_asked():
    layout = KeyLayout([2, 1, 3])
    ps = ParameterServer(layout, np.arange(6.0), n_shards=3)
    assert ps.pull(0, [2, 0]).tolist() == [3.0, 4.0, 5.0, 0.0, 1.0]
    assert ps.pull(0, 1).tolist() == [2.0]
    assert ps.pull(0, range(1, 3)).tolist() == [2.0, 3.0, 4.0, 5.0]
    assert ps.stats()["pulls"].tolist() == [1, 2, 2]


def test_the_trace_records_each_pull_with_every_active_workers_clock():
    ps = ParameterServer(1, policy=SSP(1), n_workers=2, trace=True)
    ps.tick(1)
    ps.pull(0)
    ps.pull(1)
    assert [(w, c, clocks) for _, w, c, clocks in ps.reads] == [(0, 0, {0: 0, 1: 1}), (1, 1, {0: 0, 1: 1})]
    assert ps.reads[0][0] <= ps.reads[1][0]
    assert ParameterServer(1).reads is None


def test_the_server_names_its_parts_and_refuses_bad_settings():
    ps = ParameterServer(4, n_shards=2, policy=SSP(2), n_workers=3)
    text = repr(ps)
    assert "2 shards, 3 workers" in text and "policy=SSP(2)" in text and "rule=" in text
    assert repr(ps.shards[1]) == "Shard(1, keys [2, 4), 2 floats)"
    with pytest.raises(ValueError, match=r"n_shards = 5; use 1 .. 4"):
        ParameterServer(4, n_shards=5)
    with pytest.raises(ValueError, match=r"n_shards = 0"):
        ParameterServer(4, n_shards=0)
    with pytest.raises(TypeError, match="policy must be BSP"):
        ParameterServer(4, policy="BSP")
    assert ParameterServer(2, window=1).window is not None  # ASP takes any window


def test_the_default_rule_is_sgd_with_rate_0_1_and_the_default_policy_asp():
    ps = ParameterServer(1, n_workers=2)
    ps.tick(0)
    ps.tick(0)
    assert ps.ready(0)  # ASP: two clocks ahead of worker 1 and still free
    ps.push(0, 0, [1.0])
    assert ps.snapshot()[0] == pytest.approx(-0.1)


def test_a_closed_server_refuses_the_context_manager_exit_closes_it():
    with ParameterServer(1) as ps:
        ps.push(0, 0, [1.0])
    assert ps.clocks.closed
    with pytest.raises(RuntimeError, match="closed"):
        ps.pull(0)


def test_the_server_applies_its_rules_state_and_each_pushs_staleness():
    """Adagrad keeps a cache per shard; DynSGD divides the rate by staleness + 1."""
    from minidl.ps import Adagrad, DynSGD
    ps = ParameterServer(KeyLayout.uniform(2, 1), np.zeros(2), n_shards=2, rule=Adagrad(1.0, eps=0.0))
    ps.push(0, None, np.array([3.0, -4.0]))
    ps.push(0, None, np.array([4.0, 3.0]))
    np.testing.assert_allclose(ps.snapshot(), [-1.0 - 4.0 / 5.0, 1.0 - 3.0 / 5.0], rtol=1e-15)
    ps = ParameterServer(1, np.zeros(1), n_workers=2, rule=SGD(DynSGD(1.0)))
    ps.pull(0)
    ps.pull(1)
    ps.push(1, 0, [1.0])                 # staleness 0: full step
    assert ps.push(0, 0, [1.0]) == 0     # computed from the same read as worker 1's push
    ps.pull(1)
    ps.push(1, 0, [1.0])
    assert ps.push(0, 0, [2.0]) == 1     # one update computed from a newer read: half the step
    assert ps.snapshot()[0] == -1.0 - 1.0 - 1.0 - 2.0 / 2


@pytest.mark.parametrize("n_workers", [1, 2])
def test_the_table_of_versions_read_stays_bounded_by_2_workers_plus_8(n_workers):
    ps = ParameterServer(1, n_workers=n_workers)
    sizes = []
    for _ in range(40):
        for w in range(n_workers):
            ps.pull(w)
            assert ps.push(w, 0, [0.0]) == 0  # each read is followed by its own push
            sizes.append(len(ps.shards[0].from_version))
    assert max(sizes) == 2 * n_workers + 8 and min(sizes[20:]) >= 1


def test_pull_and_byte_counters_add_up_over_several_pulls():
    ps = ParameterServer(KeyLayout.uniform(4, 2), n_shards=2)
    ps.pull(0)
    ps.pull(0, [3, 1])
    ps.pull(0, range(0, 1))
    stats = ps.stats()
    assert stats["pulls"].tolist() == [3, 2] and stats["bytes_out"].tolist() == [(4 + 2 + 2) * 8, (4 + 2) * 8]


def test_an_error_inside_the_with_block_is_not_swallowed():
    with pytest.raises(KeyError, match="inside"), ParameterServer(1):
        raise KeyError("inside")


@pytest.mark.parametrize("call, message", [
    (lambda ps: ps.pull(0, clock=4), "pull: worker 0 says clock 4 but has finished 0 iterations"),
    (lambda ps: ps.wait(0, clock=4), "pull: worker 0 says clock 4 but has finished 0 iterations"),
    (lambda ps: ps.ready(0, clock=4), "ready: worker 0 says clock 4 but has finished 0 iterations"),
    (lambda ps: ps.tick(7), "tick: worker 7 is not one of 0 .. 1"),
])
def test_each_refusal_names_the_call_that_made_it(call, message):
    ps = ParameterServer(4, n_workers=2)
    with pytest.raises(ValueError) as e:
        call(ps)
    assert str(e.value).startswith(message)


def test_ready_and_wait_take_the_clock_asked_and_the_worker_asking():
    ps = ParameterServer(1, policy=BSP(), n_workers=2, timeout=5.0)
    ps.tick(0)
    assert ps.ready(1, clock=0) and not ps.ready(0, clock=1) and ps.ready(1)
    assert ps.wait(1, clock=0) >= 0.0
    with pytest.raises(TimeoutError, match="worker 0 waited 0.02 s to start iteration 1"):
        ps.wait(0, clock=1, timeout=0.02)


def test_the_window_slides_with_ticks_and_when_a_worker_leaves():
    ps = ParameterServer(1, policy=ASP(), n_workers=2, window=2)
    ps.tick(0)
    ps.tick(0)
    with pytest.raises(WindowError, match=r"^tick: worker 0 at clock 2 is outside the sliding window \[0, 2\)"):
        ps.tick(0)
    ps.remove_worker(1)                  # the window no longer waits for worker 1
    assert ps.window.low == 2
    ps.push(0, 0, [1.0])                 # clock 2 is open now
    ps.tick(0)


def test_a_non_finite_push_counts_nan_and_inf_apart_and_lists_up_to_8_keys_in_full():
    ps = ParameterServer(8)
    g = np.zeros(8)
    g[:3], g[3:] = np.nan, np.inf
    with pytest.raises(ValueError) as e:
        ps.push(0, None, g)
    assert str(e.value) == ("push: worker 0 sent non-finite values (3 NaN, 5 inf) for keys [0, 1, 2, 3, 4, 5, 6, 7] "
                            "of all keys; nothing was applied. A NaN or inf gradient usually means the worker "
                            "diverged: lower its learning rate, clip its gradient, or check its data")


def test_a_key_out_of_range_is_refused_naming_the_call():
    ps = ParameterServer(4)
    with pytest.raises(KeyError, match=r"^'shard_of: key 9 is out of range; keys are 0 .. 3'$"):
        ps.shard_of(9)
    with pytest.raises(KeyError, match=r"^'pull: key 9 is out of range; keys are 0 .. 3'$"):
        ps.pull(0, 9)


def test_push_errors_name_the_push():
    ps = ParameterServer(KeyLayout.uniform(4, 1), n_workers=2, window=2)
    with pytest.raises(KeyError, match=r"^'push: key 9 is out of range"):
        ps.push(0, 9, [1.0])
    with pytest.raises(ValueError, match=r"^push: worker 0 says clock 3"):
        ps.push(0, 0, [1.0], clock=3)
    with pytest.raises(ValueError, match=r"^push: keys \[0, 1\] hold 2 floats but 3 values"):
        ps.push(0, [0, 1], np.ones(3))
    ps.tick(0)
    ps.tick(0)
    with pytest.raises(WindowError, match=r"^push: worker 0 at clock 2 is outside the sliding window"):
        ps.push(0, 0, [1.0])


def test_a_float32_push_is_counted_and_applied_as_float64():
    ps = ParameterServer(3, rule=SGD(1.0))
    ps.push(0, None, np.array([0.5, 1.0, 2.0], dtype=np.float32))
    assert ps.stats()["bytes_in"].tolist() == [3 * 8] and ps.snapshot().tolist() == [-0.5, -1.0, -2.0]


def test_a_pull_waits_for_the_timeout_it_is_given_not_the_servers():
    ps = ParameterServer(1, policy=BSP(), n_workers=2, timeout=30.0)
    ps.tick(0)
    with pytest.raises(TimeoutError, match="waited 0.02 s"):
        ps.pull(0, timeout=0.02)


def test_a_non_finite_push_on_9_keys_is_shortened_after_8():
    with pytest.raises(ValueError, match=r"for keys \[0, 1, 2, 3, 4, 5, 6, 7, \.\.\. \(9 keys\)\] of all keys"):
        ParameterServer(9).push(0, None, np.full(9, np.inf))


def test_a_default_server_has_one_worker_that_bsp_never_holds_and_a_30_s_timeout():
    ps = ParameterServer(1, policy=BSP())
    assert ps.n_workers == 1 and ps.timeout == 30.0
    for _ in range(3):  # the only worker is always the slowest: no pull waits
        ps.pull(0, timeout=0.01)
        ps.push(0, 0, [1.0])
        ps.tick(0)
    assert ps.snapshot().tolist() == [pytest.approx(-0.3)]


def test_integer_init_is_copied_as_float64_and_takes_fractional_updates():
    init = [1, 2, 3]
    ps = ParameterServer(3, init=init, rule=SGD(1.0))
    ps.push(0, [0, 2], [0.25, -0.5])
    assert ps.snapshot().dtype == np.float64 and ps.snapshot().tolist() == [0.75, 2.0, 3.5]
    assert init == [1, 2, 3]


def test_too_many_shards_are_refused_with_the_whole_reason():
    with pytest.raises(ValueError) as e:
        ParameterServer(4, n_shards=5)
    assert str(e.value) == "ParameterServer: n_shards = 5; use 1 .. 4 (a shard holds at least one key)"


@pytest.mark.parametrize("worker", [5, -1, 1.0, "0"])
@pytest.mark.parametrize("op, call", [("push", lambda ps, w: ps.push(w, 0, [1.0])),
                                      ("pull", lambda ps, w: ps.pull(w)),
                                      ("ready", lambda ps, w: ps.ready(w))])
def test_a_worker_that_is_not_an_int_in_range_is_refused_naming_the_call(worker, op, call):
    ps = ParameterServer(1, n_workers=2)
    with pytest.raises(ValueError) as e:
        call(ps, worker)
    assert str(e.value) == f"{op}: worker {worker!r} is not one of 0 .. 1"
    assert ps.snapshot().tolist() == [0.0]


def test_a_wrong_clock_is_refused_with_the_whole_fix():
    ps = ParameterServer(2, n_workers=2)
    with pytest.raises(ValueError) as e:
        ps.push(0, 0, [1.0], clock=3)
    assert str(e.value) == ("push: worker 0 says clock 3 but has finished 0 iterations, so its clock is 0; "
                            "call tick(0) once per iteration, after its pushes, or leave clock=None")


def test_the_shortest_window_ssp_allows_is_s_plus_1_and_takes_a_push_s_clocks_ahead():
    ps = ParameterServer(1, policy=SSP(3), n_workers=2, window=4, timeout=0.05)
    for clock in range(4):  # clocks 0 .. 3: at most 3 ahead of worker 1, inside the window [0, 4)
        ps.pull(0, clock=clock)
        ps.push(0, 0, [1.0], clock=clock)
        ps.tick(0)
    assert ps.snapshot()[0] == pytest.approx(-0.4)


def test_a_large_last_key_still_splits_the_floats_in_half():
    ps = ParameterServer(KeyLayout([2, 2, 2, 2, 8]), n_shards=2)
    assert ps.bounds.tolist() == [0, 4, 5] and [s.params.size for s in ps.shards] == [8, 8]


def test_a_huge_first_key_takes_a_shard_alone_and_the_next_shard_starts_one_key_later():
    ps = ParameterServer(KeyLayout([100, 1, 1, 1, 1, 1]), n_shards=3)  # both targets fall in key 0
    assert ps.bounds.tolist() == [0, 1, 2, 6] and [s.params.size for s in ps.shards] == [100, 1, 4]
