"""The consistency policy, alone: checked exhaustively on a small grid of clocks."""
import itertools
import math

import pytest

from minidl.ps import ASP, BSP, SSP, Consistency


def test_may_read_matches_the_definition_on_every_pair_of_clocks():
    for clock, slowest in itertools.product(range(10), range(10)):
        assert BSP().may_read(clock, slowest) == (slowest >= clock)
        for s in range(5):
            assert SSP(s).may_read(clock, slowest) == (slowest >= clock - s), (s, clock, slowest)
        assert ASP().may_read(clock, slowest)


def test_ssp_zero_is_bsp_and_unbounded_staleness_is_asp():
    assert SSP(0) == BSP() and Consistency(math.inf) == ASP()
    assert BSP().staleness == 0 and SSP(3).staleness == 3 and ASP().staleness == math.inf


@pytest.mark.parametrize("clocks", list(itertools.product(range(4), repeat=3)))
def test_lagging_names_the_slowest_worker_exactly_when_the_rule_blocks(clocks):
    for policy in (BSP(), SSP(1), SSP(2), ASP()):
        for worker in range(3):
            lagging = policy.lagging(clocks, worker)
            slowest = min(clocks)
            if policy.may_read(clocks[worker], slowest):
                assert lagging is None
            else:
                assert clocks[lagging] == slowest and lagging == clocks.index(slowest)


def test_lagging_accepts_a_mapping_of_active_workers_and_an_explicit_clock():
    assert BSP().lagging({0: 5, 2: 3}, 0) == 2
    assert SSP(2).lagging({0: 5, 2: 3}, 0) is None
    assert SSP(2).lagging({0: 5, 2: 3}, 0, clock=6) == 2


def test_policies_print_as_they_are_built():
    assert [repr(p) for p in (BSP(), SSP(3), ASP())] == ["BSP()", "SSP(3)", "ASP()"]


@pytest.mark.parametrize("bad", [-1, 1.5, None])
def test_staleness_must_be_a_non_negative_integer_or_infinite(bad):
    with pytest.raises(ValueError, match="staleness"):
        SSP(bad)


def test_policies_with_different_staleness_are_different_and_equal_ones_hash_alike():
    assert BSP() != SSP(1) and SSP(1) != SSP(2) and SSP(2) != ASP() and BSP() != ASP()
    assert BSP() != 0 and SSP(1) != "SSP(1)"
    assert hash(SSP(0)) == hash(BSP()) and hash(ASP()) == hash(Consistency(math.inf))
    assert len({BSP(), SSP(0), SSP(2), Consistency(2), ASP()}) == 3
    assert {SSP(2): "two"}[Consistency(2)] == "two"


def test_a_bad_staleness_message_names_the_policy_the_value_and_the_allowed_values():
    with pytest.raises(ValueError) as e:
        SSP(-1)
    assert str(e.value) == "SSP: staleness -1 must be an integer >= 0 (clocks) or math.inf (no bound)"
    with pytest.raises(ValueError, match=r"^Consistency: staleness 0.5 "):
        Consistency(0.5)


def test_lagging_with_no_active_worker_blocks_nobody():
    assert BSP().lagging({}, 0, clock=3) is None and BSP().lagging([], 0, clock=3) is None


def test_lagging_breaks_a_tie_by_the_lowest_id_whatever_the_order_given():
    assert BSP().lagging({3: 1, 1: 1, 2: 4}, 2) == 1
    assert BSP().lagging({5: 0, 4: 0, 0: 2}, 0) == 4
    assert SSP(1).lagging([2, 0, 0], 0, clock=3) == 1


def test_may_read_is_inclusive_at_exactly_s_clocks_ahead():
    assert SSP(3).may_read(7, 4) and not SSP(3).may_read(8, 4)
    assert Consistency(0).may_read(4, 4) and not Consistency(0).may_read(5, 4)


def test_consistency_prints_its_staleness():
    assert repr(Consistency(4)) == "Consistency(staleness=4)"
    assert repr(Consistency(math.inf)) == "Consistency(staleness=inf)"
