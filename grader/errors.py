"""The grader's own failures (never a student's: those are results with zero points).

The CLI turns every GraderError into one line on stderr and exit code 2.
"""


class GraderError(Exception):
    """Something the grader itself cannot get past: a bad path, a bad course file."""


class CourseError(GraderError):
    """course.yaml is missing, unreadable or invalid."""


class SubmissionPathError(GraderError):
    """The submission path does not exist or is not something we can grade."""


class WireError(GraderError):
    """A message from a child process is malformed or exceeds its size limits.

    Raised inside the runner and turned into a per-check result there; it never
    reaches the CLI.
    """


class NotebookError(GraderError):
    """A submitted notebook cannot be read: not JSON, not a version 4 notebook, or too large."""
