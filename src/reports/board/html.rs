//! The pack as one self-contained, printable HTML page: inline CSS, inline SVG, no scripts and
//! nothing fetched. Every piece of text is escaped.
use std::fmt::Write as _;

use super::{BoardPack, dimension_label, esc, interval_label, sankey, show_count, show_rate};
use crate::reports::attrition::{Rate, RatesReport};

const STYLE: &str = "
@page { size: A4 landscape; margin: 12mm; }
* { box-sizing: border-box; }
body { font-family: 'Helvetica Neue', Arial, sans-serif; color: #1b1b1b; margin: 0 auto; max-width: 1160px;
  padding: 16px; font-size: 13px; line-height: 1.4; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; border-bottom: 2px solid #2c3e50; padding-bottom: 2px; margin: 22px 0 8px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
.meta { color: #444; margin: 0 0 8px; }
table { border-collapse: collapse; margin: 4px 0 10px; }
th, td { border: 1px solid #c8c8c8; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { background: #fff8e1; border-left: 4px solid #e0a800; padding: 6px 10px; margin: 8px 0; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg { max-width: 100%; height: auto; }
svg.sankey text { font-size: 10px; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg.sankey text.count { fill: #555; font-size: 9px; }
svg.sankey path.link { stroke-opacity: 0.35; }
svg.sankey path.withheld { stroke: #999; stroke-dasharray: 3 3; stroke-opacity: 0.8; }
svg.bars text { font-size: 10px; }
section { break-inside: avoid; page-break-inside: avoid; }
.flow { break-inside: avoid; }
footer { margin-top: 20px; color: #666; font-size: 11px; }
";

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(|| "no agency events yet".to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<(String, bool)>]) {
    out.push_str("<table><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for (cell, numeric) in r {
            let class = if *numeric { " class=\"n\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", esc(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn text(s: impl Into<String>) -> (String, bool) {
    (s.into(), false)
}

fn num(s: impl Into<String>) -> (String, bool) {
    (s.into(), true)
}

fn interval(lo: Option<f64>, hi: Option<f64>) -> String {
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{:.1}–{:.1}%", lo * 100.0, hi * 100.0),
        _ => "–".to_owned(),
    }
}

/// A horizontal bar per category with its 95% interval as a whisker.
fn bars(title: &str, rows: &[(&str, &Rate)]) -> String {
    const LABEL: f64 = 150.0;
    const BAR: f64 = 300.0;
    const ROW: f64 = 18.0;
    let top = 22.0;
    let height = top + ROW * rows.len() as f64 + 24.0;
    let max = rows.iter().filter_map(|(_, r)| r.ci_high.or(r.rate)).fold(0.0f64, f64::max);
    let max = ((max * 10.0).ceil() / 10.0).clamp(0.1, 1.0);
    let at = |v: f64| LABEL + BAR * (v / max).min(1.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="bars" viewBox="0 0 {w} {height}" width="{w}" role="img" aria-label="{t}"><text x="0" y="12" font-weight="bold">{t}</text>"#,
        w = LABEL + BAR + 70.0,
        t = esc(title),
    );
    let step = if max > 0.5 { 0.2 } else { 0.1 };
    let mut tick = 0.0;
    while tick <= max + 1e-9 {
        let tx = at(tick);
        let _ = write!(
            svg,
            r##"<line x1="{tx:.1}" y1="{top}" x2="{tx:.1}" y2="{y2:.1}" stroke="#ddd"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="middle">{p:.0}%</text>"##,
            y2 = top + ROW * rows.len() as f64,
            ty = top + ROW * rows.len() as f64 + 14.0,
            p = tick * 100.0,
        );
        tick += step;
    }
    for (i, (category, r)) in rows.iter().enumerate() {
        let row_y = top + ROW * i as f64;
        let _ = write!(
            svg,
            r#"<g class="bar" data-category="{c}"><text x="{lx}" y="{ty:.1}" text-anchor="end">{c}</text>"#,
            c = esc(category),
            lx = LABEL - 6.0,
            ty = row_y + 12.0,
        );
        match r.rate {
            Some(rate) => {
                let _ = write!(
                    svg,
                    r##"<rect x="{LABEL}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#5b7fa6"/>"##,
                    row_y + 3.0,
                    at(rate) - LABEL,
                    ROW - 6.0
                );
                if let (Some(lo), Some(hi)) = (r.ci_low, r.ci_high) {
                    let (lo, hi, mid) = (at(lo), at(hi), row_y + ROW / 2.0);
                    let _ = write!(
                        svg,
                        r##"<path d="M{lo:.1},{mid:.1} H{hi:.1} M{lo:.1},{:.1} V{:.1} M{hi:.1},{:.1} V{:.1}" stroke="#1b1b1b" fill="none"/>"##,
                        mid - 4.0,
                        mid + 4.0,
                        mid - 4.0,
                        mid + 4.0
                    );
                }
                let _ = write!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                    LABEL + BAR + 6.0,
                    row_y + 12.0,
                    esc(&show_rate(Some(rate)))
                );
            }
            None => {
                let _ = write!(
                    svg,
                    r##"<text x="{LABEL}" y="{:.1}" fill="#777">withheld or too few</text>"##,
                    row_y + 12.0
                );
            }
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

fn rates_section(out: &mut String, r: &RatesReport) {
    let dim = dimension_label(r.by);
    let _ = write!(out, "<h3>Withdrawal by {}</h3><div class=\"charts\">", esc(&dim));
    let pre: Vec<(&str, &Rate)> = r.rows.iter().map(|x| (x.category.as_str(), &x.pre_charge)).collect();
    let post: Vec<(&str, &Rate)> = r.rows.iter().map(|x| (x.category.as_str(), &x.post_charge)).collect();
    out.push_str(&bars("Before a charging decision (of all journeys)", &pre));
    out.push_str(&bars("After charge (of charged journeys)", &post));
    out.push_str("</div>");
    let row = |category: &str, x: &crate::reports::attrition::RateRow| {
        let mut v = vec![text(category)];
        for r in [&x.pre_charge, &x.post_charge] {
            v.extend([
                num(show_count(r.numerator)),
                num(show_count(r.denominator)),
                num(show_rate(r.rate)),
                num(interval(r.ci_low, r.ci_high)),
                num(r.relative_to_reference.map_or_else(|| "–".to_owned(), |x| format!("{x:.2}×"))),
            ]);
        }
        v
    };
    let mut rows: Vec<Vec<(String, bool)>> = r.rows.iter().map(|x| row(&x.category, x)).collect();
    rows.push(row("total", &r.total));
    table(
        out,
        &[
            dim.as_str(),
            "Withdrew pre-charge",
            "Journeys",
            "Rate",
            "95% CI",
            "vs reference",
            "Withdrew post-charge",
            "Charged",
            "Rate",
            "95% CI",
            "vs reference",
        ],
        &rows,
    );
    if let Some(reference) = &r.reference {
        let _ = write!(out, "<p class=\"meta\">Reference category: {}.</p>", esc(reference));
    }
}

/// The page.
#[must_use]
pub fn render(pack: &BoardPack) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let area = pack.area.as_ref().map_or_else(
        || "All areas".to_owned(),
        |(code, name)| name.as_ref().map_or_else(|| code.clone(), |n| format!("{n} ({code})")),
    );
    let title = format!("Victim attrition board pack: {area}");
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en-GB\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head><body>",
        esc(&title)
    );
    let _ = write!(out, "<header><h1>{}</h1>", esc(&title));
    let _ = write!(
        out,
        "<p class=\"meta\">Generated {}. Data current to the latest agency event the hub holds: received {}, \
         occurred {}.</p></header>",
        esc(&pack.generated_at.format("%Y-%m-%d %H:%M UTC").to_string()),
        esc(&time(pack.latest_event_received)),
        esc(&time(pack.latest_event_occurred)),
    );

    out.push_str("<section><h2>Filters used</h2>");
    let rows: Vec<Vec<(String, bool)>> = pack.filters.iter().map(|(k, v)| vec![text(k), text(v)]).collect();
    table(&mut out, &["Filter", "Value"], &rows);
    let _ = write!(
        out,
        "<p class=\"note\" id=\"suppression\"><strong>Disclosure control.</strong> {} {} \
         [c] marks a withheld figure; – a rate not shown. Figures withheld in this pack: {}.</p></section>",
        esc(&pack.flow.suppression.note),
        esc("A compliance measure's numerator is also withheld when the rest of its denominator is small."),
        pack.flow.suppression.withheld
            + pack.rates.iter().map(|r| r.suppression.withheld).sum::<u64>()
            + pack.timeliness.suppression.withheld
            + pack.trials.suppression.withheld
            + pack.compliance.suppression.withheld,
    );

    let _ = write!(
        out,
        "<section class=\"flow\"><h2>Where victims leave: the flow between stages</h2>\
         <p class=\"meta\">{} journeys. Band widths are in proportion to journeys; dashed bands are withheld \
         small numbers.</p>",
        esc(&show_count(pack.flow.journeys))
    );
    out.push_str(&sankey::svg(&pack.flow));
    let rows: Vec<Vec<(String, bool)>> =
        pack.flow.nodes.iter().map(|n| vec![text(&n.label), text(&n.id), num(show_count(n.journeys))]).collect();
    table(&mut out, &["Stage or exit", "Code", "Journeys reaching it"], &rows);
    out.push_str("</section>");

    out.push_str("<section><h2>Withdrawal rates</h2>");
    for r in &pack.rates {
        rates_section(&mut out, r);
    }
    if let Some(r) = pack.rates.first() {
        out.push_str("<h3>Weeks from report to withdrawal</h3>");
        let rows: Vec<Vec<(String, bool)>> = r
            .weeks_to_withdrawal
            .iter()
            .map(|b| {
                let span =
                    b.to_week.map_or_else(|| format!("{} or more", b.from_week), |t| format!("{}–{}", b.from_week, t));
                vec![text(span), num(show_count(b.withdrawals))]
            })
            .collect();
        table(&mut out, &["Weeks after report", "Withdrawals"], &rows);
    }
    out.push_str("</section>");

    out.push_str("<section><h2>Timeliness</h2>");
    let rows: Vec<Vec<(String, bool)>> = pack
        .timeliness
        .intervals
        .iter()
        .map(|i| {
            vec![
                text(interval_label(&i.measure)),
                num(show_count(i.journeys)),
                num(i.median_days.map_or_else(|| "–".to_owned(), |d| d.to_string())),
                num(i.p90_days.map_or_else(|| "–".to_owned(), |d| d.to_string())),
            ]
        })
        .collect();
    table(&mut out, &["Interval", "Journeys", "Median days", "90th percentile days"], &rows);
    out.push_str("</section>");

    let t = &pack.trials;
    out.push_str("<section><h2>Trials</h2>");
    table(
        &mut out,
        &["Outcome", "Listings", "Share of listings"],
        &[
            vec![text("Effective"), num(show_count(t.effective)), num(show_rate(t.effective_rate))],
            vec![text("Cracked"), num(show_count(t.cracked)), num(show_rate(t.cracked_rate))],
            vec![text("Ineffective"), num(show_count(t.ineffective)), num(show_rate(t.ineffective_rate))],
            vec![text("All listings"), num(show_count(t.listings)), num(String::new())],
        ],
    );
    let _ =
        write!(out, "<p class=\"meta\">{} journeys had a trial listed.</p>", esc(&show_count(t.journeys_with_trial)));
    if !t.ineffective_reasons.is_empty() {
        out.push_str("<h3>Why listings were ineffective</h3>");
        let rows: Vec<Vec<(String, bool)>> = t
            .ineffective_reasons
            .iter()
            .map(|r| {
                vec![text(r.code.clone()), text(r.label.clone()), text(r.party.clone()), num(show_count(r.listings))]
            })
            .collect();
        table(&mut out, &["Code", "Reason", "Down to", "Listings"], &rows);
    }
    out.push_str("</section>");

    out.push_str("<section><h2>Compliance</h2>");
    let rows: Vec<Vec<(String, bool)>> = pack
        .compliance
        .measures
        .iter()
        .map(|m| {
            vec![
                text(&m.label),
                num(show_count(m.numerator)),
                num(format!("{} {}", show_count(m.denominator), m.unit)),
                num(show_rate(m.rate)),
                num(interval(m.ci_low, m.ci_high)),
            ]
        })
        .collect();
    table(&mut out, &["Measure", "Number", "Of", "Share", "95% CI"], &rows);
    out.push_str("<ul class=\"meta\">");
    for n in &pack.compliance.notes {
        let _ = write!(out, "<li>{}</li>", esc(n));
    }
    out.push_str("</ul></section>");
    let _ = write!(
        out,
        "<footer>Care Hub board pack. Aggregates only: no victim-identifying field is read into this pack. \
         Counts from 1 to {} are withheld.</footer></body></html>",
        pack.threshold
    );
    out
}
