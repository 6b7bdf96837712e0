//! Admission: the deterministic check every validator and provider runs on a submitted module,
//! and the rewrite that makes all of its state observable.
//!
//! The checks (each failure is its own [`AdmissionError`] variant):
//! - size at most `MODULE_BYTES_MAX`; well-formed WebAssembly (validated with every feature on, so
//!   a module that only uses a refused feature is told which one);
//! - only the features of the guest ABI (`ALLOWED_FEATURES`): refused ones are named;
//! - imports only from the table in `jobs/README.md`, with exactly those signatures;
//! - exactly one memory, defined (not imported), with a maximum of at most `MEMORY_PAGES_MAX`;
//! - exports `memory`, `init: () -> ()`, `step: () -> i32`, `plexus_output: global i32` (immutable);
//! - no start function: state 0 is the instantiated module, before any guest code ran, so it
//!   costs no fuel and needs no special case in segment 0;
//! - nothing that keeps state outside memory and mutable globals: mutable globals must be numeric,
//!   and the instructions that change tables or segments (`table.set/grow/fill/copy/init`,
//!   `elem.drop`, `data.drop`) are refused, because a checkpoint could not restore them;
//! - tables no larger than `TABLE_ELEMENTS_MAX` (instantiation allocates them up front).
//!
//! The rewrite exports every mutable global that is not exported yet as `__plexus_global_{index}`:
//! all sections are copied byte for byte except the export section, which is re-encoded with the
//! added entries. The module hash is BLAKE3 of the submitted bytes, not of the rewrite.

use crate::{MEMORY_PAGES_MAX, MODULE_BYTES_MAX, TABLE_ELEMENTS_MAX};
use plexus_types::ContentHash;
use wasm_encoder::{ExportKind as EncExportKind, ExportSection, Module as EncModule, RawSection};
use wasmparser::{
    ExternalKind, FuncType, Operator, Parser, Payload, TypeRef, ValType, Validator, WasmFeatures,
};

/// The WebAssembly features a job may use: the MVP plus mutable globals, sign extension,
/// saturating float-to-int, bulk memory, multi-value, reference types (`funcref` only) and
/// fixed-width SIMD.
pub const ALLOWED_FEATURES: WasmFeatures = WasmFeatures::FLOATS
    .union(WasmFeatures::MUTABLE_GLOBAL)
    .union(WasmFeatures::SATURATING_FLOAT_TO_INT)
    .union(WasmFeatures::SIGN_EXTENSION)
    .union(WasmFeatures::REFERENCE_TYPES)
    .union(WasmFeatures::MULTI_VALUE)
    .union(WasmFeatures::BULK_MEMORY)
    .union(WasmFeatures::SIMD);

/// Refused features with the names admission reports, tried one at a time on top of
/// `ALLOWED_FEATURES` to name the one a module needs.
const REFUSED_FEATURES: [(&str, WasmFeatures); 13] = [
    ("threads", WasmFeatures::THREADS),
    ("relaxed-simd", WasmFeatures::RELAXED_SIMD),
    ("memory64", WasmFeatures::MEMORY64),
    ("multi-memory", WasmFeatures::MULTI_MEMORY),
    ("exceptions", WasmFeatures::EXCEPTIONS),
    ("legacy-exceptions", WasmFeatures::LEGACY_EXCEPTIONS),
    ("tail-call", WasmFeatures::TAIL_CALL),
    ("extended-const", WasmFeatures::EXTENDED_CONST),
    ("externref", WasmFeatures::GC_TYPES),
    ("function-references", WasmFeatures::FUNCTION_REFERENCES),
    (
        "gc",
        WasmFeatures::GC
            .union(WasmFeatures::GC_TYPES)
            .union(WasmFeatures::FUNCTION_REFERENCES),
    ),
    ("wide-arithmetic", WasmFeatures::WIDE_ARITHMETIC),
    ("custom-page-sizes", WasmFeatures::CUSTOM_PAGE_SIZES),
];

/// Prefix of the export names admission adds for mutable globals.
pub const GLOBAL_EXPORT_PREFIX: &str = "__plexus_global_";

