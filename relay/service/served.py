"""What the listener serves at /feeds/<name>, and the two places it can come from.

The listener (relay.service.web) asks a `FeedSource` for a feed by its bare name: the feed
files in `feeds_dir` (web's own file reader, one instance per state) or the feeds rendered
from a shared state (relay.service.statefeeds, every instance serving every board). Either
way the answer is one `ServedFeed`: bytes with the validators that belong to those bytes.

No aiohttp here, so that a source can be built and tested without the web layer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ServedFeed:
    """One version of a feed document, as served."""

    data: bytes
    etag: str  # unquoted, strong: a hash of `data` (etag_of)
    mtime: int  # whole Unix seconds, as Last-Modified carries it


class FeedSource(Protocol):
    """Where the listener's feeds come from. Both calls are synchronous and may block (files,
    the state): the listener runs them in a worker thread, from several threads at once."""

    def load(self, name: str) -> ServedFeed | None:
        """The feed served as `name`, or None when no configured board's feed has that name
        (or it has none yet)."""
        ...

    def names(self) -> list[str]:
        """The names of the feeds that can be served now, sorted."""
        ...


def etag_of(data: bytes) -> str:
    """The strong ETag of a feed's bytes: equal bytes have equal tags on every instance,
    whichever source served them."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()
