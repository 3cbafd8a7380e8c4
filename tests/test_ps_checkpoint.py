"""Checkpoints: the whole server state goes to .npz and comes back with nothing lost."""
import numpy as np
import pytest

from minidl.ps import SGD, SSP, Adagrad, DynSGD, KeyLayout, ParameterServer


def build(window=4):
    return ParameterServer(KeyLayout([2, 3, 1, 4]), np.linspace(-1, 1, 10), n_shards=3,
                           rule=Adagrad(DynSGD(0.3)), policy=SSP(2), n_workers=3, window=window)


def play(ps, steps, seed):
    """A fixed script of pulls, pushes and ticks; returns the staleness of every push."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(steps):
        w = [0, 1, 0, 2, 1, 0][i % 6]
        keys = [None, range(1, 3), [3, 0], 2][i % 4]
        if ps.ready(w):
            ps.pull(w, keys)
            out.append(ps.push(w, keys, rng.standard_normal(ps.layout.count(ps.layout.resolve(keys, "push")))))
            ps.tick(w)
    return out


def everything(ps):
    return (ps.snapshot(), list(ps.clocks.clocks), sorted(ps.clocks.active), ps.stats(),
            [dict(s.from_version) for s in ps.shards], [s.read_version.copy() for s in ps.shards],
            [s.state["cache"].copy() for s in ps.shards], ps.window.low, ps.window.done.copy())


def assert_same(a, b):
    for x, y in zip(everything(a), everything(b)):
        if isinstance(x, dict):
            assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)
        elif isinstance(x, list) and x and isinstance(x[0], np.ndarray):
            assert all(np.array_equal(u, v) for u, v in zip(x, y))
        else:
            assert np.array_equal(x, y)


def test_save_then_load_restores_every_part_of_the_state(tmp_path):
    ps = build()
    play(ps, 40, seed=0)
    ps.remove_worker(2)
    ps.save(tmp_path / "ps.npz")
    restored = build()
    restored.load(tmp_path / "ps.npz")
    assert_same(ps, restored)


def test_a_restored_server_continues_exactly_as_one_that_never_stopped(tmp_path):
    ps = build()
    play(ps, 30, seed=0)
    ps.save(tmp_path / "ps.npz")
    restored = build()
    restored.load(tmp_path / "ps.npz")
    assert play(ps, 30, seed=1) == play(restored, 30, seed=1)
    assert_same(ps, restored)


def test_loading_into_a_server_built_differently_says_what_differs(tmp_path):
    ps = build()
    ps.save(tmp_path / "ps.npz")
    with pytest.raises(ValueError, match="shard bounds"):
        ParameterServer(KeyLayout([2, 3, 1, 4]), n_shards=2, rule=Adagrad(0.1), n_workers=3,
                        window=4).load(tmp_path / "ps.npz")
    with pytest.raises(ValueError, match="rule"):
        ParameterServer(KeyLayout([2, 3, 1, 4]), n_shards=3, rule=SGD(0.1), n_workers=3,
                        window=4).load(tmp_path / "ps.npz")
    with pytest.raises(ValueError, match="window"):
        build(window=None).load(tmp_path / "ps.npz")


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a parameter-server checkpoint"):
        build().load(tmp_path / "other.npz")


# ---- any path, and damaged files --------------------------------------------------------


@pytest.mark.parametrize("name", ["state.ckpt", "state", "state.npz", "dir.v2/state"])
def test_save_writes_exactly_the_path_given_and_load_reads_it_back(tmp_path, name):
    ps = build()
    play(ps, 20, seed=0)
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    ps.save(str(path))
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no .npz added, no leftovers
    restored = build()
    restored.load(str(path))
    assert_same(ps, restored)


def test_save_and_load_take_open_files_too(tmp_path):
    ps = build()
    play(ps, 20, seed=2)
    with open(tmp_path / "state.bin", "wb") as f:
        ps.save(f)
    restored = build()
    with open(tmp_path / "state.bin", "rb") as f:
        restored.load(f)
    assert_same(ps, restored)


def test_saving_over_an_old_checkpoint_replaces_it(tmp_path):
    ps = build()
    ps.save(tmp_path / "state.ckpt")
    play(ps, 20, seed=3)
    ps.save(tmp_path / "state.ckpt")
    restored = build()
    restored.load(tmp_path / "state.ckpt")
    assert_same(ps, restored)


def damaged(tmp_path, how):
    """A checkpoint file damaged in one of the ways a disk or a copy damages files."""
    ps = build()
    play(ps, 20, seed=0)
    path = tmp_path / "state.npz"
    ps.save(path)
    data = bytearray(path.read_bytes())
    if how == "truncated":
        data = data[:len(data) // 2]
    elif how == "corrupted byte":
        at = data.find(ps.params.tobytes())  # inside the stored parameters
        assert at > 0
        data[at + 5] ^= 0x10
    elif how == "random bytes":
        data = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    elif how == "empty":
        data = b""
    elif how == "an array":
        path.unlink()
        np.save(tmp_path / "array.npy", np.zeros(3))
        (tmp_path / "array.npy").rename(path)
        return path
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("how", ["truncated", "corrupted byte", "random bytes", "empty", "an array"])
def test_a_damaged_checkpoint_is_refused_by_name_and_leaves_the_server_unchanged(tmp_path, how):
    path = damaged(tmp_path, how)
    ps = build()
    play(ps, 10, seed=5)
    before = build()
    play(before, 10, seed=5)
    with pytest.raises(ValueError, match=rf"load: {path} is not a valid minidl checkpoint") as e:
        ps.load(path)
    assert "allow_pickle" not in str(e.value)
    assert_same(ps, before)


def test_a_missing_checkpoint_is_a_plain_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        build().load(tmp_path / "missing.ckpt")


def test_a_checkpoint_with_a_field_of_the_wrong_shape_is_refused_before_anything_changes(tmp_path):
    ps = build()
    play(ps, 20, seed=0)
    ps.save(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as z:
        fields = {k: z[k] for k in z.files}
    fields["read_versions"] = fields["read_versions"][:, :2]  # one worker short
    np.savez(tmp_path / "bad.npz", **fields)
    fresh, before = build(), build()
    with pytest.raises(ValueError, match=r"not a valid minidl checkpoint.*read_versions has shape \(3, 2\)"):
        fresh.load(tmp_path / "bad.npz")
    assert_same(fresh, before)


def test_every_single_flipped_byte_is_refused_or_changes_nothing(tmp_path):
    ps = build()
    play(ps, 20, seed=0)
    ps.save(tmp_path / "good.npz")
    good = (tmp_path / "good.npz").read_bytes()
    path = tmp_path / "flipped.npz"
    refused = 0
    for at in range(0, len(good), 7):  # every seventh byte: headers, data and the zip directory
        data = bytearray(good)
        data[at] ^= 0xFF
        path.write_bytes(bytes(data))
        fresh, before = build(), build()
        try:
            fresh.load(path)
        except ValueError as e:
            assert "is not a valid minidl checkpoint" in str(e)
            assert_same(fresh, before)
            refused += 1
        else:  # a byte no reader looks at (a local header's copy of a field)
            assert_same(fresh, ps)
    assert refused > len(good) // 7 * 0.8


def test_a_checkpoint_without_the_list_of_fields_still_loads(tmp_path):
    ps = build()
    play(ps, 20, seed=4)
    ps.save(tmp_path / "new.npz")
    with np.load(tmp_path / "new.npz") as z:
        fields = {k: z[k] for k in z.files if k != "fields"}  # as the first version wrote them
    np.savez(tmp_path / "old.npz", **fields)
    restored = build()
    restored.load(tmp_path / "old.npz")
    assert_same(ps, restored)
