//! Handing the engine's freed memory back to the system before the report is
//! written, so that a run's peak memory is the engine's, not the engine's plus
//! the report's.
//!
//! glibc's `malloc` keeps freed blocks for reuse; the engine frees millions of
//! small ones (sessions, dormant visitors), which the report's few large
//! buffers cannot reuse, so its resident memory grew by a third at the end of
//! a 10M-event replay. `malloc_trim(0)` returns the free pages to the kernel.
//! Elsewhere (other C libraries, other systems) this does nothing.

/// Returns the free memory of the allocator to the system, where that is possible.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only reorganises glibc's own free lists; it takes no
    // pointer and may be called at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}
