"""How well ``jaxmlp verify --suggest`` finds the fix: every mutant of a right file, suggested.

For each mutant of a right derivation (:mod:`jaxmlp.verify.mutants`: one student's mistake, one
edit) that ``jaxmlp verify`` calls wrong, :func:`measure` runs the suggestion search at the
default effort and records whether the original line came back among the suggestions, whether
the first suggestion, applied (its ``line`` replaced by ``new``), gives a file that ``jaxmlp
verify`` passes, and the seconds. Equivalent mutants and mutants verify cannot use are left out.

Run: ``python -m jaxmlp.bench.suggestions FILE [--dtype float64] [--examples 100]`` prints the
table (one row per mutant, then the shares); ``jaxmlp bench verdicts`` carries the shares of both
shipped examples.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main", "measure"]


def measure(path: str, *, dtype: str = "float64", examples: int = 100, seed: int = 0,
            out=None) -> dict:
    """``{"rows", "found", "fixed", "seconds", ...}``: the suggestions for each of its mutants."""
    from jaxmlp.verify.derivation import check
    from jaxmlp.verify.mutation_operators import mutants
    from jaxmlp.verify.userfile import BadFileError, read

    source = Path(path).read_text(encoding="utf-8")
    lines = source.splitlines()
    original = read(path)
    rows = []
    with tempfile.TemporaryDirectory(prefix="jaxmlp-suggestions-") as folder:
        for i, mutant in enumerate(mutants(source)):
            file = Path(folder) / f"mutant_{i}.py"
            text = lines[:]  # the student's file: the original with the one line changed
            if mutant.end_line != mutant.line:
                continue
            old = text[mutant.line - 1]
            text[mutant.line - 1] = old[:len(old) - len(old.lstrip())] + mutant.text
            file.write_text("\n".join(text) + "\n", encoding="utf-8")
            start = time.perf_counter()
            try:
                subject = read(str(file))
                if original.objective is not None:
                    subject = _with_truth(subject, original)
                report = check(subject, examples=examples, seed=seed, dtype=dtype, suggest=True)
            except BadFileError:
                continue
            if report.passed:
                continue  # equivalent here, or a gap the mutation report names
            found = [s for s in report.suggestions if s.line == mutant.line]
            back = any(_same_code(s.new, old) for s in found)
            fixed = bool(report.suggestions) and _passes(report.suggestions[0], text, file,
                                                         original, examples, seed, dtype)
            row = {"line": mutant.line, "operator": mutant.operator, "mistake": mutant.text,
                   "suggestions": len(report.suggestions), "original_back": back,
                   "first_fixes": fixed, "seconds": time.perf_counter() - start}
            rows.append(row)
            if out:
                out(f"{row['line']:>4} {row['operator']:10} back={back!s:5} "
                    f"fixes={fixed!s:5} n={row['suggestions']} {row['seconds']:.1f}s  "
                    f"{' '.join(mutant.text.split())[:50]}")
    count = len(rows) or 1
    return {"file": Path(path).name, "dtype": dtype, "examples": examples, "rows": rows,
            "mutants": len(rows), "found": sum(r["original_back"] for r in rows) / count,
            "fixed": sum(r["first_fixes"] for r in rows) / count,
            "seconds": sum(r["seconds"] for r in rows) / count}


def _same_code(a: str, b: str) -> bool:
    """Whether two lines are the same statement (quotes, spaces and comments aside)."""
    import ast

    try:
        return ast.dump(ast.parse(a.strip())) == ast.dump(ast.parse(b.strip()))
    except SyntaxError:
        return a.strip() == b.strip()


def _with_truth(subject, original):
    import dataclasses

    return dataclasses.replace(subject, objective=original.objective, sample=original.sample,
                               sample_takes=original.sample_takes)


def _passes(suggestion, text, file, original, examples, seed, dtype) -> bool:
    """Whether the student's file with ``suggestion`` applied passes ``jaxmlp verify``."""
    from jaxmlp.verify.derivation import check
    from jaxmlp.verify.userfile import read

    fixed = text[:]
    fixed[suggestion.line - 1] = suggestion.new
    file.write_text("\n".join(fixed) + "\n", encoding="utf-8")
    subject = read(str(file))
    if original.objective is not None:
        subject = _with_truth(subject, original)
    return check(subject, examples=examples, seed=seed, dtype=dtype).passed


def main(argv: list[str] | None = None) -> int:
    """Print the table of :func:`measure` for FILE; the exit status is 0."""
    parser = argparse.ArgumentParser(prog="python -m jaxmlp.bench.suggestions")
    parser.add_argument("file")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--examples", type=int, default=100)
    args = parser.parse_args(argv)
    result = measure(args.file, dtype=args.dtype, examples=args.examples, out=print)
    print(f"{result['file']} {args.dtype}: {result['mutants']} wrong mutants; the original line "
          f"among the suggestions for {100 * result['found']:.0f} %, the first suggestion fixes "
          f"{100 * result['fixed']:.0f} %; {result['seconds']:.1f} s per search")
    return 0


if __name__ == "__main__":
    sys.exit(main())
