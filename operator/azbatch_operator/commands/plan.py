"""`azbatch-operator plan MANIFEST [--observed POOL.json]`: what the operator would do to a pool.

Offline: the observed pool is ARM JSON as `GET pool` returns it (a wire-example file with
`responses.200.body` is accepted too). Live (no --observed): the pool is read from Azure with
the operator's own credentials, for reviewing a GitOps pull request before it merges.
Secret values come from `v1 Secret` documents in the manifest file; without them (or without the
operator's digest key: `--digest-key-file`, else `$AZBATCH_DIGEST_KEY_FILE`, as `run` reads it) the
plan says which secret-backed fields were not compared, and why.

Exit codes (EPILOG, shown by `plan --help`): 0 nothing to do, 2 changes planned, 1 anything else,
usage errors included (not argparse's 2), so that 2 always means changes, as with `terraform plan
-detailed-exitcode`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Final, TextIO

from azbatch_operator.cloud.clients import AccountRef, AzureClients, CloudEndpoints
from azbatch_operator.cloud.credentials import build_credential
from azbatch_operator.cloud.errors import AzureCallError
from azbatch_operator.cloud.pools import PoolGateway
from azbatch_operator.config import DIGEST_KEY_ENV, ConfigError, read_digest_key
from azbatch_operator.convergence import APPROVE_ANNOTATION
from azbatch_operator.error_policy import classify
from azbatch_operator.logs import redact
from azbatch_operator.models import BatchPool, ManifestError, load_manifests, secrets_from_documents
from azbatch_operator.planning import (
    Action,
    ActionType,
    OwnershipDecision,
    Plan,
    adopt,
    decide_ownership,
    plan,
)
from azbatch_operator.rendering import ObservedPool, SecretValueError, observe_pool, render_pool
from azbatch_operator.validation import has_errors, validate_manifest

EXIT_NOTHING_TO_DO: Final = 0
EXIT_INVALID: Final = 1
EXIT_CHANGES: Final = 2
# Not argparse's 2 (cli.py makes this command's argparse errors exit with it too): a script that
# reads 2 as "changes planned" is never fooled by a typo.
EXIT_USAGE: Final = EXIT_INVALID
OFFLINE_CLUSTER: Final = "offline"
EPILOG: Final = (
    "Exit codes: 0 nothing to do; 2 changes planned (or waiting on Azure); 1 anything else: a usage "
    "error, an unreadable or invalid manifest, --observed JSON that is not the pool, or a pool that "
    "cannot be planned (its subscription, resource group or Batch account does not exist). "
    f"The digest key: --digest-key-file, else ${DIGEST_KEY_ENV}."
)


class InputError(Exception):
    """Bad input to the command; the message says what to fix."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument(
        "manifest",
        nargs="?",
        metavar="MANIFEST",
        help="a YAML file with the BatchPool (and optionally its Secrets); '-' reads stdin",
    )
    parser.add_argument(
        "-f", "--filename", dest="file", metavar="MANIFEST", help="the same as MANIFEST (as in kubectl)"
    )
    parser.add_argument(
        "--observed",
        metavar="POOL.json",
        help="the pool as ARM JSON (GET pool); without it the live pool is read with the operator's "
        "Azure credentials (AZURE_* variables)",
    )
    parser.add_argument("--name", help="which BatchPool of the file to plan (when it holds several)")
    parser.add_argument(
        "--owner",
        help="the operator's owner id for this BatchPool (<cluster id>/<namespace>/<name>); when given, "
        "a pool owned by someone else, or unowned without spec.policy.adopt, is reported as untouched",
    )
    parser.add_argument(
        "--digest-key-file",
        metavar="PATH",
        help=f"the operator's secret digest key (default: ${DIGEST_KEY_ENV}); without one, secret-backed "
        "fields are not compared",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help='text (default) or json: {"actions": [{"type", "fields", "reasons"}], "notes"?, "waiting"?}',
    )


