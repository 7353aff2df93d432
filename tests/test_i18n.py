"""The translation files: every key in every language, the same {fields} in each, and every
key the pages and slates use exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from window import i18n
from window.config import LANGUAGES, Config

WEB = Path(__file__).resolve().parent.parent / "web"
FIELD = re.compile(r"\{(\w+)\}")


def _file(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((WEB / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


def test_one_file_per_language_and_nothing_else() -> None:
    assert sorted(p.stem for p in (WEB / "i18n").glob("*.json")) == sorted(LANGUAGES)


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_key_in_every_language_with_the_same_fields(lang: str) -> None:
    english, other = _file("en"), _file(lang)
    assert sorted(set(english) - set(other)) == [], f"{lang}.json lacks these keys"
    assert sorted(set(other) - set(english)) == [], f"{lang}.json has keys English lacks"
    for key, text in english.items():
        assert set(FIELD.findall(other[key])) == set(FIELD.findall(text)), (lang, key)
        assert other[key].strip(), (lang, key)


def test_every_key_the_pages_and_slates_use_exists() -> None:
    keys = set(_file("en"))
    used: set[str] = set()
    for page in WEB.glob("*.html"):
        used |= set(re.findall(r'data-i18n(?:-\w+)?="([^"]+)"', page.read_text("utf-8")))
    for script in (WEB / "js").glob("*.js"):
        text = script.read_text("utf-8")
        used |= set(re.findall(r'\bt\("([\w.]+)"', text))
        used |= set(re.findall(r'"((?:admin|msg|token|screen|view)\.\w+)"', text))
        # keys built from a state, a mode or a role
        for prefix in re.findall(r"t\(`(\w+)\.\$\{", text):
            assert any(k.startswith(prefix + ".") for k in keys), prefix
    used |= {f"slate.{r}" for r in ("offline", "paused", "closed", "starting", "stopping")}
    used |= {"slate.opens"} | {f"state.{s}" for s in ("live", "offline", "paused", "closed",
                                                      "stopping", "connecting")}
    used |= {f"mode.{m}" for m in ("people", "faces", "full", "curtain", "off")}
    assert sorted(used - keys) == []


def test_the_relay_reads_the_same_files() -> None:
    assert i18n.text("de", "slate.opens", when="Sa., 08:00") == "Öffnet Sa., 08:00"
    assert i18n.text("ja", "msg.offline", city="ボーフム").startswith("ボーフムのカメラ")


def test_slate_languages_put_the_watching_screens_first() -> None:
    cfg = Config()
    assert i18n.slate_languages(cfg, "bochum") == ["ja", "de"]  # seen on Tsukuba's screens
    assert i18n.slate_languages(cfg, "tsukuba") == ["de", "ja"]
    assert i18n.titles("bochum", cfg.sites["bochum"])["ja"] == "ボーフム"
    assert i18n.titles("tsukuba", cfg.sites["tsukuba"])["de"] == "Tsukuba"
