"""What a hidden case may say: fixed words keyed by its status, nothing else.

A hidden case's inputs are the same at every resubmission (they are drawn from the course
secret, the student id and the check), so any feedback that echoes them, even one digit
per case, builds a lookup table over resubmissions. Student code sees those inputs and
controls every text it hands back (exception messages and class names, the keys of a
returned dict, an empty array's shape, the exit code, the function and file an error
points at, warnings). So a hidden case's result is rebuilt here from scratch, by one
function applied to every hidden case, instead of trusting each judge to leave its
message clean: only the status (which kind of failure), the check's own function name,
a builtin exception's name, and a file:line inside the submission's own files survive.
"""

from __future__ import annotations

import builtins
import re
from typing import Mapping

from grader.checks import status
from grader.checks.model import CaseResult
from grader.sandbox.run import TaskOutcome

# What each status says on a hidden case; {fn} is the graded function (the course's name).
_MESSAGES = {
    status.WRONG: "{fn} gives wrong values on a hidden case",
    status.NOT_IMPLEMENTED: "{fn} is not implemented yet",
    status.MISSING_FUNCTION: "the module has no function {fn}()",
    status.IMPORT_ERROR: "importing the module failed",
    status.EXCEPTION: "{fn} raised {exc} on a hidden case",
    status.TIMEOUT: "{fn} did not finish in time on a hidden case",
    status.MEMORY: "{fn} ran out of memory on a hidden case",
    status.CRASHED: "{fn} was killed by a signal on a hidden case",
    status.EXITED: "{fn} ended the process early on a hidden case",
    status.OUTPUT_LIMIT: "{fn} printed or wrote too much on a hidden case",
    status.BAD_TYPE: "{fn} returned a value of the wrong type on a hidden case",
    status.BAD_DTYPE: "{fn} returned an array of the wrong dtype on a hidden case",
    status.WRONG_SHAPE: "{fn} returned an array of the wrong shape on a hidden case",
    status.NON_FINITE: "{fn} returned non-finite values (nan or inf) on a hidden case",
    status.WARNING: "{fn} raised a numerical warning on a hidden case",
    status.MODIFIED_INPUT: "{fn} modified one of its inputs on a hidden case",
    status.RETURNED_INPUT: "{fn} returned one of its input arrays itself on a hidden case",
    status.RNG: "{fn} misused the random generator on a hidden case",
    status.SKIPPED: "not run: an earlier case of {fn} timed out or ended the process",
}
_HINTS = {
    status.TIMEOUT: "look for a loop that never ends",
    status.EXITED: "do not call sys.exit() or os._exit() in your module",
    status.OUTPUT_LIMIT: "remove large or repeated print() calls and file writes",
    status.MODIFIED_INPUT: "work on new arrays (x = x * 2, not x *= 2)",
    status.RETURNED_INPUT: "return new arrays even when nothing changes (e.g. g.copy())",
}
_GENERIC_HINT = ("hidden cases show no inputs or details; the public cases' feedback does: "
                 "test your function on inputs like them (other shapes, depths and scales)")
_OWN_CLASS = "an exception of the submission's own class"
_WHERE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*\.py):([0-9]{1,7})(?: in .*)?", re.DOTALL)


def redacted(result: CaseResult, outcome: TaskOutcome | None, function: str, number: int,
             lines: Mapping[str, int]) -> CaseResult:
    """The hidden case ``result`` (hidden case ``number`` of ``function``) said in fixed
    words. ``lines`` maps each of the submission's module files to its line count; a
    file:line is kept only when it names one of them and a line it has."""
    kind = result.status if result.status in _MESSAGES or result.passed else status.WRONG
    label = f"hidden case {number}"
    if kind == status.PASSED:
        return CaseResult(label, status.PASSED, hidden=True)
    error = outcome.error if outcome is not None else None
    where = _where(error.where, lines) if error is not None and kind in _POINTED else ""
    exc = exception_name(error.type) if error is not None else "an exception"
    message = _MESSAGES[kind].format(fn=function, exc=exc)
    if where:
        message += f" ({where})"
    return CaseResult(label, kind, message, _HINTS.get(kind, _GENERIC_HINT), True, where=where)


# The statuses an error's frame is behind: an exception in the student's code.
_POINTED = frozenset({status.EXCEPTION, status.NOT_IMPLEMENTED, status.MEMORY,
                      status.IMPORT_ERROR})


def exception_name(name: str) -> str:
    """A builtin exception's name as it is; any other class's name is the student's text
    (``type(str(x), (Exception,), {})`` names a class after an input)."""
    value = getattr(builtins, name, None) if name.isidentifier() else None
    if isinstance(value, type) and issubclass(value, BaseException):
        return name
    return _OWN_CLASS


def _where(where: str, lines: Mapping[str, int]) -> str:
    """'file.py:LINE' when the file is one of the submission's modules and LINE one of its
    lines; the function name is left out (a student names functions, and code compiled
    under any file name, as it likes)."""
    match = _WHERE.fullmatch(where or "")
    if not match:
        return ""
    name, line = match.group(1), int(match.group(2))
    return f"{name}:{line}" if 1 <= line <= lines.get(name, 0) else ""
