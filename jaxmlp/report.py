"""What a comparison reports: a :class:`GradientReport` (a table of leaves) or a :class:`Check`.

Every check of :mod:`jaxmlp.check` makes one of these; ``jaxmlp verify`` prints them. Each leaf of
a report carries the rule of :func:`jaxmlp.tolerance.compare` that judged it, and the table marks
it: ``yes`` within the tolerance, ``yes¹`` within the rounding bound, ``yes²`` rounding by the
change of precision, ``yes³`` as accurate as ``jax.grad``; ``NO`` when rounding cannot explain it.
"""

from __future__ import annotations

import dataclasses

from jaxmlp.tolerance import (
    AS_ACCURATE,
    BEYOND,
    BOUND,
    NOISE,
    NOT_FINITE,
    PRECISION,
    TOLERANCE,
    LeafError,
)

__all__ = ["Check", "GradientReport", "check_line", "table", "text_table"]


@dataclasses.dataclass(frozen=True)
class Check:
    """One verified claim: its ``name``, ``what`` it was compared with, worst error, verdict."""

    name: str
    what: str
    max_rel: float
    passed: bool


@dataclasses.dataclass(frozen=True)
class GradientReport:
    """The result of :func:`check_gradients`.

    ``str(report)`` is a table, ``report.passed`` the verdict.
    """

    leaves: tuple[LeafError, ...]
    rtol: float
    dtype: str
    leaf_rtol: float = 0.0
    floor: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether every leaf is within both tolerances."""
        return all(leaf.passed for leaf in self.leaves)

    @property
    def max_rel(self) -> float:
        """The largest normwise relative error."""
        return max((leaf.rel for leaf in self.leaves), default=0.0)

    @property
    def failures(self) -> tuple[LeafError, ...]:
        """The leaves that are out of tolerance."""
        return tuple(leaf for leaf in self.leaves if not leaf.passed)

    def summary(self, name: str, what: str) -> Check:
        """The report as one :class:`Check` line (the worst leaf's own error and the verdict)."""
        worst = max((leaf.leaf_rel for leaf in self.leaves), default=0.0)
        return Check(name, what, worst, self.passed)

    def __str__(self) -> str:
        head = ("leaf", "shape", "max |jax.grad|", "max |Δ|", "normwise", "own", "ok")
        rows = [(leaf.path, str(leaf.shape), f"{leaf.max_ref:.3e}", f"{leaf.max_abs:.3e}",
                 f"{leaf.rel:.2e}", f"{leaf.leaf_rel:.2e}", _verdict(leaf))
                for leaf in self.leaves]
        lines = [text_table(head, rows)]
        rules = dict.fromkeys(leaf.rule for leaf in self.leaves if leaf.rule != TOLERANCE)
        lines += [f"{_MARK[rule]}: {_MEANING[rule]}" for rule in rules]
        worst = max((leaf.leaf_rel for leaf in self.leaves), default=0.0)
        if self.passed:
            verdict = "PASS"
        else:
            verdict = f"FAIL ({len(self.failures)} of {len(self.leaves)} leaves)"
        lines.append(f"{verdict}: normwise {self.max_rel:.2e} (≤ {self.rtol:.0e}), own {worst:.2e} "
                     f"(≤ {self.leaf_rtol:.0e}, floor {self.floor:.0e}·max), {self.dtype}")
        return "\n".join(lines)


def table(checks: list[Check]) -> str:
    """The checks as a text table: check, compared with, max rel. error, ok.

    >>> print(table([Check("deck 002 μ", "deck: 0.4", 0.0, True)]))
    check       compared with  max rel. error  ok
    ----------  -------------  --------------  ---
    deck 002 μ  deck: 0.4      0.00e+00        yes
    """
    rows = [(c.name, c.what, f"{c.max_rel:.2e}", "yes" if c.passed else "NO") for c in checks]
    return text_table(("check", "compared with", "max rel. error", "ok"), rows)


def check_line(check: Check, width: int = 100) -> str:
    """One check as one line of at most ``width`` columns, printed as soon as the check finishes.

    >>> check_line(Check("deck 002 μ", "deck: 0.4", 0.0, True))
    'ok  0.0e+00  deck 002 μ  (deck: 0.4)'
    """
    line = f"{'ok' if check.passed else 'NO':<3} {check.max_rel:.1e}  {check.name}  ({check.what})"
    return line if len(line) <= width else line[:width - 1] + "…"


def _verdict(leaf: LeafError) -> str:
    return _MARK[leaf.rule]


#: how the table marks each rule of :func:`compare`, and the line that explains the mark
_MARK = {TOLERANCE: "yes", BOUND: "yes¹", PRECISION: "yes²", AS_ACCURATE: "yes³",
         NOISE: "yes⁴", NOT_FINITE: "NO (not finite)", BEYOND: "NO"}
_MEANING = {
    BOUND: "within the rounding bound of a right δ rule here (ε × the magnitudes of its terms)",
    PRECISION: "rounding: in float64 it agrees with jax.grad (or shrinks 16× from float32)",
    AS_ACCURATE: "as accurate as jax.grad in this precision, against the float64 gradient",
    NOISE: "within the rounding both sides were measured to have here (random rounding)",
    NOT_FINITE: "NaN or ±inf where jax.grad is finite (overflow, 0 × ∞, ∞ − ∞ or 0/0)",
    BEYOND: "not rounding: it survives the change of precision and exceeds the rounding bound",
}


def text_table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    rule = ("-" * w for w in widths)
    lines = [fmt.format(*head), fmt.format(*rule)] + [fmt.format(*r) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
