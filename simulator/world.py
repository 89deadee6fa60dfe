"""The simulated CrownSync world's dimensions: people, brands, retailers, campaigns, models.

Everything is a pure function of (seed, scale). ``build_world`` returns a :class:`World`
holding every generated dimension table (as DataFrames in manifest column order) and the
id arrays that activity tables and export files reference.

Why one module of ~650 lines: the dimensions reference each other (campaigns need brands,
retailers and social accounts; the traps need all of them), and every draw must happen in
one fixed order on one random generator for the same seed to give the same bytes. Split,
the order would be an invisible contract between files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from faker import Faker

from simulator.core import (
    DAY,
    HISTORY_DAYS,
    HOUR,
    Sizes,
    dates,
    money,
    pick,
    rng_for,
    ts,
    uuids,
    with_nulls,
)

REGIONS = ["East Coast", "West Coast", "Central", "South", "Northeast", "Southwest"]
DIRTY_REGIONS = {
    "East Coast": [" east coast", "EAST COAST"],
    "West Coast": ["West  Coast", "west coast "],
    "Central": ["central", " Central"],
    "South": ["SOUTH", "south "],
    "Northeast": ["northeast", " NORTHEAST"],
    "Southwest": ["southwest ", "SouthWest"],
}
TIERS = ["premium", "standard", "basic"]
DIRTY_TIERS = {
    "premium": ["PREMIUM ", "Premium"],
    "standard": ["Standard", " standard"],
    "basic": ["BASIC", "basic "],
}
# Every dirty variant differs from its clean region only by case and whitespace, so the
# contract's cleaning (collapse spaces, trim, initcap) brings it back to a value of REGIONS.
# Rows 0..3 of retailers always carry these exact variants (the contract's examples).
FORCED_DIRTY = [
    (" east coast", None),
    ("West  Coast", None),
    (None, "PREMIUM "),
    (None, "Standard"),
]
CAMPAIGN_TYPES = ["social", "email", "sms", "mixed"]
INDUSTRIES = ["Watches", "Watches", "Watches", "Jewelry", "Fashion", "Cosmetics"]
STORE_TYPES = ["boutique", "department", "online"]

# Fictional watch houses: a family or place name in one of the register's usual forms. The
# names are invented (no real maison's trademark); HOUSE_NAMES × HOUSE_FORMS gives 512
# distinct brand names, more than any scale up to 12 needs.
HOUSE_NAMES = [
    "Verlaine",
    "Aurelius",
    "Castellane",
    "Delacroix",
    "Montclair",
    "Valmont",
    "Ravenel",
    "Beaumont",
    "Lucerna",
    "Armand",
    "Solenne",
    "Corvin",
    "Halloran",
    "Marchetti",
    "Varenne",
    "Orsini",
    "Vauclair",
    "Sternfeld",
    "Lindqvist",
    "Morel",
    "Duval",
    "Laurentis",
    "Brisac",
    "Carrell",
    "Esterhaz",
    "Fontaine",
    "Galland",
    "Hautval",
    "Ivrea",
    "Jouvenel",
    "Kessler",
    "Lamarque",
    "Mireval",
    "Noirmont",
    "Ostrander",
    "Peyrac",
    "Quenneville",
    "Rochefort",
    "Saint-Aubin",
    "Thoraval",
    "Valdane",
    "Wendell",
    "Zermatti",
    "Albrecht",
    "Belmonte",
    "Challand",
    "Dorval",
    "Emeric",
    "Fabrizi",
    "Grandval",
    "Hartwell",
    "Ravenscroft",
    "Silvestre",
    "Tavernier",
    "Vauban",
    "Westholm",
    "Aubertin",
    "Bellerive",
    "Clairmont",
    "Desmarais",
    "Everard",
    "Ferrandi",
    "Guillot",
    "Rousselot",
]
HOUSE_FORMS = [
    "Maison {}",
    "{} Genève",
    "{} & Fils",
    "Atelier {}",
    "{} Horlogerie",
    "{} Manufacture",
    "{} Le Locle",
    "{} Frères",
]
MODEL_LINES = [
    "Nocturne",
    "Aurora",
    "Regatta",
    "Equinox",
    "Meridian",
    "Tourbillon Céleste",
    "Astrale",
    "Vega",
    "Oceanis",
    "Solstice",
    "Boréal",
    "Altitude",
    "Perpétuel",
    "Lumière",
    "Horizon",
    "Corniche",
    "Heritage 1881",
    "Grand Prix",
    "Navigatore",
    "Odyssée",
    "Sirius",
    "Minuit",
    "Rivage",
    "Orbis",
    "Sentinelle",
    "Alpine Sport",
    "Cosmos",
    "Étoile",
    "Tempus",
    "Imperatore",
    "Capitaine",
    "Marée",
    "Aviateur",
    "Opéra",
    "Saphir",
    "Montagne",
]
MODEL_KINDS = [
    "Chronograph",
    "Automatic",
    "Diver 300",
    "GMT",
    "Dress",
    "Pilot",
    "Moonphase",
    "Perpetual Calendar",
    "Small Seconds",
    "Worldtimer",
    "Skeleton",
    "Tourbillon",
]
COLLECTIONS = [
    "Haute Horlogerie",
    "Heritage",
    "Sport Élégance",
    "Grandes Complications",
    "Classique",
    "Marine",
    "Aviation",
    "Joaillerie",
    "Les Essentielles",
    "Édition Limitée",
    "Métiers d'Art",
    "Urbaine",
]
RETAILER_FORMS = [
    "{} Jewelers",
    "{} Fine Watches",
    "{} Timepieces",
    "{} & Co.",
    "{} Boutique",
    "{} Horology",
]


def house_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct fictional watch-house names, distinct family names first."""
    bases = rng.permutation(np.asarray(HOUSE_NAMES, dtype=object))
    forms = rng.permutation(len(HOUSE_FORMS))
    out = []
    for i in range(n):
        lap, base = divmod(i, len(bases))
        name = HOUSE_FORMS[forms[(lap + i) % len(HOUSE_FORMS)]].format(bases[base])
        if lap >= len(HOUSE_FORMS):  # beyond 512 houses: a numbered branch of a house
            name = f"{name} {lap // len(HOUSE_FORMS) + 1}"
        out.append(name)
    return np.asarray(out, dtype=object)


