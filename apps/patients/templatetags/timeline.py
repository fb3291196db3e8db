"""``{% timeline_svg timeline %}``: the timeline's SVG, drawn by the Jinja2 template
templates/jinja2/patients/timeline.svg (why Jinja2: there); ``{% lesion_table table %}``: the
lesion table under it (``Timeline.table``), drawn by Jinja2 too
(templates/jinja2/patients/lesion_table.html).

The lesion table is one row per lesion with a cell per value (40 lesions x 13 columns at the
bench's 24 studies): in Django's template language it took 7 ms, in Jinja2 under 1 ms. It is the
cells' values without hovering and what a screen reader reads of them (a ``<caption>``, headers
with ``scope``), a focusable region that the timeline's skip link leads to.
"""

from __future__ import annotations

from django import template
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

from apps.patients.timeline import LesionTable, Timeline

register = template.Library()


@register.simple_tag
def timeline_svg(timeline: Timeline) -> SafeString:
    svg = get_template("patients/timeline.svg", using="jinja2").render({"t": timeline})
    return mark_safe(svg)  # noqa: S308 - rendered by Jinja2 with autoescaping on (settings)


@register.simple_tag
def lesion_table(table: LesionTable) -> SafeString:
    html = get_template("patients/lesion_table.html", using="jinja2").render({"table": table})
    return mark_safe(html)  # noqa: S308 - as timeline_svg