/// Name of the exported immutable global holding the address of the output record.
pub const OUTPUT_EXPORT: &str = "plexus_output";

/// The host functions a module may import from module `plexus`: name, params, results.
pub const HOST_IMPORTS: [(&str, &[ValType], &[ValType]); 13] = [
    ("input_len", &[], &[ValType::I32]),
    ("input_read", &[ValType::I32; 3], &[ValType::I32]),
    ("blob_count", &[], &[ValType::I32]),
    ("blob_len", &[ValType::I32], &[ValType::I64]),
    (
        "blob_read",
        &[ValType::I32, ValType::I64, ValType::I32, ValType::I32],
        &[ValType::I32],
    ),
    (
        "random_fill",
        &[ValType::I64, ValType::I32, ValType::I32],
        &[],
    ),
    ("gemm_i8", &[ValType::I32; 7], &[]),
    ("quantize_rows", &[ValType::I32; 5], &[]),
    ("dequantize_rows", &[ValType::I32; 8], &[]),
    (
        "layer_norm",
        &[
            ValType::I32,
            ValType::I32,
            ValType::I32,
            ValType::I32,
            ValType::I32,
            ValType::F32,
        ],
        &[],
    ),
    ("gelu", &[ValType::I32; 2], &[]),
    ("attention", &[ValType::I32; 5], &[]),
    ("kv_attention", &[ValType::I32; 13], &[]),
];

/// The module name of every allowed import.
pub const HOST_MODULE: &str = "plexus";

/// A module that passed admission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// BLAKE3 of the submitted bytes: the module's address on chain.
    pub hash: ContentHash,
    /// The rewritten module (every mutable global exported).
    pub bytes: Vec<u8>,
    /// The export name of each mutable global, in global-index order (the order of
    /// `globals_hash`).
    pub globals: Vec<String>,
    /// The declared maximum memory size in pages.
    pub memory_pages_max: u64,
}

/// Why a module was refused. Deterministic: every validator refuses the same modules for the
/// same reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// The module is larger than `MODULE_BYTES_MAX`.
    #[error("module is {bytes} bytes, more than the {max} allowed")]
    TooLarge {
        /// Submitted size.
        bytes: usize,
        /// `MODULE_BYTES_MAX`.
        max: usize,
    },
    /// Not a valid WebAssembly module even with every feature enabled.
    #[error("malformed module at byte {offset}: {reason}")]
    Malformed {
        /// Offset of the error in the module.
        offset: usize,
        /// The validator's message.
        reason: String,
    },
    /// The module needs a WebAssembly feature jobs may not use.
    #[error("module uses the refused feature {feature}: {reason}")]
    ForbiddenFeature {
        /// The feature's name (`threads`, `memory64`, ...), or `several` if no single refused
        /// feature explains the failure.
        feature: &'static str,
        /// The validator's message under the allowed features.
        reason: String,
    },
    /// An import that is not in the host API.
    #[error("forbidden import {module}.{name}")]
    ForbiddenImport {
        /// Import module name.
        module: String,
        /// Import item name.
        name: String,
    },
    /// A host API import with the wrong type.
    #[error("import plexus.{name} has the wrong signature (expected {expected})")]
    ImportSignature {
        /// Import item name.
        name: String,
        /// The expected signature, as text.
        expected: String,
    },
    /// A required export is missing.
    #[error("missing export {name}")]
    MissingExport {
        /// The export's name.
        name: &'static str,
    },
    /// A required export has the wrong kind or type.
    #[error("export {name} has the wrong type (expected {expected})")]
    ExportType {
        /// The export's name.
        name: &'static str,
        /// The expected kind and type, as text.
        expected: &'static str,
    },
    /// The module does not define exactly one memory.
    #[error("module defines {count} memories; exactly one is required")]
    MemoryCount {
        /// Memories defined.
        count: usize,
    },
    /// The memory declares no maximum.
    #[error("memory declares no maximum size")]
    MemoryUnbounded,
    /// The memory's maximum is above `MEMORY_PAGES_MAX`.
    #[error("memory maximum is {pages} pages, more than the {max} allowed")]
    MemoryTooLarge {
        /// Declared maximum.
        pages: u64,
        /// `MEMORY_PAGES_MAX`.
        max: u64,
    },
    /// A table larger than `TABLE_ELEMENTS_MAX`.
    #[error("table {index} starts with {elements} elements, more than the {max} allowed")]
    TableTooLarge {
        /// Table index.
        index: u32,
        /// Declared initial size.
        elements: u64,
        /// `TABLE_ELEMENTS_MAX`.
        max: u64,
    },
    /// The module has a start function.
    #[error("module has a start function (function {function}); jobs start in init")]
    StartFunction {
        /// The start function's index.
        function: u32,
    },
    /// A mutable global of a reference type (its value cannot be checkpointed).
    #[error("mutable global {index} has a reference type")]
    MutableReferenceGlobal {
        /// Global index.
        index: u32,
    },
    /// An instruction that changes state a checkpoint cannot capture.
    #[error(
        "function {function} uses {instruction}, which changes state outside memory and globals"
    )]
    StatefulInstruction {
        /// Function index (imports included).
        function: u32,
        /// The instruction's name.
        instruction: &'static str,
    },
    /// An export named like the ones admission adds for mutable globals: the rewritten module
    /// would export one name twice.
    #[error("export {name} uses the reserved prefix {GLOBAL_EXPORT_PREFIX}")]
    ReservedExport {
        /// The export's name.
        name: String,
    },
}

