//! Every file and directory rootvault writes goes through here, so that each one is written
//! the same way: never a partial file, never an existing output replaced unless asked, never
//! a symbolic link followed, modes set on purpose, contents and renames fsynced.
//!
//! | need | type |
//! |---|---|
//! | an output whose space is taken *before* the token signs | [`ReservedFile`] (one file), [`commit_all`] (several with one flush) |
//! | a small file written whole | [`write_file`] |
//! | a directory of files that appears in one step (an `istio` export) | [`ReservedDir`] |
//! | a new directory assembled beside its place and renamed in (init, restore) | [`StagedDir`] |
//! | whether a directory could take a token action's writes | [`check_output_dir`], [`write_obstacle`] |
//!
//! The fault points `file.write` (before any bytes of a file are written) and
//! `file.before_rename` / `file.after_rename` are here, once, for every writer
//! ([`crate::fault`]).

use std::fs;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The least free space a directory must have to take a token action's writes (see
/// [`write_obstacle`]); one action's ledger transaction takes a few KiB.
pub const MIN_FREE_BYTES: u64 = 1024 * 1024;

/// Space reserved for one certificate's PEM: a few times what a P-384 or RSA-4096
/// intermediate takes, so the real file never needs more than was reserved.
pub const CERT_RESERVATION: usize = 16 * 1024;

/// Space reserved for a CRL's PEM; the file is truncated to its real size.
pub const CRL_RESERVATION: usize = 64 * 1024;

/// Mode of files that hold nothing secret in the clear (exports, certificates).
pub const PUBLIC_FILE_MODE: u32 = 0o644;
/// Mode of directories that hold nothing secret in the clear (an `istio` export).
pub const PUBLIC_DIR_MODE: u32 = 0o755;
/// Mode of the vault's own files (configuration, ledger) and of anything not meant for others.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode of the vault directory.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// Why a file or directory could not be written. In every case nothing was left behind: no
/// partial file, no staging directory, and an existing output is as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// The output exists (as anything, a symbolic link included) and replacing it was not
    /// asked for.
    #[error("{} already exists; choose another path, or pass --force to replace it", .0.display())]
    OutputExists(PathBuf),
    /// The output exists as a directory where a file would be written, or the reverse;
    /// replacing does not turn one kind into the other.
    #[error("{} is {found}, but this output is {wanted}; choose another path, or remove it first", .path.display())]
    OutputKind {
        /// The output path.
        path: PathBuf,
        /// What is there: `a directory`, `a file` or `a symbolic link`.
        found: &'static str,
        /// What would be written: `a directory` or `one file`.
        wanted: &'static str,
    },
    /// The output path names no file (it ends in `..`, or is a root directory).
    #[error("{} does not name a file or directory to create; give a path such as ./out", .0.display())]
    BadOutputPath(PathBuf),
    /// The output's directory cannot take it (no space, read-only, no permission, missing);
    /// found before any token action, so nothing was done.
    #[error("cannot write {}: {source}. Nothing was changed: free space on that filesystem or make it writable (or choose another output path), then run the command again", path.display())]
    NoRoom {
        /// The output.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Writing, syncing or renaming failed.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl FsError {
    fn io(context: &'static str, path: impl Into<PathBuf>, source: io::Error) -> FsError {
        FsError::Io {
            context,
            path: path.into(),
            source,
        }
    }
}

/// What is at a path, without following a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Nothing.
    Nothing,
    /// A regular file (or another non-directory that is not a link).
    File,
    /// A directory.
    Dir,
    /// A symbolic link, dangling or not: never followed, never written through.
    Symlink,
}

impl Existing {
    /// What is at `path` (`lstat`).
    pub fn at(path: &Path) -> Result<Existing, FsError> {
        match fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => Ok(Existing::Symlink),
            Ok(m) if m.is_dir() => Ok(Existing::Dir),
            Ok(_) => Ok(Existing::File),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Existing::Nothing),
            Err(e) => Err(FsError::io("cannot look at", path, e)),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Existing::Nothing => "nothing",
            Existing::File => "a file",
            Existing::Dir => "a directory",
            Existing::Symlink => "a symbolic link",
        }
    }
}