@dataclass
class Pools:
    """Faker-made value pools that the vectorised generators index into."""

    first_names: np.ndarray
    last_names: np.ndarray
    companies: np.ndarray
    streets: np.ndarray
    cities: np.ndarray
    states: np.ndarray
    postcodes: np.ndarray
    phones: np.ndarray
    words: np.ndarray
    sentences: np.ndarray


def make_pools(seed: int) -> Pools:
    fake = Faker("en_US")
    fake.seed_instance(seed)

    def many(fn, n: int) -> np.ndarray:
        return np.array([fn() for _ in range(n)], dtype=object)

    return Pools(
        first_names=many(fake.first_name, 400),
        last_names=many(fake.last_name, 600),
        companies=many(fake.company, 1_500),
        streets=many(fake.street_address, 1_000),
        cities=many(fake.city, 300),
        states=many(fake.state_abbr, 60),
        postcodes=many(fake.postcode, 500),
        phones=np.array(
            [f"+1-{fake.numerify('###-###-####')}" for _ in range(2_000)], dtype=object
        ),
        words=many(fake.word, 300),
        sentences=many(fake.sentence, 400),
    )


@dataclass
class World:
    seed: int
    scale: float
    sizes: Sizes
    pools: Pools
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    # id arrays and attributes that other tables reference
    brand_ids: np.ndarray = field(default_factory=lambda: np.array([]))
    retailer_ids: np.ndarray = field(default_factory=lambda: np.array([]))
    retailer_active: np.ndarray = field(default_factory=lambda: np.array([]))
    retailer_users: np.ndarray = field(default_factory=lambda: np.array([]))
    admin_ids: np.ndarray = field(default_factory=lambda: np.array([]))
    campaign_ids: np.ndarray = field(default_factory=lambda: np.array([]))
    campaign_brand: np.ndarray = field(default_factory=lambda: np.array([]))
    campaign_type: np.ndarray = field(default_factory=lambda: np.array([]))
    campaign_start: np.ndarray = field(default_factory=lambda: np.array([]))
    campaign_end: np.ndarray = field(default_factory=lambda: np.array([]))
    campaign_silent: np.ndarray = field(default_factory=lambda: np.array([]))
    model_ids: np.ndarray = field(default_factory=lambda: np.array([]))
    model_mpn: np.ndarray = field(default_factory=lambda: np.array([]))
    model_price: np.ndarray = field(default_factory=lambda: np.array([]))
    model_active: np.ndarray = field(default_factory=lambda: np.array([]))
    customer_ids: np.ndarray = field(default_factory=lambda: np.array([]))
    customer_retailer: np.ndarray = field(default_factory=lambda: np.array([]))
    account_ids: np.ndarray = field(default_factory=lambda: np.array([]))
    account_platform: np.ndarray = field(default_factory=lambda: np.array([]))
    account_followers: np.ndarray = field(default_factory=lambda: np.array([]))
    account_active: np.ndarray = field(default_factory=lambda: np.array([]))
    brand_account_counts: np.ndarray = field(default_factory=lambda: np.array([]))
    asset_ids: np.ndarray = field(default_factory=lambda: np.array([]))
    # filled by the activity generators (email/sms campaigns, posts) for their children
    ec_ids: np.ndarray = field(default_factory=lambda: np.array([]))
    ec_sent: np.ndarray = field(default_factory=lambda: np.array([]))
    ec_alloc: np.ndarray = field(default_factory=lambda: np.array([]))
    sms_ids: np.ndarray = field(default_factory=lambda: np.array([]))
    sms_sent: np.ndarray = field(default_factory=lambda: np.array([]))
    sms_alloc: np.ndarray = field(default_factory=lambda: np.array([]))
    post_ids: np.ndarray = field(default_factory=lambda: np.array([]))
    post_day: np.ndarray = field(default_factory=lambda: np.array([]))
    post_type: np.ndarray = field(default_factory=lambda: np.array([]))
    post_reach: np.ndarray = field(default_factory=lambda: np.array([]))
    post_window: np.ndarray = field(default_factory=lambda: np.array([]))

    def rng(self, *parts: object) -> np.random.Generator:
        return rng_for(self.seed, *parts)

    def active_campaigns(self) -> np.ndarray:
        """Indexes of campaigns that have activity (everything but the silent ones)."""
        return np.flatnonzero(~self.campaign_silent)


