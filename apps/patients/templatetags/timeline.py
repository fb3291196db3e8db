"""``{% timeline_svg timeline %}``: the timeline's SVG, drawn by the Jinja2 template
templates/jinja2/patients/timeline.svg (why Jinja2: there); ``{% lesion_table table %}``: the
lesion table under it (``Timeline.table``), drawn by Jinja2 too, from ``LESION_TABLE`` below.

The lesion table is one row per lesion with a cell per value (40 lesions x 13 columns at the
bench's 24 studies): in Django's template language it took 7 ms, in Jinja2 under 1 ms. It is the
cells' values without hovering and what a screen reader reads of them (a ``<caption>``, headers
with ``scope``), a focusable region that the timeline's skip link leads to.
"""

from __future__ import annotations

from django import template
from django.template import engines
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

from apps.patients.timeline import LesionTable, Timeline

register = template.Library()

# The lesion table's markup (Jinja2, autoescaping; the settings' StrictUndefined makes a name the
# table lacks an error). Its look: static/css/netboard.css (.lesion-table).
LESION_TABLE = """\
<div class="lesion-table" id="lesion-table" role="region" aria-labelledby="lesion-table-caption" \
tabindex="0">
<table class="grid compact">
  <caption id="lesion-table-caption">{% for text, date in table.caption_parts %}\
{% if date %}<span class="date">{{ text }}</span>{% else %}{{ text }}{% endif %}{% endfor %}\
</caption>
  <colgroup span="3"></colgroup>{% for s in table.studies %}\
<colgroup span="{{ s.columns|length }}">\
</colgroup>{% endfor %}
  <thead>
    <tr><th scope="col" rowspan="2">Lesion</th><th scope="col" rowspan="2">Site</th>\
<th scope="col" rowspan="2">Phenotype</th>{% for s in table.studies %}<th scope="colgroup" \
colspan="{{ s.columns|length }}">{{ s.name }} <span class="date">{{ s.day }}</span></th>\
{% endfor %}</tr>
    <tr>{% for s in table.studies %}{% for c in s.columns %}<th scope="col" class="num">{{ c }}\
</th>{% endfor %}{% endfor %}</tr>
  </thead>
  <tbody>{% for r in table.rows %}
    <tr><th scope="row">{{ r.name }}{% if r.new %} <span class="tag">new</span>{% endif %}\
{% if r.biopsy_target %} <span class="biopsy">◎ biopsy target</span>{% endif %}</th>\
<td>{{ r.site }}</td><td>{% if r.phenotype %}<span class="pheno pheno-{{ r.phenotype.code }}" \
title="{{ r.phenotype.text }}"><span aria-hidden="true">{{ r.phenotype.glyph }}</span> \
{{ r.phenotype.label }}</span> <span class="muted small">{{ r.pattern }}</span>{% else %}\
<span class="muted">not graded on both</span>{% endif %}</td>{% for value, note in r.values %}\
<td class="num">{{ value }}{% if note %} <span class="muted small">{{ note }}</span>{% endif %}\
</td>{% endfor %}</tr>{% endfor %}
  </tbody>
</table>
</div>"""

_lesion_table = engines["jinja2"].from_string(LESION_TABLE)


@register.simple_tag
def timeline_svg(timeline: Timeline) -> SafeString:
    svg = get_template("patients/timeline.svg", using="jinja2").render({"t": timeline})
    return mark_safe(svg)  # noqa: S308 - rendered by Jinja2 with autoescaping on (settings)


@register.simple_tag
def lesion_table(table: LesionTable) -> SafeString:
    return mark_safe(_lesion_table.render({"table": table}))  # noqa: S308 - as timeline_svg
