"""The words people read, in German, Japanese and English: one JSON file per language.

The files are ``web/i18n/<language>.json``: the pages load them from the relay, the relay's
slates read them here, so a sentence is translated in one place for both. Dates and times
follow each language's convention from CLDR (Babel here, ``Intl`` on the pages): the same
data, so a slate and a page say a time the same way.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache

from babel.dates import format_skeleton

from .config import LANGUAGES, Config, SiteConfig
from .web.pages import shared_file

# The CLDR locale of each language: the conventions a public place there expects.
LOCALES = {"de": "de_DE", "ja": "ja_JP", "en": "en_GB"}
_FIELD = re.compile(r"\{(\w+)\}")


@cache
def messages(language: str) -> dict[str, str]:
    """Every message of ``language`` (one of ``LANGUAGES``), read once."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    with shared_file("web", "i18n", f"{language}.json").open(encoding="utf-8") as fh:
        data = json.load(fh)
    return {str(k): str(v) for k, v in data.items()}


def text(language: str, key: str, **fields: object) -> str:
    """The message ``key`` in ``language`` with ``{field}``s filled in."""
    template = messages(language)[key]
    return _FIELD.sub(lambda m: str(fields.get(m.group(1), m.group(0))), template)


def site_title(name: str, site: SiteConfig, language: str) -> str:
    """A site's name as readers of ``language`` write it."""
    return site.titles.get(language) or site.title or name.capitalize()


def titles(name: str, site: SiteConfig) -> dict[str, str]:
    """The site's name in every language."""
    return {lang: site_title(name, site, lang) for lang in LANGUAGES}


def time_text(at: datetime, language: str) -> str:
    """"14:05" (24-hour clock, as all three conventions write it on a public sign)."""
    return format_skeleton("Hm", at, locale=LOCALES[language])


def date_text(at: datetime, language: str) -> str:
    """"Mi., 2. Dez." / "12月2日(水)" / "Wed 2 Dec"."""
    return format_skeleton("MMMEd", at, locale=LOCALES[language])


def weekday_time_text(at: datetime, language: str) -> str:
    """"Sa., 08:00" / "(土) 08:00" / "Sat 08:00": when a closed site opens."""
    return format_skeleton("EHm", at, locale=LOCALES[language])


def slate_languages(cfg: Config, name: str) -> list[str]:
    """The languages of a feed's slate, most read first: of the sites whose public screens
    show this feed (their partner is ``name``), then of the site itself."""
    audience = [s.language for other, s in cfg.sites.items()
                if s.partner == name and other != name]
    own = cfg.sites[name].language
    return list(dict.fromkeys([*audience, own]))
