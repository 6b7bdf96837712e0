//! The guest's global allocator: a bump allocator over `memory.grow` (wasm32 only).
//!
//! The heap starts at the end of the memory the module was instantiated with (above the stack
//! and the data segments) and only grows. `dealloc` gives memory back only when it frees the
//! most recent allocation, and `realloc` of the most recent allocation extends it in place;
//! anything else is never reused. That is enough for jobs that allocate their buffers once in
//! `init` (the intended use) and keeps the allocator tiny and its behaviour a pure function of
//! the allocation sequence, so memory layout, and hence every checkpoint, is deterministic.
//! When `memory.grow` fails (the module's declared maximum) `alloc` returns null and Rust's
//! allocation-failure path traps.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;

use crate::PAGE_BYTES;

/// The bump allocator; the SDK installs one as the `#[global_allocator]` on wasm32.
pub struct BumpAllocator {
    /// The next free address; 0 until the first allocation.
    next: Cell<usize>,
    /// The end of the memory this allocator has grown so far.
    end: Cell<usize>,
}

// SAFETY: wasm32 guests are single-threaded (the threads proposal is refused at admission).
unsafe impl Sync for BumpAllocator {}

impl BumpAllocator {
    /// An allocator that has not allocated yet.
    pub const fn new() -> Self {
        Self {
            next: Cell::new(0),
            end: Cell::new(0),
        }
    }

    /// Makes `[next, next + size)` available at alignment `align`; returns its start.
    fn reserve(&self, size: usize, align: usize) -> Option<usize> {
        if self.next.get() == 0 {
            let top = core::arch::wasm32::memory_size(0) * PAGE_BYTES;
            self.next.set(top);
            self.end.set(top);
        }
        let start = self.next.get().checked_add(align - 1)? & !(align - 1);
        let stop = start.checked_add(size)?;
        if stop > self.end.get() {
            let pages = (stop - self.end.get()).div_ceil(PAGE_BYTES);
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                return None;
            }
            self.end.set(self.end.get() + pages * PAGE_BYTES);
        }
        self.next.set(stop);
        Some(start)
    }
}

impl Default for BumpAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every returned block is fresh memory below `end` that no other live block overlaps;
// memory handed back is only the most recent block, which the caller no longer uses.
unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.reserve(layout.size(), layout.align()) {
            Some(start) => start as *mut u8,
            None => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr as usize + layout.size() == self.next.get() {
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = ptr as usize;
        if start + layout.size() == self.next.get() {
            // The most recent block: grow or shrink it in place.
            self.next.set(start);
            return match self.reserve(new_size, 1) {
                Some(same) if same == start => ptr,
                _ => {
                    self.next.set(start + layout.size());
                    core::ptr::null_mut()
                }
            };
        }
        // SAFETY: `new_size` with the old alignment is a valid layout (GlobalAlloc contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: forwarded under the same contract.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct; the old one holds `layout.size()` bytes.
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: BumpAllocator = BumpAllocator::new();
