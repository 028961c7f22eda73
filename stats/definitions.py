"""What every column of the release tables means, in zh-TW and English (CONTRACT §2–3).

The table pages, ``popstats catalogue`` and the published specification (regulation
points 7 and 21) show these beside the catalogue's labels and units; a test checks every
column of every table has one.
"""

from __future__ import annotations


DEFINITIONS: dict[str, tuple[str, str]] = {
    "period": ("統計期：月（2025-03）、季（2025-Q1）或年（2025）；參考日為期末日。",
               "The period: a month (2025-03), quarter (2025-Q1) or year (2025); its reference "
               "date is its last day."),
    "area_level": ("區域層級：全國、縣市、鄉鎮市區或村里。",
                   "The area's level: national, county, township or village."),
    "area_code": ("區域代碼：全國為00000，縣市5碼、鄉鎮市區8碼、村里11碼（戶政代碼）；"
                  "鄉鎮市區代碼為村里代碼前8碼，縣市代碼為前5碼。",
                  "The area's household-registration code: 00000 nationally, 5 digits for a "
                  "county, 8 for a township, 11 for a village; a township's code is the first 8 "
                  "digits of its villages' codes, a county's the first 5."),
    "sex": ("性別：1男、2女。", "Sex: 1 male, 2 female."),
    "age": ("年齡：參考日之足歲（生日當日增加一歲；2月29日出生者於平年3月1日增加）；100表示100歲以上。",
            "Age in completed years on the reference date (one more on the birthday itself; "
            "for a 29 February birthday on 1 March in common years); 100 means 100 and over."),
    "marital_status": ("婚姻狀況：1未婚、2有偶、3離婚、4喪偶。",
                       "Marital status: 1 never married, 2 married, 3 divorced, 4 widowed."),
    "indigenous": ("原住民身分：1平地原住民、2山地原住民。",
                   "Indigenous status: 1 lowland (平地), 2 highland (山地)."),
    "households": ("戶數：區域內相異戶號之數目（期末）。",
                   "Households: distinct household keys within the area at the period's end."),
    "population": ("人口數：期末現住人口（於該表之鍵值組合內）。",
                   "Population: the resident population at the period's end (within the row's "
                   "key values)."),
    "male": ("男性人口數：期末現住男性人口。", "Male resident population at the period's end."),
    "female": ("女性人口數：期末現住女性人口。", "Female resident population at the period's end."),
    "births": ("出生數：統計期內登記之出生。", "Births registered in the period."),
    "births_male": ("出生數（男）。", "Births of boys registered in the period."),
    "births_female": ("出生數（女）。", "Births of girls registered in the period."),
    "deaths": ("死亡數：統計期內登記之死亡。", "Deaths registered in the period."),
    "deaths_male": ("死亡數（男）。", "Deaths of men registered in the period."),
    "deaths_female": ("死亡數（女）。", "Deaths of women registered in the period."),
    "marriages": ("結婚對數：統計期內登記之結婚，以對計，含同性。",
                  "Marriages registered in the period, in couples, same-sex couples included."),
    "marriages_same_sex": ("結婚對數中同性別者。", "The same-sex couples among the marriages."),
    "marriages_same_sex_male": ("同性結婚對數（男）。", "Same-sex marriages of two men."),
    "marriages_same_sex_female": ("同性結婚對數（女）。", "Same-sex marriages of two women."),
    "divorces": ("離婚對數：統計期內登記之離婚，以對計，含同性。",
                 "Divorces registered in the period, in couples, same-sex couples included."),
    "divorces_same_sex": ("離婚對數中同性別者。", "The same-sex couples among the divorces."),
    "divorces_same_sex_male": ("同性離婚對數（男）。", "Same-sex divorces of two men."),
    "divorces_same_sex_female": ("同性離婚對數（女）。", "Same-sex divorces of two women."),
    "in_migration": ("遷入人數：遷入地在區域內而遷出地不在區域內之遷徙（遷出地空白＝區域外）。",
                     "In-migration: moves whose destination lies inside the area and whose "
                     "origin does not (an empty origin is outside every area)."),
    "out_migration": ("遷出人數：遷出地在區域內而遷入地不在區域內之遷徙。",
                      "Out-migration: moves whose origin lies inside the area and whose "
                      "destination does not."),
    "natural_increase": ("自然增加數＝出生數－死亡數。", "Natural increase = births − deaths."),
    "social_increase": ("社會增加數＝遷入人數－遷出人數。",
                        "Social increase = in-migration − out-migration."),
    "sex_ratio": ("性比例＝男性人口數÷女性人口數×100。", "Sex ratio = males / females × 100."),
    "avg_household_size": ("戶量＝人口數÷戶數。", "Average household size = population / households."),
    "share_0_14": ("0-14歲人口占總人口之百分比。", "Population aged 0–14 as a percent of the total."),
    "share_15_64": ("15-64歲人口占總人口之百分比。",
                    "Population aged 15–64 as a percent of the total."),
    "share_65_plus": ("65歲以上人口占總人口之百分比。",
                      "Population aged 65 and over as a percent of the total."),
    "dependency_ratio": ("扶養比＝（0-14歲＋65歲以上人口）÷15-64歲人口×100。",
                         "Dependency ratio = (aged 0–14 + aged 65+) / aged 15–64 × 100."),
    "child_dependency_ratio": ("扶幼比＝0-14歲人口÷15-64歲人口×100。",
                               "Child dependency ratio = aged 0–14 / aged 15–64 × 100."),
    "old_age_dependency_ratio": ("扶老比＝65歲以上人口÷15-64歲人口×100。",
                                 "Old-age dependency ratio = aged 65+ / aged 15–64 × 100."),
    "aging_index": ("老化指數＝65歲以上人口÷0-14歲人口×100。",
                    "Ageing index = aged 65+ / aged 0–14 × 100."),
    "median_age": ("年齡中位數＝a＋(N/2－C)÷n：a為累計人口首次達N/2之單一年齡，C為未滿a歲人口，"
                   "n為a歲人口；無人口時為空值。",
                   "Median age = a + (N/2 − C) / n, where a is the single year of age at which "
                   "the cumulative count first reaches N/2, C the count below a and n the count "
                   "at a; null when there is no population."),
    "crude_birth_rate": ("粗出生率＝出生數÷期中平均人口（(期初＋期末)/2）×1000；月、季按365/日數年化。",
                         "Crude birth rate = births / average population ((start + end) / 2) × "
                         "1,000; months and quarters annualised by 365 / days."),
    "crude_death_rate": ("粗死亡率＝死亡數÷期中平均人口×1000；月、季年化。",
                         "Crude death rate = deaths / average population × 1,000; annualised "
                         "for months and quarters."),
    "natural_increase_rate": ("自然增加率＝(出生數－死亡數)÷期中平均人口×1000；月、季年化。",
                              "Natural increase rate = (births − deaths) / average population × "
                              "1,000; annualised for months and quarters."),
    "crude_marriage_rate": ("粗結婚率＝結婚對數÷期中平均人口×1000；月、季年化。",
                            "Crude marriage rate = marriages / average population × 1,000; "
                            "annualised for months and quarters."),
    "crude_divorce_rate": ("粗離婚率＝離婚對數÷期中平均人口×1000；月、季年化。",
                           "Crude divorce rate = divorces / average population × 1,000; "
                           "annualised for months and quarters."),
    "population_start": ("期初人口數：統計期前一個月底之現住人口。",
                         "Population at the start: the resident population at the end of the "
                         "month before the period."),
    "population_end": ("期末人口數：統計期最後一個月底之現住人口。",
                       "Population at the end: the resident population at the end of the "
                       "period's last month."),
    "residual": ("差額＝期末－(期初＋出生－死亡＋遷入－遷出)；非零表示戶籍更正或區域調整。",
                 "Residual = end − (start + births − deaths + in − out); non-zero values "
                 "reflect register corrections or boundary changes."),
}

# Where every table comes from and under which rule it is provided.
SOURCE = ("戶籍登記資料（現住人口及登記事件）", "Household registration records (resident "
          "population and registration events)")
REGULATION = ("戶役政資訊連結作業要點第四點（人口統計資料）、第十七點（保存期限）",
              "Linking-operations guidelines, point 4 (population statistics) and point 17 "
              "(retention)")


def definition(column: str, lang: str = "zh") -> str:
    """The definition of a column in ``lang`` ("" when none is written)."""
    zh, en = DEFINITIONS.get(column, ("", ""))
    return zh if lang == "zh" else en
