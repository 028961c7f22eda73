"""``popstats bulletin``: the words checked against the release tables — by hand on a tiny
extract, and every figure of the headline parsed back out of a sample's bulletin and
recomputed from its tables (and those of the periods compared with) — in both languages;
the HTML parsed; the PDF a real PDF whose text is extractable and whose pages show the
charts; the v2 figures present for a v2 release and stated as omitted for a v1 one; and no
bulletin before publication unless --embargoed."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from lxml import html as lxml_html

import popstats.cli
from popstats.cli import main
from stats.bulletin import bulletin_figures
from stats.catalogue import VALUE_LABELS
from stats.periods import Month, Period
from stats.publication import publish
from stats.release import build_release
from stats.schemas import EVENT_COLUMNS, RESIDENT_COLUMNS
from tests.helpers import event, person, tiny_codes, write_extract
from tests.stats.v2_frames import v2_events, v2_residents

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
A, K = "63000010001", "64000010001"  # 臺北市 甲里, 高雄市 戊里 (tests.helpers' tiny table)


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(main, list(args))


def quiet(_: str) -> None:
    pass


# --- by hand: a tiny extract ----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five residents at the end of January 2025 (4 + a birth), six at the end of February
    (two births, one death); one birth in January, two in February."""
    folder = tmp_path_factory.mktemp("tiny")
    start = [person("p1", A, born=date(1940, 5, 1)), person("p2", A, sex=2),
             person("p3", A, born=date(1990, 1, 1)), person("p4", K, sex=2)]
    c1 = person("c1", A, sex=2, born=date(2025, 1, 10))
    c2, c3 = person("c2", K, born=date(2025, 2, 3)), person("c3", A, sex=2, born=date(2025, 2, 5))
    births_jan = [event("b1", "BIRTH", date(2025, 1, 15), pid="c1", sex=2, born=date(2025, 1, 10),
                        village=A)]
    feb = [event("b2", "BIRTH", date(2025, 2, 6), pid="c2", born=date(2025, 2, 3), village=K),
           event("b3", "BIRTH", date(2025, 2, 7), pid="c3", sex=2, born=date(2025, 2, 5),
                 village=A),
           event("d1", "DEATH", date(2025, 2, 12), pid="p1", born=date(1940, 5, 1),
                 occurred=date(2025, 2, 10), village=A)]
    extract = write_extract(folder / "x", {Month(2024, 12): start, Month(2025, 1): [*start, c1],
                                           Month(2025, 2): [*start[1:], c1, c2, c3]},
                            {Month(2025, 1): births_jan, Month(2025, 2): feb})
    releases = folder / "rel"
    for period in ("2025-01", "2025-02"):
        build_release(extract, Period.parse(period), releases, tiny_codes(), progress=quiet)
        publish(releases, period, by="test", now=NOW)
    return releases


def test_the_headline_of_a_tiny_extract_reads_as_computed_by_hand(tiny: Path) -> None:
    from exports.bulletin_html import county_names
    from stats.bulletin_text import headline_paragraphs

    figures = bulletin_figures(tiny / "2025-02", NOW)
    zh = headline_paragraphs(figures, "zh", county_names(figures))
    # 6 at the end of February, 5 a month before: +1 = 20.00 %; one household per person
    assert zh[0] == ("114年2月底全國戶籍登記人口數為 6 人，較上月增加 1 人（20.00%）；"
                     "戶數 6 戶，平均每戶 1.00 人。")
    # births 2 against 1 (+100 %); deaths 1 against 0 (no percentage from zero); no year-earlier
    # release, so no year-earlier clause
    assert zh[1].startswith("本月出生數 2 人，較上月增加 1 人（100.00%），粗出生率 ")
    assert "；死亡數 1 人，較上月增加 1 人，粗死亡率 " in zh[1]
    assert "自然增加 1 人。" in zh[1]
    assert "結婚 0 對，與上月持平；離婚 0 對，與上月持平。" in zh[1]
    en = headline_paragraphs(figures, "en", county_names(figures))
    assert en[0].startswith("At the end of Feb 2025 the registered population of Taiwan was 6, "
                            "up 1 (20.00%) on the previous month;")
    assert en[1].startswith("Births this month: 2, up 1 (100.00%) on the previous month")
    # a v1 extract, a month: the v2 figures and life expectancy are said to be missing
    assert figures["omitted"] == ["v1", "life_table_year"]
    assert "本期資料為第 1 版戶籍資料格式" in zh[-2] and "僅編製年資料" in zh[-1]
    assert figures["year_earlier_revision"] is None and figures["previous_revision"] == 1


