//! Inline SVG charts, written directly: bars (stacked or grouped), a heat
//! map and state timelines. Each chart has its axes, the unit of each, and
//! a legend; every data mark is an element of class `mark` with a
//! `<title>` (the value on hover, and in the page's text). No script, no
//! fonts or images from elsewhere; the colours keep their contrast in
//! print.

use std::fmt::Write as _;

/// A full-width drawing's width, in SVG units (the page scales it to fit).
pub const WIDE: f64 = 960.0;
/// A half-width drawing's width (two side by side).
pub const NARROW: f64 = 640.0;
/// Space left of the plot for the y axis's tick labels and title.
const LEFT: f64 = 72.0;
const RIGHT: f64 = 16.0;
/// Space below the plot for the x axis's labels and title.
const BOTTOM: f64 = 48.0;
/// The height of one line of the legend.
const LEGEND_LINE: f64 = 20.0;
/// The most x-axis labels drawn; the others are skipped evenly.
const X_LABELS_MAX: usize = 14;
/// The width of a timeline's pixel column, in SVG units.
const PIXEL: f64 = 2.0;
/// The most y-axis ticks.
const Y_TICKS: f64 = 5.0;

/// Text made safe for HTML and SVG, in text and in attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// One named row of values, drawn in one colour.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub values: Vec<f64>,
}

/// How a bar chart places its series.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Bars {
    /// One bar per category, the series on top of one another.
    Stacked,
    /// One bar per series, side by side in each category.
    Grouped,
}

/// A bar chart over named categories.
pub struct BarChart<'a> {
    /// The `id` of the `<svg>` element.
    pub id: &'a str,
    /// What the chart shows, for screen readers and the SVG's title.
    pub title: &'a str,
    pub categories: Vec<String>,
    pub x_title: &'a str,
    /// The y axis's title, with its unit.
    pub y_title: &'a str,
    pub series: Vec<Series>,
    pub bars: Bars,
    /// The drawing's width ([`WIDE`] or [`NARROW`]).
    pub width: f64,
    /// The plot's height.
    pub height: f64,
}

/// A round step for about `Y_TICKS` ticks up to `max`, and the axis's top.
fn ticks(max: f64) -> (f64, f64) {
    let max = if max > 0.0 { max } else { 1.0 };
    let raw = max / Y_TICKS;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * magnitude);
    let step = if max >= 1.0 { step.max(1.0) } else { step };
    (step, (max / step).ceil() * step)
}

