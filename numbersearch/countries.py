"""Countries named as people name them: ISO code, English name or common alias, in any case and without accents."""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata

from .errors import InputError

_CODE = re.compile(r"^[A-Za-z]{2}\Z")

# What people (and Twilio's own country names) call countries that ISO 3166 names otherwise.
ALIASES: dict[str, str] = {
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "united states of america": "US",
    "uae": "AE",
    "emirates": "AE",
    "holland": "NL",
    "the netherlands": "NL",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "russia": "RU",
    "ivory coast": "CI",
    "czech republic": "CZ",
    "vietnam": "VN",
    "laos": "LA",
    "iran": "IR",
    "syria": "SY",
    "taiwan": "TW",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "moldova": "MD",
    "macedonia": "MK",
    "palestine": "PS",
    "vatican": "VA",
    "vatican city": "VA",
    "brunei": "BN",
    "micronesia": "FM",
    "kosovo": "XK",  # not in ISO 3166, but Twilio lists it as XK
    "hong kong": "HK",
    "macau": "MO",
    "cape verde": "CV",
    "swaziland": "SZ",
    "burma": "MM",
    "turkey": "TR",
}


def fold(text: str) -> str:
    """Lower case, without accents, apostrophes straight, spaces collapsed: `Côte d’Ivoire` → `cote d'ivoire`."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'").replace("‘", "'"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.lower().split())


@functools.cache
def _names() -> dict[str, str]:
    """Folded name → ISO alpha-2, from pycountry's ISO 3166 names (name, common and official) and ALIASES."""
    import pycountry

    index: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("name", "common_name", "official_name"):
            name = getattr(country, attribute, None)
            if name:
                index[fold(name)] = country.alpha_2
                # "Korea, Republic of" is also found as "Republic of Korea"
                head, _, tail = name.partition(", ")
                if tail:
                    index[fold(f"{tail} {head}")] = country.alpha_2
    return index | ALIASES


@functools.cache
def country_name(code: str) -> str:
    """The English name of an ISO code, or the code itself when ISO has none."""
    import pycountry

    found = pycountry.countries.get(alpha_2=code.upper())
    if found is None:
        return {"XK": "Kosovo"}.get(code.upper(), code.upper())
    return str(getattr(found, "common_name", None) or found.name)


def resolve_country(value: str) -> str:
    """An ISO alpha-2 code for a code, name or alias; InputError with the closest names when there is none."""
    text = (value or "").strip()
    folded = fold(text)
    if folded in ALIASES:  # before codes: `UK` is an alias of GB, not a code
        return ALIASES[folded]
    if _CODE.match(text):
        return text.upper()
    code = _names().get(folded)
    if code is not None:
        return code
    close = difflib.get_close_matches(folded, list(_names()), n=3, cutoff=0.75)
    if close:
        hints = ", ".join(dict.fromkeys(f"{_names()[c]} ({country_name(_names()[c])})" for c in close))
        raise InputError(f"no country {value!r} — did you mean {hints}?")
    raise InputError(f"no country {value!r}: give an ISO 3166 code such as DE, or an English name such as Germany")
