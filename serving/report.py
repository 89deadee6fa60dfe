"""``make report``: one self-contained HTML report of the live marts.

Reads ``marts.campaign_performance``, ``marts.retailer_ranking`` and
``marts.regional_wish_list`` on the configured warehouse (``DATABASE_URL`` or the embedded
server) and writes a single static HTML file — plotly.js inlined, no server, no network —
with KPI tiles and four charts:

- ``funnel-chart``: the email funnel (sent → delivered → opened → clicked), overall and for
  the campaigns with the most emails sent;
- ``roas-chart``: ROAS of the campaigns with the largest ad spend;
- ``leaderboard-chart``: the retailer leaderboard at the latest date of a period, with the
  rank movement since the previous date;
- ``wishlist-heatmap``: the most wished watch models per region.

    python -m serving.report [--out PATH] [--top-campaigns N] [--period weekly]
"""

from __future__ import annotations

import argparse
import html
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from string import Template

import pandas as pd
import plotly.graph_objects as go
import psycopg
from plotly.subplots import make_subplots

from crownsync.settings import PROJECT_ROOT, get_settings, libpq_url, safe_url

DEFAULT_OUT = PROJECT_ROOT / ".warehouse" / "reports" / "crownsync_report.html"
REQUIRED_MARTS = ("campaign_performance", "retailer_ranking", "regional_wish_list")
CHART_IDS = ("funnel-chart", "roas-chart", "leaderboard-chart", "wishlist-heatmap")

# palette: midnight navy and watch-dial gold, with a calm teal; green/red only for movement
NAVY = "#14213d"
INK = "#1f2937"
MUTED = "#6b7280"
GOLD = "#c9a227"
TEAL = "#2a9d8f"
FUNNEL_COLOURS = ["#14213d", "#2d4a7a", "#2a9d8f", "#c9a227"]
CAMPAIGN_COLOURS = ["#14213d", "#2a9d8f", "#c9a227", "#8d5a97", "#e76f51", "#5c8dc9"]
UP, DOWN, SAME, NEW = "#2a9d5c", "#d1495b", "#9ca3af", "#5c8dc9"
HEATMAP_SCALE = [[0.0, "#f7f4ea"], [0.35, "#e6cf86"], [0.7, "#2a9d8f"], [1.0, "#14213d"]]
FONT = "Inter, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


class ReportError(RuntimeError):
    """The report cannot be built (no server, marts missing): the message says what to do."""


# --- data -----------------------------------------------------------------------------------


@dataclass
class ReportData:
    campaigns: pd.DataFrame
    leaderboard: pd.DataFrame
    period: str | None
    latest_date: date | None
    previous_date: date | None
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
        chosen = _choose_period(conn, period)
        latest = previous = None
        leaderboard = pd.DataFrame()
        if chosen:
            dates = [
                r[0]
                for r in conn.execute(
                    "select distinct metric_date from marts.retailer_ranking "
                    "where metric_period = %s order by 1 desc limit 2",
                    (chosen,),
                )
            ]
            latest = dates[0]
            previous = dates[1] if len(dates) > 1 else None
            leaderboard = _frame(
                conn,
                """
                select cur.retailer_name, cur.region, cur.tier, cur.performance_score,
                       cur.previous_performance_score, cur.score_change, cur.revenue,
                       cur.overall_rank, prev.overall_rank as previous_rank
                  from marts.retailer_ranking cur
                  left join marts.retailer_ranking prev
                    on prev.retailer_id = cur.retailer_id
                   and prev.metric_period = cur.metric_period
                   and prev.metric_date = %s
                 where cur.metric_period = %s and cur.metric_date = %s
                 order by cur.overall_rank, cur.retailer_name
                 limit %s
                """,
                (previous, chosen, latest, top_retailers),
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
    return ReportData(campaigns, leaderboard, chosen, latest, previous, wishes, first, last)


# --- figures --------------------------------------------------------------------------------


def _base_layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 20, "t": 36, "b": 10},
        font={"family": FONT, "size": 13, "color": INK},
        paper_bgcolor="white",
        plot_bgcolor="white",
        hoverlabel={"font": {"family": FONT, "size": 13}, "bgcolor": "white"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "title": None},
    )
    axis = {
        "gridcolor": "#eef0f3",
        "zerolinecolor": "#d1d5db",
        "automargin": True,
        "title_font": {"size": 13, "color": MUTED},
    }
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    return fig


