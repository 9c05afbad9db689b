//! Display-ad banners: a product image, a headline and a call to action laid out in the IAB
//! standard sizes, drawn with DejaVu Sans (shipped inside the `dejavu` crate, so no system font
//! is needed). The product image is a grey picture with the product light on black (Fashion-
//! MNIST's convention); it is inverted to a dark product on the banner's white and upscaled with
//! a Lanczos filter. A headline wraps over at most two lines and shrinks to a floor size; text
//! that still does not fit is an error naming the field and the room there is, never an
//! overflow or a cut word.

use ab_glyph::{Font, FontRef, Glyph, PxScale, ScaleFont, point};
use image::imageops::{FilterType, resize};
use image::{GrayImage, Rgb, RgbImage};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The banner sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum BannerSize {
    /// 300×250, the medium rectangle: image on top, headline, button.
    #[serde(rename = "300x250")]
    MediumRectangle,
    /// 728×90, the leaderboard: image left, headline, button right.
    #[serde(rename = "728x90")]
    Leaderboard,
}

impl BannerSize {
    /// Width and height in pixels.
    pub fn dimensions(self) -> (u32, u32) {
        match self {
            Self::MediumRectangle => (300, 250),
            Self::Leaderboard => (728, 90),
        }
    }
}

/// Text that cannot be laid out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct BannerError {
    /// `headline` or `cta`.
    pub field: &'static str,
    /// Why, with the room there is.
    pub reason: String,
}

/// Longest headline and call to action accepted before layout is tried.
pub const MAX_HEADLINE_CHARS: usize = 120;
/// See `MAX_HEADLINE_CHARS`.
pub const MAX_CTA_CHARS: usize = 40;

const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);
const BORDER: Rgb<u8> = Rgb([214, 214, 214]);
const INK: Rgb<u8> = Rgb([26, 26, 26]);
const BUTTON: Rgb<u8> = Rgb([11, 94, 215]);
const BUTTON_INK: Rgb<u8> = Rgb([255, 255, 255]);

/// Where things go in one size.
struct Layout {
    /// Product image: left, top, side.
    image: (u32, u32, u32),
    /// Headline box: left, top, width, height.
    headline: (u32, u32, u32, u32),
    /// Headline sizes tried, largest first.
    headline_px: (f32, f32),
    /// Button: its text size, height, horizontal padding, widest it may be.
    button_px: f32,
    button_height: u32,
    button_pad: u32,
    button_max: u32,
}

fn layout(size: BannerSize) -> Layout {
    match size {
        BannerSize::MediumRectangle => Layout {
            image: (90, 10, 120),
            headline: (14, 136, 272, 62),
            headline_px: (24.0, 15.0),
            button_px: 16.0,
            button_height: 36,
            button_pad: 18,
            button_max: 272,
        },
        BannerSize::Leaderboard => Layout {
            image: (8, 8, 74),
            headline: (98, 8, 0, 74),
            headline_px: (26.0, 14.0),
            button_px: 17.0,
            button_height: 40,
            button_pad: 20,
            button_max: 220,
        },
    }
}

fn font() -> FontRef<'static> {
    // The bytes are DejaVu Sans Bold as shipped by the crate: parsing cannot fail.
    FontRef::try_from_slice(dejavu::sans::bold()).expect("DejaVu Sans Bold parses")
}

/// Checks the characters of `text`: not empty, no control characters, each in the font.
fn check_text(field: &'static str, text: &str, max: usize) -> Result<(), BannerError> {
    let error = |reason: String| BannerError { field, reason };
    let chars = text.chars().count();
    if text.trim().is_empty() {
        return Err(error("must not be empty".into()));
    }
    if chars > max {
        return Err(error(format!("is {chars} characters; at most {max}")));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(error(format!("holds the control character {c:?}")));
    }
    let font = font();
    if let Some(c) = text
        .chars()
        .find(|&c| !c.is_whitespace() && font.glyph_id(c).0 == 0)
    {
        return Err(error(format!(
            "holds {c:?}, which the banner font cannot draw"
        )));
    }
    Ok(())
}

/// Width in pixels of `text` on one line at `px`.
fn width(text: &str, px: f32) -> f32 {
    let font = font();
    let scaled = font.as_scaled(PxScale::from(px));
    let mut w = 0.0;
    let mut last = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(prev) = last {
            w += scaled.kern(prev, id);
        }
        w += scaled.h_advance(id);
        last = Some(id);
    }
    w
}

/// `text` broken at spaces into lines no wider than `max` at `px`; `None` when a word alone is
/// wider.
fn wrap(text: &str, px: f32, max: f32) -> Option<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if width(word, px) > max {
            return None;
        }
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if width(&candidate, px) <= max {
            line = candidate;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_owned()));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    Some(lines)
}

