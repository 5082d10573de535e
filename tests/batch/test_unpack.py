"""Reading untrusted submissions: folders and zips, caps, bombs, unsafe names, ids."""

from __future__ import annotations

import os
import re
import stat
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from grader.batch import unpack
from grader.batch.unpack import (MAX_FILE_BYTES, MAX_MEMBERS, UnpackError, content_hash,
                                 discover, read_files, student_id)
from grader.errors import GraderError, SubmissionPathError

ACT = b"def relu(x):\n    return x * (x > 0)\n"
CLIP = b"def clip_by_norm(g, max_norm):\n    return g\n"


def make_zip(path: Path, entries, compression=zipfile.ZIP_DEFLATED) -> Path:
    """entries: (name or ZipInfo, bytes) pairs, written in this order."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def central_headers(data: bytes) -> list[tuple[int, str]]:
    """(offset of the central directory header, name) for each member."""
    end = data.rindex(b"PK\x05\x06")
    count, = struct.unpack_from("<H", data, end + 10)
    offset, = struct.unpack_from("<I", data, end + 16)
    found = []
    for _ in range(count):
        assert data[offset:offset + 4] == b"PK\x01\x02"
        n, m, k = struct.unpack_from("<3H", data, offset + 28)
        found.append((offset, data[offset + 46:offset + 46 + n].decode()))
        offset += 46 + n + m + k
    return found


def patch_member(path: Path, name: str, *, flags: int | None = None,
                 size: int | None = None) -> None:
    """Rewrite a member's flags or uncompressed size in both its local and central headers."""
    data = bytearray(path.read_bytes())
    for central, member in central_headers(bytes(data)):
        if member != name:
            continue
        local, = struct.unpack_from("<I", data, central + 42)
        assert data[local:local + 4] == b"PK\x03\x04"
        if flags is not None:
            struct.pack_into("<H", data, central + 8, flags)
            struct.pack_into("<H", data, local + 6, flags)
        if size is not None:
            struct.pack_into("<I", data, central + 24, size)
            struct.pack_into("<I", data, local + 22, size)
    path.write_bytes(bytes(data))


def data_offset(path: Path, name: str) -> int:
    with zipfile.ZipFile(path) as archive:
        local = archive.getinfo(name).header_offset
    data = path.read_bytes()
    n, m = struct.unpack_from("<2H", data, local + 26)
    return local + 30 + n + m


def unpack_error(path: Path) -> str:
    with pytest.raises(UnpackError) as caught:
        read_files(path)
    message = str(caught.value)
    assert "\n" not in message and message == caught.value.reason
    return message


# -- folders ---------------------------------------------------------------------------------


def test_folder_reads_top_level_py_only(tmp_path):
    (tmp_path / "activations.py").write_bytes(ACT)
    (tmp_path / "clipping.py").write_bytes(CLIP)
    (tmp_path / "notes.txt").write_text("not code")
    (tmp_path / "activations.pyc").write_bytes(b"\0")
    (tmp_path / ".hidden.py").write_text("x = 1")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "initializers.py").write_text("x = 1")
    (tmp_path / "folder.py").mkdir()  # a folder named like a module is not one
    assert read_files(tmp_path) == {"activations.py": ACT, "clipping.py": CLIP}


def test_folder_refuses_a_symlink_instead_of_following_it(tmp_path):
    (tmp_path / "activations.py").write_bytes(ACT)
    (tmp_path / "x.py").symlink_to("/etc/passwd")
    message = unpack_error(tmp_path)
    assert "'x.py' is a symbolic link" in message and "root" not in message


def test_folder_skips_symlinks_that_are_not_modules(tmp_path):
    (tmp_path / "activations.py").write_bytes(ACT)
    (tmp_path / "data").symlink_to("/etc")
    (tmp_path / "passwd.txt").symlink_to("/etc/passwd")
    assert read_files(tmp_path) == {"activations.py": ACT}


def test_folder_refuses_a_file_over_one_mib(tmp_path):
    (tmp_path / "activations.py").write_bytes(ACT)
    (tmp_path / "big.py").write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    assert "'big.py' is larger than 1 MiB" in unpack_error(tmp_path)
    (tmp_path / "big.py").write_bytes(b"#" * MAX_FILE_BYTES)  # exactly the cap is fine
    assert len(read_files(tmp_path)["big.py"]) == MAX_FILE_BYTES


