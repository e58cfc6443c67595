"""The deployed ledger table refuses to be deleted.

A rollback reads the ledger to know which colour was live; deleting the table at
the 50% step would strand traffic. The shared stack turns DynamoDB's deletion
protection on and the local deployer passes it to moto, which enforces it.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.conftest import deploy_fleet

pytestmark = pytest.mark.integration


def test_delete_table_on_the_deployed_ledger_is_refused(
        moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    fleet = deploy_fleet(tmp_path_factory.mktemp("ledger-protection"), {})
    fleet.deployer.up("shared")
    table = fleet.shared.ledger_table
    dynamodb = fleet.clients.client("dynamodb")
    assert dynamodb.describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"] is True
    with pytest.raises(ClientError) as refused:
        dynamodb.delete_table(TableName=table)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert table in dynamodb.list_tables()["TableNames"]
