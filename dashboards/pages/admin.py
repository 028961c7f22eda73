"""Administration (``/admin``, provider staff only): applications, grants, violations,
personnel changes, extensions and disputes, and the audit log — each tab limited to the
official's jurisdiction (MOI sees everything; a county government what touches its county).

Only the layout and the callbacks live here (Dash registers page callbacks per app); the
rules are in ``dashboards.admin``. Every callback first checks ``page_allowed`` and reads the
user from the server-side session; ids from the client are only looked up, never trusted.
Officials decide; statisticians (disputes only) and auditors read.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate
from flask import g
from sqlalchemy import select

from access.calendar import local_date
from access.models import Agency, User
from dashboards.admin import actions, audit_view, forms, ids, scope, views
from dashboards.admin.actions import Outcome
from dashboards.data import area_name
from dashboards.i18n import t
from dashboards.shell import not_permitted, page_allowed, title
from dashboards.web import current_user, services

dash.register_page(__name__, path="/admin", title=lambda **_: title("/admin"))


def layout(**_: Any) -> Any:
    user = current_user()
    if user is None or not page_allowed(user, ids.PATH):
        return not_permitted()
    today = local_date(services().now())
    area = scope.jurisdiction(user)
    tabs = [forms.applications_tab(user, today), forms.grants_tab(),
            forms.violations_tab(user, today), forms.personnel_tab(user, today),
            forms.disputes_tab(user)]
    if scope.may_audit(user):
        tabs.append(forms.audit_tab(today))
    return html.Div([
        html.H1(title(ids.PATH)),
        html.P(t(f"管轄範圍：{area_name(area)}（{area}）", f"Jurisdiction: {area_name(area)} "
                 f"({area})") if area else ""),
        dcc.Tabs(id=ids.TABS, value=ids.APPLICATIONS, children=tabs),
    ])


# --- callbacks ------------------------------------------------------------------------------

def staff() -> User | None:
    """The session's user if they may use this page (else None)."""
    user = current_user()
    return user if user is not None and page_allowed(user, ids.PATH) else None


def shown(outcome: Outcome) -> Any:
    return views.status(outcome.ok, outcome.message)


def agency_names() -> dict[int, str]:
    return {row.id: row.name for row in g.db.execute(select(Agency.id, Agency.name))}


@callback(Output(ids.APP_LIST, "children"), Output(ids.APP_CHOICE, "options"),
          Input(ids.TABS, "value"), Input(ids.APP_STATUS, "children"))
def list_applications(tab: str | None, _status: Any) -> Any:
    user = staff()
    if user is None:
        return not_permitted(), []
    if tab != ids.APPLICATIONS:
        raise PreventUpdate
    apps = scope.applications(g.db, user)
    pending = [(a.id, views.numbered(a.id, a.agency.name)) for a in apps
               if a.status == "submitted"]
    return views.applications_table(apps), views.options(pending)


@callback(Output(ids.APP_STATUS, "children"),
          Input(ids.APP_APPROVE, "n_clicks"), Input(ids.APP_REJECT, "n_clicks"),
          Input(ids.APP_RETURN, "n_clicks"),
          State(ids.APP_CHOICE, "value"), State(ids.APP_FROM, "date"), State(ids.APP_TO, "date"),
          State(ids.APP_REASON, "value"), State(ids.APP_TABLES, "value"),
          State(ids.APP_AREAS, "value"), State(ids.APP_CHANNELS, "value"),
          prevent_initial_call=True)
def decide_application(_approve: int, _reject: int, _return: int, app_id: Any, valid_from: Any,
                       valid_to: Any, reason: str | None, tables: Any = None, areas: Any = None,
                       channels: Any = None) -> Any:
    user = staff()
    if user is None:
        return not_permitted()
    decision = {ids.APP_APPROVE: "approve", ids.APP_REJECT: "reject", ids.APP_RETURN: "return"}.get(
        ctx.triggered_id)
    if decision is None:
        raise PreventUpdate
    return shown(actions.decide_application(g.db, user, decision, app_id, valid_from, valid_to,
                                            reason, services().now(),
                                            scope=(tables, areas, channels)))