def test_a_crude_rate_in_the_text_is_the_release_s_own(tiny: Path) -> None:
    from exports.bulletin_html import county_names
    from stats.bulletin_text import headline_paragraphs

    figures = bulletin_figures(tiny / "2025-02", NOW)
    text = headline_paragraphs(figures, "zh", county_names(figures))[1]
    # 2 births / ((5 + 6) / 2) × 1000 × 365/28 (annualised month) = 4,740.26 ‰
    assert f"粗出生率 {2 / 5.5 * 1000 * 365 / 28:,.2f}‰" in text


def test_comparisons_use_the_public_revision_only(tiny: Path, tmp_path: Path) -> None:
    """A draft rebuild of the previous month is not what the bulletin compares with."""
    releases = tmp_path / "rel"
    shutil.copytree(tiny, releases, symlinks=True)
    figures = bulletin_figures(releases / "2025-02", NOW)
    assert figures["previous_revision"] == 1
    # January unpublished (a copy whose log is gone): no comparison, unless a preview
    shutil.rmtree(releases / ".revisions" / "2025-01")
    (releases / "2025-01").unlink()
    assert bulletin_figures(releases / "2025-02", NOW)["prev"] == {}


# --- every figure of a sample's headline against its tables -----------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A v2 sample built and published for 2024-03, 2025-02 and 2025-03, and the same
    months as a v1 release of 2025-03 (a draft). The v1 extract is the sample without the
    §8 columns; the v2 one the sample's own, or (a sampler writing v1 only) the v1 files with
    the columns added by tests.stats.v2_frames."""
    from sample_data.generator import write_sample
    from stats.codes import code_table

    folder = tmp_path_factory.mktemp("bulletin")
    raw, v1, v2 = folder / "raw", folder / "v1", folder / "v2"
    write_sample(raw, scale=0.001, seed=5, start=Month(2024, 3), months=13, codes=code_table(None),
                 corrections=0, file_format="parquet", encoding="utf-8", date_style="iso",
                 progress=quiet)
    v1.mkdir()
    v2.mkdir()
    for path in raw.glob("*.parquet"):
        frame = pl.read_parquet(path)
        residents = path.name.startswith("residents")
        v1_columns = RESIDENT_COLUMNS if residents else EVENT_COLUMNS
        frame.select(list(v1_columns)).write_parquet(v1 / path.name)
        if len(frame.columns) == len(v1_columns):
            frame = (v2_residents if residents else v2_events)(frame)
        frame.write_parquet(v2 / path.name)
    releases = folder / "rel"
    for period in ("2024-03", "2025-02", "2025-03"):
        build_release(v2, Period.parse(period), releases, code_table(None), progress=quiet)
        publish(releases, period, by="test", now=NOW)
    build_release(v1, Period.parse("2025-03"), folder / "rel1", code_table(None), progress=quiet)
    return {"v2": releases, "v1": folder / "rel1"}


def national(releases: Path, period: str, table: str) -> dict:
    frame = pl.read_parquet(releases / period / f"{table}.parquet")
    return frame.filter(pl.col("area_code") == "00000").row(0, named=True)


def way(now: float, then: float, zh: bool = True) -> str:
    if now == then:
        return "持平" if zh else "unchanged"
    return ("增加" if now > then else "減少") if zh else ("up" if now > then else "down")


def test_every_figure_of_the_zh_headline_is_the_tables(sample: dict[str, Path]) -> None:
    from exports.bulletin_html import county_names
    from stats.bulletin_text import headline_paragraphs

    rel = sample["v2"]
    figures = bulletin_figures(rel / "2025-03", NOW)
    text = "\n".join(headline_paragraphs(figures, "zh", county_names(figures)))
    pop = {p: national(rel, p, "population") for p in ("2025-03", "2025-02", "2024-03")}
    vit = {p: national(rel, p, "vital_events") for p in ("2025-03", "2025-02", "2024-03")}
    ind = national(rel, "2025-03", "indicators")

    def figure(pattern: str) -> re.Match:
        found = re.search(pattern, text)
        assert found, f"{pattern!r} not in\n{text}"
        return found

    def number(s: str) -> float:
        return float(s.replace(",", ""))

    found = figure(r"114年3月底全國戶籍登記人口數為 ([\d,]+) 人，"
                   r"較上月(\S\S) ([\d,]+) 人（([\d.]+)%），"
                   r"較上年同月(\S\S) ([\d,]+) 人（([\d.]+)%）；戶數 ([\d,]+) 戶")
    now, prev, year = (pop[p]["population"] for p in ("2025-03", "2025-02", "2024-03"))
    assert number(found[1]) == now
    assert (found[2], number(found[3])) == (way(now, prev), abs(now - prev))
    assert found[4] == f"{abs(now - prev) / prev * 100:.2f}"
    assert (found[5], number(found[6])) == (way(now, year), abs(now - year))
    assert found[7] == f"{abs(now - year) / year * 100:.2f}"
    assert number(found[8]) == pop["2025-03"]["households"]
    for word, column in (("出生數", "births"), ("死亡數", "deaths")):
        found = figure(word + r" ([\d,]+) 人，較上月(\S\S) ([\d,]+) 人(?:（([\d.]+)%）)?，"
                       r"較上年同月(\S\S) ([\d,]+) 人")
        now, prev, year = (vit[p][column] for p in ("2025-03", "2025-02", "2024-03"))
        assert number(found[1]) == now
        assert (found[2], number(found[3])) == (way(now, prev), abs(now - prev))
        assert found[4] == (f"{abs(now - prev) / prev * 100:.2f}" if prev else None)
        assert (found[5], number(found[6])) == (way(now, year), abs(now - year))
    assert figure(r"粗出生率 ([\d.]+)‰")[1] == f"{ind['crude_birth_rate']:.2f}"
    assert figure(r"粗死亡率 ([\d.]+)‰")[1] == f"{ind['crude_death_rate']:.2f}"
    natural = vit["2025-03"]["natural_increase"]
    assert (f"自然減少 {-natural:,} 人" if natural < 0 else f"自然增加 {natural:,} 人") in text
    for word, column in (("結婚", "marriages"), ("離婚", "divorces")):
        assert number(figure(word + r" ([\d,]+) 對")[1]) == vit["2025-03"][column]
    assert figure(r"65 歲以上人口占 ([\d.]+)%")[1] == f"{ind['share_65_plus']:.2f}"
    assert figure(r"老化指數 ([\d.]+)")[1] == f"{ind['aging_index']:.2f}"
    # v2: the TFR from the fertility table; births and persons marrying of foreign or
    # mainland origin recounted from the cross tables
    fertility = national(rel, "2025-03", "fertility")
    assert figure(r"總生育率 ([\d.]+) 人")[1] == f"{fertility['total_fertility_rate']:.3f}"
    births = pl.read_parquet(rel / "2025-03" / "births_by_mother.parquet").filter(
        pl.col("area_code") == "00000")
    foreign = births.filter(~pl.col("mother_nationality").is_in([0, 1]))["births"].sum()
    found = figure(r"生母原屬國籍為外國籍或大陸港澳地區之出生數 ([\d,]+) 人，占出生數 ([\d.]+)%")
    assert number(found[1]) == foreign
    assert found[2] == f"{100 * foreign / births['births'].sum():.2f}"
    persons = pl.read_parquet(rel / "2025-03" / "marriages_by_nationality.parquet").filter(
        pl.col("area_code") == "00000")
    found = figure(r"結婚人數 ([\d,]+) 人中原屬國籍為外國籍或大陸港澳地區者 ([\d,]+) 人")
    assert number(found[1]) == persons["persons"].sum() == 2 * vit["2025-03"]["marriages"]
    assert number(found[2]) == persons.filter(~pl.col("nationality").is_in([0, 1]))["persons"].sum()
    # the indigenous population and the largest people, from their tables
    indigenous = pl.read_parquet(rel / "2025-03" / "indigenous_population.parquet").filter(
        pl.col("area_code") == "00000")["population"].sum()
    assert number(figure(r"原住民人口 ([\d,]+) 人")[1]) == indigenous
    tribes = (pl.read_parquet(rel / "2025-03" / "indigenous_by_tribe.parquet")
              .filter((pl.col("area_code") == "00000") & (pl.col("tribe") != 99))
              .sort(["population", "tribe"], descending=[True, False]))
    first = tribes.row(0, named=True)
    name = VALUE_LABELS["tribe"][first["tribe"]][0]
    assert f"族別人數以{name} {first['population']:,} 人" in text
    flows = pl.read_parquet(rel / "2025-03" / "migration_flows.parquet").filter(
        (pl.col("area_code") != "99999") & (pl.col("to_code") != "99999"))
    assert number(figure(r"縣市間遷徙 ([\d,]+) 人次")[1]) == flows["moves"].sum()
    assert "僅編製年資料" in text  # a month has no life table


def _shown(values: list[float]) -> set[str]:
    """Every way the bulletin may print these values: counts with thousands separators,
    rates to 2 or 3 decimals."""
    out: set[str] = set()
    for v in values:
        if v is None:
            continue
        if float(v).is_integer():
            out.add(f"{int(v):,}")
        out |= {f"{v:,.2f}", f"{v:,.3f}"}
    return out


def test_no_number_in_the_headline_comes_from_anywhere_but_the_tables(
        sample: dict[str, Path]) -> None:
    """Every number in the zh and en headlines is a figure of the release's tables (or of the
    compared periods', or their difference or percentage change), recomputed here from the
    Parquet files — or a label's number (114年3月, 65 歲, 0-14 歲, Mar 2025)."""
    from exports.bulletin_html import county_names
    from stats.bulletin_text import headline_paragraphs

    rel = sample["v2"]
    tables = ("population", "vital_events", "indicators", "fertility")
    rows = {(p, t): national(rel, p, t) for p in ("2025-03", "2025-02", "2024-03") for t in tables}
    now = {k: v for t in tables for k, v in rows[("2025-03", t)].items()
           if isinstance(v, int | float)}
    allowed = _shown(list(now.values()))
    for earlier in ("2025-02", "2024-03"):
        for t in tables:
            for key, then in rows[(earlier, t)].items():
                if isinstance(then, int | float) and now.get(key) is not None:
                    allowed |= _shown([abs(now[key] - then)])
                    if then:
                        allowed |= _shown([abs(now[key] - then) / then * 100])
    births = pl.read_parquet(rel / "2025-03" / "births_by_mother.parquet").filter(
        pl.col("area_code") == "00000")
    foreign = births.filter(~pl.col("mother_nationality").is_in([0, 1]))["births"].sum()
    mainland = births.filter(pl.col("mother_nationality") == 2)["births"].sum()
    persons = pl.read_parquet(rel / "2025-03" / "marriages_by_nationality.parquet").filter(
        pl.col("area_code") == "00000")
    abroad = persons.filter(~pl.col("nationality").is_in([0, 1]))["persons"].sum()
    indigenous = pl.read_parquet(rel / "2025-03" / "indigenous_population.parquet").filter(
        pl.col("area_code") == "00000")["population"].sum()
    tribes = pl.read_parquet(rel / "2025-03" / "indigenous_by_tribe.parquet").filter(
        pl.col("area_code") == "00000")["population"].to_list()
    flows = pl.read_parquet(rel / "2025-03" / "migration_flows.parquet").filter(
        (pl.col("area_code") != "99999") & (pl.col("to_code") != "99999"))
    allowed |= _shown([foreign, mainland, 100 * foreign / births["births"].sum(),
                       persons["persons"].sum(), abroad,
                       100 * abroad / persons["persons"].sum(), indigenous,
                       100 * indigenous / now["population"], *tribes, flows["moves"].sum(),
                       flows["moves"].max()])
    labels = {"114", "3", "2025", "65", "0", "14", "1"}  # 114年3月, 65 歲, 0-14 歲, 第 1 版
    figures = bulletin_figures(rel / "2025-03", NOW)
    for lang in ("zh", "en"):
        text = " ".join(headline_paragraphs(figures, lang, county_names(figures)))
        tokens = re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", text)
        assert tokens
        assert [t for t in tokens if t not in allowed | labels] == [], text


