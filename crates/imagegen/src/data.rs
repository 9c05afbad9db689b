//! Labelled grey images, the image models' training data: IDX files (MNIST's format, which
//! Fashion-MNIST keeps; gzip or raw) or a folder of PNGs, one sub-folder per category, so a
//! merchant can train on their own product photos.
//!
//! IDX (LeCun et al.): two zero bytes, a type byte (0x08 for unsigned bytes), a byte giving the
//! number of dimensions, one big-endian u32 per dimension, then the values row-major. Images
//! are `[count, rows, cols]` (magic 2051), labels `[count]` (magic 2049).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Fashion-MNIST's categories, by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Most categories a set may have (labels are bytes).
const MAX_CLASSES: usize = 256;
/// Largest IDX file read (after decompression): 4 GiB, far above Fashion-MNIST's 47 MB, so a
/// damaged or hostile gzip stream cannot fill the memory.
const MAX_IDX_BYTES: u64 = 1 << 32;

/// Grey images of one size, each with a category label.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    height: usize,
    width: usize,
    /// `len * height * width` pixels, image by image, row-major; 0 is black.
    pixels: Vec<u8>,
    labels: Vec<u8>,
    classes: Vec<String>,
}

impl Images {
    /// Reads an IDX image file and its IDX label file (each gzip or raw, told by its first
    /// bytes). `classes` names the labels; every label must be below `classes.len()`.
    pub fn read_idx(images: &Path, labels: &Path, classes: &[&str]) -> Result<Self> {
        let (dims, pixels) = read_idx_file(images)?;
        let [count, height, width] = dims[..] else {
            return Err(bad(
                images,
                format!(
                    "holds {} dimensions; images have 3 (count, rows, columns)",
                    dims.len()
                ),
            ));
        };
        let (label_dims, labels_data) = read_idx_file(labels)?;
        let [label_count] = label_dims[..] else {
            return Err(bad(
                labels,
                format!("holds {} dimensions; labels have 1", label_dims.len()),
            ));
        };
        if label_count != count {
            return Err(bad(
                labels,
                format!(
                    "has {label_count} labels for the {count} images of {}",
                    images.display()
                ),
            ));
        }
        if count == 0 || height == 0 || width == 0 {
            return Err(bad(images, "holds no images".into()));
        }
        if classes.is_empty() || classes.len() > MAX_CLASSES {
            return Err(bad(
                labels,
                format!("needs 1 to {MAX_CLASSES} category names"),
            ));
        }
        if let Some((i, &l)) = labels_data
            .iter()
            .enumerate()
            .find(|&(_, &l)| usize::from(l) >= classes.len())
        {
            return Err(bad(
                labels,
                format!(
                    "label {l} of image {i} is not one of the {} categories",
                    classes.len()
                ),
            ));
        }
        Ok(Self {
            height,
            width,
            pixels,
            labels: labels_data,
            classes: classes.iter().map(|c| (*c).to_owned()).collect(),
        })
    }

    /// Fashion-MNIST's `train` or `t10k` set from the folder holding its four files.
    pub fn read_fashion_mnist(dir: &Path, set: &str) -> Result<Self> {
        let file = |kind: &str| -> PathBuf {
            let plain = dir.join(format!("{set}-{kind}-idx{}-ubyte", idx_rank(kind)));
            let gz = plain.with_extension("gz");
            if gz.is_file() { gz } else { plain }
        };
        Self::read_idx(&file("images"), &file("labels"), &FASHION_MNIST_CLASSES)
    }

