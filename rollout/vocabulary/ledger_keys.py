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
``COHORT#<cohort>``   ``APPROVAL#<rollout started at>``            a workflow's wait for a human
``NOTICE#<release>``  ``TENANT#<tenant>``                          one tenant's notice
``NOTICE#<release>``  ``CHOICE#<tenant>``                          its choice (preferences)
``NOTICE#<release>``  ``LINK#<nonce>``                             a link used for a choice
``NOTICE#<release>``  ``CONFIRM#<tenant>#<nonce>``                 the choice's confirmation
``CONFIG#<cohort>``   ``SNAPSHOT#<store>#<from>><to>[#<tenant>#n]``  config-copy snapshots
``STACK#<cohort>``    ``OUTPUTS``                                  what ``stacks up`` deployed
``HALT#FLEET``        ``ALL``                                      ``rollout halt --all``
``HALT#FLEET``        ``COHORT#<cohort>``                          ``rollout halt --cohort C``
``HALT#FLEET``        ``HISTORY#<at>#<id>``                        one halt or unhalt, by whom
``HALT#RELEASE``      ``RELEASE#<release>#COHORT#<cohort>``        a later wave halted for a
                                                                   release rolled back before it
``HALT#RELEASE``      ``HISTORY#<at>#<id>``                        one such halt or its lifting
====================  ===========================================  ==========================

An event's key claim sorts apart from the events (``EVENTKEY#`` does not begin with
``EVENT#``), so reading the history never reads the claims.

A halt is an item at a key known in advance: whoever must obey it (the in-process
executor before each weight step and ``start``, a Step Functions state machine with
one ``GetItem`` each) reads the three keys that can cover a rollout of release R on
cohort C (``HALT#FLEET``/``ALL``, ``HALT#FLEET``/``COHORT#C``,
``HALT#RELEASE``/``RELEASE#R#COHORT#C``): the item being there *is* the halt (one that
cannot be read as a halt halts too), and its ``doc`` (JSON, like every document here)
says who halted it, when and why (:class:`rollout.rollouts.halts.Halt`: ``scope``,
``cohort``, ``release``, ``actor``, ``at``, ``reason``). Lifting a halt deletes its
item. Operators' halts and the automatic ones sit in two partitions, so a cohort's role
may add the automatic halts of later waves (``PutItem`` on ``HALT#RELEASE``) and only
read the operators' ones. Each partition's ``HISTORY#`` items say who halted and lifted what.

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
APPROVAL_PREFIX = "APPROVAL#"
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


def approval_sk(rollout_started_at: datetime) -> str:
    """Where a Step Functions workflow keeps the task token of its wait for a human
    (attributes ``token`` and ``step``, no ``doc``): ``rollout promote`` sends it back."""
    return f"{APPROVAL_PREFIX}{rollout_started_at.isoformat()}"


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


HALT_FLEET_PK = "HALT#FLEET"
"""The partition of operators' halts (the whole fleet, one cohort) and their history."""
HALT_RELEASE_PK = "HALT#RELEASE"
"""The partition of the automatic halts of a release's later waves and their history."""
HALT_ALL_SK = "ALL"
HALT_COHORT_PREFIX = "COHORT#"
HALT_RELEASE_PREFIX = "RELEASE#"
HALT_HISTORY_PREFIX = "HISTORY#"


def halt_cohort_sk(cohort: str) -> str:
    """An operator's halt of one cohort, in :data:`HALT_FLEET_PK`."""
    return f"{HALT_COHORT_PREFIX}{cohort}"


def halt_release_prefix(release: str) -> str:
    """The sort-key prefix of every cohort halted for ``release``, in :data:`HALT_RELEASE_PK`."""
    return f"{HALT_RELEASE_PREFIX}{release}#{HALT_COHORT_PREFIX}"


def halt_release_sk(release: str, cohort: str) -> str:
    """Cohort ``cohort`` halted for ``release`` (an earlier wave rolled it back)."""
    return f"{halt_release_prefix(release)}{cohort}"


def halt_history_sk(at: datetime, unique: str) -> str:
    """One entry of a halt partition's history; sorts by time, ``unique`` breaks ties."""
    return f"{HALT_HISTORY_PREFIX}{at.isoformat()}#{unique}"


def halt_keys_covering(cohort: str, release: str) -> list[tuple[str, str]]:
    """The three ``(pk, sk)`` whose item, if there, halts a rollout of ``release`` on
    ``cohort``: the fleet's, the cohort's, and the release's on that cohort."""
    return [(HALT_FLEET_PK, HALT_ALL_SK), (HALT_FLEET_PK, halt_cohort_sk(cohort)),
            (HALT_RELEASE_PK, halt_release_sk(release, cohort))]


CHOICE_PREFIX = "CHOICE#"
LINK_USED_PREFIX = "LINK#"
CONFIRMATION_PREFIX = "CONFIRM#"


def choice_sk(tenant: str) -> str:
    """A tenant's choice about one release, in the release's ``NOTICE#`` partition: whoever
    may read and send the release's notices reads and confirms its choices."""
    return f"{CHOICE_PREFIX}{tenant}"


def link_used_sk(nonce: str) -> str:
    """A used link's nonce, written in one transaction with the choice it made."""
    return f"{LINK_USED_PREFIX}{nonce}"


def confirmation_sk(tenant: str, nonce: str) -> str:
    """The confirmation notice of one choice (named by its link's nonce): sent once."""
    return f"{CONFIRMATION_PREFIX}{tenant}#{nonce}"
