//! Inline SVG latency charts: the average as a line, the maximum as a lighter band above it,
//! a few labelled ticks, and a text summary for screen readers. No chart library.

use crate::clock::Clock;
use crate::html::{escape_into, push_f1, push_ms, push_u64};
use crate::model::LatencyPoint;

const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 20.0;

/// An inline SVG line chart of `points` (oldest first): the average latency as a line, the
/// maximum as a lighter band above it, horizontal grid lines with labelled ticks in ms, and the
/// first, middle and last times (UTC) under the axis.
///
/// The chart has `role="img"`, an `aria-label` and a `<title>` that summarise it
/// (`"API latency: p95 180 ms, max 900 ms, average 120 ms over 24 points"`). Empty input draws
/// a frame with "No data"; a single point is drawn as a dot with its values. Sizes below 160×80
/// are raised to that; no `NaN` or infinity ever reaches the output.
///
/// ```
/// use wedsync_dashboard::{latency_chart_svg, LatencyPoint};
/// let pts: Vec<LatencyPoint> = (0..24)
///     .map(|i| LatencyPoint { at_ms: i * 3_600_000, avg_ms: 100 + i as u64, max_ms: 300 })
///     .collect();
/// let svg = latency_chart_svg(&pts, 360, 120, "Stripe, last 24 hours");
/// assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
/// assert!(svg.contains(r#"role="img""#) && svg.contains("max 300 ms"));
/// assert!(latency_chart_svg(&[], 360, 120, "empty").contains("No data"));
/// ```
pub fn latency_chart_svg(points: &[LatencyPoint], width: u32, height: u32, title: &str) -> String {
    let mut out = String::with_capacity(1024 + points.len() * 40);
    let clock = Clock::utc(points.last().map_or(0, |p| p.at_ms));
    write_chart(&mut out, points, width, height, title, &clock);
    out
}

/// Nearest-rank 95th percentile of the averages, the highest maximum and the mean of averages.
struct Summary {
    p95: u64,
    max: u64,
    mean: u64,
}

fn summarise(points: &[LatencyPoint]) -> Option<Summary> {
    if points.is_empty() {
        return None;
    }
    let mut avgs: Vec<u64> = points.iter().map(|p| p.avg_ms).collect();
    avgs.sort_unstable();
    let rank = (avgs.len() * 95).div_ceil(100).max(1);
    let p95 = avgs[rank - 1];
    let max = points
        .iter()
        .map(|p| p.max_ms.max(p.avg_ms))
        .max()
        .unwrap_or(0);
    let sum: u128 = avgs.iter().map(|&a| u128::from(a)).sum();
    let mean = (sum / avgs.len() as u128) as u64;
    Some(Summary { p95, max, mean })
}

fn write_label(out: &mut String, title: &str, summary: &Option<Summary>, n: usize) {
    escape_into(out, title);
    match summary {
        None => out.push_str(": no data"),
        Some(s) => {
            out.push_str(": p95 ");
            push_ms(out, s.p95);
            out.push_str(", max ");
            push_ms(out, s.max);
            out.push_str(", average ");
            push_ms(out, s.mean);
            out.push_str(" over ");
            push_u64(out, n as u64);
            out.push_str(if n == 1 { " point" } else { " points" });
        }
    }
}

/// A "nice" tick step (1, 2 or 5 × 10^k) so that `top` needs about three steps.
fn nice_step(top: f64) -> f64 {
    let raw = (top / 3.0).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    let s = step * mag;
    if s.is_finite() && s > 0.0 {
        s
    } else {
        1.0
    }
}

