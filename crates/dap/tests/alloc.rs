//! A hostile length prefix must not make the decoder allocate more than the input justifies:
//! a counting allocator records the largest single allocation and the total while decoding.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use detente_dap::*;

struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static TOTAL: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
            TOTAL.fetch_add(layout.size(), Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
            TOTAL.fetch_add(new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// (largest single allocation, total allocated) while running `f`.
fn measure(f: impl FnOnce()) -> (usize, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    TOTAL.store(0, Ordering::Relaxed);
    ON.store(true, Ordering::Relaxed);
    f();
    ON.store(false, Ordering::Relaxed);
    (
        LARGEST.load(Ordering::Relaxed),
        TOTAL.load(Ordering::Relaxed),
    )
}

// One test function: the counters are process-wide.
#[test]
fn hostile_prefixes_allocate_little() {
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        (
            "HpkeCiphertext payload 2^32-1",
            vec![1, 0, 1, 9, 0xff, 0xff, 0xff, 0xff, 1, 2],
        ),
        ("HpkeConfigList 2^16-1", vec![0xff, 0xff, 0, 0, 0x20]),
        ("Report public_share 2^32-1", {
            let mut v = vec![0; 24];
            v.extend_from_slice(&[0, 0, 0xff, 0xff, 0xff, 0xff]);
            v
        }),
        (
            "AggregationJobInitReq agg_param 2^32-1",
            vec![0, 0xff, 0xff, 0xff, 0xff, 0],
        ),
        (
            "CollectionJobReq extensions 2^16-1",
            vec![1, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
        ),
    ];
    for (what, bytes) in &hostile {
        let (largest, _) = measure(|| {
            let _ = HpkeCiphertext::decode(bytes);
            let _ = HpkeConfigList::decode(bytes);
            let _ = Report::decode(bytes);
            let _ = AggregationJobInitReq::decode(bytes);
            let _ = CollectionJobReq::decode(bytes);
            let _ = UploadRequest::decode(bytes);
        });
        assert!(largest <= 256, "{what}: allocated {largest} bytes at once");
    }

    // A long run of minimal items: allocation stays proportional to the input.
    let one = [7u8; 17]; // ReportUploadStatus: 16-byte ID + error
    let input: Vec<u8> = one.iter().copied().cycle().take(17 * 10_000).collect();
    let (largest, total) = measure(|| {
        let e = UploadErrors::decode(&input).unwrap();
        assert_eq!(e.status.len(), 10_000);
    });
    assert!(largest <= 4 * input.len(), "largest {largest}");
    assert!(total <= 8 * input.len(), "total {total}");

    // Minimal VerifyResps (finish: 17 bytes each) in an AggregationJobResp.
    let mut input = Vec::new();
    for i in 0..10_000u32 {
        input.extend_from_slice(&[0; 12]);
        input.extend_from_slice(&i.to_be_bytes());
        input.push(1);
    }
    let (largest, total) = measure(|| {
        let r = AggregationJobResp::decode(&input).unwrap();
        assert_eq!(r.verify_resps.len(), 10_000);
    });
    // Each VerifyResp is a few dozen bytes in memory; Vec doubling at most doubles that.
    let per_item = std::mem::size_of::<VerifyResp>();
    assert!(largest <= 2 * per_item * 10_000, "largest {largest}");
    assert!(total <= 4 * per_item * 10_000, "total {total}");
}