def run(args: argparse.Namespace) -> int:
    if (args.file is None) == (getattr(args, "manifest", None) is None):
        print(
            "azbatch-operator plan: name one manifest: plan pool.yaml, or plan -f pool.yaml", file=sys.stderr
        )
        return EXIT_USAGE
    args.file_label = f"-f {args.file}" if args.file else args.manifest  # as the user named it
    args.file = args.file or args.manifest
    try:
        result = _plan(args)
    except InputError as error:
        print(f"azbatch-operator plan: {error}", file=sys.stderr)
        return EXIT_INVALID
    if args.output == "json":
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_plan(result, sys.stdout)
    return EXIT_NOTHING_TO_DO if result.is_noop else EXIT_CHANGES


def load_observed(args: argparse.Namespace, resource: BatchPool) -> dict[str, Any] | None:
    """The pool as ARM JSON, or None when it does not exist. The only source of observed state.

    With --observed, a saved `GET pool` answer; without it, the live pool, read with the same
    credentials the operator uses (the azure-identity environment variables).
    """
    if not args.observed:
        return _read_live_pool(resource)
    text = _read(args.observed, f"--observed {args.observed}")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InputError(
            f"{args.observed}: not JSON ({error}); pass the pool as GET pool returns it"
        ) from None
    if isinstance(document, dict) and isinstance(document.get("responses"), dict):
        document = (document["responses"].get("200") or {}).get("body")  # a wire-example file
    if not isinstance(document, dict) or not isinstance(document.get("properties"), dict):
        raise InputError(
            f"{args.observed}: not an ARM pool (expected an object with 'properties', as GET pool returns it)"
        )
    return document


def _read_live_pool(resource: BatchPool) -> dict[str, Any] | None:
    account = resource.spec.account
    where = AccountRef(account.subscription_id, account.resource_group, account.account_name)

    async def read() -> dict[str, Any] | None:
        clients = AzureClients(build_credential(), CloudEndpoints.from_env())
        try:
            return await PoolGateway(clients).get(where, resource.pool_name)
        finally:
            await clients.close()

    try:
        return asyncio.run(read())
    except AzureCallError as error:
        if error.missing is not None:  # nothing can be created there: say so, as the resource's status does
            verdict = classify(error.status, error.code)
            what = f"cannot plan pool {resource.pool_name!r}: {redact(str(error))}"
            raise InputError(f"{verdict.reason}: {what} {verdict.hint}") from None
        raise InputError(
            f"cannot read pool {resource.pool_name!r} in {where}: {redact(str(error))} "
            "(set the AZURE_* variables the operator uses, or pass --observed POOL.json)"
        ) from None


def _read(source: str, label: str) -> str:
    """The text of `source` (`-`: stdin); `label` names it as the user did (`-f pool.yaml`)."""
    if source != "-" and Path(source).is_dir():
        raise InputError(
            f"{label}: a directory; plan takes one manifest file (to check every manifest in a "
            f"directory: azbatch-operator validate {source})"
        )
    try:
        return sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{label}: cannot read it ({error})") from None


def _pick_pool(documents: list[dict[str, Any]], name: str | None, source: str) -> dict[str, Any]:
    if name is not None:
        documents = [d for d in documents if (d.get("metadata") or {}).get("name") == name]
    if len(documents) == 1:
        return documents[0]
    if not documents:
        which = f" named {name!r}" if name else ""
        raise InputError(f"{source}: no BatchPool{which} found")
    names = ", ".join(str((d.get("metadata") or {}).get("name")) for d in documents)
    raise InputError(f"{source}: several BatchPools ({names}); choose one with --name")


def _validated(document: dict[str, Any], source: str) -> BatchPool:
    resource, findings = validate_manifest(document)
    for finding in findings:
        if finding.severity != "error":
            print(f"{source}: {finding}", file=sys.stderr)
    if resource is None or has_errors(findings):
        problems = "\n  ".join(str(f) for f in findings if f.severity == "error")
        raise InputError(f"{source}: the BatchPool is not valid:\n  {problems}")
    return resource


