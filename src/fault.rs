//! Named fault points for crash tests. With the `fault-injection` feature, setting
//! `ROOTVAULT_FAULT=NAME` makes the process abort at the point called NAME (no destructors,
//! no flushing: as close to a crash as a process can do to itself), and
//! `ROOTVAULT_FAULT=NAME:pause` makes it print `paused at NAME` on stderr and sleep, so a test
//! can `kill -9` it there. `ROOTVAULT_FAULT=NAME:wait` prints the same line and waits for a
//! line on stdin before going on, so a test can change the environment at that point (fill
//! the disk, remove a directory) and let the process meet it. Without the feature, [`point`]
//! compiles to nothing.

/// Marks a point where a crash must leave the vault consistent.
#[inline]
pub fn point(name: &'static str) {
    #[cfg(feature = "fault-injection")]
    {
        let Ok(wanted) = std::env::var("ROOTVAULT_FAULT") else {
            return;
        };
        if wanted == name {
            eprintln!("fault injected: aborting at {name}");
            std::process::abort();
        }
        if wanted.strip_suffix(":pause") == Some(name) {
            eprintln!("paused at {name}");
            std::thread::sleep(std::time::Duration::from_secs(120));
        }
        if wanted.strip_suffix(":wait") == Some(name) {
            eprintln!("paused at {name}");
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        }
    }
    #[cfg(not(feature = "fault-injection"))]
    let _ = name;
}

/// A point where a write can fail: [`point`], and then, in tests, a failure injected with
/// `fail_at` is returned as an I/O error (the process goes on, as after a real failed
/// write). Without the feature and outside unit tests it is [`point`] and `Ok(())`.
#[inline]
pub fn check(name: &'static str) -> std::io::Result<()> {
    point(name);
    #[cfg(any(test, feature = "fault-injection"))]
    if injected::take(name) {
        return Err(std::io::Error::other(format!("injected failure at {name}")));
    }
    Ok(())
}

/// Makes the `nth` (from 0) [`check`] of `name` on this thread fail, once.
#[cfg(any(test, feature = "fault-injection"))]
pub fn fail_at(name: &'static str, nth: u32) {
    injected::FAIL_AT.with(|f| f.set(Some((name, nth))));
}

/// Cancels a failure injected with [`fail_at`] that has not happened.
#[cfg(any(test, feature = "fault-injection"))]
pub fn clear() {
    injected::FAIL_AT.with(|f| f.set(None));
}

#[cfg(any(test, feature = "fault-injection"))]
mod injected {
    thread_local! {
        /// A failure to inject: at the n-th (from 0) check of this name.
        pub(super) static FAIL_AT: std::cell::Cell<Option<(&'static str, u32)>> =
            const { std::cell::Cell::new(None) };
    }

    /// Whether this check of `name` is the one to fail.
    pub(super) fn take(name: &str) -> bool {
        FAIL_AT.with(|f| match f.get() {
            Some((n, 0)) if n == name => {
                f.set(None);
                true
            }
            Some((n, k)) if n == name => {
                f.set(Some((n, k - 1)));
                false
            }
            _ => false,
        })
    }
}

/// Every fault point, for tests that walk them all.
pub const POINTS: &[&str] = &[
    "sign.after_lint",
    "sign.after_token_sign",
    "ledger.before_commit",
    "ledger.after_commit",
    "file.before_rename",
    "file.after_rename",
    "revoke.before_commit",
    "crl.after_sign",
    "export.after_write",
    "backup.after_snapshot",
    "restore.after_unpack",
    "restore.before_rename",
    "state.before_token_write",
];
