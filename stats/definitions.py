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
    # --- CONTRACT §8 ---
    "mother_age_group": ("生母年齡組：嬰兒出生日生母之足歲；0不詳（生母出生日期未登記）、14未滿15歲、"
                         "15為15-19歲、20為20-24歲……45為45-49歲、50為50歲以上。",
                         "Mother's age group: her completed years on the child's birth date; 0 "
                         "unknown (no mother's birth date), 14 under 15, 15 = 15-19, 20 = 20-24, "
                         "…, 45 = 45-49, 50 = 50 and over."),
    "mother_nationality": ("生母原屬國籍：0不詳、1本國籍、2大陸地區、3港澳地區、4越南、5印尼、6泰國、"
                           "7菲律賓、8柬埔寨、9日本、10韓國、11美國、98其他。",
                           "Mother's original nationality: 0 unknown, 1 ROC, 2 mainland China, 3 "
                           "Hong Kong and Macao, 4 Vietnam, 5 Indonesia, 6 Thailand, 7 "
                           "Philippines, 8 Cambodia, 9 Japan, 10 Korea, 11 United States, 98 other."),
    "nationality": ("原屬國籍：結婚者本人之原屬國籍，代碼同生母原屬國籍（0不詳……98其他）。",
                    "Original nationality of the person marrying, coded as the mother's "
                    "original nationality (0 unknown … 98 other)."),
    "tribe": ("原住民族別：1阿美、2泰雅、3排灣、4布農、5卑南、6魯凱、7鄒、8賽夏、9雅美、10邵、11噶瑪蘭、"
              "12太魯閣、13撒奇萊雅、14賽德克、15拉阿魯哇、16卡那卡那富、99尚未申報。",
              "Indigenous people: 1 Amis, 2 Atayal, 3 Paiwan, 4 Bunun, 5 Puyuma, 6 Rukai, 7 "
              "Tsou, 8 Saisiyat, 9 Yami, 10 Thao, 11 Kavalan, 12 Truku, 13 Sakizaya, 14 Seediq, "
              "15 Hla'alua, 16 Kanakanavu, 99 not declared."),
    "to_code": ("遷入縣市代碼：遷徙之遷入縣市（5碼）；99999表示戶籍以外（遷出國外、廢止戶籍等）。"
                "區域代碼為遷出縣市，遷出地空白者為99999。",
                "Destination county (5 digits); 99999 is outside the register (abroad, "
                "de-registration). The row's area code is the origin county, 99999 for an "
                "empty origin."),
    "age_group": ("年齡組：0為0歲、1為1-4歲、5為5-9歲，依此類推；死亡數表100為100歲以上，"
                  "生命表85為85歲以上。死亡年齡為死亡日之足歲。",
                  "Age group: 0 = age 0, 1 = 1-4, 5 = 5-9 and so on; 100 = 100 and over in "
                  "deaths by age, 85 = 85 and over in the life table. Age at death in completed "
                  "years on the date of death."),
    **{f"asfr_{g}_{g + 4}": (
        f"{g}-{g + 4}歲年齡別生育率＝生母{g}-{g + 4}歲之出生數"
        + ("（含未滿15歲）" if g == 15 else "（含50歲以上）" if g == 45 else "")
        + f"÷期中{g}-{g + 4}歲婦女人數×1000；月、季按365/日數年化。",
        f"Age-specific fertility rate {g}-{g + 4} = births to mothers aged {g}-{g + 4}"
        + (" (under 15 included)" if g == 15 else " (50 and over included)" if g == 45 else "")
        + f" / women aged {g}-{g + 4} (average of start and end) × 1,000; annualised for "
        "months and quarters.") for g in range(15, 50, 5)},
    "general_fertility_rate": ("一般生育率＝生母年齡已知之出生數÷15-49歲期中婦女人數×1000；月、季年化。",
                               "General fertility rate = births with known mother's age / "
                               "women aged 15-49 (average of start and end) × 1,000; annualised "
                               "for months and quarters."),
    "total_fertility_rate": ("總生育率＝5×七個年齡別生育率合計÷1000，即每位婦女一生生育之子女數；"
                             "任一年齡別生育率為空值時為空值。",
                             "Total fertility rate = 5 × the sum of the seven age-specific "
                             "rates / 1,000, children per woman; null when any of them is null."),
    "mean_age_at_birth": ("生母平均生育年齡＝生母年齡已知之出生，其生母足歲加0.5之平均；無此出生時為空值。",
                          "Mean age at birth = the mean of (completed age + 0.5) of the mothers "
                          "of births with known mother's age; null without such births."),
    "persons": ("結婚人數：每對結婚計配偶二人，各依其性別及原屬國籍。",
                "Persons marrying: every marriage counts its two spouses, each under their own "
                "sex and original nationality."),
    "persons_same_sex": ("結婚人數中屬同性結婚者。",
                         "The persons marrying who are in same-sex couples."),
    "moves": ("遷徙人數：自區域代碼之縣市遷至遷入縣市之登記遷徙。",
              "Moves registered from the origin county (area code) to the destination county."),
    "moves_male": ("遷徙人數（男）。", "Moves of men."),
    "moves_female": ("遷徙人數（女）。", "Moves of women."),
    "mx": ("死亡率mx＝全年該組死亡數÷該組期初、期末平均人口（各依其參考日計算年齡）。",
           "Death rate mx = the year's deaths of the group / the average of its start and end "
           "populations (each aged on its own reference date)."),
    "qx": ("死亡機率qx＝n·mx÷(1＋(n－ax)·mx)，最大為1；85歲以上為1。",
           "Probability of dying qx = n·mx / (1 + (n − ax)·mx), at most 1; 1 for 85 and over."),
    "ax": ("ax：死亡者在該組內平均存活年數；0歲為0.1，其他封閉組為組距之半，85歲以上為1/mx。",
           "ax: years lived in the group by those dying in it; 0.1 at age 0, half the "
           "interval for other closed groups, 1/mx for 85 and over."),
    "lx": ("生存數lx：l0＝100000，l(x+n)＝lx－dx。", "Survivors lx: l0 = 100,000, l(x+n) = lx − dx."),
    "dx": ("死亡數dx＝lx·qx。", "Life-table deaths dx = lx·qx."),
    "nLx": ("定常人口nLx＝n·l(x+n)＋ax·dx；85歲以上為lx/mx。",
            "Person-years nLx = n·l(x+n) + ax·dx; lx/mx for 85 and over."),
    "Tx": ("累積定常人口Tx：x歲以上各組nLx之合計。", "Tx: the sum of nLx from age x up."),
    "ex": ("平均餘命ex＝Tx÷lx；lx為0時為空值。", "Life expectancy ex = Tx / lx; null where lx = 0."),
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
