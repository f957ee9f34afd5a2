"""Run example scripts one after another in this one process, each as ``python SCRIPT ARGS`` would.

Usage: ``python run_examples.py PLAN RESULTS``. PLAN is a JSON list of ``[name, script, args,
cwd]``; RESULTS receives ``{name: {"returncode", "stdout", "stderr"}}``. Each script runs as
``__main__`` with its own ``sys.argv``, working directory and ``sys.path[0]`` (its folder); what it
prints is captured; ``sys.exit(message)`` and an uncaught exception end it as the interpreter would
(the message or traceback on stderr, status 1). Between scripts the JAX settings a script may change
(``jax_enable_x64``) are restored and matplotlib's figures closed, so each starts as a fresh process
would; only JAX's start-up and the compiled programs are shared (the reason for one process).
"""

import contextlib
import io
import json
import os
import runpy
import sys
import traceback

import jax


def run_one(script: str, args: list[str], cwd: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    argv, path0, here, x64 = sys.argv, sys.path[0], os.getcwd(), jax.config.jax_enable_x64
    sys.argv, sys.path[0] = [script, *args], os.path.dirname(script)
    os.chdir(cwd)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_path(script, run_name="__main__")
            except SystemExit as stop:
                if stop.code is None or isinstance(stop.code, int):
                    code = stop.code or 0
                else:
                    print(stop.code, file=sys.stderr)
                    code = 1
            except BaseException:
                traceback.print_exc()
                code = 1
    finally:
        sys.argv, sys.path[0] = argv, path0
        os.chdir(here)
        jax.config.update("jax_enable_x64", x64)
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
    return {"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def main(plan_file: str, results_file: str) -> None:
    plan = json.loads(open(plan_file).read())
    results = {name: run_one(script, args, cwd) for name, script, args, cwd in plan}
    with open(results_file, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
