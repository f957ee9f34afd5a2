"""Where an epoch's time goes, op by op: a JAX profiler trace joined with XLA's optimised HLO.

``jaxmlp bench --profile DIR`` runs each JAX child with a profiler trace of its timed epochs
(``DIR/NAME/plugins/profile/*/*.trace.json.gz``) and XLA's dump of the programs it compiled
(``DIR/NAME/hlo/*.cpu_after_optimizations.txt``, or the GPU's ``*after_optimizations.txt``).
Every executed HLO op is one trace event named after the op (``ynn_fusion.5``), with the module
it belongs to; the dump says what the op is (a matrix product of which shapes, a gather, an
elementwise fusion) and, through its stack frame, which Python function it came from (the
optimizer's ``scale_by_adam``, ``count_correct``, ``MLP.forward``). :func:`op_table` adds up the
trace per op and per function and writes both as Markdown, the first question a profile answers
(``DIR/NAME/ops.md``; for a trace of your own, with the dump's flags set before JAX starts)::

    python -c "from jaxmlp.bench import ops; print(ops.format_ops(ops.op_table('DIR/NAME', 29)))"

>>> hlo = read_hlo(_EXAMPLE_HLO)
>>> hlo["dot.1"]
{'kind': 'product', 'flops': 3211264.0, 'shape': '(64×784)·(784×32)→(64×32)', 'where': 'f (a.py:3)'}
"""

from __future__ import annotations

import collections
import gzip
import json
import math
import re
from pathlib import Path

__all__ = ["format_ops", "op_table", "read_hlo", "trace_times", "write_op_tables"]

_EXAMPLE_HLO = """FileNames
1 "/x/a.py"

FunctionNames
1 "f"

FileLocations
1 {file_name_id=1 function_name_id=1 line=3 end_line=3 column=1 end_column=2}

StackFrames
1 {file_location_id=1 parent_frame_id=0}

ENTRY %main (a: f32[64,784], b: f32[784,32]) -> f32[64,32] {
  %a = f32[64,784]{1,0} parameter(0)
  %b = f32[784,32]{1,0} parameter(1)
  ROOT %dot.1 = f32[64,32]{1,0} dot(%a, %b), lhs_contracting_dims={1}, rhs_contracting_dims={0}, \
metadata={op_name="jit(f)/dot_general" stack_frame_id=1}
}
""".replace("\\\n", "")

_INSTRUCTION = re.compile(
    r"^\s*(?:ROOT )?%?([\w.\-]+) = (\([^)]*\)|\S+?)(?:\{[\d,]*\})? ([\w\-]+)\((.*)$")
