//! A GGUF reader (llama.cpp's model file, version 2 and 3, little-endian): metadata, tensor
//! infos, and tensors dequantized to f32 exactly as ggml defines them, for `cargo xtask models`.
//!
//! Why our own: the crates.io readers (`gguf`, `gguf-rs`) parse a file from a path with their
//! own I/O and stop at metadata and tensor infos; none dequantizes Q4_1 or Q8_0 without pulling
//! in a tensor library (candle). The file here is a wheel entry already in memory, and the format
//! is small: a header, key/value pairs, tensor infos, aligned data. This reader works on the
//! bytes with every length and count checked against what is left (a malformed file is an error
//! naming the field, never a panic or a huge allocation), and supports only what the converter
//! needs: F32, F16, Q4_1, Q8_0.
//!
//! Dequantization, per block of 32 values (ggml's `block_q4_1` and `block_q8_0`; the `gguf`
//! Python package's `dequantize` gives the same bits, see the tests):
//! - Q4_1, 20 bytes: f16 `d`, f16 `m`, 16 bytes `qs`; value `j` (0..16) is `d * (qs[j] & 15) + m`,
//!   value `j + 16` is `d * (qs[j] >> 4) + m`, computed in f32 (multiply, then add).
//! - Q8_0, 34 bytes: f16 `d`, 32 i8 `qs`; value `j` is `qs[j] * d` in f32.
//!
//! A tensor's dimensions are ggml's `ne`: `ne[0]` is the fastest-varying (a row's length), so
//! a matrix `[cols, rows]` in the file is `rows` x `cols` row-major.

use anyhow::{Context, Result, bail, ensure};
use std::collections::BTreeMap;

/// The file's first bytes.
const MAGIC: &[u8; 4] = b"GGUF";
/// The data section's alignment unless `general.alignment` says otherwise.
const DEFAULT_ALIGNMENT: u64 = 32;
/// Bounds on counts read from the file, far above any real model's.
const TENSORS_MAX: u64 = 1 << 16;
const KEYS_MAX: u64 = 1 << 16;
const DIMS_MAX: u32 = 4;
/// Array nesting deeper than this is refused (real files nest at most once).
const DEPTH_MAX: usize = 2;

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Any unsigned integer type (u8, u16, u32, u64).
    Uint(u64),
    /// Any signed integer type (i8, i16, i32, i64).
    Int(i64),
    /// f32 or f64 (an f32 widened exactly).
    Float(f64),
    /// A bool.
    Bool(bool),
    /// A UTF-8 string.
    String(String),
    /// An array.
    Array(Vec<Value>),
}

/// The ggml tensor types this reader dequantizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// f32.
    F32,
    /// f16.
    F16,
    /// 4-bit with a scale and a minimum per 32 values.
    Q4_1,
    /// 8-bit with a scale per 32 values.
    Q8_0,
}

impl Type {
    fn from_id(id: u32) -> Option<Type> {
        Some(match id {
            0 => Type::F32,
            1 => Type::F16,
            3 => Type::Q4_1,
            8 => Type::Q8_0,
            _ => return None,
        })
    }

    /// (values per block, bytes per block).
    fn block(self) -> (u64, u64) {
        match self {
            Type::F32 => (1, 4),
            Type::F16 => (1, 2),
            Type::Q4_1 => (32, 20),
            Type::Q8_0 => (32, 34),
        }
    }
}

/// A tensor's place and shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// ggml's `ne`, fastest-varying first.
    pub dims: Vec<u64>,
    /// Its type.
    pub kind: Type,
    /// Its bytes' range in the file.
    start: usize,
    end: usize,
}

/// A parsed GGUF file over its bytes.
pub struct Gguf<'a> {
    bytes: &'a [u8],
    /// The metadata, by key.
    pub metadata: BTreeMap<String, Value>,
    /// The tensors, by name.
    pub tensors: BTreeMap<String, Tensor>,
}

