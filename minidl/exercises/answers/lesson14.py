"""Answer key of lesson 14 (see the package docstring)."""
from minidl.distributed import compress
from minidl.reference import LINKS, MNIST_MLP_PARAMETERS


def _one_entry_by_hand():
    g, threshold, m = 0.003, 0.01, 0.9
    t_naive = compress.steps_until_sent(g, threshold, m, "naive")
    t_corrected = compress.steps_until_sent(g, threshold, m, "corrected")
    dense = sum(compress.momentum_weight(j, m) for j in range(1, t_naive + 1))  # dense moved g * this
    return t_naive, t_corrected, dense / t_naive


def _crossover_sparsity_64():
    return tuple(1 - compress.crossover_density(MNIST_MLP_PARAMETERS, 64, LINKS[name].alpha, LINKS[name].beta)
                 for name in ("10 GbE", "NVLink"))


KEY = {"14.1": _one_entry_by_hand, "14.3": _crossover_sparsity_64}
