//! [`Settings`]: what every adapter's builder keeps, whatever its framework.

use std::fmt;
use std::sync::Arc;

use crate::handle::Maintenance;

/// What an adapter's builder keeps: the [`Maintenance`] handle, the hook that tells who makes
/// a request, the hook that answers a blocked one, and whether a request that passes carries
/// its [`AllowReason`](crate::AllowReason).
///
/// `I` and `B` are the hooks, in the framework's own types: for a tower layer, say,
/// `dyn Fn(&Parts) -> Identity + Send + Sync` and
/// `dyn Fn(&Block, &Parts) -> Response<String> + Send + Sync`. Cheap to clone: the hooks are
/// shared.
///
/// ```
/// use std::sync::Arc;
/// use maintenance_core::adapter::Settings;
/// use maintenance_core::{Identity, Maintenance, MemoryStore, Policy};
/// type IdentityHook = dyn Fn(&str) -> Identity + Send + Sync;
/// type BlockedHook = dyn Fn(&str) -> String + Send + Sync;
///
/// let maintenance = Maintenance::new(MemoryStore::new(), Policy::default());
/// let mut settings = Settings::<IdentityHook, BlockedHook>::new(maintenance);
/// settings.set_identity(Arc::new(|user: &str| {
///     if user == "root" { Identity::Superuser } else { Identity::Anonymous }
/// }));
/// let identity = settings.identity().map_or(Identity::Anonymous, |hook| hook("root"));
/// assert_eq!(identity, Identity::Superuser);
/// assert!(settings.blocked().is_none() && !settings.allow_reason());
/// ```
pub struct Settings<I: ?Sized, B: ?Sized> {
    maintenance: Maintenance,
    identity: Option<Arc<I>>,
    blocked: Option<Arc<B>>,
    allow_reason: bool,
}

impl<I: ?Sized, B: ?Sized> Settings<I, B> {
    /// Deciding with `maintenance`, with neither hook (every request anonymous, the policy's
    /// blocked page) and no reason kept for requests that pass.
    pub fn new(maintenance: Maintenance) -> Self {
        Settings {
            maintenance,
            identity: None,
            blocked: None,
            allow_reason: false,
        }
    }

    /// Sets the hook that tells who makes a request.
    pub fn set_identity(&mut self, hook: Arc<I>) {
        self.identity = Some(hook);
    }

    /// Sets the hook that answers a blocked request in place of the policy's page.
    pub fn set_blocked(&mut self, hook: Arc<B>) {
        self.blocked = Some(hook);
    }

    /// Keeps the reason of each request that passes, for handlers.
    pub fn set_allow_reason(&mut self) {
        self.allow_reason = true;
    }

    /// The handle to decide with.
    pub fn maintenance(&self) -> &Maintenance {
        &self.maintenance
    }

    /// The hook that tells who makes a request, if set.
    pub fn identity(&self) -> Option<&I> {
        self.identity.as_deref()
    }

    /// The hook that answers a blocked request, if set.
    pub fn blocked(&self) -> Option<&B> {
        self.blocked.as_deref()
    }

    /// Whether a request that passes carries its reason.
    pub fn allow_reason(&self) -> bool {
        self.allow_reason
    }
}

// Written out: derived, they would ask the hooks (`dyn Fn`) to be `Clone` and `Debug`.
impl<I: ?Sized, B: ?Sized> Clone for Settings<I, B> {
    fn clone(&self) -> Self {
        Settings {
            maintenance: self.maintenance.clone(),
            identity: self.identity.clone(),
            blocked: self.blocked.clone(),
            allow_reason: self.allow_reason,
        }
    }
}

impl<I: ?Sized, B: ?Sized> fmt::Debug for Settings<I, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("maintenance", &self.maintenance)
            .field("identity_hook", &self.identity.is_some())
            .field("blocked_hook", &self.blocked.is_some())
            .field("allow_reason", &self.allow_reason)
            .finish()
    }
}
