"""The patient page's content, shared by every page that shows a patient's timeline and findings
(the patient page, presentation mode, the printed case summary), and the cache of the part of it
that is the same for every reader (the sections: see "The cached sections" below).

Everything here reads what the workers stored; nothing is computed but the timeline's geometry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import Http404
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe

from apps.imaging.models import Modality, Tracer
from apps.patients.models import Analyte, Patient
from apps.patients.timeline import FDG_COLOURS, FDG_TEXT, SSTR_COLOURS, SSTR_TEXT, build_timeline
from apps.scoring import services as scoring
from apps.scoring.models import InputVersion, PhenotypeAssessment
from apps.scoring.selectors import patient_rules_input, rules_thresholds

logger = logging.getLogger(__name__)


def labelled(body: dict[str, Any]) -> dict[str, Any]:
    """The body with ``computed_label``: its ``computed_at`` as a reader sees it (UTC)."""
    stamp = body.get("computed_at")
    body["computed_label"] = (
        datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M UTC") if stamp else ""
    )
    return body


def _assessment_context(patient: Patient) -> dict[str, Any]:
    bodies = scoring.assessment_bodies(patient.pk)
    phenotype, response = labelled(bodies["result"]), bodies["response"]
    timepoints = phenotype["timepoints"]
    latest = next((tp for tp in reversed(timepoints) if tp["fdg_study"] is not None), None)
    latest = latest or (timepoints[-1] if timepoints else None)
    return {"phenotype": phenotype, "response": response, "latest": latest}


# What the patient page reads for every view, in one query whatever the size of the record: the
# patient; its input version and the header of its stored assessment (not the result JSON), for
# the status line and the key of the cached sections; its studies, newest first, with the number
# of observations of each; and whether it is listed at a meeting (its cases are read only then).
_PAGE_HEADER_SQL = """
SELECT p.*,
  v.version AS iv_version, v.queued_at AS iv_queued_at,
  a.patient_id IS NOT NULL AS pa_exists, a.inputs_version AS pa_inputs_version,
  a.rules_fingerprint AS pa_rules_fingerprint, a.rules_version AS pa_rules_version,
  a.computed_at AS pa_computed_at,
  EXISTS (SELECT 1 FROM decisions_case c WHERE c.patient_id = p.id) AS has_cases,
  (SELECT coalesce(json_agg(json_build_array(
     s.id, s.performed_on, s.tracer, s.modality, s.post_therapy, s.cycle_number, s.is_baseline,
     s.status, (SELECT count(*) FROM imaging_observation o WHERE o.study_id = s.id))
     ORDER BY s.performed_on DESC, s.id DESC), '[]')::text
   FROM imaging_imagingstudy s WHERE s.patient_id = p.id) AS study_rows
