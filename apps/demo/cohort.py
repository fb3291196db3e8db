"""The synthetic demo cohort (`manage.py load_demo`). Every name is fake ("DEMO-...").

Between them the patients show every NETPET grade (P0, P1, P2a/b, P3a/b, P4a/b, P5), each
Karfis group, each Zidan group, post-177Lu SPECT after each PRRT cycle, a relapse with a new
FDG-positive/SSTR-negative lesion, CT follow-up, and the PPGL agent choice (§11): tandem
177Lu-DOTATATE and 131I-MIBG (DEMO-0014), 177Lu-DOTATATE with a negative MIBG scan in an SDHB
carrier (DEMO-0015, and DEMO-0013). Reference uptake is the same on every study of a kind
so the grades can be checked by hand: SSTR blood pool 1.5, liver 6.0, spleen 18.0 (Krenning
bands <1.35, <=1.65, <=6, <18, >=18); FDG blood pool 1.8, liver 2.5 (FDG-positive above 1.98);
124I-MIBG PET blood pool 1.0, liver 3.5, spleen 2.5 (above liver scores 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

SSTR_REFS = {
    "blood_pool_suv": "1.5",
    "liver_suv": "6.0",
    "liver_suv_sd": "0.6",
    "spleen_suv": "18.0",
}
FDG_REFS = {"blood_pool_suv": "1.8", "liver_suv": "2.5", "liver_suv_sd": "0.3", "spleen_suv": "2.0"}
# 124I-MIBG PET (DEMO-0014): physiological liver uptake above the spleen's.
MIBG_PET_REFS = {"blood_pool_suv": "1.0", "liver_suv": "3.5", "spleen_suv": "2.5"}


@dataclass
class DemoStudy:
    key: str
    performed_on: str
    tracer: str
    modality: str
    # lesion key -> observation fields; a plain number is a scored SUVmax
    obs: dict[str, Any]
    refs: dict[str, str] = field(default_factory=dict)
    post_therapy: bool = False
    cycle: int | None = None


@dataclass
class DemoPatient:
    mrn: str
    family_name: str
    given_name: str
    sex: str
    birth_date: str
    primary_site: str
    histology: str
    lesions: dict[str, tuple[str, str, bool]]  # key -> (label, site, nodal)
    studies: list[DemoStudy]
    pathology: list[dict[str, Any]] = field(default_factory=list)
    treatments: list[dict[str, Any]] = field(default_factory=list)
    biomarkers: list[tuple[str, str, str, str]] = field(default_factory=list)
    height_cm: str | None = "170"
    weight_kg: str | None = "70"
    ppgl_cluster: str | None = None


def sstr(key: str, day: str, obs: dict[str, Any], **refs: str) -> DemoStudy:
    return DemoStudy(key, day, "ga68_dotatate", "pet_ct", obs, {**SSTR_REFS, **refs})


def fdg(key: str, day: str, obs: dict[str, Any]) -> DemoStudy:
    return DemoStudy(key, day, "f18_fdg", "pet_ct", obs, dict(FDG_REFS))


def ct(key: str, day: str, obs: dict[str, Any]) -> DemoStudy:
    return DemoStudy(key, day, "none", "ct", obs)


def spect(key: str, day: str, cycle: int, obs: dict[str, Any]) -> DemoStudy:
    return DemoStudy(key, day, "lu177_dotatate", "spect_ct", obs, post_therapy=True, cycle=cycle)


def liver(n: int, segment: str) -> tuple[str, str, bool]:
    return (f"Liver {n} (seg {segment})", "liver", False)


G1 = {
    "reported_on": "2023-01-10",
    "who_grade": "G1",
    "ki67_percent": "2",
    "differentiation": "well",
}
G2 = {
    "reported_on": "2023-01-10",
    "who_grade": "G2",
    "ki67_percent": "12",
    "differentiation": "well",
}

COHORT: list[DemoPatient] = [
    DemoPatient(
        "DEMO-0001",
        "DEMO-Alder",
        "Ada",
        "female",
        "1958-03-14",
        "pancreas",
        "net",
        {"a": liver(1, "VII"), "b": liver(2, "IVa")},
        [
            sstr("s", "2024-01-08", {"a": "1.0", "b": "1.2"}),
            fdg("f", "2024-01-12", {"a": "1.0", "b": "1.1"}),
        ],
        pathology=[G1],
    ),  # P0 · Karfis not classifiable · Zidan 1
    DemoPatient(
        "DEMO-0002",
        "DEMO-Birch",
        "Ben",
        "male",
        "1961-07-02",
        "small_intestine",
        "net",
        {"p": ("Ileum (primary)", "bowel", False), "a": liver(1, "VI")},
        [
            sstr("s", "2024-02-01", {"p": "25", "a": "12"}),
            fdg("f", "2024-02-10", {"p": "1.5", "a": {"state": "not_seen"}}),
        ],
        pathology=[G1],
        biomarkers=[
            ("chromogranin_a", "180", "µg/L", "2023-11-01"),
            ("chromogranin_a", "175", "µg/L", "2024-01-30"),
        ],
    ),  # P1 · C1 · Zidan 2
    DemoPatient(
        "DEMO-0003",
        "DEMO-Cedar",
        "Cleo",
        "female",
        "1970-11-23",
        "pancreas",
        "net",
        {"p": ("Pancreas head (primary)", "pancreas", False), "a": liver(1, "II")},
        [
            sstr("s", "2024-03-04", {"p": "20", "a": "14"}),
            fdg("f", "2024-03-06", {"p": "3.0", "a": "1.4"}),
        ],
        pathology=[G2],
    ),  # P2a · C2 · Zidan 3
    DemoPatient(
        "DEMO-0004",
        "DEMO-Dogwood",
        "Dev",
        "male",
        "1955-05-30",
        "pancreas",
        "net",
        {
            "p": ("Pancreas tail (primary)", "pancreas", False),
            "a": liver(1, "VIII"),
            "b": liver(2, "V"),
        },
        [
            sstr("s", "2024-03-11", {"p": "20", "a": "21", "b": "19"}),
            fdg("f", "2024-03-12", {"p": "3.0", "a": "2.8", "b": "3.2"}),
        ],
        pathology=[G2],
    ),  # P2b · C2 · Zidan 3
    DemoPatient(
        "DEMO-0005",
        "DEMO-Elm",
        "Eve",
        "female",
        "1966-09-09",
        "stomach",
        "net",
        {"p": ("Stomach (primary)", "bowel", False), "a": liver(1, "III")},
        [
            sstr("s", "2024-04-02", {"p": "12", "a": "25"}),
            fdg("f", "2024-04-04", {"p": "5.0", "a": "1.2"}),
        ],
        pathology=[G2],
    ),  # P3a · C2 · Zidan 3
    DemoPatient(
        "DEMO-0006",
        "DEMO-Fir",
        "Finn",
        "male",
        "1959-12-01",
        "pancreas",
        "net",
        {"a": liver(1, "II"), "b": liver(2, "VI"), "c": liver(3, "VII")},
        [
            sstr("s", "2024-03-01", {"a": "12", "b": "12", "c": "12"}),
            fdg("f", "2024-03-03", {"a": "5.0", "b": "5.5", "c": "4.5"}),
        ],
        pathology=[{**G2, "reported_on": "2023-06-01"}],
    ),  # P3b · C2 · Zidan 3 (worked example of cases/phenotype.json)
    DemoPatient(
        "DEMO-0007",
        "DEMO-Ginkgo",
        "Gus",
        "male",
        "1963-04-18",
        "lung",
        "atypical_carcinoid",
        {
            "p": ("Right lower lobe (primary)", "lung", False),
            "n": ("Subcarinal node", "lymph_node", True),
        },
        [
            sstr("s", "2024-04-01", {"p": "20", "n": "5.0"}),
            fdg("f", "2024-04-02", {"p": "1.2", "n": "4.0"}),
        ],
        pathology=[{"reported_on": "2022-01-01", "who_grade": "G2", "ki67_percent": "8"}],
    ),  # P4a · C2 · Zidan 4 (a Krenning-2 node, FDG-avid: the threshold difference) · pulmonary
    DemoPatient(
        "DEMO-0008",
        "DEMO-Hazel",
        "Hana",
        "female",
        "1968-02-27",
        "duodenum",
        "net",
        {"a": liver(1, "IVb"), "b": liver(2, "VIII"), "c": ("T10 vertebra", "bone", False)},
        [
            sstr("s", "2024-05-06", {"a": "7.0", "b": "7.5", "c": "8.0"}),
            fdg("f", "2024-05-07", {"a": "6.0", "b": "6.5", "c": "7.0"}),
        ],
        pathology=[{"reported_on": "2024-04-01", "who_grade": "G3", "ki67_percent": "30"}],
    ),  # P4b · C2 · Zidan 3
    DemoPatient(
        "DEMO-0009",
        "DEMO-Ivy",
        "Ivo",
        "male",
        "1957-08-08",
        "rectum",
        "net",
        {
            "p": ("Rectum (primary)", "bowel", False),
            "a": liver(1, "V"),
            "b": ("Pelvic soft tissue", "soft_tissue", False),
        },
        [
            sstr(
                "s",
                "2024-05-01",
                {"p": "30", "a": {"state": "not_seen"}, "b": {"state": "not_evaluable"}},
            ),
            fdg("f", "2024-05-08", {"p": "4.0", "a": "6.0", "b": "9.0"}),
        ],
        pathology=[{"reported_on": "2024-01-01", "who_grade": "G3", "ki67_percent": "60"}],
    ),  # P5 · C3 · Zidan 4
    DemoPatient(
        "DEMO-0010",
        "DEMO-Juniper",
        "Jo",
        "female",
        "1962-06-15",
        "pancreas",
        "net",
        {
            "p": ("Pancreas tail (primary)", "pancreas", False),
            "a": liver(1, "VII"),
            "b": liver(2, "IVa"),
            "c": liver(3, "VI"),
            "d": ("Liver dome (new)", "liver", False),
        },
        [
            ct(
                "ct0",
                "2021-01-20",
                {
                    k: {"long_axis_mm": v}
                    for k, v in {"p": "42", "a": "35", "b": "28", "c": "22"}.items()
                },
            ),
            sstr("s0", "2021-02-22", {"p": "24", "a": "22", "b": "20", "c": "19"}),
            fdg("f0", "2021-03-01", {"p": "5.5", "a": "4.8", "b": "2.3", "c": "1.2"}),
            spect("c1", "2021-04-06", 1, {k: {"krenning_visual": 4} for k in "pabc"}),
            spect(
                "c2",
                "2021-06-08",
                2,
                {
                    "p": {"krenning_visual": 4},
                    "a": {"krenning_visual": 4},
                    "b": {"krenning_visual": 3},
                    "c": {"krenning_visual": 4},
                },
            ),
            spect(
                "c3",
                "2021-08-10",
                3,
                {
                    "p": {"krenning_visual": 3},
                    "a": {"krenning_visual": 3},
                    "b": {"krenning_visual": 3},
                    "c": {"krenning_visual": 4},
                },
            ),
            spect("c4", "2021-10-12", 4, {k: {"krenning_visual": 3} for k in "pabc"}),
            ct(
                "ct1",
                "2021-12-15",
                {
                    k: {"long_axis_mm": v}
                    for k, v in {"p": "30", "a": "24", "b": "20", "c": "15"}.items()
                },
            ),
            ct(
                "ct2",
                "2022-06-20",
                {
                    k: {"long_axis_mm": v}
                    for k, v in {"p": "28", "a": "22", "b": "19", "c": "14"}.items()
                },
            ),
            ct(
                "ct3",
                "2023-03-20",
                {
                    **{
                        k: {"long_axis_mm": v}
                        for k, v in {"p": "29", "a": "22", "b": "19", "c": "14"}.items()
                    },
                    "d": {"long_axis_mm": "24"},
                },
            ),
            sstr("s1", "2023-04-01", {"p": "10", "a": "10", "b": "9", "c": "10", "d": "1.6"}),
            fdg("f1", "2023-04-08", {"p": "1.2", "a": "1.2", "b": "1.1", "c": "1.0", "d": "7.0"}),
        ],
        pathology=[
            {
                "reported_on": "2020-12-01",
                "who_grade": "G2",
                "ki67_percent": "10",
                "differentiation": "well",
                "specimen_site": "liver",
            }
        ],
        treatments=[
            {"kind": "ssa", "regimen": "LAR octreotide 30 mg q4w", "started_on": "2021-01-05"},
            {
                "kind": "prrt_lu177_dotatate",
                "regimen": "177Lu-DOTATATE x4",
                "started_on": "2021-04-05",
                "ended_on": "2021-10-11",
                "cycles": [
                    (1, "2021-04-05", "7.4"),
                    (2, "2021-06-07", "7.4"),
                    (3, "2021-08-09", "7.4"),
                    (4, "2021-10-11", "7.4"),
                ],
            },
        ],
        biomarkers=[
            ("chromogranin_a", v, "µg/L", d)
            for d, v in [
                ("2021-01-15", "850"),
                ("2021-12-10", "310"),
                ("2022-06-15", "290"),
                ("2023-03-15", "520"),
            ]
        ],
    ),  # Fig. 4 of the seed: P2b · C2 · Z3 at baseline; PRRT x4 with SPECT; relapse P5 · C3 · Z4
    DemoPatient(
        "DEMO-0011",
        "DEMO-Kapok",
        "Kai",
        "male",
        "1972-10-10",
        "pancreas",
        "net",
        {"a": ("Liver 1 (seg III)", "liver", False), "b": ("Liver 2 (seg VI)", "liver", False)},
        [
            sstr(
                "s",
                "2024-08-01",
                {
                    "a": {"suv_max": "25", "long_axis_mm": "15"},
                    "b": {"suv_max": "9", "long_axis_mm": "40"},
                },
                spleen_suv="",
            ),
            fdg("f", "2024-11-01", {"a": "1.0", "b": "1.0"}),
        ],
    ),  # SSTR PET with no FDG PET in 60 days; small lesion; spleen not measured
    DemoPatient(
        "DEMO-0012",
        "DEMO-Linden",
        "Lia",
        "female",
        "1960-01-21",
        "appendix",
        "net",
        {"a": liver(1, "II"), "b": liver(2, "III"), "c": liver(3, "V"), "d": liver(4, "VIII")},
        [
            sstr(
                "s",
                "2024-09-02",
                {"a": "5.0", "b": "5.5", "c": "4.0", "d": {"suv_max": "12", "heterogeneous": True}},
            ),
            fdg("f", "2024-09-05", {"a": "1.0", "b": "1.1", "c": "1.0", "d": "1.2"}),
        ],
        pathology=[G1],
    ),  # P1 · C1 · Zidan not classifiable (K2 lesions beside a K3 one); majority low
    DemoPatient(
        "DEMO-0013",
        "DEMO-Maple",
        "Max",
        "male",
        "1975-03-03",
        "paraganglia",
        "paraganglioma",
        {
            "a": ("Organ of Zuckerkandl (primary)", "soft_tissue", False),
            "b": ("L2 vertebra", "bone", False),
        },
        [
            sstr("s", "2024-10-01", {"a": "26", "b": "21"}),
            fdg("f", "2024-10-03", {"a": "2.2", "b": "1.5"}),
            DemoStudy(
                "m",
                "2024-10-10",
                "i123_mibg",
                "spect_ct",
                {"a": {"krenning_visual": 1}, "b": {"state": "not_seen"}},
            ),
        ],
        ppgl_cluster="1A",
        biomarkers=[("normetanephrine", "4.1", "nmol/L", "2024-09-20")],
    ),  # PPGL cluster 1A (SDHx): SSTR-avid, MIBG-poor; P2a · C2 · Zidan 2
    DemoPatient(
        "DEMO-0014",
        "DEMO-Nyssa",
        "Nora",
        "female",
        "1969-05-19",
        "adrenal",
        "pheochromocytoma",
        {
            "v": ("T7 vertebra", "bone", False),
            "d": ("Hepatic dome 1", "liver", False),
            "e": ("Hepatic dome 2", "liver", False),
            "q": ("Left upper quadrant soft tissue", "soft_tissue", False),
        },
        [
            sstr("s", "2024-11-04", {"v": "24", "d": "10", "e": "9.0", "q": "5.0"}),
            # 124I-MIBG PET: the liver takes up more than the spleen (S <= L), which does not
            # invalidate the computed score on an MIBG study (§11.1); above liver scores 4.
            DemoStudy(
                "m",
                "2024-11-12",
                "i124_mibg",
                "pet_ct",
                {"v": "12", "d": "9.0", "e": "2.0", "q": "11"},
                dict(MIBG_PET_REFS),
            ),
        ],
        treatments=[
            {"kind": "surgery", "regimen": "Left adrenalectomy", "started_on": "2021-05-10"}
        ],
        biomarkers=[
            ("normetanephrine", v, "nmol/L", d)
            for d, v in [("2024-05-02", "2.1"), ("2024-08-01", "3.9"), ("2024-10-28", "7.6")]
        ],
    ),  # Fig. 8 of the seed: bone and hepatic dome SSTR-avid (K4, K3, K3), the left upper
    # quadrant soft tissue MIBG-avid only (SSTR K2, MIBG 4), one hepatic dome lesion MIBG-mild:
    # neither agent alone covers every lesion → agent choice tandem; no FDG PET
    DemoPatient(
        "DEMO-0015",
        "DEMO-Oak",
        "Otto",
        "male",
        "1979-08-27",
        "paraganglia",
        "paraganglioma",
        {
            "p": ("Retroperitoneal paraganglioma (primary)", "soft_tissue", False),
            "t": ("T11 vertebra", "bone", False),
            "i": ("Right iliac bone", "bone", False),
            "n": ("Para-aortic node", "lymph_node", True),
        },
        [
            sstr("s", "2024-12-02", {"p": "30", "t": "22", "i": "19", "n": "20"}),
            fdg("f", "2024-12-04", {"p": "4.0", "t": "3.5", "i": "3.0", "n": "3.2"}),
            DemoStudy(
                "m",
                "2024-12-09",
                "i123_mibg",
                "planar",
                {key: {"state": "not_seen"} for key in "ptin"},
            ),
        ],
        ppgl_cluster="1A",
        biomarkers=[("normetanephrine", "5.3", "nmol/L", "2024-11-25")],
    ),  # Germline SDHB (cluster 1A), as in Fig. 7: every site SSTR-avid (K4) and FDG-avid, the
    # 123I-MIBG planar scan negative → agent choice 177Lu-DOTATATE with the SDHB note; P2b · C2
]


def as_decimal(value: str | None) -> Decimal | None:
    return None if value in (None, "") else Decimal(value)


def as_date(value: str) -> date:
    return date.fromisoformat(value)


# Synthetic outcome records (issue 18), made up for the demo like everything else here: chosen so
# that the survival page (/analytics/) shows the three NETPET groups apart on first run — P1
# without an event, P2–P4 with progressions and some deaths over two to three years, P5 dead
# within a year — as the NETPET validation found (Chan et al. 2023), not data of any patient.
# (kind, date, basis of a progression or cause of a death).
SYNTHETIC = "synthetic demo record"
FOLLOW_UPS: dict[str, list[tuple[str, str, str | None]]] = {
    "DEMO-0001": [("last_contact", "2026-11-09", None)],  # P0
    "DEMO-0002": [("last_contact", "2026-11-23", None)],  # P1
    "DEMO-0003": [("progression", "2025-06-10", "recist"), ("last_contact", "2026-11-02", None)],
    "DEMO-0004": [("progression", "2025-01-20", "recist"), ("death", "2026-02-14", SYNTHETIC)],
    "DEMO-0005": [("last_contact", "2026-10-05", None)],
    "DEMO-0006": [("progression", "2025-04-01", "percist"), ("death", "2026-06-20", SYNTHETIC)],
    "DEMO-0007": [("progression", "2024-12-15", "clinical"), ("death", "2025-11-30", SYNTHETIC)],
    "DEMO-0008": [("progression", "2025-03-03", "recist"), ("last_contact", "2026-09-28", None)],
    "DEMO-0009": [("progression", "2024-08-05", "recist"), ("death", "2025-03-12", SYNTHETIC)],
    "DEMO-0010": [("progression", "2022-11-08", "recist"), ("death", "2024-01-15", SYNTHETIC)],
    "DEMO-0011": [("last_contact", "2026-10-19", None)],
    "DEMO-0012": [("last_contact", "2026-11-16", None)],  # P1
    "DEMO-0013": [("last_contact", "2026-11-16", None)],
    "DEMO-0014": [("last_contact", "2026-11-30", None)],
    "DEMO-0015": [
        ("progression", "2025-09-01", "biochemical"),
        ("last_contact", "2026-11-20", None),
    ],
}
