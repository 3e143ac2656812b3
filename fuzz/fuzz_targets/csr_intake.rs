//! CSR intake and PEM/DER detection: any bytes are refused cleanly or accepted with a
//! consistent key; never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(csr) = rootvault::x509::Csr::intake(data) {
        assert_eq!(csr.public_key().spki_sha256_hex().len(), 64);
        let _ = csr.requested_extensions();
        let _ = csr.subject();
    }
});