/// Draws `text` with its baseline-to-top box starting at (`x`, `top`), alpha-blending `ink`
/// over what is there.
fn draw(canvas: &mut RgbImage, text: &str, px: f32, x: f32, top: f32, ink: Rgb<u8>) {
    let font = font();
    let scaled = font.as_scaled(PxScale::from(px));
    let baseline = top + scaled.ascent();
    let mut caret = x;
    let mut last = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(prev) = last {
            caret += scaled.kern(prev, id);
        }
        let glyph: Glyph = id.with_scale_and_position(px, point(caret, baseline));
        caret += scaled.h_advance(id);
        last = Some(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let (px_x, px_y) = (
                bounds.min.x as i64 + gx as i64,
                bounds.min.y as i64 + gy as i64,
            );
            if px_x < 0 || px_y < 0 {
                return;
            }
            let (px_x, px_y) = (px_x as u32, px_y as u32);
            if px_x >= canvas.width() || px_y >= canvas.height() {
                return;
            }
            let under = canvas.get_pixel(px_x, px_y).0;
            let a = coverage.clamp(0.0, 1.0);
            let mix = |i: usize| {
                (f32::from(under[i]) * (1.0 - a) + f32::from(ink.0[i]) * a).round() as u8
            };
            canvas.put_pixel(px_x, px_y, Rgb([mix(0), mix(1), mix(2)]));
        });
    }
}

fn line_height(px: f32) -> f32 {
    let font = font();
    let scaled = font.as_scaled(PxScale::from(px));
    scaled.ascent() - scaled.descent()
}