def _digest_key(path: str | None) -> bytes | None:
    """The operator's digest key, read as `run` reads it: from --digest-key-file, else from the
    file $AZBATCH_DIGEST_KEY_FILE names (`azbatch-emulator env` exports it); None without either."""
    source = "--digest-key-file"
    if path is None:
        path, source = os.environ.get(DIGEST_KEY_ENV), DIGEST_KEY_ENV
    if not path:
        return None
    try:
        return read_digest_key(path, source)
    except ConfigError as error:
        raise InputError(str(error)) from None


def _plan(args: argparse.Namespace) -> Plan:
    try:
        manifests = load_manifests(_read(args.file, args.file_label))
    except ManifestError as error:
        raise InputError(f"{args.file}: {error}") from None
    resource = _validated(_pick_pool(manifests.pools, args.name, args.file), args.file)
    raw = load_observed(args, resource)
    try:
        secrets = secrets_from_documents(manifests.others)
    except ManifestError as error:
        raise InputError(f"{args.file}: {error}") from None
    observed = observe_pool(raw) if raw is not None else None
    if observed is not None and observed.name and observed.name != resource.pool_name:
        raise InputError(
            f"--observed is pool {observed.name!r} but the manifest describes pool {resource.pool_name!r}: "
            "pass the JSON of the same pool (or set spec.poolName)"
        )
    owner = args.owner or _assumed_owner(resource, observed)
    key = _digest_key(args.digest_key_file)
    try:
        desired = render_pool(
            resource.spec,
            secrets=secrets,
            owner=owner,
            digest_key=key or bytes(16),
            default_pool_name=resource.pool_name,
            allow_unresolved=True,
            compare_secrets=key is not None,
        )
    except SecretValueError as error:
        raise InputError(str(error)) from None
    if observed is not None:
        ownership = decide_ownership(observed.owner, owner, adopt=resource.spec.policy.adopt)
        if args.owner and not ownership.allowed:
            return Plan((Action(ActionType.NONE, reasons=(f"{ownership.reason}: {ownership.message}",)),))
        if ownership.decision is OwnershipDecision.ADOPT:
            return adopt(desired, observed, resource.spec.policy)  # what the operator does first
    result = plan(desired, observed, resource.spec.policy)
    destructive = {ActionType.RECREATE, ActionType.SCALE_TO_ZERO}
    if observed is not None and observed.adopted and any(a.type in destructive for a in result.actions):
        note = (
            "this pool was adopted: the operator waits for your approval of this disruption: kubectl "
            f"annotate batchpool {resource.metadata.name} {APPROVE_ANNOTATION}=<metadata.generation>"
        )
        result = replace(result, notes=(*result.notes, note))
    return result


def _assumed_owner(resource: BatchPool, observed: ObservedPool | None) -> str:
    """Without --owner, take the pool's own tag (so ownership is not a difference), else an offline id."""
    if observed is not None and observed.owner:
        return observed.owner
    return f"{OFFLINE_CLUSTER}/{resource.metadata.namespace or 'default'}/{resource.metadata.name}"


def print_plan(result: Plan, out: TextIO) -> None:
    if result.is_noop:
        reasons = "; ".join(r for a in result.actions for r in a.reasons)
        out.write(f"No changes: {reasons or 'the pool matches the spec'}.\n")
    else:
        for number, action in enumerate(result.actions, start=1):
            fields = f" {', '.join(action.fields)}" if action.fields else ""
            out.write(f"{number}. {action.type.value}{fields}\n")
            for reason in action.reasons:
                out.write(f"   - {reason}\n")
    if result.waiting:
        out.write(f"Waiting: {result.waiting}\n")
    for note in result.notes:
        out.write(f"Note: {note}\n")
