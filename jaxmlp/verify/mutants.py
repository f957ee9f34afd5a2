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

import jax
import numpy as np

from jaxmlp.core.random_rounding import rounding_spread
from jaxmlp.verify.derivation import DTYPES, EXAMPLES, check
from jaxmlp.verify.mutation_operators import OPERATORS, Mutant, mutants
from jaxmlp.verify.problem import Problem, draw, region
from jaxmlp.verify.search import NOISE_MARGIN
from jaxmlp.verify.userfile import BadFileError, Subject, one_line, read

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
                cases = cases or _cases(original, problems)
                witness = _differs(subject, cases, original)
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


def _cases(original: Subject, count: int) -> dict:
    """Per precision, ``count`` problems of the search's region (every batch size, scale and
    kind in turn), drawn, with the original's outputs on them."""
    batches, scales, kinds = region(original)
    grid = [(batch, scale, kind) for kind in kinds for scale in scales for batch in batches]
    cases = {}
    for dtype in DTYPES:
        with jax.enable_x64(np.dtype(dtype).itemsize >= 8):
            drawn = [(Problem(i, *grid[i % len(grid)]), np.dtype(dtype)) for i in range(count)]
            drawn = [(problem, draw(original, problem, precision)) for problem, precision in drawn]
            cases[dtype] = [(p, args, _outputs(original, *args)) for p, args in drawn]
    return cases


def _differs(mutant: Subject, cases: dict, original: Subject | None = None) -> str | None:
    """A problem (and precision) of ``cases`` where the mutant's output differs from the
    original's in any bit, or ``None`` when it equals it on all of them."""
    for dtype, problems in cases.items():
        with jax.enable_x64(np.dtype(dtype).itemsize >= 8):
            for problem, args, want in problems:
                try:
                    got = _outputs(mutant, *args)
                except Exception as error:  # a survivor that breaks elsewhere differs
                    return f"{problem}, {dtype}: raised {one_line(error, 80)}"
                if not (_same_bits(got, want) or _within_tolerance(got, want)
                        or _within_rounding(mutant, original, args, got, want)):
                    return f"{problem}, {dtype}"
    return None


def _outputs(subject: Subject, params, x, t):
    deltas = None if subject.deltas is None else subject.deltas(params, x, t)
    return jax.device_get((subject.grads(params, x, t), deltas))


def _same_bits(got, want) -> bool:
    got_leaves, got_tree = jax.tree.flatten(got)
    want_leaves, want_tree = jax.tree.flatten(want)
    if got_tree != want_tree:
        return False
    pairs = ((np.asarray(g), np.asarray(w)) for g, w in zip(got_leaves, want_leaves))
    return all(g.dtype == w.dtype and g.shape == w.shape and g.tobytes() == w.tobytes()
               for g, w in pairs)


def _within_tolerance(got, want) -> bool:
    """Whether ``got`` equals ``want`` to a few ulps of the largest entry, whole pytree (a fixed
    rule, not the judge's: a weakened judge must not make a gap look equivalent)."""
    pairs = _pairs(got, want)
    if pairs is None:
        return False
    scale = max((float(np.max(np.abs(w))) for _, w in pairs if w.size), default=0.0)
    return all(np.all(np.abs(g.astype(np.float64) - w) <= 8 * np.finfo(w.dtype).eps * scale)
               for g, w in pairs)


def _within_rounding(mutant, original, args, got, want) -> bool:
    """Whether the general form's mutant and original differ, entry by entry, by no more than
    the rounding both were measured to have here
    (:func:`jaxmlp.core.random_rounding.rounding_spread`): a term that is zero in exact
    arithmetic, dropped where the gradient itself is rounding noise."""
    if original is None or original.model is not None:
        return False
    try:
        spreads = [rounding_spread(s.grads, *args) for s in (mutant, original)]
    except Exception:  # not traceable: no evidence
        return False
    noise = jax.tree.leaves(jax.tree.map(lambda a, b: NOISE_MARGIN * (a + b), *spreads))
    pairs = _pairs(got[0], want[0])
    if pairs is None or len(noise) != len(pairs):
        return False
    return all(np.all(np.abs(g.astype(np.float64) - w) <= np.asarray(n))
               for (g, w), n in zip(pairs, noise))


def _pairs(got, want):
    """The leaves of two pytrees as float arrays side by side; ``None`` if they differ in form."""
    got_leaves, got_tree = jax.tree.flatten(got)
    want_leaves, want_tree = jax.tree.flatten(want)
    if got_tree != want_tree:
        return None
    pairs = [(np.asarray(g), np.asarray(w)) for g, w in zip(got_leaves, want_leaves)]
    if any(g.shape != w.shape or w.dtype.kind != "f" for g, w in pairs):
        return None
    return pairs


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
