"""PDF output through Typst: the one-page profile and the comparison sheet."""

from catalogue.pdf.cache import CacheStats, PdfCache, PdfFiles
from catalogue.pdf.render import (
    comparison_view,
    profile_view,
    render_comparison_pdf,
    render_comparison_png,
    render_profile_overview,
    render_profile_pdf,
    render_profile_png,
)

__all__ = [
    "CacheStats",
    "PdfCache",
    "PdfFiles",
    "comparison_view",
    "profile_view",
    "render_comparison_pdf",
    "render_comparison_png",
    "render_profile_overview",
    "render_profile_pdf",
    "render_profile_png",
]
