"""Steps every check shares: a hidden draw, run failures, return shapes, modified inputs."""

from __future__ import annotations

import functools
import re
from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np

from grader.checks import status
from grader.checks.model import Case, CaseResult
from grader.checks.schema import Mismatch, Schema, conform
from grader.memo import IdentityMemo
from grader.sandbox.run import Call, CallOutcome, TaskOutcome

# Parameter names of every gradable function, for messages about arguments.
PARAMS = {
    "global_norm": ("grads", "norm_type"),
    "clip_grad_norm": ("grads", "max_norm", "norm_type"),
    "clip_grad_value": ("grads", "clip_value"),
    "mse_loss": ("pred", "target"),
    "linear_forward": ("x", "W", "b"),
    "linear_backward": ("dout", "cache"),
    "mlp_forward": ("X", "weights", "biases", "act"),
    "mlp_backward": ("dY_hat", "cache", "act_grad"),
    "layer_norms": ("grads",),
    "gradient_ratio": ("norms",),
    "diagnose": ("norms", "vanish_below", "explode_above"),
    "numerical_gradient": ("f", "x", "h"),
    "relative_error": ("a", "b"),
    "residual_forward": ("X", "weights", "biases", "act"),
    "residual_backward": ("dY_hat", "cache", "act_grad"),
    "layernorm_forward": ("x", "gamma", "beta", "eps"),
    "layernorm_backward": ("dout", "cache"),
    "batchnorm_forward": ("x", "gamma", "beta", "eps"),
    "batchnorm_backward": ("dout", "cache"),
    "sgd_train": ("X", "Y", "weights", "biases", "act", "act_grad", "lr", "steps", "max_norm"),
}
INIT_PARAMS = ("fan_in", "fan_out", "rng")


_references = IdentityMemo(limit=4096)  # only a caller making new cases ever fills it


def reference(case: Case, name: str, compute: Callable[[], Any]) -> Any:
    """The reference answer ``name`` of a case: computed once per process for a public
    case (every student gets the same ones), afresh for a hidden one. Callers must not
    modify what it returns."""
    return compute() if case.hidden else _references.get((case,), compute, name)


# Hidden cases vary shapes, depths and scales so no public answer can be replayed; they
# are kept small because every byte of them is sent, checked for changes, returned,
# decoded and compared for every student (the public cases carry the large and deep ones).
HIDDEN_MAX_SIDE = 12      # each of an array's 1-3 axes (mse_loss)
HIDDEN_MAX_BATCH = 16     # rows of a batch
HIDDEN_MAX_WIDTH = 24     # fan-in, fan-out and layer widths
HIDDEN_MAX_DEPTH = 12     # layers of a network


def pick(rng: np.random.Generator, options: Sequence):
    """The item ``rng.choice(options)`` gives, drawn exactly as it draws it (one integer
    below ``len(options)``), without its cost of making an array of ``options`` first.
    The item comes back as it is in ``options``, not as a numpy scalar."""
    return options[int(rng.integers(len(options)))]


def random_sign(rng: np.random.Generator) -> np.float64:
    """``rng.choice([-1.0, 1.0])``: the same draw, and the same numpy float64, whose
    arithmetic the hidden scales that use it were drawn with."""
    return np.float64(pick(rng, (-1.0, 1.0)))


class Failed(Exception):
    """Raised inside a judge to end it with this result."""

    def __init__(self, result: CaseResult):
        super().__init__(result.message)
        self.result = result


def judging(judge):
    """Let a judge end early by raising Failed; the caller always gets a CaseResult."""
    @functools.wraps(judge)
    def run(case: Case, outcome: TaskOutcome, tol) -> CaseResult:
        try:
            return judge(case, outcome, tol)
        except Failed as failed:
            return failed.result
    return run


def with_hint(failed: Failed, hint: str) -> Failed:
    """The same failure with a hint added, when it had none."""
    if failed.result.hint or not hint:
        return failed
    return Failed(replace(failed.result, hint=hint))


_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def _course_modules() -> tuple[str, ...]:
    from grader.checks import MODULES  # the package imports this module: resolve late

    return MODULES


