"""Tests of grader.notebook and grader.lessons: lesson notebooks, and notebooks read back."""

import contextlib
import inspect
import io
import json
import math
import re
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import nbformat
import nbformat.v4 as v4
import pytest

from grader.checks import CATALOGUE, status
from grader.course import load_course
from grader.errors import GraderError, NotebookError
from grader.generate import find_regions
from grader.grade import Options, grade_files
from grader.lessons import LESSONS, lesson_for
from grader.notebook import (
    MAX_NOTEBOOK_BYTES,
    annotate_lines,
    check_here,
    clean_cell,
    is_generated_notebook,
    lesson_notebook,
    locate_line,
    notebook_text,
    read_notebook,
    split_functions,
)

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
COURSE = load_course(REPO / "course.yaml", CATALOGUE)
MODULES = [exercise.module for exercise in COURSE.exercises]


def module_from(source: bytes, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"{name}.py", "exec"), module.__dict__)  # noqa: S102 - our own files
    return module


def checked_functions(module: str) -> list[str]:
    return [check.function for check in COURSE.exercise(module).checks]


def notebook_bytes(*cells, minor: int = 5) -> bytes:
    """A notebook from ("code" | "markdown", source, tags) triples, as Jupyter would save it."""
    made = []
    for index, (kind, source, tags) in enumerate(cells):
        cell = v4.new_code_cell(source) if kind == "code" else v4.new_markdown_cell(source)
        if tags:
            cell.metadata["tags"] = list(tags)
        cell["id"] = f"c{index}"
        made.append(cell)
    notebook = v4.new_notebook(cells=made)
    notebook.nbformat_minor = minor
    return nbformat.writes(notebook).encode("utf-8")


def tagged(source: str, module: str = "clipping"):
    return ("code", source, [f"module:{module}"])


def read(*cells, modules=("clipping",)):
    return read_notebook(notebook_bytes(*cells), "work.ipynb", list(modules))


def solved_cell(module: str = "clipping", function: str = "global_norm") -> str:
    cells = split_functions((SOLUTIONS / f"{module}.py").read_text())
    return next(cell for cell in cells if f"def {function}(" in cell)


# ------------------------------------------------------------------- round trips


@pytest.mark.parametrize("module", MODULES)
def test_solved_notebook_reads_back_into_a_module_defining_every_function(module):
    files, notes = read_notebook((SOLUTIONS / f"{module}.ipynb").read_bytes(),
                                 f"{module}.ipynb", [module])
    assert notes == []
    assert list(files) == [f"{module}.py"]
    loaded = module_from(files[f"{module}.py"], f"nb_solved_{module}")
    reference = module_from((SOLUTIONS / f"{module}.py").read_bytes(), f"ref_{module}")
    public = {n for n, f in inspect.getmembers(reference, inspect.isfunction) if n[0] != "_"}
    for name in public | set(checked_functions(module)):
        assert callable(getattr(loaded, name)), f"{module}.{name} missing"


@pytest.mark.parametrize("module", MODULES)
def test_stub_notebook_functions_raise_not_implemented(module):
    files, notes = read_notebook((EXERCISES / f"{module}.ipynb").read_bytes(),
                                 f"{module}.ipynb", [module])
    assert notes == []
    loaded = module_from(files[f"{module}.py"], f"nb_stub_{module}")
    for name in checked_functions(module):
        function = getattr(loaded, name)
        required = [p for p in inspect.signature(function).parameters.values()
                    if p.default is inspect.Parameter.empty]
        with pytest.raises(NotImplementedError, match=name):
            function(*[None] * len(required))


def student_fills(module: str, *extra_cells) -> bytes:
    """The stub notebook with the solution's code pasted into each tagged cell, plus
    whatever cells a student added."""
    stub = nbformat.read(EXERCISES / f"{module}.ipynb", as_version=4)
    solved = nbformat.read(SOLUTIONS / f"{module}.ipynb", as_version=4)
    answers = {cell.id: cell.source for cell in solved.cells}
    for cell in stub.cells:
        if cell.metadata.get("tags"):
            cell.source = answers[cell.id]
            cell.outputs = [v4.new_output("stream", name="stdout", text="ok\n")]
    stub.cells.extend(extra_cells)
    return nbformat.writes(stub).encode("utf-8")


