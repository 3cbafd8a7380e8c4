"""Trains the lecture's MNIST model (three dense layers of 512) and reports accuracy.

    python -m minidl.bench.mnist [--root DIR] [--epochs N] [--threads 1]

Without --root it uses the bundled subset (4,000 training images, 1,000 held out
for testing). With --root it reads the four MNIST IDX files from DIR, the full
60,000 / 10,000 set, or any data set in the same format (Fashion-MNIST).
"""
from __future__ import annotations

import argparse
import sys

from minidl.bench import set_blas_threads


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="folder with the four IDX files")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    set_blas_threads(args.threads)
    import time

    from minidl.data import batches, flatten_images, load_mnist
    from minidl.metrics import accuracy
    from minidl.nn import cross_entropy, mlp
    from minidl.optim import SGD
    from minidl.tensor import Tensor

    (x_train, y_train), (x_test, y_test) = load_mnist(args.root)
    x_train, x_test = flatten_images(x_train), flatten_images(x_test)
    source = args.root and "IDX files in the given folder" or "the bundled subset"
    print(f"MNIST from {source}: {len(x_train)} training and {len(x_test)} test images")
    print(f"model 784-512-512-512-10, SGD lr {args.lr} momentum {args.momentum}, batch {args.batch}, "
          f"{args.threads} BLAS thread(s), seed {args.seed}")
    model = mlp([784, 512, 512, 512, 10], seed=args.seed)
    opt = SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    print(f"{'epoch':>5} {'train loss':>11} {'test acc':>9} {'seconds':>8}")
    start = time.perf_counter()
    for epoch in range(args.epochs):
        total, count = 0.0, 0
        for xb, yb in batches(x_train, y_train, args.batch, seed=args.seed, epoch=epoch):
            loss = cross_entropy(model(Tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, count = total + loss.item() * len(yb), count + len(yb)
        test_acc = accuracy(model, x_test, y_test)
        print(f"{epoch + 1:5d} {total / count:11.4f} {test_acc:9.4f} {time.perf_counter() - start:8.1f}")
    print(f"final test accuracy {test_acc:.4f} after {args.epochs} epochs, "
          f"{time.perf_counter() - start:.1f} s of training")
    return 0


if __name__ == "__main__":
    sys.exit(main())