@callback(Output(ids.GRANT_LIST, "children"), Input(ids.TABS, "value"))
def list_grants(tab: str | None) -> Any:
    user = staff()
    if user is None:
        return not_permitted()
    if tab != ids.GRANTS:
        raise PreventUpdate
    return views.grants_table(scope.grants(g.db, user), services().now())


@callback(Output(ids.VIOL_LIST, "children"), Output(ids.VIOL_GRANT, "options"),
          Output(ids.VIOL_CHOICE, "options"),
          Input(ids.TABS, "value"), Input(ids.VIOL_STATUS, "children"))
def list_violations(tab: str | None, _status: Any) -> Any:
    user = staff()
    if user is None:
        return not_permitted(), [], []
    if tab != ids.VIOLATIONS:
        raise PreventUpdate
    found = scope.violations(g.db, user)
    sanctionable = [(x.id, views.grant_choice(x)) for x in scope.grants(g.db, user)
                    if x.state in ("active", "suspended")]
    open_ = [(v.id, views.numbered(v.id, v.grant.agency.name)) for v in found
             if v.restored_at is None and v.lapsed_at is None]
    return views.violations_table(found), views.options(sanctionable), views.options(open_)


@callback(Output(ids.VIOL_STATUS, "children"),
          Input(ids.VIOL_RECORD, "n_clicks"), Input(ids.VIOL_RESTORE, "n_clicks"),
          State(ids.VIOL_GRANT, "value"), State(ids.VIOL_DESCRIPTION, "value"),
          State(ids.VIOL_DEADLINE, "date"), State(ids.VIOL_CHOICE, "value"),
          State(ids.VIOL_NOTE, "value"),
          prevent_initial_call=True)
def act_on_violation(_record: int, _restore: int, grant_id: Any, description: str | None,
                     deadline: Any, violation_id: Any, note: str | None) -> Any:
    user = staff()
    if user is None:
        return not_permitted()
    now = services().now()
    if ctx.triggered_id == ids.VIOL_RECORD:
        return shown(actions.record_violation(g.db, user, grant_id, description, deadline, now))
    if ctx.triggered_id == ids.VIOL_RESTORE:
        return shown(actions.restore(g.db, user, violation_id, note, now))
    raise PreventUpdate


@callback(Output(ids.PERS_LIST, "children"), Output(ids.PERS_AGENCY, "options"),
          Input(ids.TABS, "value"), Input(ids.PERS_STATUS, "children"))
def list_personnel(tab: str | None, _status: Any) -> Any:
    user = staff()
    if user is None:
        return not_permitted(), []
    if tab != ids.PERSONNEL:
        raise PreventUpdate
    reach = scope.agencies(g.db, user)
    return (views.personnel_table(scope.personnel_changes(g.db, user), agency_names()),
            views.options((a.id, a.name) for a in reach))


@callback(Output(ids.PERS_STATUS, "children"), Input(ids.PERS_RECORD, "n_clicks"),
          State(ids.PERS_AGENCY, "value"), State(ids.PERS_POST, "value"),
          State(ids.PERS_PERSON, "value"),
          State(ids.PERS_DATE, "date"), State(ids.PERS_LETTER, "value"),
          prevent_initial_call=True)
def record_personnel(clicks: int, agency_id: Any, post: Any, person: str | None,
                     effective_on: Any, letter: str | None) -> Any:
    user = staff()
    if user is None:
        return not_permitted()
    if not clicks:
        raise PreventUpdate
    return shown(actions.record_personnel(g.db, user, agency_id, post, person, effective_on,
                                          services().now(), letter))


@callback(Output(ids.DISP_LIST, "children"), Output(ids.EXT_CHOICE, "options"),
          Output(ids.DISP_CHOICE, "options"),
          Input(ids.TABS, "value"), Input(ids.DISP_STATUS, "children"))