def import_hint(err) -> str:
    """What to do about a module that does not import: the two causes students meet."""
    if err is None:
        return ""
    if err.type in ("SyntaxError", "IndentationError", "TabError"):
        return ("fix the syntax at that line; Python stops where it could not read on, so the "
                "mistake is often just before it (an unclosed bracket, a missing colon)")
    named = _NO_MODULE.search(err.message or "")
    top = named.group(1).split(".")[0] if named else ""
    # numpy is always there, and a course module missing from the submission is said
    # elsewhere; what is left is a package the grading machine does not have.
    if err.type in ("ModuleNotFoundError", "ImportError") and top and top != "numpy" and \
            top not in _course_modules():
        return (f"{top} is not installed where your code was graded; write graded modules "
                "with numpy and Python's standard library alone, which every grader has "
                f"(use {top} for plots or comparisons in a notebook cell or a script of your "
                "own, not in the graded module)")
    return ""


# numpy's two wordings of a matrix product whose inner sizes differ.
_MATMUL = re.compile(r"matmul: Input operand 1 has a mismatch in its core dimension 0.*"
                     r"\(size (\d+) is different from (\d+)\)")
_DOT = re.compile(r"shapes (\([\d, ]*\)) and (\([\d, ]*\)) not aligned")


def exception_hint(err) -> str:
    """A matrix product of the wrong shapes is the backward pass's commonest crash, and
    numpy's gufunc message does not say which operand is which: say it in words."""
    if err.type != "ValueError" or not err.message:
        return ""
    at = f" at {err.where}" if err.where else ""
    if match := _MATMUL.search(err.message):
        right, left = match.groups()
        return (f"the matrix product{at} has a left operand with {left} columns and a right "
                f"operand with {right} rows; they must be equal. A missing or extra transpose "
                "is the usual cause: dW_l = A_{l-1}.T @ dZ_l and dA_{l-1} = dZ_l @ W_l.T")
    if match := _DOT.search(err.message):
        return (f"np.dot{at} got shapes {match.group(1)} and {match.group(2)}, whose inner "
                "sizes differ. A missing or extra transpose is the usual cause: dW_l = "
                "A_{l-1}.T @ dZ_l and dA_{l-1} = dZ_l @ W_l.T")
    return ""


def fail(case: Case, status_: str, message: str, hint: str = "", where: str = "") -> Failed:
    return Failed(CaseResult(case.label, status_, message, hint, case.hidden, where=where))


def passed(case: Case, note: str = "") -> CaseResult:
    """A passed case; a hidden one notes nothing: whether it warned, or its norm overflowed,
    says something about its input (the public cases hold every kind of note)."""
    return CaseResult(case.label, status.PASSED, hidden=case.hidden,
                      note="" if case.hidden else note)


def warning_note(case: Case, function: str, warnings: Sequence[str], fix: str) -> str:
    """The note for a public case whose values are right but came with a warning."""
    if not warnings or case.hidden:
        return ""
    what = f"{function} warned ({warning_text(warnings[0])}) on {case.label}"
    return f"{what}; the values are right, so no marks are lost. {fix}"


_NUMPY_WARNING = re.compile(r"RuntimeWarning: (overflow|underflow|divide by zero|invalid value)"
                            r" encountered(?: in ([a-z_ 0-9]+))?")
# The operations numpy names in its floating-point warnings that students meet here.
_OPERATIONS = frozenset(
    f"{scalar}{op}" for scalar in ("", "scalar ") for op in (
        "exp", "expm1", "exp2", "log", "log1p", "sqrt", "square", "power", "multiply",
        "divide", "true_divide", "add", "subtract", "negative", "reciprocal", "tanh", "cosh",
        "sinh", "matmul", "reduce", "dot", "absolute", "cast"))


def warning_text(text: str) -> str:
    """What a warning was, in numpy's own words only. The text comes from student code, and
    a module may have kept a hidden input from an earlier call: free text is never shown,
    even on a public case, only a numpy floating-point warning's kind and operation."""
    match = _NUMPY_WARNING.fullmatch(text.strip())
    if not match:
        return "a warning whose text is not shown"
    kind, operation = match.groups()
    where = f" in {operation}" if operation in _OPERATIONS else ""
    return f"RuntimeWarning: {kind} encountered{where}"


