//! Line charts of training curves (loss, validation metrics per epoch) as PNG: one panel per
//! quantity side by side, one line per series. Text is drawn with DejaVu Sans, embedded in the
//! binary, so no system font is needed. The file is written under a temporary name and renamed,
//! so a reader never sees half a picture.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;

/// The font family the charts ask for, registered with the embedded DejaVu Sans.
const FAMILY: &str = "sans-serif";
/// Pixels of one panel.
const PANEL: (u32, u32) = (560, 420);

/// A plot could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Nothing to draw, or a value that cannot be drawn.
    #[error("{0}")]
    Data(String),
    /// Drawing or writing the file failed.
    #[error("{path}: {reason}")]
    Write {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// One line: its name in the legend and its points.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend's label.
    pub name: String,
    /// `(x, y)` points, in x order; non-finite ones are left out.
    pub points: Vec<(f64, f64)>,
}

/// One chart: a title, its y axis and its lines.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Above the chart.
    pub title: String,
    /// The y axis' description.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
}

fn font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Data(
            "the embedded font could not be read".into(),
        ))
    }
}

/// The range covering `values`, padded by 5% (or by 1 around a single value).
fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return None;
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 1.0 };
    Some((lo - pad, hi + pad))
}

/// Draws `panels` side by side under `title` into the PNG file `path`, all sharing the x axis
/// description `x_label`.
pub fn write_panels(
    path: &Path,
    title: &str,
    x_label: &str,
    panels: &[Panel],
) -> Result<(), PlotError> {
    font()?;
    if panels.is_empty() {
        return Err(PlotError::Data("no panel to draw".into()));
    }
    let tmp = path.with_extension("tmp.png");
    let failed = |e: &dyn std::fmt::Display| PlotError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    {
        let size = (PANEL.0 * panels.len() as u32, PANEL.1 + 40);
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let root = root.titled(title, (FAMILY, 22)).map_err(|e| failed(&e))?;
        for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
            draw_panel(area, panel, x_label).map_err(|e| failed(&e))?;
        }
        root.present().map_err(|e| failed(&e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| failed(&e))
}

fn draw_panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    panel: &Panel,
    x_label: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let finite = |s: &Series| -> Vec<(f64, f64)> {
        s.points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect()
    };
    let lines: Vec<(&str, Vec<(f64, f64)>)> = panel
        .series
        .iter()
        .map(|s| (s.name.as_str(), finite(s)))
        .collect();
    let all = || lines.iter().flat_map(|(_, p)| p.iter());
    let (Some((x0, x1)), Some((y0, y1))) = (range(all().map(|p| p.0)), range(all().map(|p| p.1)))
    else {
        return Err(format!("{}: no point to draw", panel.title).into());
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FAMILY, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    // Whole-number x values (epochs) get whole-number labels, no more of them than values.
    let whole = all().all(|p| p.0.fract() == 0.0);
    let distinct = lines.iter().map(|(_, p)| p.len()).max().unwrap_or(1);
    let x_format = |x: &f64| {
        if whole {
            format!("{x:.0}")
        } else {
            format!("{x}")
        }
    };
    chart
        .configure_mesh()
        .x_labels(if whole { distinct.clamp(2, 10) } else { 10 })
        .x_label_formatter(&x_format)
        .x_desc(x_label)
        .y_desc(&panel.y_label)
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .draw()?;
    for (i, (name, points)) in lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    // The legend goes to the corner the first line leaves free at its end.
    let ends_high = lines
        .first()
        .and_then(|(_, p)| p.last())
        .is_some_and(|p| p.1 > (y0 + y1) / 2.0);
    chart
        .configure_series_labels()
        .position(if ends_high {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        })
        .label_font((FAMILY, 13))
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(title: &str, points: Vec<(f64, f64)>) -> Panel {
        Panel {
            title: title.into(),
            y_label: title.into(),
            series: vec![Series {
                name: title.into(),
                points,
            }],
        }
    }

    #[test]
    fn writes_a_png_with_a_panel_per_quantity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plot.png");
        let loss = panel("loss", vec![(1.0, 9.1), (2.0, 8.7), (3.0, 8.5)]);
        let ndcg = panel("NDCG@10", vec![(1.0, 0.02), (2.0, f64::NAN), (3.0, 0.04)]);
        write_panels(&path, "SASRec", "epoch", &[loss, ndcg]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, after the signature and chunk header.
        let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        assert_eq!((width, height), (2 * PANEL.0, PANEL.1 + 40));
        assert!(!dir.path().join("plot.tmp.png").exists());
        // A single point still gets a range.
        write_panels(&path, "one", "epoch", &[panel("loss", vec![(1.0, 3.0)])]).unwrap();
    }

    #[test]
    fn nothing_to_draw_is_an_error_not_a_picture() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plot.png");
        assert!(write_panels(&path, "empty", "epoch", &[]).is_err());
        let err = write_panels(
            &path,
            "nan",
            "epoch",
            &[panel("loss", vec![(1.0, f64::NAN)])],
        )
        .unwrap_err();
        assert!(err.to_string().contains("no point"), "{err}");
        assert!(!path.exists());
    }
}
