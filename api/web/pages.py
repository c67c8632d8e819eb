"""Public pages: the search page (/), the profile page (/profiles/{slug}, and its PDF) and the comparison (/compare)."""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jinja2 import Environment
from litestar import Controller, Request, Response, get
from litestar.params import FromPath
from litestar.response import Template
from markupsafe import Markup

from api.auth import resolve_principal
from api.controllers.pdf import comparison_profiles, dump, profile_pdf_response, profile_url, shows_sample, today
from api.web.common import page, service
from api.web.reuse import reuse_context, saveable_query
from api.web.sessions import session_user
from api.web.templating import json_ld
from catalogue import adoption, gazetteer
from catalogue import fields as registry
from catalogue.access import PUBLIC_LABEL, principal_labels
from catalogue.errors import CatalogueError, NotFound
from catalogue.freshness import cutoff as stale_cutoff
from catalogue.jsonld import json_ld_for
from catalogue.lru import LRU
from catalogue.models import Profile, utcnow
from catalogue.pdf import comparison_view
from catalogue.search import FACET_LABELS, FACETS, SORT_LABELS, SearchBackend, SearchQuery, SearchResult, Sort
from catalogue.search.base import MAX_FILTER_VALUES, MAX_PER_PAGE
from catalogue.search.comparable import Comparable, Reference, find_comparable, reference_for
from catalogue.search.documents import ADOPTION_STAGES
from catalogue.search.url_state import FACET_PARAMS, FACET_VALUES, FRESHNESS_LABELS, FRESHNESS_PARAM, facet_value_ok, freshness_bounds
from catalogue.users import User, remembered_user
from catalogue.vocabularies import EditorialStatus, SizeClass

log = logging.getLogger("leuchtturm.web")

PER_PAGE = 10
# URL parameter of each facet (German, short, shareable) and its allowed values, in display order
# (field registry, then the editorial facets such as "Nachnutzung"): catalogue/search/url_state.py.
SIZE_HINTS: dict[str, str] = {
    SizeClass.RURAL.value: "unter 5.000 Einwohner",
    SizeClass.SMALL_TOWN.value: "5.000 bis 20.000",
    SizeClass.MEDIUM_TOWN.value: "20.000 bis 100.000",
    SizeClass.LARGE_CITY.value: "ab 100.000",
    SizeClass.DISTRICT.value: "Landkreise",
}


@dataclass
class FacetOption:
    value: str
    count: int
    selected: bool
    hint: str = ""


@dataclass
class FacetView:
    name: str
    param: str
    label: str
    options: list[FacetOption] = field(default_factory=list)

    @property
    def selected_count(self) -> int:
        return sum(1 for o in self.options if o.selected)


