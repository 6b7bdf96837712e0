//! The keystore: one file per key under `$PLEXUS_HOME/keys`, hex of the 32-byte secret, mode 0600.

use anyhow::{Context, Result, bail};
use commonware_codec::{DecodeExt, Encode};
use commonware_cryptography::Signer;
use plexus_types::{Address, PrivateKey};
use rand::Rng as _;
use std::path::{Path, PathBuf};

pub fn home() -> PathBuf {
    plexus_exec::builtin::plexus_home()
}

fn dir() -> PathBuf {
    home().join("keys")
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("invalid key name {name:?}: use 1-64 letters, digits, '-' or '_'");
    }
    Ok(())
}

fn path(name: &str) -> PathBuf {
    dir().join(format!("{name}.key"))
}

/// Generates a fresh key from the operating system's entropy.
pub fn generate() -> PrivateKey {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    PrivateKey::decode(commonware_codec::Copying(&seed[..]))
        .expect("any 32 bytes are an ed25519 secret")
}

pub fn write_file(path: &Path, key: &PrivateKey) -> Result<()> {
    write_secret(path, &plexus_client::hex_encode(&key.encode()))
}

/// Writes `hex` and a newline to `path`, readable by its owner only.
pub fn write_secret(path: &Path, hex: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    #[cfg(unix)]
    {
        use std::{io::Write, os::unix::fs::OpenOptionsExt};
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        file.write_all(format!("{hex}\n").as_bytes())?;
    }
    #[cfg(not(unix))]
    std::fs::write(path, format!("{hex}\n"))?;
    Ok(())
}

pub fn read_file(path: &Path) -> Result<PrivateKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    let bytes = plexus_client::hex_decode(text.trim())
        .filter(|b| b.len() == 32)
        .with_context(|| format!("{} is not a key file (64 hex digits)", path.display()))?;
    Ok(PrivateKey::decode(commonware_codec::Copying(&bytes[..])).expect("32 bytes decode"))
}

/// Creates `name`, refusing to overwrite an existing key.
pub fn create(name: &str) -> Result<PrivateKey> {
    check_name(name)?;
    let path = path(name);
    if path.exists() {
        bail!("key {name:?} already exists at {}", path.display());
    }
    let key = generate();
    write_file(&path, &key)?;
    Ok(key)
}

/// Stores a devnet key as `name`, unless the keystore already holds a different key under that
/// name (which is then left alone: it may be somebody's real key).
pub fn store_dev(name: &str, key: &PrivateKey) -> Result<()> {
    check_name(name)?;
    let path = path(name);
    if path.exists() {
        let existing = read_file(&path)?;
        if existing.public_key() != key.public_key() {
            bail!(
                "the keystore {} already holds a different key named {name:?}; \
                 set PLEXUS_HOME to another directory for the devnet",
                dir().display()
            );
        }
        return Ok(());
    }
    write_file(&path, key)
}

pub fn load(name: &str) -> Result<PrivateKey> {
    check_name(name)?;
    let path = path(name);
    if !path.exists() {
        bail!(
            "no key named {name:?} in {} (see `plexus keys list`)",
            dir().display()
        );
    }
    read_file(&path)
}

pub fn list() -> Result<Vec<(String, Address)>> {
    let dir = dir();
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
    {
        let path = entry?.path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().and_then(|e| e.to_str()) != Some("key") {
            continue;
        }
        let key = read_file(&path)?;
        keys.push((name.to_string(), Address(key.public_key())));
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keys)
}

/// [`resolve_address`] for an account that is to receive value (a transfer's recipient, a
/// delegation's validator): a small-order key, which anyone can spend from, is refused here
/// rather than by the node.
pub fn resolve_recipient(text: &str) -> Result<Address> {
    let address = resolve_address(text)?;
    if address.is_weak() {
        bail!(
            "{address} is a small-order key that anyone can sign for: the chain refuses it (weak_key)"
        );
    }
    Ok(address)
}

/// Resolves `text` as an address, or as the name of a key in the keystore.
pub fn resolve_address(text: &str) -> Result<Address> {
    if let Ok(address) = text.parse::<Address>() {
        return Ok(address);
    }
    if text.starts_with("plx1") {
        bail!(
            "{text:?} is not a valid address: {}",
            text.parse::<Address>().unwrap_err()
        );
    }
    Ok(Address(
        load(text)
            .with_context(|| format!("{text:?} is neither an address nor a key name"))?
            .public_key(),
    ))
}