def test_folder_reads_no_more_than_the_cap_of_a_huge_file(tmp_path):
    with open(tmp_path / "big.py", "wb") as file:
        file.truncate(200 << 20)  # sparse: 200 MiB that cost no disk
    tracemalloc.start()
    try:
        message = unpack_error(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "'big.py' is larger than 1 MiB" in message and peak < 32 << 20


def test_folder_total_size_is_capped(tmp_path):
    for i in range(9):
        (tmp_path / f"m{i}.py").write_bytes(b"#" * MAX_FILE_BYTES)
    assert "add up to more than 8 MiB" in unpack_error(tmp_path)


def test_folder_file_swapped_for_a_link_after_its_check_is_not_followed(tmp_path, monkeypatch):
    (tmp_path / "x.py").symlink_to("/etc/passwd")
    regular = os.stat(__file__)
    real_stat = os.stat

    def stale_stat(path, *args, **kwargs):  # as if checked before the swap
        return regular if path == "x.py" else real_stat(path, *args, **kwargs)
    monkeypatch.setattr(os, "stat", stale_stat)
    assert "'x.py' is a symbolic link" in unpack_error(tmp_path)


def test_folder_refuses_too_many_files(tmp_path):
    for i in range(65):
        (tmp_path / f"m{i}.py").write_text("x = 1")
    assert "more than 64 .py and .ipynb files" in unpack_error(tmp_path)


def test_folder_refuses_a_module_name_python_cannot_import(tmp_path):
    (tmp_path / "activations.py").write_bytes(ACT)
    (tmp_path / "activations (1).py").write_bytes(ACT)
    assert "'activations (1).py' is not a valid module name" in unpack_error(tmp_path)


def test_empty_folder_is_a_student_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no code")
    assert unpack_error(tmp_path).startswith("no .py or .ipynb files found")


def test_missing_path_is_a_grader_error_not_a_result(tmp_path):
    assert not issubclass(UnpackError, GraderError)
    with pytest.raises(SubmissionPathError):
        read_files(tmp_path / "nobody")
    (tmp_path / "alice.tar").write_bytes(b"")
    with pytest.raises(SubmissionPathError):
        read_files(tmp_path / "alice.tar")


# -- zips: layout ----------------------------------------------------------------------------


def test_zip_with_modules_at_the_top(tmp_path):
    path = make_zip(tmp_path / "alice.zip", [("activations.py", ACT), ("clipping.py", CLIP),
                                            ("README.md", b"hi"), ("old/backward.py", b"x")])
    assert read_files(path) == {"activations.py": ACT, "clipping.py": CLIP}


def test_zip_of_one_folder(tmp_path):
    path = make_zip(tmp_path / "alice.zip", [
        ("alice/", b""), ("alice/activations.py", ACT), ("alice/clipping.py", CLIP),
        ("alice/data.csv", b"1,2"), ("alice/deep/backward.py", b"x"),
        ("alice/._activations.py", b"\0\x05\x16\x07"),
        ("__MACOSX/alice/._activations.py", b"\0\x05\x16\x07"),
        ("__MACOSX/alice/._clipping.py", b"\0\x05\x16\x07"), ("__MACOSX/stray.py", b"")])
    assert read_files(path) == {"activations.py": ACT, "clipping.py": CLIP}


def test_zip_with_two_top_folders_is_refused(tmp_path):
    path = make_zip(tmp_path / "alice.zip", [("alice/activations.py", ACT),
                                            ("bob/activations.py", ACT)])
    message = unpack_error(path)
    assert "several folders" in message and "'alice/'" in message and "'bob/'" in message


def test_zip_nested_too_deep_finds_nothing(tmp_path):
    path = make_zip(tmp_path / "alice.zip", [("alice/exercises/activations.py", ACT)])
    assert unpack_error(path).startswith("no .py or .ipynb files found")


def test_empty_zip(tmp_path):
    path = make_zip(tmp_path / "alice.zip", [])
    assert unpack_error(path).startswith("no .py or .ipynb files found")
    path = make_zip(tmp_path / "bob.zip", [("notes.txt", b"hi"), ("src/", b"")])
    assert unpack_error(path).startswith("no .py or .ipynb files found")


def test_zip_invalid_module_name_is_refused(tmp_path):
    path = make_zip(tmp_path / "alice.zip", [("alice/activations.py", ACT),
                                            ("alice/my-activations.py", ACT)])
    assert "'my-activations.py' is not a valid module name" in unpack_error(path)


def test_zip_suffix_is_matched_in_any_case(tmp_path):
    path = make_zip(tmp_path / "ALICE.ZIP", [("activations.py", ACT)])
    assert read_files(path) == {"activations.py": ACT}


# -- zips: bombs and caps --------------------------------------------------------------------


def _zeros_zip(path: Path, name: str, mib: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(name, "w", force_zip64=True) as member:
            block = bytes(1 << 20)
            for _ in range(mib):
                member.write(block)
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """200 MiB of zeros in a zip of a few hundred KiB."""
    return _zeros_zip(tmp_path_factory.mktemp("bomb") / "alice.zip", "activations.py", 200)


def _bounded(path: Path) -> str:
    tracemalloc.start()
    start = time.monotonic()
    try:
        message = unpack_error(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 5
    assert peak < 32 << 20
    return message


def test_zip_bomb_is_refused_from_its_header(bomb):
    assert bomb.stat().st_size < 1 << 20
    assert "'activations.py' is larger than 1 MiB" in _bounded(bomb)


@pytest.mark.parametrize("claimed", [1000, MAX_FILE_BYTES])
def test_zip_bomb_with_a_lying_header_stops_at_the_claimed_size(bomb, tmp_path, claimed):
    path = tmp_path / "liar.zip"
    path.write_bytes(bomb.read_bytes())
    with zipfile.ZipFile(path) as archive:  # zip64 extra fields would override the lie
        assert archive.getinfo("activations.py").file_size == 200 << 20
    _strip_zip64(path)
    patch_member(path, "activations.py", size=claimed)
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("activations.py").file_size == claimed
    assert _bounded(path).startswith("the zip file is damaged")


def _strip_zip64(path: Path) -> None:
    """Rewrite the bomb without zip64 extras, keeping its (true) compressed data."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("activations.py")
        with open(path, "rb") as raw:
            raw.seek(info.header_offset)
            head = raw.read(30)
            n, m = struct.unpack_from("<2H", head, 26)
            raw.seek(info.header_offset + 30 + n + m)
            payload = raw.read(info.compress_size)
    name = b"activations.py"
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, info.CRC,
                        len(payload), info.file_size & 0xFFFFFFFF, len(name), 0) + name
    central = struct.pack("<4s6H3I5HII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, info.CRC,
                          len(payload), info.file_size & 0xFFFFFFFF, len(name), 0, 0, 0, 0,
                          0o644 << 16, 0) + name
    start = len(local) + len(payload)
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(central), start, 0)
    path.write_bytes(local + payload + central + end)


def never_opened(monkeypatch):
    def open_member(*args, **kwargs):
        raise AssertionError("a member was decompressed")
    monkeypatch.setattr(zipfile.ZipFile, "open", open_member)


def test_total_size_is_capped_before_decompressing(tmp_path, monkeypatch):
    entries = [(f"m{i}.py", b"#" * MAX_FILE_BYTES) for i in range(9)]
    path = make_zip(tmp_path / "alice.zip", entries)
    never_opened(monkeypatch)
    assert "add up to more than 8 MiB" in _bounded(path)


def test_member_is_capped_while_decompressing_whatever_zipfile_yields(tmp_path, monkeypatch):
    """zipfile stops at the header's size itself; the cap does not rely on it."""
    class Endless:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n=-1):
            return bytes(n if n > 0 else 1 << 20)
    path = make_zip(tmp_path / "alice.zip", [("activations.py", ACT)])
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **k: Endless())
    assert "'activations.py' is larger than 1 MiB" in _bounded(path)


@pytest.mark.parametrize("end_record", ["checked", "unavailable"])
def test_too_many_members(tmp_path, monkeypatch, end_record):
    if end_record == "unavailable":  # e.g. a Python whose zipfile lacks _EndRecData
        monkeypatch.setattr(unpack, "_check_directory", lambda file: None)
    entries = [("activations.py", ACT)] + [(f"junk/{i}.txt", b"") for i in range(MAX_MEMBERS)]
    path = make_zip(tmp_path / "alice.zip", entries)
    assert "more than 1000 entries" in unpack_error(path)
    path = make_zip(tmp_path / "bob.zip", entries[:MAX_MEMBERS])
    assert read_files(path) == {"activations.py": ACT}


def test_a_huge_directory_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    entries = [("activations.py", ACT)] + [(f"j/{i}", b"") for i in range(30_000)]
    path = make_zip(tmp_path / "alice.zip", entries, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")
    struct.pack_into("<2H", data, end + 8, 1, 1)  # the end record claims a single entry
    path.write_bytes(bytes(data))
    assert struct.unpack_from("<I", data, end + 12)[0] > 1 << 20

    def parse(*args, **kwargs):
        raise AssertionError("the directory was parsed")
    monkeypatch.setattr(zipfile, "ZipFile", parse)
    assert "more than 1000 entries" in unpack_error(path)


def test_too_many_modules_in_a_zip(tmp_path):
    path = make_zip(tmp_path / "alice.zip", [(f"m{i}.py", b"x = 1") for i in range(65)])
    assert "more than 64 .py and .ipynb files" in unpack_error(path)


def test_unbounded_compression_methods_are_refused(tmp_path):
    path = make_zip(tmp_path / "alice.zip", [("activations.py", ACT)], zipfile.ZIP_BZIP2)
    assert "unusual method" in unpack_error(path)


# -- zips: unsafe members --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../evil.py", "alice/../../evil.py", "/abs.py",
                                  "a\\b.py", "C:evil.py", "c:/evil.py", "alice//x.py",
                                  "./x.py", "evil.py\0.txt"])