/// Reads the file front to back; every read is checked against what is left.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
        let left = (self.bytes.len() - self.at) as u64;
        ensure!(
            n <= left,
            "GGUF: {what} needs {n} bytes at offset {}; the file has {left} left",
            self.at
        );
        let slice = &self.bytes[self.at..self.at + n as usize];
        self.at += n as usize;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        Ok(self.take(N as u64, what)?.try_into().expect("N bytes"))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let len = self.u64(what)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).with_context(|| format!("GGUF: {what} is not UTF-8"))
    }

    /// A value of type `id` (GGUF's `gguf_metadata_value_type`).
    fn value(&mut self, id: u32, what: &str, depth: usize) -> Result<Value> {
        Ok(match id {
            0 => Value::Uint(self.array::<1>(what)?[0].into()),
            1 => Value::Int((self.array::<1>(what)?[0] as i8).into()),
            2 => Value::Uint(u16::from_le_bytes(self.array(what)?).into()),
            3 => Value::Int(i16::from_le_bytes(self.array(what)?).into()),
            4 => Value::Uint(self.u32(what)?.into()),
            5 => Value::Int(i32::from_le_bytes(self.array(what)?).into()),
            6 => Value::Float(f32::from_le_bytes(self.array(what)?).into()),
            7 => match self.array::<1>(what)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                other => bail!("GGUF: {what} is a bool of value {other}"),
            },
            8 => Value::String(self.string(what)?),
            9 => {
                ensure!(depth < DEPTH_MAX, "GGUF: {what} nests arrays too deeply");
                let inner = self.u32(what)?;
                let len = self.u64(what)?;
                // Every element takes at least one byte: a count beyond the file is refused
                // before anything is allocated.
                let left = (self.bytes.len() - self.at) as u64;
                ensure!(
                    len <= left,
                    "GGUF: {what} declares {len} elements; the file has {left} bytes left"
                );
                let mut items = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    items.push(self.value(inner, what, depth + 1)?);
                }
                Value::Array(items)
            }
            10 => Value::Uint(self.u64(what)?),
            11 => Value::Int(i64::from_le_bytes(self.array(what)?)),
            12 => Value::Float(f64::from_le_bytes(self.array(what)?)),
            other => bail!("GGUF: {what} has unknown value type {other}"),
        })
    }
}

