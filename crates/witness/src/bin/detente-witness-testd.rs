//! Test helper: serves the witness in DIR on ADDR and prints
//! `listening <addr>` once bound. The crash tests start it and SIGKILL it.
//! Not a supported interface: the `detente witness` CLI is.
//!
//! Usage: detente-witness-testd DIR ADDR

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, addr] = args.as_slice() else {
        eprintln!("usage: detente-witness-testd DIR ADDR");
        return ExitCode::from(2);
    };
    let witness = match detente_witness::Witness::open(&PathBuf::from(dir)) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("detente-witness-testd: {e}");
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("detente-witness-testd: runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        let local = listener.local_addr()?;
        let mut out = std::io::stdout();
        writeln!(out, "listening {local}")?;
        out.flush()?;
        witness.serve(listener).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("detente-witness-testd: {e}");
            ExitCode::from(1)
        }
    }
}