def test_the_en_headline_has_the_same_figures(sample: dict[str, Path]) -> None:
    from exports.bulletin_html import county_names
    from stats.bulletin_text import headline_paragraphs

    rel = sample["v2"]
    figures = bulletin_figures(rel / "2025-03", NOW)
    text = " ".join(headline_paragraphs(figures, "en", county_names(figures)))
    now = national(rel, "2025-03", "population")["population"]
    prev = national(rel, "2025-02", "population")["population"]
    births = national(rel, "2025-03", "vital_events")["births"]
    assert (f"At the end of Mar 2025 the registered population of Taiwan was {now:,}, "
            f"{way(now, prev, zh=False)} {abs(now - prev):,} ") in text
    assert f"Births this month: {births:,}, " in text
    fertility = national(rel, "2025-03", "fertility")
    assert f"Total fertility rate this month: {fertility['total_fertility_rate']:.3f}" in text
    assert "computed for years only" in text


# --- the command: HTML, PDF, embargo ---------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(popstats.cli, "_now", lambda: NOW)


@pytest.mark.parametrize("lang", ["zh-TW", "en"])
def test_the_html_bulletin_holds_the_tables_figures(sample: dict[str, Path], tmp_path: Path,
                                                    clock: None, lang: str) -> None:
    rel, out = sample["v2"], tmp_path / "b.html"
    done = run("bulletin", "--release", str(rel / "2025-03"), "--lang", lang, "--out", str(out))
    assert done.exit_code == 0, done.output
    page = lxml_html.fromstring(out.read_bytes())
    assert page.get("lang") == ("zh-Hant-TW" if lang == "zh-TW" else "en")

    def cells(key: str) -> list[str]:
        return [c.text_content() for c in page.xpath(f'//tr[@data-key="{key}"]/td')]

    pop = {p: national(rel, p, "population")["population"] for p in ("2025-03", "2025-02",
                                                                    "2024-03")}
    unit, value, prev, prev_pct, yoy, _ = cells("population")
    assert value == f"{pop['2025-03']:,}"
    assert prev.replace("−", "-").lstrip("+") == str(pop["2025-03"] - pop["2025-02"])
    assert yoy.replace("−", "-").lstrip("+") == str(pop["2025-03"] - pop["2024-03"])
    births = national(rel, "2025-03", "vital_events")["births"]
    assert cells("births")[1] == f"{births:,}"
    tfr = national(rel, "2025-03", "fertility")["total_fertility_rate"]
    assert cells("total_fertility_rate")[1] == f"{tfr:.3f}"
    # the county table: every county of the release, in MOI's order (新北市 first)
    counties = pl.read_parquet(rel / "2025-03" / "population.parquet").filter(
        pl.col("area_level") == "county")
    rows = page.xpath("//section[@id='counties']//tbody/tr")
    assert len(rows) == counties.height and rows[0].get("data-code") == "65000"
    for row in rows:
        expected = counties.filter(pl.col("area_code") == row.get("data-code"))["population"][0]
        assert row.xpath("td")[0].text_content() == f"{expected:,}"
    # real charts: the trend and the pyramid as inline SVG with their data
    svgs = page.xpath("//svg")
    assert len(svgs) == 3
    assert len(svgs[2].xpath(".//rect")) == 2 * 21  # 21 five-year groups, both sexes
    # 13 periods, of which two besides this one were built and published
    assert len(svgs[0].xpath(".//circle")) == 3
    assert not page.xpath("//script")


