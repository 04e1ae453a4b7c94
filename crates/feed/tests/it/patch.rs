//! Line patches: exactness on edge cases and random edits, strict and
//! bounded application, and the size for 1,000 lines added to 1,000,000.

use std::io::Write as _;
use std::time::Instant;

use detente_feed::*;

use crate::util::*;

fn round_trip(old: &[u8], new: &[u8]) -> Vec<u8> {
    let p = make_patch(old, new);
    let e = Entry::for_bytes("f", new).unwrap();
    assert_eq!(
        apply_patch(old, &p, &e).unwrap(),
        new,
        "patch {:?}",
        String::from_utf8_lossy(&p)
    );
    p
}

#[test]
fn exact_on_edge_cases() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"", b""),
        (b"", b"a\n"),
        (b"a\n", b""),
        (b"a\nb\n", b"a\nb\n"),
        (b"a\nb", b"a\nb\nc"),
        (b"a\nb", b"a\nb\n"),
        (b"a\nb\n", b"a\nb"),
        (b"x\nx\nx\n", b"x\nx\n"),
        (b"x\ny\nx\ny\n", b"y\nx\ny\nx\n"),
        (b"a\r\nb\r\n", b"a\r\nc\r\nb\r\n"),
        (b"\n\n\n", b"\n\n"),
        (b"a\nb\nc\nd\n", b"d\nc\nb\na\n"),
        (b"\x00\xff\n\x01", b"\x00\xff\n\x02"),
    ];
    for (old, new) in cases {
        round_trip(old, new);
    }
    assert_eq!(make_patch(b"a\nb\n", b"a\nb\n"), b"detente-patch/v1\nc 2\n");
    assert_eq!(
        make_patch(b"a\nb\nc\n", b"a\nB\nc\nd\n"),
        b"detente-patch/v1\nc 1\nd 1\na 2\nB\nc 1\na 2\nd\n"
    );
}

#[test]
fn exact_on_random_edits() {
    let mut rng = Rng::new(1);
    for round in 0..300 {
        let n = rng.below(60);
        // Few distinct lines, so repeated lines (the non-unique paths) occur.
        let alphabet = 1 + rng.below(if round % 2 == 0 { 5 } else { 1000 });
        let old: Vec<u64> = (0..n).map(|_| rng.below(alphabet)).collect();
        let mut new = old.clone();
        for _ in 0..rng.below(8) {
            match rng.below(3) {
                0 if !new.is_empty() => {
                    let i = rng.below(new.len() as u64) as usize;
                    new.remove(i);
                }
                _ => {
                    let i = rng.below(new.len() as u64 + 1) as usize;
                    new.insert(i, rng.below(alphabet));
                }
            }
        }
        let text = |v: &[u64]| -> Vec<u8> {
            v.iter()
                .flat_map(|x| format!("l{x}\n").into_bytes())
                .collect()
        };
        let (mut o, mut w) = (text(&old), text(&new));
        if round % 3 == 0 {
            o.pop();
            w.pop();
        }
        round_trip(&o, &w);
    }
}

#[test]
fn pathological_reorder_stays_linear() {
    // Reversed: each recursion level would find a single anchor.
    let old = db("Rev", 0..20_000);
    let lines: Vec<&[u8]> = old.split_inclusive(|&b| b == b'\n').rev().collect();
    let new = lines.concat();
    let t = Instant::now();
    let p = round_trip(&old, &new);
    println!(
        "reversed 20,000 lines: patch {} bytes in {:?}",
        p.len(),
        t.elapsed()
    );
    assert!(t.elapsed().as_secs() < 20);
    assert!(p.len() <= old.len() + 64 * 20_000);
}

