//! The CA directory as a descriptor: every file and directory inside it is reached from the
//! directory's descriptor one component at a time, never following a symbolic link
//! (`openat` with `O_NOFOLLOW`). A link planted for any name inside the directory is refused
//! with an error naming it, and nothing outside the directory is read or written through it.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use anyhow::{Result, anyhow};
use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use rustix::io::Errno;

/// An open CA directory: its path (for messages) and its descriptor (for every access).
#[derive(Debug)]
pub(crate) struct Root {
    path: PathBuf,
    fd: OwnedFd,
}

/// Opening a file: read, write new, append, or read and write.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Access {
    Read,
    /// Create; the file must not exist.
    CreateNew(u32),
    /// Append, creating the file if missing.
    Append(u32),
    /// Write in place, creating the file if missing (not truncated).
    Write(u32),
    ReadWrite,
}

pub(crate) fn link_refused(p: &Path) -> anyhow::Error {
    anyhow!(
        "refusing to follow the symbolic link {}: a CA directory holds no links (remove it, or restore the real file from a backup)",
        p.display()
    )
}

impl Root {
    /// Opens the directory itself (its own path may be a link the user chose, e.g. /srv/pki).
    pub(crate) fn new(path: &Path) -> std::io::Result<Root> {
        let fd = rustix::fs::openat(CWD, path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(Root { path: path.to_path_buf(), fd })
    }

    /// The directory holding `p` (a file outside any CA directory), for writing `p` there.
    pub(crate) fn parent_of_path(p: &Path) -> Result<Root> {
        let parent = p.parent().unwrap_or(Path::new(""));
        let open = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
        let mut r =
            Root::new(open).map_err(|e| anyhow::Error::new(e).context(format!("cannot open {}", open.display())))?;
        r.path = parent.to_path_buf();
        Ok(r)
    }

    /// The directory's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The directory's descriptor.
    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// `p` relative to the directory: `p` is the directory's path joined with fixed names.
    fn rel<'p>(&self, p: &'p Path) -> Result<&'p Path> {
        let rel = p.strip_prefix(&self.path).map_err(|_| anyhow!("{} is outside the CA directory", p.display()))?;
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(anyhow!("{}: not a plain path inside the CA directory", p.display()));
        }
        Ok(rel)
    }

    /// The descriptor of the directory holding `p`, and `p`'s last name. Each directory on the
    /// way is opened without following links.
    fn parent_of<'p>(&self, p: &'p Path) -> Result<(Option<OwnedFd>, &'p std::ffi::OsStr)> {
        let rel = self.rel(p)?;
        let name = rel.file_name().ok_or_else(|| anyhow!("{}: no file name", p.display()))?;
        let mut dir: Option<OwnedFd> = None;
        let mut walked = self.path.clone();
        for c in rel.parent().into_iter().flat_map(Path::components) {
            walked.push(c);
            let at = self.at(&dir);
            let next = rustix::fs::openat(
                at,
                c.as_os_str(),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| self.walk_error(e, &walked))?;
            dir = Some(next);
        }
        Ok((dir, name))
    }

    /// The descriptor to open a name at: the directory `parent_of` walked to, or the root.
    fn at<'s>(&'s self, dir: &'s Option<OwnedFd>) -> std::os::fd::BorrowedFd<'s> {
        dir.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd())
    }

    fn walk_error(&self, e: Errno, walked: &Path) -> anyhow::Error {
        if e == Errno::LOOP || (e == Errno::NOTDIR && is_link(walked)) {
            return link_refused(walked);
        }
        anyhow::Error::new(std::io::Error::from(e)).context(format!("cannot open {}", walked.display()))
    }

    /// Opens `p` (inside the directory) without following a link anywhere on its way. A
    /// missing file is an `std::io::Error` of kind `NotFound` at the root of the error.
    pub(crate) fn open(&self, p: &Path, access: Access) -> Result<File> {
        let (dir, name) = self.parent_of(p)?;
        let at = self.at(&dir);
        let base = OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let (flags, mode) = match access {
            Access::Read => (OFlags::RDONLY, 0),
            Access::CreateNew(m) => (OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL, m),
            Access::Append(m) => (OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE, m),
            Access::Write(m) => (OFlags::WRONLY | OFlags::CREATE, m),
            Access::ReadWrite => (OFlags::RDWR, 0),
        };
        match rustix::fs::openat(at, name, flags | base, Mode::from_raw_mode(mode)) {
            Ok(fd) => Ok(File::from(fd)),
            Err(Errno::LOOP) => Err(link_refused(p)),
            Err(e) => Err(anyhow::Error::new(std::io::Error::from(e)).context(format!("cannot open {}", p.display()))),
        }
    }

    /// Opens a directory inside (or the directory itself, for `p` == its path).
    pub(crate) fn open_dir(&self, p: &Path) -> Result<File> {
        if p == self.path {
            return Ok(File::from(self.fd.try_clone()?));
        }
        let (dir, name) = self.parent_of(p)?;
        let at = self.at(&dir);
        match rustix::fs::openat(
            at,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(File::from(fd)),
            Err(e) if e == Errno::LOOP || (e == Errno::NOTDIR && is_link(p)) => Err(link_refused(p)),
            Err(e) => Err(anyhow::Error::new(std::io::Error::from(e)).context(format!("cannot open {}", p.display()))),
        }
    }

    /// Creates directory `p` with mode 0700 if it does not exist (not through a link).
    pub(crate) fn mkdir(&self, p: &Path) -> Result<bool> {
        let (dir, name) = self.parent_of(p)?;
        let at = self.at(&dir);
        match rustix::fs::mkdirat(at, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => {
                self.open_dir(p)?;
                Ok(false)
            }
            Err(e) => {
                Err(anyhow::Error::new(std::io::Error::from(e))
                    .context(format!("cannot create directory {}", p.display())))
            }
        }
    }

    /// Renames `from` to `to`, both inside; a link at either name is moved or replaced as the
    /// link itself, never followed.
    pub(crate) fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        let io = |e: anyhow::Error| std::io::Error::other(format!("{e:#}"));
        // A link planted at the destination is refused, not silently replaced.
        if let Some(st) = self.lstat(to).map_err(io)?
            && rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink
        {
            return Err(io(link_refused(to)));
        }
        let (fd1, n1) = self.parent_of(from).map_err(io)?;
        let (fd2, n2) = self.parent_of(to).map_err(io)?;
        let at1 = self.at(&fd1);
        let at2 = self.at(&fd2);
        rustix::fs::renameat(at1, n1, at2, n2).map_err(std::io::Error::from)
    }

    /// Removes the file (or link) `p`.
    pub(crate) fn remove_file(&self, p: &Path) -> std::io::Result<()> {
        let (dir, name) = self.parent_of(p).map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        let at = self.at(&dir);
        rustix::fs::unlinkat(at, name, AtFlags::empty()).map_err(std::io::Error::from)
    }

    /// Removes directory `p` and everything in it, never following a link.
    pub(crate) fn remove_dir_all(&self, p: &Path) -> Result<()> {
        for (name, is_dir) in self.read_dir(p)? {
            let child = p.join(&name);
            if is_dir {
                self.remove_dir_all(&child)?;
            } else {
                self.remove_file(&child)
                    .map_err(|e| anyhow::Error::new(e).context(format!("cannot remove {}", child.display())))?;
            }
        }
        let (dir, name) = self.parent_of(p)?;
        let at = self.at(&dir);
        rustix::fs::unlinkat(at, name, AtFlags::REMOVEDIR)
            .map_err(|e| anyhow::Error::new(std::io::Error::from(e)).context(format!("cannot remove {}", p.display())))
    }

    /// The entries of directory `p` (names, and whether each is a real directory), or none if
    /// it does not exist.
    pub(crate) fn read_dir(&self, p: &Path) -> Result<Vec<(String, bool)>> {
        let d = match self.open_dir(p) {
            Ok(d) => d,
            Err(e) if is_not_found(&e) => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        let mut out = vec![];
        let mut it = rustix::fs::Dir::read_from(&d).map_err(std::io::Error::from)?;
        while let Some(e) = it.read() {
            let e = e.map_err(std::io::Error::from)?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "." || name == ".." {
                continue;
            }
            let is_dir = e.file_type() == rustix::fs::FileType::Directory;
            out.push((name, is_dir));
        }
        out.sort();
        Ok(out)
    }

    /// The status of `p` itself (a link is reported as a link), or `None` if it is missing.
    pub(crate) fn lstat(&self, p: &Path) -> Result<Option<rustix::fs::Stat>> {
        if p == self.path {
            return Ok(Some(rustix::fs::fstat(&self.fd).map_err(std::io::Error::from)?));
        }
        let (dir, name) = match self.parent_of(p) {
            Ok(x) => x,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let at = self.at(&dir);
        match rustix::fs::statat(at, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(s) => Ok(Some(s)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(anyhow::Error::new(std::io::Error::from(e)).context(format!("cannot read {}", p.display()))),
        }
    }
}

/// Whether `p` is a symbolic link (for naming it in a message).
fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// Whether an error is a missing file.
pub(crate) fn is_not_found(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound))
}
