"""Markdown: safe HTML for hostile input, PDF blocks, plain text."""

from __future__ import annotations

import json
import re

import pytest

from catalogue.markdown import MAX_INPUT_CHARS, render_html, runs_text, safe_url, to_blocks, to_plain_text

# ------------------------------------------------------------------ helpers

ALLOWED_TAGS = {
    "p", "em", "strong", "a", "ul", "ol", "li", "blockquote", "pre", "code",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "br", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRS = {"href", "title", "rel", "start", "style", "class"}  # style: cell alignment; class: code language


def assert_safe(html: str) -> None:
    """Every tag is on the allow-list, every href is http(s)/mailto, no handlers."""
    for match in re.finditer(r"<\s*(/?)([a-zA-Z0-9]+)([^>]*)>", html):
        tag = match.group(2).lower()
        assert tag in ALLOWED_TAGS, f"unexpected tag <{tag}> in {html!r}"
        attrs = match.group(3)
        for name, value in re.findall(r'([a-zA-Z_:-]+)="([^"]*)"', attrs):
            assert name.lower() in ALLOWED_ATTRS, f"unexpected attribute {name} in {html!r}"
            if name.lower() == "href":
                assert re.match(r"^(https?://|mailto:)", value), value
            if name.lower() == "class":
                assert value.startswith("language-"), value
            if name.lower() == "style":
                assert re.fullmatch(r"text-align:(left|right|center)", value), value
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "<iframe" not in lowered
    # attribute values are quoted and escaped; outside of them no handler may appear
    unquoted = re.sub(r'"[^"]*"', '""', lowered)
    assert not re.search(r"<[^>]*\son\w+\s*=", unquoted), "event handler attribute"
    assert '"' not in re.sub(r'="[^"]*"', "", "".join(re.findall(r"<[^>]+>", lowered))), "broken attribute quoting"
    assert 'href="javascript' not in lowered and 'href="data' not in lowered and 'href="vbscript' not in lowered


def all_links(blocks: list[dict]) -> list[str]:
    links = []
    for block in blocks:
        runs = list(block.get("runs", []))
        for item in block.get("items", []):
            runs.extend(item["runs"])
        links.extend(r["link"] for r in runs if r["link"] is not None)
    return links


# ------------------------------------------------------------ hostile corpus

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<svg/onload=alert(1)>",
    '<div onmouseover="alert(1)">hover</div>',
    '<iframe src="https://evil.example"></iframe>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](jav&#x61;script:alert(1))",
    "[click](jav&#97;script&colon;alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](java%0ascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](file:///etc/passwd)",
    "[click](/relative/path) [anchor](#top) [proto-relative](//evil.example)",
    "<javascript:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "[ref][r]\n\n[r]: javascript:alert(1)",
    '[ref][r]\n\n[r]: jav&#x61;script:alert(1) "title"',
    "![x](javascript:alert(1))",
    '![x" onerror="alert(1)](https://example.org/i.png)',
    '[x](https://example.org "a\\" onmouseover=\\"alert(1)")',
    '[x](https://example.org/"onmouseover="alert(1))',
    "[<script>alert(1)</script>](https://example.org)",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "| a | b |\n|---|---|\n| <script>x</script> | [y](javascript:z) |",
    "<!-- comment --><style>body{}</style>",
    "&lt;script&gt; &#60;script&#62;",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_input_renders_safe_html(source: str) -> None:
    html = render_html(source)
    assert_safe(html)


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_input_gives_safe_blocks(source: str) -> None:
    blocks = to_blocks(source)
    json.dumps(blocks)  # plain data
    for link in all_links(blocks):
        assert safe_url(link) == link
        assert re.match(r"^(https?://|mailto:)", link)


def test_script_tags_are_escaped_text() -> None:
    assert render_html("<script>alert(1)</script>") == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"


def test_disallowed_link_keeps_only_its_text() -> None:
    for source in ("[Klick](javascript:alert(1))", "[Klick](jav&#x61;script:alert(1))", "[Klick](data:text/html,x)"):
        html = render_html(source)
        assert html == "<p>Klick</p>\n", html


def test_reference_link_with_entity_encoded_scheme_is_dropped() -> None:
    html = render_html("[Klick][r]\n\n[r]: jav&#x61;script:alert(1)")
    assert "href" not in html
    assert "Klick" in html


def test_external_links_get_rel_and_no_target() -> None:
    html = render_html("[Kreis](https://www.kreis-hoexter.de) <http://example.org> [Mail](mailto:info@kreis-hoexter.de)")
    assert '<a href="https://www.kreis-hoexter.de" rel="nofollow noopener">Kreis</a>' in html
    assert '<a href="http://example.org" rel="nofollow noopener">http://example.org</a>' in html
    assert '<a href="mailto:info@kreis-hoexter.de">Mail</a>' in html
    assert "target" not in html


def test_images_become_alt_text_or_a_link() -> None:
    assert render_html("![Logo](https://example.org/logo.png)") == (
        '<p><a href="https://example.org/logo.png" rel="nofollow noopener">Logo</a></p>\n'
    )
    assert render_html("![Logo <b>](data:image/png;base64,AAAA)") == "<p>Logo &lt;b&gt;</p>\n"
    nested = render_html("[![Logo](https://example.org/l.png)](https://example.org)")
    assert nested.count("<a ") == 1


def test_raw_html_and_linkify_are_off() -> None:
    assert "<b>" not in render_html("<b>fett</b>")
    assert "<a" not in render_html("siehe www.example.org und https://example.org")


def test_tables_and_commonmark() -> None:
    html = render_html("# Titel\n\n*kursiv* **fett**\n\n- a\n- b\n\n| A | B |\n|---|--:|\n| 1 | 2 |")
    assert "<h1>Titel</h1>" in html
    assert "<em>kursiv</em>" in html and "<strong>fett</strong>" in html
    assert "<ul>" in html and "<table>" in html
    assert_safe(html)


# ------------------------------------------------------------------- bombs

BOMBS = {
    "asterisks": "*" * 50_000,
    "underscores": "_" * 50_000,
    "alternating emphasis": "*a" * 25_000,
    "nested strong": "**" * 10_000 + "x" + "**" * 10_000,
    "block quotes": ">" * 50_000,
    "quote and list": "> - " * 12_000,
    "brackets": "[" * 50_000,
    "image brackets": "![[" * 15_000,
    "unclosed links": "[a](" * 12_000,
    "angle brackets": "<" * 50_000,
    "backticks": "`" * 50_000,
    "nested bullets": "".join("  " * i + "- x\n" for i in range(3_000)),
    "nested ordered": "".join("   " * i + "1. x\n" for i in range(3_000)),
    "inline list bomb": "- " * 25_000,
    "entities": "&#x61;" * 10_000,
    "table columns": "|" + "a|" * 10_000 + "\n|" + "-|" * 10_000 + "\n",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bombs_finish_and_stay_safe(name: str) -> None:
    source = BOMBS[name]
    html = render_html(source)
    assert_safe(html)
    blocks = to_blocks(source)
    json.dumps(blocks)
    text = to_plain_text(source)
    assert isinstance(text, str)
    # nesting is capped, so list levels stay small
    for block in blocks:
        for item in block.get("items", []):
            assert item["level"] < 20


def test_input_is_capped() -> None:
    html = render_html("a" * (MAX_INPUT_CHARS + 5_000))
    assert html.count("a") <= MAX_INPUT_CHARS


# ------------------------------------------------------------------ blocks


def test_blocks_structure() -> None:
    source = (
        "# Überschrift\n\n"
        "Text mit *Betonung*, **Fettem** und [Link](https://example.org).\n\n"
        "- eins\n  - eins a\n    1. tief\n- zwei\n\n"
        "3. drei\n4. vier\n\n"
        "> Zitat\n\n"
        "```\nCode <x>\nZeile 2\n```\n\n"
        "| Jahr | Betrag |\n|---|---|\n| 2019 | 1.000 € |\n"
    )
    blocks = to_blocks(source)
    json.dumps(blocks)
    assert blocks[0] == {"type": "heading", "level": 1, "runs": [{"text": "Überschrift", "strong": False, "emph": False, "link": None}]}
    para = blocks[1]
    assert para["type"] == "paragraph" and para["quote"] is False
    assert {"text": "Betonung", "strong": False, "emph": True, "link": None} in para["runs"]
    assert {"text": "Fettem", "strong": True, "emph": False, "link": None} in para["runs"]
    assert {"text": "Link", "strong": False, "emph": False, "link": "https://example.org"} in para["runs"]

    bullets = blocks[2]
    assert bullets["type"] == "list"
    assert [(i["level"], i["ordered"], i["number"], i["runs"][0]["text"]) for i in bullets["items"]] == [
        (0, False, None, "eins"),
        (1, False, None, "eins a"),
        (2, True, 1, "tief"),
        (0, False, None, "zwei"),
    ]
    ordered = blocks[3]
    assert [(i["number"], i["runs"][0]["text"]) for i in ordered["items"]] == [(3, "drei"), (4, "vier")]
    assert blocks[4] == {"type": "paragraph", "runs": [{"text": "Zitat", "strong": False, "emph": False, "link": None}], "quote": True}
    assert blocks[5]["runs"][0]["text"] == "Code <x>\nZeile 2"
    assert blocks[6] == {"type": "table", "header": True, "rows": [["Jahr", "Betrag"], ["2019", "1.000 €"]]}


def test_blocks_drop_unsafe_links_but_keep_text() -> None:
    blocks = to_blocks("[böse](javascript:alert(1)) und [gut](mailto:a@example.org)")
    runs = blocks[0]["runs"]
    assert "".join(r["text"] for r in runs) == "böse und gut"
    assert [r["link"] for r in runs if r["link"]] == ["mailto:a@example.org"]


def test_plain_text() -> None:
    text = to_plain_text("# Titel\n\nEin *kurzer* [Text](https://example.org).\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |")
    assert text == "Titel\n\nEin kurzer Text.\n\n• a\n• b\n\nx | y\n1 | 2"
    assert to_plain_text("") == ""
    assert "<script>" in to_plain_text("<script>x</script>")  # plain text, escaping is the caller's job


def test_safe_url() -> None:
    assert safe_url("https://example.org/a?b=c#d") == "https://example.org/a?b=c#d"
    assert safe_url("mailto:info@example.org") == "mailto:info@example.org"
    for bad in ("javascript:alert(1)", "data:text/html,x", "/relativ", "//evil.example", "http://", "ftp://x", "", None, "https://exa mple.org"):
        assert safe_url(bad) is None, bad


# ------------------------------------------------------------ German typography


@pytest.mark.parametrize(
    ("source", "literal"),
    [
        ("Bürger*innen und Mitarbeiter*innen", "Bürger*innen und Mitarbeiter*innen"),
        ("Bürger:innen und Mitarbeiter:innen", "Bürger:innen und Mitarbeiter:innen"),
        ("Bürger_innen und Mitarbeiter_innen", "Bürger_innen und Mitarbeiter_innen"),
        ("Kolleg*innen, Nutzer*innen und Bürger*innen", "Kolleg*innen, Nutzer*innen und Bürger*innen"),
        ("Version 2*3*4", "Version 2*3*4"),
    ],
)
def test_gender_forms_print_literally(source: str, literal: str) -> None:
    html = render_html(source)
    assert "<em>" not in html and "<strong>" not in html
    assert literal in html
    assert to_plain_text(source) == literal
    runs = to_blocks(source)[0]["runs"]
    assert all(not r["emph"] and not r["strong"] for r in runs)
    assert runs_text(runs) == literal


def test_emphasis_still_works_beside_gender_forms() -> None:
    html = render_html("Für *alle* Bürger*innen gilt **das** Gleiche.")
    assert "<em>alle</em>" in html
    assert "<strong>das</strong>" in html
    assert "Bürger*innen" in html
    runs = to_blocks("*wichtig* für Mitarbeiter*innen")[0]["runs"]
    assert runs[0] == {"text": "wichtig", "strong": False, "emph": True, "link": None}
    assert runs_text(runs) == "wichtig für Mitarbeiter*innen"


# ------------------------------------------------------------------ plain prose without the parser


def _parsed(text: str) -> str:
    """What markdown-it renders (render_html without its plain-prose path)."""
    from catalogue import markdown

    text = text[:MAX_INPUT_CHARS]
    return str(markdown._MD.renderer.render(markdown._parse(text), markdown._MD.options, {})) if text else ""


@pytest.mark.parametrize(
    "text",
    [
        "Ein Absatz.",
        'Erste Zeile\nzweite Zeile\n\n\nNeuer Absatz mit „Zitat“ und "Anführung".',
        "  Eingerückt\n   auch hier\n\nBürger*innen und Mitarbeiter*innen: 50 % mehr! Kontakt: info@example.org, https://example.org",
        "\n\nVorn und hinten Leerzeilen\n\n",
        "Nr. 1.5 und 2023 wurde es besser (siehe oben).",
    ],
)
def test_plain_prose_is_rendered_without_the_parser_to_the_same_html(text) -> None:
    from catalogue.markdown import _plain_html

    assert _plain_html(text) is not None
    assert render_html(text) == _parsed(text)


@pytest.mark.parametrize(
    "text",
    [
        "- Liste", "1. Liste", "2) Liste", "# Titel", "> Zitat", "Titel\n===", "Titel\n---", "***", "    Code", "a  \nb", "a\n \nb",
        "*betont*", "a *b*", "a*", "_x_", "`c`", "[l](https://x.de)", "<b>", "&amp;", "a\\\nb", "a | b", "~~~", "a\tb", "a\u00a0b", "a\r\nb",
        "Zeile\n12. März",
    ],
)
def test_anything_that_may_be_markdown_goes_to_the_parser(text) -> None:
    from catalogue.markdown import _plain_html

    assert _plain_html(text) is None
    assert render_html(text) == _parsed(text)


def test_plain_prose_path_matches_the_parser_on_random_and_real_texts() -> None:
    """Differential: random strings over the characters and line starts that matter, and the demo profiles' texts."""
    import random

    from catalogue.fields import markdown_paths
    from catalogue.markdown import _plain_html
    from catalogue.settings import PROJECT_ROOT

    pieces = [
        *"abcXYZäöüß019", " ", " ", "  ", "    ", "\n", "\n", "\n\n", " \n", "\n ", "\n   ", "*", "**", "a*b", "*a", "a*", "Bürger*innen",
        "-", "+", "#", "=", ">", ".", ")", "1.", "2)", "10.", "1.5", '"', "'", "!", ":", "@", "%", "{", "$", "^", "_", "&", "<", "\t",
        "\u00a0", "\u2028", "\u3000", "\x85", "\x0c", "\x00", "\r\n",
    ]  # fmt: skip
    rng = random.Random(10)
    plain = 0
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 24)))
        fast = _plain_html(text)
        if fast is not None:
            plain += 1
            assert fast == _parsed(text), repr(text)
    assert plain > 1000  # the random strings do reach the plain path
    demo = json.loads((PROJECT_ROOT / "data" / "demo" / "profiles.json").read_text(encoding="utf-8"))
    texts = []
    for profile in demo:
        for path in markdown_paths():
            value = profile
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value:
                texts.append(value)
    assert sum(_plain_html(t) is not None for t in texts) > len(texts) // 2
    for text in texts:
        assert render_html(text) == _parsed(text)
