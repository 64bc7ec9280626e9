"""Organisation use-cases shared by GraphQL, REST and the CLI: validate, then write."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from api.errors import Problems
from api.services.rules import check_code, check_enum, check_text
from api.services.transaction import write_transaction
from db.pool import Connection
from db.queries import organisations as organisation_sql

ORG_TYPES = (
    "NMAA",
    "GOVERNMENT",
    "MILITARY",
    "COMMERCIAL",
    "NATIONAL_NGO",
    "INTERNATIONAL_NGO",
    "UN",
)

# ISO 3166-1 alpha-2: the officially assigned codes, plus the user-assigned ones (AA, QM-QZ,
# XA-XZ, ZZ) that programmes use for places without a code of their own (XK, or ZZ in the demo).
_ASSIGNED = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
_USER_ASSIGNED = [
    "AA",
    "ZZ",
    *(f"Q{c}" for c in "MNOPQRSTUVWXYZ"),
    *(f"X{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
]
COUNTRY_CODES = frozenset(_ASSIGNED.split()) | frozenset(_USER_ASSIGNED)


@dataclass(frozen=True)
class NewOrganisation:
    """What a client supplies to record an operator or authority."""

    code: str
    name: str
    org_type: str
    country: str | None = None


def check_country(value: str, field: str, problems: Problems) -> None:
    """A country is an ISO 3166-1 alpha-2 code in upper case (GB, not UK or gb)."""
    if value not in COUNTRY_CODES:
        problems.add(field, "must be an ISO 3166-1 alpha-2 country code in upper case, e.g. 'GB'")


async def create_organisation(conn: Connection, organisation: NewOrganisation) -> asyncpg.Record:
    """Record an organisation and return it, or raise BadUserInput / ConflictError on the field."""
    problems = Problems("input")
    check_code(organisation.code, "code", problems)
    check_text(organisation.name, "name", problems, max_length=300)
    check_enum(organisation.org_type, "orgType", ORG_TYPES, problems)
    if organisation.country is not None:
        check_country(organisation.country, "country", problems)
    problems.raise_if_any()
    async with write_transaction(conn):
        row = await conn.fetchrow(
            organisation_sql.INSERT,
            organisation.code,
            organisation.name,
            organisation.org_type,
            organisation.country,
        )
    assert row is not None
    return row
