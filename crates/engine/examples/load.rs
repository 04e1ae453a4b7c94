//! Loads the database files given on the command line repeatedly and prints the time each
//! phase takes (median over the runs): `cargo run --release -p detente-engine --example load
//! -- [--runs N] FILE...`. For profiling the loader; `bench/run` measures it against clamscan.

use std::time::{Duration, Instant};

use detente_engine::{EngineBuilder, LoadOptions};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 20;
    if args.first().map(String::as_str) == Some("--runs") && args.len() > 1 {
        runs = args[1].parse().unwrap_or(20);
        args.drain(..2);
    }
    let files: Vec<(String, Vec<u8>)> = args
        .iter()
        .map(|p| match std::fs::read(p) {
            Ok(b) => (p.clone(), b),
            Err(e) => {
                eprintln!("{p}: {e}");
                std::process::exit(2)
            }
        })
        .collect();
    let (mut parse, mut build) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let mut b = EngineBuilder::new(LoadOptions::default());
        if let Err(e) = b.add_databases(&files) {
            eprintln!("{e}");
            std::process::exit(2)
        }
        let t1 = Instant::now();
        let engine = b.build();
        let t2 = Instant::now();
        parse.push(t1 - t);
        build.push(t2 - t1);
        std::hint::black_box(&engine);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "parse {:?}  build {:?}  (median of {runs})",
        median(&mut parse),
        median(&mut build)
    );
}
