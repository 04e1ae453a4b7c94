//! init / open / add-log, the key file, persistence across reopen.

use detente_note::{CosignatureVerifier, ALG_COSIGNATURE_V1, ALG_MLDSA44};
use detente_witness::{Error, Witness, KEY_FILE};

use crate::util::TestLog;

#[test]
fn init_open_and_key_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let vkeys = Witness::init(&dir, "witness.example/w1").unwrap();
    let algs: Vec<u8> = vkeys
        .iter()
        .map(|k| CosignatureVerifier::parse(k).unwrap().alg())
        .collect();
    assert_eq!(algs, [ALG_COSIGNATURE_V1, ALG_MLDSA44]);
    assert!(vkeys.iter().all(|k| k.starts_with("witness.example/w1+")));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(matches!(
        Witness::init(&dir, "other"),
        Err(Error::AlreadyInitialized(_))
    ));
    let w = Witness::open(&dir).unwrap();
    assert_eq!(w.verifier_keys(), vkeys);
    assert_eq!(w.name(), "witness.example/w1");
    let dbg = format!("{w:?}");
    assert!(!dbg.contains("PRIVATE"), "{dbg}");
    let key_text = std::fs::read_to_string(dir.join(KEY_FILE)).unwrap();
    for line in key_text.lines().filter(|l| l.starts_with("PRIVATE")) {
        // PRIVATE+KEY+<name>+<id>+<base64(type || seed)>; base64 may hold '+'.
        let secret = line.splitn(5, '+').nth(4).unwrap();
        assert_eq!(secret.len(), 44);
        assert!(!dbg.contains(secret));
    }

    // Fresh keys each time.
    let other = Witness::init(&tmp.path().join("w2"), "witness.example/w1").unwrap();
    assert_ne!(other, vkeys);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let p = dir.join(KEY_FILE);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Witness::open(&dir),
            Err(Error::KeyFilePermissions(_))
        ));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    assert!(matches!(
        Witness::open(&tmp.path().join("nothing")),
        Err(Error::NotInitialized(_))
    ));
    for bad in ["", "has space", "a+b"] {
        assert!(matches!(
            Witness::init(&tmp.path().join("bad"), bad),
            Err(Error::BadName)
        ));
    }
}

#[test]
fn add_log_and_state_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let vkeys = Witness::init(dir, "w").unwrap();
    let w = Witness::open(dir).unwrap();
    let log = TestLog::new("example.com/a", 1, 30);
    w.add_log(&log.origin, &log.vkey()).unwrap();
    w.add_log(&log.origin, &log.vkey()).unwrap(); // idempotent
    w.add_log(&log.origin, &format!("{}\n", log.vkey()))
        .unwrap();
    let second = TestLog::new("example.com/a", 2, 1);
    w.add_log(&log.origin, &second.vkey()).unwrap(); // key rotation: both trusted
    assert!(matches!(
        w.add_log("", &log.vkey()),
        Err(Error::BadOrigin(_))
    ));
    assert!(matches!(
        w.add_log(&"x".repeat(256), &log.vkey()),
        Err(Error::BadOrigin(_))
    ));
    assert!(matches!(
        w.add_log("a\nb", &log.vkey()),
        Err(Error::BadOrigin(_))
    ));
    assert!(matches!(
        w.add_log("o", "garbage"),
        Err(Error::BadLogKey(_))
    ));
    // A witness (cosignature) key is not a log key.
    assert!(matches!(
        w.add_log("o", &vkeys[0]),
        Err(Error::BadLogKey(_))
    ));

    w.add_checkpoint(&log.request(0, 10), 100).unwrap();
    w.add_checkpoint(&log.request(10, 30), 101).unwrap();
    drop(w);
    let w = Witness::open(dir).unwrap();
    let logs = w.logs().unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].keys, vec![log.vkey(), second.vkey()]);
    assert_eq!(logs[0].state.size, 30);
    assert_eq!(logs[0].state.root, log.root(30));
    assert_eq!(
        w.add_checkpoint(&log.request(10, 30), 102)
            .unwrap_err()
            .status(),
        409
    );
    assert!(w.evidence().unwrap().is_empty());
}
