"""Command line: python -m helpers {run,up,status,down,lint,grade,...}."""

from __future__ import annotations

import argparse
import json
import os
import sys

from helpers import config, i18n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description="RayService tutorial helpers")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute every lesson notebook with papermill and print a summary")
    run.add_argument("--backend", default=config.workshop_backend())
    run.add_argument(
        "--only",
        nargs="+",
        metavar="LESSON",
        help="only these lessons, in the order given (e.g. 03_routing 09_cleanup); default: every lesson",
    )
    run.add_argument(
        "--lang",
        type=i18n.normalize,
        default=i18n.normalize(os.environ.get(i18n.ENV)),
        help="ko: the Korean lessons in notebooks/ko/ (make run TUTORIAL_LANG=ko); default: English",
    )
    run.add_argument("--keep-cluster", action="store_true", help="leave the cluster running afterwards")
    bench = sub.add_parser(
        "bench",
        help="measure the scenarios and the lessons; write bench/results.json and regenerate the docs' figures",
    )
    bench.add_argument("--runs", type=int, default=2)
    bench.add_argument(
        "--tables",
        action="store_true",
        help="only regenerate the figures tables of README.md and labs/INSTRUCTOR.md from bench/results.json",
    )
    bench.add_argument("--backend", default=config.workshop_backend())
    refresh = sub.add_parser("refresh", help="re-record the reference outputs stored in notebooks/ (maintainers)")
    refresh.add_argument("--backend", default=config.DEFAULT_BACKEND)  # the reference outputs are local's
    refresh.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="only these (default: every lesson)")
    up = sub.add_parser("up", help="start the cluster (and apply a manifest)")
    up.add_argument("manifest", nargs="?", default="manifests/ray-service.yaml")
    up.add_argument("--backend", default=config.workshop_backend())
    for name, text in (
        ("status", "print the RayService status"),
        ("down", "stop everything the tutorial started"),
        ("preflight", "check this machine for a backend"),
        ("workshop-prep", "kind: pull every image once and load it into the kind cluster"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--backend", default=config.workshop_backend())
    host_build = sub.add_parser("host-build", help="build the host backend's Kubernetes, runtime and images (cached)")
    host_build.add_argument("--only", nargs="*", metavar="COMPONENT", help="only these components")
    sub.add_parser("host-env", help="print the export lines for a terminal's kubectl on the host cluster")
    transcripts = sub.add_parser("transcripts", help="record what the lessons' kubectl steps print on the host cluster")
    transcripts.add_argument(
        "--only",
        nargs="+",
        metavar="LESSON",
        help="re-record only these lessons (e.g. 07), keeping the others' recording (the manifests must be unchanged)",
    )
    sub.add_parser("pace", help="each lesson's and lab's time from its reading pace and the bench result")
    lint = sub.add_parser("lint", help="check RayService manifests for common mistakes (exit 1 on an error)")
    lint.add_argument("files", nargs="*", metavar="FILE")
    lint.add_argument("--rules", action="store_true", help="list the rules and exit")
    grade = sub.add_parser("grade", help="re-run one lab's check on the learner's saved answer (room check)")
    grade.add_argument("lab", nargs="?", help="lab01, lab02, lab03, lab04, lab05 or lab07")
    grade.add_argument("--status", action="store_true", help="show the saved results of every lab")
    grade.add_argument("--backend", default=config.workshop_backend())
    args = parser.parse_args(argv)

    if args.command == "lint":
        return _lint(args)
    if args.command == "grade":
        return _grade(args)
    if args.command == "host-build":
        return _host_build(args)
    if args.command == "transcripts":
        return _record_transcripts(args.only)
    if args.command == "host-env":
        from helpers.host import build, components

        print(f"export KUBECONFIG={components.kubeconfig('admin')}")
        print(f'export PATH="{build.BY_NAME["kubernetes"].bin_dir}:$PATH"')
        return 0
    if args.command == "bench" and args.tables:
        return _bench_tables()
    if args.command == "pace":
        from helpers import bench_tables, pace

        text, wrong = pace.table(bench_tables.machine_seconds((bench_tables.load() or {}).get("local")))
        print(text)
        return 1 if wrong else 0

    from helpers.backends import BackendError, get_backend
    from helpers.manifests import ManifestError

    try:
        backend = get_backend(args.backend, namespace=config.workshop_namespace())
        if args.command == "run":
            return _run(backend, args)
        if args.command == "bench":
            from helpers import bench

            if args.backend not in bench.BACKENDS:
                raise BackendError(
                    f"make bench measures the {' or the '.join(bench.BACKENDS)} backend, not {args.backend!r}: "
                    "write BACKEND=local or BACKEND=host"
                )
            bench.main(runs=args.runs, backend=args.backend)
            return 0
        if args.command == "refresh":
            from helpers import runner

            try:
                from pathlib import Path

                runner.refresh([Path(p).resolve() for p in args.notebooks] or None)
            finally:
                backend.down()
            return 0
        if args.command == "up":
            backend.up(args.manifest)
            backend.apply(args.manifest)
            backend.wait_ready()
        elif args.command == "status":
            print(json.dumps(backend.status(), indent=2))
        elif args.command == "down":
            backend.down()
        elif args.command == "preflight":
            from helpers import preflight

            checks = preflight.run(args.backend)
            print(preflight.report(checks))
            return 0 if all(c.ok for c in checks) else 2
        elif args.command == "workshop-prep":
            if args.backend != "kind":
                raise BackendError("workshop-prep is for the kind backend: make workshop-prep BACKEND=kind")
            from helpers import preflight

            checks = backend.preflight()
            if not all(c.ok for c in checks):
                print(preflight.report(checks), file=sys.stderr)
                return 2
            print("Loaded into kind:", ", ".join(backend.workshop_prep()))
    except (BackendError, ManifestError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def _host_build(args) -> int:
    from helpers.host import build, images

    try:
        build.build_all(args.only)
        if not args.only:
            images.build_all()
    except build.BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _record_transcripts(only: list[str] | None = None) -> int:
    """``make transcripts``: lessons 01-08 on the host backend, recorded, then helpers/data/transcripts.json.
    ``only``: those lessons, merged into the recording of the others (refused when a manifest changed since)."""
    from helpers import runner
    from helpers.backends import get_backend
    from helpers.transcripts import DATA, RECORD_ENV, build, load, stale_manifests

    kept = load() if only else None
    if only and (kept is None or stale_manifests(kept)):
        changed = ", ".join(stale_manifests(kept)) if kept else "no recording yet"
        print(f"--only merges into a recording of today's manifests ({changed}): run `make transcripts` for all.")
        return 2

    recording = config.BUILD_DIR / "transcripts.jsonl"
    recording.parent.mkdir(parents=True, exist_ok=True)
    recording.unlink(missing_ok=True)
    os.environ[RECORD_ENV] = str(recording)
    runner.without_workshop_setting()  # recorded in the default namespace, as the lessons show it
    try:
        lessons = runner.select_lessons(only or ["01", "02", "03", "04a", "04b", "05", "06", "07", "08"])
        results = runner.run_all("host", config.BUILD_DIR / "transcripts", lessons)
    finally:
        get_backend("host").down()
    print(runner.table(results))
    if not all(r.status == "ok" for r in results):
        return 1
    versions = {k: config.HOST_VERSIONS[k] for k in ("kubernetes", "kuberay")} | {"ray": config.RAY_VERSION}
    data = build(recording, versions, keep=kept)
    print(f"wrote {DATA.relative_to(config.PROJECT_ROOT)}: {sum(map(len, data['lessons'].values()))} commands")
    return 0


def _lint(args) -> int:
    from helpers import lint

    if args.rules:
        for r in lint.RULES:  # in the learner's language (TUTORIAL_LANG=ko: Korean)
            print(f"{r.id:22} {lint.severity_word(r.severity):8} {r.summary_text()}")
        return 0
    if not args.files:
        print("error: name the manifests to check, e.g. python -m helpers lint manifests/*.yaml", file=sys.stderr)
        return 2
    reports = lint.lint_files(args.files)
    for report in reports:
        print(report.render())
    return 1 if any(r.errors for r in reports) else 0


def _bench_tables() -> int:
    from helpers import bench_tables

    changed = bench_tables.write()
    source = bench_tables.shown(bench_tables.RESULT)
    if bench_tables.load() is None:
        print(f"{source} does not exist: {bench_tables.NO_RESULT}")
    for path in changed:
        print(f"regenerated the figures in {bench_tables.shown(path)} from {source}")
    if not changed:
        print(f"the figures in README.md and labs/INSTRUCTOR.md already match {source}")
    return 0


def _grade(args) -> int:
    from helpers import checks

    if args.status or not args.lab:
        results = checks.saved_results()
        for lab, title in checks.LABS.items():
            r = results.get(lab)
            mark = "not tried" if r is None else ("passed" if r["passed"] else f"not yet ({r['hint'][:70]})")
            print(f"{lab}  {title:46} {mark}{'  ' + r['when'] if r else ''}")
        return 0
    if args.lab not in checks.LABS:
        print(f"error: unknown lab {args.lab!r}: choose one of {', '.join(checks.LABS)}", file=sys.stderr)
        return 2
    from helpers.backends import BackendError, get_backend

    try:
        backend = get_backend(args.backend, namespace=config.workshop_namespace())
        result = checks.grade(args.lab, backend)
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result)
    return 0 if result.passed else 1


def _run(backend, args) -> int:
    from helpers import preflight, runner

    korean = args.lang == "ko"
    folder = config.NOTEBOOKS_DIR / i18n.EDITION_FOLDER if korean else config.NOTEBOOKS_DIR
    try:
        notebooks = runner.select_lessons(args.only, folder) if args.only else runner.tutorial_notebooks(folder)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    os.environ[i18n.ENV] = args.lang  # the preflight report below, and the kernels, in the same language
    checks = preflight.run(args.backend)
    if not all(c.ok for c in checks):
        print(f"Preflight for BACKEND={args.backend} failed:", file=sys.stderr)
        print(preflight.report(checks), file=sys.stderr)
        print("Fix the ✗ lines above, then run again.", file=sys.stderr)
        return 2

    try:
        out_dir = config.BUILD_DIR / "notebooks" / (i18n.EDITION_FOLDER if korean else "")
        results = runner.run_all(args.backend, out_dir=out_dir, notebooks=notebooks)
    finally:
        if not args.keep_cluster:
            backend.down()
    print()
    print(runner.table(results))
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