def test_the_pdf_is_a_real_pdf_with_text_and_charts(sample: dict[str, Path], tmp_path: Path,
                                                    clock: None) -> None:
    if not shutil.which("pdftotext") or not shutil.which("chromium"):
        pytest.fail("the bulletin test needs chromium and poppler-utils (scripts/setup.sh test)")
    rel = sample["v2"]
    pop = national(rel, "2025-03", "population")["population"]
    for lang, words in (("zh-TW", [f"全國戶籍登記人口數為 {pop:,} 人", "人口金字塔", "總生育率",
                                   "各縣市人口概況", "新北市"]),
                        ("en", [f"registered population of Taiwan was {pop:,}",
                                "Population pyramid",
                                "Total fertility rate", "New Taipei City"])):
        out = tmp_path / f"b-{lang}.pdf"
        done = run("bulletin", "--release", str(rel / "2025-03"), "--lang", lang, "--out", str(out))
        assert done.exit_code == 0, done.output
        assert out.read_bytes().startswith(b"%PDF-")
        text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True,
                              check=True).stdout.decode("utf-8")
        for word in words:
            assert word in " ".join(text.split()), word
        # page 2 drawn: the pyramid's bars in the men's and women's colours
        subprocess.run(["pdftoppm", "-r", "40", "-f", "2", "-l", "2", str(out),
                        str(tmp_path / lang)], check=True)
        pixels = _ppm(next(tmp_path.glob(f"{lang}*.ppm")))
        for colour in ((0x2F, 0x6D, 0xB3), (0xD0, 0x56, 0x7A)):
            assert (np.abs(pixels - colour).sum(axis=2) < 30).sum() > 200, colour


