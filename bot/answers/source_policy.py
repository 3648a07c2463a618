"""Which sources a server prefers or leaves out (`/settings`), applied in retrieval."""

from __future__ import annotations

from dataclasses import dataclass

from index import Article

__all__ = ["SourcePolicy"]


@dataclass(frozen=True)
class SourcePolicy:
    """Outlets (names, any case) and countries (ISO codes) to prefer or to leave out.

    A left-out source is never searched, quoted or listed; a preferred one ranks higher
    (`prefer_boost`), but never above a source that answers the question much better."""

    prefer_outlets: tuple[str, ...] = ()
    exclude_outlets: tuple[str, ...] = ()
    prefer_countries: tuple[str, ...] = ()
    exclude_countries: tuple[str, ...] = ()
    prefer_boost: float = 0.5

    @property
    def active(self) -> bool:
        return bool(
            self.prefer_outlets
            or self.exclude_outlets
            or self.prefer_countries
            or self.exclude_countries
        )

    def excludes(self, article: Article) -> bool:
        return _matches(article, self.exclude_outlets, self.exclude_countries)

    def prefers(self, article: Article) -> bool:
        return _matches(article, self.prefer_outlets, self.prefer_countries)


def _matches(article: Article, outlets: tuple[str, ...], countries: tuple[str, ...]) -> bool:
    outlet = (article.outlet or "").casefold()
    country = (article.country or "").upper()
    return bool(
        (outlet and outlet in {o.casefold() for o in outlets})
        or (country and country in {c.upper() for c in countries})
    )