def test_path_traversal_names_are_refused(tmp_path, name):
    # zipfile cuts a name at NUL when writing, so that one is patched in afterwards
    written = name.replace("\0", "#")
    path = make_zip(tmp_path / "alice.zip", [("activations.py", ACT), (written, b"x = 1")])
    path.write_bytes(path.read_bytes().replace(written.encode(), name.encode()))
    assert "unsafe name" in unpack_error(path)


def test_unsafe_names_are_refused_even_when_ignored(tmp_path):
    path = make_zip(tmp_path / "alice.zip", [("activations.py", ACT), ("../notes.txt", b"")])
    assert "unsafe name" in unpack_error(path)


def test_symlink_member_is_refused(tmp_path):
    link = zipfile.ZipInfo("clipping.py")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = make_zip(tmp_path / "alice.zip", [("activations.py", ACT), (link, b"/etc/passwd")])
    assert "symbolic link, 'clipping.py'" in unpack_error(path)


def test_encrypted_member_is_refused(tmp_path):
    path = make_zip(tmp_path / "alice.zip", [("activations.py", ACT)])
    patch_member(path, "activations.py", flags=0x1)
    assert unpack_error(path).startswith("'activations.py' is encrypted in the zip file")


def test_duplicate_names_are_refused(tmp_path):
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = make_zip(tmp_path / "alice.zip", [("activations.py", ACT),
                                                ("activations.py", b"x = 2")])
    assert "holds 'activations.py' twice" in unpack_error(path)