def _short(name: str, width: int = 26) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


STAGES = ["Sent", "Delivered", "Opened", "Clicked"]
STAGE_COLUMNS = ["emails_sent", "emails_delivered", "unique_opens", "unique_clicks"]


def funnel_figure(campaigns: pd.DataFrame, top: int) -> go.Figure:
    totals = [int(campaigns[c].sum()) for c in STAGE_COLUMNS]
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.42, 0.58],
        horizontal_spacing=0.1,
        subplot_titles=(
            "All campaigns",
            f"Top {top} campaigns by emails sent",
        ),
    )
    step_rates = ["100 %"] + [
        f"{100 * totals[i] / totals[i - 1]:.1f} % of {STAGES[i - 1].lower()}"
        if totals[i - 1]
        else "–"
        for i in range(1, 4)
    ]
    fig.add_trace(
        go.Funnel(
            y=STAGES,
            x=totals,
            name="All campaigns",
            textinfo="value+percent initial",
            texttemplate="%{value:,}  ·  %{percentInitial:.1%}",
            textposition="auto",
            insidetextfont={"color": "white", "size": 14},
            outsidetextfont={"color": INK, "size": 14},
            marker={"color": FUNNEL_COLOURS},
            connector={"fillcolor": "#e9edf3", "line": {"width": 0}},
            customdata=step_rates,
            hovertemplate="<b>%{y}</b><br>%{x:,} emails<br>%{percentInitial:.1%} of sent"
            "<br>%{customdata}<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    leaders = campaigns[campaigns["emails_sent"] > 0].nlargest(top, "emails_sent").iloc[::-1]
    labels = [
        f"{_short(n, 24)}<br><span style='font-size:11px;color:{MUTED}'>"
        f"{html.escape(_short(b or '—', 26))}</span>"
        for n, b in zip(leaders["campaign_name"], leaders["brand_name"], strict=True)
    ]
    sent = leaders["emails_sent"].astype(float)
    for stage, column, colour in zip(STAGES, STAGE_COLUMNS, FUNNEL_COLOURS, strict=True):
        values = leaders[column].astype(float)
        fig.add_trace(
            go.Bar(
                x=values,
                y=labels,
                orientation="h",
                name=stage,
                marker={"color": colour, "line": {"width": 0}},
                customdata=list(zip(leaders["campaign_name"], 100 * values / sent, strict=True)),
                hovertemplate=f"<b>%{{customdata[0]}}</b><br>{stage}: %{{x:,}} emails"
                " (%{customdata[1]:.1f} % of sent)<extra></extra>",
                width=0.62,
            ),
            row=1,
            col=2,
        )
    for label, row in zip(labels, leaders.itertuples(), strict=True):
        rate = "–" if pd.isna(row.click_rate_pct) else f"{row.click_rate_pct:.1f} %"
        fig.add_annotation(
            x=row.emails_sent,
            y=label,
            xref="x2",
            yref="y2",
            xanchor="left",
            xshift=6,
            text=f"{int(row.emails_sent):,} sent · click rate {rate}",
            showarrow=False,
            font={"size": 11.5, "color": MUTED},
        )
    fig.update_xaxes(range=[0, float(sent.max()) * 1.45], row=1, col=2)
    fig.update_yaxes(showgrid=False, tickfont={"size": 12}, row=1, col=2)
    _base_layout(fig, 420)
    fig.update_layout(
        barmode="overlay",
        legend={"orientation": "h", "x": 1.0, "xanchor": "right", "y": -0.09, "yanchor": "top"},
        margin={"t": 56, "b": 40},
    )
    fig.update_annotations(font={"size": 13, "color": MUTED})
    return fig


def roas_figure(campaigns: pd.DataFrame, top: int) -> go.Figure:
    spenders = campaigns[campaigns["ad_spend"] > 0].nlargest(top, "ad_spend")
    spenders = spenders.sort_values("ad_roas", ascending=True, na_position="first")
    roas = spenders["ad_roas"].fillna(0)
    median = float(roas.median()) if len(roas) else 0.0
    colours = [GOLD if r >= median else NAVY for r in roas]
    labels = [
        f"{_short(n, 24)} · {_short(b or '—', 14)}"
        for n, b in zip(spenders["campaign_name"], spenders["brand_name"], strict=True)
    ]
    custom = spenders[
        ["campaign_name", "brand_name", "ad_spend", "ad_revenue", "ad_conversions", "ad_cpa"]
    ].fillna({"brand_name": "—", "ad_cpa": float("nan")})
    fig = go.Figure(
        go.Bar(
            x=roas,
            y=labels,
            orientation="h",
            marker={"color": colours},
            text=[f"{r:,.1f}×" for r in roas],
            textposition="outside",
            cliponaxis=False,
            customdata=custom.to_numpy(),
            hovertemplate="<b>%{customdata[0]}</b> · %{customdata[1]}<br>ROAS %{x:.2f}×"
            "<br>ad spend $%{customdata[2]:,.2f}<br>ad revenue $%{customdata[3]:,.2f}"
            "<br>conversions %{customdata[4]:,.0f} · CPA $%{customdata[5]:,.2f}<extra></extra>",
            showlegend=False,
        )
    )
    fig.add_vline(
        x=median,
        line={"color": MUTED, "dash": "dot", "width": 1.5},
        annotation_text=f"median {median:,.1f}×",
        annotation_position="top",
        annotation_font={"color": MUTED, "size": 12},
    )
    _base_layout(fig, max(360, 26 * len(spenders) + 90))
    fig.update_xaxes(
        title_text="ad revenue per USD of ad spend (ROAS)",
        ticksuffix="×",
        range=[0, float(roas.max()) * 1.15 if len(roas) else 1],
    )
    fig.update_layout(margin={"t": 56})
    fig.update_yaxes(showgrid=False, tickfont={"size": 12})
    return fig


def _movement(row: pd.Series) -> tuple[str, str, str]:
    """(arrow text, colour, hover phrase) of a retailer's rank change."""
    if pd.isna(row["previous_rank"]):
        return "new", NEW, "not ranked on the previous date"
    change = int(row["previous_rank"]) - int(row["overall_rank"])
    if change > 0:
        return f"▲ {change}", UP, f"up {change} from #{int(row['previous_rank'])}"
    if change < 0:
        return f"▼ {-change}", DOWN, f"down {-change} from #{int(row['previous_rank'])}"
    return "–", SAME, "same rank as before"


def leaderboard_figure(board: pd.DataFrame, previous: date | None) -> go.Figure:
    board = board.iloc[::-1]  # best at the top
    moves = [_movement(row) for _, row in board.iterrows()]
    labels = [
        f"<b>#{int(r)}</b>  {html.escape(_short(n, 34))}"
        for r, n in zip(board["overall_rank"], board["retailer_name"], strict=True)
    ]
    custom = [
        [
            row["retailer_name"],
            row["region"] or "—",
            row["tier"] or "—",
            m[2],
            row["score_change"] if pd.notna(row["score_change"]) else 0.0,
            row["revenue"] if pd.notna(row["revenue"]) else 0.0,
        ]
        for (_, row), m in zip(board.iterrows(), moves, strict=True)
    ]
    score = board["performance_score"].fillna(0)
    fig = go.Figure(
        go.Bar(
            x=score,
            y=labels,
            orientation="h",
            marker={"color": [m[1] for m in moves], "line": {"width": 0}},
            text=[f"{s:.1f}" for s in score],
            textposition="inside",
            insidetextanchor="end",
            textfont={"color": "white"},
            customdata=custom,
            hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]} · %{customdata[2]}"
            "<br>score %{x:.1f} (%{customdata[4]:+.1f})<br>rank %{customdata[3]}"
            "<br>revenue $%{customdata[5]:,.0f}<extra></extra>",
            showlegend=False,
        )
    )
    for label, move in zip(labels, moves, strict=True):
        fig.add_annotation(
            x=1.0,
            xref="paper",
            xanchor="left",
            xshift=8,
            y=label,
            text=f"<b>{move[0]}</b>",
            showarrow=False,
            font={"color": move[1], "size": 13},
        )
    _base_layout(fig, max(360, 28 * len(board) + 90))
    low = float(score.min()) if len(score) else 0.0
    fig.update_xaxes(
        title_text="performance score",
        range=[max(0.0, low - 10), float(score.max()) + 2 if len(score) else 100],
    )
    fig.update_yaxes(showgrid=False, tickfont={"size": 12})
    fig.update_layout(margin={"r": 60}, bargap=0.25, barmode="overlay")
    return fig


