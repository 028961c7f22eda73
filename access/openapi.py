"""The OpenAPI 3.1 description of the online query API (``GET /api/v1/openapi.json``): public,
since it holds no data; kept apart from the handlers in ``access.api`` it describes."""

from __future__ import annotations

from typing import Any

from access.api_params import AREA_CODE, LEVELS, MAX_PAGE_ROWS, MAX_PERIOD_TEXT, RULES
from stats.catalogue import TABLES

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "popstats online query API", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/releases": {
            "get": {
                "summary": "The periods published, with revision and publication time",
                "responses": {
                    "200": {"description": "published releases"},
                    "401": {"description": "no or bad token"},
                },
            }
        },
        "/api/v1/tables/{table}": {
            "get": {
                "summary": "The rows of a release table the caller's grant allows, whole or "
                "a page at a time",
                "description": (
                    "Without page or page_size the answer holds every row asked for "
                    "(X-Total-Rows says how many). With either, it is paged: at most "
                    f"{MAX_PAGE_ROWS} rows per page (page_size, default and maximum the "
                    "same), page 1 first. Every page carries the "
                    "headers X-Total-Rows, X-Page, X-Page-Count and, when there is one, an "
                    "RFC 8288 Link to the next and previous page; the JSON body keeps the "
                    "contract's shape {table, period, revision, columns, rows} with the "
                    "page's rows. Each page is recorded as an online-query delivery kept 1 "
                    "day (X-Delivery-Id; X-Content-SHA256 is the SHA-256 of the body): the "
                    "provider keeps what was asked and the checksum, and can make the same "
                    "bytes again from the immutable release revision. Every parameter is "
                    "checked for syntax and length before anything else (400 names the "
                    "parameter and its rule). An agency's answers per Asia/Taipei day are "
                    "limited in bytes when the provider configures it (429, Retry-After "
                    "until midnight). Requests are limited per token and per agency (429, "
                    "Retry-After). An agency has one answer of more than one area (a page, "
                    "the whole table) in flight at a time by default: ask for the next "
                    "page when the last has arrived (otherwise 429, Retry-After: 1)."
                ),
                "parameters": [
                    {
                        "name": "table",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(TABLES)},
                    },
                    {
                        "name": "period",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "maxLength": MAX_PERIOD_TEXT},
                        "description": RULES["period"] + ". With a range or list the JSON "
                        "answer has revisions (period → revision) in place of revision, and "
                        "holds the rows of every period, periods ascending",
                    },
                    {
                        "name": "area_level",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(LEVELS)},
                    },
                    {"name": "area_code", "in": "query",
                     "schema": {"type": "string", "pattern": AREA_CODE.pattern,
                                "maxLength": 11},
                     "description": RULES["area_code"]},
                    {"name": "page", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "default": 1}},
                    {"name": "page_size", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_ROWS},
                     "description": f"rows per page (default {MAX_PAGE_ROWS} once paging is "
                     "asked for; without page or page_size the whole answer)"},
                ],
                "responses": {
                    "200": {
                        "description": "{table, period, revision, columns, rows} or CSV "
                        "(Accept: text/csv): the whole answer or one page; recorded as an "
                        "online-query delivery "
                        "kept 1 day"
                    },
                    "400": {"description": "a parameter breaks its rule: {error, parameter, "
                            "rule}"},
                    "401": {"description": "no or bad token"},
                    "403": {
                        "description": "outside the grant, or the agency is suspended, lapsed "
                        "or terminated (audited)"
                    },
                    "404": {"description": "an area code the release does not have, or a "
                            "page past the last"},
                    "429": {"description": "rate limit or daily volume exceeded, or the agency's "
                                           "previous large answer still in flight "
                                           "(Retry-After)"},
                    "503": {"description": "the provider's system is failing (Retry-After): "
                            "not a refusal; resend the query after the repair (point 15)"},
                },
            }
        },
        "/api/v1/query": {
            "post": {
                "summary": "A query document (CONTRACT §7): periods, areas, measures, kept "
                "keys, age bands, stub and heading",
                "description": (
                    "The body is the query document (JSON). The answer is {query, columns, "
                    "rows, revisions}: query the normalised document, one column per stub "
                    "dimension and per heading combination (values joined with |), "
                    "revisions the public revision each period was read from; or CSV with "
                    "Accept: text/csv. The grant is checked for the table, every area the "
                    "query can touch (areas: each code; within: that code; neither: the "
                    "areas the grant allows) and every period (published only). Recorded "
                    "as an online-query delivery kept 1 day (X-Delivery-Id, "
                    "X-Content-SHA256) and in the audit log."
                ),
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "required": ["table", "periods",
                                                              "area_level"]}}}},
                "responses": {
                    "200": {"description": "{query, columns, rows, revisions} or CSV"},
                    "400": {"description": "invalid or too large: {error, problems} with "
                            "every reason"},
                    "401": {"description": "no or bad token"},
                    "403": {"description": "a table, area or period outside the grant, or "
                            "the agency is suspended, lapsed or terminated (audited)"},
                    "429": {"description": "rate limit or daily volume exceeded, or the agency's "
                                           "previous large answer still in flight "
                                           "(Retry-After)"},
                    "503": {"description": "the provider's system is failing (Retry-After)"},
                },
            }
        },
        "/api/v1/notices": {
            "get": {
                "summary": "What the agency must know about its linking: suspension (with "
                "the deadline to improve), lapse, termination (points 19, 20); answered even "
                "while its access is suspended",
                "responses": {
                    "200": {"description": "{agency, notices: [{kind, grant, provider, since, "
                            "deadline, reason, contact, text_zh, text_en}]}"},
                    "401": {"description": "no or bad token"},
                },
            }
        },
        "/api/v1/log": {
            "get": {
                "summary": "The agency's own log of the data it obtained (point 18)",
                "parameters": [
                    {"name": "from", "in": "query", "schema": {"type": "string",
                                                               "format": "date"}},
                    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
                ],
                "responses": {
                    "200": {"description": "{agency, from, to, entries} or CSV "
                            "(Accept: text/csv); at most 366 days, default the last 30"},
                    "400": {"description": "bad dates"},
                    "401": {"description": "no or bad token"},
                },
            }
        },
    },
}
