"""The `grader` command: a thin Click layer over the library.

Commands parse options, call one library function, format its result, and turn
a GraderError into one line on stderr with exit code 2.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

import click

from typing import TYPE_CHECKING

from grader import __version__
from grader.errors import GraderError
from grader.files import check_writable, write_json, write_text

if TYPE_CHECKING:
    from grader.course import Course

# The grader's own modules (numpy and the checks behind them) are
# imported inside the commands: `grader check` first starts the sandbox's
# zygote, so that its start-up overlaps with these imports.

REPO = Path(__file__).resolve().parent.parent


def _default(name: str) -> Path:
    """A course file or folder: in the current folder if there, else beside the package."""
    here = Path.cwd() / name
    return here if here.exists() else REPO / name


def _fail_cleanly(command):
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except GraderError as exc:
            click.echo(f"grader: error: {exc}", err=True)
            sys.exit(2)
    return wrapper


def _course_file(path: Path | None) -> Path:
    return path or _default("course.yaml")


def _course(path: Path | None) -> Course:
    from grader.checks import CATALOGUE
    from grader.course import load_course
    return load_course(_course_file(path), CATALOGUE)


def _grade(path: Path, course: Course, **options):
    from grader.grade import Options, grade
    return grade(path, course, Options(**options))


def _writable(*paths: Path | None) -> None:
    """Refuse, before grading, an output path that could not be written afterwards."""
    for path in paths:
        if path is not None:
            check_writable(path)


def _not_graded(reason: str, max_score: float) -> dict:
    """Gradescope-format results for a submission that could not be read (as batch
    writes them: render.unreadable)."""
    return {"score": 0.0, "max_score": max_score, "output": f"Not graded: {reason}",
            "tests": []}


def _not_graded_html(reason: str) -> str:
    import html
    return (f"<!doctype html><meta charset='utf-8'><title>Not graded</title>"
            f"<h1>Not graded</h1><p>{html.escape(reason)}</p>\n")


def _secret_or_fail(course: Course, public_only: bool) -> bytes | None:
    secret = None if public_only else course.secret()
    if secret is None and not public_only and course.hidden.cases_per_check:
        raise GraderError(f"hidden cases need the course secret: set {course.hidden.secret_env}"
                          " in the environment, or pass --public-only")
    return secret


def _style(use_colour: bool):
    return click.style if use_colour else (lambda text, **_: text)


course_option = click.option("--course", "course_path", type=click.Path(path_type=Path),
                             help="The course file (default: ./course.yaml).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grader")
def main() -> None:
    """Exercises and autograder for vanishing and exploding gradients.

    \b
    Students:     grader check                 (grades exercises/ on public cases)
    Instructors:  grader grade SUBMISSION --json results.json
    CI:           grader verify
    """


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--exercise", "-e", help="Grade only this exercise (id or module name).")
@click.option("--verbose", "-v", is_flag=True, help="Show every failing case in detail.")
@click.option("--color/--no-color", default=None, help="Colour the report (default: on a terminal).")
@click.option("--html", "html_path", type=click.Path(path_type=Path),
              help="Also write an HTML report with plots to this file.")
@course_option
@_fail_cleanly
def check(path, exercise, verbose, color, html_path, course_path):
    """Check your work on the public cases and explain what is wrong.

    PATH is the folder holding your modules, or your notebook (default:
    exercises/). In a notebook, only code cells tagged module:NAME are graded.
    Exit code 0 when every check passes, 1 when some fail.

    \b
    Example:
      grader check --exercise backward
      grader check exercises/backward.ipynb --html report.html
    """
    _writable(html_path)
    from grader.sandbox.spawn import prestart
    prestart()
    course = _course(course_path)
    path = path or _default("exercises")
    from grader.batch.unpack import UnpackError
    try:
        result = _grade(path, course, exercise=exercise, children=os.cpu_count() or 1)
    except UnpackError as exc:
        click.echo(f"not graded: {exc.reason}")
        if html_path:
            write_text(html_path, _not_graded_html(exc.reason))
        sys.exit(1)
    from grader.report.text import render
    colour = sys.stdout.isatty() if color is None else color
    click.echo(render(result, _style(colour), verbose))
    if html_path:
        _write_html(html_path, result)
    sys.exit(0 if result.score == result.max_score else 1)


def _write_html(path: Path, result) -> None:
    from grader.report.html import submission_html  # only when asked for
    write_text(path, submission_html(result))
    click.echo(f"HTML report: {path}", err=True)


@main.command()
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--json", "json_path", required=True, type=click.Path(path_type=Path),
              help="Where to write the Gradescope-format results.")
@click.option("--student-id", help="Seeds the hidden cases (default: from the folder name).")
@click.option("--public-only", is_flag=True,
              help="Skip hidden cases (no course secret needed).")
@click.option("--exercise", "-e", help="Grade only this exercise.")
@click.option("--html", "html_path", type=click.Path(path_type=Path),
              help="Also write the student's HTML feedback report to this file.")
@course_option
@_fail_cleanly
def grade(submission, json_path, student_id, public_only, exercise, html_path, course_path):
    """Grade one submission (a folder or a notebook) and write Gradescope-format JSON.

    Hidden cases are drawn from the course secret (the environment variable
    named in course.yaml, GRADER_SECRET by default) and the student id.
    Exit code 0 whenever grading finished, whatever the score.

    \b
    Example:
      GRADER_SECRET=... grader grade submissions/alice --json out/alice.json
    """
    _writable(json_path, html_path)
    course = _course(course_path)
    secret = _secret_or_fail(course, public_only)
    from grader.batch.unpack import UnpackError
    try:
        result = _grade(submission, course, exercise=exercise, secret=secret,
                        student_id=student_id, children=os.cpu_count() or 1)
    except UnpackError as exc:
        # The student's problem, so a result (score 0 and the reason), as batch gives.
        max_score = (sum(c.points for c in course.exercise(exercise).checks) if exercise
                     else course.max_score)
        write_json(json_path, _not_graded(exc.reason, max_score))
        if html_path:
            write_text(html_path, _not_graded_html(exc.reason))
        click.echo(f"not graded: {exc.reason} -> {json_path}")
        return
    from grader.report.gradescope import to_gradescope
    # The score line first: if a write fails after all, what was graded is still shown.
    click.echo(f"{result.student_id}: {result.score:g}/{result.max_score:g} -> {json_path}")
    write_json(json_path, to_gradescope(result))
    if html_path:
        _write_html(html_path, result)


@main.command()
@click.argument("submissions", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="The results folder (made if missing, in a folder that exists; reused "
                   "to resume).")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
              help="Submissions graded at once (default: one per core).")
@click.option("--public-only", is_flag=True, help="Skip hidden cases (no secret needed).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="Grade in worker processes here, or on a Dask cluster.")
@click.option("--scheduler", metavar="ADDRESS",
              help="The Dask scheduler, e.g. tcp://10.0.0.5:8786 (with --executor dask).")
@course_option
@_fail_cleanly
def batch(submissions, out, jobs, public_only, executor, scheduler, course_path):
    """Grade a whole class: every sub-folder, .zip or .ipynb in SUBMISSIONS.

    Writes, per student, RESULTS/students/ID/results.json (Gradescope format),
    feedback.md and feedback.html as soon as each is graded, then
    gradebook.csv, summary.json, summary.md and report.html. Rerun the same
    command after an interruption: finished students are skipped, changed
    submissions are regraded.

    \b
    Example:
      GRADER_SECRET=... grader batch submissions/ --out results/ --jobs 2
      grader batch submissions/ --out results/ --executor dask --scheduler tcp://head:8786
    """
    course_file = _course_file(course_path)
    course = _course(course_file)
    secret = _secret_or_fail(course, public_only)
    if (executor == "dask") != (scheduler is not None):
        raise GraderError("--executor dask needs --scheduler ADDRESS (and --scheduler needs "
                          "--executor dask)")
    pool = None
    if executor == "dask":
        from grader.batch.executors import DaskExecutor
        pool = DaskExecutor(scheduler, course, secret)
    show = _progress_printer()
    try:
        from grader.batch.run import run_batch  # the batch machinery only when batching
        progress, summary = run_batch(submissions, out, course, course_file.read_bytes(),
                                      secret, jobs or os.cpu_count() or 1, show, pool)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: every student graded so far is saved; run the same "
                   "command again to go on", err=True)
        sys.exit(130)
    finally:
        if pool is not None:
            pool.close()
    click.echo(f"\n{progress.total} submissions: {progress.graded} graded, "
               f"{progress.skipped} unchanged since the last run, {progress.unreadable} "
               f"unreadable; mean {summary['mean']:g}/{summary['max_score']:g}, "
               f"full marks {summary['full_marks']}", err=True)
    click.echo(f"results in {out}/ (gradebook.csv, summary.md, students/)")


def _progress_printer():
    """A one-line progress display: count, rate, ETA (redrawn on a terminal)."""
    tty = sys.stderr.isatty()
    last = [0.0]

    def show(p):
        now = time.monotonic()
        if not tty and p.done != p.total and now - last[0] < 5:
            return
        last[0] = now
        eta = f"{p.eta:.0f} s" if p.eta is not None else "?"
        line = (f"[{p.done}/{p.total}] {p.rate:.1f}/s, ETA {eta} "
                f"(graded {p.graded}, unchanged {p.skipped}, unreadable {p.unreadable})")
        click.echo(("\r" + line) if tty else line, nl=not tty, err=True)
    return show


@main.command()
@click.option("--solutions", type=click.Path(path_type=Path), help="Default: solutions/.")
@click.option("--exercises", type=click.Path(path_type=Path), help="Default: exercises/.")
@course_option
@_fail_cleanly
def verify(solutions, exercises, course_path):
    """Prove the course is sound: solutions score full marks, stubs score zero.

    Solutions are graded with hidden cases from a fresh random secret (or
    GRADER_SECRET if set); stubs must fail every case with "not implemented
    yet" and nothing else; exercises/ must match `grader generate`.
    Exit code 0 when all holds, 1 otherwise.

    \b
    Example:
      grader verify
    """
    course = _course(course_path)
    solutions = solutions or _default("solutions")
    exercises = exercises or _default("exercises")
    secret = course.secret() or os.urandom(8).hex().encode()
    problems = []
    from grader.checks import status
    full = _grade(solutions, course, secret=secret, student_id="verify")
    for check in full.checks:
        for case in check.failures:
            problems.append(f"solutions: {check.name} fails '{case.label}': {case.status}: "
                            f"{case.message}")
    stubs = _grade(exercises, course, secret=secret, student_id="verify")
    for check in stubs.checks:
        odd = [c for c in check.cases if c.status != status.NOT_IMPLEMENTED]
        if odd:
            problems.append(f"exercises: {check.name} '{odd[0].label}' is {odd[0].status}, "
                            "expected 'not implemented'")
    from grader.generate import generate as generate_files
    drift = generate_files(solutions, exercises, check=True)
    problems += [f"exercises: {p.name} differs from `grader generate` output" for p in drift]
    click.echo(f"solutions: {full.score:g}/{full.max_score:g} ({len(full.checks)} checks, "
               f"public and hidden cases) in {full.seconds:.2f} s")
    click.echo(f"exercises: {stubs.score:g}/{stubs.max_score:g}, "
               f"{sum(len(c.cases) for c in stubs.checks)} cases not implemented yet")
    for problem in problems:
        click.echo("FAIL " + problem, err=True)
    if problems:
        if not course.secret():
            click.echo(f"(to reproduce the hidden cases: {course.hidden.secret_env}="
                       f"{secret.decode()} grader verify)", err=True)
        sys.exit(1)
    click.echo("verify: OK")


@main.command()
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 if exercises/ differs from what would be generated.")
@click.option("--solutions", type=click.Path(path_type=Path), help="Default: solutions/.")
@click.option("--exercises", type=click.Path(path_type=Path), help="Default: exercises/.")
@_fail_cleanly
def generate(check_only, solutions, exercises):
    """Build the student stubs in exercises/ from the marked solutions.

    Everything between `# BEGIN SOLUTION` and `# END SOLUTION` becomes
    `raise NotImplementedError`; signatures and docstrings are kept.

    \b
    Example:
      grader generate && git diff exercises/
    """
    solutions = solutions or _default("solutions")
    exercises = exercises or _default("exercises")
    from grader.generate import generate as generate_files
    paths = generate_files(solutions, exercises, check=check_only)
    if check_only:
        for p in paths:
            click.echo(f"out of date: {p}")
        sys.exit(1 if paths else 0)
    click.echo(f"wrote {len(paths)} file{'s' * (len(paths) != 1)} to {exercises}")


@main.command()
@_fail_cleanly
def doctor():
    """Show which sandbox protections student code runs under on this machine.

    Runs a harmless module through the same sandbox as grading and lists the
    protections it reported, then those this machine cannot give. Exit code 0
    when none is missing, 1 otherwise.

    \b
    Example:
      grader doctor
    """
    from grader.sandbox.run import probe
    run = probe()
    outcome = run.outcomes["probe"]
    who = "root (children drop to a per-run uid)" if os.geteuid() == 0 else f"uid {os.geteuid()}"
    click.echo(f"grader runs as: {who}")
    click.echo(f"probe module: {outcome.status}")
    missing = [*run.missing, *_unreported(run.active, run.missing)]
    for item in run.active:
        click.echo(f"  active   {item}")
    for item in missing:
        click.echo(f"  MISSING  {item}")
    sys.exit(0 if outcome.status == "ok" and not missing else 1)


# Protections every machine should give, each listed active or MISSING: (what the
# probe's report names it by, what to call it when it says nothing of it).
EXPECTED_PROTECTIONS = (
    ("ipc namespace", "ipc namespace (SysV IPC and POSIX message queues shared)"),
    ("seccomp", "seccomp (keyrings and ptrace open to student code)"),
    ("memory cgroup", "memory cgroup (memory bounded per process only)"),
    ("inode cap", "run folder inode cap (empty files fill memory)"),
)


def _unreported(active, missing) -> list[str]:
    said = (*active, *missing)
    return [label for key, label in EXPECTED_PROTECTIONS
            if not any(key in item for item in said)]


@main.command("explore")
@click.option("--scenario", metavar="NAME",
              help="Start from a lesson scenario; `--scenario list` names them.")
@click.option("--depth", type=int, help="Layers, the linear output layer included (default 10).")
@click.option("--width", type=int, help="Units of every layer, input and output too (default 64).")
@click.option("--activation", metavar="NAME", help="sigmoid, tanh, relu, leaky_relu, elu, selu, "
              "gelu, silu or linear (default relu).")
@click.option("--init", metavar="NAME", help="xavier_uniform, xavier_normal, he_uniform, "
              "he_normal, lecun_normal, random_normal, or identity for W = I (default he_normal).")
@click.option("--weight-scale", type=float, help="Multiplies the initialized weights (default 1).")
@click.option("--bias/--no-bias", default=None, help="Train biases; they start at 0 (default on).")
@click.option("--residual/--no-residual", default=None,
              help="Skip connections around each hidden layer: A_l = A_{l-1} + act(...).")
@click.option("--norm", metavar="none|batch|layer",
              help="Normalise each hidden layer after its linear part, before the activation.")
@click.option("--clip", type=float, metavar="MAX_NORM",
              help="Clip all gradients together by global 2-norm before each SGD step.")
@click.option("--lr", type=float, help="SGD learning rate (default 0.01).")
@click.option("--steps", type=int,
              help="SGD steps on the MSE to a fixed random target (default 50).")
@click.option("--batch-size", type=int, help="Examples in the batch (default 32).")
@click.option("--seed", type=int, help="Seeds the weights and the batch (default 0).")
@click.option("--json", "json_path", metavar="PATH",
              help="Write every number as JSON to PATH; '-' prints it instead of the report.")
@click.option("--html", "html_path", type=click.Path(path_type=Path),
              help="Also write a self-contained HTML page with plots to this file.")
@click.option("--sweep", is_flag=True, help="Map the gradient ratio over depth x weight scale.")
@click.option("--sweep-depth", type=int, help="Deepest network of the sweep (default 50).")
@click.option("--sweep-scales", metavar="LOW:HIGH:COUNT",
              help="Weight scales of the sweep, log-spaced (default 0.25:4:64).")
@click.option("--sweep-over", metavar="AXIS=A,B",
              help="A third axis: activation=relu,tanh or init=he_normal,xavier_normal.")
@click.option("--color/--no-color", default=None,
              help="Colour the report (default: on a terminal).")
@_fail_cleanly
def explore_command(scenario, json_path, html_path, sweep, sweep_depth, sweep_scales,
                    sweep_over, color, **options):
    """See how the gradient flows through a network of the reference engine.

    Prints the gradient at each layer's input (|dA|, the backpropagated signal) and
    at its weights (|dW|) from the output (right) to the input (left), relative to
    the output layer (bars: dead below 0.01, large above 10, exploding above 100);
    the ratio |dA_0| / |dA_L-1| and its diagnosis (below 0.01 vanishing, above 100
    exploding); learning speed (|dW| relative: fast from 0.1, slow from 0.001,
    frozen below) and saturation per layer; the chain-rule factors
    ||W_l||_2 max|act'| with their running product; and a short SGD history. The
    diagnosis reads |dA|, not |dW|: weight gradients can stay level while the
    signal vanishes or explodes.

    \b
    Every layer is WIDTH x WIDTH; a hidden layer computes
      Z = A W + b,  H = norm(Z) (with --norm),  A' = act(H) (+ A with --residual)
    and the output layer is linear, never normalised. Options given beside
    --scenario change the scenario's network. --sweep maps the plain MLP, one
    batched pass for the whole grid. Exit code 0 whatever the diagnosis.

    \b
    Example:
      grader explore --scenario list
      grader explore --scenario deep-sigmoid --html sigmoid.html
      grader explore --depth 30 --activation tanh --init xavier_normal --json -
      grader explore --sweep --activation tanh --init xavier_normal
    """
    import json

    _writable(html_path, json_path if json_path and json_path != "-" else None)
    import grader.explore as explorer  # only here: other commands never load numpy for it
    if scenario == "list":
        click.echo(explorer.scenario_list())
        return
    sweep_options = (dict(max_depth=sweep_depth, scales=sweep_scales, over=sweep_over)
                     if sweep else None)
    result = explorer.run(scenario, options, sweep_options)
    if json_path == "-":
        click.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        colour = sys.stdout.isatty() if color is None else color
        click.echo(explorer.text(result, _style(colour)))
    if json_path and json_path != "-":
        write_json(json_path, result.to_dict())
        click.echo(f"JSON: {json_path}", err=True)
    if html_path:
        write_text(html_path, explorer.html(result))
        click.echo(f"HTML page: {html_path}", err=True)


@main.group()
def export():
    """Package the course for other platforms.

    \b
    Example:
      grader export gradescope autograder.zip --public-only
    """


@export.command("gradescope")
@click.argument("out_zip", type=click.Path(path_type=Path))
@click.option("--public-only", is_flag=True,
              help="Leave the secret out: Gradescope then runs the public cases only.")
@course_option
@_fail_cleanly
def export_gradescope(out_zip, public_only, course_path):
    """Build a Gradescope autograder zip (setup.sh, run_autograder, the course, the grader).

    Upload OUT_ZIP as the assignment's autograder. With the course secret in the
    environment, hidden cases run on Gradescope too (see SECURITY.md for what
    storing the secret in the bundle means); --public-only leaves it out.

    \b
    Example:
      GRADER_SECRET=... grader export gradescope autograder.zip
    """
    course_file = _course_file(course_path)
    course = _course(course_file)
    secret = _secret_or_fail(course, public_only)
    from grader.export import build_gradescope_bundle
    members = build_gradescope_bundle(out_zip, course_file, REPO,
                                      secret.decode() if secret is not None else None)
    click.echo(f"wrote {out_zip} ({len(members)} files; hidden cases "
               f"{'on' if secret is not None else 'off'})")
