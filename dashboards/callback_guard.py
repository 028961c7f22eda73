"""What a Dash callback request must look like before Dash is allowed to read it.

Dash trusts the body of ``POST /_dash-update-component``: ``{}``, a list, ``inputs`` as a
string, an output no callback declares, or a dropdown's value sent as a dict all end in an
exception inside Dash or a page, i.e. a 500. The guard of ``dashboards.web`` runs ``check``
first, so a malformed body is answered 400 with a message naming the field, and a page
callback only ever receives the shapes its components can produce:

* counts (``n_clicks`` …) are non-negative integers or null;
* ``value`` is a text or null; a number too for the components in ``NUMBER_VALUED``
  (record ids in Administration's choices, a number of days); a list of texts for those in
  ``LIST_VALUED`` (multi-select dropdowns, check-lists);
* text (``date``, ``search`` …) is text, ``pathname`` a local path;
* every text and list has a length limit.

``LIST_VALUED`` is checked against the pages' layouts by a test, so a new multi-select
component that is not listed fails the tests instead of being refused in the browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_TEXT = 5_000  # characters of one text value (free-text reasons are far shorter)
MAX_ITEMS = 1_000  # entries of one list value
MAX_ITEM_TEXT = 200  # characters of one list entry (codes, column names)
LIST_VALUED = frozenset({"builder-areas", "builder-periods", "builder-keep",
                         "builder-measures", "builder-heading", "trends-areas",
                         "admin-applications-tables", "admin-applications-channels"})
NUMBER_VALUED = frozenset({
    "admin-applications-choice", "admin-violations-grant", "admin-violations-choice",
    "admin-personnel-agency", "admin-disputes-extension", "admin-disputes-dispute",
    "admin-audit-agency", "deliveries-extension-days",
})
COUNT_PROPS = frozenset({"n_clicks", "n_submit", "n_blur", "n_intervals"})
TEXT_PROPS = frozenset({"date", "start_date", "end_date", "search", "hash", "href"})


class InvalidCallback(ValueError):
    """A callback request that no page of ours could have sent (answered 400)."""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check(body: Any, callbacks: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse a callback request whose shape or values do not fit a declared callback.

    Raises
    ------
    InvalidCallback
        Naming the field (``inputs[1].value`` …) and what is wrong with it.
    """
    if not isinstance(body, dict):
        raise InvalidCallback("the callback request must be a JSON object")
    output = body.get("output")
    if not isinstance(output, str) or output not in callbacks:
        raise InvalidCallback(f"output: no callback answers {_short(output)}")
    spec = callbacks[output]
    if "callback" not in spec:  # a clientside callback: the browser runs it
        raise InvalidCallback(f"output: {output!r} is answered in the browser, not here")
    _check_outputs(body.get("outputs"), output)
    for field in ("inputs", "state"):
        _check_values(body.get(field, [] if field == "state" else None), spec[field], field)
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise InvalidCallback("changedPropIds: must be a list of texts")


def _check_outputs(outputs: Any, output: str) -> None:
    listed = outputs if isinstance(outputs, list) else [outputs]
    for k, item in enumerate(listed):
        if not (isinstance(item, dict) and isinstance(item.get("id"), str)
                and isinstance(item.get("property"), str)):
            raise InvalidCallback(f"outputs[{k}]: must be an object with id and property")
    names = [f"{o['id']}.{o['property']}" for o in listed]
    expected = names[0] if len(names) == 1 else ".." + "...".join(names) + ".."
    if expected != output or (len(names) > 1) != isinstance(outputs, list):
        raise InvalidCallback(f"outputs: do not match the output {output!r}")


def _check_values(sent: Any, declared: list[dict[str, Any]], field: str) -> None:
    if not isinstance(sent, list):
        raise InvalidCallback(f"{field}: must be a list of objects")
    if len(sent) != len(declared):
        raise InvalidCallback(f"{field}: {len(declared)} expected, {len(sent)} sent")
    for k, (item, want) in enumerate(zip(sent, declared, strict=True)):
        place = f"{field}[{k}]"
        if not isinstance(item, dict) or item.get("id") != want["id"] \
                or item.get("property") != want["property"]:
            raise InvalidCallback(f"{place}: must be {want['id']}.{want['property']}")
        if "value" in item:
            check_value(str(want["id"]), want["property"], item["value"], f"{place}.value")


def check_value(component: str, prop: str, value: Any, place: str) -> None:
    """Refuse a value ``component.prop`` cannot take in our pages."""
    if value is None:
        return
    if prop in COUNT_PROPS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidCallback(f"{place}: a count must be a whole number ≥ 0, not "
                                  f"{_short(value)}")
    elif prop == "pathname":
        if not isinstance(value, str) or not value.startswith("/") or len(value) > MAX_TEXT:
            raise InvalidCallback(f"{place}: must be a local path starting with /")
    elif prop in TEXT_PROPS:
        _text(value, place, MAX_TEXT)
    elif prop == "value" and component in LIST_VALUED:
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise InvalidCallback(f"{place}: must be a list of at most {MAX_ITEMS} entries")
        for k, item in enumerate(value):
            _text(item, f"{place}[{k}]", MAX_ITEM_TEXT)
    elif prop == "value" and component in NUMBER_VALUED and _number(value):
        return
    elif prop == "value":
        if not isinstance(value, str):
            raise InvalidCallback(f"{place}: {component} takes one text, not {_short(value)}")
        _text(value, place, MAX_TEXT)
    # other properties (children, data, options …) are outputs of our own callbacks fed
    # back as inputs; the callbacks that take them ignore their content


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any, place: str, limit: int) -> None:
    if not isinstance(value, str):
        raise InvalidCallback(f"{place}: must be a text, not {_short(value)}")
    if len(value) > limit:
        raise InvalidCallback(f"{place}: at most {limit} characters ({len(value)} sent)")
