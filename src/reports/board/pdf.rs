//! The pack as a PDF (A4 landscape), written with `pdf-writer`: the standard Helvetica fonts (not
//! embedded, so text is limited to the Windows-1252 characters), the Sankey drawn with the same
//! layout as the HTML page, bars with interval whiskers, and the tables.
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use super::{BoardPack, dimension_label, interval_label, sankey, show_count, show_rate};
use crate::reports::attrition::Rate;

const W: f32 = 842.0;
const H: f32 = 595.0;
const MARGIN: f32 = 36.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Text as Windows-1252 bytes (what the standard fonts' WinAnsiEncoding reads).
fn ansi(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' '..='~' => out.push(c as u8),
            '–' => out.push(0x96),
            '—' => out.push(0x97),
            '…' => out.push(0x85),
            '’' => out.push(0x92),
            '‘' => out.push(0x91),
            '×' => out.push(0xD7),
            '→' => out.extend_from_slice(b"->"),
            c if (c as u32) >= 0xA0 && (c as u32) <= 0xFF => out.push(c as u32 as u8),
            _ => out.push(b'?'),
        }
    }
    out
}

/// Roughly how wide Helvetica sets `s` at `size` (an average advance; good enough to fit columns).
fn width(s: &str, size: f32) -> f32 {
    s.chars().count() as f32 * size * 0.52
}

fn fit(s: &str, size: f32, room: f32) -> String {
    if width(s, size) <= room {
        return s.to_owned();
    }
    let keep = ((room / (size * 0.52)) as usize).saturating_sub(1);
    let mut t: String = s.chars().take(keep).collect();
    t.push('…');
    t
}

/// A flowing document: pages of content streams, and where the next line goes.
struct Doc {
    pages: Vec<Content>,
    y: f32,
}

impl Doc {
    fn new() -> Self {
        let mut d = Doc { pages: Vec::new(), y: 0.0 };
        d.page();
        d
    }

    fn page(&mut self) {
        self.pages.push(Content::new());
        self.y = H - MARGIN;
    }

    fn c(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a page")
    }

    /// Starts a new page unless `needed` points fit.
    fn room(&mut self, needed: f32) {
        if self.y - needed < MARGIN {
            self.page();
        }
    }

    fn text_at(&mut self, x: f32, y: f32, s: &str, size: f32, bold: bool) {
        let bytes = ansi(s);
        let c = self.c();
        c.begin_text();
        c.set_font(if bold { BOLD } else { REGULAR }, size);
        c.next_line(x, y);
        c.show(Str(&bytes));
        c.end_text();
    }

    fn heading(&mut self, s: &str, size: f32) {
        self.room(size + 60.0);
        self.y -= size + 6.0;
        let y = self.y;
        self.text_at(MARGIN, y, s, size, true);
        self.y -= 4.0;
    }