# -- zips: damage ----------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0, 10, 0.5, -10])
def test_truncated_zip_is_damaged(tmp_path, keep):
    path = make_zip(tmp_path / "alice.zip", [("activations.py", ACT * 50), ("clipping.py", CLIP)])
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    path.write_bytes(data[:cut])
    assert unpack_error(path).startswith("the zip file is damaged: ")


def test_flipped_bytes_in_stored_data_fail_the_crc(tmp_path):
    path = make_zip(tmp_path / "alice.zip", [("activations.py", ACT)], zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    data[data_offset(path, "activations.py") + 5] ^= 0xFF
    path.write_bytes(bytes(data))
    assert unpack_error(path).startswith("the zip file is damaged: Bad CRC-32")


def test_flipped_bytes_in_deflated_data_are_damage(tmp_path):
    path = make_zip(tmp_path / "alice.zip", [("activations.py", ACT * 20)])
    start = data_offset(path, "activations.py")
    data = bytearray(path.read_bytes())
    for i in range(start + 2, start + 12):
        data[i] ^= 0x55
    path.write_bytes(bytes(data))
    assert unpack_error(path).startswith("the zip file is damaged: ")


def test_not_a_zip_at_all(tmp_path):
    path = tmp_path / "alice.zip"
    path.write_bytes(b"Rar!\x1a\x07\x00" + bytes(100))
    assert unpack_error(path).startswith("the zip file is damaged: ")


# -- content_hash ----------------------------------------------------------------------------


def test_content_hash_ignores_zip_order_and_layout(tmp_path):
    one = make_zip(tmp_path / "one.zip", [("activations.py", ACT), ("clipping.py", CLIP)])
    two = make_zip(tmp_path / "two.zip", [("alice/clipping.py", CLIP),
                                          ("alice/activations.py", ACT)], zipfile.ZIP_STORED)
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "clipping.py").write_bytes(CLIP)
    (folder / "activations.py").write_bytes(ACT)
    assert content_hash(read_files(one)) == content_hash(read_files(two))
    assert content_hash(read_files(one)) == content_hash(read_files(folder))
    assert len(content_hash(read_files(one))) == 64


