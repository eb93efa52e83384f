//! Progress events of pulls and pushes, worded as Docker prints them. The library
//! only emits them; the CLI renders them (bars on a terminal, plain lines otherwise).

/// One progress event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A status line (`latest: Pulling from library/busybox`, `Digest: sha256:…`).
    Line(String),
    /// A layer or blob, named by the first 12 hex digits of its digest, changed state.
    Item {
        /// Short id (12 hex digits).
        id: String,
        /// What happens to it now.
        status: ItemStatus,
    },
}

/// The state of one layer of a pull or push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemStatus {
    /// Queued behind other transfers.
    Waiting,
    /// The layer is in the local store already.
    AlreadyExists,
    /// Bytes received so far of the total.
    Downloading {
        /// Bytes done.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// The whole blob arrived and matched its digest.
    DownloadComplete,
    /// Unpacking into its snapshot.
    Extracting,
    /// Unpacked and ready.
    PullComplete,
    /// About to be pushed.
    Preparing,
    /// Bytes sent so far of the total.
    Pushing {
        /// Bytes done.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// Uploaded.
    Pushed,
    /// The registry has it already.
    LayerExists,
    /// Mounted from another repository of the same registry.
    Mounted {
        /// The repository it came from.
        from: String,
    },
    /// This layer failed.
    Failed(String),
}

impl ItemStatus {
    /// Docker's wording (`Pull complete`, `Layer already exists`).
    pub fn text(&self) -> String {
        match self {
            ItemStatus::Waiting => "Waiting".into(),
            ItemStatus::AlreadyExists => "Already exists".into(),
            ItemStatus::Downloading { .. } => "Downloading".into(),
            ItemStatus::DownloadComplete => "Download complete".into(),
            ItemStatus::Extracting => "Extracting".into(),
            ItemStatus::PullComplete => "Pull complete".into(),
            ItemStatus::Preparing => "Preparing".into(),
            ItemStatus::Pushing { .. } => "Pushing".into(),
            ItemStatus::Pushed => "Pushed".into(),
            ItemStatus::LayerExists => "Layer already exists".into(),
            ItemStatus::Mounted { from } => format!("Mounted from {from}"),
            ItemStatus::Failed(e) => format!("Failed: {e}"),
        }
    }

    /// Whether this is a final state of the item.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ItemStatus::AlreadyExists
                | ItemStatus::PullComplete
                | ItemStatus::Pushed
                | ItemStatus::LayerExists
                | ItemStatus::Mounted { .. }
                | ItemStatus::Failed(_)
        )
    }

    /// `(done, total)` of a transfer in flight.
    pub fn transfer(&self) -> Option<(u64, u64)> {
        match self {
            ItemStatus::Downloading { done, total } | ItemStatus::Pushing { done, total } => {
                Some((*done, *total))
            }
            _ => None,
        }
    }
}

/// A progress sink, shared by the transfer threads.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Sync);

/// A sink that drops everything.
pub fn silent(_: Progress) {}

/// Short id of a digest: its first 12 hex digits.
pub fn short_id(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.chars().take(12).collect()
}
