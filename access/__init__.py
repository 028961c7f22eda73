"""Linking governance (regulation points 2, 3, 6, 10–13, 15–20): parties, grants, audit.

Who may receive which statistics, through which channel, for how long, and the
tamper-evident record of everything. Depends on ``stats`` (codes, catalogue); nothing in
``stats`` or ``exports`` depends on it.
"""
