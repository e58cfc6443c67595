"""What every command needs: AWS clients, the app name, discovery and the ledger.

Built lazily, so ``rollout --help`` and bad-input errors never touch AWS.

This is where discovery's stack-outputs sources are chosen (see
:mod:`rollout.discovery`), by name (:mod:`rollout.stacks.providers`): the local
deployer's record when the clients talk to a local endpoint (the local stand-ins
decide that), Pulumi's stack outputs when :data:`STACK_OUTPUTS_VARIABLE` says
``pulumi``, and tags always last.

Each stack lives in its own region (its ``aws:region``), whatever the
environment says: :meth:`RolloutContext.clients_for` gives the clients of the
region a cohort's or the shared stack's resources live in, the ledger is opened
in the shared stack's region, and when the environment names another region
the command says once, on stderr, which region it uses instead.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from rollout.cli.output import err_console
from rollout.errors import BadInput
from rollout.stacks.providers import LOCAL, PULUMI, outputs_sources

if TYPE_CHECKING:  # the CLI imports this module at start: boto3 loads when a client is built
    from rollout.aws_clients import AwsClients
    from rollout.choices.book import ChoiceBook
    from rollout.choices.model import TenantChoice
    from rollout.discovery import CohortResources, Discovery, SharedResources
    from rollout.rollouts.ledger import Ledger

STACK_OUTPUTS_VARIABLE = "ROLLOUT_STACK_OUTPUTS"
"""``tags`` (the default) or ``pulumi``: whether discovery asks Pulumi's stack outputs
(``pulumi stack output``, needs the Pulumi CLI and its state backend) before tags."""
TAGS = "tags"


def outputs_source_names() -> list[str]:
    """The sources discovery asks before tags, in order, as :data:`STACK_OUTPUTS_VARIABLE`
    chooses; the local deployer's record always (it says nothing unless on moto)."""
    chosen = os.environ.get(STACK_OUTPUTS_VARIABLE) or TAGS
    if chosen not in (TAGS, PULUMI):
        raise BadInput(f"{STACK_OUTPUTS_VARIABLE} must be {TAGS} or {PULUMI}, got {chosen!r}")
    return [LOCAL, *([PULUMI] if chosen == PULUMI else [])]


def app_from_project(project_dir: Path) -> str | None:
    """The ``app`` of the shared stack config in ``project_dir``, if there is one.

    A file that cannot be read as YAML is a :class:`BadInput` naming its line (it
    would be the app's stack config); one without an ``app`` says nothing.
    """
    from rollout.userfile import read_yaml
    from rollout.vocabulary.names import CONFIG_KEY, PROJECT

    path = project_dir / "Pulumi.shared.yaml"
    if not path.exists():
        return None
    data, _ = read_yaml(path)
    try:
        return str(data["config"][f"{PROJECT}:{CONFIG_KEY}"]["app"])
    except (KeyError, TypeError):
        return None


def stack_regions(project_dir: Path) -> dict[str, str]:
    """Stack name → the ``aws:region`` its ``Pulumi.<stack>.yaml`` in ``project_dir`` names.

    Read leniently: a file that cannot say is left out (commands that deploy a
    stack validate its file themselves).
    """
    from rollout.userfile import read_yaml

    regions: dict[str, str] = {}
    for path in sorted(project_dir.glob("Pulumi.*.yaml")):
        try:
            data, _ = read_yaml(path)
            value = data["config"]["aws:region"]
        except (BadInput, KeyError, TypeError):
            continue
        if isinstance(value, str) and value:
            regions[path.name[len("Pulumi."):-len(".yaml")]] = value
    return regions


