//! The built-in job modules: the reference jobs of `jobs/`, compiled to wasm32 and committed
//! under `jobs/build/` (`cargo xtask jobs --check` proves the committed bytes are what the
//! sources build to). `plexus job run --module digits` and the provider's start-up benchmark
//! resolve them here.
//!
//! A module whose blobs are too large for the repository (real model weights) names them as
//! [`ModelFile`]s instead: files under [`models_dir`] that `cargo xtask models` fetches and
//! converts, each pinned by its BLAKE3 hash, so the bytes a job names are the bytes the sources
//! say.

use plexus_types::ContentHash;

/// A built-in module and the blobs it reads (in the job's blob order).
pub struct Builtin {
    /// The name `--module` takes.
    pub name: &'static str,
    /// One line about what it computes.
    pub about: &'static str,
    /// The module bytes as submitted (content-addressed by their BLAKE3 hash).
    pub wasm: &'static [u8],
    /// The blobs the module expects, in order.
    pub blobs: &'static [&'static [u8]],
    /// Blobs read from the models directory, in order after `blobs`.
    pub model_files: &'static [ModelFile],
}

/// A converted model file a built-in module reads as a blob.
pub struct ModelFile {
    /// Its path under [`models_dir`].
    pub path: &'static str,
    /// Its BLAKE3 hash, lower-case hex: what `cargo xtask models` writes.
    pub hash: &'static str,
}

/// Why a built-in module's model files cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file is not there.
    #[error("{path} is missing: run `cargo xtask models` to fetch and convert the weights")]
    Missing {
        /// The file looked for.
        path: std::path::PathBuf,
    },
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What reading it said.
        source: std::io::Error,
    },
    /// The file's bytes are not the pinned ones.
    #[error("{path} hashes to {got}, not the pinned {want}: run `cargo xtask models` again")]
    Mismatch {
        /// The file.
        path: std::path::PathBuf,
        /// Its hash.
        got: ContentHash,
        /// The pinned hash.
        want: &'static str,
    },
}

impl ModelFile {
    /// The file's bytes from [`models_dir`], checked against the pinned hash.
    pub fn read(&self) -> Result<Vec<u8>, ModelError> {
        let path = models_dir().join(self.path);
        let bytes = std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => ModelError::Missing { path: path.clone() },
            _ => ModelError::Io {
                path: path.clone(),
                source,
            },
        })?;
        let got = ContentHash::of(&bytes);
        if got.to_string() != self.hash {
            return Err(ModelError::Mismatch {
                path,
                got,
                want: self.hash,
            });
        }
        Ok(bytes)
    }
}

impl Builtin {
    /// The module's content hash (its address on chain).
    pub fn hash(&self) -> ContentHash {
        ContentHash::of(self.wasm)
    }

    /// Every blob the module reads, in the job's order: the embedded ones, then the model files.
    pub fn load_blobs(&self) -> Result<Vec<Vec<u8>>, ModelError> {
        self.load_first_blobs(usize::MAX)
    }

    /// The first `count` of the blobs [`Builtin::load_blobs`] gives (all of them if there are
    /// fewer): a job that names only some (a smollm2 job in the default mode) neither reads nor
    /// needs the rest.
    pub fn load_first_blobs(&self, count: usize) -> Result<Vec<Vec<u8>>, ModelError> {
        let embedded = self.blobs.iter().map(|b| Ok(b.to_vec()));
        let files = self.model_files.iter().map(ModelFile::read);
        embedded.chain(files).take(count).collect()
    }
}

/// Every built-in module.
pub const ALL: [Builtin; 4] = [
    Builtin {
        name: "digits",
        about: "int8 MLP classifying 8x8 digit images (UCI optical digits), weights as blob 0",
        wasm: include_bytes!("../../../jobs/build/digits.wasm"),
        blobs: &[include_bytes!("../../../jobs/build/digits.weights")],
        model_files: &[],
    },
    Builtin {
        name: "cnn",
        about: "int8 convolutional network over 64x64 images, weights drawn from the job's seed",
        wasm: include_bytes!("../../../jobs/build/cnn.wasm"),
        blobs: &[],
        model_files: &[],
    },
    Builtin {
        name: "minilm",
        about: "all-MiniLM-L6-v2 sentence embeddings (384-d), int8, WordPiece in the job; weights from `cargo xtask models`",
        wasm: include_bytes!("../../../jobs/build/minilm.wasm"),
        blobs: &[],
        model_files: &[
            ModelFile {
                path: "minilm/minilm.weights",
                hash: "ade2b05aaba6d6542c76904140131de63deaa08dcf4458f07a10e575f5e349f7",
            },
            ModelFile {
                path: "minilm/vocab.txt",
                hash: "29a772c92cf4b7bc8f4c52d801f03d36ad8528ef964f856dadc4c4e7cb14e451",
            },
        ],
    },
    Builtin {
        name: "smollm2",
        about: "SmolLM2-135M-Instruct text generation, int8, greedy; chat template and BPE in the job; weights from `cargo xtask models`",
        wasm: include_bytes!("../../../jobs/build/smollm2.wasm"),
        blobs: &[],
        model_files: &SMOLLM2_FILES,
    },
];

