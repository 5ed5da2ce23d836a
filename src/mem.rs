//! Large buffers: a CRL of 100,000 entries and the revoked list behind it are tens of megabytes,
//! and faulting that memory in 4 KiB pages was a third of `gen-crl`'s time; unlocking an
//! encrypted key makes scrypt fill a 16 MiB work area, 4,096 page faults per process.

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator, with every block of [`BIG`] or more advised for huge pages as it is
/// handed out (before it is touched, so the advice applies to its first faults). That covers
/// buffers allocated inside other crates, such as scrypt's.
pub struct Alloc;

/// Blocks from this size on are advised (glibc maps them with mmap, untouched).
const BIG: usize = 4 << 20;

// SAFETY: every call is forwarded unchanged to `System`; the advice only changes how the kernel
// backs pages of a block `System` has just handed out.
unsafe impl GlobalAlloc for Alloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let p = unsafe { System.alloc(layout) };
        if layout.size() >= BIG && !p.is_null() {
            advise(p as usize, layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if layout.size() >= BIG && !p.is_null() {
            advise(p as usize, layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if new_size >= BIG && !p.is_null() {
            advise(p as usize, new_size);
        }
        p
    }
}

/// MADV_HUGEPAGE on the whole aligned 2 MiB stretches of [start, start + len).
fn advise(start: usize, len: usize) {
    const HUGE: usize = 2 << 20;
    let end = start + len;
    let (a, b) = ((start + HUGE - 1) & !(HUGE - 1), end & !(HUGE - 1));
    if b > a {
        // SAFETY: [a, b) lies inside one live allocation; MADV_HUGEPAGE only changes how the
        // kernel backs those pages, never their contents.
        unsafe { libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout};

    #[test]
    fn large_blocks_keep_their_contents_through_alloc_realloc_and_zeroing() {
        let a = super::Alloc;
        let big = Layout::from_size_align(super::BIG + 12345, 16).unwrap();
        // SAFETY: the layouts are non-zero-sized; every block is freed with its own layout.
        unsafe {
            let z = a.alloc_zeroed(big);
            assert!(!z.is_null());
            assert!(std::slice::from_raw_parts(z, big.size()).iter().all(|b| *b == 0));
            a.dealloc(z, big);
            let p = a.alloc(Layout::from_size_align(1000, 8).unwrap());
            for i in 0..1000 {
                *p.add(i) = i as u8;
            }
            let q = a.realloc(p, Layout::from_size_align(1000, 8).unwrap(), 3 * super::BIG);
            assert!((0..1000).all(|i| *q.add(i) == i as u8));
            std::ptr::write_bytes(q.add(1000), 7, 3 * super::BIG - 1000);
            assert_eq!(*q.add(3 * super::BIG - 1), 7);
            a.dealloc(q, Layout::from_size_align(3 * super::BIG, 8).unwrap());
        }
    }
}
