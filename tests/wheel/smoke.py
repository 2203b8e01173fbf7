"""Build cgp_lib's wheel and sdist, install the wheel into a fresh virtual environment that sees
only the wheel's runtime dependencies, and explain a few rows there (``make wheel-smoke``).

Offline: the dependencies are not installed again. They are taken from the environment running
this script (the project's .venv), but only those the wheel's metadata asks for, with their own
dependencies: each such distribution's top-level files are linked into one folder, which the
fresh environment adds to its path (a ``.pth`` file). The project's own source tree and its
editable install are not on that path, the extras (alibi, the book, saliency, matplotlib) are
not either, and ``pip check`` must find every requirement satisfied. The script run there
(``explain_few_rows.py``) imports every module of the package from the installed wheel and
explains rows of a small Keras model with k-d tree prototypes, so a subpackage or a runtime
dependency missing from the wheel fails this run.

    python tests/wheel/smoke.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import email
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def run(*cmd, **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(requirements: list[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions that ``requirements`` (without extras markers) pull in."""
    installed = {canonical(d.metadata["Name"]): d for d in metadata.distributions()}
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    todo = [(Requirement(r), ()) for r in requirements]
    while todo:
        req, extras = todo.pop()  # extras: those asked of the distribution that requires req
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in extras or ("",)):
            continue
        name = canonical(req.name)
        if name not in installed:
            raise SystemExit(f"wheel smoke: {req} is required but not installed in {sys.prefix}")
        dist = installed[name]
        if not req.specifier.contains(dist.version, prereleases=True):
            raise SystemExit(f"wheel smoke: installed {name} {dist.version} does not satisfy {req}")
        key = (name, tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        found[name] = dist
        todo.extend((Requirement(sub), tuple(req.extras)) for sub in dist.requires or [])
    return found


def link_runtime_site(dists: dict[str, metadata.Distribution], site: Path) -> int:
    """Symlink every top-level file or folder of ``dists`` into ``site``; returns the count."""
    site.mkdir(parents=True)
    linked = 0
    for dist in dists.values():
        base = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in sorted(tops):
            source = base / top
            if top.endswith(".pth") or not source.exists() or (site / top).exists():
                continue
            (site / top).symlink_to(source)
            linked += 1
    return linked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    start = time.perf_counter()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cgp_wheel_"))
    if work.exists() and args.keep:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    try:
        dist_dir = work / "dist"
        # sdist first, then the wheel built from the unpacked sdist: both are checked at once
        run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist_dir, ROOT, stdout=subprocess.DEVNULL)
        (wheel,) = dist_dir.glob("cgp_lib-*.whl")
        (sdist,) = dist_dir.glob("cgp_lib-*.tar.gz")
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
            meta = email.message_from_bytes(zf.read(meta_name))
        packages = sorted(str(p.parent.relative_to(ROOT)) for p in (ROOT / "cgp_lib").rglob("__init__.py"))
        missing = [p for p in packages if f"{p}/__init__.py" not in names]
        if missing:
            raise SystemExit(f"wheel smoke: {wheel.name} lacks the packages {missing}")
        requirements = [r for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r]
        dists = runtime_closure(requirements)
        print(
            f"wheel smoke: {wheel.name} ({wheel.stat().st_size // 1024} kB, {len(packages)} packages), "
            f"{sdist.name}; runtime requirements {requirements} -> {len(dists)} distributions",
            flush=True,
        )

        venv = work / "venv"
        run(sys.executable, "-m", "venv", venv)
        python = venv / "bin" / "python"
        site_packages = Path(
            subprocess.check_output(
                [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
            ).strip()
        )
        linked = link_runtime_site(dists, work / "runtime-site")
        (site_packages / "cgp_runtime_deps.pth").write_text(f"{work / 'runtime-site'}\n")
        run(python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", wheel)
        run(python, "-m", "pip", "check")
        # run from an empty folder so that neither the source tree nor the .venv is importable
        script_dir = work / "run"
        script_dir.mkdir()
        shutil.copy(HERE / "explain_few_rows.py", script_dir)
        run(python, "-I", script_dir / "explain_few_rows.py", str(site_packages), cwd=script_dir)
        print(f"wheel smoke: passed in {time.perf_counter() - start:.0f} s ({linked} runtime files linked)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