class RolloutContext:
    """Lazily built clients and lookups for one command invocation."""

    def __init__(self, project_dir: Path | None = None, app: str | None = None) -> None:
        self.project_dir = project_dir or Path(os.environ.get("ROLLOUT_PROJECT_DIR", "."))
        self._app = app
        self._announced: set[str] = set()

    def _named_app(self) -> str | None:
        return self._app or os.environ.get("ROLLOUT_APP") or app_from_project(self.project_dir)

    @cached_property
    def app(self) -> str:
        app = self._named_app()
        if not app:
            raise BadInput("no app name: pass --app, set ROLLOUT_APP, or run in a directory "
                           "with Pulumi.shared.yaml")
        return app

    @cached_property
    def clients(self) -> AwsClients:
        """Clients in the environment's region; see :meth:`clients_for` for a stack's own."""
        from rollout.aws_clients import AwsClients

        return AwsClients()

    @cached_property
    def discovery(self) -> Discovery:
        return self._discovery(self.app)

    def discovery_for(self, app: str) -> Discovery:
        """Discovery of ``app``, in the stacks' regions: :attr:`discovery` when it is this
        command's app. Stack commands take the app from the stack config they deploy."""
        if self._named_app() == app:
            return self.discovery
        return self._discovery(app)

    def _discovery(self, app: str) -> Discovery:
        from rollout.discovery import Discovery

        sources = outputs_sources(outputs_source_names(), self.clients, app, self.project_dir)
        return Discovery(self.clients, app, sources=sources,
                         stack_regions=stack_regions(self.project_dir),
                         on_region=self.announce_region)

    @cached_property
    def shared(self) -> SharedResources:
        return self.discovery.shared()

    @cached_property
    def ledger(self) -> Ledger:
        from rollout.rollouts.ledger import Ledger

        return Ledger(self.clients_for(self.shared), self.shared.ledger_table)

    def cohort(self, name: str) -> CohortResources:
        return self.discovery.cohort(name)

    def choice_book(self, release: str) -> ChoiceBook:
        """The tenants' recorded choices about ``release``, in the shared stack's ledger."""
        from rollout.choices.book import ChoiceBook

        return ChoiceBook(self.clients_for(self.shared), self.shared.ledger_table, release)

    def choices_if_reachable(self, release: str) -> list[TenantChoice]:
        """The recorded choices when the ledger can be read; else none, said once on stderr.

        For ``plan``, which needs no AWS: without an app, credentials or a deployed shared
        stack it plans from ``tenants.yaml`` alone.
        """
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        from rollout.errors import RolloutError

        why = None if self._named_app() else "no app is named"
        if why is None and not (os.environ.get("AWS_ENDPOINT_URL")
                                or boto3.session.Session().get_credentials()):
            why = "no AWS credentials"
        if why is None:
            try:
                return self.choice_book(release).choices()
            except (RolloutError, BotoCoreError, ClientError) as exc:
                why = f"the ledger cannot be read ({type(exc).__name__})"
        err_console.print(f"recorded customer choices are not included: {why}", markup=False)
        return []

    def clients_for(self, resources: SharedResources) -> AwsClients:
        """Clients in the region ``resources`` live in.

        A :class:`CohortResources` gives the cohort's region (its load balancer,
        parameters, key); a :class:`SharedResources` the shared stack's (ledger,
        artefact bucket, notices topic). Unknown regions fall back to the
        environment's.
        """
        from rollout.discovery import CohortResources

        if isinstance(resources, CohortResources):
            return self.clients.for_region(resources.region)
        return self.clients.for_region(resources.shared_region)

    def announce_region(self, subject: str, region: str | None) -> None:
        """Say once per region, on stderr, that ``subject`` lives in another region than
        the environment names, and that the command uses the stack's."""
        from rollout.aws_clients import environment_region

        named = environment_region()
        if named is None or region is None or region == named[1] or region in self._announced:
            return
        self._announced.add(region)
        err_console.print(f"{subject} lives in {region}; using it, not {named[0]}={named[1]}",
                          markup=False)


_current = RolloutContext()


def current() -> RolloutContext:
    return _current


def configure(project_dir: Path | None, app: str | None) -> None:
    global _current
    _current = RolloutContext(project_dir, app)
