//! Receipts (`ledger-receipt.json`): any text is refused cleanly or is a receipt whose
//! signature verified; never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rootvault::ledger::Receipt::parse(text);
    }
});
