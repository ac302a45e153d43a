"""AWS's answers for names, qualifiers and resources that do not fit, across the operations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from control_plane_support import ARN_PREFIX, client, create, error_of, state_args
from harness import EmulatorFactory

OTHER_ACCOUNT_ARN = "arn:aws:lambda:us-east-1:999999999999:function:fn"


def refused(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    return error_of(raised.value)


def test_names_qualifiers_and_missing_resources(
    emulator_factory: EmulatorFactory, state_dir: Path
) -> None:
    emu = emulator_factory(state_args(state_dir))
    lam = client(emu)
    create(lam, "fn")
    lam.publish_version(FunctionName="fn")
    not_found = "ResourceNotFoundException"
    # AWS answers a function of another account with 403 (its text is ours: no IAM here).
    other_account_denied = (
        "User: arn:aws:iam::012345678912:root is not authorized to perform this operation on "
        "resource: arn:aws:lambda:us-east-1:999999999999:function:fn because it belongs to "
        "another account (lambda-rie serves account 012345678912)"
    )
    cases: list[tuple[Callable[[], Any], tuple[int, str, str]]] = [
        (
            lambda: lam.get_function(FunctionName="fn", Qualifier="7"),
            (404, not_found, f"Function not found: {ARN_PREFIX}fn:7"),
        ),
        (
            lambda: lam.get_function(FunctionName="fn", Qualifier="nope"),
            (404, not_found, f"Function not found: {ARN_PREFIX}fn:nope"),
        ),
        (
            lambda: lam.get_function_configuration(FunctionName="ghost"),
            (404, not_found, f"Function not found: {ARN_PREFIX}ghost"),
        ),
        (
            lambda: lam.get_function(FunctionName="fn:1", Qualifier="2"),
            (
                400,
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified "
                "qualifier.",
            ),
        ),
        (
            lambda: lam.get_function(
                FunctionName="arn:aws:lambda:eu-west-1:012345678912:function:fn"
            ),
            (
                404,
                not_found,
                "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')",
            ),
        ),
        (
            lambda: lam.get_function(FunctionName=OTHER_ACCOUNT_ARN),
            (403, "AccessDeniedException", other_account_denied),
        ),
        (
            lambda: lam.update_function_configuration(
                FunctionName="999999999999:function:fn", Timeout=5
            ),
            (403, "AccessDeniedException", other_account_denied),
        ),
        (
            lambda: lam.list_tags(Resource=OTHER_ACCOUNT_ARN),
            (403, "AccessDeniedException", other_account_denied),
        ),
        (
            lambda: lam.delete_function(FunctionName=OTHER_ACCOUNT_ARN),
            (403, "AccessDeniedException", other_account_denied),
        ),
        (
            lambda: lam.update_alias(FunctionName="fn", Name="nope", FunctionVersion="1"),
            (404, not_found, f"Alias not found: {ARN_PREFIX}fn:nope"),
        ),
        (
            lambda: lam.create_alias(FunctionName="fn", Name="a", FunctionVersion="9"),
            (404, not_found, f"Function not found: {ARN_PREFIX}fn:9"),
        ),
        (
            lambda: lam.list_versions_by_function(FunctionName="ghost"),
            (404, not_found, f"Function not found: {ARN_PREFIX}ghost"),
        ),
        (
            lambda: lam.put_function_concurrency(
                FunctionName="ghost", ReservedConcurrentExecutions=1
            ),
            (404, not_found, f"Function not found: {ARN_PREFIX}ghost:$LATEST"),
        ),
        (
            lambda: lam.delete_function(FunctionName="fn", Qualifier="live"),
            (
                400,
                "InvalidParameterValueException",
                "Deletion of aliases is not currently supported.",
            ),
        ),
        (
            lambda: lam.add_permission(
                FunctionName="fn",
                StatementId="s",
                Action="lambda:InvokeFunction",
                Principal="*",
                Qualifier="$LATEST",
            ),
            (
                400,
                "InvalidParameterValueException",
                "We currently do not support adding policies for $LATEST.",
            ),
        ),
        (
            lambda: lam.add_permission(
                FunctionName="fn", StatementId="s", Action="lambda:*", Principal="nobody"
            ),
            (
                400,
                "InvalidParameterValueException",
                "The provided principal was invalid. Please check the principal and try again.",
            ),
        ),
        (
            lambda: lam.remove_permission(FunctionName="fn", StatementId="s"),
            (404, not_found, "No policy is associated with the given resource."),
        ),
        (
            lambda: lam.get_function_event_invoke_config(FunctionName="ghost"),
            (404, not_found, "The function doesn't exist."),
        ),
        (
            lambda: lam.get_provisioned_concurrency_config(FunctionName="fn", Qualifier="$LATEST"),
            (
                400,
                "InvalidParameterValueException",
                "The function resource provided must be an alias or a published version.",
            ),
        ),
        (
            lambda: lam.list_tags(Resource=f"{ARN_PREFIX}ghost"),
            (404, not_found, f"Function not found: {ARN_PREFIX}ghost"),
        ),
        (
            lambda: lam.tag_resource(Resource=f"{ARN_PREFIX}fn", Tags={}),
            (
                400,
                "InvalidParameterValueException",
                "An error occurred and the request cannot be processed.",
            ),
        ),
    ]
    for call, expected in cases:
        assert refused(call) == expected
    # NOTE: ResourceNotFoundException carries `Message`, the others `message` (botocore reads both).
    raw = emu.request("GET", "/2015-03-31/functions/ghost")
    assert raw.status == 404
    assert raw.header("x-amzn-ErrorType") == not_found
    assert raw.json() == {"Type": "User", "Message": f"Function not found: {ARN_PREFIX}ghost"}
    raw = emu.request("DELETE", "/2015-03-31/functions/fn?Qualifier=%24LATEST")
    assert raw.status == 400
    assert raw.json() == {
        "Type": "User",
        "message": "$LATEST version cannot be deleted without deleting the function.",
    }
