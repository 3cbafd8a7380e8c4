"""Large-batch training: test accuracy after a fixed number of epochs against the global batch.

    python -m minidl.bench.large_batch [--epochs 10] [--seeds 0 1 2] [--batches 32 64 ... 4000]
                                       [--out FILE.png] [--threads 1]

Four recipes (lesson 13), each from a base rate tuned at the base batch of 32:

- "fixed rate": SGD with momentum at the base rate, whatever the batch;
- "linear scaling": the rate times batch / 32 (`minidl.optim.scale_lr`, Goyal et al. 2017);
- "linear + warmup": the same rate, reached linearly over the first epoch (`LinearWarmup`);
- "LARS": `minidl.optim.LARS` (You et al. 2017), its global rate scaled linearly and warmed up.
  Its trust coefficient is 0.01, not the paper's 0.001: the excluded biases take the global
  rate itself, and 0.01 lets that rate stay the SGD one (only lr * eta matters for the weights).

The model is a small MLP, 784-64-10, in float64 on the bundled MNIST subset (4,000 training
and 1,000 test images), so that the whole sweep takes minutes and every number is the same
under any BLAS kernel. The lesson runs a smaller sweep with the same functions.
"""
from __future__ import annotations

import argparse
import math

import numpy as np

from minidl.bench import set_blas_threads

SIZES = (784, 64, 10)         # the small MLP of lesson 13
BASE_BATCH = 32
BASE_LR = 0.05                # SGD with momentum 0.9 at the base batch
MOMENTUM = 0.9
LARS_LR = 0.05                # LARS's global rate at the base batch, also the biases' rate
LARS_ETA = 0.01               # trust coefficient: a weight layer moves about LARS_LR * LARS_ETA * |w| per step
EPOCHS = 10
WARMUP_EPOCHS = 1.0
RECIPES = ("fixed rate", "linear scaling", "linear + warmup", "LARS")
BATCHES = (32, 64, 128, 256, 500, 1000, 2000, 4000)


def warmup_steps(batch: int, n_train: int, epochs: float = WARMUP_EPOCHS) -> int:
    """The number of steps in `epochs` epochs at this batch (at least 1)."""
    return max(1, round(epochs * math.ceil(n_train / batch)))


def recipe(name: str, params, batch: int, n_train: int):
    """(optimizer, schedule) of recipe `name` for a global batch `batch`; schedule(step) -> lr."""
    from minidl.optim import LARS, SGD, Constant, LinearWarmup, scale_lr

    if name == "fixed rate":
        lr = BASE_LR
        return SGD(params, lr, momentum=MOMENTUM), Constant(lr)
    if name == "linear scaling":
        lr = scale_lr(BASE_LR, BASE_BATCH, batch)
        return SGD(params, lr, momentum=MOMENTUM), Constant(lr)
    if name == "linear + warmup":
        lr = scale_lr(BASE_LR, BASE_BATCH, batch)
        return SGD(params, lr, momentum=MOMENTUM), LinearWarmup(lr, warmup_steps(batch, n_train))
    if name == "LARS":
        lr = scale_lr(LARS_LR, BASE_BATCH, batch)
        opt = LARS(params, lr, momentum=MOMENTUM, trust_coefficient=LARS_ETA)
        return opt, LinearWarmup(lr, warmup_steps(batch, n_train))
    raise ValueError(f"recipe: unknown recipe {name!r}; choose one of {RECIPES}")


def load_data():
    """The bundled subset as float64 rows: (x_train, y_train, x_test, y_test)."""
    from minidl.data import flatten_images, load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist()
    return (flatten_images(x_train).astype(np.float64), y_train,
            flatten_images(x_test).astype(np.float64), y_test)


def train(name: str, batch: int, data, epochs: int = EPOCHS, seed: int = 0) -> float:
    """Test accuracy after `epochs` epochs of recipe `name` at global batch `batch`.

    A run whose loss stops being finite has diverged and scores 0.1, chance."""
    from minidl.data import batches
    from minidl.metrics import accuracy
    from minidl.nn import cross_entropy, mlp
    from minidl.optim import set_lr
    from minidl.tensor import Tensor

    x_train, y_train, x_test, y_test = data
    model = mlp(list(SIZES), seed=seed, dtype=np.float64)
    opt, schedule = recipe(name, model.parameters(), batch, len(x_train))
    step = 0
    with np.errstate(all="ignore"):
        for epoch in range(epochs):
            for xb, yb in batches(x_train, y_train, batch, seed=seed, epoch=epoch):
                set_lr(opt, schedule, step)
                loss = cross_entropy(model(Tensor(xb)), yb)
                if not math.isfinite(loss.item()):
                    return 0.1
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
        if not all(np.isfinite(p.data).all() for p in model.parameters()):
            return 0.1
        return accuracy(model, x_test, y_test)


def sweep(batches, recipes=RECIPES, seeds=(0,), epochs: int = EPOCHS, data=None) -> dict:
    """{recipe: array (len(seeds), len(batches)) of test accuracies}."""
    data = data if data is not None else load_data()
    return {r: np.array([[train(r, b, data, epochs, s) for b in batches] for s in seeds])
            for r in recipes}


def largest_kept(batches, accuracies: np.ndarray, reference: float, points: float = 1.0) -> int:
    """The largest batch up to which every accuracy stays within `points` percentage points
    of `reference` (the batches taken in increasing order; 0 if the first already fails)."""
    kept = 0
    for b, a in zip(batches, accuracies):
        if a < reference - points / 100 - 1e-9:  # exactly one point below still counts as kept
            break
        kept = b
    return kept


def table(batches, results: dict) -> str:
    """The mean accuracy of each recipe at each batch, the largest batch kept within one point
    of the small-batch accuracy (the fixed-rate recipe at the smallest batch), and in brackets
    within one point of the recipe's own accuracy at the smallest batch."""
    reference = results[RECIPES[0]].mean(axis=0)[0] if RECIPES[0] in results else \
        next(iter(results.values())).mean(axis=0)[0]
    lines = [f"{'recipe':16s}" + "".join(f"{b:>7d}" for b in batches) + "   kept to  (own)"]
    for name, acc in results.items():
        mean = acc.mean(axis=0)
        lines.append(f"{name:16s}" + "".join(f"{a:7.3f}" for a in mean)
                     + f"   {largest_kept(batches, mean, reference):>7d}  {largest_kept(batches, mean, mean[0]):>5d}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--out", default=None, help="write the figure to this PNG file")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args(argv)
    set_blas_threads(args.threads)
    batches = sorted(args.batches)
    print(f"MLP {'-'.join(map(str, SIZES))} in float64 on the bundled MNIST subset, {args.epochs} epochs, "
          f"seeds {args.seeds}; base batch {BASE_BATCH}, SGD rate {BASE_LR}, momentum {MOMENTUM}, "
          f"LARS rate {LARS_LR} with trust coefficient {LARS_ETA}, warmup {WARMUP_EPOCHS:g} epoch")
    results = sweep(batches, seeds=args.seeds, epochs=args.epochs)
    print("mean test accuracy against the global batch:")
    print(table(batches, results))
    if args.out:
        from minidl.large_batch_plots import accuracy_vs_batch

        fig = accuracy_vs_batch(batches, {r: a.mean(axis=0) for r, a in results.items()},
                                spread={r: (a.min(axis=0), a.max(axis=0)) for r, a in results.items()},
                                title=f"Test accuracy after {args.epochs} epochs against the global batch "
                                      f"(mean of {len(args.seeds)} seeds)")
        fig.savefig(args.out, dpi=100)
        print(f"figure written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