def completed_calls(case: Case, outcome: TaskOutcome) -> tuple[CallOutcome, ...]:
    """The task's call outcomes if all calls ran; otherwise raise Failed with the reason."""
    if outcome.status == "ok" and len(outcome.calls) == len(case.calls):
        return outcome.calls
    fn = case.calls[min(outcome.at, len(case.calls) - 1)].function
    if outcome.status == "exception":
        err = outcome.error
        where = f" ({err.where})" if err.where else ""
        if err.type == "NotImplementedError":
            raise fail(case, status.NOT_IMPLEMENTED,
                       f"{fn} is not implemented yet{where}: replace the "
                       "`raise NotImplementedError(...)` line with your code", where=err.where)
        text = f": {err.message}" if err.message else ""
        if err.type == "MemoryError":
            raise fail(case, status.MEMORY, f"{fn} ran out of memory{where}",
                       "the arrays here are small: look for an allocation that grows with a loop "
                       "or a huge shape", where=err.where)
        raise fail(case, status.EXCEPTION, f"{fn} raised {err.type}{text}{where}",
                   exception_hint(err), where=err.where)
    if outcome.status == "missing":
        raise fail(case, status.MISSING_FUNCTION,
                   f"the module has no function {outcome.detail}(); define it with the "
                   "signature given in the exercise")
    if outcome.status == "import error":
        err = outcome.error
        where = f" ({err.where})" if err and err.where else ""
        text = f"{err.type}: {err.message}" if err else "an error"
        raise fail(case, status.IMPORT_ERROR, f"importing the module failed with {text}{where}",
                   import_hint(err), where=err.where if err else "")
    mapped = {
        "timeout": status.TIMEOUT,
        "crashed": status.CRASHED,
        "exited": status.EXITED,
        "protocol": status.BAD_TYPE,
        "output limit": status.OUTPUT_LIMIT,
        "skipped": status.SKIPPED,
    }
    hint = {
        "timeout": "look for a loop that never ends",
        "exited": "do not call sys.exit() or os._exit() in your module",
        "output limit": "remove large or repeated print() calls and file writes",
        "protocol": "the reply to the grader was malformed: do not write to its pipes",
    }.get(outcome.status, "")
    raise fail(case, mapped.get(outcome.status, status.EXCEPTION),
               f"{fn}: {outcome.detail or outcome.status}", hint)


PYTHON_OVERFLOW_HINT = ("Python's float ** raises OverflowError where numpy gives inf (as "
                        "PyTorch does): compute the powers on numpy arrays, or divide by the "
                        "largest |entry| first so that nothing overflows")


def norm_calls(case: Case, outcome: TaskOutcome) -> tuple[CallOutcome, ...]:
    """``completed_calls`` for a check that takes norms: Python floats' powers raise where
    numpy's overflow to inf, and that gets its hint."""
    try:
        return completed_calls(case, outcome)
    except Failed as failed:
        overflow = failed.result.message.startswith(
            tuple(f"{c.function} raised OverflowError" for c in case.calls))
        raise with_hint(failed, PYTHON_OVERFLOW_HINT if overflow else "") from None


def conformed(case: Case, schema: Schema, value: Any, function: str) -> Any:
    try:
        return conform(schema, value)
    except Mismatch as exc:
        raise fail(case, exc.status, f"{function} returned: {exc.message}") from None


NEW_ARRAYS_HINT = ("work on new arrays (x = x * 2, not x *= 2; np.maximum(z, 0), not "
                   "z[z < 0] = 0)")


def check_inputs_kept(case: Case, calls: Sequence[CallOutcome],
                      hint: str = NEW_ARRAYS_HINT) -> None:
    """Fail if any call modified an array the grader passed in."""
    for index, outcome in enumerate(calls):
        if not outcome.mutated:
            continue
        path = outcome.mutated[0]
        given_to = case.calls[path[0]]
        arg = _argument_name(given_to, path[1:])
        also = "" if path[0] == index else f" (first passed to {given_to.function})"
        raise fail(case, status.MODIFIED_INPUT,
                   f"{case.calls[index].function} modified its input {arg}{also}", hint)


def _argument_name(call: Call, path: Sequence) -> str:
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        names = PARAMS.get(call.function) or (INIT_PARAMS if call.function.endswith(
            ("uniform", "normal")) else ("z",))
        head = names[head] if head < len(names) else f"argument {head + 1}"
    return str(head) + "".join(f"[{i}]" for i in rest)


def check_new_arrays(case: Case, calls: Sequence[CallOutcome], output: str = "the output") -> None:
    """Fail if a call returned (a view of) an array the grader passed in, where the
    contract asks for new arrays."""
    for index, outcome in enumerate(calls):
        if not outcome.aliases:
            continue
        out_path, in_path = outcome.aliases[0]
        given_to = case.calls[in_path[0]]
        where = output + "".join(f"[{i}]" for i in out_path)
        raise fail(case, status.RETURNED_INPUT,
                   f"{case.calls[index].function} returned its input "
                   f"{_argument_name(given_to, in_path[1:])} itself as {where}",
                   "return new arrays even when nothing changes (e.g. g * 1.0 or g.copy()), "
                   "so the caller's arrays are never shared with the result")
