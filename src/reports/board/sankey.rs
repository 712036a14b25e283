//! A layered Sankey layout of the attrition flow, and its SVG. Columns follow the longest path
//! from the first stage (exits share the last column), node heights and link widths are in
//! proportion to the journeys shown. Withheld figures draw nothing of their size: a hidden link
//! is a thin dashed line and a hidden node takes only what its shown links need, so the picture
//! reveals no more than the numbers beside it.
use std::collections::HashMap;
use std::fmt::Write as _;

use super::esc;
use crate::journeys::stages::{self, EXIT_OPEN, EXIT_WITHDRAWN};
use crate::reports::attrition::FlowReport;

pub const WIDTH: f64 = 1120.0;
pub const HEIGHT: f64 = 460.0;
const NODE_WIDTH: f64 = 10.0;
const PAD: f64 = 10.0;
const TOP: f64 = 10.0;
/// Room on the right for the last column's labels.
const RIGHT: f64 = 110.0;
const MIN_NODE: f64 = 2.0;

#[derive(Debug, Clone)]
pub struct NodeBox {
    pub id: String,
    pub label: String,
    pub name: String,
    pub journeys: Option<u64>,
    pub exit: bool,
    pub x: f64,
    pub y: f64,
    pub h: f64,
}

#[derive(Debug, Clone)]
pub struct LinkPath {
    pub source: String,
    pub target: String,
    pub journeys: Option<u64>,
    /// Centre of the band where it leaves the source and enters the target.
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
    pub width: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub nodes: Vec<NodeBox>,
    pub links: Vec<LinkPath>,
}

/// A short name for a node, for the picture (the report's name goes in its tooltip).
#[must_use]
pub fn short_label(id: &str) -> String {
    let s = match id {
        "REPORTED" => "Reported",
        "CLOSED_NO_INVESTIGATION" => "Not investigated",
        "NEEDS_ASSESSED" => "Needs assessed",
        "SUPPORT_REFERRED" => "Support referral",
        "INVESTIGATION" => "Investigation",
        "SUSPECT_IDENTIFIED" => "Suspect named",
        "ARREST_INTERVIEW" => "Arrest/interview",
        "CPS_PRECHARGE" => "To CPS",
        "ACTION_PLAN" => "Action plan",
        "NFA" => "No further action",
        "OOCD" => "Out of court",
        "CHARGED" => "Charged",
        "FIRST_HEARING" => "First hearing",
        "SENT_TO_CROWN" => "Crown Court",
        "PTPH" => "PTPH",
        "TRIAL_LISTED" => "Trial listed",
        "TRIAL_INEFFECTIVE" => "Ineffective",
        "TRIAL_CRACKED" => "Cracked",
        "DISCONTINUED" => "Discontinued",
        "TRIAL_EFFECTIVE" => "Trial started",
        "VERDICT" => "Verdict",
        "ACQUITTED" => "Acquitted",
        "SENTENCE" => "Sentenced",
        "APPEAL" => "Appeal",
        "VCS_OFFERED" => "VCS offered",
        "POST_SENTENCE" => "Post-sentence",
        "CLOSED" => "Closed",
        EXIT_WITHDRAWN => "Victim withdrew",
        EXIT_OPEN => "Still under way",
        other => other,
    };
    s.to_owned()
}

