"""From a submission's files to the exercise modules the child imports.

A submission is .py modules, notebooks, or both. A notebook's cells tagged
``module:<name>`` become that module (grader/notebook.py reads them); a .py file
of the same name wins over a notebook's cells, and notebooks are read only when
some module has no .py file. nbformat is imported only when a
notebook is present, so grading plain modules never pays for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.errors import NotebookError
from grader.text import Notes, capped, clean


@dataclass(frozen=True)
class Modules:
    """What the child gets, and what the student should be told about how it was made."""

    files: dict[str, bytes]
    notes: tuple[str, ...] = ()
    # module -> why it is missing, for modules a notebook should have held
    missing: dict[str, str] = field(default_factory=dict)
    from_notebooks: frozenset[str] = frozenset()  # module files built from notebook cells

    def locate(self, text: str) -> str:
        """``text`` with each "module.py:LINE" inside a notebook-built module followed by
        its cell and line, since the student never sees the joined module."""
        if not self.from_notebooks or ".py:" not in text:
            return text
        from grader.notebook import annotate_lines
        return annotate_lines(text, {n: self.files[n] for n in self.from_notebooks})


def is_notebook(name: str) -> bool:
    return name.lower().endswith(".ipynb")


def assemble(files: dict[str, bytes], modules: list[str]) -> Modules:
    """The modules in ``files`` (name -> bytes) for the course's ``modules``."""
    py = {name: data for name, data in files.items() if not is_notebook(name)}
    books = sorted(name for name in files if is_notebook(name))
    if not books or all(f"{m}.py" in py for m in modules):
        # Notebooks only stand in for modules that have no .py file (exercises/ holds
        # both the stubs and the lesson notebooks; its .py files are what is graded).
        return Modules(py)
    from grader.notebook import missing_tag_note, read_notebook

    built: dict[str, tuple[bytes, str]] = {}  # module file -> (source, notebook)
    notes = Notes()  # capped: each notebook's notes are, but a submission may hold many
    unreadable: list[str] = []
    for book in books:
        try:
            got, book_notes = read_notebook(files[book], book, list(modules))
        except NotebookError as exc:
            unreadable.append(clean(str(exc)))  # it may quote the notebook's name
            continue
        # Which modules no notebook tags is said once, below, not once per notebook.
        untagged = {missing_tag_note(m) for m in modules}
        notes.extend((note for note in book_notes if note not in untagged), prefix=f"{book}: ")
        for name, source in got.items():
            if name in py:
                notes.add(f"{book}: its {name[:-3]} cells were not graded: {name} is in the "
                             "submission too and is graded instead (submit one or the other)")
            elif name in built:
                notes.add(f"{book}: its {name[:-3]} cells were not graded: {built[name][1]} "
                             "has cells with the same tag, and only the first notebook counts")
            else:
                built[name] = (source, book)
    reasons = Notes()
    reasons.extend(unreadable)
    reasons.extend(notes.list())
    missing = {}
    for module in modules:
        if f"{module}.py" not in py and f"{module}.py" not in built:
            missing[module] = ("; ".join(capped(unreadable, most=3)) + f" ({module} is not graded)"
                               if unreadable else missing_tag_note(module))
    return Modules({**py, **{name: source for name, (source, _) in built.items()}},
                   tuple(reasons.list()), missing, frozenset(built))