    fn para(&mut self, s: &str, size: f32) {
        let room = W - 2.0 * MARGIN;
        let mut line = String::new();
        let mut lines = Vec::new();
        for word in s.split_whitespace() {
            if !line.is_empty() && width(&format!("{line} {word}"), size) > room {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            lines.push(line);
        }
        for l in lines {
            self.room(size + 4.0);
            self.y -= size + 3.0;
            let y = self.y;
            self.text_at(MARGIN, y, &l, size, false);
        }
        self.y -= 4.0;
    }

    /// A table: the first column takes what the others leave.
    fn table(&mut self, header: &[&str], rows: &[Vec<String>], other: f32) {
        let size = 8.0;
        let row_h = 12.0;
        let first = (W - 2.0 * MARGIN - other * (header.len() as f32 - 1.0)).max(120.0);
        let xs: Vec<f32> =
            (0..header.len()).map(|i| MARGIN + if i == 0 { 0.0 } else { first + other * (i as f32 - 1.0) }).collect();
        let draw = |doc: &mut Doc, cells: Vec<String>, bold: bool| {
            doc.room(row_h + 2.0);
            doc.y -= row_h;
            let y = doc.y;
            for (i, cell) in cells.iter().enumerate() {
                let col = if i == 0 { first } else { other };
                let t = fit(cell, size, col - 6.0);
                // Figures are right-aligned in their column.
                let x = if i == 0 { xs[i] + 2.0 } else { xs[i] + col - 4.0 - width(&t, size) };
                doc.text_at(x, y + 3.0, &t, size, bold);
            }
            let c = doc.c();
            c.set_stroke_rgb(0.8, 0.8, 0.8).set_line_width(0.5);
            c.move_to(MARGIN, y).line_to(MARGIN + first + other * (header.len() as f32 - 1.0), y).stroke();
        };
        draw(self, header.iter().map(|h| (*h).to_owned()).collect(), true);
        for r in rows {
            draw(self, r.clone(), false);
        }
        self.y -= 8.0;
    }

    fn bars(&mut self, title: &str, rows: &[(&str, &Rate)]) {
        let (label, bar, row_h) = (150.0, 330.0, 13.0);
        let height = 16.0 + row_h * rows.len() as f32 + 14.0;
        self.room(height);
        self.y -= 12.0;
        let y = self.y;
        self.text_at(MARGIN, y, title, 9.0, true);
        let max = rows.iter().filter_map(|(_, r)| r.ci_high.or(r.rate)).fold(0.0f64, f64::max);
        let max = ((max * 10.0).ceil() / 10.0).clamp(0.1, 1.0) as f32;
        let x = |v: f64| MARGIN + label + bar * (v as f32 / max).min(1.0);
        let top = self.y - 4.0;
        for (i, (category, r)) in rows.iter().enumerate() {
            let yb = top - row_h * (i as f32 + 1.0);
            self.text_at(MARGIN, yb + 3.0, &fit(category, 8.0, label - 8.0), 8.0, false);
            if let Some(rate) = r.rate {
                let c = self.c();
                c.set_fill_rgb(0.36, 0.5, 0.65).rect(MARGIN + label, yb + 2.0, x(rate) - MARGIN - label, row_h - 4.0);
                c.fill_nonzero();
                if let (Some(lo), Some(hi)) = (r.ci_low, r.ci_high) {
                    let m = yb + row_h / 2.0;
                    c.set_stroke_rgb(0.1, 0.1, 0.1).set_line_width(0.8);
                    c.move_to(x(lo), m).line_to(x(hi), m);
                    c.move_to(x(lo), m - 3.0).line_to(x(lo), m + 3.0);
                    c.move_to(x(hi), m - 3.0).line_to(x(hi), m + 3.0).stroke();
                }
                self.c().set_fill_rgb(0.0, 0.0, 0.0);
                self.text_at(MARGIN + label + bar + 6.0, yb + 3.0, &show_rate(Some(rate)), 8.0, false);
            } else {
                self.c().set_fill_rgb(0.45, 0.45, 0.45);
                self.text_at(MARGIN + label, yb + 3.0, "withheld or too few", 8.0, false);
                self.c().set_fill_rgb(0.0, 0.0, 0.0);
            }
        }
        let axis = top - row_h * rows.len() as f32 - 10.0;
        let mut tick = 0.0f32;
        while tick <= max + 1e-6 {
            let tx = x(f64::from(tick));
            self.text_at(tx - 6.0, axis, &format!("{:.0}%", tick * 100.0), 7.0, false);
            tick += if max > 0.5 { 0.2 } else { 0.1 };
        }
        self.y = axis - 6.0;
    }

    fn sankey(&mut self, pack: &BoardPack) {
        let layout = sankey::layout(&pack.flow);
        let scale = ((W - 2.0 * MARGIN) / sankey::WIDTH as f32).min(1.0);
        let height = sankey::HEIGHT as f32 * scale;
        self.room(height + 10.0);
        let (ox, oy) = (MARGIN, self.y);
        // SVG coordinates grow downwards; PDF's upwards.
        let to_page = |x: f64, y: f64| (ox + x as f32 * scale, oy - y as f32 * scale);
        for l in &layout.links {
            let (x0, y0) = to_page(l.x0, l.y0);
            let (x1, y1) = to_page(l.x1, l.y1);
            let xm = f32::midpoint(x0, x1);
            let c = self.c();
            if l.journeys.is_some() {
                if l.target == crate::journeys::stages::EXIT_WITHDRAWN {
                    c.set_stroke_rgb(0.93, 0.72, 0.70);
                } else {
                    c.set_stroke_rgb(0.78, 0.85, 0.92);
                }
                c.set_line_width((l.width as f32 * scale).max(0.3)).set_dash_pattern([], 0.0);
            } else {
                c.set_stroke_rgb(0.6, 0.6, 0.6).set_line_width(0.6).set_dash_pattern([2.0, 2.0], 0.0);
            }
            c.move_to(x0, y0).cubic_to(xm, y0, xm, y1, x1, y1).stroke();
        }
        self.c().set_dash_pattern([], 0.0);
        // From the last column back, so each label lies above the rectangles to its right.
        let mut order: Vec<&sankey::NodeBox> = layout.nodes.iter().collect();
        order.sort_by(|a, b| b.x.total_cmp(&a.x));
        for n in order {
            let (left, top) = to_page(n.x, n.y);
            let tall = n.h as f32 * scale;
            let c = self.c();
            match n.id.as_str() {
                crate::journeys::stages::EXIT_WITHDRAWN => c.set_fill_rgb(0.75, 0.22, 0.17),
                crate::journeys::stages::EXIT_OPEN => c.set_fill_rgb(0.5, 0.55, 0.55),
                _ => c.set_fill_rgb(0.17, 0.24, 0.31),
            };
            c.rect(left, top - tall, 10.0 * scale, tall).fill_nonzero();
            c.set_fill_rgb(0.0, 0.0, 0.0);
            let lx = left + 10.0 * scale + 2.0;
            let ly = top - tall / 2.0;
            self.text_at(lx, ly + 1.0, &n.label, 6.0, false);
            self.text_at(lx, ly - 6.0, &show_count(n.journeys), 5.5, false);
        }
        self.y -= height + 6.0;
    }
}

fn interval(lo: Option<f64>, hi: Option<f64>) -> String {
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{:.1}–{:.1}%", lo * 100.0, hi * 100.0),
        _ => "–".to_owned(),
    }
}

