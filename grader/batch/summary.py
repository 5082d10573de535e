"""The gradebook and the class summary, built from the per-student records.

Records are read one at a time and only counts are kept, so memory stays flat
however large the class.
"""

from __future__ import annotations

import csv
import heapq
import io
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Iterable

from grader.files import write_json, write_text
from grader.report.html import class_html
from grader.report.markdown import code_span
from grader.text import clean_name

BINS = 10


def gradebook_csv(records: Iterable[dict], exercise_ids: list[str]) -> str:
    """One row per student; ``submission`` is the name it came under in the class folder
    (shown safely: clean_name), so an id made safe with a hash can be traced back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student_id", "submission", "total", "max", *exercise_ids, "status"])
    for r in records:
        status = r["status"] if not r.get("reason") else f"{r['status']}: {r['reason']}"
        writer.writerow([_cell(r["student_id"]), _cell(clean_name(r.get("source", ""))),
                         f"{r['score']:g}",
                         f"{r['max_score']:g}",
                         *(f"{r['exercises'].get(e, 0.0):g}" for e in exercise_ids), status])
    return out.getvalue()


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run: names come from the class folder, and one
    starting with = (or +, -, @) would be read as a formula by Excel or Sheets."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class Summary:
    """Class-wide counts, fed one record at a time."""

    def __init__(self, max_score: float):
        self.max_score = max_score
        self.scores: list[float] = []  # one float per student: small even for 30,000
        self.histogram = [0] * BINS
        self.unreadable = 0
        self.passed: Counter = Counter()
        self.seen: Counter = Counter()
        self.mistakes: Counter = Counter()
        self.slowest: list[tuple[float, str]] = []

    def add(self, record: dict) -> None:
        score = record["score"]
        self.scores.append(score)
        share = score / self.max_score if self.max_score else 0.0
        self.histogram[min(int(share * BINS), BINS - 1)] += 1
        self.unreadable += record["status"] != "graded"
        for name, check in record["checks"].items():
            self.seen[name] += 1
            if check["status"] == "passed":
                self.passed[name] += 1
            else:
                self.mistakes[(name, check["status"], _pattern(check["message"]))] += 1
        heapq.heappush(self.slowest, (record["seconds"], record["student_id"]))
        if len(self.slowest) > 10:
            heapq.heappop(self.slowest)

    def to_dict(self) -> dict:
        n = len(self.scores)
        return {
            "students": n,
            "unreadable": self.unreadable,
            "max_score": self.max_score,
            "mean": round(statistics.fmean(self.scores), 3) if n else 0.0,
            "median": statistics.median(self.scores) if n else 0.0,
            "full_marks": sum(s == self.max_score for s in self.scores),
            "histogram": [{"from": i / BINS, "to": (i + 1) / BINS, "students": c}
                          for i, c in enumerate(self.histogram)],
            "pass_rate": {name: round(self.passed[name] / self.seen[name], 4)
                          for name in sorted(self.seen)},
            "common_mistakes": [{"check": c, "status": s, "message": m, "students": k}
                                for (c, s, m), k in self.mistakes.most_common(15)],
            "slowest": [{"student_id": sid, "seconds": sec}
                        for sec, sid in sorted(self.slowest, reverse=True)],
        }


def _pattern(message: str) -> str:
    """A message with its numbers blanked, so the same mistake groups across students."""
    return re.sub(r"-?\d[\d.e+-]*", "#", message)[:160]


def summary_markdown(data: dict, title: str) -> str:
    out = [f"# {title}: class summary", "",
           f"{data['students']} students, mean {data['mean']:g} / {data['max_score']:g}, "
           f"median {data['median']:g}, full marks {data['full_marks']}, "
           f"unreadable {data['unreadable']}.", "", "## Scores", "",
           "| share of the points | students |", "|---|---|"]
    out += [f"| {b['from']:.0%} to {b['to']:.0%} | {b['students']} |" for b in data["histogram"]]
    out += ["", "## Pass rate per check", "", "| check | passed |", "|---|---|"]
    out += [f"| `{c}` | {r:.0%} |" for c, r in data["pass_rate"].items()]
    out += ["", "## Most common mistakes", "", "| check | status | message | students |",
            "|---|---|---|---|"]
    out += [f"| `{m['check']}` | {m['status']} | {code_span(m['message'], table=True)} | "
            f"{m['students']} |" for m in data["common_mistakes"]]
    out += ["", "## Slowest submissions", "", "| student | seconds |", "|---|---|"]
    out += [f"| {code_span(s['student_id'], table=True)} | {s['seconds']:.2f} |"
            for s in data["slowest"]]
    return "\n".join(out) + "\n"


def write_reports(results: Path, records: Iterable[dict], exercise_ids: list[str],
                  max_score: float, title: str) -> dict:
    """gradebook.csv, summary.json and summary.md from the records, in one pass."""
    summary = Summary(max_score)

    def counted():
        for record in records:
            summary.add(record)
            yield record

    write_text(results / "gradebook.csv", gradebook_csv(counted(), exercise_ids))
    data = summary.to_dict()
    write_json(results / "summary.json", data)
    write_text(results / "summary.md", summary_markdown(data, title))
    write_text(results / "report.html", class_html(data, title))
    return data
