"""The whole key layout of the ledger table, in one place.

Every item is a ``pk``/``sk`` pair; whoever builds a key builds it here, so the
rollout, the notices, the config-copy snapshots, the stack records and the IAM
policy that scopes a cohort's role to its own partitions can never disagree.

====================  ===========================================  ==========================
pk                    sk                                           what
====================  ===========================================  ==========================
``COHORT#<cohort>``   ``STATE``                                    the rollout's state
``COHORT#<cohort>``   ``LOCK``                                     the lease lock
``COHORT#<cohort>``   ``EVENT#<seq, 9 digits>``                    one event of its history
``COHORT#<cohort>``   ``EVENTKEY#<event key>``                     the claim on an event's key
``COHORT#<cohort>``   ``STOP#<rollout started at>``                an operator's stop request
``NOTICE#<release>``  ``TENANT#<tenant>``                          one tenant's notice
``CONFIG#<cohort>``   ``SNAPSHOT#<store>#<from>><to>[#<tenant>#n]``  config-copy snapshots
``STACK#<cohort>``    ``OUTPUTS``                                  what ``stacks up`` deployed
====================  ===========================================  ==========================

An event's key claim sorts apart from the events (``EVENTKEY#`` does not begin with
``EVENT#``), so reading the history never reads the claims.

A partition key function called with ``"*"`` gives the pattern an IAM condition
matches every cohort (or release) with.
"""

from __future__ import annotations

from datetime import datetime

STATE_SK = "STATE"
LOCK_SK = "LOCK"
EVENT_PREFIX = "EVENT#"
EVENT_KEY_PREFIX = "EVENTKEY#"
STOP_PREFIX = "STOP#"
NOTICE_TENANT_PREFIX = "TENANT#"
SNAPSHOT_PREFIX = "SNAPSHOT#"
OUTPUTS_SK = "OUTPUTS"


def cohort_pk(cohort: str) -> str:
    """The partition of one cohort's rollout: state, lock, events, stop requests."""
    return f"COHORT#{cohort}"


def event_sk(seq: int) -> str:
    """Event ``seq`` of a cohort's history; zero-padded, so sort order is sequence order."""
    return f"{EVENT_PREFIX}{seq:09d}"


def event_key_sk(key: str) -> str:
    """The claim on event key ``key``: written with the event itself, so a key is recorded
    once however many processes record it."""
    return f"{EVENT_KEY_PREFIX}{key}"


def stop_sk(rollout_started_at: datetime) -> str:
    """The stop request of the rollout that started at ``rollout_started_at``."""
    return f"{STOP_PREFIX}{rollout_started_at.isoformat()}"


def notice_pk(release: str) -> str:
    """The partition of one release's notices."""
    return f"NOTICE#{release}"


def notice_sk(tenant: str) -> str:
    """One tenant's notice record within its release's partition."""
    return f"{NOTICE_TENANT_PREFIX}{tenant}"


def config_pk(cohort: str) -> str:
    """The partition of one cohort's config-copy snapshots."""
    return f"CONFIG#{cohort}"


def snapshot_sk(store: str, source: str, target: str) -> str:
    """The copy record of one store and direction; its tenants' parts extend it with ``#``."""
    return f"{SNAPSHOT_PREFIX}{store}#{source}>{target}"


def snapshot_part_sk(store: str, source: str, target: str, tenant: str, part: int) -> str:
    """Part ``part`` of one tenant's snapshot in one store and direction."""
    return f"{snapshot_sk(store, source, target)}#{tenant}#{part:04d}"


def snapshot_parts_prefix(store: str, source: str, target: str, tenant: str | None = None) -> str:
    """The sort-key prefix of every tenant's parts of one direction (or of one tenant's)."""
    return f"{snapshot_sk(store, source, target)}#" + (f"{tenant}#" if tenant else "")


def stack_pk(cohort: str) -> str:
    """The partition of one cohort's stack deployment record."""
    return f"STACK#{cohort}"
