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
    let all = series.iter().flat_map(|s| s.points.iter());
    let x_max = all.clone().map(|p| p.0).fold(0.0, f64::max).max(1e-9);
    // Headroom above the highest point for the legend.
    let y_max = all.map(|p| p.1).fold(y_floor, f64::max) * 30.0;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, (y_floor..y_max).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let points = s.points.iter().map(|&(x, y)| (x, y.max(y_floor)));
        chart
            .draw_series(points.clone().map(|p| Circle::new(p, 3, color.filled())))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(1)))
            .map_err(err)?
            .label(s.name.clone())
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
    /// Position, `(x, y)`; both must be positive (log axes).
    pub at: (f64, f64),
    /// Text beside the point.
    pub label: String,
    /// Whether the point is highlighted.
    pub marked: bool,
}

/// A curve through labelled points on log-log axes, highlighted points drawn larger in red.
///
/// # Errors
///
/// Returns a message if the file cannot be written.
pub fn labelled_curve(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[LabelledPoint],
) -> Result<(), String> {
    let xs = points.iter().map(|p| p.at.0.max(1e-9));
    let ys = points.iter().map(|p| p.at.1.max(1e-9));
    let (x_min, x_max) = (xs.clone().fold(f64::MAX, f64::min), xs.fold(0.0, f64::max));
    let (y_min, y_max) = (ys.clone().fold(f64::MAX, f64::min), ys.fold(0.0, f64::max));
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x_min / 2.0..x_max * 2.0).log_scale(),
            (y_min / 2.0..y_max * 2.0).log_scale(),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(12)
        .y_labels(8)
        .x_label_formatter(&|x| short(*x))
        .y_label_formatter(&|y| short(*y))
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(err)?;
    let clamp = |p: &LabelledPoint| (p.at.0.max(1e-9), p.at.1.max(1e-9));
    chart
        .draw_series(LineSeries::new(
            points.iter().map(clamp),
            PALETTE[0].stroke_width(2),
        ))
        .map_err(err)?;
    chart
        .draw_series(points.iter().map(|p| {
            let (size, color) = if p.marked {
                (7, PALETTE[1])
            } else {
                (4, PALETTE[0])
            };
            EmptyElement::at(clamp(p))
                + Circle::new((0, 0), size, color.filled())
                + Text::new(p.label.clone(), (8, -14), ("sans-serif", 13).into_font())
        }))
        .map_err(err)?;
    root.present().map_err(err)
}

/// Horizontal reference bars: one bar per `(label, value)`, with a vertical line at `one`.
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
    let x_max = bars.iter().map(|b| b.1).fold(1.0, f64::max) * 1.15;
    let n = bars.len().max(1);
    let root = SVGBackend::new(path, (SIZE.0, 60 + 34 * n as u32 + 60)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(10)
        .build_cartesian_2d(0.0..x_max, 0.0..n as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc(x_label)
        .draw()
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            let y = (n - 1 - i) as f64;
            let color = if *v <= 1.0 { PALETTE[2] } else { PALETTE[1] };
            Rectangle::new([(0.0, y + 0.15), (*v, y + 0.85)], color.mix(0.45).filled())
        }))
        .map_err(err)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (label, v))| {
            let y = (n - 1 - i) as f64;
            Text::new(
                format!("{label}: {v:.2}×"),
                (0.02 * x_max, y + 0.5),
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
