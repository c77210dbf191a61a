"""`azbatch-operator validate -f MANIFEST`: check BatchPool manifests offline, as the operator would.

Exit 0 when every BatchPool is valid (warnings are printed), 1 when there is any error, including an
unreadable file or YAML. Each line names the file, the BatchPool, the field and the fix.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from azbatch_operator.models import ManifestError, load_manifests
from azbatch_operator.validation import Finding, has_errors, validate_manifest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        required=True,
        metavar="MANIFEST",
        help="a YAML file with one or more documents ('-' reads stdin); repeat for several files",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="text (default) or json: [{file, name, findings: [{severity, path, message}]}]",
    )


def run(args: argparse.Namespace) -> int:
    reports = [report for source in args.files for report in _check_file(source)]
    if args.output == "json":
        json.dump(reports, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_text(reports, sys.stdout)
    failed = any(report["errors"] for report in reports)
    return 1 if failed else 0


def _check_file(source: str) -> list[dict[str, Any]]:
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


def _report(source: str, name: str | None, findings: list[Finding]) -> dict[str, Any]:
    return {
        "file": source,
        "name": name,
        "errors": has_errors(findings),
        "findings": [
            {"severity": finding.severity, "path": finding.path, "message": finding.message}
            for finding in findings
        ],
    }


def _print_text(reports: list[dict[str, Any]], out: TextIO) -> None:
    for report in reports:
        where = report["file"] + (f": BatchPool/{report['name']}" if report["name"] else "")
        for finding in report["findings"]:
            path = f"{finding['path']}: " if finding["path"] else ""
            out.write(f"{where}: {finding['severity']}: {path}{finding['message']}\n")
        if not report["errors"]:
            out.write(f"{where}: valid\n")
