//! The step ABI: the [`Job`] trait, the module exports [`export_job!`] generates, and
//! [`run_native`] for running the same job in-process.
//!
//! Between two calls the wasm stack is empty, so a job keeps everything it needs across steps in
//! its own value (held in a static by the exports). A job should allocate its buffers in `init`
//! and reuse them in `step`: the guest allocator never returns memory (the
//! `heap` module), and the fewer pages a step writes, the cheaper its checkpoint.

use crate::Host;
use alloc::vec::Vec;

/// A job under the step ABI.
pub trait Job: Sized {
    /// Called once, first: reads the input and blobs, checks them, allocates the buffers.
    /// Rejects a bad input by panicking (a trap on wasm32, so the job fails deterministically).
    fn init<H: Host>(host: &H) -> Self;

    /// Does one step of work; returns `true` if there is more to do.
    fn step<H: Host>(&mut self, host: &H) -> bool;

    /// The output bytes; final once `step` returned `false`.
    fn output(&self) -> &[u8];
}

/// The record the exported `plexus_output` global points at: where the output bytes are.
/// Both fields are little-endian u32 in memory (wasm32 is little-endian).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputRecord {
    /// Address of the first output byte.
    pub ptr: u32,
    /// Number of output bytes.
    pub len: u32,
}

/// Runs `J` to completion on `host` the way the executor would (init, then step until done);
/// returns the output and the number of `step` calls.
pub fn run_native<J: Job, H: Host>(host: &H) -> (Vec<u8>, u64) {
    let mut job = J::init(host);
    let mut steps = 1;
    while job.step(host) {
        steps += 1;
    }
    (job.output().to_vec(), steps)
}

/// Exports a [`Job`] type as a Plexus module: on wasm32 this defines the `init` and `step`
/// exports and the `plexus_output` static (exported by the linker as an immutable global holding
/// its address), keeps the job in a static between calls, and points the record at
/// `Job::output()` after every call. On other targets it expands to nothing.
///
/// Use it once, in the job crate's root: `plexus_guest::export_job!(MyJob);`
#[macro_export]
macro_rules! export_job {
    ($job:ty) => {
        #[cfg(target_arch = "wasm32")]
        mod __plexus_exports {
            use super::*;

            /// Where the output is; read by the host once `step` returned 0.
            #[unsafe(export_name = "plexus_output")]
            static mut PLEXUS_OUTPUT: $crate::OutputRecord =
                $crate::OutputRecord { ptr: 0, len: 0 };

            /// The job between calls (the wasm stack is empty then).
            static mut JOB: ::core::option::Option<$job> = ::core::option::Option::None;

            fn publish(job: &$job) {
                let output = <$job as $crate::Job>::output(job);
                let record = $crate::OutputRecord {
                    ptr: output.as_ptr() as u32,
                    len: output.len() as u32,
                };
                // SAFETY: wasm32 guests are single-threaded and the host only reads the record
                // between calls, so nothing else accesses it while this store runs.
                unsafe { ::core::ptr::write_volatile(&raw mut PLEXUS_OUTPUT, record) };
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn init() {
                let job = <$job as $crate::Job>::init(&$crate::WasmHost);
                // SAFETY: single-threaded; no reference to JOB outlives a call.
                let slot = unsafe { &mut *(&raw mut JOB) };
                publish(slot.insert(job));
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn step() -> i32 {
                // SAFETY: single-threaded; no reference to JOB outlives a call.
                let slot = unsafe { &mut *(&raw mut JOB) };
                // `step` before `init` is a host bug: trap.
                let job = slot
                    .as_mut()
                    .unwrap_or_else(|| ::core::arch::wasm32::unreachable());
                let more = <$job as $crate::Job>::step(job, &$crate::WasmHost);
                publish(job);
                i32::from(more)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VecHost;
    use alloc::vec;

    /// Sums its input bytes, one byte per step.
    struct Summer {
        input: Vec<u8>,
        next: usize,
        sum: [u8; 8],
    }

    impl Job for Summer {
        fn init<H: Host>(host: &H) -> Self {
            let input = host.read_input(16).expect("input too long");
            Self {
                input,
                next: 0,
                sum: [0; 8],
            }
        }

        fn step<H: Host>(&mut self, _host: &H) -> bool {
            if let Some(&byte) = self.input.get(self.next) {
                let sum = u64::from_le_bytes(self.sum) + u64::from(byte);
                self.sum = sum.to_le_bytes();
                self.next += 1;
            }
            self.next < self.input.len()
        }

        fn output(&self) -> &[u8] {
            &self.sum
        }
    }

    #[test]
    fn run_native_calls_step_until_done_and_counts_calls() {
        let host = VecHost::new(vec![1, 2, 3, 250], vec![]);
        let (output, steps) = run_native::<Summer, _>(&host);
        assert_eq!(output, 256u64.to_le_bytes());
        assert_eq!(steps, 4);
    }

    #[test]
    fn run_native_makes_one_step_call_even_for_empty_work() {
        let (output, steps) = run_native::<Summer, _>(&VecHost::new(vec![], vec![]));
        assert_eq!(output, [0; 8]);
        assert_eq!(steps, 1);
    }
}
