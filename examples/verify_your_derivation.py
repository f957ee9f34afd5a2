"""Check your own backprop derivation against jax.grad with ``jaxmlp.verify``.

Follows deck 001 (slide 「誤差逆伝播法」, the δ equations (4)-(6)), deck 003 (slide 「計算グラフで
デルタを追う」, the canonical link ŷ − y) and deck 004 (slide 「重みの更新式」, δ = −∂E/∂in): write
the δ rule for your network by hand in a file like ``my_derivation.py`` (it defines ``model``,
``loss``, ``reduction``, ``grads(params, x, t)`` and ``deltas(params, x, t)``), and let jaxmlp
search for a problem where it differs from ``jax.grad`` (batch 1, saturation, kinks at u = 0, the
clipping bounds). A wrong derivation is reported as the shrunk counterexample, the first wrong δ
and the wrong leaves (which layer, which of ``w`` / ``b``, how far off). The same check from the
shell: ``jaxmlp verify examples/my_derivation.py`` (``--json`` for a machine-readable last line).

Run: python examples/verify_your_derivation.py   (a few seconds)
"""

import sys
from pathlib import Path

import jaxmlp.verify

MEANING = {
    0: "your derivation equals jax.grad",
    1: "your derivation is wrong where the table says NO",
    2: "the file could not be checked (see the line above)",
}


def main() -> int:
    path = Path(__file__).resolve().parent / "my_derivation.py"
    status = jaxmlp.verify.run(str(path))
    print(f"exit status {status}: {MEANING[status]}")
    return status


if __name__ == "__main__":
    sys.exit(main())
