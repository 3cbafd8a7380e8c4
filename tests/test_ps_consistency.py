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
