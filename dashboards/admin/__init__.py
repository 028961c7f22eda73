"""The Administration page's logic (``dashboards/pages/admin.py`` holds only the layout
function and the callbacks, because Dash re-imports page modules for every app and
registers their callbacks there):

* ``scope`` — what an official's jurisdiction lets them see and decide (point 6);
* ``actions`` — every decision, through the access layer, committed and audited;
* ``views`` — accessible tables of applications, grants, violations, deliveries, reports;
* ``forms`` — the tabs' labelled controls; ``ids`` — their component ids.
"""