_PARAMETER = re.compile(r"([\w.\-]+): ([a-z0-9]+\[[\d,]*\])")
#: ops whose trace event encloses the events of the ops they run (a loop, a branch, a call)
_CONTAINERS = ("while", "conditional", "call", "async-start", "async-done")
_COMPUTATION = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) \((.*)\) -> .* \{$")


def read_hlo(text: str) -> dict[str, dict]:
    """``{op: {"kind", "flops", "shape", "where"}}`` for every instruction of an optimised HLO
    module: ``kind`` is ``"product"`` (a dot, or a fusion that holds one), ``"gather"``,
    ``"control"`` (a loop, branch or call: its event holds its body's) or ``"other"``;
    ``flops`` a product's 2·M·N·K; ``where`` the innermost Python function of the op's stack
    frame, with its file and line."""
    frames = _frames(text)
    shapes: dict[str, str] = {}
    bodies: dict[str, list[tuple[str, str, str]]] = collections.defaultdict(list)
    ops: dict[str, tuple[str, str, str, str]] = {}
    computation = ""
    for line in text.splitlines():
        if head := _COMPUTATION.match(line):
            computation = head.group(1)
            shapes.update((name, shape) for name, shape in _PARAMETER.findall(head.group(2)))
            continue
        if not (m := _INSTRUCTION.match(line)):
            continue
        name, shape, opcode, rest = m.groups()
        shapes[name] = shape
        bodies[computation].append((opcode, shape, rest))
        ops[name] = (opcode, shape, rest, _where(rest, frames))
    table = {}
    for name, (opcode, shape, rest, where) in ops.items():
        called = re.search(r"calls=%([\w.\-]+)", rest)
        inner = bodies.get(called.group(1), []) if called else []
        kind, flops, described = "other", 0.0, _dims(shape)
        for op, out, args in [(opcode, shape, rest), *inner]:
            if op == "dot":
                kind, flops, described = "product", *_dot(out, args, shapes)
                break
            if op == "gather":
                kind = "gather"
        if opcode in _CONTAINERS:
            kind = "control"
        table[name] = {"kind": kind, "flops": flops, "shape": described, "where": where}
    return table


def trace_times(trace_dir: str | Path) -> dict[tuple[str, str], list]:
    """``{(module, op): [calls, seconds, [(start, end, run id), ...]]}`` of a profiler trace's
    HLO op events, in seconds (the newest ``*.trace.json.gz`` under ``trace_dir``)."""
    files = sorted(Path(trace_dir).rglob("*.trace.json.gz"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise FileNotFoundError(f"trace_dir: no *.trace.json.gz under {trace_dir}")
    with gzip.open(files[-1]) as f:
        events = json.load(f)["traceEvents"]
    times: dict[tuple[str, str], list] = collections.defaultdict(lambda: [0, 0.0, []])
    for e in events:
        args = e.get("args") or {}
        if e.get("ph") == "X" and "hlo_op" in args:
            entry = times[args.get("hlo_module", ""), args["hlo_op"]]
            start, length = e.get("ts", 0) / 1e6, e.get("dur", 0) / 1e6
            entry[0] += 1
            entry[1] += length
            entry[2].append((start, start + length, args.get("run_id", "")))
    return dict(times)


def op_table(profile_dir: str | Path, epochs: int) -> list[dict]:
    """One row per HLO op that ran in the trace under ``profile_dir`` (its ``hlo/`` folder holds
    XLA's dump), slowest first: ``op``, ``module``, ``calls`` and ``ms`` per epoch (the trace
    covers ``epochs`` epochs), ``us_per_call``, ``share`` of the busiest program's wall time
    (the epoch's: each execution from its first op's start to its last op's end),
    ``gflops_per_s`` (a product's), ``kind``, ``shape`` and ``where``. One more row, kind
    ``"idle"``, is that program's wall time when none of its ops ran (dispatch, waits)."""
    if epochs < 1:
        raise ValueError(f"epochs: expected an integer >= 1, got {epochs!r}")
    times = trace_times(profile_dir)
    described: dict[str, dict[str, dict]] = {}
    for module in {module for module, _ in times}:  # of the dumps of its name, the one naming
        ops = {op for m, op in times if m == module}  # its ops
        best: dict[str, dict] = {}
        for path in Path(profile_dir, "hlo").glob(f"*.{module}.*after_optimizations.txt"):
            hlo = read_hlo(path.read_text())
            if len(ops & hlo.keys()) > len(ops & best.keys()):
                best = hlo
        described[module] = best
    blank = {"kind": "other", "flops": 0.0, "shape": "", "where": ""}
    # a loop's event holds its body's events: count the body's ops, not the loop twice
    times = {key: value for key, value in times.items()
             if described[key[0]].get(key[1], blank)["kind"] != "control"}
    busiest = max({m for m, _ in times}, key=lambda m: sum(v[1] for k, v in times.items()
                                                            if k[0] == m), default="")
    runs: dict[str, list] = collections.defaultdict(list)  # the busiest program's executions
    for (module, _), (_, _, spans) in times.items():
        for start, end, run in spans if module == busiest else ():
            runs[run].append((start, end))
    walls = {run: max(e for _, e in spans) - min(b for b, _ in spans)
             for run, spans in runs.items()}
    wall = sum(walls.values()) or 1.0
    rows = []
    for (module, op), (calls, seconds, _) in times.items():
        info = described[module].get(op, blank)
        rate = info["flops"] * calls / seconds / 1e9 if info["flops"] and seconds else None
        rows.append({"op": op, "module": module, "calls": calls / epochs,
                     "ms": 1e3 * seconds / epochs, "us_per_call": 1e6 * seconds / calls,
                     "share": seconds / wall, "gflops_per_s": rate, **info})
    idle = sum(walls[run] - _covered(sorted(spans)) for run, spans in runs.items())
    rows.append({"op": "(no op running)", "module": busiest, "calls": 0.0,
                 "ms": 1e3 * idle / epochs, "us_per_call": 0.0, "share": idle / wall,
                 "gflops_per_s": None, "kind": "idle", "flops": 0.0, "shape": "",
                 "where": "inside the program, between its ops: dispatch, waits"})
    return sorted(rows, key=lambda r: -r["ms"])


def _covered(spans: list[tuple[float, float]]) -> float:
    """The length of the union of sorted intervals."""
    total, reach = 0.0, float("-inf")
    for start, end in spans:
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def format_ops(rows: list[dict], top: int = 25) -> str:
    """The rows as Markdown: a summary by kind and by Python function, then the ``top`` ops.

    >>> rows = [{"op": "dot.1", "module": "m", "calls": 750.0, "ms": 30.0, "us_per_call": 40.0,
    ...          "share": 0.6, "gflops_per_s": 80.0, "kind": "product", "shape": "(64×784)",
    ...          "where": "f (a.py:3)"}]
    >>> print(format_ops(rows).splitlines()[2])
    | product | 30.0 | 60 % |
    """
    lines = ["| kind | ms/epoch | share |", "|---|--:|--:|"]
    for kind, ms, share in _grouped(rows, "kind"):
        lines.append(f"| {kind} | {ms:.1f} | {100 * share:.0f} % |")
    lines += ["", "| Python function (innermost frame) | ms/epoch | share |", "|---|--:|--:|"]
    for where, ms, share in _grouped(rows, "where"):
        lines.append(f"| {where or '(no frame)'} | {ms:.1f} | {100 * share:.0f} % |")
    lines += ["", "| op | calls/epoch | µs/call | ms/epoch | share | GFLOP/s | shape | where |",
              "|---|--:|--:|--:|--:|--:|---|---|"]
    for r in rows[:top]:
        rate = "—" if r["gflops_per_s"] is None else f"{r['gflops_per_s']:.0f}"
        lines.append(f"| {r['op']} | {r['calls']:.0f} | {r['us_per_call']:.1f} | {r['ms']:.2f} | "
                     f"{100 * r['share']:.1f} % | {rate} | {r['shape']} | {r['where']} |")
    return "\n".join(lines)


def write_op_tables(profile_dir: str | Path, names: list[str], epochs: int) -> list[Path]:
    """Write ``profile_dir/NAME/ops.md`` (:func:`format_ops`) for each implementation whose child
    left a trace there; return the files written."""
    written = []
    for name in names:
        folder = Path(profile_dir, name)
        if any(folder.rglob("*.trace.json.gz")):
            path = folder / "ops.md"
            path.write_text(f"# {name}: where {epochs} epochs' time goes, per epoch\n\n"
                            + format_ops(op_table(folder, epochs)) + "\n")
            written.append(path)
    return written


def _grouped(rows, key):
    sums: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    for r in rows:
        sums[r[key]][0] += r["ms"]
        sums[r[key]][1] += r["share"]
    return sorted(((k, ms, share) for k, (ms, share) in sums.items()), key=lambda g: -g[1])


def _frames(text: str) -> dict[int, str]:
    """``{stack frame id: "function (file:line)"}`` from the module's frame tables."""
    sections: dict[str, dict[int, str]] = collections.defaultdict(dict)
    section = ""
    for line in text.splitlines():
        if line in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
            section = line
        elif section and (m := re.match(r"^(\d+) (.*)$", line)):
            sections[section][int(m.group(1))] = m.group(2)
        elif not line.strip():
            section = ""
    names = {k: v.strip('"') for k, v in sections["FunctionNames"].items()}
    files = {k: _short(v.strip('"')) for k, v in sections["FileNames"].items()}
    places = {}
    for k, v in sections["FileLocations"].items():
        fields = dict(re.findall(r"(\w+)=(\d+)", v))
        places[k] = (f"{names.get(int(fields.get('function_name_id', 0)), '?')} "
                     f"({files.get(int(fields.get('file_name_id', 0)), '?')}:{fields.get('line')})")
    frames = {}
    for k, v in sections["StackFrames"].items():
        fields = dict(re.findall(r"(\w+)=(\d+)", v))
        frames[k] = places.get(int(fields.get("file_location_id", 0)), "")
    return frames


def _where(rest: str, frames: dict[int, str]) -> str:
    """An instruction's Python source: its stack frame, or (older XLA, no frame tables) its
    metadata's source file and line."""
    if frame := re.search(r"stack_frame_id=(\d+)", rest):
        return frames.get(int(frame.group(1)), "")
    if source := re.search(r'source_file="([^"]+)" source_line=(\d+)', rest):
        return f"{_short(source.group(1))}:{source.group(2)}"
    return ""


def _short(path: str) -> str:
    """A source file's path from its package down (``jaxmlp/core/model.py``, ``optax/...``)."""
    parts = Path(path).parts
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in ("site-packages", "dist-packages"):
            return "/".join(parts[i + 1:])
    if "jaxmlp" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("jaxmlp"):])
    return Path(path).name


def _dims(shape: str) -> str:
    m = re.search(r"\[([\d,]*)\]", shape)
    return f"({m.group(1).replace(',', '×')})" if m else shape


def _dot(out: str, args: str, shapes: dict[str, str]) -> tuple[float, str]:
    """A dot's 2·(output elements)·K and its shapes, from its operands' declared shapes."""
    operands = re.findall(r"%([\w.\-]+)", args.split(")", 1)[0])
    contracting = re.search(r"lhs_contracting_dims=\{([\d,]*)\}", args)
    lhs = [int(d) for d in re.findall(r"\d+", shapes.get(operands[0], "").split("[", 1)[-1])]
    k = math.prod(lhs[int(d)] for d in contracting.group(1).split(",")) if (
        contracting and lhs and contracting.group(1)) else 1
    out_dims = [int(d) for d in re.findall(r"\d+", out.split("[", 1)[-1])]
    described = "·".join(_dims(shapes.get(o, "")) for o in operands[:2]) + f"→{_dims(out)}"
    return 2.0 * math.prod(out_dims) * k, described
