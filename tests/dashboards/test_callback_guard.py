"""Dash callbacks cannot be flooded or fed nonsense: malformed bodies and values of the wrong
shape are answered 400 (never 500) for every page's callbacks, a session's callbacks are
throttled (429, counted in the database: shared by workers), made-up area codes are refused
before the grant check, and audit rows stay small whatever a request names."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from access.models import AuditEntry
from dashboards.callback_guard import LIST_VALUED
from dashboards.shell import PAGES
from dashboards.web import CALLBACK_LIMIT, EXTENSION
from tests.dashboards.client import (
    audit_actions,
    call,
    components,
    db_session,
    logged_in,
    page,
    payload,
    text_of,
)

OVERVIEW = ("overview-figures", "children")
PREVIEW_INPUTS = ("builder-table", "builder-kind", "builder-period-mode", "builder-period-from",
                  "builder-period", "builder-periods", "builder-level", "builder-within",
                  "builder-areas", "builder-keep", "builder-measures", "builder-bands",
                  "builder-heading", "builder-labels")
PREVIEW_OUTPUTS = [("builder-query-json", "children"), ("builder-curl", "children"),
                   ("builder-permalink", "href"), ("builder-preview", "children")]


def overview(area: Any, period: Any = "2025-03") -> dict:
    return payload([OVERVIEW], [("overview-area", "value", area),
                                ("overview-period", "value", period)])


def preview(areas: list[str], level: str = "village") -> dict:
    values = ("population", "month", "range", "2025-03", "2025-03", [], level, None, areas, [],
              ["population"], "single", ["measure"], "codes")
    return payload(PREVIEW_OUTPUTS,
                   [(i, "value", v) for i, v in zip(PREVIEW_INPUTS, values, strict=True)])


def callbacks(app) -> dict[str, dict]:
    """The server-side callbacks of the app (clientside ones have no function)."""
    found = app.extensions[EXTENSION + "_app"].callback_map
    return {key: spec for key, spec in found.items() if "callback" in spec}


def outputs_of(key: str) -> list[tuple[str, str]]:
    names = key.strip(".").split("...") if key.startswith("..") else [key]
    return [tuple(name.rsplit(".", 1)) for name in names]  # type: ignore[misc]


# --- malformed bodies ----------------------------------------------------------------------

GOOD = overview("63000")
MALFORMED = {
    "empty object": {},
    "a list": [GOOD],
    "a string": "overview",
    "inputs as a string": {**GOOD, "inputs": "overview-area"},
    "inputs of strings": {**GOOD, "inputs": ["overview-area", "overview-period"]},
    "one input missing": {**GOOD, "inputs": GOOD["inputs"][:1]},
    "inputs swapped": {**GOOD, "inputs": GOOD["inputs"][::-1]},
    "unknown output": {**GOOD, "output": "nowhere.children",
                       "outputs": {"id": "nowhere", "property": "children"}},
    "outputs not matching output": {**GOOD, "outputs": {"id": "builder-preview",
                                                        "property": "children"}},
    "clientside output": {**GOOD, "output": "_pages_dummy.children",
                          "outputs": {"id": "_pages_dummy", "property": "children"},
                          "inputs": [{"id": "_pages_store", "property": "data", "value": {}}]},
    "state as an object": {**GOOD, "state": {"a": 1}},
    "changedPropIds as text": {**GOOD, "changedPropIds": "overview-area.value"},
    "area as a list": overview(["63000"]),
    "area as a dict": overview({"code": "63000"}),
    "area as a number": overview(63000),
    "period as a list": overview("63000", ["2025-03"]),
    "area as 6,000 characters": overview("6" * 6000),
    "pathname not a path": payload([("_pages_content", "children"), ("_pages_store", "data")],
                                   [("_pages_location", "pathname", "builder"),
                                    ("_pages_location", "search", "")]),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_callback_bodies_are_answered_400(served, name):
    client = logged_in(served, "taipei_user")
    answer = call(client, MALFORMED[name])
    assert answer.status_code == 400, (name, answer.get_data(as_text=True)[:300])
    assert answer.get_json()["error"]


def test_invalid_json_is_answered_400(served):
    client = logged_in(served, "taipei_user")
    from dashboards.web import CSRF_COOKIE
    from tests.dashboards.client import cookie

    answer = client.post("/_dash-update-component", data=b"{not json",
                         content_type="application/json",
                         headers={"X-CSRFToken": cookie(client, CSRF_COOKIE)})
    assert answer.status_code == 400


# --- every page's callbacks, every input given the wrong shape ------------------------------

BAD_VALUES = ([1, 2], {"a": 1}, 7, "xxx", ["6300000000" + "1"] * 3)


def baseline(client) -> dict[tuple[str, str], Any]:
    """Every component's props in every page layout the user may open: what the browser
    would send first."""
    values: dict[tuple[str, str], Any] = {}
    for shell_page in PAGES:
        tree = page(client, shell_page.path)
        for node in components(tree, "Dropdown") + components(tree, "Input") + \
                components(tree, "Checklist") + components(tree, "RadioItems") + \
                components(tree, "Tabs") + components(tree, "DatePickerSingle") + \
                components(tree, "Textarea"):
            props = node["props"]
            for prop in ("value", "date"):
                if "id" in props and prop in props:
                    values[(props["id"], prop)] = props[prop]
    values[("_pages_location", "pathname")] = "/"
    values[("_pages_location", "search")] = ""
    return values


@pytest.mark.parametrize("username", ["moi_official", "taipei_user"])
@pytest.mark.parametrize("shell_page", [p.path for p in PAGES])
def test_every_callback_answers_4xx_never_500_to_wrong_shapes(private, username, shell_page):
    """For each server callback of the page (its inputs' ids start with the page's prefix;
    ``/`` also takes the shell's and the router's; static pages have none), the browser's first values answer 2xx, and
    each input replaced by a list, dict, number, nonsense text or made-up codes answers 2xx
    or 400 — never 500."""
    client = logged_in(private, username)
    values = baseline(client)
    prefix = {"/": ("overview-", "_pages_", "shell-")}.get(shell_page,
                                                           (shell_page.strip("/") + "-",))
    mine = {key: spec for key, spec in callbacks(private["app"]).items()
            if any(d["id"].startswith(prefix) for d in spec["inputs"] + spec["state"])}
    assert mine or shell_page not in ("/", "/builder", "/trends", "/map", "/pyramid"), shell_page
    for key, spec in mine.items():
        slots = [(d["id"], d["property"]) for d in spec["inputs"] + spec["state"]]
        for k in range(-1, len(slots)):
            for bad in BAD_VALUES if k >= 0 else (None,):
                sent = [(i, p, bad if j == k else values.get((i, p))) for j, (i, p)
                        in enumerate(slots)]
                body = payload(outputs_of(key), sent[:len(spec["inputs"])],
                               sent[len(spec["inputs"]):])
                private["clock"].advance(seconds=1)  # stay under the callback limit
                answer = call(client, body)
                assert answer.status_code in (200, 204, 400), \
                    (key, slots[k] if k >= 0 else "baseline", bad, answer.status_code)
                if k < 0:
                    assert answer.status_code in (200, 204), key


def test_list_valued_components_are_exactly_the_multi_selects(served):
    """``LIST_VALUED`` (values that are lists) names every multi-select dropdown and
    check-list of every page, and nothing else."""
    found: set[str] = set()
    for username in ("moi_official", "national_user"):
        client = logged_in(served, username)
        for shell_page in PAGES:
            tree = page(client, shell_page.path)
            found |= {c["props"]["id"] for c in components(tree, "Checklist")}
            found |= {c["props"]["id"] for c in components(tree, "Dropdown")
                      if c["props"].get("multi")}
    assert found == LIST_VALUED


# --- throttle ------------------------------------------------------------------------------

def test_sixty_previews_in_a_second_are_throttled_per_session(private):
    """40 callbacks per session in any 10 s: the 41st to 60th answer 429 with Retry-After;
    another session is not affected; 10 s later the session is served again."""
    client = logged_in(private, "taipei_user")
    statuses = [call(client, preview(["63000"], "county")).status_code for _ in range(60)]
    assert statuses == [200] * CALLBACK_LIMIT.limit + [429] * (60 - CALLBACK_LIMIT.limit)
    refused = call(client, preview(["63000"], "county"))
    assert refused.headers["Retry-After"] == "10" and "wait" in refused.get_json()["error"]
    other = logged_in(private, "national_user")
    assert call(other, overview("63000")).status_code == 200
    private["clock"].advance(seconds=10)
    assert call(client, preview(["63000"], "county")).status_code == 200


def test_the_limit_is_shared_by_two_workers(private):
    """Two app instances on one database: 20 callbacks on each, then both refuse."""
    from dashboards.app import create_app
    from dashboards.web import CSRF_COOKIE, SESSION_COOKIE
    from tests.dashboards.client import cookie

    first = logged_in(private, "taipei_user")
    second = create_app(private["settings"], private["clock"]).test_client()
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        second.set_cookie(name, cookie(first, name))
    half = CALLBACK_LIMIT.limit // 2
    assert {call(first, overview("63000")).status_code for _ in range(half)} == {200}
    assert {call(second, overview("63000")).status_code for _ in range(half)} == {200}
    assert call(first, overview("63000")).status_code == 429
    assert call(second, overview("63000")).status_code == 429


# --- made-up areas and bounded audit rows ---------------------------------------------------

def audit_size(served: dict) -> int:
    with db_session(served) as s:
        return s.scalar(select(func.count()).select_from(AuditEntry))


def test_twenty_thousand_made_up_codes_are_refused_without_a_big_audit_row(private):
    client = logged_in(private, "taipei_user")
    made_up = [f"63000{k:06d}" for k in range(20_000)]
    answer = call(client, preview(made_up))
    assert answer.status_code == 400 and "1000" in answer.get_json()["error"]


def test_made_up_codes_under_the_cap_are_refused_and_audited_in_summary(private):
    """900 codes of Taipei's form that are no village of the release: refused before the
    grant check (which a prefix would pass), one audit row of bounded size."""
    client = logged_in(private, "taipei_user")
    made_up = [f"63000{k:06d}" for k in range(900)]
    before = len(audit_actions(private, "taipei_user"))
    text = text_of(call(client, preview(made_up)))
    assert "您的授權不包含此資料表或地區" in text and "人口數" not in text
    new = audit_actions(private, "taipei_user")[before:]
    assert [a for a, _ in new] == ["access.refused"]
    detail = json.loads(new[0][1].removeprefix("table:population"))
    assert detail["reason"] == "not an area of the release"
    assert detail["areas"]["count"] == 900 and detail["areas"]["first"] == made_up[:5]
    assert len(new[0][1]) < 1000


def test_a_real_but_long_area_list_is_audited_in_summary(private):
    """Every village of Taipei, chosen one by one: shown, and the view's audit row holds the
    count, the first codes and a hash instead of hundreds of codes."""
    import hashlib

    import polars as pl

    areas = pl.read_parquet(private["releases"] / "2025-03" / "areas.parquet")
    villages = sorted(areas.filter(pl.col("area_level") == "village",
                                   pl.col("area_code").str.starts_with("63000"))["area_code"])
    assert len(villages) > 20
    client = logged_in(private, "taipei_user")
    before = len(audit_actions(private, "taipei_user"))
    assert "builder-row-count" in text_of(call(client, preview(villages)))
    (view,) = [d for a, d in audit_actions(private, "taipei_user")[before:] if a == "view"]
    logged = json.loads(view.removeprefix("table:population"))["areas"]
    digest = hashlib.sha256(json.dumps(villages, ensure_ascii=False).encode()).hexdigest()
    assert logged == {"count": len(villages), "first": villages[:5], "sha256": digest}
