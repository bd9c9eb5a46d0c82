//! Helpers over the kube client shared by every kerf crate that talks to the
//! API server. Today: the one answer to "was that a not-found?", so a delete
//! of something already gone, or a list against a CRD not installed yet, is
//! handled the same way everywhere: the status reason `NotFound`, or the
//! code 404. The code matters: a resource type that is not installed answers
//! a plain-text 404 page, which kube turns into a status whose reason is not
//! `NotFound` (and kube's own `Status::is_not_found` then says no).

/// Whether the API server answered "not found" (the object, or its resource type).
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404 || status.reason == "NotFound")
}

/// Whether the API server answered 409: the object already exists (a create)
/// or changed since it was read (an update carrying a resourceVersion). Callers
/// treat both as "someone else got there first".
pub fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

/// Turns a not-found answer into `Ok(None)`, for calls where "already gone" is success.
pub trait NotFoundExt<T> {
    fn ok_if_not_found(self) -> Result<Option<T>, kube::Error>;
}

impl<T> NotFoundExt<T> for Result<T, kube::Error> {
    fn ok_if_not_found(self) -> Result<Option<T>, kube::Error> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure("answer", reason).with_code(code)))
    }

    #[test]
    fn not_found_by_reason_or_by_a_bare_404() {
        assert!(is_not_found(&api_error(404, "NotFound")));
        // What kube makes of a plain "404 page not found" (a CRD not installed).
        assert!(is_not_found(&api_error(404, "Failed to parse error data")));
        assert!(!is_not_found(&api_error(409, "Conflict")));
        assert!(!is_not_found(&api_error(500, "InternalError")));
    }

    #[test]
    fn ok_if_not_found_keeps_other_errors() {
        let gone: Result<u8, kube::Error> = Err(api_error(404, "NotFound"));
        assert!(matches!(gone.ok_if_not_found(), Ok(None)));
        let there: Result<u8, kube::Error> = Ok(7);
        assert!(matches!(there.ok_if_not_found(), Ok(Some(7))));
        let conflict: Result<u8, kube::Error> = Err(api_error(409, "Conflict"));
        assert!(conflict.ok_if_not_found().is_err());
    }

    #[test]
    fn conflict_covers_already_exists_and_stale_updates() {
        assert!(is_conflict(&api_error(409, "AlreadyExists")));
        assert!(is_conflict(&api_error(409, "Conflict")));
        assert!(!is_conflict(&api_error(404, "NotFound")));
    }
}

/// What [`edit`] did.
#[derive(Debug)]
pub enum Edited<K> {
    /// The object does not exist.
    Missing,
    /// The change left it as it was; nothing was written.
    Unchanged,
    /// Written; the object as stored.
    Stored(K),
    /// Someone else wrote it between each read and write, every attempt.
    Contended,
}

/// Reads the object afresh, changes it, and replaces it at that
/// resourceVersion; a conflict (someone else wrote in between) reads again,
/// up to `attempts` times. For fields a patch cannot merge: a Node's taints
/// are an atomic list, so a patch would have to carry the whole list, read
/// from a cache that may be stale, and would drop a taint added meanwhile.
pub async fn edit<K>(
    api: &kube::Api<K>,
    name: &str,
    attempts: usize,
    change: impl Fn(&mut K),
) -> Result<Edited<K>, kube::Error>
where
    K: kube::Resource + Clone + PartialEq + std::fmt::Debug,
    K: serde::de::DeserializeOwned + serde::Serialize,
{
    for _ in 0..attempts {
        let Some(mut current) = api.get_opt(name).await? else {
            return Ok(Edited::Missing);
        };
        let before = current.clone();
        change(&mut current);
        if current == before {
            return Ok(Edited::Unchanged);
        }
        match api
            .replace(name, &kube::api::PostParams::default(), &current)
            .await
        {
            Ok(stored) => return Ok(Edited::Stored(stored)),
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(Edited::Contended)
}
