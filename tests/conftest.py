# Having a conftest here puts tests/ on sys.path, so test files in sub-folders can share
# plain helper modules kept beside it (proctree.py).

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def activations_course(tmp_path_factory) -> Path:
    """course.yaml with the activations exercise alone (its 16 checks), for tests that run
    the grader as a command and need one exercise, not seven."""
    path = tmp_path_factory.mktemp("course") / "course.yaml"
    text = (REPO / "course.yaml").read_text()
    path.write_text(text[:text.index("  - id: initializers")])
    return path