def list_disputes(tab: str | None, _status: Any) -> Any:
    user = staff()
    if user is None:
        return not_permitted(), [], []
    if tab != ids.DISPUTES:
        raise PreventUpdate
    names = agency_names()
    extensions = scope.pending_extensions(g.db, user)
    disputes = scope.open_disputes(g.db, user)
    return (
        html.Div([views.extensions_table(extensions, names),
                  views.disputes_table(disputes, names)]),
        views.options((e.id, views.numbered(e.id, names.get(d.agency_id, "")))
                      for e, d in extensions),
        views.options((x.id, views.numbered(x.id, names.get(d.agency_id, "")))
                      for x, d in disputes),
    )


@callback(Output(ids.DISP_STATUS, "children"),
          Input(ids.EXT_APPROVE, "n_clicks"), Input(ids.EXT_REFUSE, "n_clicks"),
          Input(ids.DISP_RESOLVE, "n_clicks"),
          State(ids.EXT_CHOICE, "value"), State(ids.DISP_CHOICE, "value"),
          State(ids.DISP_RESOLUTION, "value"), prevent_initial_call=True)
def act_on_delivery(_approve: int, _refuse: int, _resolve: int, ext_id: Any, dispute_id: Any,
                    resolution: str | None) -> Any:
    user = staff()
    if user is None:
        return not_permitted()
    now = services().now()
    if ctx.triggered_id in (ids.EXT_APPROVE, ids.EXT_REFUSE):
        approve = ctx.triggered_id == ids.EXT_APPROVE
        return shown(actions.decide_extension(g.db, user, ext_id, approve, now))
    if ctx.triggered_id == ids.DISP_RESOLVE:
        return shown(actions.resolve_dispute(g.db, user, dispute_id, resolution, now))
    raise PreventUpdate


@callback(Output(ids.AUDIT_AGENCY, "options"), Input(ids.TABS, "value"))
def audit_agencies(tab: str | None) -> Any:
    user = staff()
    if user is None or not scope.may_audit(user) or tab != ids.AUDIT:
        raise PreventUpdate
    return views.options((a.id, a.name) for a in scope.agencies(g.db, user))


@callback(Output(ids.AUDIT_VERIFY_STATUS, "children"), Input(ids.AUDIT_VERIFY, "n_clicks"),
          prevent_initial_call=True)
def verify_chain(clicks: int) -> Any:
    user = staff()
    if user is None:
        return not_permitted()
    if not clicks:
        raise PreventUpdate
    result = actions.verify_chain(g.db, user, services().now())
    return shown(result) if isinstance(result, Outcome) else views.verification(result)


@callback(Output(ids.AUDIT_REPORT, "children"), Input(ids.AUDIT_SHOW, "n_clicks"),
          State(ids.AUDIT_AGENCY, "value"), State(ids.AUDIT_FROM, "date"),
          State(ids.AUDIT_TO, "date"),
          prevent_initial_call=True)
def show_report(clicks: int, agency_id: Any, first: Any, last: Any) -> Any:
    user = staff()
    if user is None:
        return not_permitted()
    if not clicks:
        raise PreventUpdate
    report = actions.agency_report(g.db, user, agency_id, first, last, services().now())
    return shown(report) if isinstance(report, Outcome) else audit_view.report_view(report)


@callback(Output(ids.AUDIT_DOWNLOAD, "data"), Output(ids.AUDIT_CSV_STATUS, "children"),
          Input(ids.AUDIT_CSV, "n_clicks"),
          State(ids.AUDIT_AGENCY, "value"), State(ids.AUDIT_FROM, "date"),
          State(ids.AUDIT_TO, "date"),
          prevent_initial_call=True)
def download_report(clicks: int, agency_id: Any, first: Any, last: Any) -> Any:
    """The report as CSV (UTF-8 with BOM); no file for anyone the page refuses."""
    user = staff()
    if user is None:
        return None, not_permitted()
    if not clicks:
        raise PreventUpdate
    report = actions.agency_report(g.db, user, agency_id, first, last, services().now(),
                                   action="audit.report_downloaded")
    if isinstance(report, Outcome):
        return None, shown(report)
    data = dcc.send_bytes(audit_view.report_csv(report), audit_view.report_filename(report),
                          type="text/csv")
    return data, views.status(True, t(f"已下載 {len(report['entries'])} 筆。",
                                      f"Downloaded {len(report['entries'])} entries."))
