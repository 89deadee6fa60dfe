"""``make report``: one self-contained HTML report of the live marts.

Reads ``marts.campaign_performance``, ``marts.retailer_ranking`` and
``marts.regional_wish_list`` on the configured warehouse (``DATABASE_URL`` or the embedded
server) and writes a single static HTML file — plotly.js inlined, no server, no network —
with KPI tiles and four charts:

- ``funnel-chart``: the email funnel (sent → delivered → opened → clicked), overall and for
  the campaigns with the most emails sent;
- ``roas-chart``: ROAS of the campaigns with the largest ad spend;
- ``leaderboard-chart``: the retailer leaderboard at the latest date of a period, with the
  rank movement read from the mart (each retailer's rank change since its own previous date
  of the period: ``retailer_ranking.previous_overall_rank`` / ``rank_change``);
- ``wishlist-heatmap``: the most wished watch models per region.

    python -m serving.report [--out PATH] [--top-campaigns N] [--period weekly]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from crownsync.errors import cli
from crownsync.settings import PROJECT_ROOT, database_name, get_settings, libpq_url, safe_url
from serving import report_charts as charts

DEFAULT_OUT = PROJECT_ROOT / ".warehouse" / "reports" / "crownsync_report.html"
REQUIRED_MARTS = (
    "campaign_performance",
    "fct_campaign_kpis",
    "retailer_ranking",
    "regional_wish_list",
)
CHART_IDS = ("funnel-chart", "roas-chart", "leaderboard-chart", "wishlist-heatmap")


class ReportError(RuntimeError):
    """The report cannot be built (no server, marts missing): the message says what to do."""


# --- data -----------------------------------------------------------------------------------


@dataclass
class ReportData:
    kpis: dict
    campaigns: pd.DataFrame
    leaderboard: pd.DataFrame
    period: str | None
    latest_date: date | None
    wishes: pd.DataFrame
    first_date: date | None
    last_date: date | None


def _frame(conn: psycopg.Connection, query: str, params: tuple = ()) -> pd.DataFrame:
    cur = conn.execute(query, params)
    columns = [c.name for c in cur.description]
    rows = [[float(v) if isinstance(v, Decimal) else v for v in row] for row in cur.fetchall()]
    return pd.DataFrame(rows, columns=columns)


def _missing_marts(conn: psycopg.Connection) -> list[str]:
    return [
        name
        for name in REQUIRED_MARTS
        if conn.execute("select to_regclass(%s)", (f"marts.{name}",)).fetchone()[0] is None
    ]


def _choose_period(conn: psycopg.Connection, wanted: str | None) -> str | None:
    periods = dict(
        conn.execute(
            "select metric_period, count(*) from marts.retailer_ranking group by 1"
        ).fetchall()
    )
    if not periods:
        return None
    if wanted:
        if wanted not in periods:
            raise ReportError(
                f"no retailer_ranking rows for period {wanted!r}; periods: {', '.join(sorted(periods))}"
            )
        return wanted
    if "weekly" in periods:
        return "weekly"
    return max(periods, key=lambda p: (periods[p], p))


def load(url: str, *, top_retailers: int, top_models: int, period: str | None) -> ReportData:
    """Read everything the report shows, in one connection and one snapshot."""
    safe = safe_url(url)
    try:
        conn = psycopg.connect(
            libpq_url(url), connect_timeout=10, application_name="crownsync-report"
        )
    except psycopg.OperationalError as exc:
        raise ReportError(
            f"cannot connect to the warehouse {safe}: {exc}\n"
            "Start it with `make db-start` (or check DATABASE_URL), then `make run` to build the marts."
        ) from exc
    with conn:
        conn.execute("set transaction isolation level repeatable read, read only")
        missing = _missing_marts(conn)
        if missing:
            raise ReportError(
                f"the marts {', '.join('marts.' + m for m in missing)} do not exist yet in {safe}: "
                "run `make run` first."
            )
        campaigns = _frame(
            conn,
            """
            select campaign_id::text, campaign_name, brand_name, campaign_type, campaign_status,
                   start_date, end_date, emails_sent, emails_delivered, unique_opens,
                   unique_clicks, open_rate_pct, click_rate_pct, ad_spend, ad_revenue,
                   ad_conversions, ad_cpa, ad_roas, attributed_orders, attributed_revenue
              from marts.campaign_performance
            """,
        )
        cur = conn.execute("select * from marts.fct_campaign_kpis")
        kpis = dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))
        kpis = {k: float(v) if isinstance(v, Decimal) else v for k, v in kpis.items()}
        chosen = _choose_period(conn, period)
        latest = None
        leaderboard = pd.DataFrame()
        if chosen:
            latest = conn.execute(
                "select max(metric_date) from marts.retailer_ranking where metric_period = %s",
                (chosen,),
            ).fetchone()[0]
            # rank movement comes from the mart (defined there: against each retailer's own
            # previous date of the period), never recomputed here
            leaderboard = _frame(
                conn,
                """
                select retailer_id::text, retailer_name, region, tier, performance_score,
                       previous_performance_score, score_change, revenue,
                       overall_rank, previous_overall_rank, rank_change
                  from marts.retailer_ranking
                 where metric_period = %s and metric_date = %s
                 order by overall_rank, retailer_name
                 limit %s
                """,
                (chosen, latest, top_retailers),
            )
        wishes = _frame(
            conn,
            """
            with top_models as (
                select model_id
                  from marts.regional_wish_list
                 group by model_id
                 order by sum(total_wishes) desc, min(model_name)
                 limit %s
            )
            select w.region, w.model_id::text, w.model_name, w.brand_name, w.collection_name,
                   w.total_wishes, w.wishing_retailers, w.rank_in_region, w.share_of_region_pct
              from marts.regional_wish_list w
              join top_models using (model_id)
            """,
            (top_models,),
        )
        # the dated activity the figures cover: daily campaign activity and ranking dates
        dated = [
            "select min(metric_date) as lo, max(metric_date) as hi from marts.retailer_ranking"
        ]
        if conn.execute("select to_regclass('marts.fct_campaign_channel_daily')").fetchone()[0]:
            dated.append(
                "select min(activity_date), max(activity_date) from marts.fct_campaign_channel_daily"
            )
        first, last = conn.execute(
            f"select min(lo), max(hi) from ({' union all '.join(dated)}) d"  # noqa: S608 (constants)
        ).fetchone()
    return ReportData(kpis, campaigns, leaderboard, chosen, latest, wishes, first, last)


TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
)
PLOT_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}


def _money(value: float) -> str:
    if abs(value) >= 1e6:
        return f"${value / 1e6:,.2f} M"
    if abs(value) >= 1e4:
        return f"${value / 1e3:,.1f} k"
    return f"${value:,.2f}"


def _pct(value: float | None, decimals: int = 2) -> str:
    return "–" if value is None else f"{value:.{decimals}f} %"


def kpi_tiles(kpis: dict) -> list[dict[str, str]]:
    """The KPI tiles: each value is a column of marts.fct_campaign_kpis, only formatted here."""
    return [
        {
            "label": "Campaigns",
            "value": f"{kpis['campaigns']:,}",
            "note": f"{kpis['active_campaigns']:,} active",
        },
        {
            "label": "Emails sent",
            "value": f"{int(kpis['emails_sent']):,}",
            "note": f"{_pct(kpis['delivery_rate_pct'], 1)} delivered",
        },
        {
            "label": "Open rate",
            "value": _pct(kpis["open_rate_pct"]),
            "note": f"{int(kpis['unique_opens']):,} unique opens / delivered",
        },
        {
            "label": "Click rate",
            "value": _pct(kpis["click_rate_pct"]),
            "note": f"{int(kpis['unique_clicks']):,} unique clicks / delivered",
        },
        {
            "label": "Attributed revenue",
            "value": _money(float(kpis["attributed_revenue"])),
            "note": f"{int(kpis['attributed_orders']):,} paid orders",
        },
        {
            "label": "Ad spend",
            "value": _money(float(kpis["ad_spend"])),
            "note": f"{_money(float(kpis['ad_revenue']))} ad revenue",
        },
        {
            "label": "ROAS overall",
            "value": "–" if kpis["ad_roas"] is None else f"{kpis['ad_roas']:,.2f}×",
            "note": "ad revenue / ad spend",
        },
    ]


def _plot(fig, chart_id: str) -> Markup:
    html = fig.to_html(full_html=False, include_plotlyjs=False, div_id=chart_id, config=PLOT_CONFIG)
    return Markup(html)  # plotly's own markup, not user text


def chart_cards(data: ReportData, *, top_campaigns: int) -> list[dict]:
    """The four chart cards: id, title, explanation (markup), the figure or an empty note."""
    c = data.campaigns
    top = min(top_campaigns, 6)
    sent = int(data.kpis["emails_sent"])
    spenders = int((c["ad_spend"] > 0).sum()) if len(c) else 0
    period = escape(data.period or "")
    cards = [
        {
            "id": "funnel-chart",
            "title": "Email funnel",
            "explanation": Markup(
                "How many emails reach each step — left, all campaigns; right, the "
                f"{top} campaigns with the most sends, each step drawn over the one before. "
                "Delivered is a share of sent; open and click rates are shares of delivered, "
                "as in the marts (open rate = unique opens / delivered, click rate = unique "
                "clicks / delivered)."
            ),
            "figure": _plot(charts.funnel_figure(c, top, data.kpis), "funnel-chart")
            if sent
            else None,
            "empty": "No emails sent yet.",
            "wide": True,
        },
        {
            "id": "roas-chart",
            "title": "Return on ad spend",
            "explanation": Markup(
                f"Ad revenue per USD spent for the {min(top_campaigns, spenders)} campaigns with "
                "the largest ad spend; gold bars beat the median. Hover for spend, revenue and CPA."
            ),
            "figure": _plot(charts.roas_figure(c, top_campaigns), "roas-chart")
            if spenders
            else None,
            "empty": "No ad spend yet.",
            "wide": False,
        },
    ]
    board = data.leaderboard
    explanation = Markup("Retailer ranking by performance score.")
    if len(board):
        explanation = Markup(
            f"Top {len(board)} retailers by performance score, {period} ranking of "
            f"{data.latest_date:%d %b %Y}; arrows show the rank movement since each retailer's "
            f"previous {period} date "
            '(<span class="up">▲ up</span>, <span class="down">▼ down</span>, '
            '<span class="new">new</span>).'
        )
    cards.append(
        {
            "id": "leaderboard-chart",
            "title": "Retailer leaderboard",
            "explanation": explanation,
            "figure": _plot(charts.leaderboard_figure(board), "leaderboard-chart")
            if len(board)
            else None,
            "empty": "No retailer ranking yet.",
            "wide": False,
        }
    )
    models = data.wishes["model_id"].nunique() if len(data.wishes) else 0
    cards.append(
        {
            "id": "wishlist-heatmap",
            "title": "Most wished models by region",
            "explanation": Markup(
                f"Client wishes (Σ wish count) for the {models} most wished watch models overall, "
                "by retailer region (busiest region first); darker is more wished. Hover for the "
                "model's share of and rank in the region."
            ),
            "figure": _plot(charts.wishlist_figure(data.wishes), "wishlist-heatmap")
            if models
            else None,
            "empty": "No wish-list items yet.",
            "wide": True,
        }
    )
    return cards


def _plain(value: object) -> object:
    """A JSON value: NaN/NA → null, numpy numbers → Python numbers, dates → ISO text."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return _plain(value.item())
    if isinstance(value, date):
        return value.isoformat()
    return value


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    return [
        {c: _plain(v) for c, v in zip(columns, row, strict=True)}
        for row in frame[columns].itertuples(index=False)
    ]