def _names(pools: Pools, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    first = pools.first_names[rng.integers(0, len(pools.first_names), n)]
    last = pools.last_names[rng.integers(0, len(pools.last_names), n)]
    return first, last


def _emails(first: np.ndarray, last: np.ndarray, domain: np.ndarray, tag: str, rng) -> np.ndarray:
    """Unique emails; about 6 % with capitals (dirty, as in the real app)."""
    capital = rng.random(len(first)) < 0.06
    out = []
    for i, (f, la, d, cap) in enumerate(zip(first, last, domain, capital, strict=True)):
        local = f"{f}.{la}.{tag}{i}".lower().replace(" ", "").replace("'", "")
        if cap:
            local = f"{f}.{la}.{tag}{i}".replace(" ", "").replace("'", "")
        out.append(f"{local}@{d}")
    return np.array(out, dtype=object)


def _slug(texts: np.ndarray) -> np.ndarray:
    return np.array(
        ["".join(ch for ch in t.lower() if ch.isalnum())[:20] or "co" for t in texts], dtype=object
    )


def build_world(seed: int, scale: float) -> World:
    sizes = Sizes(scale)
    world = World(seed=seed, scale=scale, sizes=sizes, pools=make_pools(seed))
    _brands_retailers_users(world)
    _campaigns(world)
    _watch_models(world)
    _customers(world)
    _social_accounts(world)
    _brand_assets(world)
    return world


def _brands_retailers_users(w: World) -> None:
    s, p = w.sizes, w.pools
    rng = w.rng("dimensions")
    nb, nr, na = s.brands, s.retailers, s.admins

    # admins first: brands.created_by points at them, and they point at nothing
    w.admin_ids = uuids(rng, na)
    w.brand_ids = uuids(rng, nb)
    w.retailer_ids = uuids(rng, nr)

    brand_names = house_names(rng, nb)
    slugs = _slug(brand_names)
    created = rng.uniform(-HISTORY_DAYS - 400, -HISTORY_DAYS - 30, nb) * DAY
    colors = rng.integers(0, 0xFFFFFF, (nb, 2))
    w.tables["brands"] = pd.DataFrame(
        {
            "brand_id": w.brand_ids,
            "brand_name": brand_names,
            "brand_description": p.sentences[rng.integers(0, len(p.sentences), nb)],
            "industry": pick(rng, INDUSTRIES, nb),
            "headquarters_region": pick(rng, REGIONS, nb),
            "website_url": np.array([f"https://www.{x}.com" for x in slugs], dtype=object),
            "logo_url": np.array(
                [f"https://cdn.crownsync.example/logos/{x}.png" for x in slugs], dtype=object
            ),
            "primary_color": np.array([f"#{c:06X}" for c in colors[:, 0]], dtype=object),
            "secondary_color": with_nulls(
                np.array([f"#{c:06X}" for c in colors[:, 1]], dtype=object), rng.random(nb) < 0.2
            ),
            "created_by": w.admin_ids[rng.integers(0, na, nb)],
            "is_active": rng.random(nb) > 0.05,
            "created_at": ts(created),
            "updated_at": ts(created + rng.uniform(0, 60, nb) * DAY),
        }
    )

    # retailers: six regions, three tiers, dirty variants, some inactive
    region = pick(rng, REGIONS, nr)
    tier = pick(rng, TIERS, nr, p=[0.25, 0.5, 0.25])
    region_text = region.copy()
    tier_text = tier.copy()
    dirty_r = rng.random(nr) < 0.08
    dirty_t = rng.random(nr) < 0.08
    for i in np.flatnonzero(dirty_r):
        region_text[i] = DIRTY_REGIONS[region[i]][rng.integers(0, 2)]
    for i in np.flatnonzero(dirty_t):
        tier_text[i] = DIRTY_TIERS[tier[i]][rng.integers(0, 2)]
    for i, (r_text, t_text) in enumerate(FORCED_DIRTY):
        if r_text is not None:
            region_text[i] = r_text
        if t_text is not None:
            tier_text[i] = t_text
    active = rng.random(nr) > 0.08
    active[-2:] = False  # at least two inactive retailers, whatever the seed
    w.retailer_active = active
    names = p.last_names[rng.integers(0, len(p.last_names), nr)]
    form = pick(rng, RETAILER_FORMS, nr)
    rnames = np.array([f.format(a) for a, f in zip(names, form, strict=True)], dtype=object)
    rslug = _slug(names)
    created = rng.uniform(-HISTORY_DAYS - 700, -HISTORY_DAYS - 10, nr) * DAY
    w.tables["retailers"] = pd.DataFrame(
        {
            "retailer_id": w.retailer_ids,
            "retailer_name": rnames,
            "region": region_text,
            "contact_email": np.array(
                [f"{'Info' if i % 9 == 0 else 'info'}@{x}{i}.com" for i, x in enumerate(rslug)],
                dtype=object,
            ),
            "contact_phone": p.phones[rng.integers(0, len(p.phones), nr)],
            "address": p.streets[rng.integers(0, len(p.streets), nr)],
            "city": p.cities[rng.integers(0, len(p.cities), nr)],
            "state": p.states[rng.integers(0, len(p.states), nr)],
            "country": np.full(nr, "United States", dtype=object),
            "postal_code": p.postcodes[rng.integers(0, len(p.postcodes), nr)],
            "website_url": with_nulls(
                np.array([f"https://{x}{i}.com" for i, x in enumerate(rslug)], dtype=object),
                rng.random(nr) < 0.15,
            ),
            "store_type": pick(rng, STORE_TYPES, nr, p=[0.6, 0.15, 0.25]),
            "tier": tier_text,
            "is_active": active,
            "onboarding_date": dates(created / DAY + rng.integers(0, 5, nr)),
            "created_at": ts(created),
            "updated_at": ts(created + rng.uniform(0, 120, nr) * DAY),
        }
    )

    # users: admins, 3 per brand, 2 per retailer
    per_brand, per_retailer = 3, 2
    nu = na + nb * per_brand + nr * per_retailer
    brand_user_ids = uuids(rng, nb * per_brand)
    retailer_user_ids = uuids(rng, nr * per_retailer)
    w.retailer_users = retailer_user_ids.reshape(nr, per_retailer)
    ids = np.concatenate([w.admin_ids, brand_user_ids, retailer_user_ids])
    role = np.array(
        ["admin"] * na + ["brand"] * (nb * per_brand) + ["retailer"] * (nr * per_retailer),
        dtype=object,
    )
    b_of = np.repeat(np.arange(nb), per_brand)
    r_of = np.repeat(np.arange(nr), per_retailer)
    brand_col = np.concatenate(
        [
            np.full(na, None, dtype=object),
            w.brand_ids[b_of],
            np.full(nr * per_retailer, None, dtype=object),
        ]
    )
    retailer_col = np.concatenate(
        [np.full(na + nb * per_brand, None, dtype=object), w.retailer_ids[r_of]]
    )
    company = np.concatenate(
        [np.full(na, "CrownSync", dtype=object), brand_names[b_of], rnames[r_of]]
    )
    region_col = np.concatenate([np.full(na + nb * per_brand, None, dtype=object), region[r_of]])
    domain = np.concatenate(
        [
            np.full(na, "crownsync.example", dtype=object),
            np.array([f"{x}.com" for x in slugs[b_of]], dtype=object),
            np.array([f"{x}{i}.com" for x, i in zip(rslug[r_of], r_of, strict=True)], dtype=object),
        ]
    )
    first, last = _names(p, rng, nu)
    created = rng.uniform(-HISTORY_DAYS - 300, -HISTORY_DAYS, nu) * DAY
    last_login = rng.uniform(-HISTORY_DAYS, -0.01, nu) * DAY
    last_login[rng.random(nu) < 0.1] = np.nan
    updated = np.fmax(created + rng.uniform(0, 100, nu) * DAY, np.nan_to_num(last_login, nan=-1e12))
    w.tables["users"] = pd.DataFrame(
        {
            "id": ids,
            "email": _emails(first, last, domain, "u", rng),
            "full_name": np.array(
                [f"{a} {b}" for a, b in zip(first, last, strict=True)], dtype=object
            ),
            "role": role,
            "region": region_col,
            "company_name": company,
            "phone": with_nulls(p.phones[rng.integers(0, len(p.phones), nu)], rng.random(nu) < 0.2),
            "brand_id": brand_col,
            "retailer_id": retailer_col,
            "is_active": rng.random(nu) > 0.04,
            "last_login": ts(last_login),
            "created_at": ts(created),
            "updated_at": ts(updated),
        }
    )


def _campaigns(w: World) -> None:
    s, p = w.sizes, w.pools
    rng = w.rng("campaigns")
    n = s.campaigns
    w.campaign_ids = uuids(rng, n)
    w.campaign_brand = rng.integers(0, s.brands, n)
    ctype = pick(rng, CAMPAIGN_TYPES, n, p=[0.3, 0.3, 0.15, 0.25])
    ctype[:4] = ["mixed", "email", "social", "sms"]
    silent = rng.random(n) < 0.04
    silent[:4] = False
    silent[-2:] = True  # at least two campaigns without any activity
    start = rng.integers(-HISTORY_DAYS, -5, n).astype(np.float64)
    length = rng.integers(14, 91, n)
    end = start + length
    status = np.where(
        end < 0,
        pick(rng, ["completed", "archived"], n, p=[0.8, 0.2]),
        pick(rng, ["active", "paused"], n, p=[0.85, 0.15]),
    ).astype(object)
    status[silent] = "draft"
    start[silent] = rng.integers(1, 30, silent.sum())  # drafts start in the future
    end[silent] = start[silent] + 30
    no_end = rng.random(n) < 0.05
    budget = np.round(rng.lognormal(9.5, 0.9, n), -2)
    spent_frac = np.where(
        status == "draft", 0.0, np.clip((0 - start) / np.maximum(length, 1), 0, 1)
    )
    spent = budget * spent_frac * rng.uniform(0.6, 1.05, n)
    budget_txt = money(budget)
    budget_null = rng.random(n) < 0.03
    budget_zero = rng.random(n) < 0.02
    budget_null[4], budget_zero[5] = True, True
    budget_zero &= ~budget_null
    budget_txt[budget_zero] = "0.00"
    budget_txt[budget_null] = None
    created = (np.minimum(start, 0) - rng.uniform(3, 30, n)) * DAY
    updated = np.where(
        status == "draft",
        created + HOUR,
        np.minimum(end, -0.02) * DAY - rng.uniform(0, 3, n) * HOUR,
    )
    updated = np.maximum(updated, created + 60)
    objectives = ["awareness", "engagement", "conversion", "retention", "launch"]
    obj = []
    for k in rng.integers(0, 4, n):
        obj.append(
            None if k == 0 else "{" + ",".join(rng.choice(objectives, k, replace=False)) + "}"
        )
    w.campaign_type, w.campaign_silent, w.campaign_start, w.campaign_end = ctype, silent, start, end
    w.tables["campaigns"] = pd.DataFrame(
        {
            "campaign_id": w.campaign_ids,
            "campaign_name": np.array(
                [
                    f"{a} {b} {i}"
                    for i, (a, b) in enumerate(
                        zip(
                            pick(rng, MODEL_LINES, n),
                            pick(
                                rng,
                                [
                                    "Launch",
                                    "Holiday",
                                    "Spring",
                                    "VIP Event",
                                    "Anniversary",
                                    "Collection",
                                ],
                                n,
                            ),
                            strict=True,
                        )
                    )
                ],
                dtype=object,
            ),
            "campaign_description": with_nulls(
                p.sentences[rng.integers(0, len(p.sentences), n)], rng.random(n) < 0.1
            ),
            "campaign_type": ctype,
            "campaign_status": status,
            "brand_id": w.brand_ids[w.campaign_brand],
            "start_date": dates(start),
            "end_date": with_nulls(dates(end), no_end),
            "budget_allocated": budget_txt,
            "budget_spent": with_nulls(
                money(np.where(budget_null | budget_zero, 0, spent)), np.zeros(n, bool)
            ),
            "target_audience": pick(
                rng,
                [
                    "luxury buyers",
                    "first-time buyers",
                    "collectors",
                    "gift shoppers",
                    "VIP clients",
                ],
                n,
            ),
            "campaign_objectives": np.array(obj, dtype=object),
            "performance_tier": with_nulls(pick(rng, ["high", "good", "standard"], n), silent),
            "trend_direction": with_nulls(pick(rng, ["up", "down", "stable"], n), silent),
            "created_by": w.admin_ids[rng.integers(0, len(w.admin_ids), n)],
            "created_at": ts(created),
            "updated_at": ts(updated),
        }
    )


def _watch_models(w: World) -> None:
    s = w.sizes
    rng = w.rng("watch_models")
    n = s.watch_models
    w.model_ids = uuids(rng, n)
    brand = rng.integers(0, s.brands, n)
    active = rng.random(n) > 0.1
    active[:2] = False
    price = np.round(rng.lognormal(8.3, 0.8, n), -1)
    price_txt = money(price)
    price_txt[rng.random(n) < 0.03] = None
    w.model_mpn = np.array(
        [
            f"M{b:02d}-{i:05d}-{int(x):03d}"
            for i, (b, x) in enumerate(zip(brand, rng.integers(0, 999, n), strict=True))
        ],
        dtype=object,
    )
    w.model_price, w.model_active = price, active
    created = rng.uniform(-HISTORY_DAYS - 500, -HISTORY_DAYS, n) * DAY
    w.tables["watch_models"] = pd.DataFrame(
        {
            "model_id": w.model_ids,
            "brand_id": w.brand_ids[brand],
            "model_name": np.array(
                [
                    f"{a} {b}"
                    for a, b in zip(
                        pick(rng, MODEL_LINES, n), pick(rng, MODEL_KINDS, n), strict=True
                    )
                ],
                dtype=object,
            ),
            "collection_name": pick(rng, COLLECTIONS, n),
            "size": pick(rng, ["36mm", "38mm", "40mm", "41mm", "42mm", "44mm"], n),
            "gender": pick(rng, ["men", "women", "unisex"], n),
            "material": pick(
                rng, ["stainless steel", "18k gold", "titanium", "ceramic", "platinum", "bronze"], n
            ),
            "mpn": w.model_mpn,
            "retail_price": price_txt,
            "is_active": active,
            "created_at": ts(created),
            "updated_at": ts(created + rng.uniform(0, 200, n) * DAY),
        }
    )


def _customers(w: World) -> None:
    s, p = w.sizes, w.pools
    rng = w.rng("customers")
    n = s.customers
    w.customer_ids = uuids(rng, n)
    w.customer_retailer = rng.integers(0, s.retailers, n)
    first, last = _names(p, rng, n)
    domain = pick(rng, ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com"], n)
    created = rng.uniform(-HISTORY_DAYS - 365, -1, n) * DAY
    orders = rng.poisson(2.5, n)
    ltv = orders * rng.lognormal(7.5, 0.7, n)
    last_order = np.where(orders > 0, np.floor(rng.uniform(-HISTORY_DAYS, -1, n)), np.nan)
    prefs = pick(
        rng,
        [
            '{"email": true, "sms": false}',
            '{"email": true, "sms": true}',
            '{"email": false, "sms": false, "mail": true}',
        ],
        n,
    )
    tags = pick(rng, ["{vip}", "{collector,vip}", "{gift}", "{newsletter}", None], n)
    w.tables["customers"] = pd.DataFrame(
        {
            "customer_id": w.customer_ids,
            "retailer_id": w.retailer_ids[w.customer_retailer],
            "first_name": first,
            "last_name": last,
            "email": _emails(first, last, domain, "c", rng),
            "phone": with_nulls(p.phones[rng.integers(0, len(p.phones), n)], rng.random(n) < 0.15),
            "date_of_birth": dates(rng.uniform(-80 * 365, -20 * 365, n)),
            "gender": pick(
                rng, ["female", "male", "non-binary", None], n, p=[0.48, 0.48, 0.02, 0.02]
            ),
            "address_line1": p.streets[rng.integers(0, len(p.streets), n)],
            "address_line2": with_nulls(
                np.array([f"Apt {k}" for k in rng.integers(1, 400, n)], dtype=object),
                rng.random(n) < 0.8,
            ),
            "city": p.cities[rng.integers(0, len(p.cities), n)],
            "state": p.states[rng.integers(0, len(p.states), n)],
            "postal_code": p.postcodes[rng.integers(0, len(p.postcodes), n)],
            "country": np.full(n, "United States", dtype=object),
            "customer_tier": pick(
                rng, ["bronze", "silver", "gold", "platinum"], n, p=[0.5, 0.3, 0.15, 0.05]
            ),
            "lifetime_value": money(ltv),
            "total_orders": orders,
            "last_order_date": dates(last_order),
            "acquisition_source": pick(
                rng, ["walk_in", "referral", "instagram", "email", "event", "website"], n
            ),
            "acquisition_date": dates(np.floor(created / DAY)),
            "communication_preferences": prefs,
            "tags": tags,
            "notes": with_nulls(
                p.sentences[rng.integers(0, len(p.sentences), n)], rng.random(n) < 0.85
            ),
            "is_active": rng.random(n) > 0.03,
            "created_at": ts(created),
            "updated_at": ts(created + rng.uniform(0, 1, n) * np.minimum(-created, 30 * DAY)),
        }
    )


def _social_accounts(w: World) -> None:
    s = w.sizes
    rng = w.rng("social_accounts")
    platforms = ["facebook", "instagram", "twitter", "linkedin", "tiktok", "youtube"]
    brand_n = rng.integers(2, 6, s.brands)
    retailer_n = rng.integers(1, 4, s.retailers)
    owners_b = np.repeat(np.arange(s.brands), brand_n)
    owners_r = np.repeat(np.arange(s.retailers), retailer_n)
    nb, nr = len(owners_b), len(owners_r)
    n = nb + nr

    # distinct platforms per owner: the k-th account of an owner takes platform (offset + k) % 6
    def platform_for(counts: np.ndarray) -> np.ndarray:
        offs = rng.integers(0, 6, len(counts))
        k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return np.asarray(platforms, dtype=object)[(np.repeat(offs, counts) + k) % 6]

    plat = np.concatenate([platform_for(brand_n), platform_for(retailer_n)])
    w.account_ids = uuids(rng, n)
    names = np.concatenate(
        [
            w.tables["brands"]["brand_name"].to_numpy()[owners_b],
            w.tables["retailers"]["retailer_name"].to_numpy()[owners_r],
        ]
    )
    followers = np.concatenate([rng.lognormal(10, 1.2, nb), rng.lognormal(7, 1.0, nr)]).astype(
        np.int64
    )
    active = rng.random(n) > 0.05
    w.account_platform, w.account_followers, w.account_active = plat, followers, active
    w.brand_account_counts = brand_n
    created = rng.uniform(-HISTORY_DAYS - 900, -HISTORY_DAYS, n) * DAY
    w.tables["social_accounts"] = pd.DataFrame(
        {
            "account_id": w.account_ids,
            "retailer_id": np.concatenate(
                [np.full(nb, None, dtype=object), w.retailer_ids[owners_r]]
            ),
            "brand_id": np.concatenate([w.brand_ids[owners_b], np.full(nr, None, dtype=object)]),
            "platform": plat,
            "account_handle": np.array(
                [f"@{x}{i}" for i, x in enumerate(_slug(names))], dtype=object
            ),
            "account_name": names,
            "follower_count": followers,
            "is_verified": np.concatenate([rng.random(nb) < 0.7, rng.random(nr) < 0.1]),
            "is_active": active,
            "created_at": ts(created),
            "updated_at": ts(np.full(n, -1.0) * DAY + rng.uniform(0, 20, n) * HOUR),
        }
    )


def _brand_assets(w: World) -> None:
    s, p = w.sizes, w.pools
    rng = w.rng("brand_assets")
    n = s.brand_assets
    atype = pick(rng, ["image", "video", "document", "template"], n, p=[0.5, 0.2, 0.15, 0.15])
    fmt = {
        "image": ["jpg", "png"],
        "video": ["mp4", "mov"],
        "document": ["pdf", "docx"],
        "template": ["psd", "indd"],
    }
    created = rng.uniform(-HISTORY_DAYS - 200, -10, n) * DAY
    w.asset_ids = uuids(rng, n)
    w.tables["brand_assets"] = pd.DataFrame(
        {
            "asset_id": w.asset_ids,
            "brand_id": w.brand_ids[rng.integers(0, s.brands, n)],
            "asset_name": np.array(
                [
                    f"{a.title()} {t} {i}"
                    for i, (a, t) in enumerate(
                        zip(p.words[rng.integers(0, len(p.words), n)], atype, strict=True)
                    )
                ],
                dtype=object,
            ),
            "asset_type": atype,
            "asset_category": pick(
                rng, ["product", "lifestyle", "campaign", "brand guidelines", "social"], n
            ),
            "file_format": np.array(
                [fmt[t][k] for t, k in zip(atype, rng.integers(0, 2, n), strict=True)], dtype=object
            ),
            "file_size": (rng.lognormal(14, 1.5, n)).astype(np.int64),
            "usage_count": rng.poisson(20, n),
            "approval_status": pick(
                rng, ["pending", "approved", "rejected"], n, p=[0.15, 0.8, 0.05]
            ),
            "is_active": rng.random(n) > 0.05,
            "created_at": ts(created),
            "updated_at": ts(created + rng.uniform(0, 5, n) * DAY),
        }
    )