def _int_param(raw: str | None, lo: int, hi: int) -> int | str | None:
    """An int in [lo, hi]; None when empty; the raw text when invalid."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip().replace(".", "").replace(" ", "")
    if not re.fullmatch(r"\d{1,12}", text):
        return raw
    value = int(text)
    return value if lo <= value <= hi else raw


# ------------------------------------------------------------ "Kommunen wie meine"


@dataclass
class MyMunicipality:
    """What the user said about their municipality, and what we made of it."""

    kommune: str = ""
    einwohner: str = ""
    land: str = ""
    population: int | None = None
    state: str | None = None
    kind: str | None = None
    name: str | None = None
    error: str | None = None
    choices: list[Any] = field(default_factory=list)
    size_class: str | None = None
    urbanisation: str | None = None
    population_as_of: str | None = None
    attribution: str | None = None  # the register's figures are shown with their source

    @property
    def active(self) -> bool:
        return self.population is not None or self.state is not None

    @property
    def asked(self) -> bool:
        return bool(self.kommune.strip() or self.einwohner.strip() or self.land.strip())


async def resolve_my_municipality(kommune: str, einwohner: str, land: str) -> MyMunicipality:
    """What "Kommunen wie meine" compares with: a body of the register (by name or key), or population and Land.

    Keyed reads only: the name key document, then the chosen entry.
    """
    me = MyMunicipality(kommune=kommune[:200], einwohner=einwohner[:30], land=land[:60])
    if not me.asked:
        return me
    if me.kommune.strip():
        text = me.kommune.strip()
        m = re.search(r"\((\d{2}|\d{3}|\d{5}|\d{8}|\d{9})\)\s*$|^\s*(\d{2}|\d{3}|\d{5}|\d{8}|\d{9})\s*$", text)
        key = (m.group(1) or m.group(2)) if m else None
        refs = [{"key": key}] if key else await gazetteer.find_by_name(re.sub(r"\s*\(.*\)\s*$", "", text))
        if len(refs) == 1:
            entry = await gazetteer.get(refs[0]["key"])
            if entry is not None:
                entry = await gazetteer.get(entry.same_as) or entry if entry.same_as else entry
                me.name = entry.label
                me.population = entry.population
                me.state = entry.state.value if entry.state else None
                me.kind = entry.kind.value if entry.kind else None
                me.size_class = entry.size_class.value if entry.size_class else None
                me.urbanisation = entry.urbanisation
                me.population_as_of = entry.population_as_of
                me.attribution = await gazetteer.attribution()
                return me
            refs = []
        if len(refs) > 1:
            me.choices = [
                {"label": r["display_name"], "key": r["key"], "detail": ", ".join(x for x in (r.get("kind_label"), r.get("kreis_name"), r.get("state")) if x)}
                for r in refs
            ]
            me.error = "Diesen Namen gibt es im Gemeindeverzeichnis mehrmals. Welche Kommune meinen Sie? Bitte wählen Sie aus der Liste."
            return me
        if not me.einwohner.strip() and not me.land.strip():
            me.error = (
                f"„{text}“ steht nicht im Gemeindeverzeichnis. Bitte prüfen Sie die Schreibweise "
                "oder geben Sie stattdessen Einwohnerzahl oder Bundesland an."
            )
            return me
    population = _int_param(me.einwohner, 0, 100_000_000)
    if isinstance(population, str):
        me.error = "Bitte geben Sie die Einwohnerzahl als ganze Zahl an, zum Beispiel 28.808."
        return me
    me.population = population
    if me.land:
        if me.land in FACET_VALUES["state"]:
            me.state = me.land
        else:
            me.error = "Bitte wählen Sie ein Bundesland aus der Liste."
            return me
    if me.population is None and me.state is None:
        me.error = "Bitte geben Sie eine Einwohnerzahl oder ein Bundesland an."
    return me


# ------------------------------------------------------------ "Meinten Sie …?"


async def did_you_mean(search: SearchBackend, q: str) -> str | None:
    """A corrected query for a search without hits.

    Asks the engine first (`SearchBackend.suggest`); when it has none, compares
    each query word with the words of published titles, keywords,
    Handlungsfelder and participating municipalities (difflib, close matches
    only), taken from the search index with the public label only (never a
    draft's words).
    """
    try:
        suggestion = await search.suggest(q)
    except Exception:  # noqa: BLE001 - a suggestion is optional
        suggestion = None
    if suggestion:
        return suggestion
    words = re.findall(r"[\wÄÖÜäöüß-]{3,}", q)
    if not words:
        return None
    vocabulary = await _known_words(search)
    if not vocabulary:
        return None
    changed = False
    out = q
    for word in words:
        if word.casefold() in vocabulary:
            continue
        match = difflib.get_close_matches(word.casefold(), list(vocabulary), n=1, cutoff=0.75)
        if match:
            out = re.sub(rf"\b{re.escape(word)}\b", vocabulary[match[0]], out, count=1)
            changed = True
    return out if changed else None


VOCABULARY_DOCS = 1000  # newest published profiles whose words make the vocabulary
VOCABULARY_TTL_S = 300.0
_vocabularies: weakref.WeakKeyDictionary[Any, tuple[float, dict[str, str]]] = weakref.WeakKeyDictionary()


async def _known_words(search: SearchBackend) -> dict[str, str]:
    """Folded word -> spelling, from published profiles in the index; kept for VOCABULARY_TTL_S per engine."""
    cached = _vocabularies.get(search)
    now = time.monotonic()
    if cached is not None and now - cached[0] < VOCABULARY_TTL_S:
        return cached[1]
    words: dict[str, str] = {}
    per_page = MAX_PER_PAGE
    for page_no in range(1, VOCABULARY_DOCS // per_page + 1):
        query = SearchQuery(
            filters={"status": [EditorialStatus.PUBLISHED.value]}, sort=Sort.NEWEST, page=page_no, per_page=per_page, facets=()
        )
        result = await search.search(query, labels=(PUBLIC_LABEL,))
        for hit in result.hits:
            doc = hit.document
            texts = [doc.get("title") or "", *(doc.get("keywords") or []), *(doc.get("fields_of_action") or [])]
            texts.append(doc.get("lead") or "")
            texts.extend(doc.get("municipalities") or [])
            for text in texts:
                for w in re.findall(r"[\wÄÖÜäöüß-]{3,}", str(text)):
                    words.setdefault(w.casefold(), w)
        if page_no >= result.pages:
            break
    _vocabularies[search] = (now, words)
    return words


# ------------------------------------------------------------ search page


def _facet_views(params: Any, result: SearchResult | None, selected: dict[str, list[str]]) -> list[FacetView]:
    views = []
    for name in FACETS:
        counts = result.facets.get(name, {}) if result else {}
        view = FacetView(name=name, param=FACET_PARAMS[name], label=FACET_LABELS[name])
        fixed = FACET_VALUES[name]
        if fixed is None:  # open: the counted values, most first, then the selected ones the search no longer finds
            counted = sorted(counts, key=lambda v: (-int(counts[v]), v))
            fixed = (*counted, *(v for v in selected.get(name, []) if v not in counts))
        for value in fixed:
            count = int(counts.get(value, 0))
            is_selected = value in selected.get(name, [])
            if count or is_selected:
                view.options.append(FacetOption(value, count, is_selected, SIZE_HINTS.get(value, "") if name == "size_class" else ""))
        views.append(view)
    return views


FEW_RESULTS = 2  # up to this many hits, "Meinten Sie …" is offered when another spelling finds more


async def _count(search: SearchBackend, labels: Any, q: str, filters: dict[str, list[str]]) -> int:
    """How many published projects a search finds (no facets, one hit)."""
    query = SearchQuery(q=q, filters={**filters, "status": [EditorialStatus.PUBLISHED.value]}, per_page=1, facets=())
    return (await search.search(query, labels=labels)).total


class SearchPageController(Controller):
    include_in_schema = False

    @get("/", name="web:search")
    async def search_page(self, request: Request) -> Template:
        params = request.query_params
        q = str(params.get("q") or "").strip()[:500]
        selected: dict[str, list[str]] = {}
        for name, param in FACET_PARAMS.items():
            given = [str(v).strip() for v in params.getall(param, [])]
            values = [v for v in given if facet_value_ok(name, v)][:MAX_FILTER_VALUES]
            if values:
                selected[name] = list(dict.fromkeys(values))
        errors: dict[str, str] = {}
        since_min = _int_param(params.get("seit_von"), 1900, 2100)
        since_max = _int_param(params.get("seit_bis"), 1900, 2100)
        if isinstance(since_min, str):
            errors["seit_von"] = "Bitte eine Jahreszahl zwischen 1900 und heute angeben."
            since_min = None
        if isinstance(since_max, str):
            errors["seit_bis"] = "Bitte eine Jahreszahl zwischen 1900 und heute angeben."
            since_max = None
        freshness = str(params.get(FRESHNESS_PARAM) or "")
        confirmed_min, confirmed_max = freshness_bounds(freshness, utcnow())
        sort_raw = str(params.get("sort") or Sort.RELEVANCE.value)
        sort = Sort(sort_raw) if sort_raw in {s.value for s in Sort} else Sort.RELEVANCE
        page_no = _int_param(params.get("seite"), 1, 1000)
        page_no = page_no if isinstance(page_no, int) else 1

        me = await resolve_my_municipality(
            str(params.get("kommune") or ""), str(params.get("einwohner") or ""), str(params.get("wie_land") or "")
        )
        search = request.app.state.runtime.search
        labels = principal_labels(await resolve_principal(request))
        result: SearchResult | None = None
        unavailable = False
        suggestion: str | None = None
        comparable: list[Comparable] = []
        words_only: int | None = None
        status = 200
        try:
            result = await search.search(
                SearchQuery(
                    q=q,
                    filters={**selected, "status": [EditorialStatus.PUBLISHED.value]},
                    since_min=since_min,
                    since_max=since_max,
                    confirmed_min=confirmed_min,
                    confirmed_max=confirmed_max,
                    sort=sort,
                    page=page_no,
                    per_page=PER_PAGE,
                ),
                labels=labels,
            )
            if me.active:
                ref = Reference.for_municipality(
                    population=me.population,
                    state=me.state,
                    kind=me.kind,
                    fields_of_action=selected.get("fields_of_action", []),
                    text=q,
                )
                # only projects the active search finds (its words and facet filters)
                comparable = await find_comparable(search, ref, labels=labels, limit=5, q=q, filters=selected)
            if result.total <= FEW_RESULTS and q:
                suggestion = await did_you_mean(search, q)
                if suggestion and result.total and await _count(search, labels, suggestion, selected) <= result.total:
                    suggestion = None  # "Meinten Sie …" only when the other spelling finds more
            if result.total == 0 and (selected or since_min or since_max):
                words_only = await _count(search, labels, q, {})  # did the words or the filters empty the list?
        except ValueError as exc:
            errors["q"] = str(exc)
        except Exception:
            log.exception("search failed for %r", q)
            unavailable = True
            status = 503
        has_filters = bool(selected or since_min or since_max or confirmed_min or confirmed_max)
        pairs = [(k, v) for k, v in params.multi_items() if k != "hinweis"]
        principal = await resolve_principal(request)
        return await page(
            request,
            "search.html",
            status_code=status,
            q=q,
            result=result,
            facets=_facet_views(params, result, selected),
            selected=selected,
            since_min=params.get("seit_von") or "",
            since_max=params.get("seit_bis") or "",
            sort=sort.value,
            sort_labels={s.value: label for s, label in SORT_LABELS.items()},
            errors=errors,
            unavailable=unavailable,
            suggestion=suggestion,
            has_filters=has_filters,
            words_only=words_only,
            params=pairs,
            me=me,
            comparable=comparable,
            states=FACET_VALUES["state"],
            facet_params=FACET_PARAMS,
            freshness=freshness if confirmed_min or confirmed_max else "",
            freshness_labels=FRESHNESS_LABELS,
            stale_after=stale_cutoff(utcnow()),
            can_save_search=principal is not None,
            saved_query=saveable_query(pairs),
        )


# ------------------------------------------------------------ profile page

@dataclass(frozen=True)
class ShownItem:
    """A field as one section of the profile page shows it (see api/templates/_shown.html)."""

    field: registry.Field
    show: registry.Show
    value: Any

    @property
    def label(self) -> str:
        return self.show.label or self.field.display_label


@cache
def _page_layout() -> tuple[tuple[registry.ViewSection, tuple[tuple[registry.Field, registry.Show], ...]], ...]:
    """The page view's sections and the fields each shows, in order (the registry is fixed: worked out once)."""
    return tuple(
        (section, tuple(registry.shown(registry.View.PAGE, section.key)))
        for section in registry.VIEW_SECTIONS
        if section.view is registry.View.PAGE
    )


def page_sections(profile: Profile) -> list[tuple[registry.ViewSection, list[ShownItem]]]:
    """The profile page's sections in order, each with the fields it shows that have a value."""
    out = []
    for section, fields in _page_layout():
        items = [ShownItem(f, s, registry.value_at(profile, f.path)) for f, s in fields if registry.applies(f, profile)]
        out.append((section, [item for item in items if registry.is_present(item.value)]))
    return out


@dataclass(frozen=True, slots=True)
class ProfileFragments:
    """The parts of the profile page that depend on the profile's revision alone (not on the caller)."""

    sections: Markup  # api/templates/_profile_sections.html
    jsonld: Markup  # the JSON-LD block's content


PROFILE_FRAGMENTS_SIZE = 256  # revisions; a fragment is some 5 to 20 KB of HTML (at most some 150 KB: long texts are capped)
PROFILE_FRAGMENTS: LRU[tuple[str, str, str], ProfileFragments] = LRU(PROFILE_FRAGMENTS_SIZE)


def profile_fragments(env: Environment, profile: Profile, url: str) -> ProfileFragments:
    """The sections (Markdown rendered and sanitised, the registry's display kinds) and the JSON-LD of one revision.

    Rendered once per revision (`revision_id`, a new uuid4 on every write, so
    an edit is shown on the next read) and kept for the most recent
    PROFILE_FRAGMENTS_SIZE revisions. Who may see the profile is checked on
    every request before this is called; the fragments show nothing that
    depends on the caller. A profile stored without a revision is rendered every time.
    """

    def render() -> ProfileFragments:
        sections = env.get_template("_profile_sections.html").render(
            profile=profile, sections=page_sections(profile), population_body=registry.population_body(profile)
        )
        return ProfileFragments(sections=Markup(sections), jsonld=json_ld(json_ld_for(profile, url)))  # noqa: S704 - autoescaped template

    if profile.revision_id is None:
        return render()
    return PROFILE_FRAGMENTS.get_or_compute((str(profile.id), str(profile.revision_id), url), render)


class ProfilePageController(Controller):
    include_in_schema = False

    @get("/profiles/{slug:str}", name="web:profile")
    async def profile_page(self, request: Request, slug: FromPath[str]) -> Response:
        if slug.endswith(".pdf"):  # Litestar cannot route "{slug}.pdf" beside "{slug}"
            return await profile_pdf_response(request, slug.removesuffix(".pdf"), request.query_params.get("umfang"))
        return await profile_page_response(request, slug)


PANEL_SIZE = 5  # comparable projects the profile page shows


class _ReadAhead:
    """The profile page's keyed reads by the profile's id alone, started while the profile itself is read.

    Its search document (index, with the caller's labels: the reference for
    "vergleichbare Projekte"), its adoption summary (store; for an anonymous
    caller only when that document names visible adopters), the user
    that document names as owner (store), and the comparable projects for
    that document (index), searched as soon as it is there. The profile read
    decides whether the id still holds; when it does not, these are dropped
    and started again. Nothing is shown before the caller is checked on the
    profile, and the panel only when the document holds the profile's version.
    """

    def __init__(
        self, search: SearchBackend, profile_id: Any, labels: Sequence[str], *, anonymous: bool, caller: User | None = None
    ) -> None:
        self.profile_id = profile_id
        self.caller = caller  # the caller's user, read with its session: not read again when it is the owner
        self.document = asyncio.ensure_future(search.document(str(profile_id), labels=labels))
        self.summary = asyncio.ensure_future(self._summary(anonymous))
        self.owner = asyncio.ensure_future(self._owner())
        self.panel = asyncio.ensure_future(self._panel(search, labels))

    async def _panel(self, search: SearchBackend, labels: Sequence[str]) -> list[Comparable] | None:
        """The comparable projects of the indexed document (None without one): the page's panel when that is the profile's version."""
        doc = await asyncio.shield(self.document)
        if doc is None:
            return None
        return await find_comparable(search, Reference.from_document(doc), labels=labels, limit=PANEL_SIZE)

    async def _summary(self, anonymous: bool) -> dict[str, Any] | None:
        """The adoption summary (store); for an anonymous caller not when the indexed document says no municipality
        has a visible entry, since such a caller is shown the visible entries only.

        The worker indexes the profile right after each change of its summary
        (and before an adopter's write is answered), as it does for the lists.
        Without the document, or a document without that key, the summary is read.
        """
        if anonymous:
            try:
                doc = await asyncio.shield(self.document)
            except Exception:  # noqa: BLE001 - the search is down: the summary is read
                doc = None
            if doc is not None and ADOPTION_STAGES in doc and not doc[ADOPTION_STAGES]:
                return None
        return await adoption.summary_of(str(self.profile_id))

    async def _owner(self) -> tuple[str | None, User | None]:
        """(the owner the index document names, that user); (None, None) without a document."""
        try:
            doc = await asyncio.shield(self.document)
        except Exception:  # noqa: BLE001 - the search is down: the owner is read from the profile instead
            return None, None
        owner = str(doc.get("owner") or "") if doc is not None else None
        if owner and self.caller is not None and owner == self.caller.username:
            return owner, self.caller
        return owner, await remembered_user(owner) if owner else None

    async def indexed(self) -> dict[str, Any] | None:
        return await asyncio.shield(self.document)

    def cancel(self) -> None:
        for task in (self.summary, self.document, self.owner, self.panel):
            _drop(task)


def _drop(task: asyncio.Future[Any]) -> None:
    task.cancel()
    task.add_done_callback(_consume)


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a dropped read's failure is not logged as "never retrieved"


async def profile_page_response(request: Request, slug: str, *, status_code: int = 200, **extra: Any) -> Response:
    """The profile page; `extra` goes into the template (the adoption form's errors and values after a failed post).

    Store reads: the caller's session and its user, and the slug key (unless
    remembered), then side by side the profile, its adoption summary (for an
    anonymous caller only when the index document names visible adopters) and
    its owner's user (named by the index document, which also gives the
    comparable panel its reference; not read again when the caller is the
    owner). The sections and JSON-LD are rendered once per revision (`profile_fragments`).
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,99}", slug):
        raise NotFound(f"Es gibt kein Profil „{slug[:100]}“.")
    svc = service(request)
    principal, located = await asyncio.gather(resolve_principal(request), svc.locate(slug))  # both keyed reads
    search, labels = request.app.state.runtime.search, principal_labels(principal)
    caller = session_user(request, principal)  # read with the session: not read again
    ahead = _ReadAhead(search, located, labels, anonymous=principal is None, caller=caller) if located is not None else None
    try:
        profile = await svc.get(slug, principal, located=located)
    except BaseException:
        if ahead is not None:
            ahead.cancel()
        raise
    if ahead is None or ahead.profile_id != profile.id:  # the remembered id was stale
        if ahead is not None:
            ahead.cancel()
        ahead = _ReadAhead(search, profile.id, labels, anonymous=principal is None, caller=caller)
    base = request.app.state.settings.public_base_url
    url = f"{base}/profiles/{profile.slug}"

    async def comparable_projects() -> list[Comparable] | None:
        try:
            indexed = await ahead.indexed()
            if indexed is not None and indexed.get("version") == profile.version:
                return await asyncio.shield(ahead.panel)  # searched from this document while the profile was read
            _drop(ahead.panel)  # searched for another version: compared afresh
            reference = await reference_for(profile, indexed)
            return await find_comparable(search, reference, labels=labels, limit=PANEL_SIZE)
        except Exception:
            log.exception("comparable projects failed for %s", slug)
            return None

    # the panel (index) and the adoption and owner facts (store) do not depend on each other
    found, reuse = await asyncio.gather(
        comparable_projects(), reuse_context(principal, profile, summary=ahead.summary, owner_user=ahead.owner, caller=caller)
    )
    comparable: list[Comparable] = found or []
    comparable_unavailable = found is None
    is_owner = principal is not None and principal.username == profile.owner
    return await page(
        request,
        "profile.html",
        status_code=status_code,
        **reuse,
        **extra,
        profile=profile,
        url=url,
        fragments=profile_fragments(request.app.template_engine.engine, profile, url),  # type: ignore[union-attr]
        comparable=comparable,
        comparable_unavailable=comparable_unavailable,
        can_edit=principal is not None and (principal.is_reviewer or (is_owner and profile.status == EditorialStatus.DRAFT)),
        can_see_history=principal is not None and (principal.is_reviewer or is_owner),
        can_confirm=principal is not None and (principal.is_reviewer or is_owner),
        sample=shows_sample(request, profile),
    )


# ------------------------------------------------------------ comparison page


COMPARE_PARAM_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,99}(,[a-z0-9][a-z0-9-]{0,99}){0,9}")


class ComparePageController(Controller):
    include_in_schema = False

    @get("/compare", name="web:compare")
    async def compare_page(self, request: Request) -> Response:
        """Two or three projects side by side; the rows come from the field registry (view "compare").

        Without projects, or with an address that names no two or three
        visible projects, the page explains the Merkliste in German (never a
        framework error).
        """
        raw = str(request.query_params.get("profiles") or "").strip().strip(",")
        if not raw:
            return await page(request, "compare.html", view=None)
        error: str | None = None
        status = 200
        if len(raw) > 400 or not COMPARE_PARAM_RE.fullmatch(raw):
            error, status = "Diese Vergleichsadresse ist ungültig. Bitte wählen Sie die Projekte über die Merkliste aus.", 400
        else:
            try:
                items = await comparison_profiles(request, raw)
            except CatalogueError as exc:
                error, status = exc.detail, exc.status
            else:
                view = comparison_view([dump(p) for p in items], urls=[profile_url(request, p.slug) for p in items], generated_at=today())
                return await page(request, "compare.html", view=view, items=items, profiles_param=",".join(p.slug for p in items))
        return await page(request, "compare.html", status_code=status, view=None, compare_error=error)
