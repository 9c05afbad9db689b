//! Pictures of generated images: a grid with one row per category, as PNG.

use image::{GrayImage, Luma};

/// Grey gap between images, in pixels.
const GAP: u32 = 2;
/// Shade of the gaps.
const GAP_SHADE: u8 = 128;

/// The `rows × cols` grid of square `side × side` images (`pixels` holds them row by row, each
/// row-major, `rows * cols * side * side` bytes), each drawn `scale` times larger, with gaps.
pub fn grid(pixels: &[u8], rows: usize, cols: usize, side: usize, scale: usize) -> GrayImage {
    let cell = (side * scale) as u32;
    let width = cols as u32 * (cell + GAP) + GAP;
    let height = rows as u32 * (cell + GAP) + GAP;
    let mut out = GrayImage::from_pixel(width, height, Luma([GAP_SHADE]));
    for r in 0..rows {
        for c in 0..cols {
            let image = &pixels[(r * cols + c) * side * side..][..side * side];
            let (x0, y0) = (GAP + c as u32 * (cell + GAP), GAP + r as u32 * (cell + GAP));
            for y in 0..cell {
                for x in 0..cell {
                    let v = image[(y as usize / scale) * side + x as usize / scale];
                    out.put_pixel(x0 + x, y0 + y, Luma([v]));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_each_image_in_its_cell() {
        // Two rows of three 2×2 images, image k filled with 10·k.
        let pixels: Vec<u8> = (0..6u8).flat_map(|k| [10 * k; 4]).collect();
        let g = grid(&pixels, 2, 3, 2, 2);
        assert_eq!(g.dimensions(), (3 * 6 + 2, 2 * 6 + 2));
        assert_eq!(g.get_pixel(0, 0).0, [GAP_SHADE]);
        assert_eq!(g.get_pixel(2, 2).0, [0]);
        // Row 1, column 2 is image 5; its cell starts at (2 + 2·6, 2 + 6).
        assert_eq!(g.get_pixel(14, 8).0, [50]);
        assert_eq!(g.get_pixel(17, 11).0, [50]);
    }
}
