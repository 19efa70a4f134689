//! Input: reads a file lapse was given (AWS exports, inventories, reports, lapse.toml, rule
//! files, the ledger) with a size limit checked before the bytes are read, and names what is
//! wrong with it: too large, UTF-16, a byte-order mark, not UTF-8. File names are shown
//! without loss, a name that is not UTF-8 with its odd bytes escaped.

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Largest data file read (an AWS export, an inventory, a report, a credential report): well
/// above the largest benchmark estate (100k users and roles, 50k policies).
pub const MAX_DATA_BYTES: u64 = 1 << 30;
/// Largest lapse.toml or rule file.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Largest grants ledger.
pub const MAX_LEDGER_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: {source}", shown(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}: {size} bytes; lapse reads at most {limit} bytes from one file",
        shown(path)
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error(
        "{}: {encoding} text; lapse reads UTF-8 without a byte-order mark (convert it, e.g. \
         `iconv -f {iconv} -t UTF-8`)",
        shown(path)
    )]
    Encoding {
        path: PathBuf,
        encoding: &'static str,
        iconv: &'static str,
    },
    #[error(
        "{}: starts with a UTF-8 byte-order mark; save it as UTF-8 without one",
        shown(path)
    )]
    Bom { path: PathBuf },
    #[error("{}: not UTF-8 text (invalid byte at offset {offset})", shown(path))]
    NotUtf8 { path: PathBuf, offset: usize },
}

impl InputError {
    pub fn path(&self) -> &Path {
        match self {
            InputError::Io { path, .. }
            | InputError::TooLarge { path, .. }
            | InputError::Encoding { path, .. }
            | InputError::Bom { path }
            | InputError::NotUtf8 { path, .. } => path,
        }
    }
}

/// A file's bytes, at most `limit` of them: the size is checked from the metadata before
/// reading, and reading stops past the limit (a pipe or a file that grows).
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let too_large = |size| InputError::TooLarge {
        path: path.to_path_buf(),
        size,
        limit,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// A file's text, at most `limit` bytes, refused with a clear reason unless it is UTF-8
/// without a byte-order mark.
pub fn read_text(path: &Path, limit: u64) -> Result<String, InputError> {
    let bytes = read_bytes(path, limit)?;
    check_encoding(path, &bytes)?;
    String::from_utf8(bytes).map_err(|e| InputError::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Names a UTF-16 or UTF-32 file, or a UTF-8 byte-order mark, rather than letting a parser
/// say `1:1: expected value`.
pub fn check_encoding(path: &Path, bytes: &[u8]) -> Result<(), InputError> {
    let encoding = |encoding, iconv| InputError::Encoding {
        path: path.to_path_buf(),
        encoding,
        iconv,
    };
    match bytes {
        [0xef, 0xbb, 0xbf, ..] => Err(InputError::Bom {
            path: path.to_path_buf(),
        }),
        [0xff, 0xfe, 0, 0, ..] => Err(encoding("UTF-32LE", "UTF-32")),
        [0, 0, 0xfe, 0xff, ..] => Err(encoding("UTF-32BE", "UTF-32")),
        [0xff, 0xfe, ..] => Err(encoding("UTF-16LE", "UTF-16")),
        [0xfe, 0xff, ..] => Err(encoding("UTF-16BE", "UTF-16")),
        // No byte-order mark, but ASCII text with every other byte zero.
        [a, 0, b, 0, ..] if *a != 0 && *b != 0 => Err(encoding("UTF-16LE", "UTF-16LE")),
        [0, a, 0, b, ..] if *a != 0 && *b != 0 => Err(encoding("UTF-16BE", "UTF-16BE")),
        _ => Ok(()),
    }
}

/// A path as a message shows it: its text when it is UTF-8; otherwise each byte that is not
/// as `\xNN`, so two names that differ only there stay distinct (`Path::display` would turn
/// both into U+FFFD). Control characters are left to the terminal sanitiser.
pub fn shown<P: AsRef<Path> + ?Sized>(path: &P) -> String {
    let path = path.as_ref();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let mut out = String::new();
        for chunk in path.as_os_str().as_bytes().utf8_chunks() {
            out.push_str(chunk.valid());
            for byte in chunk.invalid() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_named() {
        let p = Path::new("f.json");
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain("{}".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert!(
            check_encoding(p, &utf16)
                .unwrap_err()
                .to_string()
                .contains("UTF-16LE")
        );
        let bare: Vec<u8> = "{}".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert!(
            check_encoding(p, &bare)
                .unwrap_err()
                .to_string()
                .contains("UTF-16LE")
        );
        let bom = b"\xef\xbb\xbf{}";
        assert!(
            check_encoding(p, bom)
                .unwrap_err()
                .to_string()
                .contains("byte-order mark")
        );
        assert!(check_encoding(p, b"{}").is_ok());
        assert!(check_encoding(p, b"").is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_name_that_is_not_utf8_is_shown_without_loss() {
        use std::os::unix::ffi::OsStrExt as _;
        let name = std::ffi::OsStr::from_bytes(b"dir/caf\xe9.json");
        assert_eq!(shown(Path::new(name)), "dir/caf\\xe9.json");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_from_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        let file = std::fs::File::create(&path).unwrap();
        // Sparse: no disk used, and nothing is read.
        file.set_len(2 << 30).unwrap();
        let err = read_bytes(&path, MAX_DATA_BYTES).unwrap_err();
        assert!(
            matches!(err, InputError::TooLarge { size, .. } if size == 2 << 30),
            "{err}"
        );
    }
}
