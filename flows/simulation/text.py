"""Synthetic personal data and ids for the simulated world: fake but plausible, built in Arrow."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from debtflow.flows.simulation import world as sw
from debtflow.flows.simulation.world import World, uniform

FIRST = {
    0: ["Jan", "Sanne", "Daan", "Emma", "Lars", "Julia", "Bram", "Lotte", "Thijs", "Fleur"],
    1: ["Lucas", "Marie", "Arthur", "Louise", "Jules", "Elise", "Wout", "Camille", "Lina", "Noah"],
    2: ["Ole", "Ingrid", "Lars", "Nora", "Jakob", "Sofie", "Emil", "Ida", "Henrik", "Maja"],
}
LAST = {
    0: ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "de Boer", "Bos"],
    1: ["Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens"],
    2: ["Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Berg"],
}
STREETS = {
    0: ["Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg", "Schoolstraat", "Julianalaan"],
    1: ["Kerkstraat", "Stationsstraat", "Rue de la Gare", "Dorpsstraat", "Nieuwstraat"],
    2: ["Storgata", "Kirkeveien", "Skolegata", "Parkveien", "Strandveien", "Kongens gate"],
}
CITIES = {
    0: ["Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "Groningen", "Zwolle", "Breda"],
    1: ["Antwerpen", "Gent", "Brussel", "Leuven", "Brugge", "Hasselt", "Mechelen"],
    2: ["Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Drammen", "Kristiansand"],
}
SUFFIX = {0: " B.V.", 1: " BV", 2: " AS"}
PRODUCTS = [
    "Mobile basic",
    "Mobile unlimited",
    "Home internet",
    "TV package",
    "Energy",
    "Streaming plus",
    "Business fibre",
    "Fleet mobile",
    "Cloud PBX",
    "Office energy",
    "Managed Wi-Fi",
    "Business support",
]
LANGUAGES = {0: ("nl", "en"), 1: ("nl", "fr"), 2: ("no", "en")}


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def pick(choices: list[str], index: np.ndarray) -> pa.Array:
    return pa.array(choices, pa.string()).take(pa.array(index, pa.int64()))


def per_country(table: dict[int, list[str]], country: np.ndarray, u: np.ndarray) -> pa.Array:
    """One entry of each debtor's country list, chosen by u."""
    flat = [x for c in (0, 1, 2) for x in table[c]]
    offset = np.cumsum([0, len(table[0]), len(table[1])])
    size = np.array([len(table[c]) for c in (0, 1, 2)])
    return pick(flat, offset[country] + (u * size[country]).astype(np.int64))


def join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def customers(w: World, debtor: np.ndarray, version: np.ndarray) -> dict[str, pa.Array]:
    """Personal columns of each customers row (version 1: e-mail corrected, or moved house)."""
    s = w.seed
    country = w["country"][debtor]
    business = w["business"][debtor]
    fixed = (version == 1) & (w["email_fixed_day"][debtor] < (1 << 30))
    moved = np.where((version == 1) & ~fixed, 1, 0)

    def u(k: int, by_version: bool = False) -> np.ndarray:
        return uniform(s, 50 + k, debtor, moved if by_version else 0)

    person = join(per_country(FIRST, country, u(1)), " ", per_country(LAST, country, u(2)))
    company = join(per_country(LAST, country, u(2)), pick(list(SUFFIX.values()), country))
    name = pc.if_else(pa.array(business), company, person)
    num = pc.cast(pa.array(debtor + 1), pa.string())
    bad = u(3)
    email = pc.if_else(
        pa.array(w["email_valid"][debtor] | fixed),
        join("debtor", num, "@example.com"),
        pc.if_else(
            pa.array(bad < 0.5),
            join("debtor", num, "@example"),
            join("debtor", num, "@bounce.example.com"),
        ),
    )
    email = pc.if_else(pa.array(w["email_present"][debtor]), email, pa.scalar(None, pa.string()))
    digits8 = pc.utf8_lpad(pc.cast(pa.array((u(4) * 1e8).astype(np.int64)), pa.string()), 8, "0")
    prefix = pick(["+316", "+324", "+479"], country)
    phone = join(prefix, digits8)
    short = pc.utf8_slice_codeunits(phone, 0, 9)  # an invalid number: too short
    phone = pc.if_else(pa.array(w["mobile_valid"][debtor]), phone, short)
    phone = pc.if_else(pa.array(w["mobile_present"][debtor]), phone, pa.scalar(None, pa.string()))
    house = pc.cast(pa.array(1 + (u(5, True) * 180).astype(np.int64)), pa.string())
    street = join(per_country(STREETS, country, u(6, True)), " ", house)
    pc4 = (1000 + u(7, True) * 8999).astype(np.int64)
    letters = pick(
        [a + b for a in "ABCEGHJKLMNPRSTVWXZ" for b in "ABCEGHJKLMNPRSTVWXZ"],
        (u(8, True) * 361).astype(np.int64),
    )
    postal = pc.if_else(
        pa.array(country == 0),
        join(pc.cast(pa.array(pc4), pa.string()), " ", letters),
        pc.utf8_lpad(
            pc.cast(pa.array(pc4 % np.where(country == 2, 10000, 9000)), pa.string()), 4, "0"
        ),
    )
    city = per_country(CITIES, country, u(9, True))
    dob = (np.datetime64("1940-01-01") + (u(10) * 65 * 365).astype(np.int64)).astype(
        "datetime64[D]"
    )
    dob_arr = pa.array(np.where(business, np.datetime64("NaT"), dob)).cast(pa.date32())
    reg = pc.if_else(
        pa.array(business),
        pc.utf8_lpad(pc.cast(pa.array((u(11) * 1e8).astype(np.int64)), pa.string()), 8, "0"),
        pa.scalar(None, pa.string()),
    )
    lang2 = u(12) < np.where(country == 1, 0.38, 0.05)
    lang = pick(["nl", "en", "nl", "fr", "no", "en"], country * 2 + lang2)
    return dict(
        name=name,
        email=email,
        phone_mobile=phone,
        street=street,
        postal_code=postal,
        city=city,
        date_of_birth=dob_arr,
        company_registration=reg,
        language=lang,
    )


def country_code(country: np.ndarray) -> pa.Array:
    return pick(list(sw.COUNTRIES), country)


def currency(country: np.ndarray) -> pa.Array:
    return pick(list(sw.CURRENCY), country)
