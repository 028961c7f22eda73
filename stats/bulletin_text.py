"""The words of the bulletin, written from ``stats.bulletin``'s numbers in zh-TW or English.

MOI's manner: a stock is "as of the end of" the period (「114年3月底」), a change is an
increase or a decrease with the size and the percentage of the earlier figure
(「較上月減少 9 人（0.02%）」), never a signed number in prose; a rate's change is a
difference. Every number printed here is one of the figures, rounded only for display
(counts exact; percentages and rates to 2 decimals; the TFR to 3 as MOI prints it).
"""

from __future__ import annotations

from typing import Any

from stats.bulletin import change
from stats.catalogue import COLUMNS, TABLES, VALUE_LABELS
from stats.periods import Period

# The words for "this period", "the previous period", "a year earlier" per kind of period.
WORDS = {
    "zh": {"month": ("本月", "上月", "上年同月"), "quarter": ("本季", "上季", "上年同季"),
           "year": ("本年", "上年", "上年")},
    "en": {"month": ("this month", "the previous month", "a year earlier"),
           "quarter": ("this quarter", "the previous quarter", "a year earlier"),
           "year": ("this year", "the previous year", "the previous year")},
}

# Rows of the key-indicator table: (key, digits); labels and units from the catalogue, or
# below for the bulletin's own derived figures.
INDICATOR_ROWS: tuple[tuple[str, int], ...] = (
    ("population", 0), ("households", 0), ("births", 0), ("deaths", 0),
    ("natural_increase", 0), ("social_increase", 0), ("marriages", 0), ("divorces", 0),
    ("crude_birth_rate", 2), ("crude_death_rate", 2), ("share_0_14", 2), ("share_65_plus", 2),
    ("aging_index", 2), ("dependency_ratio", 2), ("sex_ratio", 2), ("median_age", 2),
    ("indigenous", 0),
)
V2_ROWS: tuple[tuple[str, int], ...] = (
    ("total_fertility_rate", 3), ("general_fertility_rate", 2), ("mean_age_at_birth", 2),
    ("births_foreign_mother", 0), ("foreign_mother_share", 2), ("spouses_foreign", 0),
    ("foreign_spouse_share", 2),
)
LIFE_ROWS: tuple[tuple[str, int], ...] = (("e0_male", 2), ("e0_female", 2), ("e0_both", 2))
OWN_LABELS: dict[str, tuple[str, str, str, str]] = {
    "indigenous": ("原住民人口數", "Indigenous population", "人", "persons"),
    "births_foreign_mother": ("生母原屬國籍為外國籍或大陸港澳之出生數",
                              "Births to mothers of foreign or mainland/HK/Macao origin",
                              "人", "persons"),
    "foreign_mother_share": ("占出生數比率", "Share of births", "%", "percent"),
    "spouses_foreign": ("結婚人數中原屬國籍為外國籍或大陸港澳者",
                        "Persons marrying of foreign or mainland/HK/Macao origin",
                        "人", "persons"),
    "foreign_spouse_share": ("占結婚人數比率", "Share of persons marrying", "%", "percent"),
    "e0_male": ("男性零歲平均餘命", "Life expectancy at birth, men", "歲", "years"),
    "e0_female": ("女性零歲平均餘命", "Life expectancy at birth, women", "歲", "years"),
    "e0_both": ("兩性零歲平均餘命", "Life expectancy at birth, both sexes", "歲", "years"),
}


def label(key: str, lang: str) -> tuple[str, str]:
    """(label, unit) of a bulletin figure in ``lang``."""
    if key in OWN_LABELS:
        zh, en, unit_zh, unit_en = OWN_LABELS[key]
        return (zh, unit_zh) if lang == "zh" else (en, unit_en)
    column = COLUMNS[key]
    return (column.zh, column.unit_zh) if lang == "zh" else (column.en, column.unit_en)


def number(value: float | int | None, digits: int = 0) -> str:
    """A figure as printed: thousands separated, ``digits`` decimals, ``—`` for none."""
    if value is None:
        return "—"
    text = f"{round(value):,}" if digits == 0 else f"{value:,.{digits}f}"
    return text.replace("-", "−")  # a real minus sign, as in the change columns


def signed(value: float | int | None, digits: int = 0) -> str:
    """A change in a table cell: ``+12``, ``−3`` (a real minus sign), ``0``."""
    if value is None:
        return "—"
    text = number(abs(value), digits)
    return text if text.strip("0.,") == "" else ("+" if value > 0 else "−") + text