FROM patients_patient p
LEFT JOIN scoring_inputversion v ON v.patient_id = p.id
LEFT JOIN scoring_phenotypeassessment a ON a.patient_id = p.id
WHERE p.id = %s
"""


def warm_page_sections(patient_id: int, **_: Any) -> None:
    """Render the patient page's sections into the cache for the state just stored (run by the
    recompute task, on ``assessment_stored``), so the first view after a change is a hit."""
    try:
        patient, version, assessment, _studies, _has_cases = page_header(patient_id)
    except Http404:
        return  # deleted meanwhile
    status = scoring.status_of(version, assessment, scoring.rules_fingerprint())
    page_sections(patient, version, assessment, status)


def page_header(
    pk: int,
) -> tuple[Patient, InputVersion | None, PhenotypeAssessment | None, list[dict[str, Any]], bool]:
    """The patient; its version row and its assessment's header (only the fields ``status_of``
    and the key read; None when missing); the rows of the studies table; whether the patient
    has cases. Raises Http404 for an unknown patient."""
    patient = next(iter(Patient.objects.raw(_PAGE_HEADER_SQL, [pk])), None)
    if patient is None:
        raise Http404("No patient matches the given query.")
    extra: Any = patient  # the query's extra columns, attributes of the instance
    version = (
        InputVersion(patient_id=patient.pk, version=extra.iv_version, queued_at=extra.iv_queued_at)
        if extra.iv_version is not None
        else None
    )
    assessment = (
        PhenotypeAssessment(
            patient_id=patient.pk,
            inputs_version=extra.pa_inputs_version,
            rules_fingerprint=extra.pa_rules_fingerprint,
            rules_version=extra.pa_rules_version,
            computed_at=extra.pa_computed_at,
        )
        if extra.pa_exists
        else None
    )
    return patient, version, assessment, _study_rows(extra.study_rows), extra.has_cases


def _study_rows(text: str) -> list[dict[str, Any]]:
    """The rows of the studies table as the plain values it shows (for a record of 30 studies,
    model instances, choice labels and a URL reverse per row would cost more than the page spends
    on everything it shows from the cache)."""
    tracers, modalities = dict(Tracer.choices), dict(Modality.choices)
    # One reverse for all rows: the URL of a placeholder id, and each row's id in its place.
    before, after = reverse("study-grid", args=[0]).rsplit("0", 1)
    return [
        {
            "pk": pk,
            "date": performed_on,  # ISO 8601 (json_build_array of a date), as |date:"Y-m-d"
            "url": f"{before}{pk}{after}",
            # CT and MRI take no tracer: their modality is their name.
            "name": modalities.get(modality, modality)
            if tracer == Tracer.NONE
            else f"{tracers.get(tracer, tracer)} {modalities.get(modality, modality)}",
            "post_therapy": post_therapy,
            "cycle_number": cycle_number,
            "is_baseline": is_baseline,
            "status": status,
            "read_count": read_count,
        }
        for (
            pk,
            performed_on,
            tracer,
            modality,
            post_therapy,
            cycle_number,
            is_baseline,
            status,
            read_count,
        ) in json.loads(text)
    ]


# --- The cached sections of the patient page --------------------------------------------------
#
# What the patient page shows from the stored assessment and the patient's inputs (the timeline,
# the decision-support findings, RECIST/PERCIST, alerts, tumour markers and notes, and the latest
# pathology of the summary line) is the same for every reader: it is rendered once
# (templates/patients/_assessment_sections.html) and cached as HTML with the key of the state it
# was computed from. That key names everything the sections depend on, so that a cached entry is
# never served for another state, and nothing ever needs to be invalidated:
#
# - the patient's ``InputVersion.version``, raised by database triggers with every change of
#   any input (the patient, pathology, biomarkers, treatments, cycles, lesions, studies,
#   observations), whatever the write path;
# - the stored assessment's ``computed_at``, ``rules_version`` and the status (``status_of``):
#   any recompute, and any change between fresh, pending and stale;
# - the fingerprint of the rules in force (rules version and the site's thresholds, which the
#   timeline also reads);
# - the code: SECTIONS_VERSION, and a digest of the templates of the sections and of the source
#   of the modules that build their context (so a deploy that forgets the bump is still safe).
#
# BUMP SECTIONS_VERSION whenever what the cached part shows changes by other means than those
# files: patient_page_context or what it calls, template tags and filters, labels of choices.
#
# One entry per patient ("netboard:patient-sections:<id>"), holding the key it was rendered for:
# a view whose key differs renders the sections and replaces the entry. So the cache holds at
# most one (up to 500 kB, for 24 studies x 40 lesions) per patient, however often the data
# change, and an entry not viewed for SECTIONS_TIMEOUT expires. In front of Redis, each process
# also keeps its last SECTIONS_LOCAL_ENTRIES entries (``LocalSections``), served on the same
# condition: the key.
#
# The key is read before the sections are computed: a write committing in between can only make
# them newer than their key, and the key of a state that has passed (versions and computed_at
# only grow) is not asked for again.
SECTIONS_VERSION = 1
SECTIONS_TIMEOUT = 24 * 60 * 60  # seconds: an entry not rendered again expires after a day
SECTIONS_TEMPLATE = "patients/_assessment_sections.html"
_SECTIONS_TEMPLATES = (SECTIONS_TEMPLATE, "patients/_timeline.html")


@functools.cache
def _builder_digest() -> str:
    """SHA-256 of the source of the modules that build the fragment's context (read once: a
    change of Python code restarts the process)."""
    from apps.patients import timeline

    digest = hashlib.sha256()
    for module_file in (__file__, timeline.__file__):
        with contextlib.suppress(OSError):  # no source (an installed bytecode-only build)
            digest.update(Path(module_file).read_bytes())
    return digest.hexdigest()


def _sections_code_version() -> str:
    """SECTIONS_VERSION, the builder's source and the fragment's templates as the engine holds
    them now (in development, an edited template resets the loaders: a new digest)."""
    digest = hashlib.sha256(f"{SECTIONS_VERSION}:{_builder_digest()}".encode())
    for name in _SECTIONS_TEMPLATES:
        digest.update(get_template(name).template.source.encode())  # type: ignore[attr-defined]
    return digest.hexdigest()


def sections_cache_key(
    patient_id: int,
    version: InputVersion | None,
    assessment: PhenotypeAssessment | None,
    status: str,
) -> str:
    """The key of the state the patient page's sections are rendered from (see above)."""
    material = "|".join(
        str(part)
        for part in (
            patient_id,
            version.version if version is not None else None,
            assessment.computed_at.isoformat() if assessment is not None else None,
            status,
            assessment.rules_version if assessment is not None else None,
            scoring.rules_fingerprint(),
            _sections_code_version(),
        )
    )
    return hashlib.sha256(material.encode()).hexdigest()


