"""grader/text.py: the one sanitizer of untrusted text, and the capped lists of notes.

After ``clean`` a string must be writable as UTF-8, print nothing a terminal acts on and
show every replaced character as a visible escape; ``Notes`` keeps a list short however
many notes a submission provokes.
"""

from __future__ import annotations

import json
import unicodedata

import pytest

from grader.text import LINE_LIMIT, Notes, capped, clean, clean_name

HOSTILE = ("\ud800 lone \udfff surrogates, NUL \x00, bell \x07, ESC \x1b[2J, "
           "OSC \x1b]8;;http://evil\x07click\x1b]8;;\x07, C1 \x9b31m, DEL \x7f, "
           "bidi \u202eexe.txt\u202c, isolates \u2066x\u2069, marks \u200e\u200f\u061c, "
           "separators \u2028\u2029, CR \r, CRLF \r\n, tab \t, newline \n, é ß 日本 😀")


def unsafe(text: str) -> list[str]:
    """The characters of ``text`` that must never reach a report or a terminal."""
    bad = []
    for ch in text:
        code = ord(ch)
        if ch in "\n\t":
            continue
        if (code < 0x20 or 0x7f <= code <= 0x9f or 0xd800 <= code <= 0xdfff
                or unicodedata.bidirectional(ch) in ("LRE", "RLE", "LRO", "RLO", "PDF",
                                                     "LRI", "RLI", "FSI", "PDI")
                or ch in "\u200e\u200f\u061c\u2028\u2029"):
            bad.append(ch)
    return bad


def test_clean_leaves_nothing_unsafe_and_writes_as_utf8():
    out = clean(HOSTILE)
    assert unsafe(out) == []
    out.encode("utf-8")  # no lone surrogate left: this raised UnicodeEncodeError before
    json.dumps(out, ensure_ascii=False).encode("utf-8")


def test_clean_shows_what_it_replaced():
    out = clean(HOSTILE)
    for shown in ("\\x00", "\\x07", "\\x1b[2J", "\\x1b]8;;http://evil\\x07click", "\\x9b",
                  "\\x7f", "\\u202e", "\\u202c", "\\u2066", "\\u2069", "\\u200e", "\\u2028"):
        assert shown in out
    assert out.count("\ufffd") == 2  # the two surrogates
    assert "é ß 日本 😀" in out and "tab \t" in out


def test_clean_turns_carriage_returns_into_newlines():
    # A bare CR would let printed text overwrite what the terminal showed before it.
    assert clean("a\rb\r\nc") == "a\nb\nc"


def test_clean_keeps_ordinary_text_unchanged():
    text = "sigmoid raised ValueError: shapes (3, 4) and (5,) differ\n\tat line 3"
    assert clean(text) == text


def test_clean_cuts_long_lines_and_says_so():
    line = "x" * (1 << 20)
    out = clean(f"start\n{line}\nend")
    first, middle, last = out.split("\n")
    assert (first, last) == ("start", "end")
    assert middle.startswith("x" * LINE_LIMIT)
    assert middle.endswith(f"… ({len(line) - LINE_LIMIT} more characters on this line)")
    assert len(clean("y" * 50, line_limit=10)) < 60


def test_clean_accepts_non_str():
    assert clean(None) == ""
    assert clean(b"bytes") == ""

    class Sneaky(str):
        def __str__(self):
            return "\x1b[2J"

    out = clean(Sneaky("plain"))
    assert type(out) is str and out == "plain"  # its own __str__ never ran


def test_clean_is_idempotent():
    once = clean(HOSTILE)
    assert clean(once) == once


@pytest.mark.parametrize("name, shown", [
    (b"bob\xff", "bob\\xff"),
    ("bob\udcff", "bob\\xff"),  # os.listdir's surrogateescape form of the same bytes
    ("alice\x1b[31m", "alice\\x1b[31m"),
    ("evil\u202egpj.py", "evil\\u202egpj.py"),
])
def test_clean_name_shows_bad_bytes_and_controls(name, shown):
    out = clean_name(name)
    assert out == shown
    out.encode("utf-8")


def test_clean_name_cuts_long_names():
    assert len(clean_name("n" * 5000)) < 300


def test_notes_cap_count_and_say_how_many_more():
    notes = capped([f"note {i}" for i in range(1000)])
    assert len(notes) == 21
    assert notes[-1] == "… 980 more notes"


def test_notes_cap_characters():
    notes = capped(["x" * 3000] * 10)
    assert sum(map(len, notes)) < 10_000
    assert notes[-1].startswith("… ") and notes[-1].endswith("more notes")


def test_notes_are_cleaned():
    assert capped(["tag \x1b[2J\ud800"]) == ["tag \\x1b[2J\ufffd"]


def test_notes_skip_counts_without_composing():
    notes = Notes(most=2)
    notes.extend(["a", "b"])
    assert notes.full
    notes.skip(5)
    notes.add("c")
    assert notes.list() == ["a", "b", "… 6 more notes"]


def test_notes_carry_another_lists_count():
    inner = capped([f"n{i}" for i in range(30)], most=3)
    outer = Notes(most=5)
    outer.extend(inner, prefix="book.ipynb: ")
    assert outer.list() == ["book.ipynb: n0", "book.ipynb: n1", "book.ipynb: n2",
                            "… 27 more notes"]


def test_a_single_more_is_singular():
    assert capped(["a", "b"], most=1) == ["a", "… 1 more note"]


def test_clean_shows_invisible_characters_that_hide_text():
    hidden = "pass\u200b\u2060\ufeff\U000e0041\U000e0042 ok"  # tag characters spell "AB"
    assert clean(hidden) == "pass\\u200b\\u2060\\ufeff\\U000e0041\\U000e0042 ok"
    emoji = "family \U0001f468\u200d\U0001f469 and Persian \u0645\u200c\u06cc"
    assert clean(emoji) == emoji  # joiners are part of ordinary text
