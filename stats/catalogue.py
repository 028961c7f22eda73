"""The table catalogue: ids, titles, columns, units and footnotes in zh-TW and English.

Exports, the dashboards and the published specification (regulation point 7) all take their
labels from here; table ids appear nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stats.schemas import TABLE_COLUMNS, TABLE_KEYS, TABLE_LEVELS


@dataclass(frozen=True)
class Column:
    """A column's labels and unit."""

    name: str
    zh: str
    en: str
    unit_zh: str = ""
    unit_en: str = ""


@dataclass(frozen=True)
class TableSpec:
    """One release table as agencies see it."""

    table: str
    code: str  # short id used in file names, e.g. POP01
    title_zh: str
    title_en: str
    levels: tuple[str, ...]
    keys: tuple[str, ...]
    columns: tuple[Column, ...]
    footnotes_zh: tuple[str, ...] = field(default=())
    footnotes_en: tuple[str, ...] = field(default=())

    def column(self, name: str) -> Column:
        """The labels of one column."""
        return COLUMNS[name] if name in COLUMNS else next(c for c in self.columns if c.name == name)


P, E, C, PM, PC, PER = ("人", "persons"), ("件", "events"), ("對", "couples"), ("每千人", "per 1,000"), (
    "%", "percent"), ("", "")

COLUMNS: dict[str, Column] = {
    c.name: c
    for c in (
        Column("period", "統計期", "Period"),
        Column("area_level", "區域層級", "Area level"),
        Column("area_code", "區域代碼", "Area code"),
        Column("sex", "性別", "Sex"),
        Column("age", "年齡", "Age", "歲", "years"),
        Column("marital_status", "婚姻狀況", "Marital status"),
        Column("indigenous", "原住民身分", "Indigenous status"),
        Column("households", "戶數", "Households", "戶", "households"),
        Column("population", "人口數", "Population", *P),
        Column("male", "男性人口數", "Male", *P),
        Column("female", "女性人口數", "Female", *P),
        Column("births", "出生數", "Births", *P),
        Column("births_male", "出生數-男", "Births, male", *P),
        Column("births_female", "出生數-女", "Births, female", *P),
        Column("deaths", "死亡數", "Deaths", *P),
        Column("deaths_male", "死亡數-男", "Deaths, male", *P),
        Column("deaths_female", "死亡數-女", "Deaths, female", *P),
        Column("marriages", "結婚對數", "Marriages", *C),
        Column("marriages_same_sex", "結婚對數_同性", "Marriages, same-sex", *C),
        Column("marriages_same_sex_male", "結婚對數_同性_男", "Marriages, same-sex male", *C),
        Column("marriages_same_sex_female", "結婚對數_同性_女", "Marriages, same-sex female", *C),
        Column("divorces", "離婚對數", "Divorces", *C),
        Column("divorces_same_sex", "離婚對數_同性", "Divorces, same-sex", *C),
        Column("divorces_same_sex_male", "離婚對數_同性_男", "Divorces, same-sex male", *C),
        Column("divorces_same_sex_female", "離婚對數_同性_女", "Divorces, same-sex female", *C),
        Column("in_migration", "遷入人數", "In-migration", *P),
        Column("out_migration", "遷出人數", "Out-migration", *P),
        Column("natural_increase", "自然增加數", "Natural increase", *P),
        Column("social_increase", "社會增加數", "Social increase", *P),
        Column("sex_ratio", "性比例", "Sex ratio", "男/百女", "males per 100 females"),
        Column("avg_household_size", "戶量", "Average household size", "人/戶", "persons per household"),
        Column("share_0_14", "0-14歲人口比率", "Share aged 0-14", *PC),
        Column("share_15_64", "15-64歲人口比率", "Share aged 15-64", *PC),
        Column("share_65_plus", "65歲以上人口比率", "Share aged 65+", *PC),
        Column("dependency_ratio", "扶養比", "Dependency ratio", *PC),
        Column("child_dependency_ratio", "扶幼比", "Child dependency ratio", *PC),
        Column("old_age_dependency_ratio", "扶老比", "Old-age dependency ratio", *PC),
        Column("aging_index", "老化指數", "Ageing index", *PC),
        Column("median_age", "年齡中位數", "Median age", "歲", "years"),
        Column("crude_birth_rate", "粗出生率", "Crude birth rate", *PM),
        Column("crude_death_rate", "粗死亡率", "Crude death rate", *PM),
        Column("natural_increase_rate", "自然增加率", "Natural increase rate", *PM),
        Column("crude_marriage_rate", "粗結婚率", "Crude marriage rate", *PM),
        Column("crude_divorce_rate", "粗離婚率", "Crude divorce rate", *PM),
        Column("population_start", "期初人口數", "Population at start", *P),
        Column("population_end", "期末人口數", "Population at end", *P),
        Column("residual", "差額", "Residual", *P),
    )
}