@pytest.mark.parametrize("module", MODULES)
def test_a_student_who_fills_the_stub_notebook_gets_full_marks(module):
    crashing = [v4.new_code_cell("raise SystemExit('exploring')"),
                v4.new_code_cell("import os\nos._exit(3)"),
                v4.new_code_cell("while True:\n    pass"),
                v4.new_code_cell("%matplotlib inline\n!pip install torch")]
    data = student_fills(module, *crashing)
    files, notes = read_notebook(data, f"{module}.ipynb", [module])
    assert notes == []
    assert b"exploring" not in files[f"{module}.py"] and b"os._exit" not in files[f"{module}.py"]
    result = grade_files(files, f"{module}.ipynb", "student", COURSE, Options(exercise=module))
    assert result.max_score == sum(c.points for c in COURSE.exercise(module).checks)
    assert result.score == result.max_score, [
        (case.status, case.message) for check in result.checks for case in check.failures]


def test_untagged_cells_are_never_included():
    files, notes = read(("code", "import nonexistent_module_xyz\nraise SystemExit", []),
                        ("markdown", "# notes", []),
                        tagged("X = 1"),
                        ("code", "1 / 0", ["exploration"]))
    assert files == {"clipping.py": b"# --- cell 3 ---\nX = 1\n"}
    assert notes == []


# ------------------------------------------------------------------- how cells are joined


def test_cells_are_joined_in_order_each_after_its_cell_header():
    files, _ = read(tagged("import numpy as np"), ("markdown", "text", []),
                    tagged("def f():\n    return np.pi"),
                    tagged("A = 1", "backward"), modules=("clipping", "backward"))
    assert files["clipping.py"].decode() == (
        "# --- cell 1 ---\nimport numpy as np\n\n"
        "# --- cell 3 ---\ndef f():\n    return np.pi\n")
    assert files["backward.py"] == b"# --- cell 4 ---\nA = 1\n"


def test_a_cell_tagged_for_two_modules_goes_into_both():
    files, notes = read(("code", "SHARED = 2", ["module:clipping", "module:backward"]),
                        modules=("clipping", "backward"))
    assert files == {"clipping.py": b"# --- cell 1 ---\nSHARED = 2\n",
                     "backward.py": b"# --- cell 1 ---\nSHARED = 2\n"}
    assert notes == []


def test_locate_line_maps_module_lines_back_to_cells():
    files, _ = read(tagged("import numpy as np"), ("markdown", "text", []),
                    tagged("def f():\n    return np.pi"))
    source = files["clipping.py"]
    lines = source.decode().split("\n")
    assert lines[5] == "    return np.pi"
    assert locate_line(source, 6) == (3, 2)
    assert locate_line(source, 2) == (1, 1)
    assert locate_line(source, 1) is None  # a header line
    assert locate_line(source, 99) is None
    text = "failed (clipping.py:6 in f); other.py:3 untouched"
    assert annotate_lines(text, files) == \
        "failed (clipping.py:6 (cell 3, line 2) in f); other.py:3 untouched"


def test_a_notebook_without_cell_ids_version_4_4_is_read():
    data = json.loads(notebook_bytes(tagged("X = 1")))
    data["nbformat_minor"] = 4
    for cell in data["cells"]:
        del cell["id"]
    files, notes = read_notebook(json.dumps(data).encode(), "old.ipynb", ["clipping"])
    assert files == {"clipping.py": b"# --- cell 1 ---\nX = 1\n"} and notes == []


def editor_quirk(kind: str) -> bytes:
    notebook = json.loads(notebook_bytes(tagged("X = 1"), tagged("Y = 2")))
    cells = notebook["cells"]
    if kind == "duplicate ids":
        cells[1]["id"] = cells[0]["id"]
    elif kind == "ids in a 4.4 notebook":
        notebook["nbformat_minor"] = 4
    elif kind == "no ids in a 4.5 notebook":
        for cell in cells:
            del cell["id"]
    elif kind == "an id with a space":
        cells[0]["id"] = "my cell"
    elif kind == "a newer minor version":
        notebook["nbformat_minor"] = 9
        cells[0]["metadata"]["future"] = {"x": 1}
    return json.dumps(notebook).encode()


@pytest.mark.parametrize("kind", ["duplicate ids", "ids in a 4.4 notebook",
                                  "no ids in a 4.5 notebook", "an id with a space",
                                  "a newer minor version"])
def test_editor_quirks_in_cell_ids_and_versions_are_accepted_quietly(kind, recwarn):
    files, notes = read_notebook(editor_quirk(kind), "work.ipynb", ["clipping"])
    assert files == {"clipping.py": b"# --- cell 1 ---\nX = 1\n\n# --- cell 2 ---\nY = 2\n"}
    assert notes == [] and len(recwarn) == 0


