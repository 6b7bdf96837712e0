//! Admission: every refusal is its own error, and the rewrite exports mutable globals.

use plexus_exec::{AdmissionError, MEMORY_PAGES_MAX, MODULE_BYTES_MAX, admit};
use plexus_types::ContentHash;

/// A minimal valid job module; `extra` is spliced into the module body.
fn module(memory: &str, extra: &str) -> Vec<u8> {
    module_with_imports("", memory, extra)
}

/// Like `module`, with `imports` first (WAT wants imports before definitions).
fn module_with_imports(imports: &str, memory: &str, extra: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            {imports}
            {memory}
            (global (export "plexus_output") i32 (i32.const 0))
            (func (export "init"))
            (func (export "step") (result i32) (i32.const 0))
            {extra})"#
    ))
    .unwrap()
}

fn valid(extra: &str) -> Vec<u8> {
    module(r#"(memory (export "memory") 1 4)"#, extra)
}

fn importing(imports: &str) -> Vec<u8> {
    module_with_imports(imports, r#"(memory (export "memory") 1 4)"#, "")
}

#[test]
fn accepts_a_valid_module_and_hashes_the_submitted_bytes() {
    let bytes =
        importing(r#"(import "plexus" "gemm_i8" (func (param i32 i32 i32 i32 i32 i32 i32)))"#);
    let admitted = admit(&bytes).unwrap();
    assert_eq!(admitted.hash, ContentHash::of(&bytes));
    assert_eq!(admitted.memory_pages_max, 4);
    // No mutable globals: nothing to rewrite.
    assert_eq!(admitted.bytes, bytes);
    assert!(admitted.globals.is_empty());
}

#[test]
fn rewrite_exports_mutable_globals_in_index_order() {
    let bytes = wat::parse_str(
        r#"(module
            (memory (export "memory") 1 4)
            (global $a (mut i32) (i32.const 1))
            (global (export "plexus_output") i32 (i32.const 0))
            (global $b (export "kept") (mut i64) (i64.const 2))
            (global $c (mut f64) (f64.const 3))
            (func (export "init") (global.set $a (i32.const 5)))
            (func (export "step") (result i32) (i32.const 0))
            (data (i32.const 0) "hello"))"#,
    )
    .unwrap();
    let admitted = admit(&bytes).unwrap();
    assert_eq!(
        admitted.globals,
        ["__plexus_global_0", "kept", "__plexus_global_3"]
    );
    assert_ne!(admitted.bytes, bytes);
    // The rewrite is itself admissible, keeps the hash of the original, and is a fixed point.
    let again = admit(&admitted.bytes).unwrap();
    assert_eq!(again.globals, admitted.globals);
    assert_eq!(again.bytes, admitted.bytes);
    let printed = wasmprinter_like_exports(&admitted.bytes);
    assert!(printed.contains(&("__plexus_global_0".to_string(), 0)));
    assert!(printed.contains(&("__plexus_global_3".to_string(), 3)));
}

/// The (name, index) of every global export, read with wasmparser.
fn wasmprinter_like_exports(bytes: &[u8]) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let wasmparser::Payload::ExportSection(reader) = payload.unwrap() {
            for export in reader {
                let export = export.unwrap();
                if export.kind == wasmparser::ExternalKind::Global {
                    out.push((export.name.to_string(), export.index));
                }
            }
        }
    }
    out
}

#[test]
fn refuses_malformed_and_oversized_bytes() {
    assert!(matches!(
        admit(b"\0asm\x01\0\0\0garbage"),
        Err(AdmissionError::Malformed { .. })
    ));
    assert!(matches!(
        admit(b"not wasm"),
        Err(AdmissionError::Malformed { .. })
    ));
    let huge = vec![0u8; MODULE_BYTES_MAX + 1];
    assert_eq!(
        admit(&huge),
        Err(AdmissionError::TooLarge {
            bytes: MODULE_BYTES_MAX + 1,
            max: MODULE_BYTES_MAX
        })
    );
}

