"""Controlled vocabularies: every list is defined here once.

The UI, the API schema, the importers, the PDF and the search facets read
these lists from this module and nowhere else. Values are the German labels
users see; identifiers are English.
"""

from __future__ import annotations

from enum import StrEnum


class FieldOfAction(StrEnum):
    """Handlungsfelder."""

    ADMINISTRATION = "Verwaltung"
    DIGITAL_INFRASTRUCTURE = "Digitale Infrastruktur"
    ECONOMY = "Wirtschaft"
    EDUCATION = "Bildung"
    HEALTH_CARE = "Gesundheit & Pflege"
    SOCIAL = "Soziales"
    TOURISM = "Tourismus"
    CULTURE = "Kultur"
    ENVIRONMENT_CLIMATE = "Umwelt & Klima"
    ENERGY = "Energie"
    MOBILITY = "Mobilität & Verkehr"
    BUILDING_HOUSING = "Bauen & Wohnen"
    SAFETY_ORDER = "Sicherheit & Ordnung"
    PARTICIPATION = "Bürgerbeteiligung"
    PUBLIC_SERVICES = "Daseinsvorsorge"


class FederalState(StrEnum):
    """Bundesländer; the AGS prefix of each is in FEDERAL_STATE_CODES.

    Only four have Regierungsbezirke today (STATES_WITH_REGIERUNGSBEZIRK; the
    others abolished theirs: Rheinland-Pfalz 2000, Sachsen-Anhalt 2003,
    Niedersachsen 2005, Sachsen 2012)."""

    BW = "Baden-Württemberg"
    BY = "Bayern"
    BE = "Berlin"
    BB = "Brandenburg"
    HB = "Bremen"
    HH = "Hamburg"
    HE = "Hessen"
    MV = "Mecklenburg-Vorpommern"
    NI = "Niedersachsen"
    NW = "Nordrhein-Westfalen"
    RP = "Rheinland-Pfalz"
    SL = "Saarland"
    SN = "Sachsen"
    ST = "Sachsen-Anhalt"
    SH = "Schleswig-Holstein"
    TH = "Thüringen"


STATES_WITH_REGIERUNGSBEZIRK: frozenset[FederalState] = frozenset({FederalState.BW, FederalState.BY, FederalState.HE, FederalState.NW})


# First two digits of the Amtlicher Gemeindeschlüssel (AGS) per Bundesland.
FEDERAL_STATE_CODES: dict[str, FederalState] = {
    "01": FederalState.SH,
    "02": FederalState.HH,
    "03": FederalState.NI,
    "04": FederalState.HB,
    "05": FederalState.NW,
    "06": FederalState.HE,
    "07": FederalState.RP,
    "08": FederalState.BW,
    "09": FederalState.BY,
    "10": FederalState.SL,
    "11": FederalState.BE,
    "12": FederalState.BB,
    "13": FederalState.MV,
    "14": FederalState.SN,
    "15": FederalState.ST,
    "16": FederalState.TH,
}


class OrganisationKind(StrEnum):
    """Kinds of public bodies that lead or take part in a project."""

    MUNICIPALITY = "Gemeinde"
    TOWN = "Stadt"
    DISTRICT = "Kreis"
    AMT = "Amt"
    ASSOCIATION_OF_MUNICIPALITIES = "Verbandsgemeinde"
    SPECIAL_PURPOSE_ASSOCIATION = "Zweckverband"
    CITY_STATE = "Stadtstaat"
    OTHER = "Sonstige"


class PartnerKind(StrEnum):
    """Kinds of other participants (Sonstige Beteiligte)."""

    UNIVERSITY = "Hochschule"
    COMPANY = "Unternehmen"
    ASSOCIATION = "Verein"
    CHAMBER = "Kammer"
    CONSULTANCY = "Beratung"
    STATE = "Land"
    FEDERATION = "Bund"
    OTHER = "Sonstige"


class FundingKind(StrEnum):
    OWN_FUNDS = "Eigenmittel"
    STATE_FUNDS = "Landesmittel"
    FEDERAL_FUNDS = "Bundesmittel"
    EU_FUNDS = "EU-Mittel"
    FOUNDATION = "Stiftung"
    OTHER = "Sonstige"


class LegalForm(StrEnum):
    """Rechtsform of the cooperation."""

    PUBLIC_LAW_AGREEMENT = "öffentlich-rechtliche Vereinbarung"
    SPECIAL_PURPOSE_ASSOCIATION = "Zweckverband"
    JOINT_MUNICIPAL_ENTERPRISE = "gemeinsames Kommunalunternehmen/AöR"
    GMBH = "GmbH"
    ASSOCIATION = "Verein"
    WORKING_GROUP = "Arbeitsgemeinschaft"
    INFORMAL = "informelle Kooperation"
    OTHER = "Sonstige"


