//! The state form: reading it into a [`StateChange`], every field checked, and saving it.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use maintenance_core::{Mode, SiteRef, SiteState, StateChange, ValidationError};

use super::forms::{done, refuse_invalid, store_failure};
use crate::admin::AdminState;
use crate::admin::form::{FormData, FormKind};
use crate::admin::guard::access::SitePost;
use crate::parse;

/// Reads the state form into a change, or the errors beside each field.
fn state_change(
    form: &FormData,
    site: &SiteState,
) -> Result<StateChange, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let mode_text = form.get("mode").unwrap_or("full");
    let mode = match mode_text.parse::<Mode>() {
        Ok(m) => Some(m),
        Err(e) => {
            errors.push(("mode", e.to_string()));
            None
        }
    };
    let message_text = form.text("message").replace("\r\n", "\n");
    let message = if message_text.trim().is_empty() {
        None
    } else {
        if let Err(e) = parse::message(&message_text) {
            errors.push(("message", e));
        }
        Some(message_text)
    };
    let mut time_field = |field: &'static str| {
        let text = form.text(field).trim();
        if text.is_empty() {
            return None;
        }
        parse::form_time(text)
            .map_err(|e| errors.push((field, e)))
            .ok()
    };
    let starts_at = time_field("starts_at");
    let ends_at = time_field("ends_at");
    let retry_text = form.text("retry_after").trim();
    let retry_after = if retry_text.is_empty() {
        None
    } else {
        match retry_text.parse::<u32>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push((
                    "retry_after",
                    format!(
                        "invalid Retry-After `{retry_text}`: expected a whole number of seconds from 0 to {}, or nothing to derive it from the end",
                        u32::MAX
                    ),
                ));
                None
            }
        }
    };
    let scope: Vec<String> = form
        .text("scope")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(e) = scope.iter().find_map(|p| parse::pattern(p).err()) {
        errors.push(("scope", e));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let change = StateChange {
        enabled: Some(form.get("enabled").is_some()),
        mode,
        message: Some(message),
        starts_at: Some(starts_at),
        ends_at: Some(ends_at),
        retry_after_secs: Some(retry_after),
        scope: Some(scope),
    };
    let mut next = site.clone();
    match change.apply_to(&mut next) {
        Ok(()) => Ok(change),
        Err(e @ ValidationError::Window { .. }) => Err(vec![(
            "ends_at",
            format!("{e}; expected an end after the start"),
        )]),
        Err(e @ (ValidationError::Pattern { .. } | ValidationError::TooMany { .. })) => {
            Err(vec![("scope", e.to_string())])
        }
        Err(e) => Err(vec![("general", e.to_string())]),
    }
}

pub(crate) async fn save_state(
    State(app): State<Arc<AdminState>>,
    SitePost { post, site }: SitePost,
) -> Response {
    let change = match state_change(&post.form, &site) {
        Ok(c) => c,
        Err(errors) => return refuse_invalid(&app, &post, &site, FormKind::State, errors).await,
    };
    let mut next = site.clone();
    if change.apply_to(&mut next).is_ok() && next == site {
        return done("unchanged", &site);
    }
    match app
        .store
        .set_state(&SiteRef::Domain(site.domain.clone()), &change, &post.actor)
        .await
    {
        Ok(_) => {
            tracing::info!(site = %site.domain, actor = %post.actor, change = %change.describe(), "admin changed state");
            done("saved", &site)
        }
        Err(e) => store_failure(&app, &post, Some(&site), FormKind::State, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_form_errors_name_their_field() {
        let site = SiteState::new(1, "a.example");
        let form = FormData::parse(
            b"enabled=on&mode=sideways&starts_at=soon&ends_at=&retry_after=-1&message=",
        );
        let errors = state_change(&form, &site).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["mode", "starts_at", "retry_after"]);
        let form = FormData::parse(
            b"mode=full&starts_at=2030-01-02T00:00:00Z&ends_at=2030-01-01T00:00&retry_after=",
        );
        let errors = state_change(&form, &site).unwrap_err();
        assert_eq!(errors[0].0, "ends_at");
        let form = FormData::parse(b"enabled=on&mode=read-only&retry_after=30&message=Hi");
        let change = state_change(&form, &site).unwrap();
        assert_eq!(change.enabled, Some(true));
        assert_eq!(change.mode, Some(Mode::ReadOnly));
        assert_eq!(change.retry_after_secs, Some(Some(30)));
    }
}
