"""Tests of grader.generate: stubs derived from solutions/, and exercises/ kept in sync."""

import importlib.util
import inspect
import textwrap
from pathlib import Path

import pytest

from grader.generate import (
    BEGIN_MARKER,
    END_MARKER,
    GenerateError,
    find_regions,
    generate,
    make_stub,
    solution_modules,
)

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
MODULES = solution_modules(SOLUTIONS)


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def own_functions(module):
    return [
        (name, fn)
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if fn.__module__ == module.__name__ and not name.startswith("_")
    ]


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


GOOD = src(
    '''
    """Module doc."""

    import numpy as np

    SCALE = 2.0


    def double(x):
        """Return SCALE * x.

        Hint: multiply.
        """
        # BEGIN SOLUTION
        y = SCALE * np.asarray(x)
        return y
        # END SOLUTION


    class Box:
        def area(self, w, h):
            """Area."""
            if w < 0:
                # BEGIN SOLUTION
                secret_line_one = abs(w)
                # END SOLUTION
            return w * h


    def given(x):
        return x
    '''
)


# ------------------------------------------------------------------- drift


def test_exercises_are_up_to_date():
    stale = generate(SOLUTIONS, EXERCISES, check=True)
    assert stale == [], f"exercises/ is out of date for {stale}: run `grader generate`"


def test_there_are_solution_modules():
    names = {p.name for p in MODULES}
    assert {"activations.py", "initializers.py", "clipping.py", "backward.py"} <= names


@pytest.fixture
def copy_tree(tmp_path):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    for path in MODULES:
        (solutions / path.name).write_bytes(path.read_bytes())
    exercises = tmp_path / "exercises"
    written = generate(solutions, exercises)
    assert written == sorted([exercises / p.name for p in MODULES]
                             + [exercises / f"{p.stem}.ipynb" for p in MODULES]
                             + [solutions / f"{p.stem}.ipynb" for p in MODULES])
    return solutions, exercises


def test_check_reports_nothing_right_after_generate(copy_tree):
    solutions, exercises = copy_tree
    assert generate(solutions, exercises, check=True) == []


def test_check_reports_a_hand_edited_stub(copy_tree):
    solutions, exercises = copy_tree
    stub = exercises / "clipping.py"
    stub.write_text(stub.read_text() + "# a hand edit\n")
    assert generate(solutions, exercises, check=True) == [stub]


def test_check_reports_a_solution_changed_without_regenerating(copy_tree):
    solutions, exercises = copy_tree
    solution = solutions / "backward.py"
    solution.write_text(solution.read_text().replace("Exercise 4", "Exercise four"))
    assert generate(solutions, exercises, check=True) == [
        exercises / "backward.ipynb", exercises / "backward.py", solutions / "backward.ipynb"]


def test_check_reports_an_answer_changed_in_the_solved_notebook_only(copy_tree):
    solutions, exercises = copy_tree
    solution = solutions / "clipping.py"
    solution.write_text(solution.read_text().replace("scale = min(coef, 1.0)",
                                                     "scale = min(coef, 1.0)  # never up"))
    assert generate(solutions, exercises, check=True) == [solutions / "clipping.ipynb"]


@pytest.mark.parametrize("folder", ["exercises", "solutions"])
def test_check_reports_a_hand_edited_notebook(copy_tree, folder):
    solutions, exercises = copy_tree
    notebook = (exercises if folder == "exercises" else solutions) / "clipping.ipynb"
    notebook.write_text(notebook.read_text().replace("import numpy as np", "import numpy"))
    assert generate(solutions, exercises, check=True) == [notebook]
    generate(solutions, exercises)
    assert generate(solutions, exercises, check=True) == []


def test_check_reports_a_changed_lesson(copy_tree, monkeypatch):
    from grader import lessons

    solutions, exercises = copy_tree
    changed = lessons.Lesson("A new lesson.", lessons.LESSONS["clipping"].demo)
    monkeypatch.setitem(lessons.LESSONS, "clipping", changed)
    assert generate(solutions, exercises, check=True) == [
        exercises / "clipping.ipynb", solutions / "clipping.ipynb"]


def test_generated_notebooks_are_byte_stable(copy_tree):
    solutions, exercises = copy_tree
    notebooks = sorted([*exercises.glob("*.ipynb"), *solutions.glob("*.ipynb")])
    before = {path: path.read_bytes() for path in notebooks}
    generate(solutions, exercises)
    assert {path: path.read_bytes() for path in notebooks} == before
    for path in notebooks:
        assert path.read_bytes() == (REPO / path.parent.name / path.name).read_bytes()


def test_check_reports_missing_and_extra_notebooks(copy_tree):
    solutions, exercises = copy_tree
    (solutions / "backward.ipynb").unlink()
    (exercises / "scratch.ipynb").write_text("{}")
    (solutions / "_notes.ipynb").write_text("{}")
    assert generate(solutions, exercises, check=True) == [
        exercises / "scratch.ipynb", solutions / "backward.ipynb"]