/// Checks `bytes` against the guest ABI and returns the rewritten module.
pub fn admit(bytes: &[u8]) -> Result<Admitted, AdmissionError> {
    if bytes.len() > MODULE_BYTES_MAX {
        return Err(AdmissionError::TooLarge {
            bytes: bytes.len(),
            max: MODULE_BYTES_MAX,
        });
    }
    check_features(bytes)?;
    let scan = scan(bytes)?;
    let memory_pages_max = check_memory(&scan)?;
    check_exports(&scan)?;
    let (rewritten, globals) = rewrite(bytes, &scan)?;
    Ok(Admitted {
        hash: ContentHash::of(bytes),
        bytes: rewritten,
        globals,
        memory_pages_max,
    })
}

fn check_features(bytes: &[u8]) -> Result<(), AdmissionError> {
    let Err(error) = Validator::new_with_features(ALLOWED_FEATURES).validate_all(bytes) else {
        return Ok(());
    };
    if let Err(invalid) = Validator::new_with_features(WasmFeatures::all()).validate_all(bytes) {
        return Err(malformed(invalid));
    }
    let feature = REFUSED_FEATURES
        .iter()
        .find(|(_, extra)| {
            Validator::new_with_features(ALLOWED_FEATURES.union(*extra))
                .validate_all(bytes)
                .is_ok()
        })
        .map_or("several", |(name, _)| name);
    Err(AdmissionError::ForbiddenFeature {
        feature,
        reason: error.message().to_string(),
    })
}

/// What admission learned from one pass over a valid module.
#[derive(Default)]
struct Scan {
    types: Vec<Option<FuncType>>,
    /// Type index of every function, imports first.
    functions: Vec<u32>,
    /// Mutability and type of every global (no global imports survive the import check).
    globals: Vec<(bool, ValType)>,
    memories: Vec<wasmparser::MemoryType>,
    exports: Vec<(String, ExternalKind, u32)>,
    /// Byte range of the export section's contents in the submitted module.
    export_section: Option<std::ops::Range<usize>>,
}

fn malformed(error: wasmparser::BinaryReaderError) -> AdmissionError {
    // wasmparser's messages may span lines (a pretty-printed byte array): keep one line.
    let reason = error
        .message()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    AdmissionError::Malformed {
        offset: error.offset(),
        reason,
    }
}

