//! Prints, for each file named, the executable layout that executable-relative offsets
//! count from: `PATH<TAB>ENTRY<TAB>OFFSET,SIZE ...` (nothing for files without one). Used
//! by `bench/exe/run` to cut real signatures from real binaries.

fn main() {
    for p in std::env::args().skip(1) {
        let Ok(d) = std::fs::read(&p) else {
            continue;
        };
        if let Some(l) = detente_engine::executable_layout(&d) {
            let secs: Vec<String> = l.sections.iter().map(|(o, s)| format!("{o},{s}")).collect();
            println!("{p}\t{}\t{}", l.entry, secs.join(" "));
        }
    }
}
