"""The parameter-server benchmark runs end to end with tiny options (its times are not asserted)."""
import re

from minidl.bench import ps


def test_benchmark_prints_both_tables_and_a_last_line_with_both_ratios(capsys):
    argv = ["--repeats", "1", "--ops", "1", "--size", "20000", "--workers", "1", "2",
            "--shards", "1", "2", "--seeds", "1", "--updates", "600"]
    assert ps.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert any("NumPy w -= lr * g" in line for line in lines)
    rows = [line.split() for line in lines if re.match(r"^\s+[12]\s+[12]\s", line)]
    assert [(r[0], r[1]) for r in rows] == [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]
    assert any(line.startswith("median updates to loss") for line in lines)
    push, speedup = map(float, re.findall(r"([\d.]+)x", lines[-1])[:2])
    assert push > 0 and speedup > 1.0  # the 1.5x claim is the full run's median over seeds