/// Lays the flow out in a `WIDTH` × `HEIGHT` box.
#[must_use]
pub fn layout(flow: &FlowReport) -> Layout {
    let n = flow.nodes.len();
    if n == 0 {
        return Layout::default();
    }
    let index: HashMap<&str, usize> = flow.nodes.iter().enumerate().map(|(i, x)| (x.id.as_str(), i)).collect();
    let is_exit = |id: &str| stages::find(id).is_none();
    let shown = |v: Option<u64>| v.unwrap_or(0) as f64;

    // Longest path from a source; the graph is a DAG, so n rounds settle it.
    let mut depth = vec![0usize; n];
    for _ in 0..n {
        let mut changed = false;
        for l in &flow.links {
            let (Some(&s), Some(&t)) = (index.get(l.source.as_str()), index.get(l.target.as_str())) else { continue };
            if depth[t] <= depth[s] {
                depth[t] = depth[s] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let last = flow.nodes.iter().zip(&depth).filter(|(x, _)| !is_exit(&x.id)).map(|(_, d)| d + 1).max().unwrap_or(0);
    for (i, x) in flow.nodes.iter().enumerate() {
        if is_exit(&x.id) {
            depth[i] = last;
        }
    }
    let columns = depth.iter().max().copied().unwrap_or(0) + 1;

    // A node is as tall as the most of: its shown total, its shown links in, its shown links out.
    let (mut ins, mut outs) = (vec![0f64; n], vec![0f64; n]);
    for l in &flow.links {
        if let (Some(&s), Some(&t)) = (index.get(l.source.as_str()), index.get(l.target.as_str())) {
            outs[s] += shown(l.journeys);
            ins[t] += shown(l.journeys);
        }
    }
    let size: Vec<f64> =
        flow.nodes.iter().enumerate().map(|(i, x)| shown(x.journeys).max(ins[i]).max(outs[i])).collect();
    let mut column_nodes: Vec<Vec<usize>> = vec![Vec::new(); columns];
    for (i, d) in depth.iter().enumerate() {
        column_nodes[*d].push(i);
    }
    let usable = HEIGHT - 2.0 * TOP;
    let scale = column_nodes
        .iter()
        .filter(|c| !c.is_empty())
        .map(|c| {
            let total: f64 = c.iter().map(|&i| size[i]).sum();
            let room = usable - PAD * (c.len() as f64 - 1.0) - MIN_NODE * c.len() as f64;
            if total > 0.0 { room.max(1.0) / total } else { f64::INFINITY }
        })
        .fold(f64::INFINITY, f64::min);
    let scale = if scale.is_finite() { scale } else { 1.0 };
    let step = if columns > 1 { (WIDTH - RIGHT - NODE_WIDTH) / (columns - 1) as f64 } else { 0.0 };

    let mut nodes: Vec<NodeBox> = flow
        .nodes
        .iter()
        .map(|x| NodeBox {
            id: x.id.clone(),
            label: short_label(&x.id),
            name: x.label.clone(),
            journeys: x.journeys,
            exit: is_exit(&x.id),
            x: 0.0,
            y: 0.0,
            h: 0.0,
        })
        .collect();
    for (c, members) in column_nodes.iter().enumerate() {
        let heights: Vec<f64> = members.iter().map(|&i| (size[i] * scale).max(MIN_NODE)).collect();
        let total = heights.iter().sum::<f64>() + PAD * (members.len().saturating_sub(1)) as f64;
        let mut y = TOP + ((usable - total) / 2.0).max(0.0);
        for (&i, h) in members.iter().zip(heights) {
            nodes[i].x = step * c as f64;
            nodes[i].y = y;
            nodes[i].h = h;
            y += h + PAD;
        }
    }

    // Bands leave a node in the order of their targets' heights and enter in their sources'.
    let mut order: Vec<usize> = (0..flow.links.len()).collect();
    let end = |l: usize, target: bool| {
        let link = &flow.links[l];
        index.get(if target { link.target.as_str() } else { link.source.as_str() }).copied()
    };
    let mut out_offset = vec![0f64; n];
    let mut in_offset = vec![0f64; n];
    let mut links: Vec<Option<LinkPath>> = vec![None; flow.links.len()];
    order.sort_by(|&a, &b| {
        let ya = end(a, true).map_or(0.0, |t| nodes[t].y);
        let yb = end(b, true).map_or(0.0, |t| nodes[t].y);
        ya.total_cmp(&yb)
    });
    for &l in &order {
        let (Some(s), Some(t)) = (end(l, false), end(l, true)) else { continue };
        let link = &flow.links[l];
        let width = shown(link.journeys) * scale;
        let y0 = nodes[s].y + out_offset[s] + width / 2.0;
        out_offset[s] += width;
        links[l] = Some(LinkPath {
            source: link.source.clone(),
            target: link.target.clone(),
            journeys: link.journeys,
            x0: nodes[s].x + NODE_WIDTH,
            y0,
            x1: nodes[t].x,
            y1: 0.0,
            width,
        });
    }
    order.sort_by(|&a, &b| {
        let ya = end(a, false).map_or(0.0, |s| nodes[s].y);
        let yb = end(b, false).map_or(0.0, |s| nodes[s].y);
        ya.total_cmp(&yb)
    });
    for &l in &order {
        let Some(t) = end(l, true) else { continue };
        if let Some(path) = links[l].as_mut() {
            path.y1 = nodes[t].y + in_offset[t] + path.width / 2.0;
            in_offset[t] += path.width;
        }
    }
    Layout { nodes, links: links.into_iter().flatten().collect() }
}

fn count_text(n: Option<u64>) -> String {
    n.map_or_else(|| "withheld".to_owned(), |n| n.to_string())
}

/// The flow as an inline SVG: one `<g data-node="CODE">` per node, with its label.
#[must_use]
pub fn svg(flow: &FlowReport) -> String {
    let layout = layout(flow);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="sankey" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Flow of victims between stages">"#
    );
    s.push_str(r#"<g class="links" fill="none">"#);
    for l in &layout.links {
        let xm = f64::midpoint(l.x0, l.x1);
        let (class, width) = if l.journeys.is_some() { ("link", l.width.max(0.5)) } else { ("link withheld", 1.0) };
        let colour = if l.target == EXIT_WITHDRAWN { "#c0392b" } else { "#5b7fa6" };
        let _ = write!(
            s,
            r#"<path class="{class}" data-source="{}" data-target="{}" d="M{:.1},{:.1} C{xm:.1},{:.1} {xm:.1},{:.1} {:.1},{:.1}" stroke="{colour}" stroke-width="{width:.2}"><title>{} → {}: {}</title></path>"#,
            esc(&l.source),
            esc(&l.target),
            l.x0,
            l.y0,
            l.y0,
            l.y1,
            l.x1,
            l.y1,
            esc(&short_label(&l.source)),
            esc(&short_label(&l.target)),
            count_text(l.journeys),
        );
    }
    // A label runs right, over the next column: nodes are drawn from the last column back, so
    // every label lies above the rectangles to its right.
    s.push_str("</g><g class=\"nodes\">");
    let mut order: Vec<&NodeBox> = layout.nodes.iter().collect();
    order.sort_by(|a, b| b.x.total_cmp(&a.x));
    for x in order {
        let fill = match x.id.as_str() {
            EXIT_WITHDRAWN => "#c0392b",
            EXIT_OPEN => "#7f8c8d",
            _ => "#2c3e50",
        };
        let label_x = x.x + NODE_WIDTH + 3.0;
        let label_y = x.y + x.h / 2.0;
        let _ = write!(
            s,
            r#"<g class="node" data-node="{id}"><title>{name}: {count}</title><rect x="{:.1}" y="{:.1}" width="{NODE_WIDTH}" height="{:.1}" fill="{fill}"/><text x="{label_x:.1}" y="{label_y:.1}" dy="-0.1em">{label}</text><text class="count" x="{label_x:.1}" y="{label_y:.1}" dy="1em">{count}</text></g>"#,
            x.x,
            x.y,
            x.h,
            id = esc(&x.id),
            name = esc(&x.name),
            label = esc(&x.label),
            count = count_text(x.journeys),
        );
    }
    s.push_str("</g></svg>");
    s
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::reports::attrition::{FlowLink, FlowNode, Suppression};

    fn node(id: &str, n: Option<u64>) -> FlowNode {
        FlowNode { id: id.into(), label: id.into(), kind: "stage".into(), journeys: n }
    }

    fn link(s: &str, t: &str, n: Option<u64>) -> FlowLink {
        FlowLink { source: s.into(), target: t.into(), journeys: n }
    }

    fn flow() -> FlowReport {
        FlowReport {
            journeys: Some(100),
            nodes: vec![
                node("REPORTED", Some(100)),
                node("INVESTIGATION", Some(60)),
                node("CHARGED", Some(20)),
                node(EXIT_WITHDRAWN, Some(50)),
                node(EXIT_OPEN, Some(50)),
            ],
            links: vec![
                link("REPORTED", "INVESTIGATION", Some(60)),
                link("REPORTED", EXIT_WITHDRAWN, Some(40)),
                link("INVESTIGATION", "CHARGED", Some(20)),
                link("INVESTIGATION", EXIT_WITHDRAWN, Some(10)),
                link("INVESTIGATION", EXIT_OPEN, Some(30)),
                link("CHARGED", EXIT_OPEN, None),
            ],
            suppression: Suppression::new(5, 1),
            as_of: Utc::now(),
        }
    }

    #[test]
    fn columns_follow_the_longest_path_and_exits_share_the_last() {
        let l = layout(&flow());
        let x = |id: &str| l.nodes.iter().find(|n| n.id == id).unwrap().x;
        assert!(x("REPORTED") < x("INVESTIGATION") && x("INVESTIGATION") < x("CHARGED"));
        assert!((x(EXIT_WITHDRAWN) - x(EXIT_OPEN)).abs() < 1e-9);
        assert!(x("CHARGED") < x(EXIT_OPEN));
        for n in &l.nodes {
            assert!(n.y >= 0.0 && n.y + n.h <= HEIGHT + 1e-9, "{n:?}");
        }
    }

    #[test]
    fn sizes_are_in_proportion_and_withheld_figures_take_no_room() {
        let l = layout(&flow());
        let h = |id: &str| l.nodes.iter().find(|n| n.id == id).unwrap().h;
        assert!((h("REPORTED") / h("INVESTIGATION") - 100.0 / 60.0).abs() < 1e-9);
        let w = |s: &str, t: &str| l.links.iter().find(|x| x.source == s && x.target == t).unwrap().width;
        assert!((w("REPORTED", EXIT_WITHDRAWN) / w("INVESTIGATION", EXIT_WITHDRAWN) - 4.0).abs() < 1e-9);
        assert!(w("CHARGED", EXIT_OPEN).abs() < 1e-12);
        // The bands out of a node fill it from the top without overlapping.
        let out: f64 = l.links.iter().filter(|x| x.source == "INVESTIGATION").map(|x| x.width).sum();
        assert!((out - h("INVESTIGATION")).abs() < 1e-9);
    }

    #[test]
    fn the_svg_names_every_node_and_escapes_text() {
        let mut f = flow();
        f.nodes[0].label = "<script>alert(1)</script>".into();
        let svg = svg(&f);
        for id in ["REPORTED", "INVESTIGATION", "CHARGED", EXIT_WITHDRAWN, EXIT_OPEN] {
            assert!(svg.contains(&format!("data-node=\"{id}\"")), "{id}");
        }
        assert!(!svg.contains("<script>") && svg.contains("&lt;script&gt;"));
        assert_eq!(svg.matches("<path ").count(), 6);
        assert!(svg.contains("link withheld"));
    }
}
