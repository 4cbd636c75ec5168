"""Column layouts of the simulation state matrices (shared by population, dynamics, feeds, truth).

The state is a handful of 2-D numeric arrays (one row per household or person) so that it can be
copied, replicated for Monte Carlo continuation and passed to the compiled step in one piece.
Columns are addressed by the integer constants below.
"""

from __future__ import annotations

# --- household floats (HF) -------------------------------------------------------------------
LAND = 0  # cultivated land, mu
FARM_RATE = 1  # gross farm income per mu per year at base prices
BIZ_GROSS = 2  # monthly gross of a household business (0 = none)
PROPERTY = 3  # monthly property income (land rent, dividends)
SUPPORT = 4  # monthly support from children living elsewhere (recorded transfer)
BUFFER = 5  # hidden: savings that absorb rigid expenses
HELP = 6  # hidden: informal monthly help from relatives (not recorded anywhere)
PROPENSITY = 7  # hidden: multiplier of the household's self-report hazard
WAGE_LEVEL = 8  # household wage multiplier (earning capacity)
ASSIST = 9  # monthly support while monitored (帮扶措施)
TARGET = 10  # expected per-capita income relative to the line at month 0 (diagnostics)
DEATH_WAGE = 11  # monthly wage (month-0 prices, with the wage level) lost to deaths (causes)
N_HF = 12

# --- household ints (HI) ---------------------------------------------------------------------
CKEY = 0  # county (+ draw × counties in a continuation)
VKEY = 1  # village (+ draw × villages in a continuation)
POOR = 2  # 1 = 脱贫户
SIZE = 3  # members alive
HAS_BIZ = 4
DIBAO = 5
TEKUN = 6
CROP_LOST = 7  # months of farm income still lost to a disaster
HOUSE_BAD = 8  # months the house stays dangerous after damage (-1 = dangerous from the start)
MONITORED = 9
IDENT_T = 10  # month index of the current identification (-1)
RECOVER = 11  # consecutive months out of distress while monitored
PENDING = 12  # month index at which a discovered household is approved (-1 none)
PCAT = 13  # category decided at discovery (0 脱贫不稳定户, 1 边缘易致贫户, 2 突发严重困难户)
PCHAN = 14  # channel of discovery (0 self-report, 1 cadre, 2 department)
ELIM_T = 15
LAST_ILL = 16  # month index of the latest cause of each kind (-999 none)
LAST_DIS = 17
LAST_JOB = 18
LAST_DISASTER = 19
LAST_BIZ = 20
LAST_ACC = 21
LAST_DEATH = 22
SAFE_WATER = 23
N_HI = 24

# --- person floats (PF) ----------------------------------------------------------------------
ABILITY = 0  # 0..1 labour ability (skill and strength)
WAGE = 1  # monthly wage of the current spell
LOST_WAGE = 2  # wage (with the household's wage level) of the spell that ended last (causes)
N_PF = 3

# --- person ints (PI) ------------------------------------------------------------------------
HH = 0  # household row
AGE_M = 1  # age in months
SEX = 2  # 0 男, 1 女
ALIVE = 3
CHRONIC = 4
MAJOR = 5  # months of major illness left
DIS = 6  # disability grade 1..4 (0 none)
DIS_TYPE = 7
CERT_T = 8  # month the certificate is (or was) issued (-999 none)
TRACK = 9  # schooling track: 0 compulsory only, 1 高中, 2 中职, 3 高中 then college
JOB = (
    10  # 0 none, 1 flexible local, 2 flexible migrant, 3 stable local, 4 stable migrant, 5 公益岗位
)
SPELL_T = 11  # start month of the current spell
REL = 12  # relation code (index into RELATIONS)
SKILLED = 13
BIRTH_T = 14  # month index of birth for members born during the simulation (-1 otherwise)
LOST_CAUSE = 15  # 1 + the shock cause (E_*) that ended the member's last spell (0 none)
LOST_T = 16  # month index that spell ended
N_PI = 17

