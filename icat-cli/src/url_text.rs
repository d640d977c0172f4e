//! URLs as the CLI shows them: any `user:password@` part is replaced so a password never reaches a terminal.

/// The URL with its userinfo (`user:password@`) replaced by `***@`; other text is unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***@{}", &url[..scheme_end + 3], &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// True when the URL carries a user name or password before the host.
pub fn has_userinfo(url: &str) -> bool {
    redact_url(url) != url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_hidden() {
        assert_eq!(
            redact_url("http://rbeck:pw@h:1/ICATService/ICAT"),
            "http://***@h:1/ICATService/ICAT"
        );
        assert_eq!(redact_url("https://h/a@b"), "https://h/a@b");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
