# ruff: noqa: E501 -- the HTML template below keeps its markup lines whole
"""The bulletin as one self-contained HTML page (charts inline as SVG, no script, no file
beside it), laid out for A4 so that the PDF is the same page printed by headless Chromium
(``exports.bulletin_pdf``). Numbers and words come from ``stats.bulletin`` and
``stats.bulletin_text``; this module only arranges them.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from exports.bulletin_charts import line_chart, pyramid
from exports.moi import MOI_COUNTY_ORDER
from stats.bulletin_text import (
    WORDS,
    area_name,
    headline_paragraphs,
    indicator_rows,
    notes,
    number,
    signed,
)
from stats.catalogue import VALUE_LABELS
from stats.periods import Period
from stats.publication import note_label
from stats.taipei import format_time

LANGS = {"zh-TW": "zh", "zh": "zh", "en": "en"}
SERIES = {"month": ("人口統計月報", "Monthly population bulletin"),
          "quarter": ("人口統計季報", "Quarterly population bulletin"),
          "year": ("人口統計年報", "Annual population bulletin")}

TEMPLATE = """<!DOCTYPE html>
<html lang="{{ html_lang }}">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
@page { size: A4; margin: 14mm 13mm 16mm 13mm;
        @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #666; }
        {% if embargo %}@top-center { content: "{{ embargo }}"; font-size: 9pt; color: #b00; font-weight: bold; }{% endif %} }
body { font-family: 'Noto Sans CJK TC','Noto Sans TC','Microsoft JhengHei',sans-serif;
       font-size: 10pt; line-height: 1.55; color: #111; max-width: 190mm; margin: 0 auto; }
header { border-bottom: 2px solid #1f3f6e; margin-bottom: 6pt; }
.series { color: #1f3f6e; font-size: 9pt; letter-spacing: 0.1em; }
h1 { font-size: 17pt; margin: 2pt 0 4pt; color: #1f3f6e; }
h2 { font-size: 12pt; margin: 12pt 0 4pt; color: #1f3f6e; border-left: 4pt solid #1f3f6e;
     padding-left: 5pt; break-after: avoid; }
.meta { font-size: 8.5pt; color: #444; margin: 0 0 4pt; }
.embargo { border: 2px solid #b00; color: #b00; font-weight: bold; padding: 4pt 8pt;
           margin: 6pt 0; text-align: center; }
p.lead { text-indent: 2em; margin: 3pt 0; text-align: justify; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; margin: 3pt 0;
        break-inside: auto; }
caption { text-align: left; font-weight: bold; font-size: 9pt; padding-bottom: 2pt; }
th, td { border: 0.5pt solid #999; padding: 1.5pt 4pt; }
thead th { background: #e8eef6; }
tbody th { text-align: left; font-weight: normal; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
thead th.num { white-space: normal; }  /* long English headings wrap; figures never do */
#counties table { font-size: 8pt; }
tr { break-inside: avoid; }
.charts { display: flex; flex-wrap: wrap; gap: 6pt; justify-content: space-between;
          break-inside: avoid; }
.charts figure { margin: 0; }
figcaption { font-size: 8pt; color: #444; text-align: center; }
ol.notes { font-size: 8pt; color: #333; padding-left: 1.6em; }
footer { font-size: 8pt; color: #444; border-top: 1px solid #999; margin-top: 10pt;
         padding-top: 4pt; }
</style>
</head>
<body>
<header>
<div class="series">{{ series }}</div>
<h1>{{ title }}</h1>
<p class="meta">{{ meta }}</p>
</header>
{% if embargo %}<div class="embargo" role="alert">{{ embargo }}</div>{% endif %}
<section id="headline">
<h2>{{ t.headline }}</h2>
{% for paragraph in paragraphs %}<p class="lead">{{ paragraph }}</p>
{% endfor %}
</section>
<section id="indicators">
<h2>{{ t.indicators }}</h2>
<table>
<thead><tr><th scope="col">{{ t.item }}</th><th scope="col">{{ t.unit }}</th>
<th scope="col" class="num">{{ t.value }}</th>
<th scope="col" class="num">{{ t.on_prev }}</th><th scope="col" class="num">{{ t.pct }}</th>
{% if both %}<th scope="col" class="num">{{ t.on_yoy }}</th><th scope="col" class="num">{{ t.pct }}</th>{% endif %}
</tr></thead>
<tbody>
{% for row in indicators %}<tr data-key="{{ row.key }}"><th scope="row">{{ row.label }}</th><td>{{ row.unit }}</td>
<td class="num">{{ row.value }}</td><td class="num">{{ row.prev }}</td><td class="num">{{ row.prev_pct }}</td>
{% if both %}<td class="num">{{ row.yoy }}</td><td class="num">{{ row.yoy_pct }}</td>{% endif %}</tr>
{% endfor %}
</tbody>
</table>
<p class="meta">{{ compared }}</p>
</section>
<section id="charts">
<h2>{{ t.charts }}</h2>
<div class="charts">
<figure>{{ trend_population|safe }}</figure>
<figure>{{ trend_events|safe }}</figure>
<figure>{{ pyramid|safe }}<figcaption>{{ t.pyramid_note }}</figcaption></figure>
</div>
</section>
<section id="counties">
<h2>{{ t.counties }}</h2>
<table>
<thead><tr>{% for head in county_heads %}<th scope="col"{% if not loop.first %} class="num"{% endif %}>{{ head }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in counties %}<tr data-code="{{ row[0] }}"><th scope="row">{{ row[1] }}</th>{% for cell in row[2:] %}<td class="num">{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
</section>
{% if tribes or flows %}<section id="v2">
<h2>{{ t.more }}</h2>
{% if tribes %}<table id="tribes"><caption>{{ t.tribes }}</caption>
<thead><tr><th scope="col">{{ t.tribe }}</th><th scope="col" class="num">{{ t.population }}</th><th scope="col" class="num">{{ t.male }}</th><th scope="col" class="num">{{ t.female }}</th></tr></thead>
<tbody>{% for row in tribes %}<tr><th scope="row">{{ row[0] }}</th>{% for cell in row[1:] %}<td class="num">{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% endif %}
{% if flows %}<table id="flows"><caption>{{ t.flows }}</caption>
<thead><tr><th scope="col">{{ t.origin }}</th><th scope="col">{{ t.destination }}</th><th scope="col" class="num">{{ t.moves }}</th></tr></thead>
<tbody>{% for row in flows %}<tr><td>{{ row[0] }}</td><td>{{ row[1] }}</td><td class="num">{{ row[2] }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
</section>{% endif %}
<section id="notes">
<h2>{{ t.notes }}</h2>
<ol class="notes">{% for line in notes %}<li>{{ line }}</li>{% endfor %}</ol>
</section>
<footer>{% for line in footer %}<div>{{ line }}</div>{% endfor %}</footer>
</body>
</html>
"""

TEXTS = {
    "zh": {"headline": "一、重點摘要", "indicators": "二、主要人口指標", "item": "項目",
           "unit": "單位", "value": "本期", "pct": "增減率(%)", "charts": "三、近13期趨勢及人口金字塔",
           "counties": "四、各縣市人口概況", "more": "五、原住民族及縣市間遷徙",
           "tribes": "原住民人口按族別分", "tribe": "族別", "population": "人口數",
           "male": "男", "female": "女", "flows": "縣市間遷徙人數（前5大）", "origin": "遷出縣市",
           "destination": "遷入縣市", "moves": "人次", "notes": "六、附註及名詞定義",
           "pyramid_note": "單位：人；5歲一組，100表示100歲以上。"},
    "en": {"headline": "1. Highlights", "indicators": "2. Key indicators", "item": "Item",
           "unit": "Unit", "value": "This period", "pct": "Change (%)",
           "charts": "3. The last 13 periods and the population pyramid",
           "counties": "4. Counties and cities", "more": "5. Indigenous peoples and migration",
           "tribes": "Indigenous population by people", "tribe": "People",
           "population": "Population", "male": "Male", "female": "Female",
           "flows": "Largest flows between counties (top 5)", "origin": "From",
           "destination": "To", "moves": "Moves", "notes": "6. Notes and definitions",
           "pyramid_note": "Persons; five-year groups, 100 = 100 and over."},
}


def _trend_label(period: str, lang: str) -> str:
    p = Period.parse(period)
    if lang == "en":
        return period
    roc = p.year - 1911
    return {"month": f"{roc}/{p.number:02d}", "quarter": f"{roc}Q{p.number}",
            "year": f"{roc}"}[p.kind]


def _county_order(code: str) -> tuple[int, str]:
    return (MOI_COUNTY_ORDER.index(code) if code in MOI_COUNTY_ORDER
            else len(MOI_COUNTY_ORDER), code)


def county_names(figures: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """code → (zh, en) of the release's counties, and 99999 (outside the register)."""
    names = {r["area_code"]: (r["area_name"], r.get("area_name_en") or r["area_name"])
             for r in figures["counties"]}
    return {**names, "99999": ("戶籍以外", "outside the register")}


def render_html(figures: dict[str, Any], lang: str, *, embargo: tuple[str, str] | None = None
                ) -> str:
    """The bulletin page in ``lang`` (``zh-TW``/``zh`` or ``en``). ``embargo``: the (zh, en)
    marking of a file made before publication, shown at the top."""
    lang = LANGS[lang]
    zh = lang == "zh"
    t = TEXTS[lang]
    period = Period.parse(figures["period"])
    names = county_names(figures)
    _, prev_word, yoy_word = WORDS[lang][figures["kind"]]
    title = (f"{period.roc_label}{SERIES[period.kind][0]}" if zh
             else f"{SERIES[period.kind][1]}, {period.en_label}")
    published = figures["published_at"]
    meta = (("發布時間：" + format_time(published, "zh")) if published else "尚未公布") if zh \
        else (("Published " + format_time(published, "en")) if published else "Not published")
    meta += (f"　資料版次：第 {figures['revision']} 版" if zh
             else f" · revision {figures['revision']}")

    def compared(key: str, word: str) -> str:
        revision = figures[f"{key}_revision"]
        shown = Period.parse(figures[key]).label(lang)
        if revision is None:
            return (f"{word}（{shown}）無已公布資料，增減從缺" if zh
                    else f"{word} ({shown}): nothing published, no change shown")
        return (f"{word}：{shown}第 {revision} 版" if zh else f"{word}: {shown} revision {revision}")

    both = figures["kind"] != "year"
    comparisons = [compared("previous", prev_word)] + (
        [compared("year_earlier", yoy_word)] if both else [])
    labels = [_trend_label(p["period"], lang) for p in figures["trend"]]
    unit = "（人）" if zh else " (persons)"
    trend_population = line_chart(("人口數" if zh else "Population") + unit, labels,
                                  [("人口數" if zh else "Population",
                                    [p["population"] for p in figures["trend"]])])
    trend_events = line_chart(("出生數與死亡數" if zh else "Births and deaths") + unit, labels,
                              [("出生數" if zh else "Births", [p["births"] for p in figures["trend"]]),
                               ("死亡數" if zh else "Deaths", [p["deaths"] for p in figures["trend"]])],
                              from_zero=True)
    groups = [f"{g['group']}+" if g["group"] == 100 else f"{g['group']}-{g['group'] + 4}"
              for g in figures["pyramid"]]
    chart_pyramid = pyramid((f"{period.roc_label}底人口金字塔" if zh
                             else f"Population pyramid, end of {period.en_label}"), groups,
                            [g["male"] for g in figures["pyramid"]],
                            [g["female"] for g in figures["pyramid"]],
                            "男" if zh else "Men", "女" if zh else "Women")
    v2 = "total_fertility_rate" in figures["now"]
    county_heads = (["縣市", "人口數", "增減數", "增減率(%)", "出生數", "死亡數", "自然增加",
                     "社會增加", "粗出生率(‰)", "65歲以上(%)"] if zh else
                    ["County/city", "Population", "Change", "Change (%)", "Births", "Deaths",
                     "Natural increase", "Social increase", "Crude birth rate (‰)",
                     "Aged 65+ (%)"]) + (["總生育率"] if zh and v2 else ["TFR"] if v2 else [])
    counties = [
        [r["area_code"], area_name(r, lang), number(r["population_end"]), signed(r["change"]),
         signed(100 * r["change"] / r["population_start"] if r["population_start"] else None, 2),
         number(r["births"]), number(r["deaths"]), signed(r["natural_increase"]),
         signed(r["social_increase"]), number(r["crude_birth_rate"], 2),
         number(r["share_65_plus"], 2), *([number(r["total_fertility_rate"], 3)] if v2 else [])]
        for r in sorted(figures["counties"], key=lambda r: _county_order(r["area_code"]))
    ]
    tribes = [[VALUE_LABELS["tribe"][r["tribe"]][0 if zh else 1], number(r["population"]),
               number(r["male"]), number(r["female"])] for r in figures["tribes"] or []]
    migration = figures["migration"] or {"largest": []}
    flows = [[names[f["area_code"]][0 if zh else 1], names[f["to_code"]][0 if zh else 1],
              number(f["moves"])] for f in migration["largest"]]
    created = format_time(figures["created_at"], lang)
    note = note_label(figures["note"], lang)
    footer = ([f"資料來源：內政部戶籍登記資料（{figures.get('code_table') or '代碼表'}）。",
               f"資料版次：{period.roc_label}第 {figures['revision']} 版，產製於 {created}"
               + (f"；說明：{note}" if note else "") + "。",
               "時間均為臺北時間；本通報之數字均取自該期發布之統計表。"] if zh else
              [f"Source: household registration records ({figures.get('code_table') or 'code table'}).",
               f"Revision {figures['revision']} of {period.en_label}, built {created}"
               + (f"; note: {note}" if note else "") + ".",
               "Times are Taipei time; every figure is taken from the tables of the release."])
    return Environment(autoescape=True).from_string(TEMPLATE).render(
        html_lang="zh-Hant-TW" if zh else "en", title=title, series=(
            "內政統計通報" if zh else "Ministry of the Interior statistical bulletin"),
        meta=meta, embargo=(embargo[0] if zh else embargo[1]) if embargo else None,
        paragraphs=headline_paragraphs(figures, lang, names),
        indicators=indicator_rows(figures, lang), both=both,
        compared=("比較基準：" if zh else "Compared with: ") + ("；".join(comparisons) if zh
                                                              else "; ".join(comparisons)),
        trend_population=trend_population, trend_events=trend_events, pyramid=chart_pyramid,
        county_heads=county_heads, counties=counties, tribes=tribes, flows=flows,
        notes=notes(figures, lang), footer=footer,
        **{"t": {**t, "on_prev": ("較" + prev_word) if zh else f"On {prev_word}",
                 "on_yoy": ("較" + yoy_word) if zh else f"On {yoy_word}"}},
    )