# ------------------------------------------------------------------- tags


def test_a_module_without_tagged_cells_is_missing_with_a_note_on_how_to_tag():
    files, notes = read(("code", "def global_norm(grads):\n    return 0.0", []),
                        tagged("X = 1", "backward"), modules=("clipping", "backward"))
    assert list(files) == ["backward.py"]
    assert len(notes) == 1
    note = notes[0]
    assert "no code cell is tagged module:clipping" in note
    assert "clipping cells the tag module:clipping" in note
    assert "Tags" in note and "property inspector" in note
    assert "\n" not in note


def test_a_cell_tagged_for_an_unknown_module_is_left_out_with_a_note():
    files, notes = read(tagged("X = 1", "cliping"), tagged("Y = 2"))
    assert files == {"clipping.py": b"# --- cell 2 ---\nY = 2\n"}
    assert notes == ["cell 1: tag module:cliping names no exercise module, so the cell is "
                     "not graded (did you mean module:clipping?)"]


def test_an_unknown_module_far_from_any_lists_the_known_tags():
    _, notes = read(tagged("X = 1", "zzz"), tagged("Y = 2"), modules=("clipping", "backward"))
    assert "known: module:clipping, module:backward" in notes[0]


def test_a_tagged_markdown_cell_gets_a_note_and_is_not_code():
    files, notes = read(("markdown", "def f(): pass", ["module:clipping"]), tagged("Y = 2"))
    assert files == {"clipping.py": b"# --- cell 2 ---\nY = 2\n"}
    assert len(notes) == 1 and "cell 1 is tagged module:clipping but is a markdown cell" \
        in notes[0]


# ------------------------------------------------------------------- IPython syntax


MAGICS = '''\
%matplotlib inline
import numpy as np
!pip install numpy
get_ipython().run_line_magic("time", "x = 1")
ip = get_ipython()


def f(x):
    """A docstring whose line
    % starts with a percent sign
    ! and one with a bang."""
    total = (x
             % 3
             != 4)
    for _ in range(2):
        %time y = 1
    return total


get_ipython().run_cell_magic("bash", "",
                             "echo hi")
VALUE = f(5)
'''


def test_magics_shell_escapes_and_get_ipython_are_removed_and_noted():
    files, notes = read(("markdown", "intro", []), tagged(MAGICS))
    source = files["clipping.py"].decode()
    lines = source.split("\n")
    assert lines[0] == "# --- cell 2 ---"
    body = lines[1:]
    original = MAGICS.split("\n")
    assert len(body) == len(original)  # every other line keeps its number
    changed = {i + 1: (a, b) for i, (a, b) in enumerate(zip(original, body)) if a != b}
    assert sorted(changed) == [1, 3, 4, 5, 16, 20, 21]
    assert body[0] == "pass  # magic removed by the grader"
    assert body[2] == "pass  # shell command removed by the grader"
    assert body[15] == "        pass  # magic removed by the grader"
    assert body[20] == ""  # the continuation of a removed get_ipython() call
    for kept in ["    % starts with a percent sign", "    ! and one with a bang.\"\"\"",
                 "             % 3", "             != 4)"]:
        assert kept in body
    assert [n.split(":")[0] for n in notes] == [
        "cell 2, line 1", "cell 2, line 3", "cell 2, line 4", "cell 2, line 5",
        "cell 2, line 16", "cell 2, line 20"]
    assert "'%matplotlib inline'" in notes[0] and "magics only work inside IPython" in notes[0]
    assert "'!pip install numpy'" in notes[1] and "shell" in notes[1]
    assert "get_ipython() exists only inside IPython" in notes[2]
    module = module_from(files["clipping.py"], "magic_module")
    assert module.VALUE is True and module.f.__doc__.startswith("A docstring")


def test_a_cell_magic_leaves_out_the_whole_cell_and_the_rest_still_works():
    files, notes = read(tagged("%%timeit\nX = 1"), tagged("\n%%bash\necho hi"),
                        tagged("Y = 2"))
    assert files == {"clipping.py": b"# --- cell 3 ---\nY = 2\n"}
    assert len(notes) == 2
    assert notes[0].startswith("cell 1: left out the whole cell") and "'%%timeit'" in notes[0]
    assert notes[1].startswith("cell 2: left out the whole cell") and "'%%bash'" in notes[1]


