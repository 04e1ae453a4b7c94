//! kill -9: the witness runs as a child process, clients advance a log
//! (on two lineages), and the child is SIGKILLed mid-stream, many times.
//! After each kill the stored state must be at least every size a 200 was
//! received for, and consistent with every checkpoint ever cosigned.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use detente_note::{Note, Verifiers};
use detente_tlog::Hash;
use detente_witness::Witness;

use crate::util::{cosig_verifiers, witness, Client, Rng, TestLog};

const ORIGIN: &str = "example.com/crashy";

fn start(dir: &std::path::Path) -> (std::process::Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_detente-witness-testd"))
        .arg(dir)
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .unwrap()
        .parse()
        .unwrap();
    (child, addr)
}

#[test]
fn kill_9_mid_stream_keeps_state() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1500;
    let main = Arc::new(TestLog::new(ORIGIN, 6, n));
    let fork = Arc::new(main.fork(40, 0xee, n));
    let (w, vkeys) = witness(dir.path(), "w", &[&main]);
    drop(w);
    let log_keys = Verifiers::new().with(main.signer.verifier()).unwrap();
    let cosig_keys = cosig_verifiers(&vkeys);
    let cosigned: Arc<Mutex<Vec<(u64, Hash)>>> = Arc::default();
    let mut total_ok = 0;
    for round in 0..30u64 {
        let (mut child, addr) = start(dir.path());
        let clients: Vec<_> = (0..4u64)
            .map(|i| {
                let (main, fork, cosigned) = (main.clone(), fork.clone(), cosigned.clone());
                std::thread::spawn(move || {
                    let mut rng = Rng::new(round * 16 + i + 1);
                    let mut believed = 0;
                    let mut ok = 0;
                    for _ in 0..400 {
                        let tree = if rng.below(4) == 0 { &fork } else { &main };
                        let target = (believed + 1 + rng.below(3)).min(n);
                        let body = tree.request(believed, target);
                        let Ok(r) = Client::connect(addr)
                            .and_then(|mut c| c.request("POST", "/add-checkpoint", &body))
                        else {
                            break; // killed
                        };
                        match r.status {
                            200 => {
                                cosigned.lock().unwrap().push((target, tree.root(target)));
                                believed = target;
                                ok += 1;
                            }
                            409 => believed = r.text().trim_end().parse().unwrap(),
                            422 => {}
                            s => panic!("unexpected status {s}: {}", r.text()),
                        }
                    }
                    ok
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(40 + (round * 37) % 200));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let mut round_ok = 0;
        for c in clients {
            round_ok += c.join().unwrap();
        }
        total_ok += round_ok;

        // The state on disk, read by a fresh process-level handle.
        let w = Witness::open(dir.path()).unwrap();
        let info = w.logs().unwrap().into_iter().next().unwrap();
        let (size, root) = (info.state.size, info.state.root);
        let tree = [&main, &fork]
            .into_iter()
            .find(|t| t.root(size) == root)
            .expect("state on a known lineage");
        let all = cosigned.lock().unwrap();
        for &(s, r) in all.iter() {
            assert!(
                s <= size,
                "round {round}: a 200 for {s} but state is {size}"
            );
            assert_eq!(tree.root(s), r, "round {round}: cosigned {s} conflicts");
        }
        eprintln!("round {round}: {round_ok} cosignatures, state size {size}");
        if let Some(cp) = &info.state.checkpoint {
            let note = Note::parse(cp).unwrap();
            note.verify(&log_keys).unwrap();
            note.verify(&cosig_keys).unwrap();
            assert!(note
                .text()
                .starts_with(&format!("{ORIGIN}\n{size}\n{root}\n")));
        }
    }
    assert!(total_ok > 20, "only {total_ok} cosignatures in 30 rounds");
}