/// The banner: `product` (grey, the product light on black, any size) with `headline` and the
/// call to action `cta`, at `size`. Text that does not fit is an error naming the field.
pub fn render_banner(
    size: BannerSize,
    product: &GrayImage,
    headline: &str,
    cta: &str,
) -> Result<RgbImage, BannerError> {
    check_text("headline", headline, MAX_HEADLINE_CHARS)?;
    check_text("cta", cta, MAX_CTA_CHARS)?;
    // Runs of whitespace (tabs, no-break spaces) become one plain space, which the font has.
    let headline = headline.split_whitespace().collect::<Vec<_>>().join(" ");
    let cta = cta.split_whitespace().collect::<Vec<_>>().join(" ");
    let (headline, cta) = (headline.as_str(), cta.as_str());
    let (w, h) = size.dimensions();
    let mut l = layout(size);
    // The button first: on the leaderboard, the headline gets the room the button leaves.
    let button_text = width(cta, l.button_px);
    let button_w = button_text.ceil() as u32 + 2 * l.button_pad;
    if button_w > l.button_max {
        return Err(BannerError {
            field: "cta",
            reason: format!(
                "is {:.0} px wide at {} px; the button has room for {} px at {w}×{h}",
                button_text,
                l.button_px,
                l.button_max - 2 * l.button_pad
            ),
        });
    }
    let (button_x, button_y) = match size {
        BannerSize::MediumRectangle => ((w - button_w) / 2, h - 10 - l.button_height),
        BannerSize::Leaderboard => (w - 14 - button_w, (h - l.button_height) / 2),
    };
    if size == BannerSize::Leaderboard {
        l.headline.2 = button_x - 16 - l.headline.0;
    }
    let (hx, hy, hw, hh) = l.headline;
    // The largest size at which the headline wraps into two lines that fit the box.
    let mut chosen = None;
    let mut px = l.headline_px.0;
    while px >= l.headline_px.1 {
        if let Some(lines) = wrap(headline, px, hw as f32)
            && lines.len() <= 2
            && lines.len() as f32 * line_height(px) <= hh as f32
        {
            chosen = Some((px, lines));
            break;
        }
        px -= 1.0;
    }
    let Some((px, lines)) = chosen else {
        return Err(BannerError {
            field: "headline",
            reason: format!(
                "does not fit in two lines of {hw} px at {} px or more at {w}×{h}; shorten it \
                 (it is {} characters)",
                l.headline_px.1,
                headline.chars().count()
            ),
        });
    };
    let mut canvas = RgbImage::from_pixel(w, h, BACKGROUND);
    for x in 0..w {
        canvas.put_pixel(x, 0, BORDER);
        canvas.put_pixel(x, h - 1, BORDER);
    }
    for y in 0..h {
        canvas.put_pixel(0, y, BORDER);
        canvas.put_pixel(w - 1, y, BORDER);
    }
    // The product: inverted to dark on white, upscaled cleanly.
    let (ix, iy, side) = l.image;
    let mut inverted = product.clone();
    image::imageops::invert(&mut inverted);
    let big = resize(&inverted, side, side, FilterType::Lanczos3);
    for (x, y, p) in big.enumerate_pixels() {
        let v = p.0[0];
        canvas.put_pixel(ix + x, iy + y, Rgb([v, v, v]));
    }
    // The headline, centred in its box.
    let lh = line_height(px);
    let block = lh * lines.len() as f32;
    let top = hy as f32 + (hh as f32 - block) / 2.0;
    for (i, line) in lines.iter().enumerate() {
        let lw = width(line, px);
        let x = match size {
            BannerSize::MediumRectangle => hx as f32 + (hw as f32 - lw) / 2.0,
            BannerSize::Leaderboard => hx as f32,
        };
        draw(&mut canvas, line, px, x, top + i as f32 * lh, INK);
    }
    // The button.
    for y in button_y..button_y + l.button_height {
        for x in button_x..button_x + button_w {
            canvas.put_pixel(x, y, BUTTON);
        }
    }
    let text_top = button_y as f32 + (l.button_height as f32 - line_height(l.button_px)) / 2.0;
    let text_x = button_x as f32 + (button_w as f32 - button_text) / 2.0;
    draw(&mut canvas, cta, l.button_px, text_x, text_top, BUTTON_INK);
    Ok(canvas)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shirt() -> GrayImage {
        GrayImage::from_fn(28, 28, |x, y| {
            image::Luma([if (6..22).contains(&x) && (4..26).contains(&y) {
                220
            } else {
                0
            }])
        })
    }

    fn dark_pixels(img: &RgbImage, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 100)
            .count()
    }

    #[test]
    fn both_sizes_draw_image_headline_and_button() {
        for size in [BannerSize::MediumRectangle, BannerSize::Leaderboard] {
            let banner = render_banner(size, &shirt(), "Soft cotton tee", "Shop now").unwrap();
            assert_eq!(banner.dimensions(), size.dimensions());
            let l = layout(size);
            let (ix, iy, side) = l.image;
            // The product is dark on white after inversion: its centre is dark, its corner
            // white.
            assert!(banner.get_pixel(ix + side / 2, iy + side / 2).0[0] < 80);
            assert!(banner.get_pixel(ix + 1, iy + 1).0[0] > 200);
            // Some ink in the headline box.
            let (hx, hy, _, hh) = l.headline;
            assert!(
                dark_pixels(&banner, hx, hy, hx + 150, hy + hh) > 50,
                "{size:?}"
            );
            // The button's colour and its white text.
            let blue = banner.pixels().filter(|p| p.0 == BUTTON.0).count();
            assert!(blue > 1000, "{size:?}: {blue}");
        }
    }

    #[test]
    fn long_headlines_wrap_or_shrink_and_too_long_is_an_error() {
        let two_lines = "Breathable organic cotton tee for warm summer days";
        render_banner(BannerSize::MediumRectangle, &shirt(), two_lines, "Shop now").unwrap();
        let wordy = "Breathable organic cotton tee for warm summer days, cut loose and long, \
                     with reinforced seams";
        let e =
            render_banner(BannerSize::MediumRectangle, &shirt(), wordy, "Shop now").unwrap_err();
        assert_eq!(e.field, "headline");
        assert!(e.reason.contains("two lines"), "{e}");
        let e = render_banner(
            BannerSize::Leaderboard,
            &shirt(),
            "Tee",
            "Add this lovely shirt to your basket today",
        )
        .unwrap_err();
        assert_eq!(e.field, "cta");
        // One word wider than the box cannot wrap.
        let e = render_banner(
            BannerSize::MediumRectangle,
            &shirt(),
            "Supercalifragilisticexpialidociousness",
            "Buy",
        )
        .unwrap_err();
        assert_eq!(e.field, "headline");
    }

    #[test]
    fn any_whitespace_becomes_a_plain_space() {
        // A no-break space and an ideographic space: not drawn as missing glyphs, laid out as spaces.
        let spaced = render_banner(
            BannerSize::Leaderboard,
            &shirt(),
            "Soft\u{a0}tee",
            "Shop\u{3000}now",
        )
        .unwrap();
        let plain =
            render_banner(BannerSize::Leaderboard, &shirt(), "Soft tee", "Shop now").unwrap();
        assert!(spaced == plain);
    }

    #[test]
    fn bad_text_is_refused_by_field() {
        for (headline, cta, field) in [
            ("", "Buy", "headline"),
            ("   ", "Buy", "headline"),
            ("Tee", "", "cta"),
            ("Tee\u{7}", "Buy", "headline"),
            ("Tee", "Buy \u{6F22}", "cta"),
        ] {
            let Err(e) = render_banner(BannerSize::Leaderboard, &shirt(), headline, cta) else {
                panic!("{headline:?} {cta:?} was accepted");
            };
            assert_eq!(e.field, field, "{headline:?} {cta:?}: {e}");
        }
    }
}
