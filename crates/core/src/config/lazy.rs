//! A config value that a compiled snapshot decodes on first use, so a function pays only for the
//! parts of a large config it touches (one repo's jobs, the pod spec of the job it starts).

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

type Decoder<T> = Arc<dyn Fn() -> Result<T, String> + Send + Sync>;

/// A snapshot section that could not be decoded: the snapshot passed its checksum and format
/// checks, so this means a damaged process or a bug, never a normal outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config snapshot section failed to decode: {0}")]
pub struct SectionError(String);

/// A decoded value, or the default with the reason decoding failed.
struct Decoded<T> {
    value: T,
    error: Option<SectionError>,
}

/// A value that is either present or decoded from a snapshot the first time it is read.
///
/// It behaves as the value it holds: it dereferences to it, compares, prints and serializes as
/// it. A value read from YAML (or built in code) is present from the start. Code that acts on
/// the value (which jobs to run) reads it with [`Lazy::try_get`], so a section that fails to
/// decode is an error the function answers with 5xx, not an empty job list.
pub struct Lazy<T> {
    value: OnceLock<Decoded<T>>,
    decoder: Option<Decoder<T>>,
}

impl<T> Lazy<T> {
    /// A value decoded by `decode` when first read. The snapshot verified its checksum and format
    /// version before handing out decoders, so a failure here means a corrupted process or a bug:
    /// [`Lazy::try_get`] returns it (every time), while [`Lazy::get`] reads the default.
    pub(crate) fn decoded_by(
        decode: impl Fn() -> Result<T, String> + Send + Sync + 'static,
    ) -> Self {
        Lazy {
            value: OnceLock::new(),
            decoder: Some(Arc::new(decode)),
        }
    }

    /// Whether the value has been decoded (or was present from the start).
    pub fn is_decoded(&self) -> bool {
        self.value.get().is_some()
    }
}

impl<T: Default> Lazy<T> {
    fn decoded(&self) -> &Decoded<T> {
        self.value.get_or_init(|| match &self.decoder {
            Some(decode) => match decode() {
                Ok(value) => Decoded { value, error: None },
                Err(err) => Decoded {
                    value: T::default(),
                    error: Some(SectionError(err)),
                },
            },
            None => Decoded {
                value: T::default(),
                error: None,
            },
        })
    }

    /// The value, or why its snapshot section could not be decoded.
    pub fn try_get(&self) -> Result<&T, SectionError> {
        let decoded = self.decoded();
        match &decoded.error {
            Some(error) => Err(error.clone()),
            None => Ok(&decoded.value),
        }
    }

    /// The value; the default when its section failed to decode (for display and counting:
    /// decisions use [`Lazy::try_get`]).
    pub fn get(&self) -> &T {
        &self.decoded().value
    }
}

impl<T> From<T> for Lazy<T> {
    fn from(value: T) -> Self {
        Lazy {
            value: OnceLock::from(Decoded { value, error: None }),
            decoder: None,
        }
    }
}

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Lazy {
            value: OnceLock::new(),
            decoder: None,
        }
    }
}

impl<T: Default> Deref for Lazy<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.get()
    }
}

impl<'a, T> IntoIterator for &'a Lazy<Vec<T>> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.get().iter()
    }
}

impl<T: Clone> Clone for Lazy<T> {
    fn clone(&self) -> Self {
        match self.value.get() {
            Some(Decoded { value, error }) => Lazy {
                value: OnceLock::from(Decoded {
                    value: value.clone(),
                    error: error.clone(),
                }),
                decoder: None,
            },
            None => Lazy {
                value: OnceLock::new(),
                decoder: self.decoder.clone(),
            },
        }
    }
}

impl<T: Default + PartialEq> PartialEq for Lazy<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Default + fmt::Debug> fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

impl<T: Default + Serialize> Serialize for Lazy<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lazy<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Lazy::from)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_section_that_fails_to_decode_is_an_error_every_time() {
        let lazy: Lazy<Vec<u32>> = Lazy::decoded_by(|| Err("presubmits/acme/foo: bad".into()));
        for _ in 0..2 {
            let err = lazy.try_get().unwrap_err();
            assert!(
                err.to_string().contains("presubmits/acme/foo: bad"),
                "{err}"
            );
        }
        assert!(lazy.get().is_empty());
        assert!(lazy.clone().try_get().is_err());
    }

    #[test]
    fn decodes_once_on_first_read() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let lazy: Lazy<Vec<u32>> = Lazy::decoded_by(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(vec![1, 2, 3])
        });
        assert!(!lazy.is_decoded());
        let copy = lazy.clone();
        assert_eq!(lazy.len(), 3);
        assert_eq!(*lazy, vec![1, 2, 3]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A clone taken before the first read decodes on its own.
        assert_eq!(*copy, vec![1, 2, 3]);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_failed_decode_reads_as_the_default() {
        let lazy: Lazy<Vec<u32>> = Lazy::decoded_by(|| Err("truncated".into()));
        assert!(lazy.is_empty());
    }

    #[test]
    fn serializes_and_compares_as_its_value() {
        let lazy: Lazy<Vec<u32>> = Lazy::decoded_by(|| Ok(vec![7]));
        assert_eq!(serde_json::to_string(&lazy).unwrap(), "[7]");
        assert_eq!(lazy, Lazy::from(vec![7]));
        let back: Lazy<Vec<u32>> = serde_json::from_str("[7]").unwrap();
        assert!(back.is_decoded());
        assert_eq!(format!("{back:?}"), "[7]");
    }
}