/// A tick value: whole numbers with thousands separated, else 2 decimals.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the integer part of an axis label, finite and far below 2^64"
)]
pub fn number(value: f64) -> String {
    if value.fract().abs() > 1e-9 {
        return format!("{value:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string();
    }
    let digits = format!("{}", value.abs() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// The legend at the top, wrapped to the width; returns its height.
fn legend(out: &mut String, items: &[(&str, &str)], top: f64, width_max: f64) -> f64 {
    let mut x = LEFT;
    let mut y = top;
    for (name, color) in items {
        let width = 22.0 + 7.0 * name.chars().count() as f64 + 14.0;
        if x + width > width_max - RIGHT && x > LEFT {
            x = LEFT;
            y += LEGEND_LINE;
        }
        let _ = write!(
            out,
            r##"<g class="legend"><rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{color}" stroke="#333" stroke-width="0.5"/><text x="{:.1}" y="{:.1}">{}</text></g>"##,
            y - 10.0,
            x + 17.0,
            y,
            escape(name)
        );
        x += width;
    }
    y - top + LEGEND_LINE
}

/// The `<svg>` element's opening, sized to `height`.
fn open(out: &mut String, id: &str, title: &str, width: f64, height: f64) {
    let _ = write!(
        out,
        r#"<svg class="chart" id="{}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0}" role="img" aria-label="{}"><title>{}</title>"#,
        escape(id),
        escape(title),
        escape(title)
    );
}

/// The y axis: grid lines, tick labels and the rotated title.
fn y_axis(
    out: &mut String,
    width: f64,
    top: f64,
    plot_h: f64,
    step: f64,
    axis_top: f64,
    title: &str,
) {
    let mut value = 0.0;
    while value <= axis_top + step * 1e-9 {
        let y = top + plot_h - value / axis_top * plot_h;
        let _ = write!(
            out,
            r##"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            width - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            number(value)
        );
        value += step;
    }
    let middle = top + plot_h / 2.0;
    let _ = write!(
        out,
        r#"<text class="axis-title" transform="translate(14 {middle:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        escape(title)
    );
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{top:.1}" y2="{:.1}"/>"#,
        top + plot_h
    );
}

/// The x axis's line, its category labels (evenly thinned) and title.
fn x_axis(out: &mut String, width: f64, labels: &[String], top: f64, plot_h: f64, title: &str) {
    let plot_w = width - LEFT - RIGHT;
    let base = top + plot_h;
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" x2="{:.1}" y1="{base:.1}" y2="{base:.1}"/>"#,
        width - RIGHT
    );
    let every = labels.len().div_ceil(X_LABELS_MAX).max(1);
    let band = plot_w / labels.len().max(1) as f64;
    for (i, label) in labels.iter().enumerate() {
        if i % every != 0 {
            continue;
        }
        let x = LEFT + band * (i as f64 + 0.5);
        let _ = write!(
            out,
            r#"<line class="axis" x1="{x:.1}" x2="{x:.1}" y1="{base:.1}" y2="{:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            base + 4.0,
            base + 17.0,
            escape(label)
        );
    }
    let _ = write!(
        out,
        r#"<text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        base + 38.0,
        escape(title)
    );
}

/// A bar chart as an `<svg>` element.
pub fn bar_chart(chart: &BarChart<'_>) -> String {
    let mut body = String::new();
    let items: Vec<(&str, &str)> = chart
        .series
        .iter()
        .map(|s| (s.name.as_str(), s.color))
        .collect();
    let legend_h = legend(&mut body, &items, 18.0, chart.width);
    let top = legend_h + 14.0;
    let plot_h = chart.height;
    let plot_w = chart.width - LEFT - RIGHT;
    let count = chart.categories.len();
    let max = (0..count)
        .map(|i| {
            let values = chart
                .series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0.0));
            match chart.bars {
                Bars::Stacked => values.sum::<f64>(),
                Bars::Grouped => values.fold(0.0, f64::max),
            }
        })
        .fold(0.0, f64::max);
    let (step, axis_top) = ticks(max);
    y_axis(
        &mut body,
        chart.width,
        top,
        plot_h,
        step,
        axis_top,
        chart.y_title,
    );
    let band = plot_w / count.max(1) as f64;
    let scale = |value: f64| value / axis_top * plot_h;
    for (i, category) in chart.categories.iter().enumerate() {
        let mut stacked = 0.0;
        let groups = chart.series.len().max(1) as f64;
        for (k, series) in chart.series.iter().enumerate() {
            let value = series.values.get(i).copied().unwrap_or(0.0);
            if value <= 0.0 {
                continue;
            }
            let (x, width, y, height) = match chart.bars {
                Bars::Stacked => {
                    let width = band * 0.8;
                    let y = top + plot_h - scale(stacked + value);
                    stacked += value;
                    (LEFT + band * i as f64 + band * 0.1, width, y, scale(value))
                }
                Bars::Grouped => {
                    let width = band * 0.84 / groups;
                    let x = LEFT + band * i as f64 + band * 0.08 + width * k as f64;
                    let height = scale(value);
                    (x, width, top + plot_h - height, height)
                }
            };
            let _ = write!(
                body,
                r#"<rect class="mark" x="{x:.2}" y="{y:.2}" width="{width:.2}" height="{:.2}" fill="{}"><title>{}: {} {}</title></rect>"#,
                height.max(0.5),
                series.color,
                escape(category),
                escape(&series.name),
                number(value)
            );
        }
    }
    x_axis(
        &mut body,
        chart.width,
        &chart.categories,
        top,
        plot_h,
        chart.x_title,
    );
    let mut out = String::new();
    open(
        &mut out,
        chart.id,
        chart.title,
        chart.width,
        top + plot_h + BOTTOM,
    );
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

/// A heat map of counts: one row per `rows` label, one column per
/// `columns` label, darker for more.
pub struct HeatMap<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// `values[row][column]`.
    pub values: Vec<Vec<u64>>,
    /// What a count counts (`entries`).
    pub unit: &'a str,
    pub row_title: &'a str,
    pub column_title: &'a str,
    pub width: f64,
}

/// The heat map's colour scale, light to dark.
const HEAT: [&str; 6] = [
    "#f7fbff", "#c6dbef", "#6baed6", "#3182bd", "#08519c", "#08306b",
];

/// The colour of `value` on a scale up to `max` (square root, so the small
/// counts stay apart from zero).
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a share in 0..=1 times the palette's length: a small non-negative index"
)]
fn heat_color(value: u64, max: u64) -> &'static str {
    if value == 0 || max == 0 {
        return HEAT[0];
    }
    let share = (value as f64 / max as f64).sqrt();
    let index = 1 + ((share * (HEAT.len() - 1) as f64).ceil() as usize).saturating_sub(1);
    HEAT[index.min(HEAT.len() - 1)]
}

