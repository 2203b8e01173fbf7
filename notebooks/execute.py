"""Execute the book's notebooks with papermill under a parameter profile.

    python notebooks/execute.py --profile quick            # execute into notebooks/_executed/
    python notebooks/execute.py --profile quick --prepare-only --out notebooks/_prepared
    python notebooks/execute.py --profile full --set "mnist.seeds=[0]" mnist   # one value changed

The committed sources are MyST markdown notebooks (``notebooks/<name>.md``, paired with
jupytext). ``notebooks/params/<profile>.yaml`` maps each notebook name to the values of its
``parameters`` cell and fixes the order in which they run. With ``--prepare-only`` the
parameters are injected without executing (nbval then runs the copies in ``make test``).
``--set NOTEBOOK.NAME=VALUE`` (VALUE in YAML, repeatable) changes one parameter of the profile.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import papermill
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pages  # noqa: E402  (notebooks/pages.py)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", help="notebooks/params/<profile>.yaml")
    parser.add_argument("--out", default=str(HERE / "_executed"), help="folder for the .ipynb files")
    parser.add_argument("--prepare-only", action="store_true", help="inject parameters, do not execute")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NOTEBOOK.NAME=VALUE",
        help="override one parameter of the profile (VALUE is YAML); repeatable",
    )
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all in the profile)")
    args = parser.parse_args(argv)

    profile_path = HERE / "params" / f"{args.profile}.yaml"
    if not profile_path.exists():
        parser.error(f"--profile: no file {profile_path}")
    profile = yaml.safe_load(profile_path.read_text()) or {}
    for override in args.set:
        key, sep, value = override.partition("=")
        notebook, dot, name = key.partition(".")
        if not (sep and dot and notebook and name):
            parser.error(f"--set: expected NOTEBOOK.NAME=VALUE, got {override!r}")
        profile[notebook] = {**(profile.get(notebook) or {}), name: yaml.safe_load(value)}
    names = args.names or list(profile)
    unknown = [name for name in names if not (HERE / f"{name}.md").exists()]
    if unknown:
        parser.error(f"no notebook source for {unknown} in {HERE}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # the kernels inherit these: the profile a page says it was built with, and where chapters save
    # their claims for the scorecard (cgp_lib.repro.claims)
    os.environ["CGP_PROFILE"] = args.profile
    os.environ.setdefault("CGP_CLAIMS_DIR", str((out / "claims").resolve()))
    for name in names:
        source = out / f"{name}.source.ipynb"
        jupytext.write(jupytext.read(HERE / f"{name}.md"), source)
        start = time.perf_counter()
        papermill.execute_notebook(
            str(source),
            str(out / f"{name}.ipynb"),
            parameters=profile.get(name) or {},
            prepare_only=args.prepare_only,
            cwd=str(HERE),
            kernel_name="python3",
            progress_bar=not args.prepare_only,
            log_output=False,
        )
        source.unlink()
        if not args.prepare_only:  # the page: parameters folded, papermill's copy removed, a banner
            executed = nbformat.read(out / f"{name}.ipynb", as_version=4)
            nbformat.write(pages.prepare_page(executed, args.profile), out / f"{name}.ipynb")
        verb = "prepared" if args.prepare_only else "executed"
        print(f"{name}: {verb} with profile {args.profile} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