fn scan(bytes: &[u8]) -> Result<Scan, AdmissionError> {
    let mut scan = Scan::default();
    let mut imported_functions = 0u32;
    let mut body_index = 0u32;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(malformed)? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(malformed)?.into_types() {
                        let func = match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(func) => Some(func.clone()),
                            _ => None,
                        };
                        scan.types.push(func);
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(malformed)?;
                    check_import(&scan, &import)?;
                    if let TypeRef::Func(index) | TypeRef::FuncExact(index) = import.ty {
                        scan.functions.push(index);
                        imported_functions += 1;
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for index in reader {
                    scan.functions.push(index.map_err(malformed)?);
                }
            }
            Payload::TableSection(reader) => {
                for (index, table) in (0u32..).zip(reader) {
                    let elements = table.map_err(malformed)?.ty.initial;
                    if elements > TABLE_ELEMENTS_MAX {
                        return Err(AdmissionError::TableTooLarge {
                            index,
                            elements,
                            max: TABLE_ELEMENTS_MAX,
                        });
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    scan.memories.push(memory.map_err(malformed)?);
                }
            }
            Payload::GlobalSection(reader) => {
                for (index, global) in (0u32..).zip(reader) {
                    let ty = global.map_err(malformed)?.ty;
                    if ty.mutable && matches!(ty.content_type, ValType::Ref(_)) {
                        return Err(AdmissionError::MutableReferenceGlobal { index });
                    }
                    scan.globals.push((ty.mutable, ty.content_type));
                }
            }
            Payload::ExportSection(reader) => {
                scan.export_section = Some(reader.range());
                for export in reader {
                    let export = export.map_err(malformed)?;
                    // Only the name admission itself gives a global may use the prefix (so a
                    // rewritten module is admitted again unchanged).
                    if export.name.starts_with(GLOBAL_EXPORT_PREFIX)
                        && (export.kind != ExternalKind::Global
                            || export.name != format!("{GLOBAL_EXPORT_PREFIX}{}", export.index))
                    {
                        return Err(AdmissionError::ReservedExport {
                            name: export.name.to_string(),
                        });
                    }
                    scan.exports
                        .push((export.name.to_string(), export.kind, export.index));
                }
            }
            Payload::StartSection { func, .. } => {
                return Err(AdmissionError::StartFunction { function: func });
            }
            Payload::CodeSectionEntry(body) => {
                check_body(imported_functions + body_index, &body)?;
                body_index += 1;
            }
            _ => {}
        }
    }
    Ok(scan)
}

