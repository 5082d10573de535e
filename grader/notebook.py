"""Lesson notebooks, and submitted notebooks read back into exercise modules.

The tag convention. A code cell belongs to an exercise module when it carries the cell
tag ``module:<module>``, for example ``module:clipping``. :func:`read_notebook` joins the
code cells tagged for a module, in notebook order, into that module's source
(``clipping.py``); every other cell, untagged code included, is never run and never
graded, so students may explore freely in cells of their own. A cell may carry several
module tags and then goes into each of those modules. The lesson notebooks written by
:func:`lesson_notebook` tag every exercise cell this way.

What the grader does to a tagged cell before grading it:

- each cell's code is preceded by one comment line ``# --- cell N ---``, N being the
  cell's position from the top of the notebook (markdown cells counted too, as a student
  counts them), so a line number in feedback can be traced back to its cell
  (:func:`locate_line` does it);
- a cell whose first line is a cell magic (``%%timeit``) is left out whole;
- a line magic (``%timeit f(x)``), a shell escape (``!pip install ...``) or a
  ``get_ipython()`` statement, at the start of a statement, becomes ``pass`` at the same
  indentation, so every other line keeps its number and its block stays valid Python;
- each such change, and each tag problem, is reported as one note for the student.

Syntax errors are left alone: the sandboxed child reports them when it imports the
module, with a line number that :func:`locate_line` maps to its cell.

nbformat is imported inside the functions that need it, never at module level, so that
importing the grader and grading ``.py`` files does not pay for it.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import GraderError, NotebookError
from grader.generate import find_regions, make_stub
from grader.text import Notes, clean, clean_name

if TYPE_CHECKING:
    from nbformat import NotebookNode

TAG_PREFIX = "module:"
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
NBFORMAT = 4
NBFORMAT_MINOR = 5  # fixed, so that a newer nbformat release does not change generated files
CELL_HEADER = "# --- cell {number} ---"
_CELL_HEADER = re.compile(r"# --- cell (\d+) ---$")
_FILE_LINE = re.compile(r"\b([A-Za-z_]\w*\.py):(\d+)")
_SHOWN = 60  # characters of a removed line quoted back in a note

_GET_IPYTHON = re.compile(r"(?:[A-Za-z_]\w*\s*=\s*)?get_ipython\s*\(")


# ---------------------------------------------------------------------------- reading


def read_notebook(data: bytes, name: str,
                  modules: list[str]) -> tuple[dict[str, bytes], list[str]]:
    """Turn a submitted notebook into exercise modules, plus notes for the student.

    ``data`` is the .ipynb file's bytes, ``name`` how to call it in messages, ``modules``
    the module names to look for (``["activations", "clipping"]``). Returns
    ``({"clipping.py": source, ...}, notes)``: a module without tagged cells is absent
    from the dict and named in a note saying how to tag its cells.

    Raises NotebookError, one line naming ``name``, when the file is over 20 MB, not
    JSON, not a notebook, not nbformat 4, or fails nbformat's validation.
    """
    cells = _parse(data, name)
    parts: dict[str, list[str]] = {module: [] for module in modules}
    tagged: set[str] = set()
    notes = Notes()  # capped: a hostile notebook can carry thousands of bad tags per cell
    for number, cell in enumerate(cells, start=1):
        targets = cell_modules(cell)
        if not targets:
            continue
        unknown = [t for t in targets if t not in parts]
        if notes.full:
            notes.skip(len(unknown))
        else:
            notes.extend(_unknown_tag_note(number, t, modules) for t in unknown)
        known = [t for t in targets if t in parts]
        if not known:
            continue
        if cell.get("cell_type") != "code":
            notes.add(_not_code_note(number, known[0], cell.get("cell_type")))
            continue
        tagged.update(known)
        code, cell_notes = clean_cell(_source(cell), number)
        notes.extend(cell_notes)
        if code is not None:
            for module in known:
                parts[module].append(CELL_HEADER.format(number=number) + "\n" + code)
    notes.extend(missing_tag_note(module) for module in modules if module not in tagged)
    files = {f"{module}.py": _join(chunks).encode("utf-8")
             for module, chunks in parts.items() if chunks}
    return files, notes.list()


def cell_modules(cell: dict) -> list[str]:
    """The modules a cell is tagged for, in tag order, each once."""
    tags = cell.get("metadata", {}).get("tags", [])
    found = []
    for tag in tags:
        if isinstance(tag, str) and tag.startswith(TAG_PREFIX):
            module = tag[len(TAG_PREFIX):].strip()
            if module not in found:
                found.append(module)
    return found


def clean_cell(source: str, number: int) -> tuple[str | None, list[str]]:
    """A tagged cell's code with IPython-only lines neutralised, and a note for each.

    Returns ``(None, [note])`` for a cell that starts with a cell magic: its body may
    not be Python at all (``%%bash``), so the whole cell is left out.
    """
    lines = source.split("\n")
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("%%"):
        return None, [f"cell {number}: left out the whole cell: it starts with the cell "
                      f"magic {_quote(first)}, which only IPython understands; move the "
                      "magic to an untagged cell"]
    notes = []
    out = list(lines)
    for index, kind in _ipython_lines(lines):
        line = lines[index]
        if kind == "continuation":
            out[index] = ""  # blank, so that the following lines keep their numbers
            continue
        indent = line[: len(line) - len(line.lstrip())]
        out[index] = f"{indent}pass  # {kind} removed by the grader"
        notes.append(_removed_note(number, index + 1, kind, line.strip()))
    return "\n".join(out), notes


def missing_tag_note(module: str) -> str:
    """The note for a module that no cell is tagged for, with how to tag one."""
    tag = TAG_PREFIX + module
    return (f"no code cell is tagged {tag}, so {module} is not graded; give each of your "
            f"{module} cells the tag {tag} (JupyterLab and Notebook 7: the property "
            "inspector, gear icon in the right sidebar; classic Notebook: View > Cell "
            "Toolbar > Tags)")


def locate_line(source: str | bytes, lineno: int) -> tuple[int, int] | None:
    """Map a line of a module built by read_notebook to (cell number, line in that cell).

    None when the line is not inside a cell (a header line or out of range).
    """
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    lines = source.split("\n")
    if not 1 <= lineno <= len(lines):
        return None
    for index in range(lineno - 1, -1, -1):
        match = _CELL_HEADER.match(lines[index])
        if match:
            offset = lineno - 1 - index
            return (int(match.group(1)), offset) if offset else None
    return None


def annotate_lines(text: str, files: dict[str, bytes]) -> str:
    """Add "(cell N, line K)" after every "module.py:LINE" in text that points into a cell
    of a module built by read_notebook, since students never see the joined module."""
    def replace(match: re.Match) -> str:
        source = files.get(match.group(1))
        where = locate_line(source, int(match.group(2))) if source is not None else None
        return match.group(0) + (f" (cell {where[0]}, line {where[1]})" if where else "")

    return _FILE_LINE.sub(replace, text)


def check_here(notebook: str | Path, module: str, course: str | Path | None = None) -> None:
    """Grade one exercise of a saved notebook and print the text report (for a notebook cell).

    Reads the file as saved on disk, so the notebook must be saved first. ``course``
    defaults to course.yaml in the current folder or one of its parents.
    """
    from grader.checks import CATALOGUE
    from grader.course import load_course
    from grader.grade import Options, grade_files
    from grader.report.text import render

    path = Path(notebook)
    try:
        files, notes = read_notebook(_read(path), path.name, [module])
        loaded = load_course(Path(course) if course else _find_course(), CATALOGUE)
        result = grade_files(files, path.name, path.stem, loaded, Options(exercise=module))
    except GraderError as err:
        # A cell's output is read by a student: one line beats a traceback.
        print(f"grader: error: {clean(str(err))}")
        return
    for note in notes:
        print(f"note: {note}")
    print(annotate_lines(render(result), files))


# ---------------------------------------------------------------------------- lessons


def lesson_notebook(module: str, solution_source: str, solved: bool, lesson_markdown: str,
                    demo: str = "") -> NotebookNode:
    """The lesson notebook of one exercise, as an nbformat v4 NotebookNode.

    Cells: the title and how to work, the lesson (markdown), the optional untagged
    ``demo`` code, one cell tagged ``module:<module>`` for the module's imports and
    constants and one per function (stubs, or the reference code when ``solved``), then
    how the check works and an untagged cell that runs it. Cell ids are
    ``<module>-<index>``, so the same input always gives the same notebook.
    """
    import nbformat.v4 as v4

    filename = f"solutions/{module}.py"
    code = solved_source(solution_source, filename) if solved else make_stub(solution_source,
                                                                               filename)
    tag = TAG_PREFIX + module
    cells = [v4.new_markdown_cell(_intro(module, _title(solution_source, module), solved)),
             v4.new_markdown_cell(lesson_markdown.strip())]
    if demo.strip():
        cells.append(v4.new_code_cell(demo.strip()))
    cells += [v4.new_code_cell(chunk, metadata={"tags": [tag]})
              for chunk in split_functions(code)]
    cells += [v4.new_markdown_cell(_check_explanation(module)),
              v4.new_code_cell(f"from grader.notebook import check_here\n\n"
                               f'check_here("{module}.ipynb", "{module}")')]
    for index, cell in enumerate(cells):
        cell["id"] = f"{module}-{index}"
    notebook = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "grader": {"module": module, "source": filename, "solved": solved},
    })
    notebook["nbformat"], notebook["nbformat_minor"] = NBFORMAT, NBFORMAT_MINOR
    return notebook


def notebook_text(notebook: NotebookNode) -> str:
    """The file text of a notebook: nbformat's own JSON (sorted keys) and a final newline."""
    import nbformat

    return nbformat.writes(notebook) + "\n"