def test_check_reports_missing_and_extra_files_and_writes_nothing(copy_tree):
    solutions, exercises = copy_tree
    (exercises / "activations.py").unlink()
    (exercises / "leftover.py").write_text("x = 1\n")
    (exercises / "_private.py").write_text("x = 1\n")
    before = sorted(p.name for p in exercises.iterdir())
    stale = generate(solutions, exercises, check=True)
    assert stale == [exercises / "activations.py", exercises / "leftover.py"]
    assert sorted(p.name for p in exercises.iterdir()) == before


def test_generate_removes_orphaned_stubs_only(copy_tree):
    solutions, exercises = copy_tree
    (solutions / "clipping.py").unlink()
    (exercises / "mine.py").write_text("x = 1\n")
    (exercises / "mine.ipynb").write_text('{"metadata": {}}')
    (solutions / "ours.ipynb").write_text('{"metadata": {}}')
    generate(solutions, exercises)
    kept = [p.stem for p in MODULES if p.stem != "clipping"]
    names = sorted(p.name for p in exercises.iterdir() if p.suffix == ".py")
    assert names == sorted([f"{m}.py" for m in kept] + ["mine.py"])
    notebooks = sorted(p.name for p in exercises.iterdir() if p.suffix == ".ipynb")
    assert notebooks == sorted([f"{m}.ipynb" for m in kept] + ["mine.ipynb"])
    solved = sorted(p.name for p in solutions.iterdir() if p.suffix == ".ipynb")
    assert solved == sorted([f"{m}.ipynb" for m in kept] + ["ours.ipynb"])