/// A heat map as an `<svg>` element.
pub fn heat_map(map: &HeatMap<'_>) -> String {
    let max = map.values.iter().flatten().copied().max().unwrap_or(0);
    let mut body = String::new();
    // The legend: the scale's steps with the counts they start at.
    let steps: Vec<String> = (1..HEAT.len())
        .map(|i| {
            let from = ((i - 1) as f64 / (HEAT.len() - 1) as f64).powi(2) * max as f64;
            format!("> {} {}", number(from.floor()), map.unit)
        })
        .collect();
    let mut items: Vec<(&str, &str)> = vec![("0", HEAT[0])];
    for (i, text) in steps.iter().enumerate() {
        items.push((text.as_str(), HEAT[i + 1]));
    }
    let legend_h = legend(&mut body, &items, 18.0, map.width);
    let left = 120.0;
    // Room for the column labels, slanted.
    let top = legend_h + 100.0;
    // Room on the right for the last column's slanted label.
    let plot_w = map.width - left - RIGHT - 70.0;
    let cell_w = plot_w / map.columns.len().max(1) as f64;
    let cell_h = 30.0;
    for (j, column) in map.columns.iter().enumerate() {
        let x = left + cell_w * (j as f64 + 0.5);
        let _ = write!(
            body,
            r#"<text class="tick" transform="translate({x:.1} {:.1}) rotate(-35)" text-anchor="start">{}</text>"#,
            top - 8.0,
            escape(column)
        );
    }
    for (i, row) in map.rows.iter().enumerate() {
        let y = top + cell_h * i as f64;
        let _ = write!(
            body,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + cell_h / 2.0 + 4.0,
            escape(row)
        );
        for (j, column) in map.columns.iter().enumerate() {
            let value = map.values[i][j];
            let x = left + cell_w * j as f64;
            let color = heat_color(value, max);
            let dark = HEAT[3..].contains(&color);
            let _ = write!(
                body,
                r##"<rect class="mark" x="{x:.2}" y="{y:.2}" width="{:.2}" height="{cell_h:.2}" fill="{color}" stroke="#fff"><title>{} / {}: {} {}</title></rect><text class="cell{}" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                cell_w,
                escape(row),
                escape(column),
                number(value as f64),
                escape(map.unit),
                if dark { " dark" } else { "" },
                x + cell_w / 2.0,
                y + cell_h / 2.0 + 4.0,
                number(value as f64)
            );
        }
    }
    let bottom = top + cell_h * map.rows.len() as f64;
    let _ = write!(
        body,
        r#"<text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + plot_w / 2.0,
        bottom + 22.0,
        escape(map.column_title),
        left / 2.0,
        top - 8.0,
        escape(map.row_title)
    );
    let mut out = String::new();
    open(&mut out, map.id, map.title, map.width, bottom + 34.0);
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

/// A state a timeline band can show, in rising severity.
pub struct State {
    pub name: &'static str,
    pub color: &'static str,
}

/// One row of a timeline: its label, and the times its state changed
/// (`(at, index into the states)`), in time order.
pub struct TimelineRow {
    pub label: String,
    pub changes: Vec<(i64, usize)>,
}

/// State timelines over `[start, end)`, one row each.
pub struct Timelines<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub states: &'a [State],
    pub rows: Vec<TimelineRow>,
    pub start: i64,
    pub end: i64,
    /// The x axis's labels, each at its time.
    pub ticks: Vec<(i64, String)>,
    pub x_title: &'a str,
    pub width: f64,
}