/// Refuses an output path that exists unless `force`, and one that holds the other kind (or a
/// symbolic link) even with `force`. Returns whether something is there to replace.
fn check_target(path: &Path, force: bool, dir: bool) -> Result<bool, FsError> {
    let wanted = if dir { Existing::Dir } else { Existing::File };
    match Existing::at(path)? {
        Existing::Nothing => Ok(false),
        _ if !force => Err(FsError::OutputExists(path.to_owned())),
        found if found == wanted => Ok(true),
        found => Err(FsError::OutputKind {
            path: path.to_owned(),
            found: found.describe(),
            wanted: if dir { "a directory" } else { "one file" },
        }),
    }
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The last component of `path`, which must name something to create.
fn file_name(path: &Path) -> Result<String, FsError> {
    path.file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| FsError::BadOutputPath(path.to_owned()))
}

/// fsyncs a directory so that a rename or a new file inside it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), FsError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| FsError::io("cannot sync directory", dir, e))
}

/// Sets the permission bits of `path`.
pub fn set_mode(path: &Path, mode: u32) -> Result<(), FsError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| FsError::io("cannot set the mode of", path, e))
}

/// What would stop a directory from taking a token action's writes.
#[derive(Debug)]
pub enum Obstacle {
    /// Its filesystem is mounted read-only.
    ReadOnly,
    /// This user may not write to it.
    NotWritable(io::Error),
    /// Less than [`MIN_FREE_BYTES`] are free.
    Full {
        /// Bytes free.
        free: u64,
    },
}

impl Obstacle {
    /// The error a write would meet.
    pub fn into_io_error(self) -> io::Error {
        use rustix::io::Errno;
        match self {
            Obstacle::ReadOnly => Errno::ROFS.into(),
            Obstacle::NotWritable(e) => e,
            Obstacle::Full { .. } => Errno::NOSPC.into(),
        }
    }
}

/// Checks `dir`'s filesystem (one `statvfs`) and permission (one `access`).
pub fn write_obstacle(dir: &Path) -> io::Result<Option<Obstacle>> {
    let st = rustix::fs::statvfs(dir)?;
    if st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
        return Ok(Some(Obstacle::ReadOnly));
    }
    if let Err(e) = rustix::fs::access(dir, rustix::fs::Access::WRITE_OK) {
        return Ok(Some(Obstacle::NotWritable(e.into())));
    }
    let free = st.f_bavail.saturating_mul(st.f_frsize);
    Ok((free < MIN_FREE_BYTES).then_some(Obstacle::Full { free }))
}

/// Refuses an output directory that could not take the output of a token action, before the
/// token is touched: missing, on a read-only filesystem, not writable by this user, or with
/// less than [`MIN_FREE_BYTES`] free. For outputs that cannot be reserved as one file.
pub fn check_output_dir(dir: &Path) -> Result<(), FsError> {
    let no_room = |source: io::Error| FsError::NoRoom {
        path: dir.to_owned(),
        source,
    };
    match write_obstacle(dir).map_err(no_room)? {
        None => Ok(()),
        Some(o) => Err(no_room(o.into_io_error())),
    }
}

/// The plain OS error of an error `tempfile` wrapped with its temporary path.
fn plain(e: io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::from(e.kind()),
    }
}

/// An output file whose space is taken *before* a token action, so that a full or read-only
/// disk stops the action before anything is signed or recorded. It is a temporary file in the
/// target's directory, filled with zeros (which makes the filesystem allocate the blocks now);
/// [`ReservedFile::commit`] overwrites it with the real bytes, syncs and renames it into place.
/// Dropped without a commit, it leaves nothing behind.
#[derive(Debug)]
pub struct ReservedFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    dir: PathBuf,
    force: bool,
}

