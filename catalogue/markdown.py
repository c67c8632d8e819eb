"""Markdown for the long profile texts: safe HTML, PDF blocks, plain text.

All three outputs come from one markdown-it-py parser configured for
untrusted input:

* CommonMark plus tables; raw HTML off, linkify and typographer off.
* Links survive only with an http, https or mailto target. Anything else
  (javascript:, data:, vbscript:, relative or scheme-less targets, including
  entity-encoded schemes such as ``jav&#x61;script:``, which markdown-it
  decodes before we look) is dropped and only the link text remains.
* Images never become ``<img>``: an http(s) image becomes a link showing its
  alt text, anything else shows the alt text alone.
* Nesting is capped (``maxNesting``) and input is truncated at
  ``MAX_INPUT_CHARS`` so emphasis, quote and list bombs stay cheap.
* An asterisk between two letters or digits is text, not emphasis, so German
  gender forms ("Bürger*innen und Mitarbeiter*innen") print as written;
  ``*Hervorhebung*`` and ``**fett**`` at word boundaries work as usual.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

# The profile model caps a long text at 20,000 characters (MAX_MARKDOWN); this is a second
# line of defence for callers that render other input (previews, imports).
MAX_INPUT_CHARS = 20_000
# Block and inline nesting limit: enough for lists six levels deep.
MAX_NESTING = 20

LINK_REL = "nofollow noopener"

_HTTP_RE = re.compile(r"^https?://[^\s/?#]+", re.IGNORECASE)
_MAILTO_RE = re.compile(r"^mailto:[^\s]+$", re.IGNORECASE)


def safe_url(url: str | None) -> str | None:
    """Return `url` if it is an absolute http(s) or mailto URL, else None.

    Expects the URL as markdown-it hands it over: entities decoded and
    percent-encoded (so whitespace or control characters cannot hide a
    scheme). Whitelisting means every other scheme and every relative
    reference is refused.
    """
    if not url:
        return None
    if re.search(r"[\x00-\x20\x7f-\x9f]", url):
        return None
    if _HTTP_RE.match(url) or _MAILTO_RE.match(url):
        return url
    return None


def _mark_links(state: Any) -> None:
    """Core rule: decide once per link/image what survives.

    Sets ``meta["href"]`` on link_open/link_close (None = drop the tag) and
    ``meta["href"]`` on images (None = alt text only; images inside a link
    never become a nested link).
    """
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        stack: list[str | None] = []
        for token in block.children:
            if token.type == "link_open":
                href = safe_url(token.attrGet("href"))
                if stack and stack[-1] is not None:
                    href = None  # no nested anchors
                token.meta["href"] = href
                stack.append(href)
            elif token.type == "link_close":
                token.meta["href"] = stack.pop() if stack else None
            elif token.type == "image":
                src = safe_url(token.attrGet("src"))
                if src is not None and not src.lower().startswith("http"):
                    src = None
                if any(h is not None for h in stack):
                    src = None
                token.meta["href"] = src


def _render_link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    href = tokens[idx].meta.get("href")
    if href is None:
        return ""
    attrs = f' href="{escapeHtml(href)}"'
    title = tokens[idx].attrGet("title")
    if title:
        attrs += f' title="{escapeHtml(str(title))}"'
    if not href.lower().startswith("mailto:"):
        attrs += f' rel="{LINK_REL}"'
    return f"<a{attrs}>"


def _render_link_close(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return "</a>" if tokens[idx].meta.get("href") is not None else ""


def _render_image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    alt = _plain_inline(token.children or [])
    href = token.meta.get("href")
    if href is None:
        return escapeHtml(alt)
    return f'<a href="{escapeHtml(href)}" rel="{LINK_REL}">{escapeHtml(alt or href)}</a>'


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


def _intraword_asterisk(state: Any, silent: bool) -> bool:
    """Inline rule: a run of '*' with a letter or digit on both sides is literal text.

    CommonMark lets '*' open and close emphasis inside words, which turns
    "Bürger*innen und Mitarbeiter*innen" into italics and eats the stars.
    Runs before the emphasis rule, so such a run never becomes a delimiter.
    """
    pos = state.pos
    src = state.src
    if src[pos] != "*" or pos == 0 or not _is_word_char(src[pos - 1]):
        return False
    end = pos
    while end < state.posMax and src[end] == "*":
        end += 1
    if end >= state.posMax or not _is_word_char(src[end]):
        return False
    if not silent:
        state.pending += src[pos:end]
    state.pos = end
    return True


def _build_parser() -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": False, "typographer": False, "maxNesting": MAX_NESTING},
    )
    md.enable("table")
    md.inline.ruler.before("emphasis", "leuchtturm_intraword_asterisk", _intraword_asterisk)
    # Accept every target at parse time so that a refused link still shows
    # its text; the core rule and renderers decide what becomes a link.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    md.core.ruler.push("leuchtturm_links", _mark_links)
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("link_close", _render_link_close)
    md.add_render_rule("image", _render_image)
    return md


_MD = _build_parser()


def _parse(text: str) -> list[Token]:
    return _MD.parse((text or "")[:MAX_INPUT_CHARS])


RENDER_CACHE_SIZE = 2048  # texts, each at most MAX_INPUT_CHARS

# Plain prose: paragraphs of text with nothing the parser would read as Markdown, most profile texts (a profile
# read renders some five). Such a text is rendered without the parser (`_plain_html`), to the same HTML. Refused
# (the parser decides): a character that starts inline syntax (backslash escapes, code, emphasis, links, images,
# autolinks and HTML, entities, tables, fences), whitespace other than the space and the line break, a control
# character; an asterisk that is not between two letters or digits (there `_intraword_asterisk` keeps it as text);
# a line that may open a block (indented code, a list, quote, heading, rule or setext underline) or ends in a space
# (a hard break, or a blank line made of spaces).
_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and c not in " \n")  # tabs, CR, NBSP, U+2028 …
_NOT_PLAIN_CHAR = re.compile("[\\\\`_\\[\\]<>&|~\x00-\x09\x0b-\x1f\x7f-\x9f" + _WHITESPACE + "]")
_LONE_ASTERISK = re.compile(r"(?<![^\W_])\*|\*(?![^\W_])")  # [^\W_]: str.isalnum, as `_is_word_char`
_BLOCK_START = re.compile(r" {4}| {0,3}(?:[-+*>#=]|\d+[.)])")  # at a line's start: indented code, a block's marker


def _plain_html(text: str) -> str | None:
    """The HTML markdown-it renders for plain prose (paragraphs split at blank lines, a line break inside one kept as
    a soft break, leading spaces dropped, `"` escaped), or None when `text` is not plain prose."""
    if _NOT_PLAIN_CHAR.search(text) or ("*" in text and _LONE_ASTERISK.search(text)):
        return None
    paragraphs: list[list[str]] = []
    lines: list[str] = []
    for line in text.split("\n"):
        if not line:
            if lines:
                paragraphs.append(lines)
                lines = []
        elif line[-1] == " " or _BLOCK_START.match(line):
            return None
        else:
            lines.append(line.lstrip(" "))
    if lines:
        paragraphs.append(lines)
    return "".join("<p>" + "\n".join(p) + "</p>\n" for p in paragraphs).replace('"', "&quot;")


@lru_cache(maxsize=RENDER_CACHE_SIZE)
def render_html(text: str) -> str:
    """Render untrusted Markdown to safe HTML (see module docstring).

    Cached by the text itself (a pure function of it): a profile read renders
    each of its Markdown fields once per version, not once per request. Plain
    prose skips the parser (`_plain_html`, the same HTML).
    """
    if not text:
        return ""
    text = text[:MAX_INPUT_CHARS]
    plain = _plain_html(text)
    if plain is not None:
        return plain
    return str(_MD.renderer.render(_parse(text), _MD.options, {}))


# ------------------------------------------------------------ PDF blocks


def _plain_inline(children: Sequence[Token]) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(_plain_inline(child.children or []))
    return "".join(parts)


def _run(text: str, strong: bool, emph: bool, link: str | None) -> dict[str, Any]:
    return {"text": text, "strong": strong, "emph": emph, "link": link}


def _append_run(runs: list[dict[str, Any]], run: dict[str, Any]) -> None:
    if not run["text"]:
        return
    if runs:
        last = runs[-1]
        if (last["strong"], last["emph"], last["link"]) == (run["strong"], run["emph"], run["link"]):
            last["text"] += run["text"]
            return
    runs.append(run)


def _inline_runs(token: Token) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    strong = emph = 0
    links: list[str | None] = []

    def current_link() -> str | None:
        for href in reversed(links):
            if href is not None:
                return href
        return None

    for child in token.children or []:
        kind = child.type
        if kind in ("text", "code_inline"):
            _append_run(runs, _run(child.content, strong > 0, emph > 0, current_link()))
        elif kind == "softbreak":
            _append_run(runs, _run(" ", strong > 0, emph > 0, current_link()))
        elif kind == "hardbreak":
            _append_run(runs, _run("\n", strong > 0, emph > 0, current_link()))
        elif kind == "strong_open":
            strong += 1
        elif kind == "strong_close":
            strong = max(0, strong - 1)
        elif kind == "em_open":
            emph += 1
        elif kind == "em_close":
            emph = max(0, emph - 1)
        elif kind == "link_open":
            links.append(child.meta.get("href"))
        elif kind == "link_close":
            if links:
                links.pop()
        elif kind == "image":
            src = child.meta.get("href")
            alt = _plain_inline(child.children or [])
            link = current_link() or src
            _append_run(runs, _run(alt or (src or ""), strong > 0, emph > 0, link))
    return runs


def _text_runs(text: str) -> list[dict[str, Any]]:
    return [_run(text, False, False, None)] if text else []


def to_blocks(text: str) -> list[dict[str, Any]]:
    """Turn Markdown into plain-data blocks for the PDF template.

    Block shapes (all JSON-serialisable):

    * ``{"type": "paragraph", "runs": [...], "quote": bool}`` — paragraphs,
      block-quote paragraphs (quote=True) and code (as one plain run, line
      breaks kept as "\\n").
    * ``{"type": "heading", "level": 1..6, "runs": [...]}`` — shown bold.
    * ``{"type": "list", "items": [{"level": int, "ordered": bool,
      "number": int | None, "runs": [...]}]}`` — nested lists flattened,
      level 0 at the top; a paragraph that follows a nested list inside an
      item becomes an item without a marker (number None, ordered False,
      "continued": True).
    * ``{"type": "table", "header": bool, "rows": [[str, ...], ...]}``.

    A run is ``{"text": str, "strong": bool, "emph": bool, "link": url | None}``
    where url is http(s) or mailto only.
    """
    tokens = _parse(text)
    blocks: list[dict[str, Any]] = []
    lists: list[dict[str, Any]] = []  # open lists: ordered, next number
    items: list[dict[str, Any]] = []  # open items, innermost last
    list_block: dict[str, Any] | None = None
    quote_depth = 0
    table: dict[str, Any] | None = None

    def item_target() -> list[dict[str, Any]] | None:
        """Runs of the innermost open list item (new continuation if needed)."""
        if not items or list_block is None:
            return None
        item = items[-1]
        if item.get("_has_children"):
            cont = {"level": item["level"], "ordered": False, "number": None, "runs": [], "continued": True}
            list_block["items"].append(cont)
            item["_has_children"] = False
            items[-1] = cont
            runs: list[dict[str, Any]] = cont["runs"]
            return runs
        own: list[dict[str, Any]] = item["runs"]
        return own

    def add_runs(runs: list[dict[str, Any]], *, heading_level: int | None = None) -> None:
        target = item_target()
        if target is not None:
            if target and runs:
                _append_run(target, _run(" ", False, False, None))
            for r in runs:
                _append_run(target, dict(r))
            return
        if not runs:
            return
        if heading_level is not None:
            blocks.append({"type": "heading", "level": heading_level, "runs": runs})
        else:
            blocks.append({"type": "paragraph", "runs": runs, "quote": quote_depth > 0})

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kind = tok.type
        if kind == "heading_open":
            inline = tokens[i + 1] if i + 1 < len(tokens) else None
            runs = _inline_runs(inline) if inline is not None and inline.type == "inline" else []
            add_runs(runs, heading_level=int(tok.tag[1:]) if tok.tag[1:].isdigit() else 1)
            i += 3
            continue
        if kind == "inline" and table is not None:
            table["_cell"].append(_plain_inline(tok.children or []))
        elif kind == "inline":
            add_runs(_inline_runs(tok))
        elif kind in ("fence", "code_block"):
            add_runs(_text_runs(tok.content.rstrip("\n")))
        elif kind == "blockquote_open":
            quote_depth += 1
        elif kind == "blockquote_close":
            quote_depth = max(0, quote_depth - 1)
        elif kind in ("bullet_list_open", "ordered_list_open"):
            ordered = kind == "ordered_list_open"
            start = tok.attrGet("start") if ordered else None
            if list_block is None:
                list_block = {"type": "list", "items": []}
                blocks.append(list_block)
            if items:
                items[-1]["_has_children"] = True
            lists.append({"ordered": ordered, "next": int(start) if start is not None else 1})
        elif kind in ("bullet_list_close", "ordered_list_close"):
            if lists:
                lists.pop()
            if not lists:
                list_block = None
        elif kind == "list_item_open" and lists and list_block is not None:
            info = lists[-1]
            item = {
                "level": len(lists) - 1,
                "ordered": info["ordered"],
                "number": info["next"] if info["ordered"] else None,
                "runs": [],
            }
            info["next"] += 1
            list_block["items"].append(item)
            items.append(item)
        elif kind == "list_item_close":
            if items:
                items.pop()
        elif kind == "table_open":
            table = {"type": "table", "header": False, "rows": [], "_cell": []}
        elif kind == "thead_open" and table is not None:
            table["header"] = True
        elif kind == "tr_open" and table is not None:
            table["_cell"] = []
        elif kind == "tr_close" and table is not None:
            table["rows"].append(table["_cell"])
            table["_cell"] = []
        elif kind == "table_close" and table is not None:
            table.pop("_cell", None)
            if table["rows"]:
                target = item_target()
                if target is not None:
                    for row in table["rows"]:
                        add_runs(_text_runs(" | ".join(row)))
                else:
                    blocks.append(table)
            table = None
        i += 1

    # Drop bookkeeping keys and empty items so the result is plain data.
    for block in blocks:
        if block["type"] == "list":
            block["items"] = [
                {k: v for k, v in item.items() if not k.startswith("_")} for item in block["items"] if item["runs"]
            ]
    return [b for b in blocks if b["type"] != "list" or b["items"]]


def runs_text(runs: Sequence[dict[str, Any]]) -> str:
    return "".join(r["text"] for r in runs)


def blocks_to_plain_text(blocks: Sequence[dict[str, Any]]) -> str:
    parts: list[str] = []
    for block in blocks:
        kind = block["type"]
        if kind in ("paragraph", "heading"):
            parts.append(runs_text(block["runs"]))
        elif kind == "list":
            lines = []
            for item in block["items"]:
                if item.get("continued"):
                    marker = "  "
                elif item["ordered"]:
                    marker = f"{item['number']}. "
                else:
                    marker = "• "
                lines.append("  " * item["level"] + marker + runs_text(item["runs"]))
            parts.append("\n".join(lines))
        elif kind == "table":
            parts.append("\n".join(" | ".join(row) for row in block["rows"]))
    return "\n\n".join(p for p in parts if p.strip())


@lru_cache(maxsize=RENDER_CACHE_SIZE)
def to_plain_text(text: str) -> str:
    """Markdown without markup, for search indexing and snippets.

    Paragraphs are separated by blank lines, list items are one line each
    (with "•" or "1." markers), link targets are left out.
    """
    if not text:
        return ""
    return blocks_to_plain_text(to_blocks(text))


__all__ = [
    "MAX_INPUT_CHARS",
    "MAX_NESTING",
    "blocks_to_plain_text",
    "render_html",
    "runs_text",
    "safe_url",
    "to_blocks",
    "to_plain_text",
]