def test_a_module_whose_only_cell_is_a_cell_magic_is_missing_without_a_tag_note():
    files, notes = read(tagged("%%time\nX = 1"))
    assert files == {}
    assert len(notes) == 1 and "cell magic" in notes[0]


def test_strings_brackets_and_continuations_are_not_mistaken_for_magics():
    source = ('s = "a \\\n%b"\nt = \'\'\'\n!x\n\'\'\'\nu = 1 + \\\n    2\n'
              'v = [1,\n# a comment (\n%2]\nw = "#" \\\n    "!"\n')
    code, notes = clean_cell(source, 1)
    assert code == source and notes == []


def test_long_removed_lines_are_shortened_in_the_note():
    _, notes = clean_cell("!" + "x" * 200, 4)
    assert len(notes) == 1 and "..." in notes[0] and len(notes[0]) < 200


# ------------------------------------------------------------------- errors in cells


def test_a_syntax_error_in_a_tagged_cell_is_graded_as_an_import_error():
    good = solved_cell("clipping", "global_norm")
    files, notes = read(tagged("import numpy as np"), ("markdown", "text", []),
                        tagged(good), tagged("def clip_grad_norm(grads, max_norm:\n    pass"))
    assert notes == []
    source = files["clipping.py"]
    assert b"def clip_grad_norm(grads, max_norm:" in source
    result = grade_files(files, "work.ipynb", "student", COURSE, Options(exercise="clipping"))
    assert result.score == 0
    cases = [case for check in result.checks for case in check.cases]
    assert cases and all(case.status == status.IMPORT_ERROR for case in cases)
    where = cases[0].message
    match = re.search(r"clipping\.py:(\d+)", where)
    assert match, where
    assert locate_line(source, int(match.group(1))) == (4, 1)


# ------------------------------------------------------------------- size and outputs


def test_huge_outputs_are_ignored_and_fast():
    plain = notebook_bytes(tagged("X = 1"), ("code", "print('x')", []))
    notebook = json.loads(plain)
    big = "y" * (10 * 2**20)
    notebook["cells"][0]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": big},
        {"output_type": "display_data", "metadata": {}, "data": {"text/plain": big[:10]}}]
    notebook["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout",
                                        "text": ["z\n"] * 100_000}]
    data = json.dumps(notebook).encode()
    assert 10 * 2**20 < len(data) < MAX_NOTEBOOK_BYTES
    start = time.perf_counter()
    files, notes = read_notebook(data, "big.ipynb", ["clipping"])
    assert time.perf_counter() - start < 1.0
    assert (files, notes) == read_notebook(plain, "plain.ipynb", ["clipping"])


def test_a_notebook_over_the_size_limit_is_refused():
    data = b" " * (MAX_NOTEBOOK_BYTES + 1)
    with pytest.raises(NotebookError) as info:
        read_notebook(data, "huge.ipynb", ["clipping"])
    assert str(info.value).startswith("huge.ipynb: ") and "20 MB" in str(info.value)
    assert "Clear Outputs" in str(info.value) and "\n" not in str(info.value)


def bad_notebook(kind: str) -> bytes:
    good = json.loads(notebook_bytes(tagged("X = 1")))
    if kind == "not json":
        return b"def f():\n    return 1\n"
    if kind == "binary":
        return bytes(range(256)) * 4
    if kind == "truncated":
        return notebook_bytes(tagged("X = 1"))[:-40]
    if kind == "a list":
        return b"[1, 2, 3]"
    if kind == "no nbformat":
        return json.dumps({"cells": []}).encode()
    if kind in ("version 3", "version 5", "version as text"):
        good["nbformat"] = {"version 3": 3, "version 5": 5, "version as text": "4"}[kind]
        return json.dumps(good).encode()
    if kind == "cell without source":
        del good["cells"][0]["source"]
        return json.dumps(good).encode()
    if kind == "unknown cell type":
        good["cells"][0]["cell_type"] = "sql"
        return json.dumps(good).encode()
    if kind == "tags not a list":
        good["cells"][0]["metadata"]["tags"] = "module:clipping"
        return json.dumps(good).encode()
    if kind == "version 4.0":
        good["nbformat"] = 4.0
        return json.dumps(good).encode()
    if kind == "minor as text":
        good["nbformat_minor"] = "5"
        return json.dumps(good).encode()
    if kind == "a cell that is not an object":
        good["cells"].append("X = 2")
        return json.dumps(good).encode()
    if kind == "negative minor":
        good["nbformat_minor"] = -1
        return json.dumps(good).encode()
    if kind == "deeply nested":
        return b"[" * 100_000 + b"]" * 100_000
    raise AssertionError(kind)