def report_figures(data: ReportData, *, top_campaigns: int, source: str) -> dict:
    """Every figure the page shows, as the marts gave it: embedded as JSON in the page
    (``<script type="application/json" id="report-figures">``) for tools and tests."""
    c = data.campaigns
    spenders = c[c["ad_spend"] > 0].nlargest(top_campaigns, "ad_spend") if len(c) else c
    return {
        "database": source,
        "kpis": {k: _plain(v) for k, v in data.kpis.items()},
        "funnel": [
            {k: _plain(v) for k, v in step.items()} for step in charts.funnel_steps(data.kpis)
        ],
        "roas": _records(spenders, ["campaign_id", "ad_spend", "ad_revenue", "ad_roas"])
        if len(spenders)
        else [],
        "leaderboard": {
            "metric_period": data.period,
            "metric_date": _plain(data.latest_date),
            "rows": _records(
                data.leaderboard,
                [
                    "retailer_id",
                    "retailer_name",
                    "overall_rank",
                    "previous_overall_rank",
                    "rank_change",
                    "performance_score",
                ],
            )
            if len(data.leaderboard)
            else [],
        },
    }


def render(data: ReportData, *, top_campaigns: int, source: str) -> str:
    """The page (Jinja2 template report_template.html.j2); ``source`` names the database."""
    import plotly.offline

    period = (
        f"{data.first_date:%d %b %Y} – {data.last_date:%d %b %Y}"
        if data.first_date and data.last_date
        else "no dated activity yet"
    )
    return TEMPLATES.get_template("report_template.html.j2").render(
        title="CrownSync marketing report",
        generated=datetime.now(UTC).strftime("%d %b %Y %H:%M UTC"),
        period=period,
        source=source,
        tiles=kpi_tiles(data.kpis),
        cards=chart_cards(data, top_campaigns=top_campaigns),
        plotlyjs=Markup(plotly.offline.get_plotlyjs()),
        # JSON inside <script>: "</" escaped so no value can close the element
        figures=Markup(
            json.dumps(report_figures(data, top_campaigns=top_campaigns, source=source)).replace(
                "</", "<\\/"
            )
        ),
    )


