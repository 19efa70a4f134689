//! Saving and loading an inventory file (`lapse collect --save`, `lapse evaluate FILE`).

use std::path::{Path, PathBuf};

use super::{INVENTORY_SCHEMA_VERSION, Inventory};

#[derive(Debug, thiserror::Error)]
pub enum InventoryIoError {
    /// Too large, UTF-16, a byte-order mark, not UTF-8, unreadable.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("{}: {source}", crate::input::shown(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}:{line}:{column}: not a lapse inventory: {message}",
        crate::input::shown(path)
    )]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{}: inventory schema_version {found} is newer than this lapse understands ({supported})",
        crate::input::shown(path)
    )]
    Version {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
}

pub fn load(path: &Path) -> Result<Inventory, InventoryIoError> {
    let text = crate::input::read_text(path, crate::input::MAX_DATA_BYTES)?;
    let inventory: Inventory =
        serde_json::from_str(&text).map_err(|e| InventoryIoError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
    if inventory.schema_version > INVENTORY_SCHEMA_VERSION {
        return Err(InventoryIoError::Version {
            path: path.to_path_buf(),
            found: inventory.schema_version,
            supported: INVENTORY_SCHEMA_VERSION,
        });
    }
    Ok(inventory)
}

pub fn save(inventory: &Inventory, path: &Path) -> Result<(), InventoryIoError> {
    let io_err = |source| InventoryIoError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io_err)?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut writer, inventory).map_err(|e| io_err(std::io::Error::other(e)))?;
    std::io::Write::flush(&mut writer).map_err(io_err)
}
