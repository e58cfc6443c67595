"""The AWS names the Pulumi program gives resources the rollout library must find again.

Written once: the program (:mod:`rollout.components`) names each resource with these
functions, the stack config model checks their lengths with the same functions, and
the security gate and the least-privilege policies look resources up by them. A name
built a second time somewhere else could drift from the deployed one and find nothing.

Tenant configuration lives in SSM under ``/<app>/<cohort>/<colour>/<tenant>/<key>``
and in Secrets Manager under ``<app>/<cohort>/<colour>/<tenant>/<key>``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rollout.vocabulary.colours import COLOURS
from rollout.vocabulary.names import MAX_AWS_NAME

MAX_EXECUTION_NAME = 80
"""The longest name Step Functions gives an execution."""


def load_balancer(app: str, cohort: str) -> str:
    """The cohort's application load balancer."""
    return f"{app}-{cohort}"


def target_group(app: str, cohort: str, colour: str) -> str:
    """The target group of one colour slot: the listener's weights point at it."""
    return f"{app}-{cohort}-{colour}"


def too_long_for_aws(app: str, cohort: str) -> str | None:
    """Why ``app`` and ``cohort`` cannot name a cohort's resources, or ``None`` when they can.

    Load balancer and target group names may not pass :data:`MAX_AWS_NAME` characters;
    the longest name the pair makes is checked, so the program can never ask AWS
    for a name it refuses.
    """
    names = [load_balancer(app, cohort), *(target_group(app, cohort, c) for c in COLOURS)]
    longest = max(names, key=len)
    if len(longest) <= MAX_AWS_NAME:
        return None
    return (f"app and cohort are too long together: target group name {longest!r} has "
            f"{len(longest)} characters, AWS allows {MAX_AWS_NAME}")


def config_key_alias(app: str, cohort: str) -> str:
    """The alias of the KMS key that encrypts the cohort's tenant configuration."""
    return f"alias/{app}-{cohort}-config"


def config_policy(app: str, cohort: str) -> str:
    """The IAM policy that reads the cohort's tenant configuration and writes its tenants' own."""
    return f"{app}-{cohort}-tenant-config"


def ledger_table(app: str) -> str:
    """The DynamoDB table of every cohort's rollout state, history and locks."""
    return f"{app}-rollout-ledger"


def notices_topic(app: str) -> str:
    """The SNS topic tenants' notices go out on."""
    return f"{app}-rollout-notices"


def parameter_namespace(app: str, cohort: str) -> str:
    """The SSM path of the cohort's tenant configuration: ``/<app>/<cohort>``."""
    return f"/{app}/{cohort}"


def colour_parameters(namespace: str, colour: str) -> str:
    """The SSM path of one colour's settings below ``namespace`` (``/<app>/<cohort>``)."""
    return f"{namespace}/{colour}"


def colour_secrets(namespace: str, colour: str) -> str:
    """The Secrets Manager name prefix of one colour's secrets: ``<app>/<cohort>/<colour>``."""
    return f"{namespace.strip('/')}/{colour}"


def colour_compute(app: str, cohort: str, colour: str) -> str:
    """The name of one colour's compute: its Lambda function, or its ECS service and task family."""
    return f"{app}-{cohort}-{colour}"


def compute_cluster(app: str, cohort: str) -> str:
    """The ECS cluster both colours of a cohort run in."""
    return f"{app}-{cohort}"


def rollout_workflow(app: str, cohort: str) -> str:
    """The Step Functions state machine that runs a cohort's rollouts
    (``--engine stepfunctions``)."""
    return f"{app}-{cohort}-rollout"


def workflow_role(app: str, cohort: str) -> str:
    """The IAM role that state machine acts as: exactly the actions its definition uses."""
    return f"{app}-{cohort}-rollout-workflow"


def workflow_boundary(app: str, cohort: str) -> str:
    """The managed policy the cohort's stack provisions as that role's permissions boundary:
    the cohort role may create the role and write its policy only with it attached."""
    return f"{app}-{cohort}-rollout-workflow-boundary"


def workflow_execution(release: str, cohort: str, started_at: datetime) -> str:
    """An execution's name: one per rollout (release, cohort and when it started), so the
    same release starts again after an abort or a rollback; a second start while one runs
    finds it through the ledger's state, which names it.

    Step Functions allows letters, digits, ``-`` and ``_`` (80 at most): a version's dots
    and ``+`` become ``-``; a long cohort and release are cut, never the start moment."""
    stamp = f"{started_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}"
    named = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_" else "-"
                    for ch in f"{cohort}-{release}")
    return f"{named[:MAX_EXECUTION_NAME - len(stamp) - 1]}-{stamp}"


def link_key_parameter(app: str) -> str:
    """The SSM SecureString holding the key that signs the links in tenants' notices (the
    preferences page checks them with it): ``/rollout/<app>/portal/link-key``."""
    return f"/rollout/{app}/portal/link-key"


def preferences_page(app: str) -> str:
    """The preferences page's function (and its role), in the shared stack."""
    return f"{app}-preferences-page"


def portal_zip_key(app: str, sha256: str) -> str:
    """Where a preferences page zip is kept in the artefact store: named by its sha256,
    so a key is written once and never means other bytes (outside ``releases/``, which
    holds versions)."""
    return f"portal/{app}/{sha256}.zip"
