"""Issue 15: the Insights selectors through the real ``aws`` CLI, as in the guide's
examples (lines 3436-3460 and 5016-5035), against ``recorder run api``."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_api import ALICE, REGION, Env, env  # noqa: F401

pytestmark = pytest.mark.integration


def test_cli_insight_selectors_like_the_guide(env: Env) -> None:  # noqa: F811
    cli = env.cli()
    arn = f"arn:aws:cloudtrail:{REGION}:{ALICE}:trail/TrailName3"
    rc, _, err = cli("create-trail", "--name", "TrailName3", "--s3-bucket-name", "my-bucket")
    assert rc == 0, err
    # line 5016: by default a trail does not log Insights events; today's API says so
    # with InsightNotEnabledException (the guide's 2019 answer was an empty InsightType)
    rc, out, err = cli("get-insight-selectors", "--trail-name", "TrailName3")
    assert rc != 0 and "(InsightNotEnabledException)" in err
    assert f"Trail {arn} does not have Insights enabled." in err
    rc, out, _ = cli("get-trail", "--name", "TrailName3")
    assert out["Trail"]["HasInsightSelectors"] is False
    # line 5031: turn them on
    rc, out, err = cli(
        "put-insight-selectors",
        "--trail-name",
        "TrailName3",
        "--insight-selectors",
        '[{ "InsightType": "ApiCallRateInsight" }]',
    )
    assert rc == 0, err
    assert out == {"InsightSelectors": [{"InsightType": "ApiCallRateInsight"}], "TrailARN": arn}
    rc, out, err = cli("get-insight-selectors", "--trail-name", "TrailName3")
    assert out == {"InsightSelectors": [{"InsightType": "ApiCallRateInsight"}], "TrailARN": arn}
    rc, out, _ = cli("get-trail", "--name", "TrailName3")
    assert out["Trail"]["HasInsightSelectors"] is True
    # an unknown type is the modelled error
    rc, _, err = cli(
        "put-insight-selectors",
        "--trail-name",
        "TrailName3",
        "--insight-selectors",
        json.dumps([{"InsightType": "ApiCallVolume"}]),
    )
    assert rc != 0 and "InvalidInsightSelectorsException" in err
    # line 3460: clearing the list turns Insights off
    rc, out, err = cli(
        "put-insight-selectors", "--trail-name", "TrailName3", "--insight-selectors", "[]"
    )
    assert rc == 0, err
    assert out == {"InsightSelectors": [], "TrailARN": arn}
    rc, out, _ = cli("get-trail", "--name", "TrailName3")
    assert out["Trail"]["HasInsightSelectors"] is False
    # a read-only trail cannot turn Insights on (line 277)
    rc, _, err = cli(
        "put-event-selectors",
        "--trail-name",
        "TrailName3",
        "--event-selectors",
        '[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": true}]',
    )
    assert rc == 0, err
    rc, _, err = cli(
        "put-insight-selectors",
        "--trail-name",
        "TrailName3",
        "--insight-selectors",
        '[{"InsightType": "ApiCallRateInsight"}]',
    )
    assert rc != 0 and "InvalidInsightSelectorsException" in err
    cli("delete-trail", "--name", "TrailName3")