# --- per-person step outputs (OP floats / OPI ints) --------------------------------------------
INP_COST = 0
INP_BASIC = 1
INP_CRIT = 2
INP_ASSIST = 3
INP_OOP = 4
CHR_COST = 5
CHR_BASIC = 6
CHR_OOP = 7
OUT_COST = 8
OUT_BASIC = 9
OUT_OOP = 10
END_WAGE = 11
N_OP = 12

EVENT = 0  # 1 death, 2 accident, 3 job loss
INP_KIND = 1  # 0 none, 1 major onset, 2 follow-up, 3 accident, 4 ordinary stay
END_JOB = 2  # job type of a spell that ended this month (0 none)
END_START = 3
NEW_SPELL = 4
CERT = 5  # certificate issued this month (grade)
DIAG = 6  # diagnosis code of the inpatient stay
CHR_DIAG = 7
N_OPI = 8

# --- per-household step outputs (OH floats / OHI ints) ------------------------------------------
O_WAGE = 0
O_BIZ_GROSS = 1
O_BIZ_EXPENSE = 2
O_PROPERTY = 3
O_TRANSFER = 4
O_DIBAO = 5
O_TEKUN = 6
O_MED_ASSIST = 7
O_EDU_AID = 8
O_ASSIST = 9
O_RELIEF = 10
O_DISASTER_LOSS = 11
O_BIZ_LOSS = 12
O_INC12 = 13
O_EFF12 = 14
O_INSURANCE = 15
N_OH = 16

O_IDENTIFIED = 0
O_CHANNEL = 1
O_CAT = 2
O_ELIMINATED = 3
O_QUALIFIES = 4
O_DISASTER = 5  # 1 crop loss, 2 crop loss and house damaged
O_BIZ_FAIL = 6
O_RULE = 7
N_OHI = 8

NONE_T = -999

# --- causes (INTERFACE.md v2): shock causes first, in the column order of `State.effect` --------
CAUSES: tuple[str, ...] = (
    "illness",
    "disability",
    "schooling",
    "work",
    "disaster",
    "business",
    "death",
    "low_income",
    "other",
)
E_ILLNESS, E_DISABILITY, E_SCHOOLING, E_WORK, E_DISASTER, E_BUSINESS, E_DEATH = range(7)
N_EFFECT = 7  # shock causes with a money effect; `low_income` and `other` have none

RELATIONS: tuple[str, ...] = (
    "户主",
    "配偶",
    "之子",
    "之女",
    "之儿媳",
    "之女婿",
    "之孙子",
    "之孙女",
    "之父",
    "之母",
    "之岳父",
    "之岳母",
    "之公公",
    "之婆婆",
)
REL_HEAD, REL_SPOUSE, REL_SON, REL_DAUGHTER, REL_DIL = 0, 1, 2, 3, 4
REL_GRANDSON, REL_GRANDDAUGHTER, REL_FATHER, REL_MOTHER = 6, 7, 8, 9

JOB_TYPES = ("", "flexible_local", "flexible_migrant", "stable_local", "stable_migrant", "public")
CATEGORIES = ("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")
CHANNELS = ("农户自主申报", "基层干部排查", "部门筛查预警")
DISABILITY_TYPES = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
MAJOR_DIAGNOSES = ("恶性肿瘤", "脑梗死", "急性心肌梗死", "慢性肾衰竭(尿毒症)", "重症肺炎", "白血病")
CHRONIC_DIAGNOSES = ("高血压", "2型糖尿病", "慢性阻塞性肺疾病", "冠心病", "肺结核", "严重精神障碍")
ORDINARY_DIAGNOSES = ("急性上呼吸道感染", "骨折", "胆囊结石", "肺炎", "腰椎间盘突出")
# planned, costly procedures: big bills that most households absorb (the rules' false alarms)
PROCEDURE_DIAGNOSES = ("膝关节置换", "冠状动脉支架植入", "腰椎融合术")
