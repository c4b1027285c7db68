//! A config value that a compiled snapshot decodes on first use, so a function pays only for the
//! parts of a large config it touches (one repo's jobs, the pod spec of the job it starts).

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

type Decoder<T> = Arc<dyn Fn() -> Result<T, String> + Send + Sync>;

/// A value that is either present or decoded from a snapshot the first time it is read.
///
/// It behaves as the value it holds: it dereferences to it, compares, prints and serializes as
/// it. A value read from YAML (or built in code) is present from the start.
pub struct Lazy<T> {
    value: OnceLock<T>,
    decoder: Option<Decoder<T>>,
}

impl<T> Lazy<T> {
    /// A value decoded by `decode` when first read. The snapshot verified its checksum and format
    /// version before handing out decoders, so a failure here means a corrupted process or a bug;
    /// it is reported on stderr and the value reads as its default rather than taking the
    /// function down on every request.
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
    pub fn get(&self) -> &T {
        self.value.get_or_init(|| match &self.decoder {
            Some(decode) => decode().unwrap_or_else(|err| {
                eprintln!("prow-core: config snapshot section failed to decode: {err}");
                T::default()
            }),
            None => T::default(),
        })
    }
}

impl<T> From<T> for Lazy<T> {
    fn from(value: T) -> Self {
        Lazy {
            value: OnceLock::from(value),
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
            Some(value) => Lazy::from(value.clone()),
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
