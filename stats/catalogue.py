"""The table catalogue: ids, titles, columns, units and footnotes in zh-TW and English.

Exports, the dashboards and the published specification (regulation point 7) all take their
labels from here; table ids appear nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stats.schemas import TABLE_COLUMNS, TABLE_KEY_VALUES, TABLE_KEYS, TABLE_LEVELS


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


PW, Y = ("每千名婦女", "per 1,000 women"), ("歲", "years")
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
        # --- CONTRACT §8 ---
        Column("mother_age_group", "生母年齡組", "Mother's age group"),
        Column("mother_nationality", "生母原屬國籍", "Mother's original nationality"),
        Column("nationality", "原屬國籍", "Original nationality"),
        Column("tribe", "原住民族別", "Indigenous people"),
        Column("to_code", "遷入縣市代碼", "Destination county code"),
        Column("age_group", "年齡組", "Age group"),
        *(Column(f"asfr_{g}_{g + 4}", f"{g}-{g + 4}歲年齡別生育率",
                 f"Age-specific fertility rate {g}-{g + 4}", *PW) for g in range(15, 50, 5)),
        Column("general_fertility_rate", "一般生育率", "General fertility rate", *PW),
        Column("total_fertility_rate", "總生育率", "Total fertility rate", "人/婦女",
               "children per woman"),
        Column("mean_age_at_birth", "生母平均生育年齡", "Mean age of mothers at birth", *Y),
        Column("persons", "結婚人數", "Persons marrying", *P),
        Column("persons_same_sex", "結婚人數_同性", "Persons marrying, same-sex couples", *P),
        Column("moves", "遷徙人數", "Moves", *P),
        Column("moves_male", "遷徙人數-男", "Moves, male", *P),
        Column("moves_female", "遷徙人數-女", "Moves, female", *P),
        Column("mx", "死亡率(mx)", "Death rate, mx", "每人年", "per person-year"),
        Column("qx", "死亡機率(qx)", "Probability of dying, qx", "機率", "probability"),
        Column("ax", "死亡者平均存活年數(ax)", "Years lived in the interval by those dying, ax", *Y),
        Column("lx", "生存數(lx)", "Survivors, lx", *P),
        Column("dx", "死亡數(dx)", "Deaths in the life table, dx", *P),
        Column("nLx", "定常人口(nLx)", "Person-years lived, nLx", "人年", "person-years"),
        Column("Tx", "累積定常人口(Tx)", "Person-years lived from age x, Tx", "人年", "person-years"),
        Column("ex", "平均餘命(ex)", "Life expectancy, ex", *Y),
    )
}

_NATIONALITY: dict[int | str, tuple[str, str]] = {
    0: ("不詳", "unknown"), 1: ("本國籍", "ROC (Taiwan)"), 2: ("大陸地區", "mainland China"),
    3: ("港澳地區", "Hong Kong and Macao"), 4: ("越南", "Vietnam"), 5: ("印尼", "Indonesia"),
    6: ("泰國", "Thailand"), 7: ("菲律賓", "Philippines"), 8: ("柬埔寨", "Cambodia"),
    9: ("日本", "Japan"), 10: ("韓國", "Korea"), 11: ("美國", "United States"),
    98: ("其他", "other"),
}

# The life table pools both sexes as sex 0; population tables only have 1 and 2 (their
# grids, TABLE_KEY_VALUES, say which values a table holds).
VALUE_LABELS: dict[str, dict[int | str, tuple[str, str]]] = {
    "sex": {0: ("兩性", "both sexes"), 1: ("男", "male"), 2: ("女", "female")},
    "marital_status": {1: ("未婚", "never married"), 2: ("有偶", "married"),
                       3: ("離婚", "divorced"), 4: ("喪偶", "widowed")},
    "indigenous": {1: ("平地原住民", "lowland indigenous"), 2: ("山地原住民", "highland indigenous")},
    "tribe": {1: ("阿美族", "Amis"), 2: ("泰雅族", "Atayal"), 3: ("排灣族", "Paiwan"),
              4: ("布農族", "Bunun"), 5: ("卑南族", "Puyuma"), 6: ("魯凱族", "Rukai"),
              7: ("鄒族", "Tsou"), 8: ("賽夏族", "Saisiyat"), 9: ("雅美族", "Yami"),
              10: ("邵族", "Thao"), 11: ("噶瑪蘭族", "Kavalan"), 12: ("太魯閣族", "Truku"),
              13: ("撒奇萊雅族", "Sakizaya"), 14: ("賽德克族", "Seediq"),
              15: ("拉阿魯哇族", "Hla'alua"), 16: ("卡那卡那富族", "Kanakanavu"),
              99: ("尚未申報族別", "not declared")},
    "nationality": _NATIONALITY,
    "mother_nationality": _NATIONALITY,
    "mother_age_group": {0: ("不詳", "unknown"), 14: ("未滿15歲", "under 15"),
                         **{g: (f"{g}-{g + 4}歲", f"{g}-{g + 4}") for g in range(15, 50, 5)},
                         50: ("50歲以上", "50 and over")},
    "age_group": {0: ("0歲", "0"), 1: ("1-4歲", "1-4"),
                  **{g: (f"{g}-{g + 4}歲", f"{g}-{g + 4}") for g in range(5, 100, 5)},
                  # the life table's open group is 85 and over, deaths_by_age's 85-89
                  85: ("85-89歲（生命表為85歲以上）", "85-89 (85 and over in the life table)"),
                  100: ("100歲以上", "100 and over")},
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
    # --- CONTRACT §8 ---
    "births_by_mother": ("BIR01", "出生數按生母年齡及原屬國籍分",
                         "Births by mother's age group and original nationality",
                         ("按登記日期歸期，依出生登記之村里統計。生母年齡為嬰兒出生日之足歲；"
                          "14表示未滿15歲，50表示50歲以上，0表示生母出生日期不詳。",
                          "生母原屬國籍依內政部原屬國籍分類，0為不詳。"),
                         ("Counted by registration date where the birth is registered. Mother's "
                          "age in completed years on the child's birth date; 14 under 15, 50 "
                          "means 50 and over, 0 mother's birth date unknown.",
                          "Mother's original nationality in MOI's classification; 0 unknown.")),
    "fertility": ("FER01", "生育率", "Fertility rates",
                  ("年齡別生育率＝該年齡組生母之出生數÷該年齡組期中婦女人數×1000；未滿15歲併入15-19歲，"
                   "50歲以上併入45-49歲，生母年齡不詳者不計。期中婦女人數為期初、期末人口之平均，"
                   "各依其參考日計算年齡。",
                   "一般生育率＝生母年齡已知之出生數÷15-49歲期中婦女人數×1000；月、季按365/日數年化，年不年化。",
                   "總生育率＝5×各年齡別生育率合計÷1000（每位婦女生育數）；任一年齡別生育率為空值時為空值。",
                   "平均生育年齡＝生母年齡已知之出生其生母足歲加0.5之平均（內政部作法，以足歲組中點計）。"),
                  ("Age-specific fertility rate = births to mothers of the group / women of the "
                   "group x 1,000; under 15 counted in 15-19, 50 and over in 45-49, unknown "
                   "age excluded. Women = average of the start and end stocks, each aged on its "
                   "own reference date.",
                   "General fertility rate = births with known mother's age / women aged 15-49 "
                   "x 1,000; months and quarters annualised by 365/days, years not.",
                   "Total fertility rate = 5 x the sum of the age-specific rates / 1,000 "
                   "(children per woman); empty when any age-specific rate is empty.",
                   "Mean age at birth = mean of (completed age + 0.5) of mothers of known age "
                   "(MOI's practice: the middle of the year of age).")),
    "marriages_by_nationality": ("MAR01", "結婚人數按性別及原屬國籍分",
                                 "Persons marrying by sex and original nationality",
                                 ("每對結婚計二人：配偶一依其性別及原屬國籍，配偶二依其性別及原屬國籍；"
                                  "同性欄為同性結婚者；依結婚登記之村里統計。",),
                                 ("Every marriage counts its two spouses, each under their own "
                                  "sex and original nationality; the same-sex column is the part "
                                  "from same-sex couples; counted where the marriage is "
                                  "registered.",)),
    "indigenous_by_tribe": ("POP05", "原住民人口數按族別分", "Indigenous population by people (tribe)",
                            ("族別代碼1至16為政府核定之原住民族，99為尚未申報族別；期末現住人口。",),
                            ("Codes 1-16 are the recognised indigenous peoples, 99 not declared; "
                             "resident population at the period's end.",)),
    "migration_flows": ("MIG01", "縣市間遷徙人數", "Migration flows between counties",
                        ("區域代碼為遷出縣市，遷入縣市代碼為遷入縣市；99999表示戶籍以外（國外、初設戶籍、"
                         "廢止戶籍等）。同一縣市內之遷徙不列入。僅有縣市層級。",),
                        ("The area code is the county of origin, the destination code the county "
                         "of destination; 99999 is outside the register (abroad, first "
                         "registration, de-registration). Moves within one county are not "
                         "included. County level only.",)),
    "deaths_by_age": ("DEA01", "死亡數按性別及年齡組分", "Deaths by sex and age group",
                      ("年齡為死亡日之足歲；年齡組0歲、1-4歲、5歲組，100表示100歲以上；"
                       "按登記日期歸期，依死亡登記之村里統計。",),
                      ("Age in completed years on the date of death; groups 0, 1-4, then "
                       "five-year groups, 100 meaning 100 and over; counted by registration "
                       "date where the death is registered.",)),
    "life_table": ("LIF01", "簡易生命表", "Abridged life table",
                   ("僅年資料。mx＝全年死亡數÷期初期末平均人口（各依其參考日計算年齡）；ax於0歲為0.1，"
                    "其他年齡組為組距之半，85歲以上為1/mx；qx＝n·mx/(1+(n-ax)·mx)，最大為1，"
                    "85歲以上為1；l0＝100000。",
                    "性別0為兩性合計。任一年齡組平均人口為零或85歲以上死亡率為零時，"
                    "該區域及性別之各值為空值。本表依內政部簡易生命表之公式計算，未作平滑修勻。"),
                   ("Years only. mx = the year's deaths / the average of the start and end stocks "
                    "(each aged on its own reference date); ax = 0.1 at age 0, half the interval "
                    "for other closed groups, 1/mx for 85+; qx = n mx / (1 + (n - ax) mx), at most "
                    "1, and 1 for 85+; l0 = 100,000.",
                    "Sex 0 is both sexes. When a group's average population is zero or the 85+ "
                    "death rate is zero, every value of that area and sex is empty. Computed by "
                    "the contract's abridged formulas, without smoothing.")),
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


def value_labels(key: str, table: str | None = None) -> dict[int | str, tuple[str, str]]:
    """The (zh-TW, English) labels of the values ``key`` takes — in ``table`` when given (sex
    0, both sexes, is the life table's alone)."""
    labels = VALUE_LABELS.get(key, {})
    taken = TABLE_KEY_VALUES.get(table or "", {}).get(key)
    return {v: pair for v, pair in labels.items() if taken is None or v in taken}