def build_report(
    out: Path,
    *,
    url: str | None = None,
    top_campaigns: int = 12,
    top_retailers: int = 15,
    top_models: int = 12,
    period: str | None = None,
) -> Path:
    url = url or get_settings().warehouse_url
    data = load(
        url,
        top_retailers=top_retailers,
        top_models=top_models,
        period=period,
    )
    # the header names the database, never a URL (no credentials, no superuser name)
    page = render(data, top_campaigns=top_campaigns, source=database_name(url) or "warehouse")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out


@cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m serving.report",
        description="Write the CrownSync HTML report (self-contained, opens offline) from the live marts.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    parser.add_argument("--top-campaigns", type=int, default=12, help="campaigns in the ROAS chart")
    parser.add_argument("--top-retailers", type=int, default=15, help="rows of the leaderboard")
    parser.add_argument("--top-models", type=int, default=12, help="models in the heatmap")
    parser.add_argument(
        "--period",
        default=None,
        help="leaderboard metric_period (default weekly, else the most common)",
    )
    args = parser.parse_args(argv)
    try:
        out = build_report(
            args.out,
            top_campaigns=args.top_campaigns,
            top_retailers=args.top_retailers,
            top_models=args.top_models,
            period=args.period,
        )
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    print(f"report written to {out.resolve()}  ({out.stat().st_size / 1e6:.1f} MB, opens offline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