def test_content_hash_changes_on_any_edit_or_rename():
    base = {"activations.py": ACT, "clipping.py": CLIP}
    variants = [
        {"activations.py": ACT + b" ", "clipping.py": CLIP},
        {"activations.py": ACT, "clipping.py": CLIP[:-1]},
        {"activation.py": ACT, "clipping.py": CLIP},
        {"activations.py": ACT},
        {"activations.py": ACT, "clipping.py": CLIP, "extra.py": b""},
        # the boundary between a name and its bytes cannot be shifted
        {"activations.py": ACT + b"clipping.py" + CLIP},
        {"activations.py": CLIP, "clipping.py": ACT},
    ]
    hashes = {content_hash(v) for v in variants}
    assert content_hash(base) not in hashes and len(hashes) == len(variants)
    assert content_hash(dict(reversed(base.items()))) == content_hash(base)


# -- student_id ------------------------------------------------------------------------------


# "-*": the id was changed to be safe, so 8 hex digits of a hash of the name follow.
@pytest.mark.parametrize("name, pattern, expected", [
    ("alice.zip", r"^(?P<id>[^.]+)", "alice"),
    ("alice", r"^(?P<id>[^.]+)", "alice"),
    ("alice.v2.zip", r"^(?P<id>[^.]+)", "alice"),
    ("ALICE.ZIP", r"^(?P<id>[^.]+)", "ALICE"),
    ("ab12_late_submission.zip", r"^(?P<id>[a-z0-9]+)_", "ab12"),
    ("Alice Smith.zip", r"^(?P<id>[a-z0-9]+)_", "Alice_Smith-*"),  # no match: whole stem
    ("jürgen$(rm -rf).zip", r"^(?P<id>[^.]+)", "j_rgen__rm_-rf_-*"),
    ("...zip", r"^(?P<id>[^.]+)", "__-*"),
    ("..", r"^(?P<id>[^.]+)", "_"),  # resolved: the parent's name, never '..'
    (".hidden.zip", r"^(?P<id>[^.]+)", "_hidden-*"),  # no match; never a hidden folder
    ("..zip", r"^(?P<id>.*)$", "_-*"),
    ("alice.smith", r"^(?P<id>.+)$", "alice.smith"),  # the default pattern keeps it whole
])
def test_student_id(tmp_path, name, pattern, expected):
    got = student_id(tmp_path / name, pattern)
    if name == "..":
        expected = student_id(tmp_path.parent, pattern)
    if expected.endswith("-*"):
        assert re.fullmatch(re.escape(expected[:-2]) + r"-[0-9a-f]{8}", got), got
    else:
        assert got == expected
    assert got not in ("", ".", "..") and not got.startswith(".")
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in got)


@pytest.mark.parametrize("path", ["../../x", "../../x.zip", "a/../../x/..", "/", "."])
def test_student_id_of_odd_paths_is_a_safe_folder_name(path):
    got = student_id(Path(path), r"^(?P<id>.*)$")
    assert got not in ("", ".", "..") and "/" not in got and not got.startswith(".")
    if path.startswith("../../x"):
        assert got == "x"


def test_student_id_without_an_id_group_falls_back_to_the_stem(tmp_path):
    assert student_id(tmp_path / "alice.zip", r"^(?P<id>\d+)?") == "alice"


# -- discover --------------------------------------------------------------------------------


def test_discover_finds_folders_zips_and_links_only(tmp_path):
    for name in ("carol", "alice", ".git", "__MACOSX"):
        (tmp_path / name).mkdir()
    make_zip(tmp_path / "bob.zip", [("activations.py", ACT)])
    make_zip(tmp_path / "dave.ZIP", [("activations.py", ACT)])
    make_zip(tmp_path / ".eve.zip", [("activations.py", ACT)])
    (tmp_path / "grades.csv").write_text("x")
    # Links are listed (never followed): reading refuses them, so they get a row.
    (tmp_path / "frank").symlink_to(tmp_path / "alice")
    (tmp_path / "gina.zip").symlink_to(tmp_path / "bob.zip")
    (tmp_path / "heidi.zip").mkdir()  # a folder that happens to end in .zip
    (tmp_path / "notes").symlink_to(tmp_path / "grades.csv")  # a link to a stray file
    found = [p.name for p in discover(tmp_path)]
    assert found == ["alice", "bob.zip", "carol", "dave.ZIP", "frank", "gina.zip", "heidi.zip"]
    assert all(p.parent == tmp_path for p in discover(tmp_path))