pub(crate) fn write_chart(
    out: &mut String,
    points: &[LatencyPoint],
    width: u32,
    height: u32,
    title: &str,
    clock: &Clock,
) {
    let w = f64::from(width.max(160));
    let h = f64::from(height.max(80));
    let summary = summarise(points);

    out.push_str("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 ");
    push_u64(out, w as u64);
    out.push(' ');
    push_u64(out, h as u64);
    out.push_str("\" width=\"");
    push_u64(out, w as u64);
    out.push_str("\" height=\"");
    push_u64(out, h as u64);
    out.push_str("\" role=\"img\" aria-label=\"");
    write_label(out, title, &summary, points.len());
    out.push_str("\"><title>");
    write_label(out, title, &summary, points.len());
    out.push_str("</title>");

    let (px0, px1) = (LEFT, w - RIGHT);
    let (py0, py1) = (TOP, h - BOTTOM);

    let Some(summary) = summary else {
        out.push_str("<rect class=\"chart-frame\" x=\"");
        push_f1(out, px0);
        out.push_str("\" y=\"");
        push_f1(out, py0);
        out.push_str("\" width=\"");
        push_f1(out, px1 - px0);
        out.push_str("\" height=\"");
        push_f1(out, py1 - py0);
        out.push_str("\" fill=\"none\" stroke=\"#d0d7de\"/>");
        out.push_str("<text class=\"chart-empty\" x=\"");
        push_f1(out, (px0 + px1) / 2.0);
        out.push_str("\" y=\"");
        push_f1(out, (py0 + py1) / 2.0 + 4.0);
        out.push_str(
            "\" text-anchor=\"middle\" font-size=\"12\" fill=\"#57606a\">No data</text></svg>",
        );
        return;
    };

    // Y scale: 0 … a nice ceiling over the highest maximum.
    let top_val = (summary.max as f64).max(1.0);
    let step = nice_step(top_val);
    let steps = (top_val / step).ceil().clamp(1.0, 10.0);
    let y_max = step * steps;
    let y = |v: u64| py1 - (v as f64 / y_max).clamp(0.0, 1.0) * (py1 - py0);

    // Grid lines and tick labels.
    out.push_str("<g class=\"chart-grid\" stroke=\"#d0d7de\" stroke-width=\"1\">");
    for i in 0..=(steps as u32) {
        let yy = py1 - f64::from(i) / steps * (py1 - py0);
        out.push_str("<line x1=\"");
        push_f1(out, px0);
        out.push_str("\" x2=\"");
        push_f1(out, px1);
        out.push_str("\" y1=\"");
        push_f1(out, yy);
        out.push_str("\" y2=\"");
        push_f1(out, yy);
        out.push_str("\"/>");
    }
    out.push_str(
        "</g><g class=\"chart-ticks\" font-size=\"10\" fill=\"#57606a\" text-anchor=\"end\">",
    );
    for i in 0..=(steps as u32) {
        let yy = py1 - f64::from(i) / steps * (py1 - py0);
        out.push_str("<text x=\"");
        push_f1(out, px0 - 6.0);
        out.push_str("\" y=\"");
        push_f1(out, yy + 3.5);
        out.push_str("\">");
        let v = step * f64::from(i);
        // `as` saturates: a tick above u64::MAX ms is shown as u64::MAX ms.
        push_ms(out, v as u64);
        out.push_str("</text>");
    }
    out.push_str("</g>");

    // X positions: by time when the times differ, else evenly.
    let t0 = points[0].at_ms as f64;
    let t1 = points[points.len() - 1].at_ms as f64;
    let span = t1 - t0;
    let n = points.len();
    let x = |i: usize, at: i64| -> f64 {
        let f = if span > 0.0 {
            ((at as f64 - t0) / span).clamp(0.0, 1.0)
        } else if n > 1 {
            i as f64 / (n - 1) as f64
        } else {
            0.5
        };
        px0 + f * (px1 - px0)
    };

    if n == 1 {
        let p = points[0];
        let (cx, cy) = (x(0, p.at_ms), y(p.avg_ms));
        out.push_str("<line class=\"chart-max\" x1=\"");
        push_f1(out, cx);
        out.push_str("\" x2=\"");
        push_f1(out, cx);
        out.push_str("\" y1=\"");
        push_f1(out, y(p.max_ms.max(p.avg_ms)));
        out.push_str("\" y2=\"");
        push_f1(out, cy);
        out.push_str("\" stroke=\"#1f6feb\" stroke-opacity=\"0.35\" stroke-width=\"6\"/>");
        out.push_str("<circle class=\"chart-avg\" cx=\"");
        push_f1(out, cx);
        out.push_str("\" cy=\"");
        push_f1(out, cy);
        out.push_str("\" r=\"4\" fill=\"#1f6feb\"/>");
        out.push_str("<text class=\"chart-empty\" x=\"");
        push_f1(out, (px0 + px1) / 2.0);
        out.push_str("\" y=\"");
        push_f1(out, py0 + 12.0);
        out.push_str("\" text-anchor=\"middle\" font-size=\"11\" fill=\"#57606a\">No data for a trend yet (1 point: avg ");
        push_ms(out, p.avg_ms);
        out.push_str(", max ");
        push_ms(out, p.max_ms.max(p.avg_ms));
        out.push_str(")</text>");
    } else {
        // The max band: along the maxima, back along the averages.
        out.push_str(
            "<polygon class=\"chart-band\" fill=\"#1f6feb\" fill-opacity=\"0.15\" points=\"",
        );
        for (i, p) in points.iter().enumerate() {
            push_f1(out, x(i, p.at_ms));
            out.push(',');
            push_f1(out, y(p.max_ms.max(p.avg_ms)));
            out.push(' ');
        }
        for (i, p) in points.iter().enumerate().rev() {
            push_f1(out, x(i, p.at_ms));
            out.push(',');
            push_f1(out, y(p.avg_ms));
            out.push(' ');
        }
        out.pop();
        out.push_str("\"/><polyline class=\"chart-max\" fill=\"none\" stroke=\"#1f6feb\" stroke-opacity=\"0.45\" stroke-width=\"1\" points=\"");
        for (i, p) in points.iter().enumerate() {
            push_f1(out, x(i, p.at_ms));
            out.push(',');
            push_f1(out, y(p.max_ms.max(p.avg_ms)));
            out.push(' ');
        }
        out.pop();
        out.push_str("\"/><polyline class=\"chart-avg\" fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"");
        for (i, p) in points.iter().enumerate() {
            push_f1(out, x(i, p.at_ms));
            out.push(',');
            push_f1(out, y(p.avg_ms));
            out.push(' ');
        }
        out.pop();
        out.push_str("\"/>");
    }

    // Time labels: first, middle, last (hours within ~1.5 days, dates beyond).
    out.push_str("<g class=\"chart-times\" font-size=\"10\" fill=\"#57606a\">");
    let last = points[n - 1].at_ms;
    let first = points[0].at_ms;
    let by_date = last.saturating_sub(first) > 36 * 3_600_000;
    let labels: &[(usize, &str)] = if n == 1 {
        &[(0, "middle")]
    } else {
        &[(0, "start"), (n / 2, "middle"), (n - 1, "end")]
    };
    for &(i, anchor) in labels {
        let at = points[i].at_ms;
        out.push_str("<text x=\"");
        push_f1(out, x(i, at));
        out.push_str("\" y=\"");
        push_f1(out, h - 5.0);
        out.push_str("\" text-anchor=\"");
        out.push_str(anchor);
        out.push_str("\">");
        if by_date {
            clock.day_month(out, at);
        } else {
            clock.hm(out, at);
        }
        if i == n - 1 {
            out.push(' ');
            clock.abbr(out, at);
        }
        out.push_str("</text>");
    }
    out.push_str("</g></svg>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::assert_well_formed;

    fn pts(n: usize, avg: u64, max: u64) -> Vec<LatencyPoint> {
        (0..n)
            .map(|i| LatencyPoint {
                at_ms: 1_762_264_800_000 + i as i64 * 3_600_000,
                avg_ms: avg,
                max_ms: max,
            })
            .collect()
    }

    fn check(svg: &str) {
        assert_well_formed(svg);
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert!(svg.contains("role=\"img\"") && svg.contains("aria-label=\""));
        assert!(svg.contains("<title>"));
    }

    #[test]
    fn zero_one_many_points() {
        let empty = latency_chart_svg(&[], 360, 120, "Stripe, last 24 hours");
        check(&empty);
        assert!(empty.contains("No data") && empty.contains("Stripe, last 24 hours: no data"));

        let one = latency_chart_svg(&pts(1, 120, 300), 360, 120, "one");
        check(&one);
        assert!(one.contains("No data for a trend yet") && one.contains("<circle"));
        assert!(one.contains("p95 120 ms, max 300 ms"));

        let many: Vec<LatencyPoint> = (0..168)
            .map(|i| LatencyPoint {
                at_ms: 1_762_264_800_000 + i * 3_600_000,
                avg_ms: 100 + (i as u64 % 7) * 10,
                max_ms: 400 + (i as u64 % 5) * 100,
            })
            .collect();
        let svg = latency_chart_svg(&many, 360, 120, "7 days");
        check(&svg);
        assert!(svg.contains("<polyline") && svg.contains("<polygon"));
        assert!(svg.contains("p95 160 ms, max 800 ms"), "{svg}");
    }

    #[test]
    fn extreme_values_and_sizes() {
        for (avg, max) in [(0, 0), (u64::MAX, u64::MAX), (0, u64::MAX), (u64::MAX, 0)] {
            for (w, h) in [(0, 0), (1, 1), (360, 120), (u32::MAX, u32::MAX)] {
                check(&latency_chart_svg(&pts(5, avg, max), w, h, "x"));
                check(&latency_chart_svg(&pts(1, avg, max), w, h, "x"));
            }
        }
        // Identical, unsorted and extreme timestamps.
        let mut same = pts(4, 10, 20);
        for p in &mut same {
            p.at_ms = 5;
        }
        check(&latency_chart_svg(&same, 200, 100, "same"));
        let wild = vec![
            LatencyPoint {
                at_ms: i64::MAX,
                avg_ms: 1,
                max_ms: 2,
            },
            LatencyPoint {
                at_ms: i64::MIN,
                avg_ms: 3,
                max_ms: 4,
            },
            LatencyPoint {
                at_ms: 0,
                avg_ms: 5,
                max_ms: 6,
            },
        ];
        check(&latency_chart_svg(&wild, 200, 100, "wild"));
    }

    #[test]
    fn hostile_title_is_escaped() {
        let svg = latency_chart_svg(&pts(3, 1, 2), 200, 100, "<script>alert('x')</script>");
        check(&svg);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(300.0), 100.0);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(1000.0), 500.0);
        assert!(nice_step(f64::MAX).is_finite());
    }
}
