"""``jaxmlp verify FILE --suggest``: for a wrong derivation, the one edit that makes it right.

The mistakes students make are a table (:mod:`jaxmlp.verify.mutation_operators`), and most of
them are undone by an edit of the same table or of its inverse (:mod:`jaxmlp.verify.fix_operators`).
:func:`suggest` applies every single such edit to the wrong file and keeps the edits whose file
passes the same full check the user ran (the same effort, seed and precision, never less):

1. a cheap probe first: the edited file must agree with ``jax.grad`` on the counterexample itself,
   in float64 within 1e-6 and with no evidence of rounding gathered (most edits fail there, or
   cannot be used, in milliseconds; a right edit meets it, since float64's rounding is far below
   1e-6 of a gradient);
2. then the full search, as ``jaxmlp verify`` runs it, judged against the user's own
   ``objective`` and ``sample`` (general form) or ``model`` and ``loss`` (MLP form).

A suggestion is never a false fix: it is shown only when its file passes that check; if several
edits pass, each is shown. An edit spanning several lines is not proposed (``new`` replaces one
line). Each :class:`Suggestion` carries the line as written, the line as it would read, and what
the edit means in the lecture's words.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from jaxmlp.verify.fix_operators import WHY, fixes
from jaxmlp.verify.mutation_operators import Mutant, mutants
from jaxmlp.verify.search import agrees
from jaxmlp.verify.userfile import BadFileError, Subject, read

__all__ = ["Suggestion", "suggest"]


@dataclasses.dataclass(frozen=True)
class Suggestion:
    """One edit that makes the file pass: replace line ``line`` (``old``) by ``new``."""

    line: int
    old: str
    new: str
    why: str

    def json(self) -> dict:
        """``{"line", "old", "new", "why"}``, as ``--json`` carries it."""
        return dataclasses.asdict(self)

    def lines(self) -> list[str]:
        """The printed form: where, the line as written and as it would read, and why."""
        return [f"  line {self.line}: {self.old.strip()}", f"     → {self.new.strip()}",
                f"       {self.why}"]


def suggest(subject: Subject, problem, *, examples: int, seed: int, dtype: str,
            check) -> list[Suggestion]:
    """Every single edit of the file at ``subject.path`` that makes it pass ``check``.

    Arguments:
        subject: the wrong derivation, read from its file.
        problem: its counterexample's :class:`~jaxmlp.verify.problem.Problem` (the cheap probe).
        examples, seed, dtype: the effort of the user's check, repeated for each edit.
        check: :func:`jaxmlp.verify.derivation.check` (passed in: that module calls this one).

    Returns the suggestions in the file's order (``[]`` when no single edit passes).
    """
    path = Path(subject.path)
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    edits = [m for m in mutants(source, fixes(source)) if m.end_line == m.line]
    found = []
    with tempfile.TemporaryDirectory(prefix="jaxmlp-suggest-") as folder:
        for i, edit in enumerate(edits):
            edited = _edited(subject, edit, Path(folder) / f"edit_{i}.py")
            if edited is None or not agrees(edited, problem):
                continue
            try:
                report = check(edited, examples=examples, seed=seed, dtype=dtype)
            except BadFileError:
                continue
            if report.passed:
                old = lines[edit.line - 1]
                indent = old[:len(old) - len(old.lstrip())]
                found.append(Suggestion(edit.line, old, indent + edit.text, WHY[edit.operator]))
    return list({(s.line, s.new): s for s in found}.values())


def _edited(subject: Subject, edit: Mutant, file: Path) -> Subject | None:
    """The edited file as a subject judged by the original's truth, or ``None`` if unusable."""
    file.write_text(edit.source, encoding="utf-8")
    try:
        edited = read(str(file))
    except BadFileError:
        return None
    if subject.model is None:  # the objective and its problems are the user's own
        edited = dataclasses.replace(edited, objective=subject.objective, sample=subject.sample,
                                     sample_takes=subject.sample_takes)
    return edited