def sections_cache_entry(patient_id: int) -> str:
    """The name of the patient's entry in the cache."""
    return f"netboard:patient-sections:{patient_id}"


def render_page_sections(patient: Patient) -> dict[str, Any]:
    """Compute the sections (``patient_page_context``: the full stored assessment, the rules
    inputs, the timeline) and render them: the HTML (UTF-8) before and after the studies and the
    tumour-board cases, and the latest pathology of the summary line, in plain values."""
    context = patient_page_context(patient)
    pathology = context["pathology"]
    return {
        "top": render_to_string(f"{SECTIONS_TEMPLATE}#top", context).encode(),
        "bottom": render_to_string(f"{SECTIONS_TEMPLATE}#bottom", context).encode(),
        "pathology": dataclasses.asdict(pathology) if pathology is not None else None,
    }


def page_sections(
    patient: Patient,
    version: InputVersion | None,
    assessment: PhenotypeAssessment | None,
    status: str,
) -> dict[str, Any]:
    """The rendered sections from the cache when its entry is for this key; else rendered, and
    stored. Without a version row (a patient written while the triggers were off) nothing would
    tell a change: no cache. A cache that fails (Redis down) costs only the time of rendering."""
    if version is None:
        return render_page_sections(patient)
    key = sections_cache_key(patient.pk, version, assessment, status)
    entry = sections_cache_entry(patient.pk)
    local = LOCAL_SECTIONS if _shared_cache_is_remote() else None
    if local is not None and (found := local.get(entry, key)) is not None:
        return found
    try:
        cached: dict[str, Any] | None = cache.get(entry)
    except Exception:  # the backends raise their own types; the page must not fail for it
        logger.warning("Could not read the patient page cache.", exc_info=True)
        return render_page_sections(patient)
    if cached is not None and cached.get("key") == key:
        if local is not None:
            local.put(entry, cached)
        return cached
    sections = {**render_page_sections(patient), "key": key}
    try:
        cache.set(entry, sections, SECTIONS_TIMEOUT)
    except Exception:
        logger.warning("Could not write the patient page cache.", exc_info=True)
    if local is not None:
        local.put(entry, sections)
    return sections