def _zh_change(figures: dict[str, Any], key: str, against: str, word: str, unit: str,
               digits: int = 0) -> str:
    """「較上月增加 12 人（0.05%）」, 「與上月持平」, or '' without the earlier figure."""
    diff, pct = change(figures, key, against)
    if diff is None:
        return ""
    if round(diff, digits) == 0:
        return f"與{word}持平"
    way = "增加" if diff > 0 else "減少"
    share = f"（{number(abs(pct), 2)}%）" if pct is not None else ""
    return f"較{word}{way} {number(abs(diff), digits)} {unit}{share}".rstrip()


def _en_change(figures: dict[str, Any], key: str, against: str, word: str,
               digits: int = 0) -> str:
    """'up 12 (0.05%) on the previous month', 'unchanged on …', or ''."""
    diff, pct = change(figures, key, against)
    if diff is None:
        return ""
    if round(diff, digits) == 0:
        return f"unchanged on {word}"
    way = "up" if diff > 0 else "down"
    share = f" ({number(abs(pct), 2)}%)" if pct is not None else ""
    return f"{way} {number(abs(diff), digits)}{share} on {word}"


def _changes(figures: dict[str, Any], key: str, lang: str, unit: str = "",
             digits: int = 0) -> str:
    """Both changes of a figure, joined as the language joins clauses ('' when neither)."""
    _, prev, yoy = WORDS[lang][figures["kind"]]
    both = figures["kind"] != "year"  # a year's previous period is the year earlier
    if lang == "zh":
        parts = [_zh_change(figures, key, "prev", prev, unit, digits)]
        if both:
            parts.append(_zh_change(figures, key, "yoy", yoy, unit, digits))
        return "，".join(p for p in parts if p)
    parts = [_en_change(figures, key, "prev", prev, digits)]
    if both:
        parts.append(_en_change(figures, key, "yoy", yoy, digits))
    return " and ".join(p for p in parts if p)


def _clause(zh_or_en: str, text: str, lang: str) -> str:
    """A figure followed by its changes (when there are any)."""
    if not text:
        return zh_or_en
    return f"{zh_or_en}，{text}" if lang == "zh" else f"{zh_or_en}, {text}"


def area_name(row: dict[str, Any], lang: str) -> str:
    return row["area_name"] if lang == "zh" else (row.get("area_name_en") or row["area_name"])


def headline_paragraphs(figures: dict[str, Any], lang: str,
                        county_names: dict[str, tuple[str, str]]) -> list[str]:
    """The headline text, a paragraph per subject: population, vital events, age structure,
    the v2 figures, the indigenous peoples, migration, life expectancy, then what this
    release cannot give and why. ``county_names``: code → (zh, en) names."""
    return (_zh if lang == "zh" else _en)(figures, county_names)


