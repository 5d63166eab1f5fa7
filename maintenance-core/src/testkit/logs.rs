//! [`AskEachTime`]: the global `tracing` subscriber for tests that capture logs per thread.

/// A global `tracing` subscriber that records nothing but never lets a log statement be cached
/// as off. Tests that capture logs with a thread-local subscriber install it once as the
/// global default (`tracing::subscriber::set_global_default(AskEachTime)`): otherwise a test on
/// another thread, with no subscriber, can switch a statement off for the whole process.
#[derive(Debug, Clone, Copy, Default)]
pub struct AskEachTime;

impl tracing::Subscriber for AskEachTime {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
