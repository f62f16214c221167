//! The report's plots, drawn with `plotters` into SVG files.

use std::path::Path;

use plotters::prelude::*;

/// Plot size in pixels.
const SIZE: (u32, u32) = (900, 500);

/// Colours of successive series.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// A named series of points.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// The points, `(x, y)`.
    pub points: Vec<(f64, f64)>,
}

/// An axis label: up to three significant digits, no trailing zeros.
fn short(v: f64) -> String {
    let s = crate::report::format::number(v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Text for a plot: the Markdown code marks of the report's labels removed (a plot shows them
/// literally).
pub fn plain(text: &str) -> String {
    text.replace('`', "")
}

fn err<E: std::fmt::Display>(e: E) -> String {
    format!("drawing a plot failed: {e}")
}

/// Line plot of `series` (with a dot at every point) on a linear `x` axis and a logarithmic
/// `y` axis (values below `y_floor` are drawn at `y_floor`), with a legend.
///
/// # Errors
///
/// Returns a message if the file cannot be written.
pub fn lines_log_y(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    y_floor: f64,
    series: &[Series],
) -> Result<(), String> {
    lines(path, title, (x_label, y_label), y_floor, series, false)
}

/// Line plot of `series` as [`lines_log_y`] draws it, with a logarithmic `x` axis too (every
/// `x` must be positive); the `y` axis starts at half the smallest positive value.
///
/// # Errors
///
/// Returns a message if the file cannot be written.
pub fn lines_log_log(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), String> {
    let y_floor = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|y| *y > 0.0)
        .fold(f64::INFINITY, f64::min);
    let y_floor = if y_floor.is_finite() {
        y_floor / 2.0
    } else {
        1.0
    };
    lines(path, title, (x_label, y_label), y_floor, series, true)
}

/// [`lines_log_y`], with `x` on a log axis if `x_log` (drawn as its logarithm on a linear axis,
/// labelled with the values).
fn lines(
    path: &Path,
    title: &str,
    (x_label, y_label): (&str, &str),
    y_floor: f64,
    series: &[Series],
    x_log: bool,
) -> Result<(), String> {
    let x_of = |x: f64| if x_log { x.max(1e-9).log10() } else { x };
    let all = series.iter().flat_map(|s| s.points.iter());
    let x_min = if x_log {
        all.clone()
            .map(|p| x_of(p.0))
            .fold(f64::INFINITY, f64::min)
            .floor()
    } else {
        0.0
    };
    let x_max = all
        .clone()
        .map(|p| x_of(p.0))
        .fold(x_min, f64::max)
        .max(x_min + 1e-9);
    let x_max = if x_log {
        x_max.ceil().max(x_min + 1.0)
    } else {
        x_max
    };
    // Headroom above the highest point for the legend.
    let y_max = all.map(|p| p.1).fold(y_floor, f64::max) * 30.0;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(plain(title), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_min..x_max, (y_floor..y_max).log_scale())
        .map_err(err)?;
    let mut mesh = chart.configure_mesh();
    if x_log {
        // One label per power of ten, where the log axis has its round numbers.
        mesh.x_labels((x_max - x_min).round() as usize + 1);
    }
    mesh.x_label_formatter(&|x| short(if x_log { 10f64.powf(*x) } else { *x }))
        .y_label_formatter(&|y| short(*y))
        .x_desc(plain(x_label))
        .y_desc(plain(y_label))
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let points = s.points.iter().map(|&(x, y)| (x_of(x), y.max(y_floor)));
        chart
            .draw_series(points.clone().map(|p| Circle::new(p, 3, color.filled())))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(1)))
            .map_err(err)?
            .label(plain(&s.name))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// A labelled point of [`labelled_curve`].
#[derive(Clone, Debug)]
pub struct LabelledPoint {
    /// Position on the x axis (positive: log axis).
    pub x: f64,
    /// Position on the y axis (positive: log axis), or `None` for "nothing measurable", drawn
    /// hollow at the bottom of the axis.
    pub y: Option<f64>,
    /// Text beside the point.
    pub label: String,
    /// Whether the point is highlighted (drawn larger, in red, and named in the legend).
    pub marked: bool,
}

