//! The redactor's text rules, as the server applies them to log lines and error details.

/// Sanitises free text (a log line, a provider error) with `wedsync-redact`'s text rules.
pub fn sanitize_text(text: &str) -> String {
    wedsync_redact::text(text)
}
