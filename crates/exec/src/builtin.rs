//! The built-in job modules: the reference jobs of `jobs/`, compiled to wasm32 and committed
//! under `jobs/build/` (`cargo xtask jobs --check` proves the committed bytes are what the
//! sources build to). `plexus job run --module digits` and the provider's start-up benchmark
//! resolve them here.

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
}

impl Builtin {
    /// The module's content hash (its address on chain).
    pub fn hash(&self) -> ContentHash {
        ContentHash::of(self.wasm)
    }
}

/// Every built-in module.
pub const ALL: [Builtin; 2] = [
    Builtin {
        name: "digits",
        about: "int8 MLP classifying 8x8 digit images (UCI optical digits), weights as blob 0",
        wasm: include_bytes!("../../../jobs/build/digits.wasm"),
        blobs: &[include_bytes!("../../../jobs/build/digits.weights")],
    },
    Builtin {
        name: "cnn",
        about: "int8 convolutional network over 64x64 images, weights drawn from the job's seed",
        wasm: include_bytes!("../../../jobs/build/cnn.wasm"),
        blobs: &[],
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
}