VALUE_LABELS: dict[str, dict[int | str, tuple[str, str]]] = {
    "sex": {1: ("男", "male"), 2: ("女", "female")},
    "marital_status": {1: ("未婚", "never married"), 2: ("有偶", "married"),
                       3: ("離婚", "divorced"), 4: ("喪偶", "widowed")},
    "indigenous": {1: ("平地原住民", "lowland indigenous"), 2: ("山地原住民", "highland indigenous")},
    "area_level": {"national": ("全國", "national"), "county": ("縣市", "county/city"),
                   "township": ("鄉鎮市區", "township/district"), "village": ("村里", "village")},
}

_COMMON_ZH = ("資料來源：戶籍登記資料。", "統計期之參考日為期末日；區域以統計期內任一日有效之代碼為準。")
_COMMON_EN = ("Source: household registration records.",
              "Reference date: the period's last day; areas are those whose code is valid on any day of the period.")

_TEXTS: dict[str, tuple[str, str, str, tuple[str, ...], tuple[str, ...]]] = {
    "population": ("POP01", "現住人口數及戶數", "Resident population and households",
                   ("戶數為區域內相異戶號之數目。",),
                   ("Households are distinct household keys within the area.",)),
    "population_by_age": ("POP02", "現住人口按性別及單一年齡分", "Resident population by sex and single year of age",
                          ("年齡為參考日之足歲；100表示100歲以上；2月29日出生者於平年3月1日增加一歲。",),
                          ("Age in completed years on the reference date; 100 means 100 and over; "
                           "29 February birthdays count on 1 March in common years.",)),
    "vital_events": ("VIT01", "人口動態（出生、死亡、結婚、離婚、遷徙）", "Vital events and migration",
                     ("按登記日期歸期；結婚、離婚以對計，同性別部分另列。",
                      "遷入、遷出以跨越該層級區域邊界之遷徙計；區域內之遷徙不計。"),
                     ("Counted by registration date; marriages and divorces in couples, the same-sex part shown separately.",
                      "Migration counts moves crossing the area's boundary at its level; moves within the area are not migration.")),
    "indicators": ("IND01", "人口指標", "Population indicators",
                   ("粗率以期初期末平均人口計算之千分率；月及季資料按365/日數年化，年資料不年化。",
                    "分母為零時以空值表示。"),
                   ("Crude rates per 1,000 of the average of start and end population; months and quarters "
                    "annualised by 365/days, years not.", "A ratio with a zero denominator is empty (null).")),
    "population_by_marital_status": ("POP03", "15歲以上現住人口按性別及婚姻狀況分",
                                     "Population aged 15 and over by sex and marital status",
                                     ("不含村里層級。",), ("No village level.",)),
    "indigenous_population": ("POP04", "原住民人口數", "Indigenous population",
                              ("1為平地原住民，2為山地原住民。",), ("1 lowland, 2 highland indigenous.",)),
    "reconciliation": ("REC01", "人口平衡檢核", "Population balance (reconciliation)",
                       ("差額 = 期末人口 - (期初人口 + 出生 - 死亡 + 遷入 - 遷出)；非零表示戶籍更正或行政區域調整。",),
                       ("Residual = end - (start + births - deaths + in - out); non-zero residuals reflect "
                        "register corrections or boundary changes.",)),
}

TABLES: dict[str, TableSpec] = {
    name: TableSpec(
        table=name,
        code=code,
        title_zh=zh,
        title_en=en,
        levels=TABLE_LEVELS[name],
        keys=tuple(TABLE_KEYS.get(name, [])),
        columns=tuple(COLUMNS[c] for c in ["period", "area_level", "area_code", *TABLE_COLUMNS[name]]),
        footnotes_zh=(*notes_zh, *_COMMON_ZH),
        footnotes_en=(*notes_en, *_COMMON_EN),
    )
    for name, (code, zh, en, notes_zh, notes_en) in _TEXTS.items()
}


class UnknownTable(KeyError):
    """A table name that is not in the catalogue."""


def table_spec(name: str) -> TableSpec:
    """The catalogue entry of a table.

    Raises
    ------
    UnknownTable
        For a name not in the catalogue.
    """
    try:
        return TABLES[name]
    except KeyError:
        raise UnknownTable(f"unknown table {name!r}; expected one of {', '.join(TABLES)}") from None
