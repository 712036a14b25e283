//! The pack as a workbook: one sheet per table, bold headers, counts and rates as numbers with
//! their formats. A withheld figure is the text `[c]` (the ONS convention), explained on the
//! first sheet.
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::{BoardPack, dimension_label, interval_label};

/// One cell of a table.
enum Cell {
    Text(String),
    Count(Option<u64>),
    Rate(Option<f64>),
    Ratio(Option<f64>),
}

struct Formats {
    bold: Format,
    count: Format,
    rate: Format,
    ratio: Format,
    withheld: Format,
}

fn sheet(
    workbook: &mut Workbook,
    f: &Formats,
    name: &str,
    header: &[&str],
    rows: Vec<Vec<Cell>>,
) -> Result<(), XlsxError> {
    let ws: &mut Worksheet = workbook.add_worksheet();
    ws.set_name(name)?;
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &f.bold)?;
        ws.set_column_width(c as u16, if c == 0 { 44 } else { 14 })?;
    }
    ws.set_freeze_panes(1, 0)?;
    for (r, row) in rows.into_iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.into_iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => {
                    ws.write_string(r, c, s)?;
                }
                Cell::Count(Some(n)) => {
                    ws.write_number_with_format(r, c, n as f64, &f.count)?;
                }
                Cell::Rate(Some(x)) => {
                    ws.write_number_with_format(r, c, x, &f.rate)?;
                }
                Cell::Ratio(Some(x)) => {
                    ws.write_number_with_format(r, c, x, &f.ratio)?;
                }
                Cell::Count(None) => {
                    ws.write_string_with_format(r, c, "[c]", &f.withheld)?;
                }
                Cell::Rate(None) | Cell::Ratio(None) => {}
            }
        }
    }
    Ok(())
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

/// The workbook's bytes.
pub fn render(pack: &BoardPack) -> Result<Vec<u8>, XlsxError> {
    let f = Formats {
        bold: Format::new().set_bold(),
        count: Format::new().set_num_format("#,##0"),
        rate: Format::new().set_num_format("0.0%"),
        ratio: Format::new().set_num_format("0.00"),
        withheld: Format::new().set_align(rust_xlsxwriter::FormatAlign::Right),
    };
    let mut wb = Workbook::new();

    let mut about = vec![
        vec![text("Area"), text(pack.area.as_ref().map_or_else(|| "All areas".to_owned(), |a| a.0.clone()))],
        vec![text("Generated"), text(pack.generated_at.format("%Y-%m-%d %H:%M UTC").to_string())],
        vec![
            text("Latest agency event received"),
            text(pack.latest_event_received.map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string())),
        ],
        vec![
            text("Latest agency event occurred"),
            text(pack.latest_event_occurred.map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string())),
        ],
    ];
    about.extend(pack.filters.iter().map(|(k, v)| vec![text(k), text(v)]));
    about.push(vec![text("Disclosure control"), text(pack.flow.suppression.note.clone())]);
    about.push(vec![text("[c]"), text("A withheld figure (a small number, or one that would reveal one).")]);
    sheet(&mut wb, &f, "About", &["Item", "Value"], about)?;

    let nodes = pack
        .flow
        .nodes
        .iter()
        .map(|n| vec![text(&n.label), text(&n.id), text(&n.kind), Cell::Count(n.journeys)])
        .collect();
    sheet(&mut wb, &f, "Flow stages", &["Stage or exit", "Code", "Kind", "Journeys"], nodes)?;
    let links =
        pack.flow.links.iter().map(|l| vec![text(&l.source), text(&l.target), Cell::Count(l.journeys)]).collect();
    sheet(&mut wb, &f, "Flow links", &["From", "To", "Journeys"], links)?;

    for r in &pack.rates {
        let dim = dimension_label(r.by);
        let row = |category: &str, x: &crate::reports::attrition::RateRow| {
            let mut v = vec![text(category)];
            for p in [&x.pre_charge, &x.post_charge] {
                v.extend([
                    Cell::Count(p.numerator),
                    Cell::Count(p.denominator),
                    Cell::Rate(p.rate),
                    Cell::Rate(p.ci_low),
                    Cell::Rate(p.ci_high),
                    Cell::Ratio(p.relative_to_reference),
                ]);
            }
            v
        };
        let mut rows: Vec<Vec<Cell>> = r.rows.iter().map(|x| row(&x.category, x)).collect();
        rows.push(row("total", &r.total));
        // Sheet names are at most 31 characters.
        let name: String = format!("Rates by {dim}").chars().take(31).collect();
        sheet(
            &mut wb,
            &f,
            &name,
            &[
                dim.as_str(),
                "Withdrew pre-charge",
                "Journeys",
                "Pre-charge rate",
                "CI low",
                "CI high",
                "Relative to reference",
                "Withdrew post-charge",
                "Charged",
                "Post-charge rate",
                "CI low",
                "CI high",
                "Relative to reference",
            ],
            rows,
        )?;
    }
    if let Some(r) = pack.rates.first() {
        let rows = r
            .weeks_to_withdrawal
            .iter()
            .map(|b| {
                vec![
                    Cell::Count(Some(u64::from(b.from_week))),
                    b.to_week.map_or_else(|| text(""), |t| Cell::Count(Some(u64::from(t)))),
                    Cell::Count(b.withdrawals),
                ]
            })
            .collect();
        sheet(&mut wb, &f, "Weeks to withdrawal", &["From week", "To week (before)", "Withdrawals"], rows)?;
    }

    let rows = pack
        .timeliness
        .intervals
        .iter()
        .map(|i| {
            vec![
                text(interval_label(&i.measure)),
                Cell::Count(i.journeys),
                i.median_days.map_or_else(|| text(""), |d| Cell::Count(Some(d))),
                i.p90_days.map_or_else(|| text(""), |d| Cell::Count(Some(d))),
            ]
        })
        .collect();
    sheet(&mut wb, &f, "Timeliness", &["Interval", "Journeys", "Median days", "90th percentile days"], rows)?;

    let t = &pack.trials;
    let rows = vec![
        vec![text("Effective"), Cell::Count(t.effective), Cell::Rate(t.effective_rate)],
        vec![text("Cracked"), Cell::Count(t.cracked), Cell::Rate(t.cracked_rate)],
        vec![text("Ineffective"), Cell::Count(t.ineffective), Cell::Rate(t.ineffective_rate)],
        vec![text("All listings"), Cell::Count(t.listings), Cell::Rate(None)],
        vec![text("Journeys with a trial listed"), Cell::Count(t.journeys_with_trial), Cell::Rate(None)],
    ];
    sheet(&mut wb, &f, "Trials", &["Outcome", "Listings", "Share of listings"], rows)?;
    let rows = t
        .ineffective_reasons
        .iter()
        .map(|r| vec![text(r.code.clone()), text(r.label.clone()), text(r.party.clone()), Cell::Count(r.listings)])
        .collect();
    sheet(&mut wb, &f, "Ineffective reasons", &["Code", "Reason", "Down to", "Listings"], rows)?;

    let rows = pack
        .compliance
        .measures
        .iter()
        .map(|m| {
            vec![
                text(&m.label),
                text(&m.unit),
                Cell::Count(m.numerator),
                Cell::Count(m.denominator),
                Cell::Rate(m.rate),
                Cell::Rate(m.ci_low),
                Cell::Rate(m.ci_high),
            ]
        })
        .collect();
    sheet(&mut wb, &f, "Compliance", &["Measure", "Unit", "Number", "Of", "Share", "CI low", "CI high"], rows)?;
    wb.save_to_buffer()
}