def _zh(f: dict[str, Any], names: dict[str, tuple[str, str]]) -> list[str]:
    p, now = Period.parse(f["period"]), f["now"]
    this, _, _ = WORDS["zh"][f["kind"]]
    out = [_clause(f"{p.roc_label}底全國戶籍登記人口數為 {number(now['population'])} 人",
                   _changes(f, "population", "zh", "人"), "zh")
           + f"；戶數 {number(now['households'])} 戶，"
           f"平均每戶 {number(now['avg_household_size'], 2)} 人。"]
    births = _clause(f"{this}出生數 {number(now['births'])} 人", _changes(f, "births", "zh", "人"),
                     "zh")
    deaths = _clause(f"死亡數 {number(now['deaths'])} 人", _changes(f, "deaths", "zh", "人"), "zh")
    natural = now["natural_increase"]
    net = (f"自然增加 {number(natural)} 人" if natural >= 0
           else f"出生數少於死亡數，自然減少 {number(-natural)} 人")
    out.append(f"{births}，粗出生率 {number(now['crude_birth_rate'], 2)}‰；{deaths}，"
               f"粗死亡率 {number(now['crude_death_rate'], 2)}‰；{net}。"
               + _clause(f"結婚 {number(now['marriages'])} 對",
                         _changes(f, "marriages", "zh", "對"), "zh") + "；"
               + _clause(f"離婚 {number(now['divorces'])} 對",
                         _changes(f, "divorces", "zh", "對"), "zh") + "。")
    out.append(f"{p.roc_label}底 65 歲以上人口占 {number(now['share_65_plus'], 2)}%，"
               f"0-14 歲人口占 {number(now['share_0_14'], 2)}%，老化指數 "
               f"{number(now['aging_index'], 2)}，扶養比 {number(now['dependency_ratio'], 2)}%，"
               f"年齡中位數 {number(now['median_age'], 2)} 歲。")
    if "total_fertility_rate" in now:
        out.append(f"{this}總生育率 {number(now['total_fertility_rate'], 3)} 人"
                   + ("（年化）" if f["kind"] != "year" else "")
                   + f"，生母平均生育年齡 {number(now['mean_age_at_birth'], 2)} 歲；"
                   "生母原屬國籍為外國籍或大陸港澳地區之出生數 "
                   f"{number(now['births_foreign_mother'])} 人，"
                   f"占出生數 {number(now['foreign_mother_share'], 2)}%（其中大陸地區 "
                   f"{number(now['births_mainland_mother'])} 人）；結婚人數 "
                   f"{number(now['persons_marrying'])} 人中原屬國籍為外國籍或大陸港澳地區者 "
                   f"{number(now['spouses_foreign'])} 人，"
                   f"占 {number(now['foreign_spouse_share'], 2)}%。")
    indigenous = now.get("indigenous")
    if indigenous is not None:
        share = 100 * indigenous / now["population"] if now["population"] else None
        text = (f"{p.roc_label}底原住民人口 {number(indigenous)} 人，占總人口 {number(share, 2)}%")
        if f["tribes"]:
            top = [t for t in f["tribes"] if t["tribe"] != 99][:3]
            text += "；族別人數以" + "、".join(
                f"{VALUE_LABELS['tribe'][t['tribe']][0]} {number(t['population'])} 人"
                for t in top) + "較多"
        out.append(text + "。")
    if f["migration"] is not None:
        moves = f["migration"]
        text = f"{this}縣市間遷徙 {number(moves['between_counties'])} 人次"
        if moves["largest"]:
            top = moves["largest"][0]
            text += (f"，以{names[top['area_code']][0]}遷往{names[top['to_code']][0]} "
                     f"{number(top['moves'])} 人次最多")
        out.append(text + "。")
    if "e0_both" in now:
        out.append(f"{p.roc_label}簡易生命表：零歲平均餘命男性 {number(now['e0_male'], 2)} 歲，"
                   f"女性 {number(now['e0_female'], 2)} 歲，兩性 {number(now['e0_both'], 2)} 歲。")
    out += [OMISSIONS[reason][0] for reason in f["omitted"]]
    return out


