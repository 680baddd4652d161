"""Container image references, split the way kustomize's `images:` entries and Helm values hold them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageRef:
    """`name[:tag][@digest]`; `name` keeps its registry host and port."""

    name: str
    tag: str = ""
    digest: str = ""

    @property
    def version(self) -> str:
        """What pins the revision: the digest when there is one, else the tag."""
        return self.digest or self.tag

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image(reference: str) -> ImageRef:
    rest, _, digest = reference.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    # A colon before the last slash is a registry port, not a tag.
    if colon > slash:
        return ImageRef(rest[:colon], rest[colon + 1 :], digest)
    return ImageRef(rest, "", digest)