    /// Reads `dir/<category>/*.png`: one sub-folder per category (sorted by name, labels from
    /// 0), every PNG turned grey. All images must have the same size.
    pub fn read_png_dir(dir: &Path) -> Result<Self> {
        // Hidden folders (`.git`, `.ipynb_checkpoints`) are not categories.
        let hidden = |p: &PathBuf| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        };
        let mut folders: Vec<PathBuf> = list(dir)?
            .into_iter()
            .filter(|p| p.is_dir() && !hidden(p))
            .collect();
        folders.sort();
        if folders.is_empty() {
            return Err(bad(
                dir,
                "has no category folders (expected DIR/<category>/*.png)".into(),
            ));
        }
        if folders.len() > MAX_CLASSES {
            return Err(bad(
                dir,
                format!(
                    "has {} category folders; at most {MAX_CLASSES}",
                    folders.len()
                ),
            ));
        }
        let mut out = Self {
            height: 0,
            width: 0,
            pixels: Vec::new(),
            labels: Vec::new(),
            classes: Vec::new(),
        };
        for (label, folder) in folders.iter().enumerate() {
            let mut files: Vec<PathBuf> = list(folder)?
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(bad(folder, "holds no PNG images".into()));
            }
            for file in files {
                let grey = image::open(&file)
                    .map_err(|e| bad(&file, format!("not a readable PNG ({e})")))?
                    .into_luma8();
                let (w, h) = (grey.width() as usize, grey.height() as usize);
                if out.labels.is_empty() {
                    (out.width, out.height) = (w, h);
                } else if (w, h) != (out.width, out.height) {
                    return Err(bad(
                        &file,
                        format!(
                            "is {w}×{h}; the images before it are {}×{}",
                            out.width, out.height
                        ),
                    ));
                }
                out.pixels.extend_from_slice(grey.as_raw());
                out.labels.push(label as u8);
            }
            let name = folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.classes.push(name);
        }
        Ok(out)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Rows of every image.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Columns of every image.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The category names, by label.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The pixels of image `i`, row-major.
    pub fn image(&self, i: usize) -> &[u8] {
        let size = self.height * self.width;
        &self.pixels[i * size..(i + 1) * size]
    }

    /// The pixels of images `range`, one after another.
    pub fn pixels_of(&self, range: std::ops::Range<usize>) -> &[u8] {
        let size = self.height * self.width;
        &self.pixels[range.start * size..range.end * size]
    }

    /// The images at `indices`, in that order, with the same categories.
    pub fn subset(&self, indices: &[usize]) -> Self {
        Self {
            height: self.height,
            width: self.width,
            pixels: indices
                .iter()
                .flat_map(|&i| self.image(i))
                .copied()
                .collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes.clone(),
        }
    }

    /// Every `every`-th image (from the first) held out, the rest kept: `(kept, held_out)`.
    pub fn split(&self, every: usize) -> (Self, Self) {
        let every = every.max(2);
        let (held, kept): (Vec<usize>, Vec<usize>) = (0..self.len()).partition(|i| i % every == 0);
        (self.subset(&kept), self.subset(&held))
    }

    /// Every label, image by image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Images per category, by label.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }
}

fn idx_rank(kind: &str) -> u8 {
    if kind == "images" { 3 } else { 1 }
}

fn bad(path: &Path, reason: String) -> Error {
    Error::Data {
        path: path.to_owned(),
        reason,
    }
}

fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()).map_err(io))
        .collect()
}

