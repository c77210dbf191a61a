"""`azbatch-operator validate PATH...`: check BatchPool manifests offline, as the operator would.

A PATH (positional or after `-f`, both repeatable) is a file, a directory (its *.yaml, *.yml and
*.json files; with `-R` its sub-directories too, as `kubectl apply -R`) or `-` for stdin.

Exit codes: 0 every BatchPool is valid (warnings are printed); 1 any error: an invalid BatchPool,
an unreadable file, bad YAML, a file without a BatchPool (a file in a directory without one is only
reported as skipped) or a directory without any; 2 a usage error (no PATH, an unknown option).
Each line names the file, the BatchPool, the field and the fix.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from azbatch_operator.models import ManifestError, load_manifests
from azbatch_operator.validation import Finding, has_errors, validate_manifest

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="a YAML/JSON file with one or more documents, a directory of them, or '-' for stdin",
    )
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        default=[],
        metavar="PATH",
        help="the same as a positional PATH (as in kubectl); repeatable",
    )
    parser.add_argument(
        "-R",
        "--recursive",
        action="store_true",
        help="look in the sub-directories of a directory PATH too",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="text (default) or json: [{file, name, errors, findings: [{severity, path, message}], "
        "skipped?}]",
    )


def run(args: argparse.Namespace) -> int:
    sources = [*args.files, *args.paths]
    if not sources:
        print(
            "azbatch-operator validate: name a manifest: validate pool.yaml, validate examples/, "
            "validate -f pool.yaml, or validate - (stdin)",
            file=sys.stderr,
        )
        return 2
    reports = [report for source in sources for report in _check_path(source, args.recursive)]
    if args.output == "json":
        json.dump(reports, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_text(reports, sys.stdout)
    failed = any(report["errors"] for report in reports)
    return 1 if failed else 0


def _check_path(source: str, recursive: bool) -> list[dict[str, Any]]:
    if source == "-" or not Path(source).is_dir():
        return _check_file(source)
    folder = Path(source)
    found = folder.rglob("*") if recursive else folder.iterdir()
    files = sorted(path for path in found if path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES)
    reports = [report for path in files for report in _check_file(str(path), in_directory=True)]
    if not any(report["name"] is not None or report["errors"] for report in reports):
        where = "it or its sub-directories" if recursive else "it (-R looks in sub-directories)"
        message = f"no BatchPool document in any *.yaml, *.yml or *.json file in {where}"
        return [*reports, _report(source, None, [Finding("error", "", message)])]
    return reports


def _check_file(source: str, *, in_directory: bool = False) -> list[dict[str, Any]]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        return [_report(source, None, [Finding("error", "", f"cannot read the file: {error.strerror}")])]
    except UnicodeDecodeError:
        return [_report(source, None, [Finding("error", "", "the file is not UTF-8 text")])]
    try:
        manifests = load_manifests(text)
    except ManifestError as error:
        return [_report(source, None, [Finding("error", "", str(error))])]
    if not manifests.pools:
        if in_directory:  # a Secret, a kustomization.yaml or a pool's JSON beside the manifests
            return [_report(source, None, [], skipped=True)]
        return [
            _report(source, None, [Finding("error", "", "no BatchPool document (kind: BatchPool) found")])
        ]
    reports = []
    for document in manifests.pools:
        _, findings = validate_manifest(document)
        reports.append(_report(source, _name_of(document), findings))
    return reports


def _name_of(document: dict[str, Any]) -> str | None:
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return str(name) if name is not None else None


def _report(
    source: str, name: str | None, findings: list[Finding], *, skipped: bool = False
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "file": source,
        "name": name,
        "errors": has_errors(findings),
        "findings": [
            {"severity": finding.severity, "path": finding.path, "message": finding.message}
            for finding in findings
        ],
    }
    if skipped:
        report["skipped"] = "no BatchPool document"
    return report


def _print_text(reports: list[dict[str, Any]], out: TextIO) -> None:
    for report in reports:
        where = report["file"] + (f": BatchPool/{report['name']}" if report["name"] else "")
        if report.get("skipped"):
            out.write(f"{where}: skipped: {report['skipped']}\n")
            continue
        for finding in report["findings"]:
            path = f"{finding['path']}: " if finding["path"] else ""
            out.write(f"{where}: {finding['severity']}: {path}{finding['message']}\n")
        if not report["errors"]:
            out.write(f"{where}: valid\n")
