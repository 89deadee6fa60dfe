"""The report's plotly figures, one function a chart, from frames of mart columns.

Each figure draws what a mart says; none derives a metric (the marts define them).
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

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


def funnel_steps(kpis: dict) -> list[dict]:
    """The overall funnel: each step's count and its rate, with the rate's base named.

    Counts and rates are columns of marts.fct_campaign_kpis (rates of delivered, as the
    marts define them); the delivered step is the only one whose base is sent."""
    return [
        {"stage": "Sent", "count": int(kpis["emails_sent"]), "rate_pct": None, "base": None},
        {
            "stage": "Delivered",
            "count": int(kpis["emails_delivered"]),
            "rate_pct": kpis["delivery_rate_pct"],
            "base": "sent",
        },
        {
            "stage": "Opened",
            "count": int(kpis["unique_opens"]),
            "rate_pct": kpis["open_rate_pct"],
            "base": "delivered",
        },
        {
            "stage": "Clicked",
            "count": int(kpis["unique_clicks"]),
            "rate_pct": kpis["click_rate_pct"],
            "base": "delivered",
        },
    ]


def _step_rate(step: dict) -> str:
    if step["base"] is None:
        return ""
    rate = "–" if step["rate_pct"] is None else f"{step['rate_pct']:.2f} %"
    return f"{rate} of {step['base']}"


def funnel_figure(campaigns: pd.DataFrame, top: int, kpis: dict) -> go.Figure:
    steps = funnel_steps(kpis)
    totals = [step["count"] for step in steps]
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
    # the step's rate goes under its name (the bars of the late steps are too narrow for it)
    rates = [_step_rate(step) for step in steps]
    stage_labels = [
        f"<b>{stage}</b><br><span style='font-size:11px;color:{MUTED}'>{rate}</span>"
        if rate
        else f"<b>{stage}</b>"
        for stage, rate in zip(STAGES, rates, strict=True)
    ]
    labels_all = [
        f"{step['count']:,} emails" + (f" · {rate}" if rate else "")
        for step, rate in zip(steps, rates, strict=True)
    ]
    fig.add_trace(
        go.Funnel(
            y=stage_labels,
            x=totals,
            name="All campaigns",
            texttemplate="%{value:,}",
            textinfo="value",
            textposition="auto",
            insidetextfont={"color": "white", "size": 14},
            outsidetextfont={"color": INK, "size": 14},
            marker={"color": FUNNEL_COLOURS},
            connector={"fillcolor": "#e9edf3", "line": {"width": 0}},
            customdata=labels_all,
            hovertemplate="<b>%{y}</b><br>%{customdata}<extra></extra>",
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
    # each step's rate as the mart defines it (opens and clicks: of delivered)
    rate_of = {
        "Sent": None,
        "Delivered": None,
        "Opened": ("open_rate_pct", "delivered"),
        "Clicked": ("click_rate_pct", "delivered"),
    }
    for stage, column, colour in zip(STAGES, STAGE_COLUMNS, FUNNEL_COLOURS, strict=True):
        values = leaders[column].astype(float)
        if rate_of[stage] is None:
            notes = ["" for _ in values]
        else:
            rate_column, base = rate_of[stage]
            notes = ["" if pd.isna(r) else f" ({r:.2f} % of {base})" for r in leaders[rate_column]]
        fig.add_trace(
            go.Bar(
                x=values,
                y=labels,
                orientation="h",
                name=stage,
                marker={"color": colour, "line": {"width": 0}},
                customdata=list(zip(leaders["campaign_name"], notes, strict=True)),
                hovertemplate=f"<b>%{{customdata[0]}}</b><br>{stage}: %{{x:,}} emails"
                "%{customdata[1]}<extra></extra>",
                width=0.62,
            ),
            row=1,
            col=2,
        )
    for label, row in zip(labels, leaders.itertuples(), strict=True):
        rate = "–" if pd.isna(row.click_rate_pct) else f"{row.click_rate_pct:.2f} %"
        fig.add_annotation(
            x=row.emails_sent,
            y=label,
            xref="x2",
            yref="y2",
            xanchor="left",
            xshift=6,
            text=f"{int(row.emails_sent):,} sent · click rate {rate} of delivered",
            showarrow=False,
            font={"size": 11.5, "color": MUTED},
        )
    fig.update_xaxes(range=[0, float(sent.max()) * 1.9], row=1, col=2)
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
        f"{_short(n, 26)} · {_short(b or '—', 22)}"
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
    """(arrow text, colour, hover phrase) of a retailer's rank change (the mart's rank_change:
    previous_overall_rank - overall_rank, positive = moved up; NULL = first date)."""
    if pd.isna(row["rank_change"]):
        return "new", NEW, "first ranked date of the retailer"
    change = int(row["rank_change"])
    if change > 0:
        return f"▲ {change}", UP, f"up {change} from #{int(row['previous_overall_rank'])}"
    if change < 0:
        return f"▼ {-change}", DOWN, f"down {-change} from #{int(row['previous_overall_rank'])}"
    return "–", SAME, "same rank as before"


def leaderboard_figure(board: pd.DataFrame) -> go.Figure:
    board = board.iloc[::-1]  # best at the top
    moves = [_movement(row) for _, row in board.iterrows()]
    labels = [
        f"<b>#{int(r)}</b>  {html.escape(n)}"
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
    # the whole scale from 0: a bar cut at 85 would make small gaps look large
    fig.update_xaxes(title_text="performance score (0–100)", range=[0, 100])
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
