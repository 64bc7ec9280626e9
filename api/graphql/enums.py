"""GraphQL enumerations, named exactly as API.md names them; values are the stored text."""

from enum import Enum

import strawberry


@strawberry.enum(
    description="SHA: suspected (indirect evidence); CHA: confirmed (direct evidence)."
)
class HazardType(Enum):
    SHA = "SHA"
    CHA = "CHA"


@strawberry.enum(description="The IMAS land-release map states of a zone.")
class ZoneStatus(Enum):
    OPEN = "OPEN"
    WORKED_ON = "WORKED_ON"
    CLOSED = "CLOSED"


@strawberry.enum(description="Kinds of explosive ordnance present in a zone.")
class Contamination(Enum):
    AP_MINE = "AP_MINE"
    AV_MINE = "AV_MINE"
    CMR = "CMR"
    UXO = "UXO"
    AXO = "AXO"
    IED = "IED"
    BOOBY_TRAP = "BOOBY_TRAP"


@strawberry.enum(description="What the land of a zone is used for, or will be once released.")
class LandUse(Enum):
    AGRICULTURAL = "AGRICULTURAL"
    RESIDENTIAL = "RESIDENTIAL"
    INFRASTRUCTURE = "INFRASTRUCTURE"
    FOREST = "FOREST"
    GRAZING = "GRAZING"
    OTHER = "OTHER"


@strawberry.enum(description="The kind of work a task does in its zone.")
class TaskType(Enum):
    NTS = "NTS"
    TS = "TS"
    CLEARANCE = "CLEARANCE"
    BAC = "BAC"
    EOD_SPOT = "EOD_SPOT"


@strawberry.enum(description="Where a task stands; see DOMAIN.md for the allowed moves.")
class TaskStatus(Enum):
    PLANNED = "PLANNED"
    ONGOING = "ONGOING"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


@strawberry.enum(description="Means a task deploys.")
class Asset(Enum):
    MANUAL = "MANUAL"
    MDD = "MDD"
    MECHANICAL = "MECHANICAL"


@strawberry.enum(description="What a team is accredited to do.")
class Capability(Enum):
    MANUAL = "MANUAL"
    MDD = "MDD"
    MECHANICAL = "MECHANICAL"
    EOD = "EOD"
    NTS = "NTS"
    TS = "TS"


@strawberry.enum(description="Whether a team can be deployed.")
class TeamStatus(Enum):
    ACTIVE = "ACTIVE"
    STANDBY = "STANDBY"
    INACTIVE = "INACTIVE"


@strawberry.enum(description="The kind of organisation.")
class OrgType(Enum):
    NMAA = "NMAA"
    GOVERNMENT = "GOVERNMENT"
    MILITARY = "MILITARY"
    COMMERCIAL = "COMMERCIAL"
    NATIONAL_NGO = "NATIONAL_NGO"
    INTERNATIONAL_NGO = "INTERNATIONAL_NGO"
    UN = "UN"


@strawberry.enum(description="How land was released (IMAS 07.11).")
class ReleaseMethod(Enum):
    CANCELLED = "CANCELLED"
    REDUCED = "REDUCED"
    CLEARED = "CLEARED"


@strawberry.enum(description="Category of explosive ordnance found or involved.")
class DeviceCategory(Enum):
    AP_MINE = "AP_MINE"
    AV_MINE = "AV_MINE"
    CMR = "CMR"
    UXO = "UXO"
    AXO = "AXO"
    IED = "IED"
    SAA = "SAA"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


@strawberry.enum(description="What was done with a device found.")
class Disposal(Enum):
    DESTROYED_IN_SITU = "DESTROYED_IN_SITU"
    REMOVED_AND_DESTROYED = "REMOVED_AND_DESTROYED"
    RENDERED_SAFE = "RENDERED_SAFE"


@strawberry.enum(description="The kind of accident.")
class IncidentType(Enum):
    DEMINING_ACCIDENT = "DEMINING_ACCIDENT"
    MINE_ACCIDENT = "MINE_ACCIDENT"
    CLUSTER_ACCIDENT = "CLUSTER_ACCIDENT"
    IED_ACCIDENT = "IED_ACCIDENT"
    UXO_AXO_ACCIDENT = "UXO_AXO_ACCIDENT"
    STORED_AMMUNITION_ACCIDENT = "STORED_AMMUNITION_ACCIDENT"
    OTHER = "OTHER"


@strawberry.enum(description="What the people involved were doing.")
class Activity(Enum):
    FARMING = "FARMING"
    HERDING = "HERDING"
    TRAVELLING = "TRAVELLING"
    DEMINING = "DEMINING"
    PLAYING = "PLAYING"
    COLLECTING = "COLLECTING"
    CONSTRUCTION = "CONSTRUCTION"
    TAMPERING = "TAMPERING"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


@strawberry.enum(description="What happened to a casualty.")
class Outcome(Enum):
    KILLED = "KILLED"
    INJURED = "INJURED"
    UNKNOWN = "UNKNOWN"


@strawberry.enum(description="Who a casualty was.")
class CasualtyCategory(Enum):
    CIVILIAN = "CIVILIAN"
    MILITARY = "MILITARY"
    DEMINER = "DEMINER"
    UNKNOWN = "UNKNOWN"


@strawberry.enum(description="A casualty's sex as recorded.")
class Sex(Enum):
    FEMALE = "FEMALE"
    MALE = "MALE"
    UNKNOWN = "UNKNOWN"


@strawberry.enum(description="Derived from age at the time of the explosion: under 18 is CHILD.")
class AgeGroup(Enum):
    CHILD = "CHILD"
    ADULT = "ADULT"
    UNKNOWN = "UNKNOWN"


@strawberry.enum(
    description="Sort orders of zone lists; ties are broken by id in the same direction."
)
class ZoneOrder(Enum):
    PRIORITY_ASC = "PRIORITY_ASC"
    PRIORITY_DESC = "PRIORITY_DESC"
    CODE_ASC = "CODE_ASC"
    CODE_DESC = "CODE_DESC"
    RECORDED_ON_ASC = "RECORDED_ON_ASC"
    RECORDED_ON_DESC = "RECORDED_ON_DESC"
    UPDATED_AT_ASC = "UPDATED_AT_ASC"
    UPDATED_AT_DESC = "UPDATED_AT_DESC"
    REMAINING_AREA_ASC = "REMAINING_AREA_ASC"
    REMAINING_AREA_DESC = "REMAINING_AREA_DESC"