def test_generate_skips_private_modules_and_leaves_no_temp_files(tmp_path):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    (solutions / "_helpers.py").write_text("x = 1\n")
    (solutions / "double.py").write_text(GOOD)
    written = generate(solutions, tmp_path / "out")
    assert written == [tmp_path / "out" / "double.ipynb", tmp_path / "out" / "double.py",
                       solutions / "double.ipynb"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["double.ipynb", "double.py"]
    assert sorted(p.name for p in solutions.iterdir()) == ["_helpers.py", "double.ipynb",
                                                           "double.py"]
    assert "The `double` exercise." in (tmp_path / "out" / "double.ipynb").read_text()
    text = written[1].read_text()
    assert text.splitlines()[0].startswith("# Generated by `grader generate` from solutions/")
    assert text.split("\n", 1)[1] == make_stub(GOOD, "double.py")


def test_generate_needs_an_existing_solutions_folder(tmp_path):
    with pytest.raises(GenerateError, match="no such directory"):
        generate(tmp_path / "nowhere", tmp_path / "out")


# ------------------------------------------------------------------- make_stub


def test_regions_are_found_with_their_function():
    regions = find_regions(GOOD, "good.py")
    assert [(r.function, r.begin, r.end, r.indent) for r in regions] == [
        ("double", 13, 16, "    "),
        ("area", 23, 25, "            "),
    ]


def test_stub_replaces_each_region_by_one_raise_at_its_indentation():
    stub = make_stub(GOOD, "good.py")
    expected = GOOD.replace(
        "    # BEGIN SOLUTION\n    y = SCALE * np.asarray(x)\n    return y\n    # END SOLUTION\n",
        '    raise NotImplementedError("double: not implemented yet")\n',
    ).replace(
        "            # BEGIN SOLUTION\n            secret_line_one = abs(w)\n"
        "            # END SOLUTION\n",
        '            raise NotImplementedError("area: not implemented yet")\n',
    )
    assert stub == expected


def test_stub_keeps_signature_docstring_constants_and_given_code():
    stub = make_stub(GOOD, "good.py")
    for kept in ('"""Module doc."""', "SCALE = 2.0", "def double(x):", "Hint: multiply.",
                 "def given(x):", "        return w * h", "import numpy as np"):
        assert kept in stub


def test_stub_keeps_windows_line_endings():
    source = GOOD.replace("\n", "\r\n")
    stub = make_stub(source, "good.py")
    assert stub == make_stub(GOOD, "good.py").replace("\n", "\r\n")


def test_no_solution_line_leaks_into_the_stub():
    stub_lines = {line.strip() for line in make_stub(GOOD, "good.py").splitlines()}
    for line in ["y = SCALE * np.asarray(x)", "return y", "secret_line_one = abs(w)",
                 BEGIN_MARKER, END_MARKER]:
        assert line not in stub_lines


def test_marker_text_inside_a_string_is_not_a_marker():
    source = src(
        '''
        def f():
            """Doc that mentions
            # BEGIN SOLUTION
            in its text."""
            # BEGIN SOLUTION
            return 1
            # END SOLUTION
        '''
    )
    stub = make_stub(source, "s.py")
    assert "    # BEGIN SOLUTION\n    in its text." in stub
    assert "return 1" not in stub


def test_trailing_comment_after_the_last_statement_is_inside_the_function():
    source = src(
        """
        def f():
            # BEGIN SOLUTION
            return 1
            # END SOLUTION


        x = 2
        """
    )
    assert make_stub(source, "s.py").startswith(
        'def f():\n    raise NotImplementedError("f: not implemented yet")\n\n\nx = 2\n'
    )


BAD = {
    "end_without_begin": (
        """
        def f():
            return 1
            # END SOLUTION
        """,
        3,
        "without a matching",
    ),
    "begin_never_closed": (
        """
        def f():
            # BEGIN SOLUTION
            return 1
        """,
        2,
        "never closed",
    ),
    "nested": (
        """
        def f():
            # BEGIN SOLUTION
            # BEGIN SOLUTION
            return 1
            # END SOLUTION
            # END SOLUTION
        """,
        3,
        "nested",
    ),
    "module_level": (
        """
        # BEGIN SOLUTION
        x = 1
        # END SOLUTION
        """,
        1,
        "outside a function",
    ),
    "class_body": (
        """
        class A:
            # BEGIN SOLUTION
            x = 1
            # END SOLUTION
        """,
        2,
        "outside a function",
    ),
    "in_the_signature": (
        """
        def f(a,
              # BEGIN SOLUTION
              b):
            return a
            # END SOLUTION
        """,
        2,
        "outside a function",
    ),
    "two_functions": (
        """
        def f():
            # BEGIN SOLUTION
            return 1


        def g():
            return 2
            # END SOLUTION
        """,
        8,
        "not in the same function",
    ),
    "different_indentation": (
        """
        def f(x):
            # BEGIN SOLUTION
            if x:
                return 1
                # END SOLUTION
            return 2
        """,
        5,
        "same indentation",
    ),
    "two_regions_in_one_function": (
        """
        def f(x):
            # BEGIN SOLUTION
            y = x
            # END SOLUTION
            # BEGIN SOLUTION
            return y
            # END SOLUTION
        """,
        5,
        "one region per function",
    ),
    "leaves_empty_block": (
        """
        def f(x):
            if x:
            # BEGIN SOLUTION
                return 1
            # END SOLUTION
            return 2
        """,
        3,
        "not be valid Python",
    ),
    "misspelt": (
        """
        def f():
            # BEGIN SOLUTIONS
            return 1
            # END SOLUTION
        """,
        2,
        "malformed marker",
    ),
    "no_space": (
        """
        def f():
            #BEGIN SOLUTION
            return 1
            # END SOLUTION
        """,
        2,
        "malformed marker",
    ),
    "inline": (
        """
        def f():
            x = 1  # BEGIN SOLUTION
            return x
            # END SOLUTION
        """,
        2,
        "own",
    ),
    "no_region_at_all": (
        """
        def f():
            return 1
        """,
        1,
        "no '# BEGIN SOLUTION' region",
    ),
    "not_python": (
        """
        def f(:
            # BEGIN SOLUTION
            return 1
            # END SOLUTION
        """,
        1,
        "not valid Python",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_markers_raise_generate_error_naming_file_and_line(case):
    source, line, reason = BAD[case]
    with pytest.raises(GenerateError) as info:
        make_stub(src(source), "sol/bad.py")
    message = str(info.value)
    assert message.startswith(f"sol/bad.py:{line}: "), message
    assert reason in message
    assert "\n" not in message


# ------------------------------------------------------------------- the real modules


@pytest.mark.parametrize("solution", MODULES, ids=lambda p: p.stem)
def test_stub_functions_raise_not_implemented_with_their_name(solution):
    stub = load(EXERCISES / solution.name, f"stub_{solution.stem}")
    regions = find_regions(solution.read_text(), solution.name)
    assert regions
    for region in regions:
        fn = getattr(stub, region.function)
        args = [
            None
            for p in inspect.signature(fn).parameters.values()
            if p.default is inspect.Parameter.empty
        ]
        with pytest.raises(NotImplementedError, match=f"^{region.function}: not implemented yet$"):
            fn(*args)


@pytest.mark.parametrize("solution", MODULES, ids=lambda p: p.stem)
def test_every_public_function_of_a_stub_is_an_exercise(solution):
    stub = load(EXERCISES / solution.name, f"stub_{solution.stem}")
    regions = {r.function for r in find_regions(solution.read_text(), solution.name)}
    assert {name for name, _ in own_functions(stub)} <= regions


@pytest.mark.parametrize("solution", MODULES, ids=lambda p: p.stem)
def test_no_solution_line_of_a_real_module_leaks(solution):
    source = solution.read_text()
    lines = source.splitlines()
    inside = set()
    for region in find_regions(source, solution.name):
        inside |= {line.strip() for line in lines[region.begin : region.end - 1]}
    outside = {line.strip() for line in lines} - inside
    leaked = (inside - outside - {""}) & {
        line.strip() for line in (EXERCISES / solution.name).read_text().splitlines()
    }
    assert not leaked


@pytest.mark.parametrize("solution", MODULES, ids=lambda p: p.stem)
def test_solution_docstrings_teach(solution):
    module = load(solution, f"solution_{solution.stem}")
    assert f"grader check --exercise {solution.stem}" in (module.__doc__ or "")
    functions = own_functions(module)
    assert functions
    for name, fn in functions:
        doc = inspect.getdoc(fn) or ""
        assert "Hint" in doc, f"{solution.stem}.{name}: docstring has no Hint line"
        assert "shape" in doc.lower(), f"{solution.stem}.{name}: docstring gives no shapes"
