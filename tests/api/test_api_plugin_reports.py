"""The pytest plugin seen from a user's test run (an inner pytest): failure reports with the
invocations' log tails, the session fixture configured by lambda-rie.toml or a SAM template."""

from __future__ import annotations

from pathlib import Path

import pytest

HANDLERS = str(Path(__file__).resolve().parent / "handlers")

LAMBDA_RIE_TOML = f"""
[defaults]
timeout = 5

[functions.echo]
handler = "app.echo"
code_dir = "{HANDLERS}"

[functions.who]
handler = "app.whoami"
code_dir = "{HANDLERS}"
memory = 256
environment = {{ GREETING = "from-toml" }}
"""


def test_a_failing_test_reports_the_functions_log_tail(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_orders=f"""
        import pytest

        @pytest.mark.lambda_function("echo", handler="app.echo", code_dir={HANDLERS!r})
        def test_wrong_answer(lambda_emulator):
            result = lambda_emulator.invoke("echo", {{"marker": "needle-1234"}})
            assert result.json() == {{"marker": "something else"}}

        @pytest.mark.lambda_function("echo", handler="app.echo", code_dir={HANDLERS!r})
        def test_right_answer(lambda_emulator):
            assert lambda_emulator.invoke("echo", [7]).json() == [7]
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_wrong_answer _*",
            "*- lambda-rie log tails -*",
            "echo (*):",
            "START RequestId: * Version: $LATEST",
            "echo got {'marker': 'needle-1234'}",
            "END RequestId: *",
            "REPORT RequestId: *\tDuration: *",
        ]
    )
    # Only the failing test's report carries a section.
    assert result.stdout.str().count("lambda-rie log tails") == 1
    assert (
        "echo got [7]"
        not in result.stdout.str().split("short test summary")[0].split("lambda-rie log tails")[1]
    )


def test_the_report_shows_invocations_made_through_lambda_client(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_boto=f"""
        import pytest

        @pytest.mark.lambda_function("fail", handler="app.fail", code_dir={HANDLERS!r})
        def test_client(lambda_client):
            response = lambda_client.invoke(FunctionName="fail", Payload=b"{{}}")
            assert "FunctionError" not in response
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*- lambda-rie log tails -*", "fail (*):", "about to fail", "*ValueError*"]
    )


def test_the_session_fixture_serves_lambda_rie_toml(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", **{"lambda-rie": LAMBDA_RIE_TOML})
    pytester.makepyfile(
        test_session="""
        import json

        def test_first(lambda_emulator_session):
            assert lambda_emulator_session.invoke("echo", {"n": 1}).cold_start

        def test_second_is_warm(lambda_emulator_session):
            result = lambda_emulator_session.invoke("echo", {"n": 2})
            assert result.json() == {"n": 2}
            assert not result.cold_start

        def test_client(lambda_client):
            response = lambda_client.invoke(FunctionName="who", Payload=b"{}")
            answer = json.loads(response["Payload"].read())
            assert answer["memory"] == "256"
            assert answer["env"] == "from-toml"

        def test_functions(lambda_emulator_session):
            by_name = {f.name: f for f in lambda_emulator_session.functions}
            assert sorted(by_name) == ["echo", "who"]
            assert by_name["who"].timeout == 5
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=4)


def test_the_session_config_can_be_named(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", elsewhere=LAMBDA_RIE_TOML)
    pytester.makepyfile(
        test_named="""
        def test_echo(lambda_emulator_session):
            assert lambda_emulator_session.invoke("function", [1]).json() == [1]
        """
    )
    result = pytester.runpytest("--lambda-rie-config", "elsewhere.toml")
    result.assert_outcomes(passed=1)


def test_the_session_fixture_serves_a_sam_template(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        template=f"""
        AWSTemplateFormatVersion: "2010-09-09"
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Echo:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: echo-fn
              CodeUri: {HANDLERS}
              Handler: app.echo
              Runtime: python3.11
              MemorySize: 512
        """,
    )
    pytester.makepyfile(
        test_template="""
        def test_echo(lambda_emulator_session):
            assert lambda_emulator_session.invoke("echo-fn", {"t": 1}).json() == {"t": 1}
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_the_session_fixture_names_what_is_missing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_missing="""
        def test_needs_config(lambda_emulator_session):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*lambda_emulator_session: no lambda-rie.toml or template.yaml or template.yml in *"]
    )


def test_lambda_emulator_without_a_marker_says_how_to_configure_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_unmarked="""
        def test_unmarked(lambda_emulator):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*lambda_emulator needs @pytest.mark.lambda_function(name, handler=...) on the test*"]
    )