def is_generated_notebook(text: str) -> bool:
    """Whether a notebook file's text was written by lesson_notebook (it names its source)."""
    try:
        metadata = json.loads(text).get("metadata", {})
    except (ValueError, AttributeError):
        return False
    return isinstance(metadata, dict) and isinstance(metadata.get("grader"), dict)


def solved_source(solution_source: str, filename: str) -> str:
    """The solution's code without its BEGIN/END SOLUTION marker lines."""
    markers = {line for region in find_regions(solution_source, filename)
               for line in (region.begin, region.end)}
    lines = solution_source.splitlines(keepends=True)
    return "".join(line for number, line in enumerate(lines, start=1) if number not in markers)


def split_functions(code: str) -> list[str]:
    """Cut module code into cells: imports and constants first, then one per function.

    The module docstring is dropped (the lesson replaces it). A top-level function takes
    its decorators and the comment lines right above it; other top-level code after a
    function stays in that function's cell.
    """
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    body = tree.body
    start = 1
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        start = body[0].end_lineno + 1
    cuts = [start] + [_first_line(node, lines) for node in body
                      if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    cuts = sorted(set(cuts)) + [len(lines) + 1]
    chunks = ["".join(lines[a - 1:b - 1]).strip("\n") for a, b in zip(cuts, cuts[1:])]
    return [chunk for chunk in chunks if chunk.strip()]


# ---------------------------------------------------------------------------- helpers


def _parse(data: bytes, name: str) -> list[dict]:
    """The validated notebook's cells; every reason to refuse it is one NotebookError line."""
    name = clean_name(name)  # the student's file name, quoted in every reason below
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{name}: the notebook is {len(data) / 2**20:.1f} MB, over the "
                            f"{MAX_NOTEBOOK_BYTES // 2**20} MB limit; clear all outputs "
                            "(Edit > Clear Outputs of All Cells), save and submit again")
    try:
        notebook = json.loads(data)
    except json.JSONDecodeError as err:
        raise NotebookError(f"{name}: not a notebook: not valid JSON ({err.msg} at line "
                            f"{err.lineno}); submit the .ipynb file as Jupyter saved it") from None
    except (ValueError, RecursionError) as err:
        raise NotebookError(f"{name}: not a notebook: not valid JSON text "
                            f"({type(err).__name__}); submit the .ipynb file as Jupyter saved it"
                            ) from None
    if not isinstance(notebook, dict) or "nbformat" not in notebook:
        raise NotebookError(f"{name}: not a Jupyter notebook (no 'nbformat' field at the top); "
                            "submit the .ipynb file as Jupyter saved it")
    version = notebook["nbformat"]
    if type(version) is not int or version != NBFORMAT:
        raise NotebookError(f"{name}: notebook format version {repr(version)[:20]} is not "
                            f"supported (only version {NBFORMAT}); open it in a current "
                            "Jupyter and save it again")
    # Checked here because nbformat's validator fails on these without saying why.
    cells = notebook.get("cells")
    if type(notebook.get("nbformat_minor")) is not int or not isinstance(cells, list) \
            or not all(isinstance(cell, dict) for cell in cells):
        raise NotebookError(f"{name}: not a valid notebook (it needs a whole number "
                            "'nbformat_minor' and 'cells', a list of objects); open it in "
                            "Jupyter and save it again")
    _validate(notebook, name)
    return notebook["cells"]


