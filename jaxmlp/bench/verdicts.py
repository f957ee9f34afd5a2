"""``jaxmlp bench verdicts``: how far ``jaxmlp verify`` can be trusted, measured both ways.

* **No false alarms.** The shipped right derivations (``examples/my_derivation.py``, MLP form with
  δ; ``examples/my_logistic_regression.py``, general form) at every effort from 100 to 2,000
  problems, float32 and float64, seeds 0-9; the course catalogue (``examples/course/``: the
  backward passes a deep-learning course assigns, general form) at the top effort, both
  precisions, seeds 0-9; and right derivations in the lectures' forms
  (:mod:`jaxmlp.verify.lecture`) for random networks of depth 1-4. Every run must pass; the table
  counts the problems that passed only because rounding explained a difference, by rule.
* **No misses.** The mutation report (:mod:`jaxmlp.verify.mutants`) of both shipped examples and
  of every catalogue file, in both precisions: every non-equivalent mutant must be caught.
* **Suggestions.** ``jaxmlp verify --suggest`` on every wrong mutant of both shipped examples
  (:mod:`jaxmlp.bench.suggestions`): how often the original line comes back, how often the first
  suggestion applied makes the file pass, the seconds per search.
* **Effort and time.** Seconds per search at each effort (seed 0, in one process: the first row
  of a file pays its compilations).

Run: ``jaxmlp bench verdicts`` (hours on two cores: the catalogue's 240 searches of 2,000
problems) or ``--quick`` (a few minutes).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

__all__ = ["COURSE", "SHIPPED", "course", "verdicts_table"]

#: the shipped right derivations, relative to the repository
SHIPPED = ("examples/my_derivation.py", "examples/my_logistic_regression.py")
#: the course catalogue, relative to the repository
COURSE = "examples/course"
DTYPES = ("float32", "float64")


def verdicts_table(quick: bool = False, seed: int = 0, root: str | Path = ".") -> dict:
    """Measure the three tables of the module docstring; ``{"markdown": [...], ...JSON}``."""
    efforts = (100, 300) if quick else (100, 300, 1000, 2000)
    seeds = range(2) if quick else range(10)
    files = [str(Path(root) / name) for name in SHIPPED]
    catalogue = course(root)
    curve = [_search(file, dtype, effort, 0) for file in files for dtype in DTYPES
             for effort in efforts]
    at_top = [row for row in curve if row["examples"] == efforts[-1]]
    at_top += [_search(file, dtype, efforts[-1], s) for file in files for dtype in DTYPES
               for s in seeds if s != 0]
    at_top += [_search(file, dtype, efforts[-1], s) for file in catalogue for dtype in DTYPES
               for s in seeds]
    lectures = _lectures(10 if quick else 100, 30 if quick else 100, seed)
    mutations = [_mutation(file, dtype, 20 if quick else 100) for file in files + catalogue
                 for dtype in DTYPES]
    from jaxmlp.bench.suggestions import measure

    suggested = [measure(file, examples=20 if quick else 100) for file in files]
    markdown = [
        "No false alarms, the shipped right derivations: every seed at the top effort.", "",
        _seeds_table(at_top, efforts[-1], len(seeds)), "",
        f"No false alarms, the lectures' forms: {lectures['runs']} random networks (depth 1-4, "
        f"both precisions) at {lectures['examples']} problems each: {lectures['alarms']} false "
        f"alarms; problems explained by rounding: {_rules(lectures['explained'])}.", "",
        "No misses, the mutation report:", "", _mutation_table(mutations), "",
        "Suggestions (`jaxmlp verify --suggest`) on every wrong mutant:", "",
        _suggestion_table(suggested), "",
        "Effort and time (seed 0):", "", _curve_table(curve),
    ]
    return {"curve": curve, "seeds": at_top, "lectures": lectures, "mutations": mutations,
            "suggestions": [{k: v for k, v in r.items() if k != "rows"} for r in suggested],
            "markdown": markdown}


def course(root: str | Path = ".") -> list[str]:
    """The catalogue's files under ``root``, sorted."""
    return sorted(str(path) for path in (Path(root) / COURSE).glob("*.py"))


def _search(file: str, dtype: str, examples: int, seed: int) -> dict:
    from jaxmlp.verify.derivation import check
    from jaxmlp.verify.userfile import read

    start = time.perf_counter()
    report = check(read(file), examples=examples, seed=seed, dtype=dtype)
    return {"file": Path(file).name, "dtype": dtype, "examples": examples, "seed": seed,
            "passed": report.passed, "problems": report.problems,
            "explained": dict(report.result.explained),
            "seconds": time.perf_counter() - start}


