"""What the vendor providers (datadog, newRelic, cloudWatch, influxdb, graphite) share: reading their
credentials from a Secret, calling a vendor's client library with every failure turned into a masked
MeasurementError, the window a query reads, and the outcome of a query that found nothing.

Credentials are read from the AnalysisRun's namespace at each measurement (a rotated key is picked up
at once) and never leave the provider unmasked: a client library's exception text can quote a URL or
a header, so every message is masked with `canary.analysis.args.mask` before it is raised.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from canary.analysis.args import SecretReader, SecretUnavailableError, mask
from canary.analysis.providers.base import MeasurementError, Verdict
from canary.api.analysis import AnalysisPhase, Metric
from canary.api.base import parse_duration

MESSAGE_LIMIT = 300
"""A vendor's error text is cut here: the measurement message must stay readable in `kubectl get`."""
PUBLIC_KEYS = frozenset({"address", "org", "region", "base-url-nerdgraph", "account-id", "username"})
"""Secret keys that say where, not who: shown in messages so that a wrong endpoint can be seen."""


Spec = TypeVar("Spec")


def spec_of(metric: Metric, kind: type[Spec]) -> Spec:
    """The metric's provider spec, which the registry chose this provider for."""
    chosen = metric.provider.chosen
    if not isinstance(chosen, kind):
        raise MeasurementError(
            f"metric '{metric.name}' has no {kind.__name__.removesuffix('Provider')} provider"
        )
    return chosen


class ReadsSecrets:
    """A provider whose credentials are in a Secret, read through `read_secret` at each measurement."""

    def __init__(self, read_secret: SecretReader) -> None:
        self._read_secret = read_secret


@dataclass(frozen=True)
class Credentials:
    """The keys a provider read from its Secret; `secrets` are the values to mask everywhere."""

    values: Mapping[str, str]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self.values[key]

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(value for key, value in self.values.items() if value and key not in PUBLIC_KEYS)


def read_credentials(
    read_secret: SecretReader,
    namespace: str,
    secret: str,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    provider: str,
) -> Credentials:
    """The `required` and present `optional` keys of Secret `secret`; MeasurementError naming the fix."""
    values: dict[str, str] = {}
    for key in required:
        try:
            values[key] = read_secret(namespace, secret, key)
        except (KeyError, SecretUnavailableError) as error:
            detail = str(error) if isinstance(error, SecretUnavailableError) else "it is missing"
            literals = " ".join(f"--from-literal={k}=..." for k in required)
            raise MeasurementError(
                f"{provider}: key '{key}' of Secret '{secret}' in namespace '{namespace}' cannot be read "
                f"({detail}); create it: kubectl create secret generic {secret} -n {namespace} {literals}"
            ) from None
    for key in optional:
        try:
            values[key] = read_secret(namespace, secret, key)
        except KeyError:
            continue
    return Credentials(values)


@contextmanager
def calling(vendor: str, where: str, secrets: frozenset[str]) -> Iterator[None]:
    """Runs a vendor client call; any failure leaves as a MeasurementError naming `vendor` at `where`,
    its text masked. Client libraries raise many exception types (HTTP, parsing, timeouts), all of
    which mean one thing to the run: this measurement could not be taken."""
    try:
        yield
    except MeasurementError as error:
        raise type(error)(mask(str(error), secrets)) from None
    except Exception as error:
        reason = _reason(error)
        if len(reason) > MESSAGE_LIMIT:
            reason = reason[:MESSAGE_LIMIT] + "…"
        raise MeasurementError(mask(f"{vendor} at {where}: {reason}", secrets)) from None


def _reason(error: Exception) -> str:
    """The error's text on one line; for the OpenAPI-generated clients (Datadog's, InfluxData's),
    whose text lists every response header, the status and the body the server sent."""
    status, body = getattr(error, "status", None), getattr(error, "body", None)
    if isinstance(status, int) and body:
        text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
        return f"HTTP {status}: {' '.join(text.split())}"
    return " ".join(str(error).split()) or type(error).__name__


def window(now: datetime, interval: int | str) -> tuple[datetime, datetime]:
    """The query window `interval` long ending at `now`."""
    return now - timedelta(seconds=parse_duration(interval)), now


def no_data(vendor: str, query: str) -> Verdict:
    """A query that found nothing is Inconclusive: nothing was measured, so it never passes a metric."""
    return Verdict(
        AnalysisPhase.INCONCLUSIVE,
        f"{vendor} returned no data for {' '.join(query.split())}; check the metric names, tags and the "
        "window, and that the workload receives traffic",
    )
