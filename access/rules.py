"""What an application must say (points 10 and 13): purpose, legal basis, management rules.

Point 10: the applicant submits the application form, the data item list and its management
rules. Point 13: the rules cover eight items, the first being the purpose of use and its
security controls. Each of them must be real text: a value that is not a string (``1``,
``true``), shorter than its minimum, or a placeholder (``N/A``, ``待補``, one character
repeated, punctuation or digits only) does not address anything.
"""

from __future__ import annotations

import json
import re
from typing import Any

from access.accounts import AccessError
from stats.said import in_language, said

# Point 13: the eight items an agency's management rules must address.
RULE_ITEMS: dict[str, str] = {
    "purpose_and_security": "使用目的及安全控管措施 / purpose and security controls",
    "supervision_and_audit": "定期督導及配合稽核 / periodic supervision, cooperation with audits",
    "query_procedure": "查詢作業程序 / query procedure",
    "confidentiality": "保密 / confidentiality",
    "personal_data_liability": "個人資料保護法責任 / liability under the personal-data law",
    "user_liability": "使用人員責任 / user liability",
    "disposal_after_use": "使用後銷毀 / disposal after use",
    "personnel_change_reporting": "人員異動通報 / reporting personnel changes",
}
# Minimum lengths in characters (whitespace collapsed). Chinese is dense: 人口政策研究 (six
# characters) names a purpose, 戶籍法第65條 a legal basis; a rule item is a sentence.
MIN_PURPOSE = 6
MIN_LEGAL_BASIS = 6
MIN_RULE_TEXT = 10
PLACEHOLDERS = frozenset({
    "n/a", "na", "none", "nil", "null", "tbd", "tba", "todo", "test", "testing", "placeholder",
    "xxx", "lorem ipsum", "same as above", "see attachment", "無", "略", "同上", "待補", "待定",
    "未定", "詳附件", "如附件", "詳如附件", "空白", "測試", "暫缺",
})
_LETTERS = re.compile(r"[^\W\d_]")  # a letter of any script (CJK included)


class ApplicationError(AccessError):
    """An invalid application or an illegal review step."""


class IncompleteApplication(ApplicationError):
    """An application missing what points 10 and 13 require."""


def text_problem(value: Any, minimum: int) -> str:
    """Why ``value`` is not real text of at least ``minimum`` characters ("" when it is)."""
    if not isinstance(value, str):
        shown = json.dumps(value, ensure_ascii=False)
        return said(f"must be text, not {shown}", f"須為文字，而非 {shown}")
    text = " ".join(value.split())
    if not text:
        return said("is empty", "未填寫")
    folded = text.lower().strip(" .。…-_")
    if folded in PLACEHOLDERS or folded.startswith("lorem ipsum"):
        return said(f"is a placeholder ({text!r})", f"是預留文字（「{text}」）")
    if len(set(text.replace(" ", ""))) == 1 or not _LETTERS.search(text):
        return said(f"is not text ({text!r})", f"不是文字（「{text}」）")
    if len(text) < minimum:
        return said(f"is too short ({len(text)} characters; at least {minimum})",
                    f"太短（{len(text)} 字；至少 {minimum} 字）")
    return ""


def rule_problems(rules: dict[str, Any]) -> dict[str, str]:
    """Each point 13 item the rules do not address, with why (empty = complete)."""
    problems = {}
    for key in RULE_ITEMS:
        if key not in rules:
            problems[key] = said("is missing", "未填寫")
        elif problem := text_problem(rules[key], MIN_RULE_TEXT):
            problems[key] = problem
    return problems


def missing_rule_items(rules: dict[str, Any]) -> list[str]:
    """The point 13 items the rules do not address (empty = complete)."""
    return list(rule_problems(rules))


def check_rules_document(rules: Any, source: str = "the management rules") -> dict[str, Any]:
    """The rules as an object of point 13 items; ApplicationError naming ``source`` and the
    problem for anything else (an array, unknown items, values that are not text)."""
    if not isinstance(rules, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(rules), "a number")
        raise ApplicationError(
            f"{source}: the management rules must be a JSON object of point 13 items "
            f"({', '.join(RULE_ITEMS)}), not {kind}")
    if unknown := sorted(set(rules) - set(RULE_ITEMS)):
        raise ApplicationError(
            f"{source}: unknown items {', '.join(map(repr, unknown))}; the point 13 items are "
            + ", ".join(RULE_ITEMS))
    if wrong := [k for k, v in rules.items() if not isinstance(v, str)]:
        raise ApplicationError(
            f"{source}: " + "; ".join(
                f"item {k!r} must be text, not {json.dumps(rules[k], ensure_ascii=False)}"
                for k in wrong))
    return dict(rules)


def parse_rules(text: str, source: str) -> dict[str, Any]:
    """A management-rules file's content, checked (``source`` names the file in errors)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApplicationError(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    return check_rules_document(document, source)


def statement_problems(purpose: Any, legal_basis: Any) -> list[str]:
    """What is wrong with the purpose and legal basis (point 13(1); empty = both fine)."""
    problems = []
    if problem := text_problem(purpose, MIN_PURPOSE):
        problems.append(said(f"the purpose {problem}", f"使用目的{in_language(problem, 'zh')}"))
    if problem := text_problem(legal_basis, MIN_LEGAL_BASIS):
        problems.append(said(f"the legal basis {problem}",
                             f"法令依據{in_language(problem, 'zh')}"))
    return problems


def describe_missing(problems: dict[str, str]) -> str:
    """Human text for ``rule_problems``: each item's label and why."""
    return said("; ".join(f"{RULE_ITEMS[k]} {why}" for k, why in problems.items()),
                "；".join(f"{RULE_ITEMS[k].partition(' / ')[0]}{in_language(why, 'zh')}"
                         for k, why in problems.items()))