class TransferabilityRating(StrEnum):
    """How easily another municipality can copy the project (Übertragbarkeit), easiest first."""

    EASY = "leicht übertragbar"
    WITH_ADJUSTMENTS = "mit Anpassungen übertragbar"
    SUBSTANTIAL = "mit größerem Aufwand übertragbar"
    SPECIAL = "nur unter besonderen Bedingungen"


class ProjectStatus(StrEnum):
    """Projektstand."""

    PLANNED = "geplant"
    RUNNING = "laufend"
    COMPLETED = "abgeschlossen"
    DISCONTINUED = "eingestellt"


class EditorialStatus(StrEnum):
    """Editorial state: draft -> submitted -> published -> archived."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    ARCHIVED = "archived"


EDITORIAL_STATUS_LABELS: dict[EditorialStatus, str] = {
    EditorialStatus.DRAFT: "Entwurf",
    EditorialStatus.SUBMITTED: "Eingereicht",
    EditorialStatus.PUBLISHED: "Veröffentlicht",
    EditorialStatus.ARCHIVED: "Archiviert",
}


class AdoptionStage(StrEnum):
    """Stand der Nachnutzung: how far an adopting municipality has come with a project."""

    INTERESTED = "interessiert"
    PLANNING = "in Planung"
    IMPLEMENTING = "in Umsetzung"
    IMPLEMENTED = "umgesetzt"
    ABANDONED = "aufgegeben"


# Stages that count as "wird nachgenutzt" (the sort "am häufigsten nachgenutzt" counts these).
ACTIVE_ADOPTION_STAGES: tuple[AdoptionStage, ...] = (
    AdoptionStage.INTERESTED, AdoptionStage.PLANNING, AdoptionStage.IMPLEMENTING, AdoptionStage.IMPLEMENTED,
)

# Stages that count as "übernommen" (the evidence "von 3 Kommunen Ihrer Größe übernommen", the digest).
TAKEN_OVER_STAGES: tuple[AdoptionStage, ...] = (AdoptionStage.PLANNING, AdoptionStage.IMPLEMENTING, AdoptionStage.IMPLEMENTED)


class SizeClass(StrEnum):
    """Gemeindegrößenklasse after the BBSR's city and municipality types."""

    RURAL = "Landgemeinde"
    SMALL_TOWN = "Kleinstadt"
    MEDIUM_TOWN = "Mittelstadt"
    LARGE_CITY = "Großstadt"
    DISTRICT = "Kreis"


class Role(StrEnum):
    EDITOR = "editor"
    REVIEWER = "reviewer"
    ADMIN = "admin"


ROLE_LABELS: dict[Role, str] = {
    Role.EDITOR: "Redaktion (Kommune)",
    Role.REVIEWER: "Prüfung (Katalogredaktion)",
    Role.ADMIN: "Administration",
}

DEFAULT_LICENCE = "CC BY 4.0"


def size_class_for(population: int | None, organisation_kind: str | None = None) -> SizeClass | None:
    """Derive the size class; a Kreis is a Kreis whatever its population."""
    if organisation_kind == OrganisationKind.DISTRICT:
        return SizeClass.DISTRICT
    if population is None:
        return None
    if population < 5_000:
        return SizeClass.RURAL
    if population < 20_000:
        return SizeClass.SMALL_TOWN
    if population < 100_000:
        return SizeClass.MEDIUM_TOWN
    return SizeClass.LARGE_CITY


def state_for_ags(ags: str | None) -> FederalState | None:
    if not ags or len(ags) < 2:
        return None
    return FEDERAL_STATE_CODES.get(ags[:2])


# Every list by its public name: the API's /api/v1/vocabularies and anything
# else that needs "all lists" reads them from here.
VOCABULARIES: dict[str, type[StrEnum]] = {
    "fields_of_action": FieldOfAction,
    "states": FederalState,
    "organisation_kinds": OrganisationKind,
    "partner_kinds": PartnerKind,
    "funding_kinds": FundingKind,
    "legal_forms": LegalForm,
    "transferability_ratings": TransferabilityRating,
    "project_statuses": ProjectStatus,
    "size_classes": SizeClass,
    "editorial_statuses": EditorialStatus,
    "roles": Role,
    "adoption_stages": AdoptionStage,
}
