"""Secret arguments in a `job` metric: the Job refers to the Secret, it never holds the value.

Substituting a Secret's value for `{{args.x}}` would write it into the Job and its Pod, where anyone
who may read Jobs or Pods sees it. Instead, a container that uses a secret argument is given an
environment variable from the same Secret key (`valueFrom.secretKeyRef`, the Secret in the run's
namespace, where the Job runs), and the reference becomes `$(CANARY_SECRET_X)`, which Kubernetes
expands in a container's `command`, `args` and `env[].value`. An env var whose whole value is the
reference takes the `secretKeyRef` itself. Anywhere else in the Job (an image, a volume, a label) a
secret argument is refused: there is no way to pass it there without writing it down.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from canary.api.analysis import ARG_ONLY, ARG_REFERENCE, SecretKeyRef

CONTAINER_LISTS = ("initContainers", "containers")
_NOT_ENV = re.compile(r"[^A-Za-z0-9_]")


def env_name(argument: str) -> str:
    """The environment variable a container reads secret argument `argument` from."""
    return "CANARY_SECRET_" + _NOT_ENV.sub("_", argument).upper()


def by_reference(
    job: dict[str, Any], refs: Mapping[str, SecretKeyRef], secret_names: frozenset[str]
) -> dict[str, Any]:
    """The job provider's wire form (metadata, spec) with every secret argument (`secret_names`, each
    from its Secret key in `refs`) of its containers' command, args and env given by reference;
    ValueError naming any other place one is used."""
    spec = job.get("spec") or {}
    template = spec.get("template") or {}
    pod = template.get("spec") or {}
    new_pod = {
        **pod,
        **{kind: [_container(c, refs) for c in pod[kind]] for kind in CONTAINER_LISTS if kind in pod},
    }
    result = {**job, "spec": {**spec, "template": {**template, "spec": new_pod}}} if pod else job
    left = sorted(set(ARG_REFERENCE.findall(json.dumps(result))) & secret_names)
    if left:
        raise ValueError(
            f"secret argument '{left[0]}' is used outside a container's command, args and env; a Job "
            "gets a Secret's value only there (as an environment variable from the Secret), never written in"
        )
    return result


def _container(container: dict[str, Any], refs: Mapping[str, SecretKeyRef]) -> dict[str, Any]:
    used: list[str] = []

    def by_name(text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in refs:
                return match.group(0)
            used.append(name)
            return f"$({env_name(name)})"

        return ARG_REFERENCE.sub(replace, text)

    changed = dict(container)
    for field in ("command", "args"):
        if field in container:
            changed[field] = [by_name(item) if isinstance(item, str) else item for item in container[field]]
    env = [_env_var(var, refs, by_name) for var in container.get("env") or []]
    own = {var.get("name") for var in env}
    given = [
        {"name": env_name(name), "valueFrom": {"secretKeyRef": refs[name].to_wire()}}
        for name in dict.fromkeys(used)
        if env_name(name) not in own
    ]
    # Declared first: Kubernetes expands $(VAR) only from variables defined earlier in the list.
    if given or "env" in container:
        changed["env"] = given + env
    return changed


def _env_var(
    var: dict[str, Any], refs: Mapping[str, SecretKeyRef], by_name: Callable[[str], str]
) -> dict[str, Any]:
    value = var.get("value")
    if not isinstance(value, str):
        return var
    whole = ARG_ONLY.match(value)
    if whole is not None and whole.group(1) in refs:
        return {"name": var["name"], "valueFrom": {"secretKeyRef": refs[whole.group(1)].to_wire()}}
    return {**var, "value": by_name(value)}