impl ReservedFile {
    /// Reserves `size` bytes for `path`, mode [`PRIVATE_FILE_MODE`]. Anything at `path` (a
    /// dangling symbolic link included) is refused unless `force`; a directory there is refused
    /// always; a directory that cannot be written or has no room is an error naming it.
    pub fn reserve(path: &Path, force: bool, size: usize) -> Result<ReservedFile, FsError> {
        let name = file_name(path)?;
        check_target(path, force, false)?;
        let dir = parent_dir(path);
        let no_room = |e: io::Error| FsError::NoRoom {
            path: path.to_owned(),
            source: plain(e),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.rootvault-"))
            .tempfile_in(&dir)
            .map_err(no_room)?;
        if size > 0 {
            tmp.as_file_mut()
                .write_all(&vec![0; size])
                .map_err(no_room)?;
        }
        Ok(ReservedFile {
            tmp,
            path: path.to_owned(),
            dir,
            force,
        })
    }

    /// Sets the mode the file will have (default [`PRIVATE_FILE_MODE`]).
    pub fn with_mode(self, mode: u32) -> Result<ReservedFile, FsError> {
        set_mode(self.tmp.path(), mode)?;
        Ok(self)
    }

    /// Where the file will be.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The reserved file, emptied, to stream the real bytes into; then
    /// [`ReservedFile::commit_written`].
    pub fn writer(&mut self) -> Result<&mut fs::File, FsError> {
        crate::fault::check("file.write").map_err(|e| self.err(e))?;
        let file = self.tmp.as_file_mut();
        let emptied = file.set_len(0).and_then(|()| file.seek(SeekFrom::Start(0)));
        match emptied {
            Ok(_) => Ok(self.tmp.as_file_mut()),
            Err(e) => Err(FsError::io("cannot write", self.tmp.path().to_owned(), e)),
        }
    }

    fn err(&self, e: io::Error) -> FsError {
        FsError::io("cannot write", self.tmp.path().to_owned(), e)
    }

    /// Replaces the reserved zeros with `bytes` (not yet synced).
    fn fill(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        crate::fault::check("file.write").map_err(|e| self.err(e))?;
        let file = self.tmp.as_file_mut();
        let filled = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(bytes))
            .and_then(|()| file.set_len(bytes.len() as u64));
        filled.map_err(|e| self.err(e))
    }

    /// Renames the (synced) file into place; returns its directory, still to be synced.
    fn persist(self) -> Result<PathBuf, FsError> {
        crate::fault::check("file.before_rename").map_err(|e| self.err(e))?;
        let ReservedFile {
            tmp,
            path,
            dir,
            force,
        } = self;
        if force {
            tmp.persist(&path)
                .map_err(|e| FsError::io("cannot write", &path, e.error))?;
        } else {
            tmp.persist_noclobber(&path).map_err(|e| {
                if e.error.kind() == io::ErrorKind::AlreadyExists {
                    FsError::OutputExists(path.clone())
                } else {
                    FsError::io("cannot write", &path, e.error)
                }
            })?;
        }
        Ok(dir)
    }

    /// Writes `bytes` in place of the reservation: overwritten, fsynced, renamed into place,
    /// and the directory fsynced.
    pub fn commit(mut self, bytes: &[u8]) -> Result<(), FsError> {
        self.fill(bytes)?;
        self.commit_written()
    }

    /// Syncs what was streamed into [`ReservedFile::writer`], renames it into place and
    /// syncs the directory.
    pub fn commit_written(self) -> Result<(), FsError> {
        self.tmp.as_file().sync_all().map_err(|e| self.err(e))?;
        let dir = self.persist()?;
        sync_dir(&dir)?;
        crate::fault::point("file.after_rename");
        Ok(())
    }
}

/// Writes `bytes` to `path` without ever leaving a partial file (a [`ReservedFile`] of no
/// reserved size), mode [`PRIVATE_FILE_MODE`]. Anything at `path` is refused unless `force`.
pub fn write_file(path: &Path, bytes: &[u8], force: bool) -> Result<(), FsError> {
    ReservedFile::reserve(path, force, 0)?.commit(bytes)
}

/// Commits several reserved files with as few flushes as the platform allows: each is
/// overwritten with its bytes, their filesystems are flushed once (`syncfs` on Linux, one
/// fsync per file elsewhere), then every file is renamed into place and each directory is
/// fsynced once. A crash leaves each file either absent or complete, never partial.
pub fn commit_all(files: Vec<(ReservedFile, &[u8])>) -> Result<(), FsError> {
    let mut filled = Vec::with_capacity(files.len());
    for (mut file, bytes) in files {
        file.fill(bytes)?;
        filled.push(file);
    }
    sync_contents(&filled)?;
    let mut dirs = std::collections::BTreeSet::new();
    for file in filled {
        dirs.insert(file.persist()?);
    }
    for dir in &dirs {
        sync_dir(dir)?;
    }
    crate::fault::point("file.after_rename");
    Ok(())
}

/// Makes the contents of `files` durable: one `syncfs` per directory they are in.
#[cfg(target_os = "linux")]
fn sync_contents(files: &[ReservedFile]) -> Result<(), FsError> {
    let mut synced = std::collections::BTreeSet::new();
    for f in files {
        if synced.insert(f.dir.clone()) {
            rustix::fs::syncfs(f.tmp.as_file())
                .map_err(|e| FsError::io("cannot sync the filesystem of", &f.dir, e.into()))?;
        }
    }
    Ok(())
}