def test_discover_of_a_missing_folder_is_a_grader_error(tmp_path):
    with pytest.raises(SubmissionPathError):
        discover(tmp_path / "nowhere")


# -- what the course does not grade ----------------------------------------------------------

MODULES = ["activations", "clipping"]


def test_a_file_that_is_not_a_module_is_left_out_with_a_note(tmp_path):
    (tmp_path / "activations.py").write_bytes(ACT)
    (tmp_path / "helper.py").write_bytes(b"x = 1\n")
    (tmp_path / "leak.py").symlink_to("/etc/passwd")
    (tmp_path / "my-notes.py").write_bytes(b"x = 1\n")
    with open(tmp_path / "huge.py", "wb") as file:
        file.truncate(200 << 20)
    os.mkfifo(tmp_path / "pipe.py")
    read = unpack.read(tmp_path, MODULES)
    assert read.files == {"activations.py": ACT, "helper.py": b"x = 1\n"}
    notes = "\n".join(read.notes)
    assert len(read.notes) == 4
    for name, why in (("leak.py", "symbolic link"), ("my-notes.py", "not a valid module name"),
                      ("huge.py", "larger than 1 MiB"), ("pipe.py", "a FIFO")):
        assert f"'{name}' was left out" in notes and why in notes


def test_a_module_that_is_a_link_or_a_fifo_is_refused(tmp_path):
    (tmp_path / "clipping.py").write_bytes(CLIP)
    os.mkfifo(tmp_path / "activations.py")
    with pytest.raises(UnpackError, match="'activations.py' is a FIFO"):
        unpack.read(tmp_path, MODULES)
    os.unlink(tmp_path / "activations.py")
    (tmp_path / "activations.py").symlink_to(tmp_path / "clipping.py")
    with pytest.raises(UnpackError, match="'activations.py' is a symbolic link"):
        unpack.read(tmp_path, MODULES)


def test_helpers_never_take_a_modules_share_of_the_caps(tmp_path, monkeypatch):
    monkeypatch.setattr(unpack, "MAX_FILES", 3)
    for name in ("a1", "a2", "a3", "a4"):  # sorted before the modules
        (tmp_path / f"{name}.py").write_bytes(b"x = 1\n")
    (tmp_path / "activations.py").write_bytes(ACT)
    (tmp_path / "clipping.py").write_bytes(CLIP)
    read = unpack.read(tmp_path, MODULES)
    assert set(read.files) == {"activations.py", "clipping.py", "a1.py"}
    assert len(read.notes) == 3 and all("more than 3" in n for n in read.notes)


def test_many_files_left_out_are_counted_not_listed(tmp_path):
    (tmp_path / "activations.py").write_bytes(ACT)
    for i in range(30):
        (tmp_path / f"bad-{i}.py").write_bytes(b"")
    read = unpack.read(tmp_path, MODULES)
    assert len(read.notes) == unpack.MAX_NOTES + 1
    assert read.notes[-1] == f"... and {30 - unpack.MAX_NOTES} more files left out"


def test_a_zips_link_or_huge_member_that_is_not_a_module_is_left_out(tmp_path):
    link = zipfile.ZipInfo("leak.py")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = make_zip(tmp_path / "alice.zip", [("activations.py", ACT), (link, b"/etc/passwd"),
                                              ("huge.py", b"#" * (MAX_FILE_BYTES + 1))])
    read = unpack.read(path, MODULES)
    assert read.files == {"activations.py": ACT}
    assert any("'leak.py' was left out" in n and "symbolic link" in n for n in read.notes)
    assert any("'huge.py' was left out" in n and "larger than" in n for n in read.notes)


def test_a_linked_submission_is_refused_by_name(tmp_path):
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "activations.py").write_bytes(ACT)
    (tmp_path / "mallory").symlink_to(tmp_path / "bob")
    (tmp_path / "bob.ipynb").write_text("{}")
    (tmp_path / "eve.ipynb").symlink_to(tmp_path / "bob.ipynb")
    for name in ("mallory", "eve.ipynb"):
        with pytest.raises(UnpackError, match=f"the submission '{name}' is a symbolic link"):
            unpack.read(tmp_path / name, MODULES)
