"""Properties as both event stores read them (both_stores): values that are arrays or
objects as text, JSON's null, numbers, and names and keys with characters SQL and
string formatting care about, in breakdowns and filters."""

from dataclasses import replace

import pytest
from calls import identify, jan, track
from test_reports import first_week
from django.db import connection

from analytics import reports
from analytics.reports.queries import Filter

# PostgreSQL's forms are the reference (SQLite, the demo's database, writes JSON values
# its own way: arrays without spaces, objects in the order sent).
pytestmark = [
    pytest.mark.both_stores,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite writes JSON values its own way"),
]


def labels(result):
    return sorted((s.label, s.values) for s in result.series)


def test_breakdown_on_a_trait_nobody_has(send, workspace):
    send.batch(identify("a", at=jan(1), plan="pro"), track("a", "x", jan(5)))
    result = reports.trends(workspace, first_week("trend", workspace, event="x", breakdown="nokey", breakdown_on="person"))
    assert labels(result) == [("(none)", [1, 0, 0])]


def test_breakdown_nested_array(send, workspace):
    send.batch(track("a", "x", jan(5), properties={"v": [1, 2]}))
    result = reports.trends(workspace, first_week("trend", workspace, event="x", breakdown="v", breakdown_on="event"))
    assert labels(result) == [("[1, 2]", [1, 0, 0])]


def test_breakdown_nested_object(send, workspace):
    send.batch(track("a", "x", jan(5), properties={"v": {"bb": 1, "a": 2}}))
    result = reports.trends(workspace, first_week("trend", workspace, event="x", breakdown="v", breakdown_on="event"))
    assert labels(result) == [('{"a": 2, "bb": 1}', [1, 0, 0])]


def test_breakdown_big_float(send, workspace):
    send.batch(track("a", "x", jan(5), properties={"v": 1e20}))
    result = reports.trends(workspace, first_week("trend", workspace, event="x", breakdown="v", breakdown_on="event"))
    assert labels(result) == [("100000000000000000000", [1, 0, 0])]


def test_eq_filter_on_nested(send, workspace):
    send.batch(track("a", "x", jan(5), properties={"v": [1, 2]}))
    q = first_week("trend", workspace, event="x")
    q = replace(q, filters=(Filter("event", "v", "eq", "[1, 2]"),))
    assert [s.values for s in reports.trends(workspace, q).series] == [[1, 0, 0]]


def test_neq_person_trait_null(send, workspace):
    send.batch(
        identify("a", at=jan(1), plan=None),
        identify("b", at=jan(1), plan="pro"),
        identify("c", at=jan(1)),
        track("a", "x", jan(5)), track("b", "x", jan(5)), track("c", "x", jan(5)),
    )
    q = replace(first_week("trend", workspace, event="x"), filters=(Filter("person", "plan", "neq", "pro"),))
    # c, whose plan is unset: a's plan, JSON's null, differs from nothing.
    assert [s.values for s in reports.trends(workspace, q).series] == [[1, 0, 0]]


def test_percent_and_quotes(send, workspace):
    send.batch(track("a", "x%s'\"", jan(5), properties={"k%(w)s'": "v%"}))
    q = first_week("trend", workspace, event="x%s'\"", breakdown="k%(w)s'", breakdown_on="event")
    q = replace(q, filters=(Filter("event", "k%(w)s'", "contains", "%"),))
    assert labels(reports.trends(workspace, q)) == [("v%", [1, 0, 0])]