BAD = {
    "not json": "not valid JSON",
    "binary": "not valid JSON",
    "truncated": "not valid JSON",
    "a list": "not a Jupyter notebook",
    "no nbformat": "not a Jupyter notebook",
    "version 3": "version 3 is not supported",
    "version 5": "version 5 is not supported",
    "version as text": "version '4' is not supported",
    "cell without source": "not a valid notebook",
    "unknown cell type": "not a valid notebook (cell 1: ",
    "tags not a list": "not a valid notebook (cell 1 metadata.tags: ",
    "deeply nested": "not a notebook: not valid JSON",
    "version 4.0": "version 4.0 is not supported",
    "minor as text": "whole number 'nbformat_minor'",
    "a cell that is not an object": "a list of objects",
    "negative minor": "not a valid notebook",
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_malformed_notebooks_raise_one_line_naming_the_file(kind):
    with pytest.raises(NotebookError) as info:
        read_notebook(bad_notebook(kind), "alice/work.ipynb", ["clipping"])
    message = str(info.value)
    assert isinstance(info.value, GraderError)
    assert message.startswith("alice/work.ipynb: "), message
    assert BAD[kind] in message, message
    assert "\n" not in message and len(message) < 400


# ------------------------------------------------------------------- lesson notebooks


@pytest.mark.parametrize("solved", [False, True], ids=["stub", "solved"])
@pytest.mark.parametrize("module", MODULES)
def test_lesson_notebook_layout(module, solved):
    source = (SOLUTIONS / f"{module}.py").read_text()
    lesson = LESSONS[module]
    notebook = lesson_notebook(module, source, solved, lesson.markdown, lesson.demo)
    nbformat.validate(notebook)
    cells = notebook.cells
    assert [cell.id for cell in cells] == [f"{module}-{i}" for i in range(len(cells))]
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# Exercise ")
    assert cells[1].source == lesson.markdown.strip()
    exercise = [cell for cell in cells if cell.metadata.get("tags")]
    assert all(cell.cell_type == "code" for cell in exercise)
    assert all(cell.metadata.tags == [f"module:{module}"] for cell in exercise)
    assert "import numpy as np" in exercise[0].source and "def " not in exercise[0].source
    defs = [re.findall(r"^def (\w+)\(", cell.source, re.M) for cell in exercise[1:]]
    assert all(len(names) == 1 for names in defs)
    assert sorted(n for names in defs for n in names) == sorted(checked_functions(module))
    stubbed = ["raise NotImplementedError" in cell.source for cell in exercise[1:]]
    assert all(stubbed) if not solved else not any(stubbed)
    assert not any("SOLUTION" in cell.source for cell in exercise)
    explanation, check = cells[-2], cells[-1]
    assert explanation.cell_type == "markdown" and "Save the notebook first" in explanation.source
    assert check.cell_type == "code" and not check.metadata.get("tags")
    assert f'check_here("{module}.ipynb", "{module}")' in check.source
    assert notebook.metadata.grader["module"] == module


@pytest.mark.parametrize("module", MODULES)
def test_no_solution_line_leaks_into_the_stub_notebook(module):
    source = (SOLUTIONS / f"{module}.py").read_text()
    lines = source.splitlines()
    answer = {n for r in find_regions(source, module) for n in range(r.begin + 1, r.end)}
    inside = {lines[n - 1].strip() for n in answer}
    outside = {line.strip() for n, line in enumerate(lines, start=1) if n not in answer}
    secret = inside - outside - {""}
    notebook = nbformat.read(EXERCISES / f"{module}.ipynb", as_version=4)
    shown = {line.strip() for cell in notebook.cells for line in cell.source.splitlines()}
    assert secret and not secret & shown


def test_activation_constants_go_into_the_first_tagged_cell():
    notebook = nbformat.read(EXERCISES / "activations.ipynb", as_version=4)
    first = next(cell for cell in notebook.cells if cell.metadata.get("tags"))
    assert "SELU_ALPHA = " in first.source and "SELU_SCALE = " in first.source


def test_lesson_notebook_text_is_byte_stable():
    source = (SOLUTIONS / "clipping.py").read_text()
    texts = {notebook_text(lesson_notebook("clipping", source, False, "lesson", "x = 1"))
             for _ in range(3)}
    assert len(texts) == 1
    text = texts.pop()
    assert text.endswith("}\n") and is_generated_notebook(text)
    assert (EXERCISES / "clipping.ipynb").read_text() != text  # a different lesson


def test_is_generated_notebook():
    assert not is_generated_notebook(notebook_bytes(tagged("X = 1")).decode())
    assert not is_generated_notebook("not json")
    assert not is_generated_notebook("[]")


def test_split_functions_keeps_decorators_comments_and_trailing_code():
    code = ('"""Doc."""\n\nimport functools\n\nK = 1\n\n\n# about f\n@functools.cache\n'
            'def f():\n    return K\n\n\nTABLE = {"f": f}\n\n\ndef g():\n    pass\n')
    assert split_functions(code) == [
        "import functools\n\nK = 1",
        '# about f\n@functools.cache\ndef f():\n    return K\n\n\nTABLE = {"f": f}',
        "def g():\n    pass",
    ]


# ------------------------------------------------------------------- lessons


def test_every_exercise_has_a_lesson():
    assert set(MODULES) <= set(LESSONS)


POWER = re.compile(r"(\d+(?:\.\d+)?)\^(\d+) = (\d+(?:\.\d+)?(?:e[+-]?\d+)?)")


def test_every_power_quoted_in_a_lesson_is_right():
    found = 0
    for lesson in LESSONS.values():
        for base, exponent, value in POWER.findall(lesson.markdown):
            quoted = float(value)
            digits = len(value.split("e")[0].replace(".", "").lstrip("0"))
            exact = float(base) ** int(exponent)
            assert f"{exact:.{digits - 1}e}" == f"{quoted:.{digits - 1}e}", \
                f"{base}^{exponent} = {exact:.3g}, not {value}"
            found += 1
    assert found >= 5


def test_the_sigmoid_slopes_quoted_are_right():
    text = LESSONS["activations"].markdown
    sigmoid = 1 / (1 + math.exp(-2.0))
    assert "σ′(2) = 0.1050" in text and f"{sigmoid * (1 - sigmoid):.4f}" == "0.1050"
    assert "0.25^10 = 9.54e-7" in text


@pytest.mark.parametrize("module", sorted(LESSONS))
def test_lesson_demos_run(module):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(LESSONS[module].demo, {})  # noqa: S102 - our own lesson code
    assert out.getvalue().strip()


def test_a_module_without_a_lesson_gets_its_docstring():
    lesson = lesson_for("double", '"""Exercise 9: doubling.\n\nTwice the input."""\n')
    assert lesson.markdown == "Twice the input." and lesson.demo == ""


# ------------------------------------------------------------------- check_here


def test_check_here_prints_the_report_of_the_saved_notebook(tmp_path, capsys):
    shutil.copy(SOLUTIONS / "clipping.ipynb", tmp_path / "clipping.ipynb")
    check_here(tmp_path / "clipping.ipynb", "clipping", REPO / "course.yaml")
    out = capsys.readouterr().out
    assert "clipping" in out and "6/6" in out


def test_check_here_points_into_cells_and_prints_notes(tmp_path, capsys):
    stub = (EXERCISES / "clipping.ipynb").read_bytes()
    edited = stub.replace(b'"import numpy as np"', b'"%pylab\\nimport numpy as np"')
    assert edited != stub
    (tmp_path / "clipping.ipynb").write_bytes(edited)
    check_here(tmp_path / "clipping.ipynb", "clipping", REPO / "course.yaml")
    out = capsys.readouterr().out
    assert out.startswith("note: cell ") and "'%pylab'" in out
    assert re.search(r"clipping\.py:\d+ \(cell \d+, line \d+\)", out), out


def test_check_here_turns_grader_errors_into_one_line(tmp_path, capsys):
    check_here(tmp_path / "missing.ipynb", "clipping", REPO / "course.yaml")
    out = capsys.readouterr().out
    assert out.startswith("grader: error: ") and "save the notebook" in out
    assert out.count("\n") == 1


# ------------------------------------------------------------------- import cost


def test_the_py_grading_path_never_imports_nbformat():
    script = (
        "import sys\n"
        "import grader.cli\n"
        "from grader.checks import CATALOGUE\n"
        "from grader.course import load_course\n"
        "from grader.grade import Options, grade\n"
        f"course = load_course({str(REPO / 'course.yaml')!r}, CATALOGUE)\n"
        f"result = grade({str(SOLUTIONS)!r}, course, Options(exercise='clipping'))\n"
        "assert result.score == result.max_score, result\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('nbformat', 'nbconvert')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