/// The dimensions and the bytes of an IDX file of unsigned bytes.
fn read_idx_file(path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let raw = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .take(MAX_IDX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad(path, format!("is not a complete gzip stream ({e})")))?;
        if out.len() as u64 > MAX_IDX_BYTES {
            return Err(bad(
                path,
                format!("unpacks to more than {MAX_IDX_BYTES} bytes"),
            ));
        }
        out
    } else {
        raw
    };
    if bytes.len() < 4 {
        return Err(bad(
            path,
            format!("is {} bytes long, shorter than an IDX header", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(
            path,
            format!(
                "is not an IDX file (magic number {:#010x})",
                u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
            ),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(bad(
            path,
            format!(
                "holds values of IDX type {:#04x}; only unsigned bytes (0x08) are images",
                bytes[2]
            ),
        ));
    }
    let rank = usize::from(bytes[3]);
    let header = 4 + 4 * rank;
    if rank == 0 || bytes.len() < header {
        return Err(bad(
            path,
            format!("is truncated inside its header ({rank} dimensions)"),
        ));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(path, format!("declares impossible dimensions {dims:?}")))?;
    let found = bytes.len() - header;
    if found < expected {
        return Err(bad(
            path,
            format!(
                "is truncated: its header {dims:?} declares {expected} bytes of values, it holds {found}"
            ),
        ));
    }
    if found > expected {
        return Err(bad(
            path,
            format!(
                "has {} bytes after the {expected} its header {dims:?} declares",
                found - expected
            ),
        ));
    }
    let mut bytes = bytes;
    bytes.drain(..header);
    Ok((dims, bytes))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn idx(dims: &[u32], values: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(values);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// Two 2×3 images labelled 1 and 0, the image file gzipped.
    fn pair(dir: &Path) -> (PathBuf, PathBuf) {
        let images = dir.join("images.gz");
        let labels = dir.join("labels");
        let pixels: Vec<u8> = (0..12).collect();
        std::fs::write(&images, gzip(&idx(&[2, 2, 3], &pixels))).unwrap();
        std::fs::write(&labels, idx(&[2], &[1, 0])).unwrap();
        (images, labels)
    }

    #[test]
    fn reads_gzip_and_raw_idx() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = pair(dir.path());
        let set = Images::read_idx(&images, &labels, &["a", "b"]).expect("valid");
        assert_eq!((set.len(), set.height(), set.width()), (2, 2, 3));
        assert_eq!(set.image(1), &[6, 7, 8, 9, 10, 11]);
        assert_eq!(set.labels(), &[1, 0]);
        assert_eq!(set.counts(), vec![1, 1]);
        assert_eq!(set.classes()[1], "b");
    }

    #[test]
    fn corrupt_idx_files_are_named_with_their_problem() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = pair(dir.path());
        let classes = ["a", "b"];
        let error = |images: &Path, labels: &Path| -> String {
            Images::read_idx(images, labels, &classes)
                .expect_err("corrupt")
                .to_string()
        };
        let other = dir.path().join("other");
        let write = |bytes: Vec<u8>| std::fs::write(&other, bytes).unwrap();

        write(idx(&[2, 2, 3], &[0; 11]));
        let e = error(&other, &labels);
        assert!(
            e.contains("other") && e.contains("truncated") && e.contains("12"),
            "{e}"
        );
        write(idx(&[2, 2, 3], &[0; 13]));
        assert!(error(&other, &labels).contains("1 bytes after"));
        write(vec![0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]);
        assert!(error(&other, &labels).contains("not an IDX file (magic number 0x12345678)"));
        write(vec![0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert!(error(&other, &labels).contains("type 0x0d"));
        write(vec![0, 0, 8, 3, 0, 0]);
        assert!(error(&other, &labels).contains("truncated inside its header"));
        write(vec![0, 0]);
        assert!(error(&other, &labels).contains("shorter than an IDX header"));
        let gz = gzip(&idx(&[2, 2, 3], &[0; 12]));
        write(gz[..gz.len() / 2].to_vec());
        assert!(error(&other, &labels).contains("not a complete gzip stream"));
        // Images and labels that do not go together.
        write(idx(&[3], &[0, 1, 0]));
        let e = error(&images, &other);
        assert!(e.contains("3 labels for the 2 images"), "{e}");
        write(idx(&[2], &[0, 5]));
        assert!(error(&images, &other).contains("label 5 of image 1"));
        assert!(error(&labels, &labels).contains("1 dimensions; images have 3"));
        assert!(error(&images, &images).contains("3 dimensions; labels have 1"));
        let e = error(&dir.path().join("missing"), &labels);
        assert!(e.contains("missing"), "{e}");
    }

    #[test]
    fn reads_a_png_folder_per_category() {
        let dir = tempfile::tempdir().unwrap();
        for (class, shade) in [("bags", 10u8), ("shoes", 200)] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            for n in 0..2 {
                let img = image::GrayImage::from_pixel(4, 3, image::Luma([shade + n]));
                img.save(dir.path().join(class).join(format!("{n}.png")))
                    .unwrap();
            }
        }
        std::fs::write(dir.path().join("shoes/notes.txt"), "not an image").unwrap();
        std::fs::create_dir(dir.path().join(".ipynb_checkpoints")).unwrap();
        let set = Images::read_png_dir(dir.path()).expect("valid");
        assert_eq!((set.len(), set.height(), set.width()), (4, 3, 4));
        assert_eq!(set.classes(), &["bags".to_owned(), "shoes".to_owned()]);
        assert_eq!(set.labels(), &[0, 0, 1, 1]);
        assert_eq!(set.image(3), &[201; 12]);

        image::GrayImage::new(5, 5)
            .save(dir.path().join("shoes/odd.png"))
            .unwrap();
        let e = Images::read_png_dir(dir.path())
            .expect_err("odd size")
            .to_string();
        assert!(e.contains("odd.png") && e.contains("5×5"), "{e}");
        std::fs::write(dir.path().join("shoes/odd.png"), b"not a png").unwrap();
        let e = Images::read_png_dir(dir.path())
            .expect_err("bad png")
            .to_string();
        assert!(
            e.contains("odd.png") && e.contains("not a readable PNG"),
            "{e}"
        );
        std::fs::remove_file(dir.path().join("shoes/odd.png")).unwrap();
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        let e = Images::read_png_dir(dir.path())
            .expect_err("empty")
            .to_string();
        assert!(e.contains("empty") && e.contains("no PNG"), "{e}");
        let none = tempfile::tempdir().unwrap();
        let e = Images::read_png_dir(none.path())
            .expect_err("no folders")
            .to_string();
        assert!(e.contains("no category folders"), "{e}");
    }

    /// The real Fashion-MNIST files, checked against the facts its README gives.
    #[test]
    fn reads_fashion_mnist_as_published() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/fashion-mnist");
        if !dir.is_dir() {
            eprintln!("skipped: {} is absent", dir.display());
            return;
        }
        let test = Images::read_fashion_mnist(&dir, "t10k").expect("t10k");
        assert_eq!((test.len(), test.height(), test.width()), (10_000, 28, 28));
        assert_eq!(&test.labels()[..10], &[9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
        assert_eq!(test.counts(), vec![1000; 10]);
        let train = Images::read_fashion_mnist(&dir, "train").expect("train");
        assert_eq!(train.len(), 60_000);
        assert_eq!(&train.labels()[..10], &[9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
        let row3 = &train.image(0)[3 * 28..4 * 28];
        let expected = [
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 13, 73, 0, 0, 1, 4, 0, 0, 0, 0, 1, 1, 0,
        ];
        assert_eq!(row3, &expected);
        assert_eq!(train.classes()[9], "Ankle boot");
    }
}