def _validate(notebook: dict, name: str) -> None:
    """nbformat's schema check, on a copy that leaves out what grading never reads.

    Outputs are emptied, since a huge one would only cost time. Cell ids are replaced by
    unique valid ones (or dropped before format 4.5, which has none): editors are known
    to write duplicates, or ids into older notebooks, and the validator would otherwise
    rewrite them in place with a warning.
    """
    import nbformat

    with_ids = notebook["nbformat_minor"] >= 5
    light = dict(notebook, cells=[_light_cell(cell, index, with_ids)
                                  for index, cell in enumerate(notebook["cells"])])
    try:
        nbformat.validate(light)
    except nbformat.ValidationError as err:
        raise NotebookError(f"{name}: not a valid notebook ({_schema_problem(err)}); open it "
                            "in Jupyter and save it again") from None
    except Exception as err:  # noqa: BLE001 - the validator's own failure on odd input
        raise NotebookError(f"{name}: not a valid notebook ({type(err).__name__}); open it "
                            "in Jupyter and save it again") from None


def _schema_problem(err) -> str:
    """'cell 3 metadata.tags: the value is not of type ...', without the offending value
    itself, which may be a whole cell."""
    message = " ".join(str(getattr(err, "message", err)).split())
    shown = repr(getattr(err, "instance", None))
    if len(shown) > 30 and message.startswith(shown):
        message = "the value" + message[len(shown):]
    path = list(getattr(err, "relative_path", None) or getattr(err, "path", None) or [])
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        rest = ".".join(str(part) for part in path[2:])
        where = f"cell {path[1] + 1}" + (f" {rest}" if rest else "")
    else:
        where = ".".join(str(part) for part in path)
    # The path holds the notebook's own keys: student text, made safe to quote.
    return clean((f"{where}: {message}" if where else message)[:200])