#[test]
fn admits_the_float_host_calls_with_their_signatures_only() {
    let bytes = importing(
        r#"(import "plexus" "quantize_rows" (func (param i32 i32 i32 i32 i32)))
           (import "plexus" "dequantize_rows" (func (param i32 i32 i32 i32 i32 i32 i32 i32)))
           (import "plexus" "layer_norm" (func (param i32 i32 i32 i32 i32 f32)))
           (import "plexus" "gelu" (func (param i32 i32)))
           (import "plexus" "attention" (func (param i32 i32 i32 i32 i32)))
           (import "plexus" "kv_attention"
             (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))"#,
    );
    admit(&bytes).unwrap();
    // kv_attention without its residual flag (its first signature) is another function.
    let err = admit(&importing(
        r#"(import "plexus" "kv_attention"
             (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))"#,
    ))
    .unwrap_err();
    assert!(
        matches!(&err, AdmissionError::ImportSignature { name, .. } if name == "kv_attention"),
        "{err}"
    );
    // `eps` is an f32: an i32 in its place is another function.
    let err = admit(&importing(
        r#"(import "plexus" "layer_norm" (func (param i32 i32 i32 i32 i32 i32)))"#,
    ))
    .unwrap_err();
    assert_eq!(
        err,
        AdmissionError::ImportSignature {
            name: "layer_norm".into(),
            expected: "(i32, i32, i32, i32, i32, f32) -> ()".into()
        }
    );
}