def wishlist_figure(wishes: pd.DataFrame) -> go.Figure:
    """Models (most wished on top) × regions (most wishing on the left)."""
    models = list(wishes.groupby("model_id")["total_wishes"].sum().sort_values().index)
    regions = list(
        wishes.groupby("region")["total_wishes"].sum().sort_values(ascending=False).index
    )
    names = wishes.drop_duplicates("model_id").set_index("model_id")

    def grid(column: str, how: str) -> pd.DataFrame:
        return wishes.pivot_table(
            index="model_id", columns="region", values=column, aggfunc=how
        ).reindex(index=models, columns=regions)

    total, share, rank = (
        grid("total_wishes", "sum"),
        grid("share_of_region_pct", "sum"),
        grid("rank_in_region", "min"),
    )
    y_labels = [
        f"<b>{html.escape(_short(names.loc[m, 'model_name'], 24))}</b>  "
        f"<span style='color:{MUTED}'>{html.escape(_short(names.loc[m, 'brand_name'] or '—', 22))}</span>"
        for m in models
    ]
    custom = [
        [
            [
                names.loc[m, "model_name"],
                names.loc[m, "brand_name"] or "—",
                names.loc[m, "collection_name"] or "—",
                float(share.loc[m, r]) if pd.notna(share.loc[m, r]) else 0.0,
                int(rank.loc[m, r]) if pd.notna(rank.loc[m, r]) else 0,
            ]
            for r in regions
        ]
        for m in models
    ]
    z = total.to_numpy()
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=regions,
            y=y_labels,
            colorscale=HEATMAP_SCALE,
            xgap=3,
            ygap=3,
            text=[["" if pd.isna(v) else f"{int(v):,}" for v in row] for row in z],
            texttemplate="%{text}",
            textfont={"size": 12},
            customdata=custom,
            hovertemplate="<b>%{customdata[0]}</b> · %{customdata[1]}<br>%{customdata[2]}"
            "<br>%{x}: %{z:,} wishes<br>%{customdata[3]:.1f} % of the region's wishes, "
            "#%{customdata[4]} in the region<extra></extra>",
            colorbar={"title": {"text": "wishes"}, "thickness": 12, "outlinewidth": 0},
        )
    )
    _base_layout(fig, max(380, 34 * len(models) + 110))
    fig.update_xaxes(showgrid=False, side="top", tickfont={"size": 13})
    fig.update_layout(margin={"t": 64})
    fig.update_yaxes(showgrid=False, tickfont={"size": 12.5})
    return fig


