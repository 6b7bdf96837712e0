//! The file `store get` writes: bytes go to a temporary file beside the destination, which is
//! renamed over it only once the whole file was read and (for a private file) opened. A read
//! that fails midway (a truncated or tampered ciphertext, holders that all refuse) leaves no
//! output, and never a partial plaintext under the name the user asked for.

use anyhow::{Context, Result};
use std::{
    fs::File,
    io::{self, BufWriter, Write},
    path::{Path, PathBuf},
};

/// A destination written through a temporary file; dropped without [`OutFile::commit`], the
/// temporary file is removed and the destination untouched.
pub struct OutFile {
    destination: PathBuf,
    temporary: PathBuf,
    file: Option<BufWriter<File>>,
}

impl OutFile {
    /// Creates the temporary file beside `destination` (same directory, so the rename is
    /// atomic): `.NAME.plexus-partial-PID`.
    pub fn create(destination: &Path) -> Result<OutFile> {
        let name = destination
            .file_name()
            .with_context(|| format!("{} names no file", destination.display()))?;
        let directory = destination
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let temporary = directory.join(format!(
            ".{}.plexus-partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&temporary)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        Ok(OutFile {
            destination: destination.to_path_buf(),
            temporary,
            file: Some(BufWriter::new(file)),
        })
    }

    /// Flushes and syncs the bytes, then renames the temporary file over the destination.
    pub fn commit(mut self) -> Result<()> {
        let file = self.file.take().expect("present until commit");
        let file = file
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", self.temporary.display()))?;
        file.sync_all()
            .with_context(|| format!("cannot sync {}", self.temporary.display()))?;
        std::fs::rename(&self.temporary, &self.destination)
            .with_context(|| format!("cannot write {}", self.destination.display()))
    }
}

impl Write for OutFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("present until commit").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("present until commit").flush()
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("plexus-out-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_destination_appears_only_on_commit() {
        let dir = dir("commit");
        let destination = dir.join("out.bin");
        let mut out = OutFile::create(&destination).unwrap();
        out.write_all(b"whole").unwrap();
        assert!(
            !destination.exists(),
            "nothing under the name before commit"
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        out.commit().unwrap();
        assert_eq!(std::fs::read(&destination).unwrap(), b"whole");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "the temporary file is gone"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_read_leaves_the_destination_as_it_was_and_no_temporary_file() {
        let dir = dir("abandon");
        let destination = dir.join("out.bin");
        std::fs::write(&destination, b"before").unwrap();
        let mut out = OutFile::create(&destination).unwrap();
        out.write_all(&[7u8; 100_000]).unwrap();
        drop(out);
        assert_eq!(std::fs::read(&destination).unwrap(), b"before");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        // A destination in the current directory has a parent of "".
        assert!(OutFile::create(Path::new("")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
