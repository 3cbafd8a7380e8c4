"""The MPI benchmarks run end to end on tiny sizes and print their tables (times are not asserted)."""
import re

from minidl.bench import allreduce, data_parallel


def test_allreduce_benchmark_compares_every_algorithm_with_mpi(capsys):
    assert allreduce.main(["--ranks", "2", "3", "--sizes", "1e3", "1001", "--repeats", "2",
                           "--model", "8", "6", "3", "--timeout", "120"]) == 0
    out = capsys.readouterr().out
    table = out.split("\n", 1)[1]  # below the title
    for name in ("MPI Allreduce", "minidl ring", "recursive doubling", "pickle allreduce"):
        assert table.count(name) == 4  # two sizes on each of P = 2 and 3
    assert "P = 3 ranks" in out and out.count("the gradients of 8-6-3") == 2
    for name in ("raw Allreduce", "allreduce_gradients", "one Allreduce per parameter", "one copy of the same bytes"):
        assert len(re.findall(rf"^ +{name} +[\d.]+ ms +[\d.]+x$", out, re.M)) == 2  # a row on each of P = 2 and 3
    assert "packing overhead: worst" in out


def test_data_parallel_benchmark_reports_throughput_and_prediction(capsys):
    assert data_parallel.main(["--ranks", "1", "2", "--batch", "16", "--steps", "2",
                               "--sizes", "20", "16", "4", "--timeout", "120"]) == 0
    out = capsys.readouterr().out
    assert "alpha-beta fit from a ping-pong" in out
    assert "scaling efficiency at P = 2" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:2] in ("1 ", "2 ")]
    assert [r[0] for r in rows] == ["1", "2"]


def test_data_parallel_benchmark_refuses_a_batch_the_ranks_cannot_share(capsys):
    assert data_parallel.main(["--ranks", "3", "--batch", "16"]) == 2
    assert "multiple of every P" in capsys.readouterr().err