def _lectures(runs: int, examples: int, seed: int) -> dict:
    import jaxmlp
    from jaxmlp import verify
    from jaxmlp.verify.lecture import DERIVATIVES, OUTPUT_ERRORS, lecture_derivation

    rng = random.Random(seed)
    alarms, explained = [], Counter()
    for _ in range(runs):
        hidden = [rng.choice(sorted(DERIVATIVES)) for _ in range(rng.randint(0, 3))]
        out, loss = rng.choice(sorted(OUTPUT_ERRORS))
        sizes = (2, *(rng.choice([1, 3, 8]) for _ in hidden),
                 3 if out == "softmax" else rng.choice([1, 2]))
        reduction = rng.choice(["mean", "sum"])
        l2, l1 = rng.choice([(0.0, 0.0), (0.1, 0.0), (0.0, 0.01)])
        dtype, draw = rng.choice(DTYPES), rng.randrange(2**16)
        model = jaxmlp.MLP(sizes, (*hidden, out))
        grads, deltas = lecture_derivation(model, loss, reduction, l2, l1)
        report = verify.derivation(grads, model=model, loss=loss, reduction=reduction, l2=l2,
                                   l1=l1, deltas=deltas, examples=examples, seed=draw,
                                   dtype=dtype)
        explained.update(dict(report.result.explained))
        if not report.passed:
            alarms.append(f"{sizes} {model.activations} {loss} {reduction} l2={l2} l1={l1} "
                          f"{dtype} seed {draw}")
    return {"runs": runs, "examples": examples, "alarms": len(alarms), "which": alarms,
            "explained": dict(explained)}


def _mutation(file: str, dtype: str, examples: int) -> dict:
    from jaxmlp.verify.mutants import OUTCOMES, run

    start = time.perf_counter()
    report = run(file, examples=examples, dtype=dtype)
    return {"file": Path(file).name, "dtype": dtype, "examples": examples,
            "mutants": len(report.rows), **{o: report.count(o) for o in OUTCOMES},
            "kill_rate": report.kill_rate, "seconds": time.perf_counter() - start}


def _seeds_table(rows: list[dict], examples: int, seeds: int) -> str:
    lines = [f"| file | dtype | runs ({examples} problems, {seeds} seeds) | passed | "
             "problems explained by rounding | s per run |", "|---|---|--:|--:|---|--:|"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["file"], row["dtype"]), []).append(row)
    for (file, dtype), group in groups.items():
        explained = Counter()
        for row in group:
            explained.update(row["explained"])
        seconds = sum(row["seconds"] for row in group) / len(group)
        lines.append(f"| {file} | {dtype} | {len(group)} | {sum(r['passed'] for r in group)} | "
                     f"{_rules(dict(explained))} | {seconds:.1f} |")
    return "\n".join(lines)


def _mutation_table(rows: list[dict]) -> str:
    lines = ["| file | dtype | mutants | killed | error | equivalent | gap | kill rate | s |",
             "|---|---|--:|--:|--:|--:|--:|--:|--:|"]
    lines += [f"| {r['file']} | {r['dtype']} | {r['mutants']} | {r['killed']} | {r['error']} | "
              f"{r['equivalent']} | {r['gap']} | {100 * r['kill_rate']:.0f} % | "
              f"{r['seconds']:.0f} |" for r in rows]
    return "\n".join(lines)


def _suggestion_table(rows: list[dict]) -> str:
    lines = ["| file | dtype | wrong mutants | original line among the suggestions | "
             "first suggestion fixes | s per search |", "|---|---|--:|--:|--:|--:|"]
    lines += [f"| {r['file']} | {r['dtype']} | {r['mutants']} | {100 * r['found']:.0f} % | "
              f"{100 * r['fixed']:.0f} % | {r['seconds']:.1f} |" for r in rows]
    return "\n".join(lines)


def _curve_table(rows: list[dict]) -> str:
    lines = ["| file | dtype | examples | problems | verdict | s |", "|---|---|--:|--:|---|--:|"]
    lines += [f"| {r['file']} | {r['dtype']} | {r['examples']} | {r['problems']} | "
              f"{'PASS' if r['passed'] else 'FAIL'} | {r['seconds']:.1f} |" for r in rows]
    return "\n".join(lines)


def _rules(explained: dict) -> str:
    return ", ".join(f"{count} by {rule}" for rule, count in explained.items()) or "none"