impl<'a> Gguf<'a> {
    /// Parses the header, the metadata and the tensor infos of `bytes`, and checks that every
    /// tensor's data lies inside the file.
    pub fn parse(bytes: &'a [u8]) -> Result<Gguf<'a>> {
        let mut cur = Cursor { bytes, at: 0 };
        ensure!(
            cur.take(4, "the magic")? == MAGIC,
            "not a GGUF file (no GGUF magic)"
        );
        let version = cur.u32("the version")?;
        ensure!(
            version == 2 || version == 3,
            "GGUF version {version}; this reader reads versions 2 and 3"
        );
        let tensor_count = cur.u64("the tensor count")?;
        let key_count = cur.u64("the key count")?;
        ensure!(
            tensor_count <= TENSORS_MAX && key_count <= KEYS_MAX,
            "GGUF: {tensor_count} tensors and {key_count} keys; at most {TENSORS_MAX} of each"
        );
        let mut metadata = BTreeMap::new();
        for _ in 0..key_count {
            let key = cur.string("a metadata key")?;
            let id = cur.u32(&key)?;
            let value = cur.value(id, &key, 0)?;
            ensure!(
                metadata.insert(key.clone(), value).is_none(),
                "GGUF: key {key} appears twice"
            );
        }
        let mut infos = Vec::new();
        for _ in 0..tensor_count {
            let name = cur.string("a tensor name")?;
            let n_dims = cur.u32(&name)?;
            ensure!(
                (1..=DIMS_MAX).contains(&n_dims),
                "GGUF: tensor {name} has {n_dims} dimensions"
            );
            let dims = (0..n_dims)
                .map(|_| cur.u64(&name))
                .collect::<Result<Vec<_>>>()?;
            let id = cur.u32(&name)?;
            let offset = cur.u64(&name)?;
            infos.push((name, dims, id, offset));
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(Value::Uint(a)) if a.is_power_of_two() => *a,
            Some(other) => bail!("GGUF: general.alignment is {other:?}"),
        };
        let data = (cur.at as u64).next_multiple_of(alignment);
        let mut tensors = BTreeMap::new();
        for (name, dims, id, offset) in infos {
            let kind = Type::from_id(id).with_context(|| {
                format!("GGUF: tensor {name} has type {id}, not F32, F16, Q4_1 or Q8_0")
            })?;
            let count = dims
                .iter()
                .try_fold(1u64, |n, d| n.checked_mul(*d))
                .filter(|n| *n > 0)
                .with_context(|| format!("GGUF: tensor {name} has dimensions {dims:?}"))?;
            let (per_block, block_bytes) = kind.block();
            ensure!(
                dims[0] % per_block == 0,
                "GGUF: tensor {name}'s rows of {} do not split into blocks of {per_block}",
                dims[0]
            );
            let len = count / per_block * block_bytes;
            let start = data.checked_add(offset);
            let end = start.and_then(|s| s.checked_add(len));
            let (Some(start), Some(end)) = (start, end) else {
                bail!("GGUF: tensor {name}'s offset {offset} overflows");
            };
            ensure!(
                offset % alignment == 0 && end <= bytes.len() as u64,
                "GGUF: tensor {name} at data offset {offset} ({len} bytes) is unaligned or past \
                 the end of the {}-byte file",
                bytes.len()
            );
            let (start, end) = (start as usize, end as usize);
            let tensor = Tensor {
                dims,
                kind,
                start,
                end,
            };
            ensure!(
                tensors.insert(name.clone(), tensor).is_none(),
                "GGUF: tensor {name} appears twice"
            );
        }
        Ok(Gguf {
            bytes,
            metadata,
            tensors,
        })
    }

    /// The metadata value `key`.
    pub fn get(&self, key: &str) -> Result<&Value> {
        self.metadata
            .get(key)
            .with_context(|| format!("GGUF: no metadata key {key}"))
    }

    /// The unsigned integer `key`.
    pub fn uint(&self, key: &str) -> Result<u64> {
        match self.get(key)? {
            Value::Uint(v) => Ok(*v),
            Value::Int(v) if *v >= 0 => Ok(*v as u64),
            other => bail!("GGUF: {key} is {other:?}, not an unsigned integer"),
        }
    }

    /// The float `key`, as f32 (an f32 in the file comes back exactly).
    pub fn float(&self, key: &str) -> Result<f32> {
        match self.get(key)? {
            Value::Float(v) => Ok(*v as f32),
            other => bail!("GGUF: {key} is {other:?}, not a float"),
        }
    }

    /// The string `key`.
    pub fn string(&self, key: &str) -> Result<&str> {
        match self.get(key)? {
            Value::String(v) => Ok(v),
            other => bail!("GGUF: {key} is {other:?}, not a string"),
        }
    }

    /// The array `key`.
    pub fn array(&self, key: &str) -> Result<&[Value]> {
        match self.get(key)? {
            Value::Array(v) => Ok(v),
            other => bail!("GGUF: {key} is {other:?}, not an array"),
        }
    }

    /// Tensor `name` dequantized to f32, which must have ggml dimensions `dims` (fastest first).
    pub fn tensor_f32(&self, name: &str, dims: &[u64]) -> Result<Vec<f32>> {
        let tensor = self
            .tensors
            .get(name)
            .with_context(|| format!("GGUF: no tensor {name}"))?;
        ensure!(
            tensor.dims == dims,
            "GGUF: tensor {name} has dimensions {:?}, expected {dims:?}",
            tensor.dims
        );
        Ok(dequantize(
            tensor.kind,
            &self.bytes[tensor.start..tensor.end],
        ))
    }
}

/// An f16's bits as f32 (exact: every f16 is an f32).
fn f16(bytes: [u8; 2]) -> f32 {
    half::f16::from_le_bytes(bytes).to_f32()
}

/// `data` (whole blocks of `kind`) dequantized.
fn dequantize(kind: Type, data: &[u8]) -> Vec<f32> {
    match kind {
        Type::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Type::F16 => data.chunks_exact(2).map(|b| f16([b[0], b[1]])).collect(),
        Type::Q4_1 => {
            let mut out = Vec::with_capacity(data.len() / 20 * 32);
            for block in data.chunks_exact(20) {
                let d = f16([block[0], block[1]]);
                let m = f16([block[2], block[3]]);
                let qs = &block[4..20];
                out.extend(qs.iter().map(|q| d * f32::from(q & 15) + m));
                out.extend(qs.iter().map(|q| d * f32::from(q >> 4) + m));
            }
            out
        }
        Type::Q8_0 => {
            let mut out = Vec::with_capacity(data.len() / 34 * 32);
            for block in data.chunks_exact(34) {
                let d = f16([block[0], block[1]]);
                out.extend(block[2..].iter().map(|q| f32::from(*q as i8) * d));
            }
            out
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
