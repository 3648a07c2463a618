"""Who published an article: a domain-to-outlet table that names outlets and their countries.

An article's outlet and country come, first, from what its source says (front matter, a
JSON field, the feed it arrived through, the page's site name); this table fills in what
is missing, by the article URL's domain (a domain also covers its subdomains:
``edition.cnn.com`` is ``cnn.com``) or, for an article without a URL, by the outlet's name.
The configuration's ``[outlets."domain"]`` entries extend and override the built-in table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import urlsplit

from index.config import OutletInfo
from index.models import ParsedArticle

__all__ = ["BUILTIN_OUTLETS", "OutletTable", "country_code", "domain_of"]

# Widely cited outlets, by the country they are based in (ISO 3166-1 alpha-2).
_BUILTIN: dict[str, tuple[str, str]] = {
    "reuters.com": ("Reuters", "GB"),
    "apnews.com": ("Associated Press", "US"),
    "afp.com": ("AFP", "FR"),
    "bbc.co.uk": ("BBC", "GB"),
    "bbc.com": ("BBC", "GB"),
    "theguardian.com": ("The Guardian", "GB"),
    "ft.com": ("Financial Times", "GB"),
    "economist.com": ("The Economist", "GB"),
    "telegraph.co.uk": ("The Telegraph", "GB"),
    "theweek.co.uk": ("The Week UK", "GB"),
    "independent.co.uk": ("The Independent", "GB"),
    "nytimes.com": ("The New York Times", "US"),
    "washingtonpost.com": ("The Washington Post", "US"),
    "wsj.com": ("The Wall Street Journal", "US"),
    "cnn.com": ("CNN", "US"),
    "usatoday.com": ("USA Today", "US"),
    "npr.org": ("NPR", "US"),
    "politico.com": ("Politico", "US"),
    "politico.eu": ("Politico Europe", "BE"),
    "bloomberg.com": ("Bloomberg", "US"),
    "foxnews.com": ("Fox News", "US"),
    "nbcnews.com": ("NBC News", "US"),
    "cbsnews.com": ("CBS News", "US"),
    "abcnews.go.com": ("ABC News", "US"),
    "axios.com": ("Axios", "US"),
    "foreignpolicy.com": ("Foreign Policy", "US"),
    "foreignaffairs.com": ("Foreign Affairs", "US"),
    "aljazeera.com": ("Al Jazeera", "QA"),
    "france24.com": ("France 24", "FR"),
    "lemonde.fr": ("Le Monde", "FR"),
    "dw.com": ("Deutsche Welle", "DE"),
    "spiegel.de": ("Der Spiegel", "DE"),
    "euronews.com": ("Euronews", "FR"),
    "elpais.com": ("El País", "ES"),
    "rferl.org": ("Radio Free Europe/Radio Liberty", "CZ"),
    "kyivindependent.com": ("The Kyiv Independent", "UA"),
    "themoscowtimes.com": ("The Moscow Times", "NL"),
    "tass.com": ("TASS", "RU"),
    "rt.com": ("RT", "RU"),
    "timesofisrael.com": ("The Times of Israel", "IL"),
    "haaretz.com": ("Haaretz", "IL"),
    "thehindu.com": ("The Hindu", "IN"),
    "hindustantimes.com": ("Hindustan Times", "IN"),
    "timesofindia.indiatimes.com": ("The Times of India", "IN"),
    "dawn.com": ("Dawn", "PK"),
    "scmp.com": ("South China Morning Post", "HK"),
    "globaltimes.cn": ("Global Times", "CN"),
    "xinhuanet.com": ("Xinhua", "CN"),
    "japantimes.co.jp": ("The Japan Times", "JP"),
    "nhk.or.jp": ("NHK", "JP"),
    "asia.nikkei.com": ("Nikkei Asia", "JP"),
    "koreaherald.com": ("The Korea Herald", "KR"),
    "koreajoongangdaily.joins.com": ("Korea JoongAng Daily", "KR"),
    "donga.com": ("The Dong-A Ilbo", "KR"),
    "yna.co.kr": ("Yonhap", "KR"),
    "straitstimes.com": ("The Straits Times", "SG"),
    "abc.net.au": ("ABC News (Australia)", "AU"),
    "smh.com.au": ("The Sydney Morning Herald", "AU"),
    "cbc.ca": ("CBC News", "CA"),
    "theglobeandmail.com": ("The Globe and Mail", "CA"),
    "africanews.com": ("Africanews", "CG"),
    "news24.com": ("News24", "ZA"),
    "premiumtimesng.com": ("Premium Times", "NG"),
    "batimes.com.ar": ("Buenos Aires Times", "AR"),
    "folha.uol.com.br": ("Folha de S.Paulo", "BR"),
    "mercopress.com": ("MercoPress", "UY"),
}

BUILTIN_OUTLETS: Mapping[str, OutletInfo] = {
    domain: OutletInfo(name=name, country=country) for domain, (name, country) in _BUILTIN.items()
}


def country_code(value: str) -> str | None:
    """`value` as an upper-case ISO 3166-1 alpha-2 code ("gb " -> "GB"), or None when it is
    not two ASCII letters. Each front end words its own error."""
    code = value.strip().upper()
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None


def domain_of(url: str | None) -> str | None:
    """The host of `url`, lower case, without ``www.`` and port; None when there is none."""
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.lower().rstrip(".")
    return host.removeprefix("www.")


class OutletTable:
    """Looks outlets up by domain (subdomains included) or by name."""

    def __init__(self, extra: Mapping[str, OutletInfo] | None = None) -> None:
        table = {**BUILTIN_OUTLETS}
        for domain, info in (extra or {}).items():
            table[domain_of(f"//{domain.strip()}") or domain.strip().lower()] = info
        self._by_domain = table
        self._by_name = {info.name.casefold(): info for info in table.values()}

    def for_url(self, url: str | None) -> OutletInfo | None:
        host = domain_of(url)
        # example.co.uk, then co.uk: never a bare top-level domain.
        while host and "." in host:
            info = self._by_domain.get(host)
            if info is not None:
                return info
            host = host.partition(".")[2]
        return None

    def for_name(self, name: str | None) -> OutletInfo | None:
        return self._by_name.get(name.strip().casefold()) if name else None

    def complete(self, article: ParsedArticle) -> ParsedArticle:
        """`article` with its outlet and country filled in where the table knows them.

        What the article already says wins: the table only fills gaps. The country is
        taken from the table only for the outlet the table names, never for another.
        """
        if article.outlet and article.country:
            return article
        info = self.for_url(article.url)
        if info is None or (article.outlet and article.outlet.casefold() != info.name.casefold()):
            info = self.for_name(article.outlet) or (None if article.outlet else info)
        if info is None:
            return article
        outlet = article.outlet or info.name
        country = article.country or (info.country.upper() if info.country else None)
        if outlet == article.outlet and country == article.country:
            return article
        return replace(article, outlet=outlet, country=country)