class LocalSections:
    """The entries this process read or wrote last, in front of a cache in another process
    (Redis): a view of a patient viewed just before costs no round trip and no unpickling of
    500 kB. An entry is served only for its key, as from the shared cache: never stale."""

    def __init__(self, size: int) -> None:
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, entry: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._entries.get(entry)
            if found is None or found["key"] != key:
                return None
            self._entries.move_to_end(entry)
            return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def put(self, entry: str, sections: dict[str, Any]) -> None:
        with self._lock:
            self._entries[entry] = sections
            self._entries.move_to_end(entry)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


# At most this many patients' sections per process (up to 500 kB each, for 24 studies x 40
# lesions): the patients of a meeting, viewed again and again.
SECTIONS_LOCAL_ENTRIES = 32
LOCAL_SECTIONS = LocalSections(SECTIONS_LOCAL_ENTRIES)


def _shared_cache_is_remote() -> bool:
    """Whether the cache lives outside this process (not Django's local-memory cache, which is
    already in the process: no second copy in front of it)."""
    return not isinstance(caches["default"], LocMemCache)


# The sections reach the response as the UTF-8 bytes the cache holds: detail.html is rendered
# with a placeholder for each ({{ sections.top }}, {{ sections.bottom }}), then each placeholder
# is replaced, which spares every view decoding and encoding again some 500 kB of markup (for
# 24 studies x 40 lesions). A placeholder starts with "<": no escaped text can contain it.
SLOTS = {
    "top": mark_safe("<!--netboard:patient-sections:top-->"),  # noqa: S308 - a constant
    "bottom": mark_safe("<!--netboard:patient-sections:bottom-->"),  # noqa: S308 - a constant
}


def fill_slots(content: bytes, sections: dict[str, Any]) -> bytes:
    """The page with each placeholder replaced by the cached HTML of its sections (our own
    template output, rendered with autoescape), in one join: one copy of the large parts."""
    parts = []
    for name, slot in SLOTS.items():
        head, found, content = content.partition(slot.encode())
        parts += [head, sections[name]] if found else [head]
    return b"".join([*parts, content])


def patient_page_context(patient: Patient) -> dict[str, Any]:
    """What the patient page shows, for any page that shows a patient's timeline and findings
    (the patient page, presentation mode, the printed case summary): the stored phenotype and
    response with their status, the timeline geometry, the latest pathology and the markers."""
    context = _assessment_context(patient)
    thresholds = rules_thresholds()
    inputs = patient_rules_input(patient.pk)
    timeline = build_timeline(inputs, context["phenotype"], context["response"], thresholds)
    pathology = max(inputs.pathology, key=lambda p: p.reported_on, default=None)
    markers = [_sparkline(series) for series in context["response"]["biomarkers"]]
    return {
        **context,
        "patient": patient,
        "timeline": timeline,
        "pathology": pathology,
        "markers": markers,
        "sstr_scale": list(zip(range(5), SSTR_COLOURS, SSTR_TEXT, strict=True)),
        "fdg_scale": list(zip(range(4), FDG_COLOURS, FDG_TEXT, strict=True)),
    }


def _sparkline(series: dict[str, Any]) -> dict[str, Any]:
    """Points of a small line chart (120 × 28) of one tumour-marker series."""
    values = [point["value"] for point in series["values"]]
    low, high = min(values), max(values)
    spread = (high - low) or 1.0
    n = len(values)
    xs = [4 + (i / (n - 1) if n > 1 else 0.5) * 112 for i in range(n)]
    ys = [24 - (v - low) / spread * 20 for v in values]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    name = dict(Analyte.choices).get(series["analyte"], series["analyte"])
    return {**series, "name": name, "points": points, "latest": values[-1], "count": n}