/// The document's bytes.
#[must_use]
pub fn render(pack: &BoardPack) -> Vec<u8> {
    let mut d = Doc::new();
    let area = pack.area.as_ref().map_or_else(
        || "All areas".to_owned(),
        |(code, name)| name.as_ref().map_or_else(|| code.clone(), |n| format!("{n} ({code})")),
    );
    d.heading(&format!("Victim attrition board pack: {area}"), 16.0);
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(|| "no agency events yet".to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
    };
    d.para(
        &format!(
            "Generated {}. Data current to the latest agency event the hub holds: received {}, occurred {}.",
            pack.generated_at.format("%Y-%m-%d %H:%M UTC"),
            time(pack.latest_event_received),
            time(pack.latest_event_occurred)
        ),
        9.0,
    );
    let filters: Vec<String> = pack.filters.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    d.para(&format!("Filters used. {}.", filters.join("; ")), 9.0);
    d.para(
        &format!(
            "Disclosure control. {} A compliance measure's numerator is also withheld when the rest of its \
             denominator is small. [c] marks a withheld figure; – a rate not shown.",
            pack.flow.suppression.note
        ),
        9.0,
    );

    d.heading(
        &format!("Where victims leave: the flow between stages ({} journeys)", show_count(pack.flow.journeys)),
        12.0,
    );
    d.sankey(pack);

    d.page();
    d.heading("Withdrawal rates", 12.0);
    for r in &pack.rates {
        let dim = dimension_label(r.by);
        let pre: Vec<(&str, &Rate)> = r.rows.iter().map(|x| (x.category.as_str(), &x.pre_charge)).collect();
        let post: Vec<(&str, &Rate)> = r.rows.iter().map(|x| (x.category.as_str(), &x.post_charge)).collect();
        d.bars(&format!("Withdrawal before a charging decision, by {dim}"), &pre);
        d.bars(&format!("Withdrawal after charge, by {dim}"), &post);
        let row = |category: &str, x: &crate::reports::attrition::RateRow| {
            let mut v = vec![category.to_owned()];
            for r in [&x.pre_charge, &x.post_charge] {
                v.extend([
                    show_count(r.numerator),
                    show_count(r.denominator),
                    show_rate(r.rate),
                    interval(r.ci_low, r.ci_high),
                ]);
            }
            v
        };
        let mut rows: Vec<Vec<String>> = r.rows.iter().map(|x| row(&x.category, x)).collect();
        rows.push(row("total", &r.total));
        d.table(
            &[dim.as_str(), "Withdrew pre", "Journeys", "Rate", "95% CI", "Withdrew post", "Charged", "Rate", "95% CI"],
            &rows,
            72.0,
        );
    }

    d.heading("Timeliness", 12.0);
    let rows: Vec<Vec<String>> = pack
        .timeliness
        .intervals
        .iter()
        .map(|i| {
            vec![
                interval_label(&i.measure).to_owned(),
                show_count(i.journeys),
                i.median_days.map_or_else(|| "–".to_owned(), |d| d.to_string()),
                i.p90_days.map_or_else(|| "–".to_owned(), |d| d.to_string()),
            ]
        })
        .collect();
    d.table(&["Interval", "Journeys", "Median days", "90th percentile days"], &rows, 110.0);

    d.heading("Trials", 12.0);
    let t = &pack.trials;
    let rows = vec![
        vec!["Effective".to_owned(), show_count(t.effective), show_rate(t.effective_rate)],
        vec!["Cracked".to_owned(), show_count(t.cracked), show_rate(t.cracked_rate)],
        vec!["Ineffective".to_owned(), show_count(t.ineffective), show_rate(t.ineffective_rate)],
        vec!["All listings".to_owned(), show_count(t.listings), String::new()],
    ];
    d.table(&["Outcome", "Listings", "Share of listings"], &rows, 110.0);
    if !t.ineffective_reasons.is_empty() {
        let rows: Vec<Vec<String>> = t
            .ineffective_reasons
            .iter()
            .map(|r| vec![r.label.clone(), r.code.clone(), r.party.clone(), show_count(r.listings)])
            .collect();
        d.table(&["Ineffective: reason", "Code", "Down to", "Listings"], &rows, 70.0);
    }

    d.heading("Compliance", 12.0);
    let rows: Vec<Vec<String>> = pack
        .compliance
        .measures
        .iter()
        .map(|m| {
            vec![
                m.label.clone(),
                show_count(m.numerator),
                format!("{} {}", show_count(m.denominator), m.unit),
                show_rate(m.rate),
                interval(m.ci_low, m.ci_high),
            ]
        })
        .collect();
    d.table(&["Measure", "Number", "Of", "Share", "95% CI"], &rows, 90.0);
    for n in &pack.compliance.notes {
        d.para(n, 7.5);
    }

    // Objects: 1 catalog, 2 page tree, 3–4 fonts, 5 info, then a page and its content per page.
    let (catalog, tree, regular, bold, info) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4), Ref::new(5));
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    let page_ids: Vec<Ref> = (0..d.pages.len()).map(|i| Ref::new(6 + 2 * i as i32)).collect();
    pdf.pages(tree).kids(page_ids.iter().copied()).count(page_ids.len() as i32);
    for (i, content) in d.pages.into_iter().enumerate() {
        let (page_id, content_id) = (page_ids[i], Ref::new(7 + 2 * i as i32));
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, W, H)).parent(tree).contents(content_id);
        let mut resources = page.resources();
        let mut fonts = resources.fonts();
        fonts.pair(REGULAR, regular).pair(BOLD, bold);
        fonts.finish();
        resources.finish();
        page.finish();
        let data = content.finish();
        pdf.stream(content_id, &data);
    }
    pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info)
        .title(pdf_writer::TextStr(&format!("Victim attrition board pack: {area}")))
        .creator(pdf_writer::TextStr("Care Hub"));
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_windows_1252_with_stand_ins() {
        assert_eq!(ansi("a–b × c → d é"), b"a\x96b \xd7 c -> d \xe9".to_vec());
        assert_eq!(ansi("漢"), b"?".to_vec());
    }
}
