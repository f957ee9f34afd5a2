"""Mutation testing of ``jaxmlp verify``: does its search catch every wrong derivation?

From a right derivation file, :func:`run` writes every mutant of the mistakes students make
(:mod:`jaxmlp.verify.mutation_operators`: a sign, a transpose, a missing or extra 1/B, sum for
mean, a wrong activation derivative, a shifted layer index, the wrong axis, a dropped term, the
kink value, a constant), verifies each with the library's own search
(:func:`jaxmlp.verify.userfile.read`, :func:`jaxmlp.verify.derivation.check`) and classifies it:

* ``killed``: the verdict is FAIL (with the first wrong δ, when the file defines ``deltas``);
* ``error``: the file cannot be used (``jaxmlp verify`` exits 2: a shape error, an index out of
  range). It cannot pass, so it counts as caught, but it is reported apart;
* ``equivalent``: it passed, and its ``grads`` (and ``deltas``) equal the original's on
  :data:`EQUIVALENCE` problems of the search's region (every batch size, scale and kind, in
  float64 and float32), bit for bit or within the judge's tolerance of the precision: a mutation
  nobody can see, such as ``.T`` of a vector, or one of a term that is zero in exact arithmetic
  and rounds to 1e-17 (batch norm's ``Σ_n (x_n − μ)``); in the general form also where the two
  differ by no more than the rounding both were measured to have there (batch norm's dx at two
  rows is itself pure rounding: x̂ = ±1 whatever x); In the general
  form that region is what ``sample`` draws: if it always draws a bias of 0, ``x @ w - b`` is
  equivalent there (and ``jaxmlp verify`` cannot tell it from ``x @ w + b`` either);
* ``gap``: it passed, yet it computes something else (the row names a problem where it differs).

The kill rate is the share of non-equivalent mutants caught (killed or error); a right judge
reaches 100 %. The mutant's ``objective`` and ``sample`` (general form) are the original's
function objects: the mutation is of the derivation, never of the truth it is judged against.

Run: ``python -m jaxmlp.verify.mutants FILE [--examples N] [--seed S] [--dtype float32|float64]
[--operators sign,axis]`` prints the report; the exit status is 1 when a gap exists (2 when the
original does not pass).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable, Collection
from pathlib import Path

from jaxmlp.verify.derivation import DTYPES, EXAMPLES, check
from jaxmlp.verify.equivalence import cases_of, differs
from jaxmlp.verify.mutation_operators import OPERATORS, Mutant, mutants
from jaxmlp.verify.userfile import BadFileError, Subject, read

__all__ = ["EQUIVALENCE", "OUTCOMES", "MutationReport", "Row", "main", "run"]

OUTCOMES = ("killed", "error", "equivalent", "gap")
EQUIVALENCE = 50  #: problems (per precision) on which a survivor must equal the original
WIDTH = 100  #: columns of the printed table


@dataclasses.dataclass(frozen=True)
class Row:
    """One mutant's fate: its ``outcome`` (one of :data:`OUTCOMES`), the ``first_wrong_delta``
    a killed MLP-form mutant was reported with, and ``detail``: the counterexample (killed), the
    reason (error) or a problem where a gap differs from the original."""

    mutant: Mutant
    outcome: str
    first_wrong_delta: int | None = None
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class MutationReport:
    """Every mutant of the file at ``path`` and its outcome; ``print(report)`` shows the table.

    >>> wrong = Mutant("sign", "deltas", 52, "δ2 = t - o", "...")
    >>> unseen = Mutant("transpose", "grads", 39, "δ.T", "...")
    >>> rows = (Row(wrong, "killed", first_wrong_delta=1), Row(unseen, "equivalent"))
    >>> report = MutationReport("my_derivation.py", "float64", 100, 0, rows, seconds=2.0)
    >>> print(report.summary())
    2 mutants: killed 1, error 0, equivalent 1, gap 0; kill rate 100.0 % of 1 non-equivalent (2.0 s)
    """

    path: str
    dtype: str
    examples: int
    seed: int
    rows: tuple[Row, ...]
    seconds: float

    def count(self, outcome: str) -> int:
        """How many mutants had ``outcome``."""
        return sum(row.outcome == outcome for row in self.rows)

    @property
    def gaps(self) -> list[Row]:
        """The non-equivalent mutants that passed: each is a wrong derivation ``verify`` missed."""
        return [row for row in self.rows if row.outcome == "gap"]

    @property
    def kill_rate(self) -> float:
        """Caught (killed or error) over non-equivalent mutants; 1.0 when there are none."""
        relevant = len(self.rows) - self.count("equivalent")
        return 1.0 if not relevant else 1 - len(self.gaps) / relevant

    def summary(self) -> str:
        """One line: the counts, the kill rate and the time."""
        counts = ", ".join(f"{o} {self.count(o)}" for o in OUTCOMES)
        relevant = len(self.rows) - self.count("equivalent")
        return (f"{len(self.rows)} mutants: {counts}; kill rate {100 * self.kill_rate:.1f} % of "
                f"{relevant} non-equivalent ({self.seconds:.1f} s)")

    def __str__(self) -> str:
        lines = [f"mutation report: {self.path} ({self.dtype}, seed {self.seed})",
                 f"each mutant: the fixed probes, then {self.examples} drawn problems",
                 f"{'#':>3}  {'operator':10}  {'where':12}  {'outcome':10}  {'δ':>2}  mutated line"]
        for i, row in enumerate(self.rows, 1):
            m = row.mutant
            delta = "" if row.first_wrong_delta is None else row.first_wrong_delta
            head = f"{i:>3}  {m.operator:10}  {f'{m.function}:{m.line}':12}  {row.outcome:10}  "
            lines.append(_cut(f"{head}{delta:>2}  {' '.join(m.text.split())}"))
            if row.outcome in ("gap", "error"):
                lines.append(_cut(f"{'':>5}{row.outcome}: {row.detail}"))
        lines.append(self.summary())
        return "\n".join(lines)


def run(path: str, *, examples: int = EXAMPLES, seed: int = 0, dtype: str = "float64",
        operators: Collection[str] | None = None, problems: int = EQUIVALENCE) -> MutationReport:
    """Generate every mutant of the derivation at ``path``, verify and classify each.

    Arguments:
        path: a right derivation file (MLP form or general form, as ``jaxmlp verify`` reads).
        examples, seed, dtype: the search's effort, its seed and precision, for every mutant.
        operators: only these operators (names from
            :data:`jaxmlp.verify.mutation_operators.OPERATORS`); all by default.
        problems: how many problems (per precision) a survivor must match bit for bit to be
            ``equivalent``.

    Raises :class:`~jaxmlp.verify.userfile.BadFileError` when the file cannot be used and
    ``ValueError`` when the original itself does not pass: its mutants would prove nothing.

    For example (a few seconds: ``tests/test_verify_mutants.py`` runs such reports)::

        report = run("examples/my_logistic_regression.py", operators={"sum/mean"})
        [(row.mutant.text, row.outcome) for row in report.rows]
        # [('return {"w": x.T @ δ + λ * params["w"], "b": jnp.mean(δ)}', 'killed')]
    """
    start = time.perf_counter()
    original = read(path)
    verdict = check(original, examples=examples, seed=seed, dtype=dtype)
    if not verdict.passed:
        raise ValueError(f"{path}: the original derivation does not pass `jaxmlp verify` "
                         f"({dtype}, seed {seed}); mutants of a wrong derivation prove nothing")
    found = mutants(Path(path).read_text(encoding="utf-8"))
    found = [m for m in found if operators is None or m.operator in operators]
    rows, cases = [], {}
    with tempfile.TemporaryDirectory(prefix="jaxmlp-mutants-") as folder:
        for i, mutant in enumerate(found):
            file = Path(folder) / f"mutant_{i}.py"
            row, subject = _verify(original, mutant, file, examples, seed, dtype)
            if row is None:  # it passed: equivalent, or a gap
                cases = cases or cases_of(original, problems)
                witness = differs(subject, cases, original)
                row = Row(mutant, "gap" if witness else "equivalent", detail=witness or "")
            rows.append(row)
    return MutationReport(path, dtype, examples, seed, tuple(rows),
                          time.perf_counter() - start)


def main(argv: list[str] | None = None, out: Callable[[str], object] = print) -> int:
    """``python -m jaxmlp.verify.mutants FILE ...``: print the report; 1 when a gap exists.

    Returns the exit status: 0 (every non-equivalent mutant caught), 1 (a gap), 2 (the file
    cannot be used, or the original does not pass).

    >>> main(["no/such/file.py"])
    jaxmlp: error: no/such/file.py: no such file
    2
    """
    parser = argparse.ArgumentParser(prog="python -m jaxmlp.verify.mutants",
                                     description="Mutation testing of `jaxmlp verify` on FILE.")
    parser.add_argument("file", help="a right derivation (MLP form or general form)")
    parser.add_argument("--examples", type=int, default=EXAMPLES,
                        help=f"problems drawn per mutant after the fixed probes ({EXAMPLES})")
    parser.add_argument("--seed", type=int, default=0, help="the search's seed (0)")
    parser.add_argument("--dtype", choices=DTYPES, default="float64", help="precision (float64)")
    parser.add_argument("--operators", type=_operators, default=None,
                        help=f"only these, comma-separated (all): {','.join(OPERATORS)}")
    args = parser.parse_args(argv)
    try:
        report = run(args.file, examples=args.examples, seed=args.seed, dtype=args.dtype,
                     operators=args.operators)
    except ValueError as error:  # BadFileError included
        out(f"jaxmlp: error: {error}")
        return 2
    out(str(report))
    return 1 if report.gaps else 0


def _verify(original: Subject, mutant: Mutant, file: Path, examples, seed, dtype):
    """``(row, subject)``: the row of a caught mutant, or ``(None, subject)`` when it passed."""
    file.write_text(mutant.source, encoding="utf-8")
    try:
        subject = read(str(file))
        # the objective and its problems are the original's: the derivation is what is mutated
        subject = dataclasses.replace(subject, objective=original.objective,
                                      sample=original.sample)
        verdict = check(subject, examples=examples, seed=seed, dtype=dtype)
    except BadFileError as error:
        return Row(mutant, "error", detail=str(error).removeprefix(f"{file}: ")), None
    if verdict.passed:
        return None, subject
    found = verdict.counterexample
    return Row(mutant, "killed", verdict.first_wrong_delta, str(found.problem)), subject


def _operators(text: str) -> set[str]:
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(OPERATORS))
    if unknown:
        raise argparse.ArgumentTypeError(f"expected names from {','.join(OPERATORS)}, "
                                         f"got {','.join(unknown)}")
    return names


def _cut(line: str) -> str:
    return line if len(line) <= WIDTH else line[:WIDTH - 1] + "…"


if __name__ == "__main__":
    sys.exit(main())