/// The files the smollm2 job (SmolLM2-135M-Instruct text generation) reads, in its blob order:
/// the weights' head blob, its two layer blobs (the int8 model is 135 MB, a blob at most
/// `BLOB_BYTES_MAX`; `plexus_job_smollm2::weights` has the format), the BPE tokenizer, and the
/// residual weights' head and layer blobs, which only a precise-mode job names
/// (`plexus_job_smollm2::blobs_for`). `cargo xtask models` writes them.
pub const SMOLLM2_FILES: [ModelFile; 7] = [
    ModelFile {
        path: "smollm2/smollm2.weights",
        hash: "d4dedcc6aa1093fc062fd18120e68db7e3bd3c39a80c879ea4702dbd044911b2",
    },
    ModelFile {
        path: "smollm2/smollm2.layers-1.weights",
        hash: "3a488eac16f6f3cbe97e94f3ff13f0fee7ac1b1c498fffe0c6bbca64138fda3d",
    },
    ModelFile {
        path: "smollm2/smollm2.layers-2.weights",
        hash: "ea2fd2faa3866ab508ce1883f11ad70443829c05ef3dded36bd9c5abe349092d",
    },
    ModelFile {
        path: "smollm2/smollm2.tokenizer",
        hash: "4ab3dbf60356929e8739b0b57d56613a70a08fcc4e6854e1d20ed82ac745470d",
    },
    ModelFile {
        path: "smollm2/smollm2.residual.weights",
        hash: "c4b2e2ecf69fb31e6ecad35a850c68e39891a8a8cb1fbc1faede7dcabed4f10c",
    },
    ModelFile {
        path: "smollm2/smollm2.residual.layers-1.weights",
        hash: "bf26370dbd26ef5dc235ee3d14b2de6e7e15f44c4151afb3f58e12ddb7d7acbe",
    },
    ModelFile {
        path: "smollm2/smollm2.residual.layers-2.weights",
        hash: "2be380d824a27ab46a8bdf24e47cac6765352b2b17466d1ab7f0e4b105c16f69",
    },
];

/// Plexus's home directory: `$PLEXUS_HOME`, else `~/.plexus` (the keystore, devnet and provider
/// data and the models live under it).
pub fn plexus_home() -> std::path::PathBuf {
    if let Some(home) = std::env::var_os("PLEXUS_HOME") {
        return home.into();
    }
    let user = std::env::var_os("HOME").map_or_else(|| ".".into(), std::path::PathBuf::from);
    user.join(".plexus")
}

/// Where converted model weights live: `$PLEXUS_MODELS`, else `models` under [`plexus_home`].
/// `cargo xtask models` writes there and `plexus job run` reads from there.
pub fn models_dir() -> std::path::PathBuf {
    std::env::var_os("PLEXUS_MODELS").map_or_else(|| plexus_home().join("models"), Into::into)
}

/// The built-in module called `name`.
pub fn lookup(name: &str) -> Option<&'static Builtin> {
    ALL.iter().find(|b| b.name == name)
}

/// The built-in module whose bytes hash to `hash`.
pub fn by_hash(hash: &ContentHash) -> Option<&'static Builtin> {
    ALL.iter().find(|b| b.hash() == *hash)
}

/// The names of every built-in module.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|b| b.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_passes_admission_and_is_found_by_name_and_hash() {
        for builtin in &ALL {
            let admitted = crate::admit(builtin.wasm)
                .unwrap_or_else(|e| panic!("{} fails admission: {e}", builtin.name));
            assert_eq!(admitted.hash, builtin.hash());
            assert_eq!(lookup(builtin.name).map(|b| b.name), Some(builtin.name));
            assert_eq!(by_hash(&builtin.hash()).map(|b| b.name), Some(builtin.name));
        }
        assert!(lookup("nope").is_none());
    }

    #[test]
    fn the_first_blobs_are_read_without_the_files_after_them() {
        let module = Builtin {
            name: "test",
            about: "",
            wasm: &[],
            blobs: &[b"embedded"],
            model_files: &[ModelFile {
                path: "no-such-module/no-such-file",
                hash: "0000000000000000000000000000000000000000000000000000000000000000",
            }],
        };
        assert_eq!(module.load_first_blobs(0).unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(
            module.load_first_blobs(1).unwrap(),
            vec![b"embedded".to_vec()]
        );
        let missing = module.load_blobs().unwrap_err();
        assert!(matches!(missing, ModelError::Missing { .. }), "{missing}");
    }
}
