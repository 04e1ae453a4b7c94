//! Container verification on arbitrary bytes, unsigned builds allowed (so that md5 `X` headers
//! and raw tars reach the tar and `.info` code), plus the `.sign` parser: never a panic,
//! always bounded.
#![no_main]
use detente_cvd::{verify_cvd, verify_sign, CvdHeader, CvdOptions, CLAMAV_ROOT_CA_DER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = CvdOptions {
        allow_unsigned: true,
        max_unpacked: 16 << 20,
        max_members: 256,
    };
    let _ = CvdHeader::parse(data);
    let _ = verify_cvd("fuzz.cvd", data, &opts);
    let _ = verify_cvd("fuzz.cld", data, &opts);
    let _ = verify_sign(
        "fuzz.sign",
        b"file",
        data,
        &[CLAMAV_ROOT_CA_DER],
        1_780_272_000,
        240,
    );
});