# --- page -----------------------------------------------------------------------------------

PAGE = Template((Path(__file__).with_name("report_template.html")).read_text(encoding="utf-8"))
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


def _tile(label: str, value: str, note: str) -> str:
    return (
        f'<div class="tile"><div class="tile-label">{html.escape(label)}</div>'
        f'<div class="tile-value">{html.escape(value)}</div>'
        f'<div class="tile-note">{html.escape(note)}</div></div>'
    )


def _card(chart_id: str, title: str, explanation: str, body: str, wide: bool = False) -> str:
    return (
        f'<section class="card{" wide" if wide else ""}"><h2>{html.escape(title)}</h2>'
        f'<p class="explain">{explanation}</p>{body}</section>'
    )


def _empty(chart_id: str, message: str) -> str:
    return f'<div id="{chart_id}" class="empty">{html.escape(message)}</div>'


def render(data: ReportData, *, top_campaigns: int, safe_url: str) -> str:
    c = data.campaigns
    sent = int(c["emails_sent"].sum()) if len(c) else 0
    delivered = int(c["emails_delivered"].sum()) if len(c) else 0
    clicks = int(c["unique_clicks"].sum()) if len(c) else 0
    spend = float(c["ad_spend"].sum()) if len(c) else 0.0
    ad_revenue = float(c["ad_revenue"].sum()) if len(c) else 0.0
    attributed = float(c["attributed_revenue"].sum()) if len(c) else 0.0
    orders = int(c["attributed_orders"].sum()) if len(c) else 0
    roas = ad_revenue / spend if spend else None
    active = int((c["campaign_status"] == "active").sum()) if len(c) else 0
    tiles = "".join(
        [
            _tile("Campaigns", f"{len(c):,}", f"{active:,} active"),
            _tile(
                "Emails sent",
                f"{sent:,}",
                f"{100 * delivered / sent:.1f} % delivered" if sent else "none yet",
            ),
            _tile(
                "Click rate",
                f"{100 * clicks / delivered:.2f} %" if delivered else "–",
                f"{clicks:,} unique clicks / delivered",
            ),
            _tile("Attributed revenue", _money(attributed), f"{orders:,} paid orders"),
            _tile("Ad spend", _money(spend), f"{_money(ad_revenue)} ad revenue"),
            _tile(
                "ROAS overall",
                f"{roas:,.2f}×" if roas is not None else "–",
                "ad revenue / ad spend",
            ),
        ]
    )

    def plot(fig: go.Figure, chart_id: str) -> str:
        return fig.to_html(
            full_html=False, include_plotlyjs=False, div_id=chart_id, config=PLOT_CONFIG
        )

    top = min(top_campaigns, 6)
    cards = []
    if sent:
        body = plot(funnel_figure(c, top), "funnel-chart")
    else:
        body = _empty("funnel-chart", "No emails sent yet.")
    cards.append(
        _card(
            "funnel-chart",
            "Email funnel",
            "How many emails reach each step — left, all campaigns (% of sent); right, the "
            f"{top} campaigns with the most sends, each step drawn over the one before "
            "(click rate = unique clicks / delivered).",
            body,
            wide=True,
        )
    )
    spenders = int((c["ad_spend"] > 0).sum()) if len(c) else 0
    if spenders:
        body = plot(roas_figure(c, top_campaigns), "roas-chart")
    else:
        body = _empty("roas-chart", "No ad spend yet.")
    cards.append(
        _card(
            "roas-chart",
            "Return on ad spend",
            f"Ad revenue per USD spent for the {min(top_campaigns, spenders)} campaigns with the "
            "largest ad spend; gold bars beat the median. Hover for spend, revenue and CPA.",
            body,
        )
    )
    if len(data.leaderboard):
        body = plot(leaderboard_figure(data.leaderboard, data.previous_date), "leaderboard-chart")
        since = f"since {data.previous_date:%d %b %Y}" if data.previous_date else "(first date)"
        explanation = (
            f"Top {len(data.leaderboard)} retailers by performance score, {html.escape(data.period or '')} "
            f"ranking of {data.latest_date:%d %b %Y}; arrows show the rank movement {since} "
            '(<span class="up">▲ up</span>, <span class="down">▼ down</span>, '
            '<span class="new">new</span>).'
        )
    else:
        body = _empty("leaderboard-chart", "No retailer ranking yet.")
        explanation = "Retailer ranking by performance score."
    cards.append(_card("leaderboard-chart", "Retailer leaderboard", explanation, body))
    if len(data.wishes):
        body = plot(wishlist_figure(data.wishes), "wishlist-heatmap")
        models = data.wishes["model_id"].nunique()
    else:
        body = _empty("wishlist-heatmap", "No wish-list items yet.")
        models = 0
    cards.append(
        _card(
            "wishlist-heatmap",
            "Most wished models by region",
            f"Client wishes (Σ wish count) for the {models} most wished watch models overall, by "
            "retailer region (busiest region first); darker is more wished. Hover for the "
            "model's share of and rank in the region.",
            body,
            wide=True,
        )
    )
    period = (
        f"{data.first_date:%d %b %Y} – {data.last_date:%d %b %Y}"
        if data.first_date and data.last_date
        else "no dated activity yet"
    )
    import plotly.offline

    return PAGE.substitute(
        title="CrownSync marketing report",
        generated=datetime.now(UTC).strftime("%d %b %Y %H:%M UTC"),
        period=html.escape(period),
        source=html.escape(safe_url),
        tiles=tiles,
        cards="\n".join(cards),
        plotlyjs=plotly.offline.get_plotlyjs(),
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
    page = render(
        data,
        top_campaigns=top_campaigns,
        safe_url=safe_url(url),
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out


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
