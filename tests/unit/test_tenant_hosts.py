"""A tenant's host is one exact DNS name of its own, and a pin stays inside its cohort.

A wildcard or pattern host would turn a tenant's pin into a listener rule that
catches every tenant (``host-header ['*']``), so hosts are refused unless they are
plain DNS names, and two tenants may not share one. ``pin`` may only pin a tenant of
the cohort it names.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rollout.aws_clients import AwsClients
from rollout.cli import run
from rollout.errors import BadInput
from rollout.local.deployer import LocalDeployer
from rollout.model.tenants import load_tenants

REPOSITORY = Path(__file__).resolve().parents[2]

TENANTS = textwrap.dedent("""\
    defaults:
      windows: ["Sat 02:00-06:00"]
    cohorts:
      - name: canary
        order: 1
      - name: wave1
        order: 2
    tenants:
      - id: acme
        cohort: canary
        host: {first}
      - id: evil-co
        cohort: wave1
        host: {second}
    """)
"""The first tenant's host is on line 11, the second's on line 14."""

STACK = textwrap.dedent("""\
    config:
      aws:region: eu-west-1
      tenant-rollout:stack:
        role: cohort
        app: acme
        cohort: canary
        sharedStack: organization/tenant-rollout/shared
        versions:
          blue: 1.4.2
          green: 1.4.2
        tenants:
          - id: aurora
            host: {first}
          - id: birch
            host: {second}
    """)
"""The first tenant's host is on line 13, the second's on line 15."""

STACK_FIELD = "config.tenant-rollout:stack.tenants"

NOT_DNS_NAMES = {
    "wildcard": "'*'",
    "wildcard label": "'*.acme.example'",
    "pattern": "'acme?.example'",
    "single label": "localhost",
    "trailing dot": "acme.example.",
    "leading hyphen": "-acme.example",
    "trailing hyphen": "acme-.example",
    "underscore": "acme_co.example",
    "space": "'acme co.example'",
    "empty label": "acme..example",
    "IPv4 address": "10.0.0.1",
    "IPv6 address": "'[::1]'",
    "port": "'acme.example:8080'",
    "non-ASCII": "bücher.example",
    "label over 63": "a" * 64 + ".example",
    "name over 253": ".".join(["a" * 63] * 4),
    "not text": "17",
    "empty": "''",
}

DNS_NAMES = ["acme.example", "a.b", "acme-eu-1.app.example.com", "xn--bcher-kva.example",
             "1and1.example", ".".join(["a" * 63] * 3 + ["a" * 61])]


def tenants_file(tmp_path: Path, first: str, second: str = "evil.example") -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS.format(first=first, second=second))
    return path


def stack_file(tmp_path: Path, first: str, second: str = "birch.example") -> LocalDeployer:
    (tmp_path / "Pulumi.canary.yaml").write_text(STACK.format(first=first, second=second))
    return LocalDeployer(tmp_path, AwsClients())


def one_line(exc: pytest.ExceptionInfo[BadInput]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", sorted(NOT_DNS_NAMES))
def test_a_tenants_file_host_that_is_not_an_exact_dns_name_is_refused(
        tmp_path: Path, name: str) -> None:
    path = tenants_file(tmp_path, NOT_DNS_NAMES[name])
    with pytest.raises(BadInput) as caught:
        load_tenants(path)
    assert one_line(caught).startswith(f"{path}:11: tenants.0.host: ")
    assert "DNS name" in str(caught.value)


@pytest.mark.parametrize("name", sorted(NOT_DNS_NAMES))
def test_a_stack_config_host_that_is_not_an_exact_dns_name_is_refused(
        tmp_path: Path, name: str) -> None:
    engine = stack_file(tmp_path, NOT_DNS_NAMES[name])
    with pytest.raises(BadInput) as caught:
        engine.stack_file("canary")
    assert one_line(caught).startswith(
        f"{tmp_path / 'Pulumi.canary.yaml'}:13: {STACK_FIELD}.0.host: ")
    assert "DNS name" in str(caught.value)


@pytest.mark.parametrize("host", DNS_NAMES)
def test_exact_dns_names_are_accepted_in_both_files(tmp_path: Path, host: str) -> None:
    assert load_tenants(tenants_file(tmp_path, host)).tenant("acme").host == host
    config = stack_file(tmp_path, host).stack_file("canary").config.stack
    assert [t.host for t in config.tenants] == [host, "birch.example"]  # type: ignore[union-attr]


def test_a_host_is_kept_in_lower_case_because_dns_ignores_case(tmp_path: Path) -> None:
    assert load_tenants(tenants_file(tmp_path, "Acme.EXAMPLE")).tenant("acme").host == \
        "acme.example"


def test_two_tenants_with_one_host_are_refused_at_the_second(tmp_path: Path) -> None:
    path = tenants_file(tmp_path, "acme.example", "ACME.example")
    with pytest.raises(BadInput) as caught:
        load_tenants(path)
    assert one_line(caught).startswith(f"{path}:14: tenants.1.host: ")
    assert "acme" in str(caught.value)


def test_two_stack_tenants_with_one_host_are_refused_at_the_second(tmp_path: Path) -> None:
    engine = stack_file(tmp_path, "aurora.example", "Aurora.Example")
    with pytest.raises(BadInput) as caught:
        engine.stack_file("canary")
    assert one_line(caught).startswith(
        f"{tmp_path / 'Pulumi.canary.yaml'}:15: {STACK_FIELD}.1.host: ")
    assert "aurora" in str(caught.value)


def test_plan_refuses_a_wildcard_host_with_exit_2_and_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tenants_file(tmp_path, "acme.example", "'*'")
    code = run(["plan", "--release", "1.5.0", "--tenants", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    (message,) = err.strip().splitlines()
    assert message.startswith(f"error: {path}:14: tenants.1.host: ")


def test_pin_membership_refuses_a_tenant_of_another_cohort(tmp_path: Path) -> None:
    tenants = load_tenants(tenants_file(tmp_path, "acme.example"))
    assert tenants.member("canary", "acme").id == "acme"
    with pytest.raises(BadInput) as caught:
        tenants.member("canary", "evil-co")
    assert one_line(caught).startswith(
        "tenant evil-co is not a member of cohort canary (it belongs to wave1)")
    with pytest.raises(BadInput, match="not in the tenants file"):
        tenants.member("canary", "nobody")
    with pytest.raises(BadInput, match="cohort 'wave9' is not in the tenants file"):
        tenants.member("wave9", "acme")


def test_the_examples_of_the_repository_keep_their_hosts() -> None:
    tenants = load_tenants(REPOSITORY / "examples" / "tenants.yaml")
    assert all(t.host for t in tenants.tenants)
    engine = LocalDeployer(REPOSITORY, AwsClients())
    hosts = {t.host for stack in engine.known_stacks()
             for t in getattr(engine.stack_file(stack).config.stack, "tenants", [])}
    assert hosts and hosts <= {t.host for t in tenants.tenants}