/// What [`labelled_curve`] draws besides its points.
#[derive(Clone, Debug)]
pub struct CurveText<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// The x axis' description.
    pub x_label: &'a str,
    /// The y axis' description.
    pub y_label: &'a str,
    /// Legend entry of the highlighted point.
    pub marked: &'a str,
    /// Legend entry of the hollow points (`y` of `None`).
    pub unmeasurable: &'a str,
    /// A vertical reference line: its x and its legend entry.
    pub reference: Option<(f64, String)>,
}

/// A rectangle in pixels: left, top, right, bottom.
type Rect = (i32, i32, i32, i32);

fn overlaps(a: Rect, b: Rect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Where each point's label goes, as an offset in pixels from its point: the first of a few
/// positions around the point that overlaps no other label and no point, inside `area`.
fn place_labels(points: &[(i32, i32)], labels: &[String], area: Rect) -> Vec<(i32, i32)> {
    // Width of a 13 px sans-serif character, on average, and a line's height.
    const CHAR_W: i32 = 7;
    const LINE_H: i32 = 14;
    let mut taken: Vec<Rect> = points
        .iter()
        .map(|&(x, y)| (x - 7, y - 7, x + 7, y + 7))
        .collect();
    let mut offsets = Vec::with_capacity(points.len());
    for (&(x, y), label) in points.iter().zip(labels) {
        let w = CHAR_W * label.chars().count() as i32;
        let candidates = [
            (8, -LINE_H - 4),
            (8, 4),
            (-8 - w, -LINE_H - 4),
            (-8 - w, 4),
            (8, -2 * LINE_H - 6),
            (8, LINE_H + 6),
            (-w / 2, -2 * LINE_H - 6),
            (-w / 2, LINE_H + 6),
        ];
        let fits = |&(dx, dy): &(i32, i32)| {
            let r = (x + dx, y + dy, x + dx + w, y + dy + LINE_H);
            r.0 >= area.0
                && r.1 >= area.1
                && r.2 <= area.2
                && r.3 <= area.3
                && !taken.iter().any(|&t| overlaps(r, t))
        };
        let (dx, dy) = candidates
            .iter()
            .copied()
            .find(fits)
            .unwrap_or(candidates[0]);
        taken.push((x + dx, y + dy, x + dx + w, y + dy + LINE_H));
        offsets.push((dx, dy));
    }
    offsets
}

/// A curve through labelled points on log-log axes: the highlighted point drawn larger in red,
/// points with nothing measurable drawn hollow at the bottom, labels placed where they overlap
/// nothing, and a legend that says what each mark means.
///
/// # Errors
///
/// Returns a message if the file cannot be written.
pub fn labelled_curve(
    path: &Path,
    text: &CurveText<'_>,
    points: &[LabelledPoint],
) -> Result<(), String> {
    let xs = points
        .iter()
        .map(|p| p.x.max(1e-9))
        .chain(text.reference.as_ref().map(|r| r.0.max(1e-9)));
    let ys = points.iter().filter_map(|p| p.y).filter(|y| *y > 0.0);
    let (x_min, x_max) = (xs.clone().fold(f64::MAX, f64::min), xs.fold(0.0, f64::max));
    let (y_min, y_max) = (ys.clone().fold(f64::MAX, f64::min), ys.fold(0.0, f64::max));
    let (y_min, y_max) = if y_max > 0.0 {
        (y_min, y_max)
    } else {
        (1.0, 1.0)
    };
    // The bottom of the axis, where the hollow points sit.
    let floor = y_min / 4.0;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(plain(text.title), ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x_min / 2.0..x_max * 2.0).log_scale(),
            (floor / 1.5..y_max * 8.0).log_scale(),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(12)
        .y_labels(8)
        .x_label_formatter(&|x| short(*x))
        .y_label_formatter(&|y| short(*y))
        .x_desc(plain(text.x_label))
        .y_desc(plain(text.y_label))
        .draw()
        .map_err(err)?;
    let at = |p: &LabelledPoint| (p.x.max(1e-9), p.y.filter(|y| *y > 0.0).unwrap_or(floor));
    chart
        .draw_series(LineSeries::new(
            points.iter().map(at),
            PALETTE[0].stroke_width(2),
        ))
        .map_err(err)?;
    if let Some((x, label)) = &text.reference {
        let color = PALETTE[2];
        chart
            .draw_series(LineSeries::new(
                [(*x, floor / 1.5), (*x, y_max * 8.0)],
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(plain(label))
            .legend(move |(x, y)| {
                PathElement::new([(x + 10, y - 6), (x + 10, y + 6)], color.stroke_width(2))
            });
    }
    chart
        .draw_series(
            points
                .iter()
                .filter(|p| !p.marked && p.y.is_some_and(|y| y > 0.0))
                .map(|p| Circle::new(at(p), 4, PALETTE[0].filled())),
        )
        .map_err(err)?;
    chart
        .draw_series(
            points
                .iter()
                .filter(|p| !p.marked && !p.y.is_some_and(|y| y > 0.0))
                .map(|p| Circle::new(at(p), 4, PALETTE[0].stroke_width(2))),
        )
        .map_err(err)?
        .label(plain(text.unmeasurable))
        .legend(|(x, y)| Circle::new((x + 10, y), 4, PALETTE[0].stroke_width(2)));
    chart
        .draw_series(
            points
                .iter()
                .filter(|p| p.marked)
                .map(|p| Circle::new(at(p), 7, PALETTE[1].filled())),
        )
        .map_err(err)?
        .label(plain(text.marked))
        .legend(|(x, y)| Circle::new((x + 10, y), 6, PALETTE[1].filled()));
    let pixels: Vec<(i32, i32)> = points.iter().map(|p| chart.backend_coord(&at(p))).collect();
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let labels: Vec<String> = points.iter().map(|p| plain(&p.label)).collect();
    let offsets = place_labels(&pixels, &labels, (xr.start, yr.start, xr.end, yr.end));
    for ((p, label), offset) in points.iter().zip(labels).zip(offsets) {
        chart
            .draw_series(std::iter::once(
                EmptyElement::at(at(p)) + Text::new(label, offset, ("sans-serif", 13).into_font()),
            ))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// The bars of `peers.svg`: one per row of `table` that compares evloop with a peer, its label
/// and its [`Row::vs_best_peer`](crate::report::model::Row::vs_best_peer), the figure the
/// tables show.
pub fn vs_best_peer_bars(table: &crate::report::model::Table) -> Vec<(String, f64)> {
    table
        .rows
        .iter()
        .filter_map(|r| Some((plain(&r.measured), r.vs_best_peer?)))
        .collect()
}

/// The text of a bar of [`ratio_bars`]: its label and its ratio as the tables write it.
pub fn bar_text(label: &str, value: f64) -> String {
    format!("{label}: {}", crate::report::format::ratio(value))
}

/// Horizontal bars on a logarithmic axis, one per `(label, ratio)`, each drawn from 1 to its
/// ratio (left of the line at 1 in green, right of it in red), with its label and ratio above.
///
/// # Errors
///
/// Returns a message if the file cannot be written.
pub fn ratio_bars(
    path: &Path,
    title: &str,
    x_label: &str,
    bars: &[(String, f64)],
) -> Result<(), String> {
    let values = bars.iter().map(|b| b.1).filter(|v| *v > 0.0);
    let x_min = values.clone().fold(1.0, f64::min) / 1.6;
    let x_max = values.fold(1.0, f64::max) * 1.6;
    let n = bars.len().max(1);
    let root = SVGBackend::new(path, (SIZE.0, 60 + 40 * n as u32 + 60)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(plain(title), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(10)
        .build_cartesian_2d((x_min..x_max).log_scale(), 0.0..n as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_label_formatter(&|x| format!("{}×", short(*x)))
        .x_desc(plain(x_label))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(
            bars.iter()
                .enumerate()
                .filter(|(_, (_, v))| *v > 0.0)
                .map(|(i, (_, v))| {
                    let y = (n - 1 - i) as f64;
                    let color = if *v <= 1.0 { PALETTE[2] } else { PALETTE[1] };
                    Rectangle::new([(1.0, y + 0.1), (*v, y + 0.52)], color.mix(0.55).filled())
                }),
        )
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (label, v))| {
            let y = (n - 1 - i) as f64;
            Text::new(
                bar_text(&plain(label), *v),
                (x_min * 1.03, y + 0.95),
                ("sans-serif", 13).into_font(),
            )
        }))
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            [(1.0, 0.0), (1.0, n as f64)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
    root.present().map_err(err)
}