def _light_cell(cell: dict, index: int, with_id: bool) -> dict:
    cell = dict(cell)
    cell.pop("id", None)
    if with_id:
        cell["id"] = f"cell-{index}"
    if cell.get("cell_type") == "code" and "outputs" in cell:
        cell["outputs"] = []
    return cell


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _join(chunks: list[str]) -> str:
    return "\n\n".join(chunk.rstrip("\n") for chunk in chunks) + "\n"


def _ipython_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(index, kind) of every line that starts a statement with IPython-only syntax.

    A statement start is a line outside brackets, strings and backslash continuations.
    A magic or shell line is not Python, so it is not scanned; a get_ipython() statement
    is, and the lines continuing it are reported as kind "continuation".
    """
    found: list[tuple[int, str]] = []
    state = _State()
    removing = False
    for index, line in enumerate(lines):
        if state.at_start():
            removing = False
            kind = _ipython_kind(line.lstrip())
            if kind in ("magic", "shell command"):
                found.append((index, kind))
                continue
            if kind:
                found.append((index, kind))
                removing = True
        elif removing:
            found.append((index, "continuation"))
        state.feed(line)
    return found


def _ipython_kind(stripped: str) -> str | None:
    if stripped.startswith("%"):
        return "magic"
    if stripped.startswith("!"):
        return "shell command"
    if _GET_IPYTHON.match(stripped):
        return "get_ipython() call"
    return None


class _State:
    """Where a line-by-line scan of Python source stands: bracket depth, an open string,
    and whether the last line ended in a backslash continuation."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: str | None = None
        self.continued = False

    def at_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.continued

    def feed(self, line: str) -> None:
        line = line.rstrip("\r")
        i, n = 0, len(line)
        while i < n:
            if self.quote:
                if line[i] == "\\":
                    i += 2
                elif line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                else:
                    i += 1
                continue
            char = line[i]
            if char == "#":
                n = i  # the rest is a comment: a backslash in it continues nothing
                break
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
            elif char in "'\"":
                triple = line[i:i + 3]
                self.quote = triple if triple in ('"""', "'''") else char
                i += len(self.quote)
                continue
            i += 1
        escaped_newline = i > n
        if self.quote in ("'", '"') and not escaped_newline:
            self.quote = None  # an unclosed one-line string: a syntax error, not ours to fix
        self.continued = self.quote is None and line[:n].endswith("\\")


