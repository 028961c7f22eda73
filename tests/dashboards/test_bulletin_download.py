"""The bulletin on the dashboards: made when a period is published (``popstats publish``),
downloadable by every logged-in user from the Releases page once public — an agency
granted one table of one city too — and by nobody before; each download and refusal
audited."""

from __future__ import annotations

import pytest

from dashboards.bulletin_download import bulletin_url
from tests.dashboards.client import audit_actions, components, logged_in, page


def test_publish_made_the_bulletin_and_it_is_what_is_downloaded(served: dict) -> None:
    kept = (served["releases"] / ".revisions" / "2025-03" / "bulletins" / "r0001"
            / "bulletin-zh-TW.html")
    assert kept.is_file()  # made by `popstats publish` in the fixture
    client = logged_in(served, "kaohsiung_user")  # granted vital_events of 高雄市 only
    answer = client.get(bulletin_url("2025-03", "zh-TW", "html"))
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].startswith("attachment")
    assert answer.get_data() == kept.read_bytes()
    assert "114年3月底全國戶籍登記人口數為" in answer.get_data(as_text=True)
    answer.close()  # the body's end is what audits the download
    assert ("download", 'bulletin:2025-03{"file": "bulletin-zh-TW.html"') in [
        (a, o[:len('bulletin:2025-03{"file": "bulletin-zh-TW.html"')])
        for a, o in audit_actions(served, "kaohsiung_user")]


def test_the_pdf_is_printed_on_first_request_and_kept(served: dict) -> None:
    client = logged_in(served, "national_user")
    answer = client.get(bulletin_url("2025-Q1", "en", "pdf"))
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.get_data().startswith(b"%PDF-")
    answer.close()
    kept = served["releases"] / ".revisions" / "2025-Q1" / "bulletins" / "r0001" / "bulletin-en.pdf"
    assert kept.read_bytes() == answer.get_data()


@pytest.mark.parametrize("path", ["/releases/2024-12/bulletin-zh-TW.pdf",  # built, unpublished
                                  "/releases/2023-01/bulletin-zh-TW.html",  # never built
                                  "/releases/2025-3/bulletin-zh-TW.html",  # not canonical
                                  "/releases/2025-03/bulletin-fr.html",
                                  "/releases/2025-03/manifest.json"])
def test_no_bulletin_before_publication_or_by_another_name(served: dict, path: str) -> None:
    client = logged_in(served, "moi_official")  # staff too: the bulletin is for the public
    answer = client.get(path)
    assert answer.status_code == 404
    assert audit_actions(served, "moi_official")[-1][0] == "download.refused"


def test_a_bulletin_needs_a_login(served: dict) -> None:
    answer = served["app"].test_client().get(bulletin_url("2025-03", "zh-TW", "pdf"))
    assert answer.status_code in (302, 401)


def test_the_releases_page_links_the_public_periods_bulletins(served: dict) -> None:
    client = logged_in(served, "taipei_user")
    links = [a["props"]["href"] for a in components(page(client, "/releases"), "A")
             if a["props"].get("className") == "bulletin-link"]
    assert bulletin_url("2025-03", "zh-TW", "pdf") in links
    assert bulletin_url("2025-Q1", "en", "html") in links
    assert not [link for link in links if "/2024-12/" in link]  # not public: no bulletin
    assert len(links) == 4 * 5  # five public periods, two languages, two formats
