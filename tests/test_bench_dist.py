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
    for name in ("raw Allreduce", r"GradientBuckets \(views\)", r"allreduce_gradients \(packing\)",
                 "one Allreduce per parameter", "one copy of the same bytes"):
        assert len(re.findall(rf"^ +{name} +[\d.]+ ms +[\d.]+x$", out, re.M)) == 2  # a row on each of P = 2 and 3
    assert re.search(r"gradients in one buffer: views [\d.]+x of a raw Allreduce at worst", out)


def test_data_parallel_benchmark_predicts_every_configuration_two_ways(capsys):
    assert data_parallel.main(["--ranks", "2", "--batch", "16", "--steps", "2", "--runs", "1",
                               "--sizes", "20", "16", "4", "--timeout", "120"]) == 0
    out = capsys.readouterr().out
    for config in ("packing, malloc default", "views, malloc default", "views, memory kept"):
        assert re.search(rf"^ +1 +{config} +1 ", out, re.M)  # the 1-rank row of run 1
        assert re.search(rf"^{config}, P = 2: worst error of the prediction over 1 runs: alpha-beta \d+%, "
                         r"extended \d+%", out, re.M)
    rows = re.findall(r"^ {30,}2 +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+) +(\d+) +([\d.]+) +[-+]\d+% +([\d.]+) "
                      r"+[-+]\d+%  (\w+)$", out, re.M)
    assert len(rows) == 3 and all(row[-1] in ("compute", "optimizer", "latency", "transfer", "reduction",
                                              "page_faults") for row in rows)
    assert out.count("extended terms (ms): compute") == 3


def test_data_parallel_benchmark_refuses_ranks_that_cannot_share_the_batch(capsys):
    assert data_parallel.main(["--ranks", "3", "--batch", "16"]) == 2
    assert "divide the global batch 16" in capsys.readouterr().err
    assert data_parallel.main(["--ranks", "1"]) == 2