/// Makes the contents of `files` durable: one fsync each.
#[cfg(not(target_os = "linux"))]
fn sync_contents(files: &[ReservedFile]) -> Result<(), FsError> {
    for f in files {
        f.tmp.as_file().sync_all().map_err(|e| f.err(e))?;
    }
    Ok(())
}

/// A directory output that appears in one step: its files are written into a hidden staging
/// directory beside it (`.NAME.staging-XXXXXX`), synced, and the staging directory is renamed
/// into place. With `force` an existing directory is renamed aside first
/// (`.NAME.old-XXXXXX`), the new one renamed in and the old one deleted; should that rename
/// fail, the old directory is put back. Dropped without a commit, it leaves nothing behind.
#[derive(Debug)]
pub struct ReservedDir {
    staging: tempfile::TempDir,
    path: PathBuf,
    parent: PathBuf,
    name: String,
    replace: bool,
}

impl ReservedDir {
    /// Reserves the directory `path`: refused if anything is there, unless `force` and it is
    /// a directory.
    pub fn reserve(path: &Path, force: bool) -> Result<ReservedDir, FsError> {
        let name = file_name(path)?;
        let replace = check_target(path, force, true)?;
        let parent = parent_dir(path);
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{name}.staging-"))
            .tempdir_in(&parent)
            .map_err(|e| FsError::NoRoom {
                path: path.to_owned(),
                source: plain(e),
            })?;
        Ok(ReservedDir {
            staging,
            path: path.to_owned(),
            parent,
            name,
            replace,
        })
    }

    /// Writes `files` (name, bytes) with mode `file_mode` into a directory of mode `dir_mode`
    /// and renames it into place.
    pub fn commit(
        self,
        files: &[(String, Vec<u8>)],
        file_mode: u32,
        dir_mode: u32,
    ) -> Result<(), FsError> {
        set_mode(self.staging.path(), dir_mode)?;
        for (file, bytes) in files {
            let path = self.staging.path().join(file);
            crate::fault::check("file.write")
                .and_then(|()| {
                    let mut f = fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&path)?;
                    f.write_all(bytes)?;
                    f.sync_all()
                })
                .map_err(|e| FsError::io("cannot write", &path, e))?;
            set_mode(&path, file_mode)?;
        }
        sync_dir(self.staging.path())?;
        let ReservedDir {
            staging,
            path: out,
            parent,
            name,
            replace,
        } = self;

        if !replace {
            crate::fault::check("file.before_rename")
                .and_then(|()| fs::rename(staging.path(), &out))
                .map_err(|e| match e.kind() {
                    io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty => {
                        FsError::OutputExists(out.clone())
                    }
                    _ => FsError::io("cannot rename the staging directory to", &out, e),
                })?;
            let _ = staging.keep();
            sync_dir(&parent)?;
            crate::fault::point("file.after_rename");
            return Ok(());
        }

        // An empty directory that the old output is renamed onto; dropping it deletes the
        // old output.
        let aside = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(&parent)
            .map_err(|e| FsError::io("cannot create a directory in", &parent, e))?;
        fs::rename(&out, aside.path())
            .map_err(|e| FsError::io("cannot move aside the existing", &out, e))?;
        if let Err(e) = crate::fault::check("file.before_rename")
            .and_then(|()| fs::rename(staging.path(), &out))
        {
            if let Err(back) = fs::rename(aside.path(), &out) {
                // Keep the old output where it is rather than delete it; say where it is.
                let kept = aside.keep();
                return Err(FsError::io(
                    "cannot rename the staging directory into place, nor the old output back from",
                    kept,
                    io::Error::new(back.kind(), format!("{e}; then {back}")),
                ));
            }
            return Err(FsError::io(
                "cannot rename the staging directory to",
                &out,
                e,
            ));
        }
        let _ = staging.keep();
        sync_dir(&parent)?;
        crate::fault::point("file.after_rename");
        // The output is in place; failing to delete the old one leaves a hidden directory but
        // does not undo it.
        let _ = aside.close();
        Ok(())
    }
}