#[test]
fn apply_is_strict_and_bounded() {
    let old = b"a\nb\nc\n";
    let new = b"a\nX\nc\n";
    let e = Entry::for_bytes("f", new).unwrap();
    let good = make_patch(old, new);
    assert_eq!(apply_patch(old, &good, &e).unwrap(), new);
    let cases: Vec<(Vec<u8>, PatchError)> = vec![
        (b"detente-patch/v2\nc 3\n".to_vec(), PatchError::Header),
        (b"detente-patch/v1".to_vec(), PatchError::Header),
        (
            b"detente-patch/v1\nc 03\n".to_vec(),
            PatchError::BadOp { offset: 17 },
        ),
        (
            b"detente-patch/v1\nc 0\n".to_vec(),
            PatchError::BadOp { offset: 17 },
        ),
        (
            b"detente-patch/v1\nx 1\n".to_vec(),
            PatchError::BadOp { offset: 17 },
        ),
        (
            b"detente-patch/v1\nc  1\n".to_vec(),
            PatchError::BadOp { offset: 17 },
        ),
        (
            b"detente-patch/v1\nc 1".to_vec(),
            PatchError::BadOp { offset: 17 },
        ),
        (
            b"detente-patch/v1\nc 1\nc 2\n".to_vec(),
            PatchError::NotCanonical { offset: 21 },
        ),
        (
            b"detente-patch/v1\na 2\nX\nd 3\n".to_vec(),
            PatchError::NotCanonical { offset: 23 },
        ),
        (
            b"detente-patch/v1\nc 4\n".to_vec(),
            PatchError::PastEnd { offset: 17 },
        ),
        (
            b"detente-patch/v1\nc 18446744073709551615\n".to_vec(),
            PatchError::PastEnd { offset: 17 },
        ),
        (b"detente-patch/v1\nc 2\n".to_vec(), PatchError::Leftover),
        (
            b"detente-patch/v1\nc 1\nd 1\na 9\nX\n".to_vec(),
            PatchError::Truncated { offset: 25 },
        ),
        (
            b"detente-patch/v1\nc 1\nd 1\na 3\nX\nYc 1\n".to_vec(),
            PatchError::TooLarge { max: 6 },
        ),
        (
            b"detente-patch/v1\nc 1\nd 2\n".to_vec(),
            PatchError::SizeMismatch { got: 2, want: 6 },
        ),
        (
            b"detente-patch/v1\nc 3\n".to_vec(),
            PatchError::HashMismatch,
        ),
    ];
    for (i, (p, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            apply_patch(old, &p, &e),
            Err(want),
            "case {i}: {:?}",
            String::from_utf8_lossy(&p)
        );
    }
    // A patch claiming a huge insert never allocates it: refused as too large.
    let huge = b"detente-patch/v1\na 1000000000\n".to_vec();
    assert_eq!(
        apply_patch(b"", &huge, &e),
        Err(PatchError::Truncated { offset: 17 })
    );
    let mut big = b"detente-patch/v1\na 100\n".to_vec();
    big.extend([b'x'; 100]);
    assert_eq!(
        apply_patch(b"", &big, &e),
        Err(PatchError::TooLarge { max: 6 })
    );
}

#[test]
fn patch_size_for_1000_lines_on_1000000() {
    let n = 1_000_000u64;
    let t = Instant::now();
    let old = db("Base", 0..n);
    let added: Vec<Vec<u8>> = (0..1000).map(|i| sig_line("New", i).into_bytes()).collect();
    let added_bytes: usize = added.iter().map(Vec::len).sum();

    // (a) Appended, the usual daily case.
    let mut appended = old.clone();
    for l in &added {
        appended.extend_from_slice(l);
    }
    // (b) Inserted at 1,000 random places, and 100 lines removed.
    let mut rng = Rng::new(7);
    let mut lines: Vec<&[u8]> = old.split_inclusive(|&b| b == b'\n').collect();
    for _ in 0..100 {
        let i = rng.below(lines.len() as u64) as usize;
        lines.remove(i);
    }
    for l in &added {
        let i = rng.below(lines.len() as u64 + 1) as usize;
        lines.insert(i, l);
    }
    let scattered: Vec<u8> = lines.concat();
    println!(
        "old: {} lines, {} bytes; 1,000 added lines: {added_bytes} bytes (setup {:?})",
        n,
        old.len(),
        t.elapsed()
    );
    for (what, new) in [
        ("appended", &appended),
        ("scattered, 100 removed", &scattered),
    ] {
        let t = Instant::now();
        let p = make_patch(&old, new);
        let made = t.elapsed();
        let e = Entry::for_bytes("main.hdb", new).unwrap();
        let t = Instant::now();
        assert_eq!(&apply_patch(&old, &p, &e).unwrap(), new);
        let applied = t.elapsed();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&p).unwrap();
        let gz = gz.finish().unwrap().len();
        println!(
            "{what}: patch {} bytes ({:.3}x the added bytes), gzip -9 {gz} bytes; \
             make {made:?}, apply {applied:?} ({} build)",
            p.len(),
            p.len() as f64 / added_bytes as f64,
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        );
        assert!(
            p.len() <= 2 * added_bytes,
            "{what}: {} > 2 x {added_bytes}",
            p.len()
        );
    }
}

/// A stored patch is gzip, decompressed within its bound: a bomb (10 MiB of zeros in a few
/// KiB) is refused once past the bound, never inflated whole.
#[test]
fn stored_patches_decompress_within_their_bound() {
    let p = detente_feed::make_patch(b"a\nb\n", b"a\nc\nb\n");
    let z = detente_feed::compress(&p);
    assert_eq!(detente_feed::decompress(&z, p.len() as u64).unwrap(), p);
    assert!(detente_feed::decompress(&z, p.len() as u64 - 1).is_none());
    let bomb = detente_feed::compress(&vec![0u8; 10 << 20]);
    assert!(bomb.len() < 64 << 10);
    assert!(detente_feed::decompress(&bomb, 1 << 20).is_none());
    assert!(detente_feed::decompress(b"not gzip", 1 << 20).is_none());
}