def _en(f: dict[str, Any], names: dict[str, tuple[str, str]]) -> list[str]:
    p, now = Period.parse(f["period"]), f["now"]
    this, _, _ = WORDS["en"][f["kind"]]
    out = [_clause(f"At the end of {p.en_label} the registered population of Taiwan was "
                   f"{number(now['population'])}", _changes(f, "population", "en"), "en")
           + f"; {number(now['households'])} households, {number(now['avg_household_size'], 2)} "
           "persons per household."]
    natural = now["natural_increase"]
    net = (f"natural increase {number(natural)}" if natural >= 0
           else f"deaths exceeded births by {number(-natural)}")
    out.append(_clause(f"Births {this}: {number(now['births'])}", _changes(f, "births", "en"), "en")
               + f" (crude birth rate {number(now['crude_birth_rate'], 2)}‰); "
               + _clause(f"deaths: {number(now['deaths'])}", _changes(f, "deaths", "en"), "en")
               + f" (crude death rate {number(now['crude_death_rate'], 2)}‰); {net}. "
               + _clause(f"Marriages: {number(now['marriages'])} couples",
                         _changes(f, "marriages", "en"), "en") + "; "
               + _clause(f"divorces: {number(now['divorces'])} couples",
                         _changes(f, "divorces", "en"), "en") + ".")
    out.append(f"At the end of {p.en_label}, {number(now['share_65_plus'], 2)}% of the population "
               f"were aged 65 or over and {number(now['share_0_14'], 2)}% 0-14; ageing index "
               f"{number(now['aging_index'], 2)}, dependency ratio "
               f"{number(now['dependency_ratio'], 2)}%, median age {number(now['median_age'], 2)}.")
    if "total_fertility_rate" in now:
        out.append(f"Total fertility rate {this}: {number(now['total_fertility_rate'], 3)} "
                   "children per woman" + (" (annualised)" if f["kind"] != "year" else "")
                   + f"; mean age of mothers at birth {number(now['mean_age_at_birth'], 2)}. "
                   f"{number(now['births_foreign_mother'])} births "
                   f"({number(now['foreign_mother_share'], 2)}%) were to mothers of foreign or "
                   f"mainland/Hong Kong/Macao origin ({number(now['births_mainland_mother'])} "
                   f"mainland China); of {number(now['persons_marrying'])} persons marrying, "
                   f"{number(now['spouses_foreign'])} ({number(now['foreign_spouse_share'], 2)}%) "
                   "were of such origin.")
    indigenous = now.get("indigenous")
    if indigenous is not None:
        share = 100 * indigenous / now["population"] if now["population"] else None
        text = (f"Indigenous population at the end of {p.en_label}: {number(indigenous)} "
                f"({number(share, 2)}% of the population)")
        if f["tribes"]:
            top = [t for t in f["tribes"] if t["tribe"] != 99][:3]
            text += "; the largest peoples: " + ", ".join(
                f"{VALUE_LABELS['tribe'][t['tribe']][1]} {number(t['population'])}" for t in top)
        out.append(text + ".")
    if f["migration"] is not None:
        moves = f["migration"]
        text = f"Moves between counties {this}: {number(moves['between_counties'])}"
        if moves["largest"]:
            top = moves["largest"][0]
            text += (f"; the largest flow, {names[top['area_code']][1]} to "
                     f"{names[top['to_code']][1]}: {number(top['moves'])}")
        out.append(text + ".")
    if "e0_both" in now:
        out.append(f"Abridged life table {p.en_label}: life expectancy at birth "
                   f"{number(now['e0_male'], 2)} years for men, {number(now['e0_female'], 2)} "
                   f"for women, {number(now['e0_both'], 2)} for both sexes.")
    out += [OMISSIONS[reason][1] for reason in f["omitted"]]
    return out


OMISSIONS = {
    "v1": ("本期資料為第 1 版戶籍資料格式，未含生母出生日期、原屬國籍及原住民族別，故總生育率、"
           "生母原屬國籍、結婚者原屬國籍及原住民族別統計從缺。",
           "This period's register extract is in the first (v1) layout, without mothers' birth "
           "dates, original nationalities or indigenous peoples: the fertility rates, births by "
           "mother's nationality, marriages by nationality and the peoples are not given."),
    "life_table_year": ("簡易生命表（平均餘命）僅編製年資料，本期從缺。",
                        "Life expectancy (the abridged life table) is computed for years only."),
    "life_table": ("本期未含簡易生命表（以第 1 版以前之資料產製），平均餘命從缺。",
                   "This release holds no life table, so life expectancy is not given."),
}


def indicator_rows(figures: dict[str, Any], lang: str) -> list[dict[str, str]]:
    """The key-indicator table: label, unit, value, change on the previous period (and, but
    for years, on a year earlier), each as printed; v2 and life-table rows where present."""
    rows = list(INDICATOR_ROWS)
    if "total_fertility_rate" in figures["now"]:
        rows += V2_ROWS
    if "e0_both" in figures["now"]:
        rows += LIFE_ROWS
    out = []
    for key, digits in rows:
        name, unit = label(key, lang)
        prev, prev_pct = change(figures, key, "prev")
        yoy, yoy_pct = change(figures, key, "yoy")
        out.append({"key": key, "label": name, "unit": unit,
                    "value": number(figures["now"].get(key), digits),
                    "prev": signed(prev, digits), "prev_pct": signed(prev_pct, 2),
                    "yoy": signed(yoy, digits), "yoy_pct": signed(yoy_pct, 2)})
    return out


def notes(figures: dict[str, Any], lang: str) -> list[str]:
    """Notes and definitions: the catalogue's footnotes of the tables the bulletin uses."""
    used = ["population", "vital_events", "indicators", "reconciliation", "migration_flows"]
    if "total_fertility_rate" in figures["now"]:
        used += ["fertility", "births_by_mother", "marriages_by_nationality"]
    if "e0_both" in figures["now"]:
        used.append("life_table")
    seen: list[str] = []
    for table in used:
        spec = TABLES[table]
        for line in spec.footnotes_zh if lang == "zh" else spec.footnotes_en:
            if line not in seen:
                seen.append(line)
    return seen
