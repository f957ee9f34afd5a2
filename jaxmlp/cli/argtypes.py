"""Argument types for the command lines (``jaxmlp ...`` and ``jaxmlp bench``).

Each parses one option's text or raises :class:`argparse.ArgumentTypeError` with a message that
says what was expected and what was given; argparse adds the option's name.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

__all__ = ["fraction", "int_at_least", "names", "nonnegative_float", "number", "number_in",
           "positive_float", "widths"]


def widths(text: str) -> tuple[int, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected widths such as 32 or 128,64, got "
                                         f"{text!r}") from None
    if min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected every width >= 1, got {text!r}")
    return widths


def names(allowed: Sequence[str]):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        unknown = [n for n in names if n not in allowed]
        if unknown or not names or len(set(names)) != len(names):
            raise argparse.ArgumentTypeError(f"expected distinct names from {','.join(allowed)}, "
                                             f"got {text!r}")
        return names
    return parse


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    if (value := number(text)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    if (value := number(text)) < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    if not 0 <= (value := number(text)) < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


def number_in(low: float, high: float):
    def parse(text: str) -> float:
        if not low <= (value := number(text)) <= high:
            raise argparse.ArgumentTypeError(f"expected a number from {low} to {high}, got "
                                             f"{text!r}")
        return value
    return parse


def int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}")
        return value
    return parse