/// A new directory assembled beside its final place (`.NAME.PURPOSE-XXXXXX`) and renamed in
/// by [`StagedDir::commit`]: `init` and `restore` make vaults this way, so a failure at any
/// point leaves no vault, and the target never holds half of one. Dropped without a commit,
/// the staging directory and everything in it is removed.
#[derive(Debug)]
pub struct StagedDir {
    staging: tempfile::TempDir,
    target: PathBuf,
    parent: PathBuf,
}

impl StagedDir {
    /// Stages a directory for `target`, mode `mode`, in `target`'s parent (which must exist).
    pub fn new(target: &Path, purpose: &str, mode: u32) -> Result<StagedDir, FsError> {
        let name = file_name(target)?;
        let parent = parent_dir(target);
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{name}.{purpose}-"))
            .tempdir_in(&parent)
            .map_err(|e| FsError::io("cannot create a staging directory in", &parent, e))?;
        set_mode(staging.path(), mode)?;
        Ok(StagedDir {
            staging,
            target: target.to_owned(),
            parent,
        })
    }

    /// The staging directory, to fill.
    pub fn path(&self) -> &Path {
        self.staging.path()
    }

    /// Syncs the staging directory and renames it to the target; `rename(2)` replaces an empty
    /// directory there in one step and refuses a non-empty one. The parent is synced after.
    pub fn commit(self) -> Result<(), FsError> {
        sync_dir(self.staging.path())?;
        crate::fault::check("file.before_rename")
            .map_err(|e| FsError::io("cannot move the new directory into", &self.target, e))?;
        let staged = self.staging.keep();
        if let Err(e) = fs::rename(&staged, &self.target) {
            let _ = fs::remove_dir_all(&staged);
            return Err(match e.kind() {
                io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty => {
                    FsError::OutputExists(self.target)
                }
                _ => FsError::io("cannot move the new directory into", &self.target, e),
            });
        }
        sync_dir(&self.parent)?;
        crate::fault::point("file.after_rename");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_file_is_never_overwritten_without_force_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.pem");
        write_file(&p, b"one", false).unwrap();
        assert!(matches!(
            write_file(&p, b"two", false),
            Err(FsError::OutputExists(_))
        ));
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_file(&p, b"two", true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(names(dir.path()), ["out.pem"]);
    }

    #[test]
    fn a_dangling_symbolic_link_at_the_output_is_refused_before_anything_is_reserved() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("out.pem");
        std::os::unix::fs::symlink(dir.path().join("nowhere/at/all"), &link).unwrap();
        let e = ReservedFile::reserve(&link, false, CERT_RESERVATION).unwrap_err();
        assert!(
            matches!(e, FsError::OutputExists(ref p) if p == &link),
            "{e}"
        );
        // Even with force, a link is not written through.
        let e = ReservedFile::reserve(&link, true, CERT_RESERVATION).unwrap_err();
        assert!(
            matches!(
                e,
                FsError::OutputKind {
                    found: "a symbolic link",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(names(dir.path()), ["out.pem"]);
    }

    #[test]
    fn a_reserved_file_streams_and_commits_with_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.bin");
        let mut r = ReservedFile::reserve(&p, false, 4096)
            .unwrap()
            .with_mode(PUBLIC_FILE_MODE)
            .unwrap();
        r.writer().unwrap().write_all(b"streamed").unwrap();
        r.commit_written().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"streamed");
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, PUBLIC_FILE_MODE);
    }

    #[test]
    fn a_staged_directory_appears_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("vault");
        let staged = StagedDir::new(&target, "init", PRIVATE_DIR_MODE).unwrap();
        fs::write(staged.path().join("a"), b"a").unwrap();
        drop(staged);
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
        let staged = StagedDir::new(&target, "init", PRIVATE_DIR_MODE).unwrap();
        fs::write(staged.path().join("a"), b"a").unwrap();
        staged.commit().unwrap();
        assert_eq!(names(&target), ["a"]);
        // A target that became non-empty meanwhile is not replaced.
        let other = dir.path().join("other");
        fs::create_dir(&other).unwrap();
        fs::write(other.join("keep"), b"k").unwrap();
        let staged = StagedDir::new(&other, "init", PRIVATE_DIR_MODE).unwrap();
        assert!(matches!(staged.commit(), Err(FsError::OutputExists(_))));
        assert_eq!(names(&other), ["keep"]);
        assert_eq!(names(dir.path()), ["other", "vault"]);
    }
}
