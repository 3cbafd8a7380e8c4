"""The server-ranks benchmark runs end to end with tiny options (its times are not asserted)."""
import re

from minidl.bench import ps_mpi


def test_benchmark_prints_a_row_per_server_count_and_the_ratios(capsys):
    assert ps_mpi.main(["--servers", "1", "2", "--workers", "2", "--rounds", "2", "--floats", "5000"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [line.split() for line in lines if re.match(r"^\s+[12]\s+\d", line)]
    assert [r[0] for r in rows] == ["1", "2"] and all(float(x) > 0 for r in rows for x in r[1:])
    assert lines[-1].startswith("ratios:") and len(re.findall(r"[\d.]+x", lines[-1])) == 4