#[test]
fn refuses_forbidden_imports_and_wrong_signatures() {
    let err = admit(&importing(r#"(import "env" "clock" (func (result i64)))"#)).unwrap_err();
    assert_eq!(
        err,
        AdmissionError::ForbiddenImport {
            module: "env".into(),
            name: "clock".into()
        }
    );
    assert_eq!(err.to_string(), "forbidden import env.clock");
    let err = admit(&importing(
        r#"(import "plexus" "clock" (func (result i64)))"#,
    ))
    .unwrap_err();
    assert!(matches!(err, AdmissionError::ForbiddenImport { .. }));
    let err = admit(&importing(
        r#"(import "plexus" "input_len" (func (result i64)))"#,
    ))
    .unwrap_err();
    assert_eq!(
        err,
        AdmissionError::ImportSignature {
            name: "input_len".into(),
            expected: "() -> (i32)".into()
        }
    );
    // Importing anything but a function (here a global) from plexus is refused too.
    let err = admit(&importing(r#"(import "plexus" "input_len" (global i32))"#)).unwrap_err();
    assert!(matches!(err, AdmissionError::ImportSignature { .. }));
    // An imported memory is a forbidden import.
    let err = admit(&module_with_imports(
        r#"(import "env" "memory" (memory 1 4))"#,
        r#"(export "memory" (memory 0))"#,
        "",
    ))
    .unwrap_err();
    assert!(matches!(err, AdmissionError::ForbiddenImport { .. }));
}

#[test]
fn refuses_missing_or_mistyped_exports() {
    let no_step = wat::parse_str(
        r#"(module (memory (export "memory") 1 4)
            (global (export "plexus_output") i32 (i32.const 0))
            (func (export "init")))"#,
    )
    .unwrap();
    assert_eq!(
        admit(&no_step),
        Err(AdmissionError::MissingExport { name: "step" })
    );
    let no_memory_export = module("(memory 1 4)", "");
    assert_eq!(
        admit(&no_memory_export),
        Err(AdmissionError::MissingExport { name: "memory" })
    );
    let bad_step = wat::parse_str(
        r#"(module (memory (export "memory") 1 4)
            (global (export "plexus_output") i32 (i32.const 0))
            (func (export "init"))
            (func (export "step") (param i32) (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    assert!(matches!(
        admit(&bad_step),
        Err(AdmissionError::ExportType { name: "step", .. })
    ));
    let mutable_output = wat::parse_str(
        r#"(module (memory (export "memory") 1 4)
            (global (export "plexus_output") (mut i32) (i32.const 0))
            (func (export "init"))
            (func (export "step") (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    assert!(matches!(
        admit(&mutable_output),
        Err(AdmissionError::ExportType {
            name: "plexus_output",
            ..
        })
    ));
}

#[test]
fn refuses_unbounded_or_oversized_memory() {
    assert_eq!(
        admit(&module(r#"(memory (export "memory") 1)"#, "")),
        Err(AdmissionError::MemoryUnbounded)
    );
    let pages = MEMORY_PAGES_MAX + 1;
    assert_eq!(
        admit(&module(
            &format!(r#"(memory (export "memory") 1 {pages})"#),
            ""
        )),
        Err(AdmissionError::MemoryTooLarge {
            pages,
            max: MEMORY_PAGES_MAX
        })
    );
    assert_eq!(
        admit(&module("", "")),
        Err(AdmissionError::MemoryCount { count: 0 })
    );
}

#[test]
fn refuses_forbidden_features_by_name() {
    let shared = module(r#"(memory (export "memory") 1 4 shared)"#, "");
    assert!(matches!(
        admit(&shared),
        Err(AdmissionError::ForbiddenFeature {
            feature: "threads",
            ..
        })
    ));
    let atomics = valid(r#"(func (result i32) (i32.atomic.load (i32.const 0)))"#);
    assert!(matches!(
        admit(&atomics),
        Err(AdmissionError::ForbiddenFeature {
            feature: "threads",
            ..
        })
    ));
    let memory64 = module(r#"(memory (export "memory") i64 1 4)"#, "");
    assert!(matches!(
        admit(&memory64),
        Err(AdmissionError::ForbiddenFeature {
            feature: "memory64",
            ..
        })
    ));
    let two = valid("(memory 1 1)");
    assert!(matches!(
        admit(&two),
        Err(AdmissionError::ForbiddenFeature {
            feature: "multi-memory",
            ..
        })
    ));
    let relaxed = valid(
        r#"(func (param v128 v128) (result v128) (i8x16.relaxed_swizzle (local.get 0) (local.get 1)))"#,
    );
    assert!(matches!(
        admit(&relaxed),
        Err(AdmissionError::ForbiddenFeature {
            feature: "relaxed-simd",
            ..
        })
    ));
    let tail = valid("(func $f (return_call $f))");
    assert!(matches!(
        admit(&tail),
        Err(AdmissionError::ForbiddenFeature {
            feature: "tail-call",
            ..
        })
    ));
    // Fixed-width SIMD and bulk memory are allowed.
    let simd = valid(
        r#"(func (param v128 v128) (result v128) (i32x4.add (local.get 0) (local.get 1)))
           (func (memory.fill (i32.const 0) (i32.const 0) (i32.const 8)))"#,
    );
    admit(&simd).unwrap();
}

#[test]
fn refuses_state_a_checkpoint_cannot_capture() {
    let start = valid("(func $s) (start $s)");
    assert_eq!(
        admit(&start),
        Err(AdmissionError::StartFunction { function: 2 })
    );
    let table_set = valid(
        "(table 2 funcref) (func $f) (func (table.set 0 (i32.const 0) (ref.func $f))) (elem declare func $f)",
    );
    assert!(matches!(
        admit(&table_set),
        Err(AdmissionError::StatefulInstruction {
            instruction: "table.set",
            ..
        })
    ));
    let data_drop = valid(r#"(data $d "abc") (func (data.drop $d))"#);
    assert!(matches!(
        admit(&data_drop),
        Err(AdmissionError::StatefulInstruction {
            instruction: "data.drop",
            ..
        })
    ));
    let ref_global = valid("(global (mut funcref) (ref.null func))");
    assert_eq!(
        admit(&ref_global),
        Err(AdmissionError::MutableReferenceGlobal { index: 1 })
    );
    let big_table = valid("(table 100000 funcref)");
    assert!(matches!(
        admit(&big_table),
        Err(AdmissionError::TableTooLarge {
            elements: 100_000,
            ..
        })
    ));
}

/// Regression: a module exporting `__plexus_global_0` itself used to pass admission and then fail
/// to compile after the rewrite (a duplicate export), which left its provider retrying until the
/// deadline slashed it.
#[test]
fn refuses_exports_with_the_reserved_prefix() {
    let bytes = valid(
        r#"(global $g (mut i32) (i32.const 0))
           (func (export "__plexus_global_0"))"#,
    );
    assert_eq!(
        admit(&bytes),
        Err(AdmissionError::ReservedExport {
            name: "__plexus_global_0".into()
        })
    );
}
