"""Charts as data: what a page hands to ``analytics/chart.html``.

A chart is drawn in the browser by ``static/groupsite/charts.js`` (Chart.js, vendored)
from the JSON that ``json_script`` writes beside its canvas; every chart has a table of
the same numbers below it, which is what a browser without JavaScript shows.
"""

from dataclasses import dataclass, field


@dataclass
class Series:
    label: str
    values: list[float | int | None]
    # Dashed, for a comparison with an earlier period or an over-count beside the figure.
    dashed: bool = False


@dataclass
class Chart:
    id: str  # the DOM id of its JSON, unique on the page
    title: str  # read out by screen readers in place of the picture
    labels: list[str]
    series: list[Series] = field(default_factory=list)
    kind: str = "line"  # "line" or "bar"
    percent: bool = False  # values are percentages (0–100)

    @property
    def data(self) -> dict:
        return {
            "kind": self.kind,
            "labels": self.labels,
            "percent": self.percent,
            "series": [
                {"label": s.label, "values": s.values, "dashed": s.dashed} for s in self.series
            ],
        }
