//! How the worker process hands memory back to the operating system (glibc's malloc).
//!
//! A table job allocates and frees hundreds of megabytes of Arrow buffers. By default
//! glibc serves every block above a moving threshold (at most 32 MiB) with its own
//! `mmap` and returns freed memory at the top of a heap at once, so each buffer is
//! faulted in and zeroed by the kernel again: on the 1M-contract filter benchmark that
//! was half of the process's system time and about 7 % of the job's wall time, more
//! with two threads (the kernel serialises their page faults). [`retain_freed_memory`]
//! (called first thing by `main`) keeps freed memory in the allocator instead, for the
//! next table job; [`release_freed_memory`] gives it back in one go once table work has
//! been idle for a while (`services::TableCores`), so an idle worker does not sit on its
//! peak. The first job after an idle period pays the page faults again.
//!
//! It does not limit memory, and does nothing on targets without glibc. The only
//! `unsafe` in the workspace: two libc calls that take no pointers.

/// Blocks up to this size come from the heap, not from a fresh `mmap` (glibc's maximum
/// for the dynamic threshold, now fixed).
#[cfg(target_env = "gnu")]
const MMAP_THRESHOLD: libc::c_int = 32 * 1024 * 1024;

/// Tells malloc to keep freed memory for reuse (no trimming of heap tops, blocks up to
/// `MMAP_THRESHOLD`, 32 MiB, from the heap).
pub fn retain_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets allocator parameters; it takes no pointers and is safe
    // to call at any time from any thread.
    #[expect(unsafe_code, reason = "glibc's mallopt has no safe wrapper")]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
    }
}

/// Returns the allocator's free memory to the operating system.
pub fn release_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim takes no pointers and locks each arena it trims.
    #[expect(unsafe_code, reason = "glibc's malloc_trim has no safe wrapper")]
    unsafe {
        libc::malloc_trim(0);
    }
}
