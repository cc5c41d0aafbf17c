"""The pytest plugin run by pytester on the example partner test file, and its options."""

from __future__ import annotations

import shutil

import pytest

from tests.support.paths import ROOT

EXAMPLE = ROOT / "examples" / "test_partner_example.py"


def test_example_partner_tests_pass(pytester: pytest.Pytester):
    shutil.copy(EXAMPLE, pytester.path / "test_partner_example.py")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=180)
    result.assert_outcomes(passed=6, xfailed=1)


def test_unmet_expectation_is_reported_in_the_failure(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_unmet="""
        def test_unmet(mocksrv, mocksrv_prime):
            mocksrv.expect(name="verify 999 once", match={"fields": {"offerCode": "999"}})
            mocksrv_prime.verify("123456789")
            mocksrv.assert_expectations_met()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*unmet mocksrv expectations:*", "*verify 999 once: expected at least 1 matching*"]
    )


def test_scenario_option_and_marker(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_scen=f"""
        import pytest

        def test_session_scenario(mocksrv_prime):
            assert mocksrv_prime.verify("100000001").json() == {{"message": "SUCCESS"}}

        @pytest.mark.mocksrv_scenario({str(ROOT / "scenarios/default.yaml")!r})
        def test_marker_scenario(mocksrv_prime):
            assert mocksrv_prime.verify("100000001").json() == {{"message": "INVALID_OFFER_CODE"}}

        def test_back_to_session_scenario(mocksrv, mocksrv_clock):
            assert mocksrv_clock.now() == "2026-05-16T12:00:00.000Z"
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--strict-markers",
        f"--mocksrv-scenario={ROOT / 'scenarios/prime-outcomes.yaml'}", timeout=120,
    )  # fmt: skip
    result.assert_outcomes(passed=3)


def test_a_scenario_switched_through_the_admin_api_does_not_leak_into_the_next_test(
    pytester: pytest.Pytester,
):
    pytester.makepyfile(
        test_leak="""
        def test_switches_by_itself(mocksrv, mocksrv_prime):
            mocksrv.admin("POST", "/scenarios", {"names": ["prime-outcomes"]})
            assert mocksrv_prime.verify("100000001").json() == {"message": "SUCCESS"}

        def test_next_one_runs_the_session_scenario(mocksrv, mocksrv_prime):
            assert [s.rsplit("/", 1)[-1] for s in mocksrv.active()] == ["default.yaml"]
            assert mocksrv_prime.verify("100000001").json() == {"message": "INVALID_OFFER_CODE"}
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=2)


def test_plugin_is_inert_without_its_fixtures(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_plain="""
        import sys, threading

        def test_nothing_started():
            assert not any(t.name == "mocksrv-server" for t in threading.enumerate())
            assert "mocksrv.app" not in sys.modules and "mocksrv.server" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(passed=1)


def test_external_server_url(pytester: pytest.Pytester, server_factory):
    srv = server_factory()
    pytester.makepyfile(
        test_ext=f"""
        def test_uses_it(mocksrv, mocksrv_url, mocksrv_prime):
            assert mocksrv_url == {srv.url!r}
            assert mocksrv_prime.verify("123456789").json() == {{"message": "SUCCESS"}}
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--mocksrv-url={srv.url}", timeout=60
    )
    result.assert_outcomes(passed=1)
    # a server the session did not start: it ran in a tenant of its own, deleted at the end
    assert srv.app.runtime.admin.toolkit.journal.entries() == []
    assert srv.app.tenants.count == 0


def test_own_fixtures_share_one_session_server(mocksrv_session, mocksrv):
    assert mocksrv.url == mocksrv_session.handle.url
    assert mocksrv.admin("GET", "/health")["status"] == "ok"