/// State timelines as an `<svg>` element. A pixel column where several
/// states alternate shows the most severe (a trip never vanishes between
/// two pixels); the `<title>` of each band says its state and time span.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "pixel columns of a chart a few hundred pixels wide, clamped at 0"
)]
pub fn timelines(chart: &Timelines<'_>) -> String {
    let mut body = String::new();
    let items: Vec<(&str, &str)> = chart.states.iter().map(|s| (s.name, s.color)).collect();
    let legend_h = legend(&mut body, &items, 18.0, chart.width);
    let left = 160.0;
    let top = legend_h + 14.0;
    let row_h = 22.0;
    let plot_w = chart.width - left - RIGHT;
    // Pixel columns of PIXEL units each: a run shorter than that shows
    // its most severe state.
    let columns = (plot_w / PIXEL) as usize;
    let span = chart.end.saturating_sub(chart.start).max(1) as f64;
    let column_of = |at: i64| -> usize {
        let x = at.saturating_sub(chart.start) as f64 / span * columns as f64;
        (x.max(0.0) as usize).min(columns)
    };
    for (r, row) in chart.rows.iter().enumerate() {
        let y = top + row_h * r as f64;
        let _ = write!(
            body,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + row_h / 2.0 + 4.0,
            escape(&clip(&row.label, LABEL_CHARS_MAX))
        );
        // The most severe state in each pixel column, then runs of columns.
        let mut pixels: Vec<Option<usize>> = vec![None; columns];
        for (k, &(at, state)) in row.changes.iter().enumerate() {
            let until = row.changes.get(k + 1).map_or(chart.end, |next| next.0);
            if until < chart.start || at >= chart.end {
                continue;
            }
            let from = column_of(at);
            let to = column_of(until).max(from + 1).min(columns);
            for pixel in &mut pixels[from.min(columns.saturating_sub(1))..to] {
                *pixel = Some(pixel.map_or(state, |p| p.max(state)));
            }
        }
        let mut c = 0;
        while c < columns {
            let Some(state) = pixels[c] else {
                c += 1;
                continue;
            };
            let run_start = c;
            while c < columns && pixels[c] == Some(state) {
                c += 1;
            }
            let from_time = chart.start as f64 + run_start as f64 / columns as f64 * span;
            let to_time = chart.start as f64 + c as f64 / columns as f64 * span;
            let _ = write!(
                body,
                r#"<rect class="mark" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {} {} to {}</title></rect>"#,
                left + run_start as f64 * PIXEL,
                y + 3.0,
                (c - run_start) as f64 * PIXEL,
                row_h - 6.0,
                chart.states[state].color,
                escape(&row.label),
                chart.states[state].name,
                short_time(from_time as i64),
                short_time(to_time as i64)
            );
        }
    }
    let base = top + row_h * chart.rows.len() as f64;
    let _ = write!(
        body,
        r#"<line class="axis" x1="{left}" x2="{:.1}" y1="{base:.1}" y2="{base:.1}"/>"#,
        chart.width - RIGHT
    );
    for (at, label) in &chart.ticks {
        let x = left + at.saturating_sub(chart.start) as f64 / span * plot_w;
        let _ = write!(
            body,
            r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{top:.1}" y2="{:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            base + 4.0,
            base + 17.0,
            escape(label)
        );
    }
    let _ = write!(
        body,
        r#"<text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + plot_w / 2.0,
        base + 38.0,
        escape(chart.x_title)
    );
    let mut out = String::new();
    open(&mut out, chart.id, chart.title, chart.width, base + BOTTOM);
    out.push_str(&body);
    out.push_str("</svg>");
    out
}

/// The most characters of a timeline row's label drawn.
const LABEL_CHARS_MAX: usize = 24;

/// `text` cut to `max` characters, an ellipsis marking the cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('\u{2026}');
    cut
}

/// `2025-01-01 10:00` of nanoseconds since the epoch (UTC).
pub fn short_time(unix_nanos: i64) -> String {
    let text = baldur_journal::Timestamp::from_unix_nanos(unix_nanos).to_string();
    text.get(..16).unwrap_or(&text).replace('T', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        for (max, step, top) in [
            (0.0, 1.0, 1.0),
            (7.0, 2.0, 8.0),
            (100.0, 20.0, 100.0),
            (1234.0, 250.0, 1250.0),
            (0.3, 0.1, 0.3),
        ] {
            let (s, t) = ticks(max);
            assert!((s - step).abs() < 1e-9, "{max}: step {s}");
            assert!((t - top).abs() < 1e-9, "{max}: top {t}");
        }
    }

    #[test]
    fn numbers_have_thousands_separators() {
        assert_eq!(number(1234567.0), "1,234,567");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(2.5), "2.5");
    }

    #[test]
    fn text_from_the_journal_cannot_open_markup() {
        let chart = bar_chart(&BarChart {
            id: "x",
            title: "t",
            categories: vec!["<script>".into()],
            x_title: "x",
            y_title: "y",
            series: vec![Series {
                name: "a\"b".into(),
                color: "#000",
                values: vec![1.0],
            }],
            bars: Bars::Stacked,
            width: WIDE,
            height: 100.0,
        });
        assert!(!chart.contains("<script>"));
        assert!(chart.contains("&lt;script&gt;"));
        assert!(chart.contains("a&quot;b"));
        assert_eq!(chart.matches(r#"class="mark""#).count(), 1);
    }

    #[test]
    fn a_timeline_keeps_a_short_trip_visible() {
        let states = [
            State {
                name: "closed",
                color: "#0a0",
            },
            State {
                name: "open",
                color: "#a00",
            },
        ];
        let day = 86_400_000_000_000;
        let chart = timelines(&Timelines {
            id: "t",
            title: "t",
            states: &states,
            rows: vec![TimelineRow {
                label: "svc".into(),
                // Open for one second in the middle of a closed month.
                changes: vec![(0, 0), (15 * day, 1), (15 * day + 1_000_000_000, 0)],
            }],
            start: 0,
            end: 30 * day,
            ticks: vec![],
            x_title: "time",
            width: WIDE,
        });
        assert_eq!(chart.matches("fill=\"#a00\"><title>").count(), 1);
        assert_eq!(chart.matches("fill=\"#0a0\"><title>").count(), 2);
    }
}
