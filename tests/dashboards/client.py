"""Helpers for driving the dashboards through Flask's test client: log in, call a Dash
callback by hand (as a crafted request would), read the audit log."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from access.db import make_engine, session_factory
from access.models import AuditEntry
from dashboards.web import CSRF_COOKIE


def db_session(served: dict) -> Session:
    return session_factory(make_engine(served["db"]))()


def cookie(client, name: str) -> str | None:
    found = client.get_cookie(name)
    return found.value if found else None


def login(served: dict, username: str, password: str | None = None, app=None, client=None):
    client = client or (app or served["app"]).test_client()
    page = client.get("/login")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    answer = client.post("/login", data={
        "username": username, "csrf_token": token,
        "password": password or served["accounts"][username]["password"],
    })
    return client, answer


def logged_in(served: dict, username: str, app=None):
    client, answer = login(served, username, app=app)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return client


def payload(outputs: list[tuple[str, str]], inputs: list[tuple[str, str, Any]],
            state: list[tuple[str, str, Any]] = ()) -> dict:
    """A ``/_dash-update-component`` body, as the renderer would send it."""
    outs = [{"id": i, "property": p} for i, p in outputs]
    name = (f"{outputs[0][0]}.{outputs[0][1]}" if len(outputs) == 1
            else ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..")
    return {
        "output": name,
        "outputs": outs[0] if len(outs) == 1 else outs,
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"] if inputs else [],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
    }


def call(client, body: dict, csrf: bool = True):
    headers = {"X-CSRFToken": cookie(client, CSRF_COOKIE) or ""} if csrf else {}
    return client.post("/_dash-update-component", json=body, headers=headers)


def text_of(answer) -> str:
    """A Dash answer with its unicode escapes undone."""
    try:
        return json.dumps(answer.get_json(), ensure_ascii=False)
    except Exception:  # noqa: BLE001 - not JSON
        return answer.get_data(as_text=True)


def audit_actions(served: dict, username: str) -> list[tuple[str, str]]:
    with db_session(served) as s:
        rows = s.execute(select(AuditEntry.action, AuditEntry.object, AuditEntry.details).where(
            AuditEntry.actor == username).order_by(AuditEntry.seq))
        return [(a, o + json.dumps(d, ensure_ascii=False)) for a, o, d in rows]


def components(node: Any, type_name: str) -> list[dict]:
    """Every component of ``type_name`` (e.g. ``"Tr"``) in a Dash JSON tree, in order."""
    found: list[dict] = []
    if isinstance(node, dict):
        if node.get("type") == type_name and "props" in node:
            found.append(node)
        for value in node.values():
            found += components(value, type_name)
    elif isinstance(node, list):
        for value in node:
            found += components(value, type_name)
    return found


def text(node: Any) -> str:
    """The visible text of a Dash JSON tree (children strings, concatenated)."""
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list):
        return "".join(text(n) for n in node)
    if isinstance(node, dict):
        return text(node.get("props", {}).get("children", "")) if "props" in node else ""
    return ""


def table_rows(answer) -> list[list[str]]:
    """The cells of every table row in a callback answer, as text."""
    rows = components(answer.get_json(), "Tr")
    return [[text(cell) for cell in row["props"]["children"]] for row in rows]


def router(path: str, search: str = "") -> dict:
    """The pages router's request: what a browser navigating to ``path`` sends."""
    return payload([("_pages_content", "children"), ("_pages_store", "data")],
                   [("_pages_location", "pathname", path), ("_pages_location", "search", search)])


def page(client, path: str, search: str = "") -> dict:
    """The page's layout as the pages router answers a (possibly crafted) navigation."""
    answer = call(client, router(path, search))
    assert answer.status_code == 200
    return answer.get_json()


def dropdown(tree: dict, component_id: str) -> dict:
    """The props of the Dropdown ``component_id`` in a layout."""
    return next(c["props"] for c in components(tree, "Dropdown")
                if c["props"].get("id") == component_id)
