//! Benchmark driver for `bench/log/run` (detente's side; the Go peer is `bench/log/go`).
//!
//! ```text
//! bench_log seq DIR ENTRIES BATCH ENTRY_SIZE   # sequence into DirStorage at DIR (must not exist)
//! bench_log proofs LEAVES N SEED               # N inclusion + N consistency proofs, in memory
//! ```
//!
//! Each prints one JSON object on stdout. Inputs are generated exactly as the Go program
//! generates them, so both must report the same root hashes and proof digests.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use detente_log::{DirStorage, LogWriter};
use detente_note::Ed25519Signer;
use detente_tlog::{
    leaf_hash, node_hash, prove_consistency, prove_inclusion, stored_hash_index,
    stored_hashes_for_leaf, tree_hash, verify_consistency, verify_inclusion, Hash,
};

const ORIGIN: &str = "bench.example/log";

/// Entry `i`: its index as 8 little-endian bytes, then `b'x'` up to `size` bytes.
fn fill_entry(buf: &mut [u8], i: u64) {
    buf.fill(b'x');
    let n = buf.len().min(8);
    buf[..n].copy_from_slice(&i.to_le_bytes()[..n]);
}

/// splitmix64, shared with the Go program so both pick the same proofs.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T, String> {
    args.get(i)
        .ok_or_else(|| format!("missing {what}"))?
        .parse()
        .map_err(|_| format!("bad {what}"))
}

fn seq(args: &[String]) -> Result<(), String> {
    let dir: String = arg(args, 0, "DIR")?;
    let entries: u64 = arg(args, 1, "ENTRIES")?;
    let batch: u64 = arg(args, 2, "BATCH")?;
    let size: usize = arg(args, 3, "ENTRY_SIZE")?;
    if std::path::Path::new(&dir).exists() {
        return Err(format!("{dir} exists"));
    }
    let signer = Ed25519Signer::from_seed(ORIGIN, [7; 32]).map_err(|e| e.to_string())?;
    let storage = DirStorage::new(&dir).map_err(|e| e.to_string())?;

    let mut bufs: Vec<Vec<u8>> = (0..batch).map(|_| vec![0u8; size]).collect();
    let t = Instant::now();
    let mut w = LogWriter::create(storage, signer).map_err(|e| e.to_string())?;
    let mut batches = 0u64;
    while w.size() < entries {
        let first = w.size();
        let n = batch.min(entries - first) as usize;
        for (j, b) in bufs[..n].iter_mut().enumerate() {
            fill_entry(b, first + j as u64);
        }
        let refs: Vec<&[u8]> = bufs[..n].iter().map(Vec::as_slice).collect();
        w.append(&refs).map_err(|e| e.to_string())?;
        batches += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    let cp = &w.checkpoint().checkpoint;
    println!(
        "{{\"impl\":\"detente\",\"entries\":{},\"batches\":{batches},\"seconds\":{secs:.6},\
         \"entries_per_s\":{:.1},\"root\":\"{}\"}}",
        cp.size(),
        cp.size() as f64 / secs,
        cp.root().to_base64()
    );
    Ok(())
}

fn proofs(args: &[String]) -> Result<(), String> {
    let leaves: u64 = arg(args, 0, "LEAVES")?;
    let n: usize = arg(args, 1, "N")?;
    let seed: u64 = arg(args, 2, "SEED")?;
    if leaves < 2 {
        return Err("LEAVES must be at least 2".into());
    }
    let e = |e: detente_tlog::Error| e.to_string();

    // The tree: stored hashes of leaves whose data is the index as 8 little-endian bytes.
    let t = Instant::now();
    let mut stored: Vec<Hash> = Vec::with_capacity(2 * leaves as usize);
    for i in 0..leaves {
        let hs = stored_hashes_for_leaf(i, leaf_hash(&i.to_le_bytes()), &stored).map_err(e)?;
        stored.extend(hs);
    }
    let build_s = t.elapsed().as_secs_f64();
    let size = leaves;
    let root = tree_hash(size, &stored).map_err(e)?;

    let mut rng = Rng(seed);
    let idx: Vec<u64> = (0..n).map(|_| rng.next() % size).collect();
    let olds: Vec<u64> = (0..n).map(|_| 1 + rng.next() % (size - 1)).collect();
    let leaf_hashes: Vec<Hash> = idx
        .iter()
        .map(|&i| stored[stored_hash_index(0, i) as usize])
        .collect();
    let old_roots: Vec<Hash> = olds
        .iter()
        .map(|&o| tree_hash(o, &stored))
        .collect::<Result<_, _>>()
        .map_err(e)?;

    let t = Instant::now();
    let mut inc = Vec::with_capacity(n);
    for &i in &idx {
        inc.push(prove_inclusion(size, i, &stored).map_err(e)?);
    }
    let prove_inc = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut inc_ok = 0u64;
    for ((&i, leaf), p) in idx.iter().zip(&leaf_hashes).zip(&inc) {
        if black_box(verify_inclusion(i, size, leaf, p, &root)).is_ok() {
            inc_ok += 1;
        }
    }
    let verify_inc = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut con = Vec::with_capacity(n);
    for &o in &olds {
        con.push(prove_consistency(o, size, &stored).map_err(e)?);
    }
    let prove_con = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut con_ok = 0u64;
    for ((&o, old_root), p) in olds.iter().zip(&old_roots).zip(&con) {
        if black_box(verify_consistency(o, size, old_root, &root, p)).is_ok() {
            con_ok += 1;
        }
    }
    let verify_con = t.elapsed().as_secs_f64();

    // Digests of every proof hash in order, to compare with the Go program's proofs.
    let digest = |ps: &[Vec<Hash>]| {
        let mut d = Hash::EMPTY;
        let mut len = 0usize;
        for p in ps {
            len += p.len();
            for h in p {
                d = node_hash(&d, h);
            }
        }
        (d.to_base64(), len)
    };
    let (inc_digest, inc_len) = digest(&inc);
    let (con_digest, con_len) = digest(&con);
    let ns = |s: f64| 1e9 * s / n as f64;
    println!(
        "{{\"impl\":\"detente\",\"leaves\":{leaves},\"n\":{n},\"root\":\"{}\",\
         \"build_ns_per_leaf\":{:.1},\
         \"prove_inclusion_ns\":{:.1},\"verify_inclusion_ns\":{:.1},\
         \"prove_consistency_ns\":{:.1},\"verify_consistency_ns\":{:.1},\
         \"inclusion_ok\":{inc_ok},\"consistency_ok\":{con_ok},\
         \"inclusion_digest\":\"{inc_digest}\",\"inclusion_hashes\":{inc_len},\
         \"consistency_digest\":\"{con_digest}\",\"consistency_hashes\":{con_len}}}",
        root.to_base64(),
        1e9 * build_s / leaves as f64,
        ns(prove_inc),
        ns(verify_inc),
        ns(prove_con),
        ns(verify_con),
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("seq") => seq(&args[1..]),
        Some("proofs") => proofs(&args[1..]),
        _ => Err("usage: bench_log seq DIR ENTRIES BATCH ENTRY_SIZE | proofs LEAVES N SEED".into()),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_log: {e}");
            ExitCode::FAILURE
        }
    }
}