def _ppm(path: Path) -> np.ndarray:
    """A binary PPM (P6) as a height × width × 3 array."""
    data = path.read_bytes()
    fields = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert fields
    width, height = int(fields[1]), int(fields[2])
    return np.frombuffer(data[fields.end():], np.uint8).reshape(height, width, 3).astype(int)


def test_a_v1_release_says_what_it_lacks(sample: dict[str, Path], tmp_path: Path,
                                         clock: None) -> None:
    out = tmp_path / "v1.html"
    done = run("bulletin", "--release", str(sample["v1"] / "2025-03"), "--lang", "zh-TW",
               "--out", str(out), "--embargoed")
    assert done.exit_code == 0, done.output
    page = lxml_html.fromstring(out.read_bytes())
    text = page.text_content()
    assert "未公布，禁止外流" in page.xpath("//div[@class='embargo']")[0].text_content()
    assert "總生育率、生母原屬國籍、結婚者原屬國籍及原住民族別統計從缺" in text
    assert not page.xpath('//tr[@data-key="total_fertility_rate"]')
    assert not page.xpath("//table[@id='tribes']") and page.xpath("//table[@id='flows']")
    # printed, the marking heads every page (a page may travel alone)
    pdf = tmp_path / "v1.pdf"
    done = run("bulletin", "--release", str(sample["v1"] / "2025-03"), "--out", str(pdf),
               "--embargoed")
    assert done.exit_code == 0, done.output
    pages = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                           check=True).stdout.decode("utf-8").split("\f")[:-1]
    assert len(pages) >= 2 and all("未公布，禁止外流" in p for p in pages)


def test_no_bulletin_before_publication(sample: dict[str, Path], tmp_path: Path,
                                        clock: None) -> None:
    out = tmp_path / "draft.pdf"
    done = run("bulletin", "--release", str(sample["v1"] / "2025-03"), "--out", str(out))
    assert done.exit_code != 0 and "draft (not published)" in done.output
    assert "--embargoed" in done.output and not out.exists()
    scheduled = tmp_path / "rel"
    shutil.copytree(sample["v1"], scheduled, symlinks=True)
    publish(scheduled, "2025-03", by="test", now=NOW, at=datetime(2026, 12, 10, 8, tzinfo=UTC))
    done = run("bulletin", "--release", str(scheduled / "2025-03"), "--out", str(out))
    assert done.exit_code != 0 and "115年12月10日 16:00" in done.output and not out.exists()
    bad = run("bulletin", "--release", str(sample["v2"] / "2025-03"),
              "--out", str(tmp_path / "b.doc"))
    assert bad.exit_code != 0 and "must end in .html or .pdf" in bad.output
