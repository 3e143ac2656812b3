//! The vault configuration (`vault.toml`, policy included): any text is refused with a
//! message or parses to a policy that validates; never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match rootvault::vault::parse_config(text) {
            Ok(c) => assert!(c.policy.validate().is_ok()),
            Err(e) => assert!(!e.is_empty()),
        }
    }
});
