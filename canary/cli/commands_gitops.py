"""`canary gitops revert NAME`: write an aborted Rollout's stable revision back to Git.

What the controller does on an abort for a Rollout that opted in (gitops.canary.dev/* annotations),
as a command a pipeline step can run: the same plan, the same idempotence (a second run finds the
revert commit or pull request and writes nothing). Credentials: the Secret the annotations name, or
a token from the environment variable `--token-env` names (a pipeline's own).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from canary.cli.commands_get import fetch_view
from canary.cli.errors import CLIError
from canary.cli.session import Session, connection_flags
from canary.controller.gitops import SecretReader, credentials_from_secret
from canary.gitops import plan, target, writer
from canary.gitops.forge import ForgeError
from canary.gitops.git import Credentials, GitError

EXIT_CONFLICT = 3
"""A newer commit changed the field: Git was left alone, a person decides."""


def register(verbs: Any) -> None:
    gitops = verbs.add_parser("gitops", help="write an aborted Rollout's stable revision back to Git")
    actions = gitops.add_subparsers(dest="gitops_action", metavar="ACTION", required=True)
    revert = actions.add_parser(
        "revert",
        help="commit (or open a pull request with) the stable image where the Rollout's gitops.canary.dev/* annotations say",
        parents=[connection_flags()],
    )
    revert.add_argument("name", metavar="NAME", help="the aborted Rollout")
    revert.add_argument(
        "--token-env",
        metavar="VAR",
        help="read the Git token from this environment variable instead of the annotated Secret",
    )
    revert.add_argument(
        "--username", default="git", help="the user name sent with --token-env (default: git)"
    )
    revert.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    outcome = revert(args.connect(), args.name, _token_from_env(args))
    print(f"{outcome.kind.value}: {outcome.detail}")
    return EXIT_CONFLICT if outcome.kind is writer.Kind.CONFLICT else 0


def revert(session: Session, name: str, credentials: Credentials | None = None) -> writer.Outcome:
    rollout, observed = fetch_view(session, name)
    annotations = rollout.metadata.annotations
    if not target.opted_in(annotations):
        raise CLIError(
            f"rollout '{name}' has no {target.REPO} annotation; add the gitops.canary.dev/* annotations "
            "(docs/gitops.md) to say where its image is held in Git"
        )
    try:
        where = target.target_from_annotations(annotations)
        abort = plan.abort_of(rollout, observed, where.container)
        if abort is None:
            raise CLIError(f"rollout '{name}' is not aborted; there is nothing to write back to Git")
        if credentials is None and where.secret:
            credentials = credentials_from_secret(_secret_reader(session), session.namespace, where.secret)
        return writer.write_revert(abort, where, credentials)
    except (target.TargetError, plan.PlanError, GitError, ForgeError, KeyError) as error:
        raise CLIError(str(error).strip("'\"")) from None


def _token_from_env(args: argparse.Namespace) -> Credentials | None:
    if not args.token_env:
        return None
    token = os.environ.get(args.token_env)
    if not token:
        raise CLIError(
            f"--token-env {args.token_env}: that environment variable is empty; export the token in it"
        )
    return Credentials(username=args.username, token=token)


def _secret_reader(session: Session) -> SecretReader:
    read: SecretReader | None = getattr(session.port, "read_secret", None)
    if read is None:
        raise CLIError("this cluster cannot read Secrets; pass the token with --token-env")
    return read