def _quote(text: str) -> str:
    return "'" + _cut(text) + "'"


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _removed_note(number: int, line: int, kind: str, text: str) -> str:
    why = {
        "magic": "magics only work inside IPython",
        "shell command": "shell commands only run inside IPython",
        "get_ipython() call": "get_ipython() exists only inside IPython",
    }[kind]
    return (f"cell {number}, line {line}: removed {_quote(text)} ({why}; the grader imports "
            "your tagged cells as a plain Python module)")


def _unknown_tag_note(number: int, module: str, modules: list[str]) -> str:
    close = difflib.get_close_matches(module, modules, n=1)
    hint = f"did you mean {TAG_PREFIX}{close[0]}?" if close else \
        "known: " + ", ".join(TAG_PREFIX + m for m in modules)
    return f"cell {number}: tag {TAG_PREFIX}{_cut(module)} names no exercise module, so the " \
           f"cell is not graded ({hint})"


def _not_code_note(number: int, module: str, cell_type) -> str:
    return (f"cell {number} is tagged {TAG_PREFIX}{module} but is a {cell_type} cell, so it "
            "is not graded; if it holds code, make it a code cell (press Y in command mode)")


def _first_line(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> int:
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    while first > 1 and lines[first - 2].lstrip().startswith("#"):
        first -= 1
    return first


def _title(solution_source: str, module: str) -> str:
    try:
        doc = ast.get_docstring(ast.parse(solution_source)) or ""
    except SyntaxError:
        doc = ""
    first = doc.strip().split("\n", 1)[0].strip().rstrip(".")
    return first or module


def _intro(module: str, title: str, solved: bool) -> str:
    tag = TAG_PREFIX + module
    version = ("This is the solved notebook: every tagged cell holds the reference "
               "solution." if solved else
               "Replace each `raise NotImplementedError(...)` line with your code and keep "
               "the signatures.")
    return (f"# {title}\n\n"
            f"Read the lesson, then fill in the code cells tagged `{tag}`. {version} "
            f"The grader takes exactly the cells tagged `{tag}`, joined from top to bottom, "
            f"as your `{module}.py`; untagged cells are yours for exploring and are never "
            "graded. Adding a cell of your own to the exercise? Give it the same tag.")


def _check_explanation(module: str) -> str:
    return ("## Check your work\n\n"
            "**Save the notebook first** (Ctrl+S, or Cmd+S on a Mac): the check reads the "
            "file on disk, not what this browser tab shows. The next cell builds "
            f"`{module}.py` from the cells tagged `{TAG_PREFIX}{module}` and grades it exactly "
            f"like `grader check --exercise {module}`: in a separate process, against the "
            "reference, one line per function with what went wrong and a hint. Where the "
            "feedback names a line, it also names the cell: cell N is the N-th cell from "
            "the top of the notebook, markdown cells included. "
            "Magics (`%...`) and shell commands (`!...`) in tagged cells are removed, with a "
            "note. If you rename this notebook, change the file name in the next cell.")


def _read(path: Path) -> bytes:
    """The notebook, through the reader every entry point uses (no link followed)."""
    from grader.batch.unpack import UnpackError, read
    try:
        return read(path).files[path.name]
    except UnpackError as err:
        raise NotebookError(f"{path}: {err.reason}") from None
    except (GraderError, KeyError):
        raise NotebookError(f"{path}: cannot read it; save the notebook as .ipynb "
                            "and check the file name") from None


def _find_course() -> Path:
    here = Path.cwd().resolve()
    for folder in [here, *here.parents]:
        if (folder / "course.yaml").is_file():
            return folder / "course.yaml"
    return Path(__file__).resolve().parent.parent / "course.yaml"
