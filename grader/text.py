"""Untrusted text made safe once, where it enters the grader.

Every string a submission can shape (exception messages, printed output, file and
folder names, notebook sources, warning texts) goes through ``clean`` (or
``clean_name`` for names from the file system) before any report, terminal or
JSON file sees it. After it, a string is valid UTF-8 (lone surrogates replaced),
holds no NUL and no control character but newline and tab (so no ANSI or OSC
escape reaches a terminal), shows bidi and line-separator controls as escapes
(``\\u202e``) instead of letting them reorder what follows, shows the invisible
characters that could hide text the same way, and has no line longer
than ``line_limit``. What it replaces stays visible as an escape, so a student who
printed an escape sequence sees what they printed.
"""

from __future__ import annotations

import os
import re

LINE_LIMIT = 2000

# C0 controls but tab and newline, DEL, C1 controls; bidi embeddings, overrides and
# isolates, the marks; the Unicode line and paragraph separators; lone surrogates; and the
# invisible characters that can hide text from a reader (zero-width space, word joiner and
# invisible operators, BOM, interlinear annotations, the tag characters of "ASCII
# smuggling"). Zero-width (non-)joiners stay: scripts and emoji need them.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b\u200e\u200f"
                     "\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
                     "\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f]")


def _escape(match: re.Match) -> str:
    ch = match.group()
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def clean(text: str, line_limit: int = LINE_LIMIT) -> str:
    """``text`` as it may be shown anywhere: see the module's docstring."""
    if type(text) is not str:
        # str.__str__ copies a subclass's characters without running any method of its own.
        text = str.__str__(text) if isinstance(text, str) else ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _UNSAFE.search(text):
        text = _UNSAFE.sub(_escape, text)
    if line_limit and len(text) > line_limit:
        text = "\n".join(_cut(line, line_limit) for line in text.split("\n"))
    return text


def _cut(line: str, limit: int) -> str:
    if len(line) <= limit:
        return line
    return f"{line[:limit]}… ({len(line) - limit} more characters on this line)"


def clean_name(name: str | bytes) -> str:
    """A file or folder name as it can be shown: bytes that are not UTF-8 (which
    Python's os functions carry as lone surrogates) become ``\\xff`` escapes."""
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    return clean(raw.decode("utf-8", "backslashreplace"), line_limit=200)


_MORE = re.compile(r"… (\d+) more notes?")
MAX_NOTES = 20  # notes kept per list; the rest are counted in one last line
MAX_NOTES_CHARS = 8000  # characters of notes kept per list


class Notes:
    """Notes for the student, each made safe and the list capped (count and characters).

    A hostile notebook can make a note per tag, thousands per cell: past the cap a note
    is only counted, and ``full`` lets the caller skip composing it at all.
    """

    def __init__(self, most: int = MAX_NOTES, chars: int = MAX_NOTES_CHARS):
        self.most, self.chars = most, chars
        self.kept: list[str] = []
        self.size = 0
        self.more = 0

    @property
    def full(self) -> bool:
        return len(self.kept) >= self.most or self.size >= self.chars

    def add(self, note: str) -> None:
        if self.full:
            self.more += 1
            return
        note = clean(note, line_limit=self.chars - self.size)
        self.kept.append(note)
        self.size += len(note)

    def extend(self, notes, prefix: str = "") -> None:
        """Add each note (after ``prefix``); another list's "… N more" line counts N."""
        for note in notes:
            more = _MORE.fullmatch(note)
            if more:
                self.skip(int(more.group(1)))
            else:
                self.add(prefix + note)

    def skip(self, count: int) -> None:
        """Count ``count`` notes that were not worth composing (the list is full)."""
        self.more += count

    def list(self) -> list[str]:
        if not self.more:
            return list(self.kept)
        return [*self.kept, f"… {self.more} more note{'s' * (self.more > 1)}"]


def capped(notes, most: int = MAX_NOTES, chars: int = MAX_NOTES_CHARS) -> list[str]:
    """``notes`` made safe, the first that fit the caps and one "… N more notes" line."""
    kept = Notes(most, chars)
    kept.extend(notes)
    return kept.list()