fn signature_text(params: &[ValType], results: &[ValType]) -> String {
    let list = |types: &[ValType]| {
        types
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}

fn check_import(scan: &Scan, import: &wasmparser::Import<'_>) -> Result<(), AdmissionError> {
    let forbidden = || AdmissionError::ForbiddenImport {
        module: import.module.to_string(),
        name: import.name.to_string(),
    };
    if import.module != HOST_MODULE {
        return Err(forbidden());
    }
    let Some((_, params, results)) = HOST_IMPORTS
        .iter()
        .find(|(name, _, _)| *name == import.name)
    else {
        return Err(forbidden());
    };
    let wrong = || AdmissionError::ImportSignature {
        name: import.name.to_string(),
        expected: signature_text(params, results),
    };
    let (TypeRef::Func(index) | TypeRef::FuncExact(index)) = import.ty else {
        return Err(wrong());
    };
    match scan.types.get(index as usize) {
        Some(Some(func)) if func.params() == *params && func.results() == *results => Ok(()),
        _ => Err(wrong()),
    }
}

fn check_body(function: u32, body: &wasmparser::FunctionBody<'_>) -> Result<(), AdmissionError> {
    let mut reader = body.get_operators_reader().map_err(malformed)?;
    while !reader.eof() {
        let instruction = match reader.read().map_err(malformed)? {
            Operator::TableSet { .. } => "table.set",
            Operator::TableGrow { .. } => "table.grow",
            Operator::TableFill { .. } => "table.fill",
            Operator::TableCopy { .. } => "table.copy",
            Operator::TableInit { .. } => "table.init",
            Operator::ElemDrop { .. } => "elem.drop",
            Operator::DataDrop { .. } => "data.drop",
            _ => continue,
        };
        return Err(AdmissionError::StatefulInstruction {
            function,
            instruction,
        });
    }
    Ok(())
}

fn check_memory(scan: &Scan) -> Result<u64, AdmissionError> {
    // Imported memories are refused by the import check, so these are all the memories.
    let [memory] = scan.memories.as_slice() else {
        return Err(AdmissionError::MemoryCount {
            count: scan.memories.len(),
        });
    };
    let pages = memory.maximum.ok_or(AdmissionError::MemoryUnbounded)?;
    if pages > MEMORY_PAGES_MAX {
        return Err(AdmissionError::MemoryTooLarge {
            pages,
            max: MEMORY_PAGES_MAX,
        });
    }
    Ok(pages)
}

fn find_export(scan: &Scan, name: &'static str) -> Result<(ExternalKind, u32), AdmissionError> {
    scan.exports
        .iter()
        .find(|(export, _, _)| export == name)
        .map(|(_, kind, index)| (*kind, *index))
        .ok_or(AdmissionError::MissingExport { name })
}

fn check_function_export(
    scan: &Scan,
    name: &'static str,
    results: &[ValType],
    expected: &'static str,
) -> Result<(), AdmissionError> {
    let wrong = AdmissionError::ExportType { name, expected };
    let (kind, index) = find_export(scan, name)?;
    if kind != ExternalKind::Func {
        return Err(wrong);
    }
    let func = scan
        .functions
        .get(index as usize)
        .and_then(|ty| scan.types.get(*ty as usize))
        .and_then(Option::as_ref);
    match func {
        Some(func) if func.params().is_empty() && func.results() == results => Ok(()),
        _ => Err(wrong),
    }
}

fn check_exports(scan: &Scan) -> Result<(), AdmissionError> {
    let (kind, _) = find_export(scan, "memory")?;
    if kind != ExternalKind::Memory {
        return Err(AdmissionError::ExportType {
            name: "memory",
            expected: "memory",
        });
    }
    check_function_export(scan, "init", &[], "func () -> ()")?;
    check_function_export(scan, "step", &[ValType::I32], "func () -> i32")?;
    let (kind, index) = find_export(scan, OUTPUT_EXPORT)?;
    let global = scan.globals.get(index as usize);
    if kind != ExternalKind::Global || global != Some(&(false, ValType::I32)) {
        return Err(AdmissionError::ExportType {
            name: OUTPUT_EXPORT,
            expected: "immutable global i32",
        });
    }
    Ok(())
}

/// Re-encodes the export section with every mutable global exported; returns the new module
/// and the export name of each mutable global in index order.
fn rewrite(bytes: &[u8], scan: &Scan) -> Result<(Vec<u8>, Vec<String>), AdmissionError> {
    let mut names = Vec::new();
    let mut added = Vec::new();
    for (index, (mutable, _)) in (0u32..).zip(&scan.globals) {
        if !mutable {
            continue;
        }
        let existing = scan
            .exports
            .iter()
            .find(|(_, kind, at)| *kind == ExternalKind::Global && *at == index);
        match existing {
            Some((name, _, _)) => names.push(name.clone()),
            None => {
                let name = format!("{GLOBAL_EXPORT_PREFIX}{index}");
                names.push(name.clone());
                added.push((name, index));
            }
        }
    }
    if added.is_empty() {
        return Ok((bytes.to_vec(), names));
    }
    let mut exports = ExportSection::new();
    for (name, kind, index) in &scan.exports {
        exports.export(name, encoder_kind(*kind), *index);
    }
    for (name, index) in &added {
        exports.export(name, EncExportKind::Global, *index);
    }
    // A module that passed `check_exports` has an export section, so the new one replaces it
    // in place and section order is kept.
    let Some(export_range) = scan.export_section.clone() else {
        return Err(AdmissionError::MissingExport { name: "memory" });
    };
    let mut module = EncModule::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(malformed)?;
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        if range == export_range {
            module.section(&exports);
        } else {
            module.section(&RawSection {
                id,
                data: &bytes[range],
            });
        }
    }
    Ok((module.finish(), names))
}

fn encoder_kind(kind: ExternalKind) -> EncExportKind {
    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => EncExportKind::Func,
        ExternalKind::Table => EncExportKind::Table,
        ExternalKind::Memory => EncExportKind::Memory,
        ExternalKind::Global => EncExportKind::Global,
        ExternalKind::Tag => EncExportKind::Tag,
    }
}
