//! A site's rendered blocked bodies, kept beside it in the snapshot. A leaf: it knows bytes,
//! not decisions, so the snapshot can hold it without depending on how answers are made.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use bytes::Bytes;

/// A site's rendered blocked bodies, one per [`AnswerFormat::slot`], kept beside it in the
/// snapshot. A site whose state changes is a new site with an empty cache.
#[derive(Default)]
pub(crate) struct AnswerCache {
    slots: [ArcSwapOption<Rendered>; 4],
}

/// A body and what it was rendered for: the handle whose policy rendered it (a snapshot could
/// be handed to another policy) and the `Retry-After` it shows.
struct Rendered {
    owner: u64,
    retry_after: Option<u64>,
    body: Bytes,
}

impl AnswerCache {
    /// The body in `slot` when `owner` rendered it for the same `Retry-After`.
    pub(crate) fn kept(&self, slot: usize, owner: u64, retry_after: Option<u64>) -> Option<Bytes> {
        let kept = self.slots.get(slot)?.load();
        kept.as_deref()
            .filter(|r| r.owner == owner && r.retry_after == retry_after)
            .map(|r| r.body.clone())
    }

    /// Keeps `body` in `slot`, rendered by `owner` for `retry_after`, in place of what was there.
    pub(crate) fn keep(&self, slot: usize, owner: u64, retry_after: Option<u64>, body: Bytes) {
        if let Some(slot) = self.slots.get(slot) {
            slot.store(Some(Arc::new(Rendered {
                owner,
                retry_after,
                body,
            })));
        }
    }
}

impl Clone for AnswerCache {
    /// An empty cache: a copied site renders its own answers.
    fn clone(&self) -> Self {
        AnswerCache::default()
    }
}

impl std::fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept: Vec<bool> = self.slots.iter().map(|s| s.load().is_some()).collect();
        f.debug_struct("AnswerCache").field("kept", &kept).finish()
    }
}
