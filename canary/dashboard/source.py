"""The dashboard's reads and verbs on the cluster, through the CLI's session (so through the user's
own kubeconfig: RBAC decides what the page may do) and the CLI's verb code.

Calls are serialised by one lock: the embedded cluster is a plain in-memory object that the demo's
driver thread changes too, and a real cluster's client is not shared across threads either.
"""

from __future__ import annotations

import argparse
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from canary.cli import commands_actions, failures
from canary.cli.session import Session
from canary.dashboard import views

VERBS = {
    spec.name: spec for spec in commands_actions.VERBS if spec.name in ("promote", "abort", "retry", "undo")
}
"""The buttons of a Rollout's page: the verbs Argo's dashboard offers, with `canary`'s semantics."""


class UnknownVerbError(ValueError):
    """A verb the dashboard has no button for."""


@dataclass
class Source:
    session: Session
    all_namespaces: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def rollouts(self) -> list[dict[str, Any]]:
        """Every Rollout of the namespace (or of the cluster), in name order."""
        with self.lock, failures.translated():
            port = self.session.port
            found = port.list_rollouts(None if self.all_namespaces else self.session.namespace)
            shown = [views.summary(r, port.observe(r)) for r in found]
        return sorted(shown, key=lambda row: (row["namespace"], row["name"]))

    def rollout(self, namespace: str, name: str) -> dict[str, Any]:
        """One Rollout's page; CLIError when it cannot be read (not found, forbidden, unreachable)."""
        with self.lock, failures.translated():
            port = self.session.port
            rollout = port.get_rollout(namespace, name)
            observed = port.observe(rollout)
            return views.rollout_page(
                rollout, observed, port.list_events(namespace, name), self.session.clock.now()
            )

    def act(self, namespace: str, name: str, verb: str) -> str:
        """Run a verb as `canary <verb> NAME -n NAMESPACE` would; its one line. CLIError when refused."""
        spec = VERBS.get(verb)
        if spec is None:
            raise UnknownVerbError(f"no such action '{verb}'; the dashboard offers {', '.join(VERBS)}")
        options = argparse.Namespace(full=False, to_revision=None)
        with self.lock, failures.translated():
            return commands_actions.apply_verb(
                replace(self.session, namespace=namespace), name, spec, options
            )
